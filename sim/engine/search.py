"""The search for a placement: walk the child's preference list, best first.

The progressive approach as a loop over data: for each provision in the child's order,
check the eligibility rules for every child in the group, then look for a household or
home with room whose children accept the newcomer, or ask the provider for an offer. If
nothing in the list takes the child under the normal rules, provisions that allow
younger children as a last resort are tried. What failed is remembered, so unmet demand
can be explained: no capacity, capacity but no match, or the market said no.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from ..scenario.ages import DAYS_PER_YEAR
from .draws import draw
from .matching import (
    Profile,
    eligible,
    offer_probability,
    only_as_last_resort,
    preference_order,
    unit_can_host,
)
from .metrics import UNMET_REASONS

if TYPE_CHECKING:
    from .child import Child, Stream
    from .provision import ProvisionState, Unit
    from .state import State

NO_CAPACITY: Final = UNMET_REASONS.index("no_capacity")
NO_MATCH: Final = UNMET_REASONS.index("no_match")
DECLINED: Final = UNMET_REASONS.index("market_declined")


class Outcome:
    """What a search found, and why the options before it failed."""

    __slots__ = ("found", "reason")

    def __init__(
        self, found: tuple[ProvisionState, Unit | None, float] | None, reason: int
    ) -> None:
        #: (provision, household/home or None, days until the offer comes) or None
        self.found = found
        #: why the better options failed (an index into UNMET_REASONS)
        self.reason = reason


class Fit:
    """What a child of one profile may use: worked out once per profile, then reused."""

    __slots__ = ("last_resort", "order", "plan", "strict")

    def __init__(
        self, order: tuple[int, ...], strict: frozenset[int], last_resort: frozenset[int]
    ) -> None:
        self.order = order  # the child's own preference order (provision indices)
        self.strict = strict  # provisions that take the child under the normal rules
        self.last_resort = last_resort  # ... and those that take them only as a last resort
        # the two passes of a search in the child's own order
        self.plan = (
            tuple(i for i in order if i in strict),
            tuple(i for i in order if i in last_resort),
        )


#: Fits depend only on the scenario, so replications run in one process share them.
_FITS: dict[int, tuple[object, dict[int, Fit]]] = {}


def _shared_fits(scenario: object) -> dict[int, Fit]:
    hit = _FITS.get(id(scenario))
    if hit is None or hit[0] is not scenario:
        _FITS.clear()  # one scenario at a time per process is the normal case
        hit = _FITS[id(scenario)] = (scenario, {})
    return hit[1]


class Replay:
    """Uniforms from a child's stream, remembered so they can be handed out again.

    The refusals of one search draw their holds from the same uniforms: providers with
    the same hold distribution then hold until the same time.
    """

    __slots__ = ("i", "seen", "source")

    def __init__(self, source: Stream) -> None:
        self.source = source
        self.seen: list[float] = []
        self.i = 0

    def rewind(self) -> None:
        """Hand out the remembered uniforms again, from the first."""
        self.i = 0

    def random(self) -> float:
        """The next remembered uniform, or a new one from the stream."""
        i = self.i
        self.i = i + 1
        if i < len(self.seen):
            return self.seen[i]
        v = self.source.random()
        self.seen.append(v)
        return v


def _held(group: list[Child], index: int, now: float) -> bool:
    """Whether a provider's refusal of some member of the group still holds at `now`."""
    for c in group:
        holds = c.holds
        if holds is not None and holds.get(index, -1.0) > now:
            return True
    return False


class Search:
    """Finds placements for a child or a sibling group in the replication's `State`.

    It only looks and draws (matching uses the child's own stream): placing the child, and
    what that changes, is `Placing`'s work.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        scenario = state.scenario
        self.rules = scenario.matching.preferences
        # every age at which some eligibility rule or preference rule changes its answer:
        # within two neighbouring edges, a profile's fit is the same, so it can be cached
        edges: set[float] = set()
        for spec in scenario.provision.values():
            for ages in (spec.ages, spec.last_resort_ages):
                if ages is not None:
                    edges |= {ages.min_age, ages.max_age}
        for rule in self.rules:
            edges |= {rule.when.min_age, rule.when.max_age}
        self.age_edges = sorted(edges)
        self.n_needs = state.n_needs
        #: whether some rule asks where the child comes from (`When.from_`, `entering`):
        #: then a fit depends on the child's last suitable provision (`Child.settled`) too
        self.uses_origin = any(
            r.when.from_ is not None or r.when.entering is not None for r in self.rules
        )
        self._n_origins = len(state.provisions) + 1 if self.uses_origin else 1
        #: by profile, coded as one number (`fit`): an int key hashes for nothing
        self._fits: dict[int, Fit] = _shared_fits(scenario)
        # a sibling group's passes depend only on its members' fits and the order asked for
        self._group_passes: dict[tuple[object, ...], tuple[tuple[int, ...], ...]] = {}

    def profile(self, c: Child, in_group: bool = False) -> Profile:
        """What the matching rules need to know about a child, now."""
        state = self.state
        return Profile(
            age=c.age(state.now),
            needs=state.needs[c.needs],
            uasc=c.uasc,
            disability=c.disability,
            in_group=in_group,
            origin=state.provision_ids[c.settled] if c.settled >= 0 else None,
        )

    def fit(self, c: Child, in_group: bool) -> Fit:
        """The provisions that may take the child, cached by profile and age step."""
        state = self.state
        now = state.now
        if not in_group and c.fit is not None and now < c.fit_until:
            return c.fit  # the child has not crossed an age at which a rule changes
        # the age step (bisect_right, by a scan: the edges are few)
        edges = self.age_edges
        age = c.age(now)
        step = 0
        while step < len(edges) and edges[step] <= age:
            step += 1
        key = ((step * self.n_needs + c.needs) * 2 + c.uasc) * 4 + c.disability * 2 + in_group
        if self.uses_origin:
            key = key * self._n_origins + c.settled + 1
        hit = self._fits.get(key)
        if hit is None:
            pr = self.profile(c, in_group=in_group)
            order = tuple(state.by_pid[pid].index for pid in preference_order(self.rules, pr))
            strict = frozenset(p.index for p in state.provisions if eligible(p.spec, pr))
            last = frozenset(p.index for p in state.provisions if only_as_last_resort(p.spec, pr))
            hit = self._fits[key] = Fit(order, strict, last)
        if not in_group:
            c.fit = hit
            c.fit_until = c.dob + edges[step] * DAYS_PER_YEAR if step < len(edges) else math.inf
        return hit

    def _passes(
        self, group: list[Child], order: list[str] | None, strict_only: bool
    ) -> tuple[tuple[int, ...], ...]:
        """Provision indices to try, in order: under the normal rules, then as a last resort."""
        if len(group) == 1 and order is None:
            plan = self.fit(group[0], False).plan
            return plan[:1] if strict_only else plan
        fits = [self.fit(c, len(group) > 1) for c in group]
        key = (*map(id, fits), None if order is None else tuple(order), strict_only)
        hit = self._group_passes.get(key)
        if hit is None:
            hit = self._group_passes[key] = self._combine(fits, order, strict_only)
        return hit

    def _combine(
        self, fits: list[Fit], order: list[str] | None, strict_only: bool
    ) -> tuple[tuple[int, ...], ...]:
        """Provisions that take every member of a group, in the first member's order."""
        by_pid = self.state.by_pid
        seq = fits[0].order if order is None else tuple(by_pid[pid].index for pid in order)
        first = tuple(i for i in seq if all(i in f.strict for f in fits))
        if strict_only:
            return (first,)
        last = tuple(
            i
            for i in seq
            if all(i in f.strict or i in f.last_resort for f in fits)
            and not all(i in f.strict for f in fits)
        )
        return (first, last)

    def find(
        self,
        group: list[Child],
        order: list[str] | None = None,
        exclude: Unit | None = None,
        strict: bool = False,
    ) -> Outcome:
        """Walk the group's preference list, best first, for a place that takes them all.

        `order` replaces the first member's own list (a planned move's destinations),
        `exclude` is a household or home not to use, and `strict` leaves out last resorts.

        Why the better options failed (`Outcome.reason`), by the provisions tried (those
        in the list whose eligibility rules, ages, needs, sibling group, disability and
        UASC, take every child of the group):

        - a provision with places (foster households, homes; an offer-type provision at its
          `max_children`) speaks first: the most preferred one tried gives the reason,
          `no_capacity` when none of its households or beds had room, `no_match` when
          one had room but the children there did not accept the newcomer, or its
          approval range (ages, needs) does not take them;
        - else, when only offer-type provisions (external market, family networks) were
          tried and all said no: `market_declined`. A provider whose refusal of a member
          still holds (`refusal_holds_days`) is not asked again: it counts as saying no,
          without a draw; a new refusal holds for every member of the group;
        - else, nothing in the list could take the child at all: `no_match`.
        """
        state = self.state
        now = state.now
        n = len(group)
        rnd = group[0].match
        sole_occupancy = state.sole_occupancy
        sole = (
            sole_occupancy[group[0].needs]
            if n == 1
            else any(sole_occupancy[c.needs] for c in group)
        )
        reason = -1  # the verdict of the first provision with places tried (see above)
        declined = False
        prov = state.provisions
        reserved = state.reserved
        # Each household with children accepts the newcomer independently, with chance
        # compatibility ** occupants. One uniform decides which is the first to accept: the
        # chance that all so far refused (`refused_all`) is walked down until it falls below
        # it. Same law as a draw per household, with one draw per search.
        u = -1.0
        refused_all = 1.0
        replay: Replay | None = None  # the uniforms of this search's refusal holds
        for candidates in self._passes(group, order, strict):
            for i in candidates:
                p = prov[i]
                why = reason if reason >= 0 else (DECLINED if declined else NO_MATCH)
                if p.is_emergency:
                    return Outcome((p, None, 0.0), why)
                if p.has_units:
                    room = False
                    for unit in p.vacant.values():
                        # unit_can_host, inlined: the hot loop
                        if unit is exclude or unit.sole_blocked:
                            continue
                        occupied = len(unit.children) + unit.staying_put
                        if (occupied or n > 1) if sole else unit.fillable - occupied < n:
                            continue
                        room = True  # a free place approved for others counts as no match
                        if unit.ranged and not unit.takes(group, now):
                            continue
                        if not occupied:
                            return Outcome((p, unit, 0.0), why)
                        if u < 0.0:
                            u = 1.0 - rnd.random()  # on (0, 1]
                        refused_all *= p.refusal(occupied)
                        if refused_all < u:
                            return Outcome((p, unit, 0.0), why)
                    if reason < 0:
                        reason = NO_MATCH if room else NO_CAPACITY
                    continue
                cap = p.max_children
                if cap >= 0 and p.children + reserved[p.index] + n > cap:
                    if reason < 0:
                        reason = NO_CAPACITY
                    continue
                market = p.market
                if market is not None and not market.has_room(n):
                    if reason < 0:
                        reason = NO_CAPACITY  # the region's pool is full
                    continue
                if p.holds_refusals and _held(group, i, now):
                    declined = True  # the provider said no, and it still holds: not asked
                    continue
                by_needs = p.offer_by_needs
                if n == 1:
                    chance = by_needs[group[0].needs]
                else:
                    base = min(by_needs[c.needs] for c in group)
                    chance = offer_probability(base, n, p.sibling_offer_factor)
                if market is not None:
                    chance *= market.offer_factor  # providers choose as the pool fills
                if rnd.random() < chance:
                    delay = draw(p.spec.offer_delay_days, rnd.random)  # type: ignore[union-attr]
                    return Outcome((p, None, delay), why)
                declined = True
                if p.holds_refusals:
                    # the refusal holds for every member of the group (one draw for them).
                    # The providers that say no in one search share its uniforms: one
                    # round of referrals, answered together, whose answers hold until the
                    # child's circumstances change (and one look again, not one per provider)
                    if replay is None:
                        replay = Replay(rnd)
                    replay.rewind()
                    until = now + draw(p.refusal_holds, replay.random)  # type: ignore[arg-type]
                    for c in group:
                        if c.holds is None:
                            c.holds = {i: until}
                        else:
                            c.holds[i] = until
        return Outcome(None, reason if reason >= 0 else (DECLINED if declined else NO_MATCH))

    def first_free_unit(self, p: ProvisionState, c: Child) -> Unit | None:
        """Where a child already in this provision at the start lives (no matching draw):
        a household not on hold and approved for them if one has room, else one on hold,
        else any with room (the child was living there already)."""
        sole = self.state.sole_occupancy[c.needs]
        other: Unit | None = None
        for units in (p.vacant.values(), p.units.values()):
            for unit in units:
                if unit_can_host(unit.fillable, unit.occupied, unit.sole_blocked, 1, sole):
                    if not unit.ranged or unit.takes([c], self.state.now):
                        return unit
                    if other is None:
                        other = unit
        return other
