"""Datasets kept open during a run: reused while it lasts, reopened when replaced, closed after."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

import landmask.io.read.datasets as datasets
from landmask.io.read.datasets import kept_count, kept_open, open_dataset
from landmask.io.read.reflectance import read_window


def _raster(path: Path, value: int) -> Path:
    profile = {
        "driver": "GTiff",
        "width": 8,
        "height": 6,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": Affine(10, 0, 500000, 0, -10, 5400000),
    }
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as ds:
        ds.write(np.full((1, 6, 8), value, np.uint16))
    os.replace(tmp, path)  # as landmask writes: a new file under the old name
    return path


def _open_fds(path: Path) -> int:
    """How many of this process's file descriptors are ``path``."""
    target = str(path.resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # one closed meanwhile
            count += os.readlink(f"/proc/self/fd/{fd}") == target
    return count


def test_outside_a_run_each_open_is_closed_after_its_read(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    with open_dataset(str(path)) as ds:
        assert ds.read(1)[0, 0] == 3
    assert ds.closed and kept_count() == 0 and _open_fds(path) == 0


def test_a_run_reuses_one_dataset_and_closes_it_at_its_end(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    with kept_open():
        with open_dataset(str(path)) as first:
            pass
        with open_dataset(os.path.relpath(path)) as again:  # the same file by another name
            assert again.read(1)[0, 0] == 3
        assert again is first and not first.closed and kept_count() == 1
        assert _open_fds(path) == 1
    assert first.closed and kept_count() == 0 and _open_fds(path) == 0


def test_nested_runs_close_when_the_outermost_ends(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    with kept_open():
        with kept_open(), open_dataset(str(path)) as ds:
            pass
        assert not ds.closed
        with open_dataset(str(path)) as again:
            assert again is ds
    assert ds.closed


def test_a_file_replaced_on_disk_is_opened_anew(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    with kept_open():
        assert read_window(str(path), [1], Window(0, 0, 8, 6))[0, 0, 0] == 3
        _raster(path, 7)
        assert read_window(str(path), [1], Window(0, 0, 8, 6))[0, 0, 0] == 7


def test_a_failed_read_keeps_nothing(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    with kept_open():
        with pytest.raises(ValueError, match="a read failed"), open_dataset(str(path)) as ds:
            raise ValueError("a read failed")
        assert ds.closed and kept_count() == 0


def test_two_threads_reading_one_file_at_once_get_two_datasets_and_one_is_kept(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    both = threading.Barrier(2)
    seen: list[object] = []

    def read() -> None:
        with open_dataset(str(path)) as ds:
            seen.append(ds)
            both.wait(timeout=10)  # each holds its dataset while the other opens one
            assert ds.read(1)[0, 0] == 3

    with kept_open():
        threads = [threading.Thread(target=read) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(seen) == 2 and seen[0] is not seen[1]
        assert kept_count() == datasets.KEPT_PER_FILE == 1
        assert sum(ds.closed for ds in seen) == 1  # type: ignore[attr-defined]
    assert all(ds.closed for ds in seen)  # type: ignore[attr-defined]


def test_the_least_recently_read_files_are_closed_beyond_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_KEPT", 3)
    paths = [_raster(tmp_path / f"{k}.tif", k) for k in range(5)]
    with kept_open():
        opened = []
        for p in paths:
            with open_dataset(str(p)) as ds:
                opened.append(ds)
        assert kept_count() == 3
        assert [ds.closed for ds in opened] == [True, True, False, False, False]
        assert [_open_fds(p) for p in paths] == [0, 0, 1, 1, 1]
    assert all(ds.closed for ds in opened)


def _child_state(path: str, queue) -> None:
    kept = kept_count()
    with open_dataset(path) as ds:
        pass
    queue.put((kept, ds.closed))


def test_a_forked_child_keeps_nothing_of_its_parent(tmp_path):
    path = _raster(tmp_path / "a.tif", 3)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with kept_open():
        with open_dataset(str(path)):
            pass
        child = context.Process(target=_child_state, args=(str(path), queue))
        child.start()
        state = queue.get(timeout=60)
        child.join(timeout=60)
    assert state == (0, True)  # outside any run: its reads open and close their files
