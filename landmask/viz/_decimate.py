"""Reading lazy arrays for plots: at most ``max_size`` pixels a side, never the whole array.

Behind :mod:`landmask.viz.plot`. A band read straight from a raster file
(:func:`landmask.io.read.masks.file_window`) with internal overviews is read by GDAL
from the nearest overview, without Dask; anything else is decimated by a
strided selection (every n-th pixel), which Dask fuses into the tasks that make
each chunk, so only the kept pixels leave those tasks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from landmask.io.read.masks import file_window
from landmask.io.read.scene import pixel_coords

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["MAX_SIZE", "decimate", "decimated_values", "map_extent"]

#: Default largest side, in pixels, of what a plot reads from a lazy array.
MAX_SIZE = 1024


def _step(shape: Sequence[int], max_size: int) -> int:
    return max(1, math.ceil(max(shape) / max_size))


def _picks(n: int, step: int) -> slice:
    """Every ``step``-th of ``n`` pixels, from the middle of each whole cell of ``step``."""
    count = max(1, n // step)
    start = min(n, step) // 2
    return slice(start, start + (count - 1) * step + 1, step)


def _file_window(arr: xr.DataArray) -> tuple[str, int, Any] | None:
    """``(path, band, window)`` when ``arr`` is a plain read of one raster band
    (:func:`landmask.io.read.masks.file_window`) and the band has internal overviews."""
    import rasterio

    found = file_window(arr)
    if found is None:
        return None
    try:
        with rasterio.open(found[0]) as ds:
            return found if ds.overviews(found[1]) else None
    except (rasterio.errors.RasterioError, OSError):
        return None


def decimate(arr: xr.DataArray, max_size: int = MAX_SIZE) -> xr.DataArray:
    """An in-memory copy of ``arr`` at most ``max_size`` pixels a side.

    Parameters
    ----------
    arr
        A ``(y, x)`` or ``(band, y, x)`` DataArray with a transform, lazy or not.
    max_size
        Largest side of the result in pixels.

    Returns
    -------
    xarray.DataArray
        One pixel of each ``n`` x ``n`` cell of ``arr`` (the one in the middle:
        nearest neighbour), on the grid of those cells: ``y``/``x`` coordinates,
        CRS and transform to match (partial cells at the right and bottom edges
        are left out). A band read straight from a file with overviews is read
        by GDAL from the nearest overview (one windowed ``rasterio`` read with
        ``out_shape``), without Dask; anything else is a strided selection, so
        Dask runs only the tasks of ``arr``'s chunks and passes on just the kept
        pixels. Memory: the result, plus one chunk per Dask worker.
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling

    height, width = arr.shape[-2:]
    step = _step((height, width), max_size)
    small = arr.isel(y=_picks(height, step), x=_picks(width, step))
    h, w = small.shape[-2:]
    found = _file_window(arr) if step > 1 else None
    if found is not None:
        path, band, window = found
        window = window.__class__(
            window.col_off, window.row_off, min(w * step, width), min(h * step, height)
        )
        with rasterio.open(path) as ds:
            data = ds.read(band, window=window, out_shape=(h, w), resampling=Resampling.nearest)
        out = small.copy(data=data)
    else:
        out = small.compute()
    transform = arr.rio.transform(recalc=True) @ Affine.scale(step)
    out = out.assign_coords(pixel_coords(transform, h, w))
    if arr.rio.crs is not None:
        out = out.rio.write_crs(arr.rio.crs)
    return out.rio.write_transform(transform)


def map_extent(arr: xr.DataArray) -> tuple[float, float, float, float]:
    """``(left, right, bottom, top)`` of a DataArray's grid for ``imshow``."""
    t = arr.rio.transform()
    height, width = arr.shape[-2:]
    left, top = t.c, t.f
    right, bottom = t @ (width, height)
    return (left, right, bottom, top)


def decimated_values(data: Any, max_size: int) -> tuple[np.ndarray, tuple[float, ...] | None, Any]:
    """Decimated values, the map extent (None for numpy input) and the CRS."""
    import xarray as xr

    if isinstance(data, xr.DataArray):
        small = decimate(data, max_size)
        return np.asarray(small.values), map_extent(small), small.rio.crs
    return np.asarray(data), None, None
