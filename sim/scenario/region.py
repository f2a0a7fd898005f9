"""A region: several councils' scenarios and the external placement market they share.

Councils do not commission alone: the children's homes and agency foster places of a
region are filled by every council in it (and by councils from elsewhere). A region file
names the council scenarios that run together, in one replication, and the markets their
external provisions draw on:

    [region]
    name = "North East"

    [councils.darlington]
    scenario = "darlington.toml"
    market = { external_home = "children_homes", ifa = "agency_foster" }

    [market.children_homes]
    places = 1500
    occupied_at_start = 0.9
    outside_placements_per_year = 700
    outside_stay_days = { dist = "exponential", mean = 550 }
    response = [
      { occupancy = 0.0, offer_factor = 1.0, price_factor = 1.0 },
      { occupancy = 0.95, offer_factor = 0.6, price_factor = 1.1 },
    ]

Each council's scenario stays a scenario of its own (`sufficiency run darlington.toml`
still works); the region only says which of its offer-type provisions are views on a
shared pool. The market's response (how the chance of an offer falls and the price rises
as the pool fills) is a table in the file, not a constant in code.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from ..common.errors import ScenarioError
from .load import LoadedScenario, explain_validation, find_line, load, read_raw
from .schema import Distribution, Exponential, Prob, Strict

#: Where a region file's problems are explained: its own schema, not a scenario's.
Path_ = tuple[str | int, ...]


class RegionMeta(Strict):
    """The region's name and what it is for."""

    name: str
    description: str = ""


class ResponsePoint(Strict):
    """One row of a market's response: at this share of the pool's places filled, the
    chance that a provider offers a place is `offer_factor` times the council's own
    (`offer_probability`), and a new placement's price is `price_factor` times the
    council's `weekly_cost`. Between rows the factors are interpolated linearly."""

    occupancy: Prob
    offer_factor: Annotated[float, Field(ge=0, le=10)]
    price_factor: Annotated[float, Field(gt=0, le=10)]


class Market(Strict):
    """A pool of registered places several councils draw on (e.g. the region's children's
    homes), with the demand of the councils outside the model."""

    label: str = ""
    #: registered places in the pool (Ofsted's count, by provider type and area)
    places: Annotated[int, Field(ge=1, le=1_000_000)]
    #: share of places filled at the start, by children of every council (in the model
    #: or not); the councils' own starting children in the pool count towards it
    occupied_at_start: Prob = 0.0
    #: placements a year made in the pool by councils outside the model
    outside_placements_per_year: Annotated[float, Field(ge=0, le=1_000_000)] = 0.0
    #: how long an outside council's placement lasts (days)
    outside_stay_days: Distribution = Field(
        default_factory=lambda: Exponential(dist="exponential", mean=365.0)
    )
    #: the pool's response to how full it is, by occupancy (at least one row)
    response: list[ResponsePoint] = Field(
        default_factory=lambda: [ResponsePoint(occupancy=0.0, offer_factor=1.0, price_factor=1.0)],
        min_length=1,
    )
    source: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Market:
        occ = [p.occupancy for p in self.response]
        if any(b <= a for a, b in itertools.pairwise(occ)):
            raise ValueError(
                "response rows must be in increasing order of occupancy, each once "
                f"(got {', '.join(f'{x:g}' for x in occ)})"
            )
        return self


class Council(Strict):
    """One council of the region: its scenario file and which of its provisions buy from
    which market."""

    scenario: str = Field(min_length=1)
    #: provision of the council's scenario -> market of this file
    market: dict[str, str] = Field(default_factory=dict)


class RegionFile(Strict):
    """A region file, validated (the council scenarios are validated on their own)."""

    region: RegionMeta
    councils: dict[str, Council] = Field(min_length=1)
    market: dict[str, Market] = Field(default_factory=dict)


@dataclass(frozen=True)
class Region:
    """A validated region: its file, and each council's scenario as loaded."""

    spec: RegionFile
    path: Path
    councils: dict[str, LoadedScenario]
    files: tuple[tuple[Path, str], ...] = ()

    @property
    def name(self) -> str:
        """The region's name, as reports show it."""
        return self.spec.region.name

    @property
    def start_date(self) -> dt.date:
        """The councils' common start date."""
        return next(iter(self.councils.values())).model.scenario.start_date


def is_region_file(path: str | Path, _depth: int = 0) -> bool:
    """Whether a file is a region file (has a `[region]` or `[councils...]` table, or
    `extends` one) rather than a scenario: read cheaply from its text, before validation
    says more."""
    path = Path(path)
    try:
        # only a regular file is opened: opening a named pipe or a device could block
        # (the loader then refuses what this leaves unread, with its reason)
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(200_000)
    except OSError:
        return False
    extends = None
    for line in head.splitlines():
        s = line.strip()
        if s.startswith(("[region]", "[councils.", "[councils]")):
            return True
        m = _EXTENDS.match(s)
        if m and extends is None:
            extends = m.group(1)
    if extends is None or _depth >= 8:
        return False
    return is_region_file(path.parent / extends, _depth + 1)


_EXTENDS = re.compile(r"""^extends\s*=\s*["']([^"']+)["']""")


def load_region(path: str | Path, root: str | Path | None = None) -> Region:
    """Read and validate a region file and every council scenario it names; raise
    ScenarioError (naming the file, line and key) for any user mistake."""
    path = Path(path)
    raw, chain, provenance, texts = read_raw(path, root)
    try:
        spec = RegionFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["loc"] and err["loc"][0] in ("region", "councils", "market"):
            loc = tuple(err["loc"])
            key = ".".join(str(x) for x in loc)
            msg = err["msg"].removeprefix("Value error, ")
            raise ScenarioError(
                path, msg, key=key, line=find_line(path, loc, texts), expected=None
            ) from None
        raise explain_validation(exc, raw, provenance, path, texts) from None
    councils: dict[str, LoadedScenario] = {}
    for name, council in spec.councils.items():
        file = _file_for_council(path, provenance, name)
        scenario_path = file.parent / council.scenario
        line = find_line(file, ("councils", name, "scenario"), texts)
        if not scenario_path.is_file():
            raise ScenarioError(
                file,
                f"council {name!r} names the scenario {council.scenario!r}, which is not a file "
                f"(looked for {scenario_path})",
                key=f"councils.{name}.scenario",
                line=line,
                expected="a scenario file's name, relative to the region file",
            )
        loaded = load(scenario_path, root)
        councils[name] = loaded
        _check_links(file, texts, name, council, loaded, spec)
    starts = {n: c.model.scenario.start_date for n, c in councils.items()}
    if len(set(starts.values())) > 1:
        shown = ", ".join(f"{n} {d}" for n, d in starts.items())
        raise ScenarioError(
            path,
            f"the councils' scenarios start on different dates ({shown})",
            key="councils",
            expected="one start_date for every council of a region: they share one clock",
        )
    files = tuple((p, texts[p]) for p in chain)
    return Region(spec=spec, path=path, councils=councils, files=files)


def _file_for_council(path: Path, provenance: dict[Path_, Path], name: str) -> Path:
    """The file (the region file or one it extends) that named the council's scenario."""
    return provenance.get(("councils", name, "scenario"), provenance.get(("councils", name), path))


def _check_links(
    file: Path,
    texts: dict[Path, str],
    name: str,
    council: Council,
    loaded: LoadedScenario,
    spec: RegionFile,
) -> None:
    """Each linked provision exists, makes offers (a market is asked, it does not hold
    households or homes), and names a market of the file."""
    provisions = loaded.model.provision
    for pid, market in council.market.items():
        key = f"councils.{name}.market.{pid}"
        line = find_line(file, ("councils", name, "market", pid), texts)
        if pid not in provisions:
            raise ScenarioError(
                file,
                f"council {name!r} has no provision {pid!r} in {loaded.path.name}",
                key=key,
                line=line,
                expected="one of " + ", ".join(provisions),
            )
        if provisions[pid].kind != "offer":
            raise ScenarioError(
                file,
                f"{pid!r} is a {provisions[pid].kind} provision of {name!r}; only offer-type "
                "provisions (providers asked for a place) can buy from a market",
                key=key,
                line=line,
                expected="an offer-type provision such as external homes or agency foster care",
            )
        if market not in spec.market:
            raise ScenarioError(
                file,
                f"no market {market!r} in the region",
                key=key,
                line=line,
                expected="one of "
                + (", ".join(spec.market) or "the [market.<name>] tables (none given)"),
            )


def describe(region: Region) -> list[str]:
    """Lines for `validate` to print: the councils and the markets they share."""
    n, k = len(region.councils), len(region.spec.market)
    out = [f"region {region.name}: {n} council(s), {k} market(s)"]
    for name, loaded in region.councils.items():
        links = region.spec.councils[name].market
        buys = ", ".join(f"{p} -> {m}" for p, m in links.items()) or "no shared market"
        out.append(f"  council {name}: {loaded.path.name} ({buys})")
    for name, m in region.spec.market.items():
        out.append(
            f"  market {name}: {m.places:,} places, {m.occupied_at_start:.0%} filled at the start, "
            f"{m.outside_placements_per_year:g} placements a year by councils outside the model"
        )
    return out


__all__ = [
    "Council",
    "Market",
    "Region",
    "RegionFile",
    "ResponsePoint",
    "describe",
    "is_region_file",
    "load_region",
]
