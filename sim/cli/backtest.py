"""Backtest: calibrate on the data up to a date and score the forecast after it."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import options
from .options import add_la, add_seed_and_workers, add_template_and_map, add_yes

if TYPE_CHECKING:
    from ..calibration.backtest import Backtest


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser(
        "backtest",
        help="calibrate on the data up to a date, simulate the "
        "years after it, and score the forecast against what happened",
    )
    p.add_argument(
        "data", type=options.parse_path, help="folder of SSDA903 CSV files (Header, Episodes, UASC)"
    )
    p.add_argument(
        "--train-until",
        type=options.parse_any_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="pretend it is this date (a month end, e.g. 2021-03-31): only data "
        "known then are used to calibrate",
    )
    p.add_argument(
        "--horizon",
        type=options.parse_horizon,
        default=2,
        help="years to forecast and score after --train-until (default 2)",
    )
    p.add_argument(
        "--reps", type=options.parse_reps, default=200, help="replications (default 200)"
    )
    p.add_argument(
        "--out",
        type=options.parse_path,
        default=Path("results") / "backtest",
        help="output folder (default results/backtest)",
    )
    p.add_argument(
        "--years-back",
        type=options.parse_years,
        default=3,
        help="years of data before --train-until to fit rates from (default 3)",
    )
    add_template_and_map(p)
    add_la(p)
    add_seed_and_workers(p)
    p.add_argument(
        "--suppress-below",
        type=options.parse_suppress,
        default=5,
        metavar="K",
        help="show counts of children under K as '<K' in backtest.md and "
        "calibration.md (default 5)",
    )
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    add_yes(p)

    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Backtest the data named on the command line and print the scores; the exit status."""
    from ..reports.backtest import summary_lines

    started = time.perf_counter()
    interactive = sys.stderr.isatty() and not args.quiet
    bt = backtest_files(
        args.data,
        args.train_until,
        args.out,
        horizon=args.horizon,
        reps=args.reps,
        years_back=args.years_back,
        template=args.template,
        map_path=args.map,
        seed=args.seed,
        workers=args.workers,
        suppress_below=args.suppress_below,
        force=args.force,
        progress=interactive,
        messages=None if args.quiet else sys.stderr,
        yes=args.yes,
        la=args.la,
    )
    if not args.quiet:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in bt.seconds.items())
        print(
            f"Backtest from {args.train_until}, {args.horizon} year(s), {args.reps} "
            f"replications: done in {time.perf_counter() - started:.1f} s ({steps}). "
            f"Results in {args.out}/",
            file=sys.stderr,
        )
        for line in summary_lines(bt):
            print(line)
    return 0


def backtest_files(
    data: Path | str,
    at: dt.date,
    out: Path | str,
    horizon: int = 2,
    reps: int = 200,
    years_back: float = 3.0,
    template: Path | str | None = None,
    map_path: Path | None = None,
    seed: int = 20240401,
    workers: int | None = None,
    suppress_below: int = 5,
    force: bool = False,
    progress: bool = False,
    messages: Any = None,
    yes: bool | None = None,
    la: str | None = None,
) -> Backtest:
    """Read, backtest and write the output folder (whole or not at all)."""
    from ..calibration.backtest import backtest, check_date
    from ..calibration.fit import read_map
    from ..calibration.packaged import DEFAULT_TEMPLATE
    from ..calibration.ssda903.read import read_903
    from ..common.outputs import atomic_path, check_free
    from ..reports.backtest import write_outputs
    from ..scenario.load import load

    out = check_free(out, force)
    check_date(at)
    tpl = load(template or DEFAULT_TEMPLATE)
    mapping = read_map(map_path)
    t0 = time.perf_counter()
    ds = read_903(data, la=la)
    read_s = time.perf_counter() - t0
    if (ds.problems or ds.skipped) and messages is not None:
        print(ds.summary(), file=messages)
    bt = backtest(
        ds,
        at,
        tpl,
        mapping,
        horizon=horizon,
        reps=reps,
        years_back=years_back,
        seed=seed,
        workers=workers,
        progress=progress,
        yes=yes,
    )
    bt.seconds = {"read": read_s, **bt.seconds}
    t0 = time.perf_counter()
    with atomic_path(out, force=force) as tmp:
        write_outputs(bt, tmp, suppress_below)
    bt.seconds["write"] = time.perf_counter() - t0
    return bt
