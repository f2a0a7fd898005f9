"""What the regression baseline holds, and how each part is computed.

Each case is a small, fixed-seed computation through the public API whose output is
written as text with every float in full (`repr`), so a saved file and a fresh run are
compared exactly. Cases cover the Darlington baseline (two seeds), one Darlington option,
the county benchmark and a calibration of the committed synthetic SSDA903 set.

Only `update.py` writes the saved files; `tests/test_baseline.py` compares with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAVED = HERE / "saved"

#: (name, scenario file, years, replications, master seed)
RUNS = (
    ("darlington-baseline-seed1", "scenarios/darlington/baseline.toml", 3, 4, 1),
    ("darlington-baseline-seed2", "scenarios/darlington/baseline.toml", 3, 4, 2),
    ("darlington-solo-homes-seed1", "scenarios/darlington/solo-homes.toml", 3, 4, 1),
    ("county-seed3", "scenarios/bench/county.toml", 2, 3, 3),
)
#: monthly series kept per replication and month (the rest is in the fingerprint)
MONTHLY = (
    ("in_care", "total"),
    ("cost", "total"),
    ("unmet_children", "total"),
    ("moves", "total"),
    ("entries", "all"),
    ("exits", "total"),
)
CALIBRATION_AT = dt.date(2021, 3, 31)


def _num(x: float) -> str:
    return repr(float(x))


def _fingerprint(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f8").tobytes()).hexdigest()


def run_case(path: str, years: int, reps: int, seed: int) -> dict[str, str]:
    """Files of one Monte Carlo case: yearly medians, some monthly series, fingerprints."""
    from sim import load, run
    from sim.engine.metrics import YEARLY

    res = run(load(ROOT / path), years=years, reps=reps, seed=seed, workers=1, progress=False)
    monthly = res.monthly  # (reps, months, series)
    out = io.StringIO()
    out.write("metric,group,year,median_of_year_sum\n")
    for i, (metric, group) in enumerate(res.layout.series):
        for y in range(res.n_years):
            block = monthly[:, y * 12 : (y + 1) * 12, i].sum(axis=1)
            out.write(f"{metric},{group},{y + 1},{_num(np.median(block))}\n")
    for j, name in enumerate(YEARLY):
        for y in range(res.n_years):
            out.write(f"yearly,{name},{y + 1},{_num(np.median(res.yearly[:, y, j]))}\n")
    series = io.StringIO()
    series.write("metric,group,replication,month,value\n")
    for metric, group in MONTHLY:
        x = res.series(metric, group)
        for r in range(x.shape[0]):
            for m in range(x.shape[1]):
                series.write(f"{metric},{group},{r},{res.months[m]},{_num(x[r, m])}\n")
    prints = {
        "monthly_sha256": _fingerprint(monthly),
        "yearly_sha256": _fingerprint(res.yearly),
        "series": len(res.layout.series),
        "months": len(res.months),
        "reps": res.reps,
    }
    return {
        "yearly_medians.csv": out.getvalue(),
        "monthly.csv": series.getvalue(),
        "fingerprint.json": json.dumps(prints, indent=1, sort_keys=True) + "\n",
    }


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_plain(v) for v in node]
    if isinstance(node, float):
        return _num(node)
    if isinstance(node, dt.date):
        return node.isoformat()
    return node


def calibration_case() -> dict[str, str]:
    """The scenario and fitted numbers `calibrate` learns from the synthetic 903 set."""
    from sim import load
    from sim.calibration.fit import calibrate, read_map
    from sim.calibration.packaged import DEFAULT_TEMPLATE
    from sim.calibration.ssda903.read import read_903

    ds = read_903(ROOT / "calibration" / "synthetic-903")
    cal = calibrate(ds, CALIBRATION_AT, load(DEFAULT_TEMPLATE), read_map(None))
    scenario = _plain(cal.scenario)
    # (names the template's file, which moves with the package: not a fitted number)
    scenario["scenario"].pop("description", None)
    fitted = [
        {
            "key": f.key,
            "value": _num(f.value),
            "low": _num(f.low),
            "high": _num(f.high),
            "events": _num(f.events),
            "exposure": _num(f.exposure),
            "method": f.method,
        }
        for f in cal.fitted
    ]
    return {
        "scenario.json": json.dumps(scenario, indent=1, sort_keys=True) + "\n",
        "fitted.json": json.dumps(fitted, indent=1) + "\n",
    }


def cases() -> dict[str, Callable[[], dict[str, str]]]:
    """Case name -> function computing its files (name -> text)."""
    out: dict[str, Callable[[], dict[str, str]]] = {}
    for name, path, years, reps, seed in RUNS:
        out[name] = lambda p=path, y=years, r=reps, s=seed: run_case(p, y, r, s)
    out["calibration-synthetic-903"] = calibration_case
    return out


def saved(case: str) -> dict[str, str]:
    """The saved files of one case (empty when it was never saved)."""
    folder = SAVED / case
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}
