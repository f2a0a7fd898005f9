"""A backtest written out: the scores table, backtest.md, backtest.csv, one chart a measure.

`sim.calibration.backtest` calibrates, simulates and scores; this module writes what it
found, with the calibration report of the scenario it fitted (`sim.reports.calibration`).
A rolling-origin backtest (`sim.calibration.rolling`) is written by `write_rolling`.
Wherever a reference forecast did better than the simulation, the words say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..calibration.backtest import (
    DASH,
    REFERENCES,
    TREND_MIN_POINTS,
    Backtest,
    Metric,
    years_after,
)
from ..calibration.rolling import FORECASTS, Rolling, best_counts
from ..common.safe_text import markdown_text, spreadsheet_frame

#: each forecast's name in words ("median" is the simulation's)
NAMES = {"median": "the simulation", **REFERENCES}


def _count(v: float, k: int) -> str:
    n = round(float(v))
    return f"<{k}" if k and 0 < n < k else f"{n:,}"


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.1f}%"


def summary_table(bt: Backtest) -> list[list[str]]:
    """The scores of each measure as rows of text, header first (terminal and backtest.md)."""
    rows = [["metric", "MAPE median", "80% coverage", *[f"MAPE {n}" for n in REFERENCES.values()]]]
    for m in bt.metrics:
        s = m.scores()
        rows.append(
            [
                m.key,
                _pct(s["mape_median"]),
                f"{sum(m.inside)}/{m.horizon}",
                *[_pct(s[f"mape_{r}"]) for r in REFERENCES],
            ]
        )
    return rows


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def against(sim: float, references: Mapping[str, float]) -> str:
    """The simulation's error beside each reference's, in plain words.

    `references` maps a reference's name in words to its error (%); those the data did
    not allow (NaN) are left out. E.g. "The simulation's error (12.3%) was larger than
    'same flows as last year' (6.1%), and smaller than 'linear trend' (15.0%)." Errors are
    compared as shown (to 0.1%), so the words never contradict the numbers.
    """
    if not np.isfinite(sim):
        return "The simulation's error could not be measured (nothing happened to measure it by)."
    refs = {n: v for n, v in references.items() if np.isfinite(v)}
    if not refs:
        return (
            f"The simulation's error was {_pct(sim)}; the data allowed no reference to set "
            "it beside."
        )
    ours = round(sim, 1)
    parts = []
    for words, pick in (
        ("larger than", lambda v: round(v, 1) < ours),
        ("the same as", lambda v: round(v, 1) == ours),
        ("smaller than", lambda v: round(v, 1) > ours),
    ):
        names = [f"'{n}' ({_pct(v)})" for n, v in refs.items() if pick(v)]
        if names:
            parts.append(f"{words} {_listed(names)}")
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]
    return f"The simulation's error ({_pct(sim)}) was {joined}."


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def lost(sim: float, references: Mapping[str, float]) -> bool:
    """Whether some reference's error (as shown, to 0.1%) was smaller than the simulation's."""
    return np.isfinite(sim) and any(
        np.isfinite(v) and round(v, 1) < round(sim, 1) for v in references.values()
    )


def _reference_errors(m: Metric) -> dict[str, float]:
    s = m.scores()
    return {name: s[f"mape_{r}"] for r, name in REFERENCES.items()}


def verdicts(bt: Backtest) -> list[str]:
    """For each measure, the simulation's error over the horizon beside the references'."""
    return [
        f"{m.label}: {_lower_first(against(m.scores()['mape_median'], _reference_errors(m)))}"
        for m in bt.metrics
    ]


def _aligned(rows: list[list[str]], left: int = 1) -> list[str]:
    """Rows of text as aligned columns, the first `left` to the left, the rest right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append(
            "  ".join(
                c.ljust(w) if i < left else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def summary_lines(bt: Backtest) -> list[str]:
    """The short table printed at the end of the command, and what it says in words."""
    beaten = [m for m in bt.metrics if lost(m.scores()["mape_median"], _reference_errors(m))]
    lines = [*_aligned(summary_table(bt)), ""]
    lines.append(
        f"A reference forecast had a smaller error than the simulation for {len(beaten)} of "
        f"{len(bt.metrics)} measures (MAPE over {bt.horizon} year(s) from {bt.at}):"
        if beaten
        else f"The simulation's error was no larger than any reference's for all "
        f"{len(bt.metrics)} measures (MAPE over {bt.horizon} year(s) from {bt.at}):"
    )
    return lines + [f"- {v}" for v in verdicts(bt)]


def _reading(bt: Backtest) -> list[str]:
    """A few plain sentences on what the numbers say."""
    from scipy.stats import binom

    n = sum(m.horizon for m in bt.metrics)
    inside = sum(sum(m.inside) for m in bt.metrics)
    lo, hi = binom.ppf(0.05, n, 0.8) / n, binom.isf(0.05, n, 0.8) / n
    wins = dict.fromkeys(NAMES.values(), 0)
    for m in bt.metrics:
        s = m.scores()
        options = {NAMES[f]: s[f"mape_{f}"] for f in NAMES}
        finite = {k: round(v, 1) for k, v in options.items() if np.isfinite(v)}
        if finite:
            best = min(finite.values())
            for k, v in finite.items():  # a tie is a win for each
                wins[k] += v == best
    total = bt.metrics[0]
    lines = [
        f"- What really happened fell inside the simulation's 80% range in {inside} of {n} "
        f"comparisons ({inside / n:.0%}). Were the ranges right, 9 backtests in 10 would "
        f"score between {lo:.0%} and {hi:.0%} (a wider spread still, as the comparisons "
        "are related: the placement types add up to the total, year 2 follows year 1).",
        f"- Children in care (all), mean error over the {bt.horizon} year(s): "
        + against(total.scores()["mape_median"], _reference_errors(total)),
        f"- Of the {len(bt.metrics)} measures, the most accurate central forecast (ties "
        "counted for each) was " + _listed([f"{k} for {v}" for k, v in wins.items()]) + ".",
        "- Measure by measure (mean absolute % error over the horizon):",
        *[f"  - {markdown_text(v)}" for v in verdicts(bt)],
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
        "(10th to 90th percentile). Three forecasts made without a model are scored the "
        "same way, each made only from counts the data held on the date: **same as last "
        "year** (the count on the date, or in the year to it); **same flows as last year** "
        "(the count projected a year at a time with last year's entries and last year's "
        "exits as a share of the count a year before; by placement type, with the type's "
        "own placements starting and ending); and a **linear trend** (a least-squares line "
        "through the yearly figures up to the date, drawn only through at least "
        f"{TREND_MIN_POINTS} of them).",
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
            f"| year to | actual ({what}) | simulation median (80% range) | inside? | error | "
            + " | ".join(f"{n} (error)" for n in REFERENCES.values())
            + " |",
            "|---|---:|---:|:-:|---:|" + "---:|" * len(REFERENCES),
        ]
        med, lo, hi = m.median, m.p10, m.p90
        ape_m = m.ape(med)
        refs = {r: (m.reference(r), m.ape(m.reference(r))) for r in REFERENCES}
        for i in range(m.horizon):
            hidden = bool(k) and 0 < m.actual[i] < k  # an error would give the count away
            cells = []
            for value, ape in refs.values():
                if not np.isfinite(value[i]):
                    cells.append("n/a")
                else:
                    # (same as last year is a count the data hold: suppressed like one)
                    cells.append(f"{_count(value[i], k)} ({'' if hidden else _pct(ape[i])})")
            lines.append(
                f"| {bt.year_end(i + 1)} | {_count(m.actual[i], k)} | "
                f"{med[i]:,.0f} ({lo[i]:,.0f}{DASH}{hi[i]:,.0f}) | "
                f"{'yes' if m.inside[i] else 'no'} | {'' if hidden else _pct(ape_m[i])} | "
                + " | ".join(cells)
                + " |"
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
            f"Over {m.horizon} year(s): {sum(m.inside)} of {m.horizon} inside the 80% range. "
            + against(s["mape_median"], _reference_errors(m)),
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
    # each reference from the last figure the data held on the date (flows: each year's)
    styles = {
        "same_as_last_year": ("--", "#CC6677"),
        "same_flows": ("-.", "#DDAA33"),
        "linear_trend": ("--", "#117733"),
    }
    for r, values in m.references.items():
        ls, c = styles[r]
        line = m.trend_at(np.arange(0, m.horizon + 1, dtype=float))
        if r == "linear_trend" and line is not None:
            ys = line
        else:
            ys = np.asarray([m.history[-1], *values], float)
        ax.plot(ref_x, ys, linestyle=ls, color=c, linewidth=1.5, label=REFERENCES[r])
    past_trend = m.trend_at(np.asarray(m.history_x, float))
    if past_trend is not None:
        ax.plot(hx, past_trend, linestyle=":", color="#117733", linewidth=1)
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


# =========================================================================== rolling origins


def _cell(row: pd.Series, f: str) -> str:
    """'MAPE (bias)' of forecast `f`, e.g. '6.1% (+2.0%)'; 'n/a' if the data allow none."""
    mape, bias = row[f"mape_{f}"], row[f"bias_{f}"]
    if not np.isfinite(mape):
        return "n/a"
    out = f"{mape:.1f}% ({bias:+.1f}%)"
    return out if row[f"points_{f}"] == row["points"] else f"{out} [{row[f'points_{f}']}]"


def rolling_table(r: Rolling, labels: bool = False) -> list[list[str]]:
    """The summary as rows of text, header first: each forecast's 'MAPE (bias)', with
    [n] after it when it was scored on fewer points than the simulation."""
    rows = [
        [
            "years ahead",
            "measure",
            "points",
            "80% coverage",
            *[NAMES[f] for f in FORECASTS],
            "best",
        ]
    ]
    for _, row in r.summary.iterrows():
        rows.append(
            [
                str(row["horizon"]),
                markdown_text(row["label"]) if labels else str(row["measure"]),
                str(row["points"]),
                f"{row['coverage']:.0%}",
                *[_cell(row, f) for f in FORECASTS],
                NAMES.get(row["best"], "n/a"),
            ]
        )
    return rows


def _named(f: str) -> str:
    """A forecast's name as a sentence gives it: the simulation, or a quoted reference."""
    return "none" if f not in NAMES else NAMES[f] if f == "median" else f"'{NAMES[f]}'"


def _row_errors(row: pd.Series) -> dict[str, float]:
    return {name: float(row[f"mape_{f}"]) for f, name in REFERENCES.items()}


def rolling_verdicts(r: Rolling) -> list[str]:
    """A plain paragraph for each horizon: which forecast did best, and where the simulation
    lost to a reference, by how much."""
    out = []
    for h in sorted(set(r.summary["horizon"])):
        at_h = r.summary[r.summary["horizon"] == h]
        n_origins = int(at_h["points"].max())
        wins = best_counts(r.summary, h)
        total = at_h.iloc[0]
        beaten = [row for _, row in at_h.iterrows() if lost(row["mape_median"], _row_errors(row))]
        best = total["best"]
        same = total["best_points"] == total["points"]
        # the best is judged on the origins every forecast has; the errors quoted after it
        # are each forecast's over all its origins, so say so when the two differ
        n_best = int(total["best_points"])
        where = (
            ""
            if same
            else f" on the {n_best} origin{'s' if n_best != 1 else ''} every forecast has"
        )
        errors = against(total["mape_median"], _row_errors(total))
        covered = float((at_h["coverage"] * at_h["points"]).sum() / at_h["points"].sum())
        out.append(
            f"{h} year(s) ahead ({n_origins} origin(s)): for {total['label'].lower()} the most "
            f"accurate forecast{where} was {_named(best)}. "
            + (
                errors
                if same
                else "Over all the origins each forecast has, " + _lower_first(errors)
            )
            + f" Over the {len(at_h)} measures, the smallest error was "
            + _listed(
                [
                    f"{NAMES[f]}'s for {n}" if f == "median" else f"'{NAMES[f]}' for {n}"
                    for f, n in wins.items()
                ]
            )
            + f"; a reference beat the simulation on {len(beaten)} of them. The simulation's "
            f"80% range held {covered:.0%} of the actuals."
        )
    return out


def rolling_summary_lines(r: Rolling) -> list[str]:
    """The table and the paragraphs printed at the end of `backtest --rolling`."""
    first, last = r.origins[0][0], r.origins[-1][0]
    lines = [
        f"Rolling-origin backtest: {len(r.origins)} origin(s), every 31 March from {first} "
        f"to {last}; each cell is MAPE (mean signed error), [n] = points if fewer.",
        "",
        *_aligned(rolling_table(r), left=2),
        "",
    ]
    return lines + [f"- {v}" for v in rolling_verdicts(r)]


def write_rolling_markdown(r: Rolling, path: Path) -> None:
    """backtest.md of a rolling-origin backtest: what was done, the summary, in words."""
    first, last = r.origins[0][0], r.origins[-1][0]
    table = rolling_table(r, labels=True)
    lines = [
        "# Rolling-origin backtest",
        "",
        f"A backtest was made from every 31 March the data allow: {len(r.origins)} "
        f"origins, {first} to {last}, each with at least a whole year of data before it "
        "and scored at 1 to "
        f"{r.horizon} year(s) ahead as far as the data after it reach "
        f"({', '.join(f'{a}: {h}' for a, h in r.origins)}). From each origin a scenario "
        "was calibrated from only the data known then (rates from the "
        f"{r.years_back:g} years before it, or fewer where the data hold fewer), simulated "
        f"{r.reps} times, and set beside what happened: children in care on each 31 March, "
        "in total and by placement type, and children starting and leaving care in each "
        "year.",
        "",
        "Three forecasts made without a model, each only from counts the data held on the "
        "origin, are scored the same way: **same as last year**; **same flows as last "
        "year** (the count projected a year at a time with last year's entries and last "
        "year's exits as a share of the count a year before; by placement type with the "
        "type's own placements starting and ending); a **linear trend** through the "
        f"yearly figures up to the origin (only where the data hold at least "
        f"{TREND_MIN_POINTS}).",
        "",
        "Each cell is the **MAPE** (mean absolute percentage error over the origins: lower "
        "is better) with the **bias** in brackets (mean signed error: above 0, the "
        "forecast was too high). `[n]` after a cell: scored on n points only, where the "
        "data allowed that reference. **Coverage** is the share of actuals inside the "
        "simulation's 80% range (10th to 90th percentile of its runs); were the range "
        "right it would be near 80%. **Best** is the forecast with the smallest MAPE over "
        "the points every forecast has.",
        "",
        "## Which forecast did best",
        "",
        *[f"- {v}" for v in rolling_verdicts(r)],
        "",
        "## Summary",
        "",
        "| " + " | ".join(table[0]) + " |",
        "|---:|---|---:|---:|" + "---:|" * len(FORECASTS) + "---|",
        *["| " + " | ".join(row) + " |" for row in table[1:]],
        "",
        "## The simulation against each reference",
        "",
    ]
    for _, row in r.summary.iterrows():
        lines.append(
            f"- {row['horizon']} year(s) ahead, {markdown_text(row['label'])}: "
            + markdown_text(_lower_first(against(row["mape_median"], _row_errors(row))))
        )
    lines += [
        "",
        "## Reading",
        "",
        "- The origins overlap (the origin a year later knows most of what the one before "
        "forecast), so the points are related and differences of a few percentage points "
        "between forecasts are noise.",
        "- The simulation's range shows chance only, not the uncertainty of rates fitted "
        "from a few years of data nor changes the data could not foresee: on real data "
        "expect coverage below 80%.",
        "",
        "![MAPE by years ahead](backtest_mape.png)",
        "",
    ]
    if any(r.notes.values()):
        lines += ["## Notes by origin", ""]
        for at, notes in r.notes.items():
            lines += [f"- {at}: {markdown_text(n)}" for n in notes]
        lines.append("")
    lines += [
        "## Files",
        "",
        "- `backtest.csv`: one row per origin, years ahead and measure: the actual, the "
        "simulation's median and 10th/90th percentiles, and each reference's value (blank "
        "where the data do not allow it). Counts are not suppressed there: share this "
        "page, not that file.",
        "- `summary.csv`: the table above, with every count of points.",
        f"- Each origin is repeated alone by `sufficiency backtest DATA --train-until "
        f"ORIGIN --horizon N --reps {r.reps} --seed {r.seed} --years-back {r.years_back:g}`.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _rolling_chart(r: Rolling, path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    keys = ["in_care_total", "entries", "exits"]
    shown = [k for k in keys if k in set(r.summary["measure"])]
    fig = Figure(figsize=(4 * len(shown), 3.8), dpi=120)
    styles = {
        "median": ("-", "#332288", "s"),
        "same_as_last_year": ("--", "#CC6677", "o"),
        "same_flows": ("-.", "#DDAA33", "^"),
        "linear_trend": ("--", "#117733", "v"),
    }
    for i, key in enumerate(shown):
        ax = fig.add_subplot(1, len(shown), i + 1)
        part = r.summary[r.summary["measure"] == key]
        for f in FORECASTS:
            ls, c, mk = styles[f]
            ax.plot(
                part["horizon"], part[f"mape_{f}"], linestyle=ls, color=c, marker=mk, label=NAMES[f]
            )
        ax.set_title(part["label"].iloc[0], loc="left", fontsize=9)
        ax.set_xlabel("years ahead")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", color="#dddddd", linewidth=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if i == 0:
            ax.set_ylabel("mean absolute % error")
            ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, facecolor="white")


def write_rolling(r: Rolling, folder: Path) -> None:
    """Write a rolling-origin backtest into `folder` (which must exist): backtest.md,
    backtest.csv (every point), summary.csv and backtest_mape.png."""
    spreadsheet_frame(r.points).to_csv(folder / "backtest.csv", index=False, float_format="%.4g")
    spreadsheet_frame(r.summary).to_csv(folder / "summary.csv", index=False, float_format="%.4g")
    write_rolling_markdown(r, folder / "backtest.md")
    _rolling_chart(r, folder / "backtest_mape.png")
