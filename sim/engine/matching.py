"""Matching rules as pure functions over plain data.

Nothing here knows about SimPy or random streams: a rule takes a child's profile and a
provision's terms and answers yes or no, so every rule can be tested on its own. The
search that strings the rules together lives in `search.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.schema import PreferenceRule, ProvisionBase, When


@dataclass(frozen=True, slots=True)
class Profile:
    """What matching needs to know about a child."""

    age: float
    needs: str
    uasc: bool = False
    disability: bool = False
    in_group: bool = False
    #: the provision the child is moving on from (`When.from_`); None entering care
    origin: str | None = None


def rule_applies(when: When, p: Profile) -> bool:
    """Does a rule's `when` (ages, needs, UASC, disability, group, where the child comes
    from) cover this child?"""
    if when.from_ is not None and p.origin not in when.from_:
        return False  # a child entering care (origin None) is never in the list
    if when.entering is not None and when.entering != (p.origin is None):
        return False
    if not when.min_age <= p.age < when.max_age:
        return False
    if when.needs is not None and p.needs not in when.needs:
        return False
    if when.uasc is not None and when.uasc != p.uasc:
        return False
    if when.disability is not None and when.disability != p.disability:
        return False
    return when.sibling_group is None or when.sibling_group == p.in_group


def preference_order(
    rules: tuple[PreferenceRule, ...] | list[PreferenceRule], p: Profile
) -> list[str]:
    """The provisions to try, best first: the order of the first rule that applies."""
    for rule in rules:
        if rule_applies(rule.when, p):
            return rule.order
    return []  # unreachable for a validated scenario: the last rule is a catch-all


def eligible(spec: ProvisionBase, p: Profile, last_resort: bool = False) -> bool:
    """Can this provision take this child at all (before looking for a vacancy)?

    `last_resort` widens the ages to `last_resort_ages` where the provision has them: the
    rule "no under-11s in residential care unless nothing else is available".
    """
    ages = spec.last_resort_ages if (last_resort and spec.last_resort_ages) else spec.ages
    if not ages.min_age <= p.age < ages.max_age:
        return False
    if p.needs not in spec.needs:
        return False
    if p.disability and not spec.accepts_disability:
        return False
    if p.uasc and not spec.accepts_uasc:
        return False
    return not (p.in_group and not spec.takes_sibling_groups)


def only_as_last_resort(spec: ProvisionBase, p: Profile) -> bool:
    """True when the child fits this provision only under its last-resort ages."""
    return (
        spec.last_resort_ages is not None
        and not eligible(spec, p)
        and eligible(spec, p, last_resort=True)
    )


def acceptance_probability(compatibility: float, children_already_there: int) -> float:
    """Chance a new child is matched into a home or household that already has children.

    Each child already there must be compatible with the newcomer, so the last beds of a
    home are the hardest to fill (the 4th or 5th bed problem in the Durham strategy).
    """
    if children_already_there <= 0:
        return 1.0
    return compatibility**children_already_there


def unit_can_host(
    places: int, occupied: int, sole_blocked: bool, group_size: int, sole: bool
) -> bool:
    """Is there room in one household or home for a group, respecting sole occupancy?"""
    if sole_blocked:
        return False
    if sole:
        return occupied == 0 and group_size == 1
    return places - occupied >= group_size


def offer_probability(base: float, group_size: int, sibling_factor: float) -> float:
    """A provider's chance of offering a place to a group: each extra sibling lowers it."""
    return base * sibling_factor ** max(0, group_size - 1)
