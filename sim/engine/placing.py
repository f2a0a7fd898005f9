"""Placing children: search, move in, move out, look again, wait for an offer.

`Search` finds where a child could go; this carries it out and keeps the books: the
provision's occupancy, the places promised to pending offers, the unmet-demand tally and
this month's moves, and books the child's next event, which depends on where they live.

A child not suitably placed waits, and is searched for again only when something could
have changed: a place frees in a household, home or capped provision among its options
(it is woken, first come first served, at the time of the vacancy, once the change that
freed it is over), a provider's refusal stops holding, or the child reaches an age at
which its options change (the child's own RETRY event); `matching.retry_days`, if set, is
a backstop.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from .metrics import MOVE_KINDS, UNMET_REASONS

if TYPE_CHECKING:
    from .child import Child
    from .market import Neighbourhood
    from .provision import ProvisionState, Unit
    from .schedule import Scheduler
    from .search import Fit, Search
    from .state import State

#: Why a child waits in the fallback: a provider's offer is on its way.
AWAITING_OFFER: Final = UNMET_REASONS.index("awaiting_offer")
#: How long after an age edge a waiting child looks again (days): a hair, so the age it
#: reads then is past the edge, never on it.
EDGE_NUDGE_DAYS: Final = 1e-6
#: The soonest a waiting child's own search follows the last when a refusal hold ends
#: (days): a hold drawn shorter than this (a distribution may give one) must not turn into
#: a search every few moments, as `matching.retry_days` may not be under a day either.
MIN_LOOK_DAYS: Final = 1.0
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
        #: the backstop: a waiting child is searched for at least this often (inf: never)
        retry = scenario.matching.retry_days
        self.retry_days: float = math.inf if retry is None else retry
        n = len(state.provisions)
        #: by provision: whether only a shared pool limits it (no cap of its own): its
        #: waiting children are woken by the pool (`notify_pool`), when it was full
        self._pool_only = [p.market is not None and p.max_children < 0 for p in state.provisions]
        #: by provision: whether a place there can free (households, homes, a capped offer)
        self._has_places = [
            p.has_units or p.max_children >= 0 or p.market is not None for p in state.provisions
        ]
        #: by provision: the children waiting whose options include it, by id, in the order
        #: they started waiting (first come, first served)
        self.waiting: list[dict[int, Child]] = [{} for _ in range(n)]
        #: by provision: places freed since its last wake-up (more than 0: it is queued)
        self._freed = [0] * n
        #: provisions with places freed by the change under way, to wake in this order
        self._to_wake: list[int] = []
        #: by the id of a (shared, long-lived) `Fit`: the provisions with places it includes
        self._watch: dict[int, tuple[int, ...]] = {}
        self.moves = list(scenario.moves)
        layout = state.layout
        self._i_move = {kind: layout.i("moves", kind) for kind in MOVE_KINDS}
        self._i_moves_total = layout.i("moves", "total")
        self._i_unmet_new = [layout.i("unmet_new", r) for r in UNMET_REASONS]
        self._i_splits = layout.i("sibling_splits", "all")
        self._last_key = 0  # the last `Child.home_key` handed out for a placement without units
        #: the councils of a region, woken together when a shared pool's place frees (None:
        #: a council alone)
        self.neighbourhood: Neighbourhood | None = None

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
                self.reserve(child, provision, delay)
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
        provision = state.provisions[child.placement]
        provision.remove_child(state.now, child, child.unit)
        self.notify(provision)
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
            self.wait(child)
            child.retry_at = math.inf if child.pending is not None else self.next_look(child)
        else:
            child.retry_at = math.inf
            if child.waits:
                self.unwait(child)
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

    def reserve(self, child: Child, provision: ProvisionState, delay: float) -> None:
        """Hold a place for the provider's offer to the child, due in `delay` days (in a
        shared pool too: an offer on its way takes a place there)."""
        self.state.reserved[provision.index] += 1
        child.pending = (provision.index, self.state.now + delay)
        if provision.market is not None:
            provision.market.take()

    def release_pending(self, child: Child) -> None:
        """Give back the place held for the child's pending offer, if any."""
        if child.pending is not None:
            index = child.pending[0]
            self.state.reserved[index] -= 1
            child.pending = None
            child.offer_key = 0
            provision = self.state.provisions[index]
            if provision.market is not None:
                provision.market.release()  # queues every council's waiting children
            self.notify(provision)  # a capped provision's place frees

    # ------------------------------------------------------------------ waiting

    def _places_in(self, fit: Fit) -> tuple[int, ...]:
        """The provisions with places (where a vacancy can wake the child) in a fit's plan."""
        hit = self._watch.get(id(fit))
        if hit is None:
            has = self._has_places
            hit = tuple(i for candidates in fit.plan for i in candidates if has[i])
            self._watch[id(fit)] = hit
        return hit

    def wait(self, child: Child) -> None:
        """The child is not suitably placed: list it with the provisions it waits for.

        A child already waiting keeps its place in the queue of each provision still among
        its options; its options change only at an age edge (or where it comes from).
        """
        want = self._places_in(self.search.fit(child, False))
        old = child.waits
        if want == old:
            return
        waiting, cid = self.waiting, child.cid
        for i in old:
            if i not in want:
                waiting[i].pop(cid, None)
        for i in want:
            if i not in old:
                waiting[i][cid] = child
        child.waits = want

    def unwait(self, child: Child) -> None:
        """The child is suitably placed, or has left care: off every waiting list."""
        waiting, cid = self.waiting, child.cid
        for i in child.waits:
            waiting[i].pop(cid, None)
        child.waits = ()

    def next_look(self, child: Child) -> float:
        """When a waiting child is next searched for by its own event: the first of the end
        of a refusal hold among its options, its next age edge and the backstop."""
        now = self.state.now
        fit = self.search.fit(child, False)
        # the options change at the next age edge (`fit_until`, set by `fit`): look a hair
        # after it, so that the age read then is past the edge whatever the rounding
        t = child.fit_until + EDGE_NUDGE_DAYS
        if now + self.retry_days < t:
            t = now + self.retry_days
        holds = child.holds
        if holds:
            first, last = fit.plan
            soonest = now + MIN_LOOK_DAYS
            spent = []
            for i, until in holds.items():
                if until <= now:
                    spent.append(i)
                elif until < t and (i in first or i in last):
                    t = until if until > soonest else soonest
            for i in spent:
                del holds[i]
        return t

    def notify(self, provision: ProvisionState) -> None:
        """A place may have freed in the provision: its waiting children are woken once the
        change under way is over (`wake_waiting`), at this same time, never inside it."""
        i = provision.index
        if not self.waiting[i] or self._pool_only[i]:
            return
        self._queue(i)

    def notify_pool(self, provision: ProvisionState) -> None:
        """A place has freed in the full pool the provision buys from: its waiting children
        are woken once the change under way is over (`Neighbourhood.wake`)."""
        if self.waiting[provision.index]:
            self._queue(provision.index)

    def _queue(self, i: int) -> None:
        """Queue the waiting children of provision `i` for a wake-up: one more place freed."""
        if not self._freed[i]:
            self._to_wake.append(i)  # not queued yet: no place freed since its last wake-up
        self._freed[i] += 1

    def wake_waiting(self) -> None:
        """Wake the children waiting for the places freed by the change just made.

        Called where SimPy hands control back after a change that can free a place (a
        child's event, a household or home changing, staying put ending). A wake-up that
        frees another place queues it here: a loop, however long the chain, no recursion.
        """
        self.drain()
        if self.neighbourhood is not None:
            self.neighbourhood.wake(self.state.now)  # the other councils sharing a pool

    def has_queued(self) -> bool:
        """Whether places have freed since the last wake-up of this council's waiting children."""
        return bool(self._to_wake)

    def drain(self) -> None:
        """Wake this council's children queued for freed places (see `wake_waiting`)."""
        queue = self._to_wake
        while queue:
            self._wake(queue.pop(0))

    def _has_room(self, provision: ProvisionState) -> bool:
        """Whether the provision has a free place anyone could take."""
        if provision.has_units:
            return bool(provision.vacant)
        market = provision.market
        if market is not None and not market.has_room(1):
            return False
        cap = provision.max_children
        i = provision.index
        return cap < 0 or provision.children + self.state.reserved[i] < cap

    def _wake(self, index: int) -> None:
        """Places freed in a provision: its waiting children search again, first come first
        served, until as many have moved in as places freed, or none is free."""
        state = self.state
        freed = self._freed[index]
        self._freed[index] = 0
        provision = state.provisions[index]
        queue = self.waiting[index]
        filled = 0
        for child in list(queue.values()):
            if filled >= freed or not self._has_room(provision):
                break
            if child.pending is not None or child.cid not in queue:
                continue  # an offer is on its way, or placed meanwhile
            self.look_again(child, woken=True)
            if not child.waits and child.placement == index:
                filled += 1

    def search_at_once(self, child: Child) -> None:
        """A child of the starting population who is not suitably placed: nobody has
        searched for it yet in the run, so it is searched for now (its first event)."""
        child.retry_at = self.state.now
        self.scheduler.book(child)

    def retry(self, child: Child) -> None:
        """A waiting child's own event has come (a refusal hold ended, an age edge, the
        backstop): look again."""
        self.look_again(child, woken=False)

    def look_again(self, child: Child, woken: bool) -> None:
        """Search again for a child in an unsuitable placement; `woken`: by a vacancy,
        outside the child's own event (which then stands unless it must come sooner)."""
        state = self.state
        if state.events is not None:
            state.log("search_again", child.cid, "woken" if woken else "own_event")
        if child.pending is not None:
            if not woken:
                child.retry_at = math.inf  # an offer is on its way
                self.scheduler.book(child)
            return
        outcome = self.search.find([child], exclude=child.unit)
        if outcome.found is not None:
            provision, unit, delay = outcome.found
            if provision.suitable and provision.index != child.placement:
                if delay > 0:
                    self.reserve(child, provision, delay)
                    self._recount(child, AWAITING_OFFER)
                    child.retry_at = math.inf
                    self.scheduler.book(child)
                    return
                self.place(
                    child, provision, unit, suitable=True, reason=0, move_kind="found_suitable"
                )
                return
        self._recount(child, outcome.reason)  # still waiting: for what the search found
        self.wait(child)  # the child's options may have changed (an age edge)
        t = self.next_look(child)
        if not woken:
            child.retry_at = t
            self.scheduler.book(child)
        elif t < child.retry_at:
            child.retry_at = t  # a new refusal holds less long than the next look was off
            self.scheduler.book(child)

    def _recount(self, child: Child, reason: int) -> None:
        """A waiting child is still not suitably placed, now for `reason`: the tally by
        reason follows what the latest search found."""
        old = child.unmet_reason
        if old < 0 or old == reason:
            return
        state = self.state
        state.unmet.change(state.now, old, -1)
        state.unmet.change(state.now, reason, +1)
        child.unmet_reason = reason
        if state.events is not None:
            state.log("unmet_reason", child.cid, UNMET_REASONS[reason])

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
            self.reserve(child, provision, delay)
            self.scheduler.book(child)
            return
        state.log("planned_move", child.cid, move.name)
        self.place(child, provision, unit, suitable=True, reason=0, move_kind="planned")
