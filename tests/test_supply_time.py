"""Supply that changes over time (issue 16): the foster carer pipeline (enquiries x
conversion), deregistration by length of service and a retention multiplier, and homes
that close at random, lose beds after an inspection or fill fewer beds than they have."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import MINIMAL, RecordingModel, minimal_raw, scenario_from
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import simulate
from sim.common.errors import ScenarioError
from sim.engine.metrics import Layout
from sim.scenario.load import load

# --------------------------------------------------------------------------- helpers


def foster_only(households: int = 0) -> dict[str, Any]:
    """No children at all: the households are supply alone, each of one place."""
    raw = minimal_raw()
    raw["entries"]["per_year"] = 0.0
    raw["entries"]["uasc"]["per_year"] = 0.0
    raw["population"] = {}
    foster = raw["provision"]["in_house_foster"]
    foster["households"] = [{"count": households, "places": 1}] if households else []
    foster["recruitment_per_year"] = 0.0
    foster["deregistration_per_year"] = 0.0
    return raw


def lifetimes(raw: dict[str, Any], years: float, seed: int) -> list[tuple[float, float]]:
    """(opened, closed or inf) of each foster household opened during the run."""
    model = RecordingModel(scenario_from(raw), years, seed)
    model.run()
    opened: dict[int, float] = {}
    closed: dict[int, float] = {}
    for row in model.events or []:
        if row[1] == "unit_opened" and row[2] == "in_house_foster" and row[0] > 0:
            opened[row[3]] = row[0]
        elif row[1] == "unit_closed" and row[2] == "in_house_foster":
            closed[row[3]] = row[0]
    return [(t, closed.get(uid, math.inf)) for uid, t in opened.items()]


STEPS = [{"until_years": 1, "per_year": 0.5}, {"until_years": 3, "per_year": 0.2}]
BEYOND = 0.05


def cumulative_hazard(years: float) -> float:
    """H(years) of STEPS then BEYOND."""
    h, start = 0.0, 0.0
    for step in STEPS:
        until = float(step["until_years"])
        h += step["per_year"] * max(0.0, min(years, until) - start)
        start = until
    return h + BEYOND * max(0.0, years - start)


# --------------------------------------------------------------------------- the pipeline


@pytest.mark.parametrize("pipeline", [False, True])
def test_recruitment_with_a_6_month_lag_fills_its_first_place_no_earlier_than_6_months_in(
    pipeline: bool,
) -> None:
    """Issue 16's test. No foster households and none in assessment at the start
    (recruitment 0 at the start, 24 approvals a year from the next day), a fixed 183-day
    assessment, children entering who look for foster care first: no child is placed in
    in-house foster care before day 183 (six months), and some are after it. The same
    with the pipeline (enquiries x conversion: the dated change counts approvals)."""
    raw = minimal_raw()
    raw["population"].pop("in_house_foster")
    foster = raw["provision"]["in_house_foster"]
    foster["households"] = []
    foster["assessment_days"] = {"dist": "fixed", "value": 183}
    start = raw["scenario"]["start_date"]
    foster["recruitment_changes"] = [{"from": start + dt.timedelta(days=1), "per_year": 24.0}]
    if pipeline:
        foster["enquiries_per_year"] = 0.0
        foster["conversion"] = 0.1
        foster["recruitment_per_year"] = 0.0
    else:
        foster["recruitment_per_year"] = 0.0
    firsts = []
    for seed in range(3):
        model = RecordingModel(scenario_from(raw), 2, seed)
        model.run()
        placed = [
            r[0] for r in model.events or [] if r[1] == "placed" and r[4] == "in_house_foster"
        ]
        assert placed, "recruited households took children"
        firsts.append(min(placed))
    assert min(firsts) >= 183.0, firsts


def test_approvals_over_a_long_run_are_enquiries_times_conversion() -> None:
    """300 enquiries a year, 8% approved, over 10 years: about 3,000 enquiries and 240
    approvals (`recruited`). Enquiries are Poisson (mean 3,000, sd 55) and each is
    approved independently, so approvals are Poisson with mean 240 (sd 15.5): 4 sd is
    62. The share approved is binomial: sd sqrt(0.08 x 0.92 / 3000) = 0.005, 4 sd 0.02."""
    raw = foster_only()
    foster = raw["provision"]["in_house_foster"]
    foster.update(enquiries_per_year=300.0, conversion=0.08)
    foster["assessment_days"] = {"dist": "uniform", "low": 120, "high": 240}
    s = scenario_from(raw)
    layout = Layout.for_scenario(s)
    monthly = simulate(s, 10, 4).monthly
    enquiries = monthly[:, layout.i("enquiries", "in_house_foster")].sum()
    approved = monthly[:, layout.i("recruited", "in_house_foster")].sum()
    assert abs(enquiries - 3000) < 4 * 55
    assert abs(approved - 240) < 62
    # approvals lag the enquiries (up to 8 months): count those approved in the run
    # against enquiries up to the last 6 months on average
    assert abs(approved / enquiries - 0.08) < 0.02


def test_the_pipeline_at_the_start_keeps_a_steady_pool_steady() -> None:
    """50 households leaving at 0.24 a year, replaced by 120 enquiries a year of which 10%
    are approved after a 4-8 month assessment: the mean household count over the first
    year is within 2 of 50. Without the households in assessment at the start it would
    dip by about 12 x 0.5 = 6 by mid-year (3 on average over the year). 60 replications:
    a replication's yearly mean has an sd of about 3, so the mean's is 0.4; 2 is 5 sd."""
    raw = foster_only(50)
    foster = raw["provision"]["in_house_foster"]
    foster.update(enquiries_per_year=120.0, conversion=0.1, deregistration_per_year=0.24)
    foster["assessment_days"] = {"dist": "uniform", "low": 122, "high": 243}
    s = scenario_from(raw)
    col = Layout.for_scenario(s).i("households", "in_house_foster")
    mean = float(np.mean([simulate(s, 1, seed).monthly[:, col].mean() for seed in range(60)]))
    assert abs(mean - 50.0) < 2.0, mean


def test_no_new_keys_add_no_series_and_new_keys_add_theirs() -> None:
    """The new series exist only where a scenario uses their mechanism, so existing
    scenarios' results keep their shape (tests/test_baseline.py checks their values)."""
    raw = minimal_raw()
    names = {m for m, _ in Layout.for_scenario(scenario_from(raw)).series}
    assert not names & {"enquiries", "homes_closed_at_random", "beds_cut"}
    raw["provision"]["in_house_foster"].update(
        recruitment_per_year=0.0, enquiries_per_year=40.0, conversion=0.1
    )
    raw["provision"]["in_house_home"].update(closure_per_year=0.1, inspection_bed_cut_per_year=0.1)
    series = set(Layout.for_scenario(scenario_from(raw)).series)
    assert {
        ("enquiries", "in_house_foster"),
        ("homes_closed_at_random", "in_house_home"),
        ("beds_cut", "in_house_home"),
    } <= series


# --------------------------------------------------------------------------- deregistration


@pytest.mark.parametrize("multiplier", [1.0, 0.18])
def test_a_cohort_survives_as_the_piecewise_hazard_says(multiplier: float) -> None:
    """New households (500 a year for 6 years, none at the start) leave at 0.5 a year in
    their first year of service, 0.2 in the next two and 0.05 beyond, times the retention
    multiplier: the share still fostering after x years of service, among those opened
    at least x years before the end, is exp(-m H(x)). Tolerance: 4 binomial sd of that
    share for the number of households at risk (over 500 at every x checked)."""
    raw = foster_only()
    foster = raw["provision"]["in_house_foster"]
    start = raw["scenario"]["start_date"]
    foster["recruitment_changes"] = [{"from": start + dt.timedelta(days=1), "per_year": 500.0}]
    foster.update(
        deregistration_by_service=STEPS,
        deregistration_per_year=BEYOND,
        retention_multiplier=multiplier,
    )
    years = 6.0
    end = years * 365.25
    lives = lifetimes(raw, years, 8)
    assert len(lives) > 2500
    for x in (0.5, 1.0, 2.0, 3.0, 5.0):
        days = x * 365.25
        at_risk = [(o, c) for o, c in lives if o + days <= end]
        share = sum(c - o > days for o, c in at_risk) / len(at_risk)
        p = math.exp(-multiplier * cumulative_hazard(x))
        tol = 4 * math.sqrt(p * (1 - p) / len(at_risk))
        assert abs(share - p) < tol, (x, share, p, len(at_risk))


def test_households_open_at_the_start_have_the_steady_state_length_of_service() -> None:
    """2,000 households at the start, no recruitment: their lengths of service are drawn
    from the steady state of the hazards (density proportional to the survival S), so the
    share still fostering after t years is the integral of S beyond t over its whole
    integral: 0.92 after a year, where households all new would keep exp(-0.5) = 0.61.
    Tolerance: 4 binomial sd over 2,000 households."""
    raw = foster_only(2000)
    foster = raw["provision"]["in_house_foster"]
    foster.update(deregistration_by_service=STEPS, deregistration_per_year=BEYOND)
    s = scenario_from(raw)
    col = Layout.for_scenario(s).i("households", "in_house_foster")
    households = simulate(s, 3, 2).monthly[:, col]
    grid = np.linspace(0.0, 300.0, 300_001)
    survival = np.exp(-np.array([cumulative_hazard(a) for a in grid[::100]]))
    survival = np.interp(grid, grid[::100], survival)
    whole = np.trapezoid(survival, grid)
    for t in (1, 2, 3):
        p = float(np.trapezoid(survival[grid >= t], grid[grid >= t]) / whole)
        share = households[12 * t - 1] / 2000
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / 2000), (t, share, p)


def test_a_retention_multiplier_lowers_deregistrations_accordingly() -> None:
    """1,000 households leaving at 0.2 a year for one year: about 1000 (1 - exp(-0.2)) =
    181 leave; with a retention multiplier of 0.18 (Mockingbird's "82% less likely to
    deregister"), 1000 (1 - exp(-0.036)) = 35. Tolerance: 4 binomial sd (12 and 6)."""
    deregistered = []
    for m in (1.0, 0.18):
        raw = foster_only(1000)
        raw["provision"]["in_house_foster"].update(
            deregistration_per_year=0.2, retention_multiplier=m
        )
        s = scenario_from(raw)
        col = Layout.for_scenario(s).i("deregistered", "in_house_foster")
        n = simulate(s, 1, 6).monthly[:, col].sum()
        p = 1 - math.exp(-0.2 * m)
        assert abs(n - 1000 * p) < 4 * math.sqrt(1000 * p * (1 - p)), (m, n)
        deregistered.append(n)
    assert deregistered[1] < 0.3 * deregistered[0]


# --------------------------------------------------------------------------- homes


def homes_scenario(homes: list[dict[str, Any]], **provision: Any) -> dict[str, Any]:
    """The minimal scenario with its in-house homes replaced by `homes`; every child
    looks for an in-house home first, then an external one."""
    raw = minimal_raw()
    home = raw["provision"]["in_house_home"]
    home["homes"] = homes
    home.update(provision)
    raw["matching"]["preferences"] = [{"name": "all", "order": ["in_house_home", "external_home"]}]
    raw["entries"]["per_year"] = 150.0
    return raw


def replay_homes(
    events: list[tuple[Any, ...]], pid: str, cap: int | None = None
) -> tuple[int, int, dict[int, int]]:
    """Replay the log's homes of `pid`: check that at the end of every moment no home
    holds more children than its beds (or `cap`), and that every child living in a home
    when it closes is placed elsewhere at once. Returns (homes closed, children moved out
    of closing homes, beds by home at the end)."""
    beds: dict[int, int] = {}
    occupants: dict[int, set[int]] = {}
    where: dict[int, int] = {}
    must_move: set[int] = set()
    closed = moved = 0

    def check(t: float) -> None:
        assert not must_move, (t, must_move)
        for uid, kids in occupants.items():
            limit = beds[uid] if cap is None else min(beds[uid], cap)
            assert len(kids) <= limit, (t, uid, len(kids), limit)

    last = 0.0
    for row in events:
        t, kind = row[0], row[1]
        if t != last:
            check(last)
            last = t
        if kind == "unit_opened" and row[2] == pid:
            beds[row[3]] = row[4]
            occupants[row[3]] = set()
        elif kind == "unit_resized" and row[2] == pid:
            beds[row[3]] = row[4]
        elif kind == "unit_closed" and row[2] == pid:
            closed += 1
            must_move |= occupants.pop(row[3])
            beds.pop(row[3])
        elif kind == "placed":
            cid, uid = row[2], row[5]
            old = where.pop(cid, None)
            if old is not None and old in occupants:
                occupants[old].discard(cid)
            if cid in must_move:
                assert row[6] == "provision_closed" and row[0] == t
                must_move.discard(cid)
                moved += 1
            if row[4] == pid:
                where[cid] = uid
                occupants[uid].add(cid)
        elif kind == "exit":
            old = where.pop(row[2], None)
            if old is not None and old in occupants:
                occupants[old].discard(row[2])
    check(last)
    return closed, moved, beds


def test_a_closure_hazard_closes_homes_at_its_rate_and_their_children_move() -> None:
    """200 two-bed homes closing at 0.4 a year: after 2 years 1 - exp(-0.8) = 55% have
    closed (binomial sd 3.5%; tolerance 4 sd), as `homes_closed_at_random` counts. Every
    child in a closing home is placed elsewhere at once, and no home is ever over its beds."""
    homes = [{"name": f"H{i}", "beds": 2} for i in range(200)]
    raw = homes_scenario(homes, closure_per_year=0.4)
    s = scenario_from(raw)
    model = RecordingModel(s, 2, 5)
    model.run()
    closed, moved, _ = replay_homes(model.events or [], "in_house_home")
    p = 1 - math.exp(-0.8)
    assert abs(closed / 200 - p) < 4 * math.sqrt(p * (1 - p) / 200), closed
    assert moved > 20  # homes closed with children in them, who moved
    col = model.state.layout.i("homes_closed_at_random", "in_house_home")
    assert model.monthly[:, col].sum() == closed
    # a home's own rate overrides the provision's: a home that never closes stays open
    homes[0]["closure_per_year"] = 0.0
    model = RecordingModel(scenario_from(homes_scenario(homes, closure_per_year=5.0)), 2, 5)
    model.run()
    assert [u.name for u in model.state.by_pid["in_house_home"].units.values()] == ["H0"]


def test_bed_cuts_after_inspections_reduce_beds() -> None:
    """100 ten-bed homes losing 2 beds at 0.5 cuts a year: over 2 years about 100 cuts
    (Poisson, sd 10; tolerance 4 sd), 2 beds each, never below one bed, so the places at
    the end are 1,000 - the beds cut; no home is ever over its beds."""
    homes = [{"name": f"H{i}", "beds": 10} for i in range(100)]
    raw = homes_scenario(homes, inspection_bed_cut_per_year=0.5, beds_cut=2)
    model = RecordingModel(scenario_from(raw), 2, 3)
    model.run()
    _, _, beds = replay_homes(model.events or [], "in_house_home")
    layout = model.state.layout
    cut = model.monthly[:, layout.i("beds_cut", "in_house_home")].sum()
    assert abs(cut / 2 - 100) < 40, cut
    assert (
        sum(beds.values()) == 1000 - cut == model.monthly[-1, layout.i("places", "in_house_home")]
    )
    assert min(beds.values()) >= 1


@settings(max_examples=15)
@given(
    beds=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    cap=st.integers(1, 3),
    closure=st.sampled_from([0.0, 0.5]),
    cut=st.sampled_from([0.0, 1.0]),
    entries=st.sampled_from([40.0, 150.0]),
    seed=st.integers(0, 2**16),
)
def test_an_occupancy_cap_is_never_exceeded(
    beds: list[int], cap: int, closure: float, cut: float, entries: float, seed: int
) -> None:
    """Small random home provisions with a cap below their beds, closures and cuts, and
    demand above or below supply: no home ever holds more children than its cap (or its
    beds), children of closing homes move at once, and the beds are paid for whole."""
    homes = [{"name": f"H{i}", "beds": b} for i, b in enumerate(beds)]
    raw = homes_scenario(
        homes, max_occupied=cap, closure_per_year=closure, inspection_bed_cut_per_year=cut
    )
    raw["entries"]["per_year"] = entries
    raw["population"]["in_house_home"] = {
        "by_age": {"10-15": min(sum(min(b, cap) for b in beds), 4)}
    }
    s = scenario_from(raw)
    model = RecordingModel(s, 1, seed)
    model.run()
    replay_homes(model.events or [], "in_house_home", cap)
    # per_place: paid for every open bed, not the capped ones alone
    layout = model.state.layout
    places = model.monthly[0, layout.i("places", "in_house_home")]
    assert places == sum(beds) or closure or cut


# --------------------------------------------------------------------------- validation


def _option(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "option.toml"
    path.write_text(f'extends = "{MINIMAL.as_posix()}"\n{body}', encoding="utf-8")
    return path


FOSTER = "[provision.in_house_foster]\n"
HOME = "[provision.in_house_home]\n"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (FOSTER + "enquiries_per_year = 100\nconversion = 0.1\n", ["recruitment_per_year and enquiries_per_year are both given"]),
        (FOSTER + "recruitment_per_year = 0\nenquiries_per_year = 100\n", ["enquiries_per_year and conversion go together"]),
        (FOSTER + "recruitment_per_year = 0\nenquiries_per_year = 100\nconversion = 0\n", ["conversion"]),
        (FOSTER + "recruitment_per_year = 0\nenquiries_per_year = 1e6\nconversion = 0.1\n", ["enquiries_per_year", "not plausible"]),
        (
            FOSTER + "deregistration_by_service = [{ until_years = 5, per_year = 0.1 }, { until_years = 2, per_year = 0.2 }]\n",
            ["deregistration_by_service", "increasing"],
        ),
        (
            FOSTER + "deregistration_by_service = [{ until_years = 2, per_year = 0.2 }]\nderegistration_per_year = 0\n",
            ["deregistration_by_service", "deregistration_per_year"],
        ),
        (FOSTER + "retention_multiplier = -1\n", ["retention_multiplier"]),
        (HOME + "closure_per_year = -0.1\n", ["closure_per_year"]),
        (HOME + "beds_cut = 0\n", ["beds_cut"]),
        (HOME + 'homes = [{ name = "A", beds = 2, max_occupied = 3 }]\n', ["max_occupied (3) is above its beds (2)"]),
        (HOME + "max_occupied = 0\n", ["max_occupied"]),
    ],
)  # fmt: skip
def test_new_keys_are_checked_by_name(tmp_path: Path, body: str, words: list[str]) -> None:
    with pytest.raises(ScenarioError) as info:
        load(_option(tmp_path, body))
    message = str(info.value)
    assert "provision.in_house_" in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_recruitment_per_year_zero_beside_enquiries_is_accepted(tmp_path: Path) -> None:
    """An option moving a file's recruitment onto the pipeline sets recruitment_per_year = 0."""
    body = FOSTER + "recruitment_per_year = 0\nenquiries_per_year = 100\nconversion = 0.1\n"
    spec = load(_option(tmp_path, body)).model.provision["in_house_foster"]
    assert spec.approvals_per_year() == pytest.approx(10.0)  # type: ignore[union-attr]


def test_the_big_home_warning_counts_only_the_beds_a_cap_lets_be_filled() -> None:
    """A 5-bed home at compatibility 0.6 is warned about (a 5th resident is rarely
    accepted); capped at 3 beds filled at once, it is not: the cap says the same."""
    from sim.scenario.schema import advisories

    raw = minimal_raw()
    home = raw["provision"]["in_house_home"]
    home["compatibility"] = 0.6
    home["homes"] = [{"name": "Big", "beds": 5}, {"name": "Small", "beds": 3}]

    def warned(r: dict[str, Any]) -> bool:
        return any("Big" in msg for _, msg in advisories(scenario_from(r)))

    assert warned(raw)
    home["max_occupied"] = 3
    assert not warned(raw)
