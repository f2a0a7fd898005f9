"""The results folder of a region's run: one folder per council, the region, its markets.

Each council's folder is what `sufficiency run` writes for a council alone (so its
published figures, charts and summary read the same), and says which market it ran in.
The region's `summary.md` sets the councils side by side with the region's totals, and
how full each shared pool was, what chance of an offer and what price its response gave;
`markets.csv` has those figures month by month.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..common.outputs import atomic_path
from ..common.safe_text import spreadsheet_row
from ..engine.market import MARKET_SERIES
from ..runs.region import RegionComparison, RegionResults
from .comparison import write_output_files
from .presentation import count, money, pct, style_axes
from .run import range_text, write_report_files

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: What each market figure is, for the summary and the CSV.
MARKET_LABELS = {
    "occupied": "places taken (every council, offers on their way, councils outside)",
    "outside": "places taken by councils outside the model",
    "offer_factor": "offer factor (x each council's offer chance)",
    "price_factor": "price factor of a new placement (x its weekly cost)",
    "outside_started": "placements by councils outside the model in the month",
    "outside_refused": "referrals by councils outside the model the pool turned away",
}


def write_region_report(
    results: RegionResults, out: Path | str, force: bool = False, suppress_below: int = 0
) -> Path:
    """Write the region's results folder whole, or leave things as they were."""
    out = Path(out)
    with atomic_path(out, force=force) as tmp:
        for name, res in results.councils.items():
            write_report_files(res, tmp / name, out / name, suppress_below)
        _write_markets_csv(results, tmp / "markets.csv")
        if results.market_names:
            chart_markets(results).savefig(tmp / "chart_markets.png", dpi=150, facecolor="white")
        (tmp / "summary.md").write_text(summary_markdown(results, suppress_below), "utf-8")
    return out


def summary_markdown(results: RegionResults, k: int = 0) -> str:
    """The region's summary: councils side by side, the region's totals, the markets."""
    first = next(iter(results.councils.values()))
    last = first.months[-1]
    years = len(first.months) / 12
    lines = [
        f"# {results.name}: {results.reps} replications over {years:g} years",
        "",
        f"Seed {results.seed}. Every council ran in this region's market "
        f"({results.region.path.name}), not alone: its external providers' places, offer "
        "chances and prices are shared with the others below and with councils outside the "
        "model. Figures are medians with the 10-90% range of the replications.",
        "",
        f"## Councils, {last}",
        "",
        "| council | scenario | children in care | not suitably placed | cost over the run |",
        "|---|---|---|---|---|",
    ]

    def shown(v: float) -> str:
        return count(v, k)

    n = results.reps
    in_care_all, unmet_all, cost_all = np.zeros(n), np.zeros(n), np.zeros(n)
    for name, res in results.councils.items():
        in_care = res.series("in_care", "total")[:, -1]
        unmet = res.series("unmet_children", "total")[:, -1]
        cost = res.series("cost", "total").sum(axis=1)
        lines.append(
            f"| {name} | {res.scenario.scenario.name} | {range_text(in_care, shown)} | "
            f"{range_text(unmet, shown)} | {range_text(cost, money)} |"
        )
        in_care_all += in_care
        unmet_all += unmet
        cost_all += cost
    lines.append(
        f"| **region** | | {range_text(in_care_all, shown)} | {range_text(unmet_all, shown)} | "
        f"{range_text(cost_all, money)} |"
    )
    lines += ["", "Each council's own report is in its folder.", ""]
    if results.market_names:
        lines += [
            "## Markets, at each year end",
            "",
            "| market | year end | places taken | of them, outside councils | "
            "offer factor | price factor |",
            "|---|---|---|---|---|---|",
        ]
        months = len(first.months)
        ends = list(range(11, months, 12)) or [months - 1]
        if ends[-1] != months - 1:
            ends.append(months - 1)
        spec = results.region.spec.market
        for mname in results.market_names:
            places = spec[mname].places
            occ = results.market_series(mname, "occupied")
            out_ = results.market_series(mname, "outside")
            offer = results.market_series(mname, "offer_factor")
            price = results.market_series(mname, "price_factor")
            for m in ends:
                label = first.months[m]
                share = occ[:, m] * 100.0 / places
                lines.append(
                    f"| {mname} ({places:,} places) | {label} | "
                    f"{range_text(share, pct)} | {range_text(out_[:, m], count)} | "
                    f"{range_text(offer[:, m], _factor)} | {range_text(price[:, m], _factor)} |"
                )
        lines += [
            "",
            "The offer factor multiplies each council's own chance that a provider offers a "
            "place; the price factor multiplies a new placement's weekly cost, fixed for the "
            "placement. Both follow the region file's response table as the pool fills.",
            "",
        ]
    return "\n".join(lines)


def _factor(v: float) -> str:
    return f"x{v:.2f}"


def _write_markets_csv(results: RegionResults, path: Path) -> None:
    """Month-end market figures: median and 10-90% range of the replications."""
    first = next(iter(results.councils.values()))
    rows = [["market", "month", "measure", "p10", "median", "p90", "what"]]
    for mname in results.market_names:
        for measure in MARKET_SERIES:
            x = results.market_series(mname, measure)
            q = np.quantile(x, [0.1, 0.5, 0.9], axis=0)
            for m, label in enumerate(first.months):
                rows.append(
                    spreadsheet_row(
                        [
                            mname,
                            label,
                            measure,
                            f"{q[0, m]:.4g}",
                            f"{q[1, m]:.4g}",
                            f"{q[2, m]:.4g}",
                            MARKET_LABELS[measure],
                        ]
                    )
                )
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def write_region_comparison(
    rc: RegionComparison, out: Path | str, force: bool = False, command: str | None = None
) -> Path:
    """Write a region comparison's folder whole: one comparison folder per council (the
    same files as `compare` writes for a council alone) and the region's summary."""
    out = Path(out)
    with atomic_path(out, force=force) as tmp:
        for name, cmp in rc.councils.items():
            write_output_files(cmp, tmp / name, command)
        (tmp / "summary.md").write_text(comparison_markdown(rc, command), "utf-8")
    return out


def _diff_cell(d: np.ndarray, show: Callable[[float], str]) -> str:
    """Median difference (90% interval) of paired replications."""
    med, lo, hi = (float(v) for v in np.nanquantile(d, [0.5, 0.05, 0.95]))
    return f"{show(med)} ({show(lo)} to {show(hi)})"


def _signed_money(v: float) -> str:
    return ("+" if v > 0 else "-" if v < 0 else "") + money(abs(v))


def _signed_tenths(v: float) -> str:
    return f"{v:+.1f}"


def _signed_count(v: float) -> str:
    return f"{v:+,.0f}"


def region_sentences(rc: RegionComparison) -> list[str]:
    """One sentence per option: what it does to the region's net cost and to each
    council's unmet demand (a council's option felt by its neighbours through the market)."""
    out = []
    first = next(iter(rc.councils.values()))
    horizon = first.horizon
    region_cost = rc.region_diff("net_cost")[:, :, -1]
    for i, name in enumerate(rc.names[1:], start=1):
        cost = float(np.median(region_cost[i]))
        word = "saves the region" if cost < 0 else "costs the region"
        parts = []
        for council, cmp in rc.councils.items():
            d = cmp.diff("unmet_child_days")[i, :, -1]
            better = float(np.mean(d < 0))
            worse = float(np.mean(d > 0))
            parts.append(
                f"{council} {_signed_count(float(np.median(d)))} child-days not suitably placed "
                f"(fewer in {better:.0%} of runs, more in {worse:.0%})"
            )
        out.append(
            f"{name} {word} {money(abs(cost))} net over {horizon} against {rc.names[0]}; "
            + "; ".join(parts)
            + "."
        )
    return out


def comparison_markdown(rc: RegionComparison, command: str | None = None) -> str:
    """The region's comparison: each option's paired differences, council by council and
    for the region, and the markets' prices and occupancy under each."""
    first = next(iter(rc.councils.values()))
    base = rc.names[0]
    lines = [
        f"# Options for {base}: {first.reps} paired replications over {first.horizon}",
        "",
        "Every option ran with the baseline's seed: replication i of an option shares its "
        "random numbers with replication i of the baseline wherever their events are the "
        "same, council by council (common random numbers). Differences are option minus "
        "baseline: median, and in brackets the 90% interval of the paired differences. "
        "Each council's full comparison (workbook, HTML report) is in its folder.",
        "",
        *[f"- {s}" for s in region_sentences(rc)],
        "",
    ]
    region_cost = rc.region_diff("net_cost")[:, :, -1]
    region_unmet = rc.region_diff("unmet_child_days")[:, :, -1]
    for i, name in enumerate(rc.names[1:], start=1):
        lines += [
            f"## {name}",
            "",
            "| council | net cost | child-days not suitably placed | under-16s unregistered |",
            "|---|---|---|---|",
        ]
        for council, cmp in rc.councils.items():
            cells = [
                _diff_cell(cmp.diff("net_cost")[i, :, -1], _signed_money),
                _diff_cell(cmp.diff("unmet_child_days")[i, :, -1], _signed_count),
            ]
            if "unregistered_under_16" in cmp.values:
                d = cmp.diff("unregistered_under_16")[i, :, -1]
                cells.append(_diff_cell(d, _signed_tenths))
            else:
                cells.append("n/a")
            lines.append(f"| {council} | " + " | ".join(cells) + " |")
        lines.append(
            f"| **region** | {_diff_cell(region_cost[i], _signed_money)} | "
            f"{_diff_cell(region_unmet[i], _signed_count)} | |"
        )
        lines.append("")
    markets = rc.runs[0].market_names
    if markets:
        lines += [
            "## Markets at the end of the run",
            "",
            "| market | " + " | ".join(rc.names) + " |",
            "|---|" + "---|" * len(rc.names),
        ]
        for m in markets:
            places = rc.runs[0].region.spec.market[m].places
            occ = [
                pct(float(np.median(r.market_series(m, "occupied")[:, -1])) * 100.0 / places)
                for r in rc.runs
            ]
            price = [
                _factor(float(np.median(r.market_series(m, "price_factor")[:, -1])))
                for r in rc.runs
            ]
            lines.append(f"| {m}: places taken | " + " | ".join(occ) + " |")
            lines.append(f"| {m}: price factor | " + " | ".join(price) + " |")
        lines.append("")
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    return "\n".join(lines)


def chart_markets(results: RegionResults) -> Figure:
    """Each pool month by month: how full it is (every council's children, outside
    councils' and offers on their way, as a share of its places) and the price factor of a
    new placement; median and 10-90% range of the replications."""
    import datetime as dt

    from matplotlib.figure import Figure

    first = next(iter(results.councils.values()))
    x = [dt.date(int(m[:4]), int(m[5:7]), 1) for m in first.months]
    n = len(results.market_names)
    fig = Figure(figsize=(10, 3.2 * n), layout="constrained")
    axes = fig.subplots(n, 2, squeeze=False)
    spec = results.region.spec.market
    for row, name in enumerate(results.market_names):
        occ = results.market_series(name, "occupied") * 100.0 / spec[name].places
        price = results.market_series(name, "price_factor")
        for ax, y, label in (
            (axes[row][0], occ, f"{name}: % of {spec[name].places:,} places taken"),
            (axes[row][1], price, f"{name}: price factor of a new placement"),
        ):
            lo, med, hi = np.quantile(y, [0.1, 0.5, 0.9], axis=0)
            ax.fill_between(x, lo, hi, color="#9ecae1", alpha=0.6, linewidth=0)
            ax.plot(x, med, color="#08519c", linewidth=1.8)
            ax.set_title(label, fontsize=11, loc="left")
            style_axes(ax, dates=True)
    fig.suptitle(
        f"{results.name}: the shared markets (median and 10-90% range of {results.reps} runs)",
        fontsize=12,
        x=0.01,
        ha="left",
    )
    return fig
