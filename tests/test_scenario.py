"""Scenario files: every kind of user mistake gets one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.common.errors import ScenarioError
from sim.scenario.load import load
from sim.scenario.region import is_region_file

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "data" / "minimal.toml"
# region files (scenarios/north-east/*.toml) are checked by tests/test_north_east.py
BUNDLED = sorted(p for p in (ROOT / "scenarios").rglob("*.toml") if not is_region_file(p))


def _option(tmp_path: Path, body: str, name: str = "option.toml") -> Path:
    """A scenario that extends the minimal test scenario with `body`."""
    path = tmp_path / name
    path.write_text(f'extends = "{MINIMAL.as_posix()}"\n{body}', encoding="utf-8")
    return path


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_scenarios_validate(path: Path) -> None:
    s = load(path)
    assert s.model.provision, "a scenario must define provision"


# (TOML added to the minimal scenario, the key path the message must name, words it must contain)
BAD = {
    "unknown key": (
        "[provision.in_house_foster]\nrecruitment_per_yr = 17\n",
        "provision.in_house_foster.recruitment_per_yr",
        ["unknown key", "recruitment_per_year"],
    ),
    "wrong type": (
        '[entries]\nper_year = "lots"\n',
        "entries.per_year",
        ["number", "lots"],
    ),
    "negative rate": (
        "[provision.in_house_foster]\nderegistration_per_year = -0.1\n",
        "provision.in_house_foster.deregistration_per_year",
        ["greater than or equal to 0", "-0.1"],
    ),
    "probability above 1": (
        "[provision.kinship]\noffer_probability = 1.5\n",
        "provision.kinship.offer_probability",
        ["1.5"],
    ),
    "impossible date order": (
        '[provision.in_house_home]\nhomes = [{ name = "X", beds = 3, opens = 2026-01-01, closes = 2025-01-01 }]\n',
        "provision.in_house_home.homes[0]",
        ["closes", "before it opens"],
    ),
    "start not first of month": (
        '[scenario]\nname = "x"\nstart_date = 2024-04-15\n',
        "scenario.start_date",
        ["first day of a month"],
    ),
    "undefined provision in preferences": (
        '[matching]\nfallback = "emergency"\n[[matching.preferences]]\norder = ["kinship", "nowhere"]\n',
        "matching.preferences[0].order",
        ["nowhere", "not defined"],
    ),
    "undefined needs level": (
        '[population.ifa]\nby_age = { "5-9" = 2 }\nneeds = { sparkly = 1.0 }\n',
        "population.ifa.needs",
        ["sparkly", "not defined"],
    ),
    "shares not adding to one": (
        '[entries]\nage_mix = { under_1 = 0.5, "1-4" = 0.5, "5-9" = 0.5, "10-15" = 0.5, "16-17" = 0.5 }\n',
        "entries",
        ["add up to 1"],
    ),
    "unknown age band": (
        '[population.ifa]\nby_age = { "11-12" = 2 }\n',
        "population.ifa",
        ["11-12", "age band"],
    ),
    "unknown distribution": (
        '[provision.ifa]\noffer_delay_days = { dist = "gaussian", mean = 3 }\n',
        "provision.ifa.offer_delay_days",
        ["gaussian"],
    ),
    "undefined provision in a rule's from": (
        '[matching]\nfallback = "emergency"\n[[matching.preferences]]\nwhen = { from = ["nowhere"] }\n'
        'order = ["in_house_home"]\n[[matching.preferences]]\norder = ["kinship"]\n',
        "matching.preferences[0].when.from",
        ["nowhere", "not defined"],
    ),
    "unsuitable provision in a rule's from": (
        '[matching]\nfallback = "emergency"\n[[matching.preferences]]\nwhen = { from = ["emergency"] }\n'
        'order = ["in_house_home"]\n[[matching.preferences]]\norder = ["kinship"]\n',
        "matching.preferences[0].when.from",
        ["emergency", "not suitable", "never apply"],
    ),
    "from with entering = true": (
        '[matching]\nfallback = "emergency"\n[[matching.preferences]]\n'
        'when = { from = ["ifa"], entering = true }\norder = ["in_house_home"]\n'
        '[[matching.preferences]]\norder = ["kinship"]\n',
        "matching.preferences[0].when",
        ["entering", "never apply"],
    ),
    "time in placement steps out of order": (
        "[breakdown]\ntime_in_placement = [{ until_years = 1.0, multiplier = 1.3 }, "
        "{ until_years = 0.25, multiplier = 2.0 }]\n",
        "breakdown",
        ["time_in_placement", "increasing"],
    ),
    "too many children for the places": (
        '[population.in_house_home]\nby_age = { "10-15" = 40 }\n',
        "population.in_house_home",
        ["40 children", "places"],
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_names_file_key_and_problem(tmp_path: Path, case: str) -> None:
    body, key, words = BAD[case]
    path = _option(tmp_path, body)
    with pytest.raises(ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message, message
    assert f"[{key}" in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_line_number_of_an_unknown_key(tmp_path: Path) -> None:
    path = _option(tmp_path, "[provision.in_house_foster]\n\nrecruitment_per_yr = 17\n")
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert info.value.line == 4  # line 1 is `extends`, the key is on line 4


def test_error_in_the_base_file_names_the_base_file(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        MINIMAL.read_text().replace("per_year = 60", "per_year = -60"), encoding="utf-8"
    )
    option = tmp_path / "option.toml"
    option.write_text(
        'extends = "base.toml"\n[provision.ifa]\nweekly_cost = 900\n', encoding="utf-8"
    )
    with pytest.raises(ScenarioError) as info:
        load(option)
    assert info.value.file == str(base)
    assert info.value.key == "entries.per_year"


def test_extends_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"cycle: a\.toml -> b\.toml -> a\.toml"):
        load(tmp_path / "a.toml")


def test_extends_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('extends = "nothere.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"nothere\.toml.*does not exist"):
        load(path)


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        '[scenario]\nname = "x"\nstart_date = 2024-04-01\nbad line here\n', encoding="utf-8"
    )
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert info.value.line == 4
    assert "not valid TOML" in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load("no/such/scenario.toml")


def test_extends_merges_tables_and_replaces_values(tmp_path: Path) -> None:
    path = _option(tmp_path, "[provision.in_house_foster]\nrecruitment_per_year = 17\n")
    s = load(path).model
    foster = s.provision["in_house_foster"]
    assert foster.recruitment_per_year == 17
    assert foster.weekly_cost == 391  # kept from the base file
    assert load(MINIMAL).model.provision["in_house_foster"].recruitment_per_year == 4


@pytest.mark.parametrize("case", ["unknown key", "undefined provision in preferences"])
def test_cli_validate_exit_code_2_and_no_traceback(tmp_path: Path, case: str) -> None:
    body, key, _ = BAD[case]
    path = _option(tmp_path, body)
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert key in proc.stderr
    assert proc.stderr.count("\n") == 1  # one message, one line
