"""Reading scenes: files on disk -> a lazy ``(band, y, x)`` reflectance DataArray.

:func:`open_scene` opens each input once to read its metadata and names the
bands with STAC common names (both in :mod:`landmask.io._inputs`), then builds
a Dask array whose every chunk is one task that opens the files, reads one
window of every band and converts it to float32 reflectance. Open datasets
never enter the task graph (only paths do), so the graph runs on threads,
processes or a ``dask.distributed`` cluster alike.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import tokenize
from rasterio.errors import RasterioError
from rasterio.windows import Window

from landmask._runtime.chunks import aligned_chunks
from landmask.errors import ReadError
from landmask.io._inputs import READ_ENV, BandSource, Grid, PathLike, gdal_message, scene_sources
from landmask.io.resample import resample_block, source_span
from landmask.io.sensors import Sensor, get_sensor

__all__ = ["DEFAULT_CHUNK_SIZE", "READ_ENV", "BandSource", "aligned_chunks", "open_scene"]

log = logging.getLogger(__name__)

#: Default chunk size (pixels a side), before alignment to the file's blocks.
DEFAULT_CHUNK_SIZE = 1024


class _ReflectanceReader:
    """Array-like read by :func:`dask.array.from_array`: one window of every band.

    Holds paths and numbers only, so it pickles to any worker; each read opens the
    files it needs inside a ``rasterio.Env`` and closes them again.
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


def read_reflectance(sources: Sequence[BandSource], window: Window) -> np.ndarray:
    """Read ``window`` of each band and return float32 reflectance, nodata as NaN.

    Opens every file once for this window; costs one float32 array of the window
    per band plus one raw band at a time.
    """
    h, w = int(window.height), int(window.width)
    out = np.empty((len(sources), h, w), dtype=np.float32)
    by_path: dict[str, list[int]] = {}
    for k, src in enumerate(sources):
        if src.resample is not None:
            out[k] = _read_resampled(src, window)
        else:
            by_path.setdefault(src.path, []).append(k)
    # no warnings.catch_warnings() here: this runs in worker threads, where
    # entering and leaving it races with other threads and loses their filters
    with rasterio.Env(**READ_ENV):
        for path, ks in by_path.items():
            raw = _read(path, [sources[k].index for k in ks], window)
            for j, k in enumerate(ks):
                to_reflectance(
                    raw[j], sources[k].scale, sources[k].offset, sources[k].nodata, out[k]
                )
    return out


def _read(path: str, indexes: list[int], window: Window) -> np.ndarray:
    try:
        with rasterio.open(path) as ds:
            return ds.read(indexes, window=window)
    except RasterioError as exc:
        r0, c0 = int(window.row_off), int(window.col_off)
        where = f"rows {r0}-{r0 + int(window.height)}, cols {c0}-{c0 + int(window.width)}"
        raise ReadError(f"{path}: cannot read {where} ({gdal_message(exc)})") from exc


def _read_resampled(src: BandSource, window: Window) -> np.ndarray:
    """One band on the scene grid from a file on another grid (see :mod:`landmask.io.resample`).

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
        raw = _read(src.path, [src.index], src_window)[0]
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

    Works in float32 so unsigned inputs never wrap; writes into ``out``.
    """
    np.multiply(raw, np.float32(scale), out=out, dtype=np.float32, casting="unsafe")
    if offset:
        out += np.float32(offset)
    if nodata is not None and not np.isnan(nodata):
        out[raw == nodata] = np.nan
    return out


def open_scene(
    paths: PathLike | Sequence[PathLike] | Any,
    *,
    sensor: str | Sensor | None = None,
    bands: Mapping[str, int] | None = None,
    scale: float | None = None,
    offset: float | None = None,
    chunk_size: int | None = None,
    allow_ungeoreferenced: bool = False,
    needs: Collection[str] | None = None,
    resolution: float | None = None,
) -> xr.DataArray:
    """Open one or more rasters on one grid as a lazy reflectance DataArray.

    Parameters
    ----------
    paths
        One multi-band file or several files on the same grid; any path GDAL
        reads (GeoTIFF/COG, VRT, JP2, ``/vsicurl/`` URLs). Bands are numbered
        from 1 across the files in the order given. Files of a coarser
        resolution over the same extent (Sentinel-2 20 m bands) are resampled
        onto the finest grid. Or a STAC item: a :class:`pystac.Item` or the path
        of its JSON file, whose assets are picked by ``eo:bands`` (or STAC 1.1
        ``bands``) common names with ``raster:bands`` scale/offset/nodata
        (see :mod:`landmask.io.stac`).
    sensor
        A preset (``sentinel2-l2a``, ``landsat-c2-l2``, ``naip``) naming bands
        from file-name suffixes or band descriptions and giving scale/offset.
    bands
        Explicit ``{common_name: band_number}``; overrides the sensor's names.
        Without a sensor only these bands are used.
    scale, offset
        reflectance = DN * scale + offset; override the sensor's and the file's.
    chunk_size
        Chunk side in pixels, rounded to whole internal blocks of the file.
    allow_ungeoreferenced
        Accept rasters without CRS and transform (pixel coordinates).
    needs
        Band and index names the caller will use (e.g. a rule set's names):
        only the bands they read are kept, so the others are never decoded.
        Raises :class:`BandError` naming the inputs if one is missing. Quality
        layers (``scl``, ``qa_pixel``) named in ``needs`` are kept when the
        inputs have them and are not required.
    resolution
        Pixel size of the scene grid in CRS units (e.g. ``20`` for Sentinel-2
        at 20 m); default: the finest input's. Bands on another grid are
        resampled chunk by chunk: bilinear for reflectance, nearest for the
        quality layers.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32, Dask-backed, ``band`` coordinate of common
        names, nodata as NaN, CRS and transform set the rioxarray way. Nothing is
        read until computed; each chunk costs ``bands * chunk**2 * 4`` bytes.
        Quality layers, when present, are bands ``scl``/``qa_pixel`` of raw
        values.

    Raises
    ------
    ReadError, GridError, BandError, ConfigError
    """
    preset = get_sensor(sensor) if isinstance(sensor, str) else sensor
    sources, grid, path_list = scene_sources(
        paths,
        sensor=preset,
        bands=bands,
        scale=scale,
        offset=offset,
        allow_ungeoreferenced=allow_ungeoreferenced,
        needs=needs,
        resolution=resolution,
    )
    size = chunk_size if chunk_size is not None else DEFAULT_CHUNK_SIZE
    chunks = (
        (len(sources),),
        aligned_chunks(grid.height, size, grid.block[0]),
        aligned_chunks(grid.width, size, grid.block[1]),
    )
    mtimes = [os.path.getmtime(p) if os.path.exists(p) else None for p in path_list]
    token = tokenize(sources, mtimes, chunks)
    data = da.from_array(
        _ReflectanceReader(sources, grid.height, grid.width),
        chunks=chunks,
        name=f"open_scene-{token}",
        lock=False,
        asarray=False,
        fancy=False,
        meta=np.empty((0, 0, 0), dtype=np.float32),
    )
    return _as_dataarray(data, [s.name for s in sources], grid, preset, sources)


def pixel_coords(transform: Affine, height: int, width: int) -> dict[str, np.ndarray]:
    """Pixel-centre ``y`` and ``x`` coordinates of a north-up grid."""
    x = transform.c + transform.a * (np.arange(width) + 0.5)
    y = transform.f + transform.e * (np.arange(height) + 0.5)
    return {"y": y, "x": x}


def _as_dataarray(
    data: da.Array,
    band_names: Sequence[str],
    info: Grid,
    sensor: Sensor | None,
    sources: Sequence[BandSource],
) -> xr.DataArray:
    coords = pixel_coords(info.transform, info.height, info.width)
    arr = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": list(band_names), **coords},
        name="reflectance",
        attrs={
            "sensor": sensor.name if sensor else "generic",
            "sources": list(dict.fromkeys(s.path for s in sources)),
            "long_name": "surface reflectance",
        },
    )
    if info.crs is not None:
        arr = arr.rio.write_crs(info.crs)
    arr = arr.rio.write_transform(info.transform)
    return arr.rio.write_nodata(np.nan, encoded=False)
