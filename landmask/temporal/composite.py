"""``composite``: the scenes of a period, cloud-masked, warped onto one grid, reduced per pixel.

Each scene's header is read once (:func:`dated_header`:
:func:`landmask.io.read.scene.read_header`, presets, scale, nodata and
quality bands as for one scene). Each output chunk is then one task
(:func:`landmask.temporal.stack.composite_block`) that, for every date whose
footprint reaches it, reads the date's source window, blanks cloud and nodata
with the quality band, warps it onto the chunk (:mod:`landmask.temporal.warp`),
merges the scenes of one acquisition, lets the read go, and at the end reduces
the dates (:mod:`landmask.temporal.statistics`). A chunk holds its stack of
dates and one date's read at a time; memory is a chunk times the dates that
touch it, whatever the region or the period; the result does not depend on
the chunk size or the scheduler.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from dask.base import tokenize
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds

from landmask._runtime.chunks import SCENE_CHUNK_SIZE
from landmask.bands import CLEAR_COUNT, QUALITY_BANDS
from landmask.errors import BandError, ConfigError, DateSkippedWarning, GridError, InputError
from landmask.grid import Grid
from landmask.io.read.scene import SceneHeader, read_header
from landmask.spectral.indices import bands_needed
from landmask.temporal.dates import Date, Period, Scene, gather_dates, parse_period
from landmask.temporal.stack import WindowRead, composite_block
from landmask.temporal.statistics import Output, parse_features, parse_stats
from landmask.temporal.warp import resampling_scale, source_window

__all__ = [
    "MAX_PIXELS",
    "MIN_STACK_CHUNK",
    "STACK_BYTES",
    "as_dataset",
    "composite",
    "dated_header",
    "stack_chunk_size",
]

#: A target grid larger than this many pixels is refused before any work.
MAX_PIXELS = 10**11

#: A chunk's stack of dates (float32, every band) is kept below this many bytes by
#: smaller chunks (:func:`stack_chunk_size`).
STACK_BYTES = 64 * 2**20

#: Chunks are not made smaller than this many pixels a side for the stack's sake.
MIN_STACK_CHUNK = 128

_RESAMPLING = {
    "bilinear": Resampling.bilinear,
    "average": Resampling.average,
    "nearest": Resampling.nearest,
}


def composite(
    inputs: Sequence[Any],
    *,
    like: Any = None,
    crs: Any = None,
    resolution: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    period: str | Period | None = None,
    stats: Sequence[str] = ("median",),
    features: Sequence[str] = (),
    bands: Sequence[str] | None = None,
    sensor: str | None = None,
    resampling: str = "bilinear",
    quality: bool = True,
    chunk_size: int | None = None,
    region: Grid | None = None,
    opened: dict[Any, Any] | None = None,
) -> xr.DataArray:
    """A lazy ``(band, y, x)`` float32 composite of the inputs' dates on one grid.

    Parameters
    ----------
    inputs
        STAC items, ItemCollections or catalogs (paths or ``pystac.Item``), or
        provider-named files (one scene per product and folder).
    like
        A raster (path or DataArray) or :class:`~landmask.grid.Grid` whose grid
        the composite takes. Else ``crs`` (default: the first scene's),
        ``resolution`` (default: the first scene's, when ``crs`` is its CRS) and
        ``bounds`` in ``crs`` (default: the union of the scenes' footprints).
    period
        ``START/END`` ISO dates (``..`` for an open side): scenes outside are
        skipped with a :class:`~landmask.errors.DateSkippedWarning` each.
    stats
        Statistics of each band over the clear dates: ``median``, ``min``,
        ``max``, ``pNN``. Outputs are named ``<band>_<stat>``.
    features
        Index statistics, ``"ndvi:p10,p50,p90"`` -> ``ndvi_p10``, ...
    bands
        Common names of the bands to composite; default every band all scenes
        share (quality and thermal bands left out).
    resampling
        ``bilinear`` (default), ``average`` or ``nearest`` for reflectance; the
        quality band is applied on each scene's own grid, before warping.
    quality
        Blank cloud, shadow and nodata with each scene's quality band
        (``scl``/``qa_pixel``) before reducing.
    region
        The whole grid that the target grid is a tile of: the resampling
        kernel's scale is fixed from it, so the composites of a region's tiles
        are, pixel for pixel, windows of the region's composite (default: the
        target grid).
    opened
        A cache of the scenes' headers (:func:`dated_header`), filled here and
        reused by later calls given the same dict and the same ``pystac.Item``
        objects or files: a region run's plan reads each date's headers and
        its tiles use them (each file's header is read once per run).

    Returns
    -------
    xarray.DataArray
        Float32 statistics, NaN where a pixel has no clear date, and the last
        band ``clear_count``. Attributes ``start_datetime``/``end_datetime``
        (the first and last acquisition), ``dates`` and the inputs' lineage.
    """
    method = _RESAMPLING.get(resampling)
    if method is None:
        raise ConfigError(f"resampling {resampling!r}: expected one of {', '.join(_RESAMPLING)}")
    window = parse_period(period) if isinstance(period, str) else period
    outputs_of_bands = parse_stats(stats) if stats else []
    index_outputs = parse_features(features)
    dates, outside = gather_dates(inputs, window)
    for scene in outside:
        warnings.warn(
            f"{scene.label}: acquired {scene.when:%Y-%m-%d}, outside the period {window}; skipped",
            DateSkippedWarning,
            stacklevel=2,
        )
    if not dates:
        raise InputError(f"no input scene lies in the period {window}")
    size = chunk_size or SCENE_CHUNK_SIZE
    cache = opened if opened is not None else {}
    headers = {id(s): dated_header(s, sensor, cache) for d in dates for s in d.scenes}
    names = _common_bands(dates, headers, bands)
    size = stack_chunk_size(size, len(dates), len(names))  # a chunk's stack stays bounded
    if index_outputs:
        try:
            bands_needed([o.quantity for o in index_outputs], names)
        except BandError as exc:
            raise BandError(f"features {', '.join(features)}: {exc}") from None
    outputs = [Output(b, s, False) for b in names for s in outputs_of_bands] + index_outputs
    if not outputs:
        raise ConfigError("nothing to compute: give --stat or --feature")
    target = _target_grid(
        like, crs, resolution, bounds, [headers[id(s)].grid for d in dates for s in d.scenes]
    )
    layers = {}
    for scene in (s for d in dates for s in d.scenes):
        header = headers[id(scene)]
        by_name = {src.name: src for src in header.sources}
        chosen = tuple(by_name[n] for n in names)
        masking = tuple(src for src in header.sources if quality and src.name in QUALITY_BANDS)
        scale = resampling_scale(header.grid, region if region is not None else target)
        layers[id(scene)] = (header, chosen, masking, scale)
    chunks = target.chunks(size)
    rows = []
    r = 0
    for h in chunks[0]:
        row = []
        c = 0
        for w in chunks[1]:
            row.append(_chunk(target.window(r, c, h, w), dates, layers, names, outputs, method))
            c += w
        rows.append(row)
        r += h
    data = da.block(rows)
    out_names = [o.name for o in outputs] + [CLEAR_COUNT]
    descriptions = [o.description for o in outputs] + ["number of clear dates"]
    scenes = [s for d in dates for s in d.scenes]
    arr = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": out_names, **target.coords()},
        name="composite",
        attrs={
            "long_name": "composite",
            "descriptions": descriptions,
            "start_datetime": _iso(min(s.when for s in scenes)),
            "end_datetime": _iso(max(s.when for s in scenes)),
            "dates": [f"{d.day.isoformat()} {d.platform}".strip() for d in dates],
            **_lineage(scenes, headers),
        },
    )
    if target.crs is not None:
        arr = arr.rio.write_crs(target.crs)
    arr = arr.rio.write_transform(target.transform)
    return arr.rio.write_nodata(np.nan, encoded=False)


def stack_chunk_size(size: int, dates: int, bands: int) -> int:
    """The chunk side of a composite of ``dates`` dates of ``bands`` bands asked in ``size`` px.

    ``size`` halved (not below :data:`MIN_STACK_CHUNK`) until a chunk's stack of
    dates, float32, fits :data:`STACK_BYTES`: the memory of a chunk then does
    not grow with the period, up to ``STACK_BYTES / (4 * bands * MIN_STACK_CHUNK²)``
    dates (512 dates of four bands). Halving keeps the chunks whole blocks of
    the inputs' 512-px (or 256-px) tiles.
    """
    while size // 2 >= MIN_STACK_CHUNK and 4 * dates * bands * size * size > STACK_BYTES:
        size //= 2
    return size


def as_dataset(arr: xr.DataArray) -> xr.Dataset:
    """A composite as one variable per band, each keeping the composite's attributes.

    What :func:`~landmask.io.write.rasters.write_indices` writes: band descriptions from
    the names, and the lineage (inputs, input STAC items, hence the period in
    the output's STAC item) from every variable's attributes.
    """
    descriptions = arr.attrs.get("descriptions") or [""] * arr.sizes["band"]
    return xr.Dataset(
        {
            str(name): arr.sel(band=name, drop=True)
            .rename(str(name))
            .assign_attrs(arr.attrs, long_name=text)
            for name, text in zip(arr["band"].values, descriptions, strict=True)
        }
    )


def dated_header(
    scene: Scene, sensor: str | None, cache: dict[Any, Any] | None = None
) -> SceneHeader:
    """A dated scene's header (:func:`~landmask.io.read.scene.read_header`): files' metadata only.

    ``cache``: headers read before, by scene source and sensor; a header
    read here is added to it.

    Raises
    ------
    GridError
        The scene has no CRS.
    """
    key = (scene.source if isinstance(scene.source, tuple) else id(scene.source), sensor)
    if cache is not None and key in cache:
        return cache[key][1]
    source = scene.source if not isinstance(scene.source, tuple) else list(scene.source)
    header = read_header(source, sensor=sensor)
    if header.grid.crs is None:
        raise GridError(f"{scene.label}: no CRS; a composite needs georeferenced inputs")
    if cache is not None:  # the source kept alive with it: its id is not reused
        cache[key] = (scene.source, header)
    return header


def _common_bands(
    dates: Sequence[Date], headers: dict[int, SceneHeader], wanted: Sequence[str] | None
) -> list[str]:
    scenes = [s for d in dates for s in d.scenes]
    have = {id(s): headers[id(s)].bands for s in scenes}
    if wanted:
        for s in scenes:
            missing = [b for b in wanted if b not in have[id(s)]]
            if missing:
                raise BandError(f"{s.label}: has no band {', '.join(missing)}")
        return list(wanted)
    first = have[id(scenes[0])]
    names = [
        b
        for b in first
        if b not in QUALITY_BANDS
        and not b.startswith("lwir")
        and all(b in have[id(s)] for s in scenes)
    ]
    if not names:
        listing = "; ".join(f"{s.label}: {', '.join(have[id(s)])}" for s in scenes[:3])
        raise BandError(f"the inputs share no band common name ({listing})")
    return names


def _target_grid(
    like: Any,
    crs: Any,
    resolution: float | None,
    bounds: tuple[float, float, float, float] | None,
    scenes: Sequence[Grid],
) -> Grid:
    if like is not None:
        grid = Grid.of(like)
        if grid.crs is None:
            raise GridError("--like: the raster has no CRS")
        return Grid(grid.crs, grid.transform, grid.width, grid.height)
    first = scenes[0]
    from rasterio.crs import CRS

    target_crs = CRS.from_user_input(crs) if crs is not None else first.crs
    assert target_crs is not None
    if resolution is None:
        if target_crs != first.crs:
            raise ConfigError("--crs other than the inputs' needs --resolution")
        resolution = first.resolution[0]
    if bounds is None:
        boxes = []
        for g in scenes:
            boxes.append(
                g.bounds
                if g.crs == target_crs
                else transform_bounds(g.crs, target_crs, *g.bounds, densify_pts=21)
            )
        bounds = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    grid = Grid.from_bounds(target_crs, resolution, bounds)
    if grid.width * grid.height > MAX_PIXELS:
        raise GridError(
            f"target grid of {grid.width}x{grid.height} px is implausible for one composite "
            "(tile the region, or a coarser --resolution)"
        )
    return grid


def _chunk(
    target: Grid,
    dates: Sequence[Date],
    layers: dict[int, tuple[SceneHeader, tuple[Any, ...], tuple[Any, ...], tuple[float, float]]],
    names: Sequence[str],
    outputs: Sequence[Output],
    method: Resampling,
) -> da.Array:
    """One output chunk: one task that reads, masks and warps each date's window in turn
    into the chunk's stack of dates and reduces it (:func:`composite_block`); the task
    depends on no other (no read is held in the graph)."""
    reads: list[list[WindowRead]] = []
    stamps = []
    for d in dates:
        scenes = []
        for scene in d.scenes:
            header, chosen, masking, scale = layers[id(scene)]
            found = source_window(header.grid, target, method)
            if found is None:
                continue
            r0, c0, h, w = found
            grid = header.grid.window(r0, c0, h, w)
            scenes.append(WindowRead(chosen, masking, found, grid, scale))
            stamps.append(header.mtimes)
        if scenes:
            reads.append(scenes)
    shape = (len(outputs) + 1, target.height, target.width)
    token = tokenize(reads, stamps, target, method, list(names), list(outputs))
    task = dask.delayed(composite_block, pure=True)(
        reads, target, method, names, outputs, dask_key_name=f"composite-chunk-{token}"
    )
    return da.from_delayed(
        task, shape=shape, dtype=np.float32, meta=np.empty((0, 0, 0), np.float32)
    )


def _lineage(scenes: Sequence[Scene], headers: dict[int, SceneHeader]) -> dict[str, Any]:
    sources: list[str] = []
    derived: list[str] = []
    radiometry = set()
    for s in scenes:
        attrs = headers[id(s)].attrs
        sources += [str(p) for p in attrs.get("stac_ids", attrs.get("sources", ()))]
        derived += [str(p) for p in attrs.get("derived_from", ())]
        radiometry.add(attrs.get("radiometry"))
    out: dict[str, Any] = {"sources": list(dict.fromkeys(sources))}
    if derived:
        out["derived_from"] = list(dict.fromkeys(derived))
    if len(radiometry) > 1:
        raise InputError(
            f"the inputs mix radiometries ({', '.join(sorted(str(r) for r in radiometry))}); "
            "composite scenes of one kind"
        )
    (only,) = radiometry
    if only is not None:
        out["radiometry"] = only
    return out


def _iso(when: Any) -> str:
    return when.isoformat().replace("+00:00", "Z")
