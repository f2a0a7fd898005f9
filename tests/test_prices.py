"""Prices by needs level: `weekly_cost` as a table, checked when read, and each child
costed at the price of their own needs level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import RecordingModel, minimal_raw, scenario_from
from pydantic import ValidationError

from sim.common.errors import ScenarioError
from sim.engine.metrics import Layout
from sim.reports.html import _weekly_cost
from sim.scenario.load import load
from sim.scenario.schema import Scenario, cross_reference_errors

MINIMAL = Path(__file__).resolve().parent / "data" / "minimal.toml"
TABLE = {"standard": 4534.0, "complex": 6200.0, "very_complex": 15000.0}


def _refused(tmp_path: Path, body: str) -> ScenarioError:
    path = tmp_path / "option.toml"
    path.write_text(f'extends = "{MINIMAL.as_posix()}"\n{body}', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(path)
    return info.value


def test_a_table_of_prices_by_needs_level_is_accepted() -> None:
    raw = minimal_raw()
    raw["provision"]["external_home"]["weekly_cost"] = dict(TABLE)
    s = scenario_from(raw)
    spec = s.provision["external_home"]
    assert spec.weekly_cost == TABLE
    assert spec.prices_by_needs(list(s.needs)) == [4534.0, 6200.0, 15000.0]
    # one number still means one price for everybody
    assert s.provision["ifa"].prices_by_needs(list(s.needs)) == [941.0] * 3


def test_a_missing_level_names_the_key_and_the_level(tmp_path: Path) -> None:
    err = _refused(
        tmp_path, "[provision.external_home]\nweekly_cost = { standard = 4534, complex = 6200 }\n"
    )
    assert err.key == "provision.external_home.weekly_cost", str(err)
    assert "very_complex" in str(err) and "no price" in str(err)


def test_the_fallback_must_price_every_level() -> None:
    raw = minimal_raw()
    # the emergency provision takes every child whatever its `needs` list says
    raw["provision"]["emergency"]["needs"] = ["standard"]
    raw["provision"]["emergency"]["weekly_cost"] = {"standard": 7000}
    problems = cross_reference_errors(Scenario.model_validate(raw))
    assert [loc for loc, _ in problems] == [("provision", "emergency", "weekly_cost")]
    assert "'complex'" in problems[0][1] and "fallback" in problems[0][1]


def test_a_starting_population_level_must_be_priced() -> None:
    raw = minimal_raw()
    raw["provision"]["ifa"]["weekly_cost"] = {"standard": 941, "complex": 1500}
    raw["population"]["ifa"]["needs"] = {"standard": 0.5, "very_complex": 0.5}
    problems = cross_reference_errors(Scenario.model_validate(raw))
    assert any(
        loc == ("provision", "ifa", "weekly_cost") and "'very_complex'" in msg
        for loc, msg in problems
    ), problems


def test_an_unknown_level_in_a_table_is_refused(tmp_path: Path) -> None:
    err = _refused(
        tmp_path,
        "[provision.ifa]\nweekly_cost = { standard = 941, complex = 1500, extreme = 9000 }\n",
    )
    assert err.key == "provision.ifa.weekly_cost" and "'extreme'" in str(err), str(err)


def test_an_empty_table_is_refused(tmp_path: Path) -> None:
    err = _refused(tmp_path, "[provision.ifa]\nweekly_cost = {}\n")
    assert err.key == "provision.ifa.weekly_cost" and "empty" in str(err), str(err)


def test_a_per_place_home_keeps_one_price(tmp_path: Path) -> None:
    raw = minimal_raw()
    raw["provision"]["in_house_home"]["weekly_cost"] = {"standard": 1461, "complex": 2000}
    with pytest.raises(ValidationError, match="per_place"):
        Scenario.model_validate(raw)
    err = _refused(
        tmp_path,
        "[provision.in_house_home]\nweekly_cost = { standard = 1461, complex = 2000 }\n",
    )
    assert "per_place" in str(err) and "one number" in str(err), str(err)
    # paid per child, the same home may be priced by need
    raw["provision"]["in_house_home"]["cost_basis"] = "per_child"
    scenario_from(raw)


def test_an_option_changes_one_level_and_keeps_the_others(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    raw_text = MINIMAL.read_text(encoding="utf-8").replace(
        "weekly_cost = 4534",
        "weekly_cost = { standard = 4534, complex = 6200, very_complex = 15000 }",
    )
    base.write_text(raw_text, encoding="utf-8")
    option = tmp_path / "option.toml"
    option.write_text(
        'extends = "base.toml"\n[provision.external_home]\nweekly_cost = { very_complex = 20000 }\n',
        encoding="utf-8",
    )
    cost = load(option).model.provision["external_home"].weekly_cost
    assert cost == {"standard": 4534, "complex": 6200, "very_complex": 20000}


def test_a_price_by_need_can_be_uncertain() -> None:
    raw = minimal_raw()
    raw["provision"]["external_home"]["weekly_cost"] = {
        "standard": 4534,
        "complex": 6200,
        "very_complex": {"median": 15000, "interval90": [12450, 23362]},
    }
    s = scenario_from(raw)
    assert s.provision["external_home"].weekly_cost == TABLE
    assert "provision.external_home.weekly_cost.very_complex" in s.uncertainty


def test_the_report_shows_the_range_by_needs_level() -> None:
    raw = minimal_raw()
    raw["provision"]["external_home"]["weekly_cost"] = dict(TABLE)
    s = scenario_from(raw)
    text = _weekly_cost(s.provision["external_home"])
    assert "£4,534" in text and "£15,000" in text and "by needs level" in text, text
    assert "£941 a week" in _weekly_cost(s.provision["ifa"])


# --------------------------------------------------------------------------- the engine


def _still_life(years: float, inflation: float) -> tuple[Scenario, RecordingModel]:
    """Children who stay where they start for the whole run, in one provision priced by
    need: no entries, exits, moves or breakdowns, and nobody turns 18."""
    raw: dict[str, Any] = minimal_raw()
    raw["entries"]["per_year"] = 0
    raw["entries"]["uasc"]["per_year"] = 0
    raw["moves"] = []
    for route in raw["exits"].values():
        route["rate_per_year"] = dict.fromkeys(route["rate_per_year"], 0.0)
    for spec in raw["provision"].values():
        spec["breakdown_per_year"] = 0.0
    ext = raw["provision"]["external_home"]
    ext["weekly_cost"] = dict(TABLE)
    ext["price_inflation_per_year"] = inflation
    # aged 5-9 at the start: under 12 at the end of a two-year run
    raw["population"] = {
        "external_home": {"by_age": {"5-9": 6}, "needs": {"standard": 0.5, "very_complex": 0.5}}
    }
    s = scenario_from(raw)
    m = RecordingModel(s, years, 3)
    m.result = m.run()
    return s, m


@pytest.mark.parametrize(("years", "inflation"), [(1.0, 0.0), (2.0, 0.1)])
def test_children_of_different_needs_in_one_provision_cost_their_own_prices(
    years: float, inflation: float
) -> None:
    s, m = _still_life(years, inflation)
    levels = [list(s.needs)[c.needs] for c in m.children_by_id.values()]
    assert len(levels) == 6 and {"standard", "very_complex"} <= set(levels), levels
    weekly = sum(TABLE[level] for level in levels)  # the six children's prices a week
    layout = Layout.for_scenario(s)
    monthly = m.result.monthly
    days = monthly[:, layout.i("child_days", "external_home")]
    cost = monthly[:, layout.i("cost", "external_home")]
    rise = (1.0 + inflation) ** (np.arange(len(days)) // 12)
    # every child is there all month: each month's child-days are six times its length
    np.testing.assert_allclose(cost, days / 6 * weekly * rise / 7.0, rtol=1e-9)
    # not the price of any one level for everybody
    for price in TABLE.values():
        assert not np.allclose(cost, days * price * rise / 7.0)


def test_a_sweep_of_a_price_by_need_is_labelled_in_pounds() -> None:
    from sim.reports.sweep import axis_label

    key = "provision.external_home.weekly_cost.very_complex"
    assert axis_label(key) == f"{key} (£ per week)"
