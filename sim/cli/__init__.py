"""The `sufficiency` command line: one module per command, each with `add_parser` and `execute`.

User mistakes (a bad scenario, an output folder that exists) print one clear message and
exit with status 2; a traceback means a bug in the tool.

The top layer: it may import every other layer (`sim.app`, `sim.reports`,
`sim.calibration`, `sim.runs`, `sim.engine`, `sim.scenario`, `sim.common`) and nothing
imports it. A command
parses its options (`options` holds the shared option types), calls the layers below to
compute and write, and prints what the user needs to see; the work itself lives below.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import __version__
from ..common.build import describe
from ..common.errors import UserError
from . import backtest, calibrate, compare, run, serve, sweep, synth903, validate

#: in the order `sufficiency --help` lists them
COMMANDS = (run, validate, synth903, calibrate, backtest, sweep, compare, serve)


def parser() -> argparse.ArgumentParser:
    """The `sufficiency` argument parser, with every command's subparser."""
    p = argparse.ArgumentParser(
        prog="sufficiency",
        description="Simulate placement demand and supply for children in care.",
    )
    p.add_argument(
        "--version", action="version", version=f"sufficiency {__version__} ({describe()})"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit 2 on a user's mistake, 128 + N when stopped by signal N.

    SIGTERM (timeout, cron, job schedulers) and SIGHUP stop the command the way Ctrl-C
    does: temporary output removed, worker processes stopped, exit status 143 (129).
    """
    import shlex

    from ..common.interrupt import describe, exit_status, stop_cleanly
    from ..common.outputs import session

    args = parser().parse_args(argv)
    _fit_workers(args)
    line = shlex.join(["sufficiency", *(sys.argv[1:] if argv is None else argv)])
    try:
        with stop_cleanly(), session(line, _input_paths(args)):
            return args.execute(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"interrupted{describe(exc)}: no results were written", file=sys.stderr)
        return exit_status(exc)


def _fit_workers(args: argparse.Namespace) -> None:
    """No more local worker processes than cores: more only compete for them (and each
    costs memory). Results do not depend on the number of workers, so nothing changes."""
    cores = os.cpu_count() or 1
    asked = getattr(args, "workers", None)
    if asked is None or asked <= cores or getattr(args, "engine", "local") != "local":
        return
    if not getattr(args, "quiet", False):
        print(
            f"note: --workers {asked} is more than this machine's {cores} cores; using {cores}",
            file=sys.stderr,
        )
    args.workers = cores


#: Options naming files or folders a command writes; every other path option is an input.
_OUTPUT_OPTIONS = frozenset({"out", "report", "events"})


def _input_paths(args: argparse.Namespace) -> list[Path]:
    """The files and folders a command reads, which no output may replace or contain."""
    paths: list[Path] = []
    for key, value in vars(args).items():
        if key in _OUTPUT_OPTIONS:
            continue
        values = value if isinstance(value, list) else [value]
        paths += [v for v in values if isinstance(v, Path)]
    return paths
