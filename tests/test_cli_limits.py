"""Command-line values outside what makes sense, and runs bigger than the machine.

Each of these was a traceback, a silent acceptance or a run that grew until the kernel
killed it (issue 12). Now each is one message, exit status 2, before any work is done.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT
from test_ssda903_read import EP_COLS, KIDS, ep, write

from sim.calibration.ssda903 import read_903
from sim.cli import main
from sim.runs import budget
from sim.runs.budget import Estimate, Machine, ResourceError, check, estimate
from sim.scenario.load import load

DARLINGTON = ROOT / "scenarios" / "darlington" / "baseline.toml"
SOLO = ROOT / "scenarios" / "darlington" / "solo-homes.toml"


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI in this process; it must exit 2 with a reason and no traceback.

    (In-process, so that a test can make the machine small or the pilot slow.)
    """
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's way of refusing an option
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--seed", "-1", "0 or more"),
        ("--seed", "1.5", "whole number"),
        ("--suppress-below", "-3", "from 0"),
        ("--suppress-below", "1000", "5 or 10"),
        ("--years", "100", "at most 30"),
        ("--years", "nan", "number of years"),
        ("--years", "inf", "number of years"),
        ("--reps", "100000000", "at most 100,000"),
        ("--reps", "0", "at least 1"),
    ],
)
def test_out_of_range_options_are_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, value: str, words: str
) -> None:
    err = _refused(capsys, "run", str(DARLINGTON), "--out", str(tmp_path / "o"), option, value)
    assert option in err and words in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["compare", "sweep", "backtest", "synth903"])
def test_every_command_checks_its_seed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    args = {
        "compare": [str(DARLINGTON), str(SOLO)],
        "sweep": [str(DARLINGTON), "--vary", "entries.per_year=50,60"],
        "backtest": [str(tmp_path), "--train-until", "2021-03-31"],
        "synth903": [str(DARLINGTON)],
    }[command]
    err = _refused(capsys, command, *args, "--out", str(tmp_path / "o"), "--seed", "-1")
    assert "--seed" in err


def test_a_run_too_big_for_memory_is_refused_before_it_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The machine is made small so that the test does not depend on this one's memory:
    # 20,000 replications of 20 years of Darlington's 99 series is ~1.5 GB by the
    # per-value figure; 1 GB free cannot hold it.
    monkeypatch.setattr(Machine, "here", classmethod(lambda cls, out=None: Machine(2**30, None, 2)))
    err = _refused(
        capsys,
        "run",
        str(DARLINGTON),
        "--out",
        str(tmp_path / "o"),
        "--reps",
        "20000",
        "--years",
        "20",
        "--yes",
    )
    assert "memory" in err and "fewer --reps" in err
    assert not (tmp_path / "o").exists()


def test_a_long_run_needs_yes_and_compare_and_sweep_check_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each pilot replication is said to take ten hours, so any run is "long"; the check must
    # stop it before a single replication runs.
    monkeypatch.setattr(budget, "_pilot_seconds", lambda scenario, years: 36000.0)
    out = str(tmp_path / "o")
    err = _refused(capsys, "run", str(DARLINGTON), "--out", out, "--reps", "4")
    assert "--yes" in err and "hours" in err
    err = _refused(capsys, "compare", str(DARLINGTON), str(SOLO), "--out", out, "--reps", "4")
    assert "--yes" in err
    err = _refused(
        capsys,
        "sweep",
        str(DARLINGTON),
        "--vary",
        "entries.per_year=50,60",
        "--out",
        out,
        "--reps",
        "4",
    )
    assert "--yes" in err
    assert not Path(out).exists()


def test_check_refuses_disk_and_asks_for_most_of_the_memory() -> None:
    small = Machine(memory_free=10 * 2**30, disk_free=2**30, cpus=2)
    with pytest.raises(ResourceError, match="disk"):
        check(Estimate(memory=2**20, disk=2 * 2**30, seconds=1, workers=1), yes=True, machine=small)
    with pytest.raises(ResourceError, match="--yes"):
        check(Estimate(memory=6 * 2**30, disk=1, seconds=1, workers=1), yes=False, machine=small)
    check(Estimate(memory=6 * 2**30, disk=1, seconds=1, workers=1), yes=True, machine=small)
    check(Estimate(memory=2**20, disk=1, seconds=1, workers=1), yes=False, machine=small)


def test_estimate_grows_with_replications_and_years() -> None:
    s = load(DARLINGTON).model

    # A pilot given by the test: the real one times replications, and wall-clock times
    # vary too much on a shared machine for a test to compare two of them.
    def pilot(scenario: object, years: float) -> float:
        return 0.05 * years

    a = estimate([s], years=1, reps=10, workers=1, pilot=pilot)
    b = estimate([s], years=2, reps=100, workers=2, pilot=pilot)
    assert b.memory > a.memory and b.disk == pytest.approx(a.disk * 20)
    assert a.seconds == pytest.approx(0.05 * 10)
    assert b.seconds == pytest.approx(0.05 * 2 * 100 / 2)  # two workers halve it
    assert estimate([s], years=1, reps=1, workers=1).seconds > 0  # the real pilot


def test_header_dates_with_a_midnight_time_are_read_as_dates(tmp_path: Path) -> None:
    # Spreadsheet exports write a date cell as "dd/mm/yyyy 00:00"; this crashed calibrate
    # ("Cannot cast DatetimeArray") because no date of birth could be read at all.
    rows = [[cid, "1", uk + " 00:00"] for cid, uk, _ in KIDS.values()]
    write(tmp_path, "header_2023.csv", ["CHILD", "SEX", "DOB"], rows)
    cid = KIDS["A"][0]
    write(tmp_path, "episodes_2023.csv", EP_COLS, [ep(cid, "01/06/2022 00:00", "S", "U1")])
    ds = read_903(tmp_path)
    assert ds.header["DOB"].notna().all()
    assert str(ds.header.set_index("CHILD").loc[cid, "DOB"].date()) == KIDS["A"][2]
    assert len(ds.episodes) == 1


def test_no_readable_date_of_birth_at_all_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    rows = [[cid, "1", "not a date"] for cid, _, _ in KIDS.values()]
    write(tmp_path, "header_2023.csv", ["CHILD", "SEX", "DOB"], rows)
    write(tmp_path, "episodes_2023.csv", EP_COLS, [ep(KIDS["A"][0], "01/06/2022", "S", "U1")])
    ds = read_903(tmp_path)
    assert ds.header["DOB"].isna().all() and ds.header["DOB"].dtype.kind == "M"
    assert any("date of birth not understood" in p.message for p in ds.problems)


def test_backtest_checks_its_run_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "_pilot_seconds", lambda scenario, years: 36000.0)
    data = ROOT / "calibration" / "synthetic-903"
    out = tmp_path / "bt"
    err = _refused(
        capsys,
        "backtest",
        str(data),
        "--train-until",
        "2021-03-31",
        "--reps",
        "4",
        "--out",
        str(out),
        "--quiet",
    )
    assert "--yes" in err and not out.exists()


def test_a_path_that_is_not_utf8_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Bytes that are not UTF-8 reached the summary's command line and crashed the write.
    bad = os.fsdecode(b"\xff\xfe")
    err = _refused(capsys, "run", str(DARLINGTON), "--out", str(tmp_path / bad))
    assert "--out" in err and "UTF-8" in err and "\\xff" in err


def test_rank_by_a_measure_twice_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    err = _refused(
        capsys,
        "compare",
        str(DARLINGTON),
        str(SOLO),
        "--rank-by",
        "net_cost,net_cost",
        "--out",
        str(tmp_path / "o"),
        "--quiet",
    )
    assert "net_cost" in err and "twice" in err


def test_the_same_file_twice_and_too_many_workers_are_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    many = str((os.cpu_count() or 1) + 7)
    code = main(
        ["compare", str(DARLINGTON), str(DARLINGTON), "--years", "0.25", "--reps", "2",
         "--workers", many, "--out", str(tmp_path / "o")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "same file" in err and f"--workers {many}" in err


def test_grid_file_is_read_like_a_scenario(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pipe = tmp_path / "grid.toml"
    os.mkfifo(pipe)  # opening it to read would wait for ever for a writer
    err = _refused(
        capsys, "sweep", str(DARLINGTON), "--grid", str(pipe), "--out", str(tmp_path / "o")
    )
    assert "not a regular file" in err
    grid = tmp_path / "g.toml"
    grid.write_text('extends = "x.toml"\n[vary]\n"entries.per_year" = [50, 60]\n')
    err = _refused(
        capsys, "sweep", str(DARLINGTON), "--grid", str(grid), "--out", str(tmp_path / "o")
    )
    assert "unknown key 'extends'" in err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[scenario]\nstart_date = 9999-12-01\n", "not plausible"),
        ("[scenario]\nstart_date = 0001-01-01\n", "not plausible"),
        ('[[option_costs]]\nitem = "x"\nper_year = 1e300\n', "not plausible"),
    ],
)
def test_values_that_validated_and_then_crashed_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, words: str
) -> None:
    option = tmp_path / "o.toml"
    option.write_text(f'extends = "{DARLINGTON.as_posix()}"\n{text}', encoding="utf-8")
    err = _refused(capsys, "validate", str(option))
    assert words in err and "o.toml" in err


def test_calibrate_map_and_centroids_are_not_read_from_a_pipe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pipe = tmp_path / "map.toml"
    os.mkfifo(pipe)  # opened to read, it would wait for ever for a writer
    data = ROOT / "calibration" / "synthetic-903"
    for option in ("--map", "--postcodes"):
        err = _refused(
            capsys, "calibrate", str(data), "--at", "2021-03-31", "--out",
            str(tmp_path / "la.toml"), option, str(pipe),
        )  # fmt: skip
        assert "map.toml" in err and "not a regular file" in err
