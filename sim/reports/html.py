"""One self-contained HTML file comparing commissioning options, for screens and for paper.

A commissioner emails the file or prints it for a board: so everything it needs is
inside it (styles inline, charts as PNG data), it asks nothing of the network (no
scripts, fonts or links to anywhere), and it prints cleanly on A4. It holds the plain
summary, the ranking, the paired differences with their uncertainty, unmet demand as
commissioners mean it (one line per measure, with what it counts and whether it is
unlawful), break-even, the comparison charts, each option's fan charts, and the
assumptions of every scenario side by side.

Counts of children below the comparison's `suppress_below` K show as "<K" (zero as 0);
a difference of counts is shown in full or hidden whole (`presentation.difference_rule`);
money and percentages are never suppressed.

The page is a jinja2 template (`templates/comparison.html`, its sections the macros of
`comparison_parts.html`, its style `comparison.css`) rendered with autoescaping: this
module only works out what to say, as plain values, and the template escapes every one,
so text from a scenario file (a name, a source, a description) can never become markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from .. import __version__
from ..common.outputs import atomic_path
from ..common.suppression import all_hidden
from ..runs.commissioners import BY_KEY, SECTION_TITLE, UNMET_SETTING
from ..runs.compare import COUNT_METRIC_UNITS, METRICS, Metric, median_interval, metrics_in
from ..scenario.changes import describe, in_force, in_order
from ..scenario.schema import (
    FosterProvision,
    Home,
    HomeProvision,
    OfferProvision,
    OptionCost,
    Scenario,
    weekly_cost_range,
)
from .comparison_words import break_even_spread, rank_rule, ranking_change, sentences
from .presentation import (
    DASH,
    all_hidden_short,
    all_hidden_text,
    change_text,
    count,
    difference_rule,
    hidden_difference_text,
    level_text,
    money_full,
    option_colour,
    pct,
    provision_colours,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..runs.compare import Comparison

#: Resolution of embedded charts: sharp on A4 while keeping the file a few megabytes.
CHART_DPI = 100
#: Metrics in the option comparison, in the order a board reads them (others follow).
METRIC_ORDER = (
    "net_cost",
    "net_cost_today",
    "placement_cost",
    "after_care_cost",
    "option_cost",
    "unmet_children",
    "unmet_child_days",
    "pct_in_area",
    "children_3plus",
)


def write_html(cmp: Comparison, path: Path) -> None:
    """Write the comparison report to `path` whole (or leave things as they were)."""
    text = render_html(cmp)
    with atomic_path(Path(path), force=True, folder=False) as tmp:
        tmp.write_text(text, encoding="utf-8")


def render_html(cmp: Comparison) -> str:
    """The report as one HTML document (a string): every text escaped, nothing external.

    The page is the jinja2 template `templates/comparison.html` (its sections are the
    macros of `comparison_parts.html`), rendered with autoescaping: this module works out
    the values (texts, numbers written as words, our palette's colours) and the template
    escapes each one as it writes it. No value is marked safe: the charts' PNG data is
    base64 inside a `data:` address, which escaping leaves as it is.
    """
    page = _templates().get_template("comparison.html")
    document = page.render(
        version=__version__,
        title=f"Options compared: {', '.join(cmp.names)}",
        header=_header_view(cmp),
        said=sentences(cmp),
        ranking=_ranking_view(cmp),
        break_even=_break_even_view(cmp),
        comparison=_comparison_view(cmp),
        unmet=_unmet_view(cmp),
        unmet_title=SECTION_TITLE,
        charts=_comparison_charts(cmp),
        fans=_fan_charts(cmp),
        assumptions=_assumptions_view(cmp),
        notes=_notes_view(cmp),
    )
    # A web address typed in a scenario (a source, a description) stays readable but can
    # never become a link or a request: a zero-width space after the scheme's colon.
    return document.replace("://", ":&#8203;//")


@functools.cache
def _templates() -> jinja2.Environment:
    """The report's templates, read from the package (so a wheel installed anywhere finds
    them), escaping every value they write."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sim.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a value the template names but is not given
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _part(name: str, *args: Any) -> str:
    """One section's HTML alone (a macro of comparison_parts.html), for tests."""
    return str(getattr(_templates().get_template("comparison_parts.html").module, name)(*args))


def _ranking(cmp: Comparison) -> str:
    """The ranking table's HTML."""
    return _part("ranking", _ranking_view(cmp))


def _comparison(cmp: Comparison) -> str:
    """The tables of options compared with the baseline, as HTML."""
    return _part("comparison", _comparison_view(cmp))


# =========================================================================== building blocks

View = dict[str, Any]  # what a template macro is given: names to plain values


def _option(cmp: Comparison, name: str) -> View:
    """An option's name and its colour, as in every chart."""
    i = cmp.names.index(name) if name in cmp.names else 0
    return {"name": name, "colour": option_colour(i)}


def _figure(fig: Figure, alt: str, caption: str = "") -> View:
    """A matplotlib figure as the PNG inside a data: address, with its alternative text."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CHART_DPI, facecolor="white", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"src": f"data:image/png;base64,{data}", "alt": alt, "caption": caption}


# =========================================================================== numbers as text


def _unit_words(unit: str) -> str:
    return {"money": "£", "percent": "percentage points"}.get(unit, unit)


# =========================================================================== header


def _header_view(cmp: Comparison) -> View:
    """Title, the options in their colours (large: the first thing a reader sees), settings."""
    first = cmp.results[0]
    s0 = first.scenario.scenario
    years = len(cmp.periods) - 1
    k = int(cmp.suppress_below or 0)
    settings = [
        ("Options", f"{len(cmp.names)} (the first is the baseline each option is compared with)"),
        ("Starting", _month(first.months[0])),
        ("Horizon", f"{years} year{'s' if years != 1 else ''}: {', '.join(cmp.periods[:-1])}"),
        (
            "Simulated runs",
            f"{cmp.reps:,} per option, paired: run i of every option uses the "
            "same random numbers as run i of the baseline",
        ),
        ("Master seed", str(first.seed)),
        (
            "Small numbers",
            f"counts of children below {k} shown as <{k}" if k > 0 else "not suppressed",
        ),
        ("Written", f"{_date(dt.date.today())} by sufficiency {__version__}"),
    ]
    return {
        "place": f": {s0.place}" if s0.place else "",
        "options": [_option(cmp, name) for name in cmp.names],
        "settings": settings,
    }


def _date(d: dt.date) -> str:
    return f"{d.day} {d:%B %Y}"


def _month(label: str) -> str:
    return dt.datetime.strptime(label, "%Y-%m").strftime("%B %Y")


# =========================================================================== tables


def _ranking_view(cmp: Comparison) -> View:
    """Options in overall rank order, with the paired median difference on each criterion."""
    table = cmp.ranking
    if table is None or len(table) == 0:
        return {"rows": []}
    criteria = [c for c in table.columns if f"rank_{c}" in table.columns]
    rows = [
        {
            "rank": f"{int(r['overall_rank'])}",
            "option": _option(cmp, str(r["option"])),
            "criteria": [
                (ranking_change(cmp, str(r["option"]), c), f"{int(r[f'rank_{c}'])}")
                for c in criteria
            ],
            "rank_sum": f"{int(r['rank_sum'])}",
        }
        for _, r in table.sort_values("overall_rank").iterrows()
    ]
    labels = [METRICS[c].label if c in METRICS else c for c in criteria]
    return {"criteria": labels, "rows": rows, "rule": rank_rule(cmp.rank_by)}


def _break_even_view(cmp: Comparison) -> View:
    """When the option's own costs are paid back by lower placement costs, if ever."""
    table = cmp.break_even
    if table is None or len(table) == 0:
        return {"rows": []}
    years = len(cmp.periods) - 1
    rows = [
        {
            "option": _option(cmp, str(r["option"])),
            "median": str(r["median_year"]),
            "spread": break_even_spread(r["p5_year"], r["p95_year"]),
            "chance": pct(float(r["prob_within_horizon"]) * 100),
        }
        for _, r in table.iterrows()
    ]
    return {"years": f"{years} year{'s' if years != 1 else ''}", "rows": rows}


def _comparison_view(cmp: Comparison) -> View:
    """Per metric: the baseline's level, then each option's paired difference, by period."""
    summary = cmp.summary
    present = list(dict.fromkeys(summary["metric"])) if len(summary) else []
    present = [m for m in present if METRICS[m].group == ""]  # unmet demand: `_unmet_view`
    order = [m for m in METRIC_ORDER if m in present] + [
        m for m in present if m not in METRIC_ORDER
    ]
    return {"metrics": [_metric_table(cmp, m, METRICS[m]) for m in order]}


def _metric_table(cmp: Comparison, metric: str, m: Metric) -> View:
    k = int(cmp.suppress_below or 0)
    out: View = {
        "label": m.label,
        "unit": _unit_words(m.unit),
        "better": "lower is better" if m.better == "lower" else "higher is better",
        "all_hidden": "",
    }
    values = cmp.values[metric]
    levels = [float(median_interval(values[i, :, p])[0]) for i in range(len(cmp.names))
              for p in range(len(cmp.periods))]  # fmt: skip
    if m.unit in COUNT_METRIC_UNITS and all_hidden(levels, "children", k):
        return {**out, "all_hidden": all_hidden_text(k)}
    rows_of = cmp.summary[cmp.summary["metric"] == metric]
    base = rows_of[rows_of["option"] == rows_of["option"].iloc[0]].set_index("period")
    rows = []
    for i, name in enumerate(cmp.names[1:], start=1):
        mine = rows_of[rows_of["option"] == name].set_index("period")
        cells = [
            _difference(mine.loc[p], m.unit, k, cmp.hides_difference(i, metric, j))
            if p in mine.index
            else None
            for j, p in enumerate(cmp.periods)
        ]
        rows.append({"option": _option(cmp, name), "cells": cells})
    return {
        **out,
        "periods": list(cmp.periods),
        "baseline": _option(cmp, cmp.names[0]),
        "levels": [
            level_text(float(base.loc[p, "baseline_median"]), m.unit, k) if p in base.index else ""
            for p in cmp.periods
        ],
        "rows": rows,
    }


def _unmet_view(cmp: Comparison) -> View:
    """Unmet demand as commissioners mean it over the whole run: one row per measure with
    what it counts and whether it is unlawful, the baseline's level, each option's change."""
    summary = cmp.summary
    if len(cmp.names) < 2 or not len(summary):
        return {"rows": []}
    k = int(cmp.suppress_below or 0)
    horizon = cmp.periods[-1]
    at_end = summary[summary["period"] == horizon]
    rows = []
    for metric in metrics_in(UNMET_SETTING):
        c, m = BY_KEY[metric], METRICS[metric]
        mine = at_end[at_end["metric"] == metric].set_index("option")
        levels = [float(median_interval(cmp.values[metric][i, :, -1])[0])
                  for i in range(len(cmp.names))]  # fmt: skip
        row: View = {"label": c.label, "definition": c.definition, "unlawful": c.unlawful}
        if all_hidden(levels, "children", k):
            rows.append({**row, "all_hidden": all_hidden_short(k), "level": "", "cells": []})
            continue
        cells = [
            _difference(mine.loc[name], m.unit, k, cmp.hides_difference(i, metric))
            if name in mine.index
            else None
            for i, name in enumerate(cmp.names[1:], start=1)
        ]
        level = level_text(levels[0], m.unit, k)
        rows.append({**row, "all_hidden": "", "level": level, "cells": cells})
    return {
        "baseline": _option(cmp, cmp.names[0]),
        "options": [_option(cmp, n) for n in cmp.names[1:]],
        "horizon": horizon,
        "rows": rows,
    }


def _unmet(cmp: Comparison) -> str:
    """The section on unmet demand as commissioners mean it, as HTML."""
    return _part("unmet", _unmet_view(cmp))


def _difference(r: Any, unit: str, k: int, hidden: bool = False) -> View:
    """The median difference, its interval and the chance better; or why it is hidden."""
    prob = pct(float(r["prob_better"]) * 100)
    if hidden:
        return {"median": hidden_difference_text(k, unit), "interval": "", "chance": prob}
    lo = change_text(float(r["diff_p5"]), unit)
    hi = change_text(float(r["diff_p95"]), unit)
    return {
        "median": change_text(float(r["diff_median"]), unit),
        "interval": f"{lo} to {hi}",
        "chance": prob,
    }


# =========================================================================== charts


def _comparison_charts(cmp: Comparison) -> list[View]:
    from .comparison_charts import charts

    if len(cmp.names) < 2:
        return []
    return [
        _figure(fig, alt=f"Chart: {name.removesuffix('.png').replace('_', ' ')}")
        for name, fig in charts(cmp)
    ]


def _fan_charts(cmp: Comparison) -> list[View]:
    """The run report's fan charts of each option, one option after another; the
    baseline's (the first) with the council's published figures, where its scenario
    folder has an actuals.csv."""
    from .run import charts

    out = []
    for i, (name, results) in enumerate(zip(cmp.names, cmp.results, strict=True)):
        figures = []
        for file_name, fig in charts(results, published=i == 0):
            what = file_name.removeprefix("chart_").removesuffix(".png").replace("_", " ")
            figures.append(_figure(fig, alt=f"{name}: {what}"))
        out.append({**_option(cmp, name), "figures": figures})
    return out


# =========================================================================== assumptions


def _assumptions_view(cmp: Comparison) -> View:
    """Key parameters of every scenario side by side; rows where they differ stand out."""
    scenarios: list[Scenario] = [r.scenario for r in cmp.results]
    k = int(cmp.suppress_below or 0)
    colours = provision_colours(scenarios[0])
    rows: list[View] = [*_general_rows(scenarios, k)]
    for pid in _all_provisions(scenarios):
        specs = [s.provision.get(pid) for s in scenarios]
        spec = next(p for p in specs if p is not None)
        colour = (
            colours.get(pid)
            or provision_colours(next(s for s in scenarios if pid in s.provision))[pid]
        )
        rows.append(_group(spec.label or pid, colour))
        rows += _provision_rows(specs, pid, scenarios)
    rows.append(_group("Costs of the option itself"))
    rows.append(_row("One-off and running costs", [_option_costs(c) for c in _costs(cmp)]))
    return {"options": [_option(cmp, n) for n in cmp.names], "rows": rows}


def _group(label: str, colour: str = "") -> View:
    """A heading row of the assumptions (a placement type in its chart colour, say)."""
    return {"group": label, "colour": colour}


def _row(label: str, cells: list[Any]) -> View:
    """A row of the assumptions: one cell per scenario, marked if they are not all alike."""
    differs = len({repr(c) for c in cells}) > 1
    return {"group": "", "label": label, "cells": cells, "differs": differs}


def _all_provisions(scenarios: list[Scenario]) -> list[str]:
    """Provision ids in the baseline's order, then any an option adds."""
    return list(dict.fromkeys(pid for s in scenarios for pid in s.provision))


def _general_rows(scenarios: list[Scenario], k: int) -> list[View]:
    def row(label: str, show: Callable[[Scenario], str]) -> View:
        return _row(label, [show(s) for s in scenarios])

    return [
        _group("Scenario"),
        row("Description", lambda s: s.scenario.description or "(none)"),
        row("Start date", lambda s: _date(s.scenario.start_date)),
        row(
            "Dated changes",
            lambda s: "; ".join(describe(s.changes[i]) for i in in_order(s.changes)) or "none",
        ),
        row(
            "Children in care at the start",
            lambda s: count(sum(sum(g.by_age.values()) for g in s.population.values()), k),
        ),
        _group("Children entering care"),
        row("Entries a year", lambda s: count(s.entries.per_year, k)),
        row("Trend in entries", lambda s: f"{s.entries.trend_per_year * 100:+.1f}% a year"),
        row("Unaccompanied asylum-seeking children a year", lambda s: _uasc(s, k)),
    ]


def _uasc(s: Scenario, k: int) -> str:
    u = s.entries.uasc
    text = count(u.per_year, k)
    return text + (f" (up to {count(u.cap, k)} in care)" if u.cap is not None else "")


def _recruitment(p: Any, s: Scenario, pid: str) -> str:
    """Households recruited a year, with each dated change ('7.7, 13 from 2024-04-01'):
    its `recruitment_changes`, or the `[[changes]]` that move it."""
    text = f"{p.recruitment_per_year:g}"
    if p.enquiries_per_year is not None:
        approvals = p.enquiries_per_year * p.conversion
        text = (
            f"{approvals:g} ({p.enquiries_per_year:g} enquiries, {p.conversion * 100:g}% approved)"
        )
    for change in p.recruitment_changes:
        text += f", {change.per_year:g} from {change.from_.isoformat()}"
    rate = p.recruitment_per_year
    for day, version in in_force(s):
        now = version.provision[pid].recruitment_per_year  # type: ignore[union-attr]
        if now != rate:
            text += f", {now:g} from {day.isoformat()}"
            rate = now
    return text


def _deregistration(p: Any) -> str:
    """The deregistration hazard ('5.0% of households'), by length of service if it steps,
    and the retention multiplier if it is set."""
    text = f"{p.deregistration_per_year * 100:.1f}% of households"
    if p.deregistration_by_service:
        steps = ", ".join(
            f"{s.per_year * 100:.1f}% up to {s.until_years:g} years"
            for s in p.deregistration_by_service
        )
        text = f"{steps}, then {text}"
    if p.retention_multiplier != 1:
        text += f", times {p.retention_multiplier:g} (retention)"
    return text


def _provision_rows(specs: list[Any], pid: str, scenarios: list[Scenario]) -> list[View]:
    """The parameters that matter for this kind of placement, one row each."""
    kind = next(p for p in specs if p is not None).kind

    def row(label: str, show: Callable[[Any], str]) -> View:
        return _row(label, [show(p) if p is not None else "not used" for p in specs])

    rows = [row("Weekly cost", _weekly_cost)]
    if kind == "foster":
        rows += [
            row("Households and places at the start", _households),
            _row(
                "Households recruited a year",
                [
                    _recruitment(p, s, pid) if p is not None else "not used"
                    for p, s in zip(specs, scenarios, strict=True)
                ],
            ),
            row("Households deregistering a year", _deregistration),
        ]
    elif kind == "home":
        rows.append(row("Homes and beds", _homes))
    elif kind == "offer":
        rows.append(row("Chance of an offer when asked", _offer))
    return rows


def _weekly_cost(p: Any) -> str:
    basis = " per bed, filled or not" if p.cost_basis == "per_place" else " per child"
    rise = (
        f", rising {p.price_inflation_per_year * 100:g}% a year"
        if p.price_inflation_per_year
        else ""
    )
    cost = p.weekly_cost
    if isinstance(cost, dict):
        low, high = weekly_cost_range(cost)
        each = ", ".join(f"{level} {money_full(v)}" for level, v in cost.items())
        span = money_full(low) if low == high else f"{money_full(low)}{DASH}{money_full(high)}"
        return f"{span} a week{basis} by needs level ({each}){rise}"
    return f"{money_full(cost)} a week{basis}{rise}"


def _households(p: FosterProvision) -> str:
    homes = sum(h.count for h in p.households)
    places = sum(h.count * h.places for h in p.households)
    return f"{homes:,} households, {places:,} places"


def _homes(p: HomeProvision) -> str:
    if not p.homes:
        return "none"
    beds = sum(h.beds for h in p.homes)
    parts = [f"{_plural(len(p.homes), 'home')}, {_plural(beds, 'bed')}"]
    if p.max_occupied is not None:
        parts.append(f"at most {p.max_occupied} filled in a home")
    if p.closure_per_year:
        parts.append(f"{p.closure_per_year * 100:g}% close a year at random")
    if p.inspection_bed_cut_per_year:
        parts.append(
            f"{p.inspection_bed_cut_per_year * 100:g}% lose {_plural(p.beds_cut, 'bed')} "
            "a year after an inspection"
        )
    parts += [_home_dates(h) for h in p.homes if h.opens or h.closes or h.resize]
    return "; ".join(parts)


def _home_dates(h: Home) -> str:
    bits = []
    if h.opens:
        bits.append(f"opens {h.opens:%b %Y}")
    if h.closes:
        bits.append(f"closes {h.closes:%b %Y}")
    bits += [f"{r.beds} beds from {r.date:%b %Y}" for r in h.resize]
    return f"{h.name} ({_plural(h.beds, 'bed')}) {', '.join(bits)}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _offer(p: OfferProvision) -> str:
    chance = p.offer_probability
    if isinstance(chance, dict):
        return ", ".join(f"{need} {pct(v * 100)}" for need, v in chance.items())
    return pct(chance * 100)


def _costs(cmp: Comparison) -> list[list[OptionCost]]:
    costs = list(getattr(cmp, "option_costs", None) or [])
    return [list(c or []) for c in costs] + [[]] * (len(cmp.names) - len(costs))


def _option_costs(costs: list[OptionCost]) -> list[View]:
    """Each of the option's own costs on a line: what it is, how much, when, and source."""
    return [_describe_cost(c) for c in costs]


def _describe_cost(c: OptionCost) -> View:
    on = f" in {c.starts:%b %Y}" if c.starts else ""
    since = f" from {c.starts:%b %Y}" if c.starts else ""
    until = f" until {c.ends:%b %Y}" if c.ends else ""
    bits = []
    if c.one_off:
        bits.append(f"{money_full(c.one_off)} one-off{on}")
    if c.per_year:
        bits.append(f"{money_full(c.per_year)} a year{since}{until}")
    if c.inflation_per_year:
        bits.append(f"rising {c.inflation_per_year * 100:g}% a year")
    return {"text": f"{c.item}: {'; '.join(bits)}", "source": c.source or ""}


# =========================================================================== notes


def _notes_view(cmp: Comparison) -> View:
    k = int(cmp.suppress_below or 0)
    return {
        "reps": f"{cmp.reps:,}",
        "small_numbers": difference_rule(k),
        "rank_rule": rank_rule(cmp.rank_by),
        "dash": DASH,
    }
