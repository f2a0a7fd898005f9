"""The options workbook: opens, puts the summary first, years across, formats and suppresses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.cell.cell import Cell
from openpyxl.workbook.workbook import Workbook

from sim.reports.comparison_words import sentences
from sim.reports.workbook import write_workbook
from sim.runs.commissioners import COMMISSIONER_MEASURES
from sim.runs.compare import METRICS, Comparison, compare, metrics_in

#: Measures with a sheet of their own (unmet demand as commissioners mean it shares one).
HEADLINE = {k: METRICS[k] for k in metrics_in("")}

DARLINGTON = Path(__file__).parents[1] / "scenarios" / "darlington"
OPTIONS = ("baseline.toml", "foster-plus-10.toml", "solo-homes.toml")
K = 5
CHANCE_ROW = "Chance better than baseline"
#: Summary-table columns that hold counts of children (or child-days).
SUMMARY_COUNT_HEADERS = (
    "Child-days not suitably placed: median",
    "Children with 3+ placements: median",
)


@pytest.fixture(scope="module")
def cmp() -> Comparison:
    files = [DARLINGTON / name for name in OPTIONS]
    return compare(files, years=2, reps=6, seed=7, workers=1, progress=False)


@pytest.fixture(scope="module")
def book(cmp: Comparison, tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("workbook") / "options.xlsx"
    write_workbook(cmp, path)
    return openpyxl.load_workbook(path)


@pytest.fixture(scope="module")
def suppressed_book(cmp: Comparison, tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("workbook") / "options.xlsx"
    write_workbook(dataclasses.replace(cmp, suppress_below=K), path)
    return openpyxl.load_workbook(path)


# =========================================================================== helpers


def _all_hidden(ws: openpyxl.worksheet.worksheet.Worksheet) -> bool:
    """A sheet of counts that are all below K says so once, with no table."""
    return any("none is shown" in str(r[0].value) for r in ws.iter_rows(max_col=1))


def _metric_sheet(book: Workbook, key: str) -> openpyxl.worksheet.worksheet.Worksheet:
    """The sheet whose title (cell A1) names the metric."""
    hits = [ws for ws in book.worksheets if str(ws["A1"].value).startswith(METRICS[key].label)]
    assert len(hits) == 1, f"one sheet for {key}, found {[ws.title for ws in hits]}"
    return hits[0]


def _header_row(ws: openpyxl.worksheet.worksheet.Worksheet) -> int:
    for row in ws.iter_rows(max_col=2):
        if row[0].value == "Option" and row[1].value == "Figure":
            return row[0].row
    raise AssertionError(f"no header row in {ws.title}")


def _figure_rows(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[tuple[str, str], list[Cell]]:
    """(option label, figure) -> the cells of that row, one per period."""
    out = {}
    for row in ws.iter_rows(min_row=_header_row(ws) + 1):
        if row[1].value is not None:
            out[(row[0].value, row[1].value)] = list(row[2:])
    return out


def _summary_table(book: Workbook) -> tuple[list[str], list[list[Cell]]]:
    ws = book["Summary"]
    rows = list(ws.iter_rows())
    start = next(i for i, r in enumerate(rows) if r[0].value == "Option")
    header = [c.value for c in rows[start]]
    return header, [r for r in rows[start + 1 :] if r[0].value]


def _count_cells(book: Workbook) -> Iterator[Cell]:
    """Every cell that holds a count of children or child-days, on every sheet."""
    for key, metric in HEADLINE.items():
        if metric.unit not in ("children", "child-days"):
            continue
        for (_, figure), cells in _figure_rows(_metric_sheet(book, key)).items():
            if figure != CHANCE_ROW:
                yield from cells
    header, rows = _summary_table(book)
    for name in SUMMARY_COUNT_HEADERS:
        j = header.index(name)
        yield from (r[j] for r in rows)


# =========================================================================== tests


def test_summary_sheet_is_first_and_names_every_option(book: Workbook, cmp: Comparison) -> None:
    assert book.sheetnames[0] == "Summary"
    text = [str(c.value) for row in book["Summary"].iter_rows() for c in row if c.value]
    for name in cmp.names:
        assert any(name in t for t in text), name
    for sentence in sentences(cmp):
        assert sentence in text
    _, rows = _summary_table(book)
    assert [r[0].value for r in rows] == [f"{cmp.names[0]} (baseline)", *cmp.names[1:]]
    settings = {row[0].value: row[1].value for row in book["Summary"].iter_rows(max_col=2)}
    assert settings["Replications (runs) of each option"] == 6
    assert settings["Master seed (the same for every option)"] == 7


def test_summary_figures_are_the_comparison(book: Workbook, cmp: Comparison) -> None:
    header, rows = _summary_table(book)
    col = {h: j for j, h in enumerate(header)}
    s = cmp.summary
    for i, row in enumerate(rows):
        cost = cmp.values["net_cost"][i, :, -1]
        assert row[col["Net cost: median"]].value == pytest.approx(np.median(cost))
        assert row[col["Net cost: 95%"]].value == pytest.approx(np.percentile(cost, 95))
        in_area = np.median(cmp.values["pct_in_area"][i, :, -1])
        assert row[col["% placed in area: median"]].value == pytest.approx(in_area / 100)
        diff = row[col["Net cost, difference from baseline: median"]].value
        chance = row[col["Chance cheaper than baseline"]].value
        if i == 0:
            assert diff is None and chance is None
            continue
        ours = s[(s["option"] == cmp.names[i]) & (s["metric"] == "net_cost")].iloc[-1]
        assert diff == pytest.approx(ours["diff_median"])
        assert chance == pytest.approx(ours["prob_better"])
        ranked = cmp.ranking.set_index("option")["overall_rank"]
        assert row[col["Rank"]].value == ranked[cmp.names[i]]


def test_one_sheet_per_metric_with_the_years_as_columns(book: Workbook, cmp: Comparison) -> None:
    # summary, a sheet per headline measure, unmet demand, costs, notes
    assert len(book.sheetnames) == 1 + len(HEADLINE) + 1 + 2
    for key in HEADLINE:
        ws = _metric_sheet(book, key)
        header = [c.value for c in ws[_header_row(ws)]]
        assert header == ["Option", "Figure", *cmp.periods]
        assert ws.freeze_panes == f"C{_header_row(ws) + 1}"
        rows = _figure_rows(ws)
        v = cmp.values[key]
        scale = 100 if METRICS[key].unit == "percent" else 1
        base = rows[(f"{cmp.names[0]} (baseline)", "Median")]
        got = [c.value * scale for c in base]
        np.testing.assert_allclose(got, np.median(v[0], axis=0))
        option = rows[(cmp.names[2], "5%")]
        np.testing.assert_allclose(
            [c.value * scale for c in option], np.percentile(v[2], 5, axis=0)
        )
        d = cmp.diff(key)[1]
        diff = [c.value for c in rows[(cmp.names[1], "Median difference")]]
        np.testing.assert_allclose(diff, np.median(d, axis=0), atol=1e-9)


def test_money_cells_carry_a_pound_format(book: Workbook) -> None:
    money = [k for k, m in HEADLINE.items() if m.unit == "money"]
    assert money
    n = 0
    for key in money:
        for (_, figure), cells in _figure_rows(_metric_sheet(book, key)).items():
            for c in cells:
                if figure == CHANCE_ROW:
                    assert c.number_format == "0%"
                else:
                    assert isinstance(c.value, (int, float)), (key, figure, c.value)
                    assert "£" in c.number_format, (key, figure, c.number_format)
                    n += 1
    assert n > 0
    header, rows = _summary_table(book)
    for r in rows:
        assert "£" in r[header.index("Net cost: median")].number_format


def test_percentages_are_fractions_with_a_percent_format(book: Workbook) -> None:
    rows = _figure_rows(_metric_sheet(book, "pct_in_area"))
    levels = [c for (_, f), cells in rows.items() if f in ("Median", "5%", "95%") for c in cells]
    assert levels
    for c in levels:
        assert 0 <= c.value <= 1 and c.number_format.endswith("%")


def test_no_formulas(book: Workbook) -> None:
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)


def test_small_counts_are_suppressed(
    book: Workbook, suppressed_book: Workbook, cmp: Comparison
) -> None:
    # without suppression, these small runs do have counts between 1 and K-1 ...
    plain = [c.value for c in _count_cells(book)]
    assert all(isinstance(v, (int, float)) for v in plain)
    assert any(0 < abs(v) < K for v in plain), "the test needs some small counts"
    # ... and with it, every level is "<K"; a difference is shown whole or hidden whole
    levels = dict(_level_cells(book))
    said_once = 0
    for key, metric in HEADLINE.items():
        ws = _metric_sheet(suppressed_book, key)
        if _all_hidden(ws):  # every level small: said once, not "<K" in every cell
            said_once += 1
            assert metric.unit in ("children", "child-days")
            values = [c.value for r in ws.iter_rows() for c in r if c.value is not None]
            assert len(values) == 3 and f"<{K}" not in values, values  # title, about, note
            plain = [c.value for (k, *_), c in levels.items() if k == key]
            assert all(v == 0 or 0 < v < K for v in plain)
    for where, c in _level_cells(suppressed_book):
        before = levels[where].value
        if 0 < before < K:
            assert c.value == f"<{K}", c.coordinate
        else:
            assert c.value == before
    hidden = f"suppressed (fewer than {K}"
    suppressed_cmp = dataclasses.replace(cmp, suppress_below=K)
    for key, metric in HEADLINE.items():
        if metric.unit not in ("children", "child-days"):
            continue
        if _all_hidden(_metric_sheet(suppressed_book, key)):
            continue
        rows = _figure_rows(_metric_sheet(suppressed_book, key))
        plain_rows = _figure_rows(_metric_sheet(book, key))
        for i, name in enumerate(cmp.names[1:], start=1):
            med = rows[(name, "Median difference")]
            p5, p95 = rows[(name, "Difference: 5%")], rows[(name, "Difference: 95%")]
            for j, cell in enumerate(med):
                if suppressed_cmp.hides_difference(i, key, j):
                    assert str(cell.value).startswith(hidden), (key, name, j, cell.value)
                    assert p5[j].value is None and p95[j].value is None
                else:  # both counts published: the difference as it is, however small
                    assert cell.value == plain_rows[(name, "Median difference")][j].value
    texts = [str(c.value) for ws in suppressed_book.worksheets for r in ws.iter_rows() for c in r]
    assert not any(t.startswith(("-<", "+<")) for t in texts)
    assert said_once or any(t.startswith(hidden) for t in texts), "differences to hide"
    notes = " ".join(str(r[1].value) for r in suppressed_book["Notes"].iter_rows(max_col=2))
    assert f"<{K}" in notes and hidden in notes


def _level_cells(book: Workbook) -> Iterator[tuple[tuple[str, str, str, int], Cell]]:
    """Every level (not difference) of a count of children, keyed by where it is."""
    for key, metric in HEADLINE.items():
        if metric.unit not in ("children", "child-days") or _all_hidden(_metric_sheet(book, key)):
            continue
        for (option, figure), cells in _figure_rows(_metric_sheet(book, key)).items():
            if figure in ("Median", "5%", "95%"):
                for j, c in enumerate(cells):
                    yield (key, option, figure, j), c
    header, rows = _summary_table(book)
    for name in SUMMARY_COUNT_HEADERS:
        j = header.index(name)
        for r in rows:
            yield ("summary", r[0].value, name, 0), r[j]


def test_money_and_percentages_are_never_suppressed(
    book: Workbook, suppressed_book: Workbook
) -> None:
    for key, metric in HEADLINE.items():
        if metric.unit in ("money", "percent"):
            a = _figure_rows(_metric_sheet(book, key))
            b = _figure_rows(_metric_sheet(suppressed_book, key))
            assert {k: [c.value for c in v] for k, v in a.items()} == {
                k: [c.value for c in v] for k, v in b.items()
            }


def test_option_costs_sheet(book: Workbook, cmp: Comparison) -> None:
    ws = book["Option costs"]
    items = [r[1].value for r in ws.iter_rows(min_row=5) if r[0].value]
    assert items == [c.item for costs in cmp.option_costs for c in costs]
    assert all(n for n in items)


def test_written_whole_or_not_at_all(
    cmp: Comparison, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "options.xlsx"
    write_workbook(cmp, path)
    write_workbook(cmp, path)  # a second run replaces the file
    before = path.read_bytes()

    def boom(self: Workbook, filename: str) -> None:
        Path(filename).write_bytes(b"half a workbook")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Workbook, "save", boom)
    with pytest.raises(RuntimeError):
        write_workbook(cmp, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["options.xlsx"]


# =========================================================================== unmet demand


def _unmet_rows(book: Workbook) -> dict[tuple[str, str, str], list[Cell]]:
    """(measure, option label, figure) -> that row's cells, one per period."""
    ws = book["Unmet demand"]
    rows = list(ws.iter_rows())
    start = next(i for i, r in enumerate(rows) if r[0].value == "Measure")
    assert [c.value for c in rows[start][1:3]] == ["Option", "Figure"]
    return {(r[0].value, r[1].value, r[2].value): list(r[3:]) for r in rows[start + 1 :]}


def test_unmet_demand_is_one_sheet_of_numbers(book: Workbook, cmp: Comparison) -> None:
    """Every measure of unmet demand as commissioners mean it on one sheet (not a sheet
    each), by year for each scenario, as numbers that are the comparison's own."""
    assert book.sheetnames.count("Unmet demand") == 1
    assert not set(book.sheetnames) & {c.label for c in COMMISSIONER_MEASURES}
    rows = _unmet_rows(book)
    assert {m for m, _, _ in rows} == {c.label for c in COMMISSIONER_MEASURES}
    header = [c.value for c in book["Unmet demand"][4]]
    assert header == ["Measure", "Option", "Figure", *cmp.periods]
    base = f"{cmp.names[0]} (baseline)"
    for c in COMMISSIONER_MEASURES:
        v = cmp.values[c.key]
        for i, who in enumerate([base, *cmp.names[1:]]):
            got = [cell.value for cell in rows[(c.label, who, "Median")]]
            np.testing.assert_allclose(got, np.median(v[i], axis=0))
            p95 = [cell.value for cell in rows[(c.label, who, "95%")]]
            np.testing.assert_allclose(p95, np.percentile(v[i], 95, axis=0))
        for i, name in enumerate(cmp.names[1:], start=1):
            diff = [cell.value for cell in rows[(c.label, name, "Median difference")]]
            np.testing.assert_allclose(diff, np.median(cmp.diff(c.key)[i], axis=0), atol=1e-9)
    for cells in rows.values():
        for cell in cells:
            assert isinstance(cell.value, (int, float)), (cell.coordinate, cell.value)
            assert cell.data_type == "n", cell.coordinate  # a number, never a formula


def test_unmet_demand_sheet_suppresses_small_counts(
    book: Workbook, suppressed_book: Workbook, cmp: Comparison
) -> None:
    plain, rows = _unmet_rows(book), _unmet_rows(suppressed_book)
    small = 0
    for (measure, who, figure), cells in plain.items():
        if figure not in ("Median", "5%", "95%"):
            continue
        if (measure, who, figure) not in rows:  # every level small: said once instead
            said = [k for k in rows if k[0] == measure]
            assert len(said) == 1 and "none is shown" in said[0][2], said
            assert all(c.value == 0 or 0 < c.value < K for c in cells)
            small += 1
            continue
        for before, after in zip(cells, rows[(measure, who, figure)], strict=True):
            if 0 < before.value < K:
                assert after.value == f"<{K}"
                small += 1
            else:
                assert after.value == before.value
    assert small, "the test needs small counts"
    hidden = dataclasses.replace(cmp, suppress_below=K)
    by_label = {c.label: c.key for c in COMMISSIONER_MEASURES}
    for (measure, name, figure), cells in rows.items():
        if figure != "Median difference":
            continue
        i = cmp.names.index(name)
        for j, cell in enumerate(cells):
            if hidden.hides_difference(i, by_label[measure], j):
                assert cell.value == f"suppressed (fewer than {K} children)"
                assert rows[(measure, name, "Difference: 5%")][j].value is None
            else:
                assert cell.value == plain[(measure, name, figure)][j].value


def test_notes_define_each_unmet_measure(book: Workbook) -> None:
    notes = {r[0].value: r[1].value for r in book["Notes"].iter_rows(max_col=2)}
    assert "Unmet demand as commissioners mean it (sheet 'Unmet demand')" in notes
    for c in COMMISSIONER_MEASURES:
        text = notes[c.label]
        assert c.definition in text and c.unlawful in text and f"--rank-by {c.key}" in text
