"""Leaving care: by each exit route, or at 18; staying put; carers who stop with a child.

A child leaves by a route of the scenario's `exits` (drawn among the competing risks) or
on turning 18, the last route. At 18, a young person in a household that offers it may
stay put for a drawn number of years, holding a place but no longer in care. When a child
leaves a foster household by some routes, the carer may stop fostering. A route with an
after-care payment (`[after_care.<route>]`: an SGO or adoption allowance, Staying Close)
starts one for a share of its leavers, for a drawn time, counted in `State.after_care`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..scenario.ages import DAYS_PER_YEAR
from .child import ignore_event
from .draws import draw

if TYPE_CHECKING:
    from .child import Child
    from .placing import Placing
    from .provision import ProvisionState, Unit
    from .state import State
    from .supply import Supply

#: The exit route of turning 18: after the scenario's own routes (which may not use it).
AGE_18_EXIT: Final = "age_18"


class Exits:
    """Takes children out of care in the replication's `State`."""

    def __init__(self, state: State, placing: Placing, supply: Supply) -> None:
        self.state = state
        self.placing = placing
        self.supply = supply
        scenario = state.scenario
        #: the exit routes by index: the scenario's, then turning 18
        self.routes = [*scenario.exits, AGE_18_EXIT]
        self.at_18 = len(self.routes) - 1
        #: by exit route: the chance that a foster carer stops fostering when a child leaves
        self._carer_leaves = [r.carer_leaves_probability for r in scenario.exits.values()]
        self._staying_put_years = scenario.leaving_care.staying_put_years
        # after care: by exit route, its index in `State.after_care` (-1: none), and per
        # payment its spec and the provisions it follows children from (None: all)
        after = list(scenario.after_care)
        self._after_care = [after.index(r) if r in after else -1 for r in self.routes]
        self._after_specs = list(scenario.after_care.values())
        self._after_from: list[frozenset[int] | None] = [
            None if a.from_ is None else frozenset(state.by_pid[p].index for p in a.from_)
            for a in self._after_specs
        ]
        layout = state.layout
        self._i_exit = [layout.i("exits", r) for r in self.routes]
        self._i_exits_total = layout.i("exits", "total")

    def leave(self, child: Child, route: int) -> None:
        """The child leaves care by exit route `route` (an index into `routes`)."""
        state = self.state
        provision = state.provisions[child.placement]
        unit = child.unit
        name = self.routes[route]
        self.placing.release_pending(child)
        self.placing.unwait(child)
        self.placing.vacate(child)
        child.in_care = False
        child.event = None
        child.on_event = ignore_event  # the model's callback holds the child: a cycle
        del state.children[child.cid]
        if child.uasc:
            state.uasc_in_care -= 1
        state.flows[self._i_exit[route]] += 1
        state.flows[self._i_exits_total] += 1
        if state.events is not None:
            state.log("exit", child.cid, name, provision.pid)
        if name == AGE_18_EXIT:
            self._maybe_stay_put(child, provision, unit)
        else:
            carer_leaves = self._carer_leaves[route]
            if (
                carer_leaves > 0
                and unit is not None
                and provision.kind == "foster"
                and unit.is_open
                and child.life.random() < carer_leaves
            ):
                self.supply.close(provision, unit)
        k = self._after_care[route]
        if k >= 0:
            self._maybe_after_care(child, k, provision.index, name)

    def _maybe_after_care(self, child: Child, k: int, placement: int, route: str) -> None:
        """A share of those leaving by this route receive after-care payment `k` for a
        drawn time: drawn from the child's own stream, after every other draw of the exit,
        so an option that adds a payment shifts nothing else (common random numbers)."""
        from_ = self._after_from[k]
        if from_ is not None and placement not in from_:
            return
        spec = self._after_specs[k]
        if child.life.random() >= spec.share:
            return
        state = self.state
        t = state.now
        if spec.years is None:  # until the 18th birthday
            years = max(0.0, 18.0 - child.age(t))
        else:
            years = draw(spec.years, child.life.random)
        end = t + years * DAYS_PER_YEAR
        state.after_care[k].start(t, end, state.end)
        state.log("after_care_start", child.cid, route, end)

    def _maybe_stay_put(self, child: Child, provision: ProvisionState, unit: Unit | None) -> None:
        """At 18, the young person may stay on with their carers for a drawn time."""
        state = self.state
        t = state.now
        chance = provision.staying_put_probability
        if chance > 0 and child.life.random() < chance and (unit is None or unit.is_open):
            provision.start_staying_put(t, unit)
            state.log("staying_put_start", child.cid, provision.pid, unit.uid if unit else None)
            years = draw(self._staying_put_years, child.life.random)
            delay = years * DAYS_PER_YEAR
            if t + delay >= state.end:
                return  # still staying put when the run ends
            state.clock.after(delay, lambda _event: self._end_staying_put(child, provision, unit))

    def _end_staying_put(self, child: Child, provision: ProvisionState, unit: Unit | None) -> None:
        """The young person's time staying put is over (unless the household closed first)."""
        state = self.state
        t = state.wake()
        if unit is not None and not unit.is_open:
            return  # the household closed and the arrangement ended with it
        provision.end_staying_put(t, unit)
        state.log("staying_put_end", child.cid, provision.pid, unit.uid if unit else None)
        self.placing.notify(provision)  # the place is free for a waiting child
        self.placing.wake_waiting()
