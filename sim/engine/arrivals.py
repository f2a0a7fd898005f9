"""Children coming into care: the starting population, entries, sibling groups, the UASC rota.

Entries arrive in sibling groups as a Poisson process with trend and seasonality; UASC
arrive in batches on the National Transfer Scheme rota, up to the authority's cap. Every
child is admitted here (given the callback of its own events) and handed to `Placing`.
Each source draws from its own stream, and each child's own streams are seeded from it
(`Child`), so that changing one mechanism leaves the others' random numbers as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..scenario.ages import AGE_BANDS, DAYS_PER_YEAR
from .child import Child
from .clock import Process
from .draws import Categorical, Uniforms
from .search import NO_CAPACITY

if TYPE_CHECKING:
    from .placing import Placing
    from .search import Search
    from .state import State

#: What a child's events call: (child, the event that came).
ChildEventHandler = Callable[[Child, Any], None]


def ignore_child_event(_child: Child, _event: Any) -> None:
    """The handler of a finished replication's children's events (see `Arrivals.release`)."""


class Arrivals:
    """Brings children into care in the replication's `State`.

    `streams` holds the numpy generators of the sources, by name: "population",
    "arrivals" and "uasc". `on_child_event` is what each child's events call.
    """

    def __init__(
        self,
        state: State,
        placing: Placing,
        search: Search,
        streams: dict[str, np.random.Generator],
        on_child_event: ChildEventHandler,
        keep_children: bool = False,
    ) -> None:
        self.state = state
        self.placing = placing
        self.search = search
        self.streams = streams
        self.on_child_event = on_child_event
        #: every child ever created, for writing synthetic child-level data (synth903)
        self.all_children: list[Child] | None = [] if keep_children else None
        self._next_cid = 1
        self._next_group = 1
        layout = state.layout
        self._i_entries = layout.i("entries", "all")
        self._i_entries_uasc = layout.i("entries", "uasc")
        # the parts of the entry rate that do not change within a month, worked out once
        entries = state.scenario.entries
        calendar = state.calendar
        season = entries.seasonality
        self._growth = 1.0 + entries.trend_per_year
        # per_year is the rate on trend_from: move it to the start date along the trend
        since = entries.trend_from or state.scenario.scenario.start_date
        offset = (state.scenario.scenario.start_date - since).days / DAYS_PER_YEAR
        self._offset_growth = self._growth**offset
        self._entries_per_day = entries.per_year / DAYS_PER_YEAR * self._offset_growth
        self._season_by_month = [
            season[calendar.calendar_month(t)] * 12.0 / sum(season) for t in calendar.bounds[:-1]
        ]

    # ------------------------------------------------------------------ children

    def new_child(
        self,
        rng: Uniforms,
        dob: float,
        entered: float,
        needs: int,
        uasc: bool,
        disability: bool,
    ) -> Child:
        """A new child; their own streams are seeded from `rng`, the stream of their source."""
        child = Child(self._next_cid, dob, entered, needs, uasc, disability, rng)
        self._next_cid += 1
        if self.all_children is not None:
            self.all_children.append(child)
        return child

    def admit(self, child: Child) -> None:
        """The child is in care from now on: counted, and given the callback of their events."""
        state = self.state
        state.children[child.cid] = child
        child.on_event = partial(self.on_child_event, child)
        if child.uasc:
            state.uasc_in_care += 1

    def release(self) -> None:
        """Drop the handler of the children's events: it holds the model (a cycle)."""
        self.on_child_event = ignore_child_event

    def _needs_mix(self, mix: dict[str, float]) -> Categorical:
        """A needs mix over needs-level indices."""
        needs = self.state.needs
        return Categorical({needs.index(k): v for k, v in mix.items()})

    # ------------------------------------------------------------------ at the start

    def place_starting_population(self) -> None:
        """The children in care at the start, each where the scenario says they live."""
        state = self.state
        rng = Uniforms(self.streams["population"])
        for pid, group in state.scenario.population.items():
            provision = state.by_pid[pid]
            mix = self._needs_mix(group.needs or {provision.spec.needs[0]: 1.0})
            for band, count in group.by_age.items():
                lo, hi = AGE_BANDS[band]
                for _ in range(count):
                    age = lo + (hi - lo) * rng.random()
                    dob = -age * DAYS_PER_YEAR
                    entered = -rng.random() * min(age, group.max_years_in_care) * DAYS_PER_YEAR
                    child = self.new_child(
                        rng,
                        dob,
                        entered,
                        mix.pick(rng.random()),
                        bool(rng.random() < group.uasc_share),
                        bool(rng.random() < group.disability_share),
                    )
                    self.admit(child)
                    unit = (
                        self.search.first_free_unit(provision, child)
                        if provision.has_units
                        else None
                    )
                    if provision.has_units and unit is None:
                        raise ValueError(
                            f"population.{pid}: more children than open places at the start"
                        )
                    self.placing.place(
                        child,
                        provision,
                        unit,
                        suitable=provision.suitable,
                        reason=NO_CAPACITY,  # (if unsuitable: nothing suitable had room)
                        move_kind=None,
                    )
                    if not provision.suitable:
                        self.placing.search_at_once(child)

    def processes(self) -> list[Process]:
        """The SimPy processes of arrivals, in the order they start: entries, then UASC."""
        out = [self._entries()]
        versions = [s for _, s in self.state.versions]
        if any(s.entries.uasc.per_year > 0 for s in [self.state.scenario, *versions]):
            out.append(self._uasc_rota())
        return out

    def entry_plan(self) -> list[tuple[float, float]]:
        """(from day, entries a day on the trend's starting level) for the scenario in
        force from each dated change of the entry rate on; the first from the start."""
        plan = [(0.0, self._entries_per_day)]
        for day, s in self.state.versions:
            per_day = s.entries.per_year / DAYS_PER_YEAR * self._offset_growth
            if per_day != plan[-1][1]:
                plan.append((day, per_day))
        return plan

    # ------------------------------------------------------------------ during the run

    def entry_rate(self, t: float) -> float:
        """Entries per day at day t: the yearly rate, its trend, and the month's season."""
        season = self._season_by_month[self.state.calendar.month_of(t)]
        return self._entries_per_day * self._growth ** (t / DAYS_PER_YEAR) * season

    def _entries(self) -> Process:
        """Sibling groups arrive as a Poisson process with trend and seasonality (thinning)."""
        state = self.state
        entries = state.scenario.entries
        # the rate's level from each dated change on: a candidate that would fall after
        # the next change is dropped and drawn again from it, with the bound of the rate
        # then in force (a Poisson process has no memory); with no change, the draws are
        # those of one rate
        plan = self.entry_plan()
        if all(per_day <= 0 for _, per_day in plan):
            return
        sizes = Categorical({int(k): v for k, v in entries.sibling_group_size.items()})
        mean_size = sizes.mean()
        season_max = max(entries.seasonality) * 12.0 / sum(entries.seasonality)
        growth_max = max(1.0, self._growth ** (state.end / DAYS_PER_YEAR))
        if not max(per_day for _, per_day in plan) * season_max * growth_max / mean_size > 0:
            return  # a rate too small to represent: no entries
        bands = Categorical(entries.age_mix)
        needs_by_band = {b: self._needs_mix(m) for b, m in entries.needs_mix.items()}
        rng = Uniforms(self.streams["arrivals"])
        now = state.wake()
        step = 0
        self._entries_per_day = plan[0][1]
        rate_max = self._entries_per_day * season_max * growth_max / mean_size
        while True:
            until = plan[step + 1][0] if step + 1 < len(plan) else state.end
            delay = rng.exponential(1.0 / rate_max) if rate_max > 0 else until - now
            if now + delay >= until:
                if until >= state.end:
                    return  # the next candidate comes after the run
                step += 1
                yield state.clock.wait(until - now)
                now = state.wake()
                self._entries_per_day = plan[step][1]
                rate_max = self._entries_per_day * season_max * growth_max / mean_size
                continue
            yield state.clock.wait(delay)
            now = state.wake()
            accept = rng.random() * rate_max < self.entry_rate(now) / mean_size
            if not accept:
                continue
            group = []
            for _ in range(sizes.pick(rng.random())):
                band = bands.pick(rng.random())
                lo, hi = AGE_BANDS[band]
                age = lo + (hi - lo) * rng.random()
                needs = needs_by_band[band].pick(rng.random())
                child = self.new_child(
                    rng,
                    now - age * DAYS_PER_YEAR,
                    now,
                    needs,
                    False,
                    bool(rng.random() < entries.disability_share),
                )
                group.append(child)
            self.enter(group)

    def _uasc_rota(self) -> Process:
        """UASC arrive in batches on the National Transfer Scheme rota, up to the LA's cap."""
        state = self.state
        uasc = state.scenario.entries.uasc
        rng = self.streams["uasc"]
        uniforms = Uniforms(rng)
        bands = Categorical(uasc.age_mix)
        needs = state.needs.index(uasc.needs) if uasc.needs else 0
        now = state.wake()
        while True:
            if now + uasc.rota_days >= state.end:
                return  # the next rota comes after the run
            yield state.clock.wait(uasc.rota_days)
            # the rate in force (a dated change may set it); the rota itself stays
            per_year = state.scenario.entries.uasc.per_year
            n = int(rng.poisson(per_year * uasc.rota_days / DAYS_PER_YEAR))
            if uasc.cap is not None:
                n = min(n, max(0, uasc.cap - state.uasc_in_care))
            now = state.wake()
            for _ in range(n):
                lo, hi = AGE_BANDS[bands.pick(uniforms.random())]
                age = lo + (hi - lo) * uniforms.random()
                child = self.new_child(uniforms, now - age * DAYS_PER_YEAR, now, needs, True, False)
                self.enter([child])

    def enter(self, group: list[Child]) -> None:
        """A sibling group (or one child) comes into care and is placed, together if possible."""
        state = self.state
        flows, logging = state.flows, state.events is not None
        for child in group:
            self.admit(child)
            flows[self._i_entries] += 1
            if child.uasc:
                flows[self._i_entries_uasc] += 1
            if logging:
                state.log("entry", child.cid, child.uasc)
        if len(group) > 1:
            group_id = self._next_group
            self._next_group += 1
            for child in group:
                child.group = group_id
        self.placing.find_and_place(group, move_kind=None)
