"""The levers the web app shows: scenario keys as controls, defined as data.

A commissioner moves levers, not keys. Each `LeverSpec` names a key path pattern into a
scenario file (`*` any provision whose kind matches `kind`), with the words, unit and
range the form shows. `levers(loaded)` expands the patterns over one scenario into the
concrete levers it has, each with its current value and the source comment from the line
of the scenario file that sets it. The range is the app's sensible range; the scenario's
schema still validates every value, with the messages `sufficiency validate` gives.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.errors import UserError
from ..scenario.keys import current_value, join, node_at, parse_key
from ..scenario.load import LoadedScenario, find_line


@dataclass(frozen=True)
class LeverSpec:
    """One kind of lever: a key path pattern and how the form shows it.

    In `pattern`, "*" stands for each provision (of `kind`, when given), "?" for each key
    of the table found there (a price by needs level) and "#" for each item of the list
    found there (a provision's homes)."""

    pattern: tuple[str, ...]
    label: str
    unit: str
    low: float
    high: float
    step: float
    #: provision kind the pattern's "*" is limited to ("foster", "home", "offer"), or ""
    kind: str = ""
    #: one line on what the lever means, shown under it
    help: str = ""
    #: "number", or "date" (YYYY-MM-DD; empty for none)
    type: str = "number"
    #: the part of the form it is shown in (SECTIONS)
    section: str = "demand"

    def number(self, value: float) -> str:
        """A value as people write it, without its unit but for £: "£100,000", "2,000",
        "0.115"."""
        number = f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
        return f"£{number}" if self.unit.startswith("£") else number

    def amount(self, value: float) -> str:
        """A value with its unit: "£174 a week", "93 children a year"."""
        if self.unit.startswith("£"):
            return f"{self.number(value)}{self.unit[1:]}"
        return f"{self.number(value)} {self.unit}"

    def range_text(self) -> str:
        """The range the app takes, short: "from £0 to £100,000", "from 0 to 2,000"."""
        return f"from {self.number(self.low)} to {self.number(self.high)}"


#: The parts of the form, in order: (id, heading, open at first).
SECTIONS = (
    ("demand", "Children entering care", True),
    ("foster", "Foster carers", True),
    ("homes", "Children's homes: beds and closures", False),
    ("new_homes", "New children's homes", False),
    ("prices", "Prices", False),
    ("option_costs", "The option's own costs", False),
)

#: The levers, in the order the form shows them.
LEVERS: tuple[LeverSpec, ...] = (
    LeverSpec(
        ("entries", "per_year"),
        "Children entering care a year",
        "children a year",
        0,
        2000,
        1,
        help="not counting unaccompanied asylum-seeking children",
    ),
    LeverSpec(
        ("provision", "*", "recruitment_per_year"),
        "Foster carers recruited a year",
        "households a year",
        0,
        200,
        0.1,
        kind="foster",
        section="foster",
    ),
    LeverSpec(
        ("provision", "*", "deregistration_per_year"),
        "Foster carers leaving a year",
        "share of households a year",
        0,
        1,
        0.005,
        kind="foster",
        help="0.1 means one household in ten leaves each year",
        section="foster",
    ),
    LeverSpec(
        ("provision", "*", "homes", "#", "beds"),
        "Beds",
        "beds",
        1,
        20,
        1,
        kind="home",
        help="to close a home, give the date it closes (below)",
        section="homes",
    ),
    LeverSpec(
        ("provision", "*", "homes", "#", "closes"),
        "Closes on",
        "date",
        0,
        0,
        0,
        kind="home",
        type="date",
        help="empty: stays open; its children move on the day it closes",
        section="homes",
    ),
    LeverSpec(
        ("provision", "*", "weekly_cost"),
        "Weekly cost",
        "£ a week",
        0,
        100_000,
        1,
        section="prices",
    ),
    LeverSpec(
        ("provision", "*", "weekly_cost", "?"),
        "Weekly cost by needs level",
        "£ a week",
        0,
        100_000,
        1,
        section="prices",
    ),
)
#: Homes a lever may add to one provision, and the beds of each.
NEW_HOMES = (0, 20)
NEW_BEDS = (1, 20)
#: The option's own costs a lever may give (£), one-off and a year.
OPTION_COST = (0, 100_000_000)
#: Years a comparison may run, and replications (runs) per scenario.
YEARS = (1, 10)
RUNS = (1, 1000)
DEFAULT_YEARS = 5
DEFAULT_RUNS = 50
#: Options compared with the baseline at once.
MAX_OPTIONS = 4


@dataclass(frozen=True)
class Lever:
    """A lever of one scenario: its key, where it shows, its value and its source.

    A lever with a `path` sets the scenario's value there. One without (`special`) adds
    to the scenario: ("new_homes", provision, part) homes to a provision, part being
    "count", "beds" or "opens"; ("option_costs", part) the option's own cost, part being
    "one_off" or "per_year"."""

    spec: LeverSpec
    path: tuple[str | int, ...]
    #: the dotted key, also the form field's name (after the option's prefix)
    key: str
    #: what it applies to (the provision's label, a home's name, a needs level), or ""
    subject: str
    #: a number, or a date as YYYY-MM-DD, "" for none
    value: float | str
    source: str
    special: tuple[str, ...] = ()
    #: the file and line that set the baseline's value ("baseline.toml:242"), or ""
    where: str = ""
    #: the scenario's dated changes to this value, in words ("13 from 2024-04-01"): a value
    #: given in the app holds for the whole run instead
    dated: tuple[str, ...] = ()

    def shown(self) -> str:
        """The value as the form shows it."""
        return self.value if isinstance(self.value, str) else f"{self.value:g}"


def levers(loaded: LoadedScenario) -> list[Lever]:
    """The levers `loaded` has: each pattern expanded over its provisions, kept where the
    scenario sets a value of the lever's type; then the levers that add homes and the
    option's own costs. In the order of SECTIONS."""
    out: list[Lever] = []
    texts = dict(loaded.files)
    for spec in LEVERS:
        for path, subject in _expand(loaded.raw, spec):
            value = current_value(loaded.raw, path)
            if spec.type == "date":
                if value is not None and not isinstance(value, dt.date):
                    continue
                shown: float | str = value.isoformat() if value else ""
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            else:
                shown = float(value)
            key = ""
            for step in path:
                key = join(key, step)
            source, where = (
                source_of(loaded, path, texts)
                if path[-1] in _at(loaded.raw, path[:-1])
                else ("", "")
            )
            dated = tuple(_dated(loaded.raw, path))
            out.append(Lever(spec, path, key, subject, shown, source, (), where, dated))
    out += _new_homes(loaded) + _option_costs(loaded.model.scenario.start_date)
    order = [s[0] for s in SECTIONS]
    return sorted(out, key=lambda lever: order.index(lever.spec.section))


def _at(raw: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    """The table or list at `path` (an empty table where there is none)."""
    node = node_at(raw, path)
    return node if isinstance(node, (dict, list)) else {}


def _expand(raw: dict[str, Any], spec: LeverSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """The concrete paths of a pattern, each with the words for what it applies to."""
    found: list[tuple[tuple[str | int, ...], list[str]]] = [((), [])]
    for step in spec.pattern:
        nxt: list[tuple[tuple[str | int, ...], list[str]]] = []
        for path, words in found:
            node = _at(raw, path)
            if step == "*":
                for name, p in node.items() if isinstance(node, dict) else ():
                    if isinstance(p, dict) and (not spec.kind or p.get("kind") == spec.kind):
                        nxt.append(((*path, name), [*words, str(p.get("label", name))]))
            elif step == "?":
                if isinstance(node, dict):
                    nxt += [((*path, k), [*words, f"{k.replace('_', ' ')} needs"]) for k in node]
            elif step == "#":
                if isinstance(node, list):
                    for i, item in enumerate(node):
                        name = item.get("name", f"item {i + 1}") if isinstance(item, dict) else ""
                        nxt.append(((*path, i), [*words, str(name)]))
            else:
                nxt.append(((*path, step), words))
        found = nxt
    return [(path, " · ".join(words)) for path, words in found]


def _new_homes(loaded: LoadedScenario) -> list[Lever]:
    """For each home provision: how many homes to add, their beds and opening date."""
    out: list[Lever] = []
    start = loaded.model.scenario.start_date
    opens = dt.date(start.year + 1, start.month, 1).isoformat()
    for name, p in loaded.raw.get("provision", {}).items():
        if not isinstance(p, dict) or p.get("kind") != "home":
            continue
        beds = sorted(int(h.get("beds", 1)) for h in p.get("homes", []) if isinstance(h, dict))
        typical = float(beds[len(beds) // 2]) if beds else 1.0
        subject = str(p.get("label", name))
        parts: tuple[tuple[str, str, str, float, float, float, str, float | str, str], ...] = (
            ("count", "Homes to add", "homes", *NEW_HOMES, 1, "number", 0.0, ""),
            (
                "beds",
                "Beds in each new home",
                "beds",
                *NEW_BEDS,
                1,
                "number",
                typical,
                "the median of its homes now" if beds else "none now: one bed",
            ),
            (
                "opens",
                "New homes open on",
                "date",
                0,
                0,
                0,
                "date",
                opens,
                "they take children from that day",
            ),
        )
        for part, label, unit, low, high, step, kind, value, help_ in parts:
            spec = LeverSpec(
                (), label, unit, low, high, step, type=kind, help=help_, section="new_homes"
            )
            key = f"new_homes.{name}.{part}"
            out.append(Lever(spec, (), key, subject, value, "", ("new_homes", name, part)))
    return out


def _option_costs(start: dt.date) -> list[Lever]:
    """The option's own one-off and yearly cost (a new home's capital, a campaign), and
    the day they start (the scenario's `start`, unless changed)."""
    out = []
    for part, label, unit in (
        ("one_off", "One-off cost", "£, at the start"),
        ("per_year", "Running cost", "£ a year"),
    ):
        spec = LeverSpec(
            (),
            label,
            unit,
            *OPTION_COST,
            1000,
            section="option_costs",
            help="in pounds, e.g. 1200000; outside the placement budget: added to this "
            "option's total cost",
        )
        out.append(Lever(spec, (), f"option_costs.{part}", "", 0.0, "", ("option_costs", part)))
    spec = LeverSpec(
        (),
        "Paid from",
        "date",
        0,
        0,
        0,
        type="date",
        section="option_costs",
        help="the one-off cost is paid on this day, the running cost from it on",
    )
    out.append(
        Lever(
            spec, (), "option_costs.starts", "", start.isoformat(), "", ("option_costs", "starts")
        )
    )
    return out


def source_of(
    loaded: LoadedScenario, path: tuple[str | int, ...], texts: dict[Path, str] | None = None
) -> tuple[str, str]:
    """The comment that gives a key's source (at the end of its line, or else the comment
    lines just above it; "" when the file says nothing) and where the key is set
    ("baseline.toml:242"): the last of the scenario's files that sets it (an option that
    `extends` a baseline and leaves the key alone: the baseline's line)."""
    texts = texts if texts is not None else dict(loaded.files)
    for file, text in reversed(loaded.files):  # the file that set it is the last to say
        line = find_line(file, path, texts)
        if line is None:
            continue
        lines = text.splitlines()
        here = lines[line - 1]
        if str(path[-1]) not in here.split("=", 1)[0]:
            continue  # the table's header: this file does not set the key
        where = f"{file.name}:{line}"
        m = re.match(r"^[^#]*=\s*[^#\"']*#\s?(.*)$", here)
        if m and m.group(1).strip():
            return m.group(1).strip(), where
        above: list[str] = []
        for prev in reversed(lines[: line - 1]):
            s = prev.strip()
            if not s.startswith("#"):
                break
            above.insert(0, s.lstrip("#").strip())
        return " ".join(a for a in above if a), where
    return "", ""


def dated_changes(raw: dict[str, Any], path: tuple[str | int, ...]) -> list[int]:
    """The positions in the scenario's `[[changes]]` of those that change the value at
    `path` (their keys parsed as the engine parses them)."""
    out = []
    for i, change in enumerate(raw.get("changes", []) or []):
        if not isinstance(change, dict):
            continue
        try:
            if parse_key(str(change.get("key", "")), "[[changes]]") == path:
                out.append(i)
        except UserError:
            continue  # validation names it
    return out


def _dated(raw: dict[str, Any], path: tuple[str | int, ...]) -> list[str]:
    """The dated changes to the value at `path`, in words: "13 from 2024-04-01",
    "x1.3 from 2025-04-01"; foster recruitment's older `recruitment_changes` too."""
    out = []
    for i in dated_changes(raw, path):
        c = raw["changes"][i]
        value = c.get("set")
        shown = f"{value:g}" if isinstance(value, (int, float)) else str(value)
        what = f"x{c['multiply']:g}" if "multiply" in c else shown
        out.append(f"{what} from {c.get('date')}")
    if path[-1] == "recruitment_per_year" and len(path) == 3:
        for c in _at(raw, path[:-1]).get("recruitment_changes", []) or []:
            if isinstance(c, dict):
                out.append(f"{c.get('per_year')} from {c.get('from')}")
    return out
