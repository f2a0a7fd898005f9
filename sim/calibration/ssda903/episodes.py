"""From episodes to placements and periods of care (`/work/shared/ssda903.md` section 5).

An episode changes whenever legal status, placement or carer changes, so episodes are too
fine for a supply model. Here:

* a **period of care** is a run of episodes each handing over to the next with REC X1; it
  ends at the first other REC (an exit; E99 = exit inferred by the reader, reason unknown);
* a **placement** is a stay in one bed with one carer. It starts with the period, or at an
  episode with RNE S, P or B (a new carer). RNE L (legal status only) and T/U (placement
  re-labelled, same carer, e.g. U6 -> U4 or U4 -> A5) continue it, as does a P or B whose
  previous episode gives REASON_PLACE_CHANGE = PLACE (status change only). The newest
  PLACE code is the placement's;
* temporary placements (T0-T4) are folded into the placement around them: the home bed is
  held. After a temporary stay the child is back in the same placement unless the carer's
  details (PLACE, PLACE_PROVIDER, PL_POST, URN) differ from before it.

Both tables carry `start_observed` (extra to the agreed columns, as is `placement`): False
when the child was already in that period or placement before the data begin, so `start`
is only the first date seen (left-truncated), which matters when fitting durations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import codes
from .read import DT, Dataset

PLACEMENT_COLUMNS = [
    "CHILD",
    "period",
    "placement",
    "start",
    "end",
    "PLACE",
    "PLACE_PROVIDER",
    "HOME_POST",
    "PL_POST",
    "ended_by",
    "reason",
    "RNE_next",
    "start_observed",
]
PERIOD_COLUMNS = [
    "CHILD",
    "period",
    "start",
    "end",
    "REC",
    "DOB",
    "age_at_start",
    "uasc",
    "first_PLACE",
    "first_PLACE_PROVIDER",
    "start_observed",
]

_CARER = ("PLACE", "PLACE_PROVIDER", "PL_POST", "URN")


def _keyed(ds: Dataset) -> pd.DataFrame:
    """Episodes with `period`, `placement` and `_temp` added, in child and date order."""
    ep = ds.episodes.sort_values(["CHILD", "DECOM"], kind="stable").reset_index(drop=True)
    child = ep["CHILD"]
    first = child.ne(child.shift())
    new_period = first | ep["REC"].shift().ne(codes.REC_CONTINUES)
    ep["period"] = new_period.astype(int).groupby(child).cumsum()

    temp = ep["PLACE"].isin(codes.PLACE_TEMPORARY)
    # a period made of temporary rows only (against the rules) is kept as it is
    temp &= ~temp.groupby([child, ep["period"]]).transform("all")
    ep["_temp"] = temp

    nt = ep[~temp]
    keys = [nt["CHILD"], nt["period"]]
    prev = nt.groupby(keys).shift()
    pos = pd.Series(nt.index, index=nt.index)
    prev_pos = pos.groupby(keys).shift()
    first_nt = prev_pos.isna()
    after_temp = (pos - prev_pos) > 1
    new_carer = nt["RNE"].isin(codes.RNE_NEW_CARER) & prev["REASON_PLACE_CHANGE"].ne(
        codes.REASON_RELABEL
    )
    differs = pd.Series(False, index=nt.index)
    for c in _CARER:  # a blank on either side says nothing
        differs |= (nt[c] != prev[c]) & (nt[c] != "") & prev[c].fillna("").ne("")
    new_pl = first_nt | (~after_temp & new_carer) | (after_temp & differs)

    ep["placement"] = np.nan
    ep.loc[nt.index, "placement"] = new_pl.astype(int).groupby(keys).cumsum()
    g = ep.groupby(["CHILD", "period"])["placement"]
    ep["placement"] = g.ffill()  # a temporary stay belongs to the placement before it ...
    ep["placement"] = ep["placement"].fillna(  # ... or, at a period's start, the one after
        ep.groupby(["CHILD", "period"])["placement"].bfill()
    )
    ep["placement"] = ep["placement"].astype(int)
    return ep


def _last(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df[df.groupby(keys).cumcount(ascending=False) == 0].set_index(keys)


def _first(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df[df.groupby(keys).cumcount() == 0].set_index(keys)


def placements(ds: Dataset) -> pd.DataFrame:
    """One row per placement (continuous stay with one carer); see the module docstring.

    Columns: CHILD, period, placement (1-based within the period), start, end (NaT if open
    at the data's end), PLACE / PLACE_PROVIDER / HOME_POST / PL_POST (of the placement's
    last non-temporary episode), ended_by ("move", "exit" or "" if open), reason
    (REASON_PLACE_CHANGE of the closing episode for a move, REC for an exit), RNE_next (RNE
    of the next placement's first episode for a move, else ""), start_observed.
    """
    if ds.episodes.empty:
        return _empty(
            PLACEMENT_COLUMNS,
            {"start": DT, "end": DT, "period": int, "placement": int, "start_observed": bool},
        )
    ep = _keyed(ds)
    keys = ["CHILD", "period", "placement"]
    nt = ep[~ep["_temp"]]
    last_row = _last(ep, keys)
    last_nt = _last(nt, keys)
    first_nt = _first(nt, keys)

    pl = ep.groupby(keys)["DECOM"].min().rename("start").to_frame()
    pl["end"] = last_row["DEC"]
    for c in ("PLACE", "PLACE_PROVIDER", "HOME_POST", "PL_POST", "REASON_PLACE_CHANGE"):
        pl[c] = last_nt[c]
    pl["REC"] = last_row["REC"]
    pl["RNE_first"] = first_nt["RNE"]
    pl = pl.reset_index()
    n_in_period = pl.groupby(["CHILD", "period"])["placement"].transform("max")
    is_open = pl["end"].isna()
    is_exit = (pl["placement"] == n_in_period) & ~is_open
    move = ~is_open & ~is_exit
    pl["ended_by"] = np.select([is_open, is_exit], ["", "exit"], "move")
    pl["reason"] = pl["REASON_PLACE_CHANGE"].where(move, pl["REC"].where(is_exit, ""))
    rne_next = pl.groupby(["CHILD", "period"])["RNE_first"].shift(-1)
    pl["RNE_next"] = rne_next.where(move, "")
    pl["start_observed"] = (
        pl["RNE_first"].isin(codes.RNE_NEW_CARER) | (pl["placement"] > 1) | (pl["period"] > 1)
    )
    return _typed(pl[PLACEMENT_COLUMNS])


def periods(ds: Dataset) -> pd.DataFrame:
    """One row per period of care; see the module docstring.

    Columns: CHILD, period (1-based per child), start, end (NaT if open), REC (the exit
    code, "" if open), DOB, age_at_start (years), uasc (a UASC row whose DUC is blank or
    after the start, or the Header's UASC flag), first_PLACE / first_PLACE_PROVIDER (of
    the first non-temporary episode), start_observed (the first episode has RNE S, or an
    earlier period of the child was seen to end).
    """
    if ds.episodes.empty:
        return _empty(
            PERIOD_COLUMNS,
            {
                "start": DT,
                "end": DT,
                "DOB": DT,
                "period": int,
                "age_at_start": float,
                "uasc": bool,
                "start_observed": bool,
            },
        )
    ep = _keyed(ds)
    keys = ["CHILD", "period"]
    first_row = _first(ep, keys)
    last_row = _last(ep, keys)
    first_nt = _first(ep[~ep["_temp"]], keys)

    pe = first_row[["DECOM"]].rename(columns={"DECOM": "start"})
    pe["end"] = last_row["DEC"]
    pe["REC"] = last_row["REC"].where(pe["end"].notna(), "")
    pe["first_PLACE"] = first_nt["PLACE"]
    pe["first_PLACE_PROVIDER"] = first_nt["PLACE_PROVIDER"]
    pe["start_observed"] = first_row["RNE"].eq("S")
    pe = pe.reset_index()
    pe["start_observed"] |= pe["period"] > 1  # the exit before it was seen

    header = ds.header.set_index("CHILD")
    pe["DOB"] = _lookup(pe["CHILD"], header["DOB"]).astype(DT)
    pe["age_at_start"] = (pe["start"] - pe["DOB"]).dt.days / 365.25
    uasc = ds.uasc.set_index("CHILD")["DUC"]
    duc = _lookup(pe["CHILD"], uasc).astype(DT)
    pe["uasc"] = pe["CHILD"].isin(uasc.index) & (duc.isna() | (duc > pe["start"]))
    if "UASC" in header.columns:  # older Headers carry a UASC flag
        pe["uasc"] |= _lookup(pe["CHILD"], header["UASC"]).fillna(False).astype(bool)
    return _typed(pe[PERIOD_COLUMNS])


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """`table[key]` for each key (NaN where absent), on `keys`' index."""
    return pd.Series(table.reindex(keys.to_numpy()).to_numpy(), index=keys.index)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    for c in df.columns:
        if c in ("start", "end", "DOB"):
            df[c] = df[c].astype(DT)
        elif c in ("period", "placement"):
            df[c] = df[c].astype(int)
        elif c in ("uasc", "start_observed"):
            df[c] = df[c].astype(bool)
        elif c == "age_at_start":
            df[c] = df[c].astype(float)
        else:
            df[c] = df[c].fillna("").astype(str)
    return df


def _empty(columns: list[str], types: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, str)) for c in columns})
