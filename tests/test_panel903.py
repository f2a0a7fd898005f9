"""The independent 903 panel (`tests/panel903.py`) and the hand-made fake903 fixture.

* The generator's own history is coherent: no overlaps, ages 0-17 at entry, every exit has
  a REC, and its stocks change by entries minus exits year on year.
* `read_903` reads every panel data set, and what `backtest.Observed` counts from it
  (children in care on each 31 March, in total and by placement group; entries and exits
  in each year) equals the generator's truth.
* `tests/data/fake903` is laid out like the public fake data of data-to-insight's 903
  validator (end dates written dd/mm/yy); its counts were made by hand (its README).
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panel903 import PANEL, YEAR_DAYS, PanelSpec, Truth, group_of, load_groups, write_panel

from sim.calibration.backtest import Observed
from sim.calibration.fit import CodeMap, read_map
from sim.calibration.ssda903 import Dataset, read_903

FAKE = Path(__file__).parent / "data" / "fake903"
FAKE_END = pd.Timestamp("2023-03-31")
FAKE_START = pd.Timestamp("2022-03-31")
FAKE_IN_CARE = 17
FAKE_IN_CARE_START = 14
FAKE_ENTRIES = 12
FAKE_EXITS = 9
FAKE_BY_GROUP = {
    "in_house_foster": 5,
    "ifa": 3,
    "external_home": 2,
    "supported_external": 2,
    "kinship": 1,
    "in_house_home": 1,
    "placed_for_adoption": 1,
    "supported": 1,
    "with_parents": 1,
}


@pytest.fixture(scope="module")
def codes() -> CodeMap:
    m = read_map(None)
    return CodeMap(m, list(m["provision"]), list(m["exits"]))


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Truth, Path]]:
    out = {}
    for spec in PANEL:
        folder = tmp_path_factory.mktemp(spec.name)
        out[spec.name] = (write_panel(spec, folder), folder)
    return out


@pytest.fixture(scope="module")
def read(panel: dict[str, tuple[Truth, Path]]) -> dict[str, Dataset]:
    return {name: read_903(folder) for name, (_, folder) in panel.items()}


NAMES = [s.name for s in PANEL]


# ----------------------------------------------------------------------------- the panel


def test_panel_is_varied() -> None:
    assert len(PANEL) >= 6
    assert len(set(NAMES)) == len(NAMES)
    assert {"stable", "growing", "shrinking", "step", "small", "large"} <= set(NAMES)
    assert all(8 <= s.years <= 10 for s in PANEL)


def check_history(truth: Truth) -> None:
    """The generator's invariants, on its whole history."""
    ep = truth.episodes.sort_values(["CHILD", "DECOM"], kind="stable").reset_index(drop=True)
    closed = ep["DEC"].notna()
    assert (ep.loc[closed, "DEC"] > ep.loc[closed, "DECOM"]).all(), (
        "an episode ends before it starts"
    )
    assert (ep.loc[closed, "REC"] != "").all(), "an episode ended without a REC"
    assert (ep.loc[~closed, "REC"] == "").all()
    same = ep["CHILD"].eq(ep["CHILD"].shift(-1))
    nxt = ep.shift(-1)
    # only a child's last episode may be open, and episodes never overlap
    assert not (same & ~closed).any(), "an open episode is followed by another"
    assert (nxt.loc[same, "DECOM"] >= ep.loc[same, "DEC"]).all(), "episodes overlap"
    # X1 hands over on the same day within the period; any other REC ends the period
    x1 = ep["REC"].eq("X1")
    assert (nxt.loc[same & x1, "DECOM"] == ep.loc[same & x1, "DEC"]).all()
    assert (nxt.loc[same & x1, "RNE"] != "S").all()
    assert not (~same & x1).any(), "a child's last episode ends with X1"
    ended = same & closed & ~x1
    assert (nxt.loc[ended, "RNE"] == "S").all(), "a new period does not start with RNE S"
    assert (nxt.loc[ended, "DECOM"] > ep.loc[ended, "DEC"]).all(), "re-entry on the exit day"
    # ages 0-17 at every start; nobody in care past the 18th birthday
    dob = ep["CHILD"].map(truth.children.set_index("CHILD")["DOB"])
    age = (ep["DECOM"] - dob).dt.days / YEAR_DAYS
    assert (age >= 0).all() and (age < 18).all()
    b18 = dob + pd.DateOffset(years=18)
    assert (ep.loc[closed, "DEC"] <= b18[closed]).all()
    assert (~closed).sum() == 0 or (b18[~closed] > truth.year_ends[-1]).all()
    assert (truth.children["DOB"].dt.day == 1).all()
    # every code pair is one the placement map reads
    groups = load_groups()
    pairs = ep[["PLACE", "PLACE_PROVIDER"]].drop_duplicates()
    assert all(group_of(a, b, groups) != "unmapped" for a, b in pairs.itertuples(index=False))
    # stocks move by entries minus exits (turning 18 is an exit)
    for prev, y in itertools.pairwise(truth.in_care):
        assert truth.in_care[y] - truth.in_care[prev] == truth.entries[y] - truth.exits[y]
    assert all(sum(truth.by_group[y].values()) == n for y, n in truth.in_care.items())


@pytest.mark.parametrize("name", NAMES)
def test_history_invariants(panel: dict[str, tuple[Truth, Path]], name: str) -> None:
    check_history(panel[name][0])


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    drift=st.floats(-0.1, 0.1),
    exit_mult=st.floats(0.5, 2.0),
    move_mult=st.floats(0.5, 3.0),
)
def test_history_invariants_any_seed(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    drift: float,
    exit_mult: float,
    move_mult: float,
) -> None:
    spec = PanelSpec(
        "prop",
        seed=seed,
        years=3,
        start_size=60,
        entry_drift=drift,
        exit_mult=exit_mult,
        move_mult=move_mult,
        uasc_share=0.2,
    )
    check_history(write_panel(spec, tmp_path_factory.mktemp("prop")))


@pytest.mark.parametrize("name", NAMES)
def test_files_look_like_exports(panel: dict[str, tuple[Truth, Path]], name: str) -> None:
    truth, folder = panel[name]
    spec = truth.spec
    eps = sorted(p for p in folder.iterdir() if "pisode" in p.name)
    assert len(eps) == spec.years
    assert len(list(folder.glob("*.csv"))) == 3 * spec.years
    stray = opened = 0
    for path in eps:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(df.columns)[-13:] == [
            "CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER",
            "DEC", "REC", "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN",
        ]  # fmt: skip
        assert ("YEAR" in df.columns) == spec.year_column
        assert df["DECOM"].str.fullmatch(r"\d\d/\d\d/\d{4}( 00:00)?").all()
        is_open = df["DEC"] == ""
        opened += int(is_open.sum())
        stray += int((is_open & (df["REC"].str.strip() != "")).sum())
        assert (df.loc[~is_open, "REC"].str.strip() != "").all()
    if spec.stray_rec_share > 0:
        assert 0.5 * spec.stray_rec_share < stray / opened < 1.5 * spec.stray_rec_share


@pytest.mark.parametrize("name", NAMES)
def test_generation_is_fast(panel: dict[str, tuple[Truth, Path]], name: str) -> None:
    # well under 2 s on a quiet machine (0.6-1.2 s); the margin is for a loaded one
    assert panel[name][0].seconds < 4.0


# ----------------------------------------------------------------------------- read_903


@pytest.mark.parametrize("name", NAMES)
def test_reader_in_care_on_last_31_march(
    panel: dict[str, tuple[Truth, Path]], read: dict[str, Dataset], codes: CodeMap, name: str
) -> None:
    truth, _ = panel[name]
    ds = read[name]
    assert not any("not understood" in r or "unknown" in r for r in ds.skipped)
    assert ds.collection_end == truth.year_ends[-1]
    n, by, unmapped = Observed(ds, codes).in_care(truth.year_ends[-1])
    assert n == truth.in_care[truth.spec.last_year]
    assert by == truth.by_group[truth.spec.last_year]
    assert unmapped == 0


@pytest.mark.parametrize("name", NAMES)
def test_reader_every_year(
    panel: dict[str, tuple[Truth, Path]], read: dict[str, Dataset], codes: CodeMap, name: str
) -> None:
    truth, _ = panel[name]
    ob = Observed(read[name], codes)
    for y, end in zip(truth.in_care, truth.year_ends, strict=True):
        start = end - pd.DateOffset(years=1)
        n, by, _ = ob.in_care(end)
        assert (n, by) == (truth.in_care[y], truth.by_group[y]), y
        assert ob.entries(start, end) == truth.entries[y], y
        assert ob.exits(start, end) == truth.exits[y], y


# ----------------------------------------------------------------------------- fake903


def test_fake903_layout() -> None:
    ep = pd.read_csv(FAKE / "episodes.csv", dtype=str, keep_default_na=False)
    is_open = ep["DEC"] == ""
    assert (ep.loc[is_open, "REC"] != "").sum() >= 5  # open episodes carrying a REC
    assert ep.loc[~is_open, "DEC"].str.fullmatch(r"\d\d/\d\d/\d\d").all()  # as the fake data
    assert 20 <= pd.read_csv(FAKE / "header.csv", dtype=str)["CHILD"].nunique() <= 40


def test_fake903_in_care_on_31_march(codes: CodeMap) -> None:
    ds = read_903(FAKE)
    assert ds.collection_end == FAKE_END  # no year in the file names: taken from the data
    n, by, unmapped = Observed(ds, codes).in_care(FAKE_END)
    assert n == FAKE_IN_CARE
    assert by == FAKE_BY_GROUP
    assert unmapped == 0


def test_fake903_year_as_written(codes: CodeMap) -> None:
    """The fake-data layout writes DEC as dd/mm/yy; before issue 14 every such row was
    skipped as 'not a date', losing the year's exits (0 of 9) and most of the stock."""
    ds = read_903(FAKE)
    ob = Observed(ds, codes)
    assert ob.in_care(FAKE_START)[0] == FAKE_IN_CARE_START
    assert ob.exits(FAKE_START, FAKE_END) == FAKE_EXITS
    assert ob.entries(FAKE_START, FAKE_END) == FAKE_ENTRIES


def test_fake903_year_with_four_digit_years(tmp_path: Path, codes: CodeMap) -> None:
    """The hand counts are right: with DEC rewritten dd/mm/yyyy the reader gets them all."""
    for f in FAKE.glob("*.csv"):
        shutil.copy(f, tmp_path)
    text = (tmp_path / "episodes.csv").read_text()
    (tmp_path / "episodes.csv").write_text(re.sub(r",(\d\d/\d\d)/(\d\d),", r",\1/20\2,", text))
    ds = read_903(tmp_path)
    assert not ds.skipped
    ob = Observed(ds, codes)
    assert ob.in_care(FAKE_END)[:2] == (FAKE_IN_CARE, FAKE_BY_GROUP)
    assert ob.in_care(FAKE_START)[0] == FAKE_IN_CARE_START
    assert ob.exits(FAKE_START, FAKE_END) == FAKE_EXITS
    assert ob.entries(FAKE_START, FAKE_END) == FAKE_ENTRIES
    assert np.isclose(FAKE_IN_CARE - FAKE_IN_CARE_START, FAKE_ENTRIES - FAKE_EXITS)


def test_rolling_backtest_on_panel_data_is_unbiased_and_no_worse_than_same_flows(
    tmp_path: Path,
) -> None:
    """Calibrate-and-simulate a year ahead from every origin of two panel data sets the
    model did not generate (stable; entries growing 8% a year).

    Before issue 14, exits with unknown reasons were counted nowhere and borrowed capacity
    was filled, so stocks were forecast several per cent too high. Tolerances: over ~17
    origins the mean signed error of the total has a standard error of about 1.5% (yearly
    errors of ~6%), so |bias| < 5% fails a real bias, not chance; the MAPE bound allows the
    simulation a quarter more error than 'same flows as last year', whose own MAPE is
    about 5-6% on these sets (bench/panel_backtest.py has the full table).
    """
    from sim.calibration.packaged import DEFAULT_TEMPLATE
    from sim.calibration.rolling import rolling_backtest
    from sim.scenario.load import load

    frames = []
    for spec in PANEL[:2]:
        write_panel(spec, tmp_path / spec.name)
        r = rolling_backtest(
            read_903(tmp_path / spec.name),
            load(DEFAULT_TEMPLATE),
            read_map(None),
            horizon=1,
            reps=30,
            workers=1,
        )
        frames.append(r.points)
    points = pd.concat(frames)
    total = points[points["measure"] == "in_care_total"]
    error = (total["median"] - total["actual"]) / total["actual"]
    flows = ((total["same_flows"] - total["actual"]) / total["actual"]).abs()
    assert len(total) >= 15
    assert abs(error.mean()) < 0.05
    assert error.abs().mean() < 1.25 * flows.mean()
