"""Reading an SSDA903 extract: stitching, checks, placements and periods of care.

Every table here is written by hand (or by `synthetic_la`, which knows the true history
it writes), so the expected answer of each test can be checked by eye. No real child's
data is used anywhere.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import MINIMAL, cli

from sim.calibration.ssda903 import DataError, Dataset, periods, placements, read_903
from sim.common.errors import UserError
from sim.scenario.load import load

EP_COLS = [
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
]

# identifiers, birth dates and postcodes that must never appear in a message
KIDS = {
    "A": ("C90817", "14/05/2010", "2010-05-14"),
    "B": ("800123", "01/01/2015", "2015-01-01"),
    "C": ("ZK4471", "29/02/2008", "2008-02-29"),
}
POSTCODES = ["DL1 5QT", "TS3 8AB", "DL3 6AB"]
A, B, C = (KIDS[k][0] for k in "ABC")


def write(folder: Path, name: str, columns: list[str], rows: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    lines = [",".join(columns)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ep(
    child: str,
    decom: str,
    rne: str,
    place: str,
    dec: str = "",
    rec: str = "",
    *,
    rpc: str = "",
    ls: str = "C2",
    cin: str = "N1",
    prov: str = "PR1",
    home: str = "DL1 5QT",
    post: str = "TS3 8AB",
    urn: str = "",
) -> list[str]:
    return [child, decom, rne, ls, cin, place, prov, dec, rec, rpc, home, post, urn]


def header(
    folder: Path,
    name: str = "header_2023.csv",
    iso: bool = False,
    columns: tuple[str, str, str] = ("CHILD", "SEX", "DOB"),
) -> None:
    rows = [[cid, "1", iso_dob if iso else uk_dob] for cid, uk_dob, iso_dob in KIDS.values()]
    write(folder, name, list(columns), rows)


def one_file(tmp_path: Path, rows: list[list[str]], name: str = "episodes_2023.csv") -> Dataset:
    header(tmp_path)
    write(tmp_path, name, EP_COLS, rows)
    return read_903(tmp_path)


def rows(df: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """The columns as text, dates as yyyy-mm-dd and open dates as 'NaT', for comparing."""
    out = df[columns].copy()
    for c in columns:
        if out[c].dtype.kind == "M":
            out[c] = out[c].dt.strftime("%Y-%m-%d").fillna("NaT")
    return out.astype(str).values.tolist()


def assert_no_personal_data(ds: Dataset) -> None:
    texts = [p.message for p in ds.problems] + [str(p) for p in ds.problems]
    texts.append(ds.summary(limit=10_000))
    forbidden = [v for triple in KIDS.values() for v in triple]
    forbidden += POSTCODES + [p.replace(" ", "") for p in POSTCODES]
    for text in texts:
        for value in forbidden:
            assert value not in text, (value, text)


# ----------------------------------------------------------------------------- stitching


def test_years_are_stitched_and_an_open_episode_takes_its_end_from_the_later_file(
    tmp_path: Path,
) -> None:
    # 2021-22: dd/mm/yyyy, odd column spellings; 2022-23: ISO dates, another file naming
    header(tmp_path, "header_2022.csv", columns=("child", " Sex ", "Dob"))
    header(tmp_path, "SSDA903_2023_header.csv", iso=True)
    odd = [" decom " if c == "DECOM" else c.lower().replace("_", " ") for c in EP_COLS]
    write(
        tmp_path,
        "episodes_2021-22.csv",
        odd,
        [
            ep(A, "01/06/2021", "S", "U6", "10/09/2021", "X1", rpc="CARPL"),
            ep(A, "10/09/2021", "P", "U4", prov="PR4"),  # open at 31 March 2022
            ep(B, "5/5/2021", "S", "U3"),  # open; no zero padding
        ],
    )
    write(
        tmp_path,
        "Episodes 2023.csv",
        EP_COLS,
        [
            ep(A, "2021-09-10", "P", "U4", "2022-05-01", "X1", prov="PR4"),  # now closed
            ep(A, "2022-05-01", "L", "U4", ls="C1", prov="PR4"),
            ep(B, "2021-05-05", "S", "U3", "2022-07-01", "E4A"),
        ],
    )
    ds = read_903(tmp_path)

    assert ds.problems == []
    assert ds.files == [
        "Episodes 2023.csv",
        "episodes_2021-22.csv",
        "header_2022.csv",
        "SSDA903_2023_header.csv",
    ]
    assert list(ds.episodes.columns) == [
        "CHILD",
        "DECOM",
        "DEC",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    ]
    got = rows(ds.episodes, ["CHILD", "DECOM", "DEC", "RNE", "REC"])
    assert got == [  # sorted by CHILD as text: "800123" < "C90817"
        [B, "2021-05-05", "2022-07-01", "S", "E4A"],
        [A, "2021-06-01", "2021-09-10", "S", "X1"],
        [A, "2021-09-10", "2022-05-01", "P", "X1"],
        [A, "2022-05-01", "NaT", "L", ""],
    ]
    assert ds.skipped == {
        "Header: child repeated in another year's Header (latest kept)": 3,
        "Episodes: same child and start date as another row (the copy in the latest file "
        "is used, a closed copy before an open one)": 2,
    }
    assert len(ds.header) == 3 and ds.header["DOB"].dtype.kind == "M"
    assert ds.collection_end == pd.Timestamp("2023-03-31")


def test_one_multi_year_episodes_file(tmp_path: Path) -> None:
    header(tmp_path)
    write(
        tmp_path,
        "episodes_all_years.csv",
        EP_COLS,
        [
            ep(A, "01/06/2021", "S", "U6"),  # as in the 2021-22 return: open
            ep(A, "01/06/2021", "S", "U6", "01/02/2023", "E8"),  # as in the 2022-23 return
            ep(B, "01/06/2022", "S", "U6"),
        ],
    )
    ds = read_903(tmp_path)
    assert ds.problems == []
    assert rows(ds.episodes, ["CHILD", "DEC", "REC"]) == [[B, "NaT", ""], [A, "2023-02-01", "E8"]]


def test_open_episode_never_closed_in_a_later_file_ends_with_its_year(tmp_path: Path) -> None:
    header(tmp_path)
    write(
        tmp_path,
        "episodes_2022.csv",
        EP_COLS,
        [ep(A, "01/06/2021", "S", "U6"), ep(B, "01/06/2021", "S", "U6")],
    )
    write(tmp_path, "episodes_2023.csv", EP_COLS, [ep(B, "01/06/2021", "S", "U6")])
    ds = read_903(tmp_path)
    a = ds.episodes[ds.episodes["CHILD"] == A].iloc[0]
    assert (a["DEC"], a["REC"]) == (pd.Timestamp("2022-03-31"), "E99")
    [p] = ds.problems
    assert (p.file, p.row, p.column) == ("episodes_2022.csv", 2, "DEC")
    assert "no later Episodes file" in p.message


def test_a_year_file_with_no_dates_in_its_last_months_still_gets_its_named_year(
    tmp_path: Path,
) -> None:
    # the 2023 file holds only an episode from 2021: its year comes from the name
    header(tmp_path)
    write(tmp_path, "episodes_2022.csv", EP_COLS, [ep(A, "01/06/2021", "S", "U6")])
    write(tmp_path, "episodes_2023.csv", EP_COLS, [ep(A, "01/06/2021", "S", "U6")])
    ds = read_903(tmp_path)
    assert ds.problems == [] and ds.episodes["DEC"].isna().all()


# Three collection years. In the 2021-22 file, A's episode ends on 1 April 2022: it was
# open on 31 March 2022, so it is in that year's return, and an extract taken after the
# year end can hold its DEC. C is open at the end of 2021-22 and in no later file.
YEAR_ROWS = {
    2021: [ep(A, "01/06/2020", "S", "U6"), ep(B, "01/05/2020", "S", "U6")],
    2022: [
        ep(A, "01/06/2020", "S", "U6", "01/04/2022", "E8"),
        ep(B, "01/05/2020", "S", "U6"),
        ep(C, "01/09/2021", "S", "U6"),
    ],
    2023: [
        ep(A, "01/06/2020", "S", "U6", "01/04/2022", "E8"),
        ep(B, "01/05/2020", "S", "U6", "01/02/2023", "E8"),
    ],
}


@pytest.mark.parametrize("naming", ["named", "unnamed", "YEAR column"])
def test_a_dec_on_1_april_does_not_move_its_file_into_the_next_year(
    tmp_path: Path, naming: str
) -> None:
    header(tmp_path)
    if naming == "YEAR column":
        rows_ = [[*r, str(y)] for y, rs in YEAR_ROWS.items() for r in rs]
        write(tmp_path, "episodes_all_years.csv", [*EP_COLS, "YEAR"], rows_)
    else:
        for i, (y, rs) in enumerate(YEAR_ROWS.items()):
            name = (
                f"episodes_{y - 1}-{str(y)[2:]}.csv"
                if naming == "named"
                else f"ep{'abc'[i]}_episodes.csv"
            )
            write(tmp_path, name, EP_COLS, rs)
    ds = read_903(tmp_path)

    assert not [
        p for p in ds.problems if "collection year" in p.message and "no Episodes" in p.message
    ]
    assert ds.collection_end == pd.Timestamp("2023-03-31")
    # C's episode is closed at the end of 2021-22, the year of its file, not a year later
    got = rows(ds.episodes, ["CHILD", "DECOM", "DEC", "REC"])
    assert got == [
        [B, "2020-05-01", "2023-02-01", "E8"],
        [A, "2020-06-01", "2022-04-01", "E8"],
        [C, "2021-09-01", "2022-03-31", "E99"],
    ]
    [p] = ds.problems
    assert p.column == "DEC" and "no later Episodes file" in p.message


def test_one_mistyped_start_date_does_not_move_a_file_without_a_year_in_its_name(
    tmp_path: Path,
) -> None:
    header(tmp_path)
    write(tmp_path, "epa_episodes.csv", EP_COLS, YEAR_ROWS[2021])
    write(
        tmp_path,
        "epb_episodes.csv",
        EP_COLS,
        [
            ep(B, "01/05/2020", "S", "U6", "01/02/2022", "E8"),
            ep(C, "01/09/2021", "S", "U6", "01/12/2021", "X1"),
            ep(C, "01/12/2031", "P", "U4"),  # 2031 for 2021
        ],
    )
    ds = read_903(tmp_path)
    assert ds.collection_end == pd.Timestamp("2022-03-31")
    late = [p for p in ds.problems if p.column == "DECOM"]
    assert [(p.file, p.row) for p in late] == [("epb_episodes.csv", 4)]
    assert "after the end of the file's collection year (31/03/2022)" in late[0].message
    assert not [p for p in ds.problems if "no Episodes data" in p.message]


# ----------------------------------------------------------------------------- bad rows

GOOD = ep(A, "01/06/2022", "S", "U6")

# (what the bad row says, column of the problem, words in the message, row skipped?)
BAD_ROWS = [
    (ep(B, "01/06/2022", "S", "ZZ9"), "PLACE", "unknown PLACE code 'ZZ9'", True),
    (ep(B, "01/06/2022", "Q", "U6"), "RNE", "unknown RNE code 'Q'", True),
    (ep(B, "01/06/2022", "S", "U6", "01/07/2022", "E77"), "REC", "unknown REC code", True),
    (ep(B, "01/06/2022", "S", "U6", ls="ZZ"), "LS", "unknown LS code", False),
    (ep(B, "01/06/2022", "S", "U6", cin="N9"), "CIN", "unknown CIN code 'N9'", False),
    (
        ep(B, "01/06/2022", "S", "U6", "01/07/2022", "E8", rpc="WHIM"),
        "REASON_PLACE_CHANGE",
        "unknown REASON_PLACE_CHANGE code",
        False,
    ),
    (ep(B, "06/13/2022", "S", "U6"), "DECOM", "not a date", True),  # month-first
    (ep(B, "01/06/2022", "S", "U6", "2022/07/01", "E8"), "DEC", "not a date", True),
    (
        ep(B, "01/06/222", "S", "U6"),
        "DECOM",
        "not a date",
        True,
    ),  # three-digit year (dd/mm/yy is read: the public fake data write it)
    (ep(B, "01/06/2022", "S", "U6", "01/05/2022", "E8"), "DEC", "ends before it starts", True),
    (ep(B, "01/06/2022", "S", "U6", "01/07/2022", ""), "REC", "REC is blank", True),
    # an open episode carrying a REC (real exports do this): still open, REC ignored
    (ep(B, "01/06/2022", "S", "U6", "", "E8"), "REC", "REC is given but DEC is blank", False),
    (ep("", "01/06/2022", "S", "U6"), "CHILD", "CHILD is blank", True),
    (ep(B, "", "S", "U6"), "DECOM", "DECOM is blank", True),
    (ep(B, "01/06/2022", "", "U6"), "RNE", "RNE is blank", True),
    (ep(B, "01/06/2022", "S", ""), "PLACE", "PLACE is blank", True),
    (ep("NOBODY1", "01/06/2022", "S", "U6"), "CHILD", "no row in any Header", True),
    (ep(B, "01/06/2014", "S", "U6"), "DECOM", "before the child's date of birth", True),
]


@pytest.mark.parametrize(
    ("bad", "column", "words", "skipped"),
    BAD_ROWS,
    ids=[f"{c}-{w[:20]}" for _, c, w, _ in BAD_ROWS],
)
def test_each_bad_row_gives_a_problem_with_file_row_and_column(
    tmp_path: Path,
    bad: list[str],
    column: str,
    words: str,
    skipped: bool,
) -> None:
    ds = one_file(
        tmp_path, [GOOD, bad, ep(C, "01/06/2022", "S", "U6")], name="SSDA903_2023_episodes.csv"
    )
    [p] = ds.problems
    assert (p.file, p.row, p.column) == ("SSDA903_2023_episodes.csv", 3, column)
    assert words in p.message
    assert "expected" in p.message
    assert ("row skipped" in p.message) == skipped
    kept = set(ds.episodes["CHILD"])
    assert {A, C} <= kept
    assert (bad[0] in kept) == (not skipped and bad[0] != "")
    assert (sum(ds.skipped.values()) == 1) == skipped
    if not skipped:  # the bad value is blanked, not kept
        assert (ds.episodes.loc[ds.episodes["CHILD"] == B, column] == "").all()
    assert_no_personal_data(ds)


def test_row_numbers_count_blank_lines_as_a_spreadsheet_does(tmp_path: Path) -> None:
    header(tmp_path)
    path = write(tmp_path, "episodes_2023.csv", EP_COLS, [GOOD])
    path.write_text(path.read_text() + "\n" + ",".join(ep(B, "01/06/2022", "S", "K9")) + "\n")
    [p] = read_903(tmp_path).problems
    assert (p.row, p.column) == (4, "PLACE")


def test_short_breaks_are_left_out_without_a_problem(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [GOOD, ep(B, "01/06/2022", "S", "U6", ls="V3"), ep(C, "01/06/2022", "S", "U6", ls="V4")],
    )
    assert ds.problems == [] and list(ds.episodes["CHILD"]) == [A]
    assert ds.skipped == {"Episodes: short breaks (LS V3/V4), left out as in DfE statistics": 2}


def test_retired_and_new_codes_are_kept_with_one_note_per_file(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/06/2015", "S", "Q2", "01/07/2015", "X1", rpc="CARPL"),
            ep(A, "01/07/2015", "P", "Q2", "01/08/2015", "E43"),
            ep(B, "01/06/2022", "S", "K3"),
            ep(C, "01/06/2022", "S", "Z12", prov=""),
        ],
    )
    assert len(ds.episodes) == 4 and ds.skipped == {}
    notes = {(p.row, p.column): p.message for p in ds.problems}
    assert set(notes) == {(2, "PLACE"), (3, "REC")}
    assert "'Q2' in 2 rows" in notes[(2, "PLACE")] and "U4-U6" in notes[(2, "PLACE")]


def test_open_episodes_with_a_stray_rec_stay_open_with_one_note_per_file(
    tmp_path: Path,
) -> None:
    """Real exports (and the public fake data) give open episodes a REC; DfE's validator
    flags it, but the child is still in care. Dropping those rows once read a council's
    1,090 children in care as 11 (issue 14)."""
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/06/2022", "S", "U4", "", "E11"),
            ep(B, "01/06/2022", "S", "U6", "", "X1"),
            ep(C, "01/06/2022", "S", "U6", "01/07/2022", "E8"),
        ],
    )
    assert ds.skipped == {}
    by_child = ds.episodes.set_index("CHILD")
    assert pd.isna(by_child.loc[A, "DEC"]) and by_child.loc[A, "REC"] == ""
    assert pd.isna(by_child.loc[B, "DEC"]) and by_child.loc[B, "REC"] == ""
    assert by_child.loc[C, "REC"] == "E8"  # a closed episode keeps its reason
    [note] = ds.problems
    assert (note.row, note.column) == (2, "REC") and "in 2 rows" in note.message
    assert "rows kept" in note.message
    open_now = periods(ds)
    assert set(open_now.loc[open_now["end"].isna(), "CHILD"]) == {A, B}
    assert_no_personal_data(ds)


def test_overlapping_episodes_keep_the_earlier_one(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/01/2020", "S", "U6", "01/06/2020", "X1", rpc="CARPL"),
            ep(A, "01/03/2020", "P", "U4", "01/04/2020", "X1"),  # inside the first: dropped
            ep(A, "01/05/2020", "P", "K2", "01/09/2020", "E8"),  # runs on: starts 01/06/2020
        ],
    )
    got = rows(ds.episodes, ["DECOM", "DEC", "PLACE"])
    assert got == [["2020-01-01", "2020-06-01", "U6"], ["2020-06-01", "2020-09-01", "K2"]]
    by_row = {p.row: p for p in ds.problems}
    assert set(by_row) == {3, 4}
    assert "within the dates of the child's earlier episode" in by_row[3].message
    assert "taken to start when it ends" in by_row[4].message
    assert "(episodes_2023.csv, row 2)" in by_row[3].message  # the episode it lies in
    assert "(episodes_2023.csv, row 2)" in by_row[4].message
    assert ds.skipped == {"Episodes: overlaps an earlier episode of the same child": 1}


def test_a_later_file_is_trusted_over_an_earlier_one(tmp_path: Path) -> None:
    header(tmp_path)
    write(
        tmp_path,
        "episodes_2022.csv",
        EP_COLS,
        [
            ep(A, "01/01/2021", "S", "U6", "01/03/2022", "X1", rpc="CARPL"),
            ep(A, "01/03/2022", "P", "K2"),  # open at 31 March 2022 ...
        ],
    )
    write(
        tmp_path,
        "episodes_2023.csv",
        EP_COLS,
        [
            ep(A, "01/02/2022", "P", "K2"),  # ... but the 2023 return says the move was earlier
        ],
    )
    ds = read_903(tmp_path)
    got = rows(ds.episodes, ["DECOM", "DEC", "PLACE"])
    assert got == [["2021-01-01", "2022-02-01", "U6"], ["2022-02-01", "NaT", "K2"]]
    assert [(p.file, p.row, p.column) for p in ds.problems] == [
        ("episodes_2022.csv", 2, "DEC"),
        ("episodes_2022.csv", 3, "DECOM"),
    ]
    assert "comes from a later file (episodes_2023.csv, row 2)" in ds.problems[0].message
    assert "later file's copy is used" in ds.problems[1].message


def test_x1_with_nothing_after_it_becomes_an_exit_of_unknown_reason(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/01/2021", "S", "U6", "01/02/2022", "X1", rpc="CARPL"),
            ep(A, "01/02/2022", "P", "ZZ9"),
        ],
    )  # skipped
    assert ds.episodes["REC"].tolist() == ["E99"]
    assert [(p.row, p.column) for p in ds.problems] == [(2, "REC"), (3, "PLACE")]


def test_a_code_value_is_not_echoed_when_it_could_be_a_postcode_or_identifier(
    tmp_path: Path,
) -> None:
    ds = one_file(
        tmp_path,
        [
            GOOD,
            ep(B, "01/06/2022", "S", "DL1"),  # postcode district
            ep(C, "01/06/2022", "S", "U6", ls=A),
        ],
    )  # a child's id
    assert len(ds.problems) == 2
    assert all("code (expected" in p.message for p in ds.problems)
    assert_no_personal_data(ds)


def test_summary_caps_the_list_and_counts_skips(tmp_path: Path) -> None:
    rows = [GOOD] + [ep(B, f"{d:02d}/06/2022", "S", "ZZ9") for d in range(1, 26)]
    ds = one_file(tmp_path, rows)
    text = ds.summary(limit=5)
    assert "25 problems found" in text and "... and 20 more" in text
    assert text.count("unknown PLACE code") == 5
    assert "25  Episodes: unknown RNE, PLACE or REC code" in text
    assert_no_personal_data(ds)


def test_messages_never_contain_identifiers_birth_dates_or_postcodes(tmp_path: Path) -> None:
    # every kind of problem at once, with postcodes and identifiers all over the rows
    header(tmp_path, "header_2022.csv")
    write(
        tmp_path,
        "header_2023.csv",
        ["CHILD", "SEX", "DOB"],
        [[A, "X", "14/05/2011"], [B, "2", "1 Jan 2015"], [C, "1", ""]],
    )
    write(
        tmp_path,
        "episodes_2023.csv",
        EP_COLS,
        [row for row, *_ in BAD_ROWS]
        + [
            ep(A, "01/01/2020", "S", "U6", "01/06/2020", "X1", rpc="CARPL"),
            ep(A, "01/03/2020", "P", "U4", "01/04/2020", "X1"),
            ep(A, "01/05/2020", "P", "K2", "01/09/2020", "X1"),
            ep(C, "01/05/2020", "S", "K2", "01/09/2020", "X1"),
            ep(C, "01/10/2020", "S", "K2"),
        ],
    )
    write(tmp_path, "uasc_2023.csv", ["CHILD", "DUC"], [[B, "31/31/2031"]])
    ds = read_903(tmp_path)
    assert len(ds.problems) >= len(BAD_ROWS)
    assert_no_personal_data(ds)


# ----------------------------------------------------------------------------- unusable input


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder not found"):
        read_903(tmp_path / "nowhere")


def test_no_episodes_file(tmp_path: Path) -> None:
    header(tmp_path)
    write(tmp_path, "reviews_2023.csv", ["CHILD"], [])
    with pytest.raises(DataError, match=r"no Episodes file; CSV files found: .*reviews_2023\.csv"):
        read_903(tmp_path)


def test_no_header_file(tmp_path: Path) -> None:
    write(tmp_path, "episodes_2023.csv", EP_COLS, [GOOD])
    with pytest.raises(DataError, match="no Header file"):
        read_903(tmp_path)


def test_missing_decom_column(tmp_path: Path) -> None:
    header(tmp_path)
    cols = [c for c in EP_COLS if c != "DECOM"]
    write(tmp_path, "episodes_2023.csv", cols, [GOOD[:1] + GOOD[2:]])
    with pytest.raises(DataError) as err:
        read_903(tmp_path)
    text = str(err.value)
    assert text.startswith("episodes_2023.csv: required column DECOM not found")
    assert isinstance(err.value, UserError)


def test_an_excel_workbook_named_csv(tmp_path: Path) -> None:
    header(tmp_path)
    (tmp_path / "episodes_2023.csv").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DataError, match=r"episodes_2023\.csv: this is an Excel workbook"):
        read_903(tmp_path)


def test_latin1_file_is_read(tmp_path: Path) -> None:
    header(tmp_path)
    text = ",".join(EP_COLS) + "\n" + ",".join(ep(A, "01/06/2022", "S", "U6", urn="SC£1"))
    (tmp_path / "episodes_2023.csv").write_bytes(text.encode("latin-1"))
    assert read_903(tmp_path).episodes["URN"].tolist() == ["SC£1"]


def test_a_ragged_line_is_named(tmp_path: Path) -> None:
    header(tmp_path)
    path = write(tmp_path, "episodes_2023.csv", EP_COLS, [GOOD, [*GOOD, "x", "y"]])
    with pytest.raises(DataError, match="line 3 has 15 fields but the header line has 13"):
        read_903(path.parent)


def test_semicolons_byte_order_mark_and_trailing_commas_are_read(tmp_path: Path) -> None:
    header(tmp_path)
    text = "\ufeff" + ";".join(EP_COLS) + ";\r\n" + ";".join(GOOD) + ";\r\n"
    (tmp_path / "episodes_2023.csv").write_text(text, encoding="utf-8")
    ds = read_903(tmp_path)
    assert ds.problems == [] and ds.episodes["PLACE"].tolist() == ["U6"]


# ----------------------------------------------------------------------------- several LAs

LA1, LA2 = "E06000005", "E06000047"


def two_las(folder: Path, clash: bool = False) -> None:
    """A and B under LA1, C under LA2 (and, with `clash`, another child A under LA2)."""
    (a, a_dob, _), (b, b_dob, _), (c, c_dob, _) = KIDS.values()
    people = [[LA1, a, "1", a_dob], [LA1, b, "2", b_dob], [LA2.lower(), c, "1", c_dob]]
    episodes = [
        [LA1, *ep(a, "01/06/2022", "S", "U6")],
        [LA1, *ep(b, "01/07/2022", "S", "K2", "01/09/2022", "E8")],
        [f" {LA2.lower()} ", *ep(c, "01/08/2022", "S", "U4")],
    ]
    if clash:
        people.append([LA2, a, "2", "03/03/2012"])
        episodes.append([LA2, *ep(a, "01/05/2022", "S", "P1", prov="PR0")])
    write(folder, "header_2023.csv", ["LA", "CHILD", "SEX", "DOB"], people)
    write(folder, "episodes_2023.csv", ["LA", *EP_COLS], episodes)
    write(folder, "uasc_2023.csv", ["LA", "CHILD", "DUC"], [[LA2, c, "28/02/2026"]])


def test_la_reads_only_that_las_rows(tmp_path: Path) -> None:
    two_las(tmp_path, clash=True)
    ds = read_903(tmp_path, la=f" {LA2.lower()}")  # case and spaces do not matter
    assert ds.problems == []
    assert ds.header["CHILD"].tolist() == [A, C]
    assert ds.header.set_index("CHILD").loc[A, "SEX"] == "2"  # LA2's child A, not LA1's
    assert rows(ds.episodes, ["CHILD", "DECOM", "PLACE"]) == [
        [A, "2022-05-01", "P1"],
        [C, "2022-08-01", "U4"],
    ]
    assert ds.uasc["CHILD"].tolist() == [C]
    one = read_903(tmp_path, la=LA1)
    assert one.header["CHILD"].tolist() == [B, A] and one.uasc.empty
    assert sorted(one.episodes["PLACE"]) == ["K2", "U6"]


def test_an_la_not_in_the_data_is_refused_with_the_codes_there(tmp_path: Path) -> None:
    two_las(tmp_path)
    with pytest.raises(DataError) as err:
        read_903(tmp_path, la="E06000099")
    text = str(err.value)
    assert "E06000099" in text and f"{LA1}, {LA2}" in text
    header(tmp_path / "plain")
    write(tmp_path / "plain", "episodes_2023.csv", EP_COLS, [GOOD])
    with pytest.raises(DataError, match="no file has an LA column"):
        read_903(tmp_path / "plain", la=LA1)


def test_several_las_with_distinct_children_are_pooled_with_a_note(tmp_path: Path) -> None:
    two_las(tmp_path)
    ds = read_903(tmp_path)
    assert ds.header["CHILD"].tolist() == [B, A, C] and len(ds.episodes) == 3
    [note] = ds.problems
    assert note.column == "LA" and note.file == "(data folder)"
    assert "2 local authorities" in note.message and "pooled" in note.message
    assert f"{LA1}, {LA2}" in note.message
    assert_no_personal_data(ds)


def test_several_las_sharing_a_child_identifier_are_refused(tmp_path: Path) -> None:
    two_las(tmp_path, clash=True)
    with pytest.raises(DataError) as err:
        read_903(tmp_path)
    text = str(err.value)
    assert isinstance(err.value, UserError)
    assert f"{LA1}, {LA2}" in text and "1 CHILD identifier appears" in text
    assert "--la CODE" in text
    for value in (A, B, C, *POSTCODES):
        assert value not in text


def test_calibrate_command_with_la(tmp_path: Path) -> None:
    # a synthetic LA written twice into the same files, under two LA codes: every child
    # identifier clashes, so only --la can read it
    data = tmp_path / "data"
    proc = cli(
        "synth903", str(MINIMAL), "--years", "4", "--start", "2016-04-01", "--out", str(data)
    )
    assert proc.returncode == 0, proc.stderr
    for path in data.glob("*.csv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        body = [line for line in lines[1:] if line.strip()]
        path.write_text(
            "\n".join(
                ["LA," + lines[0]]
                + [f"{LA1},{line}" for line in body]
                + [f"{LA2},{line}" for line in body]
            )
            + "\n",
            encoding="utf-8",
        )
    out = tmp_path / "la.toml"
    args = ["calibrate", str(data), "--at", "2020-03-31", "--out", str(out)]
    proc = cli(*args, "--template", str(MINIMAL))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--la CODE" in proc.stderr and LA2 in proc.stderr
    assert not out.exists()
    proc = cli(*args, "--template", str(MINIMAL), "--la", LA2.lower())
    assert proc.returncode == 0, proc.stderr
    assert load(out).model.provision
    proc = cli(*args, "--force", "--la", "E09")
    assert proc.returncode == 2 and f"{LA1}, {LA2}" in proc.stderr


# ----------------------------------------------------------------------------- placements


def test_placements_follow_carers_not_episodes(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/01/2020", "S", "U6", "01/02/2020", "X1", ls="V2"),
            ep(A, "01/02/2020", "L", "U6", "01/03/2020", "X1", ls="C1"),  # legal status only
            ep(A, "01/03/2020", "T", "U4", "01/04/2020", "X1", rpc="CARPL", ls="C1"),  # relabel
            ep(A, "01/04/2020", "U", "A5", "01/05/2020", "X1", rpc="CREQB", ls="E1"),
            ep(A, "01/05/2020", "P", "K2", "10/06/2020", "X1", prov="PR4", post="DL3 6AB"),
            ep(A, "10/06/2020", "P", "T1", "14/06/2020", "X1", prov="", post=""),  # hospital
            ep(
                A,
                "14/06/2020",
                "P",
                "K2",
                "01/08/2020",
                "X1",
                prov="PR4",
                post="DL3 6AB",
                rpc="ALLEG",
            ),
            ep(A, "01/08/2020", "B", "U6", "01/09/2020", "E4A", ls="V2"),
        ],
    )
    assert ds.problems == []
    pl = placements(ds)
    got = rows(
        pl, ["period", "placement", "start", "end", "PLACE", "ended_by", "reason", "RNE_next"]
    )
    assert got == [
        ["1", "1", "2020-01-01", "2020-05-01", "A5", "move", "CREQB", "P"],
        ["1", "2", "2020-05-01", "2020-08-01", "K2", "move", "ALLEG", "B"],
        ["1", "3", "2020-08-01", "2020-09-01", "U6", "exit", "E4A", ""],
    ]
    # the placements tile the period: bed-days are conserved
    assert (pl["end"] - pl["start"]).sum() == pd.Timedelta(
        days=(date(2020, 9, 1) - date(2020, 1, 1)).days
    )


def test_a_temporary_stay_then_a_different_carer_is_a_move(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/01/2020", "S", "U6", "10/02/2020", "X1"),
            ep(A, "10/02/2020", "P", "T4", "14/02/2020", "X1", prov=""),
            ep(A, "14/02/2020", "P", "U4", prov="PR4", post="DL3 6AB"),
        ],
    )
    pl = placements(ds)
    assert rows(pl, ["start"]) == [["2020-01-01"], ["2020-02-14"]]
    assert pl["ended_by"].tolist() == ["move", ""]
    assert pl["end"].isna().tolist() == [False, True]


def test_status_only_change_with_new_carer_code_is_not_a_move(tmp_path: Path) -> None:
    ds = one_file(
        tmp_path,
        [
            ep(A, "01/01/2020", "S", "U6", "01/03/2020", "X1", rpc="PLACE"),
            ep(A, "01/03/2020", "P", "U4"),
        ],
    )
    assert placements(ds)["PLACE"].tolist() == ["U4"]


# ----------------------------------------------------------------------------- periods


def test_periods_reentry_open_end_age_and_uasc(tmp_path: Path) -> None:
    header(tmp_path)
    write(
        tmp_path,
        "episodes_2023.csv",
        EP_COLS,
        [
            ep(A, "14/05/2016", "S", "U6", "01/02/2017", "E4A"),  # A is 6.0 at entry
            ep(A, "01/03/2018", "S", "K2", "01/04/2018", "X1", prov="PR4"),
            ep(A, "01/04/2018", "P", "U4"),
            ep(C, "01/05/2020", "S", "K2", "01/06/2021", "E8"),
        ],
    )
    write(tmp_path, "UASC 2023.csv", ["CHILD", "DUC"], [[C, "28/02/2026"], [A, "01/01/2017"]])
    pe = periods(read_903(tmp_path))
    assert rows(pe, ["CHILD", "period", "start", "end", "REC", "first_PLACE"]) == [
        [A, "1", "2016-05-14", "2017-02-01", "E4A", "U6"],
        [A, "2", "2018-03-01", "NaT", "", "K2"],
        [C, "1", "2020-05-01", "2021-06-01", "E8", "K2"],
    ]
    assert pe["age_at_start"].iloc[0] == pytest.approx(6.0, abs=0.01)
    assert pe["age_at_start"].iloc[2] == pytest.approx(12.17, abs=0.01)
    # A's UASC status ended before the second period started; C is UASC
    assert pe["uasc"].tolist() == [True, False, True]
    assert pe["start_observed"].all()


# ----------------------------------------------------------------------------- a whole LA


def synthetic_la(
    folder: Path, n_children: int, seed: int = 7, first: int = 2015, last: int = 2024
) -> pd.DataFrame:
    """Write one Header and one Episodes file per year; return the true episode history.

    Children enter care from three years before the first collection year; each period is
    a chain of episodes (legal status changes, re-labels, moves, temporary stays) that
    ends with an exit or is still open at the end. A year's file holds the episodes live
    in that year, with DEC and REC blank where the episode ran past 31 March.
    """
    rng = random.Random(seed)
    t0, t_end = date(first - 4, 4, 1), date(last, 3, 31)
    truth: list[dict] = []  # one dict per episode; NEW = a new carer (a placement starts)
    dobs = {}
    for i in range(n_children):
        cid = f"L{seed}{i:06d}"
        t = t0 + timedelta(days=rng.randrange((t_end - t0).days))
        dobs[cid] = t - timedelta(days=rng.randrange(0, 17 * 365))
        period = 0
        while t <= t_end:
            period += 1
            place, rne, new, home = rng.choice(["U4", "U6", "K2", "U3"]), "S", True, ""
            for _ in range(rng.randint(1, 10)):
                dec = t + timedelta(days=rng.randint(20, 500))
                truth.append(
                    dict(
                        CHILD=cid,
                        DECOM=t,
                        RNE=rne,
                        PLACE=place,
                        DEC=dec,
                        REC="X1",
                        NEW=new,
                        PERIOD=period,
                    )
                )
                t = dec
                if dec > t_end:
                    break
                if place.startswith("T"):  # back to the same carer after a temporary stay
                    place, rne, new = home, "P", False
                    continue
                rne = rng.choice("LLPPPTUB")
                new = rne in "PB"
                if rng.random() < 0.1:
                    home, place, rne, new = place, "T1", "P", False
                elif rne in "PB":
                    place = rng.choice(["U4", "U6", "K2", "U3", "K3"])
                elif rne in "TU":
                    place = {"U6": "U4", "U3": "U1"}.get(place, place)
            truth[-1]["REC"] = rng.choice(["E4A", "E8", "E11", "E45"])
            t += timedelta(days=rng.randint(200, 2000))  # maybe re-enters later
    for e in truth:
        if e["DEC"] > t_end:
            e["DEC"], e["REC"] = None, ""
    hist = pd.DataFrame(truth)
    rows = hist[["CHILD", "DECOM", "RNE", "PLACE", "DEC", "REC"]].values.tolist()
    for year in range(first, last + 1):
        y0, y1 = date(year - 1, 4, 1), date(year, 3, 31)
        live = [r for r in rows if r[1] <= y1 and (r[4] is None or r[4] >= y0)]
        fmt = "%d/%m/%Y" if year % 2 else "%Y-%m-%d"
        out = []
        for cid, start, rne, place, dec, rec in live:
            closed = dec is not None and dec <= y1
            out.append(
                ep(
                    cid,
                    start.strftime(fmt),
                    rne,
                    place,
                    dec.strftime(fmt) if closed else "",
                    rec if closed else "",
                    rpc="CARPL" if closed and rec == "X1" else "",
                    prov="" if place.startswith("T") else "PR1",
                )
            )
        write(folder, f"episodes_{year - 1}-{str(year)[2:]}.csv", EP_COLS, out)
        kids = sorted({r[0] for r in live})
        write(
            folder,
            f"header_{year}.csv",
            ["CHILD", "SEX", "DOB"],
            [[k, "2", dobs[k].strftime(fmt)] for k in kids],
        )
    # what the extract can show: episodes live on or after the first year's 1 April
    seen = hist[hist["DEC"].isna() | (hist["DEC"] >= date(first - 1, 4, 1))]
    return seen.reset_index(drop=True)


def test_a_synthetic_la_is_read_back_exactly(tmp_path: Path) -> None:
    truth = synthetic_la(tmp_path, n_children=150)
    ds = read_903(tmp_path)
    assert ds.problems == []
    cols = ["CHILD", "DECOM", "RNE", "PLACE", "DEC", "REC"]
    want = truth.assign(DECOM=pd.to_datetime(truth["DECOM"]), DEC=pd.to_datetime(truth["DEC"]))
    want = want.sort_values(["CHILD", "DECOM"]).reset_index(drop=True)
    assert rows(ds.episodes, cols) == rows(want, cols)
    # periods and placements: a placement starts with each new carer, and where the
    # data begin part-way through a placement (the first episode seen is not a new carer)
    pe, pl = periods(ds), placements(ds)
    first_seen = ~truth.duplicated(["CHILD", "PERIOD"])
    truth["starts"] = truth["NEW"] | first_seen
    want_pl = truth.groupby(["CHILD", "PERIOD"])["starts"].sum()
    got_pl = pl.groupby(["CHILD", "period"]).size()
    assert got_pl.tolist() == want_pl.tolist()
    assert len(pe) == len(want_pl) and (pe["REC"] != "X1").all()
    assert pe["end"].isna().sum() == truth["DEC"].isna().sum()
    assert pe["start_observed"].sum() == truth.loc[first_seen, "RNE"].eq("S").sum()
    # placements tile their period: no bed-day is lost or counted twice
    closed = pe.dropna(subset=["end"]).set_index(["CHILD", "period"])
    pl_days = (pl["end"] - pl["start"]).groupby([pl["CHILD"], pl["period"]]).sum()
    assert (pl_days.reindex(closed.index) == closed["end"] - closed["start"]).all()


@pytest.mark.slow
def test_ten_years_of_a_large_la_reads_in_seconds(tmp_path: Path) -> None:
    synthetic_la(tmp_path, n_children=3000)
    t = time.perf_counter()
    ds = read_903(tmp_path)
    placements(ds)
    periods(ds)
    elapsed = time.perf_counter() - t
    rows = sum(len(pd.read_csv(tmp_path / f)) for f in ds.files if "episodes" in f)
    assert rows > 25_000
    assert elapsed < 10, f"{rows} episode rows took {elapsed:.1f}s"


def test_dates_written_with_a_midnight_time_are_read(tmp_path: Path) -> None:
    """Spreadsheet exports write a date cell as 'dd/mm/yyyy 00:00'; in the Header this once
    crashed with a traceback ('Cannot cast DatetimeArray'), issue 14."""
    rows_ = [[cid, "1", uk_dob + " 00:00"] for cid, uk_dob, _ in KIDS.values()]
    write(tmp_path, "header_2023.csv", ["CHILD", "SEX", "DOB"], rows_)
    write(
        tmp_path,
        "episodes_2023.csv",
        EP_COLS,
        [
            ep(A, "01/06/2022 00:00", "S", "U6", "01/02/2023 00:00", "E8"),
            ep(B, "01/06/2022", "S", "U6"),
        ],
    )
    ds = read_903(tmp_path)
    assert ds.problems == []
    assert ds.header.set_index("CHILD").loc[A, "DOB"] == pd.Timestamp("2010-05-14")
    assert rows(ds.episodes, ["CHILD", "DECOM", "DEC"]) == [
        [B, "2022-06-01", "NaT"],
        [A, "2022-06-01", "2023-02-01"],
    ]
