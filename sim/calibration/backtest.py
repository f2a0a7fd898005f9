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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..common.errors import UserError
from ..common.safe_text import markdown_text, spreadsheet_frame
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
    pass


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


def _years_after(at: pd.Timestamp, k: int) -> pd.Timestamp:
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
        s = self.per["start"]
        return int(((s > a) & (s <= b)).sum())

    def exits(self, a: pd.Timestamp, b: pd.Timestamp) -> int:
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
        return len(self.actual)

    @property
    def median(self) -> np.ndarray:
        return np.percentile(self.sims, 50, axis=0)

    @property
    def p10(self) -> np.ndarray:
        return np.percentile(self.sims, 10, axis=0)

    @property
    def p90(self) -> np.ndarray:
        return np.percentile(self.sims, 90, axis=0)

    @property
    def inside(self) -> list[bool]:
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
        return _years_after(pd.Timestamp(self.at), k).date()

    def period(self, k: int) -> str:
        a = self.year_end(k - 1) + dt.timedelta(days=1)
        return f"{a:%d %b %Y} to {self.year_end(k):%d %b %Y}"

    def rows(self) -> list[dict[str, Any]]:
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
    from .ssda903.read import _year_in_name

    years = [_year_in_name(Path(n).name) for n in ds.files if "episode" in Path(n).name.lower()]
    years = [y for y in years if y is not None]
    return pd.Timestamp(year=min(years) - 1, month=4, day=1) if years else None


def _data_end(ds: Dataset) -> pd.Timestamp:
    if ds.collection_end is not None and not pd.isna(ds.collection_end):
        return pd.Timestamp(ds.collection_end)
    ep = ds.episodes
    return max(ep["DECOM"].max(), ep["DEC"].max()) if not ep.empty else pd.NaT


def check_date(at: dt.date) -> None:
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
    need = _years_after(T, horizon)
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
        keep_s = [x for x in stock_x if _years_after(T, x) >= start - pd.Timedelta(days=1)]
        keep_f = [x for x in flow_x if _years_after(T, x - 1) >= start - pd.Timedelta(days=1)]
        if len(keep_f) < len(flow_x) or len(keep_s) < len(stock_x):
            notes.append(
                f"The data begin on {start.date()}: history before then is left out of the "
                "reference forecasts and charts."
            )
        stock_x, flow_x = keep_s or [0], keep_f or [0]
    stocks = {x: obs.in_care(_years_after(T, x)) for x in sorted(set(stock_x) | {0})}
    future = {k: obs.in_care(_years_after(T, k)) for k in range(1, horizon + 1)}
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
        monthly = sum(results.series("in_care", p) for p in members)
        label = (model.provision[g].label or g) if g in model.provision else g
        metrics.append(
            Metric(
                f"in_care_{g}",
                f"In care: {label}",
                "stock",
                stock_x,
                [stocks[x][1].get(g, 0) for x in stock_x],
                [future[k][1].get(g, 0) for k in ks],
                sum(results.by_year("in_care", p, how="end") for p in members),
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
        return _years_after(T, k - 1), _years_after(T, k)

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


def _count(v: float, k: int) -> str:
    n = round(float(v))
    return f"<{k}" if k and 0 < n < k else f"{n:,}"


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.1f}%"


def summary_table(bt: Backtest) -> list[list[str]]:
    rows = [
        ["metric", "MAPE median", "80% coverage", "MAPE same as last year", "MAPE linear trend"]
    ]
    for m in bt.metrics:
        s = m.scores()
        rows.append(
            [
                m.key,
                _pct(s["mape_median"]),
                f"{sum(m.inside)}/{m.horizon}",
                _pct(s["mape_naive"]),
                _pct(s["mape_trend"]),
            ]
        )
    return rows


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def summary_lines(bt: Backtest) -> list[str]:
    """The short table printed at the end of the command."""
    return _aligned(summary_table(bt))


def _reading(bt: Backtest) -> list[str]:
    """A few plain sentences on what the numbers say."""
    from scipy.stats import binom

    n = sum(m.horizon for m in bt.metrics)
    inside = sum(sum(m.inside) for m in bt.metrics)
    lo, hi = binom.ppf(0.05, n, 0.8) / n, binom.isf(0.05, n, 0.8) / n
    wins = {"the simulation": 0, "same as last year": 0, "the linear trend": 0}
    for m in bt.metrics:
        s = m.scores()
        options = {
            "the simulation": s["mape_median"],
            "same as last year": s["mape_naive"],
            "the linear trend": s["mape_trend"],
        }
        finite = {k: v for k, v in options.items() if np.isfinite(v)}
        if finite:
            wins[min(finite, key=lambda k: finite[k])] += 1
    total = bt.metrics[0].scores()
    lines = [
        f"- What really happened fell inside the simulation's 80% range in {inside} of {n} "
        f"comparisons ({inside / n:.0%}). Were the ranges right, 9 backtests in 10 would "
        f"score between {lo:.0%} and {hi:.0%} (a wider spread still, as the comparisons "
        "are related: the placement types add up to the total, year 2 follows year 1).",
        f"- Children in care: the simulation's median was off by "
        f"{_pct(total['mape_median'])} on average over the {bt.horizon} year(s), against "
        f"{_pct(total['mape_naive'])} for 'same as last year' and "
        f"{_pct(total['mape_trend'])} for a straight-line trend.",
        f"- Of the {len(bt.metrics)} measures, the most accurate central forecast was "
        + ", ".join(
            f"{k}'s for {v}" if k == "the simulation" else f"{k} for {v}" for k, v in wins.items()
        )
        + ".",
    ]
    missed = [m.label for m in bt.metrics if not any(m.inside)]
    if missed:
        lines.append(
            "- Outside the range in every year: " + "; ".join(missed) + ". Look at what the "
            "calibrated scenario assumes there (calibration.md, and the comments in "
            "scenario.toml): capacity, offer probabilities and needs come from the "
            "template, not from the data."
        )
    lines.append(
        "- This is one backtest from one date: a handful of comparisons, so differences of "
        "a few percentage points between methods are noise. The simulation's range shows "
        "chance only, not the uncertainty of rates fitted from a few years of data, nor "
        "changes (in policy, the market, or who comes into care) the data could not "
        "foresee: on real data expect it to hold the actual less often than 8 times in 10."
    )
    return lines


def write_markdown(bt: Backtest, path: Path, k: int) -> None:
    r = bt.results
    lines = [
        f"# Backtest from {bt.at}",
        "",
        f"A scenario was calibrated from only the SSDA903 data known on {bt.at} (rates "
        f"from the {bt.years_back:g} years before it), simulated {r.reps} times for "
        f"{bt.horizon} year(s), and set against what the full data say happened. "
        "Each forecast is the median of the runs with the range 8 runs in 10 fell within "
        "(10th to 90th percentile). Two forecasts made without a model are scored the same "
        "way: **same as last year** (the count on the date, or in the year to it) and a "
        "**linear trend** (a least-squares line through the yearly figures up to the date).",
        "",
        "MAPE is the mean absolute percentage error over the horizon years: lower is "
        "better. Coverage is how many years the actual fell inside the 80% range.",
        "",
    ]
    if k:
        lines += [
            f"Counts of children under {k} are shown as `<{k}`, and their percentage errors "
            "are left blank (they would give the count away).",
            "",
        ]
    lines += ["## Summary", ""]
    table = summary_table(bt)
    lines.append("| " + " | ".join(table[0]) + " |")
    lines.append("|---|" + "---:|" * (len(table[0]) - 1))
    labels = {m.key: markdown_text(m.label) for m in bt.metrics}
    for row in table[1:]:
        lines.append("| " + " | ".join([labels[row[0]], *row[1:]]) + " |")
    lines += ["", "## Reading", "", *_reading(bt), ""]
    if bt.notes:
        lines += ["## Notes", "", *[f"- {markdown_text(n)}" for n in bt.notes], ""]
    for m in bt.metrics:
        lines += [f"## {markdown_text(m.label)}", ""]
        what = "on the date" if m.kind == "stock" else "in the year to the date"
        lines += [
            f"| year to | actual ({what}) | simulation median (80% range) | inside? "
            "| error | same as last year (error) | linear trend (error) |",
            "|---|---:|---:|:-:|---:|---:|---:|",
        ]
        med, lo, hi = m.median, m.p10, m.p90
        ape_m, ape_n, ape_t = m.ape(med), m.ape(m.naive), m.ape(m.trend)
        for i in range(m.horizon):
            hidden = bool(k) and 0 < m.actual[i] < k  # an error would give the count away
            e_m, e_n, e_t = (
                ("", "", "") if hidden else (_pct(ape_m[i]), _pct(ape_n[i]), _pct(ape_t[i]))
            )
            lines.append(
                f"| {bt.year_end(i + 1)} | {_count(m.actual[i], k)} | "
                f"{med[i]:,.0f} ({lo[i]:,.0f}{DASH}{hi[i]:,.0f}) | "
                f"{'yes' if m.inside[i] else 'no'} | {e_m} | "
                f"{_count(m.naive[i], k)} ({e_n}) | {m.trend[i]:,.0f} ({e_t}) |"
            )
        hist = ", ".join(
            f"{bt.year_end(x)}: {_count(v, k)}" for x, v in zip(m.history_x, m.history, strict=True)
        )
        s = m.scores()
        lines += [
            "",
            f"Before {bt.at} ({'on each date' if m.kind == 'stock' else 'year to each date'}): "
            f"{hist}.",
            "",
            f"Over {m.horizon} year(s): MAPE of the median {_pct(s['mape_median'])}, "
            f"{sum(m.inside)} of {m.horizon} inside the 80% range; same as last year "
            f"{_pct(s['mape_naive'])}, linear trend {_pct(s['mape_trend'])}.",
            "",
            f"![{markdown_text(m.label)}](backtest_{m.key}.png)",
            "",
        ]
    lines += [
        "## Files",
        "",
        "- `backtest.csv`: every metric and horizon year, with the actual, the simulation's "
        "median and 10th/90th percentiles, the reference forecasts and every error. Counts "
        "are not suppressed there, nor in the charts: share this page, not those.",
        "- `scenario.toml`: the scenario calibrated from the data up to the date "
        f"(`sufficiency run scenario.toml --years {bt.horizon} --reps {r.reps} --seed {r.seed}` "
        "repeats the simulation exactly).",
        "- `calibration.md`: what was fitted, with intervals.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_csv(bt: Backtest, path: Path) -> None:
    """backtest.csv: every metric and horizon year; labels can never start a formula."""
    df = pd.DataFrame(bt.rows())
    spreadsheet_frame(df).to_csv(path, index=False, float_format="%.4g")


def _chart(bt: Backtest, m: Metric, path: Path) -> None:
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    T = pd.Timestamp(bt.at)
    colour = "#332288"

    def date(x: float) -> np.datetime64:
        return np.datetime64(_years_after(T, int(x)).date(), "D")

    fig = Figure(figsize=(8, 4.5), dpi=120)
    ax = fig.add_subplot()
    hx = [date(x) for x in m.history_x]
    fx = [date(k) for k in range(1, m.horizon + 1)]
    if m.kind == "stock" and m.monthly is not None:
        months = m.monthly.shape[1]
        first = (T + pd.Timedelta(days=1)).date()
        ends = [
            np.datetime64(
                (pd.Timestamp(first) + pd.DateOffset(months=i + 1) - pd.Timedelta(days=1)).date(),
                "D",
            )
            for i in range(months)
        ]
        x = np.array([np.datetime64(T.date(), "D"), *ends])
        q = np.percentile(m.monthly, [10, 50, 90], axis=0)
        q = np.concatenate([np.full((3, 1), m.start or 0.0), q], axis=1)
        ax.fill_between(
            x, q[0], q[2], color=colour, alpha=0.22, linewidth=0, label=f"simulation 10{DASH}90%"
        )
        ax.plot(x, q[1], color=colour, linewidth=2, label="simulation median")
    else:
        med, lo, hi = m.median, m.p10, m.p90
        if m.horizon > 1:
            ax.fill_between(
                fx, lo, hi, color=colour, alpha=0.22, linewidth=0, label=f"simulation 10{DASH}90%"
            )
        ax.errorbar(
            fx,
            med,
            yerr=[med - lo, hi - med],
            fmt="s-",
            color=colour,
            capsize=4,
            linewidth=2,
            label="simulation median" + (f" (10{DASH}90%)" if m.horizon == 1 else ""),
        )
    ref_x = [date(0), *fx]
    last = m.history[-1]
    ax.plot(
        ref_x,
        [last] * len(ref_x),
        linestyle="--",
        color="#CC6677",
        linewidth=1.5,
        label="same as last year",
    )
    trend = m.trend_at(np.arange(0, m.horizon + 1, dtype=float))
    ax.plot(ref_x, trend, linestyle="--", color="#117733", linewidth=1.5, label="linear trend")
    if len(m.history_x) > 1:
        ax.plot(
            hx,
            m.trend_at(np.asarray(m.history_x, float)),
            linestyle=":",
            color="#117733",
            linewidth=1,
        )
    ax.plot(hx + fx, [*m.history, *m.actual], color="#999999", linewidth=1, zorder=2)
    ax.plot(hx, m.history, "o", color="#777777", label="actual (before the date)", zorder=3)
    ax.plot(fx, m.actual, "o", color="#000000", markersize=7, label="actual (horizon)", zorder=4)
    ax.axvline(np.datetime64(T.date(), "D"), color="#bbbbbb", linewidth=1)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("end of the year counted" if m.kind == "flow" else "date of the count")
    ax.set_ylabel("children in care" if m.kind == "stock" else "children in the year")
    ax.set_title(f"{m.label}: backtest from {bt.at}", loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=8, loc="lower left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, facecolor="white")


def write_outputs(bt: Backtest, folder: Path, suppress_below: int = 5) -> None:
    """Write everything into `folder` (which must exist)."""
    from ..reports.calibration import write_report

    k = max(0, int(suppress_below))
    write_csv(bt, folder / "backtest.csv")
    write_markdown(bt, folder / "backtest.md", k)
    for m in bt.metrics:
        _chart(bt, m, folder / f"backtest_{m.key}.png")
    (folder / "scenario.toml").write_text(bt.scenario_text, encoding="utf-8")
    write_report(bt.calibration, folder, bt.calibration.scenario["scenario"]["name"], k)


def backtest_files(
    data: Path | str,
    at: dt.date,
    out: Path | str,
    horizon: int = 2,
    reps: int = 200,
    years_back: float = 3.0,
    template: Path | str | None = None,
    map_path: Path | None = None,
    seed: int = 20240401,
    workers: int | None = None,
    suppress_below: int = 5,
    force: bool = False,
    progress: bool = False,
    messages: Any = None,
    yes: bool | None = None,
) -> Backtest:
    """Read, backtest and write the output folder (whole or not at all)."""
    from ..common.outputs import atomic_path, check_free
    from ..scenario.load import load
    from .fit import DEFAULT_TEMPLATE, read_map
    from .ssda903.read import read_903

    out = check_free(out, force)
    check_date(at)
    tpl = load(template or DEFAULT_TEMPLATE)
    mapping = read_map(map_path)
    t0 = time.perf_counter()
    ds = read_903(data)
    read_s = time.perf_counter() - t0
    if (ds.problems or ds.skipped) and messages is not None:
        print(ds.summary(), file=messages)
    bt = backtest(
        ds,
        at,
        tpl,
        mapping,
        horizon=horizon,
        reps=reps,
        years_back=years_back,
        seed=seed,
        workers=workers,
        progress=progress,
        yes=yes,
    )
    bt.seconds = {"read": read_s, **bt.seconds}
    t0 = time.perf_counter()
    with atomic_path(out, force=force) as tmp:
        write_outputs(bt, tmp, suppress_below)
    bt.seconds["write"] = time.perf_counter() - t0
    return bt
