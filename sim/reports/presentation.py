"""How figures look wherever they are published: numbers as text, suppression, colours, axes.

The run report, the comparison workbook and the HTML report all format money, counts and
percentages here, so a figure reads the same in every file a commissioner shares, and a
placement type or an option has the same colour on every chart.

Small numbers: a count of children (or of things that happen to them) between 1 and K-1
can identify a child, so published tables show it as "<K". Zero is shown as 0; money and
percentages are never suppressed. A difference between two counts is not itself a count:
it is shown in full when both counts it compares are published, and otherwise hidden
whole (`difference_hidden`, `DIFFERENCE_RULE`), so no table ever reads "-<5".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..common.suppression import (
    is_missing,
    suppressed,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..scenario.schema import Scenario
    from .actuals import Check

#: Fixed palette: provision i (in scenario order) always gets colour i, on every chart.
PALETTE = (
    "#332288",
    "#44AA99",
    "#DDCC77",
    "#CC6677",
    "#88CCEE",
    "#117733",
    "#AA4499",
    "#999933",
    "#882255",
    "#E69F00",
    "#0072B2",
    "#D55E00",
    "#56B4E9",
    "#8C564B",
    "#E7298A",
    "#BCBD22",
)
#: Option i (baseline first) always gets colour i: a dark grey baseline to compare against,
#: then the Okabe-Ito colours that stay apart for colour-blind readers and on grey paper
#: (their yellow is left out: it vanishes when printed).
OPTION_COLOURS = (
    "#4D4D4D",
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
)
TOTAL_COLOUR = "#222222"
UNMET_COLOUR = "#B2182B"
DASH = "\u2013"  # en dash, for ranges: "231\u2013270"


# =========================================================================== numbers as text


def money(v: float) -> str:
    """Short money for headlines and tick labels: £850, £250k, £61.2m, -£1.5m."""
    if is_missing(v):
        return "n/a"
    sign, v = ("-" if v < 0 else ""), abs(v)
    # The unit follows the rounded figure: £999,600 rounds to 1,000k, so it shows as £1.0m.
    if round(v / 1e3) >= 1000:
        return f"{sign}£{v / 1e6:,.1f}m"
    if round(v) >= 1000:
        return f"{sign}£{v / 1e3:,.0f}k"
    return f"{sign}£{v:,.0f}"


def money_full(v: float) -> str:
    """Money with separators, to the nearest £1,000 once it is large: £7,812,000."""
    if is_missing(v):
        return "n/a"
    sign, v = ("-" if v < 0 else ""), abs(v)
    return f"{sign}£{round(v, -3) if v >= 1e5 else round(v):,.0f}"


def pct(v: float) -> str:
    """A percentage (already in percent, 0-100) to the nearest whole: '47%'."""
    if is_missing(v):
        return "n/a"
    return f"{round(v)}%"


def count(v: float, k: int = 0) -> str:
    """A count rounded, with thousands separators; "<k" when it is above 0 but below k."""
    if is_missing(v):
        return "n/a"
    hidden = suppressed(v, "children", k)
    return hidden if hidden is not None else f"{round(v):,}"


def hidden_difference_text(k: int, unit: str = "children") -> str:
    """What a hidden difference shows, once for the figure and its interval."""
    what = "child-days" if unit == "child-days" else "children"
    return f"suppressed (fewer than {k} {what})"


def difference_rule(k: int) -> str:
    """The rule for small numbers, in one sentence for every published output."""
    if k <= 0:
        return "Small numbers are not suppressed: check before publishing."
    return (
        f"Counts of children (and child-days) between 1 and {k - 1} are shown as <{k}; a "
        "difference between an option and the baseline is shown in full when both counts "
        f"it compares are 0 or at least {k}, and otherwise, with its interval, only as "
        f"'{hidden_difference_text(k)}'; money and percentages are never suppressed."
    )


def all_hidden_text(k: int) -> str:
    """The one sentence a table shows instead of a "<K" in every cell."""
    return (
        f"Every count here is 0 or between 1 and {k - 1}, so none is shown: counts below "
        f"{k} are suppressed so that no child can be identified."
    )


def all_hidden_short(k: int) -> str:
    """`all_hidden_text` in a few words, for one row of a table with many rows."""
    return f"0 or fewer than {k} in every scenario: not shown (small numbers)"


# =========================================================================== colours


def provision_colours(scenario: Scenario) -> dict[str, str]:
    """Provision id -> colour, by the order the scenario lists its provision.

    Options extend the baseline, so a placement type keeps its baseline position and its
    colour in every option's charts; a provision an option adds comes after them.
    """
    return {pid: PALETTE[i % len(PALETTE)] for i, pid in enumerate(scenario.provision)}


def option_colour(i: int) -> str:
    """The colour of option i (0 is the baseline), cycling if there are very many."""
    return OPTION_COLOURS[i % len(OPTION_COLOURS)]


# =========================================================================== chart axes


def style_axes(
    ax: Axes,
    ylabel: str = "",
    money: bool = False,
    *,
    dates: bool = False,
    counts: bool = False,
    from_zero: bool = False,
) -> None:
    """Axes that read on paper: a light grid behind the data, no box, a labelled y axis.

    `money` writes £ with thousands separators on the y axis; `counts` keeps whole
    numbers on it (no half children); `dates` gives compact month/year ticks on x;
    `from_zero` starts the y axis at 0 (levels, not differences).
    """
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    if dates:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if from_zero:
        ax.set_ylim(bottom=0)
    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    if money:
        ax.yaxis.set_major_formatter(money_formatter())
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ylabel:
        ax.set_ylabel(ylabel)


def money_formatter() -> Any:
    """A tick formatter for money axes: £250,000 below a million, £1.25m above.

    The number of decimals in millions follows the tick spacing, so neighbouring ticks
    never print the same label.
    """
    from matplotlib.ticker import Formatter

    class _Money(Formatter):
        ticks: tuple[float, ...] = ()

        def set_locs(self, locs: Any) -> None:  # matplotlib passes every tick first
            self.ticks = tuple(sorted(float(x) for x in locs))

        def __call__(self, v: float, pos: int | None = None) -> str:
            sign = "-" if v < 0 else ""
            if abs(v) < 0.5:
                return "£0"
            if max((abs(x) for x in self.ticks), default=abs(v)) < 1e6:
                return f"{sign}£{abs(v):,.0f}"
            gaps = [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False) if b > a]
            step = min(gaps, default=1e6) / 1e6
            decimals = next(
                (d for d in range(3) if abs(step * 10**d - round(step * 10**d)) < 1e-6), 3
            )
            return f"{sign}£{abs(v) / 1e6:,.{decimals}f}m"

    return _Money()


def money_axis(axis: Any, max_ticks: int = 5) -> None:
    """Money ticks on `axis` that never run into each other: few, round and short.

    At most `max_ticks` intervals at steps of 1, 2 or 5 (never 2.5, whose labels such as
    "£12.5m" are the longest), formatted as £250k-style money.
    """
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=max_ticks, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(money_formatter())


def level_text(v: float, unit: str, k: int = 0) -> str:
    """A level in its unit ("money", "percent" or a count): £1.2m, 70%, 131, 2.5, "<5"."""
    if unit == "money":
        return money(v)
    if unit == "percent":
        return pct(v)
    if v == 0:
        return "0"
    if abs(v) < 10 and not (0 < abs(v) < k) and v != round(v):
        return f"{v:.1f}"  # averages of a few children: one decimal
    return count(v, k)


def change_text(v: float, unit: str) -> str:
    """A change with its sign: '+£956k', '-76', '+2.5 points' (percentage points).

    Never suppressed cell by cell: whether a difference of counts may be shown at all is
    `difference_hidden`'s decision, taken for the figure and its interval together.
    """
    if unit == "percent":
        v = round(v, 1)
        return "0 points" if v == 0 else f"{v:+.1f} points"  # never "-0.0"
    text = level_text(v, unit)
    return text if text.startswith("-") or v <= 0 else f"+{text}"


# =========================================================================== published figures

#: how the council's own figures are drawn on a chart of a run's months
PUBLISHED_COLOUR, PUBLISHED_MARKER, PUBLISHED_SIZE = "#000000", "D", 5.5


def month_ends(labels: list[str]) -> list[dt.date]:
    """The last day of each month ('2024-03' -> 2024-03-31): stocks are month-end
    counts, flows end there too."""
    out = []
    for label in labels:
        first = dt.datetime.strptime(label, "%Y-%m").date()
        nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        out.append(nxt - dt.timedelta(days=1))
    return out


def mark_published(ax: Axes, found: Sequence[Check], months: list[str], measure: str) -> bool:
    """Draw the published figures of one measure (`found`: actuals.checks of a run whose
    month labels are `months`) on a chart with dates along the bottom: a marker for a
    value, a bar for a range. The month before the run (its starting point) is drawn too.
    Returns whether anything was drawn."""
    import numpy as np

    first = month_ends(months[:1])[0]
    points = [
        c
        for c in found
        if c.figure.measure == measure
        and (c.where == "in" or (c.where == "before" and (first - c.figure.date).days <= 31))
    ]
    for c in points:
        f = c.figure
        x = np.datetime64(f.date, "D")
        if f.value is not None:
            ax.plot(
                [x],
                [f.value],
                linestyle="none",
                marker=PUBLISHED_MARKER,
                color=PUBLISHED_COLOUR,
                markersize=PUBLISHED_SIZE,
                zorder=5,
            )
        else:
            low, high = f.low or 0.0, f.high or 0.0
            mid = (low + high) / 2
            ax.errorbar(
                [x],
                [mid],
                yerr=[[mid - low], [high - mid]],
                fmt="none",
                ecolor=PUBLISHED_COLOUR,
                elinewidth=1.5,
                capsize=4,
                zorder=5,
            )
    return bool(points)


def published_handle() -> Any:
    """The legend entry for the council's published figures."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        linestyle="none",
        marker=PUBLISHED_MARKER,
        color=PUBLISHED_COLOUR,
        markersize=PUBLISHED_SIZE,
        label="published figure",
    )
