"""Calibrate: fit a scenario to an LA's SSDA903 data, and write it with its report."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from ..reports.calibrated import WRITTEN_BY, calibrate_files
from . import options
from .options import add_la, add_template_and_map


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser(
        "calibrate",
        help="fit a scenario to an LA's SSDA903 data, or to its published figures",
    )
    p.add_argument(
        "data",
        type=options.parse_path,
        nargs="?",
        default=None,
        help="folder of SSDA903 CSV files (Header, Episodes, UASC); not with --published",
    )
    p.add_argument(
        "--published",
        type=options.parse_path,
        default=None,
        metavar="FILE.csv",
        help="a table of the council's DfE published figures (docs/published-figures.md) "
        "instead of SSDA903 data",
    )
    p.add_argument(
        "--at",
        type=options.parse_any_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the date the scenario starts from (a month end, e.g. 2023-03-31); required with "
        "SSDA903 data, with --published a year_ending in the table (default: the latest)",
    )
    p.add_argument(
        "--name",
        default=None,
        help="the scenario's name (default: the template's with the date; with --published, "
        "from the file)",
    )
    p.add_argument(
        "--out", type=options.parse_path, required=True, help="scenario file to write (.toml)"
    )
    p.add_argument(
        "--years-back",
        type=options.parse_years,
        default=3,
        help="years of data before --at to fit rates from (default 3)",
    )
    add_template_and_map(p)
    add_la(p)
    p.add_argument(
        "--postcodes",
        type=options.parse_path,
        default=None,
        metavar="FILE",
        help="postcode-district centroids (CSV: district, easting, northing)",
    )
    p.add_argument(
        "--report",
        type=options.parse_path,
        default=None,
        help="folder for the calibration report (default: next to --out)",
    )
    p.add_argument(
        "--suppress-below",
        type=options.parse_suppress,
        default=5,
        metavar="K",
        help="show counts under K as '<K' in the report (default 5)",
    )
    p.add_argument("--force", action="store_true", help="replace existing outputs")

    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Calibrate a scenario from the data and write it with its report; the exit status."""
    import time

    from ..common.errors import UserError

    started = time.perf_counter()
    if args.published is not None and args.data is not None:
        raise UserError("give either a folder of SSDA903 data or --published FILE.csv, not both")
    if args.published is not None:
        toml_path, report = published_files(
            args.published,
            args.out,
            at=args.at,
            template=args.template,
            map_path=args.map,
            report=args.report,
            force=args.force,
            name=args.name,
        )
        print(
            f"Wrote {toml_path} and {report}/published.md in {time.perf_counter() - started:.1f} s"
        )
        return 0
    if args.data is None:
        raise UserError(
            "calibrate needs a folder of SSDA903 data (sufficiency calibrate DATA_DIR --at "
            "YYYY-MM-DD --out OUT.toml) or a table of published figures (sufficiency calibrate "
            "--published FILE.csv --out OUT.toml)"
        )
    if args.at is None:
        raise UserError("calibrate DATA_DIR needs --at YYYY-MM-DD (the month end to start from)")
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
        la=args.la,
        name=args.name,
    )
    print(f"Wrote {toml_path} and {report}/calibration.md in {time.perf_counter() - started:.1f} s")
    return 0


def published_files(
    table_path: Path | str,
    out: Path | str,
    at: dt.date | None = None,
    template: Path | str | None = None,
    map_path: Path | None = None,
    report: Path | None = None,
    force: bool = False,
    name: str | None = None,
) -> tuple[Path, Path]:
    """Build a scenario from a published-figures table and write it with its report (each
    whole or not at all; a file the tool did not write is never replaced)."""
    from ..calibration.packaged import DEFAULT_TEMPLATE
    from ..calibration.published import calibrate_published, read_map, read_table
    from ..common.outputs import atomic_path, check_free
    from ..reports.published import write_report
    from ..scenario.load import load, loads
    from ..scenario.write import dumps

    out = Path(out)
    report = Path(report) if report else out.with_name(out.stem + "_calibration")
    check_free(out, force, folder=False, marker=WRITTEN_BY)
    check_free(report, force)
    table = read_table(table_path)
    tpl = load(template or DEFAULT_TEMPLATE)
    cal = calibrate_published(table, tpl, at=at, mapping=read_map(map_path), name=name)
    title = cal.scenario["scenario"]["name"]
    header = "\n".join(
        [
            f"{title}",
            "",
            "Written by `sufficiency calibrate`. From the published figures in "
            f"{Path(table_path).name} for the year ending {cal.at}: every number says whether it "
            "is 'from the published table' (with the table's source) or 'from the template' "
            f"({Path(tpl.path).name}, with the template's own comment where it has one). See "
            "the report beside this file for each figure used and the check by simulation.",
            "",
            *cal.notes,
        ]
    )
    text = dumps(cal.scenario, cal.comments, header)
    loads(text, name=str(out))  # never write a scenario that would not validate
    with atomic_path(report, force=force) as tmp:
        write_report(cal, tmp, title, out.name)
    with atomic_path(out, force=force, folder=False, marker=WRITTEN_BY) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out, report
