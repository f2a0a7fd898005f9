"""The web app's two other starting points: a scenario file of the user's own, and a
scenario calibrated from an SSDA903 export (one zip, or its CSV files).

Both forms are read as the request arrives (python-multipart's streaming parser, not
Starlette's form reader), so the size limits hold whatever Content-Length claims, and
nothing is spooled to the system's temporary folder: a scenario file is held in memory (at
most 1 MB) and written whole into `<folder>/uploads/`; the 903 files go straight into a
private folder inside the chosen folder (`.sufficiency-903-<pid>-<random>/`, mode 0o700),
which is removed when the calibration ends, whether it succeeds or fails, and when the
server stops (one left by a server that was killed is removed when the app next starts on
the folder). No name from the browser is joined to a path as given: it is cut to its base
name and to the characters [A-Za-z0-9._-]. The calibrated scenario and its report are
written into `<folder>/calibrated/`, never over a file that is there.

Child-level data is read only by the calibration; what the pages show of it is what
`sufficiency calibrate` prints (file, row and column of each problem, never identifiers),
and an unexpected error is logged without its message, which could quote a value.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import os
import re
import secrets
import shutil
import stat
import sys
import threading
import time
import traceback
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ..common.errors import UserError
from ..common.interrupt import pid_alive
from ..reports.calibrated import calibrate_files
from ..scenario.load import MAX_BYTES, load, read_raw
from .jobs import Background, Jobs

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MB = 1_000_000  # as `load` counts: a megabyte is a million bytes
#: Largest scenario file taken: what `load` reads (the Darlington baseline is about 60 kB).
SCENARIO_LIMIT = MAX_BYTES
#: Largest SSDA903 upload, all its files together.
EXPORT_LIMIT = 50 * MB
#: Most files in an export's zip (or CSV files chosen): a header, episodes and UASC file a year.
MEMBER_LIMIT = 200
#: Most bytes an export's files come to once unzipped, all together.
UNZIPPED_LIMIT = 500 * MB
#: Room in a request for the form's own fields and each part's headers, beyond the files.
FORM_SLACK = 64 * 1024
#: Longest text field taken (a date, a name).
FIELD_LIMIT = 1000
#: Bytes read or written at a time.
CHUNK = 256 * 1024
#: Folders under the chosen folder that the app writes into.
UPLOADS = "uploads"
CALIBRATED = "calibrated"
#: Start of the private folders that hold a calibration's 903 files while it runs.
PRIVATE = ".sufficiency-903-"
_PRIVATE_NAME = re.compile(re.escape(PRIVATE) + r"(?P<pid>\d+)-[0-9a-f]{16}")
#: How many of the user's own scenarios the first page lists from each folder.
LISTED = 50


class UploadError(UserError):
    """An upload the app refuses: the message shown beside the form's `field`, with the
    HTTP status (413: too large; 422: what it holds; 400: not a form upload at all)."""

    def __init__(
        self,
        message: str,
        status: int = 422,
        field: str = "files",
        more: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.more = more or {}

    def by_field(self, fields: tuple[str, ...]) -> dict[str, str]:
        """Every mistake found, by the form field it is shown beside: one of `fields`
        (a field the form does not have, say an unknown one too long, goes by the first)."""
        found = {**self.more, self.field: str(self)}
        return {(k if k in fields else fields[0]): v for k, v in found.items()}


def mb(n: int) -> str:
    """A limit in bytes as people say it: "1 MB"."""
    return f"{n / MB:g} MB"


def shown(name: str) -> str:
    """A name from the user's upload, quoted and cut short, for a message."""
    return repr(name if len(name) <= 60 else name[:57] + "...")


def safe_name(name: str, default: str) -> str:
    """`name` cut to its base name and to [A-Za-z0-9._-] (others become "_"), without
    leading dots (no hidden file, no ".."); `default` if nothing is left."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and stem:
        cleaned = f"{stem[:80]}.{suffix[:10]}"
    return cleaned[:91] or default


# =========================================================================== the form


class Sink(Protocol):
    """Where a file's bytes go as they arrive: a file on disk, memory, or nowhere."""

    def write(self, data: bytes, /) -> int:
        """Take the next bytes."""
        ...

    def close(self) -> None:
        """The file has ended (or the upload has stopped)."""
        ...


class _Discard:
    """Where the bytes of a file that is not needed go (a README chosen with the CSVs)."""

    def write(self, data: bytes, /) -> int:
        """Drop them."""
        return len(data)

    def close(self) -> None:
        """Nothing to close."""


class _Memory(io.BytesIO):
    """A file held in memory whose bytes stay readable once it is closed."""

    data = b""

    def close(self) -> None:
        """Keep the bytes, then close."""
        if not self.closed:
            self.data = self.getvalue()
        super().close()


@dataclass
class Received:
    """A file of the form: its field, its base name as the browser sent it, its size, and
    where its bytes were written."""

    field: str
    name: str
    target: Sink
    size: int = 0


#: Given a file's field and base name, where its bytes go (raises UploadError to refuse it).
Opener = Callable[[str, str], Sink]


class _Parts:
    """python-multipart's callbacks for one form: each part's headers, its text (short)
    or its file's bytes, written where `open_file` says and counted against `file_limit`."""

    def __init__(self, open_file: Opener, file_limit: int, too_large: str) -> None:
        self.open_file = open_file
        self.file_limit = file_limit
        self.too_large = too_large
        self.fields: dict[str, str] = {}
        self.files: list[Received] = []
        self.ended = False
        self._headers: dict[str, str] = {}
        self._header = bytearray()
        self._value = bytearray()
        self._name = ""
        self._text: bytearray | None = None
        self._file: Received | None = None

    def callbacks(self) -> MultipartCallbacks:
        """The callbacks, by python-multipart's names."""
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, a, b: self._header.extend(d[a:b]),
            "on_header_value": lambda d, a, b: self._value.extend(d[a:b]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
            "on_end": self._finish,
        }

    def _begin(self) -> None:
        self._headers = {}
        self._name, self._text, self._file = "", None, None

    def _header_end(self) -> None:
        key = self._header.decode("latin-1").strip().lower()
        self._headers[key] = self._value.decode("utf-8", "replace")
        self._header.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in params:
            self._text = bytearray()
            return
        filename = re.split(r"[\\/]", params[b"filename"].decode("utf-8", "replace"))[-1]
        if filename:  # an empty file control sends a part with an empty name, no bytes
            self._file = Received(self._name, filename, self.open_file(self._name, filename))
            self.files.append(self._file)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.size += end - start
            if self._file.size > self.file_limit:
                raise UploadError(self.too_large, 413)
            self._file.target.write(data[start:end])
        elif self._text is not None:
            if len(self._text) + end - start > FIELD_LIMIT:
                raise UploadError(
                    f"the form's {self._name or 'text'} is longer than {FIELD_LIMIT} characters",
                    field=self._name,
                )
            self._text.extend(data[start:end])

    def _end(self) -> None:
        if self._text is not None:
            self.fields[self._name] = self._text.decode("utf-8", "replace").strip()
        self._text, self._file = None, None

    def _finish(self) -> None:
        self.ended = True


async def read_form(
    request: Request, body_limit: int, open_file: Opener, file_limit: int, too_large: str
) -> _Parts:
    """Read a multipart form as it arrives: text fields kept, files written where
    `open_file` says; more than `body_limit` bytes in all, or a file over `file_limit`,
    stops it with `too_large` (413). The files are closed however it ends."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError(
            "the upload did not come from the app's form (it must be sent as "
            "multipart/form-data): use the form on the app's first page",
            400,
        )
    parts = _Parts(open_file, file_limit, too_large)
    parser = MultipartParser(boundary, parts.callbacks())
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > body_limit:
                raise UploadError(too_large, 413)
            parser.write(chunk)
        parser.finalize()
    except (FormParserError, ClientDisconnect):
        raise UploadError("the upload was cut short or garbled: try again", 400) from None
    finally:
        for received in parts.files:
            received.target.close()
    if not parts.ended:
        raise UploadError("the upload was cut short: try again", 400)
    return parts


# =========================================================================== writing


def own_folder(root: Path, name: str) -> Path:
    """The folder `name` inside `root` that the app writes into, made if need be; refused
    if it is a link or a file (writing through it could leave the chosen folder)."""
    folder = root / name
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UploadError(
            f"{folder} is a link or a file, not a folder: the app writes only into a real "
            f"folder {name}/ inside {root}; move it away and try again"
        )
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UploadError(f"cannot make {folder}: {exc.strerror or exc}") from None
    return folder


def _free(folder: Path, stem: str, suffix: str, taken: Callable[[str], bool]) -> str:
    """The first of stem, stem-2, stem-3 ... that `taken` does not refuse."""
    for n in range(1, 10_000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        if not taken(candidate):
            return candidate
    raise UploadError(f"{folder} holds too many files named {stem}-N{suffix}: tidy it up")


def save_new(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to `folder/name`, or to name-2, name-3 ... if that is there: written
    under a hidden name and linked into place, so a reader never sees half a file and
    nothing is ever replaced."""
    stem, suffix = Path(name).stem, Path(name).suffix
    tmp = folder / f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with open(tmp, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        while True:
            chosen = _free(folder, stem, suffix, lambda s: os.path.lexists(folder / (s + suffix)))
            path = folder / (chosen + suffix)
            try:
                os.link(tmp, path)  # fails if the name was taken meanwhile
                return path
            except FileExistsError:
                continue
            except OSError as exc:  # a file system without hard links
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                    raise
                os.rename(tmp, path)
                return path
    except OSError as exc:
        raise UploadError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


# =========================================================================== a scenario file


def scenario_opener(store: dict[str, _Memory]) -> Opener:
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
        store[filename] = _Memory()
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
            f" An uploaded file is kept in {UPLOADS}/, so `extends` is read from there: "
            "upload a scenario that does not extend another, or put both files in the folder."
        )
    return message


async def take_scenario(request: Request, root: Path) -> str:
    """Read, save and check an uploaded scenario; its path relative to `root`."""
    store: dict[str, _Memory] = {}
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


# =========================================================================== an SSDA903 export


def _create(path: Path) -> IO[bytes]:
    """A new file only this user may read, never through a link or over a file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")


def export_opener(private: Path) -> Opener:
    """Where an export's files go: one .zip as `private/export.zip`, or .csv files each
    into `private/data/` under its safe name; any other file is refused as it arrives."""
    names: set[str] = set()

    def open_file(field_name: str, filename: str) -> Sink:
        if field_name != "files":
            raise UploadError("the form holds a file the app did not ask for")
        suffix = Path(filename).suffix.lower()
        zipped = (private / "export.zip").exists()
        if suffix == ".zip":
            if names or zipped:
                raise UploadError(
                    "give either one .zip of the export or its .csv files, not both or several zips"
                )
            return _create(private / "export.zip")
        if skipped(filename):
            return _Discard()
        if suffix != ".csv":
            raise UploadError(
                f"{shown(filename)} is neither a .zip nor a .csv file: give the SSDA903 export "
                "as one .zip, or as its CSV files (the Header, Episodes and UASC tables)"
            )
        if zipped:
            raise UploadError("give either one .zip of the export or its .csv files, not both")
        name = safe_name(filename, "table.csv")
        if len(names) >= MEMBER_LIMIT:
            raise UploadError(
                f"more than {MEMBER_LIMIT} CSV files were chosen; the app takes at most "
                f"{MEMBER_LIMIT} (an SSDA903 export has a header, episodes and UASC file "
                "per year)"
            )
        if name.lower() in names:
            raise UploadError(f"two files are named {shown(name)}: choose each file once")
        names.add(name.lower())
        return _create(private / "data" / name)

    return open_file


def skipped(name: str) -> bool:
    """Whether a file of an export is passed over: a README, or a hidden file (a Mac's
    .DS_Store and ._ copies)."""
    return name.startswith(".") or name.lower().startswith("readme")


def _member_name(info: zipfile.ZipInfo) -> str | None:
    """The safe base name a zip member is extracted under; None for what is skipped (a
    folder, a README, the litter of a Mac's zip); UploadError for what is refused."""
    name = info.filename
    parts = [p for p in re.split(r"[\\/]", name) if p]
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise UploadError(
            f"the zip holds {shown(name)}, whose name points outside the zip's own folders; "
            "the app refuses such a zip: make it again from the export's folder"
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UploadError(
            f"the zip holds {shown(name)}, a link to another file rather than a file; the "
            "app takes only the CSV files themselves: make the zip again from the files"
        )
    if info.is_dir() or not parts:
        return None
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        raise UploadError(f"the zip holds {shown(name)}, which is not a plain file")
    base = parts[-1]
    if parts[0] == "__MACOSX" or skipped(base):
        return None
    if not base.lower().endswith(".csv"):
        raise UploadError(
            f"the zip holds {shown(name)}, which is not a .csv file; the app takes only the "
            "export's CSV files (and a README): take the others out of the zip"
        )
    if info.flag_bits & 0x1:
        raise UploadError(
            f"the zip's {shown(name)} is protected by a password: unzip it on this computer "
            "and choose the CSV files instead"
        )
    return safe_name(base, "table.csv")


def _members(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    """The zip's CSV members and the names they are extracted under, every rule checked
    before a byte is unpacked."""
    infos = zf.infolist()
    if len(infos) > MEMBER_LIMIT:
        raise UploadError(
            f"the zip holds {len(infos)} files; the app takes at most {MEMBER_LIMIT} (an "
            "SSDA903 export has a header, episodes and UASC file per year)"
        )
    chosen: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    for info in infos:
        name = _member_name(info)
        if name is None:
            continue
        if name.lower() in seen:
            raise UploadError(
                f"the zip holds two files named {shown(name)} (in different folders); the "
                "app puts the files in one folder, so each name must be used once: take one out"
            )
        seen.add(name.lower())
        chosen.append((info, name))
    if not chosen:
        raise UploadError(
            "the zip holds no .csv files: an SSDA903 export's Header, Episodes and UASC "
            "tables are CSV files"
        )
    if sum(info.file_size for info, _ in chosen) > UNZIPPED_LIMIT:
        raise _unzipped_too_large()
    return chosen


def _unzipped_too_large() -> UploadError:
    return UploadError(
        f"the zip's CSV files come to more than {mb(UNZIPPED_LIMIT)} once unpacked, the most "
        "the app takes: calibrate on the command line instead "
        "(sufficiency calibrate FOLDER --at YYYY-MM-DD --out la.toml)",
        413,
    )


def extract_export(archive: Path, into: Path) -> int:
    """Unpack the CSV files of an export's zip flat into `into` (base names only), then
    delete the zip. Returns how many files were unpacked.

    The bytes are counted as they are unpacked, against the limit, whatever the zip's
    headers claim; and Python's zipfile stops a member at its declared size and then
    checks its checksum, so a zip that understates its sizes is refused as damaged."""
    total = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            chosen = _members(zf)
            for info, name in chosen:
                with zf.open(info) as src, _create(into / name) as out:
                    while chunk := src.read(CHUNK):
                        total += len(chunk)
                        if total > UNZIPPED_LIMIT:
                            raise _unzipped_too_large()
                        out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise UploadError(
            "the zip cannot be read: it is damaged, or its sizes do not match what it "
            "holds; make it again"
        ) from None
    except NotImplementedError:
        raise UploadError(
            "the zip is packed in a way the app cannot read: make it again with your "
            "computer's own 'compress' or 'send to zip' command"
        ) from None
    finally:
        archive.unlink(missing_ok=True)
    return len(chosen)


def check_date(text: str) -> dt.date:
    """The data date of the form: a month end as YYYY-MM-DD."""
    from ..calibration.fit import check_month_end

    if not text:
        raise UploadError(
            "give the date the data run to: the last day of a month, e.g. 2023-03-31",
            field="at",
        )
    try:
        at = dt.date.fromisoformat(text)
    except ValueError:
        raise UploadError(
            f"{shown(text)} is not a date: give it as YYYY-MM-DD, e.g. 2023-03-31", field="at"
        ) from None
    try:
        check_month_end(at, "the date")
    except UserError as exc:
        raise UploadError(str(exc)[0].upper() + str(exc)[1:], field="at") from None
    return at


# =========================================================================== calibrations


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
            stem = _free(folder, safe_name(name, "calibrated"), ".toml", taken)
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


# =========================================================================== pages


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
            "export": mb(EXPORT_LIMIT),
            "members": MEMBER_LIMIT,
            "unzipped": mb(UNZIPPED_LIMIT),
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
        f"the upload is larger than {mb(EXPORT_LIMIT)}, the most the app takes for an "
        "SSDA903 export: zip the CSV files (they shrink about tenfold), or calibrate on the "
        "command line (sufficiency calibrate FOLDER --at YYYY-MM-DD --out la.toml)"
    )
    form = await read_form(
        request, EXPORT_LIMIT + FORM_SLACK, export_opener(private), EXPORT_LIMIT, too_large
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
