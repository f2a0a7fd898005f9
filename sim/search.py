"""The search for a placement: walk the child's preference list, best first.

The progressive approach as a loop over data: for each provision in the child's order,
check the eligibility rules for every child in the group, then look for a household or
home with room whose children accept the newcomer, or ask the provider for an offer. If
nothing in the list takes the child under the normal rules, provisions that allow
younger children as a last resort are tried. What failed is remembered, so unmet demand
can be explained: no capacity, capacity but no match, or the market said no.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .draws import draw
from .matching import (
    acceptance_probability,
    eligible,
    offer_probability,
    preference_order,
    unit_can_host,
)
from .metrics import UNMET_REASONS

if TYPE_CHECKING:
    from .child import Child
    from .model import Model
    from .provision import ProvisionState, Unit

NO_CAPACITY = UNMET_REASONS.index("no_capacity")
NO_MATCH = UNMET_REASONS.index("no_match")
DECLINED = UNMET_REASONS.index("market_declined")


@dataclass(slots=True)
class Outcome:
    #: (provision, household/home or None, days until the offer comes) or None
    found: tuple[ProvisionState, Unit | None, float] | None
    #: why the better options failed (an index into UNMET_REASONS)
    reason: int


class Search:
    def __init__(self, model: Model) -> None:
        self.m = model
        self.rules = model.s.matching.preferences

    def find(
        self,
        group: list[Child],
        order: list[str] | None = None,
        exclude: Unit | None = None,
        strict: bool = False,
    ) -> Outcome:
        m = self.m
        n = len(group)
        profiles = [m.profile(c, in_group=n > 1) for c in group]
        if order is None:
            order = preference_order(self.rules, profiles[0])
        rnd = group[0].match
        sole = any(m.sole[c.needs] for c in group)
        saw_capacity = declined = False
        for last_resort in (False,) if strict else (False, True):
            for pid in order:
                p = m.by_pid[pid]
                spec = p.spec
                if last_resort:
                    if spec.last_resort_ages is None:
                        continue
                    if not all(eligible(spec, pr, last_resort=True) for pr in profiles):
                        continue
                    if all(eligible(spec, pr) for pr in profiles):
                        continue  # already tried under the normal rules
                elif not all(eligible(spec, pr) for pr in profiles):
                    continue
                reason = NO_MATCH if saw_capacity else (DECLINED if declined else NO_CAPACITY)
                if p.kind == "emergency":
                    return Outcome((p, None, 0.0), reason)
                if p.has_units:
                    for unit in p.vacant.values():
                        if unit is exclude or not unit_can_host(
                            unit.places, unit.occupied, unit.sole_blocked, n, sole
                        ):
                            continue
                        saw_capacity = True
                        if rnd.random() < acceptance_probability(spec.compatibility, unit.occupied):
                            return Outcome((p, unit, 0.0), reason)
                    continue
                cap = spec.max_children  # type: ignore[union-attr]
                if cap is not None and p.children + m.reserved[p.index] + n > cap:
                    continue
                prob = spec.offer_probability  # type: ignore[union-attr]
                base = (
                    min(prob.get(m.needs[c.needs], 0.0) for c in group)
                    if isinstance(prob, dict)
                    else prob
                )
                if rnd.random() < offer_probability(base, n, spec.sibling_offer_factor):  # type: ignore[union-attr]
                    delay = draw(spec.offer_delay_days, rnd.random)  # type: ignore[union-attr]
                    return Outcome((p, None, delay), reason)
                declined = True
        return Outcome(None, NO_MATCH if saw_capacity else (DECLINED if declined else NO_CAPACITY))

    def first_free_unit(self, p: ProvisionState, c: Child) -> Unit | None:
        """Where a child already in this provision at the start lives (no matching draw)."""
        sole = self.m.sole[c.needs]
        for unit in p.vacant.values():
            if unit_can_host(unit.places, unit.occupied, unit.sole_blocked, 1, sole):
                return unit
        return None
