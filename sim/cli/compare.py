"""Compare: a baseline and options with the same random numbers, side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..runs.commissioners import COMMISSIONER_MEASURES
from . import options
from .options import add_monte_carlo_options, check_budget, monte_carlo_settings, warn_repeats


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser(
        "compare",
        help="run a baseline and options with the same random numbers and compare them",
    )
    p.add_argument("baseline", type=options.parse_path, help="the baseline scenario file (.toml)")
    p.add_argument(
        "options", type=options.parse_path, nargs="+", help="option scenario files (.toml)"
    )
    add_monte_carlo_options(p, reps=500, per=" per scenario")
    p.add_argument(
        "--out",
        type=options.parse_path,
        default=None,
        help="output folder (default results/options)",
    )
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    p.add_argument(
        "--suppress-below",
        type=options.parse_suppress,
        default=5,
        metavar="K",
        help="show counts of children below K as '<K' in published tables (default 5)",
    )
    p.add_argument(
        "--rank-by",
        default="net_cost,unmet_child_days",
        metavar="MEASURES",
        help="comma-separated measures to rank the options on (default "
        "net_cost,unmet_child_days; also net_cost_today, placement_cost, after_care_cost, "
        "option_cost, unmet_children, pct_in_area, children_3plus, and unmet demand as "
        f"commissioners mean it: {', '.join(m.key for m in COMMISSIONER_MEASURES)})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or sentences")
    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Run the baseline and options paired, write the folder, print a sentence each."""
    import time

    from ..common.outputs import check_free
    from ..reports.comparison import command_line, write_outputs
    from ..reports.comparison_words import sentences
    from ..runs.compare import compare
    from ..scenario.load import load
    from ..scenario.region import is_region_file

    started = time.perf_counter()
    out = args.out or Path("results") / "options"
    files = [args.baseline, *args.options]
    if is_region_file(args.baseline):
        return _execute_region(args, files, out, started)
    scenarios = [load(f) for f in files]  # every file checked before anything runs
    warn_repeats(files, args.quiet)
    check_free(out, args.force)  # after loading: no file an option extends may go
    if not args.quiet:
        for text in dict.fromkeys(w for s in scenarios for w in s.warnings):
            print(f"warning: {text}", file=sys.stderr)
    check_budget(args, [s.model for s in scenarios], out)
    rank_by = [m.strip() for m in args.rank_by.split(",") if m.strip()]
    interactive = sys.stderr.isatty() and not args.quiet
    if not args.quiet:
        print(
            f"Comparing {len(files) - 1} option(s) with {scenarios[0].name!r}: "
            f"{args.reps} replications x {args.years:g} years each (seed {args.seed})",
            file=sys.stderr,
        )
    cmp = compare(
        scenarios,
        **monte_carlo_settings(args, interactive),
        rank_by=rank_by,
        suppress_below=args.suppress_below,
    )
    tail = _tail(args, rank_by, out)
    write_outputs(cmp, out, force=args.force, command=command_line(files, tail))
    if not args.quiet:
        _done(sentences(cmp), started, cmp.wall_seconds, out)
    return 0


def _tail(args: argparse.Namespace, rank_by: list[str], out: Path) -> list[str]:
    """The options a comparison ran with, as its command line records them."""
    return [
        f"--years={args.years:g}",
        f"--reps={args.reps}",
        f"--seed={args.seed}",
        f"--suppress-below={args.suppress_below}",
        f"--rank-by={','.join(rank_by)}",
        f"--out={out}",
    ]


def _done(lines: list[str], started: float, simulated: float, out: Path) -> None:
    """The option sentences, then how long it took and where the results are."""
    import time

    for text in lines:
        print(text)
    print(
        f"Done in {time.perf_counter() - started:.1f} s (simulation {simulated:.1f} s). "
        f"Results in {out}/",
        file=sys.stderr,
    )


def _execute_region(args: argparse.Namespace, files: list[Path], out: Path, started: float) -> int:
    """Compare a baseline region with option regions (each the baseline region with a
    council's option or a market change, e.g. by `extends`), paired council by council."""

    from ..common.errors import UserError
    from ..common.outputs import check_free
    from ..reports.comparison import command_line
    from ..reports.region import region_sentences, write_region_comparison
    from ..runs.region import compare_regions
    from ..scenario.region import is_region_file, load_region

    for f in files[1:]:
        if not is_region_file(f):
            raise UserError(
                f"{f}: the baseline {files[0].name} is a region file, so every option must be "
                "one too (a region file that `extends` the baseline and changes a council's "
                "scenario or a market)"
            )
    regions = [load_region(f) for f in files]
    warn_repeats(files, args.quiet)
    check_free(out, args.force)
    models = [c.model for r in regions for c in r.councils.values()]
    check_budget(args, models, out)
    rank_by = [m.strip() for m in args.rank_by.split(",") if m.strip()]
    interactive = sys.stderr.isatty() and not args.quiet
    if not args.quiet:
        print(
            f"Comparing {len(files) - 1} option(s) with the region {regions[0].name!r}: "
            f"{args.reps} replications x {args.years:g} years each (seed {args.seed})",
            file=sys.stderr,
        )
    rc = compare_regions(
        regions,
        **monte_carlo_settings(args, interactive),
        rank_by=rank_by,
        suppress_below=args.suppress_below,
    )
    tail = _tail(args, rank_by, out)
    write_region_comparison(rc, out, force=args.force, command=command_line(files, tail))
    if not args.quiet:
        _done(region_sentences(rc), started, rc.wall_seconds, out)
    return 0
