"""Unmet demand as commissioners mean it: what each measure counts, and whether it is lawful.

One table for every output that shows these measures (the run report's summary.md, and
`compare`'s summary.md, HTML report and workbook), so a measure is defined once and reads
the same everywhere. Each measure is a count of children at a month end, read from the
month-end series of `sim.engine.metrics` (out of area and over 20 miles from
`in_care_by_location`, not series of their own). A child may count on more than one line.

Pure data and no numpy: the command line may read it to list the measures `--rank-by`
accepts without loading the simulation.
"""

from __future__ import annotations

from typing import NamedTuple


class CommissionerMeasure(NamedTuple):
    """One kind of unmet demand: its key, words for people, and the series it sums."""

    key: str
    #: the row label in tables ("Deprived of liberty")
    label: str
    #: what it counts, in a phrase for a table's "What it counts" column
    definition: str
    #: whether such a placement is unlawful, in a phrase ("no", "yes: banned since 2021")
    unlawful: str
    #: (metric, group) month-end series whose sum is the measure
    series: tuple[tuple[str, str], ...]
    #: the measure inside a sentence ("children deprived of their liberty")
    short: str
    #: a board must hear when an option changes it: the placement is unlawful, or lawful
    #: only by a court's order (`compare`'s sentences name it when it moves in >9 runs in 10)
    in_sentences: bool = False


COMMISSIONER_MEASURES: tuple[CommissionerMeasure, ...] = (
    CommissionerMeasure(
        "waiting_for_placement",
        "Waiting for a placement",
        "not suitably placed and still being searched for (in the fallback, an unsuitable "
        "placement, or waiting there for a provider's offer)",
        "no",
        (("waiting_for_placement", "all"),),
        "children waiting for a placement",
    ),
    CommissionerMeasure(
        "unregistered_under_16",
        "Under-16s in unregistered placements",
        "living in a provision marked registered = false, under 16",
        "yes: banned since 2021",
        (("unregistered", "under_16"),),
        "under-16s in unregistered (unlawful) placements",
        in_sentences=True,
    ),
    CommissionerMeasure(
        "unregistered_16_17",
        "16-17s in unregistered placements",
        "living in a provision marked registered = false, aged 16 or 17",
        "unlawful where it is supported accommodation whose provider has not applied to "
        "Ofsted (since 28 October 2023 [facts §9]); an unregistered home giving care is "
        "unlawful for its provider at any age",
        (("unregistered", "16_17"),),
        "16-17s in unregistered placements",
    ),
    CommissionerMeasure(
        "registered_emergency",
        "Registered emergency placements",
        "living in the emergency fallback where it is registered",
        "no",
        (("registered_emergency", "all"),),
        "children in registered emergency placements",
    ),
    CommissionerMeasure(
        "deprivation_of_liberty",
        "Deprived of liberty",
        "secure order or deprivation-of-liberty order: the provision's "
        "deprivation_of_liberty_share of the children placed there",
        "no (lawful only by court order)",
        (("deprivation_of_liberty", "all"),),
        "children deprived of their liberty",
        in_sentences=True,
    ),
    CommissionerMeasure(
        "placed_out_of_area",
        "Placed out of area",
        "living in a provision outside the council's area",
        "no",
        (("in_care_by_location", "within_20_miles"), ("in_care_by_location", "beyond_20_miles")),
        "children placed out of area",
    ),
    CommissionerMeasure(
        "placed_over_20_miles",
        "Placed more than 20 miles away",
        "living in a provision beyond 20 miles",
        "no",
        (("in_care_by_location", "beyond_20_miles"),),
        "children placed more than 20 miles away",
    ),
    CommissionerMeasure(
        "sibling_groups_split",
        "Living apart from a sibling",
        "in care with a sibling in care in a different household, home or placement",
        "no",
        (("sibling_groups_split", "all"),),
        "children living apart from a sibling",
    ),
    CommissionerMeasure(
        "under_11_in_residential",
        "Under-11s in residential care",
        "under 11 in a residential setting (kind home, or residential = true)",
        "no",
        (("under_11_in_residential", "all"),),
        "under-11s in residential care",
    ),
)

#: The same measures by key.
BY_KEY: dict[str, CommissionerMeasure] = {m.key: m for m in COMMISSIONER_MEASURES}
#: The group of `compare`'s METRICS these measures form, shown in a section of their own.
UNMET_SETTING = "unmet_setting"
#: The title of that section in every report.
SECTION_TITLE = "Unmet demand as commissioners mean it"
