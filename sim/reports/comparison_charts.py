"""Charts that compare commissioning options with the baseline, for paper and for boards.

Every chart is a matplotlib Figure (no pyplot state, white background), with labelled
axes and units, £ with thousands separators, and option i in the same colour on every
chart (`presentation.OPTION_COLOURS`, the baseline first). Ranges are the 90% interval
(5th to 95th percentile of the replications), as in the comparison tables. A difference
of counts of children that the tables hide (`Comparison.hides_difference`) is not drawn
either: its row says why. Money axes have few, short ticks (`presentation.money_axis`), so
their labels never run into each other.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from ..runs.compare import METRICS, median_interval
from .presentation import (
    DASH,
    change_text,
    hidden_difference_text,
    mark_published,
    money_axis,
    month_ends,
    option_colour,
    published_handle,
    style_axes,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..runs.compare import Comparison

#: Metrics shown in the chart of paired differences, in the order a board reads them.
DIFF_METRICS = ("net_cost", "unmet_child_days", "unmet_children", "pct_in_area", "children_3plus")
#: Axis and label wording for each unit of a metric.
UNIT_AXIS = {
    "money": "£",
    "children": "children",
    "child-days": "child-days",
    "percent": "percentage points",
}
BAND = f"5{DASH}95%"


def charts(cmp: Comparison) -> list[tuple[str, Figure]]:
    """The comparison charts as (file name, Figure), in reading order."""
    return [
        ("compare_net_cost_by_year.png", chart_net_cost_by_year(cmp)),
        ("compare_differences.png", chart_differences(cmp)),
        ("compare_cumulative_saving.png", chart_cumulative_saving(cmp)),
        ("compare_unmet_by_year.png", chart_unmet_by_year(cmp)),
        ("compare_in_care.png", chart_in_care(cmp)),
    ]


# =========================================================================== the charts


def chart_net_cost_by_year(cmp: Comparison) -> Figure:
    """What each option costs each year, placements and its own costs together."""
    fig = _figure(
        cmp,
        "Net cost by year",
        (10, 5.2),
        subtitle="Cost of placements plus the option's own one-off and running costs: "
        f"median and {BAND} of {cmp.reps} runs",
    )
    ax = fig.subplots()
    _by_year(ax, cmp, cmp.values["net_cost"])
    style_axes(ax, "Net cost in year (£)", money=True)
    ax.set_xlabel("Financial year")
    _option_legend(ax, cmp)
    return fig


def chart_unmet_by_year(cmp: Comparison) -> Figure:
    """How much time children spend not suitably placed under each option, each year."""
    fig = _figure(
        cmp,
        "Child-days not suitably placed, by year",
        (10, 5.2),
        subtitle="Days children spent in placements that did not meet their needs, or "
        f"waiting for one: median and {BAND} of {cmp.reps} runs",
    )
    ax = fig.subplots()
    values = cmp.values["unmet_child_days"]
    _by_year(ax, cmp, values)
    style_axes(ax, "Child-days not suitably placed in year", counts=True)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Financial year")
    if not np.any(values[:, :, :-1]):
        ax.set_ylim(0, 1)
        ax.text(
            0.5,
            0.5,
            "No child-days unsuitably placed in any run",
            transform=ax.transAxes,
            ha="center",
            color="#777777",
        )
    _option_legend(ax, cmp)
    return fig


def chart_in_care(cmp: Comparison) -> Figure:
    """Children in care at each month end under each option, with the council's own
    published figures where the baseline's folder has them (actuals.csv): how far the
    baseline is from what happened is how far its differences can be trusted."""
    from .actuals import for_results

    fig = _figure(
        cmp,
        "Children in care",
        (10, 5.2),
        subtitle=f"At each month end: median and 10{DASH}90% of {cmp.reps} runs",
    )
    ax = fig.subplots()
    x = np.array(month_ends(cmp.results[0].months), dtype="datetime64[D]")
    for i, r in enumerate(cmp.results):
        data = r.total("in_care")
        med = np.nanmedian(data, axis=0)
        p10, p90 = np.nanpercentile(data, [10, 90], axis=0)
        colour = option_colour(i)
        ax.fill_between(x, p10, p90, color=colour, alpha=0.15 if i else 0.22, linewidth=0)
        # options that barely differ draw on top of each other: a dash pattern each
        ax.plot(
            x,
            med,
            color=colour,
            linewidth=1.6,
            linestyle=("-", "--", "-.", ":")[i % 4],
            label=_wrap(cmp.names[i]),
            zorder=3 if i == 0 else 2,
        )
    found = for_results(cmp.results[0])
    marked = found is not None and mark_published(
        ax, found[1], cmp.results[0].months, "in_care_total"
    )
    style_axes(ax, "Children in care at month end", dates=True, counts=True, from_zero=True)
    handles, labels = ax.get_legend_handles_labels()
    if marked:
        handles.append(published_handle())
        labels.append("published figure (the council's)")
    else:
        why = (
            "no count of children in care in its actuals.csv falls in these years"
            if found is not None
            else "no actuals.csv beside it"
        )
        ax.text(
            0.99,
            0.02,
            f"No published figure to check the baseline against: {why}",
            transform=ax.transAxes,
            ha="right",
            fontsize=8,
            color="#777777",
        )
    ax.legend(handles, labels, frameon=False, fontsize=8.5, loc="lower left")
    return fig


def chart_differences(cmp: Comparison) -> Figure:
    """Dot and interval: each option minus the baseline over the whole horizon, paired."""
    metrics = [m for m in DIFF_METRICS if m in cmp.values]
    options = list(range(1, len(cmp.names)))
    height = 1.4 + len(metrics) * (0.9 + 0.45 * max(1, len(options)))
    fig = _figure(
        cmp,
        f"Difference from the baseline over {_horizon(cmp)}",
        (10, height),
        subtitle=f"Each option minus {cmp.names[0]}, run by run: median (dot) and "
        f"90% interval ({BAND} of runs, line)",
    )
    axes = fig.subplots(len(metrics), 1, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=True):
        _difference_panel(ax, cmp, metric, options)
    return fig


def chart_cumulative_saving(cmp: Comparison) -> Figure:
    """Saving against the baseline added up year by year, and when it breaks even."""
    fig = _figure(
        cmp,
        "Cumulative net saving against the baseline",
        (10, 5.4),
        subtitle=f"Baseline net cost minus option net cost, added up by year: median "
        f"and {BAND} of runs; above zero the option has saved money",
    )
    ax = fig.subplots()
    years = len(cmp.periods) - 1
    x = np.arange(years)
    for i in range(1, len(cmp.names)):
        saving = np.cumsum(-cmp.diff("net_cost")[i, :, :years], axis=1)
        med, lo, hi = median_interval(saving)
        colour = option_colour(i)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15, linewidth=0)
        even = _break_even_year(cmp, i)
        label = _wrap(cmp.names[i]) + (f"\nbreaks even: {even} (median)" if even else "")
        ax.plot(x, med, color=colour, linewidth=2, marker="o", label=label)
        _mark_break_even(ax, cmp, i, med, x)
    ax.axhline(0, color="#333333", linewidth=1)
    style_axes(ax, "Cumulative net saving (£)", money=True)
    ax.set_xticks(x, cmp.periods[:years])
    ax.set_xlabel("End of financial year")
    ax.set_xlim(-0.3, years - 0.7)
    ax.legend(
        frameon=False,
        fontsize=9,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        title="Diamond: median break-even year",
        title_fontsize=8.5,
    )
    return fig


# =========================================================================== pieces


def _by_year(ax: Axes, cmp: Comparison, values: np.ndarray) -> None:
    """Median per year with its 5-95% range, options side by side within each year."""
    years = len(cmp.periods) - 1
    n = len(cmp.names)
    width = 0.8 / n
    for i, name in enumerate(cmp.names):
        med, lo, hi = median_interval(values[i, :, :years])
        x = np.arange(years) + (i - (n - 1) / 2) * width
        ax.errorbar(
            x,
            med,
            yerr=[med - lo, hi - med],
            fmt="o",
            color=option_colour(i),
            markersize=7,
            elinewidth=2.5,
            capsize=0,
            label=_wrap(name),
        )
    ax.set_xticks(np.arange(years), cmp.periods[:years])
    ax.set_xlim(-0.6, years - 0.4)


def _difference_panel(ax: Axes, cmp: Comparison, metric: str, options: list[int]) -> None:
    """One metric: a row per option, dot at the median difference, line for the interval."""
    m = METRICS[metric]
    table = cmp.summary
    horizon = table[(table["metric"] == metric) & (table["period"] == cmp.periods[-1])]
    y = np.arange(len(options))[::-1]
    for row, i in zip(y, options, strict=True):
        if cmp.hides_difference(i, metric):
            ax.annotate(
                hidden_difference_text(cmp.suppress_below, m.unit),
                (0, row),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8.5,
                color="#555555",
            )
            continue
        line = horizon[horizon["option"] == cmp.names[i]].iloc[0]
        med, lo, hi = (float(line[c]) for c in ("diff_median", "diff_p5", "diff_p95"))
        colour = option_colour(i)
        ax.plot([lo, hi], [row, row], color=colour, linewidth=3, solid_capstyle="round")
        ax.plot(med, row, "o", color=colour, markersize=9, markeredgecolor="white")
        ax.annotate(
            change_text(med, m.unit),
            (med, row),
            xytext=(0, 8),
            textcoords="offset points",
            ha="center",
            fontsize=8.5,
            color="#222222",
        )
    ax.axvline(0, color="#333333", linewidth=1)
    ax.set_yticks(y, [_wrap(cmp.names[i], 34) for i in options], fontsize=8.5)
    ax.set_ylim(-0.7, len(options) - 0.3)
    better = "lower is better" if m.better == "lower" else "higher is better"
    ax.set_title(f"{m.label} ({better})", fontsize=10, loc="left")
    ax.set_xlabel(f"Difference from baseline ({UNIT_AXIS.get(m.unit, m.unit)})", fontsize=9)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    lo_all, hi_all = ax.get_xlim()
    span = max(abs(lo_all), abs(hi_all), 1e-9)
    ax.set_xlim(min(lo_all, -0.05 * span), max(hi_all, 0.05 * span))  # zero always in view
    if m.unit == "money":
        money_axis(ax.xaxis, max_ticks=6)


def _break_even_year(cmp: Comparison, i: int) -> str | None:
    """The option's median break-even year label (or "not within N years"), if known."""
    rows = cmp.break_even[cmp.break_even["option"] == cmp.names[i]]
    return None if rows.empty else str(rows.iloc[0]["median_year"])


def _mark_break_even(ax: Axes, cmp: Comparison, i: int, med: np.ndarray, x: np.ndarray) -> None:
    """An open diamond on the option's line at its median break-even year, if within."""
    label = _break_even_year(cmp, i)
    if label not in cmp.periods[:-1]:
        return
    k = cmp.periods.index(label)
    ax.plot(
        x[k],
        med[k],
        marker="D",
        markersize=12,
        markerfacecolor="none",
        markeredgecolor=option_colour(i),
        markeredgewidth=2,
        linestyle="none",
    )


def _option_legend(ax: Axes, cmp: Comparison) -> None:
    ax.legend(
        frameon=False,
        fontsize=9,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        title=f"Dot: median; line: {BAND} of runs",
        title_fontsize=8.5,
    )


def _wrap(text: str, width: int = 28) -> str:
    return textwrap.fill(text, width, max_lines=3, placeholder="…")


def _horizon(cmp: Comparison) -> str:
    years = len(cmp.periods) - 1
    return f"{years} year{'s' if years != 1 else ''}"


def _figure(
    cmp: Comparison, title: str, size: tuple[float, float], subtitle: str | None = None
) -> Figure:
    """A white figure with a title and a subtitle naming the runs; no pyplot state."""
    from matplotlib.figure import Figure

    height = size[1]
    top = 0.95 / height
    fig = Figure(figsize=size, facecolor="white")
    fig.set_layout_engine("constrained", rect=(0, 0, 1, 1 - top))
    fig.text(0.012, 1 - 0.3 / height, title, fontsize=15, fontweight="bold", va="center")
    sub = subtitle or f"{len(cmp.names)} options, {cmp.reps} paired runs each, over {_horizon(cmp)}"
    fig.text(0.012, 1 - 0.68 / height, sub, fontsize=9.5, color="#444444", va="center")
    return fig
