"""The comparison of options as an Excel workbook, because that is how commissioners share figures.

Sheets: "Summary" first (run settings, the plain-language sentences and one row per
option over the whole horizon), then one sheet per headline metric with the years as
columns, then "Unmet demand" (every measure of unmet demand as commissioners mean it, by
year, for each scenario), the options' own costs as the scenario files give them, and
"Notes" on how to read it and what each measure counts.
Every figure is a real number with a number format (money, percent, count), never a
formula, so it can be copied into board papers and other workbooks as it is.

Counts of children below `suppress_below` (K) are written as the text "<K" (zero stays
0); a difference of counts is shown in full or, when a count it compares is below K,
hidden whole (`presentation.difference_rule`); money and percentages are never suppressed.

Sheet names are fixed and short (`SHEET_NAMES`): Excel allows 31 characters. Every text
cell is plain text, never a formula, even when a scenario names an option "=..."
(`safe_text.safe_workbook` runs over the whole book before it is saved).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..common.outputs import atomic_path
from ..common.safe_text import safe_workbook
from ..common.suppression import COUNT_UNITS, all_hidden
from ..runs.commissioners import BY_KEY, SECTION_TITLE, UNMET_SETTING
from ..runs.compare import METRICS, UNMET_SHEET, median_interval, metrics_in
from .comparison_words import break_even_spread, rank_rule, sentences
from .presentation import all_hidden_text, difference_rule, hidden_difference_text, suppressed

if TYPE_CHECKING:
    import pandas as pd
    from openpyxl.worksheet.worksheet import Worksheet

    from ..runs.compare import Comparison

MONEY = "£#,##0;-£#,##0"
PERCENT = "0.0%"
CHANCE = "0%"
COUNT = "#,##0"
POINTS = '+0.0" pts";-0.0" pts";0.0" pts"'  # differences of percentages
#: Quantiles of every interval: the 90% interval, as in the comparison's summary.
LOW, HIGH = 5, 95
INTERVAL = f"90% interval ({LOW}th to {HIGH}th percentile)"
WRAP_WIDTH = 60  # widest a column grows before its text wraps
#: Every sheet the workbook can hold, in order: fixed names of at most 31 characters.
SHEET_NAMES = (
    "Summary",
    *dict.fromkeys(m.sheet for m in METRICS.values()),  # the unmet-demand measures share one
    "Option costs",
    "Notes",
)


@dataclass(frozen=True)
class _Cell:
    """One value to write, with how Excel should show it."""

    value: Any
    fmt: str | None = None
    count: bool = False  # a count of children: shown as "<K" when small


# =========================================================================== public API


def write_workbook(cmp: Comparison, path: Path | str) -> None:
    """Write the comparison workbook to `path`, whole or not at all.

    An existing file is replaced only once the new one is complete (a notebook or a
    command run twice writes the same file again).
    """
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    _summary_sheet(summary, cmp, METRICS)
    for key in metrics_in(""):
        _metric_sheet(book.create_sheet(_sheet_name(METRICS[key])), cmp, key, METRICS[key])
    _unmet_sheet(book.create_sheet(UNMET_SHEET), cmp)
    _option_costs_sheet(book.create_sheet("Option costs"), cmp)
    _notes_sheet(book.create_sheet("Notes"), cmp, METRICS)
    safe_workbook(book)
    with atomic_path(Path(path), force=True, folder=False) as tmp:
        book.save(tmp)


# =========================================================================== figures


def _summary_row(cmp: Comparison, option: str, metric: str, period: str) -> pd.Series | None:
    """The comparison's paired figures for one option, metric and period (None: baseline)."""
    s = cmp.summary
    hit = s[(s["option"] == option) & (s["metric"] == metric) & (s["period"] == period)]
    return None if hit.empty else hit.iloc[0]


def _level(v: float | np.floating | np.ndarray | None, unit: str) -> _Cell:
    """An option's own figure: money, a percentage (stored as a fraction) or a count."""
    if v is None or np.isnan(v):
        return _Cell(None)
    if unit == "money":
        return _Cell(float(v), MONEY)
    if unit == "percent":
        return _Cell(float(v) / 100, PERCENT)
    return _Cell(float(v), COUNT, count=unit in COUNT_UNITS)


def _difference(v: float, unit: str) -> _Cell:
    """A paired difference, option minus baseline; percentages in percentage points.

    Never "<K" cell by cell: a difference of counts is shown or hidden whole (see
    `_metric_sheet`), so it is a plain number here.
    """
    if v is None or np.isnan(v):
        return _Cell(None)
    if unit == "percent":
        return _Cell(float(v), POINTS)
    return _Cell(float(v), MONEY if unit == "money" else COUNT)


def _chance(v: float) -> _Cell:
    if v is None or np.isnan(v):
        return _Cell(None)
    return _Cell(float(v), CHANCE)


# =========================================================================== sheets


def _summary_sheet(ws: Worksheet, cmp: Comparison, metrics: dict[str, Any]) -> None:
    """Settings, sentences and the options side by side over the whole horizon."""
    horizon = cmp.periods[-1]
    ws.append(["Comparison of options"])
    ws["A1"].font = _font(bold=True, size=14)
    for label, value in (
        ("Baseline", cmp.names[0]),
        ("Options", len(cmp.names) - 1),
        ("Years", cmp.years),
        ("First month", cmp.start_date.strftime("%B %Y") if cmp.start_date else None),
        ("Replications (runs) of each option", cmp.reps),
        ("Master seed (the same for every option)", cmp.seed),
        ("Written on", dt.date.today().isoformat()),
        ("Small counts", _suppression_note(cmp.suppress_below)),
        ("Ranking", rank_rule(cmp.rank_by)),
    ):
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = _font(bold=True)
    ws.append([])
    ws.append(["In plain words"])
    ws.cell(ws.max_row, 1).font = _font(bold=True, size=12)
    for sentence in sentences(cmp):
        ws.append([sentence])
    ws.append([])
    ws.append([f"Options over {horizon.lower()}: median and {INTERVAL}"])
    ws.cell(ws.max_row, 1).font = _font(bold=True, size=12)

    header = [
        "Option",
        "Net cost: median",
        f"Net cost: {LOW}%",
        f"Net cost: {HIGH}%",
        "Net cost, difference from baseline: median",
        f"Net cost difference: {LOW}%",
        f"Net cost difference: {HIGH}%",
        "Chance cheaper than baseline",
        "Child-days not suitably placed: median",
        "Chance of less unmet demand than baseline",
        "% placed in area: median",
        "Children with 3+ placements: median",
        "Break-even year: median",
        "Break-even: 90% interval",
        "Chance of breaking even within the horizon",
        "Rank",
    ]
    _header_row(ws, header)
    for i, name in enumerate(cmp.names):
        first, *rest = _summary_cells(cmp, i, name, horizon, metrics)
        ws.append([first.value])
        _write_row(ws, ws.max_row, 2, rest, cmp)
    ws.column_dimensions["A"].width = 42
    for col in range(2, len(header) + 1):
        ws.column_dimensions[_letter(col)].width = 16


def _summary_cells(
    cmp: Comparison, i: int, name: str, horizon: str, metrics: dict[str, Any]
) -> list[_Cell]:
    """One option's row of the summary table; the baseline has no differences."""
    cost = median_interval(cmp.values["net_cost"][i, :, -1])
    cells = [_Cell(name if i else f"{name} (baseline)"), *(_level(v, "money") for v in cost)]
    row = _summary_row(cmp, name, "net_cost", horizon) if i else None
    diffs = (row["diff_median"], row["diff_p5"], row["diff_p95"]) if row is not None else ()
    cells += [_difference(v, "money") for v in diffs] or [_Cell(None)] * 3
    cells.append(_chance(row["prob_better"]) if row is not None else _Cell(None))
    unmet_unit = metrics["unmet_child_days"].unit
    cells.append(_level(median_interval(cmp.values["unmet_child_days"][i, :, -1])[0], unmet_unit))
    unmet = _summary_row(cmp, name, "unmet_child_days", horizon) if i else None
    cells.append(_chance(unmet["prob_better"]) if unmet is not None else _Cell(None))
    cells.append(_level(median_interval(cmp.values["pct_in_area"][i, :, -1])[0], "percent"))
    three_unit = metrics["children_3plus"].unit
    cells.append(_level(median_interval(cmp.values["children_3plus"][i, :, -1])[0], three_unit))
    cells += _break_even_cells(cmp, name) if i else [_Cell(None)] * 3
    cells.append(_Cell(_rank(cmp, name)))
    return cells


def _break_even_cells(cmp: Comparison, name: str) -> list[_Cell]:
    be = cmp.break_even
    hit = be[be["option"] == name]
    if hit.empty:
        return [_Cell(None)] * 3
    r = hit.iloc[0]
    return [
        _Cell(str(r["median_year"])),
        _Cell(break_even_spread(r["p5_year"], r["p95_year"])),
        _chance(r["prob_within_horizon"]),
    ]


def _rank(cmp: Comparison, name: str) -> int | None:
    hit = cmp.ranking[cmp.ranking["option"] == name]
    if hit.empty or "overall_rank" not in hit:
        return None
    v = hit.iloc[0]["overall_rank"]
    return None if v is None or np.isnan(v) else int(v)


def _metric_sheet(ws: Worksheet, cmp: Comparison, key: str, metric: Any) -> None:
    """Years as columns: each option's level, then each option's paired difference."""
    unit = metric.unit
    ws.append([f"{metric.label} ({_unit_words(unit)})"])
    ws["A1"].font = _font(bold=True, size=14)
    ws.append(
        [
            f"Median and {INTERVAL} of {cmp.reps} runs. Differences are option minus "
            f"baseline, run by run with the same random numbers; {metric.better} is better."
        ]
    )
    ws.append([])
    values = cmp.values[key]
    k = int(cmp.suppress_below or 0)
    bands = [
        [median_interval(values[i, :, p]) for p in range(len(cmp.periods))]
        for i in range(len(cmp.names))
    ]
    if unit in COUNT_UNITS and all_hidden(np.ravel(bands), "children", k):
        ws.append([all_hidden_text(k)])  # once, not "<K" in every cell
        ws.column_dimensions["A"].width = 100
        return
    _header_row(ws, ["Option", "Figure", *cmp.periods])
    header_row = ws.max_row
    for i, name in enumerate(cmp.names):
        label = name if i else f"{name} (baseline)"
        for j, what in enumerate(("Median", f"{LOW}%", f"{HIGH}%")):
            _figure_row(ws, cmp, label, what, [_level(b[j], unit) for b in bands[i]])
    ws.append([])
    ws.append(["Difference from the baseline (option minus baseline, paired)"])
    ws.cell(ws.max_row, 1).font = _font(bold=True, size=12)
    for i, name in enumerate(cmp.names[1:], start=1):
        figures, chances = _difference_rows(cmp, i, key, unit, k)
        for what, cells in figures:
            _figure_row(ws, cmp, name, what, cells)
        _figure_row(ws, cmp, name, "Chance better than baseline", chances)
    ws.freeze_panes = f"C{header_row + 1}"
    ws.column_dimensions["A"].width = min(WRAP_WIDTH, max(12, *(len(n) + 12 for n in cmp.names)))
    ws.column_dimensions["B"].width = 28
    for col in range(3, len(cmp.periods) + 3):
        ws.column_dimensions[_letter(col)].width = 15


def _difference_rows(
    cmp: Comparison, i: int, key: str, unit: str, k: int
) -> tuple[list[tuple[str, list[_Cell]]], list[_Cell]]:
    """Option i's paired differences from the baseline in `key`, by period: the median and
    the 5th and 95th percentiles (hidden where the counts are small), and the chance the
    option did better."""
    name = cmp.names[i]
    rows = [_summary_row(cmp, name, key, p) for p in cmp.periods]
    hidden = [cmp.hides_difference(i, key, p) for p in range(len(cmp.periods))]
    figures = []
    for stat, what in (
        ("diff_median", "Median difference"),
        ("diff_p5", f"Difference: {LOW}%"),
        ("diff_p95", f"Difference: {HIGH}%"),
    ):
        cells = [
            _hidden_cell(k, unit, stat == "diff_median")
            if hide
            else _difference(r[stat] if r is not None else np.nan, unit)
            for r, hide in zip(rows, hidden, strict=True)
        ]
        figures.append((what, cells))
    chances = [_chance(r["prob_better"] if r is not None else np.nan) for r in rows]
    return figures, chances


def _unmet_sheet(ws: Worksheet, cmp: Comparison) -> None:
    """Unmet demand as commissioners mean it on one sheet: for each measure, every
    scenario's level by year, then each option's paired difference, one row per figure
    with the measure named on every row (so the sheet filters by measure or option)."""
    ws.append([f"{SECTION_TITLE} (children, average of month ends)"])
    ws["A1"].font = _font(bold=True, size=14)
    ws.append(
        [
            f"Median and {INTERVAL} of {cmp.reps} runs. Differences are option minus "
            "baseline, run by run with the same random numbers; lower is better. A child may "
            "count on more than one measure; the Notes sheet says what each counts."
        ]
    )
    ws.append([])
    _header_row(ws, ["Measure", "Option", "Figure", *cmp.periods])
    header_row = ws.max_row
    k = int(cmp.suppress_below or 0)
    n_periods = len(cmp.periods)
    for key in metrics_in(UNMET_SETTING):
        label, unit = BY_KEY[key].label, METRICS[key].unit
        values = cmp.values[key]
        bands = [[median_interval(values[i, :, p]) for p in range(n_periods)]
                 for i in range(len(cmp.names))]  # fmt: skip
        if all_hidden(np.ravel(bands), "children", k):
            ws.append([label, "", all_hidden_text(k)])  # once, not "<K" in every cell
            continue
        for i, name in enumerate(cmp.names):
            who = name if i else f"{name} (baseline)"
            for j, what in enumerate(("Median", f"{LOW}%", f"{HIGH}%")):
                ws.append([label, who, what])
                _write_row(ws, ws.max_row, 4, [_level(b[j], unit) for b in bands[i]], cmp)
        for i, name in enumerate(cmp.names[1:], start=1):
            figures, chances = _difference_rows(cmp, i, key, unit, k)
            for what, cells in figures:
                ws.append([label, name, what])
                _write_row(ws, ws.max_row, 4, cells, cmp)
            ws.append([label, name, "Chance fewer than baseline"])
            _write_row(ws, ws.max_row, 4, chances, cmp)
    ws.freeze_panes = f"D{header_row + 1}"
    ws.auto_filter.ref = f"A{header_row}:{_letter(3 + n_periods)}{ws.max_row}"
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = min(WRAP_WIDTH, max(12, *(len(n) + 12 for n in cmp.names)))
    ws.column_dimensions["C"].width = 28
    for col in range(4, n_periods + 4):
        ws.column_dimensions[_letter(col)].width = 15


def _hidden_cell(k: int, unit: str, say_why: bool) -> _Cell:
    """A difference that is hidden: the reason once (in the median row), then blanks."""
    return _Cell(hidden_difference_text(k, unit) if say_why else None)


def _figure_row(
    ws: Worksheet, cmp: Comparison, option: str, what: str, cells: Iterable[_Cell]
) -> None:
    ws.append([option, what])
    _write_row(ws, ws.max_row, 3, list(cells), cmp)


def _notes_sheet(ws: Worksheet, cmp: Comparison, metrics: dict[str, Any]) -> None:
    """How to read the figures, for someone who was not in the room."""
    k = cmp.suppress_below
    notes = [
        ("How to read this workbook", None),
        (
            "Same random numbers",
            "Every option was run with the same master seed, so replication (run) i of an "
            "option faced the same children, ages and events as run i of the baseline "
            "wherever the option does not change them (common random numbers). The "
            "difference between an option and the baseline is worked out run by run and "
            "then summarised, so it shows the effect of the option, not chance.",
        ),
        (
            "Medians and intervals",
            f"Each figure is the median of {cmp.reps} runs: half the runs were above it, half "
            f"below. The 90% interval runs from the {LOW}th to the {HIGH}th percentile: 9 "
            "runs in 10 fell within it. It shows the uncertainty that comes from chance "
            "(who comes into care and when), not from the assumptions in the scenario files.",
        ),
        (
            "Chance better",
            "The share of runs in which the option was strictly better than the baseline "
            "(cheaper, fewer child-days not suitably placed, and so on).",
        ),
        (
            "Break-even",
            "The first year in which the option's running total of net cost falls below the "
            "baseline's, with the years between which 9 runs in 10 broke even.",
        ),
        ("Small numbers", _suppression_note(k)),
        ("Ranking", rank_rule(cmp.rank_by)),
        ("What each sheet measures", None),
    ]
    notes += [
        (m.label, f"{_unit_words(m.unit)}; {m.better} is better")
        for m in metrics.values()
        if m.group == ""
    ]
    notes.append((f"{SECTION_TITLE} (sheet '{UNMET_SHEET}')", None))
    notes += [
        (
            BY_KEY[key].label,
            f"What it counts: {BY_KEY[key].definition}. Unlawful? {BY_KEY[key].unlawful}. "
            "Children counted at each month end, averaged over the months of the year (or "
            f"of the run); lower is better. Rank on it with --rank-by {key}.",
        )
        for key, m in metrics.items()
        if m.group == UNMET_SETTING
    ]
    for title, text in notes:
        ws.append([title, text])
        ws.cell(ws.max_row, 1).font = _font(bold=True, size=12 if text is None else 11)
        if text is not None:
            ws.cell(ws.max_row, 2).alignment = _wrap()
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 100


def _option_costs_sheet(ws: Worksheet, cmp: Comparison) -> None:
    """The options' own costs exactly as the scenario files give them."""
    ws.append(["The options' own costs, as given in the scenario files"])
    ws["A1"].font = _font(bold=True, size=14)
    ws.append(
        [
            "Added to the cost of placements to give the net cost. Prices are those of the "
            "first year; they rise each year by the rate shown."
        ]
    )
    ws.append([])
    costs = [(name, c) for name, cs in zip(cmp.names, cmp.option_costs, strict=True) for c in cs]
    if not costs:
        ws.append(["None of the scenarios has costs of its own."])
        return
    _header_row(ws, ["Option", "Item", "One-off (£)", "Per year (£)", "Starts", "Ends",
                     "Rise per year", "Source"])  # fmt: skip
    ws.freeze_panes = f"A{ws.max_row + 1}"  # a coordinate: ws.cell() would add a row
    for name, c in costs:
        ws.append([name, c.item, c.one_off, c.per_year, c.starts or "start of the run",
                   c.ends or "end of the run", c.inflation_per_year, c.source])  # fmt: skip
        row = ws[ws.max_row]
        for cell in row[2:4]:
            cell.number_format = MONEY
        for cell in row[4:6]:
            cell.number_format = "d mmm yyyy"
        row[6].number_format = PERCENT
    for col, width in zip("ABCDEFGH", (40, 50, 14, 14, 14, 14, 12, 60), strict=True):
        ws.column_dimensions[col].width = width


# =========================================================================== cells


def _write_row(
    ws: Worksheet, row: int, first: int, cells: Sequence[_Cell], cmp: Comparison
) -> None:
    """Write cells from column `first`; small counts of children become "<K"."""
    k = int(cmp.suppress_below or 0)
    for j, c in enumerate(cells):
        cell = ws.cell(row, first + j)
        hidden = suppressed(c.value, "children", k) if c.count and c.value is not None else None
        if hidden is not None:
            cell.value = hidden
            cell.alignment = _right()
            continue
        cell.value = c.value
        if isinstance(c.value, str):
            cell.alignment = _right()
        if c.fmt:
            cell.number_format = c.fmt


def _header_row(ws: Worksheet, labels: list[str]) -> None:
    ws.append(labels)
    for cell in ws[ws.max_row]:
        cell.font = _font(bold=True)
        cell.alignment = _wrap()


def _sheet_name(metric: Any) -> str:
    """The metric's fixed sheet name; Excel refuses more than 31 characters or []:*?/\\."""
    name = metric.sheet
    if not name or len(name) > 31 or re.search(r"[\[\]:*?/\\]", name):
        raise ValueError(f"metric {metric.label!r} needs a sheet name of up to 31 characters")
    return name


def _unit_words(unit: str) -> str:
    return {
        "money": "£",
        "percent": "% of children in care",
        "children": "children",
        "child-days": "child-days",
    }.get(unit, unit)


def _suppression_note(k: int) -> str:
    if k and k > 0:
        return difference_rule(k)
    return "No small numbers are suppressed in this workbook."


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def _font(bold: bool = False, size: float = 11) -> Any:
    from openpyxl.styles import Font

    return Font(bold=bold, size=size)


def _wrap() -> Any:
    from openpyxl.styles import Alignment

    return Alignment(wrap_text=True, vertical="top")


def _right() -> Any:
    from openpyxl.styles import Alignment

    return Alignment(horizontal="right")
