"""Age bands and age arithmetic.

The bands are the DfE statistical bands used in every published table and in the
SSDA903-based returns, so scenario files and outputs speak the same language as the
national statistics. Ages are in years; simulation time is in days.
"""

from __future__ import annotations

from typing import Final

# Final: the compiled build (setup.py) uses them as constants, not as module look-ups
DAYS_PER_YEAR: Final = 365.25

#: DfE age bands: name -> [lower, upper) in years.
AGE_BANDS: dict[str, tuple[float, float]] = {
    "under_1": (0.0, 1.0),
    "1-4": (1.0, 5.0),
    "5-9": (5.0, 10.0),
    "10-15": (10.0, 16.0),
    "16-17": (16.0, 18.0),
}
BAND_NAMES: tuple[str, ...] = tuple(AGE_BANDS)
BAND_EDGES: tuple[float, ...] = (1.0, 5.0, 10.0, 16.0)

#: Age at which every child leaves care.
ADULT_AGE: Final = 18.0


def band_index(age_years: float) -> int:
    """Index into BAND_NAMES for an age in years (ages of 18+ map to the last band)."""
    if age_years < 1.0:
        return 0
    if age_years < 5.0:
        return 1
    if age_years < 10.0:
        return 2
    if age_years < 16.0:
        return 3
    return 4


def band_of(age_years: float) -> str:
    """The name of the age band ('under_1', '1-4', ..., '16-17') that `age_years` falls in."""
    return BAND_NAMES[band_index(age_years)]
