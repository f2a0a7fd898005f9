"""Write outputs whole or not at all.

Every command that writes files (run, synth903, calibrate, backtest) builds them under a
hidden name beside the destination and renames it into place at the end, so an
interrupted or failed command never leaves a half-written folder or file behind, and an
existing destination is replaced only when asked and only once the new one is complete.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputExistsError


def exists_error(out: Path) -> OutputExistsError:
    kind = "folder" if out.is_dir() else "file"
    return OutputExistsError(
        f"The output {kind} {out} already exists. Choose another name, "
        "or use --force to replace it."
    )


def check_free(out: Path | str, force: bool) -> Path:
    """Fail before any work is done if `out` exists and may not be replaced."""
    out = Path(out)
    if (out.exists() or out.is_symlink()) and not force:
        raise exists_error(out)
    return out


@contextmanager
def atomic_path(out: Path | str, force: bool = False, folder: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes `out`, on failure it goes."""
    out = check_free(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = sibling(out, "tmp")
    try:
        if folder:
            tmp.mkdir()
        yield tmp
        move_into_place(tmp, out, force)
    except BaseException:
        remove(tmp)
        raise


def sibling(out: Path, tag: str) -> Path:
    """A hidden name beside `out`: on the same disk, so renaming it is atomic."""
    return out.parent / f".{out.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def move_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished output to `out`; an old `out` goes only once the new one is in."""
    if not (out.exists() or out.is_symlink()):
        tmp.rename(out)
        return
    if not force:  # something appeared there while we were writing
        raise exists_error(out)
    old = sibling(out, "old")
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    remove(old)


def remove(path: Path) -> None:
    """Delete a file, link or folder if it is there; never fail while cleaning up."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass
