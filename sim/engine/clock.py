"""The model's waits and timed callbacks, on SimPy's public API, counted.

Every child's next event, every arrival and every month end is a SimPy `Timeout`. A
caller that knows the time (`State.now`) passes a delay, never a date: SimPy sets the due
time to now + delay, added in that order, and so does the model wherever it needs that
time itself (`Scheduler.book`), so the two agree to the last bit.

Among events due at the same time SimPy takes the one scheduled first; the model relies
on that only for month ends, which are all scheduled before anything else (`MonthEnd`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

#: What SimPy calls when an event comes: the event is its argument.
Callback = Callable[[Any], None]
#: A SimPy process: a generator of the events it waits for.
Process = Generator[simpy.Event, Any, None]


class Clock:
    """Schedules the model's events on one environment and counts them.

    The count is what a replication reports as its events (`ReplicationResult.n_events`,
    the measure bench/run.py gives events per second in): every event the model put on
    SimPy's queue, including a child's event that a later change made stale, as it costs
    the event loop the same.
    """

    __slots__ = ("env", "scheduled", "timeout")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        #: events scheduled so far
        self.scheduled = 0
        # the environment's own constructor of timeouts, looked up once
        self.timeout: Callable[[float], simpy.Timeout] = env.timeout

    def after(self, delay: float, callback: Callback) -> simpy.Timeout:
        """Call `callback` once `delay` days (>= 0) have passed; returns the event."""
        self.scheduled += 1
        event = self.timeout(delay)
        event.callbacks.append(callback)
        return event

    def wait(self, delay: float) -> simpy.Timeout:
        """What a process yields to wait `delay` days (>= 0)."""
        self.scheduled += 1
        return self.timeout(delay)

    def time(self) -> float:
        """SimPy's clock: read where SimPy hands control to the model."""
        return float(self.env.now)
