"""Random streams: the children's MRG32k3a and the block-drawn numpy uniforms."""

from __future__ import annotations

import bisect

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.child import BUFFERED, SEED_SIZE, Stream
from sim.engine.draws import Uniforms, first_above

M1, M2 = 4294967087, 4294944443


def exact_mrg32k3a(x: list[int], y: list[int], n: int) -> list[float]:
    """MRG32k3a in integer arithmetic, straight from its definition (L'Ecuyer 1999)."""
    out = []
    for _ in range(n):
        p = (1403580 * x[1] - 810728 * x[0]) % M1
        x = [x[1], x[2], p]
        q = (527612 * y[2] - 1370589 * y[0]) % M2
        y = [y[1], y[2], q]
        out.append(((p - q) % M1 or M1) * 2.328306549295727688e-10)
    return out


def stream_at(x: list[int], y: list[int]) -> Stream:
    """A stream whose buffered values are used up and whose generator is in state x, y."""
    s = Stream([0.5] * SEED_SIZE)
    s.handed_out = BUFFERED + 1
    s.x0, s.x1, s.x2 = map(float, x)
    s.y0, s.y1, s.y2 = map(float, y)
    return s


def test_buffered_values_then_the_generator_seeded_from_the_rest() -> None:
    seed = [(k + 0.5) / SEED_SIZE for k in range(SEED_SIZE)]
    s = Stream(list(seed))
    got = [s.random() for _ in range(BUFFERED + 5)]
    assert got[:BUFFERED] == seed[:BUFFERED]
    x = [int(u * M1) for u in seed[BUFFERED : BUFFERED + 3]]
    y = [int(u * M2) for u in seed[BUFFERED + 3 :]]
    assert got[BUFFERED:] == exact_mrg32k3a(x, y, 5)


def test_reference_values() -> None:
    # the generator's published check: every seed 12345; the first outputs are
    # 0.127011122..., 0.318527565..., 0.309186015... (exact integer arithmetic agrees)
    s = stream_at([12345] * 3, [12345] * 3)
    got = [s.random() for _ in range(3)]
    assert got == exact_mrg32k3a([12345] * 3, [12345] * 3, 3)
    assert abs(got[0] - 0.1270111220) < 1e-10 and abs(got[1] - 0.3185275654) < 1e-10


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, M1 - 1), min_size=3, max_size=3),
    st.lists(st.integers(0, M2 - 1), min_size=3, max_size=3),
)
def test_float_arithmetic_is_exact(x: list[int], y: list[int]) -> None:
    # every product stays below 2**53, so the double-precision recursion must give
    # exactly the integer recursion's numbers, for any state (not all zero)
    if not any(x):
        x[0] = 1
    if not any(y):
        y[0] = 1
    s = stream_at(x, y)
    assert [s.random() for _ in range(50)] == exact_mrg32k3a(x, y, 50)


def test_draws_are_uniform() -> None:
    # 200 children's streams, 50 draws each (the first ten buffered, the rest generated): a chi-square test on 20 bins. With a
    # fixed seed the statistic is fixed; 43.8 is the 0.1% critical value for 19 degrees
    # of freedom, so only a broken generator or seeding fails
    seeds = Uniforms(np.random.default_rng(7))
    streams = [Stream(seeds.take(SEED_SIZE)) for _ in range(200)]
    draws = [s.random() for s in streams for _ in range(50)]  # buffered and generated
    assert all(0.0 <= u < 1.0 for u in draws)
    counts = np.histogram(draws, bins=20, range=(0.0, 1.0))[0]
    expected = len(draws) / 20
    assert ((counts - expected) ** 2 / expected).sum() < 43.8


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 9), st.lists(st.integers(0, 20), max_size=12), st.integers(0, 2**32))
def test_take_gives_the_same_values_as_random(block: int, sizes: list[int], seed: int) -> None:
    # taking n at once must not change the sequence, across block boundaries too
    a = Uniforms(np.random.default_rng(seed), block=block)
    b = Uniforms(np.random.default_rng(seed), block=block)
    for n in sizes:
        assert a.take(n) == [b.random() for _ in range(n)]
        assert a.random() == b.random()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8).map(sorted),
    st.floats(0.0, 1.0),
)
def test_first_above_is_bisect_right_within_the_list(cumulative: list[float], x: float) -> None:
    """The scan that picks from mixes and competing risks finds what bisect_right finds
    (or the last entry, where bisect_right would run off the end)."""
    expected = min(bisect.bisect_right(cumulative, x), len(cumulative) - 1)
    assert first_above(cumulative, x) == expected
