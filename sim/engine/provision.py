"""Provision at run time: places, who lives where, and the running totals that cost them.

Each provision keeps an index of the households or homes that have a vacancy, so a search
looks only at places that could take a child, never at every placement. Occupancy and open
places are integrated over time as they change (child-days, place-days), so monthly costs
need no log of events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..scenario.schema import Distribution, Fixed, Provision
from .matching import acceptance_probability

if TYPE_CHECKING:
    from .child import Child
    from .market import MarketSegment


class Unit:
    """One foster household or one home."""

    __slots__ = (
        "cap",
        "children",
        "fillable",
        "is_open",
        "max_age",
        "min_age",
        "name",
        "needs_mask",
        "on_hold",
        "places",
        "ranged",
        "sole_blocked",
        "staying_put",
        "uid",
    )

    def __init__(self, uid: int, name: str, places: int, cap: int = -1) -> None:
        self.uid = uid
        self.name = name
        #: places paid for and counted as open (a home's beds)
        self.places = places
        #: places that may be filled at once (a home's `max_occupied`; -1: no cap)
        self.cap = cap
        #: places that may be filled: `places`, or fewer under a cap
        self.fillable = places if cap < 0 else min(places, cap)
        self.children: list[Child] = []
        self.staying_put = 0  # young adults staying put: they hold a place but are not in care
        self.sole_blocked = False
        self.is_open = True
        #: on hold (the carer's own reasons, a break): takes no new child, keeps its own
        self.on_hold = False
        #: whether the household is approved for narrower ages or needs than its provision;
        #: only then does a search check `takes` (the common case costs one test)
        self.ranged = False
        self.min_age = 0.0
        self.max_age = 18.0
        self.needs_mask = -1  # bit i set: approved for needs-level index i

    def approve(self, min_age: float, max_age: float, needs_mask: int) -> None:
        """Narrow the household's approval to ages [min_age, max_age) and the needs levels
        whose bits are set in `needs_mask`."""
        self.min_age = min_age
        self.max_age = max_age
        self.needs_mask = needs_mask
        self.ranged = True

    def takes(self, group: list[Child], now: float) -> bool:
        """Whether every child of `group` is within the household's approval at time `now`."""
        lo = self.min_age
        hi = self.max_age
        mask = self.needs_mask
        for c in group:
            age = c.age(now)
            if age < lo or age >= hi or not (mask >> c.needs) & 1:
                return False
        return True

    @property
    def occupied(self) -> int:
        """Places taken: children in care and young adults staying put."""
        return len(self.children) + self.staying_put

    @property
    def free(self) -> int:
        """Places a newcomer could take (none beside a child who must live alone)."""
        return 0 if self.sole_blocked else self.fillable - self.occupied


class ProvisionState:
    """The live state of one provision."""

    def __init__(self, pid: str, index: int, spec: Provision, needs: list[str]) -> None:
        self.pid = pid
        self.index = index
        self.spec = spec
        self.kind = spec.kind
        self.has_units = spec.kind in ("foster", "home")
        self.per_place = spec.cost_basis == "per_place"
        # terms the search reads at every look, copied out of the scenario's (pydantic)
        # objects into plain attributes: much cheaper to read, above all when compiled
        self.suitable: bool = spec.suitable
        self.is_emergency = spec.kind == "emergency"
        self.compatibility: float = getattr(spec, "compatibility", 1.0)
        # chance that a household with k occupants refuses a newcomer, by k (grown on demand)
        self._refusal: list[float] = [0.0]
        cap = getattr(spec, "max_children", None)
        self.max_children: int = -1 if cap is None else cap  # -1: no cap
        self.sibling_offer_factor: float = getattr(spec, "sibling_offer_factor", 1.0)
        self.staying_put_probability: float = getattr(spec, "staying_put_probability", 0.0)
        # a provider's chance of offering, by needs-level index (`needs`: the scenario's
        # levels in order); empty for households and homes, which do not make offers
        prob = getattr(spec, "offer_probability", None)
        self.offer_by_needs: list[float] = (
            []
            if prob is None
            else [prob.get(name, 0.0) if isinstance(prob, dict) else prob for name in needs]
        )
        #: by needs-level index: the share of children here deprived of liberty
        self.deprivation_of_liberty: list[float] = spec.deprivation_of_liberty_by_needs(needs)
        self.residential: bool = spec.is_residential()
        # how long a provider's refusal of a child holds (offer-type provisions), and
        # whether it can hold at all (a fixed 0 never does, and draws nothing)
        holds = getattr(spec, "refusal_holds_days", None)
        self.refusal_holds: Distribution | None = holds
        self.holds_refusals: bool = holds is not None and not (
            isinstance(holds, Fixed) and holds.value == 0
        )
        self.units: dict[int, Unit] = {}
        self.vacant: dict[int, Unit] = {}  # insertion-ordered index of units with a free place
        self.children = 0  # children in care living here
        self.staying_put = 0
        self.places = 0  # open places (units only)
        # time integrals since the last monthly flush
        self._t = 0.0
        self.child_days = 0.0
        self.place_days = 0.0
        self.staying_put_days = 0.0
        # weekly prices by needs-level index at first-year prices; `prices(year)` uprates
        # them, once per year. A provision whose price depends on the child's needs also
        # counts its children, and integrates their days, by needs level.
        self._base_prices: list[float] = spec.prices_by_needs(needs)
        self._inflation: float = spec.price_inflation_per_year
        self._prices: list[list[float]] = []
        self.priced_by_needs: bool = not self.per_place and len(set(self._base_prices)) > 1
        n = len(needs) if self.priced_by_needs else 0
        self.children_by_needs: list[int] = [0] * n
        self.child_days_by_needs: list[float] = [0.0] * n
        #: the regional pool this provision buys from (`sim.engine.market`), or None. A
        #: pooled placement's price is fixed when it starts (`Child.price_factor`): the
        #: provision then integrates children weighted by their price factors
        self.market: MarketSegment | None = None
        self.weight = 0.0  # the sum of the price factors of the children here
        self.weighted_days = 0.0
        self.weight_by_needs: list[float] = [0.0] * n
        self.weighted_days_by_needs: list[float] = [0.0] * n
        #: cost since the last flush already priced at an earlier price (a dated change of
        #: price, `reprice`), and the days of the single-price integral it covered
        self._carried = 0.0
        self._costed_days = 0.0

    def refusal(self, occupants: int) -> float:
        """Chance that a household or home with `occupants` refuses a newcomer: each
        occupant accepts independently with chance `compatibility`."""
        table = self._refusal
        while len(table) <= occupants:
            table.append(1.0 - acceptance_probability(self.compatibility, len(table)))
        return table[occupants]

    # ------------------------------------------------------------------ integrals

    def _advance(self, t: float) -> None:
        dt = t - self._t
        if dt > 0:
            self.child_days += self.children * dt
            self.place_days += self.places * dt
            self.staying_put_days += self.staying_put * dt
            if self.priced_by_needs:
                days = self.child_days_by_needs
                for i, n in enumerate(self.children_by_needs):
                    if n:
                        days[i] += n * dt
            if self.market is not None:
                self.weighted_days += self.weight * dt
                wdays = self.weighted_days_by_needs
                for i, w in enumerate(self.weight_by_needs):
                    if w:
                        wdays[i] += w * dt
            self._t = t

    def flush(self, t: float, year: int) -> tuple[float, float, float]:
        """Child-days, staying-put days and the cost of the placements (at scenario year
        `year`'s prices) since the last flush."""
        self._advance(t)
        cost = self._carried + self._cost_since(year)
        if self.priced_by_needs:
            self.child_days_by_needs = [0.0] * len(self.child_days_by_needs)
            self.weighted_days_by_needs = [0.0] * len(self.weighted_days_by_needs)
        out = (self.child_days, self.staying_put_days, cost)
        self.child_days = self.place_days = self.staying_put_days = 0.0
        self.weighted_days = 0.0
        self._carried = self._costed_days = 0.0
        return out

    def _cost_since(self, year: int) -> float:
        """The cost of the days integrated and not yet priced, at year `year`'s prices (a
        pooled provision's days weighted by each child's price factor)."""
        pooled = self.market is not None
        if self.priced_by_needs:
            days = self.weighted_days_by_needs if pooled else self.child_days_by_needs
            prices = self.prices(year)
            return sum(d * price for d, price in zip(days, prices, strict=True)) / 7.0
        return (self._single_price_days() - self._costed_days) * self.price(year) / 7.0

    def _single_price_days(self) -> float:
        """The days a provision with one price is paid for since the last flush: its
        places', its children's, or (pooled) its children's weighted by price factor."""
        if self.market is not None:
            return self.weighted_days
        return self.place_days if self.per_place else self.child_days

    def track_needs(self) -> None:
        """Count children and their days by needs level from now on, whatever the prices:
        a dated change may price this provision by needs later (`reprice`). Called before
        any child is placed."""
        if not self.priced_by_needs:
            self.priced_by_needs = True
            self.children_by_needs = [0] * len(self._base_prices)
            self.child_days_by_needs = [0.0] * len(self._base_prices)

    def reprice(self, t: float, year: int, prices: list[float]) -> None:
        """New weekly prices (first-year prices, by needs-level index) from time `t`, a
        day of scenario year `year`: the days since the last flush are priced at the old
        prices first and carried to the flush."""
        self._advance(t)
        self._carried += self._cost_since(year)
        if self.priced_by_needs:
            self.child_days_by_needs = [0.0] * len(self.child_days_by_needs)
            self.weighted_days_by_needs = [0.0] * len(self.weighted_days_by_needs)
        else:
            self._costed_days = self._single_price_days()
        self._base_prices = list(prices)
        self._prices = []

    def follow(self, spec: Provision, needs: list[str]) -> None:
        """The provision's terms from a dated change on (its offer and staying-put chances;
        prices go through `reprice`)."""
        self.spec = spec
        self.staying_put_probability = getattr(spec, "staying_put_probability", 0.0)
        prob = getattr(spec, "offer_probability", None)
        if prob is not None:
            self.offer_by_needs = [
                prob.get(name, 0.0) if isinstance(prob, dict) else prob for name in needs
            ]

    # ------------------------------------------------------------------ units

    def _reindex(self, unit: Unit) -> None:
        # Unit.free, inlined: this runs at every placement and move
        if (
            unit.is_open
            and not unit.sole_blocked
            and not unit.on_hold
            and unit.fillable > len(unit.children) + unit.staying_put
        ):
            self.vacant[unit.uid] = unit
        else:
            self.vacant.pop(unit.uid, None)

    def open_unit(self, t: float, unit: Unit) -> None:
        """A household or home opens at time `t`."""
        self._advance(t)
        self.units[unit.uid] = unit
        self.places += unit.places
        self._reindex(unit)

    def close_unit(self, t: float, unit: Unit) -> list[Child]:
        """Close a household or home; return the children who must move."""
        self._advance(t)
        unit.is_open = False
        self.units.pop(unit.uid, None)
        self.vacant.pop(unit.uid, None)
        self.places -= unit.places
        self.staying_put -= unit.staying_put
        unit.staying_put = 0
        return list(unit.children)

    def resize_unit(self, t: float, unit: Unit, places: int) -> None:
        """A home's places change at time `t` (who must move out is the caller's to say)."""
        self._advance(t)
        self.places += places - unit.places
        unit.places = places
        unit.fillable = places if unit.cap < 0 else min(places, unit.cap)
        self._reindex(unit)

    # ------------------------------------------------------------------ occupancy

    def add_child(self, t: float, child: Child, unit: Unit | None, sole: bool) -> None:
        """A child moves in at time `t`; `sole`: they must live alone."""
        if t > self._t:
            self._advance(t)
        self.children += 1
        if self.priced_by_needs:
            self.children_by_needs[child.needs] += 1
        market = self.market
        if market is not None:
            factor = market.take()  # the price of a placement starting now
            child.price_factor = factor
            self.weight += factor
            if self.priced_by_needs:
                self.weight_by_needs[child.needs] += factor
        if unit is not None:
            unit.children.append(child)
            if sole:
                unit.sole_blocked = True
            self._reindex(unit)

    def remove_child(self, t: float, child: Child, unit: Unit | None) -> None:
        """A child moves out at time `t`."""
        if t > self._t:
            self._advance(t)
        self.children -= 1
        if self.priced_by_needs:
            self.children_by_needs[child.needs] -= 1
        market = self.market
        if market is not None:
            self.weight -= child.price_factor
            if self.priced_by_needs:
                self.weight_by_needs[child.needs] -= child.price_factor
            market.release()
        if unit is not None:
            unit.children.remove(child)
            if unit.sole_blocked and not unit.children:
                unit.sole_blocked = False
            self._reindex(unit)

    def change_needs(self, t: float, child: Child, new: int, sole: bool) -> bool:
        """The needs level of a child living here changes to `new` at time `t`; `sole`: at
        the new level they must live alone.

        The integrals are brought up to `t` first, so the days before are costed at the
        old level's price and those after at the new one's. A child who must now live
        alone blocks their household or home if they are alone there; returns True when
        they share it (they must move: the caller's to do).
        """
        if t > self._t:
            self._advance(t)
        if self.priced_by_needs:
            self.children_by_needs[child.needs] -= 1
            self.children_by_needs[new] += 1
            if self.market is not None:
                self.weight_by_needs[child.needs] -= child.price_factor
                self.weight_by_needs[new] += child.price_factor
        child.needs = new
        unit = child.unit
        if unit is None:
            return False
        shares = len(unit.children) + unit.staying_put > 1
        # only a child who must live alone blocks a unit, and they live alone in it
        unit.sole_blocked = sole and not shares
        self._reindex(unit)
        return sole and shares

    def start_staying_put(self, t: float, unit: Unit | None) -> None:
        """A young adult stays put at time `t`: out of care, still holding a place (in a
        shared pool too: the agency carer's place stays taken)."""
        self._advance(t)
        self.staying_put += 1
        if self.market is not None:
            self.market.take()
        if unit is not None:
            unit.staying_put += 1
            self._reindex(unit)

    def end_staying_put(self, t: float, unit: Unit | None) -> None:
        """A young adult's staying put ends at time `t`, freeing the place."""
        self._advance(t)
        if unit is not None:
            if not unit.is_open:
                return  # the household closed; its staying-put count was already dropped
            unit.staying_put -= 1
            self._reindex(unit)
        self.staying_put -= 1
        if self.market is not None:
            self.market.release()

    def hold(self, unit: Unit, on: bool) -> None:
        """A household goes on hold (`on`) or comes off hold: while on hold it
        is out of the vacancy index, so no search offers it a child."""
        unit.on_hold = on
        self._reindex(unit)

    @property
    def places_on_hold(self) -> int:
        """Places in open households on hold (a month-end figure): approved, not usable."""
        return sum(u.places for u in self.units.values() if u.on_hold)

    @property
    def vacancies(self) -> int:
        """Free places across the open households or homes not on hold (a month-end figure)."""
        # the vacancy index holds exactly the open units not on hold with a free place
        return sum(u.free for u in self.vacant.values())

    def price(self, year: int) -> float:
        """Weekly price in scenario year `year` (0 = first), uprated once a year, of a
        provision with one price for every child (the first level's, for a table)."""
        return self.prices(year)[0]

    def prices(self, year: int) -> list[float]:
        """Weekly prices by needs-level index in scenario year `year` (0 = first)."""
        table = self._prices
        while len(table) <= year:
            factor = (1.0 + self._inflation) ** len(table)
            table.append([base * factor for base in self._base_prices])
        return table[year]
