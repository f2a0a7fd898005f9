"""The `sufficiency` command line.

User mistakes (a bad scenario, an output folder that exists) print one clear message and
exit with status 2; a traceback means a bug in the tool.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import sys
from pathlib import Path

from .. import __version__
from ..common.errors import UserError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


#: Longest horizon a forecast may have. Entry and exit rates are fitted to the last few
#: years; a strategy looks 3-5 years ahead; after 30 years every child now in care has
#: left and every number is an assumption, not a forecast.
MAX_YEARS = 30
#: Most replications a run may ask for: beyond 100,000 the medians and 80% bands do not
#: move in the third significant figure, and the run only costs time and disk.
MAX_REPS = 100_000
#: Largest small-number threshold: DfE publication rules suppress below 5 or 10.
MAX_SUPPRESS = 100


def _number(text: str, kind: type[int] | type[float], what: str) -> float:
    """`text` as a finite int or float, or an argparse error that says what was expected."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _years(text: str) -> float:
    value = _number(text, float, "a number of years")
    if not 0 < value <= MAX_YEARS:
        raise argparse.ArgumentTypeError(
            f"expected a number of years above 0 and at most {MAX_YEARS}, got {value:g} "
            f"(rates fitted to today's data say little about {MAX_YEARS}+ years ahead)"
        )
    return value


def _reps(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_REPS:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_REPS:,} replications, got {value:,} (more do not change "
            f"the medians or 80% bands in the third significant figure)"
        )
    return value


def _path(text: str) -> Path:
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


def _horizon(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_YEARS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_YEARS} years, got {value}")
    return value


def _seed(text: str) -> int:
    value = int(_number(text, int, "a whole number (0 or more)"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, got {value}")
    return value


def _suppress(text: str) -> int:
    value = int(_number(text, int, "a whole number of children"))
    if not 0 <= value <= MAX_SUPPRESS:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of children from 0 (no suppression) to "
            f"{MAX_SUPPRESS}, got {value} (publication rules usually use 5 or 10)"
        )
    return value


def _date(text: str) -> dt.date:
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None
    if d.day != 1:
        raise argparse.ArgumentTypeError(f"expected the first day of a month, got {text}")
    return d


def _any_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value}")
    return value


def _seed_and_workers(parser: argparse.ArgumentParser) -> None:
    """The options every simulating command has: which seed, how many processes."""
    parser.add_argument(
        "--seed", type=_seed, default=20240401, help="master random seed (default 20240401)"
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=None, help="processes to use (default: all cores)"
    )


def _monte_carlo_options(parser: argparse.ArgumentParser, reps: int, per: str) -> None:
    """The options run, sweep and compare share: how long, how many, which seed, where."""
    parser.add_argument("--years", type=_years, default=5, help="years to simulate (default 5)")
    parser.add_argument(
        "--reps", type=_reps, default=reps, help=f"replications{per} (default {reps})"
    )
    _seed_and_workers(parser)
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
    _yes(parser)


def _yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes",
        action="store_true",
        help="run even if the estimate says it will take hours or most of the free memory "
        "(a run that cannot fit in memory or on disk is refused whatever)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sufficiency",
        description="Simulate placement demand and supply for children in care.",
    )
    p.add_argument("--version", action="version", version=f"sufficiency {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a scenario many times and write a folder of results")
    r.add_argument("scenario", type=_path, help="scenario file (.toml)")
    _monte_carlo_options(r, reps=200, per="")
    r.add_argument(
        "--out",
        type=_path,
        default=None,
        help="output folder (default results/<scenario file name>)",
    )
    r.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    r.add_argument(
        "--suppress-below",
        type=_suppress,
        default=0,
        metavar="K",
        help="show counts of children below K as '<K' in summaries",
    )
    r.add_argument(
        "--events",
        type=_path,
        default=None,
        metavar="FILE",
        help="also write the event log of replication 1 to FILE (CSV, for debugging)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar or headline lines")

    v = sub.add_parser("validate", help="check scenario files without simulating")
    v.add_argument("scenarios", type=_path, nargs="+", help="scenario files (.toml)")

    y = sub.add_parser(
        "synth903",
        help="simulate a scenario and write its children as "
        "synthetic SSDA903 tables (test data, not real children)",
    )
    y.add_argument("scenario", type=_path, help="scenario file (.toml)")
    y.add_argument("--years", type=_years, default=6, help="years of history (default 6)")
    y.add_argument("--out", type=_path, required=True, help="folder to write the CSVs to")
    y.add_argument("--seed", type=_seed, default=903, help="random seed (default 903)")
    y.add_argument(
        "--start",
        type=_date,
        default=None,
        metavar="YYYY-MM-01",
        help="start the history on this date instead of the scenario's start date",
    )
    y.add_argument(
        "--fault-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="share of rows given a realistic data fault (default 0)",
    )
    y.add_argument("--force", action="store_true", help="replace the folder if it exists")

    c = sub.add_parser("calibrate", help="fit a scenario to an LA's SSDA903 data")
    c.add_argument("data", type=_path, help="folder of SSDA903 CSV files (Header, Episodes, UASC)")
    c.add_argument(
        "--at",
        type=_any_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="the date the scenario starts from (a month end, e.g. 2023-03-31)",
    )
    c.add_argument("--out", type=_path, required=True, help="scenario file to write (.toml)")
    c.add_argument(
        "--years-back",
        type=_years,
        default=3,
        help="years of data before --at to fit rates from (default 3)",
    )
    c.add_argument(
        "--template",
        type=_path,
        default=None,
        help="scenario giving what the 903 cannot (default: the built-in template, sim/calibration/data/template.toml)",
    )
    c.add_argument(
        "--map",
        type=_path,
        default=None,
        help="placement code map (default: the built-in map, sim/calibration/data/placement_map.toml)",
    )
    c.add_argument(
        "--postcodes",
        type=_path,
        default=None,
        metavar="FILE",
        help="postcode-district centroids (CSV: district, easting, northing)",
    )
    c.add_argument(
        "--report",
        type=_path,
        default=None,
        help="folder for the calibration report (default: next to --out)",
    )
    c.add_argument(
        "--suppress-below",
        type=_suppress,
        default=5,
        metavar="K",
        help="show counts under K as '<K' in the report (default 5)",
    )
    c.add_argument("--force", action="store_true", help="replace existing outputs")

    b = sub.add_parser(
        "backtest",
        help="calibrate on the data up to a date, simulate the "
        "years after it, and score the forecast against what happened",
    )
    b.add_argument("data", type=_path, help="folder of SSDA903 CSV files (Header, Episodes, UASC)")
    b.add_argument(
        "--train-until",
        type=_any_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="pretend it is this date (a month end, e.g. 2021-03-31): only data "
        "known then are used to calibrate",
    )
    b.add_argument(
        "--horizon",
        type=_horizon,
        default=2,
        help="years to forecast and score after --train-until (default 2)",
    )
    b.add_argument("--reps", type=_reps, default=200, help="replications (default 200)")
    b.add_argument(
        "--out",
        type=_path,
        default=Path("results") / "backtest",
        help="output folder (default results/backtest)",
    )
    b.add_argument(
        "--years-back",
        type=_years,
        default=3,
        help="years of data before --train-until to fit rates from (default 3)",
    )
    b.add_argument(
        "--template",
        type=_path,
        default=None,
        help="scenario giving what the 903 cannot (default: the built-in template, sim/calibration/data/template.toml)",
    )
    b.add_argument(
        "--map",
        type=_path,
        default=None,
        help="placement code map (default: the built-in map, sim/calibration/data/placement_map.toml)",
    )
    _seed_and_workers(b)
    b.add_argument(
        "--suppress-below",
        type=_suppress,
        default=5,
        metavar="K",
        help="show counts of children under K as '<K' in backtest.md and "
        "calibration.md (default 5)",
    )
    b.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    b.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    _yes(b)

    w = sub.add_parser(
        "sweep",
        help="run a grid of variants of a scenario (same random numbers) and chart the response",
    )
    w.add_argument("scenario", type=_path, help="scenario file (.toml)")
    w.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="a dotted key of the scenario and its values: a range start:stop:step (stop "
        "included), a comma-separated list (2024-04-01,2025-04-01 or true,false), or a "
        "|-separated list of TOML values; repeat for more keys (the grid is every combination)",
    )
    w.add_argument(
        "--grid",
        type=_path,
        default=None,
        metavar="FILE",
        help="a TOML file with a [vary] table of keys and lists of values (for structured "
        "values such as lists of homes)",
    )
    _monte_carlo_options(w, reps=100, per=" per variant")
    w.add_argument(
        "--out", type=_path, default=None, help="output folder (default results/<scenario>-sweep)"
    )
    w.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    w.add_argument("--quiet", action="store_true", help="no progress bar or table")

    k = sub.add_parser(
        "compare",
        help="run a baseline and options with the same random numbers and compare them",
    )
    k.add_argument("baseline", type=_path, help="the baseline scenario file (.toml)")
    k.add_argument("options", type=_path, nargs="+", help="option scenario files (.toml)")
    _monte_carlo_options(k, reps=500, per=" per scenario")
    k.add_argument(
        "--out", type=_path, default=None, help="output folder (default results/options)"
    )
    k.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    k.add_argument(
        "--suppress-below",
        type=_suppress,
        default=5,
        metavar="K",
        help="show counts of children below K as '<K' in published tables (default 5)",
    )
    k.add_argument(
        "--rank-by",
        default="net_cost,unmet_child_days",
        metavar="MEASURES",
        help="comma-separated measures to rank the options on (default "
        "net_cost,unmet_child_days; also placement_cost, option_cost, unmet_children, "
        "pct_in_area, children_3plus)",
    )
    k.add_argument("--quiet", action="store_true", help="no progress bar or sentences")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit 2 on a user's mistake, 128 + N when stopped by signal N.

    SIGTERM (timeout, cron, job schedulers) and SIGHUP stop the command the way Ctrl-C
    does: temporary output removed, worker processes stopped, exit status 143 (129).
    """
    import shlex

    from ..common.interrupt import describe, exit_status, stop_cleanly
    from ..common.outputs import session

    args = _parser().parse_args(argv)
    _fit_workers(args)
    line = shlex.join(["sufficiency", *(sys.argv[1:] if argv is None else argv)])
    try:
        with stop_cleanly(), session(line, _input_paths(args)):
            command = {
                "validate": _validate,
                "run": _run,
                "synth903": _synth903,
                "calibrate": _calibrate,
                "backtest": _backtest,
                "sweep": _sweep,
                "compare": _compare,
            }
            return command[args.command](args)
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


def _validate(args: argparse.Namespace) -> int:
    from ..scenario.load import load

    worst = 0
    for path in args.scenarios:
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


def _monte_carlo(args: argparse.Namespace, interactive: bool) -> dict:
    """The Monte Carlo settings that run, sweep and compare take from their options."""
    return {
        "years": args.years,
        "reps": args.reps,
        "seed": args.seed,
        "workers": args.workers,
        "progress": interactive,
        "engine": args.engine,
        "scheduler": args.scheduler,
    }


def _check_budget(
    args: argparse.Namespace, scenarios: list, out: Path | None, held_at_once: int | None = None
) -> None:
    """Refuse, before any work, a run this machine cannot hold (see sim/budget.py)."""
    from ..runs.budget import Machine, check, estimate

    est = estimate(scenarios, args.years, args.reps, args.workers, held_at_once)
    check(est, args.yes, Machine.here(out))
    if not args.quiet and est.seconds > 60:
        print(f"Estimated: {est.describe()}.", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from ..common.outputs import check_free
    from ..reports.run import headline_lines, write_report
    from ..runs.montecarlo import run
    from ..scenario.load import load

    scenario = load(args.scenario)
    if not args.quiet:
        for text in scenario.warnings:
            print(f"warning: {text}", file=sys.stderr)
    out = args.out or Path("results") / args.scenario.stem
    check_free(out, args.force)
    if args.events is not None:
        check_free(args.events, args.force, folder=False, marker=_EVENTS_MARKER)
    _check_budget(args, [scenario.model], out)
    interactive = sys.stderr.isatty() and not args.quiet
    if not args.quiet:
        print(
            f"Running {scenario.name!r}: {args.reps} replications x {args.years:g} years "
            f"(seed {args.seed})",
            file=sys.stderr,
        )
    results = run(
        scenario,
        **_monte_carlo(args, interactive),
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
        for line in headline_lines(results):
            print("  " + line)
    return 0


def _synth903(args: argparse.Namespace) -> int:
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


def _calibrate(args: argparse.Namespace) -> int:
    import time

    from ..calibration.fit import calibrate_files

    started = time.perf_counter()
    toml_path, report = calibrate_files(
        args.data,
        args.at,
        args.out,
        years_back=args.years_back,
        template=args.template,
        map_path=args.map,
        postcodes=args.postcodes,
        report=args.report,
        suppress_below=args.suppress_below,
        force=args.force,
    )
    print(f"Wrote {toml_path} and {report}/calibration.md in {time.perf_counter() - started:.1f} s")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    import time

    from ..calibration.backtest import backtest_files, summary_lines

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


def _sweep(args: argparse.Namespace) -> int:
    from ..runs.sweep import (
        check_out,
        command_line,
        parse_vary,
        read_grid,
        run_sweep,
        table_lines,
        write_sweep,
    )
    from ..scenario.load import load

    if not args.vary and args.grid is None:
        raise UserError("nothing to sweep: give --vary KEY=VALUES (one or more) or --grid FILE")
    axes = [parse_vary(text) for text in args.vary]
    if args.grid is not None:
        axes += read_grid(args.grid)
    out = args.out or Path("results") / f"{args.scenario.stem}-sweep"
    loaded = load(args.scenario)
    check_out(out, args.force)  # after loading: no file the scenario extends may go
    # The base scenario timed once stands for every variant; one variant's results are
    # held at a time (each is reduced to its measures before the next runs).
    variants = math.prod(len(a.values) for a in axes)
    _check_budget(args, [loaded.model] * variants, out, held_at_once=1)
    extra = {k: getattr(args, k) for k in ("engine", "scheduler") if getattr(args, k) is not None}
    command = command_line(
        args.scenario, args.vary, args.grid, args.years, args.reps, args.seed, out, extra
    )
    interactive = sys.stderr.isatty() and not args.quiet
    sw = run_sweep(
        loaded,
        axes,
        **_monte_carlo(args, interactive),
        command=command,
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


def _warn_repeats(files: list[Path], quiet: bool) -> None:
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


def _compare(args: argparse.Namespace) -> int:
    import time

    from ..common.outputs import check_free
    from ..runs.compare import command_line, compare, write_outputs
    from ..scenario.load import load

    started = time.perf_counter()
    out = args.out or Path("results") / "options"
    files = [args.baseline, *args.options]
    scenarios = [load(f) for f in files]  # every file checked before anything runs
    _warn_repeats(files, args.quiet)
    check_free(out, args.force)  # after loading: no file an option extends may go
    if not args.quiet:
        for text in dict.fromkeys(w for s in scenarios for w in s.warnings):
            print(f"warning: {text}", file=sys.stderr)
    _check_budget(args, [s.model for s in scenarios], out)
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
        **_monte_carlo(args, interactive),
        rank_by=rank_by,
        suppress_below=args.suppress_below,
    )
    tail = [
        f"--years={args.years:g}",
        f"--reps={args.reps}",
        f"--seed={args.seed}",
        f"--suppress-below={args.suppress_below}",
        f"--rank-by={','.join(rank_by)}",
        f"--out={out}",
    ]
    write_outputs(cmp, out, force=args.force, command=command_line(files, tail))
    if not args.quiet:
        for text in cmp.sentences:
            print(text)
        print(
            f"Done in {time.perf_counter() - started:.1f} s (simulation "
            f"{cmp.wall_seconds:.1f} s). Results in {out}/",
            file=sys.stderr,
        )
    return 0


#: The first line of an --events file: what marks a file --force may replace.
_EVENTS_HEADER = ["day", "event", "a", "b", "c", "d", "e", "f"]
_EVENTS_MARKER = ",".join(_EVENTS_HEADER)


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
