"""Drawing from the scenario's distributions and mixes, fast enough for the event loop."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..scenario.schema import Distribution


class Uniforms:
    """Uniforms on [0, 1) from a numpy Generator, drawn a block at a time.

    A scalar call to numpy costs several times what taking the next value from a list
    does; the sequence is the same whatever the block size, so runs stay reproducible.
    """

    __slots__ = ("_block", "_buf", "_i", "_rng")

    def __init__(self, rng: np.random.Generator, block: int = 512) -> None:
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._i = 0  # the next unused value in _buf

    def random(self) -> float:
        """The next uniform on [0, 1)."""
        i = self._i
        if i >= len(self._buf):
            self._buf = self._rng.random(self._block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def take(self, n: int) -> list[float]:
        """The next `n` uniforms in one go: the same values as `n` calls of `random`."""
        i = self._i
        j = i + n
        if j <= len(self._buf):
            self._i = j
            return self._buf[i:j]
        out = self._buf[i:]
        while len(out) < n:
            self._buf = self._rng.random(self._block).tolist()
            self._i = min(n - len(out), len(self._buf))
            out.extend(self._buf[: self._i])
        return out

    def exponential(self, mean: float) -> float:
        """An exponential waiting time with this mean, from one uniform."""
        return -math.log(1.0 - self.random()) * mean


def first_above(cumulative: list[float], x: float) -> int:
    """The first index whose cumulative share is above `x` (bisect_right, for short lists).

    A plain scan: the mixes and competing risks it serves have a handful of entries, where
    it beats a call to `bisect`. An `x` at or beyond the last share (which rounding could
    give) picks the last entry.
    """
    i = 0
    last = len(cumulative) - 1
    while i < last and cumulative[i] <= x:
        i += 1
    return i


class Categorical:
    """A fixed mix (e.g. age bands of entrants) drawn with one uniform.

    numpy's `choice(p=...)` re-validates the weights on every call; this does the work once.
    """

    __slots__ = ("cumulative", "values")

    def __init__(self, mix: Mapping[str, float] | Mapping[int, float]) -> None:
        total = float(sum(mix.values()))
        if total <= 0:
            raise ValueError("a mix needs at least one positive share")
        self.values: list[Any] = list(mix)
        acc, cum = 0.0, []
        for w in mix.values():
            acc += w / total
            cum.append(acc)
        cum[-1] = 1.0
        self.cumulative = cum

    def pick(self, u: float) -> Any:
        """The value a uniform `u` on [0, 1) picks."""
        return self.values[first_above(self.cumulative, u)]

    def mean(self) -> float:
        """The mix's mean, for numeric values (e.g. the mean sibling group size)."""
        prev, out = 0.0, 0.0
        for v, c in zip(self.values, self.cumulative, strict=True):
            out += float(v) * (c - prev)
            prev = c
        return out


def draw(dist: Distribution, u: Callable[[], float]) -> float:
    """One value from a scenario distribution, using uniforms from `u`."""
    kind = dist.dist
    if kind == "fixed":
        return dist.value  # type: ignore[union-attr]
    if kind == "exponential":
        return -math.log(1.0 - u()) * dist.mean  # type: ignore[union-attr]
    if kind == "uniform":
        return dist.low + (dist.high - dist.low) * u()  # type: ignore[union-attr]
    # lognormal: a standard normal by Box-Muller
    z = math.sqrt(-2.0 * math.log(1.0 - u())) * math.cos(2.0 * math.pi * u())
    return dist.median * math.exp(dist.sigma * z)  # type: ignore[union-attr,operator]


def child_seed(parent: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """The `k`-th child of `parent`, as its `spawn` would make it, whatever was spawned
    before: a mechanism's stream keeps its place whether or not the streams before it
    were ever made (a scenario without a mechanism makes none of its draws)."""
    key = tuple(int(x) for x in parent.spawn_key)
    return np.random.SeedSequence(parent.entropy, spawn_key=(*key, k), pool_size=parent.pool_size)
