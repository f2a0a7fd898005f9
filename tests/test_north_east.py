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
