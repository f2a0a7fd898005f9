"""The web app: pick a scenario, move its levers, run a comparison, take the results away.

Pages are rendered on the server (Jinja2, autoescaped) with one small script of our own
(`static/app.js`, which polls a running job); nothing is fetched from the internet. The
app reads scenarios only from inside the folder it was started on (`load(..., root=)`),
and serves a job's files only by name from a fixed list. Every value a lever sets is
validated as `sufficiency validate` validates a file, and a mistake is shown beside the
control it names.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import __version__
from ..common.errors import UserError
from ..runs.engines import use_forkserver
from ..scenario.load import (
    LoadedScenario,
    load,
)
from ..scenario.region import is_region_file
from .folders import CALIBRATED, UPLOADS
from .jobs import Jobs
from .levers import DEFAULT_RUNS, DEFAULT_YEARS, MAX_OPTIONS, RUNS, SECTIONS, YEARS, levers
from .options import field_name, make_options
from .uploads import add_upload_routes, index_context

HERE = Path(__file__).resolve().parent
#: Host names a browser on this machine uses for the app; other Host headers are refused
#: (a page elsewhere cannot reach the app through a name it controls: DNS rebinding).
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: The cookie that carries the access token when the app serves other computers.
TOKEN_COOKIE = "sufficiency_token"
#: Where baselines are looked for under the folder, in the order listed.
BASELINES = (
    "baseline.toml",
    "*/baseline.toml",
    "scenarios/*/baseline.toml",
    "scenarios/*/*/baseline.toml",  # a region's councils (scenarios/north-east/durham/)
)
#: Folders the first page lists on their own (the user's uploads and calibrations).
OWN_FOLDERS = (UPLOADS, CALIBRATED)
#: Content types of the files a job offers.
MEDIA = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html; charset=utf-8",
    ".toml": "application/toml; charset=utf-8",
    ".png": "image/png",
}
#: The app's own pages run only its own script; a report may hold inline styles and images.
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


@dataclass(frozen=True)
class Listed:
    """A baseline found under the folder: its path (relative), name and description, or
    the mistake that stops it loading."""

    path: str
    name: str
    description: str
    error: str = ""


def create_app(folder: Path, hosts: Sequence[str] = LOOPBACK, token: str | None = None) -> FastAPI:
    """The app for scenarios under `folder`; requests must name one of `hosts`.

    With a `token` (the app serves other computers: `serve --host`), any host name is
    allowed but every request must carry the token: once in the address
    (`/?token=...`, which sets a cookie and redirects to the same page without it),
    then in the cookie. A page elsewhere cannot read the cookie or guess the token."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise UserError(f"{folder}: no such folder (the app reads scenarios from a folder)")
    jobs = Jobs()
    use_forkserver()  # the app's runs start workers while its other threads run

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The jobs' folders go with the server."""
        yield
        jobs.close()

    app = FastAPI(
        title="sufficiency",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.jobs = jobs
    app.state.folder = root
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    allowed = {h.lower() for h in hosts}

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        """Refuse requests for other host names and cross-site posts; set the headers
        that keep pages to the app's own content."""
        host = request.headers.get("host", "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if token is None and name not in allowed:
            return Response("unknown host", status_code=400)
        if token is not None:
            given = request.query_params.get("token")
            if given is not None and secrets.compare_digest(given.encode(), token.encode()):
                # the address with the token, once: keep it in a cookie, and drop it from
                # the address bar (and the browser's history)
                answer = RedirectResponse(request.url.path, status_code=303)
                answer.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
                return answer
            kept = request.cookies.get(TOKEN_COOKIE, "")
            if not secrets.compare_digest(kept.encode(), token.encode()):
                return Response(
                    "This app needs its access token: open the address with ?token= that "
                    "sufficiency serve printed when it started.",
                    status_code=401,
                    media_type="text/plain; charset=utf-8",
                )
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin.split("://", 1)[-1].lower() != host:
            return Response("cross-site request refused", status_code=403)
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        # "same-origin": the browser then names this page's origin on its own posts (with
        # "no-referrer" it sends Origin: null, which the check above must refuse)
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, template, {"version": __version__, **context}, status_code=status
        )

    def baseline(path: str) -> LoadedScenario:
        """The scenario at `path` (relative to the folder), read only from inside it."""
        if not path or Path(path).is_absolute():
            raise UserError(f"{path or 'no path'}: give a scenario's path inside the folder")
        return load(root / path, root=root)

    def index_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        """The first page; `context` says what an upload got wrong (uploads.py)."""
        found = find_baselines(root)
        listed = {**index_context(root), **context}
        return page(request, "index.html", status, folder=str(root), scenarios=found, **listed)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        """The baselines under the folder, to pick one, or a file of one's own to upload."""
        return index_page(request)

    add_upload_routes(app, root, jobs, index_page, page)

    @app.get("/favicon.ico", response_model=None)
    def favicon() -> Response:
        """No icon: an empty answer rather than a 404 in the browser's console."""
        return Response(status_code=204)

    @app.get("/scenario", response_class=HTMLResponse)
    def scenario(request: Request, path: str = "") -> HTMLResponse:
        """A baseline's levers as a form."""
        try:
            loaded = baseline(path)
        except UserError as exc:
            return page(request, "error.html", 400, message=str(exc))
        return page(request, "scenario.html", **form(loaded, path))

    @app.post("/run", response_model=None)
    async def run(request: Request) -> Response:
        """Validate the options' changed levers; start the comparison or show the mistakes."""
        data = {k: str(v) for k, v in (await request.form()).items()}
        path = data.get("path", "")
        try:
            loaded = baseline(path)
        except UserError as exc:
            return page(request, "error.html", 400, message=str(exc))
        made = make_options(loaded, data)
        if made.errors:
            context = form(loaded, path, data, made.errors)
            return page(request, "scenario.html", 422, **context)
        job = jobs.start(loaded, made.options, made.years, made.runs)
        return RedirectResponse(f"/job/{job.id}", status_code=303)

    @app.get("/job/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: str) -> HTMLResponse:
        """A job: its progress while it runs, then its sentences, charts and files."""
        job = jobs.get(job_id)
        if job is None:
            return page(request, "error.html", 404, message="There is no such run.")
        return page(request, "job.html", job=job)

    @app.get("/job/{job_id}/status")
    def job_status(job_id: str) -> JSONResponse:
        """The job's state, for the page's script to poll."""
        job = jobs.get(job_id)
        if job is None:
            return JSONResponse({"state": "unknown"}, status_code=404)
        return JSONResponse(job.status())

    @app.post("/job/{job_id}/cancel", response_model=None)
    def job_cancel(job_id: str) -> Response:
        """Cancel a running job (its results are dropped)."""
        job = jobs.cancel(job_id)
        if job is None:
            return Response("There is no such run.", status_code=404)
        return RedirectResponse(f"/job/{job.id}", status_code=303)

    @app.get("/job/{job_id}/file/{name}", response_model=None)
    def job_file(job_id: str, name: str) -> Response:
        """One of a finished job's files, by its name in the fixed list."""
        job = jobs.get(job_id)
        file = job.file(name) if job is not None else None
        if file is None:
            return Response("There is no such file.", status_code=404)
        media = MEDIA.get(file.suffix, "application/octet-stream")
        inline = file.suffix in (".png", ".html")
        return FileResponse(
            file,
            media_type=media,
            filename=None if inline else name,
            content_disposition_type="inline" if inline else "attachment",
        )

    return app


def find_baselines(root: Path) -> list[Listed]:
    """Every baseline under `root` (see BASELINES), read only from inside it."""
    found: dict[Path, None] = {}
    for pattern in BASELINES:
        for p in sorted(root.glob(pattern)):
            found.setdefault(p, None)
    out = []
    for p in found:
        rel = p.relative_to(root).as_posix()
        if rel.split("/", 1)[0] in OWN_FOLDERS:
            continue  # listed under "Your scenarios"
        try:
            if not p.is_file() or p.is_symlink() or is_region_file(p):
                continue
            s = load(p, root=root)
        except UserError as exc:
            out.append(Listed(rel, rel, "", error=str(exc)))
            continue
        out.append(Listed(rel, s.name, s.model.scenario.description or ""))
    return out


def form(
    loaded: LoadedScenario,
    path: str,
    data: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the scenario page shows: the levers by section, each with the baseline's
    value and source and a value for each option column (as submitted, when the form
    comes back with mistakes), and the messages beside their controls."""
    data = data or {}
    errors = errors or {}
    columns = list(range(1, MAX_OPTIONS + 1))
    sections = []
    all_levers = levers(loaded)
    for section, heading, is_open in SECTIONS:
        rows: list[dict[str, Any]] = []
        for lever in (x for x in all_levers if x.spec.section == section):
            cells: list[dict[str, Any]] = []
            for i in columns:
                name = field_name(i, lever.key)
                cells.append(
                    {
                        "name": name,
                        "value": data.get(name, lever.shown()),
                        "error": errors.get(name, ""),
                        "changed": data.get(name, lever.shown()).strip() != lever.shown(),
                    }
                )
            rows.append(
                {
                    "lever": lever,
                    "cells": cells,
                    "where": lever.where,
                }
            )
        if rows:
            busy = any(c["error"] or c["changed"] for r in rows for c in r["cells"])
            sections.append(
                {"id": section, "heading": heading, "open": is_open or busy, "rows": rows}
            )
    return {
        "scenario": loaded,
        "path": path,
        "sections": sections,
        "columns": [
            {
                "number": i,
                "name_field": field_name(i, "name"),
                "name": data.get(field_name(i, "name"), ""),
                "error": errors.get(field_name(i, "name"), "") or errors.get(field_name(i, ""), ""),
            }
            for i in columns
        ],
        "years": data.get("years", str(DEFAULT_YEARS)),
        "runs": data.get("runs", str(DEFAULT_RUNS)),
        "limits": {"years": YEARS, "runs": RUNS},
        "errors": errors,
    }
