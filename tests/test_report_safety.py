"""Reports a board can trust and a spreadsheet cannot turn against its reader.

* Text from scenario files (option names, cost items, sources) never becomes a formula
  in a workbook or a CSV table, and never becomes markup in summary.md.
* The ranking has no unexplained ties: the rule is stated, and "do nothing" never shares
  a rank with an option that costs millions more.
* A difference of small counts is hidden whole, never "-<5"; a table that would be all
  "<5" says so once.
* Workbook sheet names are short and fixed; money tick labels do not run together.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import cli

from sim.common.safe_text import FORMULA_STARTS, spreadsheet_frame, spreadsheet_text
from sim.reports.comparison import published_ranking, published_summary, summary_markdown
from sim.reports.comparison_words import rank_rule
from sim.reports.presentation import hidden_difference_text
from sim.reports.workbook import SHEET_NAMES, write_workbook
from sim.runs.compare import METRICS, Comparison, break_even_table, ranking_table, summary_table

if TYPE_CHECKING:
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "darlington" / "baseline.toml"
K = 5
HOSTILE_NAME = '=HYPERLINK("http://x","y")<script>alert(1)</script>'
HOSTILE_ITEMS = ("=cmd|' /C calc'!A0", "@SUM(1)", "+1", "-1")


# =========================================================================== helpers


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_rows(path: Path) -> list[list[str]]:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            return list(csv.reader(fh))
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def _unsafe_csv_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would read as a formula: = + @ tab CR, or '-' on non-numbers."""
    bad = []
    for row in _csv_rows(path):
        for cell in row:
            formula = cell.startswith(("=", "+", "@", "\t", "\r"))
            if formula or (cell.startswith("-") and not _is_number(cell)):
                bad.append(cell)
    return bad


def _unsafe_xlsx_cells(path: Path) -> list[tuple[str, str, object]]:
    """Formula cells, and text cells that start like a formula."""
    book = openpyxl.load_workbook(path)
    bad = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                text = isinstance(c.value, str) and c.value.startswith(FORMULA_STARTS)
                if c.data_type == "f" or text:
                    bad.append((ws.title, c.coordinate, c.value))
    return bad


def _xlsx_text(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path)
    return [
        str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    ]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `sufficiency compare` whose option is named and costed by an attacker."""
    folder = tmp_path_factory.mktemp("hostile")
    option = folder / "hostile.toml"
    name = HOSTILE_NAME.replace("'", "\\'")
    costs = "\n".join(
        f'[[option_costs]]\nitem = "{item}"\none_off = {1000 * (j + 1)}\nsource = "{item}"\n'
        for j, item in enumerate(HOSTILE_ITEMS)
    )
    option.write_text(
        f'extends = "{BASELINE.as_posix()}"\n\n'
        f"[scenario]\nname = '{name}'\n"
        'description = "<b>bold</b> =1+1"\n\n' + costs,
        encoding="utf-8",
    )
    out = folder / "out"
    done = cli(
        "compare", str(BASELINE), str(option), "--years", "1", "--reps", "10",
        "--workers", "1", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def _synthetic(
    names: list[str],
    net_cost: list[float],
    unmet_days: list[float],
    unmet_children: list[float] | None = None,
    three_plus: list[float] | None = None,
    k: int = K,
) -> Comparison:
    """A comparison with chosen medians, one year long, for rules that need exact numbers.

    Each scenario's runs are its value plus the same small spread, so medians and paired
    differences are exactly the values' differences.
    """
    reps, n = 21, len(names)
    spread = np.linspace(-1, 1, reps)
    values = {m: np.zeros((n, reps, 2)) for m in METRICS}

    def put(metric: str, levels: list[float], scale: float) -> None:
        for i, v in enumerate(levels):
            values[metric][i, :, :] = (v + scale * spread)[:, None]

    put("net_cost", [12e6 + v for v in net_cost], 1e5)
    put("placement_cost", [12e6 + v for v in net_cost], 1e5)
    put("unmet_child_days", [300 + v for v in unmet_days], 0)
    put("unmet_children", unmet_children or [10.0] * n, 0)
    put("children_3plus", three_plus or [20.0] * n, 0)
    put("pct_in_area", [70.0] * n, 0)
    cmp = Comparison(
        names=names,
        results=[],
        periods=["2023/24", "All 1 year"],
        reps=reps,
        values=values,
        option_costs=[[] for _ in names],
        summary=pd.DataFrame(),
        break_even=pd.DataFrame(),
        ranking=pd.DataFrame(),
        suppress_below=k,
        years=1,
        seed=1,
        start_date=dt.date(2023, 4, 1),
        months=12,
    )
    cmp.summary = summary_table(cmp)
    cmp.break_even = break_even_table(cmp)
    cmp.ranking = ranking_table(cmp, cmp.rank_by)
    return cmp


# =========================================================================== injection


def test_spreadsheet_text_neutralises_formula_starts() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(1)", "\tx", "\rx"):
        assert spreadsheet_text(text) == "'" + text
    assert spreadsheet_text("Solo home 1") == "Solo home 1"
    assert spreadsheet_text(-1.5) == -1.5  # a negative number is a number
    frame = spreadsheet_frame(pd.DataFrame({"name": ["=x", "ok"], "v": [-1.0, 2.0]}))
    assert list(frame["name"]) == ["'=x", "ok"] and list(frame["v"]) == [-1.0, 2.0]


def test_workbook_holds_no_formula_and_no_formula_like_text(hostile_run: Path) -> None:
    assert _unsafe_xlsx_cells(hostile_run / "options.xlsx") == []
    text = _xlsx_text(hostile_run / "options.xlsx")
    # the name and items are still there for the reader, as text
    assert any(t.startswith("'=HYPERLINK") for t in text)
    assert all(any(t == "'" + item for t in text) for item in HOSTILE_ITEMS)


def test_every_csv_is_neutralised(hostile_run: Path) -> None:
    files = sorted(hostile_run.glob("*.csv")) + sorted(hostile_run.glob("*.csv.gz"))
    assert {p.name for p in files} >= {"comparison.csv", "ranking.csv", "break_even.csv"}
    for path in files:
        assert _unsafe_csv_cells(path) == [], path.name
    # numbers stay numbers: the option's own costs are a positive difference in net cost
    summary = pd.read_csv(hostile_run / "comparison.csv", encoding="utf-8-sig")
    assert summary["diff_median"].dtype == float or summary["option_median"].dtype == float
    assert set(summary["option"]) == {"'" + HOSTILE_NAME}


def test_summary_md_escapes_markup(hostile_run: Path) -> None:
    md = (hostile_run / "summary.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md
    html_text = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html_text


def test_run_report_csv_and_markdown_are_safe(tmp_path: Path) -> None:
    scenario = tmp_path / "run.toml"
    scenario.write_text(
        f'extends = "{BASELINE.as_posix()}"\n\n[scenario]\nname = "=1+1 <script>x</script>"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = cli("run", str(scenario), "--years", "1", "--reps", "2", "--workers", "1",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    for path in [*out.glob("*.csv"), *out.glob("*.csv.gz")]:
        assert _unsafe_csv_cells(path) == [], path.name
    assert "<script>" not in (out / "summary.md").read_text(encoding="utf-8")


# =========================================================================== sheet names


def test_sheet_names_are_short_and_known(hostile_run: Path, tmp_path: Path) -> None:
    assert all(len(n) <= 31 for n in SHEET_NAMES)
    assert len(set(SHEET_NAMES)) == len(SHEET_NAMES)
    books = [hostile_run / "options.xlsx"]
    empty = _synthetic(["Do nothing", "Option"], [0, 1e6], [0, -10])
    write_workbook(empty, tmp_path / "synthetic.xlsx")
    books.append(tmp_path / "synthetic.xlsx")
    for path in books:
        names = openpyxl.load_workbook(path).sheetnames
        assert names == list(SHEET_NAMES), names
        assert all(len(n) <= 31 for n in names)


# =========================================================================== ranking


def test_ties_on_the_combined_rank_are_broken_and_explained(tmp_path: Path) -> None:
    # each scenario is best on one criterion and worst on another: rank sums all 4
    names = ["Do nothing", "Dearer, fewer unmet days", "Cheaper, more unmet days"]
    cmp = _synthetic(names, [0, 2.9e6, -1e6], [0, -100, 50])
    table = cmp.ranking.set_index("option")
    ranks = table["overall_rank"].to_dict()
    assert sorted(ranks.values()) == [1, 2, 3]  # distinct
    assert set(table["rank_sum"]) == {4}
    # broken by the first criterion, net cost: do nothing beats the £2.9m dearer option
    assert ranks == {names[2]: 1, names[0]: 2, names[1]: 3}
    rule = rank_rule(cmp.rank_by)
    assert "sum of their ranks" in rule and "tie is broken" in rule
    assert rule in summary_markdown(cmp)
    write_workbook(cmp, tmp_path / "options.xlsx")
    assert rule in _xlsx_text(tmp_path / "options.xlsx")
    assert list(published_ranking(cmp)["overall_rank"]) == [1, 2, 3]


def test_rule_is_stated_in_every_output(hostile_run: Path) -> None:
    import html

    rule = rank_rule(("net_cost", "unmet_child_days"))
    assert rule in (hostile_run / "summary.md").read_text(encoding="utf-8")
    assert rule in _xlsx_text(hostile_run / "options.xlsx")
    assert html.escape(rule) in (hostile_run / "report.html").read_text(encoding="utf-8")


# =========================================================================== suppression


def test_differences_of_small_counts_are_hidden_whole(tmp_path: Path) -> None:
    names = ["Do nothing", "Option"]
    # unmet children: every level below K; 3+ placements: the baseline's 3 is hidden
    cmp = _synthetic(names, [0, 1e6], [0, -9], unmet_children=[2, 3], three_plus=[3, 12])
    hidden = hidden_difference_text(K)
    md = summary_markdown(cmp)
    assert "-<" not in md and "+<" not in md
    three = next(line for line in md.splitlines() if line.startswith("| Children with 3"))
    assert hidden in three and three.count(hidden) == 1
    unmet = next(line for line in md.splitlines() if line.startswith("| Children not suitably"))
    assert "<5" not in unmet and "none is shown" in unmet
    # a difference between two published counts is shown in full, however small
    days = next(line for line in md.splitlines() if line.startswith("| Child-days"))
    assert "-9 " in days

    table = published_summary(cmp)
    rows = table[table["metric"] == "children_3plus"]
    assert rows[["diff_median", "diff_p5", "diff_p95"]].isna().all().all()
    assert all(hidden in n for n in rows["note"])
    assert not any(str(v).startswith(("-<", "+<")) for v in table.to_numpy().ravel())

    write_workbook(cmp, tmp_path / "options.xlsx")
    book = openpyxl.load_workbook(tmp_path / "options.xlsx")
    for ws in book.worksheets:
        for row in ws.iter_rows():
            assert not any(str(c.value).startswith("-<") for c in row), ws.title
    sheet = book[METRICS["unmet_children"].sheet]
    cells = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert f"<{K}" not in cells and any("none is shown" in str(v) for v in cells)
    three_sheet = [c.value for row in book[METRICS["children_3plus"].sheet].iter_rows()
                   for c in row]  # fmt: skip
    assert three_sheet.count(hidden) == 2  # once per period, not in every row


# =========================================================================== charts


def _overlapping_ticks(fig: Figure, axis: Axis) -> list[tuple[str, str]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    boxes = sorted(((t.get_window_extent(renderer), t.get_text()) for t in labels),
                   key=lambda b: b[0].x0)  # fmt: skip
    return [(a, b) for (ba, a), (bb, b) in itertools.pairwise(boxes) if ba.x1 > bb.x0]


def test_cost_chart_money_labels_do_not_collide() -> None:
    from sim.reports.run import charts
    from sim.runs.montecarlo import run
    from sim.scenario.load import load

    results = run(load(BASELINE), years=5, reps=4, workers=1, progress=False)
    fig = dict(charts(results))["chart_cost.png"]
    by_type = fig.axes[1]
    assert len([t for t in by_type.get_xticklabels() if t.get_text()]) >= 2
    assert _overlapping_ticks(fig, by_type.xaxis) == []


def test_control_characters_in_names_are_refused_before_the_run(tmp_path: Path) -> None:
    # A bell or NUL in an option's name validated, then openpyxl refused the workbook
    # (IllegalCharacterError) after the whole simulation had run. Now the scenario is
    # refused when it is read, naming the key.
    for key, text in (("scenario.name", "opt\\u0007bell"), ("option_costs[0].item", "n\\u0000")):
        option = tmp_path / "bell.toml"
        table = (
            "[scenario]\nname" if key == "scenario.name" else "[[option_costs]]\none_off = 1\nitem"
        )
        option.write_text(
            f'extends = "{BASELINE.as_posix()}"\n{table} = "{text}"\n', encoding="utf-8"
        )
        out = tmp_path / "out"
        done = cli("compare", str(BASELINE), str(option), "--years", "0.25", "--out", str(out))
        assert done.returncode == 2, done.stderr
        assert "bell.toml" in done.stderr and "control character" in done.stderr
        assert f"[{key}]" in done.stderr and "Traceback" not in done.stderr
        assert not out.exists()
