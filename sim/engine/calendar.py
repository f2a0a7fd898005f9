"""Simulation time (days from the start date) against calendar months and dates."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right


def add_months(d: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after `d`'s (runs start on a 1st)."""
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


class Calendar:
    """Month boundaries of a run that starts on the first day of a month."""

    def __init__(self, start: dt.date, months: int) -> None:
        self.start = start
        self.months = months
        self.month_starts = [add_months(start, k) for k in range(months + 1)]
        self.bounds = [float((d - start).days) for d in self.month_starts]

    @property
    def end(self) -> float:
        """The day the run ends (the first day after its last month)."""
        return self.bounds[-1]

    def day(self, d: dt.date) -> float:
        """Simulation day of a date: whole days, so sums of days are exact."""
        return float((d - self.start).days)

    def month_of(self, t: float) -> int:
        """Index of the simulated month that contains day t (clamped to the run)."""
        i = bisect_right(self.bounds, t) - 1
        return min(max(i, 0), self.months - 1)

    def calendar_month(self, t: float) -> int:
        """Calendar month (0 = January) of day t."""
        return (self.start.month - 1 + self.month_of(t)) % 12

    def labels(self) -> list[str]:
        """'YYYY-MM' of each simulated month."""
        return [d.strftime("%Y-%m") for d in self.month_starts[:-1]]


def duration(months: int) -> str:
    """A run's length as a heading says it: '5 years', '1 year', '18 months'."""
    if months % 12:
        return f"{months} months"
    years = months // 12
    return f"{years} year{'s' if years != 1 else ''}"
