"""Time `calibrate` on 10 years of synthetic SSDA903 data for a 1,000-child LA.

The Darlington baseline with 4.2 times the entries settles at about 1,000 children in care;
synth903 writes 10 years of it, and calibrate fits a scenario from the last 3 years.
Prints the sizes and seconds; run with `python bench/calibrate.py`.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from sim.calibration.fit import calibrate, read_map
from sim.calibration.packaged import DEFAULT_TEMPLATE
from sim.calibration.ssda903.episodes import periods, placements
from sim.calibration.ssda903.read import read_903
from sim.calibration.synth903 import write_903
from sim.scenario.load import load
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    base = load(ROOT / "scenarios" / "darlington" / "baseline.toml")
    raw = dict(base.raw)
    raw["scenario"] = {**raw["scenario"], "start_date": dt.date(2013, 4, 1)}
    raw["entries"] = {**raw["entries"], "per_year": raw["entries"]["per_year"] * 4.2}
    scenario = Scenario.model_validate(raw)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t = time.perf_counter()
        counts = write_903(scenario, data, years=10, seed=1)
        t_synth = time.perf_counter() - t
        t = time.perf_counter()
        ds = read_903(data)
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        pl, per = placements(ds), periods(ds)
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        cal = calibrate(
            ds, dt.date(2023, 3, 31), load(DEFAULT_TEMPLATE), read_map(None), years_back=3
        )
        t_fit = time.perf_counter() - t
    in_care = sum(sum(g["by_age"].values()) for g in cal.scenario["population"].values())
    print(
        f"synthetic data: {counts['children']:,} children, {counts['episodes']:,} episode rows "
        f"in 10 yearly files ({t_synth:.1f} s to write)"
    )
    print(
        f"read and validate: {t_read:.2f} s; placements and periods: {t_build:.2f} s "
        f"({len(pl):,} placements, {len(per):,} periods)"
    )
    print(
        f"calibrate (incl. rebuilding placements): {t_fit:.2f} s; {in_care:,} children in "
        "care on 2023-03-31"
    )
    print(f"calibration of 10 years of a {in_care:,}-child LA: {t_read + t_fit:.1f} s")


if __name__ == "__main__":
    main()
