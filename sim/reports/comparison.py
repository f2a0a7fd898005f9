"""A comparison written for a board: sentences, tables for publication, the results folder.

`sim.runs.compare` works out the numbers (paired differences, break-even, ranking); this
module puts them into words and files. Published tables (comparison.csv, ranking.csv,
summary.md) apply small-number suppression (`sim.common.suppression`); the workbook and the
HTML report come from `sim.reports.workbook` and `sim.reports.html`.
"""

from __future__ import annotations

import gzip
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..common.outputs import atomic_path
from ..common.safe_text import markdown_block, markdown_text, spreadsheet_frame
from ..common.suppression import all_hidden, difference_hidden, suppressed
from ..runs.commissioners import BY_KEY, SECTION_TITLE, UNMET_SETTING
from ..runs.compare import (
    COUNT_METRIC_UNITS,
    METRICS,
    Comparison,
    metrics_in,
    nan_quantile,
    prob_better,
)
from .comparison_words import break_even_spread, rank_rule, ranking_change, sentences
from .presentation import (
    all_hidden_short,
    all_hidden_text,
    change_text,
    difference_rule,
    hidden_difference_text,
    level_text,
    money,
)


def write_outputs(
    cmp: Comparison, folder: Path | str, force: bool = False, command: str | None = None
) -> None:
    """Write the results folder whole, or leave things as they were.

    Tables for publication (comparison.csv, ranking.csv, summary.md) show counts of
    children between 1 and K-1 as "<K"; replications_diff.csv.gz is for analysts and is
    not suppressed. The workbook and HTML report come from sim.reports.workbook and
    sim.reports.html.
    """
    folder = Path(folder)
    with atomic_path(folder, force=force) as tmp:
        write_output_files(cmp, tmp, command)


def write_output_files(cmp: Comparison, tmp: Path, command: str | None = None) -> None:
    """Write a comparison's files into `tmp`, a folder being written whole (a region's
    comparison writes one per council)."""
    from .html import write_html
    from .workbook import write_workbook

    tmp.mkdir(parents=True, exist_ok=True)
    for name, table in (
        ("comparison.csv", published_summary(cmp)),
        ("ranking.csv", published_ranking(cmp)),
        ("break_even.csv", cmp.break_even),
    ):
        # text from scenario files (option names) can never start a formula
        spreadsheet_frame(table).to_csv(tmp / name, index=False, encoding="utf-8-sig")
    _write_replications_diff(cmp, tmp / "replications_diff.csv.gz")
    (tmp / "summary.md").write_text(summary_markdown(cmp, command), encoding="utf-8")
    (tmp / "compare.json").write_text(_run_info(cmp, command), encoding="utf-8")
    write_workbook(cmp, tmp / "options.xlsx")
    write_html(cmp, tmp / "report.html")


def _suppress_cell(v: float, unit: str, k: int) -> float | str:

    unit = "children" if unit in COUNT_METRIC_UNITS else unit
    return suppressed(v, unit, k) or v


def published_summary(cmp: Comparison) -> pd.DataFrame:
    """The summary for publication: small counts '<K', hidden differences left empty.

    Levels of children between 1 and K-1 read "<K"; a difference (median and interval)
    whose baseline or option level is such a count is left empty, with the reason in the
    `note` column; money and percentages are never suppressed.
    """
    out = cmp.summary.copy().astype(object)
    k = cmp.suppress_below
    notes = []
    for j, row in out.iterrows():
        unit = METRICS[row["metric"]].unit
        hide = unit in COUNT_METRIC_UNITS and difference_hidden(
            (float(row["baseline_median"]), float(row["option_median"])), "children", k
        )
        for c in ("baseline_median", "option_median"):
            out.at[j, c] = _suppress_cell(float(row[c]), unit, k)
        if hide:
            for c in ("diff_median", "diff_p5", "diff_p95"):
                out.at[j, c] = None
        notes.append(f"difference {hidden_difference_text(k, unit)}" if hide else "")
    out["note"] = notes
    return out


def published_ranking(cmp: Comparison) -> pd.DataFrame:
    """The ranking for publication: a median change of counts that must be hidden is empty.

    The ranks themselves stay: they say which option is better, not by how many children.
    """
    out = cmp.ranking.copy().astype(object)
    index = {name: i for i, name in enumerate(cmp.names)}
    for metric in cmp.rank_by:
        out[metric] = [
            None if cmp.hides_difference(index[name], metric) else float(v)
            for name, v in zip(out["option"], out[metric], strict=True)
        ]
    return out


def _write_replications_diff(cmp: Comparison, path: Path) -> None:
    """Every scenario, replication, measure and period: value and paired difference."""
    n_opt, reps, n_per = cmp.values["net_cost"].shape
    frames = []
    for metric in METRICS:
        v, d = cmp.values[metric], cmp.diff(metric)
        frames.append(
            pd.DataFrame(
                {
                    "option": np.repeat(cmp.names, reps * n_per),
                    "replication": np.tile(np.repeat(np.arange(1, reps + 1), n_per), n_opt),
                    "metric": metric,
                    "period": np.tile(cmp.periods, n_opt * reps),
                    "value": v.reshape(-1),
                    "diff": d.reshape(-1),
                }
            )
        )
    with gzip.open(path, "wt", compresslevel=3, encoding="utf-8", newline="") as fh:
        spreadsheet_frame(pd.concat(frames, ignore_index=True)).to_csv(fh, index=False)


def key_table(cmp: Comparison) -> list[str]:
    """Markdown: each headline measure over the whole run, the baseline's level and each
    option's change (unmet demand as commissioners mean it is `unmet_table`)."""
    names = [markdown_text(n) for n in cmp.names]
    head = ["Measure (whole run)", f"{names[0]} (baseline, median)", *names[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in metrics_in(""):
        spec = METRICS[metric]
        lines.append("| " + " | ".join([spec.label, *_whole_run_cells(cmp, metric)]) + " |")
    return lines


def _whole_run_cells(cmp: Comparison, metric: str, short: bool = False) -> list[str]:
    """The baseline's level over the whole run, then each option's paired change with its
    interval and share of runs better; one sentence instead when every count is small
    (`short`: a few words, for a table of many such rows)."""
    k = cmp.suppress_below
    spec = METRICS[metric]
    v = cmp.values[metric][:, :, -1]
    d = cmp.diff(metric)[:, :, -1]
    counts = spec.unit in COUNT_METRIC_UNITS
    if counts and all_hidden(nan_quantile(v.T, 50), "children", k):
        said = all_hidden_short(k) if short else all_hidden_text(k)
        return [said, *[""] * (len(cmp.names) - 1)]
    cells = [level_text(float(nan_quantile(v[0], 50)), spec.unit, k)]
    for i in range(1, len(cmp.names)):
        p5, med, p95 = (float(x) for x in nan_quantile(d[i], [5, 50, 95]))
        better = prob_better(d[i], spec.better)
        if cmp.hides_difference(i, metric):
            change = hidden_difference_text(k, spec.unit)
        else:
            change = (
                f"{change_text(med, spec.unit)} ({change_text(p5, spec.unit)} to "
                f"{change_text(p95, spec.unit)})"
            )
        cells.append(f"{change}; better in {better:.0%} of runs")
    return cells


def unmet_table(cmp: Comparison) -> list[str]:
    """Markdown: unmet demand as commissioners mean it, one measure a line with what it
    counts and whether it is unlawful, the baseline's level and each option's change."""
    names = [markdown_text(n) for n in cmp.names]
    head = ["Measure", "What it counts", "Unlawful?", f"{names[0]} (baseline, median)",
            *names[1:]]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in metrics_in(UNMET_SETTING):
        c = BY_KEY[metric]
        cells = [c.label, c.definition, c.unlawful, *_whole_run_cells(cmp, metric, True)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ranking_md(cmp: Comparison) -> list[str]:
    head = ["Rank", "Option", *[f"{METRICS[m].label}: change" for m in cmp.rank_by]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in cmp.ranking.iterrows():
        cells = [str(row["overall_rank"]), markdown_text(row["option"])]
        cells += [ranking_change(cmp, str(row["option"]), m) for m in cmp.rank_by]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", rank_rule(cmp.rank_by)]


def _break_even_md(cmp: Comparison) -> list[str]:
    head = ["Option", "Own costs", "Pays for itself by (median)", "5-95% of runs", "Within run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    for i, row in enumerate(cmp.break_even.itertuples(index=False), start=1):
        own = float(cmp.values["option_cost"][i, 0, -1])
        spread = break_even_spread(row.p5_year, row.p95_year)
        lines.append(
            f"| {markdown_text(row.option)} | {money(own)} | {row.median_year} | {spread} | "
            f"{row.prob_within_horizon:.0%} |"
        )
    return lines


def summary_markdown(cmp: Comparison, command: str | None = None) -> str:
    """The page a commissioner reads first: verdicts, ranking, key table, what was run."""
    k = cmp.suppress_below
    lines = [
        f"# Options compared with {markdown_text(cmp.names[0])}",
        "",
        f"Each option was run {cmp.reps} times with the same random numbers as the "
        f"baseline over {cmp.horizon} from {cmp.start_date:%B %Y}; run i of an option is "
        "compared with run i of the baseline. Intervals hold 90% of those paired "
        "differences.",
        "",
        market_line(cmp),
        "",
        *[f"- {markdown_text(s)}" for s in sentences(cmp)],
        "",
        "## Ranking",
        "",
        *_ranking_md(cmp),
        "",
        "## Change from the baseline over the whole run",
        "",
        "Median change (5th to 95th percentile of the paired differences); 'better' is "
        "the share of runs in which the option did strictly better than the baseline.",
        "",
        *key_table(cmp),
        "",
        f"## {SECTION_TITLE}",
        "",
        "Children at month ends, averaged over the whole run: the baseline's median, then "
        "each option's median change (5th to 95th percentile of the paired differences) "
        "and the share of runs in which it had fewer. A child may count on more than one "
        "line; `options.xlsx` (sheet 'Unmet demand') gives each year.",
        "",
        *unmet_table(cmp),
        "",
        "## When each option pays for itself",
        "",
        "The first year from which the cumulative net saving (baseline net cost minus the "
        "option's, the option's own costs included) stays at or above zero.",
        "",
        *_break_even_md(cmp),
        "",
        "## What was run",
        "",
        f"Master seed {cmp.seed}, {cmp.reps} replications, {cmp.years:g} years, "
        f"sufficiency {__version__}; {cmp.wall_seconds:,.1f} seconds.",
    ]
    if command:
        lines += ["", *markdown_block(command)]
    if k > 0:
        lines += [
            "",
            f"**Small numbers:** {difference_rule(k)} This applies to this "
            "summary, `comparison.csv` and `ranking.csv`. `replications_diff.csv.gz` is NOT "
            "suppressed: it is for analysts and must not be published as it is.",
        ]
    return "\n".join(lines) + "\n"


def market_line(cmp: Comparison) -> str:
    """Which market the runs were made in: each council's own external providers, or a
    region's shared pools (`sufficiency compare region.toml ...`)."""
    market = cmp.results[0].meta.get("market") if cmp.results else None
    if market is None:
        return (
            "Market: each scenario's own external providers (the council alone, not in a region)."
        )
    return (
        f"Market: the shared pools of the {markdown_text(str(market))}, with the other "
        "councils of the region: an option here is felt by its neighbours too."
    )


def _run_info(cmp: Comparison, command: str | None) -> str:
    info = {
        "scenarios": cmp.names,
        "files": [str(f) if f else None for f in cmp.files],
        "seed": int(cmp.seed),
        "reps": int(cmp.reps),
        "years": cmp.years,
        "start_date": str(cmp.start_date),
        "periods": cmp.periods,
        "rank_by": list(cmp.rank_by),
        "suppress_below": cmp.suppress_below,
        "wall_seconds": round(cmp.wall_seconds, 3),
        "version": __version__,
        "command": command,
    }
    return json.dumps(info, indent=2) + "\n"


def command_line(files: Sequence[Path], argv_tail: Sequence[str]) -> str:
    """The command that repeats a comparison, for summary.md."""
    return shlex.join(["sufficiency", "compare", *map(str, files), *argv_tail])
