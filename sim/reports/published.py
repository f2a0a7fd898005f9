"""The report of `calibrate --published`: each figure used, its source, what came from the
template, and the scenario's first simulated year beside the stated figures."""

from __future__ import annotations

from pathlib import Path

from ..calibration.published import CHECK_SEED, FIT_REPS, PublishedCalibration
from ..common.safe_text import markdown_text


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:,.1f}".removesuffix(".0")


def write_report(
    cal: PublishedCalibration, folder: Path, scenario_name: str, scenario_file: str
) -> None:
    """Write published.md into `folder` (which must exist)."""
    t = markdown_text
    lines = [
        f"# Calibration from published figures: {t(scenario_name)}",
        "",
        f"Built from `{t(cal.table.path.name)}`, the figures for the year ending {cal.at}; the "
        f"scenario `{t(scenario_file)}` starts the next day. Everything the table does not give "
        "comes from the template (listed below); each number in the scenario file says which.",
        "",
        "## Figures used",
        "",
        "| line | figure | value | used for | source |",
        "|---|---|---|---|---|",
    ]
    for u in sorted(cal.used, key=lambda u: u.figure.line):
        f = u.figure
        lines.append(f"| {f.line} | {t(f.name)} | {_num(f.value)} | {t(u.use)} | {t(f.source)} |")
    lines += ["", "## Not published (suppressed): the template's figure is used", ""]
    if cal.suppressed:
        lines += [
            f"- line {f.line}: {t(f.name)} = `{t(f.text) or 'blank'}` ({t(f.source)})"
            for f in sorted(cal.suppressed, key=lambda f: f.line)
        ]
    else:
        lines.append("- none")
    lines += [
        "",
        "## From the template",
        "",
        *[f"- {t(x)}" for x in cal.from_template],
        "- everything else: needs levels and their mix, sibling groups, disability, matching "
        "rules, breakdown rates (their pattern; their level too unless the table gives 3+ "
        "placements), planned-move rates, changes of needs, time-in-care patterns of "
        "exits, costs and price growth, Staying Put and payments after care; supply scaled "
        "to the council's size (see the notes)",
        "",
        "## Check: the scenario's first year beside the table",
        "",
        f"Median and 10-90% range of {cal.check_reps} one-year replications "
        f"(seed {CHECK_SEED}, not the fit's). Children in care are compared with the stated "
        "count on the start date: the scenario's end-of-year stock equals it when entries "
        "and exits balance.",
        "",
        "| figure | stated | simulated median | 10-90% | off by | source |",
        "|---|---|---|---|---|---|",
    ]
    for c in cal.checks:
        off = f"{100 * (c.median - c.stated) / c.stated:+.1f}%" if c.stated else ""
        lines.append(
            f"| {t(c.what)} | {_num(c.stated)} | {_num(c.median)} | {_num(c.low)} to "
            f"{_num(c.high)} | {off} | {t(c.source)} |"
        )
    lines += [
        "",
        "The share with 3+ placements is fitted when the table gives it (one factor on "
        "every breakdown rate; see the notes); long-term stability and distance are checked, "
        "not fitted: they follow from the breakdown rates and the provisions' locations.",
        "",
        "## Notes",
        "",
        *[f"- {t(n)}" for n in cal.notes],
        "",
        "Fitted factors: "
        + ", ".join(f"{t(k)} {v:.3f}" for k, v in cal.factors.items())
        + f" ({FIT_REPS} replications a fitting round).",
        "",
    ]
    (folder / "published.md").write_text("\n".join(lines), encoding="utf-8")
