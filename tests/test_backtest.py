"""backtest: the training data know nothing after the date, and on data from a stationary
scenario (calibrated with that same scenario as the template) the forecast is honest."""

from __future__ import annotations

import datetime as dt
import math
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


# --------------------------------------------------------------------------- references

#: a hand-made return, 1 April 2019 to 31 March 2022, T = 31 March 2021. Each child:
#: episodes of (DECOM, RNE, PLACE/PROVIDER, DEC, REC); U6/PR1 = in-house foster, U6/PR4 =
#: IFA, K2/PR1 = in-house home, A5/PR1 = placed for adoption. All born in 2010.
HAND_T = dt.date(2021, 3, 31)
HAND: dict[str, list[tuple[str, str, str, str, str]]] = {
    "A": [("2018-01-01", "S", "U6/PR1", "2021-08-01", "E4A")],  # leaves after T
    "B": [("2018-06-01", "S", "U6/PR1", "2020-06-30", "E4A")],
    "C": [
        ("2019-01-01", "S", "U6/PR4", "2020-09-01", "X1"),
        ("2020-09-01", "P", "K2/PR1", "", ""),
    ],
    "D": [("2019-05-01", "S", "U6/PR4", "2019-12-01", "E4A")],
    "E": [("2020-05-01", "S", "U6/PR1", "", "")],
    "F": [("2020-07-01", "S", "K2/PR1", "2021-02-01", "E4A")],
    "G": [("2021-01-10", "S", "U6/PR4", "", "")],
    "H": [("2019-02-01", "S", "U6/PR1", "2020-04-15", "E4A")],
    # J's foster carer is approved to adopt after T: the same placement, re-labelled; on T
    # the data knew it as foster care, and the references must count it so
    "J": [
        ("2019-06-01", "S", "U6/PR1", "2021-05-01", "X1"),
        ("2021-05-01", "T", "A5/PR1", "", ""),
    ],
    "K": [("2021-03-01", "S", "U6/PR1", "", "")],
    "L": [("2020-10-01", "S", "U6/PR1", "", "")],
    "M": [("2021-06-01", "S", "U6/PR4", "", "")],  # after T: must change nothing
}


def write_hand(folder: Path, named: bool = True) -> None:
    """HAND as a return: one file per table and collection year (each episode in every
    year it was open in, open where it ended later), or, unnamed, one file per table."""
    folder.mkdir(parents=True)
    rows = []
    for child, eps in HAND.items():
        for decom, rne, code, dec, rec in eps:
            place, provider = code.split("/")
            rows.append((child, pd.Timestamp(decom), rne, place, provider, dec, rec))
    head = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"

    def line(r: tuple[Any, ...], year_end: pd.Timestamp | None) -> str:
        child, decom, rne, place, provider, dec, rec = r
        if dec and year_end is not None and pd.Timestamp(dec) > year_end:
            dec, rec = "", ""
        # C moves to another carer (a planned move); J's carer stays (status only)
        rpc = "" if rec != "X1" else "CARPL" if child == "C" else "PLACE"
        d = f"{decom:%d/%m/%Y}"
        e = f"{pd.Timestamp(dec):%d/%m/%Y}" if dec else ""
        return f"{child},{d},{rne},C2,N1,{place},{provider},{e},{rec},{rpc},,,"

    header = ["CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB"] + [
        f"{c},1,01/01/2010,WBRI,UN2,," for c in HAND
    ]
    if not named:
        (folder / "episodes.csv").write_text("\n".join([head, *(line(r, None) for r in rows)]))
        (folder / "header.csv").write_text("\n".join(header))
        return
    for year in (2020, 2021, 2022):
        a, b = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
        live = [r for r in rows if r[1] <= b and (not r[5] or pd.Timestamp(r[5]) >= a)]
        (folder / f"episodes_{year}.csv").write_text("\n".join([head, *(line(r, b) for r in live)]))
        (folder / f"header_{year}.csv").write_text("\n".join(header))


@pytest.mark.parametrize("named", [True, False])
def test_references_come_from_the_data_known_on_the_date(tmp_path: Path, named: bool) -> None:
    """Every reference, worked out by hand from HAND: only year ends the data hold, only
    what was known on T, and no trend through fewer than 3 points."""
    from sim.calibration.backtest import Observed, known_on, observed_counts
    from sim.calibration.fit import CodeMap
    from sim.calibration.packaged import DEFAULT_TEMPLATE
    from sim.calibration.ssda903.read import data_start
    from sim.scenario.load import load

    write_hand(tmp_path / "903", named)
    ds = read_903(tmp_path / "903")
    assert not ds.problems and len(ds.episodes) == 14, ds.summary()
    start = data_start(ds)
    assert start == pd.Timestamp("2019-04-01")  # from the names, or from the first end
    tpl = load(DEFAULT_TEMPLATE)
    s = tpl.model
    codes = CodeMap(read_map(None), list(s.provision), list(s.exits))
    known = Observed(truncate(ds, HAND_T), codes)
    groups = ["in_house_foster", "ifa", "in_house_home", "placed_for_adoption"]
    past, notes = known_on(known, HAND_T, 2, 3.0, start, groups)

    # children in care on 31 March: 2019 A B C H; 2020 A B C H J; 2021 A C E G J K L.
    # 2018 is before the data: not used (and not counted as the 1 or 2 the data show)
    total = past["in_care_total"]
    assert total.x == [-2, -1, 0]
    assert total.values == [4, 5, 7]
    assert total.references["same_as_last_year"] == [7, 7]
    # least squares through (-2, 4), (-1, 5), (0, 7): slope 1.5, intercept 6.8333
    assert total.references["linear_trend"] == pytest.approx([8.3333, 9.8333], abs=1e-3)
    # same flows: in the year to T, 5 started care (E F G K L) and 3 left (B F H) of the 5
    # in care a year before: ratio 0.6. 7 + 5 - 0.6 x 7 = 7.8; 7.8 + 5 - 0.6 x 7.8 = 8.12
    assert total.references["same_flows"] == pytest.approx([7.8, 8.12])
    entries, exits = past["entries"], past["exits"]
    assert entries.x == exits.x == [-1, 0]  # the year to 31 March 2019 is not in the data
    assert entries.values == [2, 5] and exits.values == [1, 3]
    assert entries.references == {"same_as_last_year": [5, 5], "same_flows": [5, 5]}
    assert exits.references["same_as_last_year"] == [3, 3]
    assert exits.references["same_flows"] == pytest.approx([4.2, 4.68])  # 0.6 x 7, 0.6 x 7.8
    assert "linear_trend" not in exits.references  # 2 years of flows: no trend is made
    assert any("No linear trend for entries and exits" in n for n in notes)
    assert any("The data begin on 2019-04-01" in n for n in notes)
    # in-house foster: a year before T, A B H J (4); on T, A E J K L (5): J still foster
    # (re-labelled as adoption only after T). In the year, 3 placements began (E K L) and
    # 2 ended (B H): ratio 0.5; 5 + 3 - 2.5 = 5.5; 5.5 + 3 - 2.75 = 5.75
    foster = past["in_care_in_house_foster"]
    assert foster.values == [3, 4, 5]
    assert foster.references["same_flows"] == pytest.approx([5.5, 5.75])
    # IFA: C a year before, G on T; G began, C moved to a home: ratio 1; 1 + 1 - 1 = 1
    assert past["in_care_ifa"].references["same_flows"] == pytest.approx([1.0, 1.0])
    # no home placement a year before: no ratio, so no such reference (none is invented)
    assert "same_flows" not in past["in_care_in_house_home"].references
    assert past["in_care_placed_for_adoption"].values == [0, 0, 0]

    # the full data know J was re-labelled, and M: counting from them would differ
    full = observed_counts(ds, tpl, read_map(None))
    assert full.in_care(pd.Timestamp(HAND_T))[1].get("placed_for_adoption") == 1

    # a date with less than a whole year of data before it is refused, not padded
    from sim.calibration.backtest import BacktestError

    with pytest.raises(BacktestError, match="a whole year of data"):
        known_on(known, dt.date(2020, 2, 29), 1, 3.0, start, groups)


def test_same_flows_projection_by_hand() -> None:
    from sim.calibration.backtest import linear_trend, same_flows

    # 100 in care, 40 entries a year, 30% leave a year: 100 + 40 - 30 = 110, 110 + 40 - 33
    stocks, exits = same_flows(100, 40, 0.3, 3)
    assert stocks == pytest.approx([110, 117, 121.9])
    assert exits == pytest.approx([30, 33, 35.1])
    assert same_flows(10, 0, 1.5, 2)[0] == [0.0, 0.0]  # never below 0
    assert linear_trend([-1, 0], [5, 6], 2) is None  # two points: no trend
    assert linear_trend([-2, -1, 0], [6, 5, 4], 5) == pytest.approx([3, 2, 1, 0, 0])  # >= 0


# --------------------------------------------------------------------------- rolling


def test_rolling_origins_are_every_31_march_the_data_allow() -> None:
    from sim.calibration.rolling import origins

    start, end = pd.Timestamp("2015-04-01"), pd.Timestamp("2023-03-31")
    got = origins(start, end, 3)
    assert got == [
        (dt.date(2016, 3, 31), 3),
        (dt.date(2017, 3, 31), 3),
        (dt.date(2018, 3, 31), 3),
        (dt.date(2019, 3, 31), 3),
        (dt.date(2020, 3, 31), 3),
        (dt.date(2021, 3, 31), 2),
        (dt.date(2022, 3, 31), 1),
    ]
    assert [h for _, h in origins(start, end, 1)] == [1] * 7
    assert origins(start, pd.Timestamp("2016-03-31"), 3) == []  # one year: nothing to score
    assert origins(start, pd.Timestamp("2017-03-31"), 3) == [(dt.date(2016, 3, 31), 1)]
    assert origins(start, pd.Timestamp("2018-01-31"), 3) == [(dt.date(2016, 3, 31), 1)]
    assert origins(None, end, 3) == []


def hand_points() -> pd.DataFrame:
    """Two origins, one measure, two horizons; numbers chosen to be worked out by hand."""
    from sim.calibration.rolling import POINT_COLUMNS

    rows = [
        # origin, h, actual, median, p10, p90, same as last year, same flows, trend
        ("2019-03-31", 1, 100, 110, 95, 120, 100, 95, math.nan),
        ("2020-03-31", 1, 200, 180, 185, 230, 220, 210, 190),
        ("2019-03-31", 2, 50, 60, 40, 70, 40, 45, 55),
        ("2020-03-31", 2, 0, 5, 0, 10, 3, 2, 1),  # nothing happened: no % error
    ]
    frame = pd.DataFrame(
        [
            {
                "origin": o,
                "horizon": h,
                "measure": "in_care_total",
                "label": "Children in care (all)",
                "kind": "stock",
                "from": "",
                "to": "",
                "actual": a,
                "median": m,
                "p10": lo,
                "p90": hi,
                "inside_80": lo <= a <= hi,
                "same_as_last_year": n,
                "same_flows": f,
                "linear_trend": t,
            }
            for o, h, a, m, lo, hi, n, f, t in rows
        ]
    )
    return frame[POINT_COLUMNS]


def test_summary_statistics_by_hand() -> None:
    from sim.calibration.rolling import summarise

    s = summarise(hand_points()).set_index("horizon")
    one, two = s.loc[1], s.loc[2]
    # horizon 1: median errors +10% and -10%; 100 in 95-120 and 200 in 185-230: both inside
    assert one["points"] == 2 and one["coverage"] == 1.0
    assert one["mape_median"] == pytest.approx(10) and one["bias_median"] == pytest.approx(0)
    assert one["mape_same_as_last_year"] == pytest.approx(5)  # 0% and +10%
    assert one["bias_same_as_last_year"] == pytest.approx(5)
    assert one["mape_same_flows"] == pytest.approx(5) and one["bias_same_flows"] == pytest.approx(0)
    # the trend exists for one origin only: scored on that point, and said so
    assert one["points_linear_trend"] == 1 and one["mape_linear_trend"] == pytest.approx(5)
    # best over the points every forecast has (the 2020 origin): median 10%, same as last
    # year 10%, same flows 5%, trend 5% -> the first of the smallest, same flows
    assert one["best"] == "same_flows" and one["best_points"] == 1
    # horizon 2: the origin where nothing happened counts for coverage, not for errors
    assert two["points"] == 2 and two["points_median"] == 1
    assert two["coverage"] == pytest.approx(1.0)  # 50 in 40-70, 0 in 0-10
    assert two["mape_median"] == pytest.approx(20) and two["bias_median"] == pytest.approx(20)
    assert two["bias_same_as_last_year"] == pytest.approx(-20)
    assert two["mape_linear_trend"] == pytest.approx(10)
    assert two["best"] == "same_flows"  # 10%, tied with the trend, comes first


# --------------------------------------------------------------------------- the words


def test_report_says_plainly_when_the_simulation_loses() -> None:
    from types import SimpleNamespace

    from sim.calibration.backtest import Metric
    from sim.calibration.rolling import Rolling, summarise
    from sim.reports.backtest import (
        against,
        rolling_summary_lines,
        summary_lines,
        write_rolling_markdown,
    )

    assert against(12.3, {"same as last year": 15.0, "same flows as last year": 6.1}) == (
        "The simulation's error (12.3%) was larger than 'same flows as last year' (6.1%), "
        "and smaller than 'same as last year' (15.0%)."
    )
    assert against(2.0, {"same as last year": 6.0, "linear trend": math.nan}) == (
        "The simulation's error (2.0%) was smaller than 'same as last year' (6.0%)."
    )
    assert "same as" in against(6.1, {"same flows as last year": 6.14})  # as shown: a tie

    # a backtest where 'same flows as last year' was nearer: actual 100 and 110, the
    # simulation's median 112 and 124 (12%, 12.7%), same flows 106 and 113 (6%, 2.7%)
    sims = np.array([[112.0, 124.0]] * 3)
    m = Metric(
        "in_care_total",
        "Children in care (all)",
        "stock",
        [-1, 0],
        [100.0, 100.0],
        [100.0, 110.0],
        sims,
        references={"same_as_last_year": [100.0, 100.0], "same_flows": [106.0, 113.0]},
    )
    bt = SimpleNamespace(metrics=[m], horizon=2, at=dt.date(2021, 3, 31))
    text = "\n".join(summary_lines(bt))  # type: ignore[arg-type]
    assert (
        "the simulation's error (12.4%) was larger than 'same as last year' (4.5%) and "
        "'same flows as last year' (4.4%)" in text
    ), text
    assert "A reference forecast had a smaller error than the simulation for 1 of 1" in text
    assert "beat" not in text.replace("beat the simulation", "")

    r = Rolling(
        horizon=2,
        reps=3,
        years_back=3,
        seed=1,
        origins=[(dt.date(2019, 3, 31), 2), (dt.date(2020, 3, 31), 2)],
        points=hand_points(),
        summary=summarise(hand_points()),
    )
    lines = "\n".join(rolling_summary_lines(r))
    assert (
        "Over all the origins each forecast has, the simulation's error (10.0%) was larger "
        "than 'same as last year' (5.0%), 'same flows as last year' (5.0%) and 'linear trend' "
        "(5.0%)." in lines
    ), lines
    assert (
        "the most accurate forecast on the 1 origin every forecast has was 'same flows as "
        "last year'" in lines
    )
    write_rolling_markdown(r, Path(tempfile.mkdtemp()) / "backtest.md")


# --------------------------------------------------------------------------- rolling, end to end


def test_rolling_command_line_end_to_end(tmp_path: Path) -> None:
    """`backtest --rolling` on the bundled synthetic return (April 2015 to March 2023):
    7 origins, 2016 to 2022, scored at 1 and 2 years ahead as far as the data reach."""
    out = tmp_path / "rolling"
    args = ["backtest", str(ROOT / "calibration" / "synthetic-903"), "--rolling"]
    opts = ["--horizon", "2", "--reps", "4", "--workers", "1", "--out", str(out)]
    proc = cli(*args, *opts)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for i, year in enumerate(range(2016, 2023), start=1):  # progress, an origin a line
        assert f"origin {i} of 7: {year}-03-31" in proc.stderr
    points = pd.read_csv(out / "backtest.csv")
    assert sorted(set(points["origin"])) == [f"{y}-03-31" for y in range(2016, 2023)]
    per_origin = points.groupby("origin")["horizon"].max()
    assert per_origin["2021-03-31"] == 2 and per_origin["2022-03-31"] == 1
    assert {
        "actual",
        "median",
        "p10",
        "p90",
        "same_as_last_year",
        "same_flows",
        "linear_trend",
    } <= set(points.columns)
    assert {"in_care_total", "entries", "exits"} <= set(points["measure"])
    assert (points["measure"].str.startswith("in_care_")).sum() > 2 * 13  # by placement type
    # the first origin has one whole year before it: no trend (blank), never a made-up one
    first = points[points["origin"] == "2016-03-31"]
    assert first["linear_trend"].isna().all() and first["same_flows"].notna().any()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["horizon"]) == {1, 2}
    total = summary[(summary["measure"] == "in_care_total") & (summary["horizon"] == 1)].iloc[0]
    assert total["points"] == 7 and total["points_linear_trend"] == 6
    md = (out / "backtest.md").read_text()
    assert "## Which forecast did best" in md and "the simulation's error (" in md.lower()
    assert (out / "backtest_mape.png").stat().st_size > 0
    assert "80% coverage" in proc.stdout and "in_care_total" in proc.stdout

    both = cli(*args, "--train-until", "2020-03-31", *opts, "--force")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    neither = cli(args[0], args[1], *opts, "--force")
    assert neither.returncode == 2 and "one of the arguments" in neither.stderr
