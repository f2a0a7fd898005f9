"""Small-number suppression: which counts a published table must not show.

A count of children (or of things that happen to them) between 1 and K-1 can identify a
child, so published tables show it as "<K". Zero is shown as 0; money and percentages
are never suppressed. A difference between two counts is hidden whole when a count it
compares is hidden. The rules are numbers only, so the runs that decide what is hidden
and the reports that show it share one definition (the words are in
`sim.reports.presentation`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: Units that count children or things that happen to them: small values can identify a
#: child, so they are the ones suppressed. Money and percentages never are.
COUNT_UNITS = ("children", "placements", "moves", "child-days")


def suppressed(v: float, unit: str, k: int) -> str | None:
    """'<K' for a count of `unit` that is above 0 but below K, else None (show the number).

    Only units in COUNT_UNITS are suppressed. Never '-<K': a difference of counts is
    hidden whole by its callers (`difference_hidden`), not cell by cell.
    """
    if k > 0 and unit in COUNT_UNITS and not is_missing(v) and 0 < abs(v) < k:
        return f"<{k}"
    return None


def difference_hidden(levels: Iterable[float], unit: str, k: int) -> bool:
    """Whether a difference between counts must be hidden: a count it compares is 1..K-1.

    When both counts are published (0, or K and over) the difference tells nothing that
    they do not, so it is shown in full, however small; otherwise the difference, with
    its interval, would give the hidden count away, so it is hidden whole.
    """
    return any(suppressed(float(v), unit, k) is not None for v in levels)


def all_hidden(levels: Iterable[float], unit: str, k: int) -> bool:
    """Whether no count among `levels` could be shown: each is 0 or 1..K-1 (some 1..K-1).

    A table of such counts would read "<K" in every cell, so it says so once instead.
    """
    values = [float(v) for v in levels if not is_missing(v)]
    hidden = [suppressed(v, unit, k) is not None for v in values]
    return any(hidden) and all(h or v == 0 for h, v in zip(hidden, values, strict=True))


def is_missing(v: float | None) -> bool:
    """A figure that is not there (None or NaN)."""
    return v is None or (isinstance(v, float) and math.isnan(v))
