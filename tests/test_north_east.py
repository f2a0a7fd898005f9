"""The North East worked example (scenarios/north-east/, issue 16).

What must hold: the region and every option validate; a short run of the region works
through the command line with results per council and for the region; each council starts
from its published (or derived) children in care on 31 March 2023.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli

from sim.scenario.region import load_region

ROOT = Path(__file__).resolve().parents[1]
NORTH_EAST = ROOT / "scenarios" / "north-east"
REGION_FILES = sorted(
    p for p in NORTH_EAST.glob("*.toml") if p.name != "region.toml"
)  # the options, beside the baseline region

#: children in care on 31 March 2023, the day before the region starts: Darlington 322 (DS
#: line 203); Durham 1,074, derived (982 on 31 March 2022, DSS line 115, + 465 entries - 373
#: exits in 2022/23, CPP23); Middlesbrough 514 (6 March 2023, CPB23)
IN_CARE_AT_START = {"darlington": 322, "durham": 1074, "middlesbrough": 514}


def test_the_options_are_all_here() -> None:
    names = {p.name for p in REGION_FILES}
    assert {"durham-new-homes.toml", "regional-block.toml", "joint-home.toml"} <= names
    assert "solo-homes.toml" in names


@pytest.mark.parametrize("path", [NORTH_EAST / "region.toml", *REGION_FILES], ids=lambda p: p.name)
def test_the_region_and_each_option_validate(path: Path) -> None:
    region = load_region(path)
    assert set(region.councils) == set(IN_CARE_AT_START)
    assert str(region.start_date) == "2023-04-01"


def test_validate_accepts_every_file_from_the_command_line() -> None:
    files = [str(NORTH_EAST / "region.toml"), *map(str, REGION_FILES)]
    out = cli("validate", *files)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("ok: ") == len(files)


def test_each_council_starts_from_its_published_children_in_care() -> None:
    region = load_region(NORTH_EAST / "region.toml")
    for name, loaded in region.councils.items():
        total = sum(sum(group.by_age.values()) for group in loaded.model.population.values())
        # whole children, placement types exact (docs/published-figures.md): no rounding slack
        assert total == IN_CARE_AT_START[name], name


def test_darlington_is_the_hand_built_baseline_not_a_copy() -> None:
    region = load_region(NORTH_EAST / "region.toml")
    path = region.councils["darlington"].path.resolve()
    assert path == (ROOT / "scenarios" / "darlington" / "baseline.toml").resolve()


def test_a_short_run_of_the_region_works_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = cli(
        "run",
        str(NORTH_EAST / "region.toml"),
        "--reps",
        "4",
        "--years",
        "1",
        "--out",
        str(out),
        "--quiet",
        "--workers",
        "1",
    )
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.md").read_text(encoding="utf-8")
    for council in IN_CARE_AT_START:
        assert f"| {council} |" in summary
        assert (out / council / "summary.md").is_file()
    assert "| **region** |" in summary
    assert "children_homes (1,490 places)" in summary and (out / "markets.csv").is_file()


# --------------------------------------------------------------------------- actuals

#: Middlesbrough's published figures the region's baseline does not cover today (seed
#: 20230401, 100 runs of the region; median and 10th-90th percentile when written). Strict:
#: a change that brings one inside fails the test until the mark comes off.
MIDDLESBROUGH_NOT_COVERED = {
    ("in_care_external_home+external_block+dual_home_reserved", "2024-01-31"): (
        "76 in external homes in January 2024; the run has about 60 (52-68): the 76 at the "
        "start fall within the year (16-17s turn 18, step-downs) faster than the template's "
        "pathways bring teenagers in, even with more complex needs among them (an assumption "
        "already); Middlesbrough's flows are not published (SOURCES.md)"
    ),
    ("in_care_external_home+external_block+dual_home_reserved", "2025-01-31"): (
        "77 in January 2025; the run has about 59 (51-71), for the same reason"
    ),
    ("in_care_in_house_home", "2024-01-31"): (
        "21 in the council's homes in January 2024; the run fills its 24 assumed beds to 23 "
        "(22-24): the beds are not published (SOURCES.md), 24 is read from 90% occupancy"
    ),
    ("in_care_in_house_home", "2025-01-31"): (
        "22 in January 2025; the run has 24 (23-24), as above"
    ),
    ("in_care_kinship", "2025-01-31"): (
        "64 with connected carers in January 2025; the run has 76 (66-87): just outside. "
        "The 75 at the start are the nearest published split (OSB25's share of CYP24's "
        "foster count), and fall slowly"
    ),
    ("in_care_ifa+ifa_spot", "2025-01-31"): (
        "135 with agencies in January 2025; the run has 114 (98-133): just outside, with the "
        "children the run keeps in in-house foster care (186 with connected carers, 168-203, "
        "published 165, inside)"
    ),
}


@pytest.fixture(scope="module")
def middlesbrough_checks() -> dict[tuple[str, str], object]:
    """The region over the two years of Middlesbrough's later figures, its checks by key.

    100 replications: each band's 10th and 90th percentiles are read from about 10 runs
    either side; the fixed seed makes them exact from one run of the test to the next.
    """
    from sim.reports.actuals import FILE_NAME, checks, read
    from sim.runs.region import run_region

    region = load_region(NORTH_EAST / "region.toml")
    res = run_region(region, years=2, reps=100, seed=20230401, workers=2, progress=False)
    table = read(NORTH_EAST / "middlesbrough" / FILE_NAME)
    found = checks(table, res.councils["middlesbrough"])
    return {(c.figure.measure, c.figure.date.isoformat()): c for c in found}


def _middlesbrough_after_start() -> list[tuple[str, str]]:
    from sim.reports.actuals import FILE_NAME, read

    table = read(NORTH_EAST / "middlesbrough" / FILE_NAME)
    return [
        (f.measure, f.date.isoformat())
        for f in table.figures
        if f.date.isoformat() >= "2024-01-31" and f.measure != "recruited_in_house_foster"
    ]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=MIDDLESBROUGH_NOT_COVERED[k]))
        if k in MIDDLESBROUGH_NOT_COVERED
        else k
        for k in _middlesbrough_after_start()
    ],
    ids=lambda k: f"{k[0]}@{k[1]}",
)
def test_middlesbrough_in_the_region_covers_published_figure(
    middlesbrough_checks: dict[tuple[str, str], object], key: tuple[str, str]
) -> None:
    """Each of Middlesbrough's published figures after the start lies in the region run's
    80% band (Middlesbrough runs in the region's market: its external homes and IFAs are
    the pools'). With 9 figures, about 2 would fall outside by chance alone even for a
    right model; those in MIDDLESBROUGH_NOT_COVERED share a cause."""
    c = middlesbrough_checks[key]
    assert c.where == "in"  # type: ignore[attr-defined]
    med, p10, p90 = c.band()  # type: ignore[attr-defined]
    assert c.inside, f"{key}: published {c.figure.value}, run {med:.1f} ({p10:.1f}-{p90:.1f})"  # type: ignore[attr-defined]
