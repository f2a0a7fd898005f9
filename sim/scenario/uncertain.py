"""Numbers known only within an interval: how a scenario file says so, and a value per draw.

A rate fitted from a few years of data is not known exactly. A scenario file may give any
rate, probability or cost as its median and 90% interval instead of one number:

    per_year = { median = 93, interval90 = [80, 107] }

The scenario validates with the median in that place (so everything that reads a scenario
sees a plain number); the interval is kept in `Scenario.uncertainty` under the key's dotted
name, and each Monte Carlo replication draws its own value from it (`sim.runs.parameters`),
so the fan chart includes not knowing the rate as well as chance.

The distribution is a two-piece normal on a scale that suits the number, with the median in
the middle and the interval's ends at its 5th and 95th percentiles, so a lopsided interval
(a Poisson rate from few events) stays lopsided:

* probabilities and shares (keys ending `probability` or `share`): the logit scale, so a
  draw stays between 0 and 1;
* a yearly trend (keys ending `trend_per_year`): log(1 + trend), so a draw stays above -1;
* everything else (rates, counts a year, costs): the log scale, so a draw stays positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: the standard normal's 95th percentile: a 90% interval's ends are median -/+ 1.645 sd
Z90 = 1.6448536269514722
#: how close to 0 (or 1) an interval's end may be taken on the log and logit scales
EDGE = 1e-6
#: keys of an interval table, exactly
KEYS = frozenset({"median", "interval90"})


@dataclass(frozen=True)
class Interval:
    """A number given as a median and a 90% interval, and how to draw it."""

    median: float
    low: float
    high: float
    scale: str  # "log", "logit" or "log1p"

    def value(self, z: float) -> float:
        """The value at standard normal deviate `z` (0 gives the median)."""
        m = _to(self.median, self.scale)
        end = self.high if z >= 0 else self.low
        sd = abs(_to(end, self.scale) - m) / Z90
        return _back(m + z * sd, self.scale)

    def recentred(self, median: float) -> Interval:
        """The same uncertainty around a new median (an option that changes the number)."""
        shift = _to(median, self.scale) - _to(self.median, self.scale)
        # 6 significant figures: a written copy stays readable, the draws barely move
        low = float(f"{_back(_to(self.low, self.scale) + shift, self.scale):.6g}")
        high = float(f"{_back(_to(self.high, self.scale) + shift, self.scale):.6g}")
        return Interval(median, min(low, median), max(high, median), self.scale)

    def as_table(self) -> dict[str, Any]:
        """As a scenario file writes it."""
        return {"median": self.median, "interval90": [self.low, self.high]}


def scale_of(key: str) -> str:
    """The scale a number is drawn on, from the last part of its key."""
    last = key.rsplit(".", 1)[-1].rstrip("]").lower()
    if last.endswith("probability") or last.endswith("share"):
        return "logit"
    if last.endswith("trend_per_year"):
        return "log1p"
    return "log"


def is_interval(node: Any) -> bool:
    """Whether a value read from a file is an interval table ({median, interval90})."""
    return isinstance(node, dict) and set(node) == KEYS


def parse(node: dict[str, Any], key: str) -> Interval:
    """Check an interval table; raise ValueError saying what is wrong and what is expected."""
    example = "{ median = 0.2, interval90 = [0.15, 0.26] }"
    median, ends = node["median"], node["interval90"]
    if not _number(median):
        raise ValueError(f"median must be a number, e.g. {example}")
    if not (isinstance(ends, list) and len(ends) == 2 and all(_number(e) for e in ends)):
        raise ValueError(f"interval90 must be two numbers [low, high], e.g. {example}")
    low, high = float(ends[0]), float(ends[1])
    median = float(median)
    if not low <= median <= high:
        raise ValueError(
            f"interval90 [{low:g}, {high:g}] must hold the median {median:g} (low <= median "
            "<= high)"
        )
    scale = scale_of(key)
    if scale == "logit" and not (low > 0 and high < 1):
        raise ValueError(
            f"a probability's interval must lie strictly between 0 and 1, not [{low:g}, {high:g}]"
        )
    if scale == "log1p" and not low > -1:
        raise ValueError(
            f"a trend's interval must lie above -1 (-100% a year), not start at {low:g}"
        )
    if scale == "log" and not low > 0:
        raise ValueError(
            f"the interval's low end must be above 0 (it is drawn on the log scale), not {low:g}"
        )
    return Interval(median, low, high, scale)


def split(raw: Any, at: tuple[str | int, ...] = ()) -> tuple[Any, dict[str, Interval]]:
    """The raw scenario with each interval table replaced by its median, and the intervals
    by dotted key. Raises ValueError with the key for a malformed interval table."""
    found: dict[str, Interval] = {}

    def walk(node: Any, here: tuple[str | int, ...]) -> Any:
        if is_interval(node):
            key = dotted(here)
            try:
                found[key] = parse(node, key)
            except ValueError as exc:
                raise IntervalError(here, str(exc)) from None
            return found[key].median
        if isinstance(node, dict):
            return {k: walk(v, (*here, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*here, i)) for i, v in enumerate(node)]
        return node

    return walk(raw, at), found


class IntervalError(ValueError):
    """A malformed interval table, with where it is (for the loader's message)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def dotted(path: tuple[str | int, ...]) -> str:
    """("moves", 0, "rate_per_year") -> "moves[0].rate_per_year", as `sweep --vary` writes."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _to(x: float, scale: str) -> float:
    if scale == "logit":
        p = min(1 - EDGE, max(EDGE, x))
        return math.log(p / (1 - p))
    if scale == "log1p":
        return math.log1p(max(x, EDGE - 1))
    return math.log(max(x, EDGE))


def _back(y: float, scale: str) -> float:
    if scale == "logit":
        return 1 / (1 + math.exp(-y))
    if scale == "log1p":
        return math.expm1(y)
    return math.exp(y)


def steps(key: str) -> list[str | int]:
    """ "moves[0].rate_per_year" -> ["moves", 0, "rate_per_year"] (the inverse of `dotted`)."""
    out: list[str | int] = []
    for part in key.split("."):
        name, _, rest = part.partition("[")
        if name:
            out.append(name)
        for index in rest.split("[") if rest else []:
            out.append(int(index.rstrip("]")))
    return out


def value_at(model: Any, key: str) -> Any:
    """The value at a dotted key of a validated scenario (file names, e.g. `from`)."""
    node = model
    for step in steps(key):
        if isinstance(node, dict):
            node = node[step]
        elif isinstance(node, list):
            node = node[int(step)]
        else:
            node = getattr(node, _field_name(type(node), str(step)))
    return node


def with_values(model: Any, values: dict[str, float]) -> Any:
    """A copy of a validated scenario with the numbers at dotted keys replaced.

    Only the tables on the way to each key are copied; the rest is shared, so this is cheap
    enough to do once per replication. The values are not validated again: they are drawn
    inside the number's own range (see the module docstring).
    """
    for key, value in values.items():
        model = _replace(model, steps(key), value)
    return model


def _replace(node: Any, path: list[str | int], value: float) -> Any:
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(node, dict):
        out = dict(node)
        out[step] = _replace(node[step], rest, value)
        return out
    if isinstance(node, list):
        items = list(node)
        items[int(step)] = _replace(node[int(step)], rest, value)
        return items
    name = _field_name(type(node), str(step))
    return node.model_copy(update={name: _replace(getattr(node, name), rest, value)})


def _field_name(model: type, key: str) -> str:
    """The attribute for a file key (a field's alias, such as `from`, or its name)."""
    fields = getattr(model, "model_fields", {})
    if key in fields:
        return key
    for name, info in fields.items():
        if info.alias == key:
            return name
    raise KeyError(key)
