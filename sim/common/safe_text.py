"""Text typed by users, made safe for the files a commissioner opens and shares.

Scenario names, option names, cost items, sources and descriptions come from scenario
files anyone can write, and they end up in spreadsheets, CSV tables, markdown and HTML.
Every writer goes through this module, so the defences live in one place:

* spreadsheets and CSV: text that starts with a character a spreadsheet reads as the
  start of a formula (= + - @, tab, carriage return) gets a leading apostrophe (the
  OWASP "CSV injection" defence), so `=HYPERLINK(...)` is shown, never run. Numbers stay
  numbers: a negative number is a number, not text.
* markdown (and so HTML when it is rendered): `<`, `>` and `&` become entities, and the
  characters that make markdown links, tables and emphasis are backslash-escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from openpyxl.workbook.workbook import Workbook

#: First characters that make a spreadsheet treat a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|])")


def spreadsheet_text(value: Any) -> Any:
    """`value` as a spreadsheet must store it: text that could start a formula gets "'".

    Anything that is not a string (numbers, dates, None) is returned as it is.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_row(values: Iterable[Any]) -> list[Any]:
    """One CSV row with every text cell made safe (for `csv.writer`)."""
    return [spreadsheet_text(v) for v in values]


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells are safe; numeric columns are untouched.

    Only text (and mixed) columns are looked at, and in them only the strings: a column
    mixing numbers and "<5" keeps its numbers as numbers.
    """
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    out = frame.copy()
    for col in out.columns:
        if not (is_numeric_dtype(out[col]) or is_datetime64_any_dtype(out[col])):
            # a long table (yearly.csv: a row per run, year and series) repeats a few
            # names: look at each distinct value once, and rewrite only what needs it
            distinct = pd.unique(out[col])
            unsafe = {
                v: "'" + v for v in distinct if isinstance(v, str) and v != spreadsheet_text(v)
            }
            if unsafe:
                out[col] = out[col].astype(object).replace(unsafe)
    header = [spreadsheet_text(str(c)) if isinstance(c, str) else c for c in out.columns]
    out.columns = header
    return out


def safe_workbook(book: Workbook) -> None:
    """Make every text cell of `book` plain text that can never become a formula.

    openpyxl stores any string that starts with "=" as a live formula; this runs over
    every cell just before saving, so no writer can forget it.
    """
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or isinstance(cell.value, str):
                    text = spreadsheet_text(str(cell.value))
                    cell.value = text
                    cell.data_type = "s"


def markdown_text(value: Any) -> str:
    """User text for a markdown page: no HTML, no links, no table breaks, no emphasis."""
    text = html.escape(str(value), quote=False)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text.replace("\r", " ").replace("\n", " ")


def markdown_code(value: Any) -> str:
    """Text as a markdown code span whose fence no backtick inside can close."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_block(value: Any) -> list[str]:
    """Text as a fenced markdown code block (a command line), fence longer than any inside."""
    text = str(value)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]
