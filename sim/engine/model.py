"""The SimPy model: children arrive, are matched, move, and leave; supply changes.

Mechanisms only: every number comes from the scenario. Each child's story is a chain of
waits on SimPy's event queue (`clock`), one pending at a time, for the earliest of its
competing events; when something outside the child changes its situation (its home
closes, its carer leaves), the child's next event is rescheduled and the stale wait is
ignored when it comes. Monthly figures come from one process that reads running totals,
not from a log of events.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Final

import numpy as np
import simpy

from ..scenario.ages import ADULT_AGE, AGE_BANDS, DAYS_PER_YEAR
from ..scenario.schema import Scenario
from .calendar import Calendar
from .child import Child, ignore_event
from .clock import URGENT, Clock, Due
from .draws import Categorical, Uniforms, draw
from .hazards import BREAKDOWN, EXIT, MOVE, shared_table
from .matching import Profile
from .metrics import LOCATIONS, MOVE_KINDS, UNMET_REASONS, YEARLY, Layout, ReplicationResult
from .provision import ProvisionState, Unit
from .search import Search

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # pure Python: the decorator only matters to a compiled build

    def mypyc_attr(*_args: Any, **_kwargs: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls


# The clock: where SimPy hands control to the model (a child's event, a callback, a
# process waking) the model notes the time once, in `Model.now`, and everything it then
# does reads that. It is read tens of thousands of times a replication: SimPy's `env.now`
# is a property (a Python call) and even its attribute `env._now` is a dictionary look-up,
# read about five times an event. tests/test_behaviour.py checks that `Model.now` is
# SimPy's clock at every recorded action, and that `_now` and `now` agree.

#: A SimPy process: a generator of the events it waits for.
Process = Generator[Due, Any, None]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a replication sets up and runs.

    A replication holds thousands of long-lived objects (children, households, pending
    events) that the collector would walk again and again (about a seventh of a compiled
    run), yet running one makes no reference cycles: what it frees, reference counting
    frees (tests/test_behaviour.py checks). The model's own object graph is a cycle:
    `Model.release` breaks it once the results are taken.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: What a child's next event is (Child.next_kind).
_NOTHING: Final = 0  # nothing more within the run
_HAZARD: Final = 1  # one of the competing risks (exit, breakdown, planned move)
_AGE_18: Final = 2
_RETRY: Final = 3  # look again for a suitable placement
_OFFER: Final = 4  # a provider's offer arrives

#: Random streams of a replication, one per mechanism, always spawned in this order.
STREAMS = ("population", "arrivals", "uasc", "supply")


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled, it can still be subclassed (tests)
class Model:
    """One replication of one scenario."""

    __deletable__ = ("search",)  # dropped by `release` (the compiled build needs this)

    def __init__(
        self,
        scenario: Scenario,
        years: float,
        seed: np.random.SeedSequence | int,
        record_events: bool = False,
        keep_children: bool = False,
    ) -> None:
        self.s = scenario
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # one stream per mechanism (and per provision for supply), so that changing one
        # mechanism in an option leaves the others' random numbers untouched
        seeds = dict(zip(STREAMS, ss.spawn(len(STREAMS)), strict=True))
        self.rng = {k: np.random.default_rng(v) for k, v in seeds.items() if k != "supply"}
        # per foster provision, by index: (recruitment, deregistration) seeds. Every
        # provision keeps its place in the spawn order; the others change supply on set
        # dates, not by chance, so their streams are never made (0.4 ms a replication).
        supply = seeds["supply"].spawn(len(scenario.provision))
        self._supply_seeds = {
            i: x.spawn(2)
            for i, (x, spec) in enumerate(zip(supply, scenario.provision.values(), strict=True))
            if spec.kind == "foster"
        }
        self._dereg_rng = {
            i: Uniforms(np.random.default_rng(x[1])) for i, x in self._supply_seeds.items()
        }
        self.env = simpy.Environment(initial_time=0.0)  # a float clock from the start
        self.clock = Clock(self.env)
        #: the time of the event being handled (see the note on the clock above)
        self.now = 0.0
        self.months = max(1, round(years * 12))
        self.cal = Calendar(scenario.scenario.start_date, self.months)
        self.end = self.cal.end  # read at every scheduling: a plain attribute, not a property
        self.layout = Layout.for_scenario(scenario)
        self.monthly = np.zeros((self.months, len(self.layout)))
        self._flows = [0.0] * len(self.layout)  # this month's counts so far
        self.n_years = math.ceil(self.months / 12)
        self.yearly = np.zeros((self.n_years, len(YEARLY)))
        self.month = 0
        self.events: list[tuple] | None = [] if record_events else None
        #: every child ever created, for writing synthetic child-level data (synth903)
        self.all_children: list[Child] | None = [] if keep_children else None

        self.pids = list(scenario.provision)
        self.needs = list(scenario.needs)
        self.prov = [
            ProvisionState(pid, i, spec, self.needs)
            for i, (pid, spec) in enumerate(scenario.provision.items())
        ]
        self.by_pid = {p.pid: p for p in self.prov}
        self.n_needs = len(self.needs)
        self.sole = [lvl.sole_occupancy for lvl in scenario.needs.values()]
        self.fallback = self.by_pid[scenario.matching.fallback]
        self.retry_days = scenario.matching.retry_days
        self.hazards = shared_table(scenario)
        self.search = Search(self)
        self.exit_names = [*scenario.exits, "age_18"]
        #: by exit route: the chance that a foster carer stops fostering when a child leaves
        self._carer_leaves = [r.carer_leaves_probability for r in scenario.exits.values()]
        self.location_of = [LOCATIONS.index(p.spec.location) for p in self.prov]

        self.children: dict[int, Child] = {}
        self._next_cid = 1
        self._next_uid = 1
        self._next_group = 1
        self.uasc_in_care = 0
        self.reserved = [0] * len(self.prov)  # places promised by pending offers
        self.unmet_count = [0] * len(UNMET_REASONS)
        self._unmet_days = [0.0] * len(UNMET_REASONS)
        self._unmet_t = 0.0
        self.child_days_total = 0.0

        L = self.layout
        self._i_entries = L.i("entries", "all")
        self._i_entries_uasc = L.i("entries", "uasc")
        self._i_exit = [L.i("exits", r) for r in self.exit_names]
        self._i_exits_total = L.i("exits", "total")
        self._i_move = {k: L.i("moves", k) for k in MOVE_KINDS}
        self._i_moves_total = L.i("moves", "total")
        self._i_unmet_new = [L.i("unmet_new", r) for r in UNMET_REASONS]
        self._i_splits = L.i("sibling_splits", "all")

        with collector_paused():
            self._setup_supply()
            self._setup_population()
        self._snapshot_columns()
        self._setup_entry_rate()
        #: the model's SimPy processes (kept so that `release` can close them)
        self._processes: list[Process] = [self._arrivals()]
        if scenario.entries.uasc.per_year > 0:
            self._processes.append(self._uasc_rota())
        for p in self.prov:
            if p.kind == "foster":
                self._processes.append(self._recruitment(p))
        self._processes += [self._home_schedule(), self._monthly()]
        for process in self._processes:
            # they yield `Due`s, which SimPy's processes take like its own events
            self.env.process(process)  # type: ignore[arg-type]

    # ================================================================== running

    def run(self) -> ReplicationResult:
        # SimPy stops before any event due at the very end of the run: such an event
        # belongs to the month after it. Then the last month-end snapshot.
        with collector_paused():
            self.env.run(until=self.cal.end)
        self._wake()
        self._snapshot(self.months - 1)
        return ReplicationResult(
            monthly=self.monthly,
            yearly=self.yearly,
            events=self.events,
            n_events=self._simpy_events(),
            child_years=self.child_days_total / DAYS_PER_YEAR,
        )

    def release(self) -> None:
        """Break the replication's reference cycles, so reference counting frees it at once.

        The collector is paused while replications run (`collector_paused`); without
        this, each finished replication would wait, whole, for the next full collection.
        Call it once the results are taken: the model cannot run or search afterwards.
        """
        self.env._queue.clear()  # pending events, and the processes and callbacks they hold
        for process in self._processes:
            process.close()  # a waiting generator holds the model
        for p in self.prov:
            for unit in p.units.values():
                unit.children.clear()  # a household <-> the children living there
        for c in self.children.values():
            c.event = None
            c.on_event = ignore_event  # the callback holds the model and the child
        del self.search  # the search holds the model

    def _simpy_events(self) -> int:
        """Events SimPy scheduled in this run (the measure a bare SimPy loop is timed in).

        Read from the environment's event-id counter; child events that turned out stale
        are included, as they cost the event loop the same.
        """
        return self.clock.next_id()

    def _wake(self) -> float:
        """SimPy has handed control to the model: note the time (see the note on the clock)."""
        t: float = self.env._now
        self.now = t
        return t

    def _log(self, *row: Any) -> None:
        if self.events is not None:
            self.events.append((self.env._now, *row))

    def _count(self, i: int) -> None:
        """Add one to a flow of the current month (a list: numpy indexing is slow).

        No float default argument here: mypyc passes 0.0 for one when a compiled method
        is called on an instance of an interpreted subclass (seen with mypy 2.4).
        """
        self._flows[i] += 1.0

    # ================================================================== supply

    def _open_unit(self, p: ProvisionState, name: str, places: int) -> Unit:
        u = Unit(self._next_uid, name, places)
        self._next_uid += 1
        p.open_unit(self.now, u)
        self._log("unit_opened", p.pid, u.uid, places)
        if p.kind == "foster":
            self._schedule_deregistration(p, u)
        return u

    def _setup_supply(self) -> None:
        for p in self.prov:
            spec = p.spec
            if spec.kind == "foster":
                for h in spec.households:
                    for _ in range(h.count):
                        self._open_unit(p, p.pid, h.places)
            elif spec.kind == "home":
                for home in spec.homes:
                    opened = home.opens is None or self.cal.day(home.opens) <= 0
                    closed = home.closes is not None and self.cal.day(home.closes) <= 0
                    if opened and not closed:
                        self._open_unit(p, home.name, home.beds)

    def _home_schedule(self) -> Process:
        """Open and close homes on their dates."""
        plan: list[tuple[float, int, ProvisionState, Any]] = []
        for p in self.prov:
            if p.spec.kind != "home":
                continue
            for home in p.spec.homes:  # type: ignore[union-attr]
                opens = self.cal.day(home.opens) if home.opens else 0.0
                if opens > 0:
                    plan.append((opens, 1, p, home))
                if home.closes is not None and self.cal.day(home.closes) > max(opens, 0.0):
                    plan.append((self.cal.day(home.closes), 0, p, home))
                for r in home.resize:
                    if self.cal.day(r.date) > 0:
                        plan.append((self.cal.day(r.date), 2, p, (home, r.beds)))
        plan.sort(key=lambda x: (x[0], x[1]))
        for t, action, p, what in plan:
            if t > self.env._now:
                yield self.clock.at(t, [])
            self._wake()
            if action == 1:
                self._open_unit(p, what.name, what.beds)
                continue
            name = what.name if action == 0 else what[0].name
            unit = next((u for u in p.units.values() if u.name == name), None)
            if unit is None:
                continue
            if action == 0:
                self._close(p, unit)
            else:
                self._resize(p, unit, what[1])

    def _recruitment(self, p: ProvisionState) -> Process:
        spec = p.spec
        rate = spec.recruitment_per_year / DAYS_PER_YEAR  # type: ignore[union-attr]
        if rate <= 0:
            return
        sizes = Categorical({int(k): v for k, v in spec.new_household_places.items()})  # type: ignore[union-attr]
        rng = np.random.default_rng(self._supply_seeds[p.index][0])
        while True:
            yield self.clock.wait(rng.exponential(1.0 / rate))
            self._wake()
            places = sizes.pick(rng.random())
            self._open_unit(p, p.pid, places)
            self._count(self.layout.i("recruited", p.pid))

    def _schedule_deregistration(self, p: ProvisionState, unit: Unit) -> None:
        """Each household leaves fostering at a constant hazard (retirement, resignation).

        One waiting time per household, drawn when it opens: right whatever the size of the
        pool does meanwhile, and one event per household at most.
        """
        hazard = p.spec.deregistration_per_year  # type: ignore[union-attr]
        if hazard <= 0:
            return
        delay = self._dereg_rng[p.index].exponential(DAYS_PER_YEAR / hazard)
        if self.now + delay >= self.end:
            return
        self.clock.at(self.now + delay, [lambda _e: self._deregister(p, unit)])

    def _deregister(self, p: ProvisionState, unit: Unit) -> None:
        """A household's drawn time to leave fostering has come (unless it closed already)."""
        self._wake()
        if unit.is_open:
            self._close(p, unit)

    def _resize(self, p: ProvisionState, unit: Unit, beds: int) -> None:
        """Change a home's beds; the most recently placed children move out if it shrinks."""
        p.resize_unit(self.now, unit, beds)
        self._log("unit_resized", p.pid, unit.uid, beds)
        while unit.occupied > unit.places and unit.children:
            self._rehome(unit.children[-1], "provision_closed")

    def _close(self, p: ProvisionState, unit: Unit) -> None:
        """A household deregisters or a home closes: its children must move."""
        movers = p.close_unit(self.now, unit)
        self._log("unit_closed", p.pid, unit.uid)
        if p.kind == "foster":
            self._count(self.layout.i("deregistered", p.pid))
        for child in movers:
            self._rehome(child, "provision_closed")

    # ================================================================== population

    def _new_child(
        self,
        rng: Uniforms,
        dob: float,
        entered: float,
        needs: int,
        uasc: bool,
        disability: bool,
    ) -> Child:
        # the child's own streams are seeded from the mechanism's stream that created them
        c = Child(self._next_cid, dob, entered, needs, uasc, disability, rng)
        self._next_cid += 1
        if self.all_children is not None:
            self.all_children.append(c)
        return c

    def _needs_mix(self, mix: dict[str, float]) -> Categorical:
        """A needs mix over needs-level indices."""
        return Categorical({self.needs.index(k): v for k, v in mix.items()})

    def _setup_population(self) -> None:
        rng = Uniforms(self.rng["population"])
        for pid, group in self.s.population.items():
            p = self.by_pid[pid]
            mix = self._needs_mix(group.needs or {p.spec.needs[0]: 1.0})
            for band, count in group.by_age.items():
                lo, hi = AGE_BANDS[band]
                for _ in range(count):
                    age = lo + (hi - lo) * rng.random()
                    dob = -age * DAYS_PER_YEAR
                    entered = -rng.random() * min(age, group.max_years_in_care) * DAYS_PER_YEAR
                    c = self._new_child(
                        rng,
                        dob,
                        entered,
                        mix.pick(rng.random()),
                        bool(rng.random() < group.uasc_share),
                        bool(rng.random() < group.disability_share),
                    )
                    self._admit(c)
                    unit = self.search.first_free_unit(p, c) if p.has_units else None
                    if p.has_units and unit is None:
                        raise ValueError(
                            f"population.{pid}: more children than open places at the start"
                        )
                    self._place(c, p, unit, suitable=p.suitable, reason=0, move_kind=None)

    def _admit(self, c: Child) -> None:
        self.children[c.cid] = c
        c.on_event = partial(self._fire, c)  # the callback of each of the child's events
        if c.uasc:
            self.uasc_in_care += 1

    # ================================================================== arrivals

    def _entry_rate(self, t: float) -> float:
        """Entries per day at day t: the yearly rate, its trend, and the month's season."""
        season = self._season_by_month[self.cal.month_of(t)]
        return self._entries_per_day * self._growth ** (t / DAYS_PER_YEAR) * season

    def _setup_entry_rate(self) -> None:
        """The parts of the entry rate that do not change within a month, worked out once."""
        e = self.s.entries
        season = e.seasonality
        self._entries_per_day = e.per_year / DAYS_PER_YEAR
        self._growth = 1.0 + e.trend_per_year
        self._season_by_month = [
            season[self.cal.calendar_month(t)] * 12.0 / sum(season) for t in self.cal.bounds[:-1]
        ]

    def _arrivals(self) -> Process:
        """Sibling groups arrive as a Poisson process with trend and seasonality (thinning)."""
        e = self.s.entries
        if e.per_year <= 0:
            return
        sizes = Categorical({int(k): v for k, v in e.sibling_group_size.items()})
        mean_size = sizes.mean()
        season_max = max(e.seasonality) * 12.0 / sum(e.seasonality)
        growth_max = max(1.0, (1.0 + e.trend_per_year) ** (self.cal.end / DAYS_PER_YEAR))
        lam_max = e.per_year / DAYS_PER_YEAR * season_max * growth_max / mean_size
        if not lam_max > 0:
            return  # a rate too small to represent: no entries
        bands = Categorical(e.age_mix)
        needs_by_band = {b: self._needs_mix(m) for b, m in e.needs_mix.items()}
        rng = Uniforms(self.rng["arrivals"])
        while True:
            yield self.clock.wait(rng.exponential(1.0 / lam_max))
            t = self._wake()
            accept = rng.random() * lam_max < self._entry_rate(t) / mean_size
            if not accept:
                continue
            group = []
            for _ in range(sizes.pick(rng.random())):
                band = bands.pick(rng.random())
                lo, hi = AGE_BANDS[band]
                age = lo + (hi - lo) * rng.random()
                needs = needs_by_band[band].pick(rng.random())
                c = self._new_child(
                    rng,
                    t - age * DAYS_PER_YEAR,
                    t,
                    needs,
                    False,
                    bool(rng.random() < e.disability_share),
                )
                group.append(c)
            self._enter(group)

    def _uasc_rota(self) -> Process:
        """UASC arrive in batches on the National Transfer Scheme rota, up to the LA's cap."""
        u = self.s.entries.uasc
        rng = self.rng["uasc"]
        uniforms = Uniforms(rng)
        bands = Categorical(u.age_mix)
        needs = self.needs.index(u.needs) if u.needs else 0
        while True:
            yield self.clock.wait(u.rota_days)
            n = int(rng.poisson(u.per_year * u.rota_days / DAYS_PER_YEAR))
            if u.cap is not None:
                n = min(n, max(0, u.cap - self.uasc_in_care))
            t = self._wake()
            for _ in range(n):
                lo, hi = AGE_BANDS[bands.pick(uniforms.random())]
                age = lo + (hi - lo) * uniforms.random()
                c = self._new_child(uniforms, t - age * DAYS_PER_YEAR, t, needs, True, False)
                self._enter([c])

    def _enter(self, group: list[Child]) -> None:
        flows, logging = self._flows, self.events is not None
        for c in group:
            self._admit(c)
            flows[self._i_entries] += 1
            if c.uasc:
                flows[self._i_entries_uasc] += 1
            if logging:
                self._log("entry", c.cid, c.uasc)
        if len(group) > 1:
            gid = self._next_group
            self._next_group += 1
            for c in group:
                c.group = gid
        self._find_and_place(group, move_kind=None)

    # ================================================================== placing

    def profile(self, c: Child, in_group: bool = False) -> Profile:
        return Profile(
            age=c.age(self.now),
            needs=self.needs[c.needs],
            uasc=c.uasc,
            disability=c.disability,
            in_group=in_group,
        )

    def _find_and_place(
        self, group: list[Child], move_kind: str | None, exclude: Unit | None = None
    ) -> None:
        """Search for a group (or one child) and place them, splitting siblings if needed."""
        outcome = self.search.find(group, exclude=exclude)
        if outcome.found is None and len(group) > 1:
            self._count(self._i_splits)
            self._log("sibling_split", group[0].group, len(group))
            for c in group:
                self._find_and_place([c], move_kind, exclude)
            return
        for c in group:
            if outcome.found is None:
                self._place(
                    c,
                    self.fallback,
                    None,
                    suitable=False,
                    reason=outcome.reason,
                    move_kind=move_kind,
                )
                continue
            p, unit, delay = outcome.found
            if delay > 0:
                # the offer comes later: wait in the emergency arrangement (or stay put)
                self.reserved[p.index] += 1
                c.pending = (p.index, self.now + delay)
                if c.placement < 0 or move_kind in ("breakdown", "provision_closed"):
                    self._place(
                        c,
                        self.fallback,
                        None,
                        suitable=False,
                        reason=UNMET_REASONS.index("awaiting_offer"),
                        move_kind=move_kind,
                    )
                else:
                    self._schedule(c)
                continue
            self._place(c, p, unit, suitable=p.suitable, reason=outcome.reason, move_kind=move_kind)

    def _vacate(self, c: Child) -> None:
        if c.placement < 0:
            return
        old = self.prov[c.placement]
        old.remove_child(self.now, c, c.unit)
        if c.unmet_reason >= 0:
            self._unmet_change(c.unmet_reason, -1)
            c.unmet_reason = -1
        c.placement = -1
        c.unit = None

    def _place(
        self,
        c: Child,
        p: ProvisionState,
        unit: Unit | None,
        suitable: bool,
        reason: int,
        move_kind: str | None,
    ) -> None:
        t = self.now
        from_pid = self.pids[c.placement] if c.placement >= 0 else None
        flows = self._flows
        if c.placement >= 0:
            self._vacate(c)
            if move_kind is not None:
                flows[self._i_move[move_kind]] += 1
                flows[self._i_moves_total] += 1
        p.add_child(t, c, unit, sole=self.sole[c.needs])
        c.placement = p.index
        c.unit = unit
        c.placements_this_year += 1
        if not suitable:
            c.unmet_reason = reason
            self._unmet_change(reason, +1)
            flows[self._i_unmet_new[reason]] += 1
            c.retry_at = t + self.retry_days
        else:
            c.retry_at = math.inf
        if self.events is not None:
            self._log(
                "placed",
                c.cid,
                from_pid,
                p.pid,
                unit.uid if unit else None,
                move_kind,
                None if suitable else UNMET_REASONS[reason],
            )
        self._schedule(c)

    def _rehome(self, c: Child, move_kind: str) -> None:
        """The child's placement has ended without them leaving care: find the next one."""
        if c.pending is not None:
            self._release_pending(c)
        # never straight back into the household or home whose placement just ended
        self._find_and_place([c], move_kind, exclude=c.unit)

    def _release_pending(self, c: Child) -> None:
        if c.pending is not None:
            self.reserved[c.pending[0]] -= 1
            c.pending = None

    def _unmet_change(self, reason: int, delta: int) -> None:
        t = self.now
        dt = t - self._unmet_t
        if dt > 0:
            for i, n in enumerate(self.unmet_count):
                self._unmet_days[i] += n * dt
            self._unmet_t = t
        self.unmet_count[reason] += delta

    # ================================================================== a child's next event

    def _schedule(self, c: Child) -> None:
        """Schedule the child's next event; any event scheduled before this is now stale.

        The rates of the competing risks change only at age and time-in-care edges, so the
        waiting time is found by spending one exponential draw of cumulative hazard across
        those pieces: one SimPy event per thing that happens, none per birthday.
        """
        c.event = None  # whatever was pending is stale from now on
        t = self.now
        end = self.end
        hard, what = end, _NOTHING
        if c.retry_at < hard:
            hard, what = c.retry_at, _RETRY
        if c.pending is not None and c.pending[1] < hard:
            hard, what = c.pending[1], _OFFER
        haz = self.hazards
        age_edges, tic_edges = haz.age_edges, haz.tic_edges_inf
        dob, entered = c.dob, c.entered
        grid = haz.grid[c.placement * self.n_needs + c.needs]
        # nudge past an edge we are standing on, so rounding cannot find it twice
        # the steps the child is in now (as bisect_right would find them): ages and years in
        # care only grow, so the search starts from where the child's last one ended
        x = (t - dob) / DAYS_PER_YEAR + 1e-7
        a = c.age_step
        while a < len(age_edges) and age_edges[a] <= x:
            a += 1
        c.age_step = a
        if a == len(age_edges):
            # past the last edge (18) by the nudge alone: a starting age drawn a hair under
            # 18 (found by the fuzz test, 1 replication in ~100,000). The child turns 18 now.
            if t < end:
                c.next_kind, c.next_risks = _AGE_18, None
                c.event = self.clock.at(t, [c.on_event])
            return
        x = (t - entered) / DAYS_PER_YEAR + 1e-7
        k = c.tic_step
        while tic_edges[k] <= x:  # its last edge is infinite
            k += 1
        c.tic_step = k
        budget = -math.log(1.0 - c.life.random())  # cumulative hazard until the next event
        s = t
        while True:
            t_age = dob + age_edges[a] * DAYS_PER_YEAR
            t_tic = entered + tic_edges[k] * DAYS_PER_YEAR
            seg_end = t_age if t_age < t_tic else t_tic
            if hard < seg_end:
                seg_end = hard
            comp = grid[a][k] or haz.at(
                c.placement,
                a,
                c.needs,
                k,
                (s - dob) / DAYS_PER_YEAR + 1e-7,
                (s - entered) / DAYS_PER_YEAR + 1e-7,
            )
            if comp.total > 0:
                gap = budget / comp.total
                if s + gap < seg_end:
                    t_next, kind = s + gap, _HAZARD
                    break
                budget -= comp.total * (seg_end - s)
            if seg_end >= hard:
                t_next, kind = hard, what
                break
            if seg_end == t_age:
                if age_edges[a] >= ADULT_AGE:
                    t_next, kind = seg_end, _AGE_18
                    break
                a += 1
            if seg_end == t_tic:
                k += 1
            s = seg_end
        if t_next >= end or kind == _NOTHING:
            return  # nothing more happens to this child within the run
        c.next_kind = kind
        c.next_risks = comp
        # the callback is the child's own, made once (`_admit`): the event carries nothing;
        # due at now + delay, summed as SimPy's timeouts do
        c.event = self.clock.at(t + (t_next - t if t_next > t else 0.0), [c.on_event])

    def _fire(self, c: Child, event: Due) -> None:
        """The child's pending event has come (unless a later change made it stale)."""
        if event is not c.event:
            return  # superseded by a later change, or the child has left care
        c.event = None
        self.now = event.at
        what = c.next_kind
        if what == _HAZARD:
            kind, idx = c.next_risks.pick(c.life.random())  # type: ignore[union-attr]
            if kind == EXIT:
                self._leave(c, idx)
            elif kind == BREAKDOWN:
                if self.events is not None:
                    self._log("breakdown", c.cid, self.pids[c.placement])
                self._rehome(c, "breakdown")
            elif kind == MOVE:
                self._planned_move(c, idx)
        elif what == _AGE_18:
            self._leave(c, len(self.exit_names) - 1)
        elif what == _RETRY:
            self._retry(c)
        elif what == _OFFER:
            self._offer_arrives(c)

    def _retry(self, c: Child) -> None:
        """A child in an unsuitable placement: look again."""
        if c.pending is not None:
            c.retry_at = math.inf  # an offer is on its way
            self._schedule(c)
            return
        outcome = self.search.find([c], exclude=c.unit)
        if outcome.found is not None:
            p, unit, delay = outcome.found
            if p.suitable and p.index != c.placement:
                if delay > 0:
                    self.reserved[p.index] += 1
                    c.pending = (p.index, self.now + delay)
                    c.retry_at = math.inf
                    self._schedule(c)
                    return
                self._place(c, p, unit, suitable=True, reason=0, move_kind="found_suitable")
                return
        c.retry_at = self.now + self.retry_days
        self._schedule(c)

    def _offer_arrives(self, c: Child) -> None:
        idx, _ = c.pending  # type: ignore[misc]
        self._release_pending(c)
        p = self.prov[idx]
        self._place(c, p, None, suitable=p.suitable, reason=0, move_kind="offer_arrived")

    def _planned_move(self, c: Child, idx: int) -> None:
        move = self.hazards.moves[idx]
        if c.pending is not None:
            self._schedule(c)  # already waiting for an offer elsewhere
            return
        outcome = self.search.find([c], order=move.to, exclude=c.unit, strict=True)
        if outcome.found is None or not outcome.found[0].suitable:
            self._schedule(c)  # nowhere to move to: stay where they are
            return
        p, unit, delay = outcome.found
        if delay > 0:
            self.reserved[p.index] += 1
            c.pending = (p.index, self.now + delay)
            self._schedule(c)
            return
        self._log("planned_move", c.cid, move.name)
        self._place(c, p, unit, suitable=True, reason=0, move_kind="planned")

    # ================================================================== leaving care

    def _leave(self, c: Child, exit_idx: int) -> None:
        t = self.now
        p = self.prov[c.placement]
        unit = c.unit
        name = self.exit_names[exit_idx]
        self._release_pending(c)
        self._vacate(c)
        c.in_care = False
        c.event = None
        c.on_event = ignore_event  # the model's callback holds the child: a cycle
        del self.children[c.cid]
        if c.uasc:
            self.uasc_in_care -= 1
        self._flows[self._i_exit[exit_idx]] += 1
        self._flows[self._i_exits_total] += 1
        if self.events is not None:
            self._log("exit", c.cid, name, p.pid)
        if name == "age_18":
            sp = p.staying_put_probability
            if sp > 0 and c.life.random() < sp and (unit is None or unit.is_open):
                p.start_staying_put(t, unit)
                self._log("staying_put_start", c.cid, p.pid, unit.uid if unit else None)
                years = draw(self.s.leaving_care.staying_put_years, c.life.random)
                end_staying_put = [lambda _e: self._end_staying_put(c, p, unit)]
                self.clock.at(t + years * DAYS_PER_YEAR, end_staying_put)
            return
        carer_leaves = self._carer_leaves[exit_idx]
        if (
            carer_leaves > 0
            and unit is not None
            and p.kind == "foster"
            and unit.is_open
            and c.life.random() < carer_leaves
        ):
            self._close(p, unit)

    def _end_staying_put(self, c: Child, p: ProvisionState, unit: Unit | None) -> None:
        t = self._wake()
        if unit is not None and not unit.is_open:
            return  # the household closed and the arrangement ended with it
        p.end_staying_put(t, unit)
        self._log("staying_put_end", c.cid, p.pid, unit.uid if unit else None)

    # ================================================================== monthly figures

    def _monthly(self) -> Process:
        """One process takes every month-end snapshot but the last (see `run`)."""
        for m in range(self.months - 1):
            # urgent: the month-end figures come before anything dated the 1st of the next
            # month (a home closing on 1 April still had its children on 31 March)
            yield self.clock.at(self.cal.bounds[m + 1], [], URGENT)
            self._wake()
            self._snapshot(m)

    def _snapshot_columns(self) -> None:
        """Where each month-end figure goes in a row of `monthly` (worked out once)."""
        L = self.layout
        self._col_in_care = [L.i("in_care", p.pid) for p in self.prov]
        self._col_days = [L.i("child_days", p.pid) for p in self.prov]
        self._col_cost = [L.i("cost", p.pid) for p in self.prov]
        self._col_places = [L.i("places", p.pid) if p.has_units else -1 for p in self.prov]
        self._col_vacancies = [L.i("vacancies", p.pid) if p.has_units else -1 for p in self.prov]
        self._col_households = [
            L.i("households", p.pid) if p.kind == "foster" else -1 for p in self.prov
        ]
        self._col_location = [
            L.i("in_care_by_location", LOCATIONS[self.location_of[p.index]]) for p in self.prov
        ]
        self._col_unmet = [L.i("unmet_children", r) for r in UNMET_REASONS]
        self._col_unmet_days = [L.i("unmet_child_days", r) for r in UNMET_REASONS]
        self._col_totals = (
            L.i("cost", "staying_put"),
            L.i("staying_put", "all"),
            L.i("cost", "total"),
            L.i("in_care", "total"),
            L.i("uasc_in_care", "all"),
            L.i("unmet_children", "total"),
            L.i("unmet_child_days", "total"),
        )

    def _snapshot(self, m: int) -> None:
        """Month-end figures: stocks now, and the time integrals since the last snapshot.

        The row is built as a list and stored in `monthly` once: setting numpy elements
        one at a time costs far more than the arithmetic.
        """
        t = self.now
        row = self._flows  # this month's counts so far, then the stocks and integrals
        self._flows = [0.0] * len(self.layout)
        year = m // 12
        total_cost = 0.0
        sp_days_all = 0.0
        sp_all = 0
        for p in self.prov:
            i = p.index
            child_days, place_days, sp_days = p.flush(t)
            self.child_days_total += child_days
            cost = (place_days if p.per_place else child_days) * p.price(year) / 7.0
            row[self._col_in_care[i]] = p.children
            row[self._col_days[i]] = child_days
            row[self._col_cost[i]] = cost
            row[self._col_location[i]] += p.children
            total_cost += cost
            sp_days_all += sp_days
            sp_all += p.staying_put
            if p.has_units:
                row[self._col_places[i]] = p.places
                row[self._col_vacancies[i]] = p.vacancies
            if p.kind == "foster":
                row[self._col_households[i]] = len(p.units)
        sp_cost = sp_days_all * self.s.leaving_care.staying_put_weekly_cost / 7.0
        c_sp_cost, c_sp, c_cost, c_in_care, c_uasc, c_unmet, c_unmet_days = self._col_totals
        row[c_sp_cost] = sp_cost
        row[c_sp] = sp_all
        row[c_cost] = total_cost + sp_cost
        row[c_in_care] = len(self.children)
        row[c_uasc] = self.uasc_in_care
        self._unmet_change(0, 0)  # bring the unmet integrals up to now
        for r in range(len(UNMET_REASONS)):
            row[self._col_unmet[r]] = self.unmet_count[r]
            row[self._col_unmet_days[r]] = self._unmet_days[r]
            self._unmet_days[r] = 0.0
        row[c_unmet] = sum(self.unmet_count)
        row[c_unmet_days] = sum(row[i] for i in self._col_unmet_days)
        self.monthly[m] = row
        if m % 12 == 11 or m == self.months - 1:
            self._year_end(year)
        self.month = min(m + 1, self.months - 1)

    def _year_end(self, year: int) -> None:
        """DfE stability measure: children in care at year end with 3+ placements in the year."""
        n = len(self.children)
        three = sum(1 for c in self.children.values() if c.placements_this_year >= 3)
        self.yearly[year] = (n, three, three / n if n else 0.0)
        for c in self.children.values():
            c.placements_this_year = 1


def simulate(
    scenario: Scenario,
    years: float,
    seed: int | np.random.SeedSequence,
    record_events: bool = False,
) -> ReplicationResult:
    """Run one replication and return its monthly and yearly arrays.

    The collector stays paused from set-up to release: paused for each phase alone, it
    ran a collection over the new population as each phase ended.
    """
    with collector_paused():
        model = Model(scenario, years, seed, record_events=record_events)
        try:
            return model.run()
        finally:
            model.release()
