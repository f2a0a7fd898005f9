"""A child's next event: when it comes and what it is, one SimPy event at a time.

Each child's story is a chain of waits, one pending at a time, for the earliest of its
competing events (a hazard, turning 18, a retry, an offer arriving). When something
outside the child changes its situation (its home closes, its carer leaves), the child is
booked again and the stale event is ignored when it comes (`Child.event` names the live
one). What happens when the event comes is the model's to decide (`Model.on_child_event`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from ..scenario.ages import ADULT_AGE, DAYS_PER_YEAR

if TYPE_CHECKING:
    from .child import Child
    from .hazards import HazardTable
    from .state import State

#: What a child's next event is (Child.next_kind).
NOTHING: Final = 0  # nothing more within the run
HAZARD: Final = 1  # one of the competing risks (exit, breakdown, planned move)
AGE_18: Final = 2
RETRY: Final = 3  # look again for a suitable placement
OFFER: Final = 4  # a provider's offer arrives

#: A nudge past an age or time-in-care edge the child stands on, in years, so that
#: rounding cannot find the same edge twice.
NUDGE: Final = 1e-7


class Scheduler:
    """Books each child's next event on the clock.

    The rates of the competing risks change only at edges of age, time in care and time in
    the current placement, so the waiting time is found by spending one exponential draw
    of cumulative hazard across those pieces: one SimPy event per thing that happens, none
    per birthday.
    """

    def __init__(self, state: State, hazards: HazardTable) -> None:
        self.state = state
        self.hazards = hazards

    def book(self, child: Child) -> None:
        """Book the child's next event; any event booked before this is now stale."""
        child.event = None  # whatever was pending is stale from now on
        state = self.state
        t = state.now
        end = state.end
        hard, what = end, NOTHING
        if child.retry_at < hard:
            hard, what = child.retry_at, RETRY
        if child.pending is not None and child.pending[1] < hard:
            hard, what = child.pending[1], OFFER
        haz = self.hazards
        age_edges, tic_edges, tip_edges = haz.age_edges, haz.tic_edges_inf, haz.tip_edges_inf
        n_tip = haz.n_tip
        dob, entered, placed = child.dob, child.entered, child.placed_at
        grid = haz.grid[child.placement * state.n_needs + child.needs]
        # the steps the child is in now (as bisect_right would find them): ages and years in
        # care only grow, so the search starts from where the child's last one ended
        x = (t - dob) / DAYS_PER_YEAR + NUDGE
        a = child.age_step
        while a < len(age_edges) and age_edges[a] <= x:
            a += 1
        child.age_step = a
        if a == len(age_edges):
            # past the last edge (18) by the nudge alone: a starting age drawn a hair under
            # 18 (found by the fuzz test). The child turns 18 now.
            if t < end:
                child.next_kind, child.next_risks = AGE_18, None
                self._due(child, t, 0.0)
            return
        x = (t - entered) / DAYS_PER_YEAR + NUDGE
        k = child.tic_step
        while tic_edges[k] <= x:  # its last edge is infinite
            k += 1
        child.tic_step = k
        x = (t - placed) / DAYS_PER_YEAR + NUDGE
        j = child.tip_step
        while tip_edges[j] <= x:  # likewise
            j += 1
        child.tip_step = j
        # The cumulative hazard until the next event: drawn once per hazard event, and kept
        # across re-bookings (a move, a wake-up, an offer): what the booked walk used up to
        # now is spent, the rest carries on at the new rates. A time change of one unit
        # exponential (the next-reaction method): the same law as a fresh draw at every
        # booking, by memorylessness, but a child re-booked more often in one scenario than
        # in another keeps the same clock, so compared options share its hazard events.
        walk = child.walk
        if walk is None:
            budget = -math.log(1.0 - child.life.random())
        else:
            budget = child.budget
            q = 0
            while q < len(walk) and walk[q] < t:
                end_ = walk[q + 1]
                budget -= walk[q + 2] * ((end_ if end_ < t else t) - walk[q])
                q += 3
            if budget < 0.0:
                budget = 0.0  # rounding: the event was due now
        child.budget = budget
        walk = []
        child.walk = walk
        s = t
        while True:
            t_age = dob + age_edges[a] * DAYS_PER_YEAR
            t_tic = entered + tic_edges[k] * DAYS_PER_YEAR
            t_tip = placed + tip_edges[j] * DAYS_PER_YEAR
            seg_end = t_age if t_age < t_tic else t_tic
            if t_tip < seg_end:
                seg_end = t_tip
            if hard < seg_end:
                seg_end = hard
            risks = grid[a][k * n_tip + j] or haz.at(
                child.placement,
                a,
                child.needs,
                k,
                j,
                (s - dob) / DAYS_PER_YEAR + NUDGE,
                (s - entered) / DAYS_PER_YEAR + NUDGE,
                (s - placed) / DAYS_PER_YEAR + NUDGE,
            )
            if risks.total > 0:
                gap = budget / risks.total
                if s + gap < seg_end:
                    t_next, kind = s + gap, HAZARD
                    walk += (s, t_next, risks.total)
                    break
                budget -= risks.total * (seg_end - s)
                walk += (s, seg_end, risks.total)
            if seg_end >= hard:
                t_next, kind = hard, what
                break
            if seg_end == t_age:
                if age_edges[a] >= ADULT_AGE:
                    t_next, kind = seg_end, AGE_18
                    break
                a += 1
            if seg_end == t_tic:
                k += 1
            if seg_end == t_tip:
                j += 1
            s = seg_end
        if t_next >= end or kind == NOTHING:
            return  # nothing more happens to this child within the run
        child.next_kind = kind
        child.next_risks = risks
        self._due(child, t, t_next - t if t_next > t else 0.0)

    def _due(self, child: Child, t: float, delay: float) -> None:
        """Put the child's event on the clock, `delay` days after `t` (the time now).

        The callback is the child's own, made once on admission: the event carries nothing.
        """
        child.event = self.state.clock.after(delay, child.on_event)
        child.event_time = t + delay  # what SimPy's clock will read: now + delay, as it sums
