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
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from .ages import BAND_NAMES
from .uncertain import Interval, IntervalError, dotted, value_at
from .uncertain import split as split_intervals
from .uncertain import steps as uncertain_steps

NonNeg = Annotated[float, Field(ge=0)]
Prob = Annotated[float, Field(ge=0, le=1)]
PosInt = Annotated[int, Field(ge=1)]


class WholeTable:
    """Schema marker: a table that `extends` replaces whole instead of merging key by key.

    A table of shares describes one whole (they add up to 1): an option that writes its own
    age mix means that mix, not the base file's bands plus its own. `sim.scenario.load` finds
    every place marked with this by walking the schema, so marking a type is all it takes.
    """

    def __repr__(self) -> str:
        return "WholeTable()"


WHOLE = WholeTable()
#: Shares that must add up to 1 (checked by `_check_shares`); replaced whole by `extends`.
Shares = Annotated[dict[str, Prob], WHOLE]


def _q(name: object) -> str:
    """A name from the file, quoted and clipped: a message never repeats much of a file."""
    text = str(name)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _names(names: list[str]) -> str:
    shown = ", ".join(_q(n).strip("'\"") for n in names[:12])
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def _number(v: float) -> str:
    """A number as a person writes it: 1,000,000,000 rather than 1e+09."""
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.6g}"


def _at_most(limit: float, unit: str, why: str) -> AfterValidator:
    """An upper bound with its reason: a figure far beyond any council's is a typo (or
    would exhaust memory when simulated), and the message says what a real one looks like."""

    def check(v: float) -> float:
        if v > limit:
            raise ValueError(
                f"{_number(v)} is not plausible: at most {_number(limit)} {unit} ({why})"
            )
        return v

    return AfterValidator(check)


def _at_least(limit: float, unit: str, why: str) -> AfterValidator:
    """A lower bound with its reason (see `_at_most`)."""

    def check(v: float) -> float:
        if v < limit:
            raise ValueError(
                f"{_number(v)} is not plausible: at least {_number(limit)} {unit} ({why})"
            )
        return v

    return AfterValidator(check)


# Plausible bounds. They are far above any single council's figure (so no real scenario
# meets them) and stop a typo such as `per_year = 1e9` from validating and then exhausting
# memory. National figures are from shared/facts.md (section in brackets).
#: Entries to care, England: 33,000 (2023), 33,050 (2024), 32,270 (2025) [facts §1].
EntriesPerYear = Annotated[
    float,
    Field(ge=0),
    _at_most(
        10_000,
        "entries a year",
        "England has about 33,000 entries to care a year in all; "
        "a single council's are in the tens or hundreds",
    ),
]
#: UASC starting care, England: 7,090 in 2023, 21% of all starters [facts §2].
UascPerYear = Annotated[
    float,
    Field(ge=0),
    _at_most(
        5_000,
        "UASC a year",
        "England had 7,090 unaccompanied asylum-seeking children start care in 2023 in all",
    ),
]
#: Children looked after, England: 81,770 on 31 March 2025 [facts §1].
MAX_CHILDREN = 20_000
CHILDREN_WHY = (
    "England had 81,770 children in care in all on 31 March 2025; a single council has hundreds"
)
ChildCount = Annotated[int, Field(ge=0), _at_most(MAX_CHILDREN, "children", CHILDREN_WHY)]
#: Fostering households, England: 42,190 in 2024/25 [facts §7].
HouseholdCount = Annotated[
    int,
    Field(ge=0),
    _at_most(
        10_000,
        "households",
        "England had 42,190 fostering households in all in 2024/25; "
        "a single council has tens or hundreds",
    ),
]
#: Newly approved mainstream fostering households, England: 4,055 in 2023/24 [facts §7].
RecruitmentPerYear = Annotated[
    float,
    Field(ge=0),
    _at_most(
        1_000,
        "households a year",
        "England approves about 4,000 new mainstream fostering households a year in all",
    ),
]
#: Mainstream children's homes average about 3.6 places (2025) [facts §9]; a block of
#: supported flats may have tens.
Beds = Annotated[
    int,
    Field(ge=1),
    _at_most(
        1_000,
        "beds in one home",
        "the average children's home in England has about 3.6 places; "
        "list each home or block separately",
    ),
]
#: The highest single placement in the LGA's 2023 high-cost survey: £63,000 a week [facts §8].
WeeklyCost = Annotated[
    float,
    Field(ge=0),
    _at_most(
        100_000,
        "pounds a week",
        "the most expensive placement in the LGA's 2023 survey cost £63,000 a week",
    ),
]
#: England's councils spent £8.1bn on children looked after in 2023/24 [facts §8, s251 outturn].
OptionAmount = Annotated[
    float,
    Field(ge=0),
    _at_most(
        1_000_000_000,
        "pounds",
        "all English councils together spent £8.1bn on children looked after in 2023/24; "
        "one option's cost is in thousands or millions",
    ),
]
#: A hazard per child (or household) per year: 0.2 is about one in five a year.
Rate = Annotated[
    float,
    Field(ge=0),
    _at_most(
        365,
        "a year",
        "rates are per child per year, e.g. 0.2 for about one in five a year; "
        "365 would be once a day",
    ),
]


class Strict(BaseModel):
    """Base of every scenario table: an unknown key is refused (a typo is an error, never
    ignored quietly), and a validated scenario cannot be changed by accident.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- distributions


class Fixed(Strict):
    """A distribution that always gives `value` (e.g. an offer that always takes 14 days)."""

    dist: Literal["fixed"]
    value: NonNeg


class Exponential(Strict):
    """An exponential distribution with mean `mean`: many short waits, a few long ones."""

    dist: Literal["exponential"]
    mean: NonNeg


class LogNormal(Strict):
    """A lognormal distribution, by its median and `sigma` (the spread of its log): skewed,
    never negative, a few values far above the median.
    """

    dist: Literal["lognormal"]
    median: Annotated[float, Field(gt=0)]
    sigma: NonNeg


class Uniform(Strict):
    """Any value from `low` to `high`, all equally likely."""

    dist: Literal["uniform"]
    low: NonNeg
    high: NonNeg

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self


#: One whole distribution: `extends` replaces it whole (a `fixed` delay written over a base
#: `lognormal` one must not keep the base's `median` and `sigma`).
Distribution = Annotated[
    Fixed | Exponential | LogNormal | Uniform, Field(discriminator="dist"), WHOLE
]


def _check_shares(shares: dict[str, float], what: str) -> None:
    total = sum(shares.values())
    if not shares:  # an empty mix would leave nothing to draw from mid-run
        raise ValueError(f"{what}: the table is empty; give at least one share (adding up to 1)")
    if abs(total - 1.0) > 0.01:
        raise ValueError(f"{what} must add up to 1 (they add up to {total:.3f})")


def _check_bands(keys: Mapping[str, object], what: str, complete: bool = False) -> None:
    unknown = [k for k in keys if k not in BAND_NAMES]
    if unknown:
        raise ValueError(
            f"{what}: unknown age band {_q(unknown[0])}; expected one of {', '.join(BAND_NAMES)}"
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


#: Start dates a scenario may have (see Meta._first_of_month).
FIRST_START = dt.date(1990, 1, 1)
LAST_START = dt.date(2100, 12, 1)


class Meta(Strict):
    """The `[scenario]` table: name, place, description and start date (the first of a month)."""

    name: str
    place: str = ""
    description: str = ""
    start_date: dt.date
    #: General inflation a year (e.g. the GDP deflator): costs are reported in cash and
    #: also in today's money, the prices of the first scenario year, each scenario year's
    #: cash divided by (1 + deflator_per_year) ** year. 0: the two are the same.
    deflator_per_year: Annotated[float, Field(ge=-0.5, le=1)] = 0.0

    @field_validator("start_date")
    @classmethod
    def _first_of_month(cls, d: dt.date) -> dt.date:
        if d.day != 1:
            raise ValueError(
                f"{d} must be the first day of a month (results are reported by calendar month)"
            )
        if not FIRST_START <= d <= LAST_START:
            # the calendar runs up to 30 years past the start; year 9999 would overflow it
            raise ValueError(
                f"{d} is not plausible: a start date from {FIRST_START} to {LAST_START} "
                "(the SSDA903 return began in the 1990s; forecasts start from recent data)"
            )
        return d


class NeedsLevel(Strict):
    """A level of needs (`[needs.<name>]`), e.g. very complex needs that call for a solo home."""

    label: str = ""
    #: A child at this level may only live where no other child lives (solo home, or an
    #: empty dual home), and nobody else is placed with them.
    sole_occupancy: bool = False


class Uasc(Strict):
    """Unaccompanied asylum-seeking children (`[entries.uasc]`): how many a year, the
    National Transfer Scheme rota, the LA's cap, and their ages and needs.
    """

    per_year: UascPerYear = 0.0
    rota_days: Annotated[
        float,
        Field(gt=0),
        _at_least(1, "day", "National Transfer Scheme referrals come on a rota of days or weeks"),
    ] = 28.0
    cap: Annotated[int, Field(ge=0)] | None = None
    age_mix: Shares = Field(default_factory=lambda: {"16-17": 1.0})
    needs: str | None = None

    @model_validator(mode="after")
    def _mix(self) -> Uasc:
        _check_bands(self.age_mix, "uasc age_mix")
        _check_shares(self.age_mix, "uasc age_mix shares")
        return self


class Entries(Strict):
    """Children coming into care (`[entries]`): how many a year, trend and seasonality, and the
    mix of ages, needs, disability and sibling group sizes.
    """

    #: Children (not sibling groups) starting care in a year, not counting UASC.
    per_year: EntriesPerYear
    trend_per_year: Annotated[
        float,
        Field(gt=-1),
        _at_most(1, "a year", "1 means entries double every year; -0.1 means 10% fewer a year"),
    ] = 0.0
    #: The date `per_year` is the rate on (default: the start date); the trend runs from
    #: it. `calibrate` gives the middle of its window, where the rate is known best and its
    #: uncertainty does not depend on the trend's.
    trend_from: dt.date | None = None
    seasonality: list[NonNeg] = Field(default_factory=lambda: [1.0] * 12)
    age_mix: Shares
    needs_mix: dict[str, Shares]
    disability_share: Prob = 0.0
    sibling_group_size: Shares = Field(default_factory=lambda: {"1": 1.0})
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
                raise ValueError(f"sibling_group_size key {_q(size)} must be a group size 1-8")
        _check_shares(self.sibling_group_size, "sibling_group_size shares")
        return self


class PopulationGroup(Strict):
    """Children already living in one provision on the start date."""

    by_age: dict[str, ChildCount]
    needs: Shares | None = None
    uasc_share: Prob = 0.0
    disability_share: Prob = 0.0
    #: How long these children have already been in care is not known from counts: it is
    #: drawn uniformly up to this many years (never more than the child's age). It matters
    #: only for exit rates that depend on time in care.
    max_years_in_care: Annotated[float, Field(gt=0, le=18)] = 3.0

    @model_validator(mode="after")
    def _mix(self) -> PopulationGroup:
        _check_bands(self.by_age, "by_age")
        total = sum(self.by_age.values())
        if total > MAX_CHILDREN:
            raise ValueError(
                f"by_age: {_number(total)} children is not plausible: at most "
                f"{_number(MAX_CHILDREN)} ({CHILDREN_WHY})"
            )
        if self.needs is not None:
            _check_shares(self.needs, "needs shares")
        return self


class Household(Strict):
    """`count` foster households with `places` places each, approved (if `ages` or `needs`
    is given) only for children of those ages and needs levels: narrower than the
    provision's own, never wider."""

    count: HouseholdCount
    places: Annotated[int, Field(ge=1, le=6)]
    ages: AgeRange | None = None
    needs: list[str] | None = None


class Approval(Strict):
    """A share of newly recruited households approved for these ages and needs levels only
    (`new_household_approval`); a range left out is the provision's own."""

    share: Prob
    ages: AgeRange | None = None
    needs: list[str] | None = None


def _check_approval(
    where: str, ages: AgeRange | None, needs: list[str] | None, spec: ProvisionBase
) -> None:
    """An approval range must lie within the provision's own: the provision's eligibility
    rules decide who is searched for here, a household's range only narrows them."""
    if ages is not None and (ages.min_age < spec.ages.min_age or ages.max_age > spec.ages.max_age):
        raise ValueError(
            f"{where}.ages ({_number(ages.min_age)} to {_number(ages.max_age)}) must lie "
            f"within the provision's ages ({_number(spec.ages.min_age)} to "
            f"{_number(spec.ages.max_age)}): a household's approval only narrows them"
        )
    if needs is not None:
        if not needs:
            raise ValueError(
                f"{where}.needs is empty: give at least one needs level, or leave it out"
            )
        wider = [n for n in needs if n not in spec.needs]
        if wider:
            raise ValueError(
                f"{where}.needs names {_q(wider[0])}, which the provision does not take; "
                f"a household's approval only narrows the provision's needs "
                f"({_names(spec.needs)})"
            )


class Resize(Strict):
    """A home's number of beds from `date` on."""

    date: dt.date
    beds: Beds


class Home(Strict):
    """One children's home (or flat): its beds, and the dates it opens, closes or changes size."""

    name: str
    beds: Beds
    opens: dt.date | None = None
    closes: dt.date | None = None
    #: Change the number of beds on dates (e.g. cap a home at 3 beds from April 2025).
    resize: list[Resize] = Field(default_factory=list)
    #: Days from `opens` (when the home is open and paid for) to when its beds can take a
    #: child: registration, staff induction, matching the first children (a distribution;
    #: default: at once). Only for a home opening during the run.
    first_child_after_days: Distribution | None = None
    #: This home's chance a year of closing at random (overrides the provision's
    #: `closure_per_year`): its children move, as at a dated close.
    closure_per_year: Rate | None = None
    #: Beds of this home that may be filled at once (matching: who can live together),
    #: below `beds` (overrides the provision's `max_occupied`); all beds are still paid for
    #: when the cost basis is per_place.
    max_occupied: PosInt | None = None

    @model_validator(mode="after")
    def _dates(self) -> Home:
        if self.opens and self.closes and self.closes <= self.opens:
            raise ValueError(
                f"home {_q(self.name)} closes ({self.closes}) before it opens ({self.opens})"
            )
        if self.max_occupied is not None and self.max_occupied > self.beds:
            raise ValueError(
                f"home {_q(self.name)}: max_occupied ({self.max_occupied}) is above its beds "
                f"({self.beds}); it caps the beds that may be filled at once, so give at most "
                f"{self.beds}, or leave it out"
            )
        if self.first_child_after_days is not None and self.opens is None:
            raise ValueError(
                f"home {_q(self.name)} has first_child_after_days but no opens date: it is "
                "open from the start, with its children already placed; give the date it opens"
            )
        for r in self.resize:
            if (self.opens and r.date <= self.opens) or (self.closes and r.date >= self.closes):
                raise ValueError(
                    f"home {_q(self.name)} is resized on {r.date}, outside the dates it is open"
                )
        return self


class ProvisionBase(Strict):
    """What every placement type says: who it can take (ages, needs, sibling groups,
    disability, UASC), where it is, what it costs, and how often placements there break down.
    """

    label: str = ""
    ages: AgeRange = Field(default_factory=AgeRange)
    #: Wider ages allowed only when nothing else in the child's list can take them
    #: (e.g. no under-11s in residential care unless there is no alternative).
    last_resort_ages: AgeRange | None = None
    needs: list[str]
    location: Literal["in_area", "within_20_miles", "beyond_20_miles"]
    #: One price for every child, or a price by needs level (`{ standard = 4534,
    #: very_complex = 12450 }`): a table must price every level the provision takes.
    weekly_cost: WeeklyCost | dict[str, WeeklyCost]
    price_inflation_per_year: Annotated[float, Field(ge=-0.5, le=1)] = 0.0
    #: False: a child placed here still counts as unmet demand and the search goes on.
    suitable: bool = True
    #: False: an unregistered arrangement (no Ofsted registration). A child living here is
    #: counted in an unregistered placement, under-16s apart: unlawful since 2021 [domain.md].
    registered: bool = True
    #: The share of children living here who are deprived of their liberty (a secure
    #: accommodation order, or a deprivation-of-liberty order of the High Court): one
    #: share, or a share by needs level (a level left out: 0). Drawn once per placement
    #: from the child's own matching stream, only where a share lies strictly between 0
    #: and 1, so a scenario without it draws nothing more.
    deprivation_of_liberty_share: Prob | dict[str, Prob] = 0.0
    #: Whether this is a residential setting (a children's home), for the count of
    #: under-11s in residential care; unset: true for `kind = "home"`, false otherwise.
    #: Set it true for an external or secure children's home bought as `kind = "offer"`.
    residential: bool | None = None
    takes_sibling_groups: bool = True
    accepts_disability: bool = True
    accepts_uasc: bool = True
    breakdown_per_year: Rate = 0.0

    @field_validator("weekly_cost")
    @classmethod
    def _price_table(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        if isinstance(v, dict) and not v:
            raise ValueError(
                "the table of prices by needs level is empty; give one number, or a price "
                "for each needs level, e.g. { standard = 4534, very_complex = 12450 }"
            )
        return v

    def deprivation_of_liberty_by_needs(self, levels: list[str]) -> list[float]:
        """The share deprived of liberty for each of `levels` (the scenario's needs
        levels, in order); a level a table leaves out has none."""
        share = self.deprivation_of_liberty_share
        if isinstance(share, dict):
            return [float(share.get(level, 0.0)) for level in levels]
        return [float(share)] * len(levels)

    def is_residential(self) -> bool:
        """Whether children here live in a residential setting (see `residential`)."""
        if self.residential is not None:
            return self.residential
        return getattr(self, "kind", "") == "home"

    def prices_by_needs(self, levels: list[str]) -> list[float]:
        """The weekly price (first-year prices) for each of `levels` (the scenario's needs
        levels, in order). A level a table leaves out costs the table's highest price: a
        validated scenario never places a child of that level here (`cross_reference_errors`)."""
        cost = self.weekly_cost
        if not isinstance(cost, dict):
            return [float(cost)] * len(levels)
        top = max(cost.values())
        return [float(cost.get(level, top)) for level in levels]


def weekly_cost_range(cost: float | dict[str, float]) -> tuple[float, float]:
    """The lowest and highest weekly price (the same for one number)."""
    if isinstance(cost, dict):
        return min(cost.values()), max(cost.values())
    return cost, cost


class RecruitmentChange(Strict):
    """Foster recruitment runs at `per_year` households a year from the date `from` on.

    Small on purpose: the general dated `[[changes]]` of issue 16 will take this over.
    `per_year` counts approvals also where the provision gives its pipeline
    (`enquiries_per_year`): the enquiries a year are then per_year / conversion.
    """

    from_: dt.date = Field(alias="from")
    per_year: RecruitmentPerYear


class ServiceStep(Strict):
    """A step of the deregistration hazard by length of service: `per_year` until
    `until_years` of service (from the end of the step before)."""

    until_years: Annotated[float, Field(gt=0, le=60)]
    per_year: Rate


#: Initial enquiries to fostering services, England: 125,195 in 2022/23 [facts §7].
EnquiriesPerYear = Annotated[
    float,
    Field(ge=0),
    _at_most(
        20_000,
        "enquiries a year",
        "England's fostering services had about 125,000 initial enquiries a year in all; "
        "a single council has hundreds or a few thousand",
    ),
]


class FosterProvision(ProvisionBase):
    """Households approved for a number of places; recruited and deregistered over time."""

    kind: Literal["foster"]
    cost_basis: Literal["per_child"] = "per_child"
    compatibility: Prob = 1.0
    households: list[Household] = Field(default_factory=list)
    #: Households a year whose applications will be approved (each opens once its
    #: assessment, `assessment_days`, is over).
    recruitment_per_year: RecruitmentPerYear = 0.0
    #: The pipeline instead of `recruitment_per_year`: initial enquiries a year, of which
    #: the share `conversion` is approved (after `assessment_days`); approvals a year =
    #: enquiries_per_year x conversion. Enquiries are counted monthly (`enquiries`).
    enquiries_per_year: EnquiriesPerYear | None = None
    conversion: Annotated[float, Field(gt=0, le=1)] | None = None
    #: The recruitment rate from a date on (an option's campaign), in date order, each
    #: after the scenario's start: e.g. [{ from = 2024-04-01, per_year = 13.0 }].
    recruitment_changes: list[RecruitmentChange] = Field(default_factory=list)
    #: Days from a recruited household's application to its approval: it opens only
    #: then. Households in assessment at the start are drawn too, so a steady recruitment
    #: rate keeps a steady pool from day one.
    assessment_days: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=0))
    new_household_places: Shares = Field(default_factory=lambda: {"2": 1.0})
    #: A household's chance a year of leaving fostering (after the last step of
    #: `deregistration_by_service`, if any).
    deregistration_per_year: Rate = 0.0
    #: The deregistration hazard by length of service, in steps (e.g. many leave in their
    #: first two years); beyond the last step, `deregistration_per_year`.
    deregistration_by_service: list[ServiceStep] = Field(default_factory=list)
    #: Multiplies every deregistration hazard of the provision (a retention scheme such as
    #: Mockingbird: 0.18 for "82% less likely to deregister").
    retention_multiplier: Annotated[float, Field(ge=0, le=10)] = 1.0
    staying_put_probability: Prob = 0.0
    #: Approval ranges of newly recruited households, by share (empty: every new household
    #: takes the provision's own ages and needs).
    new_household_approval: list[Approval] = Field(default_factory=list)
    #: Share of approved households on hold at any time (the carer's own reasons, a break,
    #: an investigation, a child who in practice must live alone): they take no new child.
    on_hold_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    #: Mean length of a spell on hold, in months.
    on_hold_months: Annotated[float, Field(gt=0, le=120)] = 3.0

    @model_validator(mode="after")
    def _mix(self) -> FosterProvision:
        for k in self.new_household_places:
            if not k.isdigit() or not 1 <= int(k) <= 6:
                raise ValueError(f"new_household_places key {_q(k)} must be a number of places 1-6")
        _check_shares(self.new_household_places, "new_household_places shares")
        given = self.model_fields_set
        if (self.enquiries_per_year is None) != (self.conversion is None):
            raise ValueError(
                "enquiries_per_year and conversion go together: approvals a year = "
                "enquiries_per_year x conversion (the share of enquiries approved); give both, "
                "or recruitment_per_year alone"
            )
        if (
            self.enquiries_per_year is not None
            and "recruitment_per_year" in given
            and self.recruitment_per_year > 0
        ):
            raise ValueError(
                "recruitment_per_year and enquiries_per_year are both given: give either "
                "recruitment_per_year (approvals a year) or enquiries_per_year with conversion "
                "(approvals a year = enquiries x conversion), not both; an option extending a "
                "file that sets recruitment_per_year can set it to 0"
            )
        edges = [step.until_years for step in self.deregistration_by_service]
        if edges != sorted(set(edges)):
            raise ValueError(
                "deregistration_by_service: the steps' until_years "
                f"({', '.join(_number(e) for e in edges)}) must be different and increasing"
            )
        if (
            self.deregistration_by_service
            and self.deregistration_per_year <= 0
            and any(h.count for h in self.households)
        ):
            raise ValueError(
                "deregistration_by_service with deregistration_per_year = 0: the households "
                "open at the start get a length of service drawn from the steady state of "
                "these hazards, which has none if carers never leave after the last step; "
                "give deregistration_per_year (the hazard beyond the last step) above 0"
            )
        dates = [c.from_ for c in self.recruitment_changes]
        if dates != sorted(set(dates)):
            raise ValueError(
                f"recruitment_changes: the dates ({', '.join(map(str, dates))}) must be "
                "different and in order, earliest first"
            )
        for i, h in enumerate(self.households):
            _check_approval(f"households[{i}]", h.ages, h.needs, self)
        for i, a in enumerate(self.new_household_approval):
            _check_approval(f"new_household_approval[{i}]", a.ages, a.needs, self)
        if self.new_household_approval:
            _check_shares(
                {str(i): a.share for i, a in enumerate(self.new_household_approval)},
                "new_household_approval shares",
            )
        return self

    def approvals_per_year(self) -> float:
        """Households approved a year at the start: `recruitment_per_year`, or enquiries x
        conversion for a provision that gives its pipeline."""
        if self.enquiries_per_year is not None and self.conversion is not None:
            return self.enquiries_per_year * self.conversion
        return self.recruitment_per_year


class HomeProvision(ProvisionBase):
    """Children's homes (or flats) with beds, open and closed on dates."""

    kind: Literal["home"]
    #: per_place: the home costs weekly_cost per open bed whether full or not (in-house
    #: staffing, block contracts); per_child: paid per occupied bed.
    cost_basis: Literal["per_child", "per_place"] = "per_place"
    compatibility: Prob = 1.0
    homes: list[Home] = Field(default_factory=list)
    #: Each home's chance a year of closing at random (a provider leaving, an Ofsted
    #: suspension that ends in closure): its children move, as at a dated close. A home
    #: may give its own.
    closure_per_year: Rate = 0.0
    #: Each home's chance a year of losing `beds_cut` beds after an inspection (a
    #: restriction on the places it may offer): for good, never below one bed.
    inspection_bed_cut_per_year: Rate = 0.0
    beds_cut: Annotated[int, Field(ge=1, le=20)] = 1
    #: Beds of each home that may be filled at once, below its beds (matching: who can
    #: live together); a home may give its own. All beds are paid for when per_place.
    max_occupied: PosInt | None = None

    def occupancy_cap(self, home: Home) -> int | None:
        """The beds of `home` that may be filled at once (None: all of them)."""
        return home.max_occupied if home.max_occupied is not None else self.max_occupied

    def closure_rate(self, home: Home) -> float:
        """The yearly chance that `home` closes at random."""
        return self.closure_per_year if home.closure_per_year is None else home.closure_per_year

    @model_validator(mode="after")
    def _one_price_per_bed(self) -> HomeProvision:
        if self.cost_basis == "per_place" and isinstance(self.weekly_cost, dict):
            raise ValueError(
                "weekly_cost: a per_place home is paid for each open bed, filled or not, so "
                "its price cannot depend on the child's needs; give one number, or set "
                'cost_basis = "per_child" to price by needs level'
            )
        return self


class OfferProvision(ProvisionBase):
    """Places that exist when somebody says yes: the external market, kinship networks."""

    kind: Literal["offer"]
    cost_basis: Literal["per_child"] = "per_child"
    offer_probability: Prob | dict[str, Prob]
    offer_delay_days: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=0))
    #: How long a provider's refusal of a child holds: the provision is not asked again for
    #: that child until it has passed (a referral the provider turned down stays turned
    #: down until the child's circumstances or the provider's change). Fixed 0: a refusal
    #: holds for nothing, and the child's next search asks again. A waiting child's own
    #: search comes when the first hold among its options ends, a day after the last at
    #: the soonest.
    refusal_holds_days: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=0))
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
    """Which children a preference rule is for: ages, needs, UASC, disability, sibling
    group, and where the child's pathway has got to (`from`, `entering`).
    """

    min_age: Annotated[float, Field(ge=0, le=18)] = 0.0
    max_age: Annotated[float, Field(ge=0, le=18)] = 18.0
    needs: list[str] | None = None
    uasc: bool | None = None
    disability: bool | None = None
    sibling_group: bool | None = None
    #: Only children moving on from one of these provisions: the placement that broke
    #: down, closed or was left by a move, or, while the child waits in an unsuitable
    #: placement, the last suitable one they left. A child entering care has none, so a
    #: rule with `from` never applies to a new entrant.
    from_: list[str] | None = Field(default=None, alias="from", min_length=1)
    #: true: only children who have not had a suitable placement yet in this period of
    #: care (new entrants, also while they wait in the fallback); false: only the others.
    entering: bool | None = None

    def is_catch_all(self) -> bool:
        """Whether the rule is for every child (no conditions), as the last rule must be."""
        return (
            self.min_age == 0
            and self.max_age == 18
            and self.needs is None
            and self.uasc is None
            and self.disability is None
            and self.sibling_group is None
            and self.from_ is None
            and self.entering is None
        )


class PreferenceRule(Strict):
    """For the children `when` describes, the placement types to try, best first (`order`)."""

    name: str = ""
    when: When = Field(default_factory=When)
    order: list[str] = Field(min_length=1)


class Matching(Strict):
    """The `[matching]` table: preference rules in order, the fallback when nothing suitable
    is free, and the backstop for searching again for a child who waits.

    A child not suitably placed is searched for again when something could have changed:
    a household or home place in its preference list frees, a provider's refusal stops
    holding (`refusal_holds_days`), or the child reaches an age at which its options
    change. `retry_days`, when given, adds a search at least every so many days in any
    case; none (the default): wake-ups only.
    """

    fallback: str
    retry_days: (
        Annotated[
            float,
            Field(gt=0),
            _at_least(1, "day", "a placement search is repeated every few days, not within a day"),
        ]
        | None
    ) = None
    preferences: list[PreferenceRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _catch_all(self) -> Matching:
        if not self.preferences[-1].when.is_catch_all():
            raise ValueError(
                "the last preference rule must have no 'when' conditions, so that every "
                "child has a preference order"
            )
        return self


class TimeInCare(Strict):
    """A step of a rate by time spent (in care, or in the current placement): until
    `until_years`, times `multiplier`; after the last step, times 1."""

    until_years: Annotated[float, Field(gt=0)]
    multiplier: NonNeg


def _check_steps(steps: list[TimeInCare], what: str) -> None:
    edges = [t.until_years for t in steps]
    if edges != sorted(edges):
        raise ValueError(f"{what} steps must be in increasing until_years order")


class Breakdown(Strict):
    """The `[breakdown]` table: how a child's age band, needs and time in the current
    placement multiply the breakdown rate."""

    age_multiplier: dict[str, NonNeg] = Field(default_factory=dict)
    needs_multiplier: dict[str, NonNeg] = Field(default_factory=dict)
    #: Steps by years in the current placement (most placements that break down do so
    #: early); none: the rate does not depend on it.
    time_in_placement: list[TimeInCare] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bands(self) -> Breakdown:
        _check_bands(self.age_multiplier, "age_multiplier")
        _check_steps(self.time_in_placement, "time_in_placement")
        return self


class PlannedMove(Strict):
    """A planned move (`[[moves]]`): children of these ages and needs move from one placement
    type to another at a rate, e.g. step-down from residential to foster care.
    """

    name: str
    from_: list[str] = Field(alias="from", min_length=1)
    to: list[str] = Field(min_length=1)
    min_age: Annotated[float, Field(ge=0, le=18)] = 0.0
    max_age: Annotated[float, Field(ge=0, le=18)] = 18.0
    needs: list[str] | None = None
    rate_per_year: Rate


class NeedsChange(Strict):
    """A change of needs level (`[[needs_change]]`): children at level `from` move to level
    `to` at a rate by age band (and time in care), e.g. a teenager's needs escalating with
    exploitation or poor mental health, or de-escalating after stable care. A child whose
    placement does not take the new level moves (`needs_changed`)."""

    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    #: Changes a year by age band; a band not given: no change at those ages.
    rate_per_year: dict[str, Rate]
    #: Steps by years in care multiplying the rate (none: it does not depend on it).
    time_in_care: list[TimeInCare] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bands(self) -> NeedsChange:
        _check_bands(self.rate_per_year, "rate_per_year")
        _check_steps(self.time_in_care, "time_in_care")
        return self


class ExitRoute(Strict):
    """A way of leaving care (`[exits.<route>]`): its rate by age band and time in care, who
    can leave this way, and the chance the carer leaves the foster pool with the child.
    """

    label: str = ""
    rate_per_year: dict[str, Rate]
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
        _check_steps(self.time_in_care, "time_in_care")
        return self


class LeavingCare(Strict):
    """Turning 18: every child leaves care; some stay on with their foster carer."""

    staying_put_years: Distribution = Field(
        default_factory=lambda: Uniform(dist="uniform", low=0.5, high=3.0)
    )
    staying_put_weekly_cost: WeeklyCost = 0.0
    #: The Staying Put allowance rises by this each scenario year, as placement prices do.
    staying_put_price_inflation_per_year: Annotated[float, Field(ge=-0.5, le=1)] = 0.0


class AfterCare(Strict):
    """A payment that follows a child out of care by one exit route (`[after_care.<route>]`).

    An SGO or adoption allowance, or Staying Close after a children's home at 18 (route
    `age_18` with `from`): it keeps costing after the child has left care, so an option
    that moves children to SGO is not free. At the exit a share of the children leaving
    this way receive it, each for a drawn number of `years` (default: until their 18th
    birthday), at `weekly_cost` (first-year prices) rising by `price_inflation_per_year`
    each scenario year, as placement prices do.
    """

    label: str = ""
    weekly_cost: WeeklyCost
    #: Share of the children leaving by this route who receive the payment.
    share: Prob = 1.0
    #: How long it is paid; None: until the young person's 18th birthday.
    years: Distribution | None = None
    #: Only children leaving from these provisions receive it (default: all).
    from_: list[str] | None = Field(default=None, alias="from")
    price_inflation_per_year: Annotated[float, Field(ge=-0.5, le=1)] = 0.0


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
    one_off: OptionAmount = 0.0
    per_year: OptionAmount = 0.0
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
                f"option cost {_q(self.item)} has no amount: give one_off, per_year or both"
            )
        if self.starts and self.ends and self.ends <= self.starts:
            raise ValueError(
                f"option cost {_q(self.item)} ends ({self.ends}) on or before it starts "
                f"({self.starts})"
            )
        return self


class Change(Strict):
    """A dated change (`[[changes]]`): from `date` on, the number at `key` (a dotted key,
    as `sweep --vary` takes) is `set` to a value or multiplied by `multiply`.

    What a key may be, and whether the scenario stays valid after each change, is checked
    by `sim.scenario.changes` (it needs the whole scenario); here only the shape.
    """

    date: dt.date
    key: str = Field(min_length=1)
    set_: Any = Field(default=None, alias="set")
    multiply: Annotated[float, Field(allow_inf_nan=False)] | None = None
    #: Where the change comes from (a strategy, a decision): every figure carries one.
    source: str = ""

    @model_validator(mode="after")
    def _one_of(self) -> Change:
        if (self.set_ is None) == (self.multiply is None):
            both = "both" if self.set_ is not None else "neither"
            raise ValueError(
                f"change of {_q(self.key)} on {self.date} has {both} of 'set' and 'multiply': "
                "give exactly one, e.g. set = 13 or multiply = 1.3"
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
    #: Needs levels changing over time (`[[needs_change]]`): none, a child's level is fixed.
    needs_change: list[NeedsChange] = Field(default_factory=list)
    exits: dict[str, ExitRoute] = Field(default_factory=dict)
    leaving_care: LeavingCare = Field(default_factory=LeavingCare)
    #: Payments after care by exit route (`[after_care.<route>]`), outside `cost/total`.
    after_care: dict[str, AfterCare] = Field(default_factory=dict)
    #: The option's own costs (`[[option_costs]]`), added to placement costs by `compare`.
    option_costs: list[OptionCost] = Field(default_factory=list)
    #: Dated changes to numbers of the scenario (`[[changes]]`), applied in date order.
    changes: list[Change] = Field(default_factory=list)
    #: Numbers given as { median, interval90 } in the file, by dotted key: the scenario
    #: holds their medians and a replication draws its own values (`sim.scenario.uncertain`).
    uncertainty: dict[str, Interval] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _intervals(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        if "uncertainty" in data:
            if all(isinstance(v, Interval) for v in (data.get("uncertainty") or {}).values()):
                return data  # already split (a model built from a model)
            raise ValueError(
                "'uncertainty' is not a key a file sets: give a number as "
                "{ median = ..., interval90 = [low, high] } where it is"
            )
        try:
            plain, found = split_intervals(data)
        except IntervalError as exc:
            raise ValueError(f"{dotted(exc.loc)}: {exc}") from None
        if found:
            plain["uncertainty"] = found
        return plain

    def file_data(self) -> dict[str, Any]:
        """The scenario as a file would hold it: numbers with an interval written as
        { median, interval90 } where they are, so a copy reads back the same."""
        data = self.model_dump(mode="json", by_alias=True)
        for key, interval in self.uncertainty.items():
            *parents, last = uncertain_steps(key)
            node: Any = data
            for step in parents:
                node = node[step]
            node[last] = interval.as_table()
        return data

    @model_validator(mode="after")
    def _uncertain_numbers(self) -> Scenario:
        for key in self.uncertainty:
            value = value_at(self, key)
            if not isinstance(value, float):
                raise ValueError(
                    f"{key}: only a rate, a probability, a share or a cost may be given as "
                    "{ median, interval90 }, not a whole number or a date"
                )
        return self


Loc = tuple[str | int, ...]


def _places_at_start(spec: Provision, start: dt.date) -> int:
    if isinstance(spec, FosterProvision):
        return sum(h.count * h.places for h in spec.households)
    if isinstance(spec, HomeProvision):
        return sum(
            min(h.beds, spec.occupancy_cap(h) or h.beds)
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
                    f"names provision {_q(name)}, which is not defined; "
                    f"defined: {_names(sorted(provisions))}",
                )
            )

    def need(where: str, name: str) -> None:
        if name not in needs:
            out.append(
                (
                    _loc(where),
                    f"names needs level {_q(name)}, which is not defined; "
                    f"defined: {_names(list(s.needs))}",
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
        if isinstance(p.weekly_cost, dict):
            for n in p.weekly_cost:
                need(f"provision.{pid}.weekly_cost", n)
            # a table prices every child who can live here: the levels the provision
            # takes, those of its starting population, and every level in the fallback
            if pid == s.matching.fallback:
                who, taken = "every needs level (it is the matching fallback)", list(s.needs)
            else:
                pop = s.population.get(pid)
                extra = [n for n in (pop.needs or {}) if n not in p.needs] if pop else []
                who, taken = "every needs level it takes", [*p.needs, *extra]
            missing = [n for n in taken if n in needs and n not in p.weekly_cost]
            if missing:
                add(
                    f"provision.{pid}.weekly_cost",
                    f"no price for needs level {_q(missing[0])}: a table of prices by needs "
                    f"level must price {who}; priced: {_names(list(p.weekly_cost))}",
                )
    prov("matching.fallback", s.matching.fallback)
    if s.matching.fallback in provisions:
        fb = s.provision[s.matching.fallback]
        if fb.kind != "emergency":
            add(
                "matching.fallback",
                f"{_q(s.matching.fallback)} must be a provision of kind "
                f"'emergency' (it is {fb.kind!r})",
            )
    for i, rule in enumerate(s.matching.preferences):
        for name in rule.order:
            prov(f"matching.preferences[{i}].order", name)
        for n in rule.when.needs or []:
            need(f"matching.preferences[{i}].when.needs", n)
        for name in rule.when.from_ or []:
            prov(f"matching.preferences[{i}].when.from", name)
            spec = s.provision.get(name)
            if spec is not None and not spec.suitable:
                add(
                    f"matching.preferences[{i}].when.from",
                    f"names provision {_q(name)}, which is not suitable (suitable = false): "
                    "a child's pathway counts only the suitable placements they leave, so "
                    "the rule would never apply",
                )
        if rule.when.from_ is not None and rule.when.entering:
            add(
                f"matching.preferences[{i}].when",
                "'from' and 'entering = true' together: a child entering care has no "
                "placement to come from, so the rule would never apply",
            )
    for n in s.breakdown.needs_multiplier:
        need("breakdown.needs_multiplier", n)
    for i, m in enumerate(s.moves):
        for name in m.from_:
            prov(f"moves[{i}].from", name)
        for name in m.to:
            prov(f"moves[{i}].to", name)
        for n in m.needs or []:
            need(f"moves[{i}].needs", n)
    for i, change in enumerate(s.needs_change):
        need(f"needs_change[{i}].from", change.from_)
        need(f"needs_change[{i}].to", change.to)
        if change.from_ == change.to:
            add(
                f"needs_change[{i}]",
                f"'from' and 'to' are both {_q(change.to)}: a needs change must go to another "
                "level",
            )
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
                f"{_q(pid)} on {s.scenario.start_date}"
                + (
                    " (beds that may be filled: max_occupied)"
                    if isinstance(spec, HomeProvision)
                    and any(spec.occupancy_cap(h) is not None for h in spec.homes)
                    else ""
                ),
            )
    start = s.scenario.start_date
    for pid, p in s.provision.items():
        if isinstance(p.deprivation_of_liberty_share, dict):
            for n in p.deprivation_of_liberty_share:
                need(f"provision.{pid}.deprivation_of_liberty_share", n)
        if isinstance(p, FosterProvision):
            for i, ch in enumerate(p.recruitment_changes):
                if ch.from_ <= start:
                    add(
                        f"provision.{pid}.recruitment_changes[{i}].from",
                        f"recruitment changes on {ch.from_}, not after the scenario starts "
                        f"({start}); set recruitment_per_year for the rate at the start and "
                        "date a change after it",
                    )
    for i, c in enumerate(s.option_costs):
        if c.starts is not None and c.starts < start:
            add(
                f"option_costs[{i}].starts",
                f"option cost {_q(c.item)} starts on {c.starts}, before the scenario starts "
                f"({start}); costs before the start are not counted, so start it on or "
                "after the start date",
            )
        if c.ends is not None and c.ends <= start:
            add(
                f"option_costs[{i}].ends",
                f"option cost {_q(c.item)} ends on {c.ends}, on or before the scenario "
                f"starts ({start})",
            )
    for payment, ac in s.after_care.items():
        if payment not in s.exits and payment != "age_18":
            add(
                f"after_care.{payment}",
                f"names exit route {_q(payment)}, which is not defined; an after-care payment "
                f"follows an exit route: {_names([*s.exits, 'age_18'])}",
            )
        for name in ac.from_ or []:
            prov(f"after_care.{payment}.from", name)
    if "age_18" in s.exits:
        add("exits.age_18", "is reserved: turning 18 is handled by [leaving_care]")
    emergencies = [pid for pid, p in s.provision.items() if p.kind == "emergency"]
    if len(emergencies) > 1:
        add(
            "provision",
            f"only one provision may be of kind 'emergency' (found {_names(emergencies)})",
        )
    return out


#: A newcomer is accepted into a home with k residents with chance compatibility ** k
#: (every resident must accept them: `matching.acceptance_probability`). Below this chance
#: a bed is rarely filled: a search reaches a given home only for children whose
#: preference list gets that far, and residents leave meanwhile, so occupancy settles
#: about where acceptance falls to 1 in 5 (45 flats at compatibility 0.9 held 14 young
#: people, where 0.9 ** 14 = 0.23).
FILLABLE = 0.2


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def fillable_beds(compatibility: float, beds: int) -> int:
    """How many of a home's beds can realistically be filled: one more than the largest
    number of residents who still accept a newcomer at least 1 time in 5."""
    k = 0
    while k + 1 < beds and compatibility ** (k + 1) >= FILLABLE:
        k += 1
    return k + 1


def advisories(s: Scenario) -> list[tuple[Loc, str]]:
    """Things that validate but are probably not what the author meant: (key path,
    message) pairs, shown as warnings."""
    out: list[tuple[Loc, str]] = []
    named = {name for rule in s.matching.preferences for name in rule.order}
    moved_to = {name for m in s.moves for name in m.to}
    for pid in s.provision:
        if pid in named or pid == s.matching.fallback or pid in moved_to:
            continue
        already = sum(s.population[pid].by_age.values()) if pid in s.population else 0
        stay = f" (the {already} children there at the start stay until they leave)"
        out.append(
            (
                ("provision", pid),
                f"provision {_q(pid)} is not in the order of any matching rule, so no child "
                f"is ever placed there{stay if already else ''}; add it to the `order` of "
                "the [[matching.preferences]] rules that should use it",
            )
        )
    for pid, p in s.provision.items():
        if not isinstance(p, HomeProvision) or p.compatibility >= 1:
            continue
        c = p.compatibility
        for i, home in enumerate(p.homes):
            beds = max([home.beds, *(r.beds for r in home.resize)])
            cap = p.occupancy_cap(home)
            if cap is not None:
                beds = min(beds, cap)  # beds above the cap are not to be filled anyway
            n = fillable_beds(c, beds)
            if beds <= n:
                continue
            out.append(
                (
                    ("provision", pid, "homes", i),
                    f"home {_q(home.name)} has {beds} beds, but at compatibility {c:g} a "
                    f"{_ordinal(n + 1)} resident is accepted less than 1 time in 5 (every "
                    f"resident must accept a newcomer: {c:g}^{n} = {c**n:.2f}), so beds "
                    f"above about {n} will rarely be filled; split it into smaller homes "
                    "or raise compatibility",
                )
            )
    return out
