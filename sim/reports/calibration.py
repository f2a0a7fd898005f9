"""The calibration report: each fitted number, its interval and the data behind it.

Only aggregates appear here. Counts of children or events below `suppress_below` are
shown as "<K", so the report can be shared; rates and intervals are not suppressed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..calibration.fit import Calibration
from ..common.safe_text import markdown_text


def _count(v: float, k: int) -> str:
    n = round(float(v))
    return f"<{k}" if k and 0 < n < k else f"{n:,}"


def write_report(
    cal: Calibration, folder: Path, scenario_name: str, suppress_below: int = 5
) -> None:
    """Write calibration.md and its charts into `folder` (which must exist)."""
    k = max(0, int(suppress_below))
    lines = [
        f"# Calibration: {markdown_text(scenario_name)}",
        "",
        f"Fitted from SSDA903 data up to {cal.at}. Counts under {k} are shown as `<{k}`."
        if k
        else f"Fitted from SSDA903 data up to {cal.at}.",
        "",
        "## Notes",
        "",
        *[f"- {markdown_text(n)}" for n in cal.notes],
        "",
        "## Fitted numbers",
        "",
        "Value with its 90% interval; 'data' is the number of events and the years at risk "
        "(or the number of trials for a share).",
        "",
        "| parameter | value | 90% interval | events | at risk | method |",
        "|---|---|---|---|---|---|",
    ]
    for f in cal.fitted:
        interval = "" if np.isnan(f.low) else f"{f.low:.3g} to {f.high:.3g}"
        at_risk = f"{f.exposure:,.0f}" if f.exposure else ""
        events = _count(f.events, k)
        cells = [markdown_text(f.key), f"{f.value:.4g}", interval, events, at_risk, f.method]
        lines.append("| " + " | ".join(cells) + " |")
    pop = cal.tables.get("population")
    if pop is not None and not pop.empty:
        lines += [
            "",
            f"## Children in care on {cal.at}, by placement and age band",
            "",
            "| provision | " + " | ".join(markdown_text(c) for c in pop.columns) + " | total |",
            "|---|" + "---|" * (len(pop.columns) + 1),
        ]
        for pid, row in pop.iterrows():
            counts = " | ".join(_count(v, k) for v in row.values)
            lines.append(f"| {markdown_text(pid)} | {counts} | {_count(row.sum(), k)} |")
    mix = cal.tables.get("first_placement_mix")
    if mix is not None and not mix.empty:
        lines += [
            "",
            "## First placement of children entering care (not UASC), by age band",
            "",
            "| age band | " + " | ".join(markdown_text(c) for c in mix.columns) + " |",
            "|---|" + "---|" * len(mix.columns),
        ]
        for band, row in mix.iterrows():
            lines.append(f"| {band} | " + " | ".join(_count(v, k) for v in row.values) + " |")
    lines += _exit_tables(cal, k)
    dist = cal.tables.get("distance")
    if dist is not None and not dist.empty:
        lines += [
            "",
            "## Distance from home (placements on the date)",
            "",
            "| provision | placements | within 20 miles | median miles |",
            "|---|---|---|---|",
        ]
        for pid, row in dist.iterrows():
            lines.append(
                f"| {markdown_text(pid)} | {_count(row['placements'], k)} | "
                f"{row['within_20']:.0%} | {row['median_miles']:.1f} |"
            )
    lines += ["", "![Entries per month](entries.png)", "", "![Exit rates](exit_rates.png)", ""]
    (folder / "calibration.md").write_text("\n".join(lines), encoding="utf-8")
    _charts(cal, folder)


def _exit_tables(cal: Calibration, k: int) -> list[str]:
    """Exits by route, and observed against expected exits in each year of the window."""
    lines: list[str] = []
    routes = cal.tables.get("exit_routes")
    if routes is not None and not routes.empty:
        lines += [
            "",
            "## Exits before 18 in the window, by the route they were counted in",
            "",
            "| route | exits |",
            "|---|---|",
            *[
                f"| {markdown_text(r)} | {_count(n, k)} |"
                for r, n in zip(routes.index, routes["exits"], strict=True)
            ],
        ]
    check = cal.tables.get("exit_check")
    if check is not None and not check.empty:
        lines += [
            "",
            "## Exits before 18: observed against the fitted rates, year by year",
            "",
            "The fitted rates are constant over the window, so over the whole window they "
            "expect as many exits as were seen; a year more than 10% away is flagged.",
            "",
            "| period | observed | expected | difference | |",
            "|---|---|---|---|---|",
        ]
        for period, obs, exp, diff in check.itertuples(index=False):
            flag = "**over 10%**" if abs(diff) > 0.10 else ""
            shown = "" if np.isnan(diff) else f"{diff:+.0%}"
            lines.append(f"| {period} | {_count(obs, k)} | {exp:,.0f} | {shown} | {flag} |")
    return lines


def _charts(cal: Calibration, folder: Path) -> None:
    from matplotlib.figure import Figure

    entries = cal.tables.get("entries_by_month")
    fig = Figure(figsize=(8, 3.5), dpi=120)
    ax = fig.add_subplot()
    if entries is not None:
        y = entries["entries"].to_numpy()
        ax.bar(np.arange(len(y)), y, color="#88CCEE", label="entries (not UASC)")
        if len(y) >= 3:
            ax.plot(
                np.arange(len(y)),
                np.convolve(y, np.ones(3) / 3, mode="same"),
                color="#332288",
                label="3-month average",
            )
    ax.set_xlabel("month of the calibration window")
    ax.set_ylabel("children starting care")
    ax.set_title("Entries to care per month", loc="left")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(folder / "entries.png")

    rates = cal.tables.get("exit_rates")
    fig = Figure(figsize=(8, 4), dpi=120)
    ax = fig.add_subplot()
    if rates is not None and not rates.empty:
        labels = [f"{r} {b}" for r, b in zip(rates["route"], rates["band"], strict=True)]
        x = np.arange(len(labels))
        ax.errorbar(
            x,
            rates["rate"],
            yerr=[
                (rates["rate"] - rates["low"]).clip(lower=0),
                (rates["high"] - rates["rate"]).clip(lower=0),
            ],
            fmt="o",
            color="#AA4499",
            capsize=3,
        )
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("exits per child-year at risk")
    ax.set_title("Exit rates by route and age band, with 90% intervals", loc="left")
    fig.tight_layout()
    fig.savefig(folder / "exit_rates.png")
