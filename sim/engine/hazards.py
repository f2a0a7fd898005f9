"""Competing hazards: what can happen next to a child, and how often.

A child in a placement faces several risks at once (leaving care by each route, the
placement breaking down, a planned move, a change of needs level). Rather than one
waiting process per risk, the child draws one waiting time from the total rate and then
which risk it was, in proportion to the rates: the same law, one or two draws instead
of many. Rates are piecewise constant; they change only at thresholds of age, time in
care and time in the current placement (the scenario's steps), which the model treats
as events of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..scenario.ages import ADULT_AGE, BAND_EDGES, BAND_NAMES, DAYS_PER_YEAR, band_index
from ..scenario.schema import Scenario, TimeInCare
from .draws import first_above

#: What a competing risk is (Final: constants in the compiled build).
EXIT: Final = 0
BREAKDOWN: Final = 1
MOVE: Final = 2
NEEDS: Final = 3  # the child's needs level changes (`[[needs_change]]`)


@dataclass(frozen=True, slots=True)
class Competing:
    """The risks a child faces in one state: total daily rate and cumulative shares."""

    total: float  # events per day
    cumulative: list[float]
    outcomes: tuple[tuple[int, int], ...]  # (EXIT|BREAKDOWN|MOVE|NEEDS, index)

    def pick(self, u: float) -> tuple[int, int]:
        """Which risk it was, given a uniform `u`: (EXIT|BREAKDOWN|MOVE|NEEDS, index)."""
        return self.outcomes[first_above(self.cumulative, u * self.total)]


class HazardTable:
    """Rates for every (placement, needs, age step, time-in-care step, time-in-placement
    step); the age steps include the band edges and planned moves' ages."""

    def __init__(self, s: Scenario) -> None:
        self.scenario = s
        self.pids = list(s.provision)
        self.specs = list(s.provision.values())
        self.needs = list(s.needs)
        self.exit_names = list(s.exits)
        self.exits = list(s.exits.values())
        self.moves = list(s.moves)
        edges = set(BAND_EDGES) | {ADULT_AGE}
        for m in self.moves:
            edges |= {m.min_age, m.max_age}
        self.age_edges = sorted(e for e in edges if 0 < e <= ADULT_AGE)
        self.needs_changes = list(s.needs_change)
        tic = set()
        for r in self.exits:
            tic |= {step.until_years for step in r.time_in_care}
        for c in self.needs_changes:
            tic |= {step.until_years for step in c.time_in_care}
        self.tic_edges = sorted(tic)
        self.tic_edges_inf = (*self.tic_edges, float("inf"))  # with a last edge never reached
        #: time in the current placement: only the breakdown rate depends on it
        self.tip_edges = sorted({step.until_years for step in s.breakdown.time_in_placement})
        self.tip_edges_inf = (*self.tip_edges, float("inf"))
        self.n_tip = len(self.tip_edges) + 1
        #: per (placement, needs): a list over age steps of lists over the pairs (time-in-care
        #: step k, time-in-placement step j) at k * n_tip + j, filled as states are met;
        #: indexing two lists is the cheapest lookup there is
        n_age, n_time = len(self.age_edges) + 1, (len(self.tic_edges) + 1) * self.n_tip
        self.grid: list[list[list[Competing | None]]] = [
            [[None] * n_time for _ in range(n_age)]
            for _ in range(len(self.specs) * len(self.needs))
        ]

    # ------------------------------------------------------------------ rates

    def at(
        self,
        placement: int,
        age_step: int,
        needs: int,
        tic_step: int,
        tip_step: int,
        age: float,
        years_in_care: float,
        years_in_placement: float,
    ) -> Competing:
        """The risks in a state given by its steps (band edges are among the age steps);
        `age`, `years_in_care` and `years_in_placement` are any values within those steps."""
        cell = self.grid[placement * len(self.needs) + needs][age_step]
        i = tic_step * self.n_tip + tip_step
        hit = cell[i]
        if hit is None:
            hit = cell[i] = self._build(placement, age, needs, years_in_care, years_in_placement)
        return hit

    def _build(
        self,
        placement: int,
        age: float,
        needs: int,
        years_in_care: float,
        years_in_placement: float,
    ) -> Competing:
        s = self.scenario
        pid = self.pids[placement]
        spec = self.specs[placement]
        band = BAND_NAMES[band_index(age)]
        need_name = self.needs[needs]
        rates: list[float] = []
        outcomes: list[tuple[int, int]] = []
        for i, route in enumerate(self.exits):
            if (route.from_ is not None and pid not in route.from_) or pid in route.not_from:
                continue
            r = _stepped(route.rate_per_year.get(band, 0.0), route.time_in_care, years_in_care)
            if r > 0:
                rates.append(r)
                outcomes.append((EXIT, i))
        b = spec.breakdown_per_year
        b *= s.breakdown.age_multiplier.get(band, 1.0)
        b *= s.breakdown.needs_multiplier.get(need_name, 1.0)
        b = _stepped(b, s.breakdown.time_in_placement, years_in_placement)
        if b > 0:
            rates.append(b)
            outcomes.append((BREAKDOWN, 0))
        for i, m in enumerate(self.moves):
            if (
                pid in m.from_
                and m.min_age <= age < m.max_age
                and (m.needs is None or need_name in m.needs)
                and m.rate_per_year > 0
            ):
                rates.append(m.rate_per_year)
                outcomes.append((MOVE, i))
        # appended last, so that the other risks keep their share of the uniform `pick` reads
        for i, c in enumerate(self.needs_changes):
            if c.from_ != need_name:
                continue
            r = _stepped(c.rate_per_year.get(band, 0.0), c.time_in_care, years_in_care)
            if r > 0:
                rates.append(r)
                outcomes.append((NEEDS, i))
        per_day = [r / DAYS_PER_YEAR for r in rates]
        cumulative: list[float] = []
        acc = 0.0
        for r in per_day:
            acc += r
            cumulative.append(acc)
        return Competing(total=acc, cumulative=cumulative, outcomes=tuple(outcomes))


#: Rates depend only on the scenario, so replications run in one process share the table.
_TABLES: dict[int, tuple[Scenario, HazardTable]] = {}
#: Tables kept at once: a scenario and the versions its dated changes put in force.
MAX_TABLES = 16


def shared_table(s: Scenario) -> HazardTable:
    """The scenario's hazard table, built once per process and reused by replications."""
    hit = _TABLES.get(id(s))
    if hit is None or hit[0] is not s:
        if len(_TABLES) >= MAX_TABLES:
            _TABLES.clear()  # a few scenarios at a time per process is the normal case
        hit = _TABLES[id(s)] = (s, HazardTable(s))
    return hit[1]


def _stepped(rate: float, steps: list[TimeInCare], years: float) -> float:
    """A rate times the multiplier of the step (of time in care or in the placement) that
    `years` falls in; past the last step, the rate itself."""
    for step in steps:
        if years < step.until_years:
            return rate * step.multiplier
    return rate
