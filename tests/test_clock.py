"""The model's waits (`sim.engine.clock`) behave exactly as SimPy's own timeouts.

`sim.engine.clock` puts events on SimPy's queue without SimPy's constructor, relying on the
queue's layout. These tests run the same schedule once with SimPy's public API and once
with `sim.engine.clock` and require the same order and times, so a SimPy release that changed
its internals fails here.
"""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from simpy.events import URGENT as SIMPY_URGENT

from sim.engine.clock import NORMAL, URGENT, Clock, Due

# delays on a coarse grid, so that many events fall due at the same time and the
# tie-breaking (priority, then order of scheduling) is exercised
plans = st.lists(
    st.tuples(st.integers(0, 6).map(lambda k: k * 0.5), st.booleans(), st.booleans()),
    min_size=1,
    max_size=40,
)


def _run(plan: list[tuple[float, bool, bool]], ours: bool) -> list[tuple[float, int]]:
    """Fire each planned event (delay, urgent, from a process) and log (time, index)."""
    env = simpy.Environment(initial_time=0.0)
    clock = Clock(env)
    log: list[tuple[float, int]] = []

    def record(i: int):
        return lambda _e: log.append((env.now, i))

    def process(i: int, delay: float):
        # wait once, then a second time: a process resumes from inside the event loop
        yield clock.wait(delay) if ours else env.timeout(delay)
        log.append((env.now, i))
        yield clock.wait(0.25) if ours else env.timeout(0.25)
        log.append((env.now, 100 + i))

    for i, (delay, urgent, in_process) in enumerate(plan):
        if in_process:
            env.process(process(i, delay))
        elif ours:
            clock.at(env.now + delay, [record(i)], URGENT if urgent else NORMAL)
        elif urgent:
            ev = simpy.Event(env)
            ev._ok, ev._value = True, None
            env.schedule(ev, SIMPY_URGENT, delay)
            ev.callbacks.append(record(i))
        else:
            env.timeout(delay).callbacks.append(record(i))
    env.run(until=2.0)  # some events fall at or after the stop: SimPy leaves them
    return log


@settings(max_examples=200, deadline=None)
@given(plans)
def test_waits_come_in_the_order_and_at_the_times_of_simpy_timeouts(plan) -> None:
    assert _run(plan, ours=True) == _run(plan, ours=False)


def test_priorities_are_simpys() -> None:
    assert URGENT == SIMPY_URGENT
    assert NORMAL == simpy.events.NORMAL


def test_a_due_is_processed_once_and_then_marked_as_processed() -> None:
    env = simpy.Environment()
    calls: list[float] = []
    due = Clock(env).at(3.0, [lambda e: calls.append(env.now)])
    assert isinstance(due, Due) and due.callbacks is not None
    env.run()
    assert calls == [3.0]
    assert due.at == 3.0  # the time it came, known to its callback
    assert due.callbacks is None  # SimPy's mark of a processed event
