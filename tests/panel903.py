"""An independent panel of synthetic SSDA903 data sets, for testing the reader and backtests.

Every accuracy figure the calibration and backtest report was, until this module, measured
on data written by our own model (`sim.calibration.synth903`), which cannot show a fault
the model and the calibration share. This generator shares no code with the simulation:
it imports only numpy and pandas (and reads `placement_map.toml` as data, to name the
placement groups the truth is counted in).

The model is a weekly Markov chain over the children in care:

* entries: Poisson each week; the yearly rate drifts log-linearly (`entry_drift`) and may
  step up or down (`step_factor` from `step_at`); ages at entry come from a fixed mix
  (UASC entrants are 14-17); some children re-enter later under the same CHILD;
* each week a child in care may move (breakdown, planned, provider closed: the
  REASON_PLACE_CHANGE codes of `placement_map.toml`), be placed for adoption (an adoption
  plan, young children only), change legal status only (RNE L), have the placement
  re-labelled with the same carer (U6 -> U4, U3 -> U1, U5 -> A5: RNE T or U), or leave care
  by a route whose hazard depends on age, time in care and placement; a share of exits
  carries an odd code (E99, E43, E44) and a few adoptions come straight from foster care;
* on the 18th birthday every child still in care leaves (E8, or E17 from foster care).

`write_panel(spec, folder)` writes one CSV per table per collection year with the habits of
real exports (see `PanelSpec`) and returns the `Truth`, counted from the generated history
with the definitions of `sim/calibration/backtest.py`: children in care on a date =
placements active on it (started on or before it, not ended by it), aged 0-17, by the
placement group of the placement's last code (a re-labelling with the same carer, RNE T/U,
continues the placement, as `sim.calibration.ssda903.episodes.placements` reads it);
entries = periods of care starting in the year (1 April to 31 March), UASC included;
exits = periods ending in it, at any age.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAP_FILE = (
    Path(__file__).resolve().parents[1] / "sim" / "calibration" / "data" / "placement_map.toml"
)
EPOCH = dt.date(1970, 1, 1)
WEEK = 7
YEAR_DAYS = 365.25
WARMUP_YEARS = 3  # simulated before the first collection year, from a seeded stock
# mean years a child stays in care in this model, to turn a start size into an entry rate
MEAN_STAY_YEARS = 2.3

EPISODE_COLUMNS = [
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
]


@dataclass(frozen=True)
class PanelSpec:
    """One synthetic LA: its size, its trends and the export habits of its files."""

    name: str
    seed: int
    years: int = 9  # collection years written, ending 31 March `last_year`
    last_year: int = 2024
    start_size: int = 400  # children in care the entry rate is set for (at the base rate)
    entries_per_year: float | None = None  # base entry rate; None: start_size / mean stay
    entry_drift: float = 0.0  # log-linear change of the entry rate per year (0.08 = +8%)
    step_factor: float = 1.0  # entry rate multiplied by this from `step_at` years in
    step_at: float = 0.0  # years after the first collection year starts
    exit_mult: float = 1.0  # all exit hazards (not turning 18) multiplied by this
    exit_drift: float = 0.0  # log-linear change of the exit hazards per year
    move_mult: float = 1.0
    uasc_share: float = 0.07  # of new entrants
    reentry_mult: float = 1.0
    odd_rec_share: float = 0.04  # exits written with E99 / E43 / E44
    stray_rec_share: float = 0.2  # open episodes written with a REC (X1 or an E code)
    datetime_share: float = 0.3  # files whose dates read "dd/mm/yyyy 00:00"
    year_column: bool = False  # a YEAR column in every file
    mangle_share: float = 0.03  # rows with codes in lower case or with trailing spaces
    file_names: str = "plain"  # "plain": episodes_2021.csv; "range": SSDA903_2020-21_Episodes.csv


@dataclass
class Truth:
    """What the generated history says, with the definitions of `backtest.py`."""

    spec: PanelSpec
    year_ends: list[pd.Timestamp]  # 31 March of each collection year written
    in_care: dict[int, int]  # collection year -> children in care on its 31 March
    by_group: dict[int, dict[str, int]]  # ... by placement group of placement_map.toml
    entries: dict[int, int]  # collection year -> periods of care starting in it
    exits: dict[int, int]  # ... ending in it
    episodes: pd.DataFrame  # the whole generated history, one row per episode
    children: pd.DataFrame  # CHILD, DOB, SEX, UASC
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


PANEL: list[PanelSpec] = [
    PanelSpec("stable", seed=101, years=9, start_size=400),
    PanelSpec("growing", seed=202, years=10, start_size=350, entry_drift=0.08),
    PanelSpec(
        "shrinking",
        seed=303,
        years=9,
        start_size=500,
        entry_drift=-0.06,
        exit_drift=0.05,
        stray_rec_share=0.1,
    ),
    PanelSpec("step", seed=404, years=10, start_size=400, step_factor=1.5, step_at=5.0),
    PanelSpec("small", seed=505, years=8, start_size=150, datetime_share=0.0),
    PanelSpec("large", seed=606, years=9, start_size=1000, uasc_share=0.12),
    PanelSpec(
        "messy",
        seed=707,
        years=8,
        start_size=300,
        stray_rec_share=0.3,
        datetime_share=0.6,
        year_column=True,
        mangle_share=0.15,
        odd_rec_share=0.1,
        file_names="range",
    ),
]

# ----------------------------------------------------------------------------- placements

GROUPS = [
    "kinship",
    "in_house_foster",
    "ifa",
    "in_house_home",
    "external_home",
    "supported",
    "supported_external",
    "with_parents",
    "placed_for_adoption",
    "secure",
    "emergency",
]
G = {g: i for i, g in enumerate(GROUPS)}
FOSTER = (G["kinship"], G["in_house_foster"], G["ifa"])

# (PLACE, PLACE_PROVIDER, weight) for a child newly placed in each group
CODES: dict[str, list[tuple[str, str, float]]] = {
    "kinship": [("U3", "PR1", 0.5), ("U1", "PR1", 0.3), ("U2", "PR1", 0.1), ("U3", "PR5", 0.1)],
    "in_house_foster": [
        ("U6", "PR1", 0.6),
        ("U4", "PR1", 0.25),
        ("U5", "PR1", 0.1),
        ("U6", "PR2", 0.05),
    ],
    "ifa": [("U6", "PR4", 0.6), ("U4", "PR4", 0.2), ("U5", "PR4", 0.05), ("U6", "PR5", 0.15)],
    "in_house_home": [("K2", "PR1", 1.0)],
    "external_home": [("K2", "PR4", 0.9), ("K2", "PR5", 0.1)],
    "supported": [("H5", "PR1", 0.9), ("P2", "PR1", 0.1)],  # K3 from April 2024
    "supported_external": [("H5", "PR4", 0.9), ("P2", "PR4", 0.1)],
    "with_parents": [("P1", "PR0", 1.0)],
    "placed_for_adoption": [("A4", "PR1", 0.3), ("A6", "PR1", 0.5), ("A6", "PR2", 0.2)],
    "secure": [("K1", "PR1", 1.0)],
    "emergency": [("Z1", "PR4", 0.4), ("R1", "PR4", 0.3), ("S1", "PR4", 0.2), ("R3", "PR1", 0.1)],
}
K3_FROM = dt.date(2024, 4, 1)

# placement group mix for a new placement, by age band: <1, 1-4, 5-9, 10-15, 16-17
_MIX = {
    #               kin  inh  ifa  ihh  exh  sup  supx par  ado  sec  emg
    0: np.array([0.20, 0.35, 0.25, 0.0, 0.0, 0.0, 0.0, 0.12, 0.0, 0.0, 0.08]),
    1: np.array([0.25, 0.35, 0.27, 0.0, 0.0, 0.0, 0.0, 0.10, 0.0, 0.0, 0.03]),
    2: np.array([0.22, 0.33, 0.30, 0.02, 0.05, 0.0, 0.0, 0.06, 0.0, 0.0, 0.02]),
    3: np.array([0.14, 0.24, 0.30, 0.08, 0.15, 0.0, 0.0, 0.05, 0.0, 0.01, 0.03]),
    4: np.array([0.08, 0.12, 0.22, 0.06, 0.14, 0.18, 0.14, 0.04, 0.0, 0.0, 0.02]),
}
_MIX_UASC = np.array([0.0, 0.15, 0.35, 0.0, 0.05, 0.20, 0.25, 0.0, 0.0, 0.0, 0.0])
AGE_BANDS = [
    (0.0, 1.0, 0.20),
    (1.0, 5.0, 0.16),
    (5.0, 10.0, 0.18),
    (10.0, 16.0, 0.31),
    (16.0, 17.9, 0.15),
]

LS_RATE = np.array([0.0, 2.0, 0.1, 12.0])  # legal status changes: other, C1, V2, L1
MOVE_RATE = np.array([0.12, 0.3, 0.3, 0.45, 0.5, 0.35, 0.4, 0.2, 0.05, 3.0, 4.0])
HOME_MULT = np.array([0.8, 1.0, 1.0, 0.7, 0.7, 0.6, 0.6, 2.5, 0.05, 0.5, 1.0])
MOVE_REASONS = (
    ["CREQB", "CREQO", "CHILD", "ALLEG", "STAND"],  # breakdowns
    ["CARPL", "LAREQ", "OTHER"],  # planned
    ["CLOSE", "APPRR"],  # provider closed
)
REENTER_AFTER = frozenset({"E41", "E45", "E46", "E47", "E48", "E3", "E16", "E5", "E6"})
ODD_REC = ["E99", "E99", "E43", "E44"]
STRAY_REC = ["X1", "X1", "X1", "E4A", "E8", "E13", "E11"]
CIN = (
    ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"],
    [0.62, 0.03, 0.03, 0.08, 0.15, 0.03, 0.01, 0.05],
)
ETHNIC = ["WBRI", "WBRI", "WBRI", "WOTH", "MWBC", "MOTH", "AOTH", "BAFR", "BCRB", "OOTH"]

# exit routes (column order of the hazard matrix) and the events that are not exits
EV_HOME, EV_SGO, EV_ADOPT, EV_INDEP, EV_OTHER, EV_TO_ADOPT, EV_MOVE, EV_LS, EV_RELABEL = range(9)


def _age_band(age: float) -> int:
    return 0 if age < 1 else 1 if age < 5 else 2 if age < 10 else 3 if age < 16 else 4


def _day(d: dt.date) -> int:
    return (d - EPOCH).days


def _date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


class _Pick:
    """Draw one of `items` with the given weights (faster than random.choices per call)."""

    def __init__(self, items: list[Any], weights: list[float] | np.ndarray) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(float(w) for w in weights))

    def __call__(self, r: random.Random) -> Any:
        return self.items[bisect.bisect(self.cum, r.random() * self.cum[-1])]


def _picker(pairs: list[tuple[str, float]]) -> _Pick:
    return _Pick([a for a, _ in pairs], [w for _, w in pairs])


_AGE = _Pick(AGE_BANDS, [b[2] for b in AGE_BANDS])
_CODE = {
    g: _Pick([(a, b) for a, b, _ in opts], [w for _, _, w in opts]) for g, opts in CODES.items()
}
_GROUP = {band: _Pick(list(range(len(GROUPS))), mix) for band, mix in _MIX.items()}
_GROUP_UASC = _Pick(list(range(len(GROUPS))), _MIX_UASC)
_CIN = _Pick(CIN[0], CIN[1])
_LS = _picker([("C1", 0.4), ("C2", 0.08), ("V2", 0.47), ("L1", 0.05)])
_HOME = _picker([("E4A", 0.6), ("E4B", 0.15), ("E13", 0.25)])
_SGO_KIN = _picker([("E45", 0.75), ("E47", 0.15), ("E41", 0.1)])
_SGO_FOSTER = _picker([("E46", 0.3), ("E47", 0.4), ("E48", 0.1), ("E41", 0.2)])
_SGO_OTHER = _picker([("E47", 0.5), ("E48", 0.2), ("E41", 0.3)])
_ADOPTED = _picker([("E11", 0.7), ("E12", 0.3)])
_INDEP = _picker([("E5", 0.65), ("E6", 0.35)])
_MOVE_KIND = _Pick([0, 1, 2], [0.45, 0.45, 0.10])
H5_UNTIL = (K3_FROM - EPOCH).days
P2_UNTIL = (dt.date(2023, 10, 28) - EPOCH).days
Z1_UNTIL = (dt.date(2025, 4, 1) - EPOCH).days


# ----------------------------------------------------------------------------- the model


class _Model:
    """The weekly chain. Closed episodes are rows of `self.rows`; open ones are in `self.cur`.

    Scalar draws use `random.Random` (fast); the weekly draws for all children in care use
    numpy on arrays indexed by child (`_in`, `_grp`, ...), kept in step with `self.cur`.
    """

    def __init__(self, spec: PanelSpec) -> None:
        self.spec = spec
        self.r = random.Random(spec.seed)
        self.rng = np.random.default_rng(spec.seed)
        first = spec.last_year - spec.years + 1
        self.origin = _day(dt.date(first - 1, 4, 1))  # start of the first collection year
        self.end = _day(dt.date(spec.last_year, 3, 31))
        self.rate = spec.entries_per_year or spec.start_size / MEAN_STAY_YEARS
        self.rows: list[tuple] = []
        # per child
        self.cid: list[str] = []
        self.dob: list[int] = []
        self.b18: list[int] = []
        self.sex: list[str] = []
        self.uasc: list[bool] = []
        self.home_post: list[str] = []
        self.used_ids: set[str] = set()
        self.periods_of: dict[int, int] = {}  # child -> periods of care so far
        self.reentry: dict[int, int] = {}  # child -> day of re-entry
        # per child in care: the open episode
        self.cur: dict[int, dict] = {}
        # the same, as arrays for the weekly draws
        n = 1024
        self._in = np.zeros(n, bool)
        self._dob = np.zeros(n, np.int64)
        self._b18 = np.zeros(n, np.int64)
        self._uasc = np.zeros(n, bool)
        self._per_start = np.zeros(n, np.int64)
        self._grp = np.zeros(n, np.int64)
        self._adopt = np.zeros(n, bool)
        self._relabel = np.zeros(n, bool)  # U6 or U3: may become long-term (U4 / U1)
        self._u5 = np.zeros(n, bool)
        self._ls = np.zeros(n, np.int64)  # 1 C1, 2 V2, 3 L1, 0 other

    def _grow(self) -> None:
        for name in (
            "_in",
            "_dob",
            "_b18",
            "_uasc",
            "_per_start",
            "_grp",
            "_adopt",
            "_relabel",
            "_u5",
            "_ls",
        ):
            old = getattr(self, name)
            new = np.zeros(2 * len(old), old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    # -- children

    def _new_child(self, entry: int, uasc: bool) -> int:
        r = self.r
        if uasc:
            age = r.uniform(14.0, 17.8) if r.random() < 0.3 else r.uniform(16.0, 17.8)
        else:
            lo, hi, _ = _AGE(r)
            age = r.uniform(lo, hi)
        born = _date(entry - int(age * YEAR_DAYS))
        dob = dt.date(born.year, born.month, 1)  # first of the month, as degraded data hold
        b18 = dt.date(dob.year + 18, dob.month, 1)
        if _day(b18) - entry < 21:  # at least three weeks in care before turning 18
            dob, b18 = dt.date(dob.year + 1, dob.month, 1), dt.date(b18.year + 1, b18.month, 1)
        while True:
            cid = str(r.randrange(100000, 1000000))
            if cid not in self.used_ids:
                break
        self.used_ids.add(cid)
        i = len(self.cid)
        if i >= len(self._in):
            self._grow()
        self.cid.append(cid)
        self.dob.append(_day(dob))
        self.b18.append(_day(b18))
        self.sex.append("1" if (uasc and r.random() < 0.9) or r.random() < 0.55 else "2")
        self.uasc.append(uasc)
        self.home_post.append(f"ZZ{r.randrange(1, 99)} {r.randrange(1, 9)}AB")
        self._dob[i], self._b18[i], self._uasc[i] = self.dob[i], self.b18[i], uasc
        return i

    def _codes(self, group: int, day: int) -> tuple[str, str]:
        place, prov = _CODE[GROUPS[group]](self.r)
        if place == "H5" and day >= H5_UNTIL:
            place = "K3"
        if place == "P2" and day >= P2_UNTIL:
            place = "K3"
        if place == "Z1" and day >= Z1_UNTIL:
            place = "Z11"
        return place, prov

    def _group_for(self, i: int, day: int, avoid: int | None = None) -> int:
        age = (day - self.dob[i]) / YEAR_DAYS
        pick = _GROUP_UASC if self.uasc[i] else _GROUP[_age_band(age)]
        for _ in range(50):  # redraw a group to avoid, or supported accommodation under 16
            g: int = pick(self.r)
            if g != avoid and (age >= 16 or g not in (G["supported"], G["supported_external"])):
                return g
        return G["in_house_foster"]

    def _set(self, i: int, **kw: object) -> None:
        """Change the open episode's details and keep the arrays in step."""
        s = self.cur[i]
        s.update(kw)
        self._grp[i] = s["group"]
        self._relabel[i] = s["place"] in ("U6", "U3")
        self._u5[i] = s["place"] == "U5"
        self._ls[i] = {"C1": 1, "V2": 2, "L1": 3}.get(s["ls"], 0)

    def _open(self, i: int, day: int, rne: str, ls: str, group: int, new_placement: bool) -> None:
        r = self.r
        cur = self.cur.get(i)
        place, prov = self._codes(group, day)
        if cur is None:  # a new period
            state: dict = {
                "period": 1,
                "placement": 1,
                "cin": "N8" if self.uasc[i] else _CIN(r),
            }
            state["per_start"] = day
            state["adopt"] = (
                (day - self.dob[i]) / YEAR_DAYS < 5 and not self.uasc[i] and r.random() < 0.3
            )
            self.cur[i] = state
            self._in[i] = True
            self._per_start[i] = day
            self._adopt[i] = state["adopt"]
        elif new_placement:
            cur["placement"] += 1
        fresh = new_placement or cur is None
        s = self.cur[i]
        self._set(
            i,
            decom=day,
            rne=rne,
            ls=ls,
            group=group,
            place=place,
            prov=prov,
            pl_post=f"ZZ{r.randrange(1, 99)} {r.randrange(1, 9)}CD" if fresh else s["pl_post"],
            urn=(f"SC{r.randrange(100000, 1000000)}" if place in ("K2", "K1") else "")
            if fresh
            else s["urn"],
        )

    def _close(self, i: int, day: int, rec: str, reason: str = "") -> None:
        s = self.cur[i]
        self.rows.append(
            (
                i,
                s["period"],
                s["placement"],
                s["decom"],
                day,
                s["rne"],
                s["ls"],
                s["cin"],
                s["place"],
                s["prov"],
                rec,
                reason,
                s["pl_post"],
                s["urn"],
            )
        )

    def _leave(self, i: int) -> None:
        del self.cur[i]
        self._in[i] = False

    def _enter(self, i: int, day: int, period: int) -> None:
        r = self.r
        age = (day - self.dob[i]) / YEAR_DAYS
        ls = "V2" if self.uasc[i] else _LS(r)
        group = self._group_for(i, day)
        if group == G["with_parents"] and ls in ("V2", "L1"):
            ls = "C1"
        if age >= 16 and ls == "L1":
            ls = "V2"
        self._open(i, day, "S", ls, group, new_placement=True)
        self.cur[i]["period"] = period
        self.periods_of[i] = period

    def _exit(self, i: int, day: int, rec: str) -> None:
        r = self.r
        again = 0.22 if rec in ("E4A", "E4B", "E13") else 0.03 if rec in REENTER_AFTER else 0.0
        if r.random() < self.spec.odd_rec_share:
            rec = r.choice(ODD_REC)
        self._close(i, day, rec)
        self._leave(i)
        if r.random() < again * self.spec.reentry_mult:
            back = day + 28 + int(r.expovariate(1 / 300))
            if back < self.b18[i] - 60:
                self.reentry[i] = back

    # -- the run

    def run(self) -> None:
        r = self.r
        spec = self.spec
        start = self.origin - int(WARMUP_YEARS * YEAR_DAYS)
        # seeded stock at the start of the warm-up: children already in care for a while
        for _ in range(int(spec.start_size * 0.9)):
            uasc = r.random() < spec.uasc_share * 0.6
            i = self._new_child(start, uasc)
            age = (start - self.dob[i]) / YEAR_DAYS
            tic = min(age, r.expovariate(0.5))
            began = max(self.dob[i], start - int(tic * YEAR_DAYS) - 1)
            self._enter(i, began, 1)
        day0 = start
        while day0 <= self.end:
            t = (day0 - self.origin) / YEAR_DAYS
            self._week(day0, t)
            # entries this week, after the week's events: nobody moves the week they arrive
            rate = self.rate * math.exp(spec.entry_drift * max(t, 0.0))
            if t >= spec.step_at and spec.step_factor != 1.0:
                rate *= spec.step_factor
            for _ in range(int(self.rng.poisson(rate * WEEK / YEAR_DAYS))):
                day = day0 + int(r.random() * WEEK)
                if day > self.end:
                    continue
                i = self._new_child(day, r.random() < spec.uasc_share)
                self._enter(i, day, 1)
            due = [(i, d) for i, d in self.reentry.items() if d < day0 + WEEK]
            for i, day in due:
                del self.reentry[i]
                if day <= self.end:
                    self._enter(i, day, self.periods_of[i] + 1)
            day0 += WEEK

    def _week(self, day0: int, t: float) -> None:
        r = self.r
        spec = self.spec
        kids = np.flatnonzero(self._in)
        if len(kids) == 0:
            return
        b18 = self._b18[kids]
        # turning 18 this week: leave on the birthday
        out18 = b18 < day0 + WEEK
        for i, b in zip(kids[out18].tolist(), b18[out18].tolist(), strict=True):
            if b > self.end:
                continue
            fostered = self.cur[i]["group"] in FOSTER  # Staying Put is for foster care
            self._close(i, b, "E17" if fostered and r.random() < 0.3 else "E8")
            self._leave(i)
        kids = kids[~out18]
        if len(kids) == 0:
            return
        age = (day0 - self._dob[kids]) / YEAR_DAYS
        tic = (day0 - self._per_start[kids]) / YEAR_DAYS
        grp = self._grp[kids]
        uasc = self._uasc[kids]
        ls = self._ls[kids]
        foster = grp <= G["ifa"]
        pfa = grp == G["placed_for_adoption"]
        mult = spec.exit_mult * math.exp(spec.exit_drift * max(t, 0.0))

        h = np.zeros((len(kids), 9))
        base_home = np.where(age < 1, 0.25, np.where(age < 10, 0.35, np.where(age < 16, 0.3, 0.2)))
        h[:, EV_HOME] = np.where(
            uasc, 0.02, base_home * (1.6 * np.exp(-tic) + 0.2) * HOME_MULT[grp]
        )
        sgo = np.where(age < 14, 0.06, 0.01) * np.where(grp == G["kinship"], 5.0, 1.0)
        h[:, EV_SGO] = np.where(pfa, 0.0, sgo)
        # adoption from a placement for adoption, and a few straight from foster care (odd)
        h[:, EV_ADOPT] = np.where(pfa, 1.5, np.where(foster & (age < 5), 0.02, 0.0))
        indep = np.where(grp >= G["supported"], 2.0, 1.0) * 0.2
        h[:, EV_INDEP] = np.where((age >= 16) & (grp < G["with_parents"]), indep, 0.0)
        h[:, EV_OTHER] = 0.015 + 0.04 * uasc
        h[:, :EV_TO_ADOPT] *= mult
        h[:, EV_TO_ADOPT] = np.where(self._adopt[kids] & foster & (tic > 0.4) & (age < 6), 1.2, 0.0)
        h[:, EV_MOVE] = MOVE_RATE[grp] * spec.move_mult
        h[:, EV_LS] = LS_RATE[ls]
        h[:, EV_RELABEL] = np.where(self._relabel[kids], 0.2, 0.0)
        cum = np.cumsum(h * (WEEK / YEAR_DAYS), axis=1)
        u = self.rng.random(len(kids))
        hit = u < cum[:, -1]
        ev = np.argmax(u[hit, None] < cum[hit], axis=1)
        for i, e in zip(kids[hit].tolist(), ev.tolist(), strict=True):
            day = day0 + int(r.random() * WEEK)
            if day > self.end or day >= self.b18[i]:
                continue
            self._event(i, e, day)

    def _event(self, i: int, e: int, day: int) -> None:
        r = self.r
        s = self.cur[i]
        g = s["group"]
        if e == EV_HOME:
            self._exit(i, day, _HOME(r))
        elif e == EV_SGO:
            if g == G["kinship"]:
                rec = _SGO_KIN(r)
            elif g in FOSTER:
                rec = _SGO_FOSTER(r)
            else:
                rec = _SGO_OTHER(r)
            self._exit(i, day, rec)
        elif e == EV_ADOPT:
            self._exit(i, day, _ADOPTED(r))
        elif e == EV_INDEP:
            self._exit(i, day, _INDEP(r))
        elif e == EV_OTHER:
            age = (day - self.dob[i]) / YEAR_DAYS
            if self.uasc[i] and r.random() < 0.5:
                rec = "E15"
            else:
                rec = r.choice(["E3", "E16", "E2", "E7"] + (["E9", "E9"] if age >= 12 else []))
            self._exit(i, day, rec)
        elif e == EV_TO_ADOPT:
            new_ls = "E1"
            if s["place"] == "U5":  # fostering for adoption: the same carer becomes the adopter
                rne = "U" if s["ls"] != new_ls else "T"
                prov = s["prov"]
                self._close(i, day, "X1", "PLACE")
                self._open(i, day, rne, new_ls, G["placed_for_adoption"], new_placement=False)
                self._set(i, place="A5", prov=prov)
            else:
                rne = "B" if s["ls"] != new_ls else "P"
                self._close(i, day, "X1", "CARPL")
                self._open(i, day, rne, new_ls, G["placed_for_adoption"], new_placement=True)
        elif e == EV_MOVE:
            kind = _MOVE_KIND(r)
            reason = r.choice(MOVE_REASONS[kind])
            ls = s["ls"]
            if g == G["placed_for_adoption"]:  # a disruption: back to foster care
                reason, ls = "CARPL", "C2"
            new = self._group_for(i, day, avoid=g)
            if new == G["with_parents"] and ls in ("V2", "L1"):
                ls = "C2"
            rne = "B" if ls != s["ls"] else "P"
            self._close(i, day, "X1", reason)
            self._open(i, day, rne, ls, new, new_placement=True)
        elif e == EV_LS:
            new_ls = {"C1": "C2", "V2": "C1", "L1": "C1"}.get(s["ls"], "C2")
            place, prov = s["place"], s["prov"]
            self._close(i, day, "X1", "")
            self._open(i, day, "L", new_ls, g, new_placement=False)
            self._set(i, place=place, prov=prov)
        elif e == EV_RELABEL:  # long-term foster care agreed, same carer
            place, prov = {"U6": "U4", "U3": "U1"}[s["place"]], s["prov"]
            self._close(i, day, "X1", "PLACE")
            self._open(i, day, "T", s["ls"], g, new_placement=False)
            self._set(i, place=place, prov=prov)

    def history(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(episodes, children) of the whole run; open episodes have DEC NaT and REC ''."""
        rows = list(self.rows)
        for i, s in self.cur.items():
            rows.append(
                (
                    i,
                    s["period"],
                    s["placement"],
                    s["decom"],
                    -1,
                    s["rne"],
                    s["ls"],
                    s["cin"],
                    s["place"],
                    s["prov"],
                    "",
                    "",
                    s["pl_post"],
                    s["urn"],
                )
            )
        cols = [
            "child",
            "period",
            "placement",
            "decom",
            "dec",
            "RNE",
            "LS",
            "CIN",
            "PLACE",
            "PLACE_PROVIDER",
            "REC",
            "REASON_PLACE_CHANGE",
            "PL_POST",
            "URN",
        ]
        ep = pd.DataFrame(rows, columns=cols)
        ep["CHILD"] = np.asarray(self.cid, dtype=object)[ep["child"].to_numpy()]
        epoch = np.datetime64("1970-01-01", "D")
        ep["DECOM"] = (epoch + ep["decom"].to_numpy().astype("timedelta64[D]")).astype(
            "datetime64[ns]"
        )
        dec = ep["dec"].to_numpy()
        ep["DEC"] = pd.Series(
            np.where(
                dec < 0, np.datetime64("NaT"), epoch + np.maximum(dec, 0).astype("timedelta64[D]")
            ),
            index=ep.index,
        ).astype("datetime64[ns]")
        ep["HOME_POST"] = np.asarray(self.home_post, dtype=object)[ep["child"].to_numpy()]
        ep = ep.sort_values(["CHILD", "DECOM"], kind="stable").reset_index(drop=True)
        kids = pd.DataFrame(
            {
                "CHILD": self.cid,
                "DOB": (epoch + np.array(self.dob).astype("timedelta64[D]")).astype(
                    "datetime64[ns]"
                ),
                "SEX": self.sex,
                "UASC": self.uasc,
            }
        )
        return ep, kids


# ----------------------------------------------------------------------------- truth


def load_groups(path: Path = MAP_FILE) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(exact, wildcard) PLACE/PLACE_PROVIDER -> group, from placement_map.toml.

    Provisions marked `calibrate = false` are skipped; an exact PLACE/PROVIDER pair wins
    over a `PLACE/*` one, and within each kind the first provision listed wins.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    exact: dict[tuple[str, str], str] = {}
    wild: dict[str, str] = {}
    for pid, entry in data.get("provision", {}).items():
        if not entry.get("calibrate", True):
            continue
        for code in entry.get("codes", []):
            place, _, prov = code.partition("/")
            if prov in ("", "*"):
                wild.setdefault(place, pid)
            else:
                exact.setdefault((place, prov), pid)
    return exact, wild


def group_of(
    place: str, prov: str, groups: tuple[dict[tuple[str, str], str], dict[str, str]]
) -> str:
    """The placement group of a code pair, or 'unmapped'."""
    exact, wild = groups
    return exact.get((place, prov)) or wild.get(place) or "unmapped"


def count_truth(ep: pd.DataFrame, kids: pd.DataFrame, year_ends: list[pd.Timestamp]) -> dict:
    """Stocks on each year end and flows in each year, from a full episode history."""
    groups = load_groups()
    key = ["CHILD", "period", "placement"]
    ep = ep.sort_values(["CHILD", "DECOM"], kind="stable")  # periods and placements in order
    first = ep.drop_duplicates(key, keep="first").set_index(key)
    last = ep.drop_duplicates(key, keep="last").set_index(key)
    # a placement: its first episode's start, its last episode's end (NaT while open) and code
    pl = pd.DataFrame(
        {
            "start": first["DECOM"],
            "end": last["DEC"],
            "PLACE": last["PLACE"],
            "PROV": last["PLACE_PROVIDER"],
        }
    ).reset_index()
    dob = kids.set_index("CHILD")["DOB"]
    pl["dob"] = pl["CHILD"].map(dob)
    pl["group"] = [group_of(a, b, groups) for a, b in zip(pl["PLACE"], pl["PROV"], strict=True)]
    pk = ["CHILD", "period"]
    per = pd.DataFrame(
        {
            "start": ep.drop_duplicates(pk, keep="first").set_index(pk)["DECOM"],
            "end": ep.drop_duplicates(pk, keep="last").set_index(pk)["DEC"],
        }
    ).reset_index()
    age0 = (per["start"] - per["CHILD"].map(dob)).dt.days / YEAR_DAYS
    per = per[(age0 >= 0) & (age0 < 18)]
    out: dict = {"in_care": {}, "by_group": {}, "entries": {}, "exits": {}}
    for d in year_ends:
        y = d.year
        age = (d - pl["dob"]).dt.days / YEAR_DAYS
        act = pl[
            (pl["start"] <= d) & (pl["end"].isna() | (pl["end"] > d)) & (age >= 0) & (age < 18)
        ]
        out["in_care"][y] = int(act["CHILD"].nunique())
        out["by_group"][y] = {
            str(k): int(v) for k, v in act.groupby("group")["CHILD"].nunique().items()
        }
        a = d - pd.DateOffset(years=1)
        out["entries"][y] = int(((per["start"] > a) & (per["start"] <= d)).sum())
        e = per["end"]
        out["exits"][y] = int((e.notna() & (e > a) & (e <= d)).sum())
    return out


# ----------------------------------------------------------------------------- writing


def _fmt(s: pd.Series, form: str) -> pd.Series:
    return s.dt.strftime(form).fillna("")


def _mangle(df: pd.DataFrame, cols: list[str], share: float, rng: np.random.Generator) -> None:
    if share <= 0:
        return
    for c in cols:
        pick = rng.random(len(df)) < share / len(cols) * 2
        vals = df[c].astype(str)
        lower = rng.random(len(df)) < 0.5
        df[c] = np.where(pick & (vals != ""), np.where(lower, vals.str.lower(), vals + "  "), vals)


def _name(spec: PanelSpec, table: str, year: int) -> str:
    if spec.file_names == "range":
        label = {"episodes": "Episodes", "header": "Header", "uasc": "UASC"}[table]
        return f"SSDA903_{year - 1}-{str(year)[2:]}_{label}.csv"
    return f"{table}_{year}.csv"


def write_panel(spec: PanelSpec, folder: str | Path) -> Truth:
    """Generate `spec`'s history, write its CSV tables under `folder`, return the truth."""
    t0 = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = _Model(spec)
    model.run()
    ep, kids = model.history()
    rng = np.random.default_rng(spec.seed + 1)
    first = spec.last_year - spec.years + 1
    year_ends = [pd.Timestamp(year=y, month=3, day=31) for y in range(first, spec.last_year + 1)]
    truth = count_truth(ep, kids, year_ends)

    kid = kids.set_index("CHILD")
    files: list[Path] = []
    for y, d in zip(range(first, spec.last_year + 1), year_ends, strict=True):
        a = pd.Timestamp(year=y - 1, month=4, day=1)
        inyear = (ep["DECOM"] <= d) & (ep["DEC"].isna() | (ep["DEC"] >= a))
        e = ep.loc[inyear, EPISODE_COLUMNS].copy()
        still = e["DEC"].isna() | (e["DEC"] > d)
        e.loc[still, "DEC"] = pd.NaT
        e.loc[still, "REC"] = ""
        e.loc[still, "REASON_PLACE_CHANGE"] = ""
        stray = still & (rng.random(len(e)) < spec.stray_rec_share)
        e.loc[stray, "REC"] = rng.choice(STRAY_REC, size=int(stray.sum()))
        form = "%d/%m/%Y 00:00" if rng.random() < spec.datetime_share else "%d/%m/%Y"
        e["DECOM"] = _fmt(e["DECOM"], form)
        e["DEC"] = _fmt(e["DEC"], form)
        _mangle(e, ["RNE", "LS", "PLACE", "PLACE_PROVIDER", "REC"], spec.mangle_share, rng)
        children = pd.Index(e["CHILD"].unique())
        h = kid.loc[children].reset_index()
        header = pd.DataFrame(
            {
                "CHILD": h["CHILD"],
                "SEX": h["SEX"],
                "DOB": _fmt(h["DOB"], form),
                "ETHNIC": rng.choice(ETHNIC, size=len(h)),
                "UPN": [
                    "UN2"
                    if u
                    else f"{'ABCDEFGHJKLMNPQRTUVWXYZ'[int(c) % 23]}{int(c) * 7919 % 10**12:012d}"
                    for u, c in zip(h["UASC"], h["CHILD"], strict=True)
                ],
                "MOTHER": np.where(h["SEX"] == "2", "0", ""),
                "MC_DOB": "",
            }
        )
        u = h[h["UASC"]]
        uasc = pd.DataFrame(
            {
                "CHILD": u["CHILD"],
                "SEX": u["SEX"],
                "DOB": _fmt(u["DOB"], form),
                "DUC": _fmt(u["DOB"] + pd.DateOffset(years=18), form),
            }
        )
        for table, df in (("episodes", e), ("header", header), ("uasc", uasc)):
            if spec.year_column:
                df.insert(0, "YEAR", str(y))
            path = folder / _name(spec, table, y)
            df.to_csv(path, index=False)
            files.append(path)
    return Truth(
        spec=spec,
        year_ends=year_ends,
        in_care=truth["in_care"],
        by_group=truth["by_group"],
        entries=truth["entries"],
        exits=truth["exits"],
        episodes=ep,
        children=kids,
        files=files,
        seconds=time.perf_counter() - t0,
    )
