"""Dated changes (`[[changes]]`): which keys may change during a run, and the scenario in
force after each change date.

A change names a number by the dotted key `sweep --vary` uses and, from its date on, sets
it or multiplies it. Changes apply in date order (changes on one date in file order),
each on top of the ones before: a `multiply` multiplies the value in force then. The
engine switches the replication to the scenario in force on each date and tells the
mechanisms concerned (`sim.engine.changes`); only keys whose mechanisms can follow a
change mid-run are accepted (`SUPPORTED`), the others are refused by name.

A number given as an interval ({ median, interval90 }) keeps working: each replication
draws its value, and the change applies to that drawn value. `multiply` multiplies it;
`set` moves the replication's value by as much as the median moves on the number's own
scale (log, logit: `sim.scenario.uncertain`), so a replication that drew a high rate
keeps a high rate after the change, as an option that sets the number would.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from .keys import Step, parse_key
from .schema import Change, Scenario
from .uncertain import Interval, dotted, is_interval, value_at, with_values

#: Keys a change may name: `*` any name (a provision, an exit route, an age band, a needs
#: level), `[]` any list item. Everything here is read by a mechanism that follows a change
#: during the run (`sim.engine.changes`).
SUPPORTED: tuple[str, ...] = (
    "entries.per_year",
    "entries.uasc.per_year",
    "exits.*.rate_per_year",
    "exits.*.rate_per_year.*",
    "exits.*.time_in_care[].multiplier",
    "breakdown.age_multiplier",
    "breakdown.age_multiplier.*",
    "breakdown.needs_multiplier",
    "breakdown.needs_multiplier.*",
    "breakdown.time_in_placement[].multiplier",
    "moves[].rate_per_year",
    "needs_change[].rate_per_year",
    "needs_change[].rate_per_year.*",
    "needs_change[].time_in_care[].multiplier",
    "provision.*.breakdown_per_year",
    "provision.*.weekly_cost",
    "provision.*.weekly_cost.*",
    "provision.*.offer_probability",
    "provision.*.offer_probability.*",
    "provision.*.staying_put_probability",
    "provision.*.recruitment_per_year",
    "provision.*.enquiries_per_year",
    "provision.*.deregistration_per_year",
    "provision.*.retention_multiplier",
)


def _tokens(pattern: str) -> tuple[str, ...]:
    """`moves[].rate_per_year` -> ('moves', '[]', 'rate_per_year')."""
    out: list[str] = []
    for part in pattern.split("."):
        name = part.replace("[]", "")
        out.append(name)
        out.extend("[]" for _ in range(part.count("[]")))
    return tuple(out)


_PATTERNS = tuple(_tokens(p) for p in SUPPORTED)


def changeable(path: tuple[Step, ...]) -> bool:
    """Whether a change may name the key at `path` (see `SUPPORTED`)."""
    for pattern in _PATTERNS:
        if len(pattern) != len(path):
            continue
        if all(
            (p == "[]" and isinstance(s, int))
            or (p == "*" and isinstance(s, str))
            or (p == s and isinstance(s, str))
            for p, s in zip(pattern, path, strict=True)
        ):
            return True
    return False


def is_number(v: Any) -> bool:
    """A plain number (not a truth value)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def multiplied(node: Any, factor: float) -> Any:
    """A number, an interval table or a table of numbers times `factor`; None when it is
    none of those (a `multiply` change needs a number)."""
    if is_number(node):
        return node * factor
    if is_interval(node):
        ends = node["interval90"]
        if not (is_number(node["median"]) and isinstance(ends, list) and all(map(is_number, ends))):
            return None
        return {"median": node["median"] * factor, "interval90": [e * factor for e in ends]}
    if isinstance(node, dict) and node:
        out = {k: multiplied(v, factor) for k, v in node.items()}
        return None if any(v is None for v in out.values()) else out
    return None


def in_order(changes: list[Change]) -> list[int]:
    """The changes' indices in the order they apply: by date, then as written."""
    return sorted(range(len(changes)), key=lambda i: (changes[i].date, i))


def _as_float(value: Any) -> Any:
    """Whole numbers in a set value as floats, as validation makes the scenario's own."""
    if is_number(value):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_float(v) for k, v in value.items()}
    return value


def _carry(interval: Interval, drawn: float, median: float, new: float) -> float:
    """The replication's drawn value moved as the median moves from `median` to `new`, on
    the number's own scale; exactly `new` for a replication at the median."""
    if drawn == median:
        return new
    scale = interval.scale
    return _unscale(_scale(new, scale) + _scale(drawn, scale) - _scale(median, scale), scale)


def _scale(x: float, scale: str) -> float:
    if scale == "logit":
        p = min(1 - 1e-6, max(1e-6, x))
        return math.log(p / (1 - p))
    if scale == "log1p":
        return math.log1p(max(x, 1e-6 - 1))
    return math.log(max(x, 1e-6))


def _unscale(y: float, scale: str) -> float:
    if scale == "logit":
        return 1 / (1 + math.exp(-y))
    if scale == "log1p":
        return math.expm1(y)
    return math.exp(y)


def in_force(s: Scenario) -> list[tuple[dt.date, Scenario]]:
    """The scenario in force from each change date on, in date order (none: no changes).

    Worked on the validated scenario (as drawn for a replication), not the file: the
    changes were checked when the file was loaded (`sim.scenario.load`), each version
    there validated whole.
    """
    out: list[tuple[dt.date, Scenario]] = []
    if not s.changes:
        return out
    current = s
    medians = {key: iv.median for key, iv in s.uncertainty.items()}
    order = in_order(s.changes)
    for n, i in enumerate(order):
        change = s.changes[i]
        key = dotted(parse_key(change.key, "[[changes]]"))
        old = value_at(current, key)
        if change.multiply is not None:
            new = multiplied(old, change.multiply)
            for k in medians:
                if k == key or k.startswith(key + "."):
                    medians[k] *= change.multiply
        else:
            new = _as_float(change.set_)
            if isinstance(new, dict):
                for sub, v in new.items():
                    k = f"{key}.{sub}"
                    if k in medians and isinstance(old, dict) and sub in old:
                        new[sub] = _carry(s.uncertainty[k], float(old[sub]), medians[k], v)
                        medians[k] = v
            elif key in medians and is_number(new) and is_number(old):
                interval = s.uncertainty[key]
                target = float(new)
                new = _carry(interval, float(old), medians[key], target)
                medians[key] = target
        current = with_values(current, {key: new})
        last = n + 1 == len(order) or s.changes[order[n + 1]].date != change.date
        if last:
            out.append((change.date, current))
    return out


def describe(change: Change) -> str:
    """A change in words, for `sufficiency validate`: '2024-04-01 key = 13'."""
    if change.multiply is not None:
        how = f"x {change.multiply:g}"
    elif isinstance(change.set_, float):
        how = f"= {change.set_:g}"
    else:
        how = f"= {change.set_}"
    return f"{change.date} {change.key} {how}"
