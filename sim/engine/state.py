"""What the mechanisms of one replication share: the time, who is where, this month's counts.

Each mechanism (arrivals, supply, placing, exits, month end) is given the one `State` of
its replication and changes it by its own work; none keeps a copy of what lives here, so
any of them sees what the others did.

The time: where SimPy hands control to the model (a child's event, a callback, a process
waking), the model notes SimPy's clock once, in `State.now`, and everything it then does
reads that plain attribute rather than SimPy's `env.now` property, which is a Python call
(tests/test_behaviour.py checks the two agree at every recorded action).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from ..scenario.schema import Scenario
from .calendar import Calendar
from .clock import Clock
from .metrics import UNMET_REASONS, Layout
from .provision import ProvisionState

if TYPE_CHECKING:
    from .child import Child


class UnmetTally:
    """Children unsuitably placed, by reason, and their child-days since the last month end.

    The child-days are integrated as the counts change, so the month-end figures need no
    log of events.
    """

    __slots__ = ("count", "days", "since")

    def __init__(self, reasons: int) -> None:
        #: children unsuitably placed now, by reason (an index into UNMET_REASONS)
        self.count = [0] * reasons
        #: child-days unsuitably placed since the last month end, by reason
        self.days = [0.0] * reasons
        #: the time up to which `days` is counted
        self.since = 0.0

    def change(self, t: float, reason: int, delta: int) -> None:
        """At time `t`, `delta` more children are unsuitably placed for `reason`."""
        dt = t - self.since
        if dt > 0:
            for i, n in enumerate(self.count):
                self.days[i] += n * dt
            self.since = t
        self.count[reason] += delta


class AfterCarePayments:
    """Young people receiving one after-care payment (an SGO or adoption allowance, Staying
    Close) and their person-days since the last month end.

    Each payment's end time waits in a heap; the days are integrated piecewise as payments
    start and end, so a month end needs no log of events and no clock event per ending.
    """

    __slots__ = ("count", "days", "ends", "since")

    def __init__(self) -> None:
        #: young people receiving the payment now (up to `since`)
        self.count = 0
        #: person-days paid since the last month end
        self.days = 0.0
        #: end times of the payments that stop before the run ends (a heap)
        self.ends: list[float] = []
        #: the time up to which `days` is counted
        self.since = 0.0

    def advance(self, t: float) -> None:
        """Count the person-days up to time `t`, ending every payment due by then."""
        ends = self.ends
        while ends and ends[0] <= t:
            end = heapq.heappop(ends)
            self.days += self.count * (end - self.since)
            self.since = end
            self.count -= 1
        if t > self.since:
            self.days += self.count * (t - self.since)
            self.since = t

    def start(self, t: float, end: float, run_end: float) -> None:
        """A payment starts at time `t` and stops at `end` (paid on if past `run_end`)."""
        self.advance(t)
        self.count += 1
        if end < run_end:
            heapq.heappush(self.ends, end)


class State:
    """The shared state of one replication (see the module's note)."""

    def __init__(
        self, scenario: Scenario, clock: Clock, calendar: Calendar, record_events: bool
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        #: the time of the event being handled (see the note on the time above)
        self.now = 0.0
        self.calendar = calendar
        #: the end of the run, read at every scheduling: a plain attribute, not a property
        self.end = calendar.end
        self.layout = Layout.for_scenario(scenario)
        #: this month's counts so far, by series of `layout` (a list: numpy indexing is slow)
        self.flows = [0.0] * len(self.layout)
        #: every recorded action as (time, kind, ...), when asked for
        self.events: list[tuple[Any, ...]] | None = [] if record_events else None

        self.needs = list(scenario.needs)
        self.n_needs = len(self.needs)
        #: by needs level: whether a child at that level lives alone
        self.sole_occupancy = [level.sole_occupancy for level in scenario.needs.values()]
        self.provision_ids = list(scenario.provision)
        self.provisions = [
            ProvisionState(pid, i, spec, self.needs)
            for i, (pid, spec) in enumerate(scenario.provision.items())
        ]
        self.by_pid = {p.pid: p for p in self.provisions}

        #: children in care now, by id
        self.children: dict[int, Child] = {}
        self.uasc_in_care = 0
        #: by provision: places promised by pending offers
        self.reserved = [0] * len(self.provisions)
        self.unmet = UnmetTally(len(UNMET_REASONS))
        #: by after-care route of the scenario (`[after_care.<route>]`), in file order
        self.after_care = [AfterCarePayments() for _ in scenario.after_care]
        #: the scenario in force from each day of a dated change on (`[[changes]]`), in
        #: order (none: the scenario holds all run); `scenario` is the one in force now
        self.versions: list[tuple[float, Scenario]] = []

    def wake(self) -> float:
        """SimPy has handed control to the model: note the time (see the module's note)."""
        t = self.clock.time()
        self.now = t
        return t

    def log(self, *row: Any) -> None:
        """Record an action at the current time, when the run keeps an event log."""
        if self.events is not None:
            self.events.append((self.now, *row))

    def count(self, i: int) -> None:
        """Add one to this month's count of series `i`."""
        self.flows[i] += 1.0
