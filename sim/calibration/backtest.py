"""backtest: would the simulation have forecast what really happened?

Pretend it is `train_until` (T): keep only what the SSDA903 return knew on that date,
calibrate a scenario from it, simulate `horizon` years from T, and set the forecast beside
what the full data say happened at each year end T + k years (children in care, in total
and by placement type) and in each year (children starting and leaving care). Two
forecasts a commissioner could make without a model are scored the same way: "same as
last year" and a straight line through the last few years.

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

The simulation's 80% interval (10th to 90th percentile of its runs) shows chance only,
not the uncertainty of the rates fitted from a few years of data, nor change the data
cannot foresee; coverage below 80% on real data measures how much that matters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..common.errors import UserError
from ..scenario.ages import DAYS_PER_YEAR
from .ssda903.read import Dataset

if TYPE_CHECKING:
    from ..runs.montecarlo import Results
    from ..scenario.load import LoadedScenario
    from .fit import Calibration, CodeMap

#: a placement type is scored only if at least this many children were placed there at T
MIN_CHILDREN = 5
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


# =========================================================================== what happened


def years_after(at: pd.Timestamp, k: int) -> pd.Timestamp:
    """The date `k` whole years after `at` (29 February becomes 28 February)."""
    return pd.Timestamp(at) + pd.DateOffset(years=k)


class Observed:
    """Counts of what the (full) data say happened, for any date or year."""

    def __init__(self, ds: Dataset, codes: CodeMap) -> None:
        from .ssda903.episodes import periods, placements

        pl = placements(ds)
        dob = ds.header.drop_duplicates("CHILD").set_index("CHILD")["DOB"]
        self.pl = pl.assign(
            dob=pl["CHILD"].map(dob),
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

    @property
    def naive(self) -> list[float]:
        """Same as last year: the count at T (stocks) or in the year to T (flows)."""
        return [float(self.history[-1])] * self.horizon

    @property
    def trend(self) -> list[float]:
        """Least-squares line through the history, extrapolated (never below 0)."""
        x, y = np.asarray(self.history_x, float), np.asarray(self.history, float)
        if len(x) < 2:
            return self.naive
        slope, intercept = np.polyfit(x, y, 1)
        return [max(0.0, float(intercept + slope * k)) for k in range(1, self.horizon + 1)]

    def trend_at(self, xs: np.ndarray) -> np.ndarray:
        """The straight-line reference at the years `xs` relative to T (for the chart)."""
        x, y = np.asarray(self.history_x, float), np.asarray(self.history, float)
        if len(x) < 2:
            return np.full(len(xs), y[-1])
        slope, intercept = np.polyfit(x, y, 1)
        return np.maximum(0.0, intercept + slope * xs)

    def ape(self, forecast: list[float] | np.ndarray) -> list[float]:
        """Absolute % error per year (NaN where nothing happened: no % of zero)."""
        return [
            abs(f - a) / a * 100 if a > 0 else math.nan
            for f, a in zip(forecast, self.actual, strict=True)
        ]

    def scores(self) -> dict[str, float]:
        """Mean absolute % error of the median and of the two references, and coverage."""
        return {
            "mape_median": _nanmean(self.ape(self.median)),
            "coverage": float(np.mean(self.inside)),
            "mape_naive": _nanmean(self.ape(self.naive)),
            "mape_trend": _nanmean(self.ape(self.trend)),
        }


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
            naive, trend = m.naive, m.trend
            ape_m, ape_n, ape_t = m.ape(med), m.ape(naive), m.ape(trend)
            for k in range(1, m.horizon + 1):
                i = k - 1
                out.append(
                    {
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
                        "same_as_last_year": naive[i],
                        "ape_same_as_last_year": ape_n[i],
                        "linear_trend": trend[i],
                        "ape_linear_trend": ape_t[i],
                    }
                )
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


def _data_start(ds: Dataset) -> pd.Timestamp | None:
    """1 April of the first collection year whose Episodes file is read, if names say."""
    from .ssda903.read import year_in_name

    named = [year_in_name(Path(n).name) for n in ds.files if "episode" in Path(n).name.lower()]
    years = [y for y in named if y is not None]
    return pd.Timestamp(year=min(years) - 1, month=4, day=1) if years else None


def _data_end(ds: Dataset) -> pd.Timestamp:
    if ds.collection_end is not None and not pd.isna(ds.collection_end):
        return pd.Timestamp(ds.collection_end)
    ep = ds.episodes
    return max(ep["DECOM"].max(), ep["DEC"].max()) if not ep.empty else pd.NaT


def check_date(at: dt.date) -> None:
    """Refuse a `--train-until` that is not the last day of a month, before any work."""
    from .fit import check_month_end

    check_month_end(at, "--train-until")


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
) -> Backtest:
    """Calibrate on the data up to `at`, simulate `horizon` years, score against the rest.

    With `yes` given (the command line), the run's memory, disk and time are estimated
    before it starts and a run beyond the machine refused (see `sim.runs.budget.check`).
    """
    from ..runs.montecarlo import run
    from ..scenario.load import loads
    from ..scenario.write import dumps
    from .fit import CodeMap, calibrate

    check_date(at)
    T = pd.Timestamp(at)
    notes: list[str] = []
    end = _data_end(ds)
    need = years_after(T, horizon)
    if pd.isna(end) or end < need:
        shown = "no dates" if pd.isna(end) else f"data up to {end.date()}"
        raise BacktestError(
            f"a {horizon}-year backtest from {at} needs data up to {need.date()}, but the "
            f"files hold {shown}: choose an earlier --train-until or a shorter --horizon"
        )
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

        check(estimate([model], horizon, reps, workers), yes, fewer="fewer --reps or --horizon")
    t0 = time.perf_counter()
    results = run(model, years=horizon, reps=reps, seed=seed, workers=workers, progress=progress)
    seconds["simulate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    codes = CodeMap(mapping, list(model.provision), list(model.exits))
    obs = Observed(ds, codes)
    groups = _groups(mapping, codes, list(model.provision))

    n_hist = max(1, math.floor(years_back + 1e-9))
    start = _data_start(ds)
    stock_x = [-j for j in range(n_hist, -1, -1)]
    flow_x = [-j for j in range(n_hist - 1, -1, -1)]  # the year ending T + x
    if start is not None:
        keep_s = [x for x in stock_x if years_after(T, x) >= start - pd.Timedelta(days=1)]
        keep_f = [x for x in flow_x if years_after(T, x - 1) >= start - pd.Timedelta(days=1)]
        if len(keep_f) < len(flow_x) or len(keep_s) < len(stock_x):
            notes.append(
                f"The data begin on {start.date()}: history before then is left out of the "
                "reference forecasts and charts."
            )
        stock_x, flow_x = keep_s or [0], keep_f or [0]
    stocks = {x: obs.in_care(years_after(T, x)) for x in sorted(set(stock_x) | {0})}
    future = {k: obs.in_care(years_after(T, k)) for k in range(1, horizon + 1)}
    ks = range(1, horizon + 1)

    metrics = []
    start_pop = {pid: sum(g.by_age.values()) for pid, g in model.population.items()}
    metrics.append(
        Metric(
            "in_care_total",
            "Children in care (all)",
            "stock",
            stock_x,
            [stocks[x][0] for x in stock_x],
            [future[k][0] for k in ks],
            results.by_year("in_care", "total", how="end"),
            results.series("in_care", "total"),
            float(sum(start_pop.values())),
        )
    )
    unmapped = stocks[0][2]
    if unmapped:
        notes.append(
            f"{unmapped} children in care on {at} had placement codes the code map gives to "
            "no calibrated provision: they are in the actual totals but not in the "
            "simulation's starting population."
        )
    order = list(dict.fromkeys(groups.values()))
    for g in order:
        if stocks[0][1].get(g, 0) < MIN_CHILDREN:
            continue
        members = [p for p, gg in groups.items() if gg == g]
        # (sums of arrays, added in member order as before: no change to the figures)
        monthly = cast(np.ndarray, sum(results.series("in_care", p) for p in members))
        label = (model.provision[g].label or g) if g in model.provision else g
        metrics.append(
            Metric(
                f"in_care_{g}",
                f"In care: {label}",
                "stock",
                stock_x,
                [stocks[x][1].get(g, 0) for x in stock_x],
                [future[k][1].get(g, 0) for k in ks],
                cast(np.ndarray, sum(results.by_year("in_care", p, how="end") for p in members)),
                monthly,
                float(sum(start_pop.get(p, 0) for p in members)),
            )
        )
    small = [g for g in order if 0 < stocks[0][1].get(g, 0) < MIN_CHILDREN]
    if small:
        notes.append(
            f"Placement types with fewer than {MIN_CHILDREN} children on {at} are not scored "
            f"on their own (too few for a percentage error to mean much): {', '.join(small)}."
        )

    def year(k: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        return years_after(T, k - 1), years_after(T, k)

    metrics.append(
        Metric(
            "entries",
            "Children starting care in the year (incl. UASC)",
            "flow",
            flow_x,
            [obs.entries(*year(x)) for x in flow_x],
            [obs.entries(*year(k)) for k in ks],
            results.by_year("entries", "all"),
        )
    )
    metrics.append(
        Metric(
            "exits",
            "Children leaving care in the year (incl. at 18)",
            "flow",
            flow_x,
            [obs.exits(*year(x)) for x in flow_x],
            [obs.exits(*year(k)) for k in ks],
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


# =========================================================================== outputs
