"""Run: many replications of one scenario, written to a results folder."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from ..common.errors import UserError
from . import options
from .options import add_monte_carlo_options, check_budget, monte_carlo_settings

#: The first line of an --events file: what marks a file --force may replace.
#: replications run again at the rates' medians, where a run draws them, to say how much
#: of each band is chance and how much is not knowing the rates (about 100 pin a band's
#: width to within a few per cent of itself; more adds time for little)
CHANCE_REPS = 100
_EVENTS_HEADER = ["day", "event", "a", "b", "c", "d", "e", "f"]
_EVENTS_MARKER = ",".join(_EVENTS_HEADER)


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser("run", help="run a scenario many times and write a folder of results")
    p.add_argument("scenario", type=options.parse_path, help="scenario file (.toml)")
    add_monte_carlo_options(p, reps=200, per="")
    p.add_argument(
        "--out",
        type=options.parse_path,
        default=None,
        help="output folder (default results/<scenario file name>)",
    )
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    p.add_argument(
        "--suppress-below",
        type=options.parse_suppress,
        default=0,
        metavar="K",
        help="show counts of children below K as '<K' in summaries",
    )
    p.add_argument(
        "--events",
        type=options.parse_path,
        default=None,
        metavar="FILE",
        help="also write the event log of replication 1 to FILE (CSV, for debugging)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or headline lines")

    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Run one scenario's replications and write its results folder; the exit status."""
    from ..common.outputs import check_free
    from ..engine.metrics import Layout
    from ..reports.actuals import check_scenario as check_actuals
    from ..reports.run import headline_lines, uncertainty_lines, write_report
    from ..runs.montecarlo import run
    from ..scenario.load import load
    from ..scenario.region import is_region_file

    if is_region_file(args.scenario):
        return _execute_region(args)
    scenario = load(args.scenario)
    # the council's published figures beside it, if any, checked before the long run
    check_actuals(scenario.files, Layout.for_scenario(scenario.model))
    if not args.quiet:
        for text in scenario.warnings:
            print(f"warning: {text}", file=sys.stderr)
    out = args.out or Path("results") / args.scenario.stem
    check_free(out, args.force)
    if args.events is not None:
        check_free(args.events, args.force, folder=False, marker=_EVENTS_MARKER)
    chance = CHANCE_REPS if scenario.model.uncertainty and args.parameter_uncertainty else 0
    # the estimate counts the replications run again at the medians too
    check_budget(
        argparse.Namespace(**{**vars(args), "reps": args.reps + chance}), [scenario.model], out
    )
    interactive = sys.stderr.isatty() and not args.quiet
    if not args.quiet:
        print(
            f"Running {scenario.name!r}: {args.reps} replications x {args.years:g} years "
            f"(seed {args.seed})",
            file=sys.stderr,
        )
    results = run(
        scenario,
        **monte_carlo_settings(args, interactive),
        chance_reps=chance,
    )
    folder = write_report(results, out, force=args.force, suppress_below=args.suppress_below)
    if args.events is not None:
        _write_events(scenario.model, args.years, args.seed, args.events, args.force)
    if not args.quiet:
        rate = results.n_events / results.wall_seconds if results.wall_seconds else 0.0
        print(
            f"Done in {results.wall_seconds:.1f} s on {results.workers} worker(s) "
            f"({args.engine}), "
            f"{rate:,.0f} events/s. Results in {folder}/",
            file=sys.stderr,
        )
        for line in headline_lines(results) + uncertainty_lines(results):
            print("  " + line)
    return 0


def _execute_region(args: argparse.Namespace) -> int:
    """Run a region's replications (its councils together, sharing their markets) and
    write its results folder: one folder per council, the region's summary, the markets."""
    from ..common.outputs import check_free
    from ..engine.metrics import Layout
    from ..reports.actuals import check_scenario as check_actuals
    from ..reports.region import write_region_report
    from ..reports.run import headline_lines
    from ..runs.region import run_region
    from ..scenario.region import load_region

    region = load_region(args.scenario)
    for loaded in region.councils.values():
        check_actuals(loaded.files, Layout.for_scenario(loaded.model))
        if not args.quiet:
            for text in loaded.warnings:
                print(f"warning: {text}", file=sys.stderr)
    out = args.out or Path("results") / args.scenario.stem
    check_free(out, args.force)
    if args.events is not None:
        raise UserError("--events is for one council's run; run the council's scenario alone")
    models = [loaded.model for loaded in region.councils.values()]
    check_budget(args, models, out)
    interactive = sys.stderr.isatty() and not args.quiet
    if not args.quiet:
        print(
            f"Running the region {region.name!r} ({len(models)} councils): {args.reps} "
            f"replications x {args.years:g} years (seed {args.seed})",
            file=sys.stderr,
        )
    settings = monte_carlo_settings(args, interactive)
    results = run_region(region, **settings)
    folder = write_region_report(results, out, force=args.force, suppress_below=args.suppress_below)
    if not args.quiet:
        rate = results.n_events / results.wall_seconds if results.wall_seconds else 0.0
        print(
            f"Done in {results.wall_seconds:.1f} s on {results.workers} worker(s) "
            f"({args.engine}), {rate:,.0f} events/s. Results in {folder}/",
            file=sys.stderr,
        )
        for name, res in results.councils.items():
            print(f"  {name}:")
            for line in headline_lines(res):
                print("    " + line)
    return 0


def _write_events(scenario, years: float, seed: int, path: Path, force: bool = False) -> None:
    """The event log of the first replication, written atomically (for debugging only)."""
    from ..common.outputs import adopt, atomic_path
    from ..common.safe_text import spreadsheet_row
    from ..engine.model import simulate
    from ..runs.montecarlo import spawn_seeds

    result = simulate(scenario, years, spawn_seeds(seed, 1)[0], record_events=True)
    with atomic_path(path, force=force, folder=False, marker=_EVENTS_MARKER) as tmp:
        lines = [_EVENTS_HEADER]  # names come from the scenario: never a formula
        lines += [spreadsheet_row([f"{r[0]:.3f}", *r[1:]]) for r in result.events or []]
        with tmp.open("w", newline="") as fh:
            csv.writer(fh).writerows(lines)
    adopt(path)  # inside a results folder, it is one of the folder's files
