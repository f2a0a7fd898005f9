"""The web app's calibrations from an uploaded SSDA903 export, each run in a thread, and
the private folders that hold their 903 files while they run.

The 903 files go into a private folder inside the chosen folder
(`.sufficiency-903-<pid>-<random>/`, mode 0o700), which is removed when the calibration
ends, whether it succeeds or fails, and when the server stops (one left by a server that
was killed is removed when the app next starts on the folder). The calibrated scenario and
its report are written into `<folder>/calibrated/`, never over a file that is there.

Child-level data is read only by the calibration, which is `sufficiency calibrate` itself;
what the pages show of it is what that command prints (file, row and column of each
problem, never identifiers), and an unexpected error is logged without its message, which
could quote a value. Kept apart from the forms, which only put the files in the folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..common.errors import UserError
from ..common.interrupt import pid_alive
from ..reports.calibrated import calibrate_files
from .folders import CALIBRATED, free_name, own_folder, safe_name
from .jobs import Background
from .multipart import UploadError

#: Start of the private folders that hold a calibration's 903 files while it runs.
PRIVATE = ".sufficiency-903-"
_PRIVATE_NAME = re.compile(re.escape(PRIVATE) + r"(?P<pid>\d+)-[0-9a-f]{16}")


@dataclass
class Calibration(Background):
    """One calibration from an uploaded export ("running", "done" or "failed")."""

    name: str
    at: dt.date
    files: int
    #: the scenario and report written, relative to the chosen folder
    scenario: str = ""
    report: str = ""
    #: the data checks' summary (files, rows and columns with problems; no identifiers)
    checks: str = ""

    def note_checks(self, text: str) -> None:
        """calibrate's `say`: keep the data checks' summary for the page."""
        self.checks = text


class Calibrations:
    """The calibrations of one server, and the private folders of 903 files they hold
    while they run (removed by `discard` when each ends, and by `close`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: dict[str, Calibration] = {}
        self.private: set[Path] = set()
        self.reserved: set[str] = set()
        self.lock = threading.Lock()

    def get(self, calibration_id: str) -> Calibration | None:
        """The calibration with this id, or None."""
        with self.lock:
            return self.items.get(calibration_id)

    def private_folder(self) -> Path:
        """A new folder for one upload's 903 files, inside the chosen folder (so child-
        level data never leaves it), that only this user may open."""
        folder = self.root / f"{PRIVATE}{os.getpid()}-{secrets.token_hex(8)}"
        try:
            folder.mkdir(mode=0o700)
            (folder / "data").mkdir(mode=0o700)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise UploadError(
                f"cannot write in {self.root} ({exc.strerror or exc}): the app keeps the "
                "uploaded files there while it calibrates"
            ) from None
        with self.lock:
            self.private.add(folder)
        return folder

    def discard(self, folder: Path) -> None:
        """Delete a private folder and everything in it."""
        shutil.rmtree(folder, ignore_errors=True)
        with self.lock:
            self.private.discard(folder)

    def close(self) -> None:
        """Delete every private folder still there (when the server stops)."""
        with self.lock:
            folders = list(self.private)
        for folder in folders:
            self.discard(folder)

    def clean_stale(self) -> list[Path]:
        """Delete the private folders that a server killed mid-calibration left in the
        chosen folder (their process is gone); returns them."""
        gone = []
        for entry in os.scandir(self.root):
            m = _PRIVATE_NAME.fullmatch(entry.name)
            if not m or not entry.is_dir(follow_symlinks=False) or pid_alive(int(m["pid"])):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            gone.append(Path(entry.path))
        return gone

    def _reserve(self, name: str) -> Path:
        """A free scenario path in calibrated/ for `name`, its report's folder free too,
        held against other calibrations running now."""
        folder = own_folder(self.root, CALIBRATED)

        def taken(stem: str) -> bool:
            return (
                stem in self.reserved
                or os.path.lexists(folder / f"{stem}.toml")
                or os.path.lexists(folder / f"{stem}_calibration")
            )

        with self.lock:
            stem = free_name(folder, safe_name(name, "calibrated"), ".toml", taken)
            self.reserved.add(stem)
        return folder / f"{stem}.toml"

    def start(self, private: Path, at: dt.date, name: str, files: int) -> Calibration:
        """Calibrate from the files in `private/data` in a thread; `private` is deleted
        when it ends."""
        out = self._reserve(name)
        job = Calibration(secrets.token_urlsafe(8), name, at, files)
        with self.lock:
            self.items[job.id] = job
        threading.Thread(
            target=self._run, args=(job, private, out), name=f"calibrate-{job.id}", daemon=True
        ).start()
        return job

    def _run(self, job: Calibration, private: Path, out: Path) -> None:
        """The thread: calibrate as `sufficiency calibrate` does, then delete the files."""
        try:
            scenario, report = calibrate_files(
                private / "data", job.at, out, name=job.name, say=job.note_checks
            )
            job.scenario = scenario.relative_to(self.root).as_posix()
            job.report = report.relative_to(self.root).as_posix()
            job.state = "done"
        except UserError as exc:
            job.error = self._tidy(str(exc), private)
            job.state = "failed"
        except Exception as exc:  # a bug: where it happened, not what it said
            _log_bug(exc)
            job.error = "the calibration failed (a bug: see the server's output)"
            job.state = "failed"
        finally:
            self.discard(private)
            with self.lock:
                self.reserved.discard(out.stem)
            job.finished = time.monotonic()

    def _tidy(self, message: str, private: Path) -> str:
        """calibrate's message with the private folder called what the user gave, and
        paths in the chosen folder relative to it."""
        message = message.replace(str(private / "data"), "the uploaded files")
        return message.replace(str(self.root) + os.sep, "")


def _log_bug(exc: BaseException) -> None:
    """Print where an unexpected error happened, without its message: the message of an
    error deep in reading the data could quote a value from it."""
    lines = traceback.format_tb(exc.__traceback__)
    print(
        "sufficiency web app: the calibration failed (a bug); the message is left out, as "
        "it could quote the data:\n" + "".join(lines) + exc.__class__.__name__,
        file=sys.stderr,
    )
