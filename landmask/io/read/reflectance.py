"""Reading reflectance: one window of every band, digital numbers -> float32.

The block functions behind :func:`landmask.io.read.scene.open_scene`'s Dask array.
:class:`ReflectanceReader` holds paths and numbers only, so it pickles to any
worker; each read opens the files it needs and closes them again (during a
run, :func:`~landmask.io.read.datasets.kept_open`, each worker thread keeps
them open instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from landmask.errors import ReadError
from landmask.io.read._bands import BandSource
from landmask.io.read._grid import READ_ENV, gdal_message
from landmask.io.read.datasets import open_dataset
from landmask.io.read.resample import resample_block, source_span

__all__ = [
    "REFLECTANCE_STRIP",
    "ReflectanceReader",
    "read_error",
    "read_reflectance",
    "read_window",
    "to_reflectance",
]

#: Values per strip in :func:`to_reflectance` (256 KB of float32: within a core's L2 cache).
REFLECTANCE_STRIP = 1 << 16


class ReflectanceReader:
    """Array-like read by :func:`dask.array.from_array`: one window of every band.

    Holds paths and numbers only, so it pickles to any worker; each read opens the
    files it needs inside a ``rasterio.Env`` (:func:`read_window`).
    """

    ndim = 3
    dtype = np.dtype("float32")

    def __init__(self, sources: Sequence[BandSource], height: int, width: int) -> None:
        self.sources = tuple(sources)
        self.shape = (len(self.sources), height, width)

    def __getitem__(self, key: tuple[Any, ...]) -> np.ndarray:
        kb, ky, kx = key
        ys = range(self.shape[1])[ky]
        xs = range(self.shape[2])[kx]
        window = Window(xs.start, ys.start, len(xs), len(ys))
        picked = [self.sources[i] for i in np.atleast_1d(np.arange(self.shape[0])[kb])]
        out = read_reflectance(picked, window)
        return out[0] if np.ndim(np.arange(self.shape[0])[kb]) == 0 else out


def read_reflectance(
    sources: Sequence[BandSource], window: Window, out: np.ndarray | None = None
) -> np.ndarray:
    """Read ``window`` of each band and return float32 reflectance, nodata as NaN.

    Opens every file once for this window; costs one float32 array of the window
    per band (none when given ``out``, a ``(band, h, w)`` float32 array whose
    planes are contiguous, filled and returned) plus one raw band at a time.
    """
    h, w = int(window.height), int(window.width)
    if out is None:
        out = np.empty((len(sources), h, w), dtype=np.float32)
    by_path: dict[str, list[int]] = {}
    for k, src in enumerate(sources):
        if src.resample is not None:
            out[k] = read_resampled(src, window)
        else:
            by_path.setdefault(src.path, []).append(k)
    # no warnings.catch_warnings() here: this runs in worker threads, where
    # entering and leaving it races with other threads and loses their filters
    with rasterio.Env(**READ_ENV):
        for path, ks in by_path.items():
            raw = read_window(path, [sources[k].index for k in ks], window)
            for j, k in enumerate(ks):
                to_reflectance(
                    raw[j], sources[k].scale, sources[k].offset, sources[k].nodata, out[k]
                )
    return out


def read_window(path: str, indexes: list[int], window: Window) -> np.ndarray:
    """Raw values of bands ``indexes`` of ``path`` in ``window``; :class:`ReadError` naming both.

    The file is opened by :func:`~landmask.io.read.datasets.open_dataset`: during a run,
    once per worker thread.
    """
    try:
        with open_dataset(path) as ds:
            return ds.read(indexes, window=window)
    except RasterioError as exc:
        raise read_error(path, window, exc) from exc


def read_error(path: str, window: Window, exc: BaseException) -> ReadError:
    """The one line for a failed read of ``window`` of ``path``: file, rows, cols, GDAL's cause."""
    r0, c0 = int(window.row_off), int(window.col_off)
    where = f"rows {r0}-{r0 + int(window.height)}, cols {c0}-{c0 + int(window.width)}"
    return ReadError(f"{path}: cannot read {where} ({gdal_message(exc)})")


def read_resampled(src: BandSource, window: Window) -> np.ndarray:
    """One band on the scene grid from a file on another grid (:mod:`landmask.io.read.resample`).

    Reads only the source window the target window's pixels fall in (plus the one
    neighbour bilinear needs), converts it to reflectance, then resamples it.
    """
    plan = src.resample
    assert plan is not None
    h, w = int(window.height), int(window.width)
    rows = plan.rows(int(window.row_off), h)
    cols = plan.cols(int(window.col_off), w)
    rspan = source_span(rows, plan.src_height, plan.method)
    cspan = source_span(cols, plan.src_width, plan.method)
    if rspan is None or cspan is None:
        return np.full((h, w), np.nan, dtype=np.float32)
    src_window = Window(cspan[0], rspan[0], cspan[1] - cspan[0], rspan[1] - rspan[0])
    with rasterio.Env(**READ_ENV):
        raw = read_window(src.path, [src.index], src_window)[0]
    values = to_reflectance(raw, src.scale, src.offset, src.nodata, np.empty(raw.shape, np.float32))
    return resample_block(
        values,
        rows,
        cols,
        row_offset=rspan[0],
        col_offset=cspan[0],
        src_height=plan.src_height,
        src_width=plan.src_width,
        method=plan.method,
    )


def to_reflectance(
    raw: np.ndarray, scale: float, offset: float, nodata: float | None, out: np.ndarray
) -> np.ndarray:
    """Block function: digital numbers -> float32 reflectance, nodata -> NaN.

    Works in float32 so unsigned inputs never wrap; writes into ``out`` in
    place: one pass to scale, one to add the offset, one masked fill of
    nodata (``copyto`` with ``where``, 2x faster than boolean indexing),
    strip by strip of about :data:`REFLECTANCE_STRIP` values (whole rows), so that the three
    passes over a strip find it in the cache (a chunk's band does not fit).
    """
    fill = nodata is not None and not np.isnan(nodata)
    # compared in the raw dtype where it holds the value exactly: an integer array against
    # a Python float is compared in float64, twice the time of the whole conversion
    missing = _in_dtype(nodata, raw.dtype) if fill else nodata
    whole = raw.ndim == 0
    rows = 1 if whole else max(1, REFLECTANCE_STRIP // max(1, int(np.prod(raw.shape[1:]))))
    for start in range(0, 1 if whole else raw.shape[0], rows):
        r = raw if whole else raw[start : start + rows]
        o = out if whole else out[start : start + rows]
        np.multiply(r, np.float32(scale), out=o, dtype=np.float32, casting="unsafe")
        if offset:
            np.add(o, np.float32(offset), out=o)
        if fill:
            np.copyto(o, np.float32(np.nan), where=r == missing)
    return out


def _in_dtype(value: Any, dtype: np.dtype) -> Any:
    """``value`` as a scalar of integer ``dtype`` when that holds it exactly, else as given."""
    if dtype.kind in "iu" and float(value).is_integer():
        info = np.iinfo(dtype)
        if info.min <= value <= info.max:
            return dtype.type(int(value))
    return value
