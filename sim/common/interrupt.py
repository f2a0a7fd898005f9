"""Stop cleanly when asked to stop, and never leave worker processes behind.

`timeout`, cron, systemd and job schedulers stop a program with SIGTERM (a closed
terminal sends SIGHUP). Python's default for both is to die on the spot: no `finally`
runs, so the hidden half-written output folder stays beside the destination and the
worker processes lose their parent and wait on a pipe for ever. `stop_cleanly` turns
these signals into `Terminated`, a KeyboardInterrupt, so they take exactly the path
Ctrl-C takes: temporary files removed, workers stopped, one message. The exit status
stays the conventional 128 + signal number (130 for Ctrl-C, 143 for SIGTERM), so the
caller still sees that the command was stopped by a signal.

`die_with_parent` runs first in every worker process: the worker is killed as soon as
its parent dies, even when the parent is killed with SIGKILL and can clean up nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Signals that mean "stop now" and are turned into Terminated (those this system has).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by a signal other than Ctrl-C's SIGINT."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@contextmanager
def stop_cleanly() -> Iterator[None]:
    """Within this block, SIGTERM and SIGHUP raise Terminated in the main thread.

    Only signals still at their default action are taken over: a signal the caller
    ignores (`nohup`) or handles itself is left alone. A second signal while the first
    is being cleaned up is ignored, so the cleanup can finish; SIGKILL still works.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    stopping = False
    owner = os.getpid()

    def handler(signum: int, frame: object) -> None:
        nonlocal stopping
        if os.getpid() != owner:
            # a child started by fork that has not yet reset its handlers (a worker
            # between its start and `die_with_parent`): do what the default would do
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if stopping:
            return
        stopping = True
        raise Terminated(signum)

    previous = {}
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def exit_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a command killed by it."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def describe(exc: KeyboardInterrupt) -> str:
    """' by SIGTERM' for a stop signal, '' for Ctrl-C (for the 'interrupted' message)."""
    signum = getattr(exc, "signum", None)
    return f" by {signal.Signals(signum).name}" if signum is not None else ""


def die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the process `parent` (the one that started us) dies.

    On Linux the kernel sends SIGKILL to the worker when its parent exits, however the
    parent ended; elsewhere a daemon thread checks the parent every second. The signals
    the parent handles are given back their defaults (a worker started by fork inherits
    the parent's handlers): SIGTERM and SIGHUP end a worker at once, and Ctrl-C, which the
    terminal sends to the workers too, is left to the parent, which stops them itself.
    """
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _kernel_kills_us_with_parent():
        _watch_parent(os.getppid())
    if not pid_alive(parent):  # it died before we could watch it
        os._exit(1)


def _kernel_kills_us_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(ppid: int) -> None:
    """The portable fallback: a daemon thread that ends the process once it is orphaned."""

    def watch() -> None:
        while os.getppid() == ppid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (ours or another user's)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send Ctrl-C there: assume alive (the safe side)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    except OSError:
        return True  # cannot tell: assume alive, which is the safe side
    return True
