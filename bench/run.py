"""The standard benchmark: the county workload, 10 simulated years, monthly metrics.

Prints seconds per replication, replications per second on 1 worker and on all cores,
simulated events per second, events per child-year, peak memory, and the ratio of the
model's events per second to a bare SimPy timeout loop timed in the same run (the ceiling
for any SimPy model on this machine). The last line is meant for scripts:

    county 10y: 1000 reps projected <seconds> s on <W> workers

Usage: python bench/run.py [--reps N] [--scenario FILE] [--years Y] [--workers W]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import COMPILED, load, run  # noqa: E402
from sim.engine.model import Model, collector_paused, simulate  # noqa: E402
from sim.runs.montecarlo import spawn_seeds  # noqa: E402


def bare_simpy_events_per_second(n_processes: int = 1000, horizon: float = 3650.0) -> float:
    """Events/s of the simplest SimPy model: processes that only wait random times.

    Like the model's figure below, it times the event loop only, not building the
    processes.
    """

    def waiter(env: simpy.Environment, rng: random.Random, counter: list[int]):
        while True:
            yield env.timeout(rng.expovariate(1 / 30.0))
            counter[0] += 1

    env = simpy.Environment()
    rng = random.Random(1)
    counter = [0]
    for _ in range(n_processes):
        env.process(waiter(env, rng, counter))
    started = time.perf_counter()
    env.run(until=horizon)
    return counter[0] / (time.perf_counter() - started)


def serial_timings(scenario, years: float, seeds: list, rounds: int) -> dict[str, float]:
    """One worker: per replication, the best of `rounds` timings of set-up and event loop.

    Each round runs every seed once and the bare SimPy loop once, interleaved, so a
    spell of a busy machine hits both sides of the ratio alike; taking each one's best
    round leaves out such spells (the usual practice for timings, as in `timeit`).
    """
    setup = [math.inf] * len(seeds)
    loop = [math.inf] * len(seeds)
    ceiling = 0.0
    events = child_years = 0.0
    for _ in range(rounds):
        ceiling = max(ceiling, bare_simpy_events_per_second())
        events = child_years = 0.0
        for i, ss in enumerate(seeds):
            with collector_paused():  # as `simulate` runs a replication
                started = time.perf_counter()
                model = Model(scenario.model, years, ss)
                built = time.perf_counter()
                r = model.run()
                done = time.perf_counter()
                model.release()
            setup[i] = min(setup[i], built - started)
            loop[i] = min(loop[i], done - built)
            events += r.n_events
            child_years += r.child_years
    return {
        "ceiling": ceiling,
        "setup": sum(setup),
        "loop": sum(loop),
        "events": events,
        "child_years": child_years,
    }


def peak_memory_mb() -> float:
    """Peak resident memory of this process and of its finished children (MB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _peak_of_run(scenario: Path, years: float, reps: int, workers: int) -> float:
    """Peak memory (MB) of a fresh process that runs `reps` replications and keeps the results."""
    import subprocess

    code = (
        f"import resource, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from sim import load, run\n"
        f"r = run(load({str(scenario)!r}), years={years!r}, reps={reps}, seed=1, "
        f"workers={workers}, progress=False)\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(max(own, kids) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=1000, help="replications to time on all cores")
    p.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "bench" / "county.toml")
    p.add_argument("--years", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--serial-reps", type=int, default=10, help="replications timed on 1 worker")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the 1-worker timings and the bare loop; the best counts",
    )
    p.add_argument(
        "--memory",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        default=None,
        help="also compare peak memory of SMALL and LARGE replications, each run "
        "in a fresh process (e.g. --memory 100 10000)",
    )
    args = p.parse_args()
    if args.memory:
        small, large = (
            _peak_of_run(args.scenario, args.years, n, args.workers) for n in args.memory
        )
        print(
            f"peak memory: {args.memory[0]} reps {small:,.0f} MB, {args.memory[1]} reps "
            f"{large:,.0f} MB: ratio {large / small:.2f} (target 1.5 or less)"
        )

    scenario = load(args.scenario)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SimPy {simpy.__version__}"
    )
    print(f"workload: {scenario.name}, {args.years:g} years, monthly metrics")
    print(
        "build: "
        + (f"compiled with mypyc ({len(COMPILED)} modules)" if COMPILED else "pure Python")
    )

    # one worker, in this process: per-replication cost and events
    seeds = spawn_seeds(1, args.serial_reps)
    simulate(scenario.model, args.years, seeds[0])  # warm up imports and caches
    t = serial_timings(scenario, args.years, seeds, args.rounds)
    ceiling, events = t["ceiling"], t["events"]
    print(f"bare SimPy timeout loop: {ceiling:,.0f} events/s (best of {args.rounds})")
    per_rep = (t["setup"] + t["loop"]) / args.serial_reps
    in_loop = events / t["loop"]
    whole = events / (t["setup"] + t["loop"])
    print(
        f"1 worker: {per_rep:.3f} s per replication ({t['setup'] / args.serial_reps:.3f} s "
        f"setting up, {t['loop'] / args.serial_reps:.3f} s in the event loop), "
        f"{1 / per_rep:.2f} reps/s, {events / t['child_years']:.2f} events per child-year"
    )
    print(f"events/s: {in_loop:,.0f} in the event loop, {whole:,.0f} over whole replications")
    print(
        f"model / bare SimPy: {in_loop / ceiling:.0%} of the ceiling in the event loop "
        f"({whole / ceiling:.0%} counting set-up, which makes no events)"
    )

    # all cores, through the real Monte Carlo runner
    started = time.perf_counter()
    results = run(
        scenario, years=args.years, reps=args.reps, seed=1, workers=args.workers, progress=False
    )
    wall = time.perf_counter() - started
    print(
        f"{results.workers} workers: {args.reps} reps in {wall:.1f} s, "
        f"{args.reps / wall:.2f} reps/s, {results.n_events / wall:,.0f} events/s"
    )
    print(f"peak memory: {peak_memory_mb():,.0f} MB")
    projected = wall * 1000 / args.reps
    name = args.scenario.stem  # "county" for the standard workload
    print(
        f"{name} {args.years:g}y: 1000 reps projected {projected:.1f} s on "
        f"{results.workers} workers"
    )


if __name__ == "__main__":
    main()
