"""Backtest: calibrate on the data up to a date and score the forecast after it.

`--train-until DATE` backtests from one date; `--rolling` from every 31 March the data
allow (`sim.calibration.rolling`), scored at 1 to `--horizon` years ahead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import options
from .options import (
    add_la,
    add_parameter_uncertainty,
    add_seed_and_workers,
    add_template_and_map,
    add_yes,
)

if TYPE_CHECKING:
    from ..calibration.backtest import Backtest
    from ..calibration.rolling import Rolling
    from ..calibration.ssda903.read import Dataset
    from ..scenario.load import LoadedScenario

#: --horizon's default: from one date, and rolling
HORIZON_ONE, HORIZON_ROLLING = 2, 3


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
    origin = p.add_mutually_exclusive_group(required=True)
    origin.add_argument(
        "--train-until",
        type=options.parse_any_date,
        metavar="YYYY-MM-DD",
        help="pretend it is this date (a month end, e.g. 2021-03-31): only data "
        "known then are used to calibrate",
    )
    origin.add_argument(
        "--rolling",
        action="store_true",
        help="backtest from every 31 March with a whole year of data before it and one "
        "after it, each scored at 1 to --horizon years ahead as far as the data reach, "
        "and summarise the errors over all of them",
    )
    p.add_argument(
        "--horizon",
        type=options.parse_horizon,
        default=None,
        help=f"years to forecast and score after --train-until (default {HORIZON_ONE}), "
        f"or the most years ahead a --rolling backtest scores (default {HORIZON_ROLLING})",
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
    add_parameter_uncertainty(p)
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
    from ..reports.backtest import rolling_summary_lines, summary_lines

    started = time.perf_counter()
    interactive = sys.stderr.isatty() and not args.quiet
    if args.rolling:
        horizon = args.horizon or HORIZON_ROLLING
        r = rolling_files(
            args.data,
            args.out,
            horizon=horizon,
            reps=args.reps,
            years_back=args.years_back,
            template=args.template,
            map_path=args.map,
            seed=args.seed,
            workers=args.workers,
            force=args.force,
            messages=None if args.quiet else sys.stderr,
            yes=args.yes,
            la=args.la,
            parameter_uncertainty=args.parameter_uncertainty,
        )
        if not args.quiet:
            print(
                f"Rolling backtest, {len(r.origins)} origin(s), up to {horizon} year(s) "
                f"ahead, {args.reps} replications: done in "
                f"{time.perf_counter() - started:.1f} s. Results in {args.out}/",
                file=sys.stderr,
            )
            for line in rolling_summary_lines(r):
                print(line)
        return 0
    args.horizon = args.horizon or HORIZON_ONE
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
        parameter_uncertainty=args.parameter_uncertainty,
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


def _read(
    data: Path | str,
    template: Path | str | None,
    map_path: Path | None,
    messages: Any,
    la: str | None = None,
) -> tuple[LoadedScenario, dict[str, Any], Dataset, float]:
    """(template, placement map, data, seconds to read), with the data's problems told."""
    from ..calibration.fit import read_map
    from ..calibration.packaged import DEFAULT_TEMPLATE
    from ..calibration.ssda903.read import read_903
    from ..scenario.load import load

    tpl = load(template or DEFAULT_TEMPLATE)
    mapping = read_map(map_path)
    t0 = time.perf_counter()
    ds = read_903(data, la=la)
    read_s = time.perf_counter() - t0
    if (ds.problems or ds.skipped) and messages is not None:
        print(ds.summary(), file=messages)
    return tpl, mapping, ds, read_s


def rolling_files(
    data: Path | str,
    out: Path | str,
    horizon: int = HORIZON_ROLLING,
    reps: int = 200,
    years_back: float = 3.0,
    template: Path | str | None = None,
    map_path: Path | None = None,
    seed: int = 20240401,
    workers: int | None = None,
    force: bool = False,
    messages: Any = None,
    yes: bool | None = None,
    la: str | None = None,
    parameter_uncertainty: bool = True,
) -> Rolling:
    """Read, backtest from every origin the data allow, and write the output folder (whole
    or not at all); progress, an origin a line, to `messages`."""
    from ..calibration.rolling import rolling_backtest
    from ..common.outputs import atomic_path, check_free
    from ..reports.backtest import write_rolling

    out = check_free(out, force)
    tpl, mapping, ds, read_s = _read(data, template, map_path, messages, la)
    r = rolling_backtest(
        ds,
        tpl,
        mapping,
        horizon=horizon,
        reps=reps,
        years_back=years_back,
        seed=seed,
        workers=workers,
        yes=yes,
        messages=messages,
        parameter_uncertainty=parameter_uncertainty,
    )
    r.seconds = {"read": read_s, **r.seconds}
    t0 = time.perf_counter()
    with atomic_path(out, force=force) as tmp:
        write_rolling(r, tmp)
    r.seconds["write"] = time.perf_counter() - t0
    return r


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
    parameter_uncertainty: bool = True,
) -> Backtest:
    """Read, backtest and write the output folder (whole or not at all)."""
    from ..calibration.backtest import backtest, check_date
    from ..common.outputs import atomic_path, check_free
    from ..reports.backtest import write_outputs

    out = check_free(out, force)
    check_date(at)
    tpl, mapping, ds, read_s = _read(data, template, map_path, messages, la)
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
        parameter_uncertainty=parameter_uncertainty,
    )
    bt.seconds = {"read": read_s, **bt.seconds}
    t0 = time.perf_counter()
    with atomic_path(out, force=force) as tmp:
        write_outputs(bt, tmp, suppress_below)
    bt.seconds["write"] = time.perf_counter() - t0
    return bt
