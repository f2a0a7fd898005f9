"""The Dask engine gives exactly the local engine's numbers, even when a worker dies."""

from __future__ import annotations

import os
import signal
import sys
import threading

import numpy as np
import pytest
from conftest import MINIMAL, ROOT

from sim.common.errors import UserError
from sim.runs import engines, montecarlo
from sim.runs.montecarlo import run
from sim.scenario.load import load

try:
    from dask.distributed import Client, LocalCluster
except ImportError:  # the package works without Dask; these tests need it
    Client = LocalCluster = None

needs_dask = pytest.mark.skipif(
    Client is None, reason="dask[distributed] not installed (pip install 'dask[distributed]')"
)


@pytest.fixture(scope="module")
def minimal():
    return load(MINIMAL)


def same(a, b) -> None:
    np.testing.assert_array_equal(a.monthly, b.monthly)
    np.testing.assert_array_equal(a.yearly, b.yearly)
    assert (a.n_events, a.child_years) == (b.n_events, b.child_years)


@needs_dask
def test_dask_local_cluster_gives_the_local_engines_numbers(minimal) -> None:
    kw = dict(years=2, reps=12, seed=11, progress=False)
    one = run(minimal, workers=1, **kw)
    two = run(minimal, workers=2, **kw)
    dask = run(minimal, workers=2, engine="dask", **kw)
    same(one, two)
    same(one, dask)
    assert dask.reps == 12 and dask.workers == 2
    assert dask.meta["engine"] == "dask"
    # Chunking is bookkeeping only: one replication per task changes nothing.
    same(one, run(minimal, workers=2, engine="local", chunk_size=5, **kw))


class _Counter:
    """Stands in for the progress bar: counts finished replications, flags the first."""

    def __init__(self) -> None:
        self.done = 0
        self.first = threading.Event()

    def update(self, n: int) -> None:
        self.done += n
        self.first.set()

    def close(self) -> None:
        pass


@needs_dask
def test_a_worker_killed_mid_run_loses_nothing_and_counts_nothing_twice(
    minimal, monkeypatch
) -> None:
    kw = dict(years=5, reps=120, seed=23, progress=False)
    undisturbed = run(minimal, workers=1, **kw)

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        addr = cluster.scheduler_address
        worker, pid = next(iter(client.run(os.getpid).items()))
        bar = _Counter()
        monkeypatch.setattr(montecarlo, "progress_bar", lambda *_: bar)
        killed: dict = {}
        finished = threading.Event()

        def kill_one_worker_after_first_results() -> None:
            if bar.first.wait(timeout=30) and not finished.is_set():
                os.kill(pid, signal.SIGKILL)
                killed.update(worker=worker, done_before_kill=bar.done)

        killer = threading.Thread(target=kill_one_worker_after_first_results, daemon=True)
        killer.start()
        try:
            disturbed = run(minimal, engine="dask", scheduler=addr, chunk_size=2, **kw)
        finally:
            finished.set()
            bar.first.set()
            killer.join(timeout=10)

        assert killed, "the worker was never killed: the run finished too fast to test"
        assert killed["done_before_kill"] < 120 / 2, killed  # killed early in the run
        assert disturbed.reps == 120
        same(undisturbed, disturbed)
        # The user's scheduler is left running: it still answers and still has workers.
        client.wait_for_workers(1, timeout=10)
        assert client.submit(sum, [1, 2], pure=False).result(timeout=10) == 3


@needs_dask
def test_an_unreachable_scheduler_is_a_clear_user_error(minimal, monkeypatch) -> None:
    monkeypatch.setattr(engines, "CONNECT_TIMEOUT", 1)
    with pytest.raises(UserError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        run(minimal, years=1, reps=2, engine="dask", scheduler="tcp://127.0.0.1:9", progress=False)


def test_dask_not_installed_is_a_clear_user_error(minimal, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    with pytest.raises(UserError, match=r"pip install 'dask\[distributed\]'"):
        run(minimal, years=1, reps=2, engine="dask", progress=False)


def test_a_scheduler_needs_the_dask_engine(minimal) -> None:
    with pytest.raises(UserError, match="--scheduler needs --engine dask"):
        run(minimal, years=1, reps=2, scheduler="tcp://127.0.0.1:8786", progress=False)


def test_an_unknown_engine_is_refused(minimal) -> None:
    with pytest.raises(UserError, match="unknown engine 'spark'"):
        run(minimal, years=1, reps=2, engine="spark", progress=False)


def test_an_observer_sees_every_replication_and_can_cancel(minimal) -> None:
    """`observer` is told of the replications done (a page's progress bar); what it
    raises stops the run and comes out to the caller (how a page cancels a run)."""
    seen: list[int] = []
    run(minimal, years=1, reps=6, seed=1, workers=1, progress=False, observer=seen.append)
    assert sum(seen) == 6

    class Stop(Exception):
        pass

    def stop(_n: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        run(minimal, years=1, reps=6, seed=1, workers=2, progress=False, observer=stop)


STOPPED_MID_RESULT = """
import faulthandler, sys, time
import numpy as np
from sim.runs.engines import LocalEngine

def task(size, seeds):
    time.sleep(0.01)
    return np.ones(size)  # 16 MB: a worker is stopped while sending it

class Stop(Exception):
    pass

def done(n):
    raise Stop()

if __name__ == "__main__":
    try:
        LocalEngine(2).run_chunks(task, (2_000_000,), [(i, [i]) for i in range(40)], done,
                                  lambda start, result: None)
    except Stop:
        print("stopped", flush=True)
    faulthandler.dump_traceback_later(30, exit=True)  # a hang at exit: stacks, status 1
"""


def test_a_pool_stopped_while_a_worker_sends_its_result_lets_the_process_exit(tmp_path) -> None:
    """Cancel (or Ctrl-C) stops the workers wherever they are, one of them often in the
    middle of sending a chunk's result. The pool's manager thread then waited for the rest
    of that message for good and Python waited for it at exit: the test process of a CI
    run hung after its last test. Reproduced every time before the fix (stop_pool closing
    this process's end of the results pipe)."""
    import subprocess

    script = tmp_path / "stop.py"
    script.write_text(STOPPED_MID_RESULT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0 and "stopped" in done.stdout, done.stderr[-2000:]
