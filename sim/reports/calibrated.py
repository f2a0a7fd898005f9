"""A scenario calibrated from SSDA903 data, written with its report: what `sufficiency
calibrate DATA --at DATE --out OUT.toml` does, for the command line and the web app alike.

It lives here, below both, because the web app may not import the command line; the
command line keeps parsing its options and printing what it did.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

#: The header line of every scenario calibrate writes: --force replaces only such a file.
WRITTEN_BY = "# Written by `sufficiency calibrate`."


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


def calibrate_files(
    data: Path | str,
    at: dt.date,
    out: Path | str,
    years_back: float = 3.0,
    template: Path | str | None = None,
    map_path: Path | None = None,
    postcodes: Path | None = None,
    report: Path | None = None,
    suppress_below: int = 5,
    force: bool = False,
    la: str | None = None,
    name: str | None = None,
    say: Callable[[str], None] = _to_stderr,
) -> tuple[Path, Path]:
    """Read the data, fit, and write the scenario file and its report (each whole or not
    at all). `name`: the scenario's name (default: the template's, with the date);
    `say` is given the data checks' summary when they found anything (the command line
    prints it; the web app shows it)."""
    from ..calibration.fit import calibrate, read_centroids, read_map
    from ..calibration.packaged import DEFAULT_TEMPLATE
    from ..calibration.ssda903.read import read_903
    from ..common.outputs import atomic_path, check_free
    from ..scenario.load import load, loads
    from ..scenario.write import dumps
    from .calibration import write_report

    out = Path(out)
    report = Path(report) if report else out.with_name(out.stem + "_calibration")
    check_free(out, force, folder=False, marker=WRITTEN_BY)
    check_free(report, force)
    tpl = load(template or DEFAULT_TEMPLATE)
    mapping = read_map(map_path)
    centroids = read_centroids(postcodes) if postcodes else None
    ds = read_903(data, la=la)
    if ds.problems or ds.skipped:
        say(ds.summary())
    cal = calibrate(ds, at, tpl, mapping, years_back=years_back, centroids=centroids)
    if name:
        cal.scenario["scenario"]["name"] = name
    name = cal.scenario["scenario"]["name"]
    header = "\n".join(
        [
            f"{name}",
            "",
            "Written by `sufficiency calibrate`. Comments say which numbers come from the data",
            "('from the data') and which from the template or an assumption; everything without",
            "a comment is the template's. See the calibration report for intervals.",
            "",
            *cal.notes,
        ]
    )
    text = dumps(cal.scenario, cal.comments, header)
    loads(text, name=str(out))  # never write a scenario that would not validate
    with atomic_path(report, force=force) as tmp:
        write_report(cal, tmp, name, suppress_below)
    with atomic_path(out, force=force, folder=False, marker=WRITTEN_BY) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out, report
