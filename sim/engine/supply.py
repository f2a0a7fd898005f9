"""Supply: foster households recruited and deregistering, homes opening, closing, resizing.

Foster recruitment is a Poisson process per provision, and each household leaves at a
constant hazard; homes change on the dates the scenario gives. A household or home that
closes or shrinks sends its children to `Placing` to be placed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from ..scenario.ages import DAYS_PER_YEAR
from ..scenario.schema import Home
from .clock import Process
from .draws import Categorical, Uniforms
from .provision import ProvisionState, Unit

if TYPE_CHECKING:
    from .placing import Placing
    from .state import State

#: What a home's dated change is; on one day, closings come first, then openings, resizes.
HOME_CLOSES: Final = 0
HOME_OPENS: Final = 1
HOME_RESIZED: Final = 2


class Supply:
    """Opens and closes the households and homes of the replication's provisions."""

    def __init__(self, state: State, placing: Placing, seed: np.random.SeedSequence) -> None:
        self.state = state
        self.placing = placing
        # per foster provision, by index: (recruitment, deregistration) seeds. Every
        # provision keeps its place in the spawn order; the others change supply on set
        # dates, not by chance, so their streams are never made.
        by_provision = seed.spawn(len(state.provisions))
        self._seeds = {
            p.index: seeds.spawn(2)
            for p, seeds in zip(state.provisions, by_provision, strict=True)
            if p.kind == "foster"
        }
        self._deregistration = {
            i: Uniforms(np.random.default_rng(pair[1])) for i, pair in self._seeds.items()
        }
        self._next_uid = 1
        layout = state.layout
        self._i_recruited = {
            p.index: layout.i("recruited", p.pid) for p in state.provisions if p.kind == "foster"
        }
        self._i_deregistered = {
            p.index: layout.i("deregistered", p.pid) for p in state.provisions if p.kind == "foster"
        }

    # ------------------------------------------------------------------ at the start

    def open_starting_units(self) -> None:
        """The households and homes open at the start of the run."""
        calendar = self.state.calendar
        for p in self.state.provisions:
            spec = p.spec
            if spec.kind == "foster":
                for h in spec.households:
                    for _ in range(h.count):
                        self.open_unit(p, p.pid, h.places)
            elif spec.kind == "home":
                for home in spec.homes:
                    opened = home.opens is None or calendar.day(home.opens) <= 0
                    closed = home.closes is not None and calendar.day(home.closes) <= 0
                    if opened and not closed:
                        self.open_unit(p, home.name, home.beds)

    def processes(self) -> list[Process]:
        """The SimPy processes of supply, in the order they start: recruitment, homes."""
        out = [self._recruitment(p) for p in self.state.provisions if p.kind == "foster"]
        out.append(self._home_dates())
        return out

    # ------------------------------------------------------------------ changes

    def open_unit(self, provision: ProvisionState, name: str, places: int) -> Unit:
        """A household is approved or a home opens; a household's time to leave is drawn."""
        state = self.state
        unit = Unit(self._next_uid, name, places)
        self._next_uid += 1
        provision.open_unit(state.now, unit)
        state.log("unit_opened", provision.pid, unit.uid, places)
        self.placing.notify(provision)  # places to wake waiting children for
        if provision.kind == "foster":
            self._schedule_deregistration(provision, unit)
        return unit

    def close(self, provision: ProvisionState, unit: Unit) -> None:
        """A household deregisters or a home closes: its children must move."""
        state = self.state
        movers = provision.close_unit(state.now, unit)
        state.log("unit_closed", provision.pid, unit.uid)
        if provision.kind == "foster":
            state.count(self._i_deregistered[provision.index])
        for child in movers:
            self.placing.rehome(child, "provision_closed")

    def resize(self, provision: ProvisionState, unit: Unit, beds: int) -> None:
        """Change a home's beds; the most recently placed children move out if it shrinks."""
        grows = beds > unit.places
        provision.resize_unit(self.state.now, unit, beds)
        self.state.log("unit_resized", provision.pid, unit.uid, beds)
        if grows:
            self.placing.notify(provision)
        while unit.occupied > unit.places and unit.children:
            self.placing.rehome(unit.children[-1], "provision_closed")

    # ------------------------------------------------------------------ by chance

    def _recruitment(self, provision: ProvisionState) -> Process:
        """New foster households arrive as a Poisson process."""
        state = self.state
        spec = provision.spec
        rate = spec.recruitment_per_year / DAYS_PER_YEAR  # type: ignore[union-attr]
        if rate <= 0:
            return
        sizes = Categorical({int(k): v for k, v in spec.new_household_places.items()})  # type: ignore[union-attr]
        rng = np.random.default_rng(self._seeds[provision.index][0])
        i_recruited = self._i_recruited[provision.index]
        now = state.wake()
        while True:
            delay = rng.exponential(1.0 / rate)
            if now + delay >= state.end:
                return  # the next household comes after the run
            yield state.clock.wait(delay)
            now = state.wake()
            places = sizes.pick(rng.random())
            self.open_unit(provision, provision.pid, places)
            state.count(i_recruited)
            self.placing.wake_waiting()

    def _schedule_deregistration(self, provision: ProvisionState, unit: Unit) -> None:
        """Each household leaves fostering at a constant hazard (retirement, resignation).

        One waiting time per household, drawn when it opens: right whatever the size of the
        pool does meanwhile, and one event per household at most.
        """
        hazard = provision.spec.deregistration_per_year  # type: ignore[union-attr]
        if hazard <= 0:
            return
        state = self.state
        delay = self._deregistration[provision.index].exponential(DAYS_PER_YEAR / hazard)
        if state.now + delay >= state.end:
            return
        state.clock.after(delay, lambda _event: self._deregister(provision, unit))

    def _deregister(self, provision: ProvisionState, unit: Unit) -> None:
        """A household's drawn time to leave fostering has come (unless it closed already)."""
        self.state.wake()
        if unit.is_open:
            self.close(provision, unit)
            self.placing.wake_waiting()

    # ------------------------------------------------------------------ on set dates

    def _home_dates(self) -> Process:
        """Open, close and resize homes on their dates."""
        state = self.state
        calendar = state.calendar
        # (day, what, provision, home, beds after), in date order
        plan: list[tuple[float, int, ProvisionState, Home, int]] = []
        for p in state.provisions:
            if p.spec.kind != "home":
                continue
            for home in p.spec.homes:  # type: ignore[union-attr]
                opens = calendar.day(home.opens) if home.opens else 0.0
                if opens > 0:
                    plan.append((opens, HOME_OPENS, p, home, home.beds))
                if home.closes is not None and calendar.day(home.closes) > max(opens, 0.0):
                    plan.append((calendar.day(home.closes), HOME_CLOSES, p, home, 0))
                for r in home.resize:
                    if calendar.day(r.date) > 0:
                        plan.append((calendar.day(r.date), HOME_RESIZED, p, home, r.beds))
        plan.sort(key=lambda x: (x[0], x[1]))
        for day, what, provision, home, beds in plan:
            if day >= state.end:
                return  # the rest of the plan falls after the run
            now = state.wake()
            if day > now:
                # whole days: now + (day - now), as SimPy sums it, is the day exactly
                yield state.clock.wait(day - now)
                state.wake()
            if what == HOME_OPENS:
                self.open_unit(provision, home.name, beds)
                self.placing.wake_waiting()
                continue
            unit = next((u for u in provision.units.values() if u.name == home.name), None)
            if unit is None:
                continue
            if what == HOME_CLOSES:
                self.close(provision, unit)
            else:
                self.resize(provision, unit, beds)
            self.placing.wake_waiting()
