"""Pathways that depend on where a child is (issue 15): preference rules that name the
provision a child is leaving (`when.from`, `when.entering`), and a breakdown rate that
depends on time in the current placement (`[breakdown] time_in_placement`).

Statistical tolerances follow tests/test_behaviour.py: about 4 standard deviations of
what is measured, derived in a comment, with fixed seeds.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import RecordingModel, minimal_raw, scenario_from

from sim import simulate
from sim.engine.matching import Profile, preference_order, rule_applies
from sim.scenario.ages import BAND_NAMES, DAYS_PER_YEAR
from sim.scenario.schema import PreferenceRule, When

RESIDENTIAL = ("in_house_home", "external_home")
#: where a child may be placed after leaving residential care under the rule below: the
#: rule's order, or the fallback while the search goes on
AFTER_RESIDENTIAL = {*RESIDENTIAL, "emergency"}
#: moves that run the child's own preference list (a planned move runs the move's list)
SEARCHED = ("breakdown", "provision_closed", "found_suitable", "offer_arrived")


def when(**kw: Any) -> When:
    return When.model_validate(kw)


def residential_rule(raw: dict) -> None:
    """Children leaving residential care search residential care (in-house first)."""
    raw["matching"]["preferences"].insert(
        0,
        {
            "name": "leaving residential",
            "when": {"from": list(RESIDENTIAL)},
            "order": list(RESIDENTIAL),
        },
    )


def pressured(raw: dict) -> None:
    """Many teenagers in residential care, who break down often: plenty of pathways."""
    raw["population"]["in_house_home"]["by_age"] = {"10-15": 5}
    raw["population"]["external_home"] = {"by_age": {"10-15": 20, "16-17": 5}}
    raw["provision"]["external_home"]["breakdown_per_year"] = 1.5
    raw["provision"]["in_house_home"]["breakdown_per_year"] = 1.5


def pathways(events: list[tuple]) -> list[tuple[str | None, str, str | None]]:
    """Every placement from the event log as (last suitable provision left, destination,
    move kind); the first is None for a child who has had no suitable placement yet."""
    suitable_pids = {"kinship", "in_house_foster", "ifa", "in_house_home", "solo_home"}
    suitable_pids |= {"external_home", "supported"}
    settled: dict[int, str] = {}
    out = []
    for row in events:
        if row[1] != "placed":
            continue
        _t, _, cid, _from, to, _unit, kind, _unmet = row
        out.append((settled.get(cid), to, kind))
        if to in suitable_pids:
            settled[cid] = to
    return out


# --------------------------------------------------------------------------- rules with `from`


def test_a_rule_with_from_never_applies_to_a_new_entrant() -> None:
    rule = when(**{"from": ["in_house_home"]})
    assert not rule_applies(rule, Profile(age=14, needs="complex"))  # entering care
    assert rule_applies(rule, Profile(age=14, needs="complex", origin="in_house_home"))
    assert not rule_applies(rule, Profile(age=14, needs="complex", origin="ifa"))
    rules = [
        PreferenceRule(name="after residential", when=rule, order=["in_house_home"]),
        PreferenceRule(name="everyone", order=["kinship", "ifa"]),
    ]
    assert preference_order(rules, Profile(age=14, needs="complex")) == ["kinship", "ifa"]


def test_entering_tells_new_entrants_from_children_moving_on() -> None:
    entering, moving_on = when(entering=True), when(entering=False)
    new, old = Profile(age=5, needs="standard"), Profile(age=5, needs="standard", origin="ifa")
    assert rule_applies(entering, new) and not rule_applies(entering, old)
    assert rule_applies(moving_on, old) and not rule_applies(moving_on, new)


def test_a_rule_with_from_is_not_a_catch_all() -> None:
    assert not when(**{"from": ["ifa"]}).is_catch_all()
    assert not when(entering=False).is_catch_all()
    raw = minimal_raw()
    raw["matching"]["preferences"][-1]["when"] = {"entering": False}
    with pytest.raises(ValueError, match="last preference rule"):
        scenario_from(raw)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_residential_breakdown_never_offers_kinship_or_foster_care_first(seed: int) -> None:
    """With the rule, every search for a child whose last suitable placement was
    residential (a breakdown, a closure, the retries from the fallback after it, the offer
    it waited for) ends in residential care or the fallback; kinship and foster care are
    reached from residential only by a planned move. Without the rule, the same children
    go to kinship and foster care (so the check has power)."""
    raw = minimal_raw()
    pressured(raw)
    s_without = scenario_from(raw)
    residential_rule(raw)
    s_with = scenario_from(raw)

    def after_residential(s) -> list[tuple[str, str]]:
        m = RecordingModel(s, 3, seed)
        m.run()
        return [
            (to, kind)
            for last, to, kind in pathways(m.events)
            if last in RESIDENTIAL and kind in SEARCHED
        ]

    with_rule = after_residential(s_with)
    assert len([1 for _, kind in with_rule if kind == "breakdown"]) >= 30  # enough to mean it
    assert {to for to, _ in with_rule} <= AFTER_RESIDENTIAL, with_rule
    without = {to for to, _ in after_residential(s_without)}
    assert without & {"kinship", "in_house_foster", "ifa"}, without


def test_new_entrants_follow_the_ordinary_rules_when_a_from_rule_comes_first() -> None:
    """A first rule for children coming from anywhere sends every move to external homes;
    children entering care still start in kinship and foster care (the ordinary rules)."""
    raw = minimal_raw()
    suitable = [pid for pid, p in raw["provision"].items() if p["kind"] != "emergency"]
    raw["matching"]["preferences"].insert(
        0, {"when": {"from": suitable}, "order": ["external_home"]}
    )
    s = scenario_from(raw)
    m = RecordingModel(s, 2, 5)
    m.run()
    placed = pathways(m.events)
    entering = [to for last, to, kind in placed if last is None and kind is None]
    assert {"kinship", "in_house_foster"} <= set(entering), set(entering)
    moved = {to for last, to, kind in placed if last is not None and kind in SEARCHED}
    assert moved <= {"external_home", "emergency"}, moved
    assert "external_home" in moved


# --------------------------------------------------------------------------- time in placement


def breakdown_scenario(steps: list[dict[str, float]], rate: float):
    """Young children in one offer provision that always says yes at once, breaking down
    at `rate` a year times the time-in-placement steps: no exits, moves, age or needs
    multipliers, nobody turns 18 in the run, so every placement ends in a breakdown or at
    the end of the run."""
    raw = minimal_raw()
    raw["entries"]["per_year"] = 600.0
    raw["entries"]["uasc"]["per_year"] = 0.0
    raw["entries"]["age_mix"] = {b: (1.0 if b == "1-4" else 0.0) for b in BAND_NAMES}
    raw["population"] = {}
    raw["exits"] = {}
    raw["moves"] = []
    raw["provision"]["ifa"]["offer_probability"] = 1.0
    for pid, spec in raw["provision"].items():
        spec["breakdown_per_year"] = rate if pid == "ifa" else 0.0
    raw["matching"]["preferences"] = [{"order": ["ifa"]}]
    raw["breakdown"] = {"time_in_placement": steps}
    return scenario_from(raw)


def exposure_by_step(events: list[tuple], end: float, edges: list[float]):
    """Child-years in placement and breakdowns in each step of time in placement
    (`edges` in years; the last step is open-ended)."""
    bounds = [0.0, *(e * DAYS_PER_YEAR for e in edges), math.inf]
    years = [0.0] * (len(bounds) - 1)
    breakdowns = [0] * (len(bounds) - 1)
    began: dict[int, float] = {}

    def close(cid: int, t: float, broke: bool) -> None:
        d = t - began.pop(cid)
        for i in range(len(years)):
            years[i] += max(0.0, min(d, bounds[i + 1]) - bounds[i]) / DAYS_PER_YEAR
            if broke and bounds[i] <= d < bounds[i + 1]:
                breakdowns[i] += 1

    for row in events:
        if row[1] == "breakdown":
            close(row[2], row[0], True)
        elif row[1] == "placed":
            began[row[2]] = row[0]
    for cid in list(began):
        close(cid, end, False)
    return years, breakdowns


def test_breakdowns_follow_the_time_in_placement_profile() -> None:
    """Breakdowns per child-year in each step of time in placement are the rate times the
    step's multiplier (1 after the last step), so the first 3 months see about
    `multiplier` times as many as later.

    Each step's count is Poisson given its exposure E: mean and variance b*m*E. About 4,000
    child-years over 4 years give 1,000-3,000 breakdowns per step, so 4 standard deviations
    (4 * sqrt(count)) are 7-13% of a count: a step's multiplier off by 20% is caught.
    """
    rate, steps = (
        1.0,
        [{"until_years": 0.25, "multiplier": 2.0}, {"until_years": 1.0, "multiplier": 0.5}],
    )
    s = breakdown_scenario(steps, rate)
    m = RecordingModel(s, 4, 11)
    m.run()
    years, counts = exposure_by_step(m.events, m.calendar.end, [0.25, 1.0])
    for multiplier, exposure, n in zip([2.0, 0.5, 1.0], years, counts, strict=True):
        expected = rate * multiplier * exposure
        assert n > 500, (n, exposure)
        assert abs(n - expected) <= 4 * math.sqrt(expected), (multiplier, n, expected)
    # the ratio first 3 months : after a year, on the log scale (sd = sqrt(1/n1 + 1/n3))
    ratio = (counts[0] / years[0]) / (counts[2] / years[2])
    assert abs(math.log(ratio / 2.0)) <= 4 * math.sqrt(1 / counts[0] + 1 / counts[2]), ratio


def test_without_a_profile_the_breakdown_rate_is_flat() -> None:
    """No profile: the same rate in every step (the 4-sd tolerance as above)."""
    s = breakdown_scenario([], 1.0)
    m = RecordingModel(s, 4, 11)
    m.run()
    years, counts = exposure_by_step(m.events, m.calendar.end, [0.25, 1.0])
    for exposure, n in zip(years, counts, strict=True):
        assert abs(n - exposure) <= 4 * math.sqrt(exposure), (n, exposure)


@pytest.mark.parametrize("seed", [3, 4])
def test_a_profile_of_ones_changes_nothing(seed: int) -> None:
    """A profile whose multipliers are all 1 only cuts the waiting time into more pieces
    of the same rate: the same events at the same times (to rounding) as no profile, so
    the profile mechanism leaves the random draws alone. (That a scenario without a
    profile or a `from` rule is unchanged bit for bit is the regression baseline's check:
    tests/test_baseline.py, the county case.)"""
    raw = minimal_raw()
    plain = simulate(scenario_from(raw), 2, seed, record_events=True)
    raw["breakdown"]["time_in_placement"] = [
        {"until_years": 0.25, "multiplier": 1.0},
        {"until_years": 1.0, "multiplier": 1.0},
    ]
    ones = simulate(scenario_from(raw), 2, seed, record_events=True)
    assert plain.events is not None and ones.events is not None
    assert len(plain.events) == len(ones.events)
    for a, b in zip(plain.events, ones.events, strict=True):
        assert a[1:] == b[1:], (a, b)
        assert a[0] == pytest.approx(b[0], abs=1e-6), (a, b)
