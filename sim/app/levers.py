"""The levers the web app shows: scenario keys as controls, defined as data.

A commissioner moves levers, not keys. Each `LeverSpec` names a key path pattern into a
scenario file (`*` any provision whose kind matches `kind`), with the words, unit and
range the form shows. `levers(loaded)` expands the patterns over one scenario into the
concrete levers it has, each with its current value and the source comment from the line
of the scenario file that sets it. The range is the app's sensible range; the scenario's
schema still validates every value, with the messages `sufficiency validate` gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..scenario.keys import current_value, join
from ..scenario.load import LoadedScenario, find_line


@dataclass(frozen=True)
class LeverSpec:
    """One kind of lever: a key path pattern and how the form shows it."""

    #: the key path, "*" standing for each provision (of `kind`, when given)
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
    ),
    LeverSpec(
        ("provision", "*", "weekly_cost"),
        "Weekly cost",
        "£ a week",
        0,
        100_000,
        1,
    ),
)
#: Years a comparison may run, and replications (runs) per scenario.
YEARS = (1, 10)
RUNS = (1, 1000)
DEFAULT_YEARS = 5
DEFAULT_RUNS = 50


@dataclass(frozen=True)
class Lever:
    """A lever of one scenario: its key, where it shows, its value and its source."""

    spec: LeverSpec
    path: tuple[str, ...]
    #: the dotted key, also the form field's name
    key: str
    #: what it applies to (the provision's label), or ""
    subject: str
    value: float
    source: str


def levers(loaded: LoadedScenario) -> list[Lever]:
    """The levers `loaded` has: each pattern expanded over its provisions, kept where the
    scenario sets a plain number (a weekly cost by need is not a lever yet)."""
    out: list[Lever] = []
    texts = dict(loaded.files)
    provisions: dict[str, Any] = loaded.raw.get("provision", {})
    for spec in LEVERS:
        if "*" in spec.pattern:
            names = [
                n
                for n, p in provisions.items()
                if isinstance(p, dict) and (not spec.kind or p.get("kind") == spec.kind)
            ]
        else:
            names = [""]
        for name in names:
            path = tuple(name if s == "*" else s for s in spec.pattern)
            value = current_value(loaded.raw, path)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            subject = str(provisions.get(name, {}).get("label", name)) if name else ""
            key = ""
            for step in path:
                key = join(key, step)
            out.append(
                Lever(spec, path, key, subject, float(value), source_comment(loaded, path, texts))
            )
    return out


def source_comment(
    loaded: LoadedScenario, path: tuple[str, ...], texts: dict[Path, str] | None = None
) -> str:
    """The comment that gives a key's source: at the end of its line, or else the comment
    lines just above it; "" when the file says nothing (the form then says so)."""
    texts = texts if texts is not None else dict(loaded.files)
    for file, text in reversed(loaded.files):  # the file that set it is the last to say
        line = find_line(file, path, texts)
        if line is None:
            continue
        lines = text.splitlines()
        here = lines[line - 1]
        if str(path[-1]) not in here.split("=", 1)[0]:
            continue  # the table's header: this file does not set the key
        m = re.match(r"^[^#]*=\s*[^#\"']*#\s?(.*)$", here)
        if m and m.group(1).strip():
            return m.group(1).strip()
        above: list[str] = []
        for prev in reversed(lines[: line - 1]):
            s = prev.strip()
            if not s.startswith("#"):
                break
            above.insert(0, s.lstrip("#").strip())
        return " ".join(a for a in above if a)
    return ""
