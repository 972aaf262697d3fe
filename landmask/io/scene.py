"""Reading scenes: files on disk -> a lazy ``(band, y, x)`` reflectance DataArray.

:func:`open_scene` opens each input once to read its metadata, names the bands
with STAC common names, and builds a Dask array whose every chunk is one task
that opens the files, reads one window of every band and converts it to float32
reflectance. Open datasets never enter the task graph (only paths do), so the
graph runs on threads, processes or a ``dask.distributed`` cluster alike.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import tokenize
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from landmask._runtime.chunks import aligned_chunks
from landmask.errors import (
    BandError,
    ConfigError,
    GridError,
    PresetAssumedWarning,
    ReadError,
    SensorError,
    UncalibratedWarning,
)
from landmask.io.provider import Product, product_of_files, product_of_item
from landmask.io.resample import Method, Resample, resample_block, source_span, target_size
from landmask.io.sensors import (
    COMMON_NAMES,
    QUALITY_BANDS,
    Sensor,
    get_sensor,
    preset_for_product,
    sensor_for,
)

__all__ = ["DEFAULT_CHUNK_SIZE", "READ_ENV", "BandSource", "open_scene"]

log = logging.getLogger(__name__)

#: Default chunk size (pixels a side), before alignment to the file's blocks.
DEFAULT_CHUNK_SIZE = 1024

#: GDAL configuration used by every read task. Each block is read once, so a
#: large block cache only costs memory and time (see PERFORMANCE.md).
READ_ENV: dict[str, Any] = {"GDAL_CACHEMAX": 64, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class BandSource:
    """Where one scene band comes from and how its values become reflectance.

    ``resample`` is set when the band's file is on another grid than the scene
    (e.g. a 20 m Sentinel-2 band in a 10 m scene). ``scaling`` says where
    ``scale`` and ``offset`` came from: ``options``, ``stac``, ``sensor``,
    ``file`` (the file's own scale/offset) or ``none`` (none of them: 1 and 0).
    """

    path: str
    index: int
    name: str
    nodata: float | None
    scale: float
    offset: float
    resample: Resample | None = None
    scaling: str = "none"


@dataclass(frozen=True)
class _Grid:
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
        raise ReadError(f"{path}: cannot open as a raster ({_gdal_message(exc)})") from exc


def _gdal_message(exc: BaseException) -> str:
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
) -> _Grid:
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
    grid = _Grid(
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
    return _Grid(reference.path, reference.crs, transform, width, height, (1, 1))


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


def _check_mapping(infos: Sequence[_FileInfo], bands: Mapping[str, int], provider: Sensor) -> None:
    """Refuse ``--band NAME=N`` where the provider's file name or band id says another band.

    ``provider`` is the sensor variant whose band table the files' names follow
    (the ``--sensor`` preset, or the one the files' product id points to).
    """
    from landmask.spectral.indices import BAND_ALIASES

    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    for name, number in bands.items():
        if not 1 <= number <= len(numbered):
            continue  # reported by _name_bands
        info, i = numbered[number - 1]
        desc = info.descriptions[i - 1]
        said = provider.name_from_description(desc)
        how = f"its band description is {desc!r}"
        if said is None and info.count == 1:
            band_id = provider.band_id_from_filename(Path(info.path).stem)
            said = provider.band_ids.get(band_id or "")
            how = f"{band_id} of {provider.description} is {said}"
        same = said in (name, BAND_ALIASES.get(name)) or BAND_ALIASES.get(said or "") == name
        if said is not None and not same:
            raise SensorError(f"--band {name}={number}: {info.path} is not {name} ({how})")


def _name_bands(
    infos: Sequence[_FileInfo],
    sensor: Sensor | None,
    bands: Mapping[str, int] | None,
    provider: Sensor | None = None,
) -> dict[int, str]:
    """Global band number (1-based across files) -> common name.

    ``provider`` is the band table the files' names follow, if known; an
    explicit mapping that contradicts it is refused (:func:`_check_mapping`).
    """
    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    if bands and provider is not None:
        _check_mapping(infos, bands, provider)
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
            sources.append(BandSource(info.path, i, name, None, 1.0, 0.0, scaling="raw"))
            continue
        file_scale, file_offset = info.scales[i - 1], info.offsets[i - 1]
        sensor_scale, sensor_offset = sensor.scaling(name) if sensor else (None, None)
        s = _first(scale, sensor_scale)
        s = file_scale if s is None else s
        o = _first(offset, sensor_offset)
        o = file_offset if o is None else o
        how = _how(scale, offset, sensor is not None)
        if how == "file" and (file_scale, file_offset) == (1.0, 0.0):
            how = "none"
        sources.append(BandSource(info.path, i, name, nodata, float(s), float(o), scaling=how))
    return sources


def _how(scale: float | None, offset: float | None, sensor: bool) -> str:
    """Where a band's scale/offset came from: ``options``, ``sensor`` or ``file``."""
    if scale is not None or offset is not None:
        return "options"
    return "sensor" if sensor else "file"


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
            sources.append(
                BandSource(band.href, band.index, band.name, None, 1.0, 0.0, scaling="raw")
            )
            continue
        nodata = band.nodata
        if nodata is None:
            nodata = info.nodatavals[band.index - 1]
        if nodata is None and sensor is not None:
            nodata = sensor.nodata
        sensor_scale, sensor_offset = sensor.scaling(band.name) if sensor else (None, None)
        s = _first(scale, band.scale, sensor_scale)
        o = _first(offset, band.offset, sensor_offset)
        if scale is not None or offset is not None:
            how = "options"
        elif band.scale is not None or band.offset is not None:
            how = "stac"
        else:
            how = "sensor" if sensor is not None else "file"
        file_scale, file_offset = info.scales[band.index - 1], info.offsets[band.index - 1]
        s = s if s is not None else file_scale
        o = o if o is not None else file_offset
        if how == "file" and (file_scale, file_offset) == (1.0, 0.0):
            how = "none"
        sources.append(
            BandSource(band.href, band.index, band.name, nodata, float(s), float(o), scaling=how)
        )
    return sources


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _on_grid(
    sources: Sequence[BandSource], infos: Mapping[str, _FileInfo], grid: _Grid
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
        out.append(replace(src, resample=plan))
    return out


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
        raise ReadError(f"{path}: cannot read {where} ({_gdal_message(exc)})") from exc


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
        Its band table (Landsat TM/ETM+ or OLI) and offset (Sentinel-2
        processing baseline) follow the product the files belong to, read from
        their names, the MTL/MTD metadata beside them or the STAC item
        (:mod:`landmask.io.provider`, :func:`landmask.io.sensors.sensor_for`).
    bands
        Explicit ``{common_name: band_number}``; overrides the sensor's names.
        A number whose file the provider's name gives as another band
        (``--band red=4`` on ``LE07_..._SR_B4.TIF``) is refused.
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
        values. ``attrs`` record what was applied (:func:`radiometry_attrs`).

    Raises
    ------
    ReadError, GridError, BandError, ConfigError
    SensorError
        Files of another sensor than ``sensor``, of a Level-1 product, of two
        products, or a ``bands`` number the provider's names contradict.

    Warns
    -----
    UncalibratedWarning
        Once, if an integer band is read with no scale or offset from the
        options, the preset, the STAC item or the file.
    PresetAssumedWarning
        If the preset had to assume the Landsat band table or the Sentinel-2
        baseline for lack of names or metadata.
    """
    from landmask.io.stac import is_stac_input

    preset = get_sensor(sensor) if isinstance(sensor, str) else sensor
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
        product = product_of_item(item)
        if preset is not None:  # the item's eo:bands name the bands: no band table assumed
            preset = replace(sensor_for(preset, product), assumed="")
        sources = _stac_sources(item, info_of, preset, scale, offset, needs)
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
        product = product_of_files(path_list)
        if preset is not None:
            preset = sensor_for(preset, product)
            if preset.variant == "oli" and not any(
                info.count == 1 and preset.band_id_from_filename(Path(info.path).stem)
                for info in infos
            ):
                preset = replace(preset, assumed="")  # no band named by an SR_B<n> suffix
        provider = preset or (preset_for_product(product) if product is not None else None)
        names = _name_bands(infos, preset, bands, provider)
        if needs is not None:
            names = _keep_needed(names, needs, path_list)
        sources = _band_sources(infos, names, preset, scale, offset)
        info_of = {info.path: info for info in infos}
    sources = _on_grid(sources, info_of, grid)
    _warn_radiometry(sources, info_of, preset, product, offset)
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
    return _as_dataarray(data, grid, preset, product, sources, bands)


def _warn_radiometry(
    sources: Sequence[BandSource],
    infos: Mapping[str, _FileInfo],
    sensor: Sensor | None,
    product: Product | None,
    offset: float | None,
) -> None:
    """One warning for what the preset assumed, one for integer input read with no scale."""
    overridden = sensor is not None and sensor.variant == "msi" and offset is not None
    if sensor is not None and sensor.assumed and not overridden:
        warnings.warn(f"{sensor.name}: {sensor.assumed}", PresetAssumedWarning, stacklevel=3)
    raw = [
        s
        for s in sources
        if s.scaling == "none" and np.dtype(infos[s.path].dtypes[s.index - 1]).kind in "ui"
    ]
    if not raw:
        return
    dtype = infos[raw[0].path].dtypes[raw[0].index - 1]
    files = list(dict.fromkeys(s.path for s in raw))
    where = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
    hint = ""
    if product is not None:
        preset = preset_for_product(product)
        if preset is not None:
            hint = f"; the names say {product.label}: --sensor {preset.name}"
    warnings.warn(
        f"{where}: {dtype} digital numbers with no scale (none in the file, the sensor preset "
        "or the options) are read as reflectance unchanged; give --scale and --offset "
        f"(reflectance = DN * scale + offset) or --sensor{hint}",
        UncalibratedWarning,
        stacklevel=3,
    )


def pixel_coords(transform: Affine, height: int, width: int) -> dict[str, np.ndarray]:
    """Pixel-centre ``y`` and ``x`` coordinates of a north-up grid."""
    x = transform.c + transform.a * (np.arange(width) + 0.5)
    y = transform.f + transform.e * (np.arange(height) + 0.5)
    return {"y": y, "x": x}


def _as_dataarray(
    data: da.Array,
    info: _Grid,
    sensor: Sensor | None,
    product: Product | None,
    sources: Sequence[BandSource],
    bands: Mapping[str, int] | None,
) -> xr.DataArray:
    coords = pixel_coords(info.transform, info.height, info.width)
    arr = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": [s.name for s in sources], **coords},
        name="reflectance",
        attrs={
            "sensor": sensor.name if sensor else "generic",
            "sources": list(dict.fromkeys(s.path for s in sources)),
            "long_name": "surface reflectance",
            **radiometry_attrs(sources, sensor, product, bands),
        },
    )
    if info.crs is not None:
        arr = arr.rio.write_crs(info.crs)
    arr = arr.rio.write_transform(info.transform)
    return arr.rio.write_nodata(np.nan, encoded=False)


def radiometry_attrs(
    sources: Sequence[BandSource],
    sensor: Sensor | None,
    product: Product | None,
    bands: Mapping[str, int] | None,
) -> dict[str, Any]:
    """What :func:`open_scene` applied, as the scene's attrs (what a trained model records).

    ``scale``/``offset`` (reflectance = DN * scale + offset) and ``scaling``
    (where they came from: ``options``, ``stac``, ``sensor``, ``file``,
    ``none``) are those of the reflectance bands when all share them, else
    ``scaling`` is ``mixed`` and ``band_scaling`` lists each band's
    ``[scale, offset]``. Surface temperature read by a preset (Landsat
    ``lwir``, in kelvin) and quality layers are left out; ``band_scaling`` is
    also given when any band differs. Also ``sensor_variant``
    (``oli``, ``tm-etm``, ``msi``, ``naip``), ``instrument`` (e.g.
    ``Landsat 7 ETM+``), ``sensor_basis`` (the file name, metadata file or STAC
    item that decided), ``band_options`` (the explicit ``--band`` mapping) and
    ``source_nodata`` (each band's nodata value, or None).
    """
    reflectance = [
        s
        for s in sources
        if s.scaling != "raw" and not (s.scaling == "sensor" and s.name.startswith("lwir"))
    ]
    attrs: dict[str, Any] = {}
    pairs = {(s.scale, s.offset) for s in reflectance}
    hows = {s.scaling for s in reflectance}
    if len(pairs) == 1:
        (scale, offset), how = next(iter(pairs)), "/".join(sorted(hows))
        attrs.update(scale=float(scale), offset=float(offset), scaling=how)
    elif reflectance:
        attrs["scaling"] = "mixed"
    scaled = [s for s in sources if s.scaling != "raw"]
    if len({(s.scale, s.offset) for s in scaled}) > 1:
        attrs["band_scaling"] = {s.name: [float(s.scale), float(s.offset)] for s in scaled}
    if sensor is not None:
        attrs["sensor_variant"] = sensor.variant
        attrs["instrument"] = product.label if product is not None else sensor.description
        if sensor.basis:
            attrs["sensor_basis"] = sensor.basis
    elif product is not None:
        attrs["instrument"] = product.label
    if bands:
        attrs["band_options"] = dict(bands)
    attrs["source_nodata"] = {s.name: s.nodata for s in sources}
    return attrs
