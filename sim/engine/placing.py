"""Placing children: search, move in, move out, look again, wait for an offer.

`Search` finds where a child could go; this carries it out and keeps the books: the
provision's occupancy, the places promised to pending offers, the unmet-demand tally and
this month's moves, and books the child's next event, which depends on where they live.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from .metrics import MOVE_KINDS, UNMET_REASONS

if TYPE_CHECKING:
    from .child import Child
    from .provision import ProvisionState, Unit
    from .schedule import Scheduler
    from .search import Search
    from .state import State

#: Why a child waits in the fallback: a provider's offer is on its way.
AWAITING_OFFER: Final = UNMET_REASONS.index("awaiting_offer")
#: Moves that must leave the current placement at once, offer or not (a child whose needs
#: outgrew their placement cannot wait there for an offer: it no longer takes them).
FORCED_MOVES: Final = ("breakdown", "provision_closed", "needs_changed")


class Placing:
    """Moves children in and out of placements in the replication's `State`."""

    def __init__(self, state: State, search: Search, scheduler: Scheduler) -> None:
        self.state = state
        self.search = search
        self.scheduler = scheduler
        scenario = state.scenario
        #: where a child goes when nothing suitable is found (unsuitably placed)
        self.fallback = state.by_pid[scenario.matching.fallback]
        self.retry_days = scenario.matching.retry_days
        self.moves = list(scenario.moves)
        layout = state.layout
        self._i_move = {kind: layout.i("moves", kind) for kind in MOVE_KINDS}
        self._i_moves_total = layout.i("moves", "total")
        self._i_unmet_new = [layout.i("unmet_new", r) for r in UNMET_REASONS]
        self._i_splits = layout.i("sibling_splits", "all")
        self._last_key = 0  # the last `Child.home_key` handed out for a placement without units

    def new_key(self) -> int:
        """A fresh `Child.home_key` for a placement with no household or home to name it."""
        self._last_key -= 1
        return self._last_key

    def find_and_place(
        self, group: list[Child], move_kind: str | None, exclude: Unit | None = None
    ) -> None:
        """Search for a group (or one child) and place them, splitting siblings if needed."""
        state = self.state
        outcome = self.search.find(group, exclude=exclude)
        if outcome.found is None and len(group) > 1:
            state.count(self._i_splits)
            state.log("sibling_split", group[0].group, len(group))
            for child in group:
                self.find_and_place([child], move_kind, exclude)
            return
        # siblings placed together where there are no units share one home key
        together = self.new_key() if len(group) > 1 and outcome.found is not None else 0
        for child in group:
            if outcome.found is None:
                self.place(
                    child,
                    self.fallback,
                    None,
                    suitable=False,
                    reason=outcome.reason,
                    move_kind=move_kind,
                )
                continue
            provision, unit, delay = outcome.found
            if delay > 0:
                # the offer comes later: wait in the emergency arrangement (or stay put)
                state.reserved[provision.index] += 1
                child.pending = (provision.index, state.now + delay)
                child.offer_key = together
                if child.placement < 0 or move_kind in FORCED_MOVES:
                    self.place(
                        child,
                        self.fallback,
                        None,
                        suitable=False,
                        reason=AWAITING_OFFER,
                        move_kind=move_kind,
                        together=together,  # waiting together for the offer
                    )
                else:
                    self.scheduler.book(child)
                continue
            self.place(
                child,
                provision,
                unit,
                suitable=provision.suitable,
                reason=outcome.reason,
                move_kind=move_kind,
                together=together,
            )

    def vacate(self, child: Child) -> None:
        """The child moves out of their placement (to another, or out of care)."""
        if child.placement < 0:
            return
        state = self.state
        state.provisions[child.placement].remove_child(state.now, child, child.unit)
        if child.unmet_reason >= 0:
            state.unmet.change(state.now, child.unmet_reason, -1)
            child.unmet_reason = -1
        child.placement = -1
        child.unit = None

    def place(
        self,
        child: Child,
        provision: ProvisionState,
        unit: Unit | None,
        suitable: bool,
        reason: int,
        move_kind: str | None,
        together: int = 0,
    ) -> None:
        """Move the child in (out of their placement first, if any), then book what's next.

        `reason` says why an unsuitable placement was all there was (UNMET_REASONS);
        `move_kind` is None for a child entering care; `together`: the home key of
        siblings placed with the child where there are no units (0: none).
        """
        state = self.state
        t = state.now
        from_pid = state.provision_ids[child.placement] if child.placement >= 0 else None
        flows = state.flows
        if child.placement >= 0:
            self.vacate(child)
            if move_kind is not None:
                flows[self._i_move[move_kind]] += 1
                flows[self._i_moves_total] += 1
            child.placed_at = t
        else:
            # the first placement of the period of care began when the child entered (for
            # the starting population: assumed, as counts do not say when it began)
            child.placed_at = child.entered
        child.tip_step = 0  # time in this placement starts again
        if suitable and child.settled != provision.index:
            child.settled = provision.index  # the pathway goes on from here
            if self.search.uses_origin:
                child.fit = None  # the cached fit depends on where the child comes from
        provision.add_child(t, child, unit, sole=state.sole_occupancy[child.needs])
        child.placement = provision.index
        child.unit = unit
        if unit is not None:
            child.home_key = unit.uid
        else:
            child.home_key = together if together else self.new_key()
        # deprived of liberty here: a share strictly between 0 and 1 takes a matching draw
        share = provision.deprivation_of_liberty[child.needs]
        child.deprived = share >= 1.0 or (share > 0.0 and child.match.random() < share)
        child.placements_this_year += 1
        if not suitable:
            child.unmet_reason = reason
            state.unmet.change(t, reason, +1)
            flows[self._i_unmet_new[reason]] += 1
            child.retry_at = t + self.retry_days
        else:
            child.retry_at = math.inf
        if state.events is not None:
            state.log(
                "placed",
                child.cid,
                from_pid,
                provision.pid,
                unit.uid if unit else None,
                move_kind,
                None if suitable else UNMET_REASONS[reason],
            )
        self.scheduler.book(child)

    def rehome(self, child: Child, move_kind: str) -> None:
        """The child's placement has ended without them leaving care: find the next one."""
        if child.pending is not None:
            self.release_pending(child)
        # never straight back into the household or home whose placement just ended
        self.find_and_place([child], move_kind, exclude=child.unit)

    def break_down(self, child: Child) -> None:
        """The child's placement has broken down: they move."""
        state = self.state
        if state.events is not None:
            state.log("breakdown", child.cid, state.provision_ids[child.placement])
        self.rehome(child, "breakdown")

    def release_pending(self, child: Child) -> None:
        """Give back the place held for the child's pending offer, if any."""
        if child.pending is not None:
            self.state.reserved[child.pending[0]] -= 1
            child.pending = None
            child.offer_key = 0

    def retry(self, child: Child) -> None:
        """A child in an unsuitable placement: look again."""
        state = self.state
        if child.pending is not None:
            child.retry_at = math.inf  # an offer is on its way
            self.scheduler.book(child)
            return
        outcome = self.search.find([child], exclude=child.unit)
        if outcome.found is not None:
            provision, unit, delay = outcome.found
            if provision.suitable and provision.index != child.placement:
                if delay > 0:
                    state.reserved[provision.index] += 1
                    child.pending = (provision.index, state.now + delay)
                    child.retry_at = math.inf
                    self.scheduler.book(child)
                    return
                self.place(
                    child, provision, unit, suitable=True, reason=0, move_kind="found_suitable"
                )
                return
        child.retry_at = state.now + self.retry_days
        self.scheduler.book(child)

    def offer_arrives(self, child: Child) -> None:
        """The provider's offer the child waited for has come: they move there."""
        index, _ = child.pending  # type: ignore[misc]
        together = child.offer_key
        self.release_pending(child)
        provision = self.state.provisions[index]
        self.place(
            child,
            provision,
            None,
            suitable=provision.suitable,
            reason=0,
            move_kind="offer_arrived",
            together=together,
        )

    def planned_move(self, child: Child, move_index: int) -> None:
        """A planned move (the scenario's `moves`) is due: move if somewhere suitable has room."""
        state = self.state
        move = self.moves[move_index]
        if child.pending is not None:
            self.scheduler.book(child)  # already waiting for an offer elsewhere
            return
        outcome = self.search.find([child], order=move.to, exclude=child.unit, strict=True)
        if outcome.found is None or not outcome.found[0].suitable:
            self.scheduler.book(child)  # nowhere to move to: stay where they are
            return
        provision, unit, delay = outcome.found
        if delay > 0:
            state.reserved[provision.index] += 1
            child.pending = (provision.index, state.now + delay)
            self.scheduler.book(child)
            return
        state.log("planned_move", child.cid, move.name)
        self.place(child, provision, unit, suitable=True, reason=0, move_kind="planned")
