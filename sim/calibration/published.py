"""calibrate --published: a council's scenario from its DfE published figures.

Most councils in a region are known only by the published tables ("Children looked after
in England including adoptions"), not by their SSDA903 records. This module reads a small
table of those figures (the format is in docs/published-figures.md), checks every row, and
turns the template scenario into the council's: the starting population sized to the
stated children in care and split by age band and placement type (the joint table is not
published, so the template's own age-by-placement pattern is raked to the stated margins),
entries a year and their ages from the table, exit rates by route fitted by short
simulations so that the stated exits are reproduced, and capacity scaled to the council's
size. Every number written says whether it came from the published table or the template.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..common.errors import ScenarioError, UserError
from ..scenario.ages import AGE_BANDS, BAND_NAMES
from ..scenario.load import LoadedScenario
from ..scenario.uncertain import is_interval
from .fit import check_month_end
from .packaged import PUBLISHED_MAP

KeyPath = tuple[str | int, ...]

HEADER = ["year_ending", "measure", "breakdown", "value", "source"]
#: DfE suppression and "not applicable" marks: the figure is not published.
SUPPRESSED = frozenset({"", "c", "x", "z", "[c]", "[x]", "[z]", "..", ":", "-"})
PLACEMENTS = (
    "kinship",
    "foster",
    "in_house_foster",
    "ifa",
    "children_home",
    "secure",
    "supported",
    "with_parents",
    "placed_for_adoption",
    "other",
)
REASONS = ("adoption", "sgo", "cao", "return_home", "age_18", "other")
AGES = tuple(f"age:{b}" for b in BAND_NAMES)
#: measure -> (its breakdowns, "count" or "percent")
MEASURES: dict[str, tuple[tuple[str, ...], str]] = {
    "in_care": (("total", *AGES, *(f"placement:{p}" for p in PLACEMENTS)), "count"),
    "entries": (("total", *AGES), "count"),
    "exits": (("total", *(f"reason:{r}" for r in REASONS)), "count"),
    "stability": (("three_or_more_placements", "long_term_stability"), "percent"),
    "distance": (("over_20_miles",), "percent"),
    "uasc": (("in_care",), "count"),
}
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+")

#: replications and seed of the short simulations that fit the exit rates and entries
FIT_REPS = 40
FIT_SEED = 16
FIT_ROUNDS = 8
#: replications of the check written to the report (a different seed from the fit's)
CHECK_REPS = 100
CHECK_SEED = 1603


class PublishedError(UserError):
    """A published-figures table that cannot be used: every problem, one per line."""


@dataclass(frozen=True)
class Figure:
    """One row of the table: where it is, what it says and where it comes from."""

    line: int
    year: dt.date
    measure: str
    breakdown: str
    value: float | None  # None: suppressed (not published)
    text: str
    source: str

    @property
    def key(self) -> tuple[str, str]:
        """(measure, breakdown), e.g. ("in_care", "age:10-15")."""
        return (self.measure, self.breakdown)

    @property
    def name(self) -> str:
        """The row as the table writes it, e.g. 'in_care,placement:kinship'."""
        return f"{self.measure},{self.breakdown}"


@dataclass
class Table:
    """The figures of a table, checked."""

    path: Path
    figures: list[Figure]

    def years(self) -> list[dt.date]:
        """The year_ending dates that give the children in care, oldest first."""
        return sorted(
            {f.year for f in self.figures if f.key == ("in_care", "total") and f.value is not None}
        )

    def of(self, year: dt.date) -> dict[tuple[str, str], Figure]:
        """Every figure of one year by (measure, breakdown), suppressed ones included."""
        return {f.key: f for f in self.figures if f.year == year}


def _problem(path: Path, line: int, column: str, problem: str, expected: str) -> str:
    return ScenarioError(
        path, problem, key=f"column {column}", line=line, expected=expected
    ).render()


def read_table(path: Path | str) -> Table:
    """Read and check a published-figures CSV; raise PublishedError listing every bad row.

    Each problem names the file, line, column and what is expected: unknown measures and
    breakdowns, numbers that are not numbers, negative counts, percentages over 100,
    parts that add up to more than their total, a year without `in_care,total`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PublishedError(f"{path}: no such file (expected a published-figures CSV)") from None
    except UnicodeDecodeError:
        raise PublishedError(f"{path}: is not UTF-8 text (expected a CSV saved as UTF-8)") from None
    except OSError as exc:
        raise PublishedError(f"{path}: cannot be read ({exc.strerror})") from None
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1)]
    body = [(i, ln) for i, ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise PublishedError(f"{path}: holds no rows (expected the header {','.join(HEADER)})")
    head_line, head = body[0]
    header = [c.strip().lower() for c in next(csv.reader([head]))]
    if header != HEADER:
        raise PublishedError(
            f"{path}:{head_line}: the header is {','.join(header)!r} "
            f"(expected exactly {','.join(HEADER)})"
        )
    problems: list[str] = []
    figures: list[Figure] = []
    seen: dict[tuple[dt.date, str, str], int] = {}
    for line, raw in body[1:]:
        cells = next(csv.reader([raw]))
        if len(cells) != len(HEADER):
            problems.append(
                f"{path}:{line}: has {len(cells)} columns (expected {len(HEADER)}: "
                f"{','.join(HEADER)}; quote a source that contains a comma)"
            )
            continue
        fig = _read_row(path, line, [c.strip() for c in cells], problems)
        if fig is None:
            continue
        where = (fig.year, fig.measure, fig.breakdown)
        if where in seen:
            problems.append(
                _problem(
                    path,
                    line,
                    "breakdown",
                    f"{fig.name} for {fig.year} is given twice (also on line {seen[where]})",
                    "one row per year, measure and breakdown",
                )
            )
            continue
        seen[where] = line
        figures.append(fig)
    table = Table(path, figures)
    if not problems:
        problems += _check_parts(table)
    if not problems and not table.years():
        problems.append(
            f"{path}: no year gives in_care,total (expected a row such as "
            "'2023-03-31,in_care,total,640,<source>': the children looked after at 31 March "
            "size the scenario)"
        )
    if problems:
        raise PublishedError("\n".join(problems))
    return table


def _read_row(path: Path, line: int, cells: list[str], problems: list[str]) -> Figure | None:
    """One row as a Figure, or None with its problems added."""
    year_text, measure, breakdown, value_text, source = cells
    before = len(problems)
    try:
        year = dt.date.fromisoformat(year_text)
    except ValueError:
        problems.append(
            _problem(
                path,
                line,
                "year_ending",
                f"{year_text!r} is not a date",
                "YYYY-MM-DD, e.g. 2023-03-31",
            )
        )
        year = dt.date.min
    measure, breakdown = measure.lower(), breakdown.lower()
    kind = "count"
    if measure not in MEASURES:
        problems.append(
            _problem(
                path,
                line,
                "measure",
                f"unknown measure {measure!r}",
                "one of " + ", ".join(MEASURES),
            )
        )
    else:
        allowed, kind = MEASURES[measure]
        if breakdown not in allowed:
            problems.append(
                _problem(
                    path,
                    line,
                    "breakdown",
                    f"unknown breakdown {breakdown!r} for {measure}",
                    "one of " + ", ".join(allowed),
                )
            )
    if not source:
        problems.append(
            _problem(
                path,
                line,
                "source",
                "no source given",
                "the document, table and page the figure is from",
            )
        )
    value: float | None = None
    if value_text.lower() not in SUPPRESSED:
        number = value_text.replace(",", "") if _THOUSANDS.fullmatch(value_text) else value_text
        try:
            value = float(number)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            what = (
                "a whole number of children"
                if kind == "count"
                else "a percentage from 0 to 100 (no %)"
            )
            problems.append(
                _problem(
                    path,
                    line,
                    "value",
                    f"{value_text!r} is not a number",
                    f"{what}, or a DfE suppression mark (c, x, z, [c], blank)",
                )
            )
        else:
            if value < 0:
                problems.append(
                    _problem(path, line, "value", f"{value_text} is negative", "0 or more")
                )
            elif kind == "count" and value != int(value):
                problems.append(
                    _problem(
                        path,
                        line,
                        "value",
                        f"{value_text} is not a whole number",
                        "a count of children",
                    )
                )
            elif kind == "percent" and value > 100:
                problems.append(
                    _problem(
                        path,
                        line,
                        "value",
                        f"{value_text} is over 100",
                        "a percentage from 0 to 100",
                    )
                )
    if len(problems) > before:
        return None
    return Figure(line, year, measure, breakdown, value, value_text, source)


def _check_parts(table: Table) -> list[str]:
    """Parts (age bands, placement types, reasons) that add up to more than their total."""
    out: list[str] = []
    fosters = [("in_care", "placement:in_house_foster"), ("in_care", "placement:ifa")]
    for year in sorted({f.year for f in table.figures}):
        figs = table.of(year)
        top = [
            ("in_care", f"placement:{p}") for p in PLACEMENTS if p not in ("in_house_foster", "ifa")
        ]
        if ("in_care", "placement:foster") not in figs:  # foster care given by its parts
            top = [k for k in top if k != ("in_care", "placement:foster")] + fosters
        groups: list[tuple[tuple[str, str], list[tuple[str, str]]]] = [
            (("in_care", "total"), [("in_care", a) for a in AGES]),
            (("in_care", "total"), top),
            (("in_care", "placement:foster"), fosters),
            (("entries", "total"), [("entries", a) for a in AGES]),
            (("exits", "total"), [("exits", f"reason:{r}") for r in REASONS]),
            (("in_care", "total"), [("uasc", "in_care")]),
        ]
        for total_key, parts in groups:
            total = figs.get(total_key)
            given = [figs[k] for k in parts if k in figs and figs[k].value is not None]
            if total is None or total.value is None or not given:
                continue
            s = sum(f.value or 0.0 for f in given)
            if s > total.value:
                lines = ", ".join(str(f.line) for f in given)
                out.append(
                    _problem(
                        table.path,
                        total.line,
                        "value",
                        f"{year}: {' + '.join(f.name for f in given)} (lines {lines}) add up to "
                        f"{s:g}, more than {total.name} = {total.value:g}",
                        "parts that add up to no more than their total",
                    )
                )
    return out


# =========================================================================== the scenario


@dataclass
class Used:
    """A figure and what the scenario used it for (for the report)."""

    figure: Figure
    use: str


@dataclass
class Check:
    """A stated figure beside what the scenario's simulations give over its first year."""

    what: str
    stated: float | None
    median: float
    low: float
    high: float
    source: str


@dataclass
class PublishedCalibration:
    """A scenario built from published figures, with what each number rests on."""

    scenario: dict[str, Any]
    comments: dict[KeyPath, str]
    table: Table
    at: dt.date
    used: list[Used] = field(default_factory=list)
    suppressed: list[Figure] = field(default_factory=list)
    from_template: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    factors: dict[str, float] = field(default_factory=dict)
    population: dict[str, dict[str, int]] = field(default_factory=dict)
    check_reps: int = 0
    #: all entries (UASC included) by age band, stated or the template's share; {} if none
    entry_bands: dict[str, float] = field(default_factory=dict)
    #: every row of the year used, suppressed ones included
    figures: dict[tuple[str, str], Figure] = field(default_factory=dict)

    def missing(self, key: tuple[str, str]) -> str:
        """Why the table gives no figure: suppressed on a line, or not given at all."""
        f = self.figures.get(key)
        if f is not None and f.value is None:
            return f"suppressed in the table (line {f.line}: {f.text or 'blank'!r})"
        return "not in the table"


def read_map(path: Path | None = None) -> dict[str, Any]:
    """The published-categories map (default: the packaged published_map.toml)."""
    path = Path(path) if path else PUBLISHED_MAP
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PublishedError(f"{path}: cannot be read as a published-figures map ({exc})") from None


def calibrate_published(
    table: Table,
    template: LoadedScenario,
    at: dt.date | None = None,
    mapping: dict[str, Any] | None = None,
    name: str | None = None,
    fit_reps: int = FIT_REPS,
    check_reps: int = CHECK_REPS,
) -> PublishedCalibration:
    """Build the council's scenario from the table's figures for `at` (default: the latest
    year_ending with children in care), fit its exits, and check it by simulation."""
    years = table.years()
    if at is None:
        at = years[-1]
    elif at not in years:
        given = ", ".join(str(y) for y in years)
        raise PublishedError(
            f"{table.path}: --at {at} has no in_care,total row (expected one of the years the "
            f"table gives the children in care for: {given})"
        )
    check_month_end(at)
    mapping = mapping or read_map()
    raw = copy.deepcopy(template.raw)
    raw.pop("extends", None)
    figs = {k: f for k, f in table.of(at).items()}
    cal = PublishedCalibration(scenario=raw, comments={}, table=table, at=at, figures=figs)
    cal.suppressed = [f for f in figs.values() if f.value is None]
    stated = {k: f for k, f in figs.items() if f.value is not None}
    s = template.model
    t_pop = {
        pid: {b: float(g.by_age.get(b, 0)) for b in BAND_NAMES} for pid, g in s.population.items()
    }
    n0 = sum(sum(r.values()) for r in t_pop.values())
    total = stated[("in_care", "total")]
    n = float(total.value or 0.0)
    if n0 <= 0:
        raise PublishedError(f"{template.path}: the template has no starting population to scale")
    scale = n / n0
    cal.factors["size"] = scale
    cal.used.append(Used(total, "children in care on the start date; sizes places and UASC cap"))
    _population(cal, stated, s, mapping, t_pop, n)
    _uasc(cal, stated, s, scale)
    _supply(cal, s, scale, total)
    _entries(cal, stated, s)
    for f in stated.values():
        if f.measure == "distance" or (f.measure, f.breakdown) == (
            "stability",
            "long_term_stability",
        ):
            cal.used.append(Used(f, "checked against the simulation (not fitted)"))
    _fit(cal, stated, mapping, fit_reps)
    start = at + dt.timedelta(days=1)
    raw["scenario"]["start_date"] = start
    raw["scenario"]["name"] = name or f"{table.path.stem} (from published figures to {at})"
    raw["scenario"]["description"] = (
        f"Estimated from the council's published figures for the year to "
        f"{at.day} {at:%B %Y} ({table.path.name}); what they do not give is England's "
        f"(the template, {template.path.name})."
    )
    cal.comments[("scenario", "start_date")] = f"from the published table: the day after {at}"
    cal.comments[("scenario", "name")] = "from --name, or from the published table's file name"
    cal.comments[("scenario", "description")] = "from the published table's file name and year"
    _tag_template(cal, template)
    _check(cal, stated, mapping, check_reps)
    return cal


# --------------------------------------------------------------------------- population


def _margin(
    stated: dict[str, float], template: dict[str, float], total: float
) -> tuple[dict[str, float], list[str]]:
    """Counts per category summing to `total`: the stated ones as stated, the rest sharing
    what is left in the template's proportions. Returns the counts and the categories
    that came from the template."""
    out = {c: stated[c] for c in template if c in stated}
    rest = [c for c in template if c not in stated]
    left = max(0.0, total - sum(out.values()))
    weight = sum(template[c] for c in rest)
    if rest and weight > 0:
        for c in rest:
            out[c] = left * template[c] / weight
    elif left > 0 and sum(out.values()) > 0:  # every category stated, short of the total
        given = sum(out.values())
        out = {c: v * total / given for c, v in out.items()}
    else:
        for c in rest:
            out[c] = 0.0
    return out, rest


def _allowed(spec: Any) -> list[bool]:
    """Whether each age band overlaps the ages a provision takes (last resort included)."""
    ranges = [r for r in (spec.ages, getattr(spec, "last_resort_ages", None)) if r is not None]
    if not ranges:
        return [True] * len(BAND_NAMES)
    return [
        any(AGE_BANDS[b][0] < r.max_age and AGE_BANDS[b][1] > r.min_age for r in ranges)
        for b in BAND_NAMES
    ]


def rake(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray, rounds: int = 200) -> np.ndarray:
    """Iterative proportional fitting: scale `seed` until its row and column sums match
    `rows` and `cols` (as closely as its zero cells allow); why: the joint age-by-placement
    table is not published, so the template's pattern is kept as far as the margins allow."""
    x = seed.astype(float).copy()
    for _ in range(rounds):
        r = x.sum(axis=1)
        x *= np.divide(rows, r, out=np.zeros_like(rows), where=r > 0)[:, None]
        c = x.sum(axis=0)
        x *= np.divide(cols, c, out=np.zeros_like(cols), where=c > 0)[None, :]
    return x


def largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers summing to `total`, each the floor or ceiling of its value (scaled)."""
    v = np.asarray(values, dtype=float)
    if total <= 0 or v.sum() <= 0:
        return np.zeros(len(v), dtype=int)
    v = v * total / v.sum()
    base = np.floor(v).astype(int)
    short = total - int(base.sum())
    order = np.argsort(-(v - base), kind="stable")
    base[order[:short]] += 1
    return base


def _population(
    cal: PublishedCalibration,
    stated: dict[tuple[str, str], Figure],
    s: Any,
    mapping: dict[str, Any],
    t_pop: dict[str, dict[str, float]],
    n: float,
) -> None:
    src = stated[("in_care", "total")].source
    place_map: dict[str, list[str]] = {
        c: [p for p in entry.get("provisions", []) if p in s.provision]
        for c, entry in mapping.get("placement", {}).items()
    }
    cats = [c for c in PLACEMENTS if c != "foster" and c in place_map]
    # a provision's template children count in the first category listing it (the map
    # may send a category the template lacks, e.g. "other", to an existing provision)
    owner: dict[str, str] = {}
    for c in cats:
        for p in place_map[c]:
            owner.setdefault(p, c)
    t_cat = {
        c: sum(sum(t_pop.get(p, {}).values()) for p in place_map[c] if owner[p] == c) for c in cats
    }
    given: dict[str, float] = {}
    for c in cats:
        f = stated.get(("in_care", f"placement:{c}"))
        if f is not None:
            given[c] = float(f.value or 0.0)
            cal.used.append(Used(f, f"children placed in {c} on the start date"))
    foster = stated.get(("in_care", "placement:foster"))
    if foster is not None:
        cal.used.append(
            Used(foster, "children in foster care (in-house and IFA) on the start date")
        )
        parts = [c for c in ("in_house_foster", "ifa") if c in cats]
        known = [c for c in parts if c in given]
        missing = [c for c in parts if c not in given]
        left = float(foster.value or 0.0) - sum(given[c] for c in known)
        weight = sum(t_cat[c] for c in missing)
        for c in missing:
            given[c] = left * (t_cat[c] / weight if weight > 0 else 1 / len(missing))
        if missing:
            cal.notes.append(
                f"Foster care ({foster.value:g}) is split between {' and '.join(missing)} "
                + ("and the stated " + ", ".join(known) + " " if known else "")
                + "in the template's proportions: the table does not give the split."
            )
    cat_counts, rest = _margin(given, t_cat, n)
    for c in rest:
        cal.from_template.append(
            f"children in care placed in {c}: {cal.missing(('in_care', f'placement:{c}'))}; "
            f"what the stated placement types leave of the {n:g}, shared in the template's "
            f"proportions: {cat_counts[c]:.1f}"
        )
    # category -> provisions, in the template's proportions within the category
    rows: dict[str, float] = {}
    for c in cats:
        pids = place_map[c]
        w = np.array([sum(t_pop.get(p, {}).values()) for p in pids], dtype=float)
        if w.sum() <= 0:
            w = np.zeros(len(pids))
            w[0] = 1.0
        for p, share in zip(pids, w / w.sum(), strict=True):
            rows[p] = rows.get(p, 0.0) + cat_counts[c] * share
    pids = [p for p in rows if rows[p] > 0]
    t_age = {b: sum(r[b] for r in t_pop.values()) for b in BAND_NAMES}
    age_given = {}
    for b in BAND_NAMES:
        f = stated.get(("in_care", f"age:{b}"))
        if f is not None:
            age_given[b] = float(f.value or 0.0)
            cal.used.append(Used(f, f"children aged {b} in care on the start date"))
    ages, age_rest = _margin(age_given, t_age, n)
    for b in age_rest:
        cal.from_template.append(
            f"children in care aged {b}: {cal.missing(('in_care', f'age:{b}'))}; what the stated "
            f"age bands leave, shared in the template's proportions: {ages[b]:.1f}"
        )
    seed = np.zeros((len(pids), len(BAND_NAMES)))
    overall = np.array([t_age[b] for b in BAND_NAMES]) / max(sum(t_age.values()), 1.0)
    for i, p in enumerate(pids):
        ok = np.array(_allowed(s.provision[p]), dtype=float)
        base = np.array([t_pop.get(p, {}).get(b, 0.0) for b in BAND_NAMES])
        if base.sum() <= 0:  # a provision the template has nobody in: the overall ages
            base = overall * ok
        # a little weight in every band the provision takes, so that the margins can be met
        seed[i] = base + 0.02 * base.sum() / max(ok.sum(), 1.0) * ok * (base == 0)
    row_t = np.array([rows[p] for p in pids])
    col_t = np.array([ages[b] for b in BAND_NAMES])
    fitted = rake(seed, row_t, col_t)
    whole_rows = largest_remainder(row_t, round(n))
    pop: dict[str, Any] = {}
    old = cal.scenario.get("population", {})
    for i, p in enumerate(pids):
        cells = largest_remainder(fitted[i], int(whole_rows[i]))
        by_age = {b: int(c) for b, c in zip(BAND_NAMES, cells, strict=True) if c}
        if not by_age:
            continue
        group: dict[str, Any] = {"by_age": by_age}
        prev = old.get(p, {})
        for key in ("needs", "uasc_share", "disability_share", "max_years_in_care"):
            if key in prev:
                group[key] = copy.deepcopy(prev[key])
        if "needs" not in group:
            levels = list(s.provision[p].needs)
            group["needs"] = {lv: round(1 / len(levels), 4) for lv in levels}
            cal.comments[("population", p, "needs")] = (
                "assumption: the template has no child here, so equal shares of the needs "
                "levels the provision takes"
            )
        pop[p] = group
        cal.population[p] = by_age
        cal.comments[("population", p, "by_age")] = (
            f"from the published table: {sum(by_age.values())} children, the stated children "
            f"in care by placement type and by age band ({src}), joined by raking the "
            "template's age-by-placement pattern (the joint table is not published)"
        )
    cal.scenario["population"] = pop
    achieved = {b: sum(g.get(b, 0) for g in cal.population.values()) for b in BAND_NAMES}
    cal.notes.append(
        "The starting population's age-by-placement table is not published: the template's "
        "own pattern was raked (iterative proportional fitting) to the stated placement "
        "types and age bands, then rounded to whole children (each placement type exact; "
        "ages by age band "
        + ", ".join(
            f"{b} {achieved[b]} (stated or template share {ages[b]:.1f})" for b in BAND_NAMES
        )
        + ")."
    )


def _uasc(
    cal: PublishedCalibration, stated: dict[tuple[str, str], Figure], s: Any, scale: float
) -> None:
    raw = cal.scenario
    u = raw.get("entries", {}).get("uasc")
    f = stated.get(("uasc", "in_care"))
    implied = sum(
        float(g.get("uasc_share", 0.0)) * sum(g["by_age"].values())
        for g in raw["population"].values()
    )
    if f is not None:
        cal.used.append(Used(f, "UASC in care on the start date; scales UASC arrivals"))
        target = float(f.value or 0.0)
        if implied > 0:
            k = target / implied
            for pid, g in raw["population"].items():
                if g.get("uasc_share"):
                    g["uasc_share"] = round(min(1.0, g["uasc_share"] * k), 4)
                    cal.comments[("population", pid, "uasc_share")] = (
                        f"from the published table: the template's share x {k:.3f} so that "
                        f"about {target:g} UASC are in care ({f.source})"
                    )
        elif target > 0:
            cal.notes.append(
                f"The table gives {target:g} UASC in care, but the template places none in its "
                "starting population: UASC arrive only from the start date."
            )
    else:
        cal.from_template.append(
            f"UASC in care: {cal.missing(('uasc', 'in_care'))}; the template's shares of "
            "each placement"
        )
    if u:
        if "per_year" in u:
            u["per_year"] = round(float(u["per_year"]) * scale, 2)
            cal.comments[("entries", "uasc", "per_year")] = (
                f"from the template, x {scale:.3f} (the stated children in care over the "
                "template's): UASC arrivals are not in the published table; the cap below "
                "limits how many arrive"
            )
        if u.get("cap") is not None:
            cap = max(math.ceil(u["cap"] * scale), int(f.value or 0) if f is not None else 0)
            u["cap"] = cap
            cal.comments[("entries", "uasc", "cap")] = (
                f"from the template, scaled by the children in care (x {scale:.3f}; the cap is "
                "0.1% of the child population, which grows with the council)"
            )


def _supply(cal: PublishedCalibration, s: Any, scale: float, total: Figure) -> None:
    """Households and homes: the template's, scaled to the council's size, and never fewer
    places than the children placed there on the start date."""
    prov = cal.scenario["provision"]
    before = round((total.value or 0.0) / scale) if scale else 0
    why = (
        f"from the template, scaled by the children in care (x {scale:.3f} = {total.value:g} "
        f"stated [{total.source}] / the template's {before}) so places fit a council of this "
        "size; replace with the council's own numbers"
    )
    dropped = []
    for pid, spec in s.provision.items():
        entry = prov[pid]
        children = sum(cal.population.get(pid, {}).values())
        if spec.kind == "foster":
            hh = entry.get("households") or []
            if not hh:
                continue
            new = [
                {**h, "count": max(1, round(h["count"] * scale)) if h["count"] else 0} for h in hh
            ]
            places = sum(h["count"] * h["places"] for h in new)
            if places < children and places > 0:
                k = children / places
                new = [{**h, "count": math.ceil(h["count"] * k)} for h in new]
            entry["households"] = new
            cal.comments[("provision", pid, "households")] = why
            if "recruitment_per_year" in entry:
                entry["recruitment_per_year"] = _scaled(entry["recruitment_per_year"], scale)
                cal.comments[("provision", pid, "recruitment_per_year")] = why
        elif spec.kind == "home":
            homes = entry.get("homes", [])
            fixed = [h for h in homes if not h.get("opens") and not h.get("closes")]
            dated = [h for h in homes if h.get("opens") or h.get("closes")]
            if dated:
                dropped.append(f"{pid} ({', '.join(h['name'] for h in dated)})")
            beds = sum(h["beds"] for h in fixed)
            if beds <= 0 and children <= 0:
                entry["homes"] = []
                continue
            size = max(1, fixed[0]["beds"]) if fixed else 3
            need = max(round(beds * scale), children)
            count = math.ceil(need / size)
            label = spec.label or pid
            entry["homes"] = [
                {"name": f"{label} {i + 1} (scaled)", "beds": size} for i in range(count)
            ]
            if count * size > need:
                entry["homes"][-1]["beds"] = need - (count - 1) * size
            cal.comments[("provision", pid, "homes")] = why
        elif getattr(spec, "max_children", None):
            entry["max_children"] = max(1, math.ceil(entry["max_children"] * scale))
            cal.comments[("provision", pid, "max_children")] = why
    if dropped:
        cal.notes.append(
            "Homes the template opens or closes on dates were left out (they are the "
            "template council's plans, not this council's): " + "; ".join(dropped) + "."
        )
    cal.notes.append(
        f"Supply (foster households and their recruitment, children's homes, caps on places "
        f"bought) is the template's scaled by {scale:.3f}, the stated children in care over "
        "the template's, and never fewer places than the children placed there on the start "
        "date: the published tables give no capacity. Replace with the council's own numbers."
    )


def _scaled(value: Any, k: float) -> Any:
    if is_interval(value):
        return {
            "median": round(float(value["median"]) * k, 3),
            "interval90": [round(float(x) * k, 3) for x in value["interval90"]],
        }
    return round(float(value) * k, 3)


# --------------------------------------------------------------------------- entries


def _entries(cal: PublishedCalibration, stated: dict[tuple[str, str], Figure], s: Any) -> None:
    e = cal.scenario["entries"]
    total = stated.get(("entries", "total"))
    uasc = e.get("uasc", {})
    u_year = float(uasc.get("per_year", 0.0))
    u_mix = uasc.get("age_mix", {"16-17": 1.0})
    if total is not None:
        cal.used.append(
            Used(total, "children starting care in a year (UASC included); entries.per_year fitted")
        )
        e["per_year"] = round(max(0.0, float(total.value or 0.0) - u_year), 2)
        # the fit below adjusts per_year so that all entries (UASC too) come out as stated
    else:
        cal.from_template.append(
            f"entries a year: {cal.missing(('entries', 'total'))}; the template's per_year"
        )
    t_mix = {b: float(s.entries.age_mix.get(b, 0.0)) for b in BAND_NAMES}
    given: dict[str, float] = {}
    for b in BAND_NAMES:
        f = stated.get(("entries", f"age:{b}"))
        if f is not None:
            given[b] = float(f.value or 0.0)
            cal.used.append(Used(f, f"entries aged {b}: entries.age_mix"))
    if given:
        n = float(total.value or 0.0) if total is not None else sum(given.values())
        # the template's non-UASC mix, with UASC added, is the pattern of all entries
        all_mix = {
            b: t_mix[b] * max(n - u_year, 0.0) + u_year * float(u_mix.get(b, 0.0))
            for b in BAND_NAMES
        }
        counts, rest = _margin(given, all_mix, n)
        cal.entry_bands = counts
        _set_age_mix(cal, u_year)
        srcs = sorted({stated[("entries", f"age:{b}")].source for b in given})
        cal.comments[("entries", "age_mix")] = (
            "from the published table: entries by age band ("
            + "; ".join(srcs)
            + "), less the simulated UASC arrivals' ages (UASC are counted in the table's entries)"
            + (f"; {', '.join(rest)} from the template's shares" if rest else "")
        )
        for b in rest:
            cal.from_template.append(
                f"entries aged {b}: {cal.missing(('entries', f'age:{b}'))}; the template's share"
            )
    else:
        cal.from_template.append("entries' age mix: not in the table; the template's")


def _set_age_mix(cal: PublishedCalibration, uasc_entries: float) -> None:
    """Non-UASC entries' age mix: the stated entries by age band less the UASC arrivals'."""
    if not cal.entry_bands:
        return
    e = cal.scenario["entries"]
    u_mix = e.get("uasc", {}).get("age_mix", {"16-17": 1.0})
    non = {
        b: max(0.0, cal.entry_bands[b] - uasc_entries * float(u_mix.get(b, 0.0)))
        for b in BAND_NAMES
    }
    tot = sum(non.values())
    if tot <= 0:
        return
    mix = {b: round(non[b] / tot, 4) for b in BAND_NAMES}
    mix[BAND_NAMES[-1]] = round(1.0 - sum(mix[b] for b in BAND_NAMES[:-1]), 4)
    e["age_mix"] = mix


# --------------------------------------------------------------------------- exits: the fit


def _route_groups(mapping: dict[str, Any], s: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for reason in REASONS:
        entry = mapping.get("exits", {}).get(reason, {})
        routes = [r for r in entry.get("routes", []) if r in s.exits or r == "age_18"]
        out[reason] = {
            "routes": routes,
            "moves_to": list(entry.get("moves_to", [])),
            "fitted": bool(entry.get("fitted", True)) and "age_18" not in routes,
        }
    return out


def _apply(
    raw: dict[str, Any],
    base: dict[str, Any],
    groups: dict[str, dict[str, Any]],
    k: dict[str, float],
) -> None:
    """Set the exit rates (and the moves feeding them) to the template's times each factor."""
    for reason, factor in k.items():
        g = groups[reason]
        for route in g["routes"]:
            if route not in base["exits"]:
                continue
            rates = base["exits"][route]["rate_per_year"]
            raw["exits"][route]["rate_per_year"] = {
                b: _scaled_rate(v, factor) for b, v in rates.items()
            }
        for i, mv in enumerate(base.get("moves", [])):
            if any(t in g["moves_to"] for t in mv.get("to", [])):
                raw["moves"][i]["rate_per_year"] = _scaled_rate(mv["rate_per_year"], factor)


def _apply_breakdown(raw: dict[str, Any], base: dict[str, Any], factor: float) -> None:
    """Set every provision's breakdown rate to the template's times `factor`."""
    for pid, spec in base["provision"].items():
        if "breakdown_per_year" in spec:
            raw["provision"][pid]["breakdown_per_year"] = _scaled_rate(
                spec["breakdown_per_year"], factor
            )


def _scaled_rate(v: Any, k: float) -> Any:
    if is_interval(v):
        return {
            "median": _sig4(float(v["median"]) * k),
            "interval90": [_sig4(float(x) * k) for x in v["interval90"]],
        }
    return _sig4(float(v) * k)


def _sig4(x: float) -> float:
    return float(f"{min(x, 365.0):.4g}")


@dataclass
class _Sim:
    """Mean first-year figures of a batch of replications."""

    entries: np.ndarray
    uasc_entries: np.ndarray
    exits: dict[str, np.ndarray]
    stock: np.ndarray
    three_plus: np.ndarray
    over_20: np.ndarray


def _simulate(raw: dict[str, Any], groups: dict[str, dict[str, Any]], reps: int, seed: int) -> _Sim:
    from ..runs.montecarlo import run
    from ..scenario.schema import Scenario

    model = Scenario.model_validate(raw)
    res = run(
        model, years=1, reps=reps, seed=seed, workers=1, progress=False, parameter_uncertainty=False
    )
    exits = {}
    for reason, g in groups.items():
        x = np.zeros(reps)
        for route in g["routes"]:
            x += res.by_year("exits", route)[:, 0]
        exits[reason] = x
    exits["total"] = res.by_year("exits", "total")[:, 0]
    stock = res.by_year("in_care", "total", how="end")[:, 0]
    far = res.by_year("in_care_by_location", "beyond_20_miles", how="end")[:, 0]
    return _Sim(
        entries=res.by_year("entries", "all")[:, 0],
        uasc_entries=res.by_year("entries", "uasc")[:, 0],
        exits=exits,
        stock=stock,
        three_plus=res.yearly_series("share_3plus_placements")[:, 0] * _pct_scale(res),
        over_20=100 * far / np.maximum(stock, 1),
    )


def _pct_scale(res: Any) -> float:
    x = res.yearly_series("share_3plus_placements")
    return 100.0 if float(np.nanmax(x, initial=0.0)) <= 1.0 else 1.0


def _fit(
    cal: PublishedCalibration,
    stated: dict[tuple[str, str], Figure],
    mapping: dict[str, Any],
    reps: int,
) -> None:
    """Fixed-point iteration: simulate a year, scale each route's rates by stated/simulated.

    Exit rates are per child-year and who leaves depends on who is in care (ages,
    placements, time in care), so a closed form would need the whole model: short
    simulations with the same random numbers each round converge in a few rounds.
    """
    from ..scenario.schema import Scenario

    raw = cal.scenario
    base = copy.deepcopy(raw)
    s = Scenario.model_validate(raw)
    groups = _route_groups(mapping, s)
    k = {r: 1.0 for r, g in groups.items() if g["fitted"] and g["routes"]}
    targets: dict[str, float] = {}
    for reason in REASONS:
        f = stated.get(("exits", f"reason:{reason}"))
        if f is not None:
            targets[reason] = float(f.value or 0.0)
            cal.used.append(
                Used(
                    f,
                    "exits by this route in a year: rates fitted"
                    if reason in k
                    else "checked (follows from the ages in care)",
                )
            )
    total = stated.get(("exits", "total"))
    if total is not None:
        cal.used.append(
            Used(total, "exits in a year: rates of the routes not stated fitted to the rest")
        )
    entries = stated.get(("entries", "total"))
    stability = stated.get(("stability", "three_or_more_placements"))
    kb = 1.0  # factor on every provision's breakdown rate, fitted to the stated 3+ share
    if stability is not None:
        cal.used.append(
            Used(
                stability,
                "children with 3+ placements in the year: breakdown rates fitted (one factor)",
            )
        )
    free = [r for r in k if r not in targets]
    fitted = [r for r in k if r in targets or (total is not None and r in free)]
    for r in free:
        if r in fitted:
            cal.from_template.append(
                f"exit rates by {r}: {cal.missing(('exits', f'reason:{r}'))}; the template's "
                "rates, scaled with the other routes not stated so that all exits match the "
                "stated total"
            )
    for r in k:
        if r not in fitted:
            cal.from_template.append(
                f"exit rates by {r}: {cal.missing(('exits', f'reason:{r}'))}; the template's rates"
            )
    if not fitted and entries is None and stability is None:
        return
    for r in list(k):
        if r in targets and targets[r] == 0:
            k[r] = 0.0
    last: _Sim | None = None
    for _round in range(FIT_ROUNDS):
        _apply(raw, base, groups, k)
        _apply_breakdown(raw, base, kb)
        sim = _simulate(raw, groups, reps, FIT_SEED)
        last = sim
        done = True
        if stability is not None:
            want = float(stability.value or 0.0)
            got = float(np.nanmean(sim.three_plus))
            if abs(got - want) > 0.5:  # percentage points
                done = False
            # the share rises with breakdowns, less than in proportion (some children move
            # for other reasons): the multiplicative step, clipped, converges in a few rounds
            kb *= _clip(want / got) if got > 0 else 2.0
        if entries is not None:
            want = float(entries.value or 0.0)
            got = float(sim.entries.mean())
            if abs(got - want) > max(0.01 * want, 0.5):
                done = False
            raw["entries"]["per_year"] = round(max(0.0, raw["entries"]["per_year"] + want - got), 2)
        _set_age_mix(cal, float(sim.uasc_entries.mean()))
        free_target = None
        if total is not None and free:
            rest = float(total.value or 0.0) - sum(targets.get(r, 0.0) for r in k if r in targets)
            rest -= sum(float(sim.exits[r].mean()) for r in groups if r not in k)
            free_target = max(0.0, rest)
            free_got = sum(float(sim.exits[r].mean()) for r in free)
            if free_got > 0:
                ratio = _clip(free_target / free_got)
                for r in free:
                    k[r] *= ratio
            if abs(free_got - free_target) > max(0.01 * free_target, 0.5):
                done = False
        for r in k:
            if r not in targets or targets[r] == 0:
                continue
            got = float(sim.exits[r].mean())
            if abs(got - targets[r]) > max(0.01 * targets[r], 0.5):
                done = False
            k[r] *= _clip(targets[r] / got) if got > 0 else 4.0
        if done:
            break
    _apply(raw, base, groups, k)
    _apply_breakdown(raw, base, kb)
    cal.factors.update({f"exits:{r}": v for r, v in k.items()})
    if stability is not None:
        cal.factors["breakdown"] = kb
        note = (
            f"from the published table: the template's rate x {kb:.3f}, fitted by simulation "
            f"so that {stability.value:g}% of children have 3+ placements in the first year "
            f"({stability.source})"
        )
        for pid, spec in raw["provision"].items():
            if "breakdown_per_year" in spec:
                cal.comments[("provision", pid, "breakdown_per_year")] = note
        cal.notes.append(
            "Placement stability: every provision's breakdown rate is the template's times "
            f"one factor ({kb:.3f}), fitted with the exits so that the share of children with "
            "3+ placements in the first year matches the table."
        )
    for r in fitted:
        how = (
            f"the stated {targets[r]:g} a year ({stated[('exits', f'reason:{r}')].source})"
            if r in targets
            else f"the stated exits in all ({total.source if total else ''}) less the routes stated"
        )
        note = (
            f"from the published table: the template's rates x {k[r]:.3f}, fitted by "
            f"simulation so that exits by {r} in the first year match {how}"
        )
        for route in groups[r]["routes"]:
            if route in raw["exits"]:
                cal.comments[("exits", route, "rate_per_year")] = note
        for i, mv in enumerate(raw.get("moves", [])):
            if any(t in groups[r]["moves_to"] for t in mv.get("to", [])):
                cal.comments[("moves", i, "rate_per_year")] = note
    if entries is not None:
        cal.comments[("entries", "per_year")] = (
            f"from the published table: {entries.value:g} children started care in the year "
            f"({entries.source}); this is the rate without UASC, fitted by simulation so that "
            "all entries, UASC arrivals included, come out as stated"
        )
        if last is not None:
            cal.notes.append(
                f"entries.per_year fitted in {_round + 1} round(s) of {reps} one-year simulations."
            )
    if fitted:
        cal.notes.append(
            "Exit rates by route: the template's age pattern times one factor per published "
            "reason, fitted by fixed-point iteration (simulate a year, multiply each factor by "
            f"stated / simulated exits) with {reps} replications a round (seed {FIT_SEED}); "
            + ", ".join(f"{r} x {k[r]:.3f}" for r in fitted)
            + ". Exits at 18 are not fitted: every child leaves care at 18, so they follow "
            "from the ages of the children in care."
        )


def _clip(x: float) -> float:
    return min(4.0, max(0.25, x))


def _check(
    cal: PublishedCalibration,
    stated: dict[tuple[str, str], Figure],
    mapping: dict[str, Any],
    reps: int,
) -> None:
    """Simulate the finished scenario's first year and set it beside the stated figures."""
    from ..scenario.schema import Scenario

    if reps <= 0:
        return
    s = Scenario.model_validate(cal.scenario)
    groups = _route_groups(mapping, s)
    sim = _simulate(cal.scenario, groups, reps, CHECK_SEED)
    cal.check_reps = reps

    def add(
        what: str, key: tuple[str, str] | None, x: np.ndarray, stated_value: float | None = None
    ) -> None:
        f = stated.get(key) if key else None
        value = float(f.value) if f is not None and f.value is not None else stated_value
        lo, med, hi = np.percentile(x, [10, 50, 90])
        cal.checks.append(
            Check(what, value, float(med), float(lo), float(hi), f.source if f else "")
        )

    add("children in care at the end of the first year", ("in_care", "total"), sim.stock)
    add("entries in the first year", ("entries", "total"), sim.entries)
    add("exits in the first year", ("exits", "total"), sim.exits["total"])
    for r in REASONS:
        add(f"exits: {r}", ("exits", f"reason:{r}"), sim.exits[r])
    if ("stability", "three_or_more_placements") in stated:
        add(
            "% with 3+ placements in the year",
            ("stability", "three_or_more_placements"),
            sim.three_plus,
        )
    if ("distance", "over_20_miles") in stated:
        add(
            "% placed more than 20 miles away (beyond_20_miles provisions) at the year end",
            ("distance", "over_20_miles"),
            sim.over_20,
        )


# --------------------------------------------------------------------------- tags


def template_notes(path: Path) -> dict[KeyPath, str]:
    """The end-of-line comments of the template, by key path (its sources, e.g. '[DS]')."""
    from collections.abc import Mapping

    import tomlkit
    from tomlkit.items import AoT, InlineTable

    out: dict[KeyPath, str] = {}

    def walk(node: Any, path: KeyPath) -> None:
        for key, item in node.items():
            here = (*path, str(key))
            if isinstance(item, Mapping) and not isinstance(item, InlineTable):
                walk(item, here)  # tables, including ones defined out of order
            elif isinstance(item, AoT):
                for i, t in enumerate(item):
                    walk(t, (*here, i))
            else:
                comment = getattr(getattr(item, "trivia", None), "comment", "") or ""
                text = comment.lstrip("#").strip()
                if text:
                    out[here] = text

    try:
        walk(tomlkit.parse(path.read_text(encoding="utf-8")), ())
    except Exception:
        return {}
    return out


def _tag_template(cal: PublishedCalibration, template: LoadedScenario) -> None:
    """Every line the writer will write that the table did not set says "from the template"
    (with the template's own comment, its source, where it has one)."""
    from ..scenario.write import line_paths

    notes = template_notes(Path(template.path)) if len(template.sources) <= 1 else {}
    ours = list(cal.comments)
    for path in line_paths(cal.scenario):
        if any(p[: len(path)] == path or path[: len(p)] == p for p in ours):
            continue
        own = notes.get(path)
        cal.comments[path] = f"from the template: {own}" if own else "from the template"
