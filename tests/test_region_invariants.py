"""Property tests of a region: invariants that hold for any market and any seed.

Each example draws two councils (variations of `tests/data/minimal.toml`), a market with
few places, a starting occupancy, outside demand and a response table, links external
homes, IFAs and (capped) supported accommodation to pools, and runs the region's
replication with a checker process that looks at every day:

- a pool's occupancy is exactly its councils' children in the linked provisions, young
  adults staying put there, their offers on their way, and the outside councils'
  placements;
- once the councils' starting children are no more than the places, it never exceeds them;
- every council's children are where its provisions say (none lost, none counted twice);
- a pooled provision's month's cost is its children's days times price times the price
  factors their placements started at (at most the table's top factor, at least its
  lowest).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from conftest import minimal_raw, scenario_from
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.region import RegionModel
from sim.scenario.region import RegionFile

EXAMPLES = int(os.environ.get("SIM_EXAMPLES", "25"))


def _council(entries: float, offer: float) -> Any:
    raw = minimal_raw()
    raw["entries"]["per_year"] = entries
    raw["provision"]["external_home"]["offer_probability"] = {
        "standard": offer,
        "complex": offer,
        "very_complex": offer / 2,
    }
    return scenario_from(raw)


@st.composite
def regions(draw: Any) -> tuple[RegionFile, dict[str, Any], int]:
    places = draw(st.integers(1, 12))
    rows = sorted(set(draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))))
    response = [
        {
            "occupancy": x,
            "offer_factor": draw(st.floats(0.0, 1.0)),
            "price_factor": draw(st.floats(0.5, 2.0)),
        }
        for x in rows
    ]
    link = {"external_home": "homes", "ifa": "agency", "supported": "agency"}
    spec = RegionFile.model_validate(
        {
            "region": {"name": "property"},
            "councils": {
                "a": {"scenario": "a.toml", "market": link},
                "b": {"scenario": "b.toml", "market": link},
            },
            "market": {
                "homes": {
                    "places": places,
                    "occupied_at_start": draw(st.floats(0.0, 1.0)),
                    "outside_placements_per_year": draw(st.sampled_from([0.0, 5.0, 40.0])),
                    "outside_stay_days": {"dist": "exponential", "mean": 120},
                    "response": response,
                },
                "agency": {"places": draw(st.integers(1, 30))},
            },
        }
    )
    scenarios = {
        "a": _council(draw(st.sampled_from([20.0, 60.0])), draw(st.floats(0.1, 1.0))),
        "b": _council(draw(st.sampled_from([20.0, 60.0])), draw(st.floats(0.1, 1.0))),
    }
    return spec, scenarios, draw(st.integers(0, 2**31 - 1))


def _check_every_day(model: RegionModel, problems: list[str]) -> Any:
    """A process that checks the invariants once a day (reads state only)."""
    env = model.env
    start_over: dict[str, bool] = {name: m.occupied > m.places for name, m in model.markets.items()}
    while True:
        yield env.timeout(1.0)
        for name, market in model.markets.items():
            market.sync()  # count out the outside placements that have ended by now
            linked = 0
            for placing, provision in market.members:
                linked += provision.children + provision.staying_put
                linked += placing.state.reserved[provision.index]
            if market.occupied != linked + market.outside:
                problems.append(
                    f"day {env.now}: {name} occupied {market.occupied} != {linked} + "
                    f"{market.outside}"
                )
            if market.occupied > market.places and not start_over[name]:
                problems.append(f"day {env.now}: {name} {market.occupied} > {market.places}")
            if market.occupied <= market.places:
                start_over[name] = False  # from here on, never over again
        for cname, council in model.councils.items():
            state = council.state
            placed = sum(p.children for p in state.provisions)
            if placed != len(state.children):
                problems.append(f"day {env.now}: {cname} {placed} placed != {len(state.children)}")


@settings(max_examples=EXAMPLES, deadline=None)
@given(regions())
def test_region_invariants(example: tuple[RegionFile, dict[str, Any], int]) -> None:
    spec, scenarios, seed = example
    model = RegionModel(spec, scenarios, 2, np.random.SeedSequence(seed))
    problems: list[str] = []
    model.env.process(_check_every_day(model, problems))
    result = model.run()
    model.release()
    assert not problems, problems[:5]
    lo = min(r.price_factor for r in spec.market["homes"].response)
    hi = max(r.price_factor for r in spec.market["homes"].response)
    for name, res in result.councils.items():
        s = scenarios[name]
        layout_i = {g: i for i, g in enumerate(model.councils[name].state.layout.series)}
        days = res.monthly[:, layout_i[("child_days", "external_home")]]
        cost = res.monthly[:, layout_i[("cost", "external_home")]]
        base = s.provision["external_home"].weekly_cost / 7.0
        # the pooled cost lies between the days at the lowest and the highest factor
        assert np.all(cost <= days * base * hi * (1 + 1e-9) + 1e-6)
        assert np.all(cost >= days * base * lo * (1 - 1e-9) - 1e-6)
