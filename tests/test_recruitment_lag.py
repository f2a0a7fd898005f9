"""Foster recruitment with an assessment lag, the pipeline at the start, and dated changes
of the recruitment rate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import RecordingModel, minimal_raw, scenario_from

from sim import simulate
from sim.engine.metrics import Layout
from sim.scenario.schema import Scenario, cross_reference_errors


def foster_only(rate: float, lag: dict | None = None) -> dict:
    """No children at all: the household count is supply alone. 50 households recruited
    at `rate` a year and leaving at rate / 50 a year: a steady pool of 50 on average."""
    raw = minimal_raw()
    raw["entries"]["per_year"] = 0.0
    raw["entries"]["uasc"]["per_year"] = 0.0
    raw["population"] = {}
    foster = raw["provision"]["in_house_foster"]
    foster["households"] = [{"count": 50, "places": 1}]
    foster["recruitment_per_year"] = rate
    foster["deregistration_per_year"] = rate / 50
    if lag is not None:
        foster["assessment_days"] = lag
    return raw


def opened_after_start(raw: dict, years: float, seed: int) -> list[float]:
    """Times at which households opened during the run."""
    model = RecordingModel(scenario_from(raw), years, seed)
    model.run()
    return [row[0] for row in model.events or [] if row[1] == "unit_opened" and row[0] > 0]


def test_no_household_opens_before_its_assessment_is_over() -> None:
    """Recruitment starts the day after the start (so nobody is in assessment at the
    start) with a fixed 180-day assessment: nothing opens before day 181, and households
    do open after it."""
    raw = foster_only(0.0, lag={"dist": "fixed", "value": 180})
    start = raw["scenario"]["start_date"]
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [
        {"from": start + dt.timedelta(days=1), "per_year": 40.0}
    ]
    raw["provision"]["in_house_foster"]["deregistration_per_year"] = 0.0
    for seed in range(3):
        opened = opened_after_start(raw, 1, seed)
        assert opened, "households were recruited (40 a year)"
        assert min(opened) >= 181.0


def mean_households(raw: dict, reps: int) -> float:
    """Mean households over months 1-12 across replications (seeds 0..reps-1)."""
    s = scenario_from(raw)
    col = Layout.for_scenario(s).i("households", "in_house_foster")
    return float(np.mean([simulate(s, 1, seed).monthly[:, col].mean() for seed in range(reps)]))


def test_the_pipeline_at_the_start_keeps_a_steady_pool_steady() -> None:
    """A 4-8 month assessment leaves the mean household count over the first year as it
    is without one, thanks to the households in assessment at the start; without them
    the pool dips by about rate x mean lag = 12 x 0.5 = 6 households by mid-year.

    60 replications: a replication's mean over 12 months has a standard deviation of
    about 3 households here, so the difference of two means has one of about 0.6; the
    tolerance, 2 households, is over 3 of those, and below the dip of about 4 (averaged
    over the year) that the pipeline prevents.
    """
    lag = {"dist": "uniform", "low": 122, "high": 243}
    reps = 60
    without_lag = mean_households(foster_only(12.0), reps)
    with_lag = mean_households(foster_only(12.0, lag), reps)
    assert abs(with_lag - without_lag) < 2.0
    # the same recruitment with no pipeline: the starting rate is 0 (so nobody is in
    # assessment at the start) and 12 a year from the next day. (Not by patching
    # `Supply._start_pipeline`: the compiled build's classes cannot be patched.)
    raw = foster_only(12.0, lag)  # households leave as in the steady pool
    start = raw["scenario"]["start_date"]
    raw["provision"]["in_house_foster"]["recruitment_per_year"] = 0.0
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [
        {"from": start + dt.timedelta(days=1), "per_year": 12.0}
    ]
    no_pipeline = mean_households(raw, reps)
    assert without_lag - no_pipeline > 2.0  # the test would catch a missing pipeline


def test_a_recruitment_change_takes_effect_on_its_date_and_not_before() -> None:
    """No recruitment, then 60 a year from six months after the start: no household is
    recruited before the date, many after; and the reverse change stops recruitment."""
    raw = foster_only(0.0)
    raw["provision"]["in_house_foster"]["deregistration_per_year"] = 0.0
    start = raw["scenario"]["start_date"]
    change = dt.date(start.year, start.month + 6, 1)
    day = (change - start).days
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [
        {"from": change, "per_year": 60.0}
    ]
    opened = opened_after_start(raw, 1, 2)
    assert opened and min(opened) >= day
    assert len(opened) > 10  # about 30 expected in six months
    raw = foster_only(60.0)
    raw["provision"]["in_house_foster"]["deregistration_per_year"] = 0.0
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [{"from": change, "per_year": 0.0}]
    opened = opened_after_start(raw, 1, 2)
    assert len(opened) > 10 and max(opened) < day


def test_no_lag_and_no_change_leave_results_as_they_were() -> None:
    """An explicit zero lag and a change to the same rate on a date give the same run."""
    base = foster_only(12.0)
    s0 = scenario_from(base)
    same = foster_only(12.0, lag={"dist": "fixed", "value": 0})
    s1 = scenario_from(same)
    np.testing.assert_array_equal(simulate(s0, 1, 5).monthly, simulate(s1, 1, 5).monthly)


def test_recruitment_changes_are_checked() -> None:
    raw = foster_only(4.0)
    start = raw["scenario"]["start_date"]
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [{"from": start, "per_year": 8.0}]
    problems = cross_reference_errors(Scenario.model_validate(raw))
    assert any(
        "recruitment_changes" in str(loc) and "after the scenario starts" in msg
        for loc, msg in problems
    )
    later = start + dt.timedelta(days=100)
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [
        {"from": later, "per_year": 8.0},
        {"from": start + dt.timedelta(days=50), "per_year": 2.0},
    ]
    with pytest.raises(ValueError, match="recruitment_changes"):
        Scenario.model_validate(raw)
    raw["provision"]["in_house_foster"]["recruitment_changes"] = [{"from": later, "per_year": -1}]
    with pytest.raises(ValueError, match="per_year"):
        Scenario.model_validate(raw)
