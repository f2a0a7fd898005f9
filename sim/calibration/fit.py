"""calibrate: learn a scenario's numbers from an LA's SSDA903 return.

What the return can tell (who is in care where on a date, who came in and when, how long
children stay, why placements and care end) is fitted from the data; what it cannot tell
(needs levels, sibling groups, capacity, costs, matching rules) is kept from a template
scenario, and the written file says which is which. Every fitted number comes with its
method, the data behind it (events and years at risk) and a 90% interval.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..common.errors import UserError
from ..scenario.ages import BAND_NAMES, DAYS_PER_YEAR
from ..scenario.load import LoadedScenario
from ..scenario.uncertain import is_interval
from .packaged import DEFAULT_MAP, DEFAULT_TEMPLATE
from .ssda903.read import Dataset, data_start
from .survival import (
    Piece,
    binomial_interval,
    poisson_interval,
    split_exposure,
    two_factor_rates,
)

Path_ = tuple[str | int, ...]


@dataclass
class Fitted:
    """One number learnt from the data, for the calibration report."""

    key: str
    value: float
    low: float
    high: float
    events: float
    exposure: float  # years at risk, or the number of trials for a proportion
    method: str


@dataclass
class Calibration:
    """A scenario fitted from the data (as raw TOML with comments) and what it rests on.

    `fitted` holds each number with its interval and the data behind it, for the report;
    `notes` what could not be fitted; `tables` the counts a report shows.
    """

    scenario: dict[str, Any]
    comments: dict[Path_, str]
    fitted: list[Fitted] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    at: dt.date | None = None


class CalibrationError(UserError):
    """Data or a date that a scenario cannot be calibrated from (e.g. no placements)."""


# =========================================================================== mapping


class CodeMap:
    """SSDA903 PLACE/PLACE_PROVIDER codes and REC / REASON_PLACE_CHANGE codes -> scenario names."""

    def __init__(self, mapping: dict[str, Any], provisions: list[str], exits: list[str]) -> None:
        self.exact: dict[tuple[str, str], str] = {}
        self.wild: dict[str, str] = {}
        for pid, entry in mapping.get("provision", {}).items():
            if pid not in provisions or not entry.get("calibrate", True):
                continue
            for code in entry.get("codes", []):
                place, _, provider = code.partition("/")
                if provider in ("", "*"):
                    self.wild.setdefault(place, pid)
                else:
                    self.exact.setdefault((place, provider), pid)
        self.exit_of: dict[str, str] = {}
        for route, entry in mapping.get("exits", {}).items():
            if route in exits or route == "age_18":
                for code in entry.get("codes", []):
                    self.exit_of.setdefault(code, route)
        self.move_of: dict[str, str] = {}
        for kind, entry in mapping.get("moves", {}).items():
            for code in entry.get("codes", []):
                self.move_of.setdefault(code, kind)

    def provision(self, place: str, provider: str) -> str | None:
        """The scenario provision a PLACE / PLACE_PROVIDER pair is read as, or None."""
        return self.exact.get((place, provider)) or self.wild.get(place)


# =========================================================================== the fit


def check_month_end(at: dt.date, option: str = "--at") -> None:
    """A calibrated scenario starts on the 1st, so the data date must be a month end."""
    if (at + dt.timedelta(days=1)).day != 1:
        last = (at.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        raise CalibrationError(
            f"{option} {at} must be the last day of a month (e.g. {last}), so the "
            "calibrated scenario starts on the first of the next month"
        )


def calibrate(
    ds: Dataset,
    at: dt.date,
    template: LoadedScenario,
    mapping: dict[str, Any],
    years_back: float = 3.0,
    centroids: pd.DataFrame | None = None,
) -> Calibration:
    """Fit a scenario starting the day after `at` from the `years_back` years before it."""
    from .ssda903.episodes import periods, placements

    check_month_end(at)
    start = at + dt.timedelta(days=1)
    raw = copy.deepcopy(template.raw)
    s = template.model
    codes = CodeMap(mapping, list(s.provision), list(s.exits))
    origin = pd.Timestamp(start)
    cal = Calibration(scenario=raw, comments={}, at=at)
    first = data_start(ds)
    asked = years_back
    if first is not None:
        held = (pd.Timestamp(at) + pd.Timedelta(days=1) - first).days / DAYS_PER_YEAR
        if held <= 0:
            raise CalibrationError(
                f"the data start on {first.date()}, after --at {at}: choose a later date"
            )
        if held < years_back - 1 / 365:
            years_back = round(held, 4)
            cal.notes.append(
                f"The window was shortened from the {asked:g} years asked for to the "
                f"{years_back:.2f} years the data hold before {at} (they start on "
                f"{first.date()}): events before then are not in the files, so a longer "
                "window would count too few."
            )
    w0 = (pd.Timestamp(at) - pd.DateOffset(days=round(years_back * 365.25))) - origin
    w0_days = w0 / pd.Timedelta(days=1)
    cal.notes.append(
        f"Fitted from {years_back:g} years of SSDA903 data before {at} "
        f"({len(ds.files)} files). Numbers not marked 'from the data' come from the template "
        f"{template.path}."
    )

    skipped = sum(ds.skipped.values())
    cal.notes.append(
        f"Data checks: {len(ds.problems)} problem(s) reported by file, row and column when the "
        f"command ran; {skipped:,} row(s) set aside"
        + (
            " (" + "; ".join(f"{n:,} {why}" for why, n in ds.skipped.items()) + ")."
            if skipped
            else "."
        )
    )
    pl = placements(ds).copy()
    per = periods(ds).copy()
    if pl.empty or per.empty:
        raise CalibrationError("the data hold no placements: nothing to calibrate from")
    dob = ds.header.set_index("CHILD")["DOB"]
    for df in (pl, per):
        df["dob"] = (df["CHILD"].map(dob) - origin) / pd.Timedelta(days=1)
        df["t0"] = (df["start"] - origin) / pd.Timedelta(days=1)
        df["t1"] = (df["end"] - origin) / pd.Timedelta(days=1)
    pl["pid"] = [
        codes.provision(p, q) for p, q in zip(pl["PLACE"], pl["PLACE_PROVIDER"], strict=True)
    ]
    unmapped = int(pl["pid"].isna().sum())
    if unmapped:
        cal.notes.append(
            f"{unmapped} placements had codes no calibrated provision takes (see the placement "
            "map); they are left out of rates and the starting population."
        )
    care_start = per.set_index(["CHILD", "period"])["t0"]
    pl["care_t0"] = [
        care_start.get((c, p), t)
        for c, p, t in zip(pl["CHILD"], pl["period"], pl["t0"], strict=True)
    ]
    uasc = per.set_index(["CHILD", "period"])["uasc"]
    pl["uasc"] = [
        bool(uasc.get((c, p), False)) for c, p in zip(pl["CHILD"], pl["period"], strict=True)
    ]
    pl = pl.sort_values(["CHILD", "t0"]).reset_index(drop=True)
    pl["next_pid"] = pl.groupby("CHILD")["pid"].shift(-1)

    _population(cal, pl, s)
    _entries(cal, per, pl, s, w0_days, years_back)
    pieces = _exposure(pl, s, w0_days)
    routes = _exits(cal, pl, s, codes, pieces, w0_days)
    _exit_check(cal, pl, s, routes, w0_days)
    _breakdowns_and_moves(cal, pl, s, codes, pieces, w0_days)
    for i in range(len(s.needs_change)):
        # the return records no needs level, so changes of level cannot be fitted from it
        cal.comments[("needs_change", i)] = (
            "from the template: the SSDA903 return holds no needs levels to fit this from"
        )
    _first_placements(cal, per, pl, s, w0_days)
    own = Path(template.path).resolve() != Path(DEFAULT_TEMPLATE).resolve()
    _capacity(cal, s, peak_in_use(pl, w0_days), own)
    _distance(cal, pl, centroids)
    raw["scenario"]["start_date"] = start
    raw["scenario"]["name"] = f"{s.scenario.name} (calibrated to {at})"
    raw["scenario"]["description"] = (
        f"Calibrated by `sufficiency calibrate` from SSDA903 data up to {at}; "
        f"template {template.path.name}."
    )
    return cal


# --------------------------------------------------------------------------- population


def _population(cal: Calibration, pl: pd.DataFrame, s: Any) -> None:
    active = pl[(pl["t0"] <= -1) & (pl["t1"].isna() | (pl["t1"] > -1)) & pl["pid"].notna()].copy()
    active["age"] = (-1 - active["dob"]) / DAYS_PER_YEAR
    active = active[(active["age"] >= 0) & (active["age"] < 18)]
    active["band"] = [BAND_NAMES[_band(a)] for a in active["age"]]
    table = active.groupby(["pid", "band"]).size().unstack(fill_value=0)
    table = table.reindex(columns=[b for b in BAND_NAMES if b in table.columns], fill_value=0)
    population: dict[str, Any] = {}
    for pid, row in table.iterrows():
        old = cal.scenario.get("population", {}).get(pid, {})
        group: dict[str, Any] = {
            "by_age": {b: int(row.get(b, 0)) for b in BAND_NAMES if row.get(b, 0)}
        }
        if "needs" in old:
            group["needs"] = old["needs"]
        n = int(row.sum())
        share = float(active.loc[active["pid"] == pid, "uasc"].mean()) if n else 0.0
        if share > 0:
            group["uasc_share"] = round(share, 3)
        if "disability_share" in old:
            group["disability_share"] = old["disability_share"]
        population[pid] = group
        cal.comments[("population", pid)] = (
            f"from the data: {n} children placed here on {cal.at}; needs mix from the template"
        )
    cal.scenario["population"] = population
    cal.tables["population"] = table
    total = int(table.values.sum())
    cal.fitted.append(
        Fitted("population (children in care)", total, total, total, total, 0, "count on the date")
    )


# --------------------------------------------------------------------------- entries


def _entries(
    cal: Calibration, per: pd.DataFrame, pl: pd.DataFrame, s: Any, w0: float, years: float
) -> None:
    new = per[(per["t0"] > w0) & (per["t0"] <= -1)].copy()
    new["age"] = (new["t0"] - new["dob"]) / DAYS_PER_YEAR
    new = new[(new["age"] >= 0) & (new["age"] < 18)]
    new["band"] = [BAND_NAMES[_band(a)] for a in new["age"]]
    local, uasc = new[~new["uasc"]], new[new["uasc"]]
    e = cal.scenario["entries"]
    # level and trend from monthly counts: a quasi-Poisson log-linear regression, the
    # trend shrunk towards none by a stated prior (see `entry_trend`)
    months = np.floor((local["t0"] - w0) / (DAYS_PER_YEAR / 12)).astype(int)
    n_months = max(1, round(years * 12))
    counts = np.bincount(months.clip(0, n_months - 1), minlength=n_months).astype(float)
    fit = entry_trend(counts)
    assert cal.at is not None  # set by calibrate before any part is fitted
    centre = cal.at - dt.timedelta(days=round(years * DAYS_PER_YEAR / 2))
    e["per_year"] = _interval_or_value(fit.per_year, fit.per_year_low, fit.per_year_high, 2)
    e["trend_per_year"] = _interval_or_value(fit.trend, fit.trend_low, fit.trend_high, 4)
    e["trend_from"] = centre
    cal.comments[("entries", "per_year")] = (
        f"from the data: {len(local)} children started care (not UASC) in {years:g} years; "
        f"the rate on {centre} (the middle of the window), median and 90% interval"
    )
    cal.comments[("entries", "trend_per_year")] = (
        f"from the data: {fit.raw_trend:+.1%} a year fitted (90% interval "
        f"{fit.raw_low:+.1%} to {fit.raw_high:+.1%}), shrunk towards no trend by a prior "
        f"(assumption: sd {TREND_PRIOR_SD:.0%} a year) to {fit.trend:+.1%}"
    )
    cal.comments[("entries", "trend_from")] = "the date per_year is the rate on"
    cal.fitted.append(
        Fitted(
            f"entries.per_year (on {centre})",
            fit.per_year,
            fit.per_year_low,
            fit.per_year_high,
            len(local),
            years,
            f"quasi-Poisson log-linear regression on {n_months} monthly counts "
            f"(dispersion {fit.dispersion:.2f}); rate in the middle of the window",
        )
    )
    cal.fitted.append(
        Fitted(
            "entries.trend_per_year",
            fit.trend,
            fit.trend_low,
            fit.trend_high,
            len(local),
            years,
            f"the regression's trend ({fit.raw_trend:+.1%} a year) shrunk towards 0 by a "
            f"normal prior with sd {TREND_PRIOR_SD:.0%} a year",
        )
    )
    # seasonality: calendar-month counts shrunk halfway to flat (few years of data)
    cal_month = (pd.Timestamp(cal.at) + pd.to_timedelta(local["t0"] + 1, unit="D")).dt.month - 1
    by_month = np.bincount(cal_month, minlength=12).astype(float)
    if by_month.sum() >= 120:
        mean = by_month.mean()
        e["seasonality"] = [round(float((m + mean) / (2 * mean)), 3) for m in by_month]
        cal.comments[("entries", "seasonality")] = (
            "from the data: entries by calendar month (January first), shrunk halfway to flat"
        )
    else:
        e["seasonality"] = [1.0] * 12
        cal.comments[("entries", "seasonality")] = "flat: too few entries to estimate seasonality"
    mix = local["band"].value_counts()
    if len(local) >= 20:
        e["age_mix"] = {b: round(float(mix.get(b, 0)) / len(local), 4) for b in BAND_NAMES}
        _renormalise(e["age_mix"])
        cal.comments[("entries", "age_mix")] = (
            f"from the data: age at entry of {len(local)} children"
        )
    u = e.setdefault("uasc", {})
    lo, hi = poisson_interval(len(uasc), years)
    u["per_year"] = _interval_or_value(len(uasc) / years, lo, hi, 2)
    cal.comments[("entries", "uasc", "per_year")] = (
        f"from the data: {len(uasc)} UASC started care in {years:g} years; "
        "cap and rota from the template"
    )
    _uasc_cap(cal, pl, u)
    if len(uasc) >= 10:
        umix = uasc["band"].value_counts()
        u["age_mix"] = {
            b: round(float(umix[b]) / len(uasc), 4) for b in BAND_NAMES if umix.get(b, 0)
        }
        _renormalise(u["age_mix"])
    cal.tables["entries_by_month"] = pd.DataFrame({"entries": counts})
    cal.tables["entry_age_mix"] = mix.rename("children").to_frame()


#: prior sd of the yearly entry trend on the log scale (assumption: national starters moved
#: by about 1% a year from 2023 to 2025 [facts.md §1: 33,000 -> 32,270]; one LA's entries
#: swing more from year to year, but a trend kept up for several years beyond about 5% a
#: year is rare, and extrapolating noise as trend is the costlier mistake)
TREND_PRIOR_SD = 0.05


@dataclass(frozen=True)
class EntryTrend:
    """Entries a year in the middle of the window and the yearly trend, with 90% intervals."""

    per_year: float
    per_year_low: float
    per_year_high: float
    trend: float  # relative change a year, after shrinkage
    trend_low: float
    trend_high: float
    raw_trend: float  # as the regression alone gives it
    raw_low: float
    raw_high: float
    dispersion: float


def _uasc_cap(cal: Calibration, pl: pd.DataFrame, u: dict[str, Any]) -> None:
    """Drop the template's UASC cap where this LA's data already exceed it.

    The cap is 0.1% of the LA's child population (the National Transfer Scheme threshold),
    which the return does not hold; a template's cap is another council's. Arrivals fitted
    from the data already show whatever cap this LA works to, so a smaller borrowed cap
    would only stop the simulation reproducing them.
    """
    cap = u.get("cap")
    if cap is None:
        return
    here = (pl["t0"] <= -1) & (pl["t1"].isna() | (pl["t1"] > -1)) & pl["pid"].notna()
    n = int((here & pl["uasc"]).sum())
    if n >= 0.9 * float(cap):
        del u["cap"]
        cal.notes.append(
            f"The template's cap of {cap} UASC was dropped: {n} UASC were in care on "
            f"{cal.at}. Add your own (0.1% of your child population) as entries.uasc.cap."
        )


def entry_trend(counts: np.ndarray, prior_sd: float = TREND_PRIOR_SD) -> EntryTrend:
    """Fit monthly counts[m] ~ exp(c + b (m - centre)) by quasi-Poisson regression.

    Time is centred, so the level c (the rate in the middle of the window) and the trend b
    are estimated independently. Standard errors are widened by the Pearson dispersion
    (sibling groups and policy make counts clumpier than Poisson; never narrowed). A few
    years of data estimate a trend poorly, and extrapolating a noisy trend is the classic
    way forecasts go wrong, so b is shrunk towards 0 by a normal prior N(0, prior_sd^2) a
    year: the posterior mean b se^-2 / (se^-2 + prior_sd^-2), with its posterior sd. With a
    clear trend the data win; with a weak one the forecast stays near the level.
    """
    z = 1.6448536269514722
    n = len(counts)
    m = np.arange(n, dtype=float) - (n - 1) / 2
    total = float(counts.sum())
    if total == 0:
        return EntryTrend(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    a, b = math.log(total / n), 0.0
    for _ in range(50):  # Newton-Raphson on the Poisson log-likelihood
        mu = np.exp(a + b * m)
        g = np.array([(counts - mu).sum(), ((counts - mu) * m).sum()])
        h = np.array([[mu.sum(), (mu * m).sum()], [(mu * m).sum(), (mu * m * m).sum()]])
        step = np.linalg.solve(h, g)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-10:
            break
    mu = np.exp(a + b * m)
    h = np.array([[mu.sum(), (mu * m).sum()], [(mu * m).sum(), (mu * m * m).sum()]])
    dispersion = max(1.0, float(((counts - mu) ** 2 / mu).sum()) / max(1, n - 2))
    cov = np.linalg.inv(h) * dispersion
    se_a = math.sqrt(cov[0, 0])
    b_year, se_b = b * 12, math.sqrt(cov[1, 1]) * 12 if n > 2 else math.inf
    if math.isfinite(se_b) and se_b > 0:
        w = prior_sd**-2 / (prior_sd**-2 + se_b**-2)
        post, post_sd = b_year * (1 - w), (se_b**-2 + prior_sd**-2) ** -0.5
    else:
        post, post_sd = 0.0, prior_sd
    rate = math.exp(a) * 12
    return EntryTrend(
        per_year=rate,
        per_year_low=rate * math.exp(-z * se_a),
        per_year_high=rate * math.exp(z * se_a),
        trend=math.expm1(post),
        trend_low=math.expm1(post - z * post_sd),
        trend_high=math.expm1(post + z * post_sd),
        raw_trend=math.expm1(b_year),
        raw_low=math.expm1(b_year - z * se_b) if math.isfinite(se_b) else -1.0,
        raw_high=math.expm1(b_year + z * se_b) if math.isfinite(se_b) else math.inf,
        dispersion=dispersion,
    )


def _interval_or_value(value: float, low: float, high: float, digits: int) -> Any:
    """A fitted number as the scenario file holds it: { median, interval90 } when it has a
    usable interval (so each replication draws its own value), else the plain number."""
    median = round(value, digits)
    if not (math.isfinite(low) and math.isfinite(high)) or not low < median < high:
        return median
    return {"median": median, "interval90": [_sig(low), _sig(high)]}


def median_of(value: Any) -> float:
    """A number as a scenario file gives it, plain or { median, interval90 }."""
    return float(value["median"] if isinstance(value, dict) else value)


def _sig(x: float) -> float:
    """x to 4 significant figures (an interval's ends need no more)."""
    return float(f"{x:.4g}")


# --------------------------------------------------------------------------- exposure


def _exposure(pl: pd.DataFrame, s: Any, w0: float, w1: float = -1.0) -> list[Piece]:
    """Years at risk in the window (w0, w1] (days from the start date), cut into pieces."""
    tic_edges = sorted({st.until_years for r in s.exits.values() for st in r.time_in_care})
    pieces: list[Piece] = []
    for pid, t0, t1, dob, care in zip(
        pl["pid"], pl["t0"], pl["t1"], pl["dob"], pl["care_t0"], strict=True
    ):
        if pid is None or (isinstance(pid, float) and math.isnan(pid)):
            continue
        a = max(t0, w0)
        b = w1 if (t1 is None or math.isnan(t1)) else min(t1, w1)
        adult = dob + 18 * DAYS_PER_YEAR
        b = min(b, adult)
        if b > a:
            pieces.extend(split_exposure(pid, a, b, dob, care, tic_edges))
    return pieces


def _events_in_window(pl: pd.DataFrame, w0: float) -> pd.DataFrame:
    ended = pl[pl["t1"].notna() & (pl["t1"] > w0) & (pl["t1"] <= -1) & pl["pid"].notna()].copy()
    ended["age"] = (ended["t1"] - ended["dob"]) / DAYS_PER_YEAR
    ended["band"] = [_band(a) for a in ended["age"]]
    ended["tic_years"] = (ended["t1"] - ended["care_t0"]) / DAYS_PER_YEAR
    return ended


# --------------------------------------------------------------------------- exits

#: the route an exit is counted in when its reason is unknown or its route is not open
#: from the child's placement (every observed exit is counted in some route)
OTHER_ROUTE = "other"


@dataclass
class _Route:
    """One exit route as fitted: rate by age band, multiplier by time-in-care step."""

    name: str
    edges: list[float]
    allowed: set[str]
    rates: np.ndarray
    mult: np.ndarray

    def step(self, care_years: float) -> int:
        return sum(1 for e in self.edges if care_years >= e)

    def hazard(self, p: Piece) -> float:
        """Exits a year expected from piece `p` under this route (0 if not open from it)."""
        if p.provision not in self.allowed:
            return 0.0
        return float(self.rates[p.band] * self.mult[min(self.step(p.care_years), len(self.edges))])


def _assign_routes(exits: pd.DataFrame, s: Any, codes: CodeMap, cal: Calibration) -> pd.Series:
    """Each exit's route: its code's route if that route is open from the child's placement,
    else the catch-all route (added to the scenario if the template has none open from
    everywhere). Counting an exit nowhere while keeping its time at risk would fit every
    exit rate too low (issue 14: 99 of 223 exits were once lost that way)."""
    other = OTHER_ROUTE
    if other in s.exits and _allowed(s.exits[other], s) != set(s.provision):
        other = "other_reason"
    if other not in cal.scenario["exits"]:
        cal.scenario["exits"][other] = {
            "label": "Other or unknown reason (counted by calibrate)",
            "rate_per_year": {},
        }
        cal.comments[("exits", other)] = (
            "added by calibrate: exits whose reason is unknown or whose route the template "
            "does not allow from that placement"
        )
    allowed = {name: _allowed(r, s) for name, r in s.exits.items()}
    route = []
    unknown = not_open = 0
    for code, pid in zip(exits["reason"], exits["pid"], strict=True):
        r = codes.exit_of.get(str(code).strip().upper(), "")
        if r == "age_18":
            r = other
        if r not in allowed:
            unknown += r != other
            r = other
        elif pid not in allowed[r]:
            not_open += 1
            r = other
        route.append(r)
    if unknown or not_open:
        cal.notes.append(
            f"Exits counted as {other!r}: {unknown:,} with a reason the placement map does not "
            f"name (e.g. E99, an end of care the reader inferred) and {not_open:,} by a route "
            "the template does not allow from the child's placement; every exit is counted "
            "somewhere, so exit rates are not fitted too low."
        )
    return pd.Series(route, index=exits.index, dtype=object)


def _exits(
    cal: Calibration, pl: pd.DataFrame, s: Any, codes: CodeMap, pieces: list[Piece], w0: float
) -> list[_Route]:
    ended = _events_in_window(pl, w0)
    exits = ended[(ended["ended_by"] == "exit") & (ended["age"] < 17.99)].copy()
    exits["route"] = _assign_routes(exits, s, codes, cal)
    table_rows = []
    fitted: list[_Route] = []
    for name in cal.scenario["exits"]:
        route = s.exits.get(name)
        edges = [st.until_years for st in route.time_in_care] if route else []
        allowed = _allowed(route, s) if route else set(s.provision)
        X = np.zeros((len(BAND_NAMES), len(edges) + 1))
        for p in pieces:
            if p.provision in allowed:
                X[p.band, sum(1 for e in edges if p.care_years >= e)] += p.years
        mine = exits[exits["route"] == name]
        E = np.zeros_like(X)
        for band, tic in zip(mine["band"], mine["tic_years"], strict=True):
            E[band, sum(1 for e in edges if tic >= e)] += 1
        if edges:
            a, b = two_factor_rates(E, X)
            # the model multiplies the band rate by the step's multiplier, with 1 after the
            # last step: rescale so the last step is the reference
            ref = b[-1] if b[-1] > 0 else 1.0
            rates, mult = a * ref, b / ref
        else:
            rates = np.divide(E[:, 0], X[:, 0], out=np.zeros(len(BAND_NAMES)), where=X[:, 0] > 0)
            mult = np.array([1.0])
        old = cal.scenario["exits"][name].get("rate_per_year", {})
        new_rates = {}
        used = np.zeros(len(BAND_NAMES))
        for i, band in enumerate(BAND_NAMES):
            ev, ex = E[i].sum(), X[i].sum()
            if ex < 1.0:  # under a child-year at risk: keep the template's figure
                if band in old:
                    new_rates[band] = old[band]
                    used[i] = median_of(old[band])
                continue
            lo, hi = poisson_interval(ev, ex)  # for the band's crude rate ...
            crude = ev / ex
            if crude > 0:  # ... carried over to the fitted (time-in-care adjusted) rate
                lo, hi = lo * rates[i] / crude, hi * rates[i] / crude
            new_rates[band] = _interval_or_value(float(rates[i]), lo, hi, 4)
            used[i] = median_of(new_rates[band])
            cal.fitted.append(
                Fitted(
                    f"exits.{name}.rate_per_year.{band}",
                    used[i],
                    lo,
                    hi,
                    ev,
                    ex,
                    "events / years at risk (piecewise exponential)",
                )
            )
            table_rows.append((name, band, ev, ex, used[i], lo, hi))
        cal.scenario["exits"][name]["rate_per_year"] = new_rates
        cal.comments[("exits", name, "rate_per_year")] = (
            f"from the data: {int(E.sum())} exits over {X.sum():.0f} child-years at risk"
        )
        steps_mult = np.ones(len(edges) + 1)
        if edges:
            steps = cal.scenario["exits"][name]["time_in_care"]
            for j, step in enumerate(steps):
                steps_mult[j] = float(step.get("multiplier", 1.0))
                if X[:, j].sum() >= 1.0:
                    step["multiplier"] = round(float(mult[j]), 3)
                    steps_mult[j] = step["multiplier"]
            cal.comments[("exits", name, "time_in_care")] = (
                "from the data: multipliers by time in care (two-factor Poisson fit)"
            )
        fitted.append(_Route(name, edges, allowed, used, steps_mult))
    cal.tables["exit_rates"] = pd.DataFrame(
        table_rows, columns=["route", "band", "exits", "child_years", "rate", "low", "high"]
    )
    cal.tables["exit_routes"] = (
        exits.groupby("route").size().rename("exits").to_frame()
        if len(exits)
        else pd.DataFrame({"exits": []})
    )
    return fitted


def _exit_check(
    cal: Calibration, pl: pd.DataFrame, s: Any, routes: list[_Route], w0: float
) -> None:
    """Observed exits against those the fitted rates expect, year by year of the window.

    Over the whole window the two agree by construction (maximum likelihood); a year that
    differs by more than 10% shows exits changing over time, which constant rates miss.
    """
    ended = _events_in_window(pl, w0)
    exits = ended[(ended["ended_by"] == "exit") & (ended["age"] < 17.99)]
    rows = []
    at, day = pd.Timestamp(cal.at), pd.Timedelta(days=1)
    origin = at + day
    # whole years back from the data date, the earliest cut at the window's start
    edges = [at]
    while (edges[-1] - origin) / day > w0 + 1:
        edges.append(edges[-1] - pd.DateOffset(years=1))
    edges = sorted(edges)
    for lo, hi in itertools.pairwise(edges):
        a, b = max(w0, (lo - origin) / day), (hi - origin) / day
        pieces = _exposure(pl, s, a, b)
        expected = sum(r.hazard(p) * p.years for p in pieces for r in routes)
        observed = int(((exits["t1"] > a) & (exits["t1"] <= b)).sum())
        first = (origin + pd.Timedelta(days=math.floor(a) + 1)).date()
        diff = (observed - expected) / expected if expected > 0 else float("nan")
        rows.append((f"{first} to {hi.date()}", observed, expected, diff))
    table = pd.DataFrame(rows, columns=["period", "observed", "expected", "difference"])
    cal.tables["exit_check"] = table
    flagged = table[table["difference"].abs() > 0.10]
    if len(flagged):
        cal.notes.append(
            "Exits before 18 differ from what the fitted rates expect by more than 10% in "
            + ", ".join(
                f"{p} ({o:,} observed, {e:,.0f} expected)"
                for p, o, e in zip(
                    flagged["period"], flagged["observed"], flagged["expected"], strict=True
                )
            )
            + ": exits changed over the window, and constant rates average over it."
        )


def _allowed(route: Any, s: Any) -> set[str]:
    allowed = set(route.from_) if route.from_ is not None else set(s.provision)
    return allowed - set(route.not_from)


# --------------------------------------------------------------------------- breakdowns and moves


def _breakdowns_and_moves(
    cal: Calibration, pl: pd.DataFrame, s: Any, codes: CodeMap, pieces: list[Piece], w0: float
) -> None:
    ended = _events_in_window(pl, w0)
    moves = ended[ended["ended_by"] == "move"].copy()
    moves["kind"] = [codes.move_of.get(r, "planned") for r in moves["reason"]]
    pids = [p for p in s.provision if p in set(pl["pid"].dropna())]
    X = np.zeros((len(pids), len(BAND_NAMES)))
    for p in pieces:
        if p.provision in pids:
            X[pids.index(p.provision), p.band] += p.years
    E = np.zeros_like(X)
    brk = moves[moves["kind"] == "breakdown"]
    for pid, band in zip(brk["pid"], brk["band"], strict=True):
        if pid in pids:
            E[pids.index(pid), band] += 1
    base, age_mult = two_factor_rates(E, X)
    profile_mean = _placement_profile_mean(pl, s, w0)
    prov = cal.scenario["provision"]
    rows = []
    for i, pid in enumerate(pids):
        ev, ex = E[i].sum(), X[i].sum()
        if ex < 1.0:
            continue
        # the template's multipliers by needs and by time in placement apply on top of
        # the base rate in the simulation, so the base is the fitted rate over their mean
        needs_mean = _mean_needs_multiplier(s, pid) * profile_mean.get(pid, 1.0)
        lo, hi = poisson_interval(ev, ex)
        crude = ev / ex
        if crude > 0:  # the interval of the crude rate, carried over to the fitted one
            lo, hi = lo * base[i] / crude, hi * base[i] / crude
        prov[pid]["breakdown_per_year"] = _interval_or_value(
            float(base[i] / needs_mean), lo / needs_mean, hi / needs_mean, 4
        )
        cal.comments[("provision", pid, "breakdown_per_year")] = (
            f"from the data: {int(ev)} breakdowns over {ex:.0f} child-years "
            f"(before age and needs multipliers; divided by the mean needs and "
            f"time-in-placement multiplier of the template's children here, {needs_mean:.2f})"
        )
        cal.fitted.append(
            Fitted(
                f"provision.{pid}.breakdown_per_year",
                median_of(prov[pid]["breakdown_per_year"]),
                lo / needs_mean,
                hi / needs_mean,
                ev,
                ex,
                "two-factor Poisson fit: provision x age band",
            )
        )
        rows.append((pid, ev, ex))
    weights = X.sum(axis=0)
    bd = cal.scenario.setdefault("breakdown", {})
    bd["age_multiplier"] = {
        b: round(float(age_mult[j]), 3) for j, b in enumerate(BAND_NAMES) if weights[j] >= 1.0
    }
    cal.comments[("breakdown", "age_multiplier")] = "from the data: two-factor Poisson fit"
    cal.tables["breakdowns"] = pd.DataFrame(
        rows, columns=["provision", "breakdowns", "child_years"]
    )
    # planned moves: each rule of the template, its rate from the moves it describes
    planned = moves[moves["kind"] == "planned"]
    for i, rule in enumerate(s.moves):
        ex = sum(
            p.years
            for p in pieces
            if p.provision in rule.from_ and rule.min_age <= p.age < rule.max_age
        )
        hit = planned[
            planned["pid"].isin(rule.from_)
            & planned["next_pid"].isin(rule.to)
            & (planned["age"] >= rule.min_age)
            & (planned["age"] < rule.max_age)
        ]
        if ex < 1.0:
            continue
        rate = len(hit) / ex
        lo, hi = poisson_interval(len(hit), ex)
        cal.scenario["moves"][i]["rate_per_year"] = _interval_or_value(rate, lo, hi, 4)
        cal.comments[("moves", i)] = (
            f"rate from the data: {len(hit)} planned moves over {ex:.0f} child-years at risk"
        )
        cal.fitted.append(
            Fitted(
                f"moves[{i}] {rule.name}",
                rate,
                lo,
                hi,
                len(hit),
                ex,
                "planned moves / years at risk",
            )
        )


def _placement_profile_mean(pl: pd.DataFrame, s: Any, w0: float) -> dict[str, float]:
    """Per provision, the template's breakdown multiplier by time in placement averaged
    over the window's years at risk (1 where the template has no profile).

    The data's breakdown rate is an average over placements young and old; the simulation
    multiplies its base rate by the profile, so the base must be that average over the
    profile's mean, or early breakdowns would be counted twice.
    """
    steps = s.breakdown.time_in_placement
    if not steps:
        return {}
    edges = [st.until_years * DAYS_PER_YEAR for st in steps]
    mult = [st.multiplier for st in steps] + [1.0]
    bounds = [0.0, *edges, math.inf]
    weighted: dict[str, float] = {}
    years: dict[str, float] = {}
    for pid, t0, t1, dob in zip(pl["pid"], pl["t0"], pl["t1"], pl["dob"], strict=True):
        if not isinstance(pid, str):
            continue
        a = max(t0, w0)
        b = min(-1.0 if math.isnan(t1) else min(t1, -1.0), dob + 18 * DAYS_PER_YEAR)
        if b <= a:
            continue
        for m, lo, hi in zip(mult, bounds[:-1], bounds[1:], strict=True):
            part = max(0.0, min(b, t0 + hi) - max(a, t0 + lo))
            weighted[pid] = weighted.get(pid, 0.0) + m * part
            years[pid] = years.get(pid, 0.0) + part
    return {pid: weighted[pid] / years[pid] for pid in years if years[pid] > 0}


def _mean_needs_multiplier(s: Any, pid: str | None = None) -> float:
    """Average breakdown multiplier for needs: of the children living in `pid` at the start
    (the template's needs mix there) or, without one, of all entrants."""
    mult = s.breakdown.needs_multiplier
    group = s.population.get(pid) if pid else None
    shares = group.needs if group is not None and group.needs else _entry_needs_shares(s)
    total = sum(p * mult.get(n, 1.0) for n, p in shares.items())
    weight = sum(shares.values())
    return total / weight if weight > 0 else 1.0


def _first_placements(
    cal: Calibration, per: pd.DataFrame, pl: pd.DataFrame, s: Any, w0: float
) -> None:
    """Offer probabilities from where new entrants were first placed, along the preference order.

    A child whose first days were in the fallback (waiting for an offer, say) counts where
    they went next if that was within a fortnight. Only children old enough for a provision
    count as reaching it.
    """
    pl = pl.assign(next_start=pl.groupby(["CHILD", "period"])["t0"].shift(-1))
    firsts = pl.drop_duplicates(["CHILD", "period"], keep="first").copy()
    seconds = (
        pl[pl.duplicated(["CHILD", "period"], keep="first")]
        .drop_duplicates(["CHILD", "period"], keep="first")
        .set_index(["CHILD", "period"])["pid"]
    )
    fallback = s.matching.fallback
    waited = (firsts["pid"] == fallback) & (firsts["next_start"] - firsts["t0"] <= 14)
    firsts.loc[waited, "pid"] = [
        seconds.get(k)
        for k in zip(firsts.loc[waited, "CHILD"], firsts.loc[waited, "period"], strict=True)
    ]
    first = firsts[
        (firsts["t0"] > w0) & (firsts["t0"] <= -1) & ~firsts["uasc"] & firsts["pid"].notna()
    ]
    if first.empty:
        return
    first = first.assign(age=(first["t0"] - first["dob"]) / DAYS_PER_YEAR)
    first = first.assign(band=[BAND_NAMES[_band(a)] for a in first["age"]])
    mix = first.groupby(["band", "pid"]).size().unstack(fill_value=0)
    cal.tables["first_placement_mix"] = mix
    order = s.matching.preferences[-1].order
    placed_earlier = pd.Series(False, index=first.index)
    needs_weight = _entry_needs_shares(s)
    for pid in order:
        spec = s.provision[pid]
        here = first["pid"] == pid
        old_enough = (first["age"] >= spec.ages.min_age) & (first["age"] < spec.ages.max_age)
        reaching = ~placed_earlier & old_enough
        k, reach = int((here & reaching).sum()), int(reaching.sum())
        placed_earlier |= here
        if spec.kind != "offer" or reach < 20:
            continue
        p = min(0.98, max(0.02, k / reach))
        lo, hi = binomial_interval(k, reach)
        entry = cal.scenario["provision"][pid]
        old = entry.get("offer_probability")
        if isinstance(old, dict) and not is_interval(old):
            # keep the template's contrast between needs levels, scaled so that the
            # average over entrants' needs matches the observed share
            w = {n: needs_weight.get(n, 0.0) for n in old}
            mean = sum(old[n] * w[n] for n in old) / (sum(w.values()) or 1.0)
            if mean > 0:
                entry["offer_probability"] = {
                    n: round(min(1.0, v * p / mean), 3) for n, v in old.items()
                }
        else:
            entry["offer_probability"] = _interval_or_value(p, max(lo, 0.01), min(hi, 0.99), 3)
        cal.comments[("provision", pid, "offer_probability")] = (
            f"from the data: {k} of {reach} new entrants old enough and not placed earlier in "
            "the preference list were placed here first (approximation: capacity elsewhere ignored)"
        )
        cal.fitted.append(
            Fitted(
                f"provision.{pid}.offer_probability",
                p,
                lo,
                hi,
                k,
                reach,
                "share of first placements among those reaching it",
            )
        )


def _entry_needs_shares(s: Any) -> dict[str, float]:
    """Share of entrants at each needs level, from the template's entry mixes."""
    out: dict[str, float] = {}
    for band, share in s.entries.age_mix.items():
        for need, p in s.entries.needs_mix.get(band, {}).items():
            out[need] = out.get(need, 0.0) + share * p
    return out


# --------------------------------------------------------------------------- capacity


def peak_in_use(pl: pd.DataFrame, w0: float) -> dict[str, int]:
    """The most children placed in each provision at any month end of the last year (or
    of the window, if shorter).

    The return records no approved places or beds, but it shows how many were in use: the
    recent peak is the capacity the LA has shown it can use now (a peak from years back
    may be places since lost, and a simulation fills every place it is given).
    """
    ends = np.arange(-1.0, max(w0, -1.0 - DAYS_PER_YEAR), -DAYS_PER_YEAR / 12)
    out: dict[str, int] = {}
    young = pl["pid"].notna()
    for pid, g in pl[young].groupby("pid"):
        t0, t1 = g["t0"].to_numpy(), g["t1"].fillna(np.inf).to_numpy()
        adult = g["dob"].to_numpy() + 18 * DAYS_PER_YEAR
        counts = [int(((t0 <= d) & (t1 > d) & (adult > d)).sum()) for d in ends]
        out[str(pid)] = max(counts) if counts else 0
    return out


def _capacity(cal: Calibration, s: Any, peak: dict[str, int], own_template: bool) -> None:
    """Capacity the 903 cannot show: sized to the peak the data show in use, unless the
    template is the user's own (its households and homes are then theirs, and only ever
    enlarged to hold the starting population).

    Sizing the default template's capacity (Darlington's, or a margin above today's
    children) would let the simulation fill places the LA has never used: on the
    independent test panel that forecast in-house foster care 22% too high a year ahead.
    """
    prov = cal.scenario["provision"]
    for pid, group in cal.scenario["population"].items():
        spec = s.provision[pid]
        children = sum(group["by_age"].values())
        need = max(children, peak.get(pid, 0))
        entry = prov[pid]
        why = (
            f"from the data: sized to the most children placed here at any month end of the "
            f"last year ({need}; {children} on {cal.at}): the 903 does not record approved "
            "places; edit to your real numbers"
        )
        if spec.kind == "foster":
            hh = entry.get("households") or [{"count": 1, "places": 2}]
            places = sum(h["count"] * h["places"] for h in hh)
            if places < children or not own_template:
                share = [h["count"] * h["places"] / places for h in hh] if places else [1.0]
                entry["households"] = [
                    {"count": max(1, math.ceil(need * w / h["places"])), "places": h["places"]}
                    for h, w in zip(hh, share, strict=True)
                ]
                n = sum(h["count"] for h in entry["households"])
                dereg = median_of(entry.get("deregistration_per_year", 0.0))
                entry["recruitment_per_year"] = round(n * dereg, 2)
                cal.comments[("provision", pid, "households")] = why
                cal.comments[("provision", pid, "recruitment_per_year")] = (
                    "assumption: recruitment that keeps the pool steady at the template's "
                    "deregistration rate"
                )
        elif spec.kind == "home":
            homes = entry.get("homes", [])
            fixed = [h for h in homes if not h.get("opens") and not h.get("closes")]
            beds = sum(h["beds"] for h in fixed)
            if own_template and beds >= children:
                continue
            kept = list(homes) if own_template else []
            have = beds if own_template else 0
            size = 3
            extra = max(0, math.ceil((need - have) / size))
            entry["homes"] = kept + [
                {"name": f"{pid} home {i + 1} (sized by calibrate)", "beds": size}
                for i in range(extra)
            ]
            if not own_template and extra * size > need:  # the last home holds the rest
                entry["homes"][-1]["beds"] = need - (extra - 1) * size
            cal.comments[("provision", pid, "homes")] = why
    for pid, spec in s.provision.items():
        if spec.kind in ("foster", "home") and pid not in cal.scenario["population"]:
            cal.notes.append(
                f"No child was in {pid!r} on {cal.at}; its capacity is the template's."
            )


# --------------------------------------------------------------------------- distance


def _distance(cal: Calibration, pl: pd.DataFrame, centroids: pd.DataFrame | None) -> None:
    if centroids is None:
        cal.notes.append(
            "Distance from home was not estimated: no postcode-district centroid table was "
            "given (--postcodes FILE with columns district, easting, northing in metres). "
            "Provision locations are the template's."
        )
        return
    active = pl[(pl["t0"] <= -1) & (pl["t1"].isna() | (pl["t1"] > -1)) & pl["pid"].notna()].copy()
    xy = centroids.set_index("district")[["easting", "northing"]]
    home = active["HOME_POST"].map(_district)
    place = active["PL_POST"].map(_district)
    ok = home.isin(xy.index) & place.isin(xy.index)
    a, b = xy.reindex(home[ok]).to_numpy(), xy.reindex(place[ok]).to_numpy()
    miles = np.hypot(*(a - b).T) / 1609.344
    known = active[ok].assign(miles=miles)
    if known.empty:
        cal.notes.append("Distance: no placement had both postcodes in the centroid table.")
        return
    share = known.groupby("pid")["miles"].agg(
        placements="size", within_20=lambda m: float((m <= 20).mean()), median_miles="median"
    )
    cal.tables["distance"] = share
    cal.notes.append(
        f"Distance from home known for {len(known)} of {len(active)} placements on {cal.at}: "
        f"{(known['miles'] <= 20).mean():.0%} within 20 miles (by provision in the report)."
    )


def _district(postcode: Any) -> str:
    text = str(postcode or "").strip().upper()
    if " " in text:
        return text.split()[0]
    return text[:-3] if len(text) > 4 else text


# --------------------------------------------------------------------------- helpers


def _band(age: float) -> int:
    from .survival import band_index

    return band_index(age)


def _renormalise(mix: dict[str, float]) -> None:
    """Shares that sum to 1 at 4 decimals, as the scenario file will hold them.

    The rounding remainder (at most a few 0.0001s) goes onto the largest share, which can
    always take it: on the first band, when that band was 0, it made a share of -0.0001
    that the scenario's own validation then refused (`--years-back 1`, issue 14).
    """
    total = sum(mix.values())
    if total > 0:
        for k in mix:
            mix[k] = round(mix[k] / total, 4)
        largest = max(mix, key=lambda k: mix[k])
        mix[largest] = round(mix[largest] + 1 - sum(mix.values()), 4)


# =========================================================================== files


def read_map(path: Path | None) -> dict[str, Any]:
    """The placement code map, read with a scenario's care (a regular .toml of at most
    1 MB: a pipe or a device given as --map is refused, not waited on or read for ever)."""
    from ..common.errors import ScenarioError
    from ..scenario.load import read_toml_file

    path = path or DEFAULT_MAP
    data = read_toml_file(path)
    for pid, entry in data.get("provision", {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("codes"), list):
            raise ScenarioError(
                path, 'needs a list of codes such as ["U4/PR1"]', key=f"provision.{pid}.codes"
            )
    return data


def read_centroids(path: Path) -> pd.DataFrame:
    """Read a postcode-district centroid table (district, easting, northing in metres).

    Raises ScenarioError naming the file when it is not a regular CSV file with those columns.
    """
    from ..common.errors import ScenarioError

    if not Path(path).is_file():  # a pipe would be waited on for ever, a device read so
        raise ScenarioError(path, "is not a regular file", expected="a CSV file of centroids")
    try:
        df = pd.read_csv(path, comment="#")
    except (OSError, ValueError) as exc:
        raise ScenarioError(path, f"cannot be read as CSV: {exc}") from None
    df.columns = [c.strip().lower() for c in df.columns]
    missing = {"district", "easting", "northing"} - set(df.columns)
    if missing:
        raise ScenarioError(
            path,
            f"is missing column(s) {', '.join(sorted(missing))}",
            expected="columns district, easting, northing (metres)",
        )
    df["district"] = df["district"].astype(str).str.strip().str.upper()
    return df
