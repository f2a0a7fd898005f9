"""The SimPy model: children arrive, are matched, move, and leave; supply changes.

Mechanisms only: every number comes from the scenario. Each mechanism is a module of its
own, given the replication's shared `State`:

- `arrivals`: the starting population, entries in sibling groups, the UASC rota;
- `supply`: foster households recruited and deregistering (and the unit operations);
- `homes`: homes opening, closing and resizing on dates and by chance;
- `placing` (with `search`): placing, moving and re-placing children, offers;
- `exits`: leaving care, staying put;
- `needs`: a child's needs level escalating or de-escalating;
- `month_end`: the monthly and yearly figures;
- `schedule`: each child's next event, one SimPy event at a time;
- `changes`: the scenario's dated changes (`[[changes]]`), on their dates.

`Model` builds them, wires them together, and routes each child's events to the
mechanism they concern; `simulate` runs one replication.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import simpy

from ..scenario.ages import DAYS_PER_YEAR
from ..scenario.schema import Scenario
from .arrivals import Arrivals
from .calendar import Calendar
from .changes import Changes
from .child import Child, ignore_event
from .clock import Clock, Process
from .exits import Exits
from .hazards import BREAKDOWN, EXIT, MOVE, NEEDS, shared_table
from .homes import Homes
from .market import MarketSegment
from .metrics import ReplicationResult
from .month_end import MonthEnd
from .needs import NeedsChanges
from .placing import Placing
from .schedule import AGE_18, HAZARD, OFFER, RETRY, Scheduler
from .search import Search
from .state import State
from .supply import Supply

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # pure Python: the decorator only matters to a compiled build

    def mypyc_attr(*_args: Any, **_kwargs: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a replication sets up and runs.

    A replication holds thousands of long-lived objects (children, households, pending
    events) that the collector would walk again and again, yet running one makes no
    reference cycles that outlive it: what it frees, reference counting frees
    (tests/test_behaviour.py checks). The model's own object graph is a cycle:
    `Model.release` breaks it once the results are taken.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: Random streams of a replication, one per mechanism, always spawned in this order.
STREAMS = ("population", "arrivals", "uasc", "supply")


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled, it can still be subclassed (tests)
class Model:
    """One replication of one scenario: its mechanisms, their shared state, its clock."""

    def __init__(
        self,
        scenario: Scenario,
        years: float,
        seed: np.random.SeedSequence | int,
        record_events: bool = False,
        keep_children: bool = False,
        env: simpy.Environment | None = None,
        markets: dict[str, MarketSegment] | None = None,
    ) -> None:
        """`env`: the environment of a region's replication, shared by its councils (None:
        a council alone, on its own); `markets`: which of the scenario's provisions buy
        from a region's shared pools, by provision name."""
        self.scenario = scenario
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # one stream per mechanism (and per provision for supply), so that changing one
        # mechanism in an option leaves the others' random numbers untouched
        seeds = dict(zip(STREAMS, root.spawn(len(STREAMS)), strict=True))
        streams = {k: np.random.default_rng(v) for k, v in seeds.items() if k != "supply"}
        # a float clock from the start
        self.env = env if env is not None else simpy.Environment(initial_time=0.0)
        self.clock = Clock(self.env)
        self.months = max(1, round(years * 12))
        self.calendar = Calendar(scenario.scenario.start_date, self.months)
        self.state = state = State(scenario, self.clock, self.calendar, record_events)
        for pid, market in (markets or {}).items():
            state.by_pid[pid].market = market  # before `Placing`, which reads it

        self.month_end = MonthEnd(state, self.months)
        self.month_end.schedule()  # before any other event: see `MonthEnd.schedule`
        self.scheduler = Scheduler(state, shared_table(scenario))
        self.search = Search(state)
        self.placing = Placing(state, self.search, self.scheduler)
        self.supply = Supply(state, self.placing, seeds["supply"])
        self.homes = Homes(state, self.placing, self.supply, self.supply.provision_seeds)
        self.changes = Changes(state, self.scheduler, self.placing, self.supply)
        self.exits = Exits(state, self.placing, self.supply)
        self.needs = NeedsChanges(state, self.placing, self.scheduler)
        self.arrivals = Arrivals(
            state, self.placing, self.search, streams, self.on_child_event, keep_children
        )
        # the figures and logs a replication hands back, under the names callers read
        self.monthly = self.month_end.monthly
        self.yearly = self.month_end.yearly
        self.events = state.events
        #: every child ever created, for writing synthetic child-level data (synth903)
        self.all_children = self.arrivals.all_children

        with collector_paused():
            self.supply.open_starting_units(self.homes)
            self.supply.start_holds()
            self.arrivals.place_starting_population()
        #: the model's SimPy processes (kept so that `release` can close them)
        self._processes: list[Process] = [
            *self.arrivals.processes(),
            *self.supply.processes(),
            self.homes.dates(),
            *self.changes.processes(),
        ]
        for process in self._processes:
            self.env.process(process)

    def on_child_event(self, child: Child, event: Any) -> None:
        """A child's event has come (unless a later change made it stale): act on it."""
        if event is not child.event:
            return  # superseded by a later change, or the child has left care
        child.event = None
        self.state.now = child.event_time
        what = child.next_kind
        if what == HAZARD:
            child.walk = None  # the clock's budget is spent: the next booking draws anew
            kind, index = child.next_risks.pick(child.life.random())  # type: ignore[union-attr]
            if kind == EXIT:
                self.exits.leave(child, index)
            elif kind == BREAKDOWN:
                self.placing.break_down(child)
            elif kind == MOVE:
                self.placing.planned_move(child, index)
            elif kind == NEEDS:
                self.needs.change(child, index)
        elif what == AGE_18:
            self.exits.leave(child, self.exits.at_18)
        elif what == RETRY:
            self.placing.retry(child)
        elif what == OFFER:
            self.placing.offer_arrives(child)
        self.placing.wake_waiting()  # children waiting for a place this freed

    def run(self) -> ReplicationResult:
        """Run to the end and return the figures (the model cannot run again)."""
        # SimPy stops before any event due at the very end of the run: such an event
        # belongs to the month after it. Then the last month-end snapshot.
        with collector_paused():
            self.env.run(until=self.calendar.end)
        return self.finish()

    def finish(self) -> ReplicationResult:
        """The last month-end snapshot and the figures, once the clock has reached the end
        (a region's replication runs its shared environment, then finishes each council)."""
        self.month_end.finish()
        return ReplicationResult(
            monthly=self.monthly,
            yearly=self.yearly,
            events=self.events,
            n_events=self.clock.scheduled,
            child_years=self.month_end.child_days_total / DAYS_PER_YEAR,
        )

    def release(self) -> None:
        """Break the replication's reference cycles, so reference counting frees it at once.

        The collector is paused while replications run (`collector_paused`); without
        this, each finished replication would wait, whole, for the next full collection.
        Nothing is scheduled past the end of the run, so a run that reached its end leaves
        no pending event that holds the model. Call it once the results are taken: the
        model cannot run or search afterwards.
        """
        for process in self._processes:
            process.close()  # a process stopped early holds the model in its frame
        self.arrivals.release()
        for provision in self.state.provisions:
            for unit in provision.units.values():
                unit.children.clear()  # a household <-> the children living there
        for child in self.state.children.values():
            child.event = None
            child.on_event = ignore_event  # the callback holds the model and the child


def simulate(
    scenario: Scenario,
    years: float,
    seed: int | np.random.SeedSequence,
    record_events: bool = False,
) -> ReplicationResult:
    """Run one replication and return its monthly and yearly arrays.

    The collector stays paused from set-up to release: paused for each phase alone, it
    ran a collection over the new population as each phase ended.
    """
    with collector_paused():
        model = Model(scenario, years, seed, record_events=record_events)
        try:
            return model.run()
        finally:
            model.release()
