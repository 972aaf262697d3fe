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
import warnings
from collections.abc import Iterator
from typing import Any, cast

import dask.array as da
import numpy as np
import rasterio
import rioxarray
import xarray as xr
from affine import Affine
from dask.base import tokenize
from rasterio.errors import RasterioError
from rasterio.windows import Window

from landmask._runtime.chunks import CHUNK_SIZE, SCENE_CHUNK_SIZE, as_dask
from landmask._runtime.paths import worker_path
from landmask.classes import NODATA, check_mask
from landmask.errors import InputError
from landmask.grid import Grid
from landmask.io.inputs import open_raster
from landmask.io.read.radiometry import attrs_from_tags
from landmask.io.read.reflectance import read_error, read_window

__all__ = [
    "FileArray",
    "class_ids",
    "file_window",
    "open_image",
    "open_mask",
    "raster_on_grid",
]


#: ``encoding`` key: ``(opener, path, chunk_size)`` of a read by this module
_READ = "landmask_read"


@contextlib.contextmanager
def _header(path: str) -> Iterator[rasterio.io.DatasetReader]:
    """The raster open for its metadata, safely (:func:`landmask.io.inputs.open_raster`)."""
    with open_raster(path) as ds:
        yield ds


class FileArray:
    """The ``(band, y, x)`` values of a raster file as an array Dask reads window by window.

    Holds only the path, shape and dtype, so it travels to workers as such;
    ``[bands, rows, cols]`` (slices) opens the file and reads that window with
    :func:`~landmask.io.read.reflectance.read_window`, whose failures name the file
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


def _lazy_read(
    path: str, ds: rasterio.io.DatasetReader, chunk_size: int, kind: str
) -> xr.DataArray:
    """The file as rioxarray describes it, its values read through :class:`FileArray`.

    The Dask name is deterministic: the same file (path, size, mtime) read with
    the same chunks gives the same array, as :func:`file_window` needs.
    """
    shape = (ds.count, ds.height, ds.width)
    stat = os.stat(path)
    band_chunk = 1 if kind == "open_mask" else ds.count
    chunks = ((band_chunk,) * (ds.count // band_chunk), *Grid.of(ds).chunks(chunk_size))
    data = da.from_array(
        FileArray(path, shape, ds.dtypes[0]),
        chunks=chunks,
        name=f"{kind}-{tokenize(path, stat.st_size, stat.st_mtime_ns, chunks, shape)}",
        meta=np.empty((0, 0, 0), dtype=ds.dtypes[0]),
        asarray=False,  # a file reader: its windows are numpy arrays already
        fancy=False,
        lock=False,
    )
    with warnings.catch_warnings():
        # "Scales/Offsets differ across bands": rioxarray then records them per band
        # in attrs["scales"]/["offsets"] (kept by write_image); nothing for the user to do
        warnings.filterwarnings("ignore", message="(Scales|Offsets) differ across bands")
        arr = rioxarray.open_rasterio(path, lock=False, cache=False)
    assert isinstance(arr, xr.DataArray)
    return arr.copy(data=data)


def open_mask(path: str | os.PathLike[str], chunk_size: int | None = None) -> xr.DataArray:
    """Open a single-band uint8 mask lazily as a ``(y, x)`` DataArray.

    Raises :class:`~landmask.errors.InputError` for a raster that is not a mask.
    """
    p = os.path.abspath(os.fspath(path))
    with _header(p) as ds:
        check_mask(ds, p)
        arr = _lazy_read(p, ds, chunk_size or CHUNK_SIZE, "open_mask")
    # what the classified scene's values were (RADIOMETRY tags), for the outputs' items
    mask = arr.squeeze("band", drop=True).assign_attrs(sources=[p], **attrs_from_tags(arr.attrs))
    mask.encoding[_READ] = ("open_mask", p, chunk_size)
    return mask


def open_image(path: str | os.PathLike[str], chunk_size: int | None = None) -> xr.DataArray:
    """Open any raster lazily as ``(band, y, x)`` in its own dtype, ``chunk_size`` px chunks."""
    p = os.path.abspath(os.fspath(path))
    with _header(p) as ds:
        arr = _lazy_read(p, ds, chunk_size or SCENE_CHUNK_SIZE, "open_image")
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
    col, row = ~theirs @ (mine.c, mine.f)
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


# ------------------------------------------------------------ grids


class _GridReader:
    """Array-like for :func:`dask.array.from_array`: a raster's values on another grid.

    Holds paths and numbers only; each read opens the raster and, when the
    grids differ, warps it onto the requested window by nearest neighbour.
    """

    ndim = 2
    dtype = np.dtype("uint8")

    def __init__(
        self,
        path: str,
        crs_wkt: str | None,
        transform: Affine,
        shape: tuple[int, int],
        warp: bool,
        lut: np.ndarray | None,
    ) -> None:
        self.path, self.crs_wkt, self.transform = worker_path(path), crs_wkt, transform
        self.shape, self.warp, self.lut = shape, warp, lut

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        ys = range(self.shape[0])[key[0]]
        xs = range(self.shape[1])[key[1]]
        window = Window(xs.start, ys.start, len(xs), len(ys))
        try:
            raw, nodata = self._read(window)
        except RasterioError as exc:
            raise read_error(self.path, window, exc) from exc
        return class_ids(raw, nodata, self.lut)

    def _read(self, window: Window) -> tuple[np.ndarray, float | None]:
        with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(self.path) as src:
            nodata = src.nodata
            if self.warp:
                from rasterio.enums import Resampling
                from rasterio.vrt import WarpedVRT

                with WarpedVRT(
                    src,
                    crs=self.crs_wkt,
                    transform=self.transform,
                    width=self.shape[1],
                    height=self.shape[0],
                    resampling=Resampling.nearest,
                    nodata=nodata if nodata is not None else NODATA,
                ) as vrt:
                    raw = vrt.read(1, window=window, boundless=False)
                    nodata = vrt.nodata
            else:
                raw = src.read(1, window=window)
        return raw, nodata


def class_ids(raw: np.ndarray, nodata: float | None, lut: np.ndarray | None) -> np.ndarray:
    """Block function: raw raster values -> uint8 class ids (through ``lut``), nodata -> 255.

    Values outside 0..255 become 0 through a ``lut``, else are clipped.
    """
    missing = raw == nodata if nodata is not None else np.zeros(raw.shape, dtype=bool)
    if np.issubdtype(raw.dtype, np.floating):
        missing |= np.isnan(raw)
    values = np.where(missing, NODATA, raw)
    if lut is not None:
        ids = lut[np.clip(values, 0, 255).astype(np.uint8)]
        ids[(values < 0) | (values > 255)] = 0
    else:
        ids = np.clip(values, 0, 255).astype(np.uint8)
    ids[missing] = NODATA
    return ids


def raster_on_grid(
    path: str | os.PathLike[str],
    grid: xr.DataArray,
    *,
    lut: np.ndarray | None = None,
    what: str = "the raster",
    onto: str = "the first",
    warning: type[Warning] = UserWarning,
) -> xr.DataArray:
    """Band 1 of the raster ``path`` as uint8 class ids on ``grid``'s pixels, lazily.

    On ``grid``'s own grid the file is read window by window; on any other
    grid or CRS it is warped onto ``grid`` by nearest neighbour (GDAL's
    WarpedVRT, chunk by chunk), with a ``warning`` naming the difference.
    Values go through ``lut`` (:func:`class_ids`); the file's nodata and
    pixels outside it become 255. ``what`` and ``onto`` name the two rasters
    in messages. Chunks are ``grid``'s.

    Raises
    ------
    InputError
        If the raster does not overlap ``grid``; :class:`ReadError` if it
        cannot be read.
    """
    p = os.fspath(path)
    with _header(p) as src:
        difference = Grid.of(grid).difference(src)
        if difference:
            _check_overlap(p, src.bounds, src.crs, grid, what, onto)
    if difference:
        warnings.warn(
            f"{p}: {what} is on another grid ({difference}); warped onto {onto}'s grid by "
            "nearest neighbour",
            warning,
            stacklevel=3,
        )
    crs = grid.rio.crs
    reader = _GridReader(
        p,
        crs.to_wkt() if crs else None,
        grid.rio.transform(),
        (grid.shape[-2], grid.shape[-1]),
        bool(difference),
        lut,
    )
    data = da.from_array(
        reader,
        chunks=as_dask(grid).chunks[-2:],
        lock=False,
        asarray=False,
        fancy=False,
        meta=np.empty((0, 0), np.uint8),
    )
    return grid.copy(data=data)


def _check_overlap(
    path: str, bounds: Any, crs: Any, grid: xr.DataArray, what: str, onto: str
) -> None:
    from rasterio.warp import transform_bounds

    left, bottom, right, top = grid.rio.bounds()
    if crs is not None and grid.rio.crs is not None and crs != grid.rio.crs:
        bounds = transform_bounds(crs, grid.rio.crs, *bounds)
    b_left, b_bottom, b_right, b_top = bounds
    if b_left >= right or b_right <= left or b_bottom >= top or b_top <= bottom:
        raise InputError(f"{path}: {what} does not overlap {onto}")
