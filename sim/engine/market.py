"""A regional market: a pool of registered places that several councils' providers share.

Councils running together in one replication (`sim.engine.region`) buy external places
from the same pools: the region's children's homes, its agency foster carers. A pool has
so many places; children of every council in the model, placements by councils outside it
(a Poisson stream with its own stays), and offers on their way fill it. How full it is
sets, through the scenario's response table, how likely a provider is to offer a place
(a factor on each council's own `offer_probability`) and what a new placement costs (a
factor on its `weekly_cost`, fixed for the placement when it starts, as a spot price is).

A place that frees wakes the children waiting for it in every council (first come, first
served within each council), once the change under way is over.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

from ..scenario.ages import DAYS_PER_YEAR
from ..scenario.schema import Distribution
from .clock import Clock
from .draws import Uniforms, draw

if TYPE_CHECKING:
    from .placing import Placing
    from .provision import ProvisionState


class Response:
    """The pool's response to its occupancy: (offer factor, price factor), interpolated
    linearly between the rows of the table, flat beyond its ends."""

    __slots__ = ("occupancy", "offer", "price")

    def __init__(self, rows: list[tuple[float, float, float]]) -> None:
        self.occupancy = [r[0] for r in rows]
        self.offer = [r[1] for r in rows]
        self.price = [r[2] for r in rows]

    def at(self, share: float) -> tuple[float, float]:
        """(offer factor, price factor) at this share of places filled."""
        xs = self.occupancy
        if share <= xs[0]:
            return self.offer[0], self.price[0]
        last = len(xs) - 1
        if share >= xs[last]:
            return self.offer[last], self.price[last]
        i = 1
        while xs[i] < share:
            i += 1
        w = (share - xs[i - 1]) / (xs[i] - xs[i - 1])
        offer = self.offer[i - 1] + w * (self.offer[i] - self.offer[i - 1])
        price = self.price[i - 1] + w * (self.price[i] - self.price[i - 1])
        return offer, price


class Neighbourhood:
    """The councils of one replication: wakes the children of every council waiting for a
    place that a change freed, after the change, never inside it."""

    __slots__ = ("busy", "pending", "placings")

    def __init__(self) -> None:
        self.placings: list[Placing] = []
        self.busy = False
        #: a full pool has freed a place since the last wake-up (councils are queued)
        self.pending = False

    def wake(self, now: float) -> None:
        """Every council with places freed since its last wake-up searches again, at `now`.

        A council's wake-up may free a place in a pool (a child moves to a better place),
        which queues others: loop until none is queued. Called after every change; costs
        one test unless a full pool has freed a place.
        """
        if self.busy or not self.pending:
            return  # nothing queued, or the outer call's loop will see what this queued
        self.busy = True
        try:
            while self.pending:
                self.pending = False
                for placing in self.placings:
                    if placing.has_queued():
                        placing.state.now = now
                        placing.drain()
        finally:
            self.busy = False


class MarketSegment:
    """One pool of places shared by the region's councils (see the module's note)."""

    __slots__ = (
        "_arrivals",
        "_decisions",
        "_due_at",
        "_factors",
        "_leaving",
        "_outside_rate",
        "_start",
        "_stay",
        "_stays",
        "clock",
        "end",
        "members",
        "name",
        "neighbourhood",
        "occupied",
        "offer_factor",
        "outside",
        "outside_refused",
        "outside_started",
        "places",
        "price_factor",
        "response",
    )

    def __init__(
        self,
        name: str,
        places: int,
        response: Response,
        neighbourhood: Neighbourhood,
        clock: Clock,
        end: float,
        outside_per_year: float,
        stay: Distribution,
        streams: list[Uniforms],
    ) -> None:
        """`streams`: four uniform streams of the market's own (outside referrals' times,
        their providers' answers, their stays, and the stays under way at the start), so
        that an option changing who is taken shifts none of the others' draws."""
        self.name = name
        self.places = places
        self.response = response
        self.neighbourhood = neighbourhood
        self.clock = clock
        self.end = end
        #: places taken now: children of the model's councils, offers on their way, and
        #: councils outside the model
        self.occupied = 0
        #: places taken by councils outside the model
        self.outside = 0
        #: this month so far: outside placements made, and those the pool could not take
        self.outside_started = 0
        self.outside_refused = 0
        #: (placing, provision) of every council provision that buys from this pool
        self.members: list[tuple[Placing, ProvisionState]] = []
        self._outside_rate = outside_per_year / DAYS_PER_YEAR
        self._stay = stay
        self._arrivals, self._decisions, self._stays, self._start = streams
        # (offer factor, price factor) by places taken, worked out as first met: the
        # response depends on the occupancy only, and the count changes at every placement
        self._factors: list[tuple[float, float] | None] = [None] * (places + 1)
        self.offer_factor, self.price_factor = response.at(0.0)
        #: when the outside placements under way end (a heap): they are counted out when
        #: the pool is next looked at (`sync`), not by an event each; only a full pool
        #: needs its next ending on the clock (`_watch_full`), to wake the waiting then
        self._leaving: list[float] = []
        self._due_at = math.inf  # the time of the wake-up event on the clock, if any

    # ------------------------------------------------------------------ occupancy

    def _update(self) -> None:
        k = self.occupied if self.occupied < self.places else self.places
        hit = self._factors[k]
        if hit is None:
            hit = self._factors[k] = self.response.at(k / self.places)
        self.offer_factor, self.price_factor = hit

    def sync(self) -> None:
        """Count out the outside placements that have ended by now (see `_leaving`):
        called before the pool is read or changed, so every reader sees it as it is."""
        leaving = self._leaving
        if leaving and leaving[0] <= self.clock.time():
            now = self.clock.time()
            while leaving and leaving[0] <= now:
                heapq.heappop(leaving)
                self.outside -= 1
                self._free()

    def has_room(self, n: int) -> bool:
        """Whether `n` more placements fit in the pool (after `sync`, `offer_factor` is the
        chance's factor now)."""
        self.sync()
        return self.occupied + n <= self.places

    def take(self) -> float:
        """A place is taken (a child moves in, or an offer is on its way); returns the
        price factor of a placement starting now (at the occupancy before it)."""
        self.sync()
        factor = self.price_factor
        self.occupied += 1
        self._update()
        if self.occupied >= self.places:
            self._watch_full()
        return factor

    def release(self) -> None:
        """A council's place frees (see `_free`)."""
        self.sync()
        self._free()

    def _free(self) -> None:
        """A place frees. If the pool was full, the waiting children of every council that
        buys here are queued to search again (`Neighbourhood.wake` runs them once the change
        is over); a pool with room turned nobody away for want of a place, and a provider's
        refusal holds as long as it holds (`refusal_holds_days`)."""
        was_full = self.occupied >= self.places
        self.occupied -= 1
        self._update()
        if was_full:
            for placing, provision in self.members:
                placing.notify_pool(provision)
            self.neighbourhood.pending = True

    def _watch_full(self) -> None:
        """The pool is full: put its next outside ending on the clock, so the children
        waiting for a place are woken when it ends (while it is full no outside placement
        starts, so no ending comes sooner)."""
        leaving = self._leaving
        if leaving and leaving[0] < self._due_at:
            self._due_at = leaving[0]
            self.clock.after(leaving[0] - self.clock.time(), self._ending_when_full)

    def _ending_when_full(self, _event: object) -> None:
        self._due_at = math.inf
        self.sync()
        self.neighbourhood.wake(self.clock.time())
        if self.occupied >= self.places:
            self._watch_full()

    # ------------------------------------------------------------------ outside demand

    def fill_at_start(self, share: float) -> None:
        """Places taken at the start by councils outside the model: the pool's stated
        starting occupancy less what the model's councils' starting children already take.

        Each lasts the time left of a stay under way (`time_left`), so a pool in a steady
        state at the start stays in it.
        """
        n = max(0, round(share * self.places) - self.occupied)
        n = min(n, self.places - self.occupied)
        biased = length_biased(self._stay)
        for _ in range(n):
            self._outside_in(time_left(self._stay, self._start, biased))

    def _outside_in(self, stay: float) -> None:
        now = self.clock.time()
        self.outside += 1
        if stay < self.end - now:
            heapq.heappush(self._leaving, now + stay)
        self.take()

    def start_outside_demand(self) -> None:
        """Councils outside the model place children here as a Poisson stream: a referral
        is taken if the pool has room and the provider offers (the same offer factor the
        model's councils meet); otherwise it goes elsewhere, counted as refused. One
        callback per referral (no process), each drawing its answer and stay whether
        taken or not, so the streams stay aligned between options."""
        if self._outside_rate > 0:
            self._next_referral(self.clock.time())

    def _next_referral(self, now: float) -> None:
        delay = self._arrivals.exponential(1.0 / self._outside_rate)
        if now + delay < self.end:
            self.clock.after(delay, self._referral)

    def _referral(self, _event: object) -> None:
        u = self._decisions.random()
        stay = draw(self._stay, self._stays.random)
        if self.has_room(1) and u < self.offer_factor:
            self.outside_started += 1
            self._outside_in(stay)
        else:
            self.outside_refused += 1
        self._next_referral(self.clock.time())

    def month_figures(self) -> tuple[float, float, float, float, float, float]:
        """(occupied, outside, offer factor, price factor, outside placements started,
        outside referrals refused) now; the counts restart."""
        self.sync()
        out = (
            float(self.occupied),
            float(self.outside),
            self.offer_factor,
            self.price_factor,
            float(self.outside_started),
            float(self.outside_refused),
        )
        self.outside_started = 0
        self.outside_refused = 0
        return out


def length_biased(stay: Distribution) -> Distribution:
    """A lognormal stay's length-biased law (its log's mean up by sigma squared); other
    kinds are drawn length-biased in `time_left` directly."""
    if stay.dist != "lognormal":
        return stay
    sigma = float(stay.sigma)  # type: ignore[union-attr]
    return stay.model_copy(update={"median": float(stay.median) * math.exp(sigma * sigma)})  # type: ignore[union-attr]


def time_left(stay: Distribution, rng: Uniforms, biased: Distribution | None = None) -> float:
    """The time left of a stay under way at a moment in a steady state (the equilibrium
    residual of a renewal process): a uniform share of a stay drawn length-biased (long
    stays are more likely to be under way). Exact for each kind of distribution:
    fixed: the value; exponential: its length-biased law is a gamma of shape 2 (two
    exponentials; the residual is again exponential, memoryless); uniform on [a, b]:
    density in proportion to x, by its inverse CDF; lognormal: length-biased, its log's
    mean rises by sigma squared (`biased`: `length_biased(stay)`, worked out once by a
    caller drawing many)."""
    kind = stay.dist
    if kind == "fixed":
        length = float(stay.value)  # type: ignore[union-attr]
    elif kind == "exponential":
        mean = float(stay.mean)  # type: ignore[union-attr]
        length = rng.exponential(mean) + rng.exponential(mean)
    elif kind == "uniform":
        a, b = float(stay.low), float(stay.high)  # type: ignore[union-attr]
        length = math.sqrt(a * a + rng.random() * (b * b - a * a))
    else:
        length = draw(biased if biased is not None else length_biased(stay), rng.random)
    return length * rng.random()


#: The month-end figures of a market, in the order `MarketSegment.month_figures` gives.
MARKET_SERIES = (
    "occupied",
    "outside",
    "offer_factor",
    "price_factor",
    "outside_started",
    "outside_refused",
)
