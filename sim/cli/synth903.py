"""synth903: simulate a scenario and write its children as synthetic SSDA903 tables."""

from __future__ import annotations

import argparse
from typing import Any

from . import options


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser(
        "synth903",
        help="simulate a scenario and write its children as "
        "synthetic SSDA903 tables (test data, not real children)",
    )
    p.add_argument("scenario", type=options.parse_path, help="scenario file (.toml)")
    p.add_argument(
        "--years", type=options.parse_years, default=6, help="years of history (default 6)"
    )
    p.add_argument(
        "--out", type=options.parse_path, required=True, help="folder to write the CSVs to"
    )
    p.add_argument("--seed", type=options.parse_seed, default=903, help="random seed (default 903)")
    p.add_argument(
        "--start",
        type=options.parse_date,
        default=None,
        metavar="YYYY-MM-01",
        help="start the history on this date instead of the scenario's start date",
    )
    p.add_argument(
        "--fault-rate",
        type=options.parse_probability,
        default=0.0,
        metavar="P",
        help="share of rows given a realistic data fault (default 0)",
    )
    p.add_argument("--force", action="store_true", help="replace the folder if it exists")

    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Simulate a scenario and write its children as SSDA903 tables; the exit status."""
    from ..calibration.synth903 import write_903
    from ..common.outputs import check_free
    from ..scenario.load import load

    check_free(args.out, args.force)
    scenario = load(args.scenario).model
    if args.start is not None:
        meta = scenario.scenario.model_copy(update={"start_date": args.start})
        scenario = scenario.model_copy(update={"scenario": meta})
    counts = write_903(
        scenario,
        args.out,
        years=args.years,
        seed=args.seed,
        fault_rate=args.fault_rate,
        force=args.force,
    )
    faults = sum(v for k, v in counts.items() if k.startswith("fault_"))
    print(
        f"Wrote {counts['episodes']:,} episodes of {counts['children']:,} synthetic children "
        f"to {args.out}/ ({faults} rows with deliberate faults)"
    )
    return 0
