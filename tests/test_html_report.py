"""The HTML comparison report: self-contained, names every option, hides small counts,
and really renders in a browser with the network cut off."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import numpy as np
import pytest

from sim.reports import html as html_report
from sim.reports.comparison_charts import chart_differences
from sim.reports.comparison_words import sentences
from sim.reports.html import write_html
from sim.runs.compare import METRICS, compare
from sim.scenario.schema import OptionCost

ROOT = Path(__file__).resolve().parents[1]
DARLINGTON = ROOT / "scenarios" / "darlington"
OPTIONS = ["baseline.toml", "foster-plus-10.toml", "solo-homes.toml"]
K = 5
#: A sentence no report should pass through as markup or as a link.
HOSTILE = "Note <script>alert('x')</script> & see https://example.org/costs"
COUNT_UNITS = ("children", "child-days")
WIDTH, HEIGHT = 1200, 1600


@pytest.fixture(scope="module")
def cmp():
    c = compare(
        [DARLINGTON / name for name in OPTIONS],
        years=2,
        reps=6,
        seed=11,
        workers=1,
        progress=False,
        suppress_below=K,
    )
    return c


def said(cmp) -> list[str]:
    """The comparison's sentences, and one hostile line a scenario's text could carry."""
    return [*sentences(cmp), HOSTILE]


@pytest.fixture(scope="module")
def report(cmp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "options.html"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(html_report, "sentences", said)
        write_html(cmp, path)
    return path


@pytest.fixture(scope="module")
def text(report) -> str:
    return report.read_text(encoding="utf-8")


# =========================================================================== the file


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the tables under each h3 heading."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[tuple[str, list[list[str]]]] = []  # (heading, rows of cells)
        self._heading: str | None = None
        self._in_h3 = False
        self._cell: list[str] | None = None
        self._rows: list[list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h2", "h3"):
            self._in_h3, self._heading = True, ""
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("h2", "h3"):
            self._in_h3 = False
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self._heading or "", self._rows))
            self._rows = None

    def handle_data(self, data):
        if self._in_h3:
            self._heading = (self._heading or "") + data
        if self._cell is not None:
            self._cell.append(data + " ")


def escaped(text: str) -> str:
    """`text` as the report's template writes it (jinja2's autoescaping: ' as &#39;)."""
    return str(markupsafe.escape(text))


def _parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    return p


def test_file_makes_no_external_reference(text):
    low = text.lower()
    assert "http://" not in low and "https://" not in low
    assert "@import" not in low and "<script" not in low and "<link" not in low
    assert "<iframe" not in low and "<object" not in low and "<embed" not in low
    assert re.search(r"""(src|href)\s*=\s*["']?//""", low) is None
    assert re.search(r"url\((?!\s*['\"]?data:)", low) is None
    tags = _parse(text).tags
    images = [a for t, a in tags if t == "img"]
    assert len(images) >= 4 + 4 * len(OPTIONS)  # comparison charts + fan charts per option
    for t, attrs in tags:
        for name in ("src", "href", "srcset", "poster", "data", "action"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (t, name, value[:60])
    for attrs in images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        assert attrs.get("alt")


def test_text_is_escaped_and_typed_addresses_are_not_links(text):
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; see" in text
    assert "example.org/costs" in text  # still readable, just not a reference


def test_every_option_is_named_in_the_header_tables_and_assumptions(cmp, text):
    header = text[: text.index("</header>")]
    for name in cmp.names:
        assert escaped(name) in header
        assert text.count(escaped(name)) >= 4, name
    for sentence in said(cmp):
        assert escaped(sentence).replace("://", ":&#8203;//") in text
    assumptions = [rows for head, rows in _parse(text).tables if "Assumptions" in head]
    assert assumptions, "no assumptions table"
    rows = assumptions[0]
    assert rows[0] == ["", *cmp.names]

    def row(label: str) -> list[list[str]]:
        return [r[1:] for r in rows if r and r[0] == label]

    # what each option changes is in its own column, and the row is marked as differing
    (recruit,) = row("Households recruited a year")
    assert recruit == ["7.7", "7.7, 13 from 2024-04-01", "7.7"]  # the enhanced offer's date
    assert any(r[2].startswith("2 homes, 2 beds") and r[0] == "none" for r in row("Homes and beds"))
    (costs,) = row("One-off and running costs")
    assert costs[0] == "none" and "£88,000 a year" in costs[1] and "£138,000 one-off" in costs[2]
    for label in ("Households recruited a year", "One-off and running costs"):
        assert f'<tr class="differs"><th scope="row">{label}</th>' in text
    assert '<tr><th scope="row">Entries a year</th>' in text  # the same everywhere


def test_numbers_match_the_comparison(cmp, text):
    net = cmp.summary[(cmp.summary["metric"] == "net_cost")]
    horizon = net[net["period"] == cmp.periods[-1]].set_index("option")
    tables = dict(_parse(text).tables)
    table = tables[next(h for h in tables if h.startswith(METRICS["net_cost"].label))]
    by_option = {r[0].replace("(level)", "").strip(): r for r in table[1:]}
    from sim.reports.presentation import money

    for name in cmp.names[1:]:
        cell = by_option[name][-1]
        med = horizon.loc[name, "diff_median"]
        shown = money(med) if med < 0 else "+" + money(med)
        assert cell.startswith(shown), (cell, shown)
        assert f"better in {round(horizon.loc[name, 'prob_better'] * 100)}% of runs" in cell


def _count_cells(text: str) -> list[str]:
    """Every table cell that holds a count of children or child-days."""
    tables = _parse(text).tables
    labels = {m.label: m.unit for m in METRICS.values()}
    cells: list[str] = []
    for head, rows in tables:
        unit = next((u for label, u in labels.items() if head.startswith(label)), None)
        if unit in COUNT_UNITS:
            cells += [c for r in rows[1:] for c in r[1:]]
        if head.startswith("Ranking"):
            header = rows[0]
            for i, h in enumerate(header):
                if any(
                    h.startswith(METRICS[m].label)
                    for m in METRICS
                    if METRICS[m].unit in COUNT_UNITS
                ):
                    cells += [r[i] for r in rows[1:]]
    return cells


def _numbers(cell: str) -> list[float]:
    cell = re.sub(r"better in \d+% of runs|90%:", "", cell)
    return [float(n.replace(",", "")) for n in re.findall(r"(?<![<\d])-?\d[\d,]*(?:\.\d+)?", cell)]


def _levels_and_differences(text: str) -> tuple[list[str], list[str]]:
    """Count cells of the comparison tables: the baseline's levels, then the differences."""
    labels = {m.label: m.unit for m in METRICS.values()}
    levels: list[str] = []
    diffs: list[str] = []
    for head, rows in _parse(text).tables:
        unit = next((u for label, u in labels.items() if head.startswith(label)), None)
        if unit not in COUNT_UNITS:
            continue
        for r in rows[1:]:
            (levels if "(level)" in r[0] else diffs).extend(r[1:])
    return levels, diffs


def test_no_count_below_k_is_shown(cmp, text):
    cells = _count_cells(text)
    assert len(cells) > 20
    levels, diffs = _levels_and_differences(text)
    shown = [v for c in levels for v in _numbers(c)]
    assert shown, "no counts found in the tables"
    assert all(v == 0 or abs(v) >= K for v in shown), sorted(shown, key=abs)[:5]
    from sim.reports.presentation import all_hidden_text

    said_once = escaped(all_hidden_text(K)) in text  # a table that would be all <K
    assert said_once or any(f"<{K}" in c for c in levels), "small counts must show as <K"
    # a difference is never a suppressed count ("-<5"): it is shown whole or hidden whole
    assert not any(f"-<{K}" in c or f"+<{K}" in c for c in cells)
    hidden = [c for c in diffs if "suppressed (fewer than" in c]
    assert hidden or said_once, "this run has differences of small counts to hide"
    assert all("90%" not in c for c in hidden)  # the interval goes with the figure
    for metric, m in METRICS.items():
        if m.unit not in COUNT_UNITS:
            continue
        for i in range(1, len(cmp.names)):
            for j in range(len(cmp.periods)):
                if not cmp.hides_difference(i, metric, j):
                    levels_ij = [float(np.median(cmp.values[metric][o, :, j])) for o in (0, i)]
                    assert all(v == 0 or v >= K for v in levels_ij), (metric, i, j)


def test_a_large_k_hides_every_small_count(cmp):
    big = dataclasses.replace(cmp, suppress_below=10**6)
    from sim.reports.html import _comparison, _ranking
    from sim.reports.presentation import all_hidden_text

    cells = _count_cells(f"<section>{_comparison(big)}</section>")
    assert not cells  # no table of "<K" in every cell ...
    said = _comparison(big).count(escaped(all_hidden_text(10**6)))
    headline = [m for m in METRICS.values() if m.group == ""]
    assert said == sum(m.unit in COUNT_UNITS for m in headline)  # ... said once each
    ranking = _count_cells(f"<section><h3>Ranking</h3>{_ranking(big)}</section>")
    # every option's change is hidden; the baseline's own (0 by definition) tells nothing
    assert [c for c in ranking if "suppressed (fewer than" not in c] == ["0"]
    unsuppressed = dataclasses.replace(cmp, suppress_below=0)
    cells = _count_cells(_comparison(unsuppressed))
    assert not any("<" in c for c in cells)
    assert any(0 < abs(v) < K for c in cells for v in _numbers(c))


def test_chart_labels_of_counts_are_suppressed(cmp):
    from matplotlib.text import Annotation

    labels = [a.get_text() for a in chart_differences(cmp).findobj(Annotation)]
    counts = [t for t in labels if "£" not in t and "points" not in t]
    assert len(counts) == 3 * (len(cmp.names) - 1)  # child-days, children, 3+ placements
    # a difference of counts is written only where the tables show it, never as "-<K"
    assert not any("<" in t for t in counts)
    expected = [
        cmp.hides_difference(i, metric)
        for metric in ("unmet_child_days", "unmet_children", "children_3plus")
        for i in range(1, len(cmp.names))
    ]
    assert ["suppressed (fewer than" in t for t in counts] == expected
    assert any(expected), "this run has differences of small counts: the chart must hide them"
    assert any("£" in t for t in labels)


def test_a_failed_write_leaves_the_old_file_alone(cmp, tmp_path):
    old = tmp_path / "report.html"
    old.write_text("old report", encoding="utf-8")
    broken = dataclasses.replace(cmp, summary=cmp.summary.drop(columns="diff_p95"))
    with pytest.raises(KeyError):
        write_html(broken, old)
    assert list(tmp_path.iterdir()) == [old] and old.read_text(encoding="utf-8") == "old report"


# =========================================================================== in a browser


def _browser() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _headless(browser: str, page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    """Chromium with every name unresolvable and a proxy to nowhere: no request can leave."""
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def _page_requests(netlog: Path) -> list[str]:
    """Addresses the page asked the network for (not the browser's own housekeeping)."""
    events = json.loads(netlog.read_text())["events"]
    out = []
    for e in events:
        p = e.get("params") or {}
        url = p.get("url", "")
        if url.startswith(("http", "ws", "ftp")) and p.get("initiator") not in (
            None,
            "not an origin",
        ):
            out.append(url)
    return sorted(set(out))


@pytest.fixture(scope="module")
def browser() -> str:
    found = _browser()
    if found is None:
        pytest.skip(
            "no Chromium found (/usr/bin/chromium, chromium or chromium-browser on PATH): "
            "install Debian's 'chromium' package (.ci/run does) to run the browser test"
        )
    return found


@pytest.fixture(scope="module")
def screenshot(browser, report, tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("browser")
    shot, netlog = tmp / "top.png", tmp / "net.json"
    done = _headless(
        browser,
        report,
        tmp,
        f"--window-size={WIDTH},{HEIGHT}",
        f"--screenshot={shot}",
        f"--log-net-log={netlog}",
    )
    assert shot.exists(), done.stderr[-2000:]
    return shot, netlog


def test_browser_renders_the_report(screenshot):
    from PIL import Image

    shot, _ = screenshot
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size == (WIDTH, HEIGHT)
        colours = im.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, swatches, rules: not blank
    white = max(colours)[1]
    assert white == (255, 255, 255)


def test_browser_makes_no_request(browser, screenshot, tmp_path):
    _, netlog = screenshot
    assert _page_requests(netlog) == []
    # the same check does see a page that asks for something on the internet
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<p>x</p><img src="http://example.invalid/x.png">', encoding="utf-8")
    log = tmp_path / "leaky.json"
    _headless(
        browser, leaky, tmp_path, "--screenshot=" + str(tmp_path / "x.png"), f"--log-net-log={log}"
    )
    assert _page_requests(log) == ["http://example.invalid/x.png"]


def test_browser_dom_has_every_option(browser, report, cmp, tmp_path):
    done = _headless(browser, report, tmp_path, "--dump-dom")
    dom = done.stdout
    assert "</html>" in dom, done.stderr[-2000:]
    for name in cmp.names:
        assert html.escape(name, quote=False) in dom
    assert dom.count("data:image/png;base64,") >= 4 + 4 * len(OPTIONS)


def _squash(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def test_option_names_can_be_read_off_the_screenshot(screenshot, cmp, tmp_path):
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        pytest.skip("tesseract (Debian 'tesseract-ocr') is not installed: no OCR check")
    from PIL import Image

    shot, _ = screenshot
    top = tmp_path / "top.png"
    with Image.open(shot) as im:
        im.crop((0, 0, WIDTH, 450)).save(top)
    done = subprocess.run(
        [tesseract, str(top), "-", "--psm", "6"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
    )
    read = _squash(done.stdout)
    for name in cmp.names:
        assert _squash(name) in read, (name, done.stdout)


# =========================================================================== escaping


#: Text a scenario file could carry into every place the report writes one.
MARKUP = "<img src=x onerror=alert(1)> \"quoted\" & 'it's'"


def test_every_text_from_a_scenario_is_escaped_where_it_is_written(cmp, monkeypatch):
    """Option names, the place, descriptions, placement labels, cost items and sources:
    the template escapes each one (no caller escapes anything by hand)."""
    monkeypatch.setattr(html_report, "_comparison_charts", lambda c: [])
    monkeypatch.setattr(html_report, "_fan_charts", lambda c: [])
    monkeypatch.setattr(html_report, "sentences", lambda c: [MARKUP])
    results = []
    for i, r in enumerate(cmp.results):
        s = r.scenario
        first = next(iter(s.provision))
        provision = {**s.provision, first: s.provision[first].model_copy(update={"label": MARKUP})}
        about = s.scenario.model_copy(update={"place": MARKUP, "description": f"{MARKUP} {i}"})
        scenario = s.model_copy(update={"scenario": about, "provision": provision})
        results.append(dataclasses.replace(r, scenario=scenario))
    names = [f"{MARKUP} {i}" for i in range(len(cmp.names))]
    costs = [[OptionCost(item=MARKUP, one_off=1000, source=MARKUP)] for _ in names]
    renamed = {"option": dict(zip(cmp.names, names, strict=True))}
    hostile = dataclasses.replace(
        cmp,
        names=names,
        results=results,
        option_costs=costs,
        summary=cmp.summary.replace(renamed),
        ranking=cmp.ranking.replace(renamed),
        break_even=cmp.break_even.replace(renamed),
    )
    text = html_report.render_html(hostile)
    assert "<img" not in text and "onerror=alert(1)>" not in text
    assert "'it's'" not in text and '"quoted"' not in text
    mark = escaped(MARKUP)
    assert mark == "&lt;img src=x onerror=alert(1)&gt; &#34;quoted&#34; &amp; &#39;it&#39;s&#39;"
    header = text[: text.index("</header>")]
    assert f"<h1>Placement options compared: {mark}</h1>" in header
    assert all(f"<span>{escaped(n)}</span>" in header for n in names)
    assert text.count(f"{mark} 0") >= 4  # header, title, assumptions (name and description)
    assert f"<li>{mark}</li>" in text  # a sentence
    assert f"</span>{mark}</th></tr>" in text  # a placement type's label
    assert f"{mark}: £1,000 one-off <small>(source: {mark})</small>" in text
    _parse(text)  # and the page is still well-formed enough to read


def test_the_templates_escape_every_value_and_nothing_is_marked_safe():
    env = html_report._templates()
    assert env.autoescape is True
    names = env.list_templates()
    assert {"comparison.html", "comparison_parts.html", "comparison.css"} <= set(names)
    for name in names:
        source = env.loader.get_source(env, name)[0].replace(" ", "")
        assert "|safe" not in source and "autoescapefalse" not in source, name
    module = Path(html_report.__file__).read_text(encoding="utf-8")
    assert "Markup" not in module and "escape(" not in module


def test_unmet_demand_section_defines_each_measure_and_hides_small_counts(cmp, text):
    """One row per measure of unmet demand as commissioners mean it: what it counts,
    whether it is unlawful, the baseline's level and each option's paired change, with
    counts of 1 to K-1 never shown (this run has such counts: Darlington's unregistered
    and deprived-of-liberty children are few)."""
    from sim.reports.presentation import all_hidden_short, change_text, level_text
    from sim.runs.commissioners import COMMISSIONER_MEASURES

    assert '<section id="unmet">' in text
    tables = dict(_parse(text).tables)
    head, *body = tables["Unmet demand as commissioners mean it"]
    assert head == ["Measure", "What it counts", "Unlawful?", f"{cmp.names[0]} (level)",
                    *cmp.names[1:]]  # fmt: skip
    assert [r[0] for r in body] == [c.label for c in COMMISSIONER_MEASURES]
    hidden = shown = 0
    for c, row in zip(COMMISSIONER_MEASURES, body, strict=True):
        assert row[1:3] == [c.definition, c.unlawful]
        levels = [float(np.median(cmp.values[c.key][i, :, -1])) for i in range(len(cmp.names))]
        if all(v == 0 or v < K for v in levels) and any(0 < v < K for v in levels):
            assert row[3:] == [all_hidden_short(K)]  # said once for the row
            hidden += 1
            continue
        assert row[3] == (f"<{K}" if 0 < levels[0] < K else level_text(levels[0], "children"))
        for i, cell in enumerate(row[4:], start=1):
            if cmp.hides_difference(i, c.key):
                assert (
                    cell.startswith(f"suppressed (fewer than {K} children)") and "90%" not in cell
                )
                hidden += 1
            else:
                med = float(np.median(cmp.diff(c.key)[i, :, -1]))
                assert cell.startswith(change_text(med, "children")), (c.key, cell)
                shown += 1
    assert hidden and shown, (hidden, shown)
    # the headline tables do not repeat them
    assert not any(h.startswith(COMMISSIONER_MEASURES[0].label) for h in tables)


def test_the_in_care_chart_sets_the_council_s_figures_beside_every_option(cmp) -> None:
    """The comparison's chart of children in care: a line per option, and the
    baseline's published counts (actuals.csv) as markers at their dates, the figure of
    the month before the start included."""
    from sim.reports.comparison_charts import chart_in_care

    fig = chart_in_care(cmp)
    (ax,) = fig.axes
    lines = [line for line in ax.get_lines() if line.get_linestyle() != "None"]
    assert len(lines) == len(cmp.names)
    marks = [line for line in ax.get_lines() if line.get_marker() == "D"]
    # 322 (31 March 2023, the day before the start), 300 (2024), 265 (2025: the run's end)
    assert sorted(float(m.get_ydata()[0]) for m in marks) == [265.0, 300.0, 322.0]
    assert "published figure (the council's)" in [t.get_text() for t in ax.get_legend().texts]


def test_the_in_care_chart_says_when_there_is_no_published_figure() -> None:
    from conftest import MINIMAL

    from sim.reports.comparison_charts import chart_in_care

    bare = compare([MINIMAL, MINIMAL], years=1, reps=2, seed=1, workers=1, progress=False)
    (ax,) = chart_in_care(bare).axes
    assert not [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert any("no actuals.csv beside it" in t.get_text() for t in ax.texts)
