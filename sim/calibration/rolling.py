"""Rolling-origin backtests: a backtest from every 31 March the data allow, pooled.

One backtest scores a handful of comparisons; a rolling-origin backtest repeats it from
every origin T that is a 31 March with at least a whole year of data before it (to fit
and to make the references from) and at least a whole year after it (to score), and
scores each origin at horizons 1 to `horizon` years, as far as the data after it reach.
Each origin is `sim.calibration.backtest.backtest` itself: calibrated only from the data
known on T, simulated, and set beside what happened and the references (`REFERENCES`).

The results are a tidy table (`Rolling.points`: one row per origin, horizon year and
measure, with the actual, the simulation's median and 10th/90th percentiles and each
reference's value) and its summary (`summarise`: for each horizon and measure, over all
origins, the mean absolute % error (MAPE) and the mean signed % error (bias: above 0 is
a forecast too high) of the simulation's median and of each reference, and the share of
actuals inside the simulation's 80% interval).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import pandas as pd

from .backtest import (
    REFERENCES,
    BacktestError,
    backtest,
    data_end,
    observed_counts,
    years_after,
)
from .ssda903.read import data_start

if TYPE_CHECKING:
    from ..scenario.load import LoadedScenario
    from .ssda903.read import Dataset

#: longest horizon a rolling backtest scores by default (years)
HORIZON = 3
#: the forecasts scored: "median" (the simulation's) and each reference
FORECASTS = ["median", *REFERENCES]
#: columns of `Rolling.points`, in order
POINT_COLUMNS = [
    "origin",
    "horizon",
    "measure",
    "label",
    "kind",
    "from",
    "to",
    "actual",
    "median",
    "p10",
    "p90",
    "inside_80",
    *REFERENCES,
]


def origins(
    start: pd.Timestamp | None, end: pd.Timestamp, horizon: int = HORIZON
) -> list[tuple[dt.date, int]]:
    """(origin, years scored) for every 31 March the data from `start` to `end` allow.

    `start` is the data's first 1 April (`data_start`), `end` the last date they cover
    (`data_end`). An origin needs a whole year of data before it and one after it; it is
    scored at min(`horizon`, whole years of data after it) years.
    """
    if start is None or pd.isna(end):
        return []
    first = pd.Timestamp(year=start.year + 1, month=3, day=31)  # a year after start - 1 day
    out = []
    t = first
    while years_after(t, 1) <= end:
        years = max(k for k in range(1, horizon + 1) if years_after(t, k) <= end)
        out.append((t.date(), years))
        t = years_after(t, 1)
    return out


@dataclass
class Rolling:
    """A rolling-origin backtest done: every point scored and the summary over origins."""

    horizon: int
    reps: int
    years_back: float
    seed: int
    origins: list[tuple[dt.date, int]]
    points: pd.DataFrame  # POINT_COLUMNS: one row per origin x horizon year x measure
    summary: pd.DataFrame  # `summarise(points)`
    notes: dict[dt.date, list[str]] = field(default_factory=dict)  # each origin's notes
    seconds: dict[str, float] = field(default_factory=dict)


def rolling_backtest(
    ds: Dataset,
    template: LoadedScenario,
    mapping: dict[str, Any],
    horizon: int = HORIZON,
    reps: int = 200,
    years_back: float = 3.0,
    seed: int = 20240401,
    workers: int | None = None,
    yes: bool | None = None,
    messages: TextIO | None = None,
    parameter_uncertainty: bool = True,
) -> Rolling:
    """Backtest from every origin the data allow (`origins`) and pool the scores.

    Every origin uses the same `seed` (so any one is repeated by `backtest` with the same
    arguments). Progress, an origin a line, goes to `messages` (e.g. stderr). With `yes`
    given, the whole run's time is estimated before the first simulation (see
    `sim.runs.budget.check`).
    """
    todo = origins(data_start(ds), data_end(ds), horizon)
    if not todo:
        raise BacktestError(
            "a rolling backtest needs at least one 31 March with a whole year of data "
            "before it and a whole year after it: these data hold less than two years"
        )
    started = time.perf_counter()
    observed = observed_counts(ds, template, mapping)
    budget = float(sum(h for _, h in todo))
    frames, notes = [], {}
    seconds: dict[str, float] = {}
    for i, (at, years) in enumerate(todo):
        t0 = time.perf_counter()
        if messages is not None:
            print(
                f"origin {i + 1} of {len(todo)}: {at}, scored at {years} year(s)...",
                file=messages,
                flush=True,
            )
        bt = backtest(
            ds,
            at,
            template,
            mapping,
            horizon=years,
            reps=reps,
            years_back=years_back,
            seed=seed,
            workers=workers,
            yes=yes if i == 0 else None,
            observed=observed,
            budget_years=budget,
            parameter_uncertainty=parameter_uncertainty,
        )
        frame = pd.DataFrame(bt.rows()).rename(
            columns={"metric": "measure", "horizon_year": "horizon"}
        )
        frame.insert(0, "origin", at.isoformat())
        frames.append(frame[POINT_COLUMNS])
        notes[at] = bt.notes
        for k, v in bt.seconds.items():
            seconds[k] = seconds.get(k, 0.0) + v
        if messages is not None:
            print(
                f"origin {i + 1} of {len(todo)}: {at} done in {time.perf_counter() - t0:.1f} s",
                file=messages,
                flush=True,
            )
    points = pd.concat(frames, ignore_index=True)
    seconds["total"] = time.perf_counter() - started
    return Rolling(
        horizon=horizon,
        reps=reps,
        years_back=years_back,
        seed=seed,
        origins=todo,
        points=points,
        summary=summarise(points),
        notes=notes,
        seconds=seconds,
    )


# =========================================================================== the summary


def percent_errors(forecast: pd.Series, actual: pd.Series) -> pd.Series:
    """Signed % error of each forecast, (forecast - actual) / actual x 100; NaN where the
    actual is 0 (no % of nothing) or the forecast is missing."""
    a = actual.astype(float)
    return ((forecast.astype(float) - a) / a * 100).where(a > 0)


def summarise(points: pd.DataFrame) -> pd.DataFrame:
    """For each horizon and measure, over every origin: the scores of each forecast.

    Columns: horizon, measure, label, points (origins scored), coverage (share of actuals
    within the simulation's 10th to 90th percentile), and for each forecast in
    `FORECASTS` ("median" is the simulation's): points_<f> (points with both a forecast
    and an actual above 0), mape_<f> (mean absolute % error), bias_<f> (mean signed %
    error, above 0 = too high); best: the forecast with the smallest MAPE over the points
    every forecast has (best_points of them), "" if there are none.
    """
    rows = []
    measures = list(dict.fromkeys(points["measure"]))
    for (h, measure), g in sorted(
        points.groupby(["horizon", "measure"], sort=False),
        key=lambda kv: (kv[0][0], measures.index(kv[0][1])),
    ):
        row: dict[str, Any] = {
            "horizon": int(h),
            "measure": measure,
            "label": g["label"].iloc[0],
            "points": len(g),
            "coverage": float(g["inside_80"].astype(bool).mean()),
        }
        errors = {f: percent_errors(g[f], g["actual"]) for f in FORECASTS if f in g}
        for f in FORECASTS:
            e = errors.get(f, pd.Series([], dtype=float)).dropna()
            row[f"points_{f}"] = len(e)
            row[f"mape_{f}"] = float(e.abs().mean()) if len(e) else math.nan
            row[f"bias_{f}"] = float(e.mean()) if len(e) else math.nan
        common = pd.concat(errors.values(), axis=1).notna().all(axis=1)
        paired = {f: float(e[common].abs().mean()) for f, e in errors.items()}
        row["best"] = min(paired, key=lambda f: paired[f]) if common.any() else ""
        row["best_points"] = int(common.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def best_counts(summary: pd.DataFrame, horizon: int) -> dict[str, int]:
    """How many measures each forecast was the most accurate for at `horizon` years."""
    best = summary.loc[summary["horizon"] == horizon, "best"]
    return {f: int((best == f).sum()) for f in FORECASTS}
