"""Validate: check scenario files without simulating."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..common.errors import UserError
from . import options


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser("validate", help="check scenario files without simulating")
    p.add_argument("scenarios", type=options.parse_path, nargs="+", help="scenario files (.toml)")

    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Check each scenario file and print ok or the mistake; 2 if any file is wrong."""
    from ..scenario.load import load
    from ..scenario.region import describe, is_region_file, load_region

    worst = 0
    for path in args.scenarios:
        if is_region_file(path):
            try:
                region = load_region(path)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr)
                worst = exc.exit_code
                continue
            print(f"ok: {path} — " + "\n".join(describe(region)))
            for loaded in region.councils.values():
                for text in loaded.warnings:
                    print(f"warning: {text}", file=sys.stderr)
            continue
        try:
            s = load(path)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            worst = exc.exit_code
            continue
        m = s.model
        children = sum(sum(g.by_age.values()) for g in m.population.values())
        print(
            f"ok: {path} — {m.scenario.name}: {len(m.provision)} provisions, "
            f"{children} children at {m.scenario.start_date}, "
            f"{m.entries.per_year:g} entries a year"
        )
        for text in s.warnings:  # valid, but probably not what was meant
            print(f"warning: {text}", file=sys.stderr)
    return worst
