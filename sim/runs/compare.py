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
    suppress_below: int           applied by the writers, never to the arrays
    def diff(metric) -> np.ndarray  (n_options, reps, n_periods): option minus baseline,
                                  paired; row 0 is all zeros
    and, for the reports: years, seed, start_date, files, wall_seconds, rank_by, months,
    deflator (the baseline's general inflation: `net_cost_today` is net_cost divided by
    (1 + deflator) ** year; the money measures are otherwise cash).

METRICS: dict[str, Metric] with Metric(label, unit, better, sheet, short, group) where unit
is one of "money", "children", "child-days", "percent", better is "lower" or "higher", sheet
is the workbook's sheet name (at most 31 characters), short the name in a sentence and
group "" for a headline measure or "unmet_setting" for unmet demand as commissioners mean
it (`sim.runs.commissioners`: waiting for a placement, under-16s and 16-17s in
unregistered placements, registered emergency placements, deprived of liberty, out of
area, over 20 miles, apart from a sibling, under-11s in residential care; each the average
of month-end counts, like `unmet_children`). Every measure may be ranked on; the reports
show the "unmet_setting" group together, in a section and one workbook sheet of its own.

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
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..common.errors import ScenarioError, UserError
from ..common.suppression import difference_hidden
from ..engine.calendar import add_months, duration
from ..scenario.load import LoadedScenario, load
from ..scenario.schema import OptionCost, Scenario
from .commissioners import BY_KEY, COMMISSIONER_MEASURES, UNMET_SETTING
from .money import deflator, todays_money_by_year

if TYPE_CHECKING:
    from .montecarlo import Results


#: The workbook sheet that holds every measure of unmet demand as commissioners mean it.
UNMET_SHEET = "Unmet demand"


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
    #: "" for a headline measure (its own table and sheet); UNMET_SETTING for unmet demand
    #: as commissioners mean it, shown together in a section and one sheet of their own.
    group: str = ""


METRICS: dict[str, Metric] = {
    "net_cost": Metric(
        "Net cost (cash): placements, payments after care and the option's own costs",
        "money", "lower", "Net cost", "net cost",
    ),
    "net_cost_today": Metric(
        "Net cost in today's money (prices of the first scenario year)", "money", "lower",
        "Net cost today's money", "net cost in today's money",
    ),
    "placement_cost": Metric(
        "Cost of placements", "money", "lower", "Placement cost", "cost of placements"
    ),
    "after_care_cost": Metric(
        "Payments after care (SGO and adoption allowances, Staying Close)", "money",
        "lower", "After-care cost", "payments after care",
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
# Unmet demand as commissioners mean it: each a count of children at month ends, averaged
# over the months of a year and of the run (as `unmet_children`), all on one sheet.
METRICS.update(
    {
        c.key: Metric(
            f"{c.label} (children, average of month ends)", "children", "lower",
            UNMET_SHEET, c.short, UNMET_SETTING,
        )
        for c in COMMISSIONER_MEASURES
    }
)  # fmt: skip


def metrics_in(group: str = "") -> list[str]:
    """The measures of one group, in METRICS order: "" the headline measures, each with
    its own table and sheet; UNMET_SETTING unmet demand as commissioners mean it."""
    return [key for key, m in METRICS.items() if m.group == group]


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
    suppress_below: int = 0
    years: float = 5
    seed: int = 20240401
    start_date: dt.date | None = None
    files: list[Path | None] = field(default_factory=list)
    wall_seconds: float = 0.0
    rank_by: tuple[str, ...] = ("net_cost", "unmet_child_days")
    months: int = 60
    #: the baseline's general inflation a year (`net_cost_today` divides by it)
    deflator: float = 0.0

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
        levels = (
            float(nan_quantile(v[0, :, period], 50)),
            float(nan_quantile(v[i, :, period], 50)),
        )
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
    parameter_uncertainty: bool = True,
    observer: Callable[[int], None] | None = None,
) -> Comparison:
    """Run the baseline (first) and every option with the same seed, and pair them up.

    Scenario files may be given as paths. Every scenario must start on the same date;
    otherwise a ScenarioError names the file that differs. `observer`: told of the
    replications done, scenario after scenario (see `sim.runs.montecarlo.run`).
    """
    from .montecarlo import run

    loaded = [load(s) if isinstance(s, (str, Path)) else s for s in scenarios]
    if len(loaded) < 2:
        raise UserError("compare needs a baseline and at least one option (two scenario files)")
    rank_by = checked_rank_by(rank_by)
    check_same_start(loaded)
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
            parameter_uncertainty=parameter_uncertainty,
            observer=observer,
        )
        for s in loaded
    ]
    wall = time.perf_counter() - started
    return pair(
        results,
        [_model(s) for s in loaded],
        files=[s.path if isinstance(s, LoadedScenario) else None for s in loaded],
        years=years,
        reps=reps,
        seed=seed,
        rank_by=rank_by,
        suppress_below=suppress_below,
        wall_seconds=wall,
    )


def checked_rank_by(rank_by: Sequence[str]) -> tuple[str, ...]:
    """The measures to rank options on, each known and named once (before any run)."""
    out = tuple(_known_metric(m) for m in rank_by)
    twice = sorted({m for m in out if out.count(m) > 1})
    if twice:
        raise UserError(
            f"--rank-by names {twice[0]!r} twice; give each measure once (the overall rank "
            "adds the ranks on each, so a measure named twice would count double)"
        )
    if not out:
        raise UserError("rank_by needs at least one measure, e.g. net_cost")
    return out


def pair(
    results: list[Results],
    models: list[Scenario],
    files: list[Path | None],
    years: float,
    reps: int,
    seed: int,
    rank_by: Sequence[str] = ("net_cost", "unmet_child_days"),
    suppress_below: int = 0,
    wall_seconds: float = 0.0,
) -> Comparison:
    """The comparison of runs made with the same seed (the baseline first): the paired
    differences, the summary, break-even and ranking. A region's comparison pairs each
    council's runs this way (`sim.runs.region.compare_regions`)."""
    rank_by = tuple(_known_metric(m) for m in rank_by)
    start = models[0].scenario.start_date
    months = len(results[0].months)
    periods = period_labels(start, months)
    values = {m: np.stack([metric_values(r, m) for r in results]) for m in METRICS}
    costs = np.stack([option_cost_by_year(mdl.option_costs, start, months) for mdl in models])
    # one basis for every scenario: today's money at the baseline's general inflation
    _add_option_costs(values, costs, deflator(models[0]))
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
        suppress_below=max(0, int(suppress_below)),
        years=years,
        seed=seed,
        start_date=start,
        files=files,
        wall_seconds=wall_seconds,
        rank_by=rank_by,
        months=months,
        deflator=deflator(models[0]),
    )
    cmp.summary = summary_table(cmp)
    cmp.break_even = break_even_table(cmp)
    cmp.ranking = ranking_table(cmp, rank_by)
    return cmp


def _model(s: LoadedScenario | Scenario) -> Scenario:
    return s.model if isinstance(s, LoadedScenario) else s


def _known_metric(metric: str) -> str:
    if metric not in METRICS:
        raise UserError(f"unknown measure {metric!r}; expected one of: {', '.join(METRICS)}")
    return metric


def check_same_start(loaded: Sequence[LoadedScenario | Scenario]) -> None:
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


def metric_values(r: Results, metric: str) -> np.ndarray:
    """(reps, years + 1) of one measure: each year, then the whole horizon."""
    blocks = _year_blocks(len(r.months))
    if metric == "placement_cost":
        return _with_total(r.by_year("cost", "total"), "sum")
    if metric == "after_care_cost":
        if ("after_care_cost", "total") not in r.layout.index:
            return np.zeros((r.reps, len(blocks) + 1))  # the scenario pays none
        return _with_total(r.by_year("after_care_cost", "total"), "sum")
    if metric in ("option_cost", "net_cost", "net_cost_today"):  # see _add_option_costs
        return np.zeros((r.reps, len(blocks) + 1))
    if metric == "unmet_child_days":
        return _with_total(r.by_year("unmet_child_days", "total"), "sum")
    if metric == "unmet_children":
        return _monthly_means(r.series("unmet_children", "total"), blocks)
    if metric == "pct_in_area":
        return _monthly_means(_pct_in_area(r), blocks)
    if metric == "children_3plus":
        return _with_total(r.yearly_series("children_3plus_placements"), "sum")
    if metric in BY_KEY:  # unmet demand as commissioners mean it: children at month ends
        first, *more = (r.series(m, g) for m, g in BY_KEY[metric].series)
        return _monthly_means(sum(more, first), blocks)
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


def _add_option_costs(values: dict[str, np.ndarray], costs: np.ndarray, rate: float) -> None:
    """The option's own costs (the same pounds in every replication: they are decisions,
    not chance), and the net cost, placements plus after care plus own costs, in cash and
    in today's money (deflated by `rate`, the baseline's `deflator_per_year`)."""
    values["option_cost"] = np.broadcast_to(
        costs[:, None, :], values["placement_cost"].shape
    ).copy()
    net = values["placement_cost"] + values["after_care_cost"] + values["option_cost"]
    values["net_cost"] = net
    today = np.empty_like(net)
    today[:, :, :-1] = todays_money_by_year(net[:, :, :-1], rate)
    today[:, :, -1] = today[:, :, :-1].sum(axis=2)
    values["net_cost_today"] = today


# =========================================================================== tables


def nan_quantile(x: np.ndarray, q: float | list[float]) -> np.ndarray:
    """Percentile(s) over replications, ignoring NaN (an option with no value that year)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(x, q, axis=0)


def median_interval(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 5th and 95th percentile over replications (axis 0), ignoring gaps."""
    med, p5, p95 = nan_quantile(x, [50, 5, 95])
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
        base_med = nan_quantile(v[0], 50)
        for i in range(1, len(cmp.names)):
            opt_med = nan_quantile(v[i], 50)
            p5, med, p95 = nan_quantile(d[i], [5, 50, 95])
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
        med = nan_quantile(cmp.diff(metric)[:, :, -1].T, 50)
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
