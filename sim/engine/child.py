"""A child in care, and the child's own random stream.

Each child carries two small random streams (one for how long things last, one for
matching) keyed from the moment they arrive. Two scenarios run with the same seed give
the same child the same draws wherever their stories are the same, so a difference
between options comes from the option, not from reshuffled luck (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ..scenario.ages import DAYS_PER_YEAR
from .draws import Uniforms
from .provision import Unit

if TYPE_CHECKING:
    import simpy

    from .hazards import Competing
    from .search import Fit

# MRG32k3a's moduli and multipliers (L'Ecuyer 1999, "Good parameters and implementations
# for combined multiple recursive random number generators", Operations Research 47(1))
_M1: Final = 4294967087.0
_M2: Final = 4294944443.0
_A12: Final = 1403580.0
_A13N: Final = 810728.0
_A21: Final = 527612.0
_A23N: Final = 1370589.0
_NORM: Final = 2.328306549295727688e-10  # 1 / (M1 + 1)


#: Uniforms a stream hands out straight from its creator's numpy stream before it turns
#: to its own generator: enough for most children's whole stay (bench/RESULTS.md), and
#: far cheaper than generating them one by one.
BUFFERED: Final = 10
#: Uniforms a stream takes when created: the buffered ones, then six that seed MRG32k3a.
SEED_SIZE: Final = BUFFERED + 6


class Stream:
    """A child's own random stream: uniforms drawn ahead, then MRG32k3a.

    The first `BUFFERED` values come from the numpy stream of the mechanism that created
    the child (taken in one slice when the child arrives). A child who needs more goes on
    with MRG32k3a (L'Ecuyer 1999), started from six further values of that slice: a
    random point of its 2**191 period, so streams do not overlap in practice. It runs in
    double precision as in its reference code; every product stays below 2**53, so the
    arithmetic is exact: the same numbers in pure Python and in the compiled build, with
    no big integers.
    """

    __slots__ = ("handed_out", "seed", "x0", "x1", "x2", "y0", "y1", "y2")

    def __init__(self, seed: list[float]) -> None:
        """`seed`: `SEED_SIZE` uniforms on [0, 1)."""
        self.seed = seed
        self.handed_out = 0  # values handed out so far
        self.x0 = self.x1 = self.x2 = self.y0 = self.y1 = self.y2 = 0.0

    def random(self) -> float:
        """Uniform on [0, 1)."""
        i = self.handed_out
        if i < BUFFERED:
            self.handed_out = i + 1
            return self.seed[i]
        if i == BUFFERED:
            self._start_generator()
        # component 1; floor(p / m) may be one too high by rounding, never too low, so
        # one correction of a negative remainder makes the reduction exact
        p = _A12 * self.x1 - _A13N * self.x0
        p -= math.floor(p / _M1) * _M1
        if p < 0.0:
            p += _M1
        self.x0 = self.x1
        self.x1 = self.x2
        self.x2 = p
        # component 2
        q = _A21 * self.y2 - _A23N * self.y0
        q -= math.floor(q / _M2) * _M2
        if q < 0.0:
            q += _M2
        self.y0 = self.y1
        self.y1 = self.y2
        self.y2 = q
        return (p - q if p > q else p - q + _M1) * _NORM

    def _start_generator(self) -> None:
        """Seed MRG32k3a from the six values after the buffered ones (int() is floor here)."""
        s = self.seed
        self.x0 = float(int(s[BUFFERED] * _M1))
        self.x1 = float(int(s[BUFFERED + 1] * _M1))
        self.x2 = float(int(s[BUFFERED + 2] * _M1))
        self.y0 = float(int(s[BUFFERED + 3] * _M2))
        self.y1 = float(int(s[BUFFERED + 4] * _M2))
        self.y2 = float(int(s[BUFFERED + 5] * _M2))
        # a component must not start at all zeros (chance 2**-96, but never say never)
        if self.x0 == 0.0 and self.x1 == 0.0 and self.x2 == 0.0:
            self.x0 = 1.0
        if self.y0 == 0.0 and self.y1 == 0.0 and self.y2 == 0.0:
            self.y0 = 1.0
        self.handed_out = BUFFERED + 1


def ignore_event(_event: object) -> None:
    """A child's event callback before admission and after leaving care."""


class Child:
    """A child in care: who they are, where they live, and their next event.

    Plain data with slots: the mechanisms change it, thousands of times a replication.
    """

    __slots__ = (
        "age_step",
        "budget",
        "cid",
        "deprived",
        "disability",
        "dob",
        "entered",
        "event",
        "event_time",
        "fit",
        "fit_until",
        "group",
        "holds",
        "home_key",
        "in_care",
        "life",
        "match",
        "needs",
        "next_kind",
        "next_risks",
        "offer_key",
        "on_event",
        "pending",
        "placed_at",
        "placement",
        "placements_this_year",
        "price_factor",
        "retry_at",
        "settled",
        "tic_step",
        "tip_step",
        "uasc",
        "unit",
        "unmet_reason",
        "waits",
        "walk",
    )

    def __init__(
        self,
        cid: int,
        dob: float,
        entered: float,
        needs: int,
        uasc: bool,
        disability: bool,
        seeds: Uniforms,
    ) -> None:
        self.cid = cid
        self.dob = dob  # in simulation days (negative: born before the start)
        self.entered = entered
        self.needs = needs  # index into the scenario's needs levels
        self.uasc = uasc
        self.disability = disability
        self.group = 0  # sibling group id, 0 = none
        # from the numpy stream of the mechanism that created the child (arrivals, ...)
        self.life = Stream(seeds.take(SEED_SIZE))  # how long things last
        # matching draws have their own stream, so a search never shifts the draws above
        self.match = Stream(seeds.take(SEED_SIZE))
        self.in_care = True
        self.placement = -1  # provision index
        self.placed_at = entered  # when the current placement began (`Placing.place`)
        #: the suitable provision the child lives in, or last lived in (-1: none yet in this
        #: period of care): where their pathway goes on from (`When.from_`)
        self.settled = -1
        self.unit: Unit | None = None
        #: who the child lives with: their household's or home's id, or (negative) one
        #: number per placement elsewhere, shared by siblings placed there together
        self.home_key = 0
        #: the `home_key` siblings waiting together for one provider's offer will share
        self.offer_key = 0
        #: deprived of liberty in the current placement (drawn at placement)
        self.deprived = False
        self.placements_this_year = 0
        #: the price factor of a pooled placement, fixed when it started (`sim.engine.market`)
        self.price_factor = 1.0
        self.unmet_reason: int = -1  # index into UNMET_REASONS while unsuitably placed
        self.retry_at = math.inf
        self.pending: tuple[int, float] | None = None  # (provision index, arrival time)
        #: refusals that still hold: offer-type provision index -> until when (None: none
        #: yet); the search does not ask that provider again for the child before then
        self.holds: dict[int, float] | None = None
        #: while not suitably placed: the provisions with places in the child's options,
        #: whose waiting lists hold the child (`Placing.wait`); empty otherwise
        self.waits: tuple[int, ...] = ()
        #: the child's hazard clock (`Scheduler.book`): the cumulative hazard drawn at the
        #: last hazard event that the next one needs, as it stood when last booked, and the
        #: booked walk from then, flat (start, end, total rate per day) per piece; None: draw
        #: a new one at the next booking (at admission, and after each hazard event)
        self.budget = 0.0
        self.walk: list[float] | None = None
        # the pending SimPy event (any other that comes is stale), when it is due, what it
        # is, and the risks the child faced when it was drawn (`Scheduler.book`); the
        # callback is set on admission (`Arrivals.admit`)
        self.event: simpy.Timeout | None = None
        self.event_time = 0.0
        self.next_kind = 0
        self.next_risks: Competing | None = None
        self.on_event: Callable[[object], None] = ignore_event
        # the age, time-in-care and time-in-placement steps of the hazard table the child
        # was last seen in (`Scheduler.book`): where the next look-up starts, as they only
        # ever grow (the last starts again at 0 with each new placement)
        self.age_step = 0
        self.tic_step = 0
        self.tip_step = 0
        self.fit: Fit | None = None  # the search's cached fit for this child alone ...
        self.fit_until = 0.0  # ... valid until this time (the next age at which rules change)

    def age(self, t: float) -> float:
        """Age in years at day `t` (the rules are written in years)."""
        return (t - self.dob) / DAYS_PER_YEAR

    def years_in_care(self, t: float) -> float:
        """Years in care at day `t` (this episode)."""
        return (t - self.entered) / DAYS_PER_YEAR
