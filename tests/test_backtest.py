"""backtest: the training data know nothing after the date, and on data from a stationary
scenario (calibrated with that same scenario as the template) the forecast is honest."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import cli, minimal_raw, scenario_from
from scipy.stats import binom

from sim.calibration.backtest import Backtest, backtest, truncate
from sim.calibration.fit import read_map
from sim.calibration.ssda903.read import read_903
from sim.calibration.synth903 import write_903
from sim.scenario.load import LoadedScenario

ROOT = Path(__file__).resolve().parents[1]

#: the history starts here; T is 12 years later, the data run 2 years past T
START = dt.date(2010, 4, 1)
T = dt.date(2022, 3, 31)
HORIZON = 2


def stationary_raw(per_year: float = 400) -> dict[str, Any]:
    """The minimal scenario made stationary, and told wholly by its SSDA903 return.

    Stationary: no entry trend; no home opening, closing or resizing; foster recruitment
    equal to deregistration, and no carer leaving with a special guardianship order; a
    return-home rate of 0.4 a year at every age, so that stays are short (about 1.5 years)
    and 10 years after the start the initial state has all but gone (exp(-0.4 * 10) = 2%).

    Told by the return: calibrate fills the template's gaps with approximations, and each
    of these would make the forecast wrong for a reason that is not the backtest's (each
    is a limitation of calibrate on real data too):
    * no sibling groups: entries come one at a time, as the trend test in calibrate
      assumes (clumped entries make it find trends that are not there);
    * in-house fostering has room to spare (single-place households, babies only, about
      60% full): calibrate resizes foster capacity that looks more than 80% full;
    * no staying put: young people staying put hold foster places the return does not
      show on the date;
    * no offer delay for external homes: the return would show the emergency bed as the
      first placement, and calibrate reads offer probabilities from first placements;
    * supported accommodation is reached by UASC and planned moves only, not at the end
      of everyone's list (calibrate's first-placement fit ignores its age limit);
    * offer probabilities do not depend on needs: calibrate rescales a per-needs table by
      its plain mean, not weighted by the needs of the children who reach the provision
      (the IFA then takes nearly every child with standard needs, external homes too few);
    * breakdowns do not depend on needs: the return has no needs level, and calibrate
      divides by the needs multiplier averaged over all entrants, too small for the
      placements complex children go to (external homes break down too often);
    * no solo home: its children are coded as in-house homes, where calibrate would count
      them and add beds.
    """
    raw = minimal_raw()
    raw["scenario"]["start_date"] = START
    e = raw["entries"]
    e["per_year"] = per_year
    e["trend_per_year"] = 0.0
    e["sibling_group_size"] = {"1": 1.0}
    raw["exits"]["return_home"]["rate_per_year"] = dict.fromkeys(
        ["under_1", "1-4", "5-9", "10-15", "16-17"], 0.4
    )
    raw["exits"]["sgo"]["carer_leaves_probability"] = 0.0
    raw["breakdown"]["needs_multiplier"] = {}
    prov = raw["provision"]
    prov["in_house_home"]["homes"] = [{"name": "Home A", "beds": 3}, {"name": "Home B", "beds": 3}]
    prov["solo_home"]["homes"] = []
    foster = prov["in_house_foster"]
    places = round(per_year * 0.2)
    foster.update(
        households=[{"count": places, "places": 1}],
        new_household_places={"1": 1.0},
        recruitment_per_year=places * foster["deregistration_per_year"],
        ages={"max_age": 1},
        staying_put_probability=0.0,
    )
    prov["ifa"]["staying_put_probability"] = 0.0
    del prov["external_home"]["offer_delay_days"]
    prov["ifa"]["offer_probability"] = 0.85
    prov["external_home"]["offer_probability"] = 0.7
    for pref in raw["matching"]["preferences"]:
        if pref["name"] == "everyone else":
            pref["order"].remove("supported")
    return raw


def template_of(raw: dict[str, Any]) -> LoadedScenario:
    return LoadedScenario(
        model=scenario_from(raw), raw=raw, path=Path("stationary.toml"), sources=()
    )


# --------------------------------------------------------------------------- truncate


def test_truncate_leaves_nothing_after_the_date(tmp_path: Path) -> None:
    raw = minimal_raw()
    raw["scenario"]["start_date"] = dt.date(2019, 4, 1)
    write_903(scenario_from(raw), tmp_path / "d", years=4, seed=5)
    ds = read_903(tmp_path / "d")
    at = pd.Timestamp("2021-09-30")
    ep = ds.episodes
    assert (ep["DECOM"] > at).any() and (ep["DEC"] > at).any()  # something to cut

    tr = truncate(ds, at)
    e = tr.episodes
    assert not (e["DECOM"] > at).any()
    assert not (e["DEC"] > at).any()
    # the episodes running on the date are still there, open, with no end codes
    running = ep[(ep["DECOM"] <= at) & (ep["DEC"] > at)]
    opened = e.merge(running[["CHILD", "DECOM"]], on=["CHILD", "DECOM"])
    assert len(opened) == len(running) > 0
    assert opened["DEC"].isna().all()
    assert (opened["REC"] == "").all() and (opened["REASON_PLACE_CHANGE"] == "").all()
    # episodes that ended by the date are untouched; Header and UASC are as they were
    done = ep[ep["DEC"] <= at].reset_index(drop=True)
    kept = e[e["DEC"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(done, kept)
    assert len(e) == int((ep["DECOM"] <= at).sum())
    assert tr.header.equals(ds.header) and tr.uasc.equals(ds.uasc)
    assert tr.collection_end == at
    assert len(ds.episodes) == len(ep)  # the full data are not changed


# --------------------------------------------------------------------------- what happened


def test_counts_from_the_return_are_the_simulations_own() -> None:
    """The data written from one simulated run, counted the backtest's way, give back that
    run's own monthly figures exactly: children in care at every month end (in total and
    by provision, with the provisions the map does not calibrate counted as the return
    would show them) and entries and exits (turning 18 included) in every year."""
    from sim.calibration.backtest import Observed, _groups
    from sim.calibration.fit import CodeMap
    from sim.engine.metrics import Layout
    from sim.engine.model import Model

    raw = minimal_raw()  # a solo home shares the in-house homes' codes
    raw["scenario"]["start_date"] = dt.date(2023, 4, 1)
    # Homes opening, closing or resizing on the 1st of a month move children at the very
    # instant of the model's month-end count, which counts them moved; the return dates
    # the move on the 1st, so on the last day of the month they are still where they were.
    # One month's count by provision differs by those children: left out here.
    homes = raw["provision"]
    homes["in_house_home"]["homes"] = [{"name": "Home A", "beds": 3}, {"name": "Home B", "beds": 3}]
    homes["solo_home"]["homes"] = [{"name": "Solo 1", "beds": 1}]
    s = scenario_from(raw)
    years, seed = 5, 17
    with tempfile.TemporaryDirectory() as tmp:
        write_903(s, Path(tmp) / "903", years=years, seed=seed)
        ds = read_903(Path(tmp) / "903")
    run = Model(s, years, np.random.SeedSequence(seed), record_events=True, keep_children=True)
    run.run()  # the same run write_903 made: same scenario, same seed
    layout = Layout.for_scenario(s)
    mapping = read_map(None)
    codes = CodeMap(mapping, list(s.provision), list(s.exits))
    groups = _groups(mapping, codes, list(s.provision))
    assert groups["solo_home"] == "in_house_home"
    observed = Observed(ds, codes)
    start = pd.Timestamp(s.scenario.start_date)
    for month in range(years * 12):
        day = start + pd.DateOffset(months=month + 1) - pd.Timedelta(days=1)
        total, by_group, unmapped = observed.in_care(day)
        assert total == run.monthly[month, layout.i("in_care", "total")], day
        assert unmapped == 0
        model_by_group: dict[str, float] = {}
        for pid, g in groups.items():
            model_by_group[g] = (
                model_by_group.get(g, 0) + run.monthly[month, layout.i("in_care", pid)]
            )
        assert {g: v for g, v in model_by_group.items() if v} == by_group, day
    for y in range(years):
        a = start + pd.DateOffset(years=y) - pd.Timedelta(days=1)
        b = start + pd.DateOffset(years=y + 1) - pd.Timedelta(days=1)
        months = slice(y * 12, (y + 1) * 12)
        assert observed.entries(a, b) == run.monthly[months, layout.i("entries", "all")].sum()
        assert observed.exits(a, b) == run.monthly[months, layout.i("exits", "total")].sum()


# --------------------------------------------------------------------------- stationary


@pytest.fixture(scope="module")
def stationary(tmp_path_factory: pytest.TempPathFactory) -> Backtest:
    raw = stationary_raw()
    data = tmp_path_factory.mktemp("stationary") / "903"
    write_903(scenario_from(raw), data, years=14, seed=1)
    ds = read_903(data)
    # 6 years of rates: calibrate's estimation error, which the simulation's interval does
    # not hold, is then well under the chance it does hold (with 3 years it is about as
    # large, and the coverage of the total drops to about 50%: see the note in the report)
    return backtest(
        ds, T, template_of(raw), read_map(None), horizon=HORIZON, reps=100, years_back=6, seed=7
    )


def test_stationary_scores_every_measure(stationary: Backtest) -> None:
    keys = [m.key for m in stationary.metrics]
    assert keys[0] == "in_care_total" and keys[-2:] == ["entries", "exits"]
    assert {"in_care_kinship", "in_care_ifa", "in_care_in_house_foster"} <= set(keys)
    rows = stationary.rows()
    assert len(rows) == len(keys) * HORIZON
    total = stationary.metrics[0]
    # the simulation starts from the children in care on T, as the data count them
    assert total.start == total.history[-1]
    assert total.history_x == [-6, -5, -4, -3, -2, -1, 0]
    for m in stationary.metrics:
        assert all(a >= 0 for a in m.actual)
        assert np.all(m.p10 <= m.median) and np.all(m.median <= m.p90)


def test_stationary_interval_covers_what_happened(stationary: Backtest) -> None:
    inside = [ok for m in stationary.metrics for ok in m.inside]
    n = len(inside)
    # Each metric-year is a check that an 80% interval holds the actual. Were the n
    # checks independent and the intervals exact, the number inside would be
    # Binomial(n, 0.8); we ask for at least its 0.5% quantile, and for more than half
    # (10 of 18 here). That is generous on purpose: the checks are positively correlated
    # (the provisions add up to the total; year 2 follows year 1), which widens the
    # spread, and the simulation's interval holds chance only, not the error of rates
    # fitted from 6 years of data. Over 4 synthetic data sets x 3 simulation seeds the
    # intervals held 71% of the actuals (6 to 16 of 18 a run; most of the spread is the
    # data set: the one from seed 2024 has an unusually low year of entries and gives 6-8
    # of 18 whatever the simulation seed, this one 14-15). A backtest that compares the
    # wrong things (a year out, another provision, exits without those at 18) misses far
    # more.
    floor = max(binom.ppf(0.005, n, 0.8), n // 2 + 1)
    assert sum(inside) >= floor, (sum(inside), n, _table(stationary))


def test_stationary_total_in_care_is_close(stationary: Backtest) -> None:
    total = stationary.metrics[0]
    mape = total.scores()["mape_median"]
    # About 500 children in care. Chance moves a stock like this by about its square root
    # (22, 4.5%) over a year or two, and rates fitted from 6 years of data (2,400 entries,
    # 1 SE = 2%) move it a little more: a year's error has an SD of about 5%, and the
    # mean of two years' absolute errors is about 4% (over 12 seeds: 1% to 8%). 15% is
    # 3 SDs of a single year: a forecast that misses by more is wrong, not unlucky.
    assert mape < 15, _table(stationary)
    assert 400 < total.history[-1] < 650  # the scenario is the size the comment assumes


def _table(bt: Backtest) -> str:
    from sim.reports.backtest import summary_lines

    return (
        "\n"
        + "\n".join(summary_lines(bt))
        + "\n"
        + "\n".join(
            f"{r['metric']} {r['horizon_year']}: {r['actual']} vs {r['median']} "
            f"({r['p10']}-{r['p90']})"
            for r in bt.rows()
        )
    )


# --------------------------------------------------------------------------- command line


def test_command_line_end_to_end(tmp_path: Path) -> None:
    raw = minimal_raw()
    raw["scenario"]["start_date"] = dt.date(2018, 4, 1)
    data = tmp_path / "903"
    write_903(scenario_from(raw), data, years=5, seed=11)
    out = tmp_path / "bt"
    args = [
        "backtest",
        str(data),
        "--train-until",
        "2021-03-31",
        "--horizon",
        "2",
        "--reps",
        "10",
        "--workers",
        "1",
        "--years-back",
        "2",
        "--out",
        str(out),
    ]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in (
        "backtest.csv",
        "backtest.md",
        "scenario.toml",
        "calibration.md",
        "backtest_in_care_total.png",
        "backtest_entries.png",
        "backtest_exits.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert "in_care_total" in proc.stdout and "MAPE" in proc.stdout
    table = pd.read_csv(out / "backtest.csv")
    assert set(table["horizon_year"]) == {1, 2}
    assert {
        "actual",
        "median",
        "p10",
        "p90",
        "inside_80",
        "ape_median",
        "same_as_last_year",
        "ape_same_as_last_year",
        "linear_trend",
        "ape_linear_trend",
    } <= set(table.columns)

    before = (out / "backtest.md").read_text()
    again = cli(*args)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert (out / "backtest.md").read_text() == before

    late = cli(*args[:3], "2022-03-31", *args[4:], "--force")  # 2 years after: no data
    assert late.returncode == 2 and "needs data up to 2024-03-31" in late.stderr
    assert "Traceback" not in late.stderr
