"""End to end: the real `sufficiency` command on the bundled Darlington baseline."""

from __future__ import annotations

import csv
import gzip
import subprocess
from pathlib import Path

import pytest
from conftest import RUN_OUTPUTS, cli

from sim.scenario.load import load

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "darlington" / "baseline.toml"


@pytest.fixture(scope="module")
def baseline_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("cli") / "baseline"
    proc = cli(
        "run",
        str(BASELINE),
        "--years",
        "2",
        "--reps",
        "8",
        "--workers",
        "2",
        "--seed",
        "11",
        "--out",
        str(out),
        "--events",
        str(out.parent / "events.csv"),
    )
    return out, proc


def test_run_writes_every_output(
    baseline_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, proc = baseline_run
    assert proc.returncode == 0, proc.stderr
    for name in RUN_OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    assert "Children in care" in proc.stdout  # headline lines at the end
    assert "Traceback" not in proc.stderr


def test_event_log_is_written(baseline_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = baseline_run
    with (out.parent / "events.csv").open() as fh:
        rows = list(csv.reader(fh))
    kinds = {r[1] for r in rows[1:]}
    assert {"placed", "exit", "entry"} <= kinds


def test_saved_scenario_repeats_the_run_exactly(
    baseline_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, _ = baseline_run
    assert load(out / "scenario.toml").model == load(BASELINE).model
    again = tmp_path / "again"
    proc = cli(
        "run",
        str(out / "scenario.toml"),
        "--years",
        "2",
        "--reps",
        "8",
        "--workers",
        "1",
        "--seed",
        "11",
        "--out",
        str(again),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    first = gzip.decompress((out / "replications.csv.gz").read_bytes())
    second = gzip.decompress((again / "replications.csv.gz").read_bytes())
    assert first == second  # same seed, different worker count: identical results


def test_existing_output_is_not_overwritten(
    baseline_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = baseline_run
    before = (out / "summary.md").read_text()
    proc = cli("run", str(BASELINE), "--years", "1", "--reps", "2", "--out", str(out))
    assert proc.returncode == 2
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "summary.md").read_text() == before


def test_force_replaces_output(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert (
        cli(
            "run", str(BASELINE), "--years", "1", "--reps", "2", "--out", str(out), "--quiet"
        ).returncode
        == 0
    )
    old = (out / "summary.md").stat().st_ino  # a file the earlier run wrote
    (out / "marker.txt").write_text("old run")  # a file it did not: --force refuses
    args = ("run", str(BASELINE), "--years", "1", "--reps", "2", "--out", str(out))
    proc = cli(*args, "--force", "--quiet")
    assert proc.returncode == 2 and "marker.txt" in proc.stderr, proc.stderr
    assert (out / "marker.txt").read_text() == "old run"
    (out / "marker.txt").unlink()
    proc = cli(*args, "--force", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "marker.txt").exists()
    assert (out / "summary.md").stat().st_ino != old  # a new file, not the earlier one
    assert not [p for p in tmp_path.iterdir() if p.name != "r"]  # no temporary folders left


def test_bad_scenario_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{BASELINE.as_posix()}"\n[entries]\nper_year = -3\n')
    proc = cli("run", str(bad), "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert "entries.per_year" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args", [["--reps", "0"], ["--years", "-1"], ["--reps", "many"]])
def test_bad_arguments_are_explained(args: list[str]) -> None:
    proc = cli("run", str(BASELINE), *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "expected" in proc.stderr


def test_validate_all_bundled() -> None:
    files = sorted(str(p) for p in (ROOT / "scenarios").rglob("*.toml"))
    proc = cli("validate", *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok:") == len(files)
