"""The web app's two other starting points: a scenario file of the user's own, and a
scenario calibrated from an SSDA903 export (one zip, or its CSV files); the routes of both
forms, and what the first page shows of the scenarios they made.

A scenario file is read as it arrives (`multipart`), held in memory (at most 1 MB),
written whole into `<folder>/uploads/` (`folders`) and kept only if the app can run it.
An export's files go straight into a calibration's private folder (`export`), and the
calibration runs in a thread (`calibrations`). This module holds what is particular to a
scenario file and joins the pieces to the app's routes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..common.errors import UserError
from ..scenario.load import MAX_BYTES, load, read_raw
from . import export  # its limits are read as export.X: one value, a test's too, for every reader
from .calibrations import Calibration, Calibrations
from .export import check_date, export_opener, extract_export
from .folders import CALIBRATED, UPLOADS, own_folder, safe_name, save_new
from .jobs import Jobs
from .multipart import FORM_SLACK, Memory, Opener, Sink, UploadError, mb, read_form, shown

#: Largest scenario file taken: what `load` reads (the Darlington baseline is about 60 kB).
SCENARIO_LIMIT = MAX_BYTES
#: How many of the user's own scenarios the first page lists from each folder.
LISTED = 50


def scenario_opener(store: dict[str, Memory]) -> Opener:
    """Where an uploaded scenario's bytes go: memory, for one .toml file only."""

    def open_file(field_name: str, filename: str) -> Sink:
        if field_name != "scenario":
            raise UploadError("the form holds a file the app did not ask for", field="scenario")
        if store:
            raise UploadError("upload one scenario file at a time", field="scenario")
        if Path(filename).suffix.lower() != ".toml":
            raise UploadError(
                f"{shown(filename)} is not a scenario file: the app takes a .toml file here "
                "(an SSDA903 export goes in the form below, to calibrate from it)",
                field="scenario",
            )
        store[filename] = Memory()
        return store[filename]

    return open_file


def check_scenario(root: Path, path: Path) -> None:
    """Refuse the saved upload at `path` unless the app can run it: every file it
    `extends` inside the folder (checked before anything else is read), not a region
    file, and valid as `sufficiency validate` says."""
    # the `extends` chain, read only from inside the folder; a region file is told by its
    # tables, as `is_region_file` tells it, but from what was read here (that function
    # follows `extends` by a pattern on the text, which a crafted file could point outside)
    raw, *_ = read_raw(path, root=root)
    if "region" in raw or "councils" in raw:
        raise UploadError(
            f"{path.name} is a region file (it has a [region] or [councils] table): the app "
            "runs one council's scenario; upload one council's scenario file, or run the "
            "region with `sufficiency run`",
            field="scenario",
        )
    load(path, root=root)


def scenario_message(exc: UserError, path: Path) -> str:
    """The validate message for an upload, naming the file as the user knows it (it was
    not kept), with a hint when `extends` is what is wrong."""
    message = str(exc).replace(str(path), path.name)
    if "[extends]" in message:
        message += (
            f" An uploaded file is kept in {UPLOADS}/, and the file it extends is looked for "
            f"beside it there: upload that file first (e.g. baseline.toml), then this one."
        )
    return message


async def take_scenario(request: Request, root: Path) -> str:
    """Read, save and check an uploaded scenario; its path relative to `root`."""
    store: dict[str, Memory] = {}
    too_large = (
        f"the file is larger than {mb(SCENARIO_LIMIT)}, the most the app takes for a "
        "scenario (the Darlington baseline is about 30 kB)"
    )
    try:
        await read_form(
            request, SCENARIO_LIMIT + FORM_SLACK, scenario_opener(store), SCENARIO_LIMIT, too_large
        )
    except UploadError as exc:
        exc.field = "scenario"
        raise
    if not store:
        raise UploadError("choose a scenario file (.toml) first", field="scenario")
    (filename, memory), *_ = store.items()
    folder = own_folder(root, UPLOADS)
    path = save_new(folder, safe_name(filename, "scenario.toml"), memory.data)
    try:
        check_scenario(root, path)
    except UploadError:
        path.unlink(missing_ok=True)
        raise
    except UserError as exc:
        path.unlink(missing_ok=True)
        raise UploadError(scenario_message(exc, path), field="scenario") from None
    return path.relative_to(root).as_posix()


@dataclass(frozen=True)
class Own:
    """A scenario of the user's in uploads/ or calibrated/: its path (relative), name, or
    the mistake that stops it loading."""

    path: str
    name: str
    error: str = ""


def own_scenarios(root: Path) -> list[Own]:
    """The scenarios uploaded or calibrated into the folder, the newest first."""
    out = []
    for sub in (UPLOADS, CALIBRATED):
        folder = root / sub
        if folder.is_symlink() or not folder.is_dir():
            continue
        files = [
            p
            for p in folder.glob("*.toml")
            if not p.name.startswith(".") and p.is_file() and not p.is_symlink()
        ]
        files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for p in files[:LISTED]:
            rel = p.relative_to(root).as_posix()
            try:
                out.append(Own(rel, load(p, root=root).name))
            except UserError as exc:
                out.append(Own(rel, rel, str(exc)))
    return out


def index_context(root: Path) -> dict[str, Any]:
    """What the first page needs for the user's own scenarios and the two upload forms."""
    return {
        "own": own_scenarios(root),
        "upload_limits": {
            "scenario": mb(SCENARIO_LIMIT),
            "export": mb(export.EXPORT_LIMIT),
            "members": export.MEMBER_LIMIT,
            "unzipped": mb(export.UNZIPPED_LIMIT),
        },
        "uploads": UPLOADS,
        "calibrated": CALIBRATED,
        "upload_errors": {},
        "calibrate_values": {},
    }


IndexPage = Callable[..., HTMLResponse]
Page = Callable[..., HTMLResponse]


def add_upload_routes(app: FastAPI, root: Path, jobs: Jobs, index: IndexPage, page: Page) -> None:
    """The upload forms' routes: `index(request, status, **context)` renders the first
    page (with a mistake beside its control), `page(request, template, status, **context)`
    any other. The calibrations' private folders go when `jobs` closes."""
    calibrations = Calibrations(root)
    calibrations.clean_stale()
    jobs.on_close(calibrations.close)
    app.state.calibrations = calibrations

    @app.post("/upload/scenario", response_model=None)
    async def upload_scenario(request: Request) -> Response:
        """Save an uploaded scenario in uploads/ and open its levers, or say what is wrong."""
        try:
            rel = await take_scenario(request, root)
        except UploadError as exc:
            return index(request, exc.status, upload_errors=exc.by_field(("scenario",)))
        return RedirectResponse(f"/scenario?path={quote(rel)}", status_code=303)

    @app.post("/calibrate", response_model=None)
    async def calibrate_upload(request: Request) -> Response:
        """Take an SSDA903 export into a private folder and start calibrating from it."""
        values: dict[str, str] = {}
        started = False
        try:
            private = calibrations.private_folder()
            try:
                job = await _start_calibration(request, calibrations, private, values)
                started = True
            finally:
                if not started:
                    calibrations.discard(private)
        except UploadError as exc:
            errors = exc.by_field(("files", "at", "name"))
            return index(request, exc.status, upload_errors=errors, calibrate_values=values)
        return RedirectResponse(f"/calibrate/{job.id}", status_code=303)

    @app.get("/calibrate/{calibration_id}", response_class=HTMLResponse)
    def calibration_page(request: Request, calibration_id: str) -> HTMLResponse:
        """A calibration: running, then the scenario written or calibrate's message."""
        job = calibrations.get(calibration_id)
        if job is None:
            return page(request, "error.html", 404, message="There is no such calibration.")
        return page(request, "calibrate.html", job=job)

    @app.get("/calibrate/{calibration_id}/status")
    def calibration_status(calibration_id: str) -> JSONResponse:
        """The calibration's state, for the page's script to poll."""
        job = calibrations.get(calibration_id)
        if job is None:
            return JSONResponse({"state": "unknown"}, status_code=404)
        return JSONResponse(job.status())


async def _start_calibration(
    request: Request, calibrations: Calibrations, private: Path, values: dict[str, str]
) -> Calibration:
    """Read the export's form into `private`, check it (`values`: the text fields, for
    the form to show again), unpack a zip, and start the calibration."""
    too_large = (
        f"the upload is larger than {mb(export.EXPORT_LIMIT)}, the most the app takes for an "
        "SSDA903 export: zip the CSV files (they shrink about tenfold), or calibrate on the "
        "command line (sufficiency calibrate FOLDER --at YYYY-MM-DD --out la.toml)"
    )
    form = await read_form(
        request,
        export.EXPORT_LIMIT + FORM_SLACK,
        export_opener(private),
        export.EXPORT_LIMIT,
        too_large,
    )
    values.update({k: v for k, v in form.fields.items() if k in ("at", "name")})
    archive, data = private / "export.zip", private / "data"
    files = len(os.listdir(data))
    missing = "choose the SSDA903 export: one .zip, or its CSV files"
    if archive.exists() or files:
        missing = ""
    try:
        at = check_date(values.get("at", ""))
    except UploadError as exc:
        raise (UploadError(missing, more={exc.field: str(exc)}) if missing else exc) from None
    if missing:
        raise UploadError(missing)
    name = values.get("name", "")[:120] or f"Calibrated to {at}"
    if archive.exists():
        files = await run_in_threadpool(extract_export, archive, data)
    return calibrations.start(private, at, name, files)
