"""Month-end figures: the stocks at each month end and the running totals since the last.

A replication's monthly row is its counts of the month (`State.flows`), the stocks at the
month end (children by provision, location and needs level, places, vacancies,
households, places on hold, unmet demand) and the time integrals since the last month end
(child-days, cost), read from running totals rather than from a log of events. At each
year end, the DfE stability measure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..scenario.ages import DAYS_PER_YEAR
from .metrics import UNMET_REASONS, UNMET_SETTINGS, UNREGISTERED_AGES, YEARLY

if TYPE_CHECKING:
    from .state import State


class MonthEnd:
    """Takes the month-end figures of the replication's `State` into `monthly` and `yearly`."""

    def __init__(self, state: State, months: int) -> None:
        self.state = state
        self.months = months
        layout = state.layout
        #: one row per month of every series of `State.layout`
        self.monthly = np.zeros((months, len(layout)))
        #: one row per year (the last may be part of one) of the YEARLY measures
        self.yearly = np.zeros((math.ceil(months / 12), len(YEARLY)))
        #: child-days in care over the run so far, up to the last month end
        self.child_days_total = 0.0
        #: called with the month just before its figures are taken (tests mark the log)
        self.before_snapshot: list[Callable[[int], None]] = []
        leaving = state.scenario.leaving_care
        self._staying_put_weekly_cost = leaving.staying_put_weekly_cost
        self._staying_put_rise = leaving.staying_put_price_inflation_per_year
        # where each figure goes in a row (worked out once)
        provisions = state.provisions
        self._col_in_care = [layout.i("in_care", p.pid) for p in provisions]
        self._col_days = [layout.i("child_days", p.pid) for p in provisions]
        self._col_cost = [layout.i("cost", p.pid) for p in provisions]
        self._col_places = [layout.i("places", p.pid) if p.has_units else -1 for p in provisions]
        self._col_vacancies = [
            layout.i("vacancies", p.pid) if p.has_units else -1 for p in provisions
        ]
        self._col_households = [
            layout.i("households", p.pid) if p.kind == "foster" else -1 for p in provisions
        ]
        self._col_on_hold = [
            layout.i("places_on_hold", p.pid) if p.kind == "foster" else -1 for p in provisions
        ]
        self._col_location = [layout.i("in_care_by_location", p.spec.location) for p in provisions]
        self._col_unmet = [layout.i("unmet_children", r) for r in UNMET_REASONS]
        self._col_unmet_days = [layout.i("unmet_child_days", r) for r in UNMET_REASONS]
        self._col_waiting = layout.i("waiting_for_placement", "all")
        self._col_unregistered = [layout.i("unregistered", a) for a in UNREGISTERED_AGES]
        self._col_by_needs = [layout.i("in_care_by_needs", n) for n in state.needs]
        #: provisions the scenario marks `registered = false` (most scenarios: none or one)
        self._unregistered = [not p.spec.registered for p in provisions]
        #: by provision index: a registered emergency placement; a residential setting
        self._registered_emergency = [p.is_emergency and p.spec.registered for p in provisions]
        self._residential = [p.residential for p in provisions]
        #: any of the three: the month-end pass looks further only at children there
        self._special = [
            a or b or c
            for a, b, c in zip(
                self._unregistered, self._registered_emergency, self._residential, strict=True
            )
        ]
        self._col_settings = [layout.i(m, "all") for m in UNMET_SETTINGS]
        #: by after-care payment: weekly price at first-year prices, its yearly rise, and
        #: its columns (people receiving it, cost); then the columns of the totals
        self._after_prices = [a.weekly_cost for a in state.scenario.after_care.values()]
        self._after_rise = [a.price_inflation_per_year for a in state.scenario.after_care.values()]
        routes = list(state.scenario.after_care)
        self._col_after = [layout.i("after_care", r) for r in routes]
        self._col_after_cost = [layout.i("after_care_cost", r) for r in routes]
        self._col_after_totals = (
            (layout.i("after_care_cost", "total"), layout.i("cost_all", "total"))
            if routes
            else (-1, -1)
        )
        self._col_totals = (
            layout.i("cost", "staying_put"),
            layout.i("staying_put", "all"),
            layout.i("cost", "total"),
            layout.i("in_care", "total"),
            layout.i("uasc_in_care", "all"),
            layout.i("unmet_children", "total"),
            layout.i("unmet_child_days", "total"),
        )

    def schedule(self) -> None:
        """Put every month end but the last on the clock; call before anything else is.

        A month end comes before anything else dated the same day, the 1st of the next
        month (a home closing on 1 April still had its children on 31 March). SimPy takes
        events due at the same time in the order they were scheduled, so scheduling every
        month end first, at the start, puts each before everything else due with it. The
        last month end is taken when the run stops (`finish`).
        """
        state = self.state
        bounds = state.calendar.bounds
        for m in range(self.months - 1):
            # month ends are whole days: now + (day - now), as SimPy sums it, is the day
            state.clock.after(bounds[m + 1] - state.now, partial(self._on_month_end, m))

    def _on_month_end(self, month: int, _event: Any) -> None:
        self.state.wake()
        self.snapshot(month)

    def finish(self) -> None:
        """The run has stopped at its end: the last month end."""
        self.state.wake()
        self.snapshot(self.months - 1)

    def snapshot(self, m: int) -> None:
        """Month-end figures of month `m`: stocks now, and the integrals since the last one.

        The row is built as a list and stored in `monthly` once: setting numpy elements
        one at a time costs far more than the arithmetic.
        """
        for hook in self.before_snapshot:
            hook(m)
        state = self.state
        t = state.now
        row = state.flows  # this month's counts so far, then the stocks and integrals
        state.flows = [0.0] * len(state.layout)
        year = m // 12
        total_cost = 0.0
        sp_days_all = 0.0
        sp_all = 0
        for p in state.provisions:
            i = p.index
            child_days, sp_days, cost = p.flush(t, year)
            self.child_days_total += child_days
            row[self._col_in_care[i]] = p.children
            row[self._col_days[i]] = child_days
            row[self._col_cost[i]] = cost
            row[self._col_location[i]] += p.children
            total_cost += cost
            sp_days_all += sp_days
            sp_all += p.staying_put
            if p.has_units:
                row[self._col_places[i]] = p.places
                row[self._col_vacancies[i]] = p.vacancies
            if p.kind == "foster":
                row[self._col_households[i]] = len(p.units)
                row[self._col_on_hold[i]] = p.places_on_hold
        sp_price = self._staying_put_weekly_cost
        if self._staying_put_rise:
            sp_price *= (1.0 + self._staying_put_rise) ** year  # once a year, as placements
        sp_cost = sp_days_all * sp_price / 7.0
        c_sp_cost, c_sp, c_cost, c_in_care, c_uasc, c_unmet, c_unmet_days = self._col_totals
        row[c_sp_cost] = sp_cost
        row[c_sp] = sp_all
        row[c_cost] = total_cost + sp_cost
        if self._col_after:
            self._after_care(row, t, year, total_cost + sp_cost)
        row[c_in_care] = len(state.children)
        row[c_uasc] = state.uasc_in_care
        unmet = state.unmet
        unmet.change(t, 0, 0)  # bring the unmet integrals up to now
        for r in range(len(UNMET_REASONS)):
            row[self._col_unmet[r]] = unmet.count[r]
            row[self._col_unmet_days[r]] = unmet.days[r]
            unmet.days[r] = 0.0
        row[c_unmet] = sum(unmet.count)
        row[self._col_waiting] = row[c_unmet]  # every child not suitably placed is searched for
        self._count_settings(row, t)
        row[c_unmet_days] = sum(row[i] for i in self._col_unmet_days)
        self.monthly[m] = row
        if m % 12 == 11 or m == self.months - 1:
            self.year_end(year)

    def _after_care(self, row: list[float], t: float, year: int, placements: float) -> None:
        """People receiving each after-care payment now, its cost since the last month end
        (at scenario year `year`'s prices), their total, and placements plus after care."""
        total = 0.0
        for k, payments in enumerate(self.state.after_care):
            payments.advance(t)
            price = self._after_prices[k] * (1.0 + self._after_rise[k]) ** year
            cost = payments.days * price / 7.0
            payments.days = 0.0
            row[self._col_after[k]] = payments.count
            row[self._col_after_cost[k]] = cost
            total += cost
        c_total, c_all = self._col_after_totals
        row[c_total] = total
        row[c_all] = placements + total

    def _count_settings(self, row: list[float], t: float) -> None:
        """Children in care now in a setting reported as unmet demand, in one pass.

        Unregistered placements by age (under-16s there are unlawfully placed), registered
        emergency placements, deprived of liberty, under 11 in a residential setting, and
        living apart from a sibling in care (siblings in different households, homes or
        placements). A child in an unregistered or emergency placement only while a
        provider's offer is on its way (`Child.pending`) is waiting for a placement, not
        placed there, and is left out of those two counts. Also children in care by needs
        level (the same pass).
        """
        unregistered = self._unregistered
        emergency = self._registered_emergency
        residential = self._residential
        special = self._special
        under_16 = older = registered_emergency = deprived = under_11 = 0
        by_needs = [0] * self.state.n_needs
        # by sibling group: where its first member lives, its members in care, and whether
        # two of them live apart (this runs every month over every child: kept lean)
        first_key: dict[int, int] = {}
        members: dict[int, int] = {}
        apart: set[int] = set()
        age_16 = t - 16.0 * DAYS_PER_YEAR  # born after this: under 16 now
        age_11 = t - 11.0 * DAYS_PER_YEAR
        for c in self.state.children.values():
            by_needs[c.needs] += 1
            i = c.placement
            if i >= 0 and special[i]:  # an unregistered, emergency or residential setting
                if c.pending is None:
                    if unregistered[i]:
                        if c.dob > age_16:
                            under_16 += 1
                        else:
                            older += 1
                    elif emergency[i]:
                        registered_emergency += 1
                if residential[i] and c.dob > age_11:
                    under_11 += 1
            if c.deprived:
                deprived += 1
            g = c.group
            if g:
                key = first_key.get(g)
                if key is None:
                    first_key[g] = c.home_key
                    members[g] = 1
                else:
                    members[g] += 1
                    if key != c.home_key:
                        apart.add(g)
        # every member of a group that lives apart counts: each is apart from a sibling
        split = sum(members[g] for g in apart)
        row[self._col_unregistered[0]] = under_16
        row[self._col_unregistered[1]] = older
        for level, n in enumerate(by_needs):
            row[self._col_by_needs[level]] = n
        cols = self._col_settings
        row[cols[0]] = registered_emergency
        row[cols[1]] = deprived
        row[cols[2]] = split
        row[cols[3]] = under_11

    def year_end(self, year: int) -> None:
        """DfE stability measure: children in care at year end with 3+ placements in the year."""
        children = self.state.children
        n = len(children)
        three = sum(1 for c in children.values() if c.placements_this_year >= 3)
        self.yearly[year] = (n, three, three / n if n else 0.0)
        for c in children.values():
            c.placements_this_year = 1
