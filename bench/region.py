"""The regional benchmark: the North East example region, 10 simulated years.

A region's replication runs every council on one clock, sharing the markets' pools, so it
cannot be split between workers; what is spread is whole replications (as for one
council). This prints, for the region:

- one worker: seconds per replication (the best of a few rounds), events per second;
- every council's share of the events;
- `--workers` (default 2): replications per second of `run_region` over `--reps`
  replications, as a user's `sufficiency run region.toml` would run them;

and a last line for scripts:

    region 10y: 1000 reps projected <seconds> s on <W> workers (<reps/s> reps/s)

Usage: python bench/region.py [--region FILE] [--years Y] [--reps N] [--workers W]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import COMPILED  # noqa: E402
from sim.engine.model import collector_paused  # noqa: E402
from sim.engine.region import RegionModel  # noqa: E402
from sim.runs.montecarlo import spawn_seeds  # noqa: E402
from sim.runs.region import run_region  # noqa: E402
from sim.scenario.region import load_region  # noqa: E402

DEFAULT_REGION = ROOT / "scenarios" / "north-east" / "region.toml"


def serial(region, years: float, seeds: list, rounds: int) -> tuple[float, int, dict[str, int]]:
    """Best seconds per replication over `rounds` rounds, events per replication, and
    each council's events per replication (one worker)."""
    scenarios = {n: c.model for n, c in region.councils.items()}
    best = float("inf")
    events = 0
    by_council: dict[str, int] = {}
    for _ in range(rounds):
        total = 0.0
        events = 0
        by_council = dict.fromkeys(scenarios, 0)
        for ss in seeds:
            started = time.perf_counter()
            with collector_paused():
                model = RegionModel(region.spec, scenarios, years, ss)
                result = model.run()
                for name, m in model.councils.items():
                    by_council[name] += m.clock.scheduled
                model.release()
            total += time.perf_counter() - started
            events += result.n_events
        best = min(best, total / len(seeds))
    n = len(seeds)
    return best, events // n, {k: v // n for k, v in by_council.items()}


def main() -> None:
    """Time the region and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--region", type=Path, default=DEFAULT_REGION)
    ap.add_argument("--years", type=float, default=10)
    ap.add_argument("--reps", type=int, default=200, help="replications for the parallel run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--serial-reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    region = load_region(args.region)
    children = {
        n: sum(sum(g.by_age.values()) for g in c.model.population.values())
        for n, c in region.councils.items()
    }
    print(f"region: {region.name} ({args.region.name}), {args.years:g} years")
    build = "compiled (mypyc)" if COMPILED else "pure Python"
    print(f"build: {build}, Python {platform.python_version()}")
    print("councils (children at the start): " + ", ".join(f"{n} {k}" for n, k in children.items()))
    print(
        "markets: " + ", ".join(f"{n} {m.places:,} places" for n, m in region.spec.market.items())
    )

    seeds = spawn_seeds(1, args.serial_reps)
    per_rep, events, by_council = serial(region, args.years, seeds, args.rounds)
    print(
        f"1 worker: {per_rep:.3f} s per replication, {events:,} events per replication, "
        f"{events / per_rep:,.0f} events/s"
    )
    print(
        "events per replication by council: "
        + ", ".join(f"{n} {e:,}" for n, e in by_council.items())
    )

    started = time.perf_counter()
    res = run_region(
        region, years=args.years, reps=args.reps, seed=1, workers=args.workers, progress=False
    )
    wall = time.perf_counter() - started
    rate = args.reps / wall
    print(
        f"{res.workers} workers: {args.reps} replications in {wall:.1f} s "
        f"({rate:.2f} reps/s, including starting the workers)"
    )
    print(
        f"region {args.years:g}y: 1000 reps projected {1000 / rate:.0f} s on {res.workers} "
        f"workers ({rate:.2f} reps/s)"
    )


if __name__ == "__main__":
    main()
