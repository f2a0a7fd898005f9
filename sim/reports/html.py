"""One self-contained HTML file comparing commissioning options, for screens and for paper.

A commissioner emails the file or prints it for a board: so everything it needs is
inside it (styles inline, charts as PNG data), it asks nothing of the network (no
scripts, fonts or links to anywhere), and it prints cleanly on A4. It holds the plain
summary, the ranking, the paired differences with their uncertainty, break-even, the
comparison charts, each option's fan charts, and the assumptions of every scenario side
by side.

Counts of children below the comparison's `suppress_below` K show as "<K" (zero as 0);
a difference of counts is shown in full or hidden whole (`presentation.difference_rule`);
money and percentages are never suppressed.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..common.outputs import atomic_path
from ..common.suppression import all_hidden
from ..runs.compare import COUNT_METRIC_UNITS, METRICS, Metric, median_interval
from ..scenario.schema import (
    FosterProvision,
    Home,
    HomeProvision,
    OfferProvision,
    OptionCost,
    Scenario,
)
from .comparison_words import break_even_spread, rank_rule, ranking_change, sentences
from .presentation import (
    DASH,
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
    "placement_cost",
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
    """The report as one HTML document (a string): every text escaped, nothing external."""
    parts = [
        _header(cmp),
        _section("In brief", "summary", _sentences(cmp)),
        _section("Ranking of options", "ranking", _ranking(cmp)),
        _section("Break-even", "break-even", _break_even(cmp)),
        _section("Options compared with the baseline", "comparison", _comparison(cmp)),
        _section("Comparison charts", "charts", _comparison_charts(cmp)),
        _section("Each option over time", "fans", _fan_charts(cmp)),
        _section("Assumptions of each scenario", "assumptions", _assumptions(cmp)),
        _notes(cmp),
    ]
    title = f"Options compared: {', '.join(cmp.names)}"
    document = (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="sufficiency {escape(__version__)}">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
    # A web address typed in a scenario (a source, a description) stays readable but can
    # never become a link or a request: a zero-width space after the scheme's colon.
    return document.replace("://", ":&#8203;//")


# =========================================================================== building blocks


def _section(title: str, anchor: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table from cells that are already HTML (escape text before passing it)."""
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}>\n<thead><tr>{th}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{escape(colour)}"></span>'


def _option_cell(cmp: Comparison, name: str) -> str:
    """An option's name with its chart colour, as in every chart."""
    i = cmp.names.index(name) if name in cmp.names else 0
    return f"{_swatch(option_colour(i))}{escape(name)}"


def _figure_html(fig: Figure, alt: str, caption: str = "") -> str:
    """A matplotlib figure as an <img> with the PNG inside it (a data URI)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CHART_DPI, facecolor="white", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">{cap}</figure>'


# =========================================================================== numbers as text


def _unit_words(unit: str) -> str:
    return {"money": "£", "percent": "percentage points"}.get(unit, unit)


# =========================================================================== header


def _header(cmp: Comparison) -> str:
    """Title, the options in their colours (large: the first thing a reader sees), settings."""
    first = cmp.results[0]
    s0 = first.scenario.scenario
    place = f": {s0.place}" if s0.place else ""
    items = "\n".join(
        f"<li>{_swatch(option_colour(i))}<span>{escape(name)}</span>"
        + (' <em class="tag">baseline</em>' if i == 0 else "")
        + "</li>"
        for i, name in enumerate(cmp.names)
    )
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
    rows = "\n".join(
        f'<tr><th scope="row">{escape(a)}</th><td>{escape(b)}</td></tr>' for a, b in settings
    )
    return (
        "<header>\n"
        '<p class="kicker">sufficiency &middot; options comparison</p>\n'
        f"<h1>Placement options compared{escape(place)}</h1>\n"
        f'<ol class="options">\n{items}\n</ol>\n'
        f'<table class="settings">\n{rows}\n</table>\n'
        "</header>"
    )


def _date(d: dt.date) -> str:
    return f"{d.day} {d:%B %Y}"


def _month(label: str) -> str:
    return dt.datetime.strptime(label, "%Y-%m").strftime("%B %Y")


# =========================================================================== tables


def _sentences(cmp: Comparison) -> str:
    if not sentences(cmp):
        return "<p>There is only the baseline: no option to compare.</p>"
    items = "\n".join(f"<li>{escape(s)}</li>" for s in sentences(cmp))
    return f'<ul class="sentences">\n{items}\n</ul>'


def _ranking(cmp: Comparison) -> str:
    """Options in overall rank order, with the paired median difference on each criterion."""
    table = cmp.ranking
    if table is None or len(table) == 0:
        return "<p>No options to rank.</p>"
    metrics = METRICS
    criteria = [c for c in table.columns if f"rank_{c}" in table.columns]
    head = ["Overall rank", "Option"]
    for c in criteria:
        m = metrics.get(c)
        label = m.label if m else c
        head += [f"{escape(label)}: median difference", "Rank"]
    head.append("Sum of ranks")
    rows = []
    for _, r in table.sort_values("overall_rank").iterrows():
        name = str(r["option"])
        row = [escape(f"{int(r['overall_rank'])}"), _option_cell(cmp, name)]
        for c in criteria:
            row += [escape(ranking_change(cmp, name, c)), escape(f"{int(r[f'rank_{c}'])}")]
        row.append(escape(f"{int(r['rank_sum'])}"))
        rows.append(row)
    note = (
        '<p class="note">Each criterion is the median, over paired runs, of the option '
        "minus the baseline over the whole horizon; rank 1 is best. "
        f"{escape(rank_rule(cmp.rank_by))}</p>"
    )
    return _table(head, rows, "ranking") + note


def _break_even(cmp: Comparison) -> str:
    """When the option's own costs are paid back by lower placement costs, if ever."""
    table = cmp.break_even
    if table is None or len(table) == 0:
        return "<p>No option has costs to pay back.</p>"
    years = len(cmp.periods) - 1
    head = [
        "Option",
        "Break-even year (median)",
        "90% interval (5th to 95th percentile of runs)",
        f"Chance of breaking even within {years} year{'s' if years != 1 else ''}",
    ]
    rows = [
        [
            _option_cell(cmp, str(r["option"])),
            escape(str(r["median_year"])),
            escape(break_even_spread(r["p5_year"], r["p95_year"])),
            escape(pct(float(r["prob_within_horizon"]) * 100)),
        ]
        for _, r in table.iterrows()
    ]
    note = (
        '<p class="note">Break-even: the first year by the end of which the option\'s '
        "cumulative net saving against the baseline (placement savings minus the option's "
        "own one-off and running costs) is no longer negative.</p>"
    )
    return _table(head, rows, "break-even") + note


def _comparison(cmp: Comparison) -> str:
    """Per metric: the baseline's level, then each option's paired difference, by period."""
    metrics = METRICS
    summary = cmp.summary
    present = list(dict.fromkeys(summary["metric"])) if len(summary) else []
    order = [m for m in METRIC_ORDER if m in present] + [
        m for m in present if m not in METRIC_ORDER
    ]
    if not order:
        return "<p>There is only the baseline: no option to compare.</p>"
    intro = (
        '<p class="note">Each cell: the median of the paired differences (option minus '
        "baseline, run by run), the 90% interval of those differences (5th to 95th "
        "percentile), and the share of runs in which the option did better than the "
        "baseline. The last column is the whole horizon.</p>"
    )
    return intro + "\n".join(_metric_table(cmp, m, metrics[m]) for m in order)


def _metric_table(cmp: Comparison, metric: str, m: Metric) -> str:
    k = int(cmp.suppress_below or 0)
    better = "lower is better" if m.better == "lower" else "higher is better"
    title = f"{escape(m.label)} <small>({escape(_unit_words(m.unit))}; {better})</small>"
    values = cmp.values[metric]
    levels = [median_interval(values[i, :, p])[0] for i in range(len(cmp.names))
              for p in range(len(cmp.periods))]  # fmt: skip
    if m.unit in COUNT_METRIC_UNITS and all_hidden(levels, "children", k):
        return f'<h3>{title}</h3>\n<p class="note">{escape(all_hidden_text(k))}</p>'
    rows_of = cmp.summary[cmp.summary["metric"] == metric]
    head = ["", *[escape(p) for p in cmp.periods]]
    base = rows_of[rows_of["option"] == rows_of["option"].iloc[0]].set_index("period")
    rows = [
        [f"{_option_cell(cmp, cmp.names[0])} <small>(level)</small>"]
        + [
            escape(level_text(float(base.loc[p, "baseline_median"]), m.unit, k))
            if p in base.index
            else ""
            for p in cmp.periods
        ]
    ]
    for i, name in enumerate(cmp.names[1:], start=1):
        mine = rows_of[rows_of["option"] == name].set_index("period")
        rows.append(
            [_option_cell(cmp, name)]
            + [
                _diff_cell(mine.loc[p], m.unit, k, cmp.hides_difference(i, metric, j))
                if p in mine.index
                else ""
                for j, p in enumerate(cmp.periods)
            ]
        )
    return f"<h3>{title}</h3>\n" + _table(head, rows, "metric")


def _diff_cell(r: Any, unit: str, k: int, hidden: bool = False) -> str:
    """The median difference, its interval and the chance better; or why it is hidden."""
    prob = pct(float(r["prob_better"]) * 100)
    if hidden:
        return (
            f'<span class="med">{escape(hidden_difference_text(k, unit))}</span>'
            f'<span class="prob">better in {escape(prob)} of runs</span>'
        )
    med = change_text(float(r["diff_median"]), unit)
    lo = change_text(float(r["diff_p5"]), unit)
    hi = change_text(float(r["diff_p95"]), unit)
    return (
        f'<span class="med">{escape(med)}</span>'
        f'<span class="ci">90%: {escape(lo)} to {escape(hi)}</span>'
        f'<span class="prob">better in {escape(prob)} of runs</span>'
    )


# =========================================================================== charts


def _comparison_charts(cmp: Comparison) -> str:
    from .comparison_charts import charts

    if len(cmp.names) < 2:
        return "<p>There is only the baseline: no option to compare.</p>"
    return "\n".join(
        _figure_html(fig, alt=f"Chart: {name.removesuffix('.png').replace('_', ' ')}")
        for name, fig in charts(cmp)
    )


def _fan_charts(cmp: Comparison) -> str:
    """The run report's fan charts of each option, one option after another."""
    from .run import charts

    out = [
        '<p class="note">For each option on its own: the median month by month, and the '
        "band that 8 runs in 10 fell within (10th to 90th percentile).</p>"
    ]
    for i, (name, results) in enumerate(zip(cmp.names, cmp.results, strict=True)):
        out.append(f'<h3 class="option-head">{_swatch(option_colour(i))}{escape(name)}</h3>')
        for file_name, fig in charts(results):
            what = file_name.removeprefix("chart_").removesuffix(".png").replace("_", " ")
            out.append(_figure_html(fig, alt=f"{name}: {what}"))
    return "\n".join(out)


# =========================================================================== assumptions

Row = tuple[str, list[str]]  # (label as HTML, one escaped cell per scenario)


def _assumptions(cmp: Comparison) -> str:
    """Key parameters of every scenario side by side; rows where they differ stand out."""
    scenarios: list[Scenario] = [r.scenario for r in cmp.results]
    k = int(cmp.suppress_below or 0)
    colours = provision_colours(scenarios[0])
    rows: list[Row] = [*_general_rows(scenarios, k)]
    for pid in _all_provisions(scenarios):
        specs = [s.provision.get(pid) for s in scenarios]
        spec = next(p for p in specs if p is not None)
        colour = (
            colours.get(pid)
            or provision_colours(next(s for s in scenarios if pid in s.provision))[pid]
        )
        rows.append((f"__group__{_swatch(colour)}{escape(spec.label or pid)}", []))
        rows += _provision_rows(specs, pid)
    rows.append(("__group__Costs of the option itself", []))
    rows.append(("One-off and running costs", [_option_costs_cell(c) for c in _costs(cmp)]))
    head = ["", *[f"{_swatch(option_colour(i))}{escape(n)}" for i, n in enumerate(cmp.names)]]
    body = []
    for label, cells in rows:
        if label.startswith("__group__"):
            span = len(cmp.names) + 1
            body.append(f'<tr class="group"><th colspan="{span}">{label[9:]}</th></tr>')
            continue
        differs = len(set(cells)) > 1
        cls = ' class="differs"' if differs else ""
        tds = "".join(f"<td>{c}</td>" for c in cells)
        body.append(f'<tr{cls}><th scope="row">{label}</th>{tds}</tr>')
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    note = (
        '<p class="note">Read from each scenario file as run (after <code>extends</code>). '
        "Rows marked &#9654; differ between scenarios: they are what each option changes.</p>"
    )
    return (
        note
        + f'<table class="assumptions">\n<thead><tr>{th}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def _all_provisions(scenarios: list[Scenario]) -> list[str]:
    """Provision ids in the baseline's order, then any an option adds."""
    return list(dict.fromkeys(pid for s in scenarios for pid in s.provision))


def _general_rows(scenarios: list[Scenario], k: int) -> list[Row]:
    def row(label: str, show: Callable[[Scenario], str]) -> Row:
        return (escape(label), [escape(show(s)) for s in scenarios])

    return [
        ("__group__Scenario", []),
        row("Description", lambda s: s.scenario.description or "(none)"),
        row("Start date", lambda s: _date(s.scenario.start_date)),
        row(
            "Children in care at the start",
            lambda s: count(sum(sum(g.by_age.values()) for g in s.population.values()), k),
        ),
        ("__group__Children entering care", []),
        row("Entries a year", lambda s: count(s.entries.per_year, k)),
        row("Trend in entries", lambda s: f"{s.entries.trend_per_year * 100:+.1f}% a year"),
        row("Unaccompanied asylum-seeking children a year", lambda s: _uasc(s, k)),
    ]


def _uasc(s: Scenario, k: int) -> str:
    u = s.entries.uasc
    text = count(u.per_year, k)
    return text + (f" (up to {count(u.cap, k)} in care)" if u.cap is not None else "")


def _provision_rows(specs: list[Any], pid: str) -> list[Row]:
    """The parameters that matter for this kind of placement, one row each."""
    kind = next(p for p in specs if p is not None).kind

    def row(label: str, show: Callable[[Any], str]) -> Row:
        return (escape(label), [escape(show(p)) if p is not None else "not used" for p in specs])

    rows = [row("Weekly cost", _weekly_cost)]
    if kind == "foster":
        rows += [
            row("Households and places at the start", _households),
            row("Households recruited a year", lambda p: f"{p.recruitment_per_year:g}"),
            row(
                "Households deregistering a year",
                lambda p: f"{p.deregistration_per_year * 100:.1f}% of households",
            ),
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
    return f"{money_full(p.weekly_cost)} a week{basis}{rise}"


def _households(p: FosterProvision) -> str:
    homes = sum(h.count for h in p.households)
    places = sum(h.count * h.places for h in p.households)
    return f"{homes:,} households, {places:,} places"


def _homes(p: HomeProvision) -> str:
    if not p.homes:
        return "none"
    beds = sum(h.beds for h in p.homes)
    parts = [f"{_plural(len(p.homes), 'home')}, {_plural(beds, 'bed')}"]
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


def _option_costs_cell(costs: list[OptionCost]) -> str:
    """Each of the option's own costs on a line: what it is, how much, when, and source."""
    if not costs:
        return "none"
    return "<br>".join(_describe_cost(c) for c in costs)


def _describe_cost(c: OptionCost) -> str:
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
    source = f" <small>(source: {escape(c.source)})</small>" if c.source else ""
    return f"{escape(c.item)}: {escape('; '.join(bits))}{source}"


# =========================================================================== notes


def _notes(cmp: Comparison) -> str:
    k = int(cmp.suppress_below or 0)
    small = escape(difference_rule(k))
    return (
        "<footer>\n<h2>How to read this report</h2>\n<ul>\n"
        f"<li>Every option was simulated {cmp.reps:,} times with the same random numbers as "
        "the baseline, so each difference is the option, not chance. Medians are the middle "
        f"run; a 90% interval holds 9 runs in 10 (5th to 95th percentile).</li>\n"
        "<li>Net cost is the cost of placements plus the option's own one-off and running "
        "costs. A negative difference in cost is a saving.</li>\n"
        f"<li>{small}</li>\n"
        f"<li>{escape(rank_rule(cmp.rank_by))}</li>\n"
        f"<li>Ranges are written low{DASH}high in charts and 'low to high' in tables.</li>\n"
        "</ul>\n</footer>"
    )


# =========================================================================== style

CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #d0d0d0; --soft: #f4f4f4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1150px; padding: 24px 32px 48px; color: var(--ink);
  background: #fff; font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, Helvetica,
  sans-serif; }
h1 { font-size: 30px; margin: 4px 0 14px; line-height: 1.2; }
h2 { font-size: 22px; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid var(--ink); }
h3 { font-size: 17px; margin: 22px 0 8px; }
h3 small, th small, td small { font-weight: normal; color: var(--muted); }
.kicker { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .06em;
  font-size: 13px; }
ol.options { list-style: none; margin: 0 0 18px; padding: 0; }
ol.options li { font-size: 26px; font-weight: bold; line-height: 1.35; margin: 6px 0;
  display: flex; align-items: center; }
ol.options .tag { font-size: 16px; font-weight: normal; color: var(--muted);
  margin-left: 10px; }
.swatch { display: inline-block; width: .9em; height: .9em; min-width: .9em;
  border-radius: 2px; margin-right: .45em; vertical-align: -0.1em;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 6px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--rule); padding: 6px 8px; text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); font-size: 13px; }
table.settings { width: auto; font-size: 14px; }
table.settings th { color: var(--muted); font-weight: normal; padding-right: 18px; }
table.metric td:last-child, table.metric th:last-child { background: var(--soft); }
table.metric td .med { display: block; font-weight: bold; font-size: 15px; }
table.metric td .ci, table.metric td .prob { display: block; font-size: 12px;
  color: var(--muted); }
table.ranking td:nth-child(1) { font-weight: bold; font-size: 16px; }
table.assumptions tr.group th { background: var(--soft); font-size: 14px; padding-top: 10px; }
table.assumptions tbody th { font-weight: normal; width: 22%; }
table.assumptions tr.differs th, table.assumptions tr.differs td { font-weight: bold; }
table.assumptions tr.differs th::before { content: "\\25B6\\00a0"; font-size: 11px; }
ul.sentences li { font-size: 17px; margin: 6px 0; }
.note { color: var(--muted); font-size: 13px; }
figure { margin: 14px 0 22px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: var(--muted); }
footer { margin-top: 40px; font-size: 13px; color: var(--muted); }
footer h2 { font-size: 16px; color: var(--ink); }
code { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 90%; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h1 { font-size: 20pt; }
  ol.options li { font-size: 15pt; }
  h2 { font-size: 14pt; break-after: avoid; page-break-after: avoid; }
  h3 { font-size: 11.5pt; break-after: avoid; page-break-after: avoid; }
  table { font-size: 8.5pt; }
  table.metric td .med { font-size: 9.5pt; }
  thead { display: table-header-group; }
  tr, figure, img { break-inside: avoid; page-break-inside: avoid; }
  figure img { border: none; }
  #charts, #fans, #assumptions { break-before: page; page-break-before: always; }
  h3.option-head ~ h3.option-head { break-before: page; page-break-before: always; }
  .swatch, tr.group th, table.metric td:last-child { -webkit-print-color-adjust: exact;
    print-color-adjust: exact; }
}
"""
