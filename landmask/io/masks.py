"""Reading rasters that are not scenes: class masks and plain images, lazily.

Both readers open the file once for its metadata (rioxarray gives the
coordinates and attributes), then read it chunk by chunk through
:class:`FileArray`: each chunk task opens the path (never an open dataset travels)
and reads its window, chunks aligned to the file's tiles, and a read that fails
(a truncated or corrupt file) is one :class:`~landmask.errors.ReadError` naming
the file and the window. They record how they read it (``encoding["landmask_read"]``), so that
:func:`file_window` can tell a plain read (or a window of one) from a derived
array without looking into the Dask graph.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import dask.array as da
import numpy as np
import rasterio
import rioxarray
import xarray as xr
from dask.base import tokenize
from rasterio.errors import RasterioError
from rasterio.windows import Window

from landmask.classes import check_mask
from landmask.errors import InputError, ReadError
from landmask.io.reflectance import read_window

__all__ = ["FileArray", "file_window", "open_image", "open_mask"]

#: ``encoding`` key: ``(opener, path, chunk_size)`` of a read by this module
_READ = "landmask_read"


@contextlib.contextmanager
def _header(path: str) -> Iterator[rasterio.io.DatasetReader]:
    """The raster open for its metadata; one line (:class:`ReadError`) if it cannot be read."""
    try:
        with rasterio.open(path) as ds:
            yield ds
    except RasterioError:
        if not Path(path).exists():
            raise ReadError(f"{path}: no such file") from None
        raise ReadError(f"{path}: cannot open as a raster") from None


class FileArray:
    """The ``(band, y, x)`` values of a raster file as an array Dask reads window by window.

    Holds only the path, shape and dtype, so it travels to workers as such;
    ``[bands, rows, cols]`` (slices) opens the file and reads that window with
    :func:`~landmask.io.reflectance.read_window`, whose failures name the file
    and the window.
    """

    def __init__(self, path: str, shape: tuple[int, int, int], dtype: Any) -> None:
        self.path, self.shape, self.dtype = path, shape, np.dtype(dtype)
        self.ndim = 3

    def __getitem__(self, key: tuple[slice | int, ...]) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (3 - len(tuple(key)))
        drop = tuple(axis for axis, k in enumerate(key) if isinstance(k, int | np.integer))
        if drop:  # an integer index: that axis read as one element, then dropped
            spans = [
                k if isinstance(k, slice) else slice(int(k) % n, int(k) % n + 1)
                for n, k in zip(self.shape, key, strict=True)
            ]
            return self[tuple(spans)].squeeze(axis=drop)
        bands, rows, cols = (range(n)[cast(slice, k)] for n, k in zip(self.shape, key, strict=True))
        if not (len(bands) and len(rows) and len(cols)):
            return np.empty((len(bands), len(rows), len(cols)), dtype=self.dtype)
        if rows.step != 1 or cols.step != 1:  # not a Dask chunk: read the bounding window
            r0, c0 = min(rows), min(cols)
            window = Window(c0, r0, max(cols) + 1 - c0, max(rows) + 1 - r0)
            full = read_window(self.path, [b + 1 for b in bands], window)
            return full[:, np.asarray(rows) - r0][:, :, np.asarray(cols) - c0]
        window = Window(cols.start, rows.start, len(cols), len(rows))
        return read_window(self.path, [b + 1 for b in bands], window)

    def __repr__(self) -> str:
        return f"FileArray({self.path!r}, {self.shape}, {self.dtype})"


def _lazy_read(path: str, ds: rasterio.io.DatasetReader, step: int, kind: str) -> xr.DataArray:
    """The file as rioxarray describes it, its values read through :class:`FileArray`.

    The Dask name is deterministic: the same file (path, size, mtime) read with
    the same chunks gives the same array, as :func:`file_window` needs.
    """
    shape = (ds.count, ds.height, ds.width)
    stat = os.stat(path)
    band_chunk = 1 if kind == "open_mask" else ds.count
    data = da.from_array(
        FileArray(path, shape, ds.dtypes[0]),
        chunks=(band_chunk, step, step),
        name=f"{kind}-{tokenize(path, stat.st_size, stat.st_mtime_ns, step, shape)}",
        meta=np.empty((0, 0, 0), dtype=ds.dtypes[0]),
    )
    arr = rioxarray.open_rasterio(path, lock=False, cache=False)
    assert isinstance(arr, xr.DataArray)
    return arr.copy(data=data)


def _step(block: tuple[int, int], chunk_size: int) -> int:
    """A chunk side made of whole file blocks, close to ``chunk_size``."""
    return max(block[0], round(chunk_size / block[0]) * block[0]) if block[0] > 1 else chunk_size


def open_mask(path: str | os.PathLike[str], chunk_size: int | None = None) -> xr.DataArray:
    """Open a single-band uint8 mask lazily as a ``(y, x)`` DataArray.

    Raises :class:`~landmask.errors.InputError` for a raster that is not a mask.
    """
    p = os.path.abspath(os.fspath(path))
    with _header(p) as ds:
        check_mask(ds, p)
        step = _step(ds.block_shapes[0], chunk_size or 2048)
        arr = _lazy_read(p, ds, step, "open_mask")
    mask = arr.squeeze("band", drop=True).assign_attrs(sources=[p])
    mask.encoding[_READ] = ("open_mask", p, chunk_size)
    return mask


def open_image(path: str | os.PathLike[str], chunk_size: int | None = None) -> xr.DataArray:
    """Open any raster lazily as ``(band, y, x)`` in its own dtype, ``chunk_size`` px chunks."""
    p = os.path.abspath(os.fspath(path))
    with _header(p) as ds:
        step = _step(ds.block_shapes[0], chunk_size or 1024)
        arr = _lazy_read(p, ds, step, "open_image")
    image = arr.assign_attrs(sources=[p])
    image.encoding[_READ] = ("open_image", p, chunk_size)
    return image


def file_window(arr: xr.DataArray) -> tuple[str, int, Window] | None:
    """``(path, band, window)`` when ``arr`` is one band of a file read as it is.

    That is a ``(y, x)`` DataArray from :func:`open_mask` (or one band of
    :func:`open_image`), or a window of it by one whole-pixel selection
    (``isel``, ``sel`` or ``[...]``), renamed or given other attributes but
    with the values the file holds. The file is opened again the same way and
    the read selected by that window; only when the result is the very same
    Dask array (same deterministic name: same file, mtime, chunks and
    selection) is ``arr`` a plain read. Anything computed from it gives None.
    """
    record = arr.encoding.get(_READ)
    if arr.ndim != 2 or not isinstance(arr.data, da.Array) or not record:
        return None
    opener, path, chunk_size = record
    try:
        base = (open_mask if opener == "open_mask" else open_image)(path, chunk_size)
    except InputError:
        return None  # gone or changed since
    mine, theirs = arr.rio.transform(recalc=True), base.rio.transform()
    if (mine.a, mine.b, mine.d, mine.e) != (theirs.a, theirs.b, theirs.d, theirs.e):
        return None
    col, row = ~theirs * (mine.c, mine.f)
    if not (float(col).is_integer() and float(row).is_integer()):
        return None
    height, width = arr.shape
    rows, cols = slice(int(row), int(row) + height), slice(int(col), int(col) + width)
    band = 1
    candidates: list[Any]
    if base.ndim == 2:
        candidates = [base.data[rows, cols]]
    else:
        if "band" in arr.coords:
            band = int(arr["band"].item())
        elif base.shape[0] != 1:
            return None
        bands = [int(b) for b in base["band"].values]
        if band not in bands:
            return None
        k = bands.index(band)
        candidates = [base.data[k, rows, cols], base.data[k][rows, cols]]
    if not any(c.name == arr.data.name for c in candidates):
        return None
    return path, band, Window(int(col), int(row), width, height)
