"""The model's clock (`sim.engine.clock`) on SimPy's public API.

Two things the model's results depend on are checked against SimPy itself:

* a child's event comes when the model says it does: the model works out the time as
  now + delay, the way SimPy sums it, and notes it (`Child.event_time`) instead of
  asking SimPy;
* month ends, scheduled before anything else (`MonthEnd.schedule`), come before every
  other event due at the same time, as SimPy's URGENT priority (which the model used to
  give them) would put them.
"""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from simpy.events import URGENT

from sim.engine.clock import Clock

# delays on a coarse grid, so that many events fall due at the same time and the
# tie-breaking (month ends first, then order of scheduling) is exercised
plans = st.lists(
    st.tuples(st.integers(0, 6).map(lambda k: k * 0.5), st.booleans(), st.booleans()),
    min_size=1,
    max_size=40,
)


def _urgent(env: simpy.Environment, delay: float) -> simpy.Event:
    """SimPy's own URGENT event after `delay` (the reference; it needs SimPy's internals)."""
    event = simpy.Event(env)
    event._ok, event._value = True, None
    env.schedule(event, URGENT, delay)
    return event


def _run(plan: list[tuple[float, bool, bool]], ours: bool) -> list[tuple[float, int]]:
    """Fire each planned event (delay, month end, from a process) and log (time, index).

    Month ends fall strictly within the run, never at its start or end (0.5, 1 or 1.5
    here); ours are all scheduled first, the reference's in plan order, as URGENT events.
    """
    env = simpy.Environment(initial_time=0.0)
    clock = Clock(env)
    log: list[tuple[float, int]] = []

    def record(i: int):
        return lambda _e: log.append((env.now, i))

    def process(i: int, delay: float):
        # wait once, then a second time: a process resumes from inside the event loop
        yield clock.wait(delay)
        log.append((env.now, i))
        yield clock.wait(0.25)
        log.append((env.now, 100 + i))

    month_ends = {i: 0.5 + d % 1.5 for i, (d, month_end, _) in enumerate(plan) if month_end}
    if ours:
        for i, delay in month_ends.items():
            clock.after(delay, record(i))
    for i, (delay, month_end, in_process) in enumerate(plan):
        if month_end:
            if not ours:
                _urgent(env, month_ends[i]).callbacks.append(record(i))
        elif in_process:
            env.process(process(i, delay))
        else:
            clock.after(delay, record(i))
    env.run(until=2.0)  # some events fall at or after the stop: SimPy leaves them
    return log


@settings(max_examples=200, deadline=None)
@given(plans)
def test_month_ends_scheduled_first_come_as_urgent_events_would(plan) -> None:
    assert _run(plan, ours=True) == _run(plan, ours=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 400.0), min_size=1, max_size=30))
def test_an_event_comes_at_now_plus_delay_as_the_model_sums_it(delays) -> None:
    env = simpy.Environment(initial_time=0.0)
    clock = Clock(env)
    seen: list[tuple[float, float]] = []

    def chain(i: int, due: float):
        def come(_event: object) -> None:
            now = clock.time()
            seen.append((now, due))
            if i + 1 < len(delays):
                clock.after(delays[i + 1], chain(i + 1, now + delays[i + 1]))

        return come

    clock.after(delays[0], chain(0, 0.0 + delays[0]))
    env.run()
    assert len(seen) == len(delays)
    assert all(now == due for now, due in seen)


def test_the_clock_counts_what_it_schedules() -> None:
    env = simpy.Environment(initial_time=0.0)
    clock = Clock(env)
    calls: list[float] = []
    event = clock.after(3.0, lambda e: calls.append(env.now))

    def waiter():
        yield clock.wait(1.0)
        yield clock.wait(1.0)

    env.process(waiter())
    env.run()
    assert calls == [3.0]
    assert event.processed
    assert clock.scheduled == 3
