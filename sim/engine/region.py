"""One replication of a region: its councils on one clock, sharing the markets' pools.

Each council is a `Model` of its own scenario (its children, carers, homes, rules and
random streams); they share one SimPy environment, so that their events interleave in
time, and the `MarketSegment`s their linked offer-type provisions buy from. A council's
random numbers do not depend on the others': the first council listed draws exactly the
numbers of a plain run of its scenario with the same seed (a one-council region with a
market that never fills gives the plain run's results), each other council's streams are
keyed by its name, and the markets' own draws (outside demand) have a stream of their own.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from ..scenario.region import RegionFile
from ..scenario.schema import Scenario
from .calendar import Calendar
from .clock import Clock
from .draws import Uniforms
from .market import MARKET_SERIES, MarketSegment, Neighbourhood, Response
from .metrics import ReplicationResult
from .model import Model, collector_paused

#: Spawn-key tag of the streams a region adds to a replication's seed (councils after
#: the first, and the markets): far from the small integers `SeedSequence.spawn` uses.
REGION_KEY = 0x5E610


def council_seed(seed: np.random.SeedSequence, name: str, first: bool) -> np.random.SeedSequence:
    """The seed of a council in a region's replication: the replication's own for the
    first council listed, else one keyed by the council's name (so adding, removing or
    reordering the others leaves it unchanged)."""
    if first:
        return seed
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, REGION_KEY, key))


def market_seed(seed: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    """The seed of a market's own draws (outside demand, starting stays), keyed by its
    name: changing one market leaves the others' draws as they were."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, REGION_KEY, 0, key))


@dataclass
class RegionResult:
    """One replication of a region: each council's figures, and the markets' month ends
    as a (months, markets, len(MARKET_SERIES)) array."""

    councils: dict[str, ReplicationResult]
    markets: np.ndarray
    n_events: int


class RegionModel:
    """One replication of a region (see the module's note)."""

    def __init__(
        self,
        spec: RegionFile,
        scenarios: dict[str, Scenario],
        years: float,
        seed: np.random.SeedSequence | int,
        record_events: bool = False,
    ) -> None:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.env = simpy.Environment(initial_time=0.0)
        self.clock = Clock(self.env)
        self.months = max(1, round(years * 12))
        first = next(iter(scenarios.values()))
        self.calendar = Calendar(first.scenario.start_date, self.months)
        self.neighbourhood = Neighbourhood()
        end = self.calendar.end
        self.markets: dict[str, MarketSegment] = {}
        for name, m in spec.market.items():
            rows = [(r.occupancy, r.offer_factor, r.price_factor) for r in m.response]
            self.markets[name] = MarketSegment(
                name,
                m.places,
                Response(rows),
                self.neighbourhood,
                self.clock,
                end,
                m.outside_placements_per_year,
                m.outside_stay_days,
                [Uniforms(np.random.default_rng(ss)) for ss in market_seed(root, name).spawn(4)],
            )
        self.councils: dict[str, Model] = {}
        for i, (name, scenario) in enumerate(scenarios.items()):
            links = {pid: self.markets[m] for pid, m in spec.councils[name].market.items()}
            model = Model(
                scenario,
                years,
                council_seed(root, name, i == 0),
                record_events=record_events,
                env=self.env,
                markets=links,
            )
            self.councils[name] = model
            model.placing.neighbourhood = self.neighbourhood
            self.neighbourhood.placings.append(model.placing)
            for pid, market in links.items():
                market.members.append((model.placing, model.state.by_pid[pid]))
        with collector_paused():
            for name, m in spec.market.items():
                self.markets[name].fill_at_start(m.occupied_at_start)
        self.market_months = np.zeros((self.months, len(self.markets), len(MARKET_SERIES)))
        self._snapshot_months()
        for market in self.markets.values():
            market.start_outside_demand()

    def _snapshot_months(self) -> None:
        """The markets' month-end figures, at every month end but the last (taken at the
        end by `run`)."""
        bounds = self.calendar.bounds
        for m in range(self.months - 1):
            self.clock.after(bounds[m + 1], partial(self._on_month_end, m))

    def _on_month_end(self, month: int, _event: object) -> None:
        self._snapshot(month)

    def _snapshot(self, month: int) -> None:
        for j, market in enumerate(self.markets.values()):
            self.market_months[month, j] = market.month_figures()

    def run(self) -> RegionResult:
        """Run to the end; each council's figures and the markets'."""
        with collector_paused():
            self.env.run(until=self.calendar.end)
        results = {name: model.finish() for name, model in self.councils.items()}
        self._snapshot(self.months - 1)
        events = self.clock.scheduled + sum(m.clock.scheduled for m in self.councils.values())
        return RegionResult(councils=results, markets=self.market_months, n_events=events)

    def release(self) -> None:
        """Break the replication's reference cycles (see `Model.release`)."""
        for model in self.councils.values():
            model.release()
        for market in self.markets.values():
            market.members.clear()
        self.neighbourhood.placings.clear()


def simulate_region(
    spec: RegionFile,
    scenarios: dict[str, Scenario],
    years: float,
    seed: int | np.random.SeedSequence,
    record_events: bool = False,
) -> RegionResult:
    """Run one replication of a region and return each council's figures and the markets'."""
    with collector_paused():
        model = RegionModel(spec, scenarios, years, seed, record_events=record_events)
        try:
            return model.run()
        finally:
            model.release()
