"""Monte Carlo: many replications of one scenario, each on its own seeded stream.

One master seed gives, through `SeedSequence.spawn`, one child seed per replication; a
replication's numbers depend only on its own seed, so results are identical whatever the
number of workers, and two scenarios run with the same master seed share their random
numbers wherever their events are the same (common random numbers).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..engine.calendar import Calendar
from ..engine.metrics import YEARLY, Layout
from ..engine.model import simulate
from ..scenario.load import LoadedScenario
from ..scenario.schema import Scenario
from .engines import open_engine
from .parameters import drawn
from .store import ReplicationStore


@dataclass
class Results:
    """All replications of one scenario: monthly series on disk, yearly ones in memory.

    The monthly figures, (replication, month, series), live in a `ReplicationStore` so
    that memory stays flat however many replications are run; read them a series at a
    time with `series` and `by_year`. `monthly` builds the whole array, for small runs.
    """

    scenario: Scenario
    scenario_raw: dict[str, Any]
    layout: Layout
    months: list[str]
    seed: int
    store: ReplicationStore  # (reps, months, series), series-major on disk
    yearly: np.ndarray  # (reps, years, len(YEARLY))
    n_events: int = 0
    child_years: float = 0.0
    wall_seconds: float = 0.0
    workers: int = 1
    version: str = __version__
    meta: dict[str, Any] = field(default_factory=dict)
    #: the scenario's files as read (path, text), base first, for a copy that keeps
    #: their comments (`LoadedScenario.files`); empty when run from a `Scenario` object
    scenario_files: tuple[tuple[Path, str], ...] = ()
    #: with parameter uncertainty, the first replications run again at the medians (same
    #: seeds): how wide the bands would be from chance alone (`run(chance_reps=...)`)
    chance: Results | None = None

    @property
    def name(self) -> str:
        """The scenario's name, as reports show it."""
        return self.scenario.scenario.name

    @property
    def monthly(self) -> np.ndarray:
        """The whole (reps, months, series) array, built in memory on each call.

        Convenient for small runs (tests, sweeps, backtests); the report never uses it.
        """
        return self.store.to_array()

    @property
    def reps(self) -> int:
        """How many replications were run."""
        return self.store.reps

    @property
    def n_years(self) -> int:
        """Years in the run (a part year at the end counts as one)."""
        return self.yearly.shape[1]

    def series(self, metric: str, group: str) -> np.ndarray:
        """(reps, months) array of one series, read from the store alone."""
        return self.store.series(self.layout.i(metric, group))

    def total(self, metric: str) -> np.ndarray:
        """(reps, months): the metric's 'total' series, or the sum of its groups."""
        cols = dict(self.layout.columns(metric))
        if "total" in cols:
            return self.store.series(cols["total"])
        out: np.ndarray | None = None
        for i in cols.values():  # one series at a time, in layout order
            x = self.store.series(i)
            out = x if out is None else out + x
        assert out is not None, f"metric {metric!r} has no series"
        return out

    def yearly_series(self, name: str) -> np.ndarray:
        """(reps, years) array of one yearly measure (see metrics.YEARLY)."""
        return self.yearly[:, :, YEARLY.index(name)]

    def by_year(self, metric: str, group: str, how: str = "sum") -> np.ndarray:
        """(reps, years): a monthly series summed over each year, or its year-end value."""
        x = self.series(metric, group)
        n_years = self.n_years
        out = np.zeros((x.shape[0], n_years))
        for y in range(n_years):
            block = x[:, y * 12 : (y + 1) * 12]
            out[:, y] = block.sum(axis=1) if how == "sum" else block[:, -1]
        return out


def spawn_seeds(seed: int, reps: int) -> list[np.random.SeedSequence]:
    """The seed of replication i is the i-th child of the master seed, always."""
    return np.random.SeedSequence(seed).spawn(reps)


def _run_chunk(
    scenario: Scenario,
    years: float,
    uncertain: bool,
    seeds: Sequence[np.random.SeedSequence],
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Replications of one chunk: their monthly and yearly arrays, events, child-years.

    With `uncertain`, each replication first draws its own values of the scenario's
    uncertain numbers (`sim.runs.parameters`). Child-years are returned per replication
    (not summed) so the total is added up in replication order and does not depend on how
    the replications were chunked.
    """
    monthly, yearly, events, child_years = [], [], 0, []
    for ss in seeds:
        r = simulate(drawn(scenario, ss) if uncertain else scenario, years, ss)
        monthly.append(r.monthly)
        yearly.append(r.yearly)
        events += r.n_events
        child_years.append(r.child_years)
    return np.stack(monthly), np.stack(yearly), events, np.array(child_years, dtype=float)


def run(
    scenario: Scenario | LoadedScenario,
    years: float = 5,
    reps: int = 100,
    seed: int = 20240401,
    workers: int | None = None,
    progress: bool | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    chunk_size: int | None = None,
    parameter_uncertainty: bool = True,
    chance_reps: int = 0,
    observer: Callable[[int], None] | None = None,
) -> Results:
    """Run `reps` replications over `years` and gather their monthly figures.

    `engine` is "local" (this machine's processes) or "dask" (a LocalCluster of `workers`
    processes, or the cluster at `scheduler`, e.g. "tcp://10.0.0.5:8786"). Replications go
    out in chunks of `chunk_size` (default: sized to the workers); the same seed gives
    identical results on any engine, worker count and chunk size.

    `parameter_uncertainty`: each replication draws its own values of the numbers the
    scenario gives as { median, interval90 }; False runs every replication at the medians
    (chance alone), with the same random numbers otherwise. `chance_reps` > 0, when
    numbers are drawn: also run that many of the same replications at the medians, kept as
    `Results.chance`, so a report can say how much of a band is not knowing the rates.

    `observer`, if given, is told how many replications each finished chunk held (a web
    page's progress bar); an exception it raises stops the run as Ctrl-C does (workers
    stopped, nothing kept): how a caller cancels.
    """
    if isinstance(scenario, LoadedScenario):
        model, raw, files = scenario.model, scenario.raw, scenario.files
    else:
        model, raw, files = scenario, scenario.file_data(), ()
    if reps < 1:
        raise ValueError("reps must be at least 1")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    workers = min(workers, reps)
    if progress is None:
        progress = sys.stderr.isatty()
    seeds = spawn_seeds(seed, reps)
    uncertain = bool(parameter_uncertainty and model.uncertainty)
    layout = Layout.for_scenario(model)
    months = max(1, round(years * 12))
    cal = Calendar(model.scenario.start_date, months)

    store = ReplicationStore(reps, months, len(layout))
    yearly: np.ndarray | None = None
    child_years = np.empty(reps)
    n_events = 0

    def keep(start: int, part: tuple[np.ndarray, np.ndarray, int, np.ndarray]) -> None:
        """Write a finished chunk to the store and let it go: memory stays flat in reps."""
        nonlocal yearly, n_events
        chunk_monthly, chunk_yearly, events, chunk_child_years = part
        end = start + len(chunk_monthly)
        store.write(start, chunk_monthly)
        if yearly is None:
            yearly = np.empty((reps, *chunk_yearly.shape[1:]), dtype=chunk_yearly.dtype)
        yearly[start:end], child_years[start:end] = chunk_yearly, chunk_child_years
        n_events += events

    wall, used = run_in_chunks(
        _run_chunk,
        (model, years, uncertain),
        seeds,
        keep,
        workers=workers,
        engine=engine,
        scheduler=scheduler,
        chunk_size=chunk_size,
        label=model.scenario.name,
        progress=progress,
        observer=observer,
    )
    assert yearly is not None  # reps >= 1, so at least one chunk arrived
    chance = None
    if uncertain and chance_reps > 0:
        chance = run(
            model,
            years=years,
            reps=min(reps, chance_reps),
            seed=seed,
            workers=workers,
            progress=False,
            engine=engine,
            scheduler=scheduler,
            chunk_size=chunk_size,
            parameter_uncertainty=False,
        )
    return Results(
        scenario=model,
        scenario_raw=raw,
        layout=layout,
        months=cal.labels(),
        seed=seed,
        store=store,
        yearly=yearly,
        n_events=n_events,
        child_years=math.fsum(child_years),
        wall_seconds=wall,
        workers=used,
        meta={
            "engine": engine,
            **({"scheduler": scheduler} if scheduler else {}),
            **({"parameter_uncertainty": uncertain} if model.uncertainty else {}),
        },
        scenario_files=files,
        chance=chance,
    )


def run_in_chunks(
    task: Any,
    args: tuple[Any, ...],
    seeds: list[np.random.SeedSequence],
    keep: Any,
    workers: int,
    engine: str,
    scheduler: str | None,
    chunk_size: int | None,
    label: str,
    progress: bool,
    observer: Callable[[int], None] | None = None,
) -> tuple[float, int]:
    """Run `task(*args, chunk_seeds)` over the seeds in chunks on the engine, each result
    given to `keep(start, result)` as it arrives; returns (wall seconds, workers used).

    The chunks are sized to the workers (with a user's scheduler, its worker threads);
    which worker runs which chunk does not change a number (each replication depends on
    its seed only)."""
    reps = len(seeds)
    with open_engine(engine, workers, scheduler) as runner:
        chunk = chunk_size or max(1, min(25, reps // (runner.workers * 4) or 1))
        chunks = [(i, seeds[i : i + chunk]) for i in range(0, reps, chunk)]
        bar = progress_bar(reps, label, progress)

        def done(n: int) -> None:
            bar.update(n)
            if observer is not None:
                observer(n)

        started = time.perf_counter()
        try:
            runner.run_chunks(task, args, chunks, done, sink=keep)
        finally:
            bar.close()
        return time.perf_counter() - started, runner.workers


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, name: str, enabled: bool) -> Any:
    """A tqdm bar on stderr counting replications (or one that shows nothing)."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm  # type: ignore[import-untyped]

    return tqdm(total=total, desc=name[:30], unit="rep", leave=False, file=sys.stderr)
