"""Replications kept on disk, so that a run's memory does not grow with its replications.

A run of many replications produces a (replications, months, series) array that can be
far larger than the rest of the program; held in memory it made 10,000 replications use
eight times the memory of 100. The store keeps it in a preallocated file instead, laid out
series-major (float64 at offset `((s * reps) + r) * months`), so that what the report
reads most, one series of every replication, is one contiguous read. The file lives in
its own temporary folder, removed when the store is closed or garbage-collected.

It is read and written through an unbuffered file object (seek, write, readinto), which
works alike on Windows, macOS and Linux: Windows has no `os.pwrite`/`os.pread`. A memory
map would be portable too, but its touched pages count as the process's memory (10,000
replications would again cost the whole array) and Windows cannot delete a mapped file.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..common.interrupt import pid_alive

_ITEM = np.dtype(np.float64).itemsize


_PREFIX = "sufficiency-"
_FILE = "replications.f64"
_STALE = re.compile(re.escape(_PREFIX) + r"(\d+)-\w+")


def clean_stale_stores(directory: str | Path | None = None) -> list[str]:
    """Remove stores that killed runs left in the temporary folder; return their paths.

    Only folders named like ours whose process is gone and that hold nothing but a store
    file: another user's or a live run's are left alone.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory or tempfile.gettempdir()))
    except OSError:
        return removed
    for entry in entries:
        m = _STALE.fullmatch(entry.name)
        if not m or int(m[1]) == os.getpid() or pid_alive(int(m[1])):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or not set(os.listdir(entry.path)) <= {
                _FILE
            }:
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _remove(file: io.FileIO, folder: str) -> None:
    """Close the file, then delete its folder (run once, by `weakref.finalize`).

    Closing first matters on Windows, where an open file cannot be deleted.
    """
    try:
        file.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _private(path: str, flags: int) -> int:
    """Open with permissions 0o600: the runs' figures are nobody else's to read."""
    return os.open(path, flags, 0o600)


class ReplicationStore:
    """A (reps, months, n_series) float64 array on disk, read one series at a time."""

    def __init__(
        self, reps: int, months: int, n_series: int, directory: str | Path | None = None
    ) -> None:
        self.reps, self.months, self.n_series = reps, months, n_series
        clean_stale_stores(directory)
        # The process id in the name lets a later run tell a killed run's store from a
        # live one's (SIGKILL leaves no chance to remove it).
        self.folder = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=directory)
        self.path = os.path.join(self.folder, _FILE)
        # Unbuffered binary file ("w+b" adds O_BINARY on Windows, so no newline
        # translation): each write or read goes straight to the file, none is kept here.
        try:
            # closed by the finalizer below, not by a `with` block
            self._file: io.FileIO = open(  # noqa: SIM115
                self.path, "w+b", buffering=0, opener=_private
            )
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        # seek-then-read is two steps where pread was one: the lock keeps them together
        # should the store ever be used from several threads.
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _remove, self._file, self.folder)
        # Preallocated without costing memory; sparse (no disk either) until written on
        # most Linux and macOS file systems.
        self._file.truncate(reps * months * n_series * _ITEM)

    @classmethod
    def from_array(cls, monthly: np.ndarray) -> ReplicationStore:
        """A store holding a (reps, months, n_series) array (used when unpickling)."""
        store = cls(*monthly.shape)
        store.write(0, monthly)
        return store

    def __reduce__(self) -> tuple[Any, tuple[np.ndarray]]:
        # An open file cannot cross processes: pickle the values themselves.
        return (ReplicationStore.from_array, (self.to_array(),))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(replications, months, series), as the array `to_array` would build."""
        return (self.reps, self.months, self.n_series)

    def _offset(self, s: int, r: int) -> int:
        return ((s * self.reps) + r) * self.months * _ITEM

    def write(self, start: int, block: np.ndarray) -> None:
        """Store replications start, start+1, ... from a (n, months, n_series) block."""
        n = block.shape[0]
        if block.shape[1:] != (self.months, self.n_series) or start < 0 or start + n > self.reps:
            raise ValueError(f"block {block.shape} at {start} does not fit store {self.shape}")
        block = np.asarray(block, dtype=np.float64)
        for s in range(self.n_series):
            slab = np.ascontiguousarray(block[:, :, s])
            self._write_at(self._offset(s, start), slab)

    def series(self, s: int) -> np.ndarray:
        """(reps, months): series s of every replication, in one read."""
        # A fresh writable array, as callers may modify what they get (as they could the
        # in-memory array); one series at most.
        out = np.empty((self.reps, self.months))
        self._read_into(self._offset(s, 0), out)
        return out

    def rep_block(self, r0: int, r1: int) -> np.ndarray:
        """(r1 - r0, months, n_series): every series of replications r0 to r1 - 1."""
        r0, r1 = max(0, r0), min(self.reps, r1)
        out = np.empty((r1 - r0, self.months, self.n_series))
        part = np.empty((r1 - r0, self.months))  # one series' slab, reused
        for s in range(self.n_series):
            self._read_into(self._offset(s, r0), part)
            out[:, :, s] = part
        return out

    def to_array(self) -> np.ndarray:
        """The whole (reps, months, n_series) array in memory: for small runs only."""
        return self.rep_block(0, self.reps)

    def close(self) -> None:
        """Delete the file now rather than when the store is garbage-collected."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether the store's file and folder are gone (closed, or collected)."""
        return not self._finalizer.alive

    def _write_at(self, offset: int, values: np.ndarray) -> None:
        """Write a C-contiguous float64 array at `offset` bytes (portable pwrite)."""
        if not values.size:
            return  # nothing to write (and an empty view cannot be cast)
        view = values.data.cast("B")
        with self._lock:
            self._file.seek(offset)
            while view:
                n = self._file.write(view)  # a short write is legal: write the rest
                view = view[n:]

    def _read_into(self, offset: int, out: np.ndarray) -> None:
        """Fill a C-contiguous float64 array from `offset` bytes (portable pread)."""
        if not out.size:
            return
        view = out.data.cast("B")
        with self._lock:
            self._file.seek(offset)
            while view:
                n = self._file.readinto(view)  # a short read is legal; rare for files
                if not n:
                    raise OSError(f"replication store {self.path} is shorter than expected")
                view = view[n:]
