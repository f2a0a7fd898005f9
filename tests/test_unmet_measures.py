"""Unmet demand as commissioners mean it: each month-end count counts what it says.

Small deterministic scenarios (no exits, no breakdowns, no moves) where the right count
is known, and a property over seeds: no count ever exceeds the children in care.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import minimal_raw, scenario_from, still
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import simulate
from sim.engine.metrics import UNMET_SETTINGS, Layout
from sim.scenario.schema import Scenario, cross_reference_errors

#: entries all aged 5-9
ONLY_5_9 = {"under_1": 0.0, "1-4": 0.0, "5-9": 1.0, "10-15": 0.0, "16-17": 0.0}


def monthly(raw: dict, years: float = 0.5, seed: int = 1) -> tuple[np.ndarray, Layout]:
    s = scenario_from(raw)
    return simulate(s, years, seed).monthly, Layout.for_scenario(s)


def test_under_11s_in_residential_are_counted_where_the_setting_is_residential() -> None:
    """Two 5-9s in an in-house home (kind home), one in an external home marked
    `residential = true` (kind offer), five in IFA foster care: 3 under-11s in residential."""
    raw = still(minimal_raw())
    raw["entries"]["per_year"] = 0.0
    raw["population"] = {
        "in_house_home": {"by_age": {"5-9": 2}},
        "external_home": {"by_age": {"5-9": 1}},
        "ifa": {"by_age": {"5-9": 5}},
    }
    raw["provision"]["external_home"]["residential"] = True
    m, L = monthly(raw)
    np.testing.assert_array_equal(m[:, L.i("under_11_in_residential", "all")], 3)
    del raw["provision"]["external_home"]["residential"]  # an offer is not residential by default
    m, L = monthly(raw)
    np.testing.assert_array_equal(m[:, L.i("under_11_in_residential", "all")], 2)


def test_under_11s_placed_in_residential_as_a_last_resort_are_counted() -> None:
    """5-9s entering care can only go to a children's home (a last resort for their age):
    every one of them in care is an under-11 in residential care."""
    raw = still(minimal_raw())
    raw["population"] = {}
    raw["entries"]["per_year"] = 12.0
    raw["entries"]["age_mix"] = ONLY_5_9
    raw["entries"]["sibling_group_size"] = {"1": 1.0}
    raw["entries"]["needs_mix"]["5-9"] = {"standard": 1.0}
    home = raw["provision"]["in_house_home"]
    home["last_resort_ages"] = {"min_age": 0}
    home["compatibility"] = 1.0
    home["homes"] = [{"name": "Big home", "beds": 40}]
    raw["matching"]["preferences"] = [{"order": ["in_house_home"]}]
    m, L = monthly(raw, years=1)
    in_home = m[:, L.i("in_care", "in_house_home")]
    assert in_home[-1] > 0  # children came (seed 1)
    # a 9-year-old may turn 11 within the year: no more than in the home, at least those
    # who entered aged 5-8 (all but a few)
    under_11 = m[:, L.i("under_11_in_residential", "all")]
    assert (under_11 <= in_home).all()
    assert under_11[-1] >= in_home[-1] - 2


def _siblings_of_three(raw: dict, places: int) -> dict:
    still(raw)
    raw["population"] = {}
    raw["entries"]["per_year"] = 6.0
    raw["entries"]["age_mix"] = ONLY_5_9
    raw["entries"]["needs_mix"]["5-9"] = {"standard": 1.0}
    raw["entries"]["sibling_group_size"] = {"3": 1.0}
    foster = raw["provision"]["in_house_foster"]
    foster["compatibility"] = 1.0
    foster["households"] = [{"count": 60, "places": places}]
    raw["matching"]["preferences"] = [{"order": ["in_house_foster"]}]
    return raw


def test_a_sibling_group_of_three_with_only_one_place_households_is_split() -> None:
    """Groups of 3, only 1-place households: every child lives apart from their siblings.
    With 3-place households each group lives together: none split."""
    m, L = monthly(_siblings_of_three(minimal_raw(), places=1), years=1)
    in_care = m[:, L.i("in_care", "total")]
    assert in_care[-1] >= 3
    np.testing.assert_array_equal(m[:, L.i("sibling_groups_split", "all")], in_care)
    assert m[:, L.i("sibling_splits", "all")].sum() == in_care[-1] / 3  # the flow, once a group
    m, L = monthly(_siblings_of_three(minimal_raw(), places=3), years=1)
    assert m[:, L.i("in_care", "total")][-1] >= 3
    assert m[:, L.i("sibling_groups_split", "all")].sum() == 0


def test_siblings_placed_together_by_a_provider_are_not_split() -> None:
    """A provider that always says yes to the whole group: siblings live together there
    (one placement, though it has no households to name), so none are split."""
    raw = _siblings_of_three(minimal_raw(), places=1)
    ifa = raw["provision"]["ifa"]
    ifa["offer_probability"] = 1.0
    ifa["sibling_offer_factor"] = 1.0
    raw["matching"]["preferences"] = [{"order": ["ifa"]}]
    m, L = monthly(raw, years=1)
    assert m[:, L.i("in_care", "ifa")][-1] >= 3
    assert m[:, L.i("sibling_groups_split", "all")].sum() == 0


def test_a_registered_emergency_placement_is_counted_as_such() -> None:
    """Children living in the fallback: registered, they are in a registered emergency
    placement and none is unregistered; unregistered, the reverse."""
    raw = still(minimal_raw())
    raw["entries"]["per_year"] = 0.0
    raw["population"] = {"emergency": {"by_age": {"10-15": 3, "16-17": 2}}}
    raw["matching"]["preferences"] = [{"order": ["emergency"]}]
    raw["provision"]["emergency"]["registered"] = True
    m, L = monthly(raw)
    np.testing.assert_array_equal(m[:, L.i("registered_emergency", "all")], 5)
    assert m[:, L.i("unregistered", "under_16")].sum() == 0
    raw["provision"]["emergency"]["registered"] = False
    m, L = monthly(raw)
    assert m[:, L.i("registered_emergency", "all")].sum() == 0
    # (seed 1: no 16-17 turns 18 within the six months)
    np.testing.assert_array_equal(
        m[:, L.i("unregistered", "under_16")] + m[:, L.i("unregistered", "16_17")], 5
    )


def _deprived(share: object, n: int = 200, seed: int = 1) -> tuple[np.ndarray, Layout]:
    raw = still(minimal_raw())
    raw["entries"]["per_year"] = 0.0
    raw["population"] = {
        "emergency": {"by_age": {"10-15": n}, "needs": {"standard": 0.5, "complex": 0.5}}
    }
    raw["matching"]["preferences"] = [{"order": ["emergency"]}]
    raw["provision"]["emergency"]["deprivation_of_liberty_share"] = share
    return monthly(raw, years=0.25, seed=seed)


def test_deprivation_of_liberty_counts_the_children_the_share_says() -> None:
    """Share 1: every child there; by needs level: only that level's; 0.3: about 30% of
    children, drawn once per placement (so the count stays put while nobody moves)."""
    m, L = _deprived(1.0)
    np.testing.assert_array_equal(m[:, L.i("deprivation_of_liberty", "all")], 200)
    m, L = _deprived({"complex": 1.0})
    dol = m[:, L.i("deprivation_of_liberty", "all")]
    # binomial(200, 0.5) complex children: within 5 standard deviations (7.1) of 100
    assert 65 <= dol[0] <= 135 and (dol == dol[0]).all()
    m, L = _deprived(0.3)
    dol = m[:, L.i("deprivation_of_liberty", "all")]
    # binomial(200, 0.3): mean 60, sd 6.5; 5 sd either side
    assert 28 <= dol[0] <= 92 and (dol == dol[0]).all()
    m, L = _deprived(0.0)
    assert m[:, L.i("deprivation_of_liberty", "all")].sum() == 0


def test_new_keys_are_checked_with_clear_errors() -> None:
    raw = minimal_raw()
    raw["provision"]["emergency"]["deprivation_of_liberty_share"] = {"extreme": 0.5}
    problems = cross_reference_errors(Scenario.model_validate(raw))
    assert any(
        "deprivation_of_liberty_share" in str(loc) and "extreme" in msg for loc, msg in problems
    )
    raw = minimal_raw()
    raw["provision"]["emergency"]["deprivation_of_liberty_share"] = 1.5
    with pytest.raises(ValueError, match="deprivation_of_liberty_share"):
        Scenario.model_validate(raw)


SETTINGS_RAW = minimal_raw()
SETTINGS_RAW["provision"]["emergency"]["deprivation_of_liberty_share"] = {
    "very_complex": 0.6,
    "complex": 0.2,
}
SETTINGS_RAW["provision"]["external_home"]["residential"] = True
SETTINGS = scenario_from(SETTINGS_RAW)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_no_count_exceeds_the_children_in_care(seed: int) -> None:
    """Each measure counts children in care, so none can exceed them at any month end."""
    r = simulate(SETTINGS, 1, seed)
    L = Layout.for_scenario(SETTINGS)
    in_care = r.monthly[:, L.i("in_care", "total")]
    for metric in UNMET_SETTINGS:
        x = r.monthly[:, L.i(metric, "all")]
        assert (x >= 0).all() and (x <= in_care).all(), metric
    unregistered = (
        r.monthly[:, L.i("unregistered", "under_16")] + r.monthly[:, L.i("unregistered", "16_17")]
    )
    assert (unregistered + r.monthly[:, L.i("registered_emergency", "all")] <= in_care).all()
