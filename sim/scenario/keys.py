"""Dotted keys into a scenario file: reading them, and setting a value at one.

`sufficiency sweep --vary` and a scenario's dated `[[changes]]` name the number they change
the same way: a dotted path into the scenario file, with list items as `[0]` and any
part in double quotes when it holds other characters:
`provision.in_house_foster.recruitment_per_year`, `provision.solo_home.homes[0].opens`,
`entries.age_mix."10-15"`. Messages start with `what` (`--vary`, `[[changes]]`), so each
caller's user sees the words they typed.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..common.errors import UserError
from .uncertain import is_interval, parse

Step = str | int

_SEGMENT = re.compile(r'\s*(?:"([^"]*)"|([A-Za-z0-9_\-]+))((?:\[\d+\])*)\s*')


def parse_key(key: str, what: str = "--vary") -> tuple[Step, ...]:
    """`a.b[0].c` -> ('a', 'b', 0, 'c'); a quoted segment ("10-15") may hold any text."""
    text = key.strip()
    if not text:
        raise UserError(f"{what} needs a key, e.g. entries.per_year")
    path: list[Step] = []
    pos = 0
    while True:
        m = _SEGMENT.match(text, pos)
        if not m or (m.group(1) is None and not m.group(2)):
            raise UserError(
                f"cannot read the key {key!r} at {text[pos:]!r}: expected a dotted path such "
                "as provision.in_house_foster.recruitment_per_year or "
                "provision.solo_home.homes[0].opens"
            )
        path.append(m.group(1) if m.group(1) is not None else m.group(2))
        path.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(3)))
        pos = m.end()
        if pos == len(text):
            return tuple(path)
        if text[pos] != ".":
            raise UserError(
                f"cannot read the key {key!r} at {text[pos:]!r}: "
                "parts of the key are separated by '.', list items written as [0]"
            )
        pos += 1


def set_path(
    raw: dict[str, Any],
    path: tuple[Step, ...],
    value: Any,
    key: str = "",
    what: str = "--vary",
) -> None:
    """Set the value at `path`; every step must exist, except a last key of a table."""
    key = key or ".".join(str(p) for p in path)
    node: Any = raw
    where = ""
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(step, int):
            if not isinstance(node, list):
                raise UserError(
                    f"{what} {key}: {where or 'the scenario'} is not a list, so it has no item "
                    f"[{step}]"
                )
            if step >= len(node):
                raise UserError(
                    f"{what} {key}: {where} has {len(node)} item(s), so there is no "
                    f"[{step}] (items count from [0])"
                )
        else:
            if not isinstance(node, dict):
                kind = "a list" if isinstance(node, list) else f"a value ({node!r})"
                raise UserError(f"{what} {key}: {where} is {kind}, so it has no key {step!r}")
            if step not in node and not last:
                have = ", ".join(map(str, node)) or "nothing"
                raise UserError(
                    f"{what} {key}: the scenario has no {join(where, step)} "
                    f"({where or 'the top level'} has: {have})"
                )
        if last:
            old = node.get(step) if isinstance(node, dict) else node[int(step)]
            if (
                isinstance(old, dict)
                and is_interval(old)
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                # a number known within an interval keeps its uncertainty around the new
                # value, as an option's does (sim.scenario.load)
                try:
                    node[step] = parse(old, key).recentred(float(value)).as_table()
                    return
                except ValueError:
                    pass  # a malformed interval: validation names it
            node[step] = copy.deepcopy(value)
            return
        node = node[step]
        where = join(where, step)


def join(where: str, step: Step) -> str:
    """A dotted key with one more step: `a.b` + 0 -> `a.b[0]`, `a` + `b` -> `a.b`."""
    if isinstance(step, int):
        return f"{where}[{step}]"
    return f"{where}.{step}" if where else str(step)


def node_at(raw: dict[str, Any], path: tuple[Step, ...]) -> Any:
    """The raw value at `path`, itself (an interval table as it is, not a copy), or None
    where the scenario does not set it."""
    node: Any = raw
    for step in path:
        if not isinstance(node, (dict, list)):
            return None
        try:
            node = node[step]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def current_value(raw: dict[str, Any], path: tuple[Step, ...]) -> Any:
    """What the scenario has at `path` (a number given as an interval: its median), or
    None where it does not set it."""
    node = node_at(raw, path)
    if isinstance(node, dict) and is_interval(node):
        return node.get("median")
    return copy.deepcopy(node)
