"""Comparisons the web app runs in the background, one job each, in a folder of its own.

A run of a few hundred replications takes minutes, so a request only starts a job (a
thread) and the page polls its state. Jobs live for the server's life in a `Jobs` store,
keyed by a random id: two tabs get two jobs, and a refreshed page finds its job again.
Each job writes into its own folder under the store's temporary folder, and the app
serves files from it only by name, from `DOWNLOADS` and the chart names.

The runs tell the job how many replications are done (`compare`'s observer), which the
page shows as a fraction; cancel makes that observer raise, which stops the runs as
Ctrl-C does (worker processes stopped, nothing written).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..common.errors import UserError
from ..reports.comparison import write_outputs
from ..reports.comparison_charts import charts
from ..reports.comparison_words import sentences
from ..runs.compare import compare
from ..scenario.load import LoadedScenario
from .levers import MAX_OPTIONS

if TYPE_CHECKING:
    from .options import Option

#: Files a finished job offers for download: name -> place in the job's folder.
DOWNLOADS = {
    "options.xlsx": "comparison/options.xlsx",
    "report.html": "comparison/report.html",
    **{f"option-{i}.toml": f"option-{i}.toml" for i in range(1, MAX_OPTIONS + 1)},
}
#: Worker processes a job's runs use: the app shares the machine with its user.
WORKERS = 2


class JobCancelled(Exception):
    """Raised inside a job's runs once it is cancelled, to stop them."""


@dataclass
class Background:
    """Work the app does in a thread while a page polls it: its state and timing.

    The fields after `id` are keyword-only, so a kind of work adds its own positional
    fields after `id`."""

    id: str
    #: "running", "done", "failed" or "cancelled"
    state: str = field(default="running", kw_only=True)
    started: float = field(default_factory=time.monotonic, kw_only=True)
    finished: float | None = field(default=None, kw_only=True)
    error: str = field(default="", kw_only=True)

    def seconds(self) -> float:
        """Seconds since the work started (until it finished)."""
        return (self.finished or time.monotonic()) - self.started

    def progress(self) -> tuple[int, int]:
        """Units of work done and in all (0 of 0: no count to show)."""
        return 0, 0

    def status(self) -> dict[str, object]:
        """The state as the page's script polls it."""
        done, total = self.progress()
        return {
            "id": self.id,
            "state": self.state,
            "seconds": round(self.seconds(), 1),
            "done": done,
            "total": total,
            "error": self.error,
        }


@dataclass
class Job(Background):
    """One comparison of a baseline with its options, and where it has got to."""

    folder: Path
    baseline: str
    #: the options' names, and the numbers of their columns in the form
    options: list[str]
    numbers: list[int]
    years: int
    reps: int
    sentences: list[str] = field(default_factory=list)
    #: chart file names in the job's charts/ folder, in reading order
    charts: list[str] = field(default_factory=list)
    #: replications done so far, over every scenario of the comparison (baseline first)
    done: int = 0

    @property
    def total(self) -> int:
        """Replications the comparison runs in all: the baseline's and the options'."""
        return (1 + len(self.options)) * self.reps

    def progress(self) -> tuple[int, int]:
        """Replications done, of all the comparison runs."""
        return self.done, self.total

    def observe(self, n: int) -> None:
        """`compare`'s observer: `n` more replications done; a cancelled job stops here."""
        if self.state == "cancelled":
            raise JobCancelled(self.id)
        self.done += n

    def file(self, name: str) -> Path | None:
        """A file of a finished job by its download or chart name, else None: no name
        from a browser is ever joined to a path."""
        if self.state != "done":
            return None
        if name in DOWNLOADS:
            path = self.folder / DOWNLOADS[name]
        elif name in self.charts:
            path = self.folder / "charts" / name
        else:
            return None
        return path if path.is_file() else None


class Jobs:
    """The jobs of one server, in a temporary folder removed by `close`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sufficiency-app-"))
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        #: more to clean when the server stops (see `on_close`)
        self.cleanups: list[Callable[[], None]] = []

    def on_close(self, clean: Callable[[], None]) -> None:
        """Run `clean` too when the server stops: the calibrations' private folders of
        903 files go with the jobs' folders, by the same lifespan hook."""
        self.cleanups.append(clean)

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self.lock:
            return self.jobs.get(job_id)

    def start(
        self,
        baseline: LoadedScenario,
        options: list[Option],
        years: int,
        reps: int,
    ) -> Job:
        """Start comparing `options` with `baseline` in a thread; each option's scenario
        file is offered for download as option-<its column>.toml."""
        job_id = secrets.token_urlsafe(8)
        folder = self.root / job_id
        folder.mkdir()
        for o in options:
            (folder / f"option-{o.number}.toml").write_text(o.text, encoding="utf-8")
        names = [o.name for o in options]
        job = Job(job_id, folder, baseline.name, names, [o.number for o in options], years, reps)
        with self.lock:
            self.jobs[job_id] = job
        scenarios = [baseline, *(o.loaded for o in options if o.loaded is not None)]
        threading.Thread(
            target=self._run, args=(job, scenarios), name=f"job-{job_id}", daemon=True
        ).start()
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a running job: its runs stop at the next chunk of replications that
        finishes (the observer raises), and nothing of it is kept."""
        job = self.get(job_id)
        if job is not None and job.state == "running":
            job.state = "cancelled"
            job.finished = time.monotonic()
        return job

    def _run(self, job: Job, scenarios: list[LoadedScenario]) -> None:
        """The job's thread: run, write the folder and charts, record the sentences."""
        try:
            cmp = compare(
                scenarios,
                years=job.years,
                reps=job.reps,
                workers=WORKERS,
                progress=False,
                observer=job.observe,
            )
            if job.state == "cancelled":
                return
            write_outputs(cmp, job.folder / "comparison")
            (job.folder / "charts").mkdir()
            names = []
            for name, fig in charts(cmp):
                fig.savefig(job.folder / "charts" / name, dpi=110, facecolor="white")
                names.append(name)
            job.sentences = sentences(cmp)
            job.charts = names
            if job.state == "running":
                job.state = "done"
        except JobCancelled:
            return  # the runs stopped; the page says cancelled
        except UserError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception:  # a bug: the page says so, the server's log has the trace
            traceback.print_exc()
            job.error, job.state = "the run failed (a bug: see the server's output)", "failed"
        finally:
            if job.finished is None:
                job.finished = time.monotonic()

    def close(self) -> None:
        """Remove every job's folder, and run the cleanups asked for (when the server
        stops)."""
        for clean in self.cleanups:
            clean()
        shutil.rmtree(self.root, ignore_errors=True)
