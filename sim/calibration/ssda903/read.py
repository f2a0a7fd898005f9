"""Read an LA's SSDA903 CSV tables, check them, and stitch the years into one history.

What a user gets back is a `Dataset`: clean Header, Episodes and UASC tables plus a list
of every `Problem` found, each naming the file, the spreadsheet row, the column, what is
wrong and what was expected. A row that cannot be used is skipped (and counted in
`Dataset.skipped`); a file that cannot be used at all raises `DataError`.

Files: every *.csv under the folder whose name contains "header", "episode" (not the
social-worker "SWEpisodes") or "uasc", in any case. Column names are matched ignoring case,
spaces and hyphens (XML names CHILDID and PL are accepted). Dates are dd/mm/yyyy or
yyyy-mm-dd, never month-first.

Fatal (DataError): folder missing; no Episodes or no Header file; a required column
missing (Header: CHILD, SEX, DOB; Episodes: CHILD, DECOM, RNE, LS, PLACE, DEC, REC; UASC:
CHILD, DUC); an Excel workbook, UTF-16 or binary file; a line with more fields than the
header; data for several LAs (column LA) whose CHILD identifiers clash, unless `la` picks
one (pooled, with a note, when no identifier appears under two LAs); `la` not among the LA
codes. Text is read as UTF-8 (with or without BOM), else Latin-1.

Episode rows skipped, each with a Problem: CHILD, DECOM, RNE or PLACE blank; DECOM or DEC
not a date; unknown RNE, PLACE or REC; DEC before DECOM; DEC without REC or REC without
DEC; child in no Header; DECOM before the child's DOB. Kept with the value blanked: an
unknown LS, CIN, PLACE_PROVIDER or REASON_PLACE_CHANGE. Kept with one note per file:
retired codes (Q1/Q2, E43/E44, E99). Skipped without a Problem: short breaks (LS V3/V4,
left out of DfE statistics) and copies of an episode repeated in another year's file.
Header rows: a bad DOB or SEX is reported and blanked, the child kept.

Collection year (1 April to 31 March) of each Episodes row: the year named in its file's
name or YEAR column; failing that, or if the dates show a later year, the year of the
file's latest dates, leaving out the latest 1% (at least one row) so that one outlying date
(an episode ending on 1 April, a mistyped year) cannot move a file into another year. An
episode starting after its file's year is noted once per file and kept.

Stitching follows `/work/shared/ssda903.md` section 6.1, with the open-episode rules of
LIIA's `lds_ssda903_episodes_fix`; every change it makes is reported as a Problem:

* the same (CHILD, DECOM) in several files: the latest file's copy, closed before open;
* an open episode that a later file re-dated or no longer has: skipped;
* an open episode followed by another: closed when the next starts (REC X1), or, if the
  next is a new period (RNE S), at the end of its file's year or the day before, whichever
  is first, with REC E99 (= care ended, reason not recorded);
* open at the end of an older file, child in no later file: closed at that year's end, E99;
* overlaps: if the later episode comes from a later file, the earlier one is cut short;
  otherwise the earlier one is kept and the later one dropped (if it lies inside) or
  started when the earlier ends;
* REC X1 with a gap before the next episode: bridged if the next comes from a later file;
  if the next is RNE S, or there is no next, REC becomes E99; otherwise kept with the gap.

Personal data: the return holds child identifiers, dates of birth and postcodes. No
message built here contains any of them. The only data values ever echoed are bad codes
in code columns, and only when they look like a code and match no identifier or postcode
in the files (a shifted column could otherwise put a postcode where a code belongs).
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...common.errors import UserError
from . import codes

DT = "datetime64[ns]"

HEADER_REQUIRED = ("CHILD", "SEX", "DOB")
EPISODES_REQUIRED = ("CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC", "REC")
EPISODES_OPTIONAL = ("CIN", "PLACE_PROVIDER", "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN")
EPISODE_COLUMNS = (
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
)
UASC_REQUIRED = ("CHILD", "DUC")

# other spellings seen in exports (XML tag names, tidy-ups)
ALIASES = {"CHILDID": "CHILD", "CHILD_ID": "CHILD", "PL": "PLACE"}

DATE_FORMS = "dd/mm/yyyy or yyyy-mm-dd"

# `skipped` reasons that are the normal repetition of a child or an episode across years
SKIP_HEADER_REPEAT = "Header: child repeated in another year's Header (latest kept)"
SKIP_EPISODE_REPEAT = (
    "Episodes: same child and start date as another row (the copy in the "
    "latest file is used, a closed copy before an open one)"
)
MERGED = {SKIP_HEADER_REPEAT: "Header rows", SKIP_EPISODE_REPEAT: "Episodes rows"}
FAR_FUTURE = pd.Timestamp("2200-01-01")


# ----------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the data. `row` is the spreadsheet row (header line = 1)."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class DataError(UserError):
    """The data cannot be used at all: the message names the file and what to do."""

    def __init__(self, file: str | Path, problem: str, expected: str | None = None) -> None:
        self.file = str(file)
        self.problem = problem
        self.expected = expected
        text = f"{self.file}: {problem}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


@dataclass
class Dataset:
    """The checked, stitched return.

    header: one row per child: CHILD (str), SEX (str, "" if unknown), DOB (datetime64, NaT
        if unusable), ETHNIC (str), UASC (bool: the Header's UASC flag, where there is one).
    episodes: CHILD, DECOM, DEC (NaT while open), RNE, LS, CIN, PLACE, PLACE_PROVIDER, REC,
        REASON_PLACE_CHANGE, HOME_POST, PL_POST, URN (str, "" if blank), sorted by CHILD,
        DECOM, without overlaps; REC E99 marks an end of care the reader inferred.
    uasc: CHILD, DUC (datetime64, NaT if blank).
    """

    header: pd.DataFrame
    episodes: pd.DataFrame
    uasc: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # 31 March of the latest collection year read: open episodes are censored here
    collection_end: pd.Timestamp | None = None

    def summary(self, limit: int = 20) -> str:
        """A message for the user: counts, the first `limit` problems, rows skipped."""
        lines = [
            f"Read {len(self.files)} file{'s' if len(self.files) != 1 else ''}: "
            f"{len(self.header):,} children in Header, {len(self.episodes):,} episodes kept."
        ]
        if self.problems:
            n = len(self.problems)
            lines.append(f"{n:,} problem{'s' if n != 1 else ''} found:")
            lines += [f"  {p}" for p in self.problems[:limit]]
            if n > limit:
                lines.append(f"  ... and {n - limit:,} more")
        else:
            lines.append("No problems found.")
        bad = {r: n for r, n in self.skipped.items() if r not in MERGED}
        if bad:
            lines.append(f"Rows skipped ({sum(bad.values()):,}):")
            lines += [f"  {n:,}  {reason}" for reason, n in bad.items()]
        merged = {r: n for r, n in self.skipped.items() if r in MERGED}
        if merged:
            lines.append(
                "Rows repeated in several years' files, read once: "
                + "; ".join(f"{n:,} {MERGED[r]}" for r, n in merged.items())
                + "."
            )
        return "\n".join(lines)


# ----------------------------------------------------------------------------- bookkeeping


class _Log:
    """Collects problems and skip counts; knows which values must never be echoed."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.skipped: Counter[str] = Counter()
        self.secrets: set[str] = set()

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, row, column, message))

    def rows(
        self, df: pd.DataFrame, mask: pd.Series, column: str | None, message: str | pd.Series
    ) -> None:
        """One problem per row of `df` selected by `mask`."""
        if not mask.any():
            return
        sel = df.loc[mask, ["_file", "_row"]]
        if isinstance(message, str):
            msgs: Iterable[str] = [message] * len(sel)
        else:
            msgs = message[mask].tolist()
        self.problems.extend(
            Problem(f, int(r), column, m)
            for f, r, m in zip(sel["_file"].tolist(), sel["_row"].tolist(), msgs, strict=True)
        )

    def skip(self, reason: str, n: int) -> None:
        if n:
            self.skipped[reason] += int(n)

    def shown(self, value: str) -> str:
        """' 'ZZ9'' if `value` is safe to echo as a code, else ''."""
        v = value.strip().upper()
        if (
            len(v) <= 6
            and _CODE_LIKE.fullmatch(v)
            and v not in self.secrets
            and v.replace(" ", "") not in self.secrets
        ):
            return f" '{v}'"
        return ""


_CODE_LIKE = re.compile(r"[A-Z]{1,6}[0-9]{0,2}[A-Z]?")


# ----------------------------------------------------------------------------- finding files


@dataclass
class _Source:
    path: Path
    name: str  # relative to the data folder, for messages
    table: str  # header / episodes / uasc
    order: int
    name_year: int | None  # collection year named in the file name (year ending 31 March)


def _table_of(filename: str) -> str | None:
    n = filename.lower()
    if "uasc" in n:
        return "uasc"
    if "header" in n:
        return "header"
    if "episode" in n and not re.search(r"sw[ _-]?episode", n):  # SWEpisodes: social workers
        return "episodes"
    return None


def year_in_name(filename: str) -> int | None:
    """2022 from 'header_2022', 'episodes_2021-22', 'SSDA903_2021_2022_episodes'."""
    m = re.search(r"(?<!\d)((?:19|20)\d\d)(?:\s*[-_ /]\s*(\d\d\d\d|\d\d))?(?!\d)", filename)
    if not m:
        return None
    first = int(m.group(1))
    if m.group(2):
        second = int(m.group(2))
        if second == first + 1 or second == (first + 1) % 100:
            return first + 1
    return first


def _find_sources(root: Path) -> tuple[list[_Source], list[str]]:
    csvs = sorted(
        (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"),
        key=lambda p: str(p.relative_to(root)).lower(),
    )
    sources: list[_Source] = []
    ignored: list[str] = []
    for p in csvs:
        rel = p.relative_to(root).as_posix()
        table = _table_of(p.name)
        if table is None:
            ignored.append(rel)
            continue
        sources.append(_Source(p, rel, table, len(sources), year_in_name(p.stem)))
    return sources, ignored


# ----------------------------------------------------------------------------- reading a file


def _decode(src: _Source) -> str:
    data = src.path.read_bytes()
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataError(
            src.name,
            "this is an Excel workbook, not a CSV file",
            "a CSV file: open it in Excel and use Save As 'CSV UTF-8'",
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4096]:
        raise DataError(
            src.name,
            "this is not a plain-text CSV file (it looks like UTF-16 "
            "'Unicode text' or binary data)",
            "a CSV file saved as 'CSV UTF-8'",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # Windows exports; codes and dates are ASCII anyway
    if not text.strip():
        raise DataError(
            src.name, "the file is empty", "a header line of column names, then one row per record"
        )
    return text


def _norm_column(name: str) -> str:
    n = re.sub(r"[\s\-]+", "_", str(name).strip()).upper()
    return ALIASES.get(n, n)


def _read(src: _Source, required: tuple[str, ...]) -> pd.DataFrame:
    text = _decode(src)
    first = text.lstrip().splitlines()[0]
    sep = ","
    if "," not in first:
        sep = "\t" if "\t" in first else (";" if ";" in first else ",")
    try:
        with warnings.catch_warnings():  # every row longer than the header: not a warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                sep=sep,
                index_col=False,
            )
    except (
        pd.errors.ParserError,
        pd.errors.ParserWarning,
        pd.errors.EmptyDataError,
        ValueError,
    ) as exc:
        raise DataError(
            src.name,
            f"could not be read as CSV: {_short(exc)}",
            "comma-separated values with the same number of fields on every line",
        ) from None
    names = [_norm_column(c) for c in df.columns]
    dupes = sorted({n for n in names if names.count(n) > 1 and not n.startswith("UNNAMED")})
    if dupes:
        raise DataError(src.name, f"column {dupes[0]} appears more than once", "each column once")
    df.columns = names
    df = df[[c for c in df.columns if not c.startswith("UNNAMED")]]
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ", ".join(df.columns) or "none"
        raise DataError(
            src.name,
            f"required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} not found "
            f"(columns found: {found})",
            f"the SSDA903 {src.table.capitalize()} columns {', '.join(required)}",
        )
    df = df.fillna("")
    for c in df.columns:
        df[c] = df[c].astype(str).str.strip()
    df["_row"] = np.arange(2, len(df) + 2)  # spreadsheet row: the header line is row 1
    blank = (df.drop(columns="_row") == "").all(axis=1)
    df = df[~blank].copy()
    df["_file"] = src.name
    df["_forder"] = src.order
    return df


def _short(exc: Exception) -> str:
    """pandas' complaint in the user's words (it never quotes data values)."""
    msg = str(exc).strip()
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if m:
        return f"line {m.group(2)} has {m.group(3)} fields but the header line has {m.group(1)}"
    if isinstance(exc, pd.errors.ParserWarning):
        return "the rows have more fields than the header line has column names"
    return (msg.splitlines()[-1] if msg else type(exc).__name__)[:200]


# ----------------------------------------------------------------------------- values


def _dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dd/mm/yyyy, dd/mm/yy and yyyy-mm-dd (never month-first). Returns (dates, bad).

    A midnight time after the date ("15/04/2010 00:00", "2010-04-15T00:00:00") is what
    spreadsheet exports write for a date cell; it is read as the date.
    """
    s = s.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype=DT)
    midnight = r"(?:[ T]00:00(?::00(?:\.0+)?)?)?"
    uk = s.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}" + midnight)
    # two-digit years (the public fake data write DEC so): 00-68 are 20xx, 69-99 19xx
    short = s.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}" + midnight)
    iso = s.str.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}" + midnight)
    day = s.str.split(r"[ T]", regex=True).str[0]
    if uk.any():
        out[uk] = pd.to_datetime(day[uk], format="%d/%m/%Y", errors="coerce").astype(DT)
    if short.any():
        out[short] = pd.to_datetime(day[short], format="%d/%m/%y", errors="coerce").astype(DT)
    if iso.any():
        out[iso] = pd.to_datetime(day[iso], format="%Y-%m-%d", errors="coerce").astype(DT)
    bad = (s != "") & out.isna()
    return out, bad


def _year_end(d: pd.Series) -> pd.Series:
    """31 March on or after each date (the end of the collection year holding it)."""
    out = pd.Series(pd.NaT, index=d.index, dtype=DT)
    ok = d.notna()
    if ok.any():
        year = d[ok].dt.year.astype(int) + (d[ok].dt.month > 3).astype(int)
        out[ok] = _march31(year)
    return out


def _march31(year: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.DataFrame({"year": year, "month": 3, "day": 31})).astype(DT)


def _file_rank(sources: list[_Source]) -> dict[int, int]:
    """File order by collection year named in the file name, then by name."""
    ranked = sorted(sources, key=lambda s: (s.name_year or 0, s.order))
    return {s.order: i for i, s in enumerate(ranked)}


def _march(year: int | None) -> pd.Timestamp:
    return pd.Timestamp(year=year, month=3, day=31) if year else pd.NaT


# ----------------------------------------------------------------------------- Header


def _header(frames: list[pd.DataFrame], sources: list[_Source], log: _Log) -> pd.DataFrame:
    cols = ["CHILD", "SEX", "DOB", "ETHNIC", "UASC"]
    if not frames:
        return _empty_header()
    h = _stack(frames, sources, log, "Header")
    for c in ("ETHNIC", "UASC"):
        if c not in h.columns:
            h[c] = ""

    h["DOB"], bad = _dates(h["DOB"])
    log.rows(
        h,
        bad,
        "DOB",
        f"date of birth not understood (expected {DATE_FORMS}); the "
        "child is kept, with the date of birth from another Header file if there is one",
    )
    log.rows(
        h,
        h["DOB"].isna() & ~bad,
        "DOB",
        f"date of birth is blank (expected "
        f"{DATE_FORMS}); the child is kept, with the date of birth from another Header "
        "file if there is one",
    )

    h["SEX"] = h["SEX"].str.upper()
    badsex = (h["SEX"] != "") & ~h["SEX"].isin(codes.LISTS["SEX"])
    log.rows(
        h,
        badsex,
        "SEX",
        h["SEX"].map(
            lambda v: (
                f"unknown SEX code{log.shown(v)} (expected {codes.EXPECTED['SEX']}); "
                "kept with SEX blank"
            )
        ),
    )
    h.loc[badsex, "SEX"] = ""
    h["UASC"] = h["UASC"].str.upper().isin({"1", "Y", "YES", "TRUE"})

    # one row per child: the latest file wins (a child appears in every year's Header)
    h = h.sort_values(["_rank", "_row"], kind="stable")
    dob_n = h.groupby("CHILD")["DOB"].transform("nunique")
    latest = ~h.duplicated("CHILD", keep="last")
    log.rows(
        h,
        latest & (dob_n > 1),
        "DOB",
        "date of birth differs between Header rows for "
        "this child; the one in the latest file is used",
    )
    log.skip(SKIP_HEADER_REPEAT, (~latest).sum())
    # a later file's blank or bad value does not wipe out a good one from an earlier file
    best_dob = h[h["DOB"].notna()].groupby("CHILD")["DOB"].last()
    best_sex = h[h["SEX"] != ""].groupby("CHILD")["SEX"].last()
    h = h[latest].copy()
    # reindex, not map: pandas' map with an empty datetime Series (no child has a date of
    # birth that could be read) raises "Cannot cast DatetimeArray to dtype float64"
    earlier = pd.Series(best_dob.reindex(h["CHILD"]).to_numpy(), index=h.index, dtype=DT)
    h["DOB"] = h["DOB"].fillna(earlier).astype(DT)
    h["SEX"] = h["SEX"].where(h["SEX"] != "", h["CHILD"].map(best_sex)).fillna("")
    return h[cols].sort_values("CHILD", kind="stable").reset_index(drop=True)


def _stack(
    frames: list[pd.DataFrame], sources: list[_Source], log: _Log, table: str
) -> pd.DataFrame:
    """One table's rows from every file, ranked by file age, without rows that name no child."""
    df = pd.concat(frames, ignore_index=True)
    rank = _file_rank(sources)
    df["_rank"] = df["_forder"].map(lambda o: rank[o])
    no_child = df["CHILD"] == ""
    log.rows(df, no_child, "CHILD", "CHILD is blank (expected the child's identifier); row skipped")
    log.skip(f"{table}: CHILD blank", no_child.sum())
    return df[~no_child].copy()


def _empty_header() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CHILD": pd.Series(dtype=str),
            "SEX": pd.Series(dtype=str),
            "DOB": pd.Series(dtype=DT),
            "ETHNIC": pd.Series(dtype=str),
            "UASC": pd.Series(dtype=bool),
        }
    )


# ----------------------------------------------------------------------------- UASC


def _uasc(frames: list[pd.DataFrame], sources: list[_Source], log: _Log) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({"CHILD": pd.Series(dtype=str), "DUC": pd.Series(dtype=DT)})
    u = _stack(frames, sources, log, "UASC")
    u["DUC"], bad = _dates(u["DUC"])
    log.rows(
        u,
        bad,
        "DUC",
        f"date UASC status ended not understood (expected {DATE_FORMS}); "
        "kept as UASC with no end date",
    )
    u = u.sort_values(["_rank", "_row"], kind="stable")
    u = u[~u.duplicated("CHILD", keep="last")]
    return u[["CHILD", "DUC"]].sort_values("CHILD", kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- Episodes


_REQUIRED_VALUE = {
    "CHILD": "the child's identifier",
    "DECOM": f"the date the episode began, {DATE_FORMS}",
    "RNE": codes.EXPECTED["RNE"],
    "PLACE": codes.EXPECTED["PLACE"],
}
_SKIP_BAD_CODE = ("RNE", "PLACE", "REC")  # the row means nothing without them
_BLANK_BAD_CODE = ("LS", "CIN", "PLACE_PROVIDER", "REASON_PLACE_CHANGE")


def _episodes(
    frames: list[pd.DataFrame], sources: list[_Source], header: pd.DataFrame, log: _Log
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    ep = pd.concat(frames, ignore_index=True)
    for c in EPISODES_OPTIONAL:
        if c not in ep.columns:
            ep[c] = ""
    for c in EPISODE_COLUMNS:
        if c not in ("CHILD", "DECOM", "DEC"):  # codes and postcodes: case does not matter
            ep[c] = ep[c].str.upper()
    reason = pd.Series("", index=ep.index, dtype=object)  # why the row is skipped

    def fatal(mask: pd.Series, column: str, message: str | pd.Series, why: str) -> None:
        log.rows(ep, mask, column, message)
        reason[mask & (reason == "")] = why

    # required values
    for c, expected in _REQUIRED_VALUE.items():
        fatal(
            ep[c] == "",
            c,
            f"{c} is blank (expected {expected}); row skipped",
            "Episodes: required value blank (CHILD, DECOM, RNE or PLACE)",
        )
    log.rows(ep, ep["LS"] == "", "LS", f"LS is blank (expected {codes.EXPECTED['LS']}); row kept")

    # dates
    ep["DECOM"], bad_decom = _dates(ep["DECOM"])
    ep["DEC"], bad_dec = _dates(ep["DEC"])
    for c, bad in (("DECOM", bad_decom), ("DEC", bad_dec)):
        fatal(
            bad,
            c,
            f"{c} is not a date (expected {DATE_FORMS}); row skipped",
            "Episodes: date not understood",
        )

    # codes
    for c in _SKIP_BAD_CODE + _BLANK_BAD_CODE:
        unknown = (ep[c] != "") & ~ep[c].isin(codes.LISTS[c])
        if not unknown.any():
            continue
        then = "row skipped" if c in _SKIP_BAD_CODE else f"row kept with {c} blank"
        text = {
            v: f"unknown {c} code{log.shown(v)} (expected {codes.EXPECTED[c]}); {then}"
            for v in ep.loc[unknown, c].unique()
        }
        msg = ep[c].map(text)
        if c in _SKIP_BAD_CODE:
            fatal(unknown, c, msg, "Episodes: unknown RNE, PLACE or REC code")
        else:
            log.rows(ep, unknown, c, msg)
            ep.loc[unknown, c] = ""
    for (c, code), note in codes.RETIRED.items():
        hit = ep[c] == code
        if hit.any():
            for file, rows in ep.loc[hit, ["_file", "_row"]].groupby("_file", sort=False):
                n = len(rows)
                log.add(
                    file,
                    int(rows["_row"].min()),
                    c,
                    f"{c} code '{code}' in {n} row{'s' if n > 1 else ''} (first shown): "
                    f"{note}; rows kept",
                )

    # consistency of the row
    fatal(
        ep["DEC"].notna() & ep["DECOM"].notna() & (ep["DEC"] < ep["DECOM"]),
        "DEC",
        "episode ends before it starts (expected DEC on or after DECOM); row skipped",
        "Episodes: DEC before DECOM",
    )
    fatal(
        ep["DEC"].notna() & (ep["REC"] == ""),
        "REC",
        "DEC is given but REC is blank (expected both, or both blank while the episode "
        "is open); row skipped",
        "Episodes: DEC and REC not both given",
    )
    # An open episode with a reason for ending (real exports and the public fake data do
    # this; it breaks a DfE validation rule, but the child is still in care): the episode
    # stays open and the stray REC is ignored, said once per file, not row by row.
    stray = ~bad_dec & ep["DEC"].isna() & (ep["REC"] != "") & (reason == "")
    if stray.any():
        for file, rows in ep.loc[stray, ["_file", "_row"]].groupby("_file", sort=False):
            n = len(rows)
            log.add(
                file,
                int(rows["_row"].min()),
                "REC",
                f"REC is given but DEC is blank in {n} row{'s' if n > 1 else ''} (first "
                "shown): read as open episodes (the child still in care) and REC ignored "
                "(expected REC blank while an episode is open); rows kept",
            )
        ep.loc[stray, "REC"] = ""

    # against Header
    known = ep["CHILD"].isin(header["CHILD"])
    fatal(
        (ep["CHILD"] != "") & ~known,
        "CHILD",
        "this child has no row in any Header file (expected every child in Episodes to be "
        "in Header); row skipped",
        "Episodes: child not in Header",
    )
    dob = header.set_index("CHILD")["DOB"].reindex(ep["CHILD"].to_numpy())
    dob = pd.Series(dob.to_numpy(), index=ep.index).astype(DT)
    fatal(
        ep["DECOM"] < dob,
        "DECOM",
        "episode starts before the child's date of birth in Header (expected DECOM on or "
        "after DOB); row skipped",
        "Episodes: starts before date of birth",
    )

    for why, n in reason[reason != ""].value_counts().items():
        log.skip(str(why), int(n))
    ep = ep[reason == ""].copy()

    short = ep["LS"].isin(codes.LS_SHORT_BREAKS)
    log.skip("Episodes: short breaks (LS V3/V4), left out as in DfE statistics", short.sum())
    ep = ep[~short].copy()

    # the collection year each row belongs to: the year of its file, or of its YEAR group
    group = ep["_forder"].astype(str)
    named = ep["_forder"].map({s.order: _march(s.name_year) for s in sources}).astype(DT)
    if "YEAR" in ep.columns:  # a multi-year file, as regional tools write them
        y = ep["YEAR"].map({v: year_in_name(v) for v in ep["YEAR"].unique()})
        has = y.notna()
        group = group.where(~has, group + "/" + ep["YEAR"])
        if has.any():
            named[has] = _march31(y[has].astype(int))
    ep["_year_end"] = _group_year_end(ep, group, named)
    _late_starts(ep, log)
    end = ep["_year_end"].max() if len(ep) else None
    _missing_years(ep, log)

    ep = _stitch(ep, end, log)
    out = ep[list(EPISODE_COLUMNS)].copy()
    for c in EPISODE_COLUMNS:
        if c not in ("DECOM", "DEC"):
            out[c] = out[c].astype(str)
    return out.reset_index(drop=True), (None if pd.isna(end) else end)


def _group_year_end(ep: pd.DataFrame, group: pd.Series, named: pd.Series) -> pd.Series:
    """31 March ending each row's collection year: one year for every row of a group.

    A group is a file, or one YEAR of a file that has a YEAR column. Its year is the one in
    its name (or YEAR), unless its dates show a later one (a name may give the year the
    collection starts: 'episodes_2021' for 2021-22). The year its dates show is that of its
    second latest date, or of the latest but 1% for a large file: one outlying date, such
    as an episode ending on 1 April (open on 31 March, so in that year's return, its end
    known to an extract taken later), or a mistyped year, never moves a whole file into
    another year.
    """
    latest = pd.concat([ep["DECOM"], ep["DEC"]], axis=1).max(axis=1)
    shown: dict[str, pd.Timestamp] = {}
    for key, dates in latest.groupby(group, sort=False):
        ordered = np.sort(dates.to_numpy())[::-1]  # latest first
        outliers = max(1, len(ordered) // 100)
        shown[str(key)] = pd.Timestamp(ordered[min(outliers, len(ordered) - 1)])
    data_end = _year_end(group.map(shown).astype(DT))
    return pd.concat([named, data_end], axis=1).max(axis=1).astype(DT)


def _late_starts(ep: pd.DataFrame, log: _Log) -> None:
    """One note per file on episodes that start after the end of their collection year.

    Such an episode cannot be in that year's return (it was not open in the year): a
    mistyped date, or an extract taken after the year ended. It is kept as it is.
    """
    late = ep["DECOM"] > ep["_year_end"]
    if not late.any():
        return
    for file, part in ep.loc[late, ["_file", "_row", "_year_end"]].groupby("_file", sort=False):
        n = len(part)
        ends = sorted({f"{d:%d/%m/%Y}" for d in part["_year_end"]})
        log.add(
            file,
            int(part["_row"].min()),
            "DECOM",
            f"{n} episode{'s start' if n > 1 else ' starts'} (first shown) after the end of "
            f"the file's collection year ({', '.join(ends)}), taken from the file name, a "
            "YEAR column or most of the file's dates (expected every episode in a year's "
            "file to be open during that year: check for a mistyped date); rows kept",
        )


def _missing_years(ep: pd.DataFrame, log: _Log) -> None:
    years = sorted({int(d.year) for d in ep["_year_end"].dropna().unique()})
    if len(years) < 2:
        return
    gaps = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if gaps:
        names = ", ".join(f"{y - 1}-{str(y)[2:]}" for y in gaps)
        log.add(
            "(data folder)",
            None,
            None,
            f"no Episodes data for the collection year{'s' if len(gaps) > 1 else ''} "
            f"{names} (expected one file per year, or one file covering all years): "
            "children who left care in a missing year are taken to leave at the end of "
            "the year before",
        )


def _next(ep: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    return ep["CHILD"].eq(ep["CHILD"].shift(-1)), ep.shift(-1)


def _at(
    ep: pd.DataFrame, mask: pd.Series, offset: int = 1, pos: pd.Series | None = None
) -> pd.Series:
    """'(file, row N)' of the next row (offset 1), the previous (-1) or of row `pos`."""
    if pos is None:
        other = ep[["_file", "_row"]].shift(-offset)
    else:
        p = pos.fillna(0).astype(int).to_numpy()
        other = pd.DataFrame(
            {"_file": ep["_file"].to_numpy()[p], "_row": ep["_row"].to_numpy()[p]}, index=ep.index
        )
    return (
        "("
        + other["_file"].astype(str)
        + ", row "
        + other["_row"].astype("Int64").astype(str)
        + ")"
    ).where(mask, "")


def _stitch(ep: pd.DataFrame, end: pd.Timestamp | None, log: _Log) -> pd.DataFrame:
    """Join the years into one history per child, fixing what stitching exposes."""
    # 1. the same episode in several files: keep the latest file's copy, closed over open
    ep["_closed"] = ep["DEC"].notna()
    ep = ep.sort_values(
        ["CHILD", "DECOM", "_year_end", "_closed", "_forder", "_row"], kind="stable"
    )
    dup = ep.duplicated(["CHILD", "DECOM"], keep="last")
    log.skip(SKIP_EPISODE_REPEAT, dup.sum())
    ep = ep[~dup].reset_index(drop=True)

    # 2. an open episode from an older file that a later file no longer has (LIIA rules 3
    #    and 3A). Had it still been open, the next year's file would repeat it.
    same, nxt = _next(ep)
    same_p, prv = ep["CHILD"].eq(ep["CHILD"].shift()), ep.shift()
    stale = ep["DEC"].isna() & (ep["_year_end"] < end) if end is not None else same & False
    alike_n, alike_p = same.copy(), same_p.copy()
    for c in ("RNE", "LS", "PLACE", "PLACE_PROVIDER", "PL_POST", "URN"):
        alike_n &= ep[c].eq(nxt[c])
        alike_p &= ep[c].eq(prv[c])
    redated = stale & (
        (alike_n & (nxt["_year_end"] > ep["_year_end"]))
        | (alike_p & (prv["_year_end"] > ep["_year_end"]))
    )
    superseded = stale & ~redated & same_p & (prv["_year_end"] > ep["_year_end"])
    log.rows(
        ep,
        redated,
        "DECOM",
        "this open episode appears in a later file with a "
        "different start date (DECOM); the later file's copy is used and this row skipped",
    )
    log.rows(
        ep,
        superseded,
        "DEC",
        "this open episode is not in the later file that holds "
        "the child's earlier episode " + _at(ep, superseded, -1) + "; the later file is "
        "taken as correct and this row skipped",
    )
    log.skip(
        "Episodes: open episode replaced or removed in a later file", (redated | superseded).sum()
    )
    ep = ep[~(redated | superseded)].reset_index(drop=True)

    # 3. open episodes that are not the child's last (doc 6.1 and LIIA rules 1/1A)
    same, nxt = _next(ep)
    open_next = same & ep["DEC"].isna()
    cont = open_next & nxt["RNE"].ne("S")
    log.rows(
        ep,
        cont,
        "DEC",
        "episode has no end date but the child's next episode "
        + _at(ep, cont)
        + " continues the care: taken to end when that one starts "
        "(REC X1)",
    )
    ep.loc[cont, "DEC"] = nxt.loc[cont, "DECOM"]
    ep.loc[cont, "REC"] = codes.REC_CONTINUES
    reentry = open_next & nxt["RNE"].eq("S")
    log.rows(
        ep,
        reentry,
        "DEC",
        "episode has no end date but the child starts a new period "
        "of care later " + _at(ep, reentry) + ": taken to end at the end of this "
        "file's collection year or the day before the new start, whichever is first, "
        "reason unknown (REC E99)",
    )
    guess = pd.concat([ep["_year_end"], nxt["DECOM"] - pd.Timedelta(days=1)], axis=1).min(axis=1)
    guess = pd.concat([guess, ep["DECOM"]], axis=1).max(axis=1)
    ep.loc[reentry, "DEC"] = guess[reentry]
    ep.loc[reentry, "REC"] = codes.REC_UNKNOWN_EXIT

    # 4. open at the end of an older file and absent from every later file (LIIA rule 2)
    if end is not None:
        lost = ~same & ep["DEC"].isna() & (ep["_year_end"] < end)
        log.rows(
            ep,
            lost,
            "DEC",
            "episode is open at the end of this file's collection year "
            "but the child is in no later Episodes file: taken to end at the end of that "
            "year, reason unknown (REC E99)",
        )
        ep.loc[lost, "DEC"] = ep.loc[lost, ["_year_end", "DECOM"]].max(axis=1)
        ep.loc[lost, "REC"] = codes.REC_UNKNOWN_EXIT

    # 5. overlaps. A later file's next episode is trusted: this one is cut short (doc 6.1).
    same, nxt = _next(ep)
    cut = (
        same & ep["DEC"].notna() & (ep["DEC"] > nxt["DECOM"]) & (ep["_year_end"] < nxt["_year_end"])
    )
    log.rows(
        ep,
        cut,
        "DEC",
        "episode ends after the child's next episode starts; that "
        "episode comes from a later file " + _at(ep, cut) + ", so this end date is "
        "moved to its start",
    )
    ep.loc[cut, "DEC"] = nxt.loc[cut, "DECOM"]
    # Otherwise the earlier episode is kept: a later one inside it is dropped, one that runs
    # on past it starts when it ends.
    stop = ep["DEC"].fillna(FAR_FUTURE)
    running = stop.groupby(ep["CHILD"]).cummax()
    prev_max = running.groupby(ep["CHILD"]).shift()
    # the row that set the running maximum, to point the user at it
    setter = pd.Series(np.where(stop == running, np.arange(len(ep)), np.nan), index=ep.index)
    setter = setter.groupby(ep["CHILD"]).ffill().groupby(ep["CHILD"]).shift()
    overlap = ep["DECOM"] < prev_max
    inside = overlap & (stop <= prev_max)
    runs_on = overlap & ~inside
    log.rows(
        ep,
        inside,
        "DECOM",
        "episode lies within the dates of the child's earlier episode "
        + _at(ep, inside, pos=setter)
        + "; the earlier episode is kept and this row skipped",
    )
    log.rows(
        ep,
        runs_on,
        "DECOM",
        "episode starts before the child's earlier episode "
        + _at(ep, runs_on, pos=setter)
        + " ends; the earlier episode is kept and this one "
        "taken to start when it ends",
    )
    log.skip("Episodes: overlaps an earlier episode of the same child", inside.sum())
    ep.loc[runs_on, "DECOM"] = prev_max[runs_on]
    ep = ep[~inside].reset_index(drop=True)

    # 6. X1 ("still looked after") must hand over to an episode starting the same day
    same, nxt = _next(ep)
    x1 = ep["REC"].eq(codes.REC_CONTINUES)
    gap = same & x1 & (nxt["DECOM"] > ep["DEC"])
    bridged = gap & (ep["_year_end"] < nxt["_year_end"])  # LIIA rule 5: later file trusted
    log.rows(
        ep,
        bridged,
        "DEC",
        "REC is X1 (still looked after) but the child's next "
        "episode " + _at(ep, bridged) + " starts later; that episode comes from a later "
        "file, so this end date is moved to its start",
    )
    ep.loc[bridged, "DEC"] = nxt.loc[bridged, "DECOM"]
    gap &= ~bridged
    left = gap & nxt["RNE"].eq("S")
    log.rows(
        ep,
        left,
        "REC",
        "REC is X1 (still looked after) but the child's next episode "
        + _at(ep, left)
        + " starts later with RNE S: taken as an end of care, reason "
        "unknown (REC E99)",
    )
    ep.loc[left, "REC"] = codes.REC_UNKNOWN_EXIT
    hole = gap & ~left
    log.rows(
        ep,
        hole,
        "DEC",
        "REC is X1 (still looked after) but the child's next episode "
        + _at(ep, hole)
        + " starts later (expected it to start on the day this one "
        "ends); kept as one period of care with a gap",
    )
    tail = ~same & x1
    log.rows(
        ep,
        tail,
        "REC",
        "REC is X1 (still looked after) but no later episode follows "
        "for this child: taken as an end of care, reason unknown (REC E99)",
    )
    ep.loc[tail, "REC"] = codes.REC_UNKNOWN_EXIT
    return ep.sort_values(["CHILD", "DECOM"], kind="stable")


# ----------------------------------------------------------------------------- LA column

MAX_LA_CODES = 50  # more distinct values than this: not LA codes (a shifted column?)


def _la_codes(codes_: list[str], log: _Log) -> str:
    """The LA codes for a message, never a value that could be an identifier or postcode."""
    if len(codes_) > MAX_LA_CODES:
        return (
            f"{len(codes_):,} different values, too many to be LA codes: is the LA column "
            "in the right place?"
        )
    shown = [c for c in codes_ if len(c) <= 12 and c not in log.secrets]
    text = ", ".join(shown)
    hidden = len(codes_) - len(shown)
    if hidden:
        text += f"{' and ' if shown else ''}{hidden} value{'s' if hidden > 1 else ''} not shown"
        text += " (like a child identifier or postcode)"
    return text


def _pick_la(
    frames: dict[str, list[pd.DataFrame]], la: str | None, root: Path, log: _Log
) -> dict[str, list[pd.DataFrame]]:
    """One LA's rows (`la`), or every LA's pooled if their CHILD identifiers never clash.

    CHILD is only unique within an LA (`/work/shared/ssda903.md` section 4): two LAs'
    children can share an identifier, and read together they would become one child.
    """
    every = [df for dfs in frames.values() for df in dfs]
    with_la = [df for df in every if "LA" in df.columns]
    for df in with_la:
        df["LA"] = df["LA"].str.upper()
    codes_ = sorted({c for df in with_la for c in df["LA"].unique() if c})
    files = sorted({str(df["_file"].iloc[0]) for df in with_la if (df["LA"] != "").any()})
    where = files[0] if len(files) == 1 else "(data folder)"
    column = "column LA" if len(files) == 1 else f"column LA of {', '.join(files[:3])}"
    column += " ..." if len(files) > 3 else ""
    if la is None:
        if len(codes_) < 2:
            return frames
        pairs = pd.concat([df.loc[df["LA"] != "", ["LA", "CHILD"]] for df in with_la])
        pairs = pairs[pairs["CHILD"] != ""].drop_duplicates()
        clash = int((pairs.groupby("CHILD")["LA"].nunique() > 1).sum())
        if clash:
            raise DataError(
                root / where if where != "(data folder)" else root,
                f"{column} holds data for {len(codes_)} local authorities "
                f"({_la_codes(codes_, log)}) and {clash:,} CHILD identifier"
                f"{'s appear' if clash > 1 else ' appears'} under more than one of them, so "
                "those children cannot be told apart",
                "one LA's data (CHILD identifiers are only unique within an LA): add "
                "--la CODE to read one of them",
            )
        log.add(
            where,
            None,
            "LA",
            f"{column} holds data for {len(codes_)} local authorities "
            f"({_la_codes(codes_, log)}): read pooled as one, since no CHILD identifier "
            "appears under two of them (add --la CODE to read one LA)",
        )
        return frames

    key = la.strip().upper()
    if not with_la:
        raise DataError(
            root,
            f"--la {key} was given but no file has an LA column",
            "an LA column naming each row's local authority, or no --la",
        )
    if key not in codes_:
        raise DataError(
            root / where if where != "(data folder)" else root,
            f"no rows for the local authority {key} given with --la ({column} holds: "
            f"{_la_codes(codes_, log)})",
            "one of the LA codes in the data after --la",
        )
    out: dict[str, list[pd.DataFrame]] = {}
    for table, dfs in frames.items():
        out[table] = []
        for df in dfs:
            file = str(df["_file"].iloc[0]) if len(df) else ""
            if "LA" not in df.columns:
                if len(df):
                    log.add(
                        file,
                        None,
                        "LA",
                        f"no LA column: all its rows are read as {key}'s (expected an LA "
                        "column in every file when the files hold several LAs)",
                    )
                out[table].append(df)
                continue
            blank = df["LA"] == ""
            if blank.any():
                n = int(blank.sum())
                log.add(
                    file,
                    int(df.loc[blank, "_row"].min()),
                    "LA",
                    f"LA is blank in {n} row{'s' if n > 1 else ''} (first shown): left out, "
                    f"as --la {key} reads only the rows of that LA (expected an LA code on "
                    "every row)",
                )
            out[table].append(df[df["LA"] == key].copy())
    if not sum(len(df) for df in out["episodes"]):
        raise DataError(
            root,
            f"no Episodes rows for the local authority {key} given with --la",
            "Episodes rows with that code in column LA",
        )
    return out


# ----------------------------------------------------------------------------- entry point


def data_start(ds: Dataset) -> pd.Timestamp | None:
    """1 April of the data's first collection year (None if the data hold no episodes).

    From the Episodes files' names where they carry a year ('episodes_2016.csv' is
    2015/16); otherwise the 1 April on or before the earliest episode end, since a return
    holds no episode that ended before its first year.
    """
    named = [year_in_name(Path(n).name) for n in ds.files if "episode" in Path(n).name.lower()]
    years = [y for y in named if y is not None]
    if years:
        return pd.Timestamp(year=min(years) - 1, month=4, day=1)
    ends = ds.episodes["DEC"].dropna() if not ds.episodes.empty else pd.Series([], dtype=object)
    if ends.empty:
        return None
    first = pd.Timestamp(ends.min())
    year = first.year if (first.month, first.day) >= (4, 1) else first.year - 1
    return pd.Timestamp(year=year, month=4, day=1)


def read_903(data_dir: str | Path, la: str | None = None) -> Dataset:
    """Read every Header, Episodes and UASC CSV under `data_dir` into one checked history.

    `la`: with files whose LA column holds several local authorities, read only the rows
    of this one (compared ignoring case and spaces around it). Without it, such files are
    read pooled if no CHILD identifier appears under two LAs, and refused otherwise.
    """
    root = Path(data_dir)
    if not root.exists():
        raise DataError(
            root,
            "folder not found",
            "a folder holding the SSDA903 CSV tables (Header and Episodes)",
        )
    if not root.is_dir():
        raise DataError(
            root, "this is a file, not a folder", "the folder holding the SSDA903 CSV tables"
        )
    sources, ignored = _find_sources(root)
    tables = {s.table for s in sources}
    if "episodes" not in tables or "header" not in tables:
        what = "Episodes" if "episodes" not in tables else "Header"
        seen = [s.name for s in sources] + ignored
        xml = [p.name for p in root.rglob("*.xml")]
        hint = (
            f"; CSV files found: {', '.join(seen[:10])}{' ...' if len(seen) > 10 else ''}"
            if seen
            else "; no CSV files found"
        )
        if xml and not seen:
            hint += " (the XML form of the return is not read: export the CSV tables)"
        raise DataError(
            root,
            f"no {what} file{hint}",
            f"a CSV file whose name contains '{what.lower()}', e.g. {what.lower()}_2023.csv",
        )

    log = _Log()
    required = {"header": HEADER_REQUIRED, "episodes": EPISODES_REQUIRED, "uasc": UASC_REQUIRED}
    frames: dict[str, list[pd.DataFrame]] = {"header": [], "episodes": [], "uasc": []}
    for s in sources:
        df = _read(s, required[s.table])
        frames[s.table].append(df)
        for c in ("CHILD", "HOME_POST", "PL_POST"):  # never echo these in messages
            if c in df.columns:
                vals = df[c].str.upper()
                log.secrets.update(vals)
                log.secrets.update(vals.str.replace(" ", "", regex=False))
                log.secrets.update(vals.str.split(" ").str[0])
        if s.table == "episodes":
            absent = [c for c in EPISODES_OPTIONAL if c not in df.columns]
            if absent:
                log.add(
                    s.name,
                    None,
                    ", ".join(absent),
                    f"column{'s' if len(absent) > 1 else ''} not found; left blank "
                    f"(expected all the SSDA903 Episodes columns)",
                )

    frames = _pick_la(frames, la, root, log)
    header = _header(frames["header"], sources, log)
    uasc = _uasc(frames["uasc"], sources, log)
    episodes, end = _episodes(frames["episodes"], sources, header, log)

    order = {s.name: s.order for s in sources}
    log.problems.sort(key=lambda p: (order.get(p.file, -1), p.row or 0))
    return Dataset(
        header=header,
        episodes=episodes,
        uasc=uasc,
        problems=log.problems,
        skipped=dict(log.skipped),
        files=[s.name for s in sources],
        collection_end=end,
    )
