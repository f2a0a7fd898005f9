"""Write the output folder of a run: the tables, charts and summary a commissioner reads.

A folder answers five questions month by month, each with its uncertainty: how many
children will we look after, where will they live, how many will we fail to place
suitably, how stable will their placements be, and what will it cost. Every figure is
the median of the replications with the range that 8 runs in 10 fell within (10th-90th
percentile), because a single run is one possible future, not a forecast.

The folder is written whole or not at all: everything goes into a hidden sibling folder
that is renamed into place at the end, so an interrupted run never leaves a half-written
folder that looks like a result.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..common.outputs import atomic_path
from ..common.safe_text import (
    markdown_block,
    markdown_code,
    markdown_text,
    spreadsheet_frame,
    spreadsheet_text,
)
from ..common.suppression import suppressed as _suppressed
from ..engine.calendar import duration
from ..engine.metrics import UNMET_SETTINGS, YEARLY
from ..runs.commissioners import COMMISSIONER_MEASURES, SECTION_TITLE
from ..runs.money import deflator, price_base, todays_money_by_year
from ..scenario.write import scenario_copy
from .actuals import Check
from .actuals import for_results as _published_for
from .presentation import (
    DASH,
    TOTAL_COLOUR,
    UNMET_COLOUR,
    mark_published,
    money_axis,
    month_ends,
    provision_colours,
    published_handle,
    style_axes,
)
from .presentation import count as _int
from .presentation import money as _money
from .presentation import money_full as _money_full
from .presentation import pct as _pct

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..runs.montecarlo import Results

#: Flows summed over each year in yearly.csv, and stocks read at each year end.
YEAR_FLOWS = (
    "entries",
    "exits",
    "moves",
    "needs_changed",
    "unmet_new",
    "unmet_child_days",
    "cost",
)
YEAR_STOCKS = (
    "in_care",
    "in_care_by_location",
    "in_care_by_needs",
    "unmet_children",
    "waiting_for_placement",
    "unregistered",
    *UNMET_SETTINGS,
)
#: Values of replications.csv.gz read from the store at once (8 MB of float64).
REPLICATION_BLOCK = 1 << 20

# =========================================================================== public API


def write_report(
    results: Results, out: Path | str, force: bool = False, suppress_below: int = 0
) -> Path:
    """Write the output folder `out` whole, or leave things as they were.

    Raises OutputExistsError before doing any work if `out` exists and `force` is False;
    with `force`, the old folder is replaced only once the new one is complete.
    `suppress_below` K > 0 shows counts between 1 and K-1 as "<K" in the files meant
    for publication (summary.md, summary_by_year.csv); the analysts' files keep them.
    """
    out = Path(out)
    with atomic_path(out, force=force) as tmp:
        _write_all(results, tmp, out, max(0, int(suppress_below)))
    return out


def write_report_files(results: Results, folder: Path, out: Path, suppress_below: int = 0) -> None:
    """Write a run's files into `folder`, a folder being written whole elsewhere (a
    region's results write one per council); `out` is where it will end up."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_all(results, folder, out, max(0, int(suppress_below)))


def headline_lines(results: Results) -> list[str]:
    """A few lines for the terminal at the end of a run: the answers, with their ranges."""
    d = _Derived(results)
    last = _month_name(results.months[-1])
    final = "in the final year" if d.n_years > 1 else "in the year"
    in_care = d.total("in_care")[:, -1]
    unmet = d.total("unmet_children")[:, -1]
    in_area = d.location_shares()["in_area"][:, -1]
    cost = d.total("cost").sum(axis=1)
    three = results.yearly_series("share_3plus_placements")[:, -1] * 100
    moves = d.year_sums("moves")[:, -1]
    return [
        f"Children in care, {last}: {range_text(in_care, _int, '10-90%: ')}",
        f"Not suitably placed, {last}: {range_text(unmet, _int)}",
        f"Placed in area, {last}: {range_text(in_area, _pct)}",
        f"Total cost over {duration(len(results.months))}: {range_text(cost, _money)}",
        *_today_line(results, d),
        f"3+ placements {final}: {range_text(three, _pct)}",
        f"Placement moves {final}: {range_text(moves, _int)}",
    ]


def _today_line(results: Results, d: _Derived) -> list[str]:
    """The total cost in today's money, when the scenario sets general inflation."""
    rate = deflator(results.scenario)
    if rate == 0:
        return []
    today = todays_money_by_year(d.year_sums("cost"), rate).sum(axis=1)
    base = price_base(results.scenario.scenario.start_date)
    horizon = duration(len(results.months))
    return [f"Total cost over {horizon} in today's money ({base}): {range_text(today, _money)}"]


def uncertainty_lines(results: Results) -> list[str]:
    """How much of the 80% band comes from not knowing the rates, where the run drew them.

    The run's band (rates drawn per replication) is set beside the band of the same
    replications with every rate at its median (chance alone). Variances add, so the share
    of the band's variance from the rates is about 1 - (chance width / full width)^2.
    """
    chance = results.chance
    if chance is None:
        return []
    d, c = _Derived(results), _Derived(chance)
    last = _month_name(results.months[-1])
    out = []
    for label, full, alone, show in (
        (f"children in care, {last}", d.total("in_care")[:, -1], c.total("in_care")[:, -1], _int),
        (
            f"total cost over {duration(len(results.months))}",
            d.total("cost").sum(axis=1),
            c.total("cost").sum(axis=1),
            _money,
        ),
    ):
        w_full = float(np.quantile(full, 0.9) - np.quantile(full, 0.1))
        w_alone = float(np.quantile(alone, 0.9) - np.quantile(alone, 0.1))
        if w_full <= 0:
            continue
        share = max(0.0, 1 - (w_alone / w_full) ** 2)
        out.append(
            f"{label[0].upper()}{label[1:]}: the 80% band is {show(w_full)} wide; with every "
            f"rate at its median (chance alone, {chance.reps} runs) {show(w_alone)}: about "
            f"{share:.0%} of the band's variance comes from not knowing the rates."
        )
    return out


def charts(results: Results, published: bool = True) -> list[tuple[str, Figure]]:
    """The run report's fan charts as (file name, figure), for reports that embed them.

    The same figures the output folder saves as PNG: children in care by placement
    type, cost, children not suitably placed, and placed in area. With `published`, the
    council's figures in the scenario's actuals.csv, if it has one, are drawn on them.
    """
    return _charts(_Derived(results, published))


# =========================================================================== whole or nothing


def _write_all(results: Results, folder: Path, out: Path, k: int) -> None:
    d = _Derived(results)
    d.published()  # a mistake in actuals.csv stops the report before anything is written
    measures = _headline_measures(d)
    _write_replications(results, folder)
    _write_yearly(d, folder)
    _write_summary(results, folder)
    _write_summary_by_year(d, measures, folder, k)
    _write_scenario(results, folder)
    _write_run_json(results, folder, out)
    _write_charts(d, folder)
    _write_summary_md(d, measures, folder, out, k)


# =========================================================================== derived figures


class _Derived:
    """The run's arrays cut into the shapes the report needs: totals, years, shares.

    Figures are read from the results one series at a time, and only when asked for, so
    the report never holds more than a few (reps, months) series at once.
    """

    def __init__(self, results: Results, published: bool = True) -> None:
        self.r = results
        self._published = published
        self._checks: tuple[Path | None, list[Check]] | None = None
        self.n_years = results.yearly.shape[1]
        self.blocks = [
            slice(y * 12, min((y + 1) * 12, len(results.months))) for y in range(self.n_years)
        ]
        self._sums: dict[int, np.ndarray] = {}  # series position -> (reps, years)
        self._ends: dict[int, np.ndarray] = {}

    def groups(self, metric: str) -> list[tuple[str, int]]:
        return self.r.layout.columns(metric)

    def published(self) -> tuple[Path | None, list[Check]]:
        """The scenario's actuals.csv (or None) and its figures against this run."""
        if self._checks is None:
            found = _published_for(self.r) if self._published else None
            self._checks = (None, []) if found is None else (found[0].path, found[1])
        return self._checks

    def total(self, metric: str) -> np.ndarray:
        """(reps, months): the metric's 'total' series, or the sum of its groups."""
        return self.r.total(metric)

    def year_sums(self, metric: str, group: str | None = None) -> np.ndarray:
        """(reps, years): a flow summed over each year."""
        return self._pick(self._year_sums, metric, group)

    def year_ends(self, metric: str, group: str | None = None) -> np.ndarray:
        """(reps, years): a stock at the end of each year (or of the run)."""
        return self._pick(self._year_ends, metric, group)

    def _year_sums(self, i: int) -> np.ndarray:
        if i not in self._sums:
            x = self.r.store.series(i)
            # Added month by month, in order: the same sums, to the last bit, as those of
            # the whole (reps, months, series) array that earlier versions summed.
            sums = []
            for b in self.blocks:
                acc = x[:, b.start].copy()
                for m in range(b.start + 1, b.stop):
                    acc += x[:, m]
                sums.append(acc)
            self._sums[i] = np.stack(sums, axis=1)
        return self._sums[i]

    def _year_ends(self, i: int) -> np.ndarray:
        if i not in self._ends:
            x = self.r.store.series(i)
            self._ends[i] = np.stack([x[:, b.stop - 1] for b in self.blocks], axis=1)
        return self._ends[i]

    def _pick(
        self, by_year: Callable[[int], np.ndarray], metric: str, group: str | None
    ) -> np.ndarray:
        """One group's (reps, years) figures, or the metric's total."""
        if group is not None:
            return by_year(self.r.layout.i(metric, group))
        cols = dict(self.groups(metric))
        if "total" in cols:
            return by_year(cols["total"])
        # (reps, years, groups) is small: summed as a stack, as before, for equal bits.
        return np.stack([by_year(i) for i in cols.values()], axis=-1).sum(axis=-1)

    def location_shares(self, at_year_end: bool = False) -> dict[str, np.ndarray]:
        """% of children in care placed in area, and in area or within 20 miles.

        Month by month, (reps, months), or at each year end, (reps, years).
        """
        metric = "in_care_by_location"
        if at_year_end:
            loc = {g: self.year_ends(metric, g) for g, _ in self.groups(metric)}
        else:
            loc = {g: self.r.store.series(i) for g, i in self.groups(metric)}
        near = loc["in_area"] + loc["within_20_miles"]
        placed = np.sum([loc[g] for g in loc], axis=0)
        return {
            "in_area": _percent(loc["in_area"], placed),
            "within_20_miles": _percent(near, placed),
        }

    def provisions(self) -> list[tuple[str, str, str]]:
        """(id, label, colour) of every provision, in scenario order."""
        s = self.r.scenario
        colours = provision_colours(s)
        return [(pid, spec.label or pid, colours[pid]) for pid, spec in s.provision.items()]

    def group_label(self, metric: str, group: str) -> str:
        s = self.r.scenario
        if group in ("total", "all"):
            return "All"
        if metric in ("in_care", "cost", "child_days") and group in s.provision:
            return s.provision[group].label or group
        if group == "staying_put":
            return "Staying put (after 18)"
        if metric == "exits":
            if group == "age_18":
                return "Turned 18"
            if group in s.exits:
                return s.exits[group].label or group
        return group.replace("_", " ").capitalize()

    def period(self, year: int) -> str:
        """'Apr 2024 to Mar 2025' for a year (0-based), noting a part year."""
        b = self.blocks[year]
        first, last = self.r.months[b.start], self.r.months[b.stop - 1]
        text = f"{_month_name(first, short=True)} to {_month_name(last, short=True)}"
        n = b.stop - b.start
        return text if n == 12 else f"{text}, {n} months"


def _percent(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(part), np.nan)
    np.divide(part * 100.0, whole, out=out, where=np.asarray(whole) > 0)
    return out


def _quantiles(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 10th and 90th percentiles over replications (axis 0), ignoring gaps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-gap columns give NaN
        med = np.nanmedian(x, axis=0)
        p10, p90 = np.nanpercentile(x, [10, 90], axis=0)
    return med, p10, p90


# =========================================================================== headline measures


@dataclass(frozen=True)
class _Measure:
    """One headline figure per replication and year, with how to show it."""

    key: str
    label: str
    group: str
    unit: str
    values: np.ndarray  # (reps, years)


def _add_money_measures(d: _Derived, add: Callable[[_Measure], None]) -> None:
    """Cost in today's money, and payments after care where the scenario sets any.

    `cost` is cash, at each scenario year's prices; today's money divides it by the
    scenario's general inflation (`sim.runs.money`), so the two are the same at 0.
    """
    r = d.r
    base = price_base(r.scenario.scenario.start_date)
    rate = deflator(r.scenario)
    add(
        _Measure(
            "cost_today",
            f"Cost in year in today's money ({base})",
            "All",
            "£",
            todays_money_by_year(d.year_sums("cost"), rate),
        )
    )
    if not r.scenario.after_care:
        return
    add(
        _Measure(
            "after_care_cost",
            "Payments after care in year (outside the cost of placements)",
            "All",
            "£",
            d.year_sums("after_care_cost", "total"),
        )
    )
    for route in r.scenario.after_care:
        add(
            _Measure(
                f"after_care_cost:{route}",
                "Payments after care in year",
                d.group_label("exits", route),
                "£",
                d.year_sums("after_care_cost", route),
            )
        )
        add(
            _Measure(
                f"after_care:{route}",
                "Young people receiving a payment after care at year end",
                d.group_label("exits", route),
                "children",
                d.year_ends("after_care", route),
            )
        )
    add(
        _Measure(
            "cost_all",
            "Cost in year of placements and payments after care",
            "All",
            "£",
            d.year_sums("cost_all", "total"),
        )
    )
    add(
        _Measure(
            "cost_all_today",
            f"Cost in year of placements and payments after care, today's money ({base})",
            "All",
            "£",
            todays_money_by_year(d.year_sums("cost_all", "total"), rate),
        )
    )


def _headline_measures(d: _Derived) -> list[_Measure]:
    """The figures of summary_by_year.csv and summary.md, in the order a reader wants them."""
    r = d.r
    ms: list[_Measure] = []
    add = ms.append
    provs = [(p, label) for p, label, _ in d.provisions() if p in dict(d.groups("in_care"))]
    add(
        _Measure(
            "in_care", "Children in care at year end", "All", "children", d.year_ends("in_care")
        )
    )
    for p, label in provs:
        add(
            _Measure(
                f"in_care:{p}",
                "Children in care at year end",
                label,
                "children",
                d.year_ends("in_care", p),
            )
        )
    add(_Measure("cost", "Cost in year", "All", "£", d.year_sums("cost")))
    for g, _ in d.groups("cost"):
        if g != "total":
            add(
                _Measure(
                    f"cost:{g}",
                    "Cost in year",
                    d.group_label("cost", g),
                    "£",
                    d.year_sums("cost", g),
                )
            )
    _add_money_measures(d, add)
    add(
        _Measure(
            "unmet_child_days",
            "Child-days not suitably placed in year",
            "All",
            "child-days",
            d.year_sums("unmet_child_days"),
        )
    )
    add(
        _Measure(
            "unmet_children",
            "Children not suitably placed at year end",
            "All",
            "children",
            d.year_ends("unmet_children"),
        )
    )
    add(
        _Measure(
            "waiting_for_placement",
            "Children waiting for a placement (being searched for) at year end",
            "All",
            "children",
            d.year_ends("waiting_for_placement"),
        )
    )
    add(
        _Measure(
            "unregistered_under_16",
            "Under-16s in unregistered placements at year end (unlawful since 2021)",
            "All",
            "children",
            d.year_ends("unregistered", "under_16"),
        )
    )
    add(
        _Measure(
            "unregistered_16_17",
            "16-17s in unregistered placements at year end",
            "All",
            "children",
            d.year_ends("unregistered", "16_17"),
        )
    )
    for c in COMMISSIONER_MEASURES:
        if c.key in ("waiting_for_placement", "unregistered_under_16", "unregistered_16_17"):
            continue  # added above
        first, *more = (d.year_ends(metric, group) for metric, group in c.series)
        values = sum(more, first)
        add(_Measure(c.key, f"{c.label} at year end", "All", "children", values))
    add(
        _Measure(
            "unmet_new",
            "New unsuitable placements in year",
            "All",
            "placements",
            d.year_sums("unmet_new"),
        )
    )
    shares = d.location_shares(at_year_end=True)
    add(_Measure("in_area", "% placed in area at year end", "All", "%", shares["in_area"]))
    add(
        _Measure(
            "within_20_miles",
            "% placed within 20 miles at year end (in area or nearby)",
            "All",
            "%",
            shares["within_20_miles"],
        )
    )
    add(_Measure("moves", "Placement moves in year", "All", "moves", d.year_sums("moves")))
    add(
        _Measure(
            "three_plus",
            "% of children in care at year end with 3+ placements in year",
            "All",
            "%",
            r.yearly_series("share_3plus_placements") * 100,
        )
    )
    add(
        _Measure(
            "entries",
            "Children entering care in year",
            "All",
            "children",
            d.year_sums("entries", "all"),
        )
    )
    add(_Measure("exits", "Children leaving care in year", "All", "children", d.year_sums("exits")))
    ms += _foster_place_measures(d)
    return ms


def _foster_place_measures(d: _Derived) -> list[_Measure]:
    """Per foster provision: approved places, usable places (households not on hold) and
    the fill rate (children / approved places) at each year end; a council compares its
    own fill rate (e.g. Darlington's 79 children in about 100 places) with the last."""
    s = d.r.scenario
    out: list[_Measure] = []
    on_hold = dict(d.groups("places_on_hold"))
    for pid, label, _ in d.provisions():
        if s.provision[pid].kind != "foster" or pid not in on_hold:
            continue
        places = d.year_ends("places", pid)
        usable = places - d.year_ends("places_on_hold", pid)
        fill = _percent(d.year_ends("in_care", pid), places)
        out += [
            _Measure(
                f"places:{pid}", "Approved foster places at year end", label, "places", places
            ),
            _Measure(
                f"usable_places:{pid}",
                "Usable foster places at year end (households not on hold)",
                label,
                "places",
                usable,
            ),
            _Measure(
                f"fill_rate:{pid}",
                "% of approved foster places filled at year end (children / places)",
                label,
                "%",
                fill,
            ),
        ]
    return out


# =========================================================================== tables


def _write_replications(results: Results, folder: Path) -> None:
    """Every replication, month and series: one row each, for analysts (never suppressed).

    Written a replication at a time from preformatted pieces: five times faster than
    pandas for a million rows, and values keep every digit (counts print as integers).
    """
    store = results.store
    tail = [
        f"{_csv_field(m)},{_csv_field(metric)},{_csv_field(group)},"
        for m in results.months
        for metric, group in results.layout.series
    ]
    scenario = _csv_field(results.name)
    # replications are read a block at a time (about 8 MB), never all at once
    step = max(1, REPLICATION_BLOCK // (store.months * store.n_series))
    # gzip: about a tenth of the size (1.2 million rows for 200 runs of 5 years, too many
    # for Excel anyway); pandas and R read it as it is
    with gzip.open(
        folder / "replications.csv.gz", "wt", compresslevel=3, encoding="utf-8", newline=""
    ) as fh:
        fh.write("scenario,seed,replication,month,metric,group,value\n")
        for r0 in range(0, store.reps, step):
            values = store.rep_block(r0, r0 + step)
            values = values.reshape(values.shape[0], -1)
            for j, row in enumerate(values):
                head = f"{scenario},{results.seed},{r0 + j + 1},"
                text = _numbers(row)
                fh.write("".join([head + t + v + "\n" for t, v in zip(tail, text, strict=True)]))
            del values


def _numbers(v: np.ndarray) -> list[str]:
    """Shortest exact text of each value: '51' for a whole number, else repr ('0.1')."""
    whole = np.where(np.isfinite(v), v, 0).astype(np.int64)
    return [str(i) if i == x else repr(x) for i, x in zip(whole.tolist(), v.tolist(), strict=True)]


def _csv_field(text: str) -> str:
    """One CSV field: quoted if it must be, and never the start of a formula."""
    text = spreadsheet_text(text)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write_yearly(d: _Derived, folder: Path) -> None:
    """Per replication and year: the DfE year-end measures, flows summed, stocks at year end."""
    r = d.r
    cols: list[tuple[str, str, np.ndarray]] = []
    for k, name in enumerate(YEARLY):
        cols.append((name, "all", r.yearly[:, :, k]))
    for metric in YEAR_FLOWS:
        groups = [g for g, _ in d.groups(metric)]
        cols += [(f"{metric}_in_year", g, d.year_sums(metric, g)) for g in groups]
        if "total" not in groups and "all" not in groups:
            cols.append((f"{metric}_in_year", "total", d.year_sums(metric)))
    for metric in YEAR_STOCKS:
        cols += [(f"{metric}_at_year_end", g, d.year_ends(metric, g)) for g, _ in d.groups(metric)]
    values = np.stack([c[2] for c in cols], axis=-1)  # (reps, years, measures)
    reps, years, n = values.shape
    year_end = [r.months[b.stop - 1] for b in d.blocks]
    frame = pd.DataFrame(
        {
            "scenario": r.name,
            "seed": r.seed,
            "replication": np.repeat(np.arange(1, reps + 1), years * n),
            "year": np.tile(np.repeat(np.arange(1, years + 1), n), reps),
            "year_ending": np.tile(np.repeat(year_end, n), reps),
            "measure": np.tile([c[0] for c in cols], reps * years),
            "group": np.tile([c[1] for c in cols], reps * years),
            "value": values.reshape(-1),
        }
    )
    spreadsheet_frame(frame).to_csv(folder / "yearly.csv", index=False)


def _write_summary(results: Results, folder: Path) -> None:
    """Median, 10th and 90th percentile and mean of every series, month by month.

    Computed a series at a time, so memory is that of one series, not of the run.
    """
    store = results.store
    n_months, n_series = store.months, store.n_series
    med, p10, p90, mean = (np.empty((n_months, n_series)) for _ in range(4))
    for s in range(n_series):
        x = store.series(s)
        med[:, s] = np.median(x, axis=0)
        p10[:, s], p90[:, s] = np.percentile(x, [10, 90], axis=0)
        mean[:, s] = x.mean(axis=0)
    metrics, groups = zip(*results.layout.series, strict=True)
    frame = pd.DataFrame(
        {
            "month": np.repeat(results.months, n_series),
            "metric": np.tile(metrics, n_months),
            "group": np.tile(groups, n_months),
            "median": med.reshape(-1),
            "p10": p10.reshape(-1),
            "p90": p90.reshape(-1),
            "mean": mean.reshape(-1),
        }
    )
    spreadsheet_frame(frame).to_csv(folder / "summary.csv", index=False)


def _write_summary_by_year(d: _Derived, measures: list[_Measure], folder: Path, k: int) -> None:
    """The headline measures per year, rounded for reading, small counts suppressed."""
    rows = []
    for y in range(d.n_years):
        for m in measures:
            med, p10, p90 = _quantiles(m.values[:, y])
            row = {
                "year": y + 1,
                "period": d.period(y),
                "measure": m.label,
                "group": m.group,
                "unit": m.unit,
            }
            for name, v in (("median", med), ("p10", p10), ("p90", p90)):
                row[name] = _suppressed(float(v), m.unit, k) or _rounded(float(v), m.unit)
            rows.append(row)
    # with a byte-order mark, so that Excel shows '£' and labels as they are
    spreadsheet_frame(pd.DataFrame(rows)).to_csv(
        folder / "summary_by_year.csv", index=False, encoding="utf-8-sig"
    )


def _rounded(v: float, unit: str) -> float:
    if np.isnan(v):
        return v
    return round(v) if unit == "£" else round(v, 1)


# =========================================================================== scenario and run


def _write_scenario(results: Results, folder: Path) -> None:
    """The scenario exactly as run, as one file that runs on its own, in the user's words.

    It is the user's own file, comments and sources included (`scenario_copy`), so it
    diffs cleanly against what they wrote. A file that `extends` another is merged with it
    into one file: the base's lines with the option's values (and comments) where the base
    set them and what the option adds after them, headed by each file's opening comment.
    One file because it is what a reader expects beside the results: the whole scenario
    that was run, which `sufficiency run` repeats and which a saved option diffs against a
    saved baseline line by line. A scenario given as data, not read from a file, is
    written plainly.
    """
    r = results
    header = (
        f"Scenario as run by sufficiency {r.version}: seed {r.seed}, {r.reps} replications, "
        f"{_years_arg(r)} years.\n"
        f"Repeat the run: sufficiency run scenario.toml {_run_args(r)}"
    )
    text = scenario_copy(r.scenario_raw, r.scenario_files, header)
    (folder / "scenario.toml").write_text(text, encoding="utf-8")


def _write_run_json(results: Results, folder: Path, out: Path) -> None:
    from ..common.build import build_info

    r = results
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    info = {
        "scenario": r.name,
        "seed": int(r.seed),
        "reps": int(r.reps),
        "years": len(r.months) / 12,
        "months": len(r.months),
        "first_month": r.months[0],
        "last_month": r.months[-1],
        "workers": int(r.workers),
        "version": r.version,
        "build": build_info(),  # the build, git commit, Python, numpy and SimPy versions
        "wall_seconds": round(float(r.wall_seconds), 3),
        "n_events": int(r.n_events),
        "child_years": round(float(r.child_years), 3),
        "run_at": r.meta.get("run_at", now),
        "report_written_at": now,
        "command": f"sufficiency run {_quote(out / 'scenario.toml')} {_run_args(r)}",
        "meta": r.meta,
    }
    text = json.dumps(info, indent=2, default=str)
    (folder / "run.json").write_text(text + "\n", encoding="utf-8")


def _years_arg(results: Results) -> str:
    return f"{len(results.months) / 12:g}"


def _run_args(results: Results) -> str:
    off = results.meta.get("parameter_uncertainty") is False
    return f"--years {_years_arg(results)} --reps {results.reps} --seed {results.seed}" + (
        " --no-parameter-uncertainty" if off else ""
    )


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


# =========================================================================== summary.md


#: (key of a headline measure, row label) for the table of summary.md.
MD_ROWS = (
    ("in_care", "Children in care at year end"),
    ("unmet_children", "Children not suitably placed at year end"),
    ("unmet_child_days", "Child-days not suitably placed in the year"),
    ("waiting_for_placement", "Children waiting for a placement at year end"),
    ("unregistered_under_16", "Under-16s in unregistered placements at year end (unlawful)"),
    ("unregistered_16_17", "16-17s in unregistered placements at year end"),
    ("in_area", "% placed in area at year end"),
    ("within_20_miles", "% placed within 20 miles at year end"),
    ("three_plus", "% with 3+ placements in the year"),
    ("moves", "Placement moves in the year"),
    ("cost", "Total cost in the year (cash)"),
    ("cost_today", "Total cost in the year, today's money"),
    ("after_care_cost", "Payments after care in the year"),
    ("cost_all", "Placements and payments after care in the year"),
)


def _market_lines(r: Results) -> list[str]:
    """Which market the council ran in: its own scenario's, or a region's shared pools."""
    market = r.meta.get("market")
    if market is None:
        return [
            "Market: the scenario's own external providers (the council alone, not in a region).",
            "",
        ]
    return [
        f"Market: the shared pools of the {markdown_text(str(market))}, with the other "
        "councils of the region (see the region's summary.md).",
        "",
    ]


def _write_summary_md(
    d: _Derived, measures: list[_Measure], folder: Path, out: Path, k: int
) -> None:
    r = d.r
    by_key = {m.key: m for m in measures}
    years = sorted({0, d.n_years - 1})
    head = ["Measure", *[f"Year {y + 1} ({d.period(y)})" for y in years]]
    lines = [
        f"# {markdown_text(r.name)}: results",
        "",
        f"Median and, in brackets, the range that 8 in 10 of {r.reps} simulated runs fell "
        "within (10th to 90th percentile).",
        "",
        *_market_lines(r),
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for key, label in MD_ROWS:
        m = by_key.get(key)
        if m is None:
            continue  # a measure this scenario does not have (no payments after care)
        cells = [_cell(m.values[:, y], m.unit, k) for y in years]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    foster = _md_foster_places(d, measures, years, k)
    if foster:
        lines += [*foster, "", FOSTER_PLACES_NOTE]
    why = uncertainty_lines(r)
    if why:
        lines += [
            "",
            "## Chance, and not knowing the rates",
            "",
            f"Each run drew its own value of the {len(r.scenario.uncertainty)} numbers the "
            "scenario gives with an interval (fitted rates), so the ranges above include not "
            "knowing them as well as chance. Run with --no-parameter-uncertainty to see chance "
            "alone.",
            "",
            *[f"- {w}" for w in why],
        ]
    elif r.meta.get("parameter_uncertainty") is False:
        lines += [
            "",
            "Every run used the rates at their medians (--no-parameter-uncertainty): the "
            "ranges show chance alone, not how well the rates are known.",
        ]
    lines += _md_commissioners(by_key, years, k)
    lines += _md_published(d, k)
    lines += ["", *_md_notes(d, out, k)]
    (folder / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _md_commissioners(by_key: dict[str, _Measure], years: list[int], k: int) -> list[str]:
    """The section of summary.md that puts each kind of unmet demand on its own line,
    with what it counts and whether the placement is unlawful, so none hides in a total."""
    head = ["Measure", "What it counts", "Unlawful?", *[f"Year {y + 1}" for y in years]]
    lines = [
        "",
        f"## {SECTION_TITLE}",
        "",
        "Children at year end: median (10th to 90th percentile). A child may count on more "
        "than one line.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for c in COMMISSIONER_MEASURES:
        m = by_key[c.key]
        cells = [_cell(m.values[:, y], m.unit, k) for y in years]
        lines.append("| " + " | ".join([c.label, c.definition, c.unlawful, *cells]) + " |")
    return lines


def _md_foster_places(d: _Derived, measures: list[_Measure], years: list[int], k: int) -> list[str]:
    """Rows of the headline table per foster provision: approved places, usable places and
    the fill rate, so a reader sees how many approved places could take a child and how
    full they are."""
    lines = []
    for m in measures:
        if m.key.split(":")[0] in ("places", "usable_places", "fill_rate"):
            cells = [_cell(m.values[:, y], m.unit, k) for y in years]
            label = f"{m.label}: {markdown_text(m.group)}"
            lines.append("| " + " | ".join([label, *cells]) + " |")
    return lines


#: Said under the headline table when it has foster places rows.
FOSTER_PLACES_NOTE = (
    "Foster places: approved places count every place of every approved household; usable "
    "places leave out households on hold (the carer's own reasons, a break, an "
    "investigation), which take no new child but keep the children they have. The fill "
    "rate is children placed over approved places, as councils and Ofsted report it."
)


def _cell(x: np.ndarray, unit: str, k: int) -> str:
    med, p10, p90 = (float(v) for v in _quantiles(x))
    if np.isnan(med):
        return "n/a"
    show: Callable[[float], str] = {"£": _money_full, "%": _pct}.get(unit, _int)
    text = [_suppressed(v, unit, k) or show(v) for v in (med, p10, p90)]
    return f"{text[0]} ({text[1]}{DASH}{text[2]})"


#: how a published figure's run is described when the run cannot be set beside it
_NOT_COMPARED = {
    "before": "before the run starts (its starting point)",
    "after": "after the run ends",
    "part": "its year is not all inside the run",
}


def _md_published(d: _Derived, k: int) -> list[str]:
    """'Against the council's published figures': each figure of actuals.csv beside the
    run's median and 80% band at its date, and whether the band covers it."""
    path, found = d.published()
    if path is None:
        return []
    lines = [
        "",
        "## Against the council's published figures",
        "",
        f"The council's own figures, from {markdown_code(path.name)} beside the scenario "
        f"file ({markdown_text(path)}), set beside this run at the same date: the run's "
        "median and the range 8 in 10 runs fell within. A figure is inside when it lies in "
        "that range (a published range: when it overlaps it). A stock is the count at the "
        "month end; a flow is the total over the 12 months to the date.",
        "",
        "| Measure | Date | Published | This run | Inside the 80% band? | Source |",
        "|---|---|---|---|---|---|",
    ]
    for c in found:
        f = c.figure
        show = _published_show(f.unit)
        if f.value is not None:
            published = show(f.value)
        else:
            published = f"{show(f.low or 0.0)}{DASH}{show(f.high or 0.0)}"
        if c.values is None:
            run, inside = _NOT_COMPARED[c.where], DASH
        else:
            med, p10, p90 = c.band()
            text = [_suppressed(v, f.unit, k) or show(v) for v in (med, p10, p90)]
            run = f"{text[0]} ({text[1]}{DASH}{text[2]})"
            inside = "**yes**" if c.inside else "**no**"
        cells = [
            markdown_code(f.measure),
            f"{f.date.day} {f.date:%b %Y}",
            published,
            run,
            inside,
            markdown_text(f.source),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    compared = [c for c in found if c.values is not None]
    if compared:
        n_in = sum(1 for c in compared if c.inside)
        lines += [
            "",
            f"{n_in} of the {len(compared)} figures inside the run's dates lie in its 80% band. "
            "With 80% bands, about 1 in 5 figures would fall outside by chance even if the "
            "model were right; figures outside together, or far outside, say where it is not.",
        ]
    return lines


def _published_show(unit: str) -> Callable[[float], str]:
    """Published figures are given to a decimal place in per cent (13.3%), so shown so."""
    if unit == "%":
        return lambda v: f"{v:.1f}%"
    return _money_full if unit == "£" else _int


def _md_money(r: Results) -> list[str]:
    """What the costs are: cash, today's money, and what the total leaves out."""
    rate = deflator(r.scenario)
    base = price_base(r.scenario.scenario.start_date)
    text = (
        "**Money:** costs are cash: each placement type's prices rise once a scenario year by "
        "its `price_inflation_per_year`. Today's money is the prices of the first scenario "
        f"year ({base}): each year's cash divided by (1 + {rate:g}) ^ year, the scenario's "
        "general inflation (`deflator_per_year`)."
    )
    if r.scenario.after_care:
        text += (
            " The total cost is placements and Staying Put; payments after care (SGO and "
            "adoption allowances, Staying Close: `[after_care]`) are shown beside it and "
            "added in 'Placements and payments after care'."
        )
    return [text, ""]


def _md_notes(d: _Derived, out: Path, k: int) -> list[str]:
    r = d.r
    s = r.scenario.scenario
    place = f" ({markdown_text(s.place)})" if s.place else ""
    lines = [
        *_md_money(r),
        "## What was run",
        "",
        f"Scenario **{markdown_text(r.name)}**{place}, starting {_month_name(r.months[0])}, over "
        f"{duration(len(r.months))} ({r.months[0]} to {r.months[-1]}): {r.reps} replications "
        f"with master seed {r.seed}, sufficiency version {r.version}. The run took "
        f"{r.wall_seconds:,.1f} seconds on {r.workers} worker(s) and simulated "
        f"{r.child_years:,.0f} child-years.",
        "",
        "To repeat it exactly (the same seed gives the same numbers, whatever the number of "
        "workers):",
        "",
        *markdown_block(f"sufficiency run {_quote(out / 'scenario.toml')} {_run_args(r)}"),
        "",
        "## Files in this folder",
        "",
        "- `summary_by_year.csv`: the headline measures for every year, median and range.",
        "- `summary.csv`: every monthly figure, median, 10th and 90th percentile and mean.",
        "- `yearly.csv` and `replications.csv.gz`: every replication, by year and by month, for "
        "analysts.",
        "- `chart_*.png`: the charts below. `scenario.toml`: the scenario as run. "
        "`run.json`: the run's settings.",
        "",
    ]
    if k > 0:
        lines += [
            f"**Small numbers:** in this summary and in `summary_by_year.csv`, counts of "
            f"children, placements, moves and child-days between 1 and {k - 1} are shown as "
            f"`<{k}`; money and percentages are not suppressed. `replications.csv.gz`, "
            "`yearly.csv` and `summary.csv` are NOT suppressed: they are for analysts and "
            "must not be published as they are.",
            "",
        ]
    else:
        lines += ["No small numbers are suppressed in this folder.", ""]
    lines += [
        "## Charts",
        "",
        "![Children in care](chart_children_in_care.png)",
        "",
        "![Cost](chart_cost.png)",
        "",
        "![Children not suitably placed](chart_unmet_demand.png)",
        "",
        "![Placed in area](chart_placed_in_area.png)",
    ]
    return lines


# =========================================================================== formatting


def range_text(x: np.ndarray, show: Callable[[float], str], prefix: str = "") -> str:
    """A per-replication figure as its median and, in brackets, its 10-90% range."""
    med, p10, p90 = (float(v) for v in _quantiles(x))
    if np.isnan(med):
        return "n/a"
    return f"{show(med)} ({prefix}{show(p10)}-{show(p90)})"


def _month_name(label: str, short: bool = False) -> str:
    """'2026-03' -> 'March 2026' (or 'Mar 2026')."""
    return dt.datetime.strptime(label, "%Y-%m").strftime("%b %Y" if short else "%B %Y")


# =========================================================================== charts


def _write_charts(d: _Derived, folder: Path) -> None:
    for name, fig in _charts(d):
        fig.savefig(folder / name, dpi=150, facecolor="white")


def _charts(d: _Derived) -> list[tuple[str, Figure]]:
    """Every chart of the run report, in the order a reader wants them."""
    return [
        ("chart_children_in_care.png", _chart_children_in_care(d)),
        ("chart_cost.png", _chart_cost(d)),
        ("chart_unmet_demand.png", _chart_unmet_demand(d)),
        ("chart_placed_in_area.png", _chart_placed_in_area(d)),
    ]


def _figure(d: _Derived, title: str, size: tuple[float, float]) -> Figure:
    """A figure with room for a title, a subtitle and a source line; no pyplot state."""
    from matplotlib.figure import Figure

    height = size[1]
    top, bottom = 0.85 / height, 0.3 / height
    fig = Figure(figsize=size)
    fig.set_layout_engine("constrained", rect=(0, bottom, 1, 1 - top - bottom))
    fig.text(0.012, 1 - 0.3 / height, title, fontsize=15, fontweight="bold", va="center")
    fig.text(
        0.012,
        1 - 0.62 / height,
        f"{d.r.name} · median and 10{DASH}90% range of {d.r.reps} runs",
        fontsize=10.5,
        color="#444444",
        va="center",
    )
    fig.text(
        0.99,
        0.12 / height,
        f"sufficiency {d.r.version} · seed {d.r.seed} · {duration(len(d.r.months))} "
        f"from {_month_name(d.r.months[0])}",
        fontsize=7.5,
        color="#777777",
        ha="right",
        va="center",
    )
    return fig


def _fan(
    ax: Axes,
    d: _Derived,
    data: np.ndarray,
    colour: str,
    label: str | None = None,
    mean: bool = False,
    steps: bool = False,
) -> None:
    """Median line over a shaded band holding the middle 80% of runs.

    `steps` draws month-end counts as levels: small counts (0, 1, 2 children) read better
    so than as zig-zags. The mean, dashed, shows rare events that the median hides.
    """
    x = np.array(month_ends(d.r.months), dtype="datetime64[D]")
    med, p10, p90 = _quantiles(data)
    draw = "steps-mid" if steps else "default"
    ax.fill_between(
        x, p10, p90, color=colour, alpha=0.22, linewidth=0, step="mid" if steps else None
    )
    ax.plot(x, med, color=colour, linewidth=2, label=label, drawstyle=draw)
    if mean:
        ax.plot(
            x, np.nanmean(data, axis=0), color=colour, linewidth=1.2, linestyle="--", drawstyle=draw
        )


def _style(ax: Axes, ylabel: str = "", counts: bool = True, money: bool = False) -> None:
    """A fan chart's axes: months along the bottom, levels from zero up."""
    style_axes(ax, ylabel, money, dates=True, counts=counts, from_zero=True)


def _mark_published(ax: Axes, d: _Derived, measure: str) -> bool:
    """Draw the run's published figures of one measure on its fan chart."""
    return mark_published(ax, d.published()[1], d.r.months, measure)


def _band_legend(
    ax: Axes, colour: str = "#666666", mean: bool = False, published: bool = False, **kw: Any
) -> None:
    """Explain the line and the band once per chart (and the council's figures, if drawn)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color=colour, linewidth=2, label="Median"),
        Patch(color=colour, alpha=0.22, label=f"10{DASH}90% of runs"),
    ]
    if mean:
        handles.append(Line2D([], [], color=colour, linewidth=1.2, linestyle="--", label="Mean"))
    if published:
        handles.append(published_handle())
    ax.legend(handles=handles, frameon=False, fontsize=8.5, **kw)


def _nothing_note(ax: Axes, data: np.ndarray, what: str) -> None:
    if not np.any(data):
        ax.set_ylim(0, 1)
        ax.text(
            0.5, 0.5, f"No {what} in any run", transform=ax.transAxes, ha="center", color="#777777"
        )


def _chart_children_in_care(d: _Derived) -> Figure:
    """Small multiples: all children, then each placement type that ever has a child."""
    panels = [("All children in care", d.total("in_care"), TOTAL_COLOUR, "in_care_total")]
    for pid, label, colour in d.provisions():
        x = d.r.series("in_care", pid)
        if np.any(x):
            panels.append((label, x, colour, f"in_care_{pid}"))
    ncols = 1 if len(panels) == 1 else 2 if len(panels) <= 4 else 3
    nrows = -(-len(panels) // ncols)
    fig = _figure(d, "Children in care by placement type", (11, 1.2 + 2.3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    marked = False
    for ax, (label, x, colour, measure) in zip(axes, panels, strict=False):
        _fan(ax, d, x, colour, steps=True)
        marked |= _mark_published(ax, d, measure)
        _style(ax)
        ax.set_title(textwrap.fill(label, 40), fontsize=10, loc="left")
    for i, ax in enumerate(axes):
        if i >= len(panels):
            ax.set_visible(False)
        elif i % ncols == 0:
            ax.set_ylabel("Children at month end")
    _band_legend(axes[0], TOTAL_COLOUR, published=marked, loc="lower right")
    return fig


def _chart_cost(d: _Derived) -> Figure:
    """Monthly total cost fan, and where the money goes over the whole run."""
    n_rows = len(d.provisions()) + 1
    fig = _figure(d, "Cost of placements", (11, max(5.6, 1.6 + 0.36 * n_rows)))
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    _fan(left, d, d.total("cost"), TOTAL_COLOUR)
    # a published cost is a year's total (cost_total), not a month's: not drawn here, but
    # set beside the run in summary.md
    _style(left, "Total cost in month (£)", counts=False, money=True)
    left.set_title("Total cost per month", fontsize=10, loc="left")
    _band_legend(left, TOTAL_COLOUR, loc="lower right")

    rows = [
        (label, d.r.series("cost", pid).sum(axis=1), colour)
        for pid, label, colour in d.provisions()
    ]
    sp = d.r.series("cost", "staying_put").sum(axis=1)
    rows.append(("Staying put (after 18)", sp, "#AAAAAA"))
    if d.r.scenario.after_care:
        after = d.r.series("after_care_cost", "total").sum(axis=1)
        rows.append(("Payments after care (not in the total)", after, "#CCCCCC"))
    rows = [row for row in rows if np.any(row[1])][::-1]
    if rows:
        med, p10, p90 = (
            np.array(a) for a in zip(*(_quantiles(x) for _, x, _ in rows), strict=True)
        )
        ypos = np.arange(len(rows))
        right.barh(ypos, med, color=[c for *_, c in rows], height=0.7)
        right.errorbar(
            med,
            ypos,
            xerr=[med - p10, p90 - med],
            fmt="none",
            ecolor="#333333",
            elinewidth=1,
            capsize=2,
        )
        labels = [textwrap.fill(label, 32, max_lines=2, placeholder="…") for label, *_ in rows]
        right.set_yticks(ypos, labels, fontsize=8)
    money_axis(right.xaxis, max_ticks=4)  # a narrow panel: "£7.5m£10.0m" ran together
    right.set_xlabel(f"Cost over {duration(len(d.r.months))} (£): median, line 10{DASH}90%")
    right.set_title("By placement type", fontsize=10, loc="left")
    right.grid(axis="x", color="#dddddd", linewidth=0.8)
    right.set_axisbelow(True)
    for side in ("top", "right"):
        right.spines[side].set_visible(False)
    return fig


def _chart_unmet_demand(d: _Derived) -> Figure:
    """How many children are not suitably placed, and for how long in total."""
    fig = _figure(d, "Children not suitably placed", (11, 7.2))
    top, bottom = fig.subplots(2, 1, sharex=True)
    children = d.total("unmet_children")
    _fan(top, d, children, UNMET_COLOUR, mean=True, steps=True)
    marked = _mark_published(top, d, "unmet_children_total")
    _style(top, "Children at month end")
    top.set_title("Children not suitably placed at the end of each month", fontsize=10, loc="left")
    if not marked:
        _nothing_note(top, children, "child unsuitably placed")
    _band_legend(top, UNMET_COLOUR, mean=True, published=marked, loc="upper left")
    days = d.total("unmet_child_days")
    _fan(bottom, d, days, UNMET_COLOUR, mean=True)
    _style(bottom, "Child-days in month")
    bottom.set_title("Child-days spent not suitably placed in each month", fontsize=10, loc="left")
    _nothing_note(bottom, days, "child-days unsuitably placed")
    return fig


def _chart_placed_in_area(d: _Derived) -> Figure:
    """Where children live: the share in the area, and in the area or within 20 miles."""
    from matplotlib.ticker import PercentFormatter

    fig = _figure(d, "Children placed close to home", (11, 5.6))
    ax = fig.subplots()
    shares = d.location_shares()
    _fan(ax, d, shares["within_20_miles"], "#0072B2", "In area or within 20 miles")
    _fan(ax, d, shares["in_area"], "#117733", "In area")
    _style(ax, "% of children in care at month end", counts=False)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.legend(
        frameon=False,
        loc="lower left",
        fontsize=9,
        title=f"Lines: median; bands: 10{DASH}90% of runs",
        title_fontsize=8.5,
    )
    return fig
