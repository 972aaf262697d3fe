"""Reading rasters that are not scenes: class masks and plain images, lazily.

Both readers open the file once for its metadata, then hand the path (never an
open dataset) to rioxarray, whose chunks are aligned to the file's tiles. They
record how they read it (``encoding["landmask_read"]``), so that
:func:`file_window` can tell a plain read (or a window of one) from a derived
array without looking into the Dask graph.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import rasterio
import rioxarray
import xarray as xr
from rasterio.errors import RasterioError
from rasterio.windows import Window

from landmask.classes import check_mask
from landmask.errors import InputError, ReadError

__all__ = ["file_window", "open_image", "open_mask"]

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
        block = ds.block_shapes[0]
    step = _step(block, chunk_size or 2048)
    arr = rioxarray.open_rasterio(p, chunks={"band": 1, "y": step, "x": step}, lock=False)
    assert isinstance(arr, xr.DataArray)
    mask = arr.squeeze("band", drop=True).assign_attrs(sources=[p])
    mask.encoding[_READ] = ("open_mask", p, chunk_size)
    return mask


def open_image(path: str | os.PathLike[str], chunk_size: int | None = None) -> xr.DataArray:
    """Open any raster lazily as ``(band, y, x)`` in its own dtype, ``chunk_size`` px chunks."""
    p = os.path.abspath(os.fspath(path))
    with _header(p) as ds:
        block = ds.block_shapes[0]
    step = _step(block, chunk_size or 1024)
    arr = rioxarray.open_rasterio(p, chunks={"band": -1, "y": step, "x": step}, lock=False)
    assert isinstance(arr, xr.DataArray)
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
