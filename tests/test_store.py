"""The replication store: what is written comes back, in any order, on any platform.

Windows has no os.pwrite/os.pread, so the store must not need them; and as Windows cannot
delete an open file, closing the store must close its file before removing the folder.
"""

from __future__ import annotations

import gc
import itertools
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import sim.runs.store
from sim.runs.store import ReplicationStore


def _data(reps: int = 37, months: int = 7, n_series: int = 5, seed: int = 3) -> np.ndarray:
    """Random figures, with a few whose bytes are CR and LF (which text mode would mangle)."""
    x = np.random.default_rng(seed).normal(size=(reps, months, n_series)) * 100
    x[0, 0, 0] = np.frombuffer(b"\r\n\r\n\r\n\r\n", dtype=np.float64)[0]
    x[-1, -1, -1] = np.frombuffer(b"\n\n\n\n\r\r\r\r", dtype=np.float64)[0]
    x[1, :, 2] = np.round(x[1, :, 2])  # whole numbers, as counts are
    return x


def _chunks(reps: int, seed: int) -> list[tuple[int, int]]:
    """(start, end) of chunks of random sizes covering 0..reps, in a random order."""
    rng = np.random.default_rng(seed)
    starts = [0]
    while starts[-1] < reps:
        starts.append(min(reps, starts[-1] + int(rng.integers(1, 9))))
    spans = list(itertools.pairwise(starts))
    rng.shuffle(spans)
    return spans


def _round_trip(tmp_path: Path, seed: int) -> None:
    data = _data(seed=seed)
    reps, months, n_series = data.shape
    store = ReplicationStore(reps, months, n_series, directory=tmp_path)
    try:
        for start, end in _chunks(reps, seed):
            store.write(start, data[start:end])
        assert store.shape == data.shape
        whole = store.to_array()
        assert whole.tobytes() == data.tobytes()  # bit for bit, not just close
        for s in range(n_series):
            x = store.series(s)
            assert x.shape == (reps, months)
            assert x.tobytes() == np.ascontiguousarray(data[:, :, s]).tobytes()
            x += 1  # callers get their own writable copy
        assert store.series(0).tobytes() == np.ascontiguousarray(data[:, :, 0]).tobytes()
        for r0, r1 in [(0, 1), (5, 6), (3, 20), (-4, 10), (30, 99), (0, reps), (reps, reps)]:
            block = store.rep_block(r0, r1)
            assert block.tobytes() == data[max(0, r0) : min(reps, r1)].tobytes()
    finally:
        store.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_data_written_in_any_chunk_order_comes_back(tmp_path: Path, seed: int) -> None:
    _round_trip(tmp_path, seed)


def test_the_store_needs_no_pwrite_or_pread(tmp_path: Path, monkeypatch) -> None:
    # As on Windows, which has none of these.
    for name in ("pwrite", "pread", "pwritev", "preadv"):
        monkeypatch.delattr(os, name, raising=False)
    _round_trip(tmp_path, 4)
    store = pickle.loads(pickle.dumps(ReplicationStore.from_array(_data(seed=5))))
    try:
        assert store.to_array().tobytes() == _data(seed=5).tobytes()
    finally:
        store.close()


def test_a_write_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    store = ReplicationStore(4, 3, 2, directory=tmp_path)
    try:
        store.write(2, np.zeros((0, 3, 2)))  # an empty block is no write at all
        for start, block in [
            (3, np.zeros((2, 3, 2))),
            (-1, np.zeros((1, 3, 2))),
            (0, np.zeros((1, 4, 2))),
            (0, np.zeros((1, 3, 1))),
        ]:
            with pytest.raises(ValueError, match="does not fit"):
                store.write(start, block)
        assert store.to_array().tobytes() == np.zeros((4, 3, 2)).tobytes()  # unwritten: zero
    finally:
        store.close()


def test_a_closed_store_removes_its_folder(tmp_path: Path) -> None:
    store = ReplicationStore(10, 4, 3, directory=tmp_path)
    store.write(0, _data(10, 4, 3))
    folder = Path(store.folder)
    assert folder.parent == tmp_path and folder.name.startswith(f"sufficiency-{os.getpid()}-")
    assert os.path.getsize(store.path) == 10 * 4 * 3 * 8
    assert not store.closed
    store.close()
    assert store.closed and not folder.exists()
    assert list(tmp_path.iterdir()) == []
    store.close()  # twice is harmless


def test_a_forgotten_store_removes_its_folder(tmp_path: Path) -> None:
    store = ReplicationStore(10, 4, 3, directory=tmp_path)
    store.write(0, _data(10, 4, 3))
    folder = Path(store.folder)
    del store
    gc.collect()
    assert not folder.exists()


def test_the_file_is_closed_before_its_folder_is_removed(tmp_path: Path, monkeypatch) -> None:
    # Windows cannot delete an open file, and rmtree(ignore_errors=True) would hide that.
    store = ReplicationStore(5, 2, 2, directory=tmp_path)
    seen: list[bool] = []
    rmtree = sim.runs.store.shutil.rmtree

    def checked(path: str, *args: object, **kwargs: object) -> None:
        seen.append(store._file.closed)
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(sim.runs.store.shutil, "rmtree", checked)
    store.close()
    assert seen == [True]
    assert list(tmp_path.iterdir()) == []
