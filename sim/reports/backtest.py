"""A backtest written out: the scores table, backtest.md, backtest.csv, one chart a measure.

`sim.calibration.backtest` calibrates, simulates and scores; this module writes what it
found, with the calibration report of the scenario it fitted (`sim.reports.calibration`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..calibration.backtest import DASH, Backtest, Metric, years_after
from ..common.safe_text import markdown_text, spreadsheet_frame


def _count(v: float, k: int) -> str:
    n = round(float(v))
    return f"<{k}" if k and 0 < n < k else f"{n:,}"


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.1f}%"


def summary_table(bt: Backtest) -> list[list[str]]:
    """The scores of each measure as rows of text, header first (terminal and backtest.md)."""
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
    """Write backtest.md: what was done, the scores, each year's figures (counts under k hidden)."""
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
        return np.datetime64(years_after(T, int(x)).date(), "D")

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
    ax.axvline(np.datetime64(T.date(), "D"), color="#bbbbbb", linewidth=1)  # type: ignore[arg-type]
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
