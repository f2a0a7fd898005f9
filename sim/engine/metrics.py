"""Monthly and yearly figures of one replication, kept as arrays while simulating.

A replication produces one row per month of every series (metric, group); nothing is
logged per event unless asked. The layout depends only on the scenario, so replications
of one scenario stack into a (replications, months, series) array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..scenario.schema import Scenario

#: Why a child is not suitably placed.
UNMET_REASONS = ("no_capacity", "no_match", "market_declined", "awaiting_offer")
#: Kinds of move between placements.
MOVE_KINDS = (
    "breakdown",
    "planned",
    "provision_closed",
    "found_suitable",
    "offer_arrived",
    "needs_changed",  # the child's needs changed beyond what their placement takes
)
#: Directions of a change of needs level: levels are ordered as the scenario lists them.
NEEDS_CHANGES = ("up", "down")
LOCATIONS = ("in_area", "within_20_miles", "beyond_20_miles")
#: Children in an unregistered placement (a provision with `registered = false`) at a month
#: end, by age: under-16s there are unlawfully placed (banned since 2021 [domain.md]).
UNREGISTERED_AGES = ("under_16", "16_17")
#: Children counted at each month end in a setting commissioners report as unmet demand
#: (one series each, group "all"): a registered emergency placement; deprived of their
#: liberty (a secure order or a deprivation-of-liberty order: the provision's
#: `deprivation_of_liberty_share`); living apart from a sibling in care; under 11 in a
#: residential setting. Placed out of area and over 20 miles away are `in_care_by_location`.
UNMET_SETTINGS = (
    "registered_emergency",
    "deprivation_of_liberty",
    "sibling_groups_split",
    "under_11_in_residential",
)
YEARLY = ("children_in_care_at_year_end", "children_3plus_placements", "share_3plus_placements")


@dataclass(frozen=True)
class Layout:
    """Names and positions of the series of a scenario."""

    series: tuple[tuple[str, str], ...]
    index: dict[tuple[str, str], int] = field(compare=False, repr=False)

    @classmethod
    def for_scenario(cls, s: Scenario) -> Layout:
        """The series of a scenario, in a fixed order (its provisions, exits, reasons)."""
        pids = list(s.provision)
        unit_pids = [p for p, spec in s.provision.items() if spec.kind in ("foster", "home")]
        foster = [p for p, spec in s.provision.items() if spec.kind == "foster"]
        exits = [*s.exits, "age_18"]
        names: list[tuple[str, str]] = []
        names += [("in_care", "total")]
        names += [("in_care", p) for p in pids]
        names += [("in_care_by_location", loc) for loc in LOCATIONS]
        names += [("child_days", p) for p in pids]
        names += [("cost", p) for p in pids]
        names += [("cost", "staying_put"), ("cost", "total")]
        names += [("places", p) for p in unit_pids]
        names += [("vacancies", p) for p in unit_pids]
        names += [("households", p) for p in foster]
        names += [("recruited", p) for p in foster]
        names += [("deregistered", p) for p in foster]
        # places in households on hold at the month end: approved, not usable for now
        names += [("places_on_hold", p) for p in foster]
        names += [("entries", "all"), ("entries", "uasc")]
        names += [("exits", r) for r in exits]
        names += [("exits", "total")]
        names += [("unmet_children", r) for r in UNMET_REASONS]
        names += [("unmet_children", "total")]
        names += [("unmet_child_days", r) for r in UNMET_REASONS]
        names += [("unmet_child_days", "total")]
        names += [("unmet_new", r) for r in UNMET_REASONS]
        names += [("moves", k) for k in MOVE_KINDS]
        names += [("moves", "total")]
        names += [("sibling_splits", "all"), ("staying_put", "all"), ("uasc_in_care", "all")]
        # children being searched for at the month end: not suitably placed, whether in
        # the fallback, an unsuitable placement or waiting there for a provider's offer
        names += [("waiting_for_placement", "all")]
        names += [("unregistered", a) for a in UNREGISTERED_AGES]
        names += [(m, "all") for m in UNMET_SETTINGS]
        # changes of needs level in the month, and children in care by needs at its end
        names += [("needs_changed", d) for d in NEEDS_CHANGES]
        names += [("in_care_by_needs", n) for n in s.needs]
        if s.after_care:
            # payments after care (SGO, adoption, Staying Close): people receiving each at
            # the month end, its cost in the month, and the cost of all of them; `cost_all`
            # is the placements' `cost/total` plus after care. Only in scenarios that set
            # `[after_care]`, so other scenarios' series are as they were.
            routes = list(s.after_care)
            names += [("after_care", r) for r in routes]
            names += [("after_care_cost", r) for r in routes]
            names += [("after_care_cost", "total"), ("cost_all", "total")]
        # supply over time, only for the provisions that use it (other scenarios' series
        # are as they were): initial enquiries of a foster pipeline (its approvals are
        # `recruited`); homes closed at random and beds cut after inspections
        names += [
            ("enquiries", p)
            for p, spec in s.provision.items()
            if spec.kind == "foster" and spec.enquiries_per_year is not None  # type: ignore[union-attr]
        ]
        for p, spec in s.provision.items():
            if spec.kind != "home":
                continue
            if spec.closure_per_year > 0 or any(h.closure_per_year for h in spec.homes):  # type: ignore[union-attr]
                names += [("homes_closed_at_random", p)]
            if spec.inspection_bed_cut_per_year > 0:  # type: ignore[union-attr]
                names += [("beds_cut", p)]
        return cls(series=tuple(names), index={n: i for i, n in enumerate(names)})

    def __len__(self) -> int:
        return len(self.series)

    def i(self, metric: str, group: str) -> int:
        """Position of the series (metric, group): looked up once, then indexed."""
        return self.index[(metric, group)]

    def columns(self, metric: str) -> list[tuple[str, int]]:
        """(group, position) of every series of one metric, in layout order."""
        return [(g, i) for i, (m, g) in enumerate(self.series) if m == metric]


@dataclass
class ReplicationResult:
    """What one replication hands back: small arrays only."""

    monthly: np.ndarray  # (months, series)
    yearly: np.ndarray  # (years, len(YEARLY))
    events: list[tuple] | None = None
    n_events: int = 0
    child_years: float = 0.0
