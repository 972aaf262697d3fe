"""File metadata and the scene grid: what every input declares, and the grid they share.

The grid itself is :class:`landmask.grid.Grid`.

Private to :mod:`landmask.io`: :func:`open_info` reads one file's metadata once,
:func:`check_grid` checks the inputs share a grid (or differ only in resolution)
and returns the scene's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from landmask.errors import ConfigError, GridError, ReadError
from landmask.grid import TRANSFORM_PRECISION, Grid
from landmask.io.read.resample import target_size

#: GDAL configuration used by every read task. Each block is read once, so a
#: large block cache only costs memory and time (a 10240² scene read on 2 threads:
#: 1.3 GB and 2.6-3.0 s with GDAL's default cache, 0.15 GB and 1.8 s with 64 MB).
READ_ENV: dict[str, Any] = {"GDAL_CACHEMAX": 64, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


@dataclass(frozen=True)
class FileInfo:
    """What :func:`open_info` reads of one file."""

    path: str
    count: int
    dtypes: tuple[str, ...]
    nodatavals: tuple[float | None, ...]
    descriptions: tuple[str | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    crs: rasterio.crs.CRS | None
    transform: Affine
    width: int
    height: int
    block: tuple[int, int]

    @property
    def grid(self) -> Grid:
        """The file's grid."""
        return Grid(self.crs, self.transform, self.width, self.height, self.block)


def open_info(path: str) -> FileInfo:
    """Open ``path`` once and read its metadata; :class:`ReadError` naming it if GDAL cannot."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.Env(**READ_ENV), rasterio.open(path) as ds:
                return FileInfo(
                    path=path,
                    count=ds.count,
                    dtypes=tuple(ds.dtypes),
                    nodatavals=tuple(ds.nodatavals),
                    descriptions=tuple(ds.descriptions),
                    scales=tuple(ds.scales),
                    offsets=tuple(ds.offsets),
                    crs=ds.crs,
                    transform=ds.transform,
                    width=ds.width,
                    height=ds.height,
                    block=ds.block_shapes[0],
                )
    except RasterioError as exc:
        if not path.startswith("/vsi") and not Path(path).exists():
            raise ReadError(f"{path}: no such file") from exc
        raise ReadError(f"{path}: cannot open as a raster ({gdal_message(exc)})") from exc


def gdal_message(exc: BaseException) -> str:
    """The most specific message in a rasterio exception chain, on one line."""
    seen: BaseException | None = exc
    messages: list[str] = []
    while seen is not None and len(messages) < 5:
        text = " ".join(str(seen).split())
        if text and "previous exception" not in text:
            messages.append(text)
        seen = seen.__cause__ or seen.__context__
    return messages[-1] if messages else type(exc).__name__


def check_grid(
    infos: Sequence[FileInfo], allow_ungeoreferenced: bool, resolution: float | None = None
) -> Grid:
    """Check the inputs share a grid (or differ only in resolution); return the scene grid.

    Files with the finest pixel size must be on one grid exactly. Coarser files
    (Sentinel-2 20 m bands beside 10 m ones) must share the CRS and cover the
    same extent within one of their pixels; they are resampled onto the grid.
    ``resolution`` puts the scene on a grid of that pixel size over the finest
    file's extent instead.
    """
    for info in infos:
        if info.width == 0 or info.height == 0:
            raise GridError(f"{info.path}: empty raster ({info.width}x{info.height})")
        for dt in info.dtypes:
            if np.dtype(dt).kind not in "uif":
                raise ReadError(f"{info.path}: unsupported data type {dt}")
    finest = min(infos, key=lambda i: (abs(i.transform.a), abs(i.transform.e)))
    if not allow_ungeoreferenced and (finest.crs is None or finest.transform == Affine.identity()):
        raise GridError(
            f"{finest.path}: raster has no georeferencing (CRS and transform); "
            "pass --allow-ungeoreferenced to process it in pixel coordinates"
        )
    reference = infos[0] if _same_res(infos[0], finest) else finest
    for info in infos:
        if info is reference:
            continue
        problems = []
        if info.crs != reference.crs:
            problems.append(f"CRS {info.crs} != {reference.crs}")
        elif _same_res(info, reference):
            difference = reference.grid.difference(info.grid)  # the one same-grid test
            if difference:
                problems.append(difference)
        elif not _same_extent(info, reference):
            problems.append(
                f"resolution {abs(info.transform.a):g} != {abs(reference.transform.a):g} "
                "and the extents differ"
            )
        if problems:
            raise GridError(
                f"{info.path}: not on the grid of {reference.path} ({'; '.join(problems)})"
            )
    for info in infos:
        t = info.transform
        if t.b != 0 or t.d != 0:
            raise GridError(f"{info.path}: rotated or sheared grids are not supported")
    grid = reference.grid
    if resolution is None:
        return grid
    if resolution <= 0 or not np.isfinite(resolution):
        raise ConfigError(f"--resolution {resolution}: must be a positive number of CRS units")
    if reference.crs is None:
        raise ConfigError(f"--resolution {resolution}: {reference.path} has no georeferencing")
    t = reference.transform
    width = target_size(t.a * reference.width, resolution)
    height = target_size(-t.e * reference.height, resolution)
    transform = Affine(resolution, 0.0, t.c, 0.0, -resolution, t.f)
    if transform.almost_equals(t, precision=TRANSFORM_PRECISION):
        return grid
    return Grid(reference.crs, transform, width, height, (1, 1))


def _same_res(a: FileInfo, b: FileInfo) -> bool:
    return bool(
        np.isclose(abs(a.transform.a), abs(b.transform.a), rtol=1e-9)
        and np.isclose(abs(a.transform.e), abs(b.transform.e), rtol=1e-9)
    )


def _bounds(info: FileInfo) -> tuple[float, float, float, float]:
    t = info.transform
    return (t.c, t.f + t.e * info.height, t.c + t.a * info.width, t.f)


def _same_extent(a: FileInfo, b: FileInfo) -> bool:
    """Extents equal within one pixel of the coarser raster."""
    tol = max(abs(a.transform.a), abs(b.transform.a), abs(a.transform.e), abs(b.transform.e))
    return all(abs(p - q) < tol for p, q in zip(_bounds(a), _bounds(b), strict=True))
