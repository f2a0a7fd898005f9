"""Supply: foster households recruited and deregistering, homes opening, closing, resizing.

Foster recruitment is a Poisson process per provision (its rate may change on dates), each
recruited household opening once its assessment is over, and each household leaves at a
constant hazard; homes change on the dates the scenario gives. A household or home that
closes or shrinks sends its children to `Placing` to be placed again.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Final

import numpy as np

from ..scenario.ages import DAYS_PER_YEAR
from ..scenario.schema import AgeRange, Distribution, Home
from .clock import Process
from .draws import Categorical, Uniforms, draw
from .provision import ProvisionState, Unit

if TYPE_CHECKING:
    from .placing import Placing
    from .state import State

#: What a home's dated change is; on one day, closings come first, then openings, resizes.
HOME_CLOSES: Final = 0
HOME_OPENS: Final = 1
HOME_RESIZED: Final = 2


def _longest(dist: Distribution) -> float:
    """The longest an assessment can take: a bounded distribution's top, or one beyond
    which a value is vanishingly rare (under 1 in a million)."""
    kind = dist.dist
    if kind == "fixed":
        return float(dist.value)  # type: ignore[union-attr]
    if kind == "uniform":
        return float(dist.high)  # type: ignore[union-attr]
    if kind == "exponential":
        return 14.0 * float(dist.mean)  # type: ignore[union-attr]
    return float(dist.median) * math.exp(5.0 * float(dist.sigma))  # type: ignore[union-attr]


class Supply:
    """Opens and closes the households and homes of the replication's provisions."""

    def __init__(self, state: State, placing: Placing, seed: np.random.SeedSequence) -> None:
        self.state = state
        self.placing = placing
        # per foster provision, by index: (recruitment, deregistration) seeds. Every
        # provision keeps its place in the spawn order; the others change supply on set
        # dates, not by chance, so their streams are never made.
        by_provision = seed.spawn(len(state.provisions))
        foster = [
            (p, seeds)
            for p, seeds in zip(state.provisions, by_provision, strict=True)
            if p.kind == "foster"
        ]
        self._seeds = {p.index: seeds.spawn(2) for p, seeds in foster}
        self._deregistration = {
            i: Uniforms(np.random.default_rng(pair[1])) for i, pair in self._seeds.items()
        }
        # assessment times (and the households in assessment at the start): a third
        # stream per foster provision, spawned after the two above so they are unchanged
        self._assessment = {
            p.index: np.random.default_rng(seeds.spawn(1)[0]) for p, seeds in foster
        }
        # (on hold, approval of new households) seeds: spawned after those three, so the
        # recruitment, deregistration and assessment streams are as before they existed
        later = {p.index: seeds.spawn(2) for p, seeds in foster}
        self._holds = {i: Uniforms(np.random.default_rng(pair[0])) for i, pair in later.items()}
        self._approval_rng = {i: np.random.default_rng(pair[1]) for i, pair in later.items()}
        # per foster provision: the mean days available and on hold between changes (the
        # two-state process whose stationary share on hold is `on_hold_share`), or none
        self._hold_days: dict[int, tuple[float, float]] = {}
        for p, _ in foster:
            share = p.spec.on_hold_share  # type: ignore[union-attr]
            if share > 0:
                on = p.spec.on_hold_months * DAYS_PER_YEAR / 12.0  # type: ignore[union-attr]
                self._hold_days[p.index] = (on * (1.0 - share) / share, on)
        # approval ranges (min age, max age, needs mask, needs names) by household line
        # of the scenario, and of new households with their mix; None: the provision's own
        self._starting_ranges = {
            p.index: [self._range(p, h.ages, h.needs) for h in p.spec.households]  # type: ignore[union-attr]
            for p, _ in foster
        }
        self._new_ranges = {
            p.index: [self._range(p, a.ages, a.needs) for a in p.spec.new_household_approval]  # type: ignore[union-attr]
            for p, _ in foster
        }
        self._new_range_mix = {
            p.index: Categorical({i: a.share for i, a in enumerate(p.spec.new_household_approval)})  # type: ignore[union-attr]
            for p, _ in foster
            if p.spec.new_household_approval  # type: ignore[union-attr]
        }
        # per home provision whose homes wait for their first child after opening: the
        # stream of those waits (homes had no stream before, so none shifts)
        self._readiness = {
            p.index: np.random.default_rng(seeds.spawn(1)[0])
            for p, seeds in zip(state.provisions, by_provision, strict=True)
            if p.kind == "home" and any(h.first_child_after_days is not None for h in p.spec.homes)  # type: ignore[union-attr]
        }
        self._next_uid = 1
        #: by foster provision: how many times a dated change has redrawn its households'
        #: times to leave (a time drawn in an earlier round is stale)
        self._dereg_round: dict[int, int] = {}
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
                ranges = self._starting_ranges[p.index]
                for h, approval in zip(spec.households, ranges, strict=True):
                    for _ in range(h.count):
                        self._narrow(p, self.open_unit(p, p.pid, h.places), approval)
            elif spec.kind == "home":
                for home in spec.homes:
                    opened = home.opens is None or calendar.day(home.opens) <= 0
                    closed = home.closes is not None and calendar.day(home.closes) <= 0
                    if opened and not closed:
                        self.open_unit(p, home.name, home.beds)

    def start_holds(self) -> None:
        """Each household open at the start is on hold with chance `on_hold_share` (the
        process's stationary share), drawn before the starting children are placed, who
        fill the available households first (`Search.first_free_unit`): a household on
        hold takes no new child, so its free places are the ones most likely empty. Then
        each waits for its first change."""
        for p in self.state.provisions:
            days = self._hold_days.get(p.index)
            if days is None:
                continue
            share = p.spec.on_hold_share  # type: ignore[union-attr]
            holds = self._holds[p.index]
            for unit in list(p.units.values()):
                if holds.random() < share:
                    self._set_hold(p, unit, True)
                self._schedule_hold(p, unit)

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
        """New foster households are recruited as a Poisson process, each opening once its
        assessment is over; the rate changes on dated changes (`recruitment_plan`).

        The rate counts applications that will be approved. A draw that would fall after
        the next change of rate is dropped and drawn again from the change at the new
        rate: right for a Poisson process (it has no memory), and with no change the draws
        are those of a constant rate.
        """
        state = self.state
        spec = provision.spec
        plan = self.recruitment_plan(provision)
        sizes = Categorical({int(k): v for k, v in spec.new_household_places.items()})  # type: ignore[union-attr]
        self._start_pipeline(provision, plan[0][1], sizes)
        rng = np.random.default_rng(self._seeds[provision.index][0])
        step = 0
        now = state.wake()
        while True:
            rate = plan[step][1]
            until = plan[step + 1][0] if step + 1 < len(plan) else state.end
            delay = rng.exponential(1.0 / rate) if rate > 0 else until - now
            if now + delay >= until:
                if until >= state.end:
                    return  # the next household comes after the run
                step += 1
                yield state.clock.wait(until - now)
                now = state.wake()
                continue
            yield state.clock.wait(delay)
            now = state.wake()
            self._recruited(provision, sizes.pick(rng.random()))

    def recruitment_plan(self, provision: ProvisionState) -> list[tuple[float, float]]:
        """(from day, households a day) of a foster provision, the first from the start:
        its `recruitment_changes` (superseded), or the rate in the scenario in force from
        each dated change (`[[changes]]`) that moves it."""
        spec = provision.spec
        calendar = self.state.calendar
        plan = [(0.0, spec.recruitment_per_year / DAYS_PER_YEAR)]  # type: ignore[union-attr]
        for change in spec.recruitment_changes:  # type: ignore[union-attr]
            plan.append((calendar.day(change.from_), change.per_year / DAYS_PER_YEAR))
        for day, s in self.state.versions:
            rate = s.provision[provision.pid].recruitment_per_year / DAYS_PER_YEAR  # type: ignore[union-attr]
            if rate != plan[-1][1]:
                plan.append((day, rate))
        return plan

    def _recruited(self, provision: ProvisionState, places: int) -> None:
        """A household is recruited now: it opens at once, or when its assessment is over."""
        spec = provision.spec
        lag = draw(spec.assessment_days, self._assessment[provision.index].random)  # type: ignore[union-attr]
        if lag <= 0:
            self._approve(provision, places)
            return
        state = self.state
        if state.now + lag < state.end:
            state.clock.after(lag, lambda _event: self._on_approval(provision, places))

    def _on_approval(self, provision: ProvisionState, places: int) -> None:
        self.state.wake()
        self._approve(provision, places)

    def _approve(self, provision: ProvisionState, places: int) -> None:
        """A recruited household is approved: it opens, available (not on hold), with an
        approval range drawn from `new_household_approval`, counted as recruited this month."""
        unit = self.open_unit(provision, provision.pid, places)
        mix = self._new_range_mix.get(provision.index)
        if mix is not None:
            pick = mix.pick(self._approval_rng[provision.index].random())
            self._narrow(provision, unit, self._new_ranges[provision.index][pick])
        if provision.index in self._hold_days:
            self._schedule_hold(provision, unit)  # a new household starts available
        self.state.count(self._i_recruited[provision.index])
        self.placing.wake_waiting()  # children waiting for a place the household has

    def _start_pipeline(self, provision: ProvisionState, rate: float, sizes: Categorical) -> None:
        """Households whose assessment began before the start and ends after it.

        Recruitment at the starting rate over the longest assessment before the start
        (for an unbounded distribution, one far above its usual values); each household
        still in assessment at the start opens when it is approved. Without them a
        scenario whose pool is steady would lose households for the first months.
        """
        dist = provision.spec.assessment_days  # type: ignore[union-attr]
        longest = _longest(dist)
        if rate <= 0 or longest <= 0:
            return
        rng = self._assessment[provision.index]
        state = self.state
        t = -rng.exponential(1.0 / rate)
        while t > -longest:
            places = sizes.pick(rng.random())
            approved = t + draw(dist, rng.random)
            if 0 < approved < state.end:
                state.clock.after(approved, partial(self._pipeline_approval, provision, places))
            t -= rng.exponential(1.0 / rate)

    def _pipeline_approval(self, provision: ProvisionState, places: int, _event: object) -> None:
        self.state.wake()
        self._approve(provision, places)

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
        due = self._dereg_round.get(provision.index, 0)
        state.clock.after(delay, lambda _event: self._deregister(provision, unit, due))

    def redraw_deregistration(self, provision: ProvisionState) -> None:
        """The deregistration rate has changed (a dated change): each open household's
        time to leave is drawn again at the new rate from now (memoryless), in the order
        the households opened; the times drawn before are ignored when they come."""
        self._dereg_round[provision.index] = self._dereg_round.get(provision.index, 0) + 1
        for unit in list(provision.units.values()):
            self._schedule_deregistration(provision, unit)

    def _deregister(self, provision: ProvisionState, unit: Unit, due: int = 0) -> None:
        """A household's drawn time to leave fostering has come (unless it closed already,
        or a change of rate has drawn it again since)."""
        self.state.wake()
        if due != self._dereg_round.get(provision.index, 0):
            return
        if unit.is_open:
            self.close(provision, unit)
            self.placing.wake_waiting()

    # ------------------------------------------------------------------ approval, holds

    def _range(
        self, provision: ProvisionState, ages: AgeRange | None, needs: list[str] | None
    ) -> tuple[float, float, int, tuple[str, ...]] | None:
        """A household's approval as (min age, max age, needs mask, needs names), or None
        when it is the provision's own."""
        if ages is None and needs is None:
            return None
        spec = provision.spec
        ages = ages or spec.ages
        names = tuple(needs if needs is not None else spec.needs)
        levels = self.state.needs
        mask = 0
        for name in names:
            mask |= 1 << levels.index(name)
        return (ages.min_age, ages.max_age, mask, names)

    def _narrow(
        self,
        provision: ProvisionState,
        unit: Unit,
        approval: tuple[float, float, int, tuple[str, ...]] | None,
    ) -> None:
        """Narrow a new household's approval (logged, so a replay can check placements)."""
        if approval is None:
            return
        lo, hi, mask, names = approval
        unit.approve(lo, hi, mask)
        self.state.log("unit_approval", provision.pid, unit.uid, lo, hi, names)

    def _set_hold(self, provision: ProvisionState, unit: Unit, on: bool) -> None:
        """Put a household on hold or take it off."""
        provision.hold(unit, on)
        self.state.log("unit_hold", provision.pid, unit.uid, on)
        if not on:
            self.placing.notify(provision)  # its free places can take a waiting child again

    def _schedule_hold(self, provision: ProvisionState, unit: Unit) -> None:
        """The household's next change between available and on hold: exponential, with
        mean `on_hold_months` on hold and on_hold_months x (1 - share) / share available."""
        available, on_hold = self._hold_days[provision.index]
        state = self.state
        delay = self._holds[provision.index].exponential(on_hold if unit.on_hold else available)
        if state.now + delay >= state.end:
            return
        state.clock.after(delay, lambda _event: self._toggle_hold(provision, unit))

    def _toggle_hold(self, provision: ProvisionState, unit: Unit) -> None:
        """A household's spell available or on hold ends (unless it has closed)."""
        self.state.wake()
        if not unit.is_open:
            return
        self._set_hold(provision, unit, not unit.on_hold)
        self._schedule_hold(provision, unit)
        self.placing.wake_waiting()

    def _not_ready_yet(self, provision: ProvisionState, unit: Unit, wait: Distribution) -> None:
        """A home that has just opened takes no child for a drawn time (registration,
        induction, matching): held like a household on hold, paid for meanwhile."""
        state = self.state
        delay = draw(wait, self._readiness[provision.index].random)
        if delay <= 0:
            return
        self._set_hold(provision, unit, True)
        if state.now + delay < state.end:
            state.clock.after(delay, lambda _event: self._home_ready(provision, unit))

    def _home_ready(self, provision: ProvisionState, unit: Unit) -> None:
        """A new home's beds can take children now (unless it has closed meanwhile)."""
        self.state.wake()
        if unit.is_open and unit.on_hold:
            self._set_hold(provision, unit, False)
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
                opened = self.open_unit(provision, home.name, beds)
                if home.first_child_after_days is not None:
                    self._not_ready_yet(provision, opened, home.first_child_after_days)
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
