"""Monte Carlo of a region: many replications of its councils sharing their markets.

A replication of a region cannot be split between workers: its councils share one clock
and the markets' pools, so each event of one may change what the others find. What is
spread is replications, as for one council: a chunk of seeds goes to a worker (a local
process or a Dask worker), which runs each whole region replication and sends back every
council's monthly and yearly figures and the markets' month ends. The same seed gives the
same numbers on any engine, worker count and chunk size.

Each council's results are a `Results` like a plain run's, so every report of one council
(the run report, compare) reads them as they are; `RegionResults` adds the markets and the
region's totals.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..common.errors import UserError
from ..engine.calendar import Calendar
from ..engine.market import MARKET_SERIES
from ..engine.metrics import Layout
from ..engine.region import council_seed, simulate_region
from ..scenario.region import Region, RegionFile
from ..scenario.schema import Scenario
from .compare import Comparison, checked_rank_by, pair
from .montecarlo import Results, run_in_chunks, spawn_seeds
from .parameters import drawn
from .store import ReplicationStore


@dataclass
class RegionResults:
    """All replications of a region: each council's `Results`, and the markets' month-end
    figures as a (reps, months, markets, len(MARKET_SERIES)) array."""

    region: Region
    councils: dict[str, Results]
    markets: np.ndarray
    market_names: list[str]
    seed: int
    n_events: int = 0
    wall_seconds: float = 0.0
    workers: int = 1
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The region's name, as reports show it."""
        return self.region.name

    @property
    def reps(self) -> int:
        """How many replications were run."""
        return int(self.markets.shape[0])

    def market_series(self, market: str, measure: str) -> np.ndarray:
        """(reps, months) month-end figure of one market (see MARKET_SERIES)."""
        j = self.market_names.index(market)
        return self.markets[:, :, j, MARKET_SERIES.index(measure)]

    def total(self, metric: str, group: str) -> np.ndarray:
        """(reps, months): a series summed over the councils that have it (the region's
        children in care, costs, unmet demand)."""
        out: np.ndarray | None = None
        for res in self.councils.values():
            try:
                x = res.series(metric, group)
            except KeyError:
                continue
            out = x.copy() if out is None else out + x
        if out is None:
            raise KeyError(f"no council has the series {metric}/{group}")
        return out


def _run_region_chunk(
    spec: RegionFile,
    scenarios: dict[str, Scenario],
    years: float,
    uncertain: bool,
    seeds: Sequence[np.random.SeedSequence],
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], np.ndarray, int]:
    """Replications of one chunk: by council, (monthly, yearly, child-years) stacked over
    the chunk; the markets' month ends; the events."""
    per: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[float]]] = {
        name: ([], [], []) for name in scenarios
    }
    markets, events = [], 0
    for ss in seeds:
        if uncertain:
            own = {
                name: drawn(s, council_seed(ss, name, i == 0))
                for i, (name, s) in enumerate(scenarios.items())
            }
        else:
            own = scenarios
        r = simulate_region(spec, own, years, ss)
        for name, res in r.councils.items():
            per[name][0].append(res.monthly)
            per[name][1].append(res.yearly)
            per[name][2].append(res.child_years)
        markets.append(r.markets)
        events += r.n_events
    out = {}
    for name, (m, y, c) in per.items():
        out[name] = (np.stack(m), np.stack(y), np.array(c, dtype=float))
    return out, np.stack(markets), events


def run_region(
    region: Region,
    years: float = 5,
    reps: int = 100,
    seed: int = 20240401,
    workers: int | None = None,
    progress: bool | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    chunk_size: int | None = None,
    parameter_uncertainty: bool = True,
) -> RegionResults:
    """Run `reps` replications of the region over `years` (see `sim.runs.montecarlo.run`
    for the arguments): whole replications are spread over the workers."""
    if reps < 1:
        raise ValueError("reps must be at least 1")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    workers = max(1, min(workers if workers is not None else (os.cpu_count() or 1), reps))
    if progress is None:
        progress = sys.stderr.isatty()
    scenarios = {name: loaded.model for name, loaded in region.councils.items()}
    uncertain = bool(parameter_uncertainty and any(s.uncertainty for s in scenarios.values()))
    seeds = spawn_seeds(seed, reps)
    months = max(1, round(years * 12))
    cal = Calendar(region.start_date, months)
    layouts = {name: Layout.for_scenario(s) for name, s in scenarios.items()}
    stores = {name: ReplicationStore(reps, months, len(lay)) for name, lay in layouts.items()}
    yearly: dict[str, np.ndarray] = {}
    child_years = {name: np.empty(reps) for name in scenarios}
    market_names = list(region.spec.market)
    markets = np.zeros((reps, months, len(market_names), len(MARKET_SERIES)))
    n_events = 0

    def keep(start: int, part: Any) -> None:
        """Write a finished chunk to the stores and let it go."""
        nonlocal n_events
        by_council, chunk_markets, events = part
        end = start + len(chunk_markets)
        for name, (m, y, c) in by_council.items():
            stores[name].write(start, m)
            if name not in yearly:
                yearly[name] = np.empty((reps, *y.shape[1:]), dtype=y.dtype)
            yearly[name][start:end] = y
            child_years[name][start:end] = c
        markets[start:end] = chunk_markets
        n_events += events

    wall, used = run_in_chunks(
        _run_region_chunk,
        (region.spec, scenarios, years, uncertain),
        seeds,
        keep,
        workers=workers,
        engine=engine,
        scheduler=scheduler,
        chunk_size=chunk_size,
        label=region.name,
        progress=progress,
    )
    meta = {
        "engine": engine,
        "market": f"region {region.name} ({region.path.name})",
        **({"scheduler": scheduler} if scheduler else {}),
    }
    councils = {}
    for name, loaded in region.councils.items():
        model = loaded.model
        councils[name] = Results(
            scenario=model,
            scenario_raw=loaded.raw,
            layout=layouts[name],
            months=cal.labels(),
            seed=seed,
            store=stores[name],
            yearly=yearly[name],
            n_events=0,
            child_years=math.fsum(child_years[name]),
            wall_seconds=wall,
            workers=used,
            meta={**meta, **({"parameter_uncertainty": uncertain} if model.uncertainty else {})},
            scenario_files=loaded.files,
        )
    return RegionResults(
        region=region,
        councils=councils,
        markets=markets,
        market_names=market_names,
        seed=seed,
        n_events=n_events,
        wall_seconds=wall,
        workers=used,
        meta=meta,
    )


@dataclass
class RegionComparison:
    """A baseline region and options run with the same seed: each council's comparison
    (paired replication by replication, as `compare` pairs one council's options), and
    the regions' runs (for the markets)."""

    names: list[str]
    runs: list[RegionResults]
    councils: dict[str, Comparison]
    wall_seconds: float = 0.0

    def region_diff(self, metric: str) -> np.ndarray:
        """(n_options, reps, n_periods): option minus baseline of a metric summed over the
        councils, replication by replication."""
        total: np.ndarray | None = None
        for cmp in self.councils.values():
            d = cmp.diff(metric)
            total = d.copy() if total is None else total + d
        assert total is not None
        return total


def compare_regions(
    regions: Sequence[Region],
    years: float = 5,
    reps: int = 500,
    seed: int = 20240401,
    workers: int | None = None,
    progress: bool | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    rank_by: Sequence[str] = ("net_cost", "unmet_child_days"),
    suppress_below: int = 0,
    parameter_uncertainty: bool = True,
) -> RegionComparison:
    """Run a baseline region and its options with the same seed and pair each council's
    runs. Every region must have the same councils (an option changes what a council
    does, or the market, not who is in the region) and start on the same date."""
    if len(regions) < 2:
        raise UserError("compare needs a baseline region and at least one option region")
    rank_by = checked_rank_by(rank_by)
    base = list(regions[0].councils)
    for r in regions[1:]:
        if list(r.councils) != base:
            raise UserError(
                f"{r.path}: the region's councils ({', '.join(r.councils)}) differ from the "
                f"baseline's ({', '.join(base)}); an option region changes what councils or "
                "the market do, with the same councils, in the same order"
            )
        if r.start_date != regions[0].start_date:
            raise UserError(
                f"{r.path}: starts on {r.start_date}, the baseline on {regions[0].start_date}"
            )
    started = time.perf_counter()
    runs = [
        run_region(
            r,
            years=years,
            reps=reps,
            seed=seed,
            workers=workers,
            progress=progress,
            engine=engine,
            scheduler=scheduler,
            parameter_uncertainty=parameter_uncertainty,
        )
        for r in regions
    ]
    wall = time.perf_counter() - started
    councils = {}
    for name in base:
        councils[name] = pair(
            [run.councils[name] for run in runs],
            [r.councils[name].model for r in regions],
            files=[r.councils[name].path for r in regions],
            years=years,
            reps=reps,
            seed=seed,
            rank_by=rank_by,
            suppress_below=suppress_below,
            wall_seconds=wall,
        )
    names = [r.name for r in regions]
    if len(set(names)) < len(names):
        names = [f"{r.name} ({r.path.name})" for r in regions]
    return RegionComparison(names=names, runs=runs, councils=councils, wall_seconds=wall)
