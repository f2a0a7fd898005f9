"""The model's waits, put on SimPy's event queue directly.

Every child's next event, every arrival and every month end is a wait of a known length.
SimPy's `Timeout` builds one through two Python-level calls (its constructor, then
`Environment.schedule`); with thousands of waits a replication, that was about an eighth
of the work of an event in the compiled build. `Due` is the smallest object SimPy's
event loop accepts: `Environment.step` reads its `callbacks` and `_ok`; a process that
yields it appends to `callbacks` and reads `_ok` and `_value`. It goes on the same heap
under the same (time, priority, event id) key a `Timeout` would, drawing its id from the
environment's own counter, so events come in exactly SimPy's order.

This leans on SimPy's event-queue layout (`Environment._queue`, `_eid`, `_now`), stable
across SimPy 4; `tests/test_clock.py` checks it against real `Timeout`s, so a SimPy that
changed it fails loudly there rather than quietly here.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any, Final

import simpy

#: SimPy's priorities (simpy.events.URGENT and NORMAL): urgent events come first among
#: events due at the same time.
URGENT: Final = 0
NORMAL: Final = 1

Callback = Callable[[Any], None]


class Due:
    """An event that has happened as far as SimPy is concerned, due at a set time.

    `at` is the time it is due: what SimPy's clock reads when it comes, known to the
    callback without asking the environment.
    """

    __slots__ = ("_ok", "_value", "at", "callbacks", "env")

    def __init__(self, env: simpy.Environment, at: float, callbacks: list[Callback]) -> None:
        self.env = env
        self.at = at
        self.callbacks: list[Callback] | None = callbacks
        self._ok = True
        self._value: Any = None


class Clock:
    """Puts `Due`s on one environment's queue.

    Holds the queue and the event counter, which SimPy creates once per environment and
    never replaces, so that scheduling needs no look-ups on the environment; `at` takes
    the due time from a caller that knows the time already (`Model.now`).
    """

    __slots__ = ("env", "next_id", "queue")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.queue: list[Any] = env._queue  # type: ignore[attr-defined]
        #: SimPy's own event-id counter, shared so that ties are broken as SimPy would
        self.next_id: Callable[[], int] = env._eid.__next__  # type: ignore[attr-defined]

    def at(self, when: float, callbacks: list[Callback], priority: int = NORMAL) -> Due:
        """A `Due` at time `when` (not before now) that will call `callbacks`.

        For results identical to `env.timeout(delay)`, pass `when` as now + delay, added
        in that order, as SimPy does.
        """
        due = Due(self.env, when, callbacks)
        heappush(self.queue, (when, priority, self.next_id(), due))
        return due

    def wait(self, delay: float) -> Due:
        """What a process yields to wait `delay` days (delay >= 0)."""
        return self.at(self.env._now + delay, [], NORMAL)  # type: ignore[attr-defined]
