"""Usable places (issue 15): households approved for narrower ages and needs than their
provision, and households on hold, which take no new child while keeping their own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, RecordingModel, minimal_raw, scenario_from
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.common.errors import ScenarioError
from sim.engine.metrics import Layout
from sim.engine.model import simulate
from sim.scenario.ages import BAND_NAMES, DAYS_PER_YEAR
from sim.scenario.load import load
from sim.scenario.schema import Scenario

MINIMAL = ROOT / "tests" / "data" / "minimal.toml"


def crowded(share: float, months: float, exit_rate: float, households: int = 200) -> Scenario:
    """Single-place in-house households and twice as many children as they could take: every usable
    place is filled within days of freeing. Children leave care at `exit_rate` a year
    wherever they live, and nothing else moves them (no breakdowns, moves, recruitment,
    deregistration or staying put), so each household is a small Markov chain."""
    raw = minimal_raw()
    f = raw["provision"]["in_house_foster"]
    f.update(
        households=[{"count": households, "places": 1}],
        compatibility=1.0,
        recruitment_per_year=0.0,
        deregistration_per_year=0.0,
        staying_put_probability=0.0,
        breakdown_per_year=0.0,
        on_hold_share=share,
        on_hold_months=months,
    )
    raw["provision"] = {"in_house_foster": f, "emergency": raw["provision"]["emergency"]}
    raw["population"] = {}
    raw["moves"] = []
    raw["matching"]["preferences"] = [{"name": "all", "order": ["in_house_foster"]}]
    raw["matching"]["retry_days"] = 1.0
    # twice what the households could ever take (each place frees `exit_rate` times a year)
    raw["entries"]["per_year"] = 2.0 * exit_rate * households
    raw["entries"]["uasc"]["per_year"] = 0.0
    raw["entries"]["age_mix"] = {b: 1.0 if b == "1-4" else 0.0 for b in BAND_NAMES}
    raw["entries"]["needs_mix"] = {b: {"standard": 1.0} for b in BAND_NAMES}
    raw["entries"]["sibling_group_size"] = {"1": 1.0}
    raw["exits"] = {"leave": {"rate_per_year": dict.fromkeys(BAND_NAMES, exit_rate)}}
    return scenario_from(raw)


@pytest.mark.parametrize(
    ("share", "months", "exit_rate"),
    [(0.3, 6.0, 2.0), (0.3, 24.0, 6.0), (0.0, 6.0, 2.0)],
)
def test_fill_rate_converges_to_the_share_of_places_usable(
    share: float, months: float, exit_rate: float
) -> None:
    """With demand above supply, every usable place is full, and a household on hold keeps
    its child until they leave care (rate d) but takes no other. Per household the chain
    (available, full) <-> (on hold, full) -> (on hold, empty) -> (available, full) has
    P(on hold) = s and, within holds, P(empty) = d m / (1 + d m) (flow balance: d P(full,
    hold) = P(empty, hold) / m), so the fill rate is 1 - s d m / (1 + d m): it tends to
    1 - s as holds outlast children (d m large; 0.723 at d m = 12) and is 0.85 at d m = 1.

    Tolerance: each month end is the mean of 200 Bernoulli(~0.8) places, sd 0.028; month
    ends are correlated over about 1 / (d + 1/m) = 3 months, so 24 month ends x 8 runs are
    about 40 independent ones: sd 0.0045, and 0.02 is over 4 sd. The refill lag (children
    retry daily, entries are twice what the places could take) costs under 1% of a place-day (d x lag <= 6 x 1/365).
    """
    s = crowded(share, months, exit_rate)
    layout = Layout.for_scenario(s)
    dm = exit_rate * months / 12.0
    expected = 1.0 - share * dm / (1.0 + dm)
    fill, held, usable_empty = [], [], []
    for seed in range(8):
        m = simulate(s, 3.0, seed).monthly[12:]  # year 1 is the warm-up
        places = m[:, layout.i("places", "in_house_foster")]
        fill.append(m[:, layout.i("in_care", "in_house_foster")] / places)
        held.append(m[:, layout.i("places_on_hold", "in_house_foster")] / places)
        usable_empty.append(m[:, layout.i("vacancies", "in_house_foster")] / places)
    assert abs(np.mean(fill) - expected) < 0.02, (np.mean(fill), expected)
    # the share on hold is the set share (same sd argument, Bernoulli(0.3): 0.005)
    assert abs(np.mean(held) - share) < 0.02
    # usable places are kept full: the shortfall is the holds, not the search
    assert np.mean(usable_empty) < 0.01
    if share > 0 and dm > 10:
        assert abs(np.mean(fill) - (1 - share)) < 0.03  # the brief's 1 - on_hold_share


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    share=st.sampled_from([0.0, 0.2, 0.6]),
    max_age=st.sampled_from([5.0, 11.0]),
)
def test_households_take_only_children_in_their_approval_range(
    seed: int, share: float, max_age: float
) -> None:
    """Replaying the event log: a household approved for young children (or standard needs
    only, or teenagers with complex needs) never receives anyone else after the start, and
    none on hold receives anyone. The ranged households do take children (not vacuous)."""
    raw = minimal_raw()
    f = raw["provision"]["in_house_foster"]
    f["households"] = [
        {"count": 8, "places": 2, "ages": {"min_age": 0, "max_age": max_age}},
        {"count": 8, "places": 2, "needs": ["standard"]},
        {"count": 4, "places": 2},
    ]
    f["recruitment_per_year"] = 12.0
    f["new_household_approval"] = [
        {"share": 0.5, "ages": {"min_age": 11, "max_age": 18}, "needs": ["complex"]},
        {"share": 0.5},
    ]
    f["on_hold_share"] = share
    f["on_hold_months"] = 4.0
    raw["population"]["in_house_foster"]["by_age"] = {"1-4": 5, "5-9": 8, "10-15": 10}
    s = scenario_from(raw)
    model = RecordingModel(s, 2.0, seed)
    model.run()
    approval: dict[int, tuple[float, float, tuple[str, ...]]] = {}
    on_hold: set[int] = set()
    kids = model.children_by_id
    needs = list(s.needs)
    ranged_used = 0
    for row in model.events or []:
        t, kind = row[0], row[1]
        if kind == "unit_approval":
            approval[row[3]] = (row[4], row[5], row[6])
        elif kind == "unit_hold":
            (on_hold.add if row[4] else on_hold.discard)(row[3])
        elif kind == "placed" and row[5] is not None and t > 0:
            cid, uid = row[2], row[5]
            assert uid not in on_hold, f"child {cid} placed in household {uid} on hold"
            if uid in approval:
                lo, hi, names = approval[uid]
                age = (t - kids[cid].dob) / DAYS_PER_YEAR
                assert lo <= age < hi and needs[kids[cid].needs] in names, (cid, age, uid)
                ranged_used += 1
    assert approval and ranged_used > 0


def test_on_hold_households_are_never_given_a_child_and_keep_theirs() -> None:
    """Across a run with many holds: no placement into a household on hold; some children
    were living in a household when it went on hold and stayed there."""
    raw = minimal_raw()
    raw["provision"]["in_house_foster"]["on_hold_share"] = 0.5
    raw["provision"]["in_house_foster"]["on_hold_months"] = 2.0
    model = RecordingModel(scenario_from(raw), 3.0, 7)
    model.run()
    on_hold: set[int] = set()
    occupants: dict[int, set[int]] = {}
    where: dict[int, int | None] = {}
    holds = kept = 0
    for row in model.events or []:
        kind = row[1]
        if kind == "unit_hold":
            uid, on = row[3], row[4]
            if on:
                holds += 1
                on_hold.add(uid)
                kept += bool(occupants.get(uid))
            else:
                on_hold.discard(uid)
        elif kind == "placed":
            cid, uid = row[2], row[5]
            old = where.get(cid)
            if old is not None:
                occupants[old].discard(cid)
            where[cid] = uid
            if uid is not None:
                assert row[0] == 0 or uid not in on_hold, row
                occupants.setdefault(uid, set()).add(cid)
        elif kind == "exit":
            old = where.pop(row[2], None)
            if old is not None:
                occupants[old].discard(row[2])
    assert holds > 20 and kept > 5, (holds, kept)


def test_holds_leave_recruitment_and_deregistration_draws_unchanged() -> None:
    """The on-hold draws come from new streams appended after the supply streams: turning
    holds on leaves the recruitment dates exactly as they were (common random numbers)."""

    def recruited(share: float) -> list[float]:
        raw = minimal_raw()
        raw["provision"]["in_house_foster"]["on_hold_share"] = share
        model = RecordingModel(scenario_from(raw), 3.0, 11)
        model.run()
        return [r[0] for r in model.events or [] if r[1] == "unit_opened" and r[0] > 0]

    assert recruited(0.0) == recruited(0.4) != []


def _option(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "option.toml"
    path.write_text(f'extends = "{MINIMAL.as_posix()}"\n{body}', encoding="utf-8")
    return path


FOSTER = "[provision.in_house_foster]\n"
HOUSEHOLDS = "households = [{ count = 13, places = 2, %s }]\n"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (FOSTER + HOUSEHOLDS % "ages = { min_age = 0, max_age = 5 }", None),
        (
            "[provision.in_house_foster]\nages = { min_age = 2 }\n"
            + HOUSEHOLDS % "ages = { min_age = 0, max_age = 5 }",
            ["households[0].ages", "within the provision's ages (2 to 18)"],
        ),
        (
            FOSTER + HOUSEHOLDS % 'needs = ["very_complex"]',
            ["households[0].needs", "'very_complex'", "does not take"],
        ),
        (FOSTER + HOUSEHOLDS % "needs = []", ["households[0].needs is empty"]),
        (
            FOSTER + "new_household_approval = [{ share = 0.5, ages = { max_age = 11 } }]\n",
            ["new_household_approval shares must add up to 1"],
        ),
        (
            FOSTER + 'new_household_approval = [{ share = 1, needs = ["standard", "nope"] }]\n',
            ["new_household_approval[0].needs", "'nope'"],
        ),
        (FOSTER + "on_hold_share = 1\n", ["on_hold_share", "below 1"]),
        (FOSTER + "on_hold_share = -0.1\n", ["on_hold_share"]),
        (FOSTER + "on_hold_months = 0\n", ["on_hold_months", "above 0"]),
    ],
)
def test_bad_approval_ranges_and_shares_are_refused_by_key(
    tmp_path: Path, body: str, words: list[str] | None
) -> None:
    path = _option(tmp_path, body)
    if words is None:
        assert load(path).model.provision["in_house_foster"].households[0].ages is not None
        return
    with pytest.raises(ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert "provision.in_house_foster" in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_a_new_home_takes_no_child_before_its_first_child_wait_and_is_paid_for_meanwhile() -> None:
    """`first_child_after_days`: a home that opens during the run is paid for from its
    opening (per-place cost) but takes its first child only after the drawn wait, even
    with children waiting for that kind of place; then it takes children (the wake-up
    when a place frees is tests/test_market.py's)."""
    from sim.engine.model import Model

    raw = minimal_raw()
    solo = raw["provision"]["solo_home"]
    wait = 60.0
    solo["homes"] = [
        {"name": "Solo 1", "beds": 1, "opens": dt.date(2024, 10, 1),
         "first_child_after_days": {"dist": "fixed", "value": wait}}
    ]  # fmt: skip
    s = scenario_from(raw)
    opened_day = float((dt.date(2024, 10, 1) - s.scenario.start_date).days)
    firsts: list[float] = []
    for seed in range(4):
        m = Model(s, years=2, seed=seed, record_events=True)
        m.run()
        log = m.events or []
        uid = next(r[3] for r in log if r[1] == "unit_opened" and r[2] == "solo_home")
        holds = [(r[0], r[4]) for r in log if r[1] == "unit_hold" and r[3] == uid]
        assert holds[:2] == [(opened_day, True), (opened_day + wait, False)]
        placed = [r[0] for r in log if r[1] == "placed" and r[3] == "solo_home"]
        assert all(t >= opened_day + wait for t in placed)
        if placed:
            firsts.append(placed[0])
        # the empty bed is paid for from the day it opened (per-place cost)
        cost = m.monthly[:, m.state.layout.i("cost", "solo_home")]
        assert cost[6] > 0  # October 2024, before any child could move in
        m.release()
    assert firsts  # the home did take children once ready


def test_first_child_after_days_needs_an_opening_date() -> None:
    raw = minimal_raw()
    raw["provision"]["solo_home"]["homes"] = [
        {"name": "Solo 1", "beds": 1, "first_child_after_days": {"dist": "fixed", "value": 30}}
    ]
    with pytest.raises(ValidationError, match="first_child_after_days but no opens date"):
        Scenario.model_validate(raw)
