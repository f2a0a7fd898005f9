"""Compare commissioning options with the baseline, replication by replication.

A board chooses between options, so one forecast is not enough: each option is run with
the same master seed as the baseline (common random numbers), and replication i of an
option is compared with replication i of the baseline (the first scenario). The paired
difference then measures the option, not the luck of the draw.

    from .compare import compare, Comparison, METRICS
    cmp = compare([baseline, option_a, option_b], years=5, reps=500, seed=20240401,
                  workers=None, progress=None, engine="local", scheduler=None,
                  rank_by=("net_cost", "unmet_child_days"))

Comparison fields (the Excel, HTML and notebook code is written against these names):
    names: list[str]              scenario names, baseline first
    results: list[Results]        one montecarlo.Results per scenario (same order)
    periods: list[str]            year labels "2025/26", ..., then "All 5 years"
    reps: int
    values: dict[str, np.ndarray] metric -> (n_options, reps, n_periods) array of each
                                  replication's value; the last period is the whole horizon
    option_costs: list[list[OptionCost]]  the option's own costs as read (per scenario)
    summary: pd.DataFrame         tidy: option, metric, period, baseline_median,
                                  option_median, diff_median, diff_p5, diff_p95,
                                  prob_better (share of replications where the option is
                                  strictly better than the baseline), one row per
                                  non-baseline option x metric x period
    break_even: pd.DataFrame      option, median_year, p5_year, p95_year,
                                  prob_within_horizon (year labels or "not within N years")
    ranking: pd.DataFrame         option, one column per rank_by criterion (its paired
                                  median difference), rank_<criterion>, overall_rank
    sentences: list[str]          one plain-language sentence per non-baseline option
    suppress_below: int           applied by the writers, never to the arrays
    def diff(metric) -> np.ndarray  (n_options, reps, n_periods): option minus baseline,
                                  paired; row 0 is all zeros
    and, for the reports: years, seed, start_date, files, wall_seconds, rank_by, months.

METRICS: dict[str, Metric] with Metric(label, unit, better, sheet, short) where unit is
one of "money", "children", "child-days", "percent", better is "lower" or "higher", sheet
is the workbook's sheet name (at most 31 characters) and short the name in a sentence.

Ranking (`rank_rule` says it in one sentence): each scenario is ranked on each criterion
(1 is best); the overall order is by the sum of those ranks, a tie broken by the median
difference on the first criterion, then the next; only scenarios equal on all of these
share a rank.

Year labels are financial years ("2023/24") when the scenario starts on 1 April, and
"Jul 2023 to Jun 2024" otherwise; a part year at the end says how many months it has.

Break-even: the net saving of a year is the baseline's net cost minus the option's. An
option breaks even in the first year from which its cumulative net saving stays at or
above zero to the end of the horizon (so a saving in year 1 followed by capital spent in
year 2 does not count as breaking even in year 1). Replications that never do are "not
within N years"; the median and 5-95% range are of the per-replication years.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shlex
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import __version__
from ..common.errors import ScenarioError, UserError
from ..common.outputs import atomic_path
from ..common.safe_text import markdown_block, markdown_text, spreadsheet_frame
from ..engine.calendar import add_months
from ..reports.presentation import (
    all_hidden,
    all_hidden_text,
    change_text,
    difference_hidden,
    difference_rule,
    duration,
    hidden_difference_text,
    level_text,
)
from ..scenario.load import LoadedScenario, load
from ..scenario.schema import OptionCost, Scenario

if TYPE_CHECKING:
    from .montecarlo import Results


@dataclass(frozen=True)
class Metric:
    """One measure an option is judged on, and which direction is better."""

    label: str
    unit: str  # "money", "children", "child-days" or "percent"
    better: str  # "lower" or "higher"
    #: The workbook sheet's name: fixed and short, as Excel cuts names at 31 characters.
    sheet: str = ""
    #: The measure inside a sentence ("net cost"), e.g. the ranking rule.
    short: str = ""


METRICS: dict[str, Metric] = {
    "net_cost": Metric(
        "Net cost: placements plus the option's own costs", "money", "lower",
        "Net cost", "net cost",
    ),
    "placement_cost": Metric(
        "Cost of placements", "money", "lower", "Placement cost", "cost of placements"
    ),
    "option_cost": Metric(
        "The option's own costs", "money", "lower", "Own costs", "the option's own costs"
    ),
    "unmet_children": Metric(
        "Children not suitably placed (average of month ends)", "children", "lower",
        "Children not placed", "children not suitably placed",
    ),
    "unmet_child_days": Metric(
        "Child-days not suitably placed", "child-days", "lower",
        "Child-days not placed", "child-days not suitably placed",
    ),
    "pct_in_area": Metric(
        "% of children in care placed in area (average of month ends)", "percent", "higher",
        "Placed in area", "% placed in area",
    ),
    "children_3plus": Metric(
        "Children with 3 or more placements in the year", "children", "lower",
        "3+ placements", "children with 3+ placements",
    ),
}  # fmt: skip

#: Units counted in children (or their days): shown as "<K" below K when published.
COUNT_METRIC_UNITS = ("children", "child-days")
SUMMARY_COLUMNS = [
    "option",
    "metric",
    "period",
    "baseline_median",
    "option_median",
    "diff_median",
    "diff_p5",
    "diff_p95",
    "prob_better",
]
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten")  # fmt: skip


@dataclass
class Comparison:
    """Every option run with the baseline's seed, and their paired differences."""

    names: list[str]
    results: list[Results]
    periods: list[str]
    reps: int
    values: dict[str, np.ndarray]
    option_costs: list[list[OptionCost]]
    summary: pd.DataFrame
    break_even: pd.DataFrame
    ranking: pd.DataFrame
    sentences: list[str]
    suppress_below: int = 0
    years: float = 5
    seed: int = 20240401
    start_date: dt.date | None = None
    files: list[Path | None] = field(default_factory=list)
    wall_seconds: float = 0.0
    rank_by: tuple[str, ...] = ("net_cost", "unmet_child_days")
    months: int = 60

    def diff(self, metric: str) -> np.ndarray:
        """(n_options, reps, n_periods): option minus baseline, replication by replication."""
        v = self.values[_known_metric(metric)]
        return v - v[0:1]

    def hides_difference(self, i: int, metric: str, period: int = -1) -> bool:
        """Whether option i's difference from the baseline in `metric` must not be shown.

        Only counts of children (and child-days) are ever hidden: when the baseline's or
        the option's median in that period is between 1 and K-1 (`difference_hidden`).
        """
        unit = METRICS[metric].unit
        if i == 0 or unit not in COUNT_METRIC_UNITS or self.suppress_below <= 0:
            return False  # (the baseline's own change is 0 by definition: it tells nothing)
        v = self.values[metric]
        levels = (_nanq(v[0, :, period], 50), _nanq(v[i, :, period], 50))
        return difference_hidden(levels, "children", self.suppress_below)

    @property
    def n_years(self) -> int:
        """Scenario years in the horizon (the last may be a part year)."""
        return len(self.periods) - 1

    @property
    def horizon(self) -> str:
        """'five years' or '18 months': how the sentences name the whole run."""
        return _duration_words(self.months)


# =========================================================================== compare


def compare(
    scenarios: Sequence[LoadedScenario | Scenario | str | Path],
    years: float = 5,
    reps: int = 500,
    seed: int = 20240401,
    workers: int | None = None,
    progress: bool | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    rank_by: Sequence[str] = ("net_cost", "unmet_child_days"),
    suppress_below: int = 0,
) -> Comparison:
    """Run the baseline (first) and every option with the same seed, and pair them up.

    Scenario files may be given as paths. Every scenario must start on the same date;
    otherwise a ScenarioError names the file that differs.
    """
    from .montecarlo import run

    loaded = [load(s) if isinstance(s, (str, Path)) else s for s in scenarios]
    if len(loaded) < 2:
        raise UserError("compare needs a baseline and at least one option (two scenario files)")
    rank_by = tuple(_known_metric(m) for m in rank_by)
    twice = sorted({m for m in rank_by if rank_by.count(m) > 1})
    if twice:
        raise UserError(
            f"--rank-by names {twice[0]!r} twice; give each measure once (the overall rank "
            "adds the ranks on each, so a measure named twice would count double)"
        )
    if not rank_by:
        raise UserError("rank_by needs at least one measure, e.g. net_cost")
    _check_same_start(loaded)
    started = time.perf_counter()
    results = [
        run(
            s,
            years=years,
            reps=reps,
            seed=seed,
            workers=workers,
            progress=progress,
            engine=engine,
            scheduler=scheduler,
        )
        for s in loaded
    ]
    wall = time.perf_counter() - started
    models = [_model(s) for s in loaded]
    start = models[0].scenario.start_date
    months = len(results[0].months)
    periods = period_labels(start, months)
    values = {m: np.stack([_metric_values(r, m) for r in results]) for m in METRICS}
    costs = np.stack([option_cost_by_year(mdl.option_costs, start, months) for mdl in models])
    _add_option_costs(values, costs)
    cmp = Comparison(
        names=_unique_names([mdl.scenario.name for mdl in models]),
        results=results,
        periods=periods,
        reps=reps,
        values=values,
        option_costs=[list(mdl.option_costs) for mdl in models],
        summary=pd.DataFrame(columns=SUMMARY_COLUMNS),
        break_even=pd.DataFrame(),
        ranking=pd.DataFrame(),
        sentences=[],
        suppress_below=max(0, int(suppress_below)),
        years=years,
        seed=seed,
        start_date=start,
        files=[s.path if isinstance(s, LoadedScenario) else None for s in loaded],
        wall_seconds=wall,
        rank_by=rank_by,
        months=months,
    )
    cmp.summary = summary_table(cmp)
    cmp.break_even = break_even_table(cmp)
    cmp.ranking = ranking_table(cmp, rank_by)
    cmp.sentences = [sentence(cmp, i) for i in range(1, len(cmp.names))]
    return cmp


def _model(s: LoadedScenario | Scenario) -> Scenario:
    return s.model if isinstance(s, LoadedScenario) else s


def _known_metric(metric: str) -> str:
    if metric not in METRICS:
        raise UserError(f"unknown measure {metric!r}; expected one of: {', '.join(METRICS)}")
    return metric


def _check_same_start(loaded: Sequence[LoadedScenario | Scenario]) -> None:
    """Paired years only mean something if every scenario starts on the same day."""
    base = _model(loaded[0])
    start = base.scenario.start_date
    for s in loaded[1:]:
        m = _model(s)
        if m.scenario.start_date != start:
            where = s.path if isinstance(s, LoadedScenario) else m.scenario.name
            raise ScenarioError(
                where,
                f"starts on {m.scenario.start_date}, but the baseline "
                f"{base.scenario.name!r} starts on {start}: an option is compared year by "
                "year with the baseline, so it must start on the same date",
                key="scenario.start_date",
                expected=f"start_date = {start}",
            )


def _unique_names(names: list[str]) -> list[str]:
    """Names label rows of every table, so two scenarios with one name get '(2)'."""
    out: list[str] = []
    for n in names:
        name, k = n, 2
        while name in out:
            name, k = f"{n} ({k})", k + 1
        out.append(name)
    return out


# =========================================================================== periods


def period_labels(start: dt.date, months: int) -> list[str]:
    """Scenario-year labels, then the whole horizon ('All 5 years')."""
    n_years = -(-months // 12)
    labels = []
    for y in range(n_years):
        first = add_months(start, 12 * y)
        n = min(12, months - 12 * y)
        if start.month == 4:
            text = f"{first.year}/{(first.year + 1) % 100:02d}"
        else:
            last = add_months(first, 11)
            text = f"{first:%b %Y} to {last:%b %Y}"
        labels.append(text if n == 12 else f"{text} ({n} months)")
    return [*labels, f"All {duration(months)}"]


def _duration_words(months: int) -> str:
    """'five years', 'one year', '18 months': the horizon as a sentence says it."""
    if months % 12:
        return f"{months} months"
    years = months // 12
    word = _NUMBER_WORDS[years] if years < len(_NUMBER_WORDS) else str(years)
    return f"{word} year{'s' if years != 1 else ''}"


def _year_blocks(months: int) -> list[slice]:
    return [slice(y * 12, min((y + 1) * 12, months)) for y in range(-(-months // 12))]


# =========================================================================== measures


def _metric_values(r: Results, metric: str) -> np.ndarray:
    """(reps, years + 1) of one measure: each year, then the whole horizon."""
    blocks = _year_blocks(len(r.months))
    if metric in ("net_cost", "placement_cost"):
        return _with_total(r.by_year("cost", "total"), "sum")
    if metric == "option_cost":  # filled in from the scenario by _add_option_costs
        return np.zeros((r.reps, len(blocks) + 1))
    if metric == "unmet_child_days":
        return _with_total(r.by_year("unmet_child_days", "total"), "sum")
    if metric == "unmet_children":
        return _monthly_means(r.series("unmet_children", "total"), blocks)
    if metric == "pct_in_area":
        return _monthly_means(_pct_in_area(r), blocks)
    if metric == "children_3plus":
        return _with_total(r.yearly_series("children_3plus_placements"), "sum")
    raise AssertionError(metric)


def _with_total(by_year: np.ndarray, how: str) -> np.ndarray:
    total = by_year.sum(axis=1) if how == "sum" else by_year.mean(axis=1)
    return np.column_stack([by_year, total])


def _monthly_means(x: np.ndarray, blocks: list[slice]) -> np.ndarray:
    """Mean of month-end values in each year and over the run, skipping empty months."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a year with no children: NaN
        cols = [np.nanmean(x[:, b], axis=1) for b in blocks]
        cols.append(np.nanmean(x, axis=1))
    return np.column_stack(cols)


def _pct_in_area(r: Results) -> np.ndarray:
    """(reps, months): % of children in care at each month end who are placed in area."""
    groups = r.layout.columns("in_care_by_location")
    parts = {g: r.store.series(i) for g, i in groups}
    placed = np.sum(list(parts.values()), axis=0)
    out = np.full(placed.shape, np.nan)
    np.divide(parts["in_area"] * 100.0, placed, out=out, where=placed > 0)
    return out


def option_cost_by_year(costs: Sequence[OptionCost], start: dt.date, months: int) -> np.ndarray:
    """(years + 1,) pounds of the option's own costs in each scenario year, then the total.

    A one-off is counted in the year that holds its date; a running cost is pro rata by
    the days of each scenario year it covers (a whole year pays exactly `per_year`). Both
    rise by their inflation once per scenario year, as placement prices do.
    """
    n_years = -(-months // 12)
    end = add_months(start, months)
    out = np.zeros(n_years + 1)
    for c in costs:
        c_start = c.starts or start
        c_end = min(c.ends or end, end)
        for y in range(n_years):
            y_start = add_months(start, 12 * y)
            y_end = min(add_months(start, 12 * (y + 1)), end)
            uprate = (1.0 + c.inflation_per_year) ** y
            if y_start <= c_start < y_end:
                out[y] += c.one_off * uprate
            days = (min(c_end, y_end) - max(c_start, y_start)).days
            if days > 0:
                year_days = (add_months(start, 12 * (y + 1)) - y_start).days
                out[y] += c.per_year * uprate * days / year_days
    out[-1] = out[:-1].sum()
    return out


def _add_option_costs(values: dict[str, np.ndarray], costs: np.ndarray) -> None:
    """The same pounds in every replication: the option's costs are decisions, not chance."""
    values["option_cost"] = np.broadcast_to(
        costs[:, None, :], values["placement_cost"].shape
    ).copy()
    values["net_cost"] = values["placement_cost"] + values["option_cost"]


# =========================================================================== tables


def _nanq(x: np.ndarray, q: float | list[float]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(x, q, axis=0)


def median_interval(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 5th and 95th percentile over replications (axis 0), ignoring gaps."""
    med, p5, p95 = _nanq(x, [50, 5, 95])
    return med, p5, p95


def prob_better(d: np.ndarray, better: str) -> np.ndarray:
    """Share of replications where the paired difference favours the option strictly."""
    wins = d < 0 if better == "lower" else d > 0
    return wins.mean(axis=0)


def summary_table(cmp: Comparison) -> pd.DataFrame:
    """One row per option, measure and period: medians, paired difference, chance better."""
    rows = []
    for metric, spec in METRICS.items():
        v = cmp.values[metric]
        d = cmp.diff(metric)
        base_med = _nanq(v[0], 50)
        for i in range(1, len(cmp.names)):
            opt_med = _nanq(v[i], 50)
            p5, med, p95 = _nanq(d[i], [5, 50, 95])
            better = prob_better(d[i], spec.better)
            for p, period in enumerate(cmp.periods):
                rows.append(
                    {
                        "option": cmp.names[i],
                        "metric": metric,
                        "period": period,
                        "baseline_median": float(base_med[p]),
                        "option_median": float(opt_med[p]),
                        "diff_median": float(med[p]),
                        "diff_p5": float(p5[p]),
                        "diff_p95": float(p95[p]),
                        "prob_better": float(better[p]),
                    }
                )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def break_even_years(net_cost: np.ndarray, option: int) -> np.ndarray:
    """(reps,) index of each replication's break-even year; n_years where it never does.

    `net_cost` is (n_options, reps, years + 1); the horizon column is ignored.
    """
    saving = net_cost[0, :, :-1] - net_cost[option, :, :-1]
    ahead = np.cumsum(saving, axis=1) >= 0
    # stays ahead from year y to the end: an "and" accumulated from the last year back
    stays = np.flip(np.logical_and.accumulate(np.flip(ahead, axis=1), axis=1), axis=1)
    n_years = saving.shape[1]
    return np.where(stays.any(axis=1), stays.argmax(axis=1), n_years)


def break_even_table(cmp: Comparison) -> pd.DataFrame:
    """When each option pays for itself: median and 5-95% of replications' years."""
    never = f"not within {duration(cmp.months)}"
    labels = [*cmp.periods[:-1], never]
    rows = []
    for i in range(1, len(cmp.names)):
        idx = break_even_years(cmp.values["net_cost"], i)
        p5, med, p95 = np.percentile(idx, [5, 50, 95], method="inverted_cdf").astype(int)
        rows.append(
            {
                "option": cmp.names[i],
                "median_year": labels[med],
                "p5_year": labels[p5],
                "p95_year": labels[p95],
                "prob_within_horizon": float(np.mean(idx < cmp.n_years)),
            }
        )
    return pd.DataFrame(
        rows, columns=["option", "median_year", "p5_year", "p95_year", "prob_within_horizon"]
    )


def ranking_table(cmp: Comparison, rank_by: Sequence[str]) -> pd.DataFrame:
    """Every scenario (the baseline as 'do nothing', difference 0) ranked on each criterion.

    Rank 1 is best. The overall order is by the sum of the criterion ranks (`rank_sum`),
    a tie broken by the median difference on the first criterion, then the next, so that
    "do nothing" never shares a rank with an option that costs more; only scenarios equal
    on every one of these share a rank (`rank_rule` says so to the reader).
    """
    frame = pd.DataFrame({"option": cmp.names})
    for metric in rank_by:
        med = _nanq(cmp.diff(metric)[:, :, -1].T, 50)
        frame[metric] = med
        ascending = METRICS[metric].better == "lower"
        frame[f"rank_{metric}"] = frame[metric].rank(method="min", ascending=ascending).astype(int)
    frame["rank_sum"] = frame[[f"rank_{m}" for m in rank_by]].sum(axis=1).astype(int)
    # the sort key of each scenario: rank sum, then each median with "better" first
    keys = [
        (int(r["rank_sum"]), *(_better_first(float(r[m]), m) for m in rank_by))
        for _, r in frame.iterrows()
    ]
    frame["overall_rank"] = [1 + sum(other < key for other in keys) for key in keys]
    return frame.sort_values(["overall_rank"], kind="stable").reset_index(drop=True)


def _better_first(v: float, metric: str) -> float:
    """A median as a sort key in which smaller is better (NaN, unknown, last)."""
    if np.isnan(v):
        return float("inf")
    return v if METRICS[metric].better == "lower" else -v


def rank_rule(rank_by: Sequence[str]) -> str:
    """How the overall rank is made, in one sentence, for every output that shows it."""
    names = [METRICS[m].short or m for m in rank_by]
    if len(names) == 1:
        return (
            f"Overall rank: by the median change in {names[0]} over the whole run (1 is best); "
            "scenarios with the same median change share a rank."
        )
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    then = ", then in ".join(names)
    return (
        f"Overall rank: scenarios are ordered by the sum of their ranks on {listed} (1 is "
        f"best on each, so the lowest sum comes first), a tie is broken by the median change "
        f"in {then}, and only scenarios equal on all of these share a rank."
    )


# =========================================================================== sentences


def _runs_out_of_10(p: float) -> str:
    """A share of replications as a board reads it: 'in 7 runs out of 10'."""
    if p == 1:
        return "in every run"
    if p == 0:
        return "in none of the runs"
    if p < 0.05:
        return "in fewer than 1 run in 10"
    if p >= 0.95:
        return "in more than 9 runs out of 10"
    return f"in {round(p * 10)} runs out of 10"


def sentence(cmp: Comparison, i: int) -> str:
    """The plain-language verdict on option i: net saving, unmet demand, break-even."""
    from ..reports.presentation import money

    d = cmp.diff("net_cost")[i, :, -1]
    saving = -d
    p5, med, p95 = (float(v) for v in np.percentile(saving, [5, 50, 95]))
    interval = f"(90% interval {money(p5)} to {money(p95)})"
    horizon = cmp.horizon
    if p5 == p95 == 0:
        money_part = f"costs the same as the baseline over {horizon}"
    elif med >= 0:
        money_part = f"saves {money(med)} {interval} over {horizon}"
    else:
        # the interval of the extra cost, the other way round
        extra = f"(90% interval {money(-p95)} to {money(-p5)})"
        money_part = f"costs {money(-med)} more {extra} over {horizon}"
    own = float(cmp.values["option_cost"][i, 0, -1])
    if own > 0:
        money_part += f", after its own costs of {money(own)}"
    unmet = prob_better(cmp.diff("unmet_child_days")[i, :, -1], "lower")
    text = (
        f"Option '{cmp.names[i]}' {money_part}, and has less unmet demand (child-days not "
        f"suitably placed) than the baseline {_runs_out_of_10(float(unmet))}."
    )
    if own > 0:
        text += " " + _break_even_words(cmp, i)
    return text


def _break_even_words(cmp: Comparison, i: int) -> str:
    row = cmp.break_even.iloc[i - 1]
    p = float(row["prob_within_horizon"])
    horizon = cmp.horizon
    if p >= 0.5:
        first, last = row["p5_year"], row["p95_year"]
        spread = (
            f"in 5-95% of runs: {first}" if first == last else f"5-95% of runs: {first} to {last}"
        )
        return (
            f"It pays for itself by {row['median_year']} (median; {spread}), within {horizon} "
            f"{_runs_out_of_10(p)}."
        )
    if p == 0:
        return f"It does not pay for itself within {horizon} in any run."
    return f"It pays for itself within {horizon} {_runs_out_of_10(p)}."


# =========================================================================== outputs


def write_outputs(
    cmp: Comparison, folder: Path | str, force: bool = False, command: str | None = None
) -> None:
    """Write the results folder whole, or leave things as they were.

    Tables for publication (comparison.csv, ranking.csv, summary.md) show counts of
    children between 1 and K-1 as "<K"; replications_diff.csv.gz is for analysts and is
    not suppressed. The workbook and HTML report come from sim.reports.workbook and
    sim.reports.html.
    """
    from ..reports.html import write_html
    from ..reports.workbook import write_workbook

    folder = Path(folder)
    with atomic_path(folder, force=force) as tmp:
        for name, table in (
            ("comparison.csv", published_summary(cmp)),
            ("ranking.csv", published_ranking(cmp)),
            ("break_even.csv", cmp.break_even),
        ):
            # text from scenario files (option names) can never start a formula
            spreadsheet_frame(table).to_csv(tmp / name, index=False, encoding="utf-8-sig")
        _write_replications_diff(cmp, tmp / "replications_diff.csv.gz")
        (tmp / "summary.md").write_text(summary_markdown(cmp, command), encoding="utf-8")
        (tmp / "compare.json").write_text(_run_info(cmp, command), encoding="utf-8")
        write_workbook(cmp, tmp / "options.xlsx")
        write_html(cmp, tmp / "report.html")


def _suppress_cell(v: float, unit: str, k: int) -> float | str:
    from ..reports.presentation import suppressed

    unit = "children" if unit in COUNT_METRIC_UNITS else unit
    return suppressed(v, unit, k) or v


def published_summary(cmp: Comparison) -> pd.DataFrame:
    """The summary for publication: small counts '<K', hidden differences left empty.

    Levels of children between 1 and K-1 read "<K"; a difference (median and interval)
    whose baseline or option level is such a count is left empty, with the reason in the
    `note` column; money and percentages are never suppressed.
    """
    out = cmp.summary.copy().astype(object)
    k = cmp.suppress_below
    notes = []
    for j, row in out.iterrows():
        unit = METRICS[row["metric"]].unit
        hide = unit in COUNT_METRIC_UNITS and difference_hidden(
            (float(row["baseline_median"]), float(row["option_median"])), "children", k
        )
        for c in ("baseline_median", "option_median"):
            out.at[j, c] = _suppress_cell(float(row[c]), unit, k)
        if hide:
            for c in ("diff_median", "diff_p5", "diff_p95"):
                out.at[j, c] = None
        notes.append(f"difference {hidden_difference_text(k, unit)}" if hide else "")
    out["note"] = notes
    return out


def published_ranking(cmp: Comparison) -> pd.DataFrame:
    """The ranking for publication: a median change of counts that must be hidden is empty.

    The ranks themselves stay: they say which option is better, not by how many children.
    """
    out = cmp.ranking.copy().astype(object)
    index = {name: i for i, name in enumerate(cmp.names)}
    for metric in cmp.rank_by:
        out[metric] = [
            None if cmp.hides_difference(index[name], metric) else float(v)
            for name, v in zip(out["option"], out[metric], strict=True)
        ]
    return out


def _write_replications_diff(cmp: Comparison, path: Path) -> None:
    """Every scenario, replication, measure and period: value and paired difference."""
    n_opt, reps, n_per = cmp.values["net_cost"].shape
    frames = []
    for metric in METRICS:
        v, d = cmp.values[metric], cmp.diff(metric)
        frames.append(
            pd.DataFrame(
                {
                    "option": np.repeat(cmp.names, reps * n_per),
                    "replication": np.tile(np.repeat(np.arange(1, reps + 1), n_per), n_opt),
                    "metric": metric,
                    "period": np.tile(cmp.periods, n_opt * reps),
                    "value": v.reshape(-1),
                    "diff": d.reshape(-1),
                }
            )
        )
    with gzip.open(path, "wt", compresslevel=3, encoding="utf-8", newline="") as fh:
        spreadsheet_frame(pd.concat(frames, ignore_index=True)).to_csv(fh, index=False)


def key_table(cmp: Comparison) -> list[str]:
    """Markdown: each measure over the whole run, baseline level and each option's change."""
    k = cmp.suppress_below
    names = [markdown_text(n) for n in cmp.names]
    head = ["Measure (whole run)", f"{names[0]} (baseline, median)", *names[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric, spec in METRICS.items():
        v = cmp.values[metric][:, :, -1]
        d = cmp.diff(metric)[:, :, -1]
        counts = spec.unit in COUNT_METRIC_UNITS
        if counts and all_hidden(_nanq(v.T, 50), "children", k):
            lines.append(f"| {spec.label} | {all_hidden_text(k)} |" + " |" * (len(names) - 1))
            continue
        cells = [spec.label, level_text(float(_nanq(v[0], 50)), spec.unit, k)]
        for i in range(1, len(cmp.names)):
            p5, med, p95 = (float(x) for x in _nanq(d[i], [5, 50, 95]))
            better = prob_better(d[i], spec.better)
            if cmp.hides_difference(i, metric):
                change = hidden_difference_text(k, spec.unit)
            else:
                change = (
                    f"{change_text(med, spec.unit)} ({change_text(p5, spec.unit)} to "
                    f"{change_text(p95, spec.unit)})"
                )
            cells.append(f"{change}; better in {better:.0%} of runs")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def ranking_change(cmp: Comparison, name: str, metric: str) -> str:
    """A scenario's median change on a ranking criterion, or why it is not shown."""
    i = cmp.names.index(name)
    if cmp.hides_difference(i, metric):
        return hidden_difference_text(cmp.suppress_below, METRICS[metric].unit)
    row = cmp.ranking[cmp.ranking["option"] == name].iloc[0]
    return change_text(float(row[metric]), METRICS[metric].unit)


def _ranking_md(cmp: Comparison) -> list[str]:
    head = ["Rank", "Option", *[f"{METRICS[m].label}: change" for m in cmp.rank_by]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in cmp.ranking.iterrows():
        cells = [str(row["overall_rank"]), markdown_text(row["option"])]
        cells += [ranking_change(cmp, str(row["option"]), m) for m in cmp.rank_by]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", rank_rule(cmp.rank_by)]


def break_even_spread(p5_year: str, p95_year: str) -> str:
    """'2023/24 to 2025/26', or one label when both ends are the same."""
    return p5_year if p5_year == p95_year else f"{p5_year} to {p95_year}"


def _break_even_md(cmp: Comparison) -> list[str]:
    head = ["Option", "Own costs", "Pays for itself by (median)", "5-95% of runs", "Within run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    from ..reports.presentation import money

    for i, row in enumerate(cmp.break_even.itertuples(index=False), start=1):
        own = float(cmp.values["option_cost"][i, 0, -1])
        spread = break_even_spread(row.p5_year, row.p95_year)
        lines.append(
            f"| {markdown_text(row.option)} | {money(own)} | {row.median_year} | {spread} | "
            f"{row.prob_within_horizon:.0%} |"
        )
    return lines


def summary_markdown(cmp: Comparison, command: str | None = None) -> str:
    """The page a commissioner reads first: verdicts, ranking, key table, what was run."""
    k = cmp.suppress_below
    lines = [
        f"# Options compared with {markdown_text(cmp.names[0])}",
        "",
        f"Each option was run {cmp.reps} times with the same random numbers as the "
        f"baseline over {cmp.horizon} from {cmp.start_date:%B %Y}; run i of an option is "
        "compared with run i of the baseline. Intervals hold 90% of those paired "
        "differences.",
        "",
        *[f"- {markdown_text(s)}" for s in cmp.sentences],
        "",
        "## Ranking",
        "",
        *_ranking_md(cmp),
        "",
        "## Change from the baseline over the whole run",
        "",
        "Median change (5th to 95th percentile of the paired differences); 'better' is "
        "the share of runs in which the option did strictly better than the baseline.",
        "",
        *key_table(cmp),
        "",
        "## When each option pays for itself",
        "",
        "The first year from which the cumulative net saving (baseline net cost minus the "
        "option's, the option's own costs included) stays at or above zero.",
        "",
        *_break_even_md(cmp),
        "",
        "## What was run",
        "",
        f"Master seed {cmp.seed}, {cmp.reps} replications, {cmp.years:g} years, "
        f"sufficiency {__version__}; {cmp.wall_seconds:,.1f} seconds.",
    ]
    if command:
        lines += ["", *markdown_block(command)]
    if k > 0:
        lines += [
            "",
            f"**Small numbers:** {difference_rule(k)} This applies to this "
            "summary, `comparison.csv` and `ranking.csv`. `replications_diff.csv.gz` is NOT "
            "suppressed: it is for analysts and must not be published as it is.",
        ]
    return "\n".join(lines) + "\n"


def _run_info(cmp: Comparison, command: str | None) -> str:
    info = {
        "scenarios": cmp.names,
        "files": [str(f) if f else None for f in cmp.files],
        "seed": int(cmp.seed),
        "reps": int(cmp.reps),
        "years": cmp.years,
        "start_date": str(cmp.start_date),
        "periods": cmp.periods,
        "rank_by": list(cmp.rank_by),
        "suppress_below": cmp.suppress_below,
        "wall_seconds": round(cmp.wall_seconds, 3),
        "version": __version__,
        "command": command,
    }
    return json.dumps(info, indent=2) + "\n"


def command_line(files: Sequence[Path], argv_tail: Sequence[str]) -> str:
    """The command that repeats a comparison, for summary.md."""
    return shlex.join(["sufficiency", "compare", *map(str, files), *argv_tail])
