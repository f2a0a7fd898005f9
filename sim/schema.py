"""The scenario schema: what a scenario file may say, and the rules it must obey.

Every model forbids unknown keys, so a typo is an error that names the key rather than a
setting that is silently ignored. Cross-references (a preference list naming a provision,
a population row naming a needs level) are checked in `Scenario`'s validator, so a
scenario that validates can be simulated.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .ages import BAND_NAMES

NonNeg = Annotated[float, Field(ge=0)]
Prob = Annotated[float, Field(ge=0, le=1)]
PosInt = Annotated[int, Field(ge=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- distributions


class Fixed(Strict):
    dist: Literal["fixed"]
    value: NonNeg


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: NonNeg


class LogNormal(Strict):
    dist: Literal["lognormal"]
    median: Annotated[float, Field(gt=0)]
    sigma: NonNeg


class Uniform(Strict):
    dist: Literal["uniform"]
    low: NonNeg
    high: NonNeg

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self


Distribution = Annotated[Fixed | Exponential | LogNormal | Uniform, Field(discriminator="dist")]


def _check_shares(shares: dict[str, float], what: str) -> None:
    total = sum(shares.values())
    if shares and abs(total - 1.0) > 0.01:
        raise ValueError(f"{what} must add up to 1 (they add up to {total:.3f})")


def _check_bands(keys: Mapping[str, object], what: str, complete: bool = False) -> None:
    unknown = [k for k in keys if k not in BAND_NAMES]
    if unknown:
        raise ValueError(
            f"{what}: unknown age band {unknown[0]!r}; expected one of {', '.join(BAND_NAMES)}"
        )
    if complete:
        missing = [b for b in BAND_NAMES if b not in keys]
        if missing:
            raise ValueError(f"{what}: missing age band {missing[0]!r}")


class AgeRange(Strict):
    """Ages in years, lower bound included, upper bound excluded."""

    min_age: Annotated[float, Field(ge=0, le=18)] = 0.0
    max_age: Annotated[float, Field(ge=0, le=18)] = 18.0

    @model_validator(mode="after")
    def _order(self) -> AgeRange:
        if self.max_age <= self.min_age:
            raise ValueError(f"max_age ({self.max_age}) must be above min_age ({self.min_age})")
        return self


# --------------------------------------------------------------------------- scenario parts


class Meta(Strict):
    name: str
    place: str = ""
    description: str = ""
    start_date: dt.date

    @field_validator("start_date")
    @classmethod
    def _first_of_month(cls, d: dt.date) -> dt.date:
        if d.day != 1:
            raise ValueError(
                f"{d} must be the first day of a month (results are reported by calendar month)"
            )
        return d


class NeedsLevel(Strict):
    label: str = ""
    #: A child at this level may only live where no other child lives (solo home, or an
    #: empty dual home), and nobody else is placed with them.
    sole_occupancy: bool = False


class Uasc(Strict):
    per_year: NonNeg = 0.0
    rota_days: Annotated[float, Field(gt=0)] = 28.0
    cap: Annotated[int, Field(ge=0)] | None = None
    age_mix: dict[str, Prob] = Field(default_factory=lambda: {"16-17": 1.0})
    needs: str | None = None

    @model_validator(mode="after")
    def _mix(self) -> Uasc:
        _check_bands(self.age_mix, "uasc age_mix")
        _check_shares(self.age_mix, "uasc age_mix shares")
        return self


class Entries(Strict):
    per_year: NonNeg
    trend_per_year: Annotated[float, Field(gt=-1)] = 0.0
    seasonality: list[NonNeg] = Field(default_factory=lambda: [1.0] * 12)
    age_mix: dict[str, Prob]
    needs_mix: dict[str, dict[str, Prob]]
    disability_share: Prob = 0.0
    sibling_group_size: dict[str, Prob] = Field(default_factory=lambda: {"1": 1.0})
    uasc: Uasc = Field(default_factory=Uasc)

    @model_validator(mode="after")
    def _mix(self) -> Entries:
        if len(self.seasonality) != 12:
            raise ValueError(
                f"seasonality needs 12 monthly factors (January first), got {len(self.seasonality)}"
            )
        if sum(self.seasonality) <= 0:
            raise ValueError("seasonality factors cannot all be zero")
        _check_bands(self.age_mix, "age_mix", complete=True)
        _check_shares(self.age_mix, "age_mix shares")
        _check_bands(self.needs_mix, "needs_mix", complete=True)
        for band, mix in self.needs_mix.items():
            _check_shares(mix, f"needs_mix for {band}")
        for size in self.sibling_group_size:
            if not size.isdigit() or not 1 <= int(size) <= 8:
                raise ValueError(f"sibling_group_size key {size!r} must be a group size 1-8")
        _check_shares(self.sibling_group_size, "sibling_group_size shares")
        return self


class PopulationGroup(Strict):
    """Children already living in one provision on the start date."""

    by_age: dict[str, Annotated[int, Field(ge=0)]]
    needs: dict[str, Prob] | None = None
    uasc_share: Prob = 0.0
    disability_share: Prob = 0.0
    #: How long these children have already been in care is not known from counts: it is
    #: drawn uniformly up to this many years (never more than the child's age). It matters
    #: only for exit rates that depend on time in care.
    max_years_in_care: Annotated[float, Field(gt=0, le=18)] = 3.0

    @model_validator(mode="after")
    def _mix(self) -> PopulationGroup:
        _check_bands(self.by_age, "by_age")
        if self.needs is not None:
            _check_shares(self.needs, "needs shares")
        return self


class Household(Strict):
    count: Annotated[int, Field(ge=0)]
    places: Annotated[int, Field(ge=1, le=6)]


class Resize(Strict):
    date: dt.date
    beds: PosInt


class Home(Strict):
    name: str
    beds: PosInt
    opens: dt.date | None = None
    closes: dt.date | None = None
    #: Change the number of beds on dates (e.g. cap a home at 3 beds from April 2025).
    resize: list[Resize] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dates(self) -> Home:
        if self.opens and self.closes and self.closes <= self.opens:
            raise ValueError(
                f"home {self.name!r} closes ({self.closes}) before it opens ({self.opens})"
            )
        for r in self.resize:
            if (self.opens and r.date <= self.opens) or (self.closes and r.date >= self.closes):
                raise ValueError(
                    f"home {self.name!r} is resized on {r.date}, outside the dates it is open"
                )
        return self


class ProvisionBase(Strict):
    label: str = ""
    ages: AgeRange = Field(default_factory=AgeRange)
    #: Wider ages allowed only when nothing else in the child's list can take them
    #: (e.g. no under-11s in residential care unless there is no alternative).
    last_resort_ages: AgeRange | None = None
    needs: list[str]
    location: Literal["in_area", "within_20_miles", "beyond_20_miles"]
    weekly_cost: NonNeg
    price_inflation_per_year: Annotated[float, Field(ge=-0.5, le=1)] = 0.0
    #: False: a child placed here still counts as unmet demand and the search goes on.
    suitable: bool = True
    takes_sibling_groups: bool = True
    accepts_disability: bool = True
    accepts_uasc: bool = True
    breakdown_per_year: NonNeg = 0.0


class FosterProvision(ProvisionBase):
    """Households approved for a number of places; recruited and deregistered over time."""

    kind: Literal["foster"]
    cost_basis: Literal["per_child"] = "per_child"
    compatibility: Prob = 1.0
    households: list[Household] = Field(default_factory=list)
    recruitment_per_year: NonNeg = 0.0
    new_household_places: dict[str, Prob] = Field(default_factory=lambda: {"2": 1.0})
    deregistration_per_year: NonNeg = 0.0
    staying_put_probability: Prob = 0.0

    @model_validator(mode="after")
    def _mix(self) -> FosterProvision:
        for k in self.new_household_places:
            if not k.isdigit() or not 1 <= int(k) <= 6:
                raise ValueError(f"new_household_places key {k!r} must be a number of places 1-6")
        _check_shares(self.new_household_places, "new_household_places shares")
        return self


class HomeProvision(ProvisionBase):
    """Children's homes (or flats) with beds, open and closed on dates."""

    kind: Literal["home"]
    #: per_place: the home costs weekly_cost per open bed whether full or not (in-house
    #: staffing, block contracts); per_child: paid per occupied bed.
    cost_basis: Literal["per_child", "per_place"] = "per_place"
    compatibility: Prob = 1.0
    homes: list[Home] = Field(default_factory=list)


class OfferProvision(ProvisionBase):
    """Places that exist when somebody says yes: the external market, kinship networks."""

    kind: Literal["offer"]
    cost_basis: Literal["per_child"] = "per_child"
    offer_probability: Prob | dict[str, Prob]
    offer_delay_days: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=0))
    sibling_offer_factor: Prob = 0.5
    max_children: Annotated[int, Field(ge=0)] | None = None
    staying_put_probability: Prob = 0.0


class EmergencyProvision(ProvisionBase):
    """Where a child lives when nothing suitable can be found: always has room."""

    kind: Literal["emergency"]
    cost_basis: Literal["per_child"] = "per_child"
    suitable: bool = False


Provision = Annotated[
    FosterProvision | HomeProvision | OfferProvision | EmergencyProvision,
    Field(discriminator="kind"),
]


class When(Strict):
    min_age: Annotated[float, Field(ge=0, le=18)] = 0.0
    max_age: Annotated[float, Field(ge=0, le=18)] = 18.0
    needs: list[str] | None = None
    uasc: bool | None = None
    disability: bool | None = None
    sibling_group: bool | None = None

    def is_catch_all(self) -> bool:
        return (
            self.min_age == 0
            and self.max_age == 18
            and self.needs is None
            and self.uasc is None
            and self.disability is None
            and self.sibling_group is None
        )


class PreferenceRule(Strict):
    name: str = ""
    when: When = Field(default_factory=When)
    order: list[str] = Field(min_length=1)


class Matching(Strict):
    fallback: str
    retry_days: Annotated[float, Field(gt=0)] = 7.0
    preferences: list[PreferenceRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _catch_all(self) -> Matching:
        if not self.preferences[-1].when.is_catch_all():
            raise ValueError(
                "the last preference rule must have no 'when' conditions, so that every "
                "child has a preference order"
            )
        return self


class Breakdown(Strict):
    age_multiplier: dict[str, NonNeg] = Field(default_factory=dict)
    needs_multiplier: dict[str, NonNeg] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bands(self) -> Breakdown:
        _check_bands(self.age_multiplier, "age_multiplier")
        return self


class PlannedMove(Strict):
    name: str
    from_: list[str] = Field(alias="from", min_length=1)
    to: list[str] = Field(min_length=1)
    min_age: Annotated[float, Field(ge=0, le=18)] = 0.0
    max_age: Annotated[float, Field(ge=0, le=18)] = 18.0
    needs: list[str] | None = None
    rate_per_year: NonNeg


class TimeInCare(Strict):
    until_years: Annotated[float, Field(gt=0)]
    multiplier: NonNeg


class ExitRoute(Strict):
    label: str = ""
    rate_per_year: dict[str, NonNeg]
    #: Only children living in these provisions can leave this way (default: all) ...
    from_: list[str] | None = Field(default=None, alias="from")
    #: ... except those living in these.
    not_from: list[str] = Field(default_factory=list)
    time_in_care: list[TimeInCare] = Field(default_factory=list)
    #: Chance the carer leaves the foster pool when the child leaves this way (e.g. an SGO).
    carer_leaves_probability: Prob = 0.0

    @model_validator(mode="after")
    def _bands(self) -> ExitRoute:
        _check_bands(self.rate_per_year, "rate_per_year")
        edges = [t.until_years for t in self.time_in_care]
        if edges != sorted(edges):
            raise ValueError("time_in_care steps must be in increasing until_years order")
        return self


class LeavingCare(Strict):
    """Turning 18: every child leaves care; some stay on with their foster carer."""

    staying_put_years: Distribution = Field(
        default_factory=lambda: Uniform(dist="uniform", low=0.5, high=3.0)
    )
    staying_put_weekly_cost: NonNeg = 0.0


class OptionCost(Strict):
    """A cost of the option itself, outside the placement budget the model simulates.

    Capital and staffing of a new home, a recruitment campaign, an enhanced allowance:
    these decide whether an option pays for itself, so `sufficiency compare` adds them to
    the placement cost of each year. `one_off` is paid on `starts`; `per_year` is paid
    from `starts` until the day before `ends` (or the end of the run), pro rata by days.
    Both are at the prices of the first scenario year and rise by `inflation_per_year`
    each scenario year, as placement prices do.
    """

    item: str = Field(min_length=1)
    one_off: NonNeg = 0.0
    per_year: NonNeg = 0.0
    #: Default: the scenario's start date.
    starts: dt.date | None = None
    #: The first day the running cost is no longer paid (default: paid to the end of the run).
    ends: dt.date | None = None
    inflation_per_year: Annotated[float, Field(ge=-0.5, le=1)] = 0.0
    source: str = ""

    @model_validator(mode="after")
    def _sensible(self) -> OptionCost:
        if self.one_off == 0 and self.per_year == 0:
            raise ValueError(
                f"option cost {self.item!r} has no amount: give one_off, per_year or both"
            )
        if self.starts and self.ends and self.ends <= self.starts:
            raise ValueError(
                f"option cost {self.item!r} ends ({self.ends}) on or before it starts "
                f"({self.starts})"
            )
        return self


class Scenario(Strict):
    """A whole scenario after `extends` has been resolved."""

    scenario: Meta
    needs: dict[str, NeedsLevel] = Field(min_length=1)
    entries: Entries
    population: dict[str, PopulationGroup] = Field(default_factory=dict)
    provision: dict[str, Provision] = Field(min_length=1)
    matching: Matching
    breakdown: Breakdown = Field(default_factory=Breakdown)
    moves: list[PlannedMove] = Field(default_factory=list)
    exits: dict[str, ExitRoute] = Field(default_factory=dict)
    leaving_care: LeavingCare = Field(default_factory=LeavingCare)
    #: The option's own costs (`[[option_costs]]`), added to placement costs by `compare`.
    option_costs: list[OptionCost] = Field(default_factory=list)


Loc = tuple[str | int, ...]


def _places_at_start(spec: Provision, start: dt.date) -> int:
    if isinstance(spec, FosterProvision):
        return sum(h.count * h.places for h in spec.households)
    if isinstance(spec, HomeProvision):
        return sum(
            h.beds
            for h in spec.homes
            if (h.opens is None or h.opens <= start) and (h.closes is None or h.closes > start)
        )
    return 0


def cross_reference_errors(s: Scenario) -> list[tuple[Loc, str]]:
    """Every name used somewhere must be defined somewhere: (key path, message) pairs."""
    provisions = set(s.provision)
    needs = set(s.needs)
    out: list[tuple[Loc, str]] = []

    def _loc(where: str) -> Loc:
        parts: list[str | int] = []
        for piece in where.split("."):
            m = re.match(r"^([^\[]+)((?:\[\d+\])*)$", piece)
            if not m:
                parts.append(piece)
                continue
            parts.append(m.group(1))
            parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
        return tuple(parts)

    def prov(where: str, name: str) -> None:
        if name not in provisions:
            out.append(
                (
                    _loc(where),
                    f"names provision {name!r}, which is not defined; "
                    f"defined: {', '.join(sorted(provisions))}",
                )
            )

    def need(where: str, name: str) -> None:
        if name not in needs:
            out.append(
                (
                    _loc(where),
                    f"names needs level {name!r}, which is not defined; "
                    f"defined: {', '.join(needs)}",
                )
            )

    def add(where: str, msg: str) -> None:
        out.append((_loc(where), msg))

    for band, mix in s.entries.needs_mix.items():
        for n in mix:
            need(f"entries.needs_mix.{band}", n)
    if s.entries.uasc.needs is not None:
        need("entries.uasc.needs", s.entries.uasc.needs)
    for pid, group in s.population.items():
        prov(f"population.{pid}", pid)
        for n in group.needs or {}:
            need(f"population.{pid}.needs", n)
    for pid, p in s.provision.items():
        for n in p.needs:
            need(f"provision.{pid}.needs", n)
    prov("matching.fallback", s.matching.fallback)
    if s.matching.fallback in provisions:
        fb = s.provision[s.matching.fallback]
        if fb.kind != "emergency":
            add(
                "matching.fallback",
                f"{s.matching.fallback!r} must be a provision of kind "
                f"'emergency' (it is {fb.kind!r})",
            )
    for i, rule in enumerate(s.matching.preferences):
        for name in rule.order:
            prov(f"matching.preferences[{i}].order", name)
        for n in rule.when.needs or []:
            need(f"matching.preferences[{i}].when.needs", n)
    for n in s.breakdown.needs_multiplier:
        need("breakdown.needs_multiplier", n)
    for i, m in enumerate(s.moves):
        for name in m.from_:
            prov(f"moves[{i}].from", name)
        for name in m.to:
            prov(f"moves[{i}].to", name)
        for n in m.needs or []:
            need(f"moves[{i}].needs", n)
    for reason, route in s.exits.items():
        for name in route.from_ or []:
            prov(f"exits.{reason}.from", name)
        for name in route.not_from:
            prov(f"exits.{reason}.not_from", name)
    for pid, group in s.population.items():
        spec = s.provision.get(pid)
        if spec is None or spec.kind not in ("foster", "home"):
            continue
        places = _places_at_start(spec, s.scenario.start_date)
        children = sum(group.by_age.values())
        if children > places:
            add(
                f"population.{pid}",
                f"{children} children at the start but only {places} places open in "
                f"{pid!r} on {s.scenario.start_date}",
            )
    start = s.scenario.start_date
    for i, c in enumerate(s.option_costs):
        if c.starts is not None and c.starts < start:
            add(
                f"option_costs[{i}].starts",
                f"option cost {c.item!r} starts on {c.starts}, before the scenario starts "
                f"({start}); costs before the start are not counted, so start it on or "
                "after the start date",
            )
        if c.ends is not None and c.ends <= start:
            add(
                f"option_costs[{i}].ends",
                f"option cost {c.item!r} ends on {c.ends}, on or before the scenario "
                f"starts ({start})",
            )
    if "age_18" in s.exits:
        add("exits.age_18", "is reserved: turning 18 is handled by [leaving_care]")
    emergencies = [pid for pid, p in s.provision.items() if p.kind == "emergency"]
    if len(emergencies) > 1:
        add(
            "provision",
            f"only one provision may be of kind 'emergency' (found {', '.join(emergencies)})",
        )
    return out
