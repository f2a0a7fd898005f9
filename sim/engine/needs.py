"""Needs that change over time: a child's needs level escalates or de-escalates.

The scenario's `[[needs_change]]` rules are competing risks in the hazard table (kind
NEEDS), by the child's current level, age band and time in care. When one comes, the
child's level changes and everything that depends on it follows: the provision's count
of children by needs level (its price may depend on it), a unit blocked by a child who
must now live alone, the search's cached fit. A child whose placement no longer takes
them, or who must now live alone but shares, moves (`needs_changed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .child import Child
    from .placing import Placing
    from .schedule import Scheduler
    from .state import State


class NeedsChanges:
    """Carries out the changes of needs level of the replication's `State`."""

    def __init__(self, state: State, placing: Placing, scheduler: Scheduler) -> None:
        self.state = state
        self.placing = placing
        self.scheduler = scheduler
        index = {name: i for i, name in enumerate(state.needs)}
        #: by rule of `[[needs_change]]`: the level a child moves to (an index)
        self.to = [index[c.to] for c in state.scenario.needs_change]
        #: by provision and needs level: whether the provision takes children at that level
        self.takes = [[name in p.spec.needs for name in state.needs] for p in state.provisions]
        #: a child in the fallback is already being searched for: they stay there
        self.fallback = placing.fallback.index
        layout = state.layout
        self._i_up = layout.i("needs_changed", "up")
        self._i_down = layout.i("needs_changed", "down")

    def change(self, child: Child, rule: int) -> None:
        """Rule `rule` of `[[needs_change]]` has come for the child: change their level,
        then move them if their placement no longer takes them, else book what's next."""
        state = self.state
        old, new = child.needs, self.to[rule]
        state.flows[self._i_up if new > old else self._i_down] += 1
        if state.events is not None:
            state.log("needs_changed", child.cid, state.needs[old], state.needs[new])
        placement = child.placement
        shares = state.provisions[placement].change_needs(
            state.now, child, new, state.sole_occupancy[new]
        )
        child.fit = None  # the cached fit was for the old level
        takes = self.takes
        if child.pending is not None and not takes[child.pending[0]][new]:
            self.placing.release_pending(child)  # the offer was for the old needs
        # only the needs decide: a child who has grown past a placement's ages stays
        if shares or (placement != self.fallback and not takes[placement][new]):
            self.placing.rehome(child, "needs_changed")
        elif child.unmet_reason >= 0:
            # not suitably placed: searched for again at once, for the new level (its
            # waiting lists and next look follow the new options)
            self.placing.look_again(child, woken=False)
        else:
            self.scheduler.book(child)
