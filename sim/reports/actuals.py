"""The council's own published figures, set beside a run: `actuals.csv`.

A scenario folder may hold `actuals.csv`: figures the council has published (children in
care on 31 March, entries in a year, ...), one a row, with columns
`measure,date,value,low,high,source,note` (`low,high` for a figure given as a range; a
row gives `value` or both `low` and `high`). The file is found beside the scenario file,
or beside a file it `extends`: an option in the baseline's folder uses the baseline's
figures.

A measure is named after the run's series, `<metric>_<group>` as in summary.csv:

- a stock (`in_care_total`, `in_care_ifa`, `uasc_in_care_all`, `staying_put_all`,
  `places_supported`, `unmet_children_total`, ...) is the count at the end of the month
  of `date`;
- a flow (`entries_total`, `exits_total`, `recruited_in_house_foster`, `cost_total`, ...)
  is the sum over the 12 months ending with the month of `date` (a collection year is
  given by its last day, 2024-03-31 for 2023/24);
- groups joined by `+` are added up (`in_care_external_home+external_block`);
- `pct_` before a stock is its share of the metric's total, in per cent
  (`pct_in_care_kinship`);
- `share_3plus_placements` is the DfE year-end measure, in per cent, for the run year
  ending at `date`.

`date` is the last day of a month (YYYY-MM-DD); lines starting with `#` are comments.
`total` means the metric's total series, its `all` series where it has no total, or else
the sum of its groups.

A run is judged against a figure by its 80% band (10th to 90th percentile of the
replications) at that date: a value is covered when it lies inside the band, a range
when it overlaps the band.

The file is read with the care of any user file: a regular file of at most 1 MB, UTF-8;
a mistake is a ScenarioError naming the file, row and column.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..common import inputs
from ..common.errors import ScenarioError
from ..engine.metrics import UNMET_SETTINGS, YEARLY

if TYPE_CHECKING:
    from ..engine.metrics import Layout
    from ..runs.montecarlo import Results

FILE_NAME = "actuals.csv"
MAX_BYTES = 1_000_000
COLUMNS = ("measure", "date", "value", "low", "high", "source", "note")
REQUIRED = ("measure", "date", "source")
#: monthly metrics counted at a month end
STOCKS = (
    "in_care",
    "in_care_by_location",
    "in_care_by_needs",
    "places",
    "vacancies",
    "households",
    "unmet_children",
    "staying_put",
    "uasc_in_care",
    "waiting_for_placement",
    "unregistered",
    *UNMET_SETTINGS,
)
#: monthly metrics summed over the year ending at the date
FLOWS = (
    "entries",
    "exits",
    "moves",
    "needs_changed",
    "unmet_new",
    "unmet_child_days",
    "cost",
    "child_days",
    "recruited",
    "deregistered",
    "enquiries",
    "homes_closed_at_random",
    "beds_cut",
    "sibling_splits",
)
#: yearly measures given in per cent in the file (the run keeps them as fractions)
YEARLY_PERCENT = ("share_3plus_placements",)
PCT = "pct_"
EXPECTED_MEASURE = (
    "<metric>_<group> of a run's series (e.g. in_care_total, entries_total, "
    "in_care_external_home), pct_<stock>_<group>, or share_3plus_placements"
)


@dataclass(frozen=True)
class PublishedFigure:
    """One row of actuals.csv."""

    measure: str
    date: dt.date
    value: float | None
    low: float | None
    high: float | None
    source: str
    note: str
    line: int  # line of the file, for messages

    @property
    def month(self) -> str:
        """The run's label of the month the figure falls in, e.g. '2024-03'."""
        return f"{self.date.year:04d}-{self.date.month:02d}"

    @property
    def is_range(self) -> bool:
        """Whether the council published a range (low to high) rather than one value."""
        return self.value is None

    @property
    def unit(self) -> str:
        """'%', '£' or 'children' (any other count): how the figure is shown."""
        if self.measure.startswith(PCT) or self.measure in YEARLY_PERCENT:
            return "%"
        if self.measure.startswith("cost_"):
            return "£"
        return "children"


@dataclass(frozen=True)
class Actuals:
    """The published figures of a scenario folder."""

    path: Path
    figures: tuple[PublishedFigure, ...]


@dataclass(frozen=True)
class Check:
    """A published figure against a run: the run's value per replication at its date.

    `values` is None when the run cannot say: the date is before the run starts
    (`where` = "before"), after it ends ("after"), or its year is not all inside the
    run ("part").
    """

    figure: PublishedFigure
    values: np.ndarray | None
    where: str  # "in", "before", "after" or "part"
    month_index: int | None

    def band(self) -> tuple[float, float, float]:
        """Median, 10th and 90th percentile of the run at the figure's date."""
        assert self.values is not None
        med = float(np.nanmedian(self.values))
        p10, p90 = (float(v) for v in np.nanpercentile(self.values, [10, 90]))
        return med, p10, p90

    @property
    def inside(self) -> bool | None:
        """Whether the run's 80% band covers the figure (None when not comparable)."""
        if self.values is None:
            return None
        _, p10, p90 = self.band()
        f = self.figure
        if f.value is not None:
            return p10 <= f.value <= p90
        assert f.low is not None and f.high is not None
        return f.low <= p90 and f.high >= p10


# =========================================================================== finding


def find(scenario_files: tuple[tuple[Path, str], ...] | list[Path]) -> Path | None:
    """actuals.csv beside the scenario file, else beside the files it extends.

    `scenario_files` is `LoadedScenario.files` or `Results.scenario_files` ((path, text),
    base first) or a list of paths, base first; the scenario's own folder is tried first.
    """
    paths = [f[0] if isinstance(f, tuple) else f for f in scenario_files]
    seen: set[Path] = set()
    for p in reversed(paths):
        folder = Path(p).parent
        if folder in seen:
            continue
        seen.add(folder)
        candidate = folder / FILE_NAME
        if os.path.lexists(candidate):
            return candidate
    return None


def for_results(results: Results) -> tuple[Actuals, list[Check]] | None:
    """The published figures beside the run's scenario, checked against the run."""
    path = find(results.scenario_files)
    if path is None:
        return None
    actuals = read(path)
    return actuals, checks(actuals, results)


def check_scenario(scenario_files: tuple[tuple[Path, str], ...], layout: Layout) -> None:
    """Read the scenario's actuals.csv, if any, and check its measures name the
    scenario's series, before a long run rather than after it."""
    path = find(scenario_files)
    if path is None:
        return
    actuals = read(path)
    for f in actuals.figures:
        _series(actuals.path, f, layout)


# =========================================================================== reading


def read(path: str | Path) -> Actuals:
    """The figures of one actuals.csv; a user's mistake is a ScenarioError."""
    path = Path(path)
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        for r in reader:
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#"):
                rows.append((reader.line_num, r))
    except csv.Error as exc:
        raise ScenarioError(path, f"is not valid CSV ({exc})", line=reader.line_num) from None
    if not rows:
        raise ScenarioError(path, "is empty", expected="a header line: " + ",".join(COLUMNS))
    head_line, head = rows[0]
    header = [h.strip().lower() for h in head]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ScenarioError(
            path, f"unknown column {unknown[0]!r}", line=head_line, expected=", ".join(COLUMNS)
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ScenarioError(
            path, f"no column {missing[0]!r}", line=head_line, expected=", ".join(COLUMNS)
        )
    if len(set(header)) != len(header):
        raise ScenarioError(path, "a column appears twice", line=head_line)
    figures = []
    seen: dict[tuple[str, dt.date], int] = {}
    for line, row in rows[1:]:
        if len(row) > len(header):
            raise ScenarioError(
                path,
                f"{len(row)} fields, but the header has {len(header)} columns",
                line=line,
                expected="a comma inside a note or source to be in double quotes",
            )
        cells = dict(zip(header, [c.strip() for c in row], strict=False))
        f = _figure(path, line, cells)
        key = (f.measure, f.date)
        if key in seen:
            raise ScenarioError(
                path,
                f"{f.measure} on {f.date} is given twice (also on line {seen[key]})",
                key="measure",
                line=line,
            )
        seen[key] = line
        figures.append(f)
    return Actuals(path=path, figures=tuple(figures))


def _figure(path: Path, line: int, cells: dict[str, str]) -> PublishedFigure:
    for column in REQUIRED:
        if not cells.get(column):
            raise ScenarioError(path, f"no {column}", key=column, line=line)
    measure = cells["measure"]
    if _parse_measure(measure) is None:
        raise ScenarioError(
            path,
            f"unknown measure {measure!r}",
            key="measure",
            line=line,
            expected=EXPECTED_MEASURE,
        )
    date = _date(path, line, cells["date"])
    value, low, high = (_number(path, line, cells, c) for c in ("value", "low", "high"))
    if value is None and (low is None or high is None):
        raise ScenarioError(
            path, "no value", key="value", line=line, expected="a value, or both low and high"
        )
    if value is not None and (low is not None or high is not None):
        raise ScenarioError(
            path,
            "both a value and a range",
            key="value",
            line=line,
            expected="a value, or low and high, not both",
        )
    if low is not None and high is not None and low > high:
        raise ScenarioError(path, f"low {low:g} is above high {high:g}", key="low", line=line)
    return PublishedFigure(
        measure=measure,
        date=date,
        value=value,
        low=low,
        high=high,
        source=cells["source"],
        note=cells.get("note", ""),
        line=line,
    )


def _date(path: Path, line: int, text: str) -> dt.date:
    expected = "the last day of a month, as YYYY-MM-DD (2024-03-31)"
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise ScenarioError(
            path, f"date {text!r} is not a date", key="date", line=line, expected=expected
        ) from None
    last = calendar.monthrange(date.year, date.month)[1]
    if date.day != last:
        raise ScenarioError(
            path,
            f"date {text} is not the last day of a month (the run counts at month ends)",
            key="date",
            line=line,
            expected=expected,
        )
    return date


def _number(path: Path, line: int, cells: dict[str, str], column: str) -> float | None:
    text = cells.get(column, "").replace(",", "")
    if not text:
        return None
    try:
        v = float(text.removesuffix("%"))
    except ValueError:
        raise ScenarioError(
            path, f"{column} {text!r} is not a number", key=column, line=line, expected="a number"
        ) from None
    if not np.isfinite(v) or v < 0:
        raise ScenarioError(
            path,
            f"{column} {text!r} is not a number of 0 or more",
            key=column,
            line=line,
            expected="a number of 0 or more",
        )
    return v


def _read_text(path: Path) -> str:
    """The file's text, read only if it is a regular UTF-8 file of at most 1 MB; checked
    before it is opened, so a named pipe never blocks and a device is never read."""
    expected = "a regular CSV file of at most 1 MB"
    try:
        real = path.resolve()
        info = os.stat(real)
    except (OSError, RuntimeError) as exc:
        problem = getattr(exc, "strerror", None) or "its symbolic links go round in a loop"
        raise ScenarioError(path, f"cannot be read ({problem})", expected=expected) from None
    inputs.note(real)
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
        raise ScenarioError(path, f"is not a regular file (it is {kind})", expected=expected)
    if info.st_size > MAX_BYTES:
        raise ScenarioError(path, "is larger than 1 MB", expected=expected)
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_CLOEXEC", "O_NOFOLLOW"):
        flags |= getattr(os, name, 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise ScenarioError(path, f"cannot be read ({exc.strerror})", expected=expected) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since it was checked
            raise ScenarioError(path, "is not a regular file", expected=expected)
        data = os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise ScenarioError(path, "is larger than 1 MB", expected=expected)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError(path, "is not a UTF-8 text file", expected=expected) from None


# =========================================================================== measures


def _parse_measure(measure: str) -> tuple[str, str, str, bool] | None:
    """(kind, metric, groups, percent) of a measure name, or None if it names nothing.

    kind is "stock", "flow" or "yearly"; groups may hold '+'.
    """
    if measure in YEARLY:
        return "yearly", measure, "", measure in YEARLY_PERCENT
    percent = measure.startswith(PCT)
    name = measure.removeprefix(PCT)
    # the longest metric first: in_care_by_location_... before in_care_...
    for metric in sorted(STOCKS + FLOWS, key=len, reverse=True):
        if name.startswith(metric + "_"):
            groups = name[len(metric) + 1 :]
            if not groups or any(not g for g in groups.split("+")):
                return None
            kind = "stock" if metric in STOCKS else "flow"
            if percent and kind != "stock":
                return None
            return kind, metric, groups, percent
    return None


def _series(path: Path, f: PublishedFigure, layout: Layout) -> list[int]:
    """Positions of the series a figure adds up (empty for a yearly measure)."""
    parsed = _parse_measure(f.measure)
    assert parsed is not None  # checked when read
    kind, metric, groups, _ = parsed
    if kind == "yearly":
        return []
    return _groups(path, f, layout, metric, groups)


def _groups(path: Path, f: PublishedFigure, layout: Layout, metric: str, groups: str) -> list[int]:
    cols = dict(layout.columns(metric))
    if groups == "total":
        for name in ("total", "all"):
            if name in cols:
                return [cols[name]]
        return list(cols.values())
    out = []
    for g in groups.split("+"):
        if g not in cols:
            known = ", ".join(["total", *[c for c in cols if c != "total"]])
            raise ScenarioError(
                path,
                f"measure {f.measure}: the run has no {metric} series {g!r}",
                key="measure",
                line=f.line,
                expected=f"one of {known}",
            )
        out.append(cols[g])
    return out


# =========================================================================== against a run


def checks(actuals: Actuals, results: Results) -> list[Check]:
    """Each published figure with the run's values at its date, in file order."""
    months = list(results.months)
    position = {m: i for i, m in enumerate(months)}
    out = []
    for f in actuals.figures:
        kind, metric, _, percent = _parse_measure(f.measure)  # type: ignore[misc]
        idx = _series(actuals.path, f, results.layout)  # every row names a series of the run
        i = position.get(f.month)
        if i is None:
            where = "before" if f.month < months[0] else "after"
            out.append(Check(f, None, where, None))
            continue
        if kind == "yearly":
            # the run's years are blocks of 12 months from the start
            if (i + 1) % 12 != 0:
                out.append(Check(f, None, "part", i))
                continue
            values = results.yearly_series(metric)[:, i // 12].astype(float)
            out.append(Check(f, values * (100.0 if percent else 1.0), "in", i))
            continue
        if kind == "flow":
            if i < 11:
                out.append(Check(f, None, "part", i))
                continue
            values = np.sum(
                [results.store.series(j)[:, i - 11 : i + 1].sum(axis=1) for j in idx], axis=0
            )
        else:
            values = np.sum([results.store.series(j)[:, i] for j in idx], axis=0)
            if percent:
                totals = _groups(actuals.path, f, results.layout, metric, "total")
                whole = np.sum([results.store.series(j)[:, i] for j in totals], axis=0)
                values = np.where(whole > 0, values * 100.0 / np.maximum(whole, 1), np.nan)
        out.append(Check(f, np.asarray(values, dtype=float), "in", i))
    return out


def chart_points(found: list[Check], measure: str) -> list[Check]:
    """The figures of one measure that fall inside the run or just before it (the
    starting point), for a chart of that measure."""
    return [c for c in found if c.figure.measure == measure and c.where in ("in", "before")]
