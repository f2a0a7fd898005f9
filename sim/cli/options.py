"""Option types and option groups shared by the commands.

Each type turns one command-line word into a value or says, in the user's words, what is
wrong with it (argparse prints that and exits 2): a number of years, replications, a
seed, a path. Limits (30 years, 100,000 replications) bound what one command may consume.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
from pathlib import Path

#: Longest horizon a forecast may have. Entry and exit rates are fitted to the last few
#: years; a strategy looks 3-5 years ahead; after 30 years every child now in care has
#: left and every number is an assumption, not a forecast.
MAX_YEARS = 30
#: Most replications a run may ask for: beyond 100,000 the medians and 80% bands do not
#: move in the third significant figure, and the run only costs time and disk.
MAX_REPS = 100_000
#: Largest small-number threshold: DfE publication rules suppress below 5 or 10.
MAX_SUPPRESS = 100


def parse_positive_int(text: str) -> int:
    """A whole number of at least 1 (e.g. --workers)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def parse_number(text: str, kind: type[int] | type[float], what: str) -> float:
    """`text` as a finite int or float, or an argparse error that says what was expected."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def parse_years(text: str) -> float:
    """--years: a number of years above 0 and at most MAX_YEARS (part years allowed)."""
    value = parse_number(text, float, "a number of years")
    if not 0 < value <= MAX_YEARS:
        raise argparse.ArgumentTypeError(
            f"expected a number of years above 0 and at most {MAX_YEARS}, got {value:g} "
            f"(rates fitted to today's data say little about {MAX_YEARS}+ years ahead)"
        )
    return value


def parse_reps(text: str) -> int:
    """--reps: a whole number of replications from 1 to MAX_REPS."""
    value = parse_positive_int(text)
    if value > MAX_REPS:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_REPS:,} replications, got {value:,} (more do not change "
            f"the medians or 80% bands in the third significant figure)"
        )
    return value


def parse_path(text: str) -> Path:
    """A file or folder name as typed; refused here if no file system could hold it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file or folder name, got an empty text")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("a file or folder name cannot contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (Python keeps them as surrogates)
        raise argparse.ArgumentTypeError(
            f"'{os.fsencode(text).decode('utf-8', 'backslashreplace')}' is not valid UTF-8 "
            "text: rename it with letters, digits and - or _"
        ) from None
    return Path(text)


def parse_horizon(text: str) -> int:
    """--horizon: whole years to forecast, from 1 to MAX_YEARS."""
    value = parse_positive_int(text)
    if value > MAX_YEARS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_YEARS} years, got {value}")
    return value


def parse_seed(text: str) -> int:
    """--seed: a whole number, 0 or more."""
    value = int(parse_number(text, int, "a whole number (0 or more)"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, got {value}")
    return value


def parse_suppress(text: str) -> int:
    """--suppress-below: a threshold from 0 (no suppression) to MAX_SUPPRESS children."""
    value = int(parse_number(text, int, "a whole number of children"))
    if not 0 <= value <= MAX_SUPPRESS:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of children from 0 (no suppression) to "
            f"{MAX_SUPPRESS}, got {value} (publication rules usually use 5 or 10)"
        )
    return value


def parse_date(text: str) -> dt.date:
    """A date as YYYY-MM-DD that is the first of a month (a scenario's start)."""
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None
    if d.day != 1:
        raise argparse.ArgumentTypeError(f"expected the first day of a month, got {text}")
    return d


def parse_any_date(text: str) -> dt.date:
    """A date as YYYY-MM-DD (e.g. the data date of --at or --train-until)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def parse_probability(text: str) -> float:
    """A number from 0 to 1 (e.g. --fault-rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value}")
    return value


def add_seed_and_workers(parser: argparse.ArgumentParser) -> None:
    """The options every simulating command has: which seed, how many processes."""
    parser.add_argument(
        "--seed", type=parse_seed, default=20240401, help="master random seed (default 20240401)"
    )
    parser.add_argument(
        "--workers",
        type=parse_positive_int,
        default=None,
        help="processes to use (default: all cores)",
    )


def add_template_and_map(parser: argparse.ArgumentParser) -> None:
    """--template and --map: what calibrate and backtest take beside the SSDA903 data."""
    parser.add_argument(
        "--template",
        type=parse_path,
        default=None,
        help="scenario giving what the 903 cannot (default: the built-in template, "
        "sim/calibration/data/template.toml)",
    )
    parser.add_argument(
        "--map",
        type=parse_path,
        default=None,
        help="placement code map (default: the built-in map, "
        "sim/calibration/data/placement_map.toml)",
    )


def parse_la(text: str) -> str:
    """--la: a local authority code as written in the data's LA column (case ignored)."""
    code = text.strip()
    if not code:
        raise argparse.ArgumentTypeError("expected a local authority code, got an empty text")
    return code


def add_la(parser: argparse.ArgumentParser) -> None:
    """--la: which local authority to read when the SSDA903 files hold several."""
    parser.add_argument(
        "--la",
        type=parse_la,
        default=None,
        metavar="CODE",
        help="read only this local authority's rows when the files' LA column holds "
        "several (default: all LAs pooled, allowed only if no child identifier appears "
        "under two of them)",
    )


def add_monte_carlo_options(parser: argparse.ArgumentParser, reps: int, per: str) -> None:
    """The options run, sweep and compare share: how long, how many, which seed, where."""
    parser.add_argument(
        "--years", type=parse_years, default=5, help="years to simulate (default 5)"
    )
    parser.add_argument(
        "--reps", type=parse_reps, default=reps, help=f"replications{per} (default {reps})"
    )
    add_seed_and_workers(parser)
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="where replications run: this machine's processes (local, the default) or "
        "a Dask cluster (dask: a local cluster of --workers processes, or --scheduler)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --engine dask, use the running Dask scheduler at ADDRESS "
        "(e.g. tcp://10.0.0.5:8786) instead of starting a local cluster",
    )
    add_parameter_uncertainty(parser)
    add_yes(parser)


def add_parameter_uncertainty(parser: argparse.ArgumentParser) -> None:
    """Add --no-parameter-uncertainty: every replication at the rates' medians."""
    parser.add_argument(
        "--no-parameter-uncertainty",
        dest="parameter_uncertainty",
        action="store_false",
        help="run every replication with the rates at their medians, to see chance alone "
        "(by default each replication draws its own value of every number the scenario "
        "gives as { median, interval90 }, as calibrate writes them)",
    )


def add_yes(parser: argparse.ArgumentParser) -> None:
    """Add --yes: run even when the estimate before the run says it is long or large."""
    parser.add_argument(
        "--yes",
        action="store_true",
        help="run even if the estimate says it will take hours or most of the free memory "
        "(a run that cannot fit in memory or on disk is refused whatever)",
    )


def monte_carlo_settings(args: argparse.Namespace, interactive: bool) -> dict:
    """The Monte Carlo settings that run, sweep and compare take from their options."""
    return {
        "years": args.years,
        "reps": args.reps,
        "seed": args.seed,
        "workers": args.workers,
        "progress": interactive,
        "engine": args.engine,
        "scheduler": args.scheduler,
        "parameter_uncertainty": args.parameter_uncertainty,
    }


def check_budget(
    args: argparse.Namespace, scenarios: list, out: Path | None, held_at_once: int | None = None
) -> None:
    """Refuse, before any work, a run this machine cannot hold (see sim/budget.py)."""
    from ..runs.budget import Machine, check, estimate

    est = estimate(scenarios, args.years, args.reps, args.workers, held_at_once)
    check(est, args.yes, Machine.here(out))
    if not args.quiet and est.seconds > 60:
        print(f"Estimated: {est.describe()}.", file=sys.stderr)


def warn_repeats(files: list[Path], quiet: bool) -> None:
    """Say so when one file is given twice: its "option" can only equal the baseline."""
    seen: dict[Path, Path] = {}
    for f in files:
        real = f.resolve()
        if real in seen and not quiet:
            print(
                f"warning: {f} is the same file as {seen[real]}: it is compared with itself "
                "(every difference will be zero)",
                file=sys.stderr,
            )
        seen.setdefault(real, f)
