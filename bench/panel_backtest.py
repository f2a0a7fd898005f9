"""Rolling-origin backtests on the independent test panel: accuracy on data we did not make.

The panel (tests/panel903.py) is written by a generator that shares no code with the
simulation: a weekly Markov chain with drifting and stepped entries, age- and
time-in-care-dependent exits, stray REC codes and other habits of real exports. Each data
set is read, then backtested from every 31 March the data allow at horizons 1-3 years
(`sim.calibration.rolling`), and the points of all data sets are pooled.

    python bench/panel_backtest.py [--reps 100] [--horizon 3] [--only stable,growing]
        [--no-parameter-uncertainty] [--csv points.csv]

Prints, per horizon, for children in care (total): the simulation's MAPE and bias beside
the three references' and the 80% interval's coverage; then the coverage over every
measure and horizon (each a "metric-year").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from panel903 import PANEL, write_panel  # noqa: E402

from sim.calibration.fit import read_map  # noqa: E402
from sim.calibration.packaged import DEFAULT_TEMPLATE  # noqa: E402
from sim.calibration.rolling import FORECASTS, rolling_backtest, summarise  # noqa: E402
from sim.calibration.ssda903.read import read_903  # noqa: E402
from sim.scenario.load import load  # noqa: E402

NAMES = {
    "median": "simulation",
    "same_as_last_year": "same as last year",
    "same_flows": "same flows",
    "linear_trend": "linear trend",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--horizon", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--no-parameter-uncertainty", action="store_true")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args()
    only = {s for s in args.only.split(",") if s}
    template, mapping = load(DEFAULT_TEMPLATE), read_map(None)
    frames = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for spec in PANEL:
            if only and spec.name not in only:
                continue
            folder = Path(tmp) / spec.name
            write_panel(spec, folder)
            t0 = time.perf_counter()
            r = rolling_backtest(
                read_903(folder),
                template,
                mapping,
                horizon=args.horizon,
                reps=args.reps,
                workers=args.workers,
                parameter_uncertainty=not args.no_parameter_uncertainty,
            )
            frames.append(r.points.assign(data=spec.name))
            print(
                f"{spec.name}: {len(r.origins)} origins in {time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
            )
    points = pd.concat(frames, ignore_index=True)
    if args.csv:
        points.to_csv(args.csv, index=False)
    summary = summarise(points)
    refs = [f for f in FORECASTS if f in NAMES]
    print(
        f"\nChildren in care (total), {len(frames)} data sets, {args.reps} reps, "
        f"parameter uncertainty {'off' if args.no_parameter_uncertainty else 'on'} "
        f"({time.perf_counter() - started:.0f} s)\n"
    )
    print(
        "| years ahead | points | "
        + " | ".join(f"{NAMES[f]} MAPE (bias)" for f in refs)
        + " | 80% coverage |"
    )
    print("|---|---|" + "---|" * len(refs) + "---|")
    for _, row in summary[summary["measure"] == "in_care_total"].iterrows():
        cells = [
            f"{row[f'mape_{f}']:.1f}% ({row[f'bias_{f}']:+.1f}%)"
            + ("" if row[f"points_{f}"] == row["points"] else f" [{row[f'points_{f}']}]")
            for f in refs
        ]
        print(
            f"| {row['horizon']} | {row['points']} | " + " | ".join(cells) + f" | "
            f"{row['coverage']:.0%} |"
        )
    print("\n80% coverage over every measure (metric-years):")
    for h, g in points.groupby("horizon"):
        print(f"  {h} year(s) ahead: {g['inside_80'].mean():.0%} of {len(g)}")
    total = points[points["measure"] == "in_care_total"]
    print(
        f"  all horizons: {points['inside_80'].mean():.0%} of {len(points)}; "
        f"children in care (total) alone: {total['inside_80'].mean():.0%} of {len(total)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
