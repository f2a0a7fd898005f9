"""Unit tests of the pure matching rules (sim/matching.py), checked by hand, and of the
search that strings them together (sim/search.py) on tiny, deterministic set-ups."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import minimal_raw, scenario_from
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.child import Child
from sim.engine.draws import Uniforms
from sim.engine.matching import (
    Profile,
    acceptance_probability,
    eligible,
    offer_probability,
    only_as_last_resort,
    preference_order,
    rule_applies,
    unit_can_host,
)
from sim.engine.metrics import UNMET_REASONS
from sim.engine.model import Model
from sim.scenario.ages import DAYS_PER_YEAR
from sim.scenario.schema import (
    AgeRange,
    EmergencyProvision,
    HomeProvision,
    OfferProvision,
    PreferenceRule,
    When,
)


def home(**kw) -> HomeProvision:
    base = {
        "kind": "home",
        "needs": ["standard", "complex"],
        "location": "in_area",
        "weekly_cost": 1000.0,
    }
    return HomeProvision(**(base | kw))


def offer(**kw) -> OfferProvision:
    base = {
        "kind": "offer",
        "needs": ["standard"],
        "location": "in_area",
        "weekly_cost": 500.0,
        "offer_probability": 0.5,
    }
    return OfferProvision(**(base | kw))


def kid(age: float, needs: str = "standard", **kw) -> Profile:
    return Profile(age=age, needs=needs, **kw)


# --------------------------------------------------------------------------- preference_order

RULES = [
    PreferenceRule(name="sole", when=When(needs=["very_complex"]), order=["solo"]),
    PreferenceRule(name="uasc 16+", when=When(uasc=True, min_age=16), order=["supported"]),
    PreferenceRule(name="groups", when=When(sibling_group=True), order=["big_foster"]),
    PreferenceRule(name="disabled", when=When(disability=True, max_age=10), order=["specialist"]),
    PreferenceRule(name="teens", when=When(min_age=13, max_age=16), order=["home", "ifa"]),
    PreferenceRule(name="all", order=["foster", "ifa"]),
]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (kid(5), ["foster", "ifa"]),  # only the catch-all applies
        (kid(5, "very_complex"), ["solo"]),
        (kid(17, "very_complex", uasc=True), ["solo"]),  # the first rule that applies wins
        (kid(17, uasc=True), ["supported"]),
        (kid(16.0, uasc=True), ["supported"]),  # min_age is included
        (kid(15.999, uasc=True), ["home", "ifa"]),  # below min_age: not UASC rule
        (kid(17, uasc=False), ["foster", "ifa"]),
        (kid(4, in_group=True), ["big_foster"]),
        (kid(4, disability=True), ["specialist"]),
        (kid(10.0, disability=True), ["foster", "ifa"]),  # max_age is excluded
        (kid(9.99, disability=True), ["specialist"]),
        (kid(13.0), ["home", "ifa"]),
        (kid(16.0), ["foster", "ifa"]),
    ],
)
def test_preference_order_takes_the_first_rule_that_applies(profile: Profile, expected) -> None:
    assert preference_order(RULES, profile) == expected


def test_preference_order_of_the_minimal_scenario() -> None:
    s = scenario_from(minimal_raw())
    rules = s.matching.preferences
    assert preference_order(rules, kid(12, "very_complex")) == ["solo_home", "external_home"]
    assert preference_order(rules, kid(16.5, uasc=True)) == ["supported", "ifa"]
    # a UASC under 16 falls through to the general order
    assert preference_order(rules, kid(15, uasc=True))[0] == "kinship"
    assert preference_order(rules, kid(3))[:2] == ["kinship", "in_house_foster"]


def test_rule_applies_needs_all_conditions() -> None:
    w = When(
        min_age=5, max_age=12, needs=["complex"], uasc=False, disability=True, sibling_group=False
    )
    ok = kid(6, "complex", uasc=False, disability=True, in_group=False)
    assert rule_applies(w, ok)
    assert not rule_applies(w, kid(6, "standard", disability=True))
    assert not rule_applies(w, kid(6, "complex", uasc=True, disability=True))
    assert not rule_applies(w, kid(6, "complex", disability=False))
    assert not rule_applies(w, kid(6, "complex", disability=True, in_group=True))
    assert not rule_applies(w, kid(4.99, "complex", disability=True))
    assert not rule_applies(w, kid(12, "complex", disability=True))
    assert rule_applies(When(), kid(0.0)) and rule_applies(When(), kid(17.99, "x", uasc=True))


def test_no_rule_applies_gives_an_empty_order() -> None:
    rules = [PreferenceRule(when=When(uasc=True), order=["a"])]
    assert preference_order(rules, kid(3)) == []


# --------------------------------------------------------------------------- eligible


def test_eligible_ages_include_min_and_exclude_max() -> None:
    spec = home(ages=AgeRange(min_age=11, max_age=16))
    assert not eligible(spec, kid(10.999))
    assert eligible(spec, kid(11.0))
    assert eligible(spec, kid(15.999))
    assert not eligible(spec, kid(16.0))


def test_last_resort_ages_widen_only_when_asked() -> None:
    spec = home(ages=AgeRange(min_age=11), last_resort_ages=AgeRange(min_age=8))
    assert not eligible(spec, kid(9))
    assert eligible(spec, kid(9), last_resort=True)
    assert not eligible(spec, kid(7.99), last_resort=True)
    assert eligible(spec, kid(12), last_resort=True)  # the wider range contains the normal one
    assert only_as_last_resort(spec, kid(9))
    assert not only_as_last_resort(spec, kid(12))  # fits normally
    assert not only_as_last_resort(spec, kid(7))  # does not fit at all


def test_last_resort_without_last_resort_ages_is_the_normal_rule() -> None:
    spec = home(ages=AgeRange(min_age=11))
    assert not eligible(spec, kid(9), last_resort=True)
    assert eligible(spec, kid(11), last_resort=True)
    assert not only_as_last_resort(spec, kid(9))


def test_last_resort_does_not_relax_needs_or_flags() -> None:
    spec = home(
        ages=AgeRange(min_age=11),
        last_resort_ages=AgeRange(min_age=0),
        accepts_disability=False,
        accepts_uasc=False,
        takes_sibling_groups=False,
    )
    assert eligible(spec, kid(5), last_resort=True)
    assert not eligible(spec, kid(5, "very_complex"), last_resort=True)
    assert not eligible(spec, kid(5, disability=True), last_resort=True)
    assert not eligible(spec, kid(5, uasc=True), last_resort=True)
    assert not eligible(spec, kid(5, in_group=True), last_resort=True)


def test_eligible_needs_and_flags() -> None:
    spec = offer(needs=["standard", "complex"])
    assert eligible(spec, kid(5, "complex"))
    assert not eligible(spec, kid(5, "very_complex"))
    assert eligible(spec, kid(5, disability=True, uasc=True, in_group=True))  # all accepted
    assert not eligible(offer(accepts_disability=False), kid(5, disability=True))
    assert eligible(offer(accepts_disability=False), kid(5, disability=False))
    assert not eligible(offer(accepts_uasc=False), kid(5, uasc=True))
    assert eligible(offer(accepts_uasc=False), kid(5, uasc=False))
    assert not eligible(offer(takes_sibling_groups=False), kid(5, in_group=True))
    # a sibling alone (after a split) is not a group
    assert eligible(offer(takes_sibling_groups=False), kid(5, in_group=False))


# --------------------------------------------------------------------------- probabilities


@pytest.mark.parametrize(
    ("compatibility", "already", "expected"),
    [
        (0.8, 0, 1.0),
        (0.0, 0, 1.0),  # an empty home always accepts
        (0.8, 1, 0.8),
        (0.8, 2, 0.64),
        (0.8, 3, 0.512),
        (0.7, 5, 0.16807),
        (1.0, 4, 1.0),
        (0.0, 1, 0.0),
        (0.5, -1, 1.0),
    ],
)
def test_acceptance_probability_is_compatibility_to_the_power_k(
    compatibility: float, already: int, expected: float
) -> None:
    assert acceptance_probability(compatibility, already) == pytest.approx(expected, abs=1e-12)


@given(st.floats(0, 1), st.integers(0, 6))
def test_acceptance_probability_falls_with_each_child_already_there(c: float, k: int) -> None:
    p, q = acceptance_probability(c, k), acceptance_probability(c, k + 1)
    assert 0.0 <= q <= p <= 1.0
    if k > 0:
        assert p == pytest.approx(c**k)


@pytest.mark.parametrize(
    ("base", "n", "factor", "expected"),
    [
        (0.9, 1, 0.5, 0.9),  # one child: the base chance
        (0.9, 2, 0.5, 0.45),
        (0.9, 3, 0.5, 0.225),
        (0.2, 3, 0.8, 0.128),  # kinship in the minimal scenario, three siblings
        (0.6, 4, 1.0, 0.6),  # a factor of 1: siblings make no difference
        (0.6, 2, 0.0, 0.0),
        (0.6, 0, 0.5, 0.6),  # no negative powers
        (0.0, 1, 0.5, 0.0),
    ],
)
def test_offer_probability(base: float, n: int, factor: float, expected: float) -> None:
    assert offer_probability(base, n, factor) == pytest.approx(expected, abs=1e-12)


@given(st.floats(0, 1), st.integers(1, 8), st.floats(0, 1))
def test_offer_probability_never_rises_with_group_size(base: float, n: int, f: float) -> None:
    p, q = offer_probability(base, n, f), offer_probability(base, n + 1, f)
    assert 0.0 <= q <= p <= base


# --------------------------------------------------------------------------- unit_can_host


@pytest.mark.parametrize(
    ("places", "occupied", "blocked", "n", "sole", "expected"),
    [
        (2, 0, False, 1, False, True),
        (2, 1, False, 1, False, True),
        (2, 2, False, 1, False, False),  # full
        (3, 1, False, 2, False, True),  # a pair fits in the two free places
        (3, 2, False, 2, False, False),  # a pair does not fit in one
        (4, 0, False, 4, False, True),
        (1, 0, False, 1, True, True),  # a sole child in an empty single
        (3, 0, False, 1, True, True),  # ... or an empty larger home
        (3, 1, False, 1, True, False),  # never with someone already there
        (3, 0, False, 2, True, False),  # never together with a sibling
        (3, 1, True, 1, False, False),  # a sole child lives here: nobody else
        (3, 0, True, 1, True, False),
    ],
)
def test_unit_can_host(
    places: int, occupied: int, blocked: bool, n: int, sole: bool, expected: bool
) -> None:
    assert unit_can_host(places, occupied, blocked, n, sole) is expected


@given(st.integers(1, 6), st.integers(0, 6), st.booleans(), st.integers(1, 6), st.booleans())
def test_unit_can_host_never_overfills(
    places: int, occupied: int, blocked: bool, n: int, sole: bool
) -> None:
    if unit_can_host(places, occupied, blocked, n, sole):
        assert occupied + n <= places
        assert not blocked
        if sole:
            assert occupied == 0 and n == 1
        if n > 1:  # a smaller group fits wherever a larger one does
            assert unit_can_host(places, occupied, blocked, n - 1, sole)


# --------------------------------------------------------------------------- the search


def search_model(**changes) -> Model:
    """The minimal scenario, no entries and nobody in care, one 3-bed home only."""
    raw = minimal_raw()
    raw["entries"]["per_year"] = 0.0
    raw["entries"]["uasc"]["per_year"] = 0.0
    raw["population"] = {}
    p = raw["provision"]
    p["in_house_foster"]["households"] = []
    p["in_house_foster"]["recruitment_per_year"] = 0.0
    p["in_house_home"]["homes"] = [{"name": "Home A", "beds": 3}]
    p["solo_home"]["homes"] = []
    p["kinship"]["offer_probability"] = 0.0
    p["ifa"]["offer_probability"] = 0.0
    p["external_home"]["offer_probability"] = 1.0
    p["external_home"]["offer_delay_days"] = {"dist": "fixed", "value": 0}
    p["supported"]["offer_probability"] = 0.0
    for path, value in changes.items():
        node = raw
        *head, last = path.split("/")
        for key in head:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return Model(scenario_from(raw), 1.0, 0)


def child(m: Model, age: float, needs: str = "standard", cid: int = 10_000) -> Child:
    return Child(
        cid,
        -age * DAYS_PER_YEAR,
        0.0,
        m.state.needs.index(needs),
        False,
        False,
        Uniforms(np.random.default_rng(cid)),
    )


def test_search_tries_normal_rules_before_last_resort() -> None:
    # a 9-year-old: in_house_home (11+, 8+ as a last resort) and external_home (11+, any
    # age as a last resort) take them only as a last resort; nothing else can
    m = search_model()
    out = m.search.find([child(m, 9)])
    assert out.found is not None
    assert out.found[0].pid == "in_house_home"  # first last-resort option in the order
    # a normal option, even later in the order than the home, comes first: ifa says yes
    m = search_model(**{"provision/ifa/offer_probability": 1.0})
    assert m.search.find([child(m, 9)]).found[0].pid == "ifa"


def test_search_last_resort_respects_the_last_resort_ages() -> None:
    m = search_model()
    out = m.search.find([child(m, 7)])  # too young even for the home's last resort
    assert out.found is not None and out.found[0].pid == "external_home"


def test_search_explains_why_nothing_was_found() -> None:
    # only offers in the list (kinship, ifa, external home, supported), all say no:
    # market declined
    m = search_model(
        **{
            "provision/external_home/offer_probability": 0.0,
            "matching/preferences/2/order": ["kinship", "ifa", "external_home", "supported"],
        }
    )
    out = m.search.find([child(m, 12)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "market_declined"
    # no offers asked for (needs not met by any offer), no places: no capacity
    m = search_model(
        **{
            "provision/in_house_home/homes": [],
            "provision/external_home/needs": ["complex"],
            "provision/kinship/needs": ["complex"],
            "provision/ifa/needs": ["complex"],
            "provision/supported/needs": ["complex"],
        }
    )
    out = m.search.find([child(m, 12)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_capacity"


def test_search_says_no_capacity_when_a_full_place_came_before_the_declines() -> None:
    # kinship says no, in-house foster carers (no households) and the home (no homes) have
    # no room, ifa and the external home say no: the in-house places came first among
    # those with places, so there was no capacity (before: recorded as market_declined)
    m = search_model(
        **{"provision/external_home/offer_probability": 0.0, "provision/in_house_home/homes": []}
    )
    out = m.search.find([child(m, 12)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_capacity"
    # the same with a full home: one bed, taken
    m = search_model(
        **{
            "provision/external_home/offer_probability": 0.0,
            "provision/in_house_home/homes": [{"name": "Home A", "beds": 1}],
        }
    )
    home_p = m.state.by_pid["in_house_home"]
    home_p.add_child(0.0, child(m, 12, cid=1), next(iter(home_p.units.values())), sole=False)
    out = m.search.find([child(m, 12, cid=2)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_capacity"


def test_search_says_no_capacity_when_a_capped_provider_is_full() -> None:
    # supported accommodation would offer, but it holds its max_children already
    m = search_model(
        **{
            "provision/supported/offer_probability": 1.0,
            "provision/supported/max_children": 0,
            "provision/kinship/offer_probability": 0.0,
            "matching/preferences/2/order": ["supported", "kinship"],
        }
    )
    out = m.search.find([child(m, 16.5)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_capacity"


def test_search_says_no_match_when_nothing_in_the_list_takes_the_child() -> None:
    # a 12-year-old and a list of provisions for 16-17s only (before: no_capacity)
    m = search_model(**{"matching/preferences/2/order": ["supported"]})
    out = m.search.find([child(m, 12)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_match"
    # the same through `order` (a planned move's destinations)
    m = search_model()
    out = m.search.find([child(m, 12)], order=["supported"], strict=True)
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_match"


def test_search_reason_is_that_of_the_first_provision_with_places() -> None:
    # the home (first) has room but nobody there accepts; in-house foster (second) has
    # no households: the most preferred provision with places gives the reason
    m = search_model(
        **{
            "provision/in_house_home/compatibility": 0.0,
            "provision/external_home/offer_probability": 0.0,
            "matching/preferences/2/order": ["in_house_home", "in_house_foster", "ifa"],
        }
    )
    home_p = m.state.by_pid["in_house_home"]
    home_p.add_child(0.0, child(m, 12, cid=1), next(iter(home_p.units.values())), sole=False)
    out = m.search.find([child(m, 12, cid=2)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_match"
    # the other way round: no capacity first
    m = search_model(
        **{
            "provision/in_house_home/compatibility": 0.0,
            "provision/external_home/offer_probability": 0.0,
            "matching/preferences/2/order": ["in_house_foster", "in_house_home", "ifa"],
        }
    )
    home_p = m.state.by_pid["in_house_home"]
    home_p.add_child(0.0, child(m, 12, cid=1), next(iter(home_p.units.values())), sole=False)
    out = m.search.find([child(m, 12, cid=2)])
    assert UNMET_REASONS[out.reason] == "no_capacity"


def test_search_finds_no_match_when_nobody_is_compatible() -> None:
    m = search_model(
        **{
            "provision/in_house_home/compatibility": 0.0,
            "provision/external_home/offer_probability": 0.0,
            "matching/preferences/2/order": ["kinship", "in_house_home", "external_home"],
        }
    )
    first = child(m, 12, cid=1)
    home_p = m.state.by_pid["in_house_home"]
    unit = next(iter(home_p.units.values()))
    home_p.add_child(0.0, first, unit, sole=False)  # somebody lives there already
    out = m.search.find([child(m, 12, cid=2)])
    assert out.found is None
    assert UNMET_REASONS[out.reason] == "no_match"


def test_search_keeps_a_sole_occupancy_child_alone() -> None:
    m = search_model(
        **{
            "provision/in_house_home/needs": ["standard", "complex", "very_complex"],
            "matching/preferences/0/order": ["in_house_home"],
        }
    )
    home_p = m.state.by_pid["in_house_home"]
    unit = next(iter(home_p.units.values()))
    assert m.search.find([child(m, 12, "very_complex")]).found[1] is unit
    home_p.add_child(0.0, child(m, 12, cid=1), unit, sole=False)
    # one of three beds taken: the very complex child cannot share, so the fallback
    out = m.search.find([child(m, 12, "very_complex", cid=2)])
    assert out.found is None


def test_search_emergency_in_an_order_takes_anyone_in_it() -> None:
    m = search_model(**{"matching/preferences/2/order": ["emergency"]})
    out = m.search.find([child(m, 4)])
    assert out.found is not None and out.found[0].pid == "emergency"
    assert isinstance(out.found[0].spec, EmergencyProvision)
    assert math.isclose(out.found[2], 0.0)
