"""Homes: opening, closing and resizing on their dates and by chance.

A home opens, closes and changes its beds on the dates the scenario gives; one that opens
during the run may wait for its first child (registration, induction, matching). By
chance, a home may close (`closure_per_year`: its children move, as at a dated close) or
lose beds after an inspection (`inspection_bed_cut_per_year`, `beds_cut`); each home's
next such event is drawn when it opens (and after each cut), so a home has at most one of
each pending. A home may fill fewer beds than it has (`max_occupied`), paid for all of them
when its cost basis is per place. The unit operations themselves are `Supply`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from ..scenario.ages import DAYS_PER_YEAR
from ..scenario.schema import Distribution, Home
from .calendar import Calendar
from .clock import Process
from .draws import Uniforms, child_seed, draw
from .provision import ProvisionState, Unit

if TYPE_CHECKING:
    from .placing import Placing
    from .state import State
    from .supply import Supply

#: What a home's dated change is; on one day, closings come first, then openings, resizes.
HOME_CLOSES: Final = 0
HOME_OPENS: Final = 1
HOME_RESIZED: Final = 2
#: Streams of a home provision, by their place among its seed's children, each made only
#: when the scenario uses it: waits for a first child (the first homes ever had), random
#: closures, bed cuts.
READINESS_STREAM: Final = 0
CLOSURE_STREAM: Final = 1
CUT_STREAM: Final = 2


class Homes:
    """Opens, closes and resizes the homes of the replication's home provisions."""

    def __init__(
        self,
        state: State,
        placing: Placing,
        supply: Supply,
        seeds: dict[int, np.random.SeedSequence],
    ) -> None:
        self.state = state
        self.placing = placing
        self.supply = supply
        homes = [p for p in state.provisions if p.kind == "home"]
        # the streams of the waits for a first child, of closures and of bed cuts, made
        # only for a provision that uses them (by provision index)
        self._readiness = {
            p.index: np.random.default_rng(child_seed(seeds[p.index], READINESS_STREAM))
            for p in homes
            if any(h.first_child_after_days is not None for h in p.spec.homes)  # type: ignore[union-attr]
        }
        self._closures = {
            p.index: Uniforms(np.random.default_rng(child_seed(seeds[p.index], CLOSURE_STREAM)))
            for p in homes
            if any(p.spec.closure_rate(h) > 0 for h in p.spec.homes)  # type: ignore[union-attr]
        }
        self._cuts = {
            p.index: Uniforms(np.random.default_rng(child_seed(seeds[p.index], CUT_STREAM)))
            for p in homes
            if p.spec.inspection_bed_cut_per_year > 0  # type: ignore[union-attr]
        }
        layout = state.layout
        self._i_closed = {
            i: layout.i("homes_closed_at_random", state.provisions[i].pid) for i in self._closures
        }
        self._i_cut = {i: layout.i("beds_cut", state.provisions[i].pid) for i in self._cuts}

    def open_starting_homes(self, provision: ProvisionState, calendar: Calendar) -> None:
        """The homes of a provision open at the start of the run."""
        for home in provision.spec.homes:  # type: ignore[union-attr]
            opened = home.opens is None or calendar.day(home.opens) <= 0
            closed = home.closes is not None and calendar.day(home.closes) <= 0
            if opened and not closed:
                self._open(provision, home)

    def _open(self, provision: ProvisionState, home: Home) -> Unit:
        """A home opens, with its occupancy cap; its closure and first bed cut are drawn."""
        spec = provision.spec
        cap = spec.occupancy_cap(home)  # type: ignore[union-attr]
        unit = self.supply.open_unit(provision, home.name, home.beds, -1 if cap is None else cap)
        if provision.index in self._closures:
            self._schedule_closure(provision, unit, spec.closure_rate(home))  # type: ignore[union-attr]
        if provision.index in self._cuts:
            self._schedule_cut(provision, unit)
        return unit

    # ------------------------------------------------------------------ by chance

    def _schedule_closure(self, provision: ProvisionState, unit: Unit, per_year: float) -> None:
        """The home's time to close at random: exponential, drawn once when it opens."""
        if per_year <= 0:
            return
        state = self.state
        delay = self._closures[provision.index].exponential(DAYS_PER_YEAR / per_year)
        if state.now + delay < state.end:
            state.clock.after(delay, lambda _event: self._close_at_random(provision, unit))

    def _close_at_random(self, provision: ProvisionState, unit: Unit) -> None:
        """A home's drawn time to close has come (unless it closed already): its children
        move, as at a dated close."""
        state = self.state
        state.wake()
        if not unit.is_open:
            return
        state.count(self._i_closed[provision.index])
        self.supply.close(provision, unit)
        self.placing.wake_waiting()

    def _schedule_cut(self, provision: ProvisionState, unit: Unit) -> None:
        """The home's next bed cut after an inspection: exponential (a Poisson process of
        cuts per home), drawn when it opens and after each cut."""
        state = self.state
        per_year = provision.spec.inspection_bed_cut_per_year  # type: ignore[union-attr]
        delay = self._cuts[provision.index].exponential(DAYS_PER_YEAR / per_year)
        if state.now + delay < state.end:
            state.clock.after(delay, lambda _event: self._cut(provision, unit))

    def _cut(self, provision: ProvisionState, unit: Unit) -> None:
        """An inspection cuts a home's beds by `beds_cut`, for good, never below one bed; the
        most recently placed children move out if it is over its (capped) beds."""
        state = self.state
        state.wake()
        if not unit.is_open:
            return
        beds = max(1, unit.places - provision.spec.beds_cut)  # type: ignore[union-attr]
        if beds < unit.places:
            state.flows[self._i_cut[provision.index]] += unit.places - beds
            self.supply.resize(provision, unit, beds)
            self.placing.wake_waiting()
        self._schedule_cut(provision, unit)

    def _not_ready_yet(self, provision: ProvisionState, unit: Unit, wait: Distribution) -> None:
        """A home that has just opened takes no child for a drawn time (registration,
        induction, matching): held like a household on hold, paid for meanwhile."""
        state = self.state
        delay = draw(wait, self._readiness[provision.index].random)
        if delay <= 0:
            return
        self.supply.set_hold(provision, unit, True)
        if state.now + delay < state.end:
            state.clock.after(delay, lambda _event: self._home_ready(provision, unit))

    def _home_ready(self, provision: ProvisionState, unit: Unit) -> None:
        """A new home's beds can take children now (unless it has closed meanwhile)."""
        self.state.wake()
        if unit.is_open and unit.on_hold:
            self.supply.set_hold(provision, unit, False)
            self.placing.wake_waiting()

    # ------------------------------------------------------------------ on set dates

    def dates(self) -> Process:
        """Open, close and resize homes on their dates (a home closed at random is gone:
        its later dates are ignored; a dated resize sets its beds whatever was cut)."""
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
                opened = self._open(provision, home)
                if home.first_child_after_days is not None:
                    self._not_ready_yet(provision, opened, home.first_child_after_days)
                self.placing.wake_waiting()
                continue
            unit = next((u for u in provision.units.values() if u.name == home.name), None)
            if unit is None:
                continue
            if what == HOME_CLOSES:
                self.supply.close(provision, unit)
            else:
                self.supply.resize(provision, unit, beds)
            self.placing.wake_waiting()
