"""A wheel works anywhere: built from this tree, installed in a fresh virtual environment
outside the repository, its commands run from a folder that is not the checkout.

Everything the package reads at run time (the calibration template, placement map and
districts, the HTML report's templates) must be package data: a file read from the
source tree passes every other test and fails here. The wheel is pure Python unless
SUFFICIENCY_COMPILE says otherwise (.ci/run checks the compiled build against it).

Needs a package index for the build tools and the dependencies (pip as configured on
this machine); without one the test skips and says why, except in CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "darlington" / "baseline.toml"  # starts 2023-04-01

pytestmark = pytest.mark.slow

#: Left out of the copy the wheel is built from: build products, caches, other checkouts.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.pyd", ".venv",
    "results", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis",
)  # fmt: skip


def _env() -> dict[str, str]:
    """The environment without this test run's own virtual environment or path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.setdefault("SUFFICIENCY_COMPILE", "0")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    )
    return done.stdout + done.stderr


def _index_reachable(tmp: Path) -> str | None:
    """None if pip can fetch a small package as configured here, else why not."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "simpy"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or ["pip download failed"])[-1]


def _data_files(package: Path) -> set[str]:
    """The files of the package that are not Python source: what package-data must ship."""
    return {
        p.relative_to(package.parent).as_posix()
        for p in package.rglob("*")
        if p.is_file()
        and p.suffix not in (".py", ".pyc", ".so", ".pyd")
        and "__pycache__" not in p.parts
    }


def test_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    why = _index_reachable(tmp_path / "probe")
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"no package index reachable in CI: {why}")
        pytest.skip(f"no package index reachable, so no wheel can be built: {why}")

    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, src], tmp_path)
    (wheel,) = wheels.glob("sufficiency-*.whl")

    # Every data file of the source tree is in the wheel (a new one needs package-data).
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_data_files(src / "sim") - shipped)
    assert not missing, f"not in the wheel (add them to package-data in pyproject): {missing}"
    assert "sim/calibration/data/template.toml" in shipped

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path)  # no system site-packages
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run([python, "-m", "pip", "install", "-q", wheel], tmp_path)

    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing found beside the sources
    elsewhere.mkdir()
    where = _run([python, "-c", "import sim; print(sim.__file__)"], elsewhere)
    assert Path(where.strip()).resolve().is_relative_to(venv.resolve()), where
    version = _run([bin_dir / "sufficiency", "--version"], elsewhere)
    wanted = {"0": "(pure Python)", "1": "(compiled: "}.get(_env()["SUFFICIENCY_COMPILE"], "(")
    assert version.startswith("sufficiency ") and wanted in version, version

    sufficiency = bin_dir / "sufficiency"
    _run([sufficiency, "synth903", SCENARIO, "--years", "3", "--out", "synthetic"], elsewhere)
    assert (elsewhere / "synthetic" / "header_2025.csv").is_file()
    _run(
        [sufficiency, "calibrate", "synthetic", "--at", "2026-03-31", "--out", "la.toml"],
        elsewhere,
    )
    assert "ok:" in _run([sufficiency, "validate", "la.toml"], elsewhere)
    assert (elsewhere / "la_calibration" / "calibration.md").is_file()
