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
import copy
import datetime as dt
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from .. import __version__
from ..common.errors import ScenarioError, UserError
from ..scenario.keys import join, set_path
from ..scenario.load import (
    LoadedScenario,
    check_changes,
    explain_validation,
    find_line,
    load,
)
from ..scenario.region import is_region_file
from ..scenario.schema import Scenario, cross_reference_errors
from ..scenario.write import ScenarioCopies
from .jobs import DOWNLOADS, Jobs
from .levers import DEFAULT_RUNS, DEFAULT_YEARS, RUNS, YEARS, Lever, levers
from .uploads import add_upload_routes, index_context

HERE = Path(__file__).resolve().parent
#: Host names a browser on this machine uses for the app; other Host headers are refused
#: (a page elsewhere cannot reach the app through a name it controls: DNS rebinding).
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: Where baselines are looked for under the folder, in the order listed.
BASELINES = ("baseline.toml", "*/baseline.toml", "scenarios/*/baseline.toml")
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


def create_app(folder: Path, hosts: Sequence[str] = LOOPBACK) -> FastAPI:
    """The app for scenarios under `folder`; requests must name one of `hosts`."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise UserError(f"{folder}: no such folder (the app reads scenarios from a folder)")
    jobs = Jobs()

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
        if name not in allowed:
            return Response("unknown host", status_code=400)
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
        """Validate the changed levers; start the comparison or show the mistakes."""
        data = {k: str(v) for k, v in (await request.form()).items()}
        path = data.get("path", "")
        try:
            loaded = baseline(path)
        except UserError as exc:
            return page(request, "error.html", 400, message=str(exc))
        option = make_option(loaded, data)
        if option.errors:
            context = form(loaded, path, data, option.errors)
            return page(request, "scenario.html", 422, **context)
        assert option.loaded is not None
        job = jobs.start(loaded, option.loaded, option.text, option.years, option.runs)
        return RedirectResponse(f"/job/{job.id}", status_code=303)

    @app.get("/job/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: str) -> HTMLResponse:
        """A job: its progress while it runs, then its sentences, charts and files."""
        job = jobs.get(job_id)
        if job is None:
            return page(request, "error.html", 404, message="There is no such run.")
        return page(request, "job.html", job=job, downloads=list(DOWNLOADS))

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
        try:
            if not p.is_file() or p.is_symlink() or is_region_file(p):
                continue
            s = load(p, root=root)
        except UserError as exc:
            out.append(Listed(rel, rel, "", error=str(exc)))
            continue
        out.append(Listed(rel, s.name, s.model.scenario.description or ""))
    return out


@dataclass
class Option:
    """An option made from a baseline's levers, or the mistakes that stop it."""

    errors: dict[str, str]
    loaded: LoadedScenario | None = None
    text: str = ""
    years: int = DEFAULT_YEARS
    runs: int = DEFAULT_RUNS


def whole_number(text: str, low: int, high: int) -> int | str:
    """`text` as a whole number from `low` to `high`, or the message saying what is wrong."""
    try:
        value = int(text.strip())
    except ValueError:
        return f"must be a whole number from {low} to {high} (got {text.strip()!r})"
    if not low <= value <= high:
        return f"must be a whole number from {low} to {high} (got {value})"
    return value


def number(text: str) -> float | int | str:
    """A lever's text as a number (whole where it is whole), or the text itself, for the
    scenario's schema to say what is wrong with it."""
    try:
        value = float(text.strip())
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def make_option(loaded: LoadedScenario, data: dict[str, str]) -> Option:
    """The option the form describes: the baseline with the changed levers set, validated
    as `sufficiency validate` validates a file; `errors` by form field (a lever's key,
    "years", "runs" or "" for the whole form)."""
    errors: dict[str, str] = {}
    years = whole_number(data.get("years", str(DEFAULT_YEARS)), *YEARS)
    runs = whole_number(data.get("runs", str(DEFAULT_RUNS)), *RUNS)
    if isinstance(years, str):
        errors["years"] = years
    if isinstance(runs, str):
        errors["runs"] = runs
    raw = copy.deepcopy(loaded.raw)
    changed: list[tuple[Lever, float | int | str]] = []
    for lever in levers(loaded):
        text = data.get(lever.key)
        if text is None:
            continue
        value = number(text)
        if value == lever.value:
            continue
        set_path(raw, lever.path, value, lever.key, "the lever")
        changed.append((lever, value))
    if not changed:
        errors[""] = "Change at least one lever: the option is the baseline as it is."
    name = data.get("name", "").strip() or option_name(changed)
    raw.setdefault("scenario", {})["name"] = name[:120]
    texts = dict(loaded.files)
    try:
        try:
            model = Scenario.model_validate(raw)
        except ValidationError as exc:
            raise explain_validation(exc, raw, {}, loaded.path, texts) from None
        problems = cross_reference_errors(model)
        if problems:
            key = ""
            for step in problems[0][0]:
                key = join(key, step)
            raise ScenarioError(loaded.path, problems[0][1], key=key)
        check_changes(model, raw, {}, loaded.path, texts)
    except ScenarioError as exc:
        problem = exc.problem + (f" (expected {exc.expected})" if exc.expected else "")
        keys = {lever.key for lever, _ in changed}
        errors[exc.key if exc.key in keys else ""] = (
            problem if exc.key in keys else f"[{exc.key}] {problem}"
        )
        return Option(errors)
    for lever, value in changed:
        if isinstance(value, (int, float)) and not lever.spec.low <= value <= lever.spec.high:
            errors[lever.key] = (
                f"must be from {lever.spec.low:g} to {lever.spec.high:g} in the app "
                f"(got {value:g}); edit the scenario file for a value outside that range"
            )
    if errors:
        return Option(errors)
    assert isinstance(years, int) and isinstance(runs, int)
    notes: dict[tuple[str | int, ...], str] = {
        lever.path: f"changed in the app: was {lever.value:g}" for lever, _ in changed
    }
    notes[("scenario", "name")] = "changed in the app"
    header = (
        f"An option made in the sufficiency web app ({__version__}) on "
        f"{dt.date.today().isoformat()}: the baseline {loaded.path.name} with "
        + "; ".join(f"{lever.key} = {value}" for lever, value in changed)
        + ".\nRerun it with: sufficiency compare BASELINE.toml option.toml"
    )
    text = ScenarioCopies(loaded.raw, loaded.files).write(raw, header=header, notes=notes)
    option = LoadedScenario(
        model=model, raw=raw, path=loaded.path.with_name("option.toml"), sources=loaded.sources
    )
    return Option({}, option, text, years, runs)


def option_name(changed: Sequence[tuple[Lever, float | int | str]]) -> str:
    """A name for an option that says what it changes, e.g. "Foster carers recruited a
    year (Darlington foster carers) 10"."""
    parts = []
    for lever, value in changed:
        subject = f" ({lever.subject})" if lever.subject else ""
        parts.append(f"{lever.spec.label}{subject} {value}")
    return "; ".join(parts) or "Option"


def form(
    loaded: LoadedScenario,
    path: str,
    data: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the scenario page shows: the levers with their values (as submitted, when the
    form comes back with mistakes), sources, ranges and messages."""
    data = data or {}
    rows = []
    for lever in levers(loaded):
        line = None
        for file, _ in reversed(loaded.files):
            line = find_line(file, lever.path, dict(loaded.files))
            if line is not None:
                break
        rows.append(
            {
                "lever": lever,
                "value": data.get(lever.key, f"{lever.value:g}"),
                "error": (errors or {}).get(lever.key, ""),
                "where": f"{loaded.path.name}:{line}" if line else loaded.path.name,
            }
        )
    return {
        "scenario": loaded,
        "path": path,
        "rows": rows,
        "years": data.get("years", str(DEFAULT_YEARS)),
        "runs": data.get("runs", str(DEFAULT_RUNS)),
        "name": data.get("name", ""),
        "limits": {"years": YEARS, "runs": RUNS},
        "errors": errors or {},
    }
