"""Dated changes during a run: switch the replication to the scenario in force on each date.

The scenario layer works out the scenario in force from each change date
(`sim.scenario.changes.in_force`); here a SimPy process waits for each date, makes that
scenario the replication's, and tells the mechanisms whose numbers moved:

- prices: each provision's integrals are brought up to the date and priced at the old
  prices, the days after at the new (`ProvisionState.reprice`);
- offer and staying-put chances: read from the provision's new terms from then on;
- exit, breakdown, planned-move and needs-change rates: the hazard table of the new
  scenario, and every child in care booked again on it; the child's hazard clock keeps
  its budget (the next-reaction method: memoryless, so this is exact);
- deregistration: every open household's time to leave drawn again at the new rate.

The entry rate and the recruitment rate are plans of (from day, rate) that their
processes follow (`Arrivals.entry_plan`, `Supply.recruitment_plan`), built from the
same versions. The process itself draws nothing: a change leaves the random streams of
the mechanisms it does not touch as they were (common random numbers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..scenario.changes import in_force
from ..scenario.schema import FosterProvision, Scenario
from .clock import Process
from .hazards import shared_table

if TYPE_CHECKING:
    from .placing import Placing
    from .schedule import Scheduler
    from .state import State
    from .supply import Supply

#: The versions of the scenarios met in this process, by identity: the hazard tables of a
#: version are shared by the replications that run it (as `shared_table` shares the base's)
_VERSIONS: dict[int, tuple[Scenario, list[tuple[float, Scenario]]]] = {}
MAX_SCENARIOS = 4


def versions(state: State) -> list[tuple[float, Scenario]]:
    """(day, scenario in force from then) for each change date within the run."""
    s = state.scenario
    hit = _VERSIONS.get(id(s))
    if hit is None or hit[0] is not s:
        if len(_VERSIONS) >= MAX_SCENARIOS:
            _VERSIONS.clear()
        days = [(state.calendar.day(d), v) for d, v in in_force(s)]
        hit = _VERSIONS[id(s)] = (s, days)
    return [(day, v) for day, v in hit[1] if day < state.end]


def _hazards_differ(old: Scenario, new: Scenario) -> bool:
    """Whether any number the hazard table reads differs (identity: a change copies only
    the tables on its way)."""
    if (
        old.exits is not new.exits
        or old.breakdown is not new.breakdown
        or old.moves is not new.moves
        or old.needs_change is not new.needs_change
    ):
        return True
    return any(
        old.provision[pid].breakdown_per_year != p.breakdown_per_year
        for pid, p in new.provision.items()
    )


class Changes:
    """Follows the replication's dated changes (see the module's note)."""

    def __init__(
        self, state: State, scheduler: Scheduler, placing: Placing, supply: Supply
    ) -> None:
        self.state = state
        self.scheduler = scheduler
        self.placing = placing
        self.supply = supply
        state.versions = versions(state)
        # a provision whose price comes to depend on needs counts its children by needs
        # level from the start (set before any child is placed)
        for p in state.provisions:
            if any(isinstance(v.provision[p.pid].weekly_cost, dict) for _, v in state.versions):
                p.track_needs()

    def processes(self) -> list[Process]:
        """The process that follows the changes (none without any)."""
        return [self._follow()] if self.state.versions else []

    def _follow(self) -> Process:
        state = self.state
        for day, new in state.versions:
            now = state.wake()
            if day > now:
                yield state.clock.wait(day - now)  # whole days, as `Supply._home_dates`
            self.apply(new)

    def apply(self, new: Scenario) -> None:
        """Make `new` the scenario in force now and tell the mechanisms concerned."""
        state = self.state
        t = state.wake()
        old = state.scenario
        state.scenario = new
        calendar = state.calendar
        # the days since the last flush belong to the month before the date's first moment
        year = calendar.month_of(t - 0.5) // 12
        for p in state.provisions:
            spec = new.provision[p.pid]
            before = old.provision[p.pid]
            if spec is before:
                continue
            p.follow(spec, state.needs)
            if spec.weekly_cost != before.weekly_cost:
                p.reprice(t, year, spec.prices_by_needs(state.needs))
            if (
                isinstance(spec, FosterProvision)
                and isinstance(before, FosterProvision)
                and (
                    spec.deregistration_per_year != before.deregistration_per_year
                    or spec.retention_multiplier != before.retention_multiplier
                    or spec.deregistration_by_service != before.deregistration_by_service
                )
            ):
                self.supply.redraw_deregistration(p)
        if _hazards_differ(old, new):
            self.scheduler.hazards = shared_table(new)
            book = self.scheduler.book
            for child in list(state.children.values()):
                if child.walk is not None:
                    book(child)
        self.placing.wake_waiting()
