"""Needs that change over time (`[[needs_change]]`): the hazard, who moves, costs, checks."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import RecordingModel, minimal_raw, scenario_from
from test_invariants import assert_clean, replay

from sim.common.errors import ScenarioError
from sim.engine.metrics import Layout
from sim.scenario.ages import DAYS_PER_YEAR
from sim.scenario.load import load
from sim.scenario.schema import Scenario

MINIMAL = Path(__file__).resolve().parent / "data" / "minimal.toml"


def _quiet(raw: dict[str, Any]) -> dict[str, Any]:
    """Nothing else happens: no entries, exits, breakdowns, planned moves or recruitment."""
    raw["entries"]["per_year"] = 0
    raw["entries"]["uasc"]["per_year"] = 0
    raw["moves"] = []
    for route in raw["exits"].values():
        route["rate_per_year"] = dict.fromkeys(route["rate_per_year"], 0.0)
    for spec in raw["provision"].values():
        if "breakdown_per_year" in spec:
            spec["breakdown_per_year"] = 0.0
    f = raw["provision"]["in_house_foster"]
    f["recruitment_per_year"] = 0.0
    f["deregistration_per_year"] = 0.0
    return raw


def _run(s: Scenario, years: float, seed: int) -> RecordingModel:
    m = RecordingModel(s, years, seed)
    m.result = m.run()
    return m


# --------------------------------------------------------------------------- the hazard

RATE = 0.3  # escalations a year for 10-17s
YEARS = 1.5  # the 10-15s of the start are 17.5 at most at the end: nobody turns 18
N_TEEN = 1500
N_YOUNG = 300


def _escalation_only() -> Scenario:
    raw = _quiet(minimal_raw())
    raw["population"] = {
        "external_home": {
            "by_age": {"1-4": N_YOUNG, "10-15": N_TEEN},
            "needs": {"standard": 1.0},
        }
    }
    raw["needs_change"] = [
        {"from": "standard", "to": "complex", "rate_per_year": {"10-15": RATE, "16-17": RATE}}
    ]
    return scenario_from(raw)


def test_the_share_escalated_follows_the_hazard_and_only_in_its_age_bands() -> None:
    s = _escalation_only()
    m = _run(s, YEARS, 7)
    t_end = m.calendar.end
    kids = list(m.children_by_id.values())
    assert len(kids) == N_TEEN + N_YOUNG and all(c.in_care for c in kids)
    teens = [c for c in kids if c.age(0.0) >= 10.0]
    young = [c for c in kids if c.age(0.0) < 5.0]
    assert len(teens) == N_TEEN and len(young) == N_YOUNG
    complex_ = list(s.needs).index("complex")
    share = sum(c.needs == complex_ for c in teens) / N_TEEN
    expected = 1.0 - math.exp(-RATE * t_end / DAYS_PER_YEAR)
    # binomial standard error of a share of N_TEEN children: the seed is fixed, and 4 SE
    # (about 0.05 here) would be passed by 99.99% of seeds if the hazard is right, while
    # a hazard out by a fifth (share off by about 0.06) fails
    se = math.sqrt(expected * (1.0 - expected) / N_TEEN)
    assert abs(share - expected) < 4 * se, (share, expected, se)
    # the 1-4s are under 6.5 at the end: outside the rule's bands, none changed
    assert all(c.needs == 0 for c in young)
    # the monthly series agree with the children
    layout = Layout.for_scenario(s)
    monthly = m.result.monthly
    ups = monthly[:, layout.i("needs_changed", "up")].sum()
    assert ups == sum(c.needs == complex_ for c in teens)
    assert monthly[:, layout.i("needs_changed", "down")].sum() == 0
    assert monthly[-1, layout.i("in_care_by_needs", "complex")] == ups
    assert monthly[-1, layout.i("in_care_by_needs", "standard")] == N_TEEN + N_YOUNG - ups
    # each change happened while the child was 10-17
    for row in m.result.events:
        if row[1] == "needs_changed":
            assert m.children_by_id[row[2]].age(row[0]) >= 10.0


def test_without_needs_change_rules_nothing_changes() -> None:
    raw = minimal_raw()
    assert "needs_change" not in raw
    s = scenario_from(raw)
    m = _run(s, 2.0, 3)
    layout = Layout.for_scenario(s)
    assert m.result.monthly[:, layout.i("needs_changed", "up")].sum() == 0
    assert not any(row[1] == "needs_changed" for row in m.result.events)


# --------------------------------------------------------------------------- who moves


def _escalating_to_very_complex() -> Scenario:
    """Complex 10-15s in in-house foster care (which does not take very complex needs)
    and in an external home (which does) escalate to very complex needs."""
    raw = _quiet(minimal_raw())
    raw["provision"]["in_house_foster"]["households"] = [{"count": 40, "places": 1}]
    raw["population"] = {
        "in_house_foster": {"by_age": {"10-15": 30}, "needs": {"complex": 1.0}},
        "external_home": {"by_age": {"10-15": 30}, "needs": {"complex": 1.0}},
    }
    raw["needs_change"] = [
        {"from": "complex", "to": "very_complex", "rate_per_year": {"10-15": 1.0, "16-17": 1.0}}
    ]
    return scenario_from(raw)


def test_a_child_moves_only_when_the_placement_no_longer_takes_the_new_needs() -> None:
    s = _escalating_to_very_complex()
    m = _run(s, 1.0, 11)
    events = m.result.events
    where: dict[int, str] = {}
    moved_at_change: Counter[str] = Counter()
    changed_in: Counter[str] = Counter()
    for i, row in enumerate(events):
        if row[1] == "placed":
            where[row[2]] = row[4]
        elif row[1] == "needs_changed":
            pid = where[row[2]]
            changed_in[pid] += 1
            nxt = events[i + 1]  # a move comes at once, as the next row
            if nxt[1] == "placed" and nxt[2] == row[2] and nxt[0] == row[0]:
                assert nxt[6] == "needs_changed" and nxt[3] == pid
                moved_at_change[pid] += 1
    assert changed_in["in_house_foster"] >= 10 and changed_in["external_home"] >= 10, changed_in
    # every escalation in foster care moved the child; none in the external home did
    assert moved_at_change["in_house_foster"] == changed_in["in_house_foster"]
    assert moved_at_change["external_home"] == 0
    layout = Layout.for_scenario(s)
    assert (
        m.result.monthly[:, layout.i("moves", "needs_changed")].sum()
        == changed_in["in_house_foster"]
    )
    # nobody very complex is left in foster care
    very = list(s.needs).index("very_complex")
    fid = m.state.by_pid["in_house_foster"].index
    assert not any(c.needs == very and c.placement == fid for c in m.state.children.values())


def test_a_child_who_must_now_live_alone_blocks_their_home_or_moves_out_of_a_shared_one() -> None:
    raw = _quiet(minimal_raw())
    h = raw["provision"]["in_house_home"]
    h["needs"] = ["standard", "complex", "very_complex"]
    h["homes"] = [{"name": f"Single {i}", "beds": 1} for i in range(6)] + [
        {"name": f"Shared {i}", "beds": 3} for i in range(6)
    ]
    raw["population"] = {
        "in_house_home": {"by_age": {"10-15": 24}, "needs": {"complex": 1.0}},
    }
    raw["needs_change"] = [
        {"from": "complex", "to": "very_complex", "rate_per_year": {"10-15": 1.5, "16-17": 1.5}}
    ]
    s = scenario_from(raw)
    rp = replay(s, 1.0, 5)
    # the replay checks that a sole-occupancy child never shares and that every change
    # that leaves a child sharing is followed by a needs_changed move
    assert_clean(rp, "sole", "capacity", "log", "costs", "counters", "conservation")
    m = rp.m
    moves = [r for r in m.result.events if r[1] == "placed" and r[6] == "needs_changed"]
    assert moves, "no child had to leave a shared home"
    very = list(s.needs).index("very_complex")
    home = m.state.by_pid["in_house_home"]
    for unit in home.units.values():
        sole = [c for c in unit.children if c.needs == very]
        assert not sole or len(unit.children) == 1
        assert unit.sole_blocked == bool(sole)
        assert unit.uid not in home.vacant or not sole


# --------------------------------------------------------------------------- costs


def test_priced_by_needs_costs_are_child_days_by_needs_times_prices() -> None:
    """The event-log replay costs each child's days at the price of their level at the
    time; the model's running totals must agree across escalations and de-escalations."""
    raw = minimal_raw()
    raw["provision"]["external_home"]["weekly_cost"] = {
        "standard": 4534.0,
        "complex": 6200.0,
        "very_complex": 15000.0,
    }
    raw["provision"]["external_home"]["price_inflation_per_year"] = 0.05
    raw["provision"]["emergency"]["weekly_cost"] = {
        "standard": 7000.0,
        "complex": 9000.0,
        "very_complex": 20000.0,
    }
    raw["needs_change"] = [
        {"from": "standard", "to": "complex", "rate_per_year": {"10-15": 0.8, "16-17": 0.8}},
        {"from": "complex", "to": "very_complex", "rate_per_year": {"10-15": 0.4}},
        {"from": "very_complex", "to": "complex", "rate_per_year": {"10-15": 1.0, "16-17": 1.0}},
        {"from": "complex", "to": "standard", "rate_per_year": {"16-17": 0.5}},
    ]
    s = scenario_from(raw)
    for seed in (1, 2):
        rp = replay(s, 2.0, seed)
        assert_clean(rp, "costs", "counters", "conservation", "log", "eligibility", "sole")
        changes = Counter(r[1] for r in rp.m.result.events)["needs_changed"]
        assert changes > 20, changes


def test_a_still_life_costs_each_level_its_price_before_and_after_the_change() -> None:
    """Children who only escalate, in an external home priced by needs: the cost of the
    run is the child-days at each level times that level's price."""
    raw = _quiet(minimal_raw())
    table = {"standard": 4000.0, "complex": 7000.0, "very_complex": 15000.0}
    raw["provision"]["external_home"]["weekly_cost"] = dict(table)
    raw["population"] = {"external_home": {"by_age": {"10-15": 40}, "needs": {"standard": 1.0}}}
    raw["needs_change"] = [
        {"from": "standard", "to": "complex", "rate_per_year": {"10-15": 0.7, "16-17": 0.7}}
    ]
    s = scenario_from(raw)
    m = _run(s, 1.0, 4)
    end = m.calendar.end
    changed_at = {r[2]: r[0] for r in m.result.events if r[1] == "needs_changed"}
    assert 5 < len(changed_at) < 40
    want = 0.0
    for c in m.children_by_id.values():
        t = changed_at.get(c.cid, end)
        want += (t * table["standard"] + (end - t) * table["complex"]) / 7.0
    layout = Layout.for_scenario(s)
    got = m.result.monthly[:, layout.i("cost", "external_home")].sum()
    np.testing.assert_allclose(got, want, rtol=1e-9)


# --------------------------------------------------------------------------- validation


def _refused(tmp_path: Path, body: str) -> ScenarioError:
    path = tmp_path / "option.toml"
    path.write_text(f'extends = "{MINIMAL.as_posix()}"\n{body}', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(path)
    return info.value


def test_a_needs_change_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "option.toml"
    path.write_text(
        f'extends = "{MINIMAL.as_posix()}"\n'
        "[[needs_change]]\n"
        'from = "standard"\nto = "complex"\n'
        'rate_per_year = { "10-15" = 0.05, "16-17" = 0.04 }\n'
        "time_in_care = [{ until_years = 1, multiplier = 0.5 }]\n",
        encoding="utf-8",
    )
    s = load(path).model
    assert len(s.needs_change) == 1
    assert s.needs_change[0].from_ == "standard" and s.needs_change[0].to == "complex"


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        (
            'from = "standard"\nto = "severe"\nrate_per_year = { "10-15" = 0.1 }',
            "needs_change[0].to",
            ["severe", "not defined"],
        ),
        (
            'from = "mild"\nto = "complex"\nrate_per_year = { "10-15" = 0.1 }',
            "needs_change[0].from",
            ["mild", "not defined"],
        ),
        (
            'from = "complex"\nto = "complex"\nrate_per_year = { "10-15" = 0.1 }',
            "needs_change[0]",
            ["another level"],
        ),
        (
            'from = "standard"\nto = "complex"\nrate_per_year = { "teens" = 0.1 }',
            "needs_change[0]",
            ["unknown age band", "teens"],
        ),
        (
            'from = "standard"\nto = "complex"\nrate_per_year = { "10-15" = -0.1 }',
            "needs_change[0].rate_per_year",
            [],
        ),
        (
            'from = "standard"\nto = "complex"\nrate_per_year = { "10-15" = 0.1 }\n'
            "time_in_care = [{ until_years = 2, multiplier = 0 }, "
            "{ until_years = 1, multiplier = 1 }]",
            "needs_change[0]",
            ["increasing"],
        ),
        ('from = "standard"\nto = "complex"', "needs_change[0].rate_per_year", []),
    ],
)
def test_a_wrong_needs_change_names_the_key(
    tmp_path: Path, body: str, key: str, words: list[str]
) -> None:
    err = _refused(tmp_path, f"[[needs_change]]\n{body}\n")
    assert err.key is not None and err.key.startswith(key), (err.key, str(err))
    for w in words:
        assert w in str(err), str(err)
