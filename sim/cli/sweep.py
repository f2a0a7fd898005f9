"""Sweep: run a grid of variants of one scenario with the same random numbers."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from ..common.errors import UserError
from . import options
from .options import add_monte_carlo_options, check_budget, monte_carlo_settings


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser(
        "sweep",
        help="run a grid of variants of a scenario (same random numbers) and chart the response",
    )
    p.add_argument("scenario", type=options.parse_path, help="scenario file (.toml)")
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="a dotted key of the scenario and its values: a range start:stop:step (stop "
        "included), a comma-separated list (2024-04-01,2025-04-01 or true,false), or a "
        "|-separated list of TOML values; repeat for more keys (the grid is every combination)",
    )
    p.add_argument(
        "--grid",
        type=options.parse_path,
        default=None,
        metavar="FILE",
        help="a TOML file with a [vary] table of keys and lists of values (for structured "
        "values such as lists of homes)",
    )
    p.add_argument(
        "--against",
        type=options.parse_path,
        default=None,
        metavar="BASELINE",
        help="a baseline scenario file: run it once with the same seed and report each "
        "variant's net saving against it (placements plus the option's own costs, paired "
        "run by run as compare does)",
    )
    p.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="instead of every combination, vary each key alone with the others as the "
        "scenario has them (a sensitivity analysis; variant 1 is the scenario as written)",
    )
    add_monte_carlo_options(p, reps=100, per=" per variant")
    p.add_argument(
        "--out",
        type=options.parse_path,
        default=None,
        help="output folder (default results/<scenario>-sweep)",
    )
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")

    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Run every variant of the grid on the same seed and write the sweep folder."""
    from ..reports.sweep import check_out, command_line, table_lines, write_sweep
    from ..runs.sweep import parse_vary, read_grid, run_sweep
    from ..scenario.load import load

    if not args.vary and args.grid is None:
        raise UserError("nothing to sweep: give --vary KEY=VALUES (one or more) or --grid FILE")
    axes = [parse_vary(text) for text in args.vary]
    if args.grid is not None:
        axes += read_grid(args.grid)
    out = args.out or Path("results") / f"{args.scenario.stem}-sweep"
    loaded = load(args.scenario)
    against = load(args.against) if args.against is not None else None
    check_out(out, args.force)  # after loading: no file the scenario extends may go
    # The base scenario timed once stands for every variant; one variant's results are
    # held at a time (each is reduced to its measures before the next runs).
    if args.one_at_a_time:
        variants = 1 + sum(len(a.values) for a in axes)
    else:
        variants = math.prod(len(a.values) for a in axes)
    runs = [loaded.model] * variants + ([against.model] if against is not None else [])
    check_budget(args, runs, out, held_at_once=1)
    extra = {k: getattr(args, k) for k in ("engine", "scheduler") if getattr(args, k) is not None}
    if args.against is not None:
        extra["against"] = args.against
    command = command_line(
        args.scenario,
        args.vary,
        args.grid,
        args.years,
        args.reps,
        args.seed,
        out,
        extra,
        one_at_a_time=args.one_at_a_time,
    )
    interactive = sys.stderr.isatty() and not args.quiet
    sw = run_sweep(
        loaded,
        axes,
        **monte_carlo_settings(args, interactive),
        command=command,
        against=against,
        one_at_a_time=args.one_at_a_time,
    )
    write_sweep(sw, out, force=args.force)
    if not args.quiet:
        print(
            f"Swept {len(sw.results)} variants x {args.reps} replications x {args.years:g} "
            f"year(s) (seed {args.seed}) in {sw.wall_seconds:.1f} s. Results in {out}/",
            file=sys.stderr,
        )
        for line in table_lines(sw):
            print(line)
    return 0
