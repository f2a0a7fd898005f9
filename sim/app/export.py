"""An SSDA903 export's files as the web app takes them: one zip, or its CSV files, written
as they arrive into a calibration's private folder, a zip unpacked there safely, and the
date the data run to.

Each file is refused as it arrives if it is not what an export holds (a README and a Mac's
hidden files are passed over); a zip is checked member by member before a byte is
unpacked (no link, no name outside its folders, only CSV files, each name once) and its
bytes are counted as they are unpacked, whatever its headers claim. Kept apart from the
calibration itself, which only reads the folder these files are left in, so that every
rule about what an export may hold is in one place.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path
from typing import IO

from ..common.errors import UserError
from .folders import safe_name
from .multipart import MB, Discard, Opener, Sink, UploadError, mb, shown

#: Largest SSDA903 upload, all its files together.
EXPORT_LIMIT = 50 * MB
#: Most files in an export's zip (or CSV files chosen): a header, episodes and UASC file a year.
MEMBER_LIMIT = 200
#: Most bytes an export's files come to once unzipped, all together.
UNZIPPED_LIMIT = 500 * MB
#: Bytes read or written at a time.
CHUNK = 256 * 1024


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
            return Discard()
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
