"""The inputs of a scene: file metadata, the scene grid, band names and band sources.

Behind :func:`landmask.io.scene.open_scene` (:func:`scene_sources`): each input
is opened once for its metadata, the inputs are checked to share a grid, their
bands are named with STAC common names by a sensor preset, band descriptions or
``--band``, and each named band becomes a :class:`BandSource` (path, band
index, nodata, scale and offset, and a resampling plan when its file is on
another grid). Nothing here reads pixels.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from landmask.errors import BandError, ConfigError, GridError, ReadError
from landmask.io.resample import Method, Resample, target_size
from landmask.io.sensors import COMMON_NAMES, QUALITY_BANDS, Sensor

__all__ = ["READ_ENV", "BandSource", "Grid", "PathLike", "gdal_message", "scene_sources"]

#: GDAL configuration used by every read task. Each block is read once, so a
#: large block cache only costs memory and time (see PERFORMANCE.md).
READ_ENV: dict[str, Any] = {"GDAL_CACHEMAX": 64, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

PathLike = str | os.PathLike[str]

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class BandSource:
    """Where one scene band comes from and how its values become reflectance.

    ``resample`` is set when the band's file is on another grid than the scene
    (e.g. a 20 m Sentinel-2 band in a 10 m scene).
    """

    path: str
    index: int
    name: str
    nodata: float | None
    scale: float
    offset: float
    resample: Resample | None = None


@dataclass(frozen=True)
class Grid:
    """The scene's pixel grid: the finest input's, or one at a requested resolution."""

    path: str
    crs: rasterio.crs.CRS | None
    transform: Affine
    width: int
    height: int
    block: tuple[int, int]


@dataclass(frozen=True)
class _FileInfo:
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


def _open_info(path: str) -> _FileInfo:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.Env(**READ_ENV), rasterio.open(path) as ds:
                return _FileInfo(
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


def _check_grid(
    infos: Sequence[_FileInfo], allow_ungeoreferenced: bool, resolution: float | None = None
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
            if (info.width, info.height) != (reference.width, reference.height):
                problems.append(
                    f"size {info.width}x{info.height} != {reference.width}x{reference.height}"
                )
            if not info.transform.almost_equals(reference.transform, precision=1e-9):
                problems.append("transform differs")
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
    grid = Grid(
        reference.path,
        reference.crs,
        reference.transform,
        reference.width,
        reference.height,
        reference.block,
    )
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
    if transform.almost_equals(t, precision=1e-9):
        return grid
    return Grid(reference.path, reference.crs, transform, width, height, (1, 1))


def _same_res(a: _FileInfo, b: _FileInfo) -> bool:
    return bool(
        np.isclose(abs(a.transform.a), abs(b.transform.a), rtol=1e-9)
        and np.isclose(abs(a.transform.e), abs(b.transform.e), rtol=1e-9)
    )


def _bounds(info: _FileInfo) -> tuple[float, float, float, float]:
    t = info.transform
    return (t.c, t.f + t.e * info.height, t.c + t.a * info.width, t.f)


def _same_extent(a: _FileInfo, b: _FileInfo) -> bool:
    """Extents equal within one pixel of the coarser raster."""
    tol = max(abs(a.transform.a), abs(b.transform.a), abs(a.transform.e), abs(b.transform.e))
    return all(abs(p - q) < tol for p, q in zip(_bounds(a), _bounds(b), strict=True))


def _name_bands(
    infos: Sequence[_FileInfo], sensor: Sensor | None, bands: Mapping[str, int] | None
) -> dict[int, str]:
    """Global band number (1-based across files) -> common name."""
    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    names: dict[int, str] = {}
    for number, (info, i) in enumerate(numbered, start=1):
        desc = info.descriptions[i - 1]
        if sensor is not None:
            name = sensor.name_from_description(desc)
            if name is None and info.count == 1:
                name = sensor.name_from_filename(Path(info.path).stem)
            if (
                name is None
                and info.count > 1
                and len(sensor.order) >= i
                and not any(info.descriptions)
            ):
                name = sensor.order[i - 1]
        else:
            name = desc.strip().lower() if desc and desc.strip().lower() in COMMON_NAMES else None
            if bands is not None:
                name = None  # an explicit mapping alone decides
        if name is not None:
            names[number] = name
    if bands:
        names = {n: v for n, v in names.items() if v not in bands}
        for name, number in bands.items():
            if not _NAME_RE.match(name):
                raise BandError(f"--band {name}={number}: band names are lowercase identifiers")
            if not 1 <= number <= len(numbered):
                raise BandError(
                    f"--band {name}={number}: out of range, the inputs have "
                    f"{len(numbered)} band{'s' if len(numbered) != 1 else ''}"
                )
            names[number] = name
    if not names:
        what = ", ".join(info.path for info in infos)
        if sensor is not None:
            raise BandError(
                f"{what}: no band matches sensor {sensor.name!r} by file name or band "
                "description; name them with --band NAME=N"
            )
        raise BandError(f"{what}: cannot tell which band is which; give --sensor or --band NAME=N")
    seen: dict[str, int] = {}
    for number, name in sorted(names.items()):
        if name in seen:
            raise BandError(f"bands {seen[name]} and {number} are both named {name!r}")
        seen[name] = number
    return dict(sorted(names.items()))


def _keep_needed(
    names: Mapping[int, str], needs: Collection[str], paths: Sequence[str]
) -> dict[int, str]:
    """Keep the bands ``needs`` reads; quality layers in ``needs`` are kept if present."""
    from landmask.spectral.indices import bands_needed

    wanted = frozenset(needs)
    try:
        used = set(bands_needed(wanted - set(QUALITY_BANDS), list(names.values())).values())
    except BandError as exc:
        raise BandError(f"{', '.join(paths)}: {exc}") from None
    used |= wanted & set(QUALITY_BANDS)
    return {n: v for n, v in names.items() if v in used}


def _band_sources(
    infos: Sequence[_FileInfo],
    names: Mapping[int, str],
    sensor: Sensor | None,
    scale: float | None,
    offset: float | None,
) -> list[BandSource]:
    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    sources = []
    for number, name in names.items():
        info, i = numbered[number - 1]
        nodata = info.nodatavals[i - 1]
        if nodata is None and sensor is not None:
            nodata = sensor.nodata
        if name in QUALITY_BANDS:  # raw values: classes or bit flags
            sources.append(BandSource(info.path, i, name, None, 1.0, 0.0))
            continue
        file_scale, file_offset = info.scales[i - 1], info.offsets[i - 1]
        s = scale if scale is not None else sensor.scale if sensor else file_scale
        o = offset if offset is not None else sensor.offset if sensor else file_offset
        sources.append(BandSource(info.path, i, name, nodata, float(s), float(o)))
    return sources


def _stac_sources(
    item: Any,
    infos: Mapping[str, _FileInfo],
    sensor: Sensor | None,
    scale: float | None,
    offset: float | None,
    needs: Collection[str] | None,
) -> list[BandSource]:
    """Band sources of a STAC item: ``raster:bands`` values beat the sensor's and the file's."""
    from landmask.io.stac import item_bands

    picked = item_bands(item)
    if needs is not None:
        names = {k: b.name for k, b in enumerate(picked, start=1)}
        where = [item.get_self_href() or str(item.id)]
        keep = set(_keep_needed(names, needs, where).values())
        picked = [b for b in picked if b.name in keep]
    sources = []
    for band in picked:
        info = infos[band.href]
        if not 1 <= band.index <= info.count:
            raise BandError(
                f"{band.href}: asset {band.asset!r} has {info.count} band(s), "
                f"the item describes band {band.index}"
            )
        if band.name in QUALITY_BANDS:
            sources.append(BandSource(band.href, band.index, band.name, None, 1.0, 0.0))
            continue
        nodata = band.nodata
        if nodata is None:
            nodata = info.nodatavals[band.index - 1]
        if nodata is None and sensor is not None:
            nodata = sensor.nodata
        s = _first(scale, band.scale, sensor.scale if sensor else None)
        o = _first(offset, band.offset, sensor.offset if sensor else None)
        s = s if s is not None else info.scales[band.index - 1]
        o = o if o is not None else info.offsets[band.index - 1]
        sources.append(BandSource(band.href, band.index, band.name, nodata, float(s), float(o)))
    return sources


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _on_grid(
    sources: Sequence[BandSource], infos: Mapping[str, _FileInfo], grid: Grid
) -> list[BandSource]:
    """Attach a :class:`Resample` to each source whose file is not on ``grid``."""
    out = []
    for src in sources:
        info = infos[src.path]
        same = (info.width, info.height) == (grid.width, grid.height) and (
            info.transform.almost_equals(grid.transform, precision=1e-9)
        )
        if same:
            out.append(src)
            continue
        method: Method = "nearest" if src.name in QUALITY_BANDS else "bilinear"
        plan = Resample(info.transform, info.height, info.width, grid.transform, method)
        out.append(
            BandSource(src.path, src.index, src.name, src.nodata, src.scale, src.offset, plan)
        )
    return out


def scene_sources(
    paths: PathLike | Sequence[PathLike] | Any,
    *,
    sensor: Sensor | None,
    bands: Mapping[str, int] | None,
    scale: float | None,
    offset: float | None,
    allow_ungeoreferenced: bool,
    needs: Collection[str] | None,
    resolution: float | None,
) -> tuple[list[BandSource], Grid, list[str]]:
    """The band sources of a scene, its grid and its input paths.

    See :func:`~landmask.io.scene.open_scene` for the arguments.

    Opens each input once for its metadata; nothing else is read.
    """
    from landmask.io.stac import is_stac_input

    if is_stac_input(paths):
        from landmask.io.stac import item_bands, load_item

        if bands:
            raise ConfigError(
                "--band does not apply to a STAC item: its assets are named by their "
                "eo:bands common names"
            )
        item = load_item(paths)
        path_list = list(dict.fromkeys(b.href for b in item_bands(item)))
        info_of = {p: _open_info(p) for p in path_list}
        grid = _check_grid(list(info_of.values()), allow_ungeoreferenced, resolution)
        sources = _stac_sources(item, info_of, sensor, scale, offset, needs)
    else:
        path_list = (
            [os.fspath(paths)]
            if isinstance(paths, str | os.PathLike)
            else [os.fspath(p) for p in paths]
        )
        if not path_list:
            raise ConfigError("no input raster given")
        infos = [_open_info(p) for p in path_list]
        grid = _check_grid(infos, allow_ungeoreferenced, resolution)
        names = _name_bands(infos, sensor, bands)
        if needs is not None:
            names = _keep_needed(names, needs, path_list)
        sources = _band_sources(infos, names, sensor, scale, offset)
        info_of = {info.path: info for info in infos}
    sources = _on_grid(sources, info_of, grid)
    return sources, grid, path_list
