"""Price growth, today's money and payments after care (issue 15).

- prices rise once a scenario year by `price_inflation_per_year`: each month's cost of a
  one-price provision is its child-days x weekly price x (1 + g) ** year / 7;
- today's money is cash divided by (1 + deflator) ** year, exactly, in `run`'s report
  measures and in `compare`'s net cost;
- a payment after care (`[after_care.<route>]`) is paid from the exit for the drawn time
  and then stops: replaying the event log's starts and ends gives the monthly cost and
  the month-end counts;
- an option that moves more children to special guardianship shows the allowances in
  `compare`'s net cost.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from conftest import RecordingModel, minimal_raw, scenario_from
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.calendar import Calendar
from sim.engine.model import simulate
from sim.runs.compare import compare
from sim.runs.money import todays_money_by_month, todays_money_by_year
from sim.scenario.ages import DAYS_PER_YEAR
from sim.scenario.schema import Scenario, cross_reference_errors

YEARS = 3


def _with_after_care(raw: dict[str, Any]) -> dict[str, Any]:
    """The minimal scenario with an SGO allowance to 18, a time-limited adoption
    allowance, general inflation and prices rising."""
    raw = copy.deepcopy(raw)
    raw["scenario"]["deflator_per_year"] = 0.03
    raw["provision"]["kinship"]["price_inflation_per_year"] = 0.05
    raw["after_care"] = {
        "sgo": {"weekly_cost": 200.0, "share": 0.7, "price_inflation_per_year": 0.02},
        "adoption": {
            "weekly_cost": 150.0,
            "share": 0.5,
            "years": {"dist": "uniform", "low": 0.1, "high": 1.5},
        },
    }
    return raw


def _scenario(raw: dict[str, Any] | None = None) -> Scenario:
    return scenario_from(_with_after_care(minimal_raw()) if raw is None else raw)


def test_prices_rise_once_a_scenario_year_by_the_set_rate() -> None:
    s = _scenario()
    res = simulate(s, YEARS, seed=5)
    layout_cols = {name: i for i, name in enumerate(_layout(s))}
    days = res.monthly[:, layout_cols[("child_days", "kinship")]]
    cost = res.monthly[:, layout_cols[("cost", "kinship")]]
    year = np.arange(len(days)) // 12
    expected = days * 174 * 1.05**year / 7.0
    assert days[-12:].sum() > 0  # children live there in the last year: a real check
    np.testing.assert_allclose(cost, expected, rtol=1e-12)
    # ifa (minimal.toml: 4% a year) is uprated by its own rate, not kinship's
    days = res.monthly[:, layout_cols[("child_days", "ifa")]]
    cost = res.monthly[:, layout_cols[("cost", "ifa")]]
    np.testing.assert_allclose(cost, days * 941 * 1.04**year / 7.0, rtol=1e-12)


def _layout(s: Scenario) -> tuple[tuple[str, str], ...]:
    from sim.engine.metrics import Layout

    return Layout.for_scenario(s).series


def test_todays_money_is_cash_divided_by_the_deflator_each_scenario_year() -> None:
    cash = np.arange(1.0, 31.0).reshape(1, 30)
    today = todays_money_by_month(cash, 0.03)
    for m in range(30):
        assert today[0, m] == pytest.approx(cash[0, m] / 1.03 ** (m // 12), rel=1e-15)
    by_year = np.array([[cash[0, :12].sum(), cash[0, 12:24].sum(), cash[0, 24:].sum()]])
    np.testing.assert_allclose(
        todays_money_by_year(by_year, 0.03),
        [[today[0, :12].sum(), today[0, 12:24].sum(), today[0, 24:].sum()]],
        rtol=1e-12,
    )
    # no general inflation: today's money is cash
    np.testing.assert_array_equal(todays_money_by_month(cash, 0.0), cash)


def test_after_care_is_paid_for_the_drawn_time_and_then_stops() -> None:
    """Replay the log: every payment from its start to its end (or the run's end)."""
    s = _scenario()
    model = RecordingModel(s, YEARS, seed=11)
    res = model.run()
    events = res.events or []
    cal = Calendar(s.scenario.start_date, model.months)
    bounds = cal.bounds
    layout = model.state.layout
    starts: dict[str, list[tuple[float, float]]] = {"sgo": [], "adoption": []}
    ages: dict[int, float] = {}
    for row in events:
        if row[1] == "after_care_start":
            t, _, cid, route, end = row
            starts[route].append((t, end))
            ages[cid] = model.children_by_id[cid].age(t)
            if route == "sgo":  # to the 18th birthday
                assert end == pytest.approx(t + (18.0 - ages[cid]) * DAYS_PER_YEAR)
            else:  # the drawn 0.1 to 1.5 years
                assert 0.1 * DAYS_PER_YEAR <= end - t <= 1.5 * DAYS_PER_YEAR
    n_adoption = len(starts["adoption"])
    assert starts["sgo"] and n_adoption >= 3, "the seed must start some payments"
    # some adoption allowances end inside the run, so stopping is really tested
    assert any(end < cal.end for _, end in starts["adoption"])
    prices = {"sgo": (200.0, 0.02), "adoption": (150.0, 0.0)}
    for route, paid in starts.items():
        weekly, rise = prices[route]
        days = np.zeros(model.months)
        count = np.zeros(model.months)
        for t, end in paid:
            for m in range(model.months):
                lo, hi = bounds[m], bounds[m + 1]
                days[m] += max(0.0, min(end, hi) - max(t, lo))
                count[m] += t <= hi and end > hi
        expected = days * weekly * (1 + rise) ** (np.arange(model.months) // 12) / 7.0
        got = res.monthly[:, layout.i("after_care_cost", route)]
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-6)
        np.testing.assert_array_equal(res.monthly[:, layout.i("after_care", route)], count)
    total = res.monthly[:, layout.i("after_care_cost", "total")]
    np.testing.assert_allclose(
        res.monthly[:, layout.i("cost_all", "total")],
        res.monthly[:, layout.i("cost", "total")] + total,
        rtol=1e-12,
    )


def test_after_care_draws_do_not_shift_anything_else() -> None:
    """Adding payments after care draws only after the exit: the run is otherwise the same
    (common random numbers between an option with allowances and one without)."""
    raw = _with_after_care(minimal_raw())
    without = copy.deepcopy(raw)
    del without["after_care"]
    a = simulate(scenario_from(raw), YEARS, seed=3)
    b = simulate(scenario_from(without), YEARS, seed=3)
    n = len(_layout(scenario_from(without)))
    np.testing.assert_array_equal(a.monthly[:, :n], b.monthly)


def test_an_after_care_route_must_be_an_exit_route() -> None:
    raw = _with_after_care(minimal_raw())
    raw["after_care"]["sgo_typo"] = {"weekly_cost": 100.0}
    raw["after_care"]["adoption"]["from"] = ["nowhere"]
    problems = cross_reference_errors(Scenario.model_validate(raw))
    where = {loc: msg for loc, msg in problems}
    assert ("after_care", "sgo_typo") in where
    assert "exit route 'sgo_typo'" in where[("after_care", "sgo_typo")]
    assert ("after_care", "adoption", "from") in where


def test_more_sgos_show_their_allowances_in_the_net_cost() -> None:
    base = _with_after_care(minimal_raw())
    option = copy.deepcopy(base)
    option["scenario"]["name"] = "More special guardianship"
    option["exits"]["sgo"]["rate_per_year"] = {
        k: 3 * v for k, v in base["exits"]["sgo"]["rate_per_year"].items()
    }
    cmp = compare([scenario_from(base), scenario_from(option)], years=YEARS, reps=6, seed=2)
    after = cmp.diff("after_care_cost")[1, :, -1]
    # three times the SGO rate: more allowances in every one of the 6 paired runs
    assert (after > 0).all()
    v = cmp.values
    np.testing.assert_allclose(
        v["net_cost"], v["placement_cost"] + v["after_care_cost"] + v["option_cost"], rtol=1e-12
    )
    # today's money: each year's net cost over 1.03 ** year, and the total their sum
    years = v["net_cost"].shape[2] - 1
    factor = 1.03 ** np.arange(years)
    np.testing.assert_allclose(v["net_cost_today"][:, :, :-1], v["net_cost"][:, :, :-1] / factor)
    np.testing.assert_allclose(
        v["net_cost_today"][:, :, -1], v["net_cost_today"][:, :, :-1].sum(axis=2)
    )
    from sim.reports.comparison_words import sentence

    text = sentence(cmp, 1)
    assert "more paid after care" in text
    assert "in cash (" in text and "in today's money, 2024-25 prices)" in text


def test_the_run_report_gives_cost_in_cash_and_in_todays_money(tmp_path: Any) -> None:
    import pandas as pd

    from sim import run, write_report

    res = run(_scenario(), years=YEARS, reps=3, seed=4, workers=1, progress=False)
    write_report(res, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "summary_by_year.csv", encoding="utf-8-sig")
    mine = table[table["group"] == "All"].set_index(["measure", "year"])["median"]
    for year in range(1, YEARS + 1):
        cash = mine[("Cost in year", year)]
        today = mine[("Cost in year in today's money (2024-25 prices)", year)]
        # medians of 3 runs, each year's divided by the same factor; the CSV keeps whole
        # pounds, so they agree to a pound
        assert today == pytest.approx(cash / 1.03 ** (year - 1), abs=1.0)
        assert mine[("Payments after care in year (outside the cost of placements)", year)] > 0
    text = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "Total cost in the year, today's money" in text
    assert "Placements and payments after care in the year" in text


@given(
    st.lists(
        st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0, 80, allow_nan=False)),
        max_size=30,
    ),
    st.lists(st.floats(1, 120, allow_nan=False), min_size=1, max_size=6),
)
def test_after_care_days_are_the_overlaps_of_each_payment_with_each_period(
    payments: list[tuple[float, float]], cuts: list[float]
) -> None:
    """The running tally, advanced to any month ends, counts exactly the person-days of
    every payment from its start to its end (or the run's end, 120), and no more."""
    from sim.engine.state import AfterCarePayments

    run_end = 120.0
    tally = AfterCarePayments()
    bounds = sorted(set(cuts))
    events = sorted((t, t + length) for t, length in payments)
    got = []
    i = 0
    for b in bounds:
        while i < len(events) and events[i][0] <= b:
            tally.start(events[i][0], events[i][1], run_end)
            i += 1
        tally.advance(b)
        got.append(tally.days)
        tally.days = 0.0
        expected_count = sum(1 for t, e in events[:i] if e > b or e >= run_end)
        assert tally.count == expected_count
    lo = 0.0
    for b, days in zip(bounds, got, strict=True):
        expected = sum(max(0.0, min(e, run_end, b) - max(t, lo)) for t, e in events if t <= b)
        assert days == pytest.approx(expected, abs=1e-9)
        lo = b
