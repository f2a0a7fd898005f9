"""A child in care, and the child's own random stream.

Each child carries two small random streams (one for how long things last, one for
matching) keyed from the moment they arrive. Two scenarios run with the same seed give
the same child the same draws wherever their stories are the same, so a difference
between options comes from the option, not from reshuffled luck (common random numbers).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .ages import DAYS_PER_YEAR
from .provision import Unit

if TYPE_CHECKING:
    from .search import _Fit

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_TWO_TO_MINUS_32 = 1.0 / 4294967296.0


class Stream:
    """splitmix64: a tiny, fast, well-mixed generator; one per child and purpose.

    Each 64-bit output gives two uniforms of 32 bits (resolution 2.3e-10, far below any
    probability in a scenario): half the big-integer arithmetic per draw, which is most
    of a draw's cost, above all in the compiled build (setup.py).
    """

    __slots__ = ("spare", "state")

    def __init__(self, key: int) -> None:
        self.state = key & _MASK
        self.spare = -1.0  # the second half of the last output, while unused

    def random(self) -> float:
        """Uniform on [0, 1)."""
        u = self.spare
        if u >= 0.0:
            self.spare = -1.0
            return u
        self.state = s = (self.state + _GOLDEN) & _MASK
        s = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        s = ((s ^ (s >> 27)) * 0x94D049BB133111EB) & _MASK
        s ^= s >> 31
        self.spare = (s & 0xFFFFFFFF) * _TWO_TO_MINUS_32
        return (s >> 32) * _TWO_TO_MINUS_32

    def exponential(self, rate: float) -> float:
        """Waiting time of a hazard with `rate` events per unit time."""
        return -math.log(1.0 - self.random()) / rate


class Child:
    __slots__ = (
        "cid",
        "disability",
        "dob",
        "entered",
        "fit",
        "fit_until",
        "group",
        "in_care",
        "life",
        "match",
        "needs",
        "pending",
        "placement",
        "placements_this_year",
        "retry_at",
        "token",
        "uasc",
        "unit",
        "unmet_reason",
    )

    def __init__(
        self,
        cid: int,
        dob: float,
        entered: float,
        needs: int,
        uasc: bool,
        disability: bool,
        key: int,
    ) -> None:
        self.cid = cid
        self.dob = dob  # in simulation days (negative: born before the start)
        self.entered = entered
        self.needs = needs  # index into the scenario's needs levels
        self.uasc = uasc
        self.disability = disability
        self.group = 0  # sibling group id, 0 = none
        self.life = Stream(key)
        self.match = Stream(key ^ 0x5DEECE66D5DEECE6)
        self.in_care = True
        self.placement = -1  # provision index
        self.unit: Unit | None = None
        self.placements_this_year = 0
        self.unmet_reason: int = -1  # index into UNMET_REASONS while unsuitably placed
        self.retry_at = math.inf
        self.pending: tuple[int, float] | None = None  # (provision index, arrival time)
        self.token = 0  # bumped whenever the child's next event is rescheduled
        self.fit: _Fit | None = None  # the search's cached fit for this child alone ...
        self.fit_until = 0.0  # ... valid until this time (the next age at which rules change)

    def age(self, t: float) -> float:
        return (t - self.dob) / DAYS_PER_YEAR

    def years_in_care(self, t: float) -> float:
        return (t - self.entered) / DAYS_PER_YEAR
