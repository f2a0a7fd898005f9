"""Outputs never destroy what the tool did not write, and a stopped run leaves nothing behind.

* `--force` replaces only a folder that carries the tool's manifest and nothing else; a
  user's folder, a file dropped into an old output, the current folder, a folder holding
  the inputs are refused with exit status 2 before any work, and survive.
* An output that cannot be written at all (/proc/nope, /dev/null/x) is one message, not a
  traceback.
* SIGTERM stops a run like Ctrl-C: message, exit 143, no temporary folder, no worker
  process left; SIGKILL of the parent takes its workers with it.
* Hidden temporary folders of killed runs are removed by the next run.

The signal tests run the real command line in a subprocess and find its workers in /proc.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, RUN_OUTPUTS, cli

from sim.common.errors import UserError
from sim.common.interrupt import Terminated, stop_cleanly
from sim.common.outputs import MANIFEST, OutputRefusedError, atomic_path, check_free, clean_stale
from sim.runs.store import clean_stale_stores

BASELINE = ROOT / "scenarios" / "darlington" / "baseline.toml"
OPTION = ROOT / "scenarios" / "darlington" / "foster-plus-10.toml"
DATA_903 = ROOT / "calibration" / "synthetic-903"
QUICK = ("--years", "1", "--reps", "2", "--quiet")
#: long enough on 2 workers to be stopped while the workers run
SLOW = ("--years", "2", "--reps", "400", "--workers", "2", "--quiet")
HAS_PROC = Path("/proc/self/stat").exists()
WAIT = 30.0  # seconds to wait for something that should happen at once (never asserted)


def _user_folder(path: Path) -> Path:
    """A folder of the user's, like the one the issue's --force deleted."""
    (path / "Documents").mkdir(parents=True)
    (path / "precious.txt").write_text("mine")
    (path / "Documents" / "paper.docx").write_bytes(b"mine too")
    return path


def _intact(path: Path) -> bool:
    return (path / "precious.txt").read_text() == "mine" and (
        path / "Documents" / "paper.docx"
    ).read_bytes() == b"mine too"


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# =========================================================================== --force


@pytest.mark.parametrize(
    "command",
    [
        ("run", str(BASELINE), *QUICK),
        ("compare", str(BASELINE), str(OPTION), *QUICK),
        ("sweep", str(BASELINE), "--vary", "entries.per_year=90,100", *QUICK),
        ("synth903", str(BASELINE), "--years", "1"),
        ("backtest", str(DATA_903), "--train-until", "2021-03-31", "--reps", "2", "--quiet"),
    ],
    ids=lambda c: c[0],
)
def test_force_refuses_a_folder_the_tool_did_not_write(tmp_path: Path, command: tuple) -> None:
    folder = _user_folder(tmp_path / "somefolder")
    proc = cli(*command, "--out", str(folder), "--force")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(folder) in proc.stderr and MANIFEST in proc.stderr
    assert _intact(folder)
    assert _hidden(tmp_path) == []


def test_force_refuses_an_old_output_with_a_file_dropped_into_it(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert cli("run", str(BASELINE), *QUICK, "--out", str(out)).returncode == 0
    (out / "Documents").mkdir()
    (out / "Documents" / "paper.docx").write_bytes(b"mine")
    proc = cli("run", str(BASELINE), *QUICK, "--out", str(out), "--force")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Documents/" in proc.stderr  # the message names what would have been lost
    assert (out / "Documents" / "paper.docx").read_bytes() == b"mine"
    assert all((out / name).exists() for name in RUN_OUTPUTS)
    assert _hidden(tmp_path) == []


def test_force_replaces_an_earlier_output_of_the_tool(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert cli("run", str(BASELINE), *QUICK, "--out", str(out)).returncode == 0
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["tool"] == "sufficiency" and set(RUN_OUTPUTS) <= set(manifest["files"])
    assert manifest["command"].startswith("sufficiency run ")
    proc = cli("run", str(BASELINE), *QUICK, "--out", str(out), "--force", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["seed"] == 7
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("out", [".", ".."])
def test_the_current_folder_and_its_parents_are_refused(tmp_path: Path, out: str) -> None:
    here = _user_folder(tmp_path / "here")
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(BASELINE), *QUICK, "--out", out, "--force"],
        capture_output=True,
        text=True,
        cwd=here,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "current folder" in proc.stderr
    assert _intact(here)


def test_a_folder_holding_the_scenario_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert cli("run", str(BASELINE), *QUICK, "--out", str(out)).returncode == 0
    # the run's own copy of the scenario, run again into the same folder
    proc = cli("run", str(out / "scenario.toml"), *QUICK, "--out", str(out), "--force")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "input" in proc.stderr
    assert (out / "scenario.toml").exists()


def test_the_home_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _user_folder(tmp_path / "home")
    (home / MANIFEST).write_text(json.dumps({"tool": "sufficiency", "files": []}))
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(OutputRefusedError, match="home"):
        check_free(home, force=True)
    assert _intact(home)


@pytest.mark.parametrize("out", ["/proc/nope", "/dev/null/x"])
def test_an_impossible_output_is_one_message(out: str) -> None:
    if not Path(out).parent.exists():
        pytest.skip(f"no {Path(out).parent} here")
    proc = cli("run", str(BASELINE), *QUICK, "--out", out, "--force")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and out in proc.stderr


def test_events_file_of_the_user_is_not_overwritten(tmp_path: Path) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("my,notes\n")
    for force in ((), ("--force",)):
        proc = cli("run", str(BASELINE), *QUICK, "--out", str(tmp_path / "r"), "--events",
                   str(notes), *force)  # fmt: skip
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert notes.read_text() == "my,notes\n"
    assert not (tmp_path / "r").exists()


def test_calibrate_replaces_only_a_scenario_it_wrote(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(BASELINE.read_text(encoding="utf-8"), encoding="utf-8")
    args = ("calibrate", str(DATA_903), "--at", "2021-03-31", "--out", str(mine), "--force")
    proc = cli(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert mine.read_text(encoding="utf-8") == BASELINE.read_text(encoding="utf-8")
    assert not (tmp_path / "mine_calibration").exists()


# =========================================================================== signals


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name, or None if there is no process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _children(pid: int) -> dict[int, str]:
    """Living child processes of `pid`: their ids and start times (to tell a reused id)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid and fields[0] not in "ZX":
                found[int(entry)] = fields[19]
    return found


def _gone(pid: int, started: str) -> bool:
    """Exited: no such process, a zombie nobody reaps yet, or the id is someone else's."""
    fields = _stat(pid)
    return fields is None or fields[0] in "ZX" or fields[19] != started


def _start_run(tmp_path: Path, out: Path) -> tuple[subprocess.Popen[bytes], dict[int, str]]:
    """Start a slow run; return it once its two workers exist, with the workers.

    Its output goes to files, not pipes: workers left alive would hold a pipe open.
    """
    store = tmp_path / "tmpdir"  # the run's temporary store, to see it removed
    store.mkdir(exist_ok=True)
    with (tmp_path / "stderr.txt").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "run", str(BASELINE), *SLOW, "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=ROOT,
            env={**os.environ, "TMPDIR": str(store)},
        )
    deadline = time.monotonic() + WAIT
    workers: dict[int, str] = {}
    while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = _children(proc.pid)
    if len(workers) < 2:
        _stop(proc, workers)
        pytest.fail(f"no workers started: {_stderr(tmp_path)}")
    return proc, workers


def _stderr(tmp_path: Path) -> str:
    return (tmp_path / "stderr.txt").read_text(encoding="utf-8", errors="replace")


def _stop(proc: subprocess.Popen[bytes], workers: dict[int, str]) -> None:
    """Leave nothing running, whatever the test found."""
    proc.kill()
    proc.wait(WAIT)
    for pid, started in workers.items():
        if not _gone(pid, started):
            os.kill(pid, signal.SIGKILL)


def _wait_gone(workers: dict[int, str]) -> list[int]:
    """The workers still alive after waiting up to WAIT seconds for them to exit."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        alive = [pid for pid, started in workers.items() if not _gone(pid, started)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc to find the worker processes")
def test_sigterm_stops_a_run_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc, workers = _start_run(tmp_path, out)
    try:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(WAIT)
        leftover = _wait_gone(workers)
    finally:
        _stop(proc, workers)
    stderr = _stderr(tmp_path)
    assert code == 128 + signal.SIGTERM, stderr
    assert "interrupted" in stderr and "no results were written" in stderr
    assert "Traceback" not in stderr
    assert leftover == [], f"workers left running: {leftover}"
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert list((tmp_path / "tmpdir").iterdir()) == []  # the replication store went too


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc to find the worker processes")
def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    proc, workers = _start_run(tmp_path, tmp_path / "out")
    try:
        proc.kill()  # SIGKILL: the parent can clean up nothing
        proc.wait(WAIT)
        leftover = _wait_gone(workers)
    finally:
        _stop(proc, workers)
    assert leftover == [], f"workers outlived their parent: {leftover}"
    # The killed run's replication store is litter too: the next run's store removes it.
    stores = list((tmp_path / "tmpdir").iterdir())
    assert stores, "the killed run left no store (the test did not test anything)"
    assert sorted(clean_stale_stores(tmp_path / "tmpdir")) == sorted(map(str, stores))
    assert list((tmp_path / "tmpdir").iterdir()) == []


def test_a_live_or_foreign_store_is_never_removed(tmp_path: Path) -> None:
    live = tmp_path / f"sufficiency-{os.getppid()}-abc"  # a process that is running
    live.mkdir()
    (live / "replications.f64").write_bytes(b"")
    foreign = tmp_path / f"sufficiency-{_dead_pid()}-abc"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("mine")
    dead = tmp_path / f"sufficiency-{_dead_pid()}-xyz"
    dead.mkdir()
    (dead / "replications.f64").write_bytes(b"0" * 8)
    assert clean_stale_stores(tmp_path) == [str(dead)]
    assert live.exists() and (foreign / "thesis.docx").exists()


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc to find the worker processes")
def test_a_worker_killed_from_outside_is_one_message(tmp_path: Path) -> None:
    # What the kernel's out-of-memory killer does to one worker: the run cannot finish,
    # which is not a bug of the tool, so one message, exit 1, nothing half-written.
    out = tmp_path / "out"
    proc, workers = _start_run(tmp_path, out)
    try:
        os.kill(next(iter(workers)), signal.SIGKILL)
        code = proc.wait(WAIT)
        leftover = _wait_gone(workers)
    finally:
        _stop(proc, workers)
    stderr = _stderr(tmp_path)
    assert code == 1, stderr
    assert "worker process stopped" in stderr and "Traceback" not in stderr
    assert leftover == []
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


@pytest.mark.skipif(
    signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL,
    reason="something in this test process handles SIGTERM already",
)
def test_sigterm_while_writing_removes_the_partial_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(Terminated), stop_cleanly(), atomic_path(out) as tmp:
        (tmp / "half.csv").write_text("half")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(WAIT)  # the handler interrupts this
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # given back afterwards


# =========================================================================== litter


def _dead_pid() -> int:
    """The id of a process that has exited (and, a moment later, not yet been reused)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temp(parent: Path, name: str, pid: int, tag: str = "tmp", manifest: bool = True) -> Path:
    path = parent / f".{name}.{tag}-{pid}-{os.urandom(4).hex()}"
    path.mkdir()
    (path / "yearly.csv").write_text("half")
    if manifest:
        info = {"tool": "sufficiency", "state": "writing", "pid": pid,
                "host": socket.gethostname()}  # fmt: skip
        (path / MANIFEST).write_text(json.dumps(info))
    return path


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = _temp(tmp_path, "r", dead)
    foreign = _temp(tmp_path, "r", dead, manifest=False)  # not ours: kept
    live = _temp(tmp_path, "r", os.getpid())  # a run still writing: kept
    other = _temp(tmp_path, "other", dead)  # beside another output: not this run's business
    proc = cli("run", str(BASELINE), *QUICK, "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert foreign.exists() and live.exists() and other.exists()


def test_an_interrupted_swap_is_undone(tmp_path: Path) -> None:
    """Killed between moving the old output aside and the new one in: the old one returns."""
    out = tmp_path / "r"
    old = _temp(tmp_path, "r", _dead_pid(), tag="old")
    assert clean_stale(out) == [old]
    assert (out / "yearly.csv").read_text() == "half" and not old.exists()


def test_force_takes_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="--force"):
        check_free(tmp_path / "empty", force=False)
    assert check_free(tmp_path / "empty", force=True) == tmp_path / "empty"


def test_refusals_are_user_errors(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path / "f")
    with pytest.raises(UserError, match="precious.txt|" + MANIFEST):
        check_free(folder, force=True)


def test_force_never_replaces_a_file_that_an_input_extends(tmp_path: Path) -> None:
    # Only the files named on the command line were protected: an option extending a
    # scenario inside the old output folder lost its base to --force (issue 12 re-test).
    prev = tmp_path / "prev"
    assert cli("run", str(BASELINE), *QUICK, "--out", str(prev)).returncode == 0
    child = tmp_path / "child.toml"
    child.write_text('extends = "prev/scenario.toml"\n[scenario]\nname = "child"\n')
    for command in (("run", str(child)), ("compare", str(child), str(OPTION))):
        proc = cli(*command, *QUICK, "--out", str(prev), "--force")
        assert proc.returncode == 2, proc.stderr
        assert "scenario.toml" in proc.stderr and "input" in proc.stderr
        assert (prev / "scenario.toml").is_file()


def test_force_refuses_an_output_whose_file_was_edited(tmp_path: Path) -> None:
    # A file the tool wrote and the user then edited (notes added to summary.md) is the
    # user's work now: the manifest's sizes and times tell it from an untouched one.
    out = tmp_path / "r"
    assert cli("run", str(BASELINE), *QUICK, "--out", str(out)).returncode == 0
    with (out / "summary.md").open("a", encoding="utf-8") as fh:
        fh.write("\nMY NOTES for the board\n")
    proc = cli("run", str(BASELINE), *QUICK, "--out", str(out), "--force")
    assert proc.returncode == 2 and "summary.md was changed" in proc.stderr, proc.stderr
    assert "MY NOTES" in (out / "summary.md").read_text(encoding="utf-8")
