"""backtest: would the simulation have forecast what really happened?

Pretend it is `train_until` (T): keep only what the SSDA903 return knew on that date,
calibrate a scenario from it, simulate `horizon` years from T, and set the forecast beside
what the full data say happened at each year end T + k years (children in care, in total
and by placement type) and in each year (children starting and leaving care). Three
forecasts a commissioner could make without a model are scored the same way (the
references, `REFERENCES`).

What is compared, exactly:

* children in care on a date: placements active on it (started on or before it, not ended
  by it), children aged 0 to 17; by placement type through the placement code map. A
  scenario provision the map does not calibrate (e.g. a spot IFA sharing codes with the
  framework IFA) is counted with the provision its codes are read as, as the return would;
* entries in a year: periods of care starting in it, UASC included (the model's
  `entries.all`); exits: periods ending in it, at any age, turning 18 included (the
  model's `exits.total`);
* year k is (T + (k-1) years, T + k years]; the model starts on T + 1 day, so its month
  12k snapshot is T + k years.

The references are computed from the data as they stood on T (`truncate`), and only from
year-end counts the data hold: the stock on 31 March before the first collection year is
held (every placement running then is still open on 1 April, so it is in that year's
file), a year's flows only if the whole year is. History is never padded: the data's
first year is read from the Episodes files' names, or else from the earliest episode end
(a return holds no episode that ended before its first year).

* **same as last year**: the count on T (stocks), or in the year to T (flows), for every
  horizon year;
* **same flows as last year** (the reference peer demand models use): the stock is
  projected year by year with last year's entries and last year's exit ratio,
  stock(k) = stock(k-1) + entries - ratio * stock(k-1) (never below 0), where entries are
  the periods of care that started in the year to T and ratio = the periods that ended in
  it / the children in care a year before T. For a placement type the same is done with
  the type's own flows in that year: placements starting in it (from outside care or from
  another placement) and placements ending in it (a move, an exit or the child turning 18),
  over the type's children a year before T, so that the types still add to roughly the
  total. Entries are forecast as last year's count, exits as ratio * stock(k-1). Left out
  for a measure that had no children a year before T (no ratio);
* **linear trend**: a least-squares line through the year-end figures of the last
  `years_back` years up to T, extrapolated (never below 0). Left out, with a note, when
  the data hold fewer than `TREND_MIN_POINTS` of them before T: two points would be last
  year's change continued, not a trend, and none are ever made up.

The simulation's 80% interval (10th to 90th percentile of its runs) shows chance only,
not the uncertainty of the rates fitted from a few years of data, nor change the data
cannot foresee; coverage below 80% on real data measures how much that matters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..common.errors import UserError
from ..scenario.ages import DAYS_PER_YEAR
from .ssda903.read import Dataset, data_start

if TYPE_CHECKING:
    from ..runs.montecarlo import Results
    from ..scenario.load import LoadedScenario
    from .fit import Calibration, CodeMap

#: a placement type is scored only if at least this many children were placed there at T
MIN_CHILDREN = 5
#: the fewest year-end figures before T a linear trend is drawn through
TREND_MIN_POINTS = 3
#: the forecasts made without a model: key (in tables and CSV files) -> name in words
REFERENCES = {
    "same_as_last_year": "same as last year",
    "same_flows": "same flows as last year",
    "linear_trend": "linear trend",
}
DASH = "\u2013"


class BacktestError(UserError):
    """A backtest these data cannot support (they end before the horizon does)."""


# =========================================================================== training data


def truncate(ds: Dataset, at: dt.date | pd.Timestamp) -> Dataset:
    """The data as they stood on `at`: nothing that began later, nothing ended after it.

    Episodes starting after `at` are dropped; an episode still running on `at` (DEC after
    it) becomes open: DEC blank, REC and REASON_PLACE_CHANGE blank. Header and UASC rows
    are kept as they are.
    """
    t = pd.Timestamp(at)
    ep = ds.episodes[ds.episodes["DECOM"] <= t].copy()
    later = ep["DEC"].notna() & (ep["DEC"] > t)
    ep.loc[later, "DEC"] = pd.NaT
    ep.loc[later, "REC"] = ""
    ep.loc[later, "REASON_PLACE_CHANGE"] = ""
    end = ds.collection_end
    end = t if end is None or pd.isna(end) else min(pd.Timestamp(end), t)
    return dataclasses.replace(ds, episodes=ep.reset_index(drop=True), collection_end=end)


def years_after(at: pd.Timestamp, k: int) -> pd.Timestamp:
    """The date `k` whole years after `at` (29 February becomes 28 February)."""
    return pd.Timestamp(at) + pd.DateOffset(years=k)


def data_end(ds: Dataset) -> pd.Timestamp:
    """The last date the data cover: 31 March of the latest collection year read."""
    if ds.collection_end is not None and not pd.isna(ds.collection_end):
        return pd.Timestamp(ds.collection_end)
    ep = ds.episodes
    return max(ep["DECOM"].max(), ep["DEC"].max()) if not ep.empty else pd.NaT


def held(start: pd.Timestamp | None, on: pd.Timestamp) -> bool:
    """Whether data beginning on `start` hold the count of children in care on `on`."""
    return start is None or on >= start - pd.Timedelta(days=1)


def years_held(start: pd.Timestamp | None, at: pd.Timestamp, most: int = 100) -> int:
    """Whole years of data before `at` (`most` if the data's start is not known)."""
    if start is None:
        return most
    n = 0
    while n < most and held(start, years_after(at, -(n + 1))):
        n += 1
    return n


# =========================================================================== what happened


class Observed:
    """Counts of what the data say happened, for any date or year."""

    def __init__(self, ds: Dataset, codes: CodeMap) -> None:
        from .ssda903.episodes import periods, placements

        pl = placements(ds)
        dob = pl["CHILD"].map(ds.header.drop_duplicates("CHILD").set_index("CHILD")["DOB"])
        # the day a placement leaves the count of children in care: its end, or the
        # child's 18th birthday as `in_care` reads ages (age < 18 on the day counted)
        adult = dob + pd.to_timedelta(math.ceil(18 * DAYS_PER_YEAR), unit="D")
        gone = pl["end"].where(pl["end"].notna() & (pl["end"] < adult), adult)
        self.pl = pl.assign(
            dob=dob,
            age_at_start=(pl["start"] - dob).dt.days / DAYS_PER_YEAR,
            gone=gone,
            group=[
                codes.provision(p, q)
                for p, q in zip(pl["PLACE"], pl["PLACE_PROVIDER"], strict=True)
            ],
        )
        per = periods(ds)
        self.per = per[(per["age_at_start"] >= 0) & (per["age_at_start"] < 18)]

    def in_care(self, on: pd.Timestamp) -> tuple[int, dict[str, int], int]:
        """(children in care, children by provision group, children with unmapped codes)."""
        pl = self.pl
        age = (on - pl["dob"]).dt.days / DAYS_PER_YEAR
        active = pl[
            (pl["start"] <= on) & (pl["end"].isna() | (pl["end"] > on)) & (age >= 0) & (age < 18)
        ]
        by = active.dropna(subset=["group"]).groupby("group")["CHILD"].nunique()
        unmapped = int(active.loc[active["group"].isna(), "CHILD"].nunique())
        return int(active["CHILD"].nunique()), {str(k): int(v) for k, v in by.items()}, unmapped

    def entries(self, a: pd.Timestamp, b: pd.Timestamp) -> int:
        """Periods of care that started in (a, b], as the model counts entries."""
        s = self.per["start"]
        return int(((s > a) & (s <= b)).sum())

    def exits(self, a: pd.Timestamp, b: pd.Timestamp) -> int:
        """Periods of care that ended in (a, b], at any age, as the model counts exits."""
        e = self.per["end"]
        return int((e.notna() & (e > a) & (e <= b)).sum())

    def group_flows(
        self, a: pd.Timestamp, b: pd.Timestamp
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Placements starting and ending in (a, b], by provision group.

        Starting: placements of children aged 0 to 17 that began in the year, whether the
        child came into care or moved from another placement. Ending: those placements
        leaving the count of children in care in the year (a move, an exit, or the 18th
        birthday), so that a group's count on b is its count on a plus the one less the
        other.
        """
        pl = self.pl[self.pl["group"].notna() & (self.pl["age_at_start"] >= 0)]
        pl = pl[pl["age_at_start"] < 18]
        began = pl[(pl["start"] > a) & (pl["start"] <= b)]
        ended = pl[pl["gone"].notna() & (pl["gone"] > a) & (pl["gone"] <= b)]
        ended = ended[ended["start"] < ended["gone"]]
        ins = began.groupby("group").size()
        outs = ended.groupby("group").size()
        return (
            {str(k): int(v) for k, v in ins.items()},
            {str(k): int(v) for k, v in outs.items()},
        )


# =========================================================================== references


def same_as_last_year(last: float, horizon: int) -> list[float]:
    """The reference 'same as last year': the last count, for every horizon year."""
    return [float(last)] * horizon


def trend_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """(slope, intercept) of the least-squares line, or None under `TREND_MIN_POINTS`."""
    if len(x) < TREND_MIN_POINTS:
        return None
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(slope), float(intercept)


def linear_trend(x: Sequence[float], y: Sequence[float], horizon: int) -> list[float] | None:
    """The reference 'linear trend' for years 1..horizon (None with too few points)."""
    line = trend_line(x, y)
    if line is None:
        return None
    slope, intercept = line
    return [max(0.0, intercept + slope * k) for k in range(1, horizon + 1)]


def same_flows(
    stock: float, entries: float, exit_ratio: float, horizon: int
) -> tuple[list[float], list[float]]:
    """The reference 'same flows as last year': (stock at each year end, exits each year).

    stock(k) = stock(k-1) + entries - exit_ratio * stock(k-1), never below 0; the year's
    exits are exit_ratio * stock(k-1).
    """
    stocks: list[float] = []
    exits: list[float] = []
    s = float(stock)
    for _ in range(horizon):
        out = exit_ratio * s
        s = max(0.0, s + entries - out)
        exits.append(out)
        stocks.append(s)
    return stocks, exits


@dataclass
class Known:
    """What the data held on T about one measure: its history and the reference forecasts."""

    kind: str  # "stock" (a count on a date) or "flow" (a count in a year)
    x: list[int]  # years relative to T: stocks at T + x, flows in the year ending T + x
    values: list[float]
    references: dict[str, list[float]]  # key of REFERENCES -> value per horizon year


def known_on(
    known: Observed,
    at: dt.date | pd.Timestamp,
    horizon: int,
    years_back: float,
    start: pd.Timestamp | None,
    groups: Sequence[str],
) -> tuple[dict[str, Known], list[str]]:
    """The history and references of every measure, from data known on `at` alone.

    `known` counts the data as they stood on `at` (`truncate`); `start` is the data's
    first 1 April (`data_start`): no count before the data hold it is used. Measures:
    'in_care_total', 'in_care_<group>' for each of `groups`, 'entries', 'exits'. Returns
    them with notes on history and references left out. Raises BacktestError when the
    data hold no whole year before `at` (no flows: nothing to make references from).
    """
    T = pd.Timestamp(at)
    n = max(1, math.floor(years_back + 1e-9))
    want_s = list(range(-n, 1))
    want_f = list(range(-n + 1, 1))  # the year ending T + x
    stock_x = [x for x in want_s if held(start, years_after(T, x))]
    flow_x = [x for x in want_f if held(start, years_after(T, x - 1))]
    if not flow_x:
        begun = "" if start is None else f", but the data begin on {start.date()}"
        raise BacktestError(
            f"a backtest from {T.date()} needs at least a whole year of data before it"
            f"{begun}: choose a later --train-until"
        )
    notes: list[str] = []
    if start is not None and (len(stock_x) < len(want_s) or len(flow_x) < len(want_f)):
        notes.append(
            f"The data begin on {start.date()}: history before then is left out of the "
            "reference forecasts and charts (none is made up)."
        )
    for measures, what, xs in (
        ("children in care", "year-end counts", stock_x),
        ("entries and exits", "year(s) of entries and exits", flow_x),
    ):
        if len(xs) < TREND_MIN_POINTS:
            notes.append(
                f"No linear trend for {measures}: the data hold {len(xs)} {what} up to "
                f"{T.date()}, and a trend needs at least {TREND_MIN_POINTS}."
            )

    def year(k: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        return years_after(T, k - 1), years_after(T, k)

    stocks = {x: known.in_care(years_after(T, x)) for x in stock_x}
    entries = [float(known.entries(*year(x))) for x in flow_x]
    exits = [float(known.exits(*year(x))) for x in flow_x]
    # last year's flows (the year to T is always held: flow_x holds 0)
    before, now = stocks[-1], stocks[0]
    ins, outs = known.group_flows(*year(0))

    def refs(xs: list[int], ys: list[float]) -> dict[str, list[float]]:
        out = {"same_as_last_year": same_as_last_year(ys[-1], horizon)}
        line = linear_trend(xs, ys, horizon)
        if line is not None:
            out["linear_trend"] = line
        return out

    result: dict[str, Known] = {}
    total = [float(stocks[x][0]) for x in stock_x]
    result["in_care_total"] = Known("stock", stock_x, total, refs(stock_x, total))
    flow_ref: tuple[list[float], list[float]] | None = None
    if before[0] > 0:
        flow_ref = same_flows(now[0], entries[-1], exits[-1] / before[0], horizon)
        result["in_care_total"].references["same_flows"] = flow_ref[0]
    else:
        notes.append(
            f"No 'same flows as last year' for the total: no children were in care on "
            f"{years_after(T, -1).date()}, so there is no exit ratio."
        )
    no_ratio = []
    for g in groups:
        ys = [float(stocks[x][1].get(g, 0)) for x in stock_x]
        result[f"in_care_{g}"] = Known("stock", stock_x, ys, refs(stock_x, ys))
        was = before[1].get(g, 0)
        if was > 0:
            result[f"in_care_{g}"].references["same_flows"] = same_flows(
                now[1].get(g, 0), ins.get(g, 0), outs.get(g, 0) / was, horizon
            )[0]
        elif now[1].get(g, 0) >= MIN_CHILDREN:  # (only types scored are worth a note)
            no_ratio.append(g)
    if no_ratio:
        notes.append(
            "No 'same flows as last year' for placement types with no children a year "
            f"before {T.date()} (no exit ratio): {', '.join(no_ratio)}."
        )
    result["entries"] = Known("flow", flow_x, entries, refs(flow_x, entries))
    result["entries"].references["same_flows"] = same_as_last_year(entries[-1], horizon)
    result["exits"] = Known("flow", flow_x, exits, refs(flow_x, exits))
    if flow_ref is not None:
        result["exits"].references["same_flows"] = flow_ref[1]
    for k in result.values():  # the order of REFERENCES, for tables
        k.references = {r: k.references[r] for r in REFERENCES if r in k.references}
    return result, notes


# =========================================================================== results


@dataclass
class Metric:
    """One measure scored over the horizon, with its history and references."""

    key: str
    label: str
    kind: str  # "stock" (a count on a date) or "flow" (a count in a year)
    history_x: list[int]  # years relative to T: stocks at T + x, flows in the year ending T + x
    history: list[float]
    actual: list[float]  # per horizon year 1..H
    sims: np.ndarray  # (reps, H): the model's value for each horizon year
    monthly: np.ndarray | None = None  # (reps, months) for stocks, for the chart
    start: float | None = None  # the model's value at T (stocks)
    # the reference forecasts the data allow, key of REFERENCES -> value per horizon year
    references: dict[str, list[float]] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        """Years forecast and scored."""
        return len(self.actual)

    @property
    def median(self) -> np.ndarray:
        """The simulation's median for each horizon year."""
        return np.percentile(self.sims, 50, axis=0)

    @property
    def p10(self) -> np.ndarray:
        """The 10th percentile of the runs for each horizon year (bottom of the 80% interval)."""
        return np.percentile(self.sims, 10, axis=0)

    @property
    def p90(self) -> np.ndarray:
        """The 90th percentile of the runs for each horizon year (top of the 80% interval)."""
        return np.percentile(self.sims, 90, axis=0)

    @property
    def inside(self) -> list[bool]:
        """For each horizon year, whether what happened fell within the 80% interval."""
        return [
            bool(lo <= a <= hi) for a, lo, hi in zip(self.actual, self.p10, self.p90, strict=True)
        ]

    def reference(self, key: str) -> list[float]:
        """A reference's value for each horizon year (NaN if the data do not allow it)."""
        return self.references.get(key, [math.nan] * self.horizon)

    def trend_at(self, xs: np.ndarray) -> np.ndarray | None:
        """The straight-line reference at the years `xs` relative to T (for the chart)."""
        line = trend_line(self.history_x, self.history)
        if line is None:
            return None
        slope, intercept = line
        return np.maximum(0.0, intercept + slope * np.asarray(xs, float))

    def ape(self, forecast: list[float] | np.ndarray) -> list[float]:
        """Absolute % error per year (NaN where nothing happened: no % of zero)."""
        return [
            abs(f - a) / a * 100 if a > 0 else math.nan
            for f, a in zip(forecast, self.actual, strict=True)
        ]

    def scores(self) -> dict[str, float]:
        """MAPE of the median ('mape_median') and of each reference ('mape_<key>', NaN if
        left out), and the share of years inside the 80% interval ('coverage')."""
        out = {
            "mape_median": _nanmean(self.ape(self.median)),
            "coverage": float(np.mean(self.inside)),
        }
        for r in REFERENCES:
            out[f"mape_{r}"] = _nanmean(self.ape(self.reference(r)))
        return out


def _nanmean(v: list[float]) -> float:
    a = np.asarray(v, float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


@dataclass
class Backtest:
    """A backtest done: the measures scored, the calibration and run behind them, notes."""

    at: dt.date
    horizon: int
    years_back: float
    metrics: list[Metric]
    calibration: Calibration
    scenario_text: str
    results: Results
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def year_end(self, k: int) -> dt.date:
        """The date T + `k` years: the end of horizon year `k` (0 is T itself)."""
        return years_after(pd.Timestamp(self.at), k).date()

    def period(self, k: int) -> str:
        """Horizon year `k` in words, e.g. '01 Apr 2021 to 31 Mar 2022'."""
        a = self.year_end(k - 1) + dt.timedelta(days=1)
        return f"{a:%d %b %Y} to {self.year_end(k):%d %b %Y}"

    def rows(self) -> list[dict[str, Any]]:
        """One row per measure and horizon year, for backtest.csv and the table."""
        out = []
        for m in self.metrics:
            med, lo, hi = m.median, m.p10, m.p90
            ape_m = m.ape(med)
            refs = {r: (m.reference(r), m.ape(m.reference(r))) for r in REFERENCES}
            for k in range(1, m.horizon + 1):
                i = k - 1
                row: dict[str, Any] = {
                    "metric": m.key,
                    "label": m.label,
                    "kind": m.kind,
                    "horizon_year": k,
                    "from": (self.year_end(k - 1) + dt.timedelta(days=1)).isoformat()
                    if m.kind == "flow"
                    else "",
                    "to": self.year_end(k).isoformat(),
                    "actual": m.actual[i],
                    "median": float(med[i]),
                    "p10": float(lo[i]),
                    "p90": float(hi[i]),
                    "inside_80": m.inside[i],
                    "ape_median": ape_m[i],
                }
                for r, (value, ape) in refs.items():
                    row[r] = value[i]
                    row[f"ape_{r}"] = ape[i]
                out.append(row)
        return out


# =========================================================================== the backtest


def _groups(mapping: dict[str, Any], codes: CodeMap, pids: list[str]) -> dict[str, str]:
    """Scenario provision -> the provision its children are counted as in the return."""
    calibrated = set(codes.exact.values()) | set(codes.wild.values())
    out = {}
    for pid in pids:
        group = pid
        if pid not in calibrated:
            first = (mapping.get("provision", {}).get(pid, {}).get("codes") or [None])[0]
            if first:
                place, _, provider = first.partition("/")
                group = codes.provision(place, provider if provider != "*" else "") or pid
        out[pid] = group
    return out


def check_date(at: dt.date) -> None:
    """Refuse a `--train-until` that is not the last day of a month, before any work."""
    from .fit import check_month_end

    check_month_end(at, "--train-until")


def observed_counts(ds: Dataset, template: LoadedScenario, mapping: dict[str, Any]) -> Observed:
    """What the full data say happened, counted with the template's provisions (a rolling
    backtest counts once for every origin)."""
    from .fit import CodeMap

    s = template.model
    return Observed(ds, CodeMap(mapping, list(s.provision), list(s.exits)))


def backtest(
    ds: Dataset,
    at: dt.date,
    template: LoadedScenario,
    mapping: dict[str, Any],
    horizon: int = 2,
    reps: int = 200,
    years_back: float = 3.0,
    seed: int = 20240401,
    workers: int | None = None,
    progress: bool = False,
    yes: bool | None = None,
    observed: Observed | None = None,
    budget_years: float | None = None,
    parameter_uncertainty: bool = True,
) -> Backtest:
    """Calibrate on the data up to `at`, simulate `horizon` years, score against the rest.

    Rates are fitted from `years_back` years, or from the whole years the data hold
    before `at` if fewer (with a note). With `yes` given (the command line), the run's
    memory, disk and time are estimated (for `budget_years` of simulation, default the
    horizon) before it starts and a run beyond the machine refused (see
    `sim.runs.budget.check`). `observed` is `observed_counts(ds, template, mapping)`,
    passed in when several backtests share the data.
    """
    from ..runs.montecarlo import run
    from ..scenario.load import loads
    from ..scenario.write import dumps
    from .fit import CodeMap, calibrate

    check_date(at)
    T = pd.Timestamp(at)
    notes: list[str] = []
    end = data_end(ds)
    need = years_after(T, horizon)
    if pd.isna(end) or end < need:
        shown = "no dates" if pd.isna(end) else f"data up to {end.date()}"
        raise BacktestError(
            f"a {horizon}-year backtest from {at} needs data up to {need.date()}, but the "
            f"files hold {shown}: choose an earlier --train-until or a shorter --horizon"
        )
    start = data_start(ds)
    whole = years_held(start, T)
    if whole < 1:
        raise BacktestError(
            f"a backtest from {at} needs at least a whole year of data before it, but the "
            f"data begin on {cast(pd.Timestamp, start).date()}: choose a later --train-until"
        )
    if years_back > whole:
        notes.append(
            f"The data hold {whole} whole year(s) before {at}: rates were fitted from "
            f"those, not from the {years_back:g} asked for."
        )
        years_back = float(whole)
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    train = truncate(ds, T)
    cal = calibrate(train, at, template, mapping, years_back=years_back)
    name = cal.scenario["scenario"]["name"]
    header = "\n".join(
        [
            name,
            "",
            f"Written by `sufficiency backtest`: calibrated only from the data known on {at}.",
            "Comments say which numbers come from the data and which from the template.",
            "",
            *cal.notes,
        ]
    )
    text = dumps(cal.scenario, cal.comments, header)
    model = loads(text, name="calibrated scenario")
    seconds["calibrate"] = time.perf_counter() - t0

    if yes is not None:
        from ..runs.budget import check, estimate

        est = estimate([model], horizon, reps, workers)
        if budget_years is not None and budget_years > horizon:
            est = dataclasses.replace(est, seconds=est.seconds * budget_years / horizon)
        check(est, yes, fewer="fewer --reps or --horizon")
    t0 = time.perf_counter()
    results = run(
        model,
        years=horizon,
        reps=reps,
        seed=seed,
        workers=workers,
        progress=progress,
        parameter_uncertainty=parameter_uncertainty,
    )
    seconds["simulate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    codes = CodeMap(mapping, list(model.provision), list(model.exits))
    full = observed if observed is not None else Observed(ds, codes)
    known = Observed(train, codes)
    groups = _groups(mapping, codes, list(model.provision))
    order = list(dict.fromkeys(groups.values()))
    past, more = known_on(known, T, horizon, years_back, start, order)
    notes += more
    future = {k: full.in_care(years_after(T, k)) for k in range(1, horizon + 1)}
    ks = range(1, horizon + 1)

    def metric(key: str, label: str, actual: list[float], sims: np.ndarray, **kw: Any) -> Metric:
        p = past[key]
        return Metric(
            key, label, p.kind, p.x, p.values, actual, sims, references=p.references, **kw
        )

    metrics = []
    start_pop = {pid: sum(g.by_age.values()) for pid, g in model.population.items()}
    metrics.append(
        metric(
            "in_care_total",
            "Children in care (all)",
            [future[k][0] for k in ks],
            results.by_year("in_care", "total", how="end"),
            monthly=results.series("in_care", "total"),
            start=float(sum(start_pop.values())),
        )
    )
    on_T = known.in_care(T)
    if on_T[2]:
        notes.append(
            f"{on_T[2]} children in care on {at} had placement codes the code map gives to "
            "no calibrated provision: they are in the actual totals but not in the "
            "simulation's starting population."
        )
    for g in order:
        if on_T[1].get(g, 0) < MIN_CHILDREN:
            continue
        members = [p for p, gg in groups.items() if gg == g]
        # (sums of arrays, added in member order as before: no change to the figures)
        monthly = cast(np.ndarray, sum(results.series("in_care", p) for p in members))
        label = (model.provision[g].label or g) if g in model.provision else g
        metrics.append(
            metric(
                f"in_care_{g}",
                f"In care: {label}",
                [future[k][1].get(g, 0) for k in ks],
                cast(np.ndarray, sum(results.by_year("in_care", p, how="end") for p in members)),
                monthly=monthly,
                start=float(sum(start_pop.get(p, 0) for p in members)),
            )
        )
    small = [g for g in order if 0 < on_T[1].get(g, 0) < MIN_CHILDREN]
    if small:
        notes.append(
            f"Placement types with fewer than {MIN_CHILDREN} children on {at} are not scored "
            f"on their own (too few for a percentage error to mean much): {', '.join(small)}."
        )

    def year(k: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        return years_after(T, k - 1), years_after(T, k)

    metrics.append(
        metric(
            "entries",
            "Children starting care in the year (incl. UASC)",
            [full.entries(*year(k)) for k in ks],
            results.by_year("entries", "all"),
        )
    )
    metrics.append(
        metric(
            "exits",
            "Children leaving care in the year (incl. at 18)",
            [full.exits(*year(k)) for k in ks],
            results.by_year("exits", "total"),
        )
    )
    seconds["score"] = time.perf_counter() - t0
    return Backtest(
        at=at,
        horizon=horizon,
        years_back=years_back,
        metrics=metrics,
        calibration=cal,
        scenario_text=text,
        results=results,
        notes=notes,
        seconds=seconds,
    )
