"""What a run will cost this machine, worked out before it starts.

A run asked for by mistake (`--reps 100000000`, a typo in `--years`) used to grow until
the kernel killed it, taking a shared machine's memory with it. Before simulating, the
commands estimate the run's memory, disk and time from the scenario's shape and from two
short pilot replications timed on this machine, and refuse a run that cannot fit (memory
or disk beyond what is free) or ask for `--yes` when it would take long or take most of
the machine's memory.

The per-value figures below were measured on Darlington's baseline (99 series a month):
200 replications of 5 years peaked at 167 MB, 2,000 at 456 MB, so about 27 bytes of
memory per stored value (replication x month x series, mostly the yearly tables the
report builds with pandas), and wrote 141 MB of outputs beside an 8-byte-a-value
temporary store, about 20 bytes of disk per value. The estimates round these up; they are
meant to tell a run of minutes from one of days, not to predict to the second.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.errors import UserError
from ..engine.metrics import Layout
from ..engine.model import simulate
from ..scenario.schema import Scenario

#: Memory this process needs whatever the run: Python, numpy, pandas, matplotlib.
BASE_MEMORY = 250 * 2**20
#: Memory each worker process needs besides its replications (its own interpreter).
WORKER_MEMORY = 150 * 2**20
#: Bytes of memory and of disk per stored value (replication x month x series): see above.
MEMORY_PER_VALUE = 32
DISK_PER_VALUE = 24
#: Estimated time above which a run needs --yes (a scheduled job can always pass it).
LONG_RUN_SECONDS = 2 * 3600
#: Share of the free memory above which a run needs --yes (others use this machine too).
MEMORY_SHARE_ASK = 0.5
#: Share of the free memory or disk a run may never go beyond: it would be killed or
#: fill the disk part way through.
SHARE_REFUSE = 0.9
#: Longest pilot replication (years): a year's events, seasons included.
PILOT_YEARS = 1.0
#: A pilot of one day: the set-up (the starting population), which does not grow with years.
SETUP_YEARS = 1 / 365


class ResourceError(UserError):
    """The run would not fit this machine, or needs the user to say they mean it."""


@dataclass(frozen=True)
class Machine:
    """What this machine has free now (None where it cannot be read)."""

    memory_free: int | None
    disk_free: int | None
    cpus: int

    @classmethod
    def here(cls, out: Path | None = None) -> Machine:
        """What this machine has free now: memory, disk (temp folder and `out`), cores."""
        return cls(
            memory_free=_memory_available(),
            disk_free=_disk_free([Path(tempfile.gettempdir()), *([out] if out else [])]),
            cpus=os.cpu_count() or 1,
        )


@dataclass(frozen=True)
class Estimate:
    """A run's expected peak memory (this process and its workers), disk and wall time."""

    memory: int
    disk: int
    seconds: float
    workers: int

    def describe(self) -> str:
        """The estimate in words, e.g. 'about 1.2 GB of memory, 30 MB of disk and ...'."""
        return (
            f"about {size_text(self.memory)} of memory, {size_text(self.disk)} of disk and "
            f"{duration_text(self.seconds)} on {self.workers} worker(s)"
        )


def estimate(
    scenarios: Sequence[Scenario],
    years: float,
    reps: int,
    workers: int | None,
    held_at_once: int | None = None,
    pilot: Callable[[Scenario, float], float] | None = None,
) -> Estimate:
    """The cost of running each scenario `reps` times over `years`.

    `held_at_once` is how many scenarios' results are kept in memory together (compare
    keeps all of them to pair them up; a sweep keeps one at a time); default all.
    `pilot(scenario, years)` gives the seconds one replication takes (default: time a
    few pilot replications; a test gives its own, since wall-clock times vary).
    """
    pilot = pilot or _pilot_seconds
    months = max(1, round(years * 12))
    workers = max(1, min(workers or os.cpu_count() or 1, reps))
    values = [reps * months * len(Layout.for_scenario(s)) for s in scenarios]
    held = sorted(values, reverse=True)[: held_at_once or len(values)]
    pilots: dict[int, float] = {}  # a sweep repeats one scenario: time it once
    for s in scenarios:
        if id(s) not in pilots:
            pilots[id(s)] = pilot(s, years)
    seconds = sum(pilots[id(s)] for s in scenarios) * reps / workers
    return Estimate(
        memory=BASE_MEMORY + WORKER_MEMORY * workers + MEMORY_PER_VALUE * sum(held),
        disk=DISK_PER_VALUE * sum(values),
        seconds=seconds,
        workers=workers,
    )


def check(
    est: Estimate,
    yes: bool,
    machine: Machine | None = None,
    fewer: str = "fewer --reps or --years",
) -> None:
    """Refuse a run the machine cannot hold; ask for --yes before a very long or big one.

    `fewer` says which options make the run smaller (backtest's length is --horizon).
    """
    m = machine or Machine.here()
    if m.memory_free is not None and est.memory > SHARE_REFUSE * m.memory_free:
        raise ResourceError(
            f"this run would need {size_text(est.memory)} of memory and this machine has "
            f"{size_text(m.memory_free)} free. Use {fewer}."
        )
    if m.disk_free is not None and est.disk > SHARE_REFUSE * m.disk_free:
        raise ResourceError(
            f"this run would write about {size_text(est.disk)} (results and a temporary "
            f"store) and the disk has {size_text(m.disk_free)} free. Use {fewer}."
        )
    if yes:
        return
    big = None
    if est.seconds > LONG_RUN_SECONDS:
        big = (
            f"{duration_text(est.seconds)} on {est.workers} worker(s) (estimated from a "
            f"pilot replications)"
        )
    elif m.memory_free is not None and est.memory > MEMORY_SHARE_ASK * m.memory_free:
        big = f"{size_text(est.memory)} of this machine's {size_text(m.memory_free)} free memory"
    if big:
        raise ResourceError(
            f"this run would take {big}. Add --yes to run it anyway, or use {fewer}."
        )


def _pilot_seconds(scenario: Scenario, years: float) -> float:
    """Seconds for one replication of `years`: set-up plus events, from two short pilots.

    A one-day pilot times the set-up (building the starting population); a pilot of up
    to a year times the events, which are scaled to `years`. Measured for 5 years (pure
    Python): Darlington 0.02-0.06 s estimated against 0.063 s, the county 0.19-0.20 s
    against 0.18 s. The pilots' seeds are their own: no replication's numbers change.
    """

    def timed(span: float) -> float:
        started = time.perf_counter()
        simulate(scenario, span, np.random.SeedSequence(0))
        return time.perf_counter() - started

    pilot = min(years, PILOT_YEARS)
    setup = timed(min(years, SETUP_YEARS))
    return setup + max(0.0, timed(pilot) - setup) * years / pilot


def _memory_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _disk_free(paths: Sequence[Path]) -> int | None:
    """Free space on the fullest of the disks these paths (or their parents) are on."""
    free: list[int] = []
    for p in paths:
        p = Path(p).absolute()
        while not p.exists() and p != p.parent:
            p = p.parent
        try:
            free.append(shutil.disk_usage(p).free)
        except OSError:
            continue
    return min(free) if free else None


def size_text(n: float) -> str:
    """A number of bytes in words a user reads at a glance: '1.2 GB'."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def duration_text(seconds: float) -> str:
    """Seconds in words a user reads at a glance: 'about 4 minutes', 'for ever'."""
    if not math.isfinite(seconds):
        return "for ever"
    if seconds < 90:
        return f"about {seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} minutes"
    if seconds < 48 * 3600:
        return f"about {seconds / 3600:.1f} hours"
    return f"about {seconds / 86400:,.0f} days"
