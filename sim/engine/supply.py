"""Supply: foster households recruited and deregistering; the homes are `homes.Homes`'s.

Foster recruitment is a Poisson process per provision (its rate may change on dates):
approved households, or initial enquiries of which a share is approved (the pipeline),
each opening once its assessment is over. Each household leaves at a hazard that may step
with its length of service, times the provision's retention multiplier: its time to leave
is drawn once, when it opens. A household that closes sends its children to `Placing` to
be placed again. The unit operations (open, close, resize, hold) serve the homes too.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Final

import numpy as np

from ..scenario.ages import DAYS_PER_YEAR
from ..scenario.schema import AgeRange, Distribution, Scenario
from .clock import Process
from .draws import Categorical, Uniforms, child_seed, draw, first_above
from .provision import ProvisionState, Unit

if TYPE_CHECKING:
    from .homes import Homes
    from .placing import Placing
    from .state import State

#: Streams of a foster provision, by their place among its seed's children: 0-4 are the
#: recruitment, deregistration, assessment, hold and approval streams (spawned in that
#: order); these come after them and are made only when a scenario uses them.
CONVERSION_STREAM: Final = 5
SERVICE_STREAM: Final = 6


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
        # the pipeline: by provision that gives enquiries, the share approved and the
        # stream that decides which enquiries are (and the new household's places)
        self._conversion: dict[int, float] = {}
        self._converts: dict[int, Uniforms] = {}
        # deregistration by length of service: the hazard steps, the steady-state mix of
        # service lengths they imply (for the households open at the start) and its stream
        self._steps: dict[int, list[tuple[float, float]]] = {}
        self._service_mix: dict[int, list[tuple[float, float, float, float]]] = {}
        self._service: dict[int, Uniforms] = {}
        for p, seeds in foster:
            conversion = p.spec.conversion  # type: ignore[union-attr]
            if conversion is not None:
                self._conversion[p.index] = conversion
                self._converts[p.index] = Uniforms(
                    np.random.default_rng(child_seed(seeds, CONVERSION_STREAM))
                )
            if p.spec.deregistration_by_service:  # type: ignore[union-attr]
                steps = self._deregistration_steps(p)
                self._steps[p.index] = steps
                self._service_mix[p.index] = _steady_service(steps)
                self._service[p.index] = Uniforms(
                    np.random.default_rng(child_seed(seeds, SERVICE_STREAM))
                )
        #: each provision's seed, by index: the homes' streams come from theirs (`Homes`)
        self.provision_seeds = {
            p.index: seeds for p, seeds in zip(state.provisions, by_provision, strict=True)
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
        self._i_enquiries = {
            i: layout.i("enquiries", state.provisions[i].pid) for i in self._conversion
        }

    # ------------------------------------------------------------------ at the start

    def open_starting_units(self, homes: Homes) -> None:
        """The households and homes (`homes` opens them) open at the start of the run, in
        the scenario's order of provisions."""
        calendar = self.state.calendar
        for p in self.state.provisions:
            spec = p.spec
            if spec.kind == "foster":
                ranges = self._starting_ranges[p.index]
                for h, approval in zip(spec.households, ranges, strict=True):
                    for _ in range(h.count):
                        unit = self.open_unit(p, p.pid, h.places, starting=True)
                        self._narrow(p, unit, approval)
            elif spec.kind == "home":
                homes.open_starting_homes(p, calendar)

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
                    self.set_hold(p, unit, True)
                self._schedule_hold(p, unit)

    def processes(self) -> list[Process]:
        """The SimPy processes of foster recruitment, one per provision (the homes' dates
        are `Homes.dates`, started after them)."""
        return [self._recruitment(p) for p in self.state.provisions if p.kind == "foster"]

    # ------------------------------------------------------------------ changes

    def open_unit(
        self,
        provision: ProvisionState,
        name: str,
        places: int,
        cap: int = -1,
        starting: bool = False,
    ) -> Unit:
        """A household is approved or a home opens (`cap`: the places that may be filled
        at once, -1 all; `starting`: open at the start of the run, not new); a household's
        time to leave is drawn."""
        state = self.state
        unit = Unit(self._next_uid, name, places, cap)
        self._next_uid += 1
        provision.open_unit(state.now, unit)
        state.log("unit_opened", provision.pid, unit.uid, places)
        self.placing.notify(provision)  # places to wake waiting children for
        if provision.kind == "foster":
            self._schedule_deregistration(provision, unit, starting)
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
        while unit.occupied > unit.fillable and unit.children:
            self.placing.rehome(unit.children[-1], "provision_closed")

    # ------------------------------------------------------------------ by chance

    def _recruitment(self, provision: ProvisionState) -> Process:
        """New foster households are recruited as a Poisson process, each opening once its
        assessment is over; the rate changes on dated changes (`recruitment_plan`).

        The rate counts applications that will be approved, or (the pipeline) initial
        enquiries, each approved with chance `conversion` from a stream of its own, so the
        enquiries' dates do not depend on the conversion. A draw that would fall after the
        next change of rate is dropped and drawn again from the change at the new rate:
        right for a Poisson process (it has no memory), and with no change the draws are
        those of a constant rate.
        """
        state = self.state
        spec = provision.spec
        plan = self.recruitment_plan(provision)
        sizes = Categorical({int(k): v for k, v in spec.new_household_places.items()})  # type: ignore[union-attr]
        conversion = self._conversion.get(provision.index, -1.0)
        approvals = plan[0][1] * conversion if conversion >= 0 else plan[0][1]
        self._start_pipeline(provision, approvals, sizes)
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
            if conversion < 0:
                self._recruited(provision, sizes.pick(rng.random()))
                continue
            state.count(self._i_enquiries[provision.index])
            converts = self._converts[provision.index]
            if converts.random() < conversion:
                self._recruited(provision, sizes.pick(converts.random()))

    def recruitment_plan(self, provision: ProvisionState) -> list[tuple[float, float]]:
        """The recruitment process's rate as (from day, arrivals a day), the first from the
        start: approved households, or for a provision that gives its pipeline, enquiries.
        Its `recruitment_changes` (superseded; a change's `per_year` counts approvals:
        enquiries = per_year / conversion), then the rate in the scenario in force from
        each dated change (`[[changes]]`) that moves it. Dated changes come in here only."""
        spec = provision.spec
        pid = provision.pid
        calendar = self.state.calendar
        conversion = self._conversion.get(provision.index)
        per = 1.0 if conversion is None else conversion
        plan = [(0.0, self._rate_in(self.state.scenario, pid, conversion is None))]
        for change in spec.recruitment_changes:  # type: ignore[union-attr]
            plan.append((calendar.day(change.from_), change.per_year / per / DAYS_PER_YEAR))
        for day, s in self.state.versions:
            rate = self._rate_in(s, pid, conversion is None)
            if rate != plan[-1][1]:
                plan.append((day, rate))
        return plan

    @staticmethod
    def _rate_in(s: Scenario, pid: str, approvals: bool) -> float:
        """A foster provision's recruitment rate a day in scenario `s`: approved households
        (`approvals`), or its pipeline's enquiries."""
        p = s.provision[pid]
        if approvals:
            return p.recruitment_per_year / DAYS_PER_YEAR  # type: ignore[union-attr]
        return p.enquiries_per_year / DAYS_PER_YEAR  # type: ignore[union-attr, operator]

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

    def _deregistration_steps(self, provision: ProvisionState) -> list[tuple[float, float]]:
        """The deregistration hazard by length of service as (until day of service,
        hazard a day), the last to infinity (`deregistration_per_year`); before the
        retention multiplier, which `_schedule_deregistration` applies."""
        spec = provision.spec
        steps = [
            (s.until_years * DAYS_PER_YEAR, s.per_year / DAYS_PER_YEAR)
            for s in spec.deregistration_by_service  # type: ignore[union-attr]
        ]
        steps.append((math.inf, spec.deregistration_per_year / DAYS_PER_YEAR))  # type: ignore[union-attr]
        return steps

    def _schedule_deregistration(
        self, provision: ProvisionState, unit: Unit, starting: bool
    ) -> None:
        """Each household leaves fostering (retirement, resignation) at a hazard that may
        step with its length of service, times the retention multiplier.

        One waiting time per household, drawn when it opens: right whatever the size of the
        pool does meanwhile, and one event per household at most. With steps, one unit
        exponential E is drawn and the time is where the cumulative hazard from the
        household's service so far has grown by E / multiplier (a new household has none;
        one open at the start, a service drawn from the steady state of the hazards).
        """
        spec = provision.spec
        index = provision.index
        multiplier = spec.retention_multiplier  # type: ignore[union-attr]
        state = self.state
        steps = self._steps.get(index)
        if steps is None:
            hazard = spec.deregistration_per_year * multiplier  # type: ignore[union-attr]
            if hazard <= 0:
                return
            delay = self._deregistration[index].exponential(DAYS_PER_YEAR / hazard)
        else:
            if multiplier <= 0:
                return
            served = 0.0
            if starting:
                service = self._service[index]
                served = _draw_service(self._service_mix[index], service.random(), service.random())
            target = self._deregistration[index].exponential(1.0) / multiplier
            delay = _time_to_hazard(steps, served, target)
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
            # by length of service, the household counts as newly approved from the change
            # (its service so far is not kept): a change of rate for such a provision is
            # an approximation, said in scenarios/README.md
            self._schedule_deregistration(provision, unit, starting=False)

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

    def set_hold(self, provision: ProvisionState, unit: Unit, on: bool) -> None:
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
        self.set_hold(provision, unit, not unit.on_hold)
        self._schedule_hold(provision, unit)
        self.placing.wake_waiting()


def _time_to_hazard(steps: list[tuple[float, float]], served: float, target: float) -> float:
    """Days from `served` days of service until the cumulative hazard of `steps` (until
    day, hazard a day) has grown by `target` (infinite if it never does)."""
    t = served
    for until, rate in steps:
        if t >= until:
            continue
        if rate > 0:
            need = target / rate
            if t + need <= until:
                return t + need - served
            target -= rate * (until - t)
        t = until
    return math.inf


def _steady_service(steps: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """The steady-state mix of service lengths of a pool recruited at a constant rate
    whose households leave at the hazards `steps`: density proportional to the survival
    S(a). Per step (start day, length, hazard a day, cumulative share of the pool)."""
    out: list[tuple[float, float, float, float]] = []
    start, alive, total = 0.0, 1.0, 0.0
    for until, rate in steps:
        length = until - start
        if math.isinf(length):
            mass = alive / rate if rate > 0 else 0.0  # validated: above 0 where it is drawn
        elif rate > 0:
            mass = alive * -math.expm1(-rate * length) / rate
        else:
            mass = alive * length
        total += mass
        out.append((start, length, rate, total))
        if not math.isinf(length):
            alive *= math.exp(-rate * length)
        start = until
    return [(a, b, c, share / total) for a, b, c, share in out]


def _draw_service(mix: list[tuple[float, float, float, float]], u: float, v: float) -> float:
    """A length of service (days) from the steady-state mix `_steady_service`: the step
    by `u`, the days within it by `v` (a truncated exponential of the step's hazard)."""
    i = first_above([share for _, _, _, share in mix], u)
    start, length, rate, _ = mix[min(i, len(mix) - 1)]
    if math.isinf(length):
        return start - math.log(1.0 - v) / rate
    if rate > 0:
        return start - math.log1p(v * math.expm1(-rate * length)) / rate
    return start + v * length
