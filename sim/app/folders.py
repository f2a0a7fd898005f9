"""Where the web app writes in the chosen folder: only into real folders of its own
(`uploads/`, `calibrated/`), under a safe name, and never over a file that is there.

No name from the browser is joined to a path as given: it is cut to its base name and to
the characters [A-Za-z0-9._-]. A new file is written under a hidden name and linked into
place, so a reader never sees half a file; a name that is taken gets -2, -3 ... Kept
apart because both the scenario upload and the calibrations write this way.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from .multipart import UploadError

#: Folders under the chosen folder that the app writes into.
UPLOADS = "uploads"
CALIBRATED = "calibrated"


def safe_name(name: str, default: str) -> str:
    """`name` cut to its base name and to [A-Za-z0-9._-] (others become "_"), without
    leading dots (no hidden file, no ".."); `default` if nothing is left."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and stem:
        cleaned = f"{stem[:80]}.{suffix[:10]}"
    return cleaned[:91] or default


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


def free_name(folder: Path, stem: str, suffix: str, taken: Callable[[str], bool]) -> str:
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
            chosen = free_name(
                folder, stem, suffix, lambda s: os.path.lexists(folder / (s + suffix))
            )
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
