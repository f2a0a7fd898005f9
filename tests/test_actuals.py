"""actuals.csv: the council's published figures, read with care and set beside a run.

The Darlington test runs the baseline over the two years the council has published
figures for (2023/24 and 2024/25) and asks, figure by figure, whether the run's 80% band
covers what happened. A figure the baseline misses today is marked xfail(strict=True)
with the band measured when it was written: a model change that brings it inside makes
the test fail until the mark is taken off, so an improvement is noticed, and a figure
that stops being covered fails at once.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from sim import load, run
from sim.cli import main
from sim.common.errors import ScenarioError
from sim.reports.actuals import FILE_NAME, Check, checks, find, read
from sim.reports.run import charts, write_report
from sim.runs.montecarlo import Results

ROOT = Path(__file__).resolve().parents[1]
DARLINGTON = ROOT / "scenarios" / "darlington"
HEADER = "measure,date,value,low,high,source,note\n"


def _write(folder: Path, body: str, header: str = HEADER) -> Path:
    path = folder / FILE_NAME
    path.write_text(header + body, encoding="utf-8")
    return path


# =========================================================================== reading


def test_darlington_file_reads() -> None:
    a = read(DARLINGTON / FILE_NAME)
    measures = {(f.measure, f.date) for f in a.figures}
    assert ("in_care_total", dt.date(2024, 3, 31)) in measures
    assert ("entries_total", dt.date(2025, 3, 31)) in measures
    assert all(f.source and f.note for f in a.figures), "every figure cites its seed"


def test_a_range_and_comments(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '# a comment line\nshare_3plus_placements,2024-03-31,,13,17,DSA,"13-17%, a range"\n',
    )
    (f,) = read(path).figures
    assert f.is_range and (f.low, f.high) == (13, 17) and f.note == "13-17%, a range"
    assert f.unit == "%"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            "in_care_total,2024-02-30,300,,,DSA,\n",
            ["line 2", "[date]", "'2024-02-30' is not a date"],
        ),
        ("in_care_total,31/03/2024,300,,,DSA,\n", ["[date]", "not a date", "YYYY-MM-DD"]),
        ("in_care_total,2024-03-15,300,,,DSA,\n", ["[date]", "not the last day of a month"]),
        (
            "children_total,2024-03-31,300,,,DSA,\n",
            ["[measure]", "unknown measure 'children_total'"],
        ),
        ("pct_entries_total,2024-03-31,30,,,DSA,\n", ["[measure]", "unknown measure"]),
        ("in_care_total,2024-03-31,three hundred,,,DSA,\n", ["[value]", "not a number"]),
        ("in_care_total,2024-03-31,-3,,,DSA,\n", ["[value]", "0 or more"]),
        ("in_care_total,2024-03-31,,,,DSA,\n", ["[value]", "no value"]),
        ("in_care_total,2024-03-31,300,290,,DSA,\n", ["[value]", "both a value and a range"]),
        ("in_care_total,2024-03-31,,310,290,DSA,\n", ["[low]", "above high"]),
        ("in_care_total,2024-03-31,300,,,,\n", ["[source]", "no source"]),
        ("in_care_total,2024-03-31,300,,,DSA,a,b\n", ["8 fields", "double quotes"]),
        (
            "in_care_total,2024-03-31,300,,,DSA,\nin_care_total,2024-03-31,301,,,DS,\n",
            ["line 3", "given twice", "line 2"],
        ),
    ],
)
def test_a_bad_row_is_named(tmp_path: Path, body: str, words: list[str]) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ScenarioError) as err:
        read(path)
    text = str(err.value).replace(f"{path}:", "line ").replace("line 2:", "line 2")
    assert str(path) in str(err.value)
    for w in words:
        assert w in text, (w, str(err.value))


def test_a_bad_header_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"unknown column 'valeur'"):
        read(_write(tmp_path, "", header="measure,date,valeur,source\n"))
    with pytest.raises(ScenarioError, match=r"no column 'source'"):
        read(_write(tmp_path, "", header="measure,date,value\n"))
    with pytest.raises(ScenarioError, match="is empty"):
        read(_write(tmp_path, "", header=""))


def test_not_a_regular_file(tmp_path: Path) -> None:
    folder = tmp_path / FILE_NAME
    folder.mkdir()
    with pytest.raises(ScenarioError, match=r"not a regular file \(it is a folder\)"):
        read(folder)
    if hasattr(os, "mkfifo"):  # a pipe must be refused, not waited on for ever
        pipe = tmp_path / "pipe.csv"
        os.mkfifo(pipe)
        with pytest.raises(ScenarioError, match="not a regular file"):
            read(pipe)
    with pytest.raises(ScenarioError, match="cannot be read"):
        read(tmp_path / "missing.csv")


def test_too_large_and_not_utf8(tmp_path: Path) -> None:
    big = tmp_path / "big" / FILE_NAME
    big.parent.mkdir()
    big.write_text(HEADER + "#" * 1_000_001, encoding="utf-8")
    with pytest.raises(ScenarioError, match="larger than 1 MB"):
        read(big)
    path = tmp_path / FILE_NAME
    path.write_bytes(HEADER.encode() + b"in_care_total,2024-03-31,300,,,D\xff,\n")
    with pytest.raises(ScenarioError, match="not a UTF-8"):
        read(path)


# =========================================================================== finding


def test_found_beside_the_scenario_or_its_base(tmp_path: Path) -> None:
    option = load(DARLINGTON / "foster-plus-10.toml")
    assert find(option.files) == DARLINGTON / FILE_NAME  # same folder as the baseline
    # an option elsewhere that extends the Darlington baseline uses the baseline's figures
    mine = tmp_path / "mine.toml"
    base = os.path.relpath(DARLINGTON / "baseline.toml", tmp_path)
    mine.write_text(f'extends = "{base}"\n[scenario]\nname = "Mine"\n', encoding="utf-8")
    found = find(load(mine).files)
    assert found is not None and found.resolve() == DARLINGTON / FILE_NAME
    # ... unless its own folder has figures of its own
    _write(tmp_path, "in_care_total,2024-03-31,300,,,mine,\n")
    assert find(load(mine).files) == tmp_path / FILE_NAME
    assert find([tmp_path / "elsewhere" / "x.toml"]) is None


# =========================================================================== against a run


@pytest.fixture(scope="module")
def darlington() -> Results:
    """The Darlington baseline over the two published years, 2023/24 and 2024/25.

    100 replications: a band's 10th and 90th percentiles are then each read from about
    10 runs either side, steady to a few children for the counts checked here (and the
    fixed seed makes them exact from one run of the test to the next).
    """
    return run(
        load(DARLINGTON / "baseline.toml"),
        years=2,
        reps=100,
        seed=20230401,
        workers=2,
        progress=False,
    )


@pytest.fixture(scope="module")
def darlington_checks(darlington: Results) -> dict[tuple[str, str], Check]:
    found = checks(read(DARLINGTON / FILE_NAME), darlington)
    return {(c.figure.measure, c.figure.date.isoformat()): c for c in found}


#: figures the baseline does not cover today, with the band measured when this was
#: written (seed 20230401, 100 runs; median, 10th-90th percentile). A later model fix
#: that brings one inside makes its test pass, which strict xfail reports as a failure:
#: take the mark off then.
NOT_COVERED = {
    ("in_care_total", "2025-03-31"): (
        "265 children in care on 31 March 2025; the baseline has 296 (271-312): entries "
        "are held flat at the 2022/23-2024/25 mean, so the 2024/25 fall is missed (see "
        "baseline.toml, 'Published figures this baseline does not reproduce')"
    ),
    ("entries_total", "2025-03-31"): (
        "62 entries in 2024/25; the baseline has 110 (87-126): flat entries at the three-year "
        "mean; the fall came with Darlington's edge-of-care work, beyond what the Coram trial "
        "supports for the edge-of-care option (5% fewer)"
    ),
    ("exits_total", "2025-03-31"): (
        "95 children left care in 2024/25; the baseline has 126 (112-138): with entries flat, "
        "the short stays that end within the year do not fall as Darlington's did"
    ),
    ("share_3plus_placements", "2025-03-31"): (
        "13.3% with 3+ placements in 2024/25; the baseline has 17.8% (14.6-20.8%): Darlington's "
        "stability improved with its own homes rising from 4 to 6 and psychological support "
        "[DSA], which the baseline leaves out (dates and beds not published)"
    ),
    ("pct_in_care_kinship", "2025-03-31"): (
        "20% in kinship care on 31 March 2025; the baseline holds 15.5% (13.3-18.6%): the "
        "rise came with 26% more family group conferences [DSA], which is the edge-of-care "
        "option (test_the_edge_of_care_option_reproduces_the_2025_kinship_share)"
    ),
}


def _after_start() -> list[tuple[str, str]]:
    start = dt.date(2023, 4, 1)  # scenarios/darlington/baseline.toml start_date
    return [
        (f.measure, f.date.isoformat())
        for f in read(DARLINGTON / FILE_NAME).figures
        if f.date >= start
    ]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=NOT_COVERED[k]))
        if k in NOT_COVERED
        else k
        for k in _after_start()
    ],
    ids=lambda k: f"{k[0]}@{k[1]}",
)
def test_darlington_baseline_covers_published_figure(
    darlington_checks: dict[tuple[str, str], Check], key: tuple[str, str]
) -> None:
    """Each published figure after the start lies in the baseline's 80% band.

    No tolerance beyond the band itself: an 80% band is the report's own measure of
    "what the model expects", so a figure outside it is what a commissioner would see
    as a miss. The fixed seed makes each band exact from one run of the test to the
    next, so a figure on the band's edge (11 foster carers recruited in 2024/25, band 4-11)
    passes or fails the same way every time until the model changes. With 17 figures, about 3 would fall outside by chance alone even for a
    right model; the ones listed in NOT_COVERED are far outside or share a cause.
    """
    c = darlington_checks[key]
    assert c.where == "in"
    med, p10, p90 = c.band()
    f = c.figure
    assert c.inside, f"{key}: published {f.value}, run {med:.1f} ({p10:.1f}-{p90:.1f})"


def test_figures_before_the_start_are_the_starting_point(
    darlington_checks: dict[tuple[str, str], Check],
) -> None:
    c = darlington_checks[("in_care_total", "2023-03-31")]
    assert c.where == "before" and c.values is None and c.inside is None


def test_report_sets_figures_beside_the_run(darlington: Results, tmp_path: Path) -> None:
    folder = write_report(darlington, tmp_path / "out")
    text = (folder / "summary.md").read_text(encoding="utf-8")
    assert "## Against the council's published figures" in text
    assert "| `in_care_total` | 31 Mar 2024 | 300 |" in text
    assert "before the run starts" in text
    (_, fig) = charts(darlington)[0]
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert "published figure" in legend
    # without published figures, no marker and no legend entry
    (_, fig) = charts(darlington, published=False)[0]
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert "published figure" not in legend


def test_a_range_is_covered_when_it_overlaps_the_band(darlington: Results, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "in_care_total,2024-03-31,,250,295,test,\nin_care_total,2025-03-31,,200,250,test,\n",
    )
    near, far = checks(read(path), darlington)
    assert near.inside is True and far.inside is False


def test_a_measure_the_run_lacks_is_named(darlington: Results, tmp_path: Path) -> None:
    path = _write(tmp_path, "in_care_nowhere,2024-03-31,3,,,test,\n")
    with pytest.raises(
        ScenarioError, match=r"actuals.csv:2: \[measure\] .*no in_care series 'nowhere'"
    ):
        checks(read(path), darlington)


def test_run_stops_before_running_on_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(DARLINGTON / "baseline.toml", tmp_path / "baseline.toml")
    _write(tmp_path, "in_care_total,2024-13-31,300,,,DSA,\n")
    status = main(
        [
            "run",
            str(tmp_path / "baseline.toml"),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--reps",
            "2",
            "--years",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "actuals.csv:2: [date]" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_the_edge_of_care_option_reproduces_the_2025_kinship_share() -> None:
    """The baseline holds kinship at its 2022/23-2023/24 share by design; Darlington's rise
    to 20% in 2024/25 came with more family group conferences, which is what the
    edge-of-care option adds (kinship offers x1.33). Its 80% band must hold the published
    20%, so the option explains the figure the baseline leaves out."""
    option = run(
        load(DARLINGTON / "edge-of-care.toml"),
        years=2,
        reps=100,
        seed=20230401,
        workers=2,
        progress=False,
    )
    found = {
        (c.figure.measure, c.figure.date.isoformat()): c
        for c in checks(read(DARLINGTON / FILE_NAME), option)
    }
    c = found[("pct_in_care_kinship", "2025-03-31")]
    med, p10, p90 = c.band()
    assert c.inside, f"edge-of-care kinship 2025: published 20, run {med:.1f} ({p10:.1f}-{p90:.1f})"
