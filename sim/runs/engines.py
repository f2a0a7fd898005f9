"""Where the chunks of replications run: this machine's processes, or a Dask cluster.

Both engines have one interface: open one (a context manager), read `.workers` (how many
replications can run at once, for sizing chunks), then `run_chunks(task, args, chunks,
on_done, sink)`, which calls `task(*args, seeds)` for every `(start, seeds)` chunk and
hands each result to `sink(start, result)` as it arrives, keeping none (so memory does not
grow with the number of replications).
Which engine or worker ran a chunk never changes its result: replication i always uses
the i-th child seed (see `montecarlo.spawn_seeds`), so the results are placed by start
index, never by arrival order.

Dask is imported only when asked for, so the package works without it.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, suppress
from typing import Any

from .. import __version__
from ..common.errors import UserError
from ..common.interrupt import die_with_parent

ENGINES = ("local", "dask")
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler, and to wait for its first worker
INSTALL_DASK = "install dask[distributed]: pip install 'dask[distributed]'"

Chunks = Sequence[tuple[int, Sequence[Any]]]
#: Receives each chunk's result, with its start index, as soon as it arrives.
Sink = Callable[[int, Any], None]


class EngineError(UserError):
    """The engine cannot be used as asked (not installed, scheduler unreachable...)."""


class WorkerLost(UserError):
    """A worker died under the run (the OOM killer, a kill by hand): not a bug of the tool.

    Exit status 1, not 2: the user's input was fine; the machine could not finish the run.
    """

    exit_code = 1


#: How the local engine's worker processes start: None, the platform's default (fork on
#: Linux before Python 3.14: fast, the command line's case), or "forkserver", which a
#: server sets (`use_forkserver`): forking a process whose other threads are running
#: copies into the worker any lock they hold at that instant and every pipe they have
#: open, which can leave a worker stuck, or a pool unable to shut down at exit.
START_METHOD: str | None = None


def use_forkserver() -> None:
    """Start workers from a fork server from now on (a multi-threaded process: the web
    app). The server imports the model once, so each worker starts as fast as a fork."""
    global START_METHOD
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.get_context("forkserver").set_forkserver_preload(["sim.runs.montecarlo"])
        START_METHOD = "forkserver"


class LocalEngine:
    """Today's runner: in this process for one worker, else a process pool.

    The pool's workers die with this process, however it ends (interrupt.die_with_parent),
    and are stopped at once if the run is interrupted or fails (stop_pool).
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def describe(self) -> str:
        """Where the runs happen, for the run's record: 'local, 2 process(es)'."""
        return f"local, {self.workers} process(es)"

    def run_chunks(
        self,
        task: Callable[..., Any],
        args: tuple[Any, ...],
        chunks: Chunks,
        on_done: Callable[[int], None],
        sink: Sink,
    ) -> None:
        """Run `task(*args, seeds)` for each chunk, in any order; give each result to `sink`.

        `on_done` is told how many replications each finished chunk held (for the progress bar).
        """
        if self.workers == 1:
            for start, seeds in chunks:
                sink(start, task(*args, seeds))
                on_done(len(seeds))
            return
        # The task and its arguments (the scenario: some 20 KB pickled) go to each worker
        # once, when it starts; a chunk sends only its seeds. Sent with every chunk, a few
        # queued chunks fill the pipe to the workers, and a pool stopped then can leave
        # its feeding thread blocked on that pipe for good (and the process unable to exit).
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(START_METHOD),
            initializer=_start_worker,
            initargs=(os.getpid(), task, args),
        )
        try:
            futures = {
                pool.submit(_run_chunk, seeds): (start, len(seeds)) for start, seeds in chunks
            }
            for fut in as_completed(futures):
                # Forget the future as well, or it would keep its result alive.
                start, n = futures.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    stop_pool(pool)
                    raise WorkerLost(
                        "a worker process stopped before finishing its replications (killed "
                        "from outside, or out of memory); no results were written. Run again "
                        "with fewer --workers, or fewer --reps or --years"
                    ) from None
                sink(start, result)
                del fut, result
                on_done(n)
        except BaseException:
            # Ctrl-C, SIGTERM or an error: waiting for the queued chunks (what leaving a
            # `with` block does) could take the whole run, so stop the workers now.
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)


#: In a worker process: the task and arguments its chunks run with (`_start_worker`).
_WORK: tuple[Callable[..., Any], tuple[Any, ...]] | None = None


def _start_worker(parent: int, task: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """A local worker's initializer: die with the parent, keep the task to run."""
    global _WORK
    die_with_parent(parent)
    _WORK = (task, args)


def _run_chunk(seeds: Sequence[Any]) -> Any:
    """In a worker: run the task on one chunk's seeds."""
    assert _WORK is not None, "the worker was not started by LocalEngine"
    task, args = _WORK
    return task(*args, seeds)


def stop_pool(pool: ProcessPoolExecutor, grace: float = 2.0) -> None:
    """Cancel what is queued and end the worker processes at once, leaving none behind.

    Each worker gets SIGTERM (its default action: exit), then SIGKILL if it is still
    there after `grace` seconds.
    """
    # The executor keeps its processes in a private dict; without it, the workers still
    # exit once their queue is closed, or with the parent (see interrupt.die_with_parent).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    results_writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    pool.shutdown(wait=False, cancel_futures=True)  # forgets the queues and processes
    for proc in processes:
        with suppress(Exception):
            proc.terminate()
    for proc in processes:
        with suppress(Exception):
            proc.join(grace)
            if proc.is_alive():
                proc.kill()
                proc.join(grace)
    # A worker ended while sending its result (a chunk's arrays: megabytes) leaves part
    # of a message in the results pipe, and the pool's manager thread waiting for the
    # rest, for good: this process holds the pipe's writing end too, so no end-of-file
    # comes, and Python waits for that thread at exit. This process never writes there;
    # with its end closed, the thread reads end-of-file, marks the pool broken and ends.
    if results_writer is not None:
        with suppress(Exception):
            results_writer.close()


def _worker_version() -> str:
    """Run on each Dask worker: the version of `sim` it would use."""
    from .. import __version__ as v

    return v


class DaskEngine:
    """A Dask cluster: the user's (`scheduler` address) or a LocalCluster started here.

    Chunks are submitted as impure tasks with retries; if a worker dies, the scheduler runs
    its lost tasks again elsewhere, and since a chunk's result depends only on its seeds,
    the rerun gives the same numbers. Each chunk returns only its per-replication monthly
    and yearly aggregates.
    """

    def __init__(self, workers: int | None, scheduler: str | None = None) -> None:
        self.requested = workers
        self.scheduler = scheduler
        self.workers = 1
        self.client: Any = None
        self._stack = ExitStack()

    def __enter__(self) -> DaskEngine:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise EngineError(f"--engine dask needs Dask; {INSTALL_DASK}") from None
        try:
            if self.scheduler:
                self.client = self._stack.enter_context(self._connect(Client))
            else:
                n = self.requested or os.cpu_count() or 1
                cluster = self._stack.enter_context(
                    LocalCluster(
                        n_workers=n,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                )
                self.client = self._stack.enter_context(Client(cluster))
            self._check_workers()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Closes our client, and the LocalCluster if we started one; a user's scheduler
        # and its workers are left running.
        self._stack.close()

    def _connect(self, Client: Any) -> Any:
        try:
            return Client(self.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise EngineError(
                f"cannot reach the Dask scheduler at {self.scheduler} within "
                f"{CONNECT_TIMEOUT} s ({exc.__class__.__name__}: {exc}); is `dask scheduler` "
                "running there, and is the address (e.g. tcp://HOST:8786) right?"
            ) from None
        except ValueError as exc:
            raise EngineError(f"bad Dask scheduler address {self.scheduler!r}: {exc}") from None

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            if not self.scheduler:
                raise EngineError(
                    f"the local Dask cluster started no worker within {CONNECT_TIMEOUT} s"
                ) from None
            raise EngineError(
                f"the Dask scheduler at {self.scheduler} has no workers after "
                f"{CONNECT_TIMEOUT} s; start some with `dask worker {self.scheduler} --nthreads 1`"
            ) from None
        try:
            versions = self.client.run(_worker_version)
        except ImportError:
            raise EngineError(
                "a Dask worker cannot import sufficiency; install the same version on every "
                f"worker machine (pip install sufficiency=={__version__}, or pip install -e . "
                "from this repository)"
            ) from None
        wrong = {w: v for w, v in versions.items() if v != __version__}
        if wrong:
            w, v = next(iter(wrong.items()))
            raise EngineError(
                f"{len(wrong)} Dask worker(s) run sufficiency {v} (e.g. {w}), this is "
                f"{__version__}; install the same version everywhere"
            )
        info = self.client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        self.workers = max(1, threads)

    def describe(self) -> str:
        """Where the runs happen, for the run's record: the scheduler and worker threads."""
        where = self.scheduler or "a local cluster"
        return f"dask at {where}, {self.workers} worker thread(s)"

    def run_chunks(
        self,
        task: Callable[..., Any],
        args: tuple[Any, ...],
        chunks: Chunks,
        on_done: Callable[[int], None],
        sink: Sink,
    ) -> None:
        """Run `task(*args, seeds)` for each chunk on the cluster; give each result to `sink`.

        A chunk lost with its worker is run again (same seeds, same numbers); `on_done` is told
        how many replications each finished chunk held.
        """
        from dask.distributed import as_completed as dask_completed

        run_id = uuid.uuid4().hex[:12]  # keys unique on a shared scheduler
        futures = {}
        for start, seeds in chunks:
            fut = self.client.submit(
                task,
                *args,
                seeds,
                pure=False,
                retries=3,
                key=f"sufficiency-{run_id}-{start}",
            )
            futures[fut.key] = (fut, start, len(seeds))
        try:
            for fut in dask_completed([f for f, _, _ in futures.values()]):
                _, start, n = futures[fut.key]
                sink(start, fut.result())
                fut.release()
                on_done(n)
        finally:
            # On an error or Ctrl-C, don't leave work queued on a shared cluster.
            pending = [f for f, _, _ in futures.values() if not f.done()]
            if pending:
                self.client.cancel(pending)


def open_engine(engine: str, workers: int | None, scheduler: str | None = None) -> Any:
    """A LocalEngine or DaskEngine, to be used as a context manager."""
    if engine == "local":
        if scheduler:
            raise EngineError("--scheduler needs --engine dask")
        return LocalEngine(workers if workers is not None else (os.cpu_count() or 1))
    if engine == "dask":
        return DaskEngine(workers, scheduler)
    raise EngineError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})")
