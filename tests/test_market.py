"""The external market remembers; a waiting child is woken by events, not weekly retries.

Each test builds a small closed world from the minimal scenario (no entries, no moves, no
breakdowns) in which only the mechanism under test can move a child, and reads what
happened from the event log (`record_events=True`): `search_again` rows are the searches
for a waiting child, `placed` rows the moves.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, RecordingModel, minimal_raw, scenario_from, still
from pydantic import ValidationError

from sim import load, run
from sim.engine.child import Child
from sim.engine.draws import Uniforms
from sim.engine.metrics import Layout
from sim.engine.model import Model
from sim.scenario.schema import Scenario

HOLD = 30.0  # days a refusal holds in these tests


def closed_world(raw: dict[str, Any]) -> None:
    """No entries, exits, moves or breakdowns, no supply changes: a closed population."""
    still(raw)
    raw["entries"]["per_year"] = 0.0
    for spec in raw["provision"].values():
        if spec["kind"] == "foster":
            spec["staying_put_probability"] = 0.0
    raw["provision"]["in_house_home"]["homes"] = [{"name": "Home A", "beds": 3}]
    raw["provision"]["solo_home"]["homes"] = []
    raw["matching"].pop("retry_days", None)  # no backstop: wake-ups only


def market_only(hold: float, offer: float, retry_days: float | None = None) -> Scenario:
    """Twenty children aged 5-9 wait in the fallback; only the IFA can take them, and it says
    yes with chance `offer`, its refusals holding `hold` days."""
    raw = minimal_raw()
    closed_world(raw)
    raw["population"] = {"emergency": {"by_age": {"5-9": 20}}}
    raw["provision"]["ifa"]["offer_probability"] = offer
    raw["provision"]["ifa"]["refusal_holds_days"] = {"dist": "fixed", "value": hold}
    raw["matching"]["preferences"] = [{"order": ["ifa"]}]
    if retry_days is not None:
        raw["matching"]["retry_days"] = retry_days
    return scenario_from(raw)


def rows(events: list[tuple[Any, ...]], kind: str) -> list[tuple[Any, ...]]:
    return [r for r in events if r[1] == kind]


def test_a_refusal_holds_until_its_time_is_up() -> None:
    """The IFA is asked at 0, then only when its refusal stops holding: every child that
    finds a place finds it on a whole number of holds (0, 30, 60, ... days), though the
    children also search at age edges (8 and 10 here) in between, where the held provider
    counts as saying no without being asked. Asked at any other time, some of the ~18
    placements over two years (offer 0.2 a time) would fall off that grid."""
    m = RecordingModel(market_only(HOLD, 0.2), years=2, seed=11)
    m.run()
    events = m.events
    assert events is not None
    found = [r for r in rows(events, "placed") if r[6] == "found_suitable"]
    assert len(found) >= 8  # 20 children, 24 asks each at most: P(fewer) is negligible
    for r in found:
        steps = r[0] / HOLD
        assert abs(steps - round(steps)) < 1e-9, r
    # there were searches between holds (age edges), and none of them asked the provider
    searches = rows(events, "search_again")
    off_grid = [r for r in searches if abs(r[0] / HOLD - round(r[0] / HOLD)) > 1e-6]
    assert off_grid, "no age-edge search happened: the test would not test the hold"


def test_a_sibling_group_refusal_holds_for_every_member() -> None:
    """A group search that the provider turns down counts a refusal for each member; the
    next search of one member does not ask the provider (no draw from its stream)."""
    s = market_only(HOLD, 0.0)  # the IFA always says no
    m = Model(s, years=1, seed=3)
    rng = Uniforms(np.random.default_rng(0))
    a = Child(9001, -7 * 365.25, 0.0, 0, False, False, rng)
    b = Child(9002, -6 * 365.25, 0.0, 0, False, False, rng)
    ifa = m.state.by_pid["ifa"].index
    out = m.search.find([a, b])
    assert out.found is None
    assert a.holds == {ifa: HOLD} and b.holds == {ifa: HOLD}
    before = (b.match.handed_out, b.match.x2, b.match.y2)
    m.state.now = HOLD - 1.0
    again = m.search.find([b])
    assert again.found is None
    assert (b.match.handed_out, b.match.x2, b.match.y2) == before  # not asked: no draw
    m.release()


def test_reasons_stay_truthful_while_a_refusal_holds() -> None:
    """Children the market turned down are counted as `market_declined`, all of them, at
    every month end, whether the provider was asked this time or its refusal held."""
    m = Model(market_only(HOLD, 0.05), years=2, seed=5)
    res = m.run()
    layout = Layout.for_scenario(m.scenario)
    waiting = res.monthly[:, layout.i("waiting_for_placement", "all")]
    declined = res.monthly[:, layout.i("unmet_children", "market_declined")]
    assert waiting.min() > 0
    np.testing.assert_array_equal(declined, waiting)
    m.release()


def foster_full(waiting_children: int, exit_rate: float) -> Scenario:
    """Three one-place foster households, full; `waiting_children` wait in the fallback for
    them; only the foster children leave care (at `exit_rate` a year)."""
    raw = minimal_raw()
    closed_world(raw)
    raw["provision"]["in_house_foster"]["households"] = [{"count": 3, "places": 1}]
    raw["population"] = {
        "in_house_foster": {"by_age": {"5-9": 3}},
        "emergency": {"by_age": {"5-9": waiting_children}},
    }
    raw["exits"] = {
        "return_home": {
            "rate_per_year": dict.fromkeys(["5-9", "10-15"], exit_rate),
            "from": ["in_house_foster"],
        }
    }
    raw["matching"]["preferences"] = [{"order": ["in_house_foster"]}]
    return scenario_from(raw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_waiting_child_takes_a_freed_place_at_once_first_come_first_served(seed: int) -> None:
    """Each time a foster child leaves care, the child who has waited longest (the lowest
    id: the starting children wait from day 0 in id order) moves in at that very time.
    Without wake-ups (no backstop, nothing else to trigger a search) nobody would move."""
    m = RecordingModel(foster_full(5, exit_rate=0.8), years=3, seed=seed)
    m.run()
    events = m.events
    assert events is not None
    exits = [r for r in rows(events, "exit") if r[4] == "in_house_foster"]
    moved = [r for r in rows(events, "placed") if r[6] == "found_suitable"]
    assert exits and moved
    waiting = sorted(r[2] for r in rows(events, "placed") if r[4] == "emergency")
    for r in moved:
        assert r[4] == "in_house_foster"
        # the same time as a departure from foster care
        assert any(e[0] == r[0] and e[4] == "in_house_foster" for e in exits), r
        # first come, first served
        assert r[2] == waiting[0], (r, waiting)
        waiting.pop(0)
    # every departure while someone waited was filled at once
    assert len(moved) == min(len(exits), 5)


def test_a_child_waiting_for_places_that_never_free_is_not_searched_for_weekly() -> None:
    """Nobody leaves the full foster households: a waiting child is searched for at the
    start and at the age edges of its options only (a handful), not 104 times in two years
    as the weekly retry did; with `retry_days = 7` as a backstop, it is again weekly."""
    events_of: dict[str, Counter[int]] = {}
    for label, retry in (("wake-ups", None), ("backstop", 7.0)):
        s = foster_full(4, exit_rate=0.0)
        if retry is not None:
            s = s.model_copy(
                update={"matching": s.matching.model_copy(update={"retry_days": retry})}
            )
        m = RecordingModel(s, years=2, seed=7)
        m.run()
        assert m.events is not None
        events_of[label] = Counter(r[2] for r in rows(m.events, "search_again"))
    wake = events_of["wake-ups"]
    assert max(wake.values()) <= 4  # day 0 and the edges at 8 and 10 (11: none for 5-9s)
    assert min(events_of["backstop"].values()) >= 100  # 2 years / 7 days = 104


def test_no_backstop_means_none_and_the_schema_says_what_it_expects() -> None:
    """`retry_days` is optional (no backstop); `refusal_holds_days` is a distribution and a
    wrong one is refused naming the key."""
    s = market_only(HOLD, 0.5)
    assert s.matching.retry_days is None
    raw = minimal_raw()
    raw["provision"]["ifa"]["refusal_holds_days"] = {"dist": "uniform", "low": 56, "high": 28}
    with pytest.raises(ValidationError, match="refusal_holds_days"):
        Scenario.model_validate(raw)


def test_same_seed_same_result_and_workers_do_not_matter() -> None:
    """The wake-ups add no randomness of their own: a replication depends on its seed
    only, on one worker or two."""
    s = load(ROOT / "scenarios" / "darlington" / "baseline.toml")
    a = run(s, years=2, reps=4, seed=9, workers=1, progress=False)
    b = run(s, years=2, reps=4, seed=9, workers=2, progress=False)
    np.testing.assert_array_equal(a.monthly, b.monthly)
    c = Model(s.model, years=2, seed=4).run()
    d = Model(s.model, years=2, seed=4).run()
    np.testing.assert_array_equal(c.monthly, d.monthly)
    assert c.n_events == d.n_events


def test_darlington_sets_refusal_holds_and_counts_children_being_searched_for() -> None:
    """Darlington's external market keeps its refusals (4-8 weeks); children being searched
    for at each month end are those not suitably placed, whatever the reason."""
    s = load(ROOT / "scenarios" / "darlington" / "baseline.toml").model
    held = {
        pid
        for pid, p in s.provision.items()
        if p.kind == "offer" and p.refusal_holds_days.dist != "fixed"  # type: ignore[union-attr]
    }
    assert {"ifa", "ifa_spot", "external_home"} <= held
    res = Model(s, years=2, seed=1).run()
    layout = Layout.for_scenario(s)
    waiting = res.monthly[:, layout.i("waiting_for_placement", "all")]
    unmet = res.monthly[:, layout.i("unmet_children", "total")]
    np.testing.assert_array_equal(waiting, unmet)  # the two names count the same children
    assert waiting.sum() > 0
