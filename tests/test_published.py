"""calibrate --published: a council's scenario from its DfE published figures.

The synthetic council (calibration/published/synthetic-council.csv) is about twice
Darlington's size, older, with more exits to special guardianship than the template, so
a scenario that ignored the table (the template alone: about 320 children in care, 100
entries and 105 exits a year) would miss every check below by far more than 5%.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from sim.runs.montecarlo import run
from sim.scenario.load import load

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "calibration" / "published" / "synthetic-council.csv"
HEADER = "year_ending,measure,breakdown,value,source\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("published") / "synthetic.toml"
    proc = cli("calibrate", "--published", str(SYNTHETIC), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, out.with_name("synthetic_calibration") / "published.md"


def _stated() -> dict[str, float]:
    out = {}
    for line in SYNTHETIC.read_text(encoding="utf-8").splitlines():
        parts = line.split(",")
        if line.startswith("2023-03-31") and parts[3].replace(".", "").isdigit():
            out[f"{parts[1]},{parts[2]}"] = float(parts[3])
    return out


def test_scenario_reproduces_the_stated_stock_entries_and_exits(built: tuple[Path, Path]) -> None:
    """The statistical test of issue 16: one simulated year of the written scenario gives the
    stated children in care, entries and exits within 5% (median of 80 replications).

    Tolerance: the fit stops within 1% on 40 replications of another seed; a year's exits
    (about 250) vary with a standard deviation near 16 between replications, so the median
    of 80 has a standard error near 1.25 x 16 / sqrt(80) = 2.2 (0.9%). 5% is more than three
    such errors on top of the fit's own; a route of 45 a year (SGO) has a relative error
    about 2.5 times larger, so routes are held to 12%.
    """
    out, _ = built
    stated = _stated()
    res = run(load(out), years=1, reps=80, seed=777, workers=1, progress=False)
    stock = np.median(res.by_year("in_care", "total", how="end")[:, 0])
    entries = np.median(res.by_year("entries", "all")[:, 0])
    exits = np.median(res.by_year("exits", "total")[:, 0])
    # the synthetic council's entries and exits balance (250 each), so its stock stays put
    assert abs(stock / stated["in_care,total"] - 1) < 0.05, stock
    assert abs(entries / stated["entries,total"] - 1) < 0.05, entries
    assert abs(exits / stated["exits,total"] - 1) < 0.05, exits
    sgo = np.median(
        res.by_year("exits", "sgo")[:, 0] + res.by_year("exits", "sgo_foster_carer")[:, 0]
    )
    home = np.median(res.by_year("exits", "return_home")[:, 0])
    assert abs(sgo / stated["exits,reason:sgo"] - 1) < 0.12, sgo
    assert abs(home / stated["exits,reason:return_home"] - 1) < 0.12, home
    # the starting population is the stated one, by placement type and (nearly) by age
    s = load(out).model
    pop = {p: sum(g.by_age.values()) for p, g in s.population.items()}
    assert sum(pop.values()) == stated["in_care,total"]
    assert pop["kinship"] == stated["in_care,placement:kinship"]
    assert pop["in_house_foster"] + pop["ifa"] == stated["in_care,placement:foster"]
    older = sum(g.by_age.get("16-17", 0) for g in s.population.values())
    assert abs(older - stated["in_care,age:16-17"]) <= 2


def test_report_lists_figures_sources_and_the_check(built: tuple[Path, Path]) -> None:
    _, report = built
    text = report.read_text(encoding="utf-8")
    assert "| 7 | in_care,total | 640 |" in text
    assert "invented: as DfE table D1" in text
    assert "## From the template" in text and "## Check" in text
    assert "raked (iterative proportional fitting)" in text


def test_a_suppressed_value_falls_back_to_the_template_and_the_report_says_so(
    built: tuple[Path, Path],
) -> None:
    out, report = built
    text = report.read_text(encoding="utf-8")
    # placed_for_adoption is "c" on line 18 and cao exits "x" on line 29 of the table
    assert "line 18: in_care,placement:placed_for_adoption = `c`" in text
    assert "placed_for_adoption: suppressed in the table (line 18: 'c')" in text
    assert "exit rates by cao: suppressed in the table (line 29: 'x')" in text
    # the placement the table left out still has children: what the stated ones leave of
    # the total (640 - 634 = 6), the template's only type with children among those not given
    s = load(out).model
    assert sum(s.population["placed_for_adoption"].by_age.values()) == 6


def test_every_number_in_the_written_scenario_is_tagged_with_its_origin(
    built: tuple[Path, Path],
) -> None:
    out, _ = built
    lines = out.read_text(encoding="utf-8").splitlines()
    tags = ("from the published table", "from the template")
    above: list[str] = []
    untagged = []
    in_list = ""
    table_note = ""  # a table whose keys are all one figure is tagged on its [header]
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped)
            continue
        if in_list:  # an element of a list written over several lines: the list's tag
            if stripped == "]":
                in_list = ""
            elif not any(t in line or t in in_list for t in tags):
                untagged.append(line)
            continue
        if stripped.startswith("["):
            table_note = " ".join([*above, line])
        elif "=" in line:
            code, _, comment = line.partition("   #")
            note = " ".join([*above, comment, table_note])
            value = code.split("=", 1)[1]
            if re.search(r"\d", value) and not any(t in note for t in tags):
                untagged.append(line)
            if value.strip() == "[":
                in_list = note
        above = []
    assert not untagged, untagged[:10]
    text = "\n".join(lines)
    assert "from the published table: 250 children started care" in text
    assert "from the template: [DS] foster care connected persons" in text  # its own source


def test_bad_rows_name_the_file_line_column_and_what_is_expected(tmp_path: Path) -> None:
    table = tmp_path / "bad.csv"
    table.write_text(
        "# a comment line\n"
        + HEADER
        + "2023-03-31,in_care,total,300,DfE A1\n"  # line 3
        + "2023-03-31,in_care,age:10-15,many,DfE A1\n"  # 4: not a number
        + "2023-03-31,in_care,age:16-17,-3,DfE A1\n"  # 5: negative
        + "2023-03-31,in_kare,total,3,DfE A1\n"  # 6: unknown measure
        + "2023-03-31,exits,reason:holiday,3,DfE D1\n"  # 7: unknown breakdown
        + "2023-03-31,stability,three_or_more_placements,140,DfE A5\n"  # 8: percent > 100
        + "2023-03-31,entries,total,12.5,DfE C1\n"  # 9: not whole
        + "2023-3-31,entries,age:1-4,4,DfE C1\n"  # 10: bad date
        + "2023-03-31,uasc,in_care,4,\n",  # 11: no source
        encoding="utf-8",
    )
    proc = cli("calibrate", "--published", str(table), "--out", str(tmp_path / "o.toml"))
    assert proc.returncode == 2
    err = proc.stderr
    assert "Traceback" not in err
    for line, column, expected in [
        (4, "value", "a whole number of children"),
        (5, "value", "0 or more"),
        (6, "measure", "one of in_care, entries"),
        (7, "breakdown", "reason:adoption"),
        (8, "value", "a percentage from 0 to 100"),
        (9, "value", "a count of children"),
        (10, "year_ending", "YYYY-MM-DD"),
        (11, "source", "the document, table and page"),
    ]:
        hit = [ln for ln in err.splitlines() if f"bad.csv:{line}:" in ln]
        assert hit, (line, err)
        assert f"column {column}" in hit[0] and expected in hit[0], hit[0]
    assert not (tmp_path / "o.toml").exists()


def test_parts_over_the_total_and_a_missing_total_are_refused(tmp_path: Path) -> None:
    table = tmp_path / "parts.csv"
    table.write_text(
        HEADER
        + "2023-03-31,in_care,total,100,DfE A1\n"
        + "2023-03-31,in_care,placement:kinship,60,DfE A1\n"
        + "2023-03-31,in_care,placement:foster,50,DfE A1\n"
        + "2023-03-31,exits,total,40,DfE D1\n"
        + "2023-03-31,exits,reason:sgo,45,DfE D1\n",
        encoding="utf-8",
    )
    proc = cli("calibrate", "--published", str(table), "--out", str(tmp_path / "o.toml"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "parts.csv:2:" in proc.stderr and "(lines 3, 4) add up to 110" in proc.stderr
    assert "parts.csv:5:" in proc.stderr and "more than exits,total = 40" in proc.stderr
    nototal = tmp_path / "nototal.csv"
    nototal.write_text(
        HEADER + "2023-03-31,in_care,total,c,DfE A1\n2023-03-31,entries,total,40,DfE C1\n",
        encoding="utf-8",
    )
    proc = cli("calibrate", "--published", str(nototal), "--out", str(tmp_path / "o.toml"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nototal.csv: no year gives in_care,total" in proc.stderr


def test_calibrate_needs_data_or_published_and_never_overwrites_a_users_file(
    tmp_path: Path,
) -> None:
    proc = cli("calibrate", "--out", str(tmp_path / "o.toml"))
    assert proc.returncode == 2 and "--published FILE.csv" in proc.stderr
    mine = tmp_path / "mine.toml"
    mine.write_text("# my own scenario\n", encoding="utf-8")
    proc = cli("calibrate", "--published", str(SYNTHETIC), "--out", str(mine), "--force")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert mine.read_text(encoding="utf-8") == "# my own scenario\n"
