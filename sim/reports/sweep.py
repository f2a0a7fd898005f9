"""A sweep written out: the table, the chart, each variant's scenario, the summary.

`sim.runs.sweep` builds and runs the variants; this module writes what they show, with
the same formatting as the run report (`sim.reports.presentation`).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np

from ..common.outputs import atomic_path, check_free
from ..common.safe_text import markdown_block, markdown_code, markdown_text, spreadsheet_row
from ..engine.calendar import duration
from ..runs.sweep import (
    Sweep,
    VariantResult,
    describe,
    hashable_value,
    label_text,
    parse_key,
    quantiles,
    rows,
    toml_text,
)
from ..scenario.write import ScenarioCopies
from .presentation import DASH, PALETTE, TOTAL_COLOUR, money


def short_key(key: str) -> str:
    """The last two parts of a key: `entries.per_year`, `in_house_foster.recruitment_per_year`."""
    parts = [s for s in parse_key(key) if isinstance(s, str)]
    return ".".join(parts[-2:])


def _signedmoney(v: float) -> str:

    return ("+" if v > 0 else "-" if v < 0 else "±") + money(abs(v))


def _signed_int(v: float) -> str:
    r = round(v)
    return ("+" if r > 0 else "-" if r < 0 else "±") + f"{abs(r):,}"


def table_lines(sw: Sweep) -> list[str]:
    """A fixed-width table for the terminal."""

    header = [
        "#",
        *(short_key(a.key) for a in sw.axes),
        "cost (median)",
        "vs #1",
        "unmet child-days",
        "vs #1",
        "in area",
    ]
    body = []
    for row in rows(sw):
        body.append(
            [
                str(row["variant"]),
                *(label_text(row[a.key], 24) for a in sw.axes),
                money(row["total_cost_gbp_median"]),
                "" if row["variant"] == 1 else _signedmoney(row["cost_diff_gbp_median"]),
                f"{round(row['unmet_child_days_median']):,}",
                "" if row["variant"] == 1 else _signed_int(row["unmet_child_days_diff_median"]),
                _pct_text(row["placed_in_area_pct_end_median"]),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    n_keys = len(sw.axes)

    def fmt(r: list[str]) -> str:
        cells = [
            c.ljust(w) if 0 < i <= n_keys else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells)

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in body)]


def _pct_text(v: float) -> str:
    return "n/a" if np.isnan(v) else f"{round(v)}%"


def write_sweep(sw: Sweep, out: Path, force: bool = False) -> Path:
    """sweep.csv, sweep.png, sweep.md and variants/NN.toml, written whole or not at all."""
    with atomic_path(out, force=force) as folder:
        _write_csv(sw, folder / "sweep.csv")
        fig = tornado(sw) if sw.one_at_a_time else chart(sw)
        fig.savefig(folder / "sweep.png", dpi=150, facecolor="white")
        _write_variants(sw, folder / "variants")
        (folder / "sweep.md").write_text(_markdown(sw, out), encoding="utf-8")
    return out


def _write_csv(sw: Sweep, path: Path) -> None:
    import csv

    table = rows(sw)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(spreadsheet_row(table[0]))
        for row in table:
            cells: list[Any] = []
            for k, v in row.items():
                if k in {a.key for a in sw.axes}:
                    cells.append(v if isinstance(v, str) else toml_text(v))
                elif k == "variant":
                    cells.append(v)
                # numbers stay numbers: as text, a negative one ("-803372") would be
                # quoted against formulas (spreadsheet_row) and read back as text
                elif np.isnan(v):
                    cells.append("")
                elif k.startswith(("total_cost", "cost_diff", "net_saving_gbp")):
                    cells.append(round(float(v)))
                elif k == "net_saving_positive_share":
                    cells.append(round(float(v), 3))
                else:
                    cells.append(round(float(v), 1))
            w.writerow(spreadsheet_row(cells))  # a varied value is text from the user


def _write_variants(sw: Sweep, folder: Path) -> None:
    """variants/NN.toml: each variant as the scenario's own text with only the varied lines
    changed, each marked with what the scenario had there, so a variant diffs against the
    scenario file (or another variant) in just those lines. A scenario that `extends`
    another is merged into one file first, as a run's scenario.toml is, so every variant
    runs on its own (see `sim.scenario.write.ScenarioCopies`)."""
    folder.mkdir()
    width = len(str(len(sw.results)))
    name = sw.loaded.path.name
    copies = ScenarioCopies(sw.loaded.raw, sw.loaded.files)
    for r in sw.results:
        v = r.variant
        header = (
            f"Sweep variant {v.number} of {name}: {describe(sw.axes, v.values)}\n"
            f"Full report for this variant: sufficiency run <this file> "
            f"--years {_years_arg(sw)} --reps {sw.reps} --seed {sw.seed}"
        )
        notes = {
            a.path: f"the sweep varies {a.key}; {_was(sw.loaded.raw, a.path, name)}"
            for a in sw.axes
        }
        text = copies.write(v.raw, header, notes)
        (folder / f"{v.number:0{width}d}.toml").write_text(text, encoding="utf-8")


def _was(raw: Any, path: tuple[Any, ...], name: str) -> str:
    """What the scenario has at `path`, for the comment on a varied line."""
    node = raw
    for step in path:
        if (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and step < len(node)
        ):
            node = node[step]
        else:
            return f"{name} does not set it"
    return f"{name} has {label_text(node, 60)}"


def _saving_cell(row: dict[str, Any]) -> str:
    return (
        f"{_signedmoney(row['net_saving_gbp_median'])} "
        f"({_signedmoney(row['net_saving_gbp_p5'])} to "
        f"{_signedmoney(row['net_saving_gbp_p95'])}), a saving in "
        f"{round(100 * row['net_saving_positive_share'])}% of runs"
    )


def swings(sw: Sweep) -> list[tuple[str, float, float, Any, Any]]:
    """Per varied key: (key, lowest and highest median net saving over its values, the
    values that gave them), largest swing first. Needs `against`; one at a time, each key's
    variants are those that change it alone; in a grid, every variant with that value."""
    table = rows(sw)
    out = []
    for i, a in enumerate(sw.axes):
        if sw.one_at_a_time:
            mine = [
                (r.variant.values[i], row["net_saving_gbp_median"])
                for r, row in zip(sw.results, table, strict=True)
                if r.variant.varies == i or r.variant.number == 1
            ]
        else:
            mine = [
                (v, float(np.median([row["net_saving_gbp_median"] for row in table
                                     if hashable_value(row[a.key]) == hashable_value(v)])))
                for v in a.values
            ]  # fmt: skip
        lo = min(mine, key=lambda x: x[1])
        hi = max(mine, key=lambda x: x[1])
        out.append((a.key, lo[1], hi[1], lo[0], hi[0]))
    return sorted(out, key=lambda x: x[2] - x[1], reverse=True)


def _sensitivity_lines(sw: Sweep) -> list[str]:
    """The net saving as written, and which assumption moves it most, in words."""
    assert sw.against is not None
    first = rows(sw)[0]
    name = markdown_text(sw.against.name)
    how = "one at a time, the others as written" if sw.one_at_a_time else "across the grid"
    # the Monte Carlo error of a median net saving (normal approximation: sqrt(pi/2) x the
    # standard error of a mean): a swing within about twice it may be chance alone
    saving = sw.results[0].net_saving
    assert saving is not None
    runs = max(1.0, float(np.sqrt(np.sum(~np.isnan(saving)))))
    error = 1.2533 * float(np.nanstd(saving)) / runs
    lines = [
        "## Net saving against the baseline",
        "",
        f"Against {name} (run with the same seed and random numbers), variant 1 "
        f"{'(the scenario as written) ' if sw.one_at_a_time else ''}has a net saving of "
        f"{_saving_cell(first)} over {duration(len(sw.months))}, counting the option's own "
        "costs. A negative saving is an extra cost.",
        "",
    ]
    both = [a.key for a, is_shared in zip(sw.axes, sw.shared, strict=True) if is_shared]
    if both:
        lines += [
            "Keys the option leaves as the baseline has them are assumptions about the world "
            "both live in, so each of their values is set in the baseline too: "
            + ", ".join(markdown_code(k) for k in both)
            + ". The other keys are the option's own levers, changed in the option only.",
            "",
        ]
    lines += [
        f"Each key varied {how}, largest swing first (the median net saving at its "
        "least and most favourable value):",
        "",
    ]
    for key, lo, hi, v_lo, v_hi in swings(sw):
        if hi - lo <= 2 * error:
            note = "; within the Monte Carlo error"
        else:
            note = "; the verdict turns on it" if lo < 0 < hi else ""
        lines.append(
            f"- {markdown_code(key)}: {_signedmoney(lo)} at {markdown_code(label_text(v_lo, 40))}"
            f" to {_signedmoney(hi)} at {markdown_code(label_text(v_hi, 40))}{note}"
        )
    lines += [
        "",
        f"Each median net saving here is known to about ±{money(error)} (its standard error "
        f"from {sw.reps} runs): a swing under about {money(2 * error)} may be chance alone. "
        "More runs (--reps) narrow it.",
    ]
    return lines


def tornado(sw: Sweep) -> Any:
    """One bar per key: the median net saving (or, without a baseline, the saving against
    the scenario as written) at the key's least and most favourable value, each end
    labelled with the value that gave it."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    table = rows(sw)
    bars: list[tuple[str, float, float, Any, Any]]
    if sw.against is not None:
        bars = swings(sw)
        centre = table[0]["net_saving_gbp_median"]
        what = f"Net saving against {sw.against.name} over {duration(len(sw.months))} (median)"
    else:
        bars = []
        for i, a in enumerate(sw.axes):
            got = [
                (r.variant.values[i], -row["cost_diff_gbp_median"])
                for r, row in zip(sw.results, table, strict=True)
                if r.variant.number == 1 or r.variant.varies == i
            ]
            low, high = min(got, key=lambda x: x[1]), max(got, key=lambda x: x[1])
            bars.append((a.key, low[1], high[1], low[0], high[0]))
        bars.sort(key=lambda b: b[2] - b[1], reverse=True)
        centre = 0.0
        what = f"Saving against the scenario as written over {duration(len(sw.months))} (median)"
    fig = Figure(figsize=(10, 2.2 + 0.6 * len(bars)))
    fig.set_layout_engine("constrained", rect=(0, 0, 1, 0.86))
    fig.text(0.012, 0.955, "Which assumption moves the answer most", fontsize=14,
             fontweight="bold", va="center")  # fmt: skip
    fig.text(0.012, 0.905, f"{sw.loaded.name} · each key alone, the others as written · "
             f"{sw.reps} runs per variant, same random numbers", fontsize=9.5,
             color="#444444", va="center")  # fmt: skip
    ax = fig.subplots()
    ys = list(range(len(bars)))[::-1]
    for y, (_key, lo, hi, v_lo, v_hi) in zip(ys, bars, strict=True):
        ax.barh(y, max(hi - lo, 1e-9), left=lo, color=PALETTE[0], alpha=0.75, height=0.55)
        ax.annotate(label_text(v_lo, 16), (lo, y), xytext=(-4, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=8)  # fmt: skip
        ax.annotate(label_text(v_hi, 16), (hi, y), xytext=(4, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=8)  # fmt: skip
    ax.axvline(centre, color=TOTAL_COLOUR, linewidth=1.5, label="as written")
    ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_yticks(ys, [short_key(b[0]) for b in bars])
    ax.set_xlabel(what)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: money(v)))
    ax.margins(x=0.15)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def _years_arg(sw: Sweep) -> str:
    return f"{len(sw.months) / 12:g}"


def _markdown(sw: Sweep, out: Path) -> str:

    horizon = duration(len(sw.months))
    lines = [
        f"# Sweep: {markdown_text(sw.loaded.name)}",
        "",
        f"{len(sw.results)} variants of {markdown_code(sw.loaded.path)}, each run {sw.reps} "
        f"times over {horizon} from {sw.months[0]} with seed {sw.seed}. Every variant uses the "
        "same random numbers (common random numbers), so the difference from variant 1 is the "
        "effect of the change, not noise. Figures are over the whole horizon: median, and "
        "in brackets the range 8 runs in 10 fell within (10th-90th percentile); the "
        "differences from variant 1 are the median of the paired per-run differences with "
        "their 5th-95th percentile.",
        "",
        "Varied: "
        + "; ".join(
            f"{markdown_code(a.key)} = "
            + ", ".join(markdown_code(label_text(v, 60)) for v in a.values)
            for a in sw.axes
        ),
        "",
    ]
    if sw.one_at_a_time:
        lines[2] = lines[2].replace(
            "the difference from variant 1 is the effect of the change",
            "the difference from variant 1 (the scenario as written) is the effect of "
            "changing that one key alone",
        )
    if sw.against is not None:
        lines += [*_sensitivity_lines(sw), ""]
    head = [
        "#",
        *(markdown_code(a.key) for a in sw.axes),
        *(
            [f"Net saving against {markdown_text(sw.against.name)}"]
            if sw.against is not None
            else []
        ),
        f"Cost over {horizon}",
        "Cost vs #1",
        "Child-days not suitably placed",
        "Child-days vs #1",
        "Not suitably placed at end",
        "In care at end",
        "% in area at end",
    ]
    lines.append("| " + " | ".join(head) + " |")
    lines.append(
        "|" + "|".join("---" if i <= len(sw.axes) else "--:" for i in range(len(head))) + "|"
    )
    for row in rows(sw):
        first = row["variant"] == 1
        cells = [
            str(row["variant"]),
            *(markdown_text(label_text(row[a.key], 60)) for a in sw.axes),
            *([_saving_cell(row)] if sw.against is not None else []),
            f"{money(row['total_cost_gbp_median'])} ({money(row['total_cost_gbp_p10'])}"
            f"{DASH}{money(row['total_cost_gbp_p90'])})",
            "reference"
            if first
            else f"{_signedmoney(row['cost_diff_gbp_median'])} "
            f"({_signedmoney(row['cost_diff_gbp_p5'])} to "
            f"{_signedmoney(row['cost_diff_gbp_p95'])})",
            f"{round(row['unmet_child_days_median']):,} ({round(row['unmet_child_days_p10']):,}"
            f"{DASH}{round(row['unmet_child_days_p90']):,})",
            "reference"
            if first
            else f"{_signed_int(row['unmet_child_days_diff_median'])} "
            f"({_signed_int(row['unmet_child_days_diff_p5'])} to "
            f"{_signed_int(row['unmet_child_days_diff_p95'])})",
            f"{round(row['unmet_children_end_median']):,}",
            f"{round(row['in_care_end_median']):,}",
            _pct_text(row["placed_in_area_pct_end_median"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Files: `sweep.csv` (these figures unrounded, one row per variant), `sweep.png` "
        "(the response chart), `variants/` (each variant as a whole scenario file: "
        "`sufficiency run` on one gives its full report).",
        "",
        "## Repeat this sweep",
        "",
        *markdown_block(sw.command or "(command not recorded)"),
        "",
    ]
    return "\n".join(lines)


_UNITS = (
    ("weekly_cost", "£ per week"),
    ("per_year", "per year"),
    ("probability", "probability"),
    ("share", "share"),
    ("_days", "days"),
    ("beds", "beds"),
    ("opens", "date"),
    ("closes", "date"),
    ("date", "date"),
)


def axis_label(key: str) -> str:
    """A key as a chart axis label, with its unit when the key's name says it: the last
    name that has a unit, so a price by needs level (`...weekly_cost.very_complex`) is in
    pounds a week and a chance by needs level (`...offer_probability.complex`) a probability."""
    names = [s for s in reversed(parse_key(key)) if isinstance(s, str)] or [key]
    for name in names:
        for end, unit in _UNITS:
            if end in name:
                return f"{key} ({unit})"
    return key


def _numeric(values: tuple[Any, ...]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def chart(sw: Sweep) -> Any:
    """Cost and child-days not suitably placed against the first key, a line per other value."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    first, rest = sw.axes[0], sw.axes[1:]
    numeric = _numeric(first.values)
    xs = list(first.values) if numeric else list(range(len(first.values)))
    by_combo: dict[tuple[Any, ...], list[VariantResult]] = {}
    for r in sw.results:  # product order: first key slowest, so gather by the rest
        by_combo.setdefault(tuple(map(hashable_value, r.variant.values[1:])), []).append(r)

    fig = Figure(figsize=(11, 5.8))
    fig.set_layout_engine("constrained", rect=(0, 0.04, 1, 0.86))
    horizon = duration(len(sw.months))
    fig.text(
        0.012,
        0.955,
        "Sweep: how cost and unmet need respond",
        fontsize=15,
        fontweight="bold",
        va="center",
    )
    fig.text(
        0.012,
        0.905,
        f"{sw.loaded.name} · {horizon} from {sw.months[0]} · median and "
        f"10{DASH}90% range of {sw.reps} runs per variant, same random numbers",
        fontsize=10.5,
        color="#444444",
        va="center",
    )
    fig.text(
        0.99,
        0.015,
        f"seed {sw.seed} · {len(sw.results)} variants",
        fontsize=7.5,
        color="#777777",
        ha="right",
        va="bottom",
    )
    left, right = fig.subplots(1, 2)
    panels = (
        (left, "cost", f"Total cost over {horizon} (£)", "Cost"),
        (right, "unmet_days", f"Child-days not suitably placed over {horizon}", "Unmet need"),
    )
    for ax, attr, ylabel, title in panels:
        for i, group in enumerate(by_combo.values()):
            colour = TOTAL_COLOUR if not rest else PALETTE[i % len(PALETTE)]
            q = np.array([quantiles(getattr(r, attr), (50, 10, 90)) for r in group])
            label = None
            if rest:
                label = ", ".join(
                    f"{short_key(a.key)} = {label_text(v, 28)}"
                    for a, v in zip(rest, group[0].variant.values[1:], strict=True)
                )
            ax.fill_between(xs, q[:, 1], q[:, 2], color=colour, alpha=0.18, linewidth=0)
            ax.plot(xs, q[:, 0], color=colour, linewidth=2, marker="o", markersize=4, label=label)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(axis_label(first.key))
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(axis="y", color="#dddddd", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if not numeric:
            ax.set_xticks(
                xs,
                [label_text(v, 18) for v in first.values],
                rotation=20 if len(xs) > 3 else 0,
                ha="right" if len(xs) > 3 else "center",
            )
        elif len(xs) <= 12:
            ax.set_xticks(xs, [label_text(v, 12) for v in first.values])
        elif all(isinstance(v, int) for v in first.values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: money(v)))
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color="#666666", linewidth=2, marker="o", markersize=4, label="Median"),
        Patch(color="#666666", alpha=0.18, label=f"10{DASH}90% of runs"),
    ]
    if rest:
        handles += left.get_legend_handles_labels()[0]
    left.legend(handles=handles, frameon=False, fontsize=8, loc="best")
    return fig


def command_line(
    scenario: Path,
    vary: list[str],
    grid: Path | None,
    years: float,
    reps: int,
    seed: int,
    out: Path,
    extra: dict[str, Any],
    one_at_a_time: bool = False,
) -> str:
    """The `sufficiency sweep` command that repeats this sweep into `out`."""
    parts = ["sufficiency", "sweep", str(scenario)]
    for v in vary:
        parts += ["--vary", v]
    if grid is not None:
        parts += ["--grid", str(grid)]
    parts += ["--years", f"{years:g}", "--reps", str(reps), "--seed", str(seed)]
    for k, v in extra.items():
        parts += [f"--{k}", str(v)]
    if one_at_a_time:
        parts.append("--one-at-a-time")
    parts += ["--out", str(out), "--force"]
    return " ".join(shlex.quote(p) for p in parts)


def check_out(out: Path, force: bool) -> None:
    """Fail before any run if the sweep folder `out` cannot be written or replaced."""
    check_free(out, force)
