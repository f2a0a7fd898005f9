"""The output folder: complete, faithful to the run's arrays, and written whole or not at all."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RUN_OUTPUTS

from sim import load, run
from sim.common.errors import OutputExistsError, UserError
from sim.common.outputs import OutputRefusedError
from sim.reports import run as report_module
from sim.reports.run import headline_lines, write_report
from sim.runs.montecarlo import Results

DATA = Path(__file__).parent / "data"
YEARS, REPS, SEED = 2, 6, 3


@pytest.fixture(scope="module")
def results() -> Results:
    return run(load(DATA / "minimal.toml"), years=YEARS, reps=REPS, seed=SEED, workers=1)


@pytest.fixture(scope="module")
def folder(results: Results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(results, tmp_path_factory.mktemp("report") / "out")


def _leftovers(parent: Path) -> list[str]:
    """Hidden temporary siblings that a write may have left behind."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_every_file_is_written(folder: Path) -> None:
    for name in RUN_OUTPUTS:
        assert (folder / name).stat().st_size > 0, name
    assert _leftovers(folder.parent) == []


def test_replications_hold_the_monthly_array_exactly(folder: Path, results: Results) -> None:
    df = pd.read_csv(folder / "replications.csv.gz")
    reps, months, series = results.monthly.shape
    assert len(df) == reps * months * series
    assert list(df.columns) == [
        "scenario",
        "seed",
        "replication",
        "month",
        "metric",
        "group",
        "value",
    ]
    assert (df["scenario"] == results.name).all() and (df["seed"] == SEED).all()
    np.testing.assert_array_equal(df["value"].to_numpy(), results.monthly.reshape(-1))
    for metric, group in [
        ("in_care", "total"),
        ("cost", "total"),
        ("unmet_child_days", "total"),
        ("in_care", "ifa"),
    ]:
        one = df[(df["metric"] == metric) & (df["group"] == group)]
        got = one.pivot(index="replication", columns="month", values="value")
        assert list(got.columns) == results.months
        np.testing.assert_array_equal(got.to_numpy(), results.series(metric, group))


def test_summary_medians_match_numpy(folder: Path, results: Results) -> None:
    df = pd.read_csv(folder / "summary.csv")
    assert len(df) == len(results.months) * len(results.layout)
    for metric, group in [("in_care", "total"), ("cost", "total"), ("moves", "total")]:
        one = df[(df["metric"] == metric) & (df["group"] == group)]
        x = results.series(metric, group)
        np.testing.assert_array_equal(one["median"].to_numpy(), np.median(x, axis=0))
        np.testing.assert_allclose(one["p10"].to_numpy(), np.percentile(x, 10, axis=0))
        np.testing.assert_allclose(one["p90"].to_numpy(), np.percentile(x, 90, axis=0))
        np.testing.assert_allclose(one["mean"].to_numpy(), x.mean(axis=0))


def test_yearly_sums_flows_and_reads_stocks_at_year_end(folder: Path, results: Results) -> None:
    df = pd.read_csv(folder / "yearly.csv")
    cost = df[(df["measure"] == "cost_in_year") & (df["group"] == "total")]
    got = cost.pivot(index="replication", columns="year", values="value").to_numpy()
    np.testing.assert_allclose(got, results.by_year("cost", "total", "sum"))
    stock = df[(df["measure"] == "in_care_at_year_end") & (df["group"] == "total")]
    got = stock.pivot(index="replication", columns="year", values="value").to_numpy()
    np.testing.assert_array_equal(got, results.by_year("in_care", "total", "end"))
    share = df[df["measure"] == "share_3plus_placements"]
    got = share.pivot(index="replication", columns="year", values="value").to_numpy()
    np.testing.assert_allclose(got, results.yearly_series("share_3plus_placements"))


def test_summary_by_year_headlines(folder: Path, results: Results) -> None:
    df = pd.read_csv(folder / "summary_by_year.csv")
    assert sorted(df["year"].unique()) == list(range(1, YEARS + 1))
    row = df[(df["measure"] == "Children in care at year end") & (df["group"] == "All")]
    expected = np.median(results.by_year("in_care", "total", "end"), axis=0)
    np.testing.assert_allclose(row["median"].astype(float), expected)
    labels = set(df["group"])
    assert "In-house foster care" in labels  # provisions shown by label, not id


def test_summary_md_has_table_and_how_to_repeat(folder: Path) -> None:
    text = (folder / "summary.md").read_text(encoding="utf-8")
    assert "Total cost in the year" in text and "£" in text
    assert f"--years {YEARS} --reps {REPS} --seed {SEED}" in text
    assert str(folder / "scenario.toml") in text


def test_scenario_round_trips(folder: Path, results: Results) -> None:
    again = load(folder / "scenario.toml")
    assert again.model == results.scenario
    assert (folder / "scenario.toml").read_text(encoding="utf-8").startswith("#")


def test_scenario_from_a_model_round_trips(results: Results, tmp_path: Path) -> None:
    """A run given a Scenario (not a file) has a raw dump with None values: TOML has no null."""
    dumped = results.scenario.model_dump(mode="json", by_alias=True)
    out = write_report(dataclasses.replace(results, scenario_raw=dumped), tmp_path / "out")
    assert load(out / "scenario.toml").model == results.scenario


def test_scenario_keeps_the_files_comments(folder: Path) -> None:
    text = (folder / "scenario.toml").read_text(encoding="utf-8")
    minimal = (DATA / "minimal.toml").read_text(encoding="utf-8")
    assert text.endswith(minimal)  # the user's file, byte for byte, below the run's header
    assert "# A small made-up scenario for tests" in text
    assert f"sufficiency run scenario.toml --years {YEARS} --reps {REPS} --seed {SEED}" in text


DARLINGTON = Path(__file__).resolve().parents[1] / "scenarios" / "darlington"


@pytest.mark.parametrize("option", ["solo-homes", "edge-of-care", "foster-plus-10"])
def test_an_option_that_extends_its_baseline_is_saved_whole_with_its_comments(
    option: str, tmp_path: Path
) -> None:
    """A run of a Darlington option saves one scenario.toml that loads on its own from the
    results folder (no baseline.toml beside it) and gives the same model, keeping the
    comments and sources of the option and of the baseline it extends."""
    loaded = load(DARLINGTON / f"{option}.toml")
    results = run(loaded, years=1 / 12, reps=1, seed=SEED, workers=1)
    folder = tmp_path / "out"
    folder.mkdir()
    report_module._write_scenario(results, folder)  # the folder's scenario.toml, alone
    assert sorted(p.name for p in folder.iterdir()) == ["scenario.toml"]
    again = load(folder / "scenario.toml")
    assert again.model == loaded.model
    assert again.sources == (folder / "scenario.toml",)  # no extends left
    text = (folder / "scenario.toml").read_text(encoding="utf-8")
    opening = (DARLINGTON / f"{option}.toml").read_text(encoding="utf-8").splitlines()[0]
    assert opening in text  # "# Darlington option: ..."
    assert "# Rates are per child per year (a hazard)" in text  # the baseline's
    assert "# Repeat the run: sufficiency run scenario.toml --years" in text
    assert "could not be kept" not in text


def test_run_json(folder: Path) -> None:
    import json

    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert (info["seed"], info["reps"], info["years"]) == (SEED, REPS, YEARS)
    for key in ("workers", "version", "wall_seconds", "n_events", "child_years", "run_at"):
        assert key in info


def test_existing_folder_without_force_is_left_alone(results: Results, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--force") as err:
        write_report(results, out)
    assert isinstance(err.value, UserError) and str(out) in str(err.value)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert _leftovers(tmp_path) == []


def test_force_replaces_the_old_folder(results: Results, tmp_path: Path) -> None:
    out = write_report(results, tmp_path / "out")
    old = (out / "summary.md").stat().st_ino  # a file of the earlier output
    (out / "old.txt").write_text("old")  # a file sufficiency did not write
    with pytest.raises(OutputRefusedError, match=r"old\.txt"):
        write_report(results, out, force=True)  # only an output of the tool is replaced
    assert (out / "old.txt").read_text() == "old"
    (out / "old.txt").unlink()
    write_report(results, out, force=True)
    assert not (out / "old.txt").exists()
    assert (out / "summary.md").stat().st_ino != old  # the new output's file
    assert all((out / name).exists() for name in RUN_OUTPUTS)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(
    results: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    def boom(*args: object) -> None:
        raise exc

    monkeypatch.setattr(report_module, "_write_charts", boom)
    with pytest.raises(type(exc)):
        write_report(results, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failure_with_force_keeps_the_old_folder(
    results: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write_report(results, tmp_path / "out")
    old = (out / "summary.md").read_text()
    before = sorted(p.name for p in out.iterdir())

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "_write_summary_md", boom)
    with pytest.raises(RuntimeError):
        write_report(results, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "summary.md").read_text() == old
    assert _leftovers(tmp_path) == []


def _table(md: str) -> dict[str, list[str]]:
    """Rows of the markdown table: label -> cells."""
    lines = md.splitlines()
    # every table's body rows: a header is the row just above a |---| separator
    headers = {i - 1 for i, line in enumerate(lines) if line.startswith("|---")}
    rows = [
        line.strip("|").split("|")
        for i, line in enumerate(lines)
        if line.startswith("| ") and i not in headers
    ]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_small_counts_are_suppressed(results: Results, tmp_path: Path) -> None:
    out = write_report(results, tmp_path / "out", suppress_below=5)
    table = _table((out / "summary.md").read_text(encoding="utf-8"))
    counts = [label for label in table if not label.startswith("%") and "cost" not in label]
    assert "Children not suitably placed at year end" in counts
    for label in counts:
        for cell in table[label]:
            numbers = [int(n.replace(",", "")) for n in re.findall(r"(?<![<\d,])\d[\d,]*", cell)]
            assert not any(1 <= n <= 4 for n in numbers), (label, cell)
    assert "<5" in (out / "summary.md").read_text(encoding="utf-8")  # tiny scenario: some are
    assert "NOT suppressed" in (out / "summary.md").read_text(encoding="utf-8")

    df = pd.read_csv(out / "summary_by_year.csv", dtype=str)
    counts_rows = df[df["unit"].isin(["children", "placements", "moves", "child-days"])]
    for col in ("median", "p10", "p90"):
        shown = counts_rows[col][counts_rows[col] != "<5"].astype(float)
        assert not ((shown > 0) & (shown < 5)).any()
    money = df[df["unit"] == "£"]
    assert not money[["median", "p10", "p90"]].isin(["<5"]).any().any()

    # analysts' files are untouched
    reps = pd.read_csv(out / "replications.csv.gz")
    np.testing.assert_array_equal(reps["value"].to_numpy(), results.monthly.reshape(-1))


def test_headline_lines(results: Results) -> None:
    lines = headline_lines(results)
    assert 4 <= len(lines) <= 6
    assert all(isinstance(line, str) and len(line) < 80 for line in lines)
    assert lines[0].startswith("Children in care, March 2026: ")
    assert any(line.startswith(f"Total cost over {YEARS} years: £") for line in lines)


def test_part_year_run(tmp_path: Path) -> None:
    """A run of 18 months has a short second year; every file is still written."""
    r = run(load(DATA / "minimal.toml"), years=1.5, reps=3, seed=1, workers=1)
    out = write_report(r, tmp_path / "out")
    df = pd.read_csv(out / "summary_by_year.csv")
    assert any("6 months" in p for p in df["period"])
    assert load(out / "scenario.toml").model == r.scenario
