"""Rates from censored spells: piecewise-constant hazards, their intervals, two-factor fits.

A child's time in a placement is cut at age-band and time-in-care boundaries into pieces
of exposure; a hazard in a cell (say return home, aged 5-9, in the first year of care) is
the number of such events over the years at risk in that cell. This is the maximum
likelihood estimate of a piecewise-exponential survival model, and it uses censored spells
(children still in care at the end of the data) correctly, which the mean of completed
spells does not.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..scenario.ages import BAND_EDGES, BAND_NAMES, DAYS_PER_YEAR


@dataclass(frozen=True, slots=True)
class Piece:
    """Exposure: `years` spent in `provision`, age band `band`, time-in-care step `tic`."""

    provision: str
    band: int
    tic: int
    years: float
    age: float  # age at the middle of the piece, for rules with other age limits
    care_years: float  # time in care at the middle of the piece, for each route's own steps


def split_exposure(
    provision: str,
    start: float,
    end: float,
    dob: float,
    care_start: float,
    tic_edges: Sequence[float],
) -> list[Piece]:
    """Cut the spell [start, end) (days) at age-band and time-in-care boundaries."""
    cuts = {start, end}
    for edge in BAND_EDGES:
        t = dob + edge * DAYS_PER_YEAR
        if start < t < end:
            cuts.add(t)
    for edge in tic_edges:
        t = care_start + edge * DAYS_PER_YEAR
        if start < t < end:
            cuts.add(t)
    times = sorted(cuts)
    out = []
    for a, b in itertools.pairwise(times):
        mid = (a + b) / 2
        age = (mid - dob) / DAYS_PER_YEAR
        band = band_index(age)
        care_years = (mid - care_start) / DAYS_PER_YEAR
        tic = bisect.bisect_right(tic_edges, care_years)
        out.append(Piece(provision, band, tic, (b - a) / DAYS_PER_YEAR, age, care_years))
    return out


def band_index(age: float) -> int:
    """The index of the age band (`BAND_NAMES`) that `age` years falls in (18+: the last)."""
    return min(len(BAND_NAMES) - 1, bisect.bisect_right(BAND_EDGES, age))


def poisson_interval(events: float, exposure: float, level: float = 0.9) -> tuple[float, float]:
    """Exact (Garwood) interval for a rate of `events` over `exposure` years."""
    if exposure <= 0:
        return (float("nan"), float("nan"))
    a = (1 - level) / 2
    low = stats.chi2.ppf(a, 2 * events) / 2 if events > 0 else 0.0
    high = stats.chi2.ppf(1 - a, 2 * events + 2) / 2
    return (low / exposure, high / exposure)


def binomial_interval(k: int, n: int, level: float = 0.9) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = stats.norm.ppf(1 - (1 - level) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_factor_rates(
    events: np.ndarray, exposure: np.ndarray, iterations: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Fit rate[i, j] = a[i] * b[j] to Poisson counts by iterative proportional fitting.

    The maximum likelihood fit of a log-linear Poisson model with two factors (e.g. age
    band and time-in-care step); `b` is scaled so that its exposure-weighted mean is 1.
    Rows or columns with no exposure get a = 0 or b = 1.
    """
    a = np.ones(events.shape[0])
    b = np.ones(events.shape[1])
    row_e, col_e = events.sum(axis=1), events.sum(axis=0)
    for _ in range(iterations):
        denom = exposure @ b
        a = np.divide(row_e, denom, out=np.zeros_like(a), where=denom > 0)
        denom = a @ exposure
        b_new = np.divide(col_e, denom, out=np.ones_like(b), where=denom > 0)
        if np.allclose(b_new, b, rtol=1e-10, atol=1e-12):
            b = b_new
            break
        b = b_new
    weights = exposure.sum(axis=0)
    scale = (b * weights).sum() / weights.sum() if weights.sum() > 0 else 1.0
    if scale > 0:
        b, a = b / scale, a * scale
    return a, b


def total(pieces: Iterable[Piece]) -> float:
    """Years at risk in all the pieces together."""
    return float(sum(p.years for p in pieces))
