"""synth903: write the children a simulation made up as SSDA903 Header and Episodes tables.

There is no public 903 data, so the project makes its own: a scenario is simulated once,
and every child's periods of care, placements and exits are written in the return's
layout, one file per table and collection year (1 April to 31 March), as an LA would
export them. The true rates are then known, so calibration can be tested against them.
An optional fault rate adds the mistakes real extracts contain.

Everything here is invented: identifiers, dates of birth and postcodes come from the
simulation's random numbers, and postcodes from a table of made-up districts.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.outputs import atomic_path
from ..engine.model import Model
from ..scenario.ages import ADULT_AGE, DAYS_PER_YEAR
from ..scenario.schema import Scenario
from .packaged import DEFAULT_MAP, DISTRICTS

HEADER_COLUMNS = ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
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
UASC_COLUMNS = ["CHILD", "SEX", "DOB", "DUC"]
ETHNIC = ["WBRI", "WBRI", "WBRI", "WBRI", "WOTH", "MWBC", "MOTH", "APKN", "BAFR", "OOTH"]
FAULTS = ("bad_place", "bad_date", "dec_before_decom", "missing_decom", "overlap", "bad_dob")


@dataclass
class Episode:
    """One made-up SSDA903 episode: start and end (days), codes and placement location."""

    decom: float
    rne: str
    place: str
    provider: str
    location: str
    dec: float | None = None
    rec: str = ""
    reason: str = ""


@dataclass
class ChildRecord:
    """One made-up child: the 903 Header fields and the episodes of their care."""

    cid: int
    dob: float
    uasc: bool
    episodes: list[Episode] = field(default_factory=list)


def load_map(path: Path | None = None) -> dict:
    """The placement code map (TOML) that says which 903 codes each provision writes."""
    with (path or DEFAULT_MAP).open("rb") as fh:
        return tomllib.load(fh)


def _first_code(mapping: dict, section: str, name: str, default: str) -> str:
    codes = mapping.get(section, {}).get(name, {}).get("codes")
    return codes[0] if codes else default


def histories(
    scenario: Scenario, years: float, seed: int, mapping: dict
) -> tuple[list[ChildRecord], Model]:
    """Simulate once and turn the event log into each child's episodes."""
    model = Model(
        scenario, years, np.random.SeedSequence(seed), record_events=True, keep_children=True
    )
    model.run()
    loc_of = {pid: spec.location for pid, spec in scenario.provision.items()}
    code_of = {}
    for pid in scenario.provision:
        place, _, provider = _first_code(mapping, "provision", pid, "Z1/PR4").partition("/")
        code_of[pid] = (place, provider if provider not in ("", "*") else "PR4")
    kids = {c.cid: ChildRecord(c.cid, c.dob, c.uasc) for c in model.all_children or []}
    entered = {c.cid: c.entered for c in model.all_children or []}
    staying_put: set[int] = set()
    for row in model.events or []:
        if row[1] == "staying_put_start":
            staying_put.add(row[2])
    for row in model.events or []:
        t, kind = row[0], row[1]
        if kind == "placed":
            _, _, cid, from_pid, to_pid, _uid, move_kind, _unmet = row
            rec = kids[cid]
            place, provider = code_of[to_pid]
            if (
                rec.episodes
                and rec.episodes[-1].dec is None
                and rec.episodes[-1].decom == math.floor(t)
            ):
                # moved again the same day: the return records where the child ended up
                last = rec.episodes[-1]
                last.place, last.provider, last.location = place, provider, loc_of[to_pid]
                continue
            if rec.episodes and rec.episodes[-1].dec is None:
                last = rec.episodes[-1]
                last.dec, last.rec = math.floor(t), "X1"
                last.reason = _first_code(mapping, "moves", move_kind or "planned", "OTHER")
                rne = "P"
            else:
                rne = "S"
            start = entered[cid] if (from_pid is None and t == 0.0) else t
            rec.episodes.append(Episode(math.floor(start), rne, place, provider, loc_of[to_pid]))
        elif kind == "exit":
            _, _, cid, reason, _pid = row
            last = kids[cid].episodes[-1]
            last.dec = math.floor(t)
            if reason == "age_18" and cid in staying_put:
                last.rec = "E17"
            else:
                last.rec = _first_code(mapping, "exits", reason, "E8")
    return [k for k in kids.values() if k.episodes], model


class _Writer:
    """Turns histories into 903 rows: identifiers, dates, codes, postcodes and faults."""

    def __init__(self, start: dt.date, seed: int, fault_rate: float) -> None:
        self.start = start
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 903]))
        self.fault_rate = fault_rate
        with DISTRICTS.open() as fh:
            rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
        self.home_districts = [r["district"] for r in rows if r["zone"] == "in_area"]
        self.by_zone = {
            z: [r["district"] for r in rows if r["zone"] == z]
            for z in ("in_area", "within_20_miles", "beyond_20_miles")
        }
        self.faults: dict[str, int] = dict.fromkeys(FAULTS, 0)

    def date(self, t: float) -> dt.date:
        return self.start + dt.timedelta(days=math.floor(t))

    def text(self, t: float | None) -> str:
        return "" if t is None else self.date(t).strftime("%d/%m/%Y")

    def postcode(self, districts: list[str]) -> str:
        d = districts[int(self.rng.integers(len(districts)))]
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        return (
            f"{d} {int(self.rng.integers(1, 10))}"
            f"{letters[int(self.rng.integers(20))]}{letters[int(self.rng.integers(20))]}"
        )

    def child_id(self, used: set[str]) -> str:
        while True:
            cid = f"{int(self.rng.integers(10**7, 10**8))}"
            if cid not in used:
                used.add(cid)
                return cid


def write_903(
    scenario: Scenario,
    out: Path | str,
    years: float = 6.0,
    seed: int = 903,
    fault_rate: float = 0.0,
    force: bool = False,
    mapping_path: Path | None = None,
) -> dict[str, int]:
    """Simulate `scenario` and write its children as 903 CSVs, one per table and year.

    Returns counts of what was written (children, episodes, faults by kind).
    """
    mapping = load_map(mapping_path)
    records, model = histories(scenario, years, seed, mapping)
    w = _Writer(scenario.scenario.start_date, seed, fault_rate)
    end_day = model.calendar.end
    start = scenario.scenario.start_date
    first_year = start.year + (1 if start.month >= 4 else 0)  # collection year ending 31 March
    last_year = w.date(end_day - 1).year + (1 if w.date(end_day - 1).month >= 4 else 0)

    used: set[str] = set()
    ids = {r.cid: w.child_id(used) for r in records}
    header_rows: dict[int, list[str]] = {}
    uasc_rows: dict[int, list[str]] = {}
    home = {}
    for r in records:
        sex = "1" if w.rng.random() < 0.55 else "2"
        dob = w.text(r.dob)
        upn = f"A{int(w.rng.integers(10**11, 10**12))}"
        upn = upn if len(upn) == 13 else "UN4"
        header_rows[r.cid] = [
            ids[r.cid],
            sex,
            dob,
            ETHNIC[int(w.rng.integers(len(ETHNIC)))],
            upn,
            "0" if sex == "2" else "",
            "",
        ]
        if r.uasc:
            uasc_rows[r.cid] = [ids[r.cid], sex, dob, w.text(r.dob + ADULT_AGE * DAYS_PER_YEAR)]
        home[r.cid] = w.postcode(w.home_districts)

    counts = {"children": len(records), "episodes": 0}
    with atomic_path(out, force=force) as tmp:
        for year in range(first_year, last_year + 1):
            y0 = (dt.date(year - 1, 4, 1) - start).days
            y1 = (dt.date(year, 3, 31) - start).days
            ep_rows: list[list[str]] = []
            in_year: set[int] = set()
            for r in records:
                ls = "V2" if r.uasc else ("C2" if (r.cid * 2654435761) % 10 < 7 else "V2")
                cin = "N8" if r.uasc else ("N1", "N1", "N1", "N4", "N5", "N2")[r.cid % 6]
                for ep in r.episodes:
                    if ep.decom > y1 or (ep.dec is not None and ep.dec < y0):
                        continue
                    closed = ep.dec is not None and ep.dec <= y1 and ep.dec < end_day
                    pl_post = (
                        home[r.cid] if ep.place == "P1" else w.postcode(w.by_zone[ep.location])
                    )
                    urn = (
                        f"SC{int(w.rng.integers(10**5, 10**6))}"
                        if ep.place in ("K1", "K2", "K3")
                        else ""
                    )
                    row = [
                        ids[r.cid],
                        w.text(ep.decom),
                        ep.rne,
                        ls,
                        cin,
                        ep.place,
                        ep.provider,
                        w.text(ep.dec) if closed else "",
                        ep.rec if closed else "",
                        ep.reason if closed and ep.rec == "X1" else "",
                        home[r.cid],
                        pl_post,
                        urn,
                    ]
                    ep_rows.append(_fault(w, row))
                    in_year.add(r.cid)
            counts["episodes"] += len(ep_rows)
            _write_csv(tmp / f"episodes_{year}.csv", EPISODE_COLUMNS, ep_rows)
            hdr = [header_rows[c] for c in sorted(in_year)]
            if w.fault_rate > 0:
                hdr = [_dob_fault(w, h) for h in hdr]
            _write_csv(tmp / f"header_{year}.csv", HEADER_COLUMNS, hdr)
            _write_csv(
                tmp / f"uasc_{year}.csv",
                UASC_COLUMNS,
                [uasc_rows[c] for c in sorted(in_year) if c in uasc_rows],
            )
        (tmp / "README.txt").write_text(
            "Synthetic SSDA903 data made by `sufficiency synth903`: every child, date and "
            "postcode is invented by a simulation of the scenario below. Not real data.\n"
            f"Scenario: {scenario.scenario.name}; seed {seed}; {years:g} years from {start}; "
            f"fault rate {fault_rate:g}.\n",
            encoding="utf-8",
        )
    counts.update({f"fault_{k}": v for k, v in w.faults.items() if v})
    return counts


def _fault(w: _Writer, row: list[str]) -> list[str]:
    """With probability `fault_rate`, spoil the row the way real extracts go wrong."""
    if w.fault_rate <= 0 or w.rng.random() >= w.fault_rate:
        return row
    kind = FAULTS[int(w.rng.integers(len(FAULTS) - 1))]  # bad_dob is a header fault
    row = list(row)
    if kind == "bad_place":
        row[5] = "ZZ9"
    elif kind == "bad_date":
        row[1] = "31/02/" + row[1][-4:] if row[1] else "not a date"
    elif kind == "dec_before_decom" and row[7]:
        row[1], row[7] = row[7], row[1]
        if row[1] == row[7]:
            kind = "none"
    elif kind == "missing_decom":
        row[1] = ""
    elif kind == "overlap" and row[1]:
        d = dt.datetime.strptime(row[1], "%d/%m/%Y").date() - dt.timedelta(days=20)
        row[1] = d.strftime("%d/%m/%Y")  # starts before the previous episode ended
    else:
        kind = "none"
    if kind != "none":
        w.faults[kind] += 1
    return row


def _dob_fault(w: _Writer, row: list[str]) -> list[str]:
    if w.rng.random() >= w.fault_rate / 4:
        return row
    row = list(row)
    row[2] = "01/01/2099"  # born after entering care
    w.faults["bad_dob"] += 1
    return row


def _write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        out.writerows(rows)
