"""Write outputs whole or not at all, and never delete what the tool did not write.

Every command that writes files (run, compare, sweep, backtest, synth903, calibrate)
builds them under a hidden name beside the destination and renames it into place at the
end, so an interrupted or failed command never leaves a half-written folder or file
behind, and an existing destination is replaced only when asked and only once the new one
is complete.

`--force` replaces an existing folder only if it is empty or recognisably an earlier output
of this tool: it holds the manifest `.sufficiency-output.json` that every output folder gets
(tool, version, command, and the files written), and nothing the manifest does not list. A folder
holding anything else (a user's file dropped into it, the scenario files of the run), the
current folder or one of its parents, the home folder and `/` are never replaced: the
command stops before any work with a message saying why. A single output file is replaced
only if it is a regular file and, where the writer gives one, starts with the line the
tool writes at its top.

The hidden names are `.NAME.tmp-PID-HEX` (being written) and `.NAME.old-PID-HEX` (the
replaced output, for the moment of the swap). A run killed with SIGKILL, or by a power
cut, cannot remove them, so each command first removes those of NAME whose process is no
longer alive (a temporary folder only if it is empty or holds our manifest; an `.old`
one whose destination has gone is put back instead).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from . import inputs as files_read
from .errors import OutputExistsError, UserError
from .interrupt import pid_alive

TOOL = "sufficiency"
MANIFEST = ".sufficiency-output.json"
#: Files an operating system's file browser leaves in folders; replacing them loses nothing.
OS_LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
#: Errors of the disk or the place, not of the tool, reported as a UserError.
_USER_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
)
_SIBLING = re.compile(r"\.(?P<name>.+)\.(?P<tag>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}")


class OutputRefusedError(UserError):
    """--force was given, but the destination is not something this tool may delete."""


class OutputPlaceError(UserError):
    """The output cannot be written there at all (not a folder, read-only, no such place)."""


@dataclass(frozen=True)
class _Session:
    command: str | None
    inputs: tuple[Path, ...]


_SESSION: contextvars.ContextVar[_Session] = contextvars.ContextVar(
    "sufficiency_output_session",
    default=_Session(None, ()),  # noqa: B039 (frozen: the default is never changed)
)


@contextmanager
def session(command: str | None, inputs: Iterable[Path | str] = ()) -> Iterator[None]:
    """While a command runs: its command line (for manifests) and its input files.

    An output that contains an input (the scenario, the data folder) is never replaced:
    the input would be deleted with it.
    """
    token = _SESSION.set(_Session(command, tuple(Path(p) for p in inputs)))
    read = files_read.forget()
    try:
        yield
    finally:
        files_read.restore(read)
        _SESSION.reset(token)


def _inputs() -> tuple[Path, ...]:
    """The command's inputs: those named on its command line and every file it has read
    (a scenario's `extends` chain included)."""
    return (*_SESSION.get().inputs, *files_read.read())


# =========================================================================== checks


def exists_error(out: Path, why_not: str | None = None) -> OutputExistsError:
    """The message for an output that exists: use --force, or why --force would not do."""
    kind = "folder" if out.is_dir() else "file"
    if why_not is None:
        return OutputExistsError(
            f"The output {kind} {out} already exists. Choose another name, "
            "or use --force to replace it."
        )
    return OutputExistsError(
        f"The output {kind} {out} already exists. Choose another name; --force would not "
        f"replace it, because {why_not}."
    )


def refused_error(out: Path, why_not: str) -> OutputRefusedError:
    """The message for an output --force will not replace, and why."""
    return OutputRefusedError(
        f"--force will not replace {out}, because {why_not}. Nothing was written; choose "
        "another output name."
    )


def check_free(
    out: Path | str, force: bool, folder: bool = True, marker: str | None = None
) -> Path:
    """Fail before any work is done if `out` cannot be written or may not be replaced.

    Also removes what killed runs left beside `out` (see `clean_stale`).
    `folder`: `out` is a results folder (replaced only if it carries our manifest and
    nothing else); otherwise a single file, replaced only if it is a regular file that
    starts with `marker` (when one is given) within its first lines.
    """
    out = Path(out)
    _check_place(out)
    clean_stale(out)
    if not _lexists(out):
        return out
    why_not = _folder_problem(out) if folder else _file_problem(out, marker)
    if not force:
        raise exists_error(out, why_not)
    if why_not is not None:
        raise refused_error(out, why_not)
    return out


def _lexists(path: Path) -> bool:
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP):
            return False
        raise _place_error(path, exc) from None
    return True


def _place_error(out: Path, exc: OSError) -> OutputPlaceError:
    reason = exc.strerror or str(exc)
    return OutputPlaceError(
        f"cannot write the output {out}: {reason}. Choose an --out in a folder you can write to."
    )


def _check_place(out: Path) -> None:
    """The nearest existing folder above `out` must be a folder we can create things in.

    Tried for real (a hidden folder made and removed), since permission bits do not say
    whether /proc or a read-only disk will take a new folder, least of all for root.
    """
    if str(out) in ("", "."):
        return  # the current folder: refused later, as an output that exists
    above = out.parent
    try:
        while not _lexists(above):
            above = above.parent
        if not above.is_dir():
            raise OutputPlaceError(
                f"cannot write the output {out}: {above} is not a folder. Choose an --out "
                "whose parent is a folder."
            )
    except OSError as exc:
        raise _place_error(out, exc) from None
    probe = above / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
    except OSError as exc:
        raise OutputPlaceError(
            f"cannot write the output {out}: nothing can be created in {above} "
            f"({exc.strerror or exc}). Choose an --out in a folder you can write to."
        ) from None
    remove(probe)


def _folder_problem(out: Path) -> str | None:
    """Why --force may not replace the folder `out`; None if it may."""
    if out.is_symlink():
        return "it is a symbolic link, not a folder this tool wrote"
    if not out.is_dir():
        return "it is a file, not a folder this tool wrote"
    target = out.resolve()
    if target == Path(target.anchor):
        return "it is the root of the file system"
    if target == Path.home().resolve():
        return "it is your home folder"
    here = Path.cwd().resolve()
    if target == here:
        return "it is the current folder"
    if target in here.parents:
        return f"it contains the current folder ({here})"
    for path in _inputs():
        try:
            if path.resolve().is_relative_to(target):
                return f"it holds {path}, an input of this command, which would be deleted with it"
        except OSError:
            continue
    try:
        if not any(out.iterdir()):
            return None  # an empty folder (made for the results, say): nothing to lose
        listed = read_manifest(out)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    except ValueError as exc:
        return str(exc)
    foreign = _first_foreign(out, listed)
    changed = _first_changed(out) if foreign is None else None
    if changed is not None:
        return (
            f"its {changed} was changed after {TOOL} wrote it (copy your edits elsewhere, "
            "or choose another --out)"
        )
    if foreign is not None:
        hint = " (a lock file: is a file of it open in another program?)"
        return (
            f"it holds {foreign}, which {TOOL} did not write"
            + (hint if Path(foreign).name.startswith("~$") else "")
            + " (move that out first if the folder should be replaced)"
        )
    return None


def _file_problem(out: Path, marker: str | None) -> str | None:
    """Why --force may not replace the file `out`; None if it may."""
    if out.is_symlink():
        return "it is a symbolic link, not a file this tool wrote"
    if out.is_dir():
        return "it is a folder, not a file"
    if not out.is_file():
        return "it is not a regular file"
    target = out.resolve()
    for path in _inputs():
        try:
            if path.resolve() == target:
                return "it is an input of this command"
        except OSError:
            continue
    if marker is not None and not _starts_with(out, marker):
        return (
            f"it does not start with the line {TOOL} writes ({marker!r}), "
            "so it was not written by it"
        )
    return None


def _starts_with(path: Path, marker: str, lines: int = 40) -> bool:
    """Whether one of the first `lines` lines of the file begins with `marker`."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024).decode("utf-8-sig", errors="replace")
    except OSError:
        return False
    return any(line.startswith(marker) for line in head.splitlines()[:lines])


def read_manifest(folder: Path) -> set[str]:
    """The paths (relative, with /) the manifest of `folder` lists; ValueError saying why not."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ValueError(
            f"it has no {MANIFEST}, so it is not a folder {TOOL} wrote (delete it yourself "
            "if you are sure nothing in it is needed)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"its {MANIFEST} cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        raise ValueError(f"its {MANIFEST} was not written by {TOOL}")
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ValueError(f"its {MANIFEST} does not list the files {TOOL} wrote")
    return set(files)


def _first_foreign(folder: Path, listed: set[str]) -> str | None:
    """The first file or folder under `folder` (sorted) that the manifest does not list."""
    folders = listed | {p.as_posix() for f in listed for p in Path(f).parents}
    for here, dirs, files in os.walk(folder, onerror=None, followlinks=False):
        rel = Path(here).relative_to(folder)
        dirs.sort()
        for name in sorted(files):
            path = (rel / name).as_posix()
            if path == MANIFEST or name in OS_LITTER or path in listed:
                continue
            return path
        keep = []
        for name in dirs:
            path = (rel / name).as_posix()
            if (Path(here) / name).is_symlink():
                if path not in listed:
                    return path
            elif path in folders:
                keep.append(name)
            else:
                return path + "/"
        dirs[:] = keep
    return None


# =========================================================================== writing


@contextmanager
def atomic_path(
    out: Path | str, force: bool = False, folder: bool = True, marker: str | None = None
) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes `out`, on failure it goes.

    A folder gets its manifest (the files written into it) just before it is moved into
    place; `marker` is the line a replaceable single file starts with (see check_free).
    """
    out = check_free(out, force, folder, marker)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _place_error(out, exc) from None
    tmp = sibling(out, "tmp")
    try:
        try:
            if folder:
                tmp.mkdir()
                _write_manifest(tmp, {"tool": TOOL, "state": "writing", **_whoami()})
        except OSError as exc:
            raise _place_error(out, exc) from None
        try:
            yield tmp
            if folder:
                _write_manifest(tmp, _final_manifest(tmp))
            move_into_place(tmp, out, force, folder, marker)
        except OSError as exc:
            if exc.errno in _USER_ERRNOS:
                raise _place_error(out, exc) from None
            raise
    except BaseException:
        remove(tmp)
        raise


def _whoami() -> dict[str, object]:
    """Which process on which machine writes a temporary folder (for clean_stale)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _final_manifest(folder: Path) -> dict[str, object]:
    # every file, and every empty folder (a folder with files is implied by them)
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_symlink() or not p.is_dir() or not any(p.iterdir())
    )
    files = [f for f in files if f != MANIFEST]
    return {
        "tool": TOOL,
        "version": __version__,
        "command": _SESSION.get().command,
        "written_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "files": files,
        "stamps": {f: s for f in files if (s := _stamp(folder / f)) is not None},
        "note": f"Written by {TOOL}. `--force` replaces this folder only while it holds "
        "nothing but the files listed here, each as it was written.",
    }


def _stamp(path: Path) -> list[int] | None:
    """Size and modification time of a regular file: what changes when someone edits it.

    (Renaming the finished folder into place keeps both; copying it elsewhere without
    keeping times makes --force refuse, which is the safe side.)
    """
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns] if stat.S_ISREG(info.st_mode) else None


def _first_changed(folder: Path) -> str | None:
    """The first file of ours that was edited after it was written (None if none was)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # read_manifest has already said what is wrong with it
    stamps = data.get("stamps") if isinstance(data, dict) else None
    if not isinstance(stamps, dict):
        return None  # written before stamps were kept: names are all there is to check
    for name in sorted(stamps):
        if _lexists(folder / name) and _stamp(folder / name) != stamps[name]:
            return name
    return None


def _write_manifest(folder: Path, data: dict[str, object]) -> None:
    (folder / MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def adopt(path: Path | str) -> None:
    """Add a file written into one of our output folders to that folder's manifest.

    (run --events can be asked to write its file inside the run's results folder; without
    this, the next --force would find it foreign and refuse.)
    """
    path = Path(path).absolute()
    for folder in path.parents:
        if (folder / MANIFEST).is_file():
            break
    else:
        return
    try:
        listed = read_manifest(folder)
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    name = path.relative_to(folder).as_posix()
    data["files"] = sorted(listed | {name})
    if isinstance(data.get("stamps"), dict) and (stamp := _stamp(path)) is not None:
        data["stamps"][name] = stamp
    tmp = sibling(folder / MANIFEST, "tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(folder / MANIFEST)
    except OSError:
        remove(tmp)


def sibling(out: Path, tag: str) -> Path:
    """A hidden name beside `out`: on the same disk, so renaming it is atomic."""
    return out.parent / f".{out.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def move_into_place(
    tmp: Path, out: Path, force: bool, folder: bool = True, marker: str | None = None
) -> None:
    """Rename the finished output to `out`; an old `out` goes only once the new one is in.

    The old one is checked again first: something may have been put into it meanwhile.
    """
    if not _lexists(out):
        tmp.rename(out)
        return
    why_not = _folder_problem(out) if folder else _file_problem(out, marker)
    if not force:  # something appeared there while we were writing
        raise exists_error(out, why_not)
    if why_not is not None:
        raise refused_error(out, why_not)
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


# =========================================================================== litter


def clean_stale(out: Path | str) -> list[Path]:
    """Remove the hidden siblings of `out` that killed runs of this tool left behind.

    Only `.NAME.tmp-PID-HEX` and `.NAME.old-PID-HEX` whose process is gone; a temporary
    folder only if it is empty or holds our manifest (and, if that names a machine, was
    written on this one); an `.old` one is put back as `out` if `out` is missing (the run
    was killed in the middle of the swap). Returns what was removed or put back.
    """
    out = Path(out)
    parent = out.parent
    done: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return done
    for entry in entries:
        m = _SIBLING.fullmatch(entry.name)
        if not m or m["name"] != out.name:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or pid_alive(pid):
            continue
        path = Path(entry.path)
        try:
            if not _ours(path, m["tag"]):
                continue
            if m["tag"] == "old" and not _lexists(out):
                path.rename(out)
            else:
                remove(path)
            done.append(path)
        except OSError:
            continue
    return done


def _ours(path: Path, tag: str) -> bool:
    """Whether a hidden sibling was written by this tool (so removing it loses nothing)."""
    if path.is_symlink():
        return False
    if path.is_file():
        return True  # a single output's temporary or old file: the full name is ours
    if not path.is_dir():
        return False
    if not any(path.iterdir()):
        return True
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return False
    host = data.get("host")
    return tag == "old" or host is None or host == socket.gethostname()
