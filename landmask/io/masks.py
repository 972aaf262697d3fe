"""Reading rasters that are not scenes: class masks and plain images, lazily.

Both readers open the file once for its metadata, then hand the path (never an
open dataset) to rioxarray, whose chunks are aligned to the file's tiles.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import rasterio
import rioxarray
import xarray as xr
from rasterio.errors import RasterioError

from landmask.classes import check_mask
from landmask.errors import ReadError

__all__ = ["open_image", "open_mask"]


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
    mask = arr.squeeze("band", drop=True)
    return mask.assign_attrs(sources=[p])


def open_image(path: str | os.PathLike[str], chunk_size: int | None = None) -> xr.DataArray:
    """Open any raster lazily as ``(band, y, x)`` in its own dtype, ``chunk_size`` px chunks."""
    p = os.path.abspath(os.fspath(path))
    with _header(p) as ds:
        block = ds.block_shapes[0]
    step = _step(block, chunk_size or 1024)
    arr = rioxarray.open_rasterio(p, chunks={"band": -1, "y": step, "x": step}, lock=False)
    assert isinstance(arr, xr.DataArray)
    return arr.assign_attrs(sources=[p])
