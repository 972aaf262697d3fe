"""The library leaves process-wide state alone: backends, warning filters, child processes."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import warnings

import dask
import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from conftest import TRANSFORM, as_mask
from rasterio.errors import NotGeoreferencedWarning

from landmask.io.write.rasters import write_mask


def _pixel_grid_mask(data: np.ndarray) -> xr.DataArray:
    """A mask in pixel coordinates: no CRS, identity transform (--allow-ungeoreferenced)."""
    h, w = data.shape
    coords = {"y": np.arange(h) + 0.5, "x": np.arange(w) + 0.5}
    return xr.DataArray(da.from_array(data, chunks=300), dims=("y", "x"), coords=coords)


def _data(size: int = 1100) -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.choice(np.array([0, 1, 3, 255], np.uint8), size=(size, size))


def test_preview_leaves_the_backend_and_pyplot_alone(tmp_path):
    path = write_mask(as_mask(_data(300)), tmp_path / "m.tif").path
    code = (
        "import sys, matplotlib; matplotlib.use('svg')\n"
        "from landmask.viz.preview import write_preview\n"
        f"write_preview({str(path)!r}, {str(tmp_path / 'p.png')!r})\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["svg", "False"]
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_preview_in_process_keeps_pyplot_figures(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    from landmask.viz.preview import write_preview

    path = write_mask(as_mask(_data(300)), tmp_path / "m.tif").path
    fig = plt.figure()
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    write_preview(path, tmp_path / "p.png")
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures
    plt.close(fig)


@pytest.mark.parametrize("georeferenced", [True, False], ids=["utm", "pixel-grid"])
def test_a_write_raises_no_warning_and_leaves_the_filters_alone(tmp_path, georeferenced):
    data = _data()
    mask = as_mask(data, chunks=300) if georeferenced else _pixel_grid_mask(data)
    out = tmp_path / "m.tif"
    seen: list[bool] = []
    errors: list[BaseException] = []
    with warnings.catch_warnings():
        # in every thread: a NotGeoreferencedWarning anywhere in the write is an error
        warnings.simplefilter("error", NotGeoreferencedWarning)
        before = list(warnings.filters)

        def write() -> None:
            try:
                write_mask(mask, out)
            except BaseException as exc:  # reported below
                errors.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        while writer.is_alive():  # the write's threads never touch the filters
            seen.append(warnings.filters == before)
            writer.join(0.002)
        assert warnings.filters == before
    assert errors == [] and seen and all(seen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(out) as ds:
            np.testing.assert_array_equal(ds.read(1), data)
            assert ds.overviews(1) == [2, 4]
            if georeferenced:
                assert ds.crs is not None and ds.transform == TRANSFORM
            else:
                assert ds.crs is None and ds.transform == Affine.identity()


def _managers() -> list[str]:
    return [p.name for p in multiprocessing.active_children() if "Manager" in p.name]


def test_no_manager_process_outlives_a_write_under_the_processes_scheduler(tmp_path):
    data = _data(700)
    assert _managers() == []
    with dask.config.set(scheduler="processes", num_workers=2):
        result = write_mask(as_mask(data, chunks=256), tmp_path / "m.tif")
    assert _managers() == []
    with rasterio.open(result.path) as ds:
        np.testing.assert_array_equal(ds.read(1), data)
    values, counts = np.unique(data, return_counts=True)
    assert result.counts == dict(zip(values.tolist(), counts.tolist(), strict=True))


def test_cancelled_cluster_gathers_are_not_logged_after_the_one_line(caplog):
    """Ctrl-C on a cluster: asyncio's "Task exception was never retrieved" for distributed's
    AllExit is dropped; any other asyncio error still shows."""
    import logging

    from distributed.client import AllExit

    from landmask._runtime.schedulers import quiet_dask_logs

    quiet_dask_logs()
    quiet_dask_logs()  # idempotent: one filter
    log = logging.getLogger("asyncio")
    assert sum(type(f).__name__ == "_GatherCancelled" for f in log.filters) == 1
    caplog.set_level(logging.ERROR, logger="asyncio")
    for exc in (AllExit(), RuntimeError("real")):
        try:
            raise exc
        except BaseException as caught:
            log.error("Task exception was never retrieved", exc_info=caught)
    messages = [r.exc_info[1] for r in caplog.records if r.name == "asyncio"]
    assert [type(m).__name__ for m in messages] == ["RuntimeError"]


def test_a_spent_signal_does_not_stop_later_library_calls():
    """A SIGTERM that stopped one in-process command left STOP set; process pools and COG
    writes called afterwards through the API raised Interrupted at the end of their
    signals_deferred block (the suite died of a stray SIGTERM after test_hazards)."""
    import os
    import signal

    from landmask._runtime.signals import (
        Interrupted,
        check_stop,
        handling_signals,
        signals_deferred,
    )

    with pytest.raises(Interrupted), handling_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes of the main thread
            check_stop()
    check_stop()  # the command is over: nothing raised
    with signals_deferred():
        pass
    with handling_signals():  # a new command starts clean
        check_stop()


def test_a_small_vectorize_on_the_processes_scheduler_starts_no_process(tmp_path, raster):
    """``landmask vectorize`` (worker processes by default) of a mask it polygonizes in its
    own process starts no process at all: no worker, and no multiprocessing resource
    tracker, which the pool's queues started as soon as the pool was made. Its own
    interpreter, since this one's tracker may be running already."""
    data = np.random.default_rng(2).integers(0, 4, size=(64, 80), dtype=np.uint8)
    mask = raster("mask.tif", data, nodata=255, blocksize=16)
    out = tmp_path / "r.gpkg"
    argv = ["vectorize", str(mask), "-o", str(out), "-q", "--chunk-size", "32"]
    # the resource tracker, once started, is a child process until this one exits
    code = (
        "import psutil\n"
        "from landmask.cli import run\n"
        f"status = run({argv!r})\n"
        "print(status, len(psutil.Process().children(recursive=True)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["0", "0"], done.stdout + done.stderr
    assert out.exists()
