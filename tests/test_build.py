"""Which build is running, and what a run records about the code that made it."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import simpy

import sim
from sim.common import build
from sim.common.build import COMPILED, build_info, describe, source_commit

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def test_version_says_which_build(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    shown = capsys.readouterr().out.strip()
    expected = f"{len(COMPILED)} modules" if COMPILED else "pure Python"
    assert shown == f"sufficiency {sim.__version__} ({describe()})"
    assert expected in shown


def test_the_version_is_written_once() -> None:
    """pyproject reads sim.__version__ (dynamic), so no other file may repeat it."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text and 'attr = "sim.__version__"' in text
    assert "\nversion = " not in text.split("[project]")[1].split("\n[")[0]


def test_build_info_names_the_build_and_the_libraries() -> None:
    info = build_info()
    assert info["sufficiency"] == sim.__version__
    assert info["build"] == ("compiled" if COMPILED else "pure")
    assert info["compiled_modules"] == list(COMPILED)
    assert info["python"] == platform.python_version()
    assert info["numpy"] == np.__version__
    assert info["simpy"] == simpy.__version__
    json.dumps(info)  # it goes into run.json as it is


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="no git checkout"
)
def test_commit_is_the_package_checkouts_not_the_current_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.chdir(other)  # a run started inside some other repository
    found = source_commit.__wrapped__()
    assert found is not None and found["commit"] == head
    assert isinstance(found["modified"], bool)


def test_no_git_means_no_commit_and_no_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # git cannot be found
    assert source_commit.__wrapped__() is None


def test_an_untracked_copy_has_no_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the package inside a checkout that does not track it (a virtual
    environment in the repository) records no commit: it is not that commit's code."""
    if shutil.which("git") is None:
        pytest.skip("no git")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    copy = repo / ".venv" / "sim" / "common"
    copy.mkdir(parents=True)
    shutil.copy(build.__file__, copy / "build.py")
    monkeypatch.setattr(build, "__file__", str(copy / "build.py"))
    assert source_commit.__wrapped__() is None


def test_run_json_records_the_build(tmp_path: Path) -> None:
    from sim import load, run, write_report

    results = run(load(DATA / "minimal.toml"), years=1, reps=2, seed=1, workers=1)
    out = write_report(results, tmp_path / "out")
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["build"]["build"] in ("pure", "compiled")
    assert info["build"]["numpy"] == np.__version__
    assert info["build"]["simpy"] == simpy.__version__
    assert info["build"]["python"] == platform.python_version()
    assert "git" in info["build"]
