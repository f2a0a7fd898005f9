"""The files a command has read, so that no output of the same command can replace them.

`--force` must never delete an input: not only the files named on the command line but
every file they lead to (a scenario's `extends` chain, a sweep's grid file). The readers
note each file here as they open it; `outputs` refuses an output that is, or holds, one.
A small module of its own so that the scenario layer can note what it reads without
depending on the output code.
"""

from __future__ import annotations

import contextvars
from pathlib import Path

_READ: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "sufficiency_inputs_read", default=()
)


def note(path: Path | str) -> None:
    """Remember that this command read `path` (an absolute path, links resolved)."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):
        real = Path(path).absolute()
    if real not in _READ.get():
        _READ.set((*_READ.get(), real))


def read() -> tuple[Path, ...]:
    """Every file noted so far in this command (or since `forget`)."""
    return _READ.get()


def forget() -> contextvars.Token[tuple[Path, ...]]:
    """Start a new command's list; give the token to `restore` when it ends."""
    return _READ.set(())


def restore(token: contextvars.Token[tuple[Path, ...]]) -> None:
    """Go back to the list of files read before `forget` (when a command ends)."""
    _READ.reset(token)
