"""Region runs: a workflow that names a region, a grid and a period instead of scenes.

:func:`plan_region` turns ``region:``, ``grid:``, ``period:`` and ``inputs:``
into the region's :class:`~landmask.grid.Grid`, cut into tiles
(:meth:`Grid.tiles <landmask.grid.Grid.tiles>`), and for each tile the dated
scenes whose footprint reaches it: headers only, before any pixel is read. The
tiles are the units of the run's manifest, as scenes are in a run over scenes.
:func:`process_tile` composites one tile's dates onto the tile's grid
(:func:`landmask.composite`, the kernel scale fixed from the whole region so
that tiles are windows of the region's composite) and classifies the lazy
composite through :func:`landmask.pipeline.run_scene` (the steps of ``landmask
classify COMPOSITE.tif``) in one pass: each chunk is composited once, for the
mask and, when ``outputs.composite`` keeps it, the composite output.

A classifier that reads context around each pixel (rules with ``focal_*``
functions, a model with a receptive field: its ``halo``) is given that context:
the tile is composited on its grid grown by the halo on every side, clipped to
the region (:meth:`RegionPlan.context`), once, classified, and the mask (and the
composite output) cropped back to the tile. A pixel near a tile's edge then sees
the pixels of its neighbour tile, and one near the region's edge sees the
region's edge, as in a run of the
whole region as one tile: the tiles' mosaic has no seam. Rules with scene-wide
statistics (``otsu(ndvi)``, ``adaptive``'s percentile stretch) are bound to the
region's values (:attr:`RegionPlan.statistics`, computed over every tile before
any is classified: :mod:`landmask.batch.region_statistics`), for the same reason.

What is refused before any work (one line, exit 2): a region or grid that does
not make sense, more than :data:`MAX_TILES` tiles or a region above
:data:`MAX_REGION_PIXELS` pixels, a tile larger than
:data:`MAX_TILE_SIZE` pixels a side, inputs without a date, no date in the
period that reaches the region.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landmask.batch.summary import SceneResult
from landmask.batch.workflow import RulesClassifier, Workflow
from landmask.errors import ConfigError, DateSkippedWarning, InputError, LandmaskError
from landmask.grid import Grid, Tile
from landmask.io.companions import Output, item_path
from landmask.io.inputs import open_raster
from landmask.io.outputs import check_inputs
from landmask.io.read.labels import read_features
from landmask.io.stac.read import item_bands
from landmask.io.write.mosaic import MosaicTile, write_collection, write_vrt
from landmask.io.write.rasters import indices_job
from landmask.models.registry import load_model
from landmask.pipeline import SceneJob, VectorOptions, run_scene
from landmask.temporal.composite import as_dataset, composite, dated_header
from landmask.temporal.dates import gather_dates, parse_period

__all__ = [
    "MAX_REGION_PIXELS",
    "MAX_TILES",
    "MAX_TILE_SIZE",
    "RegionPlan",
    "TileUnit",
    "classifier_halo",
    "plan_region",
    "process_tile",
    "region_grid",
    "tile_fingerprint",
    "tile_planned",
]

#: A region cut into more tiles than this is refused before any work.
MAX_TILES = 100_000

#: A tile wider or taller than this many pixels is refused (one tile is one file).
MAX_TILE_SIZE = 65_536

#: A region of more pixels than this is refused (the land of the Earth at 10 m is 1.5e12).
MAX_REGION_PIXELS = 10**13


@dataclass(frozen=True)
class TileUnit:
    """One tile of a region run: its output stem, its place in the grid, the scenes reaching it.

    ``scenes`` are :class:`landmask.temporal.dates.Scene` values in input
    order; none when no date reaches the tile (it is written as nodata with
    ``clear_count`` 0, from ``reference``: a scene whose header gives the
    bands, none of whose pixels fall in the tile).
    """

    stem: str
    tile: Tile
    scenes: tuple[Any, ...]
    reference: Any

    @property
    def grid(self) -> Grid:
        """The tile's grid."""
        return self.tile.grid


@dataclass
class RegionPlan:
    """What a region run will do: the grid, its tiles, the dates and the dates left out."""

    grid: Grid
    tiles: list[TileUnit]
    dates: int
    #: labels of the scenes left out: acquired outside the period, footprint outside the region
    outside_period: list[str] = field(default_factory=list)
    outside_region: list[str] = field(default_factory=list)
    #: pixels of context the classifier reads around each pixel (its ``halo``)
    halo: int = 0
    #: the scenes' headers (:func:`~landmask.temporal.composite.dated_header`), read when
    #: planning and used by every tile's composite: each file's header is read once a run
    opened: dict[Any, Any] = field(default_factory=dict, repr=False)
    #: the rules' region-wide statistics by label (``{"otsu(ndvi)": 0.41}``, NaN: no valid
    #: pixel), bound into every tile's rules (:mod:`landmask.batch.region_statistics`);
    #: None: the rules have none, or not yet computed
    statistics: dict[str, float] | None = None

    def context(
        self, tile: Tile, halo: int | None = None
    ) -> tuple[Grid, tuple[int, int, int, int]]:
        """The grid a tile is composited and classified on, and the tile's window in it.

        The tile's grid grown by ``halo`` (default :attr:`halo`) pixels on every
        side, clipped to the region's grid; the window is ``(row_off, col_off,
        height, width)``. Without a halo, the tile's own grid.
        """
        g, h = tile.grid, self.halo if halo is None else halo
        r0, c0 = max(0, tile.row_off - h), max(0, tile.col_off - h)
        r1 = min(self.grid.height, tile.row_off + g.height + h)
        c1 = min(self.grid.width, tile.col_off + g.width + h)
        window = (tile.row_off - r0, tile.col_off - c0, g.height, g.width)
        grown = self.grid.window(r0, c0, r1 - r0, c1 - c0)
        return Grid(grown.crs, grown.transform, grown.width, grown.height), window

    def counts(self) -> dict[str, int]:
        """JSON-ready figures for the run's summary."""
        return {
            "tiles": len(self.tiles),
            "dates": self.dates,
            "scenes_outside_period": len(self.outside_period),
            "scenes_outside_region": len(self.outside_region),
        }


def _where(workflow: Workflow, key: str) -> str:
    return f"{workflow.source}: key '{key}'"


def _region_shape(workflow: Workflow, crs: Any) -> Any:
    """The region as a shapely geometry in ``crs``."""
    import shapely
    from pyproj import CRS as ProjCRS
    from pyproj import Transformer

    region = workflow.region
    assert region is not None
    if region.file is not None:
        try:
            frame, _ = read_features(
                workflow.base / region.file, what="region", layer_option="region.file"
            )
        except InputError as exc:
            raise ConfigError(f"{_where(workflow, 'region.file')}: {exc}") from None
        if frame.geometry.is_empty.all():
            raise ConfigError(f"{_where(workflow, 'region.file')}: no feature")
        frame = frame.to_crs(ProjCRS.from_user_input(crs))
        return shapely.union_all(frame.geometry.make_valid().values)
    box = shapely.box(*region.bounds)  # type: ignore[misc]
    source = ProjCRS.from_user_input(region.crs) if region.crs else ProjCRS.from_user_input(crs)
    target = ProjCRS.from_user_input(crs)
    if source == target:
        return box
    box = shapely.segmentize(box, max(box.length / 400, 1e-9))
    project = Transformer.from_crs(source, target, always_xy=True)

    def forward(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(project.transform(xy[:, 0], xy[:, 1]))

    return shapely.transform(box, forward)


def region_grid(workflow: Workflow) -> tuple[Grid, Any]:
    """The region's grid (snapped to the grid's pixel lattice) and its shape in the grid's CRS.

    Raises
    ------
    ConfigError
        A CRS that is not one, a region that cannot be put in the grid's
        CRS, a region above :data:`MAX_REGION_PIXELS`.
    """
    settings = workflow.grid
    assert settings is not None and workflow.region is not None
    if settings.like is not None:
        like_path = str(workflow.base / settings.like)
        try:
            with open_raster(like_path, "the grid's raster") as ds:
                like = Grid.of(ds)
        except InputError as exc:
            raise ConfigError(f"{_where(workflow, 'grid.like')}: {exc}") from None
        if like.crs is None or not like.is_rectilinear:
            raise ConfigError(
                f"{_where(workflow, 'grid.like')}: needs a north-up georeferenced raster"
            )
        crs = like.crs
    else:
        crs = settings.crs
    try:
        shape = _region_shape(workflow, crs)
    except ConfigError:
        raise
    except Exception as exc:  # pyproj: a region outside the CRS' area
        raise ConfigError(
            f"{_where(workflow, 'region')}: cannot be put in the grid's CRS ({exc})"
        ) from None
    left, bottom, right, top = shape.bounds
    if shape.is_empty or not all(math.isfinite(v) for v in (left, bottom, right, top)):
        raise ConfigError(f"{_where(workflow, 'region')}: not a finite area in the grid's CRS")
    if settings.like is not None:
        t = like.transform
        xres, yres = t.a, -t.e
        c0 = math.floor((left - t.c) / xres + 1e-9)
        r0 = math.floor((t.f - top) / yres + 1e-9)
        c1 = math.ceil((right - t.c) / xres - 1e-9)
        r1 = math.ceil((t.f - bottom) / yres - 1e-9)
        grid = like.window(r0, c0, max(1, r1 - r0), max(1, c1 - c0))
        grid = Grid(grid.crs, grid.transform, grid.width, grid.height)
    else:
        assert settings.resolution is not None
        grid = Grid.from_bounds(crs, settings.resolution, (left, bottom, right, top))
    if grid.width * grid.height > MAX_REGION_PIXELS:
        raise ConfigError(
            f"{_where(workflow, 'grid')}: a region of {grid.width}x{grid.height} px is implausible "
            f"(more than {MAX_REGION_PIXELS:.0e}); a coarser resolution or a smaller region"
        )
    return grid, shape


def plan_region(workflow: Workflow, *, warn: bool = True) -> RegionPlan:
    """The tiles of a region run and the scenes that reach each one (headers only).

    Each input scene's header is read (:func:`landmask.temporal.composite.dated_header`),
    once: the plan keeps the headers (:attr:`RegionPlan.opened`) for the tiles;
    a scene acquired outside ``period`` or whose footprint misses the region
    is left out and counted (a :class:`~landmask.errors.DateSkippedWarning`
    each when ``warn``).

    Raises
    ------
    ConfigError
        Before any work: see the module's docstring.
    """
    from rasterio.warp import transform_bounds

    settings = workflow.grid
    assert settings is not None
    halo = classifier_halo(workflow)
    grid, shape = region_grid(workflow)
    size = settings.tile_size
    if size > MAX_TILE_SIZE:
        raise ConfigError(
            f"{_where(workflow, 'grid.tile_size')}: {size} px a side is implausible for one "
            f"tile (at most {MAX_TILE_SIZE})"
        )
    count = math.ceil(grid.height / size) * math.ceil(grid.width / size)
    if count > MAX_TILES:
        raise ConfigError(
            f"{_where(workflow, 'grid.tile_size')}: {count:,} tiles of {size} px is implausible "
            f"(at most {MAX_TILES:,}); larger tiles or a smaller region"
        )
    period = parse_period(workflow.period) if workflow.period else None

    paths = workflow.input_paths()
    try:
        check_inputs(paths)  # a FIFO, a device, a name GDAL cannot take: before any read
        dates, outside = gather_dates(paths, period)
    except InputError as exc:
        raise ConfigError(f"{_where(workflow, 'inputs')}: {exc}") from None
    import shapely

    footprints: list[tuple[Any, tuple[float, float, float, float]]] = []
    missed: list[str] = []
    headers: dict[Any, Any] = {}
    for date in dates:
        for scene in date.scenes:
            try:
                g = dated_header(scene, workflow.sensor, headers).grid
            except LandmaskError as exc:
                raise ConfigError(f"{_where(workflow, 'inputs')}: {exc}") from None
            assert g.crs is not None and grid.crs is not None
            box = (
                g.bounds
                if g.crs == grid.crs
                else transform_bounds(g.crs, grid.crs, *g.bounds, densify_pts=21)
            )
            if shapely.box(*box).intersects(shape):
                footprints.append((scene, box))
            else:
                missed.append(scene.label)
    if warn:
        for scene in outside:
            warnings.warn(
                f"{scene.label}: acquired {scene.when:%Y-%m-%d}, outside the period {period}; "
                "skipped",
                DateSkippedWarning,
                stacklevel=2,
            )
        for label in missed:
            warnings.warn(
                f"{label}: its footprint misses the region; skipped",
                DateSkippedWarning,
                stacklevel=2,
            )
    if not footprints:
        raise ConfigError(
            f"{_where(workflow, 'inputs')}: no scene "
            + (f"in the period {period} " if period else "")
            + "reaches the region"
        )
    reached = {
        (d.day, d.platform) for d in dates for s in d.scenes if any(s is f[0] for f in footprints)
    }
    digits = len(str(max(math.ceil(grid.height / size), math.ceil(grid.width / size)) - 1))
    xres, yres = grid.resolution
    plan = RegionPlan(grid, [], len(reached), [s.label for s in outside], missed, halo, headers)
    for tile in grid.tiles(size):
        if not shapely.box(*tile.grid.bounds).intersects(shape):
            continue
        # the scenes reaching the tile's context (its halo too), with a pixel's margin: a
        # scene ending at its edge is included (it reaches no pixel)
        left, bottom, right, top = plan.context(tile)[0].bounds
        near = shapely.box(left - xres, bottom - yres, right + xres, top + yres)
        scenes = tuple(s for s, box in footprints if shapely.box(*box).intersects(near))
        stem = f"r{tile.row:0{digits}d}_c{tile.col:0{digits}d}"
        plan.tiles.append(TileUnit(stem, tile, scenes, footprints[0][0]))
    return plan


def classifier_halo(workflow: Workflow) -> int:
    """The pixels of context the workflow's classifier reads around each pixel (its ``halo``).

    Rules: the reach of their ``focal_*`` functions; a model: its ``halo``.

    Raises
    ------
    ConfigError
        The rules or model cannot be loaded (one line naming the key).
    """

    if isinstance(workflow.classifier, RulesClassifier):
        spec, key = f"rules:{workflow.rules_spec()}", "classifier.rules"
    else:
        spec, key = workflow.model_spec(), "classifier.model"
    try:
        return int(getattr(load_model(spec), "halo", 0) or 0)
    except InputError as exc:
        raise ConfigError(f"{_where(workflow, key)}: {exc}") from None


def _source_stamps(scene: Any) -> list[Any]:

    source = scene.source
    if isinstance(source, tuple):
        return [_stamp(p) for p in source]
    doc = json.dumps(source.to_dict(include_self_link=False), sort_keys=True)
    try:
        files = list(dict.fromkeys(b.href for b in item_bands(source)))
    except LandmaskError:
        files = []
    return [hashlib.sha256(doc.encode()).hexdigest(), *map(_stamp, files)]


def _stamp(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def tile_fingerprint(settings: dict[str, Any], plan: RegionPlan, unit: TileUnit) -> str:
    """SHA-256 of a tile's grid, the region's grid, the scenes reaching it, the settings and
    the region-wide statistics its rules are bound to (:attr:`RegionPlan.statistics`).

    Reads no raster: file metadata and STAC JSON only.
    """
    g, r = unit.grid, plan.grid
    payload = {
        "tile": [str(g.crs), list(g.transform)[:6], g.width, g.height],
        "region": [str(r.crs), list(r.transform)[:6], r.width, r.height],
        "halo": plan.halo,
        "inputs": [_source_stamps(s) for s in unit.scenes or (unit.reference,)],
        "settings": settings,
        # the values its rules are bound to: other values, another mask
        "statistics": plan.statistics,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def tile_outputs(workflow: Workflow, stem: str) -> dict[str, Path]:
    """A tile's outputs by kind: ``composite``, ``mask`` and (optionally) ``vector``."""
    return workflow.output_paths(stem, ("composite", "mask", "vector"))


#: a tile's outputs by key -> their kinds (:data:`landmask.io.companions.KINDS`)
_TILE_KINDS = {"composite": "indices", "mask": "mask", "vector": "polygons"}


def tile_planned(workflow: Workflow, stem: str) -> dict[str, Any]:
    """A tile's outputs by kind, each an :class:`~landmask.io.companions.Output` with its
    companions (styles, STAC items), for planning the run before any work."""
    stac = workflow.outputs.stac
    return {
        k: Output(p, _TILE_KINDS[k], stac=stac) for k, p in tile_outputs(workflow, stem).items()
    }


def tile_job(
    workflow: Workflow,
    unit: TileUnit,
    chunk_size: int,
    scene: Any,
    window: tuple[int, int, int, int] | None = None,
    statistics: dict[str, float] | None = None,
) -> Any:
    """The :class:`~landmask.pipeline.SceneJob` that classifies a tile's composite ``scene``.

    ``scene``: the lazy composite of the tile, or of its context (of which
    ``window`` is the tile). The tile's composite output, when asked for, is
    written from the same chunks in the same pass (the window of ``scene``).
    ``statistics``: the region's, bound into the rules instead of the tile's own.
    """

    spec, confidence = workflow.classifier_spec()
    outputs = tile_outputs(workflow, unit.stem)
    also: tuple[Any, ...] = ()
    if "composite" in outputs:
        tile = scene
        if window is not None:
            r, c, h, w = window
            tile = scene.isel(y=slice(r, r + h), x=slice(c, c + w))
        path, stac = outputs["composite"], workflow.outputs.stac
        also = (indices_job(as_dataset(tile), path, overwrite=True, stac=stac),)
    v = workflow.vector
    labels = {**{k: f"outputs.{k}" for k in outputs}, "classes": "vector.classes"}
    return SceneJob(
        inputs=(),
        scene_array=scene,
        also=also,
        mask=outputs["mask"],
        window=window,
        model=spec,
        min_confidence=confidence,
        quality=False,  # the composite's dates were cloud-masked before reducing
        vector=outputs.get("vector"),
        vector_options=VectorOptions(v.classes, v.connectivity, v.min_area, v.simplify),
        chunk_size=chunk_size,
        overwrite=True,
        stac=workflow.outputs.stac,
        labels={**labels, "also0": "outputs.composite"},
        statistics=statistics,
    )


def tile_composite(
    workflow: Workflow, plan: RegionPlan, unit: TileUnit, chunk_size: int, grid: Grid | None = None
) -> Any:
    """The lazy composite of one tile: its scenes' dates on its grid, kernel scale of the region.

    ``grid``: another window of the region's grid to composite on (the tile's context).
    """

    settings = workflow.composite
    stats = settings.stats if settings else ["median"]
    features = settings.features if settings else []
    scenes = unit.scenes or (unit.reference,)
    sources: list[Any] = []
    for scene in scenes:
        sources += list(scene.source) if isinstance(scene.source, tuple) else [scene.source]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        return composite(
            sources,
            like=grid or unit.grid,
            region=plan.grid,
            stats=stats,
            features=features,
            bands=settings.bands if settings else None,
            sensor=workflow.sensor,
            resampling=settings.resampling if settings else "bilinear",
            quality=workflow.quality,
            chunk_size=chunk_size,
            opened=plan.opened,
        )


def process_tile(
    workflow: Workflow, plan: RegionPlan, unit: TileUnit, chunk_size: int
) -> SceneResult:
    """Composite, classify and write one tile in one pass; every output atomic.

    The tile's composite (on its context, :meth:`RegionPlan.context`, with a
    classifier's halo) is classified chunk by chunk as it is computed, the
    mask cropped to the tile; the composite output, if asked for, is the
    tile's window of the same chunks, written in the same pass: each chunk is
    composited once, nothing is written to be read back. If any step fails,
    the outputs this call wrote are removed again (errors propagate). Rules with
    scene-wide statistics are bound to the region's (:attr:`RegionPlan.statistics`).
    """

    start = time.perf_counter()
    outputs = tile_outputs(workflow, unit.stem)
    grid, window = plan.context(unit.tile)
    arr = tile_composite(workflow, plan, unit, chunk_size, grid)
    if not unit.scenes:  # no date reaches it: nodata, clear_count 0 (no pixel read)
        arr.attrs["dates"] = []
    job = tile_job(workflow, unit, chunk_size, arr, window if plan.halo else None, plan.statistics)
    outcome = run_scene(job)
    scheme = outcome.scheme
    return SceneResult(
        scene=unit.stem,
        status="done",
        seconds=time.perf_counter() - start,
        pixels={scheme.name_of(c): n for c, n in sorted(outcome.counts.items())},
        outputs={k: str(v) for k, v in outputs.items()},
    )


def region_inputs(workflow: Workflow, plan: RegionPlan) -> list[str]:
    """Every file a region run reads: the inputs, the STAC items' local assets, rules or model."""

    files = list(workflow.input_paths())
    for unit in plan.tiles:
        for scene in unit.scenes:
            if not isinstance(scene.source, tuple):
                with contextlib.suppress(LandmaskError):
                    files += [b.href for b in item_bands(scene.source) if "://" not in b.href]
    if isinstance(workflow.classifier, RulesClassifier):
        rules = workflow.rules_spec()
        if os.path.isfile(rules):
            files.append(rules)
    else:
        rest = workflow.model_spec().partition(":")[2]
        if os.path.isfile(rest):
            files.append(rest)
    if workflow.grid is not None and workflow.grid.like is not None:
        files.append(str(workflow.base / workflow.grid.like))
    return list(dict.fromkeys(files))


def write_mosaic(workflow: Workflow, plan: RegionPlan, summary: Any) -> None:
    """The mosaic VRT over the finished tiles' masks and (with ``outputs.stac``) its collection.

    Tiles that failed or did not run are left out of the VRT (nodata there)
    and of the collection. Nothing is written when no tile finished.
    """
    import datetime as dt

    status = {s.scene: s.status for s in summary.scenes}
    tiles = [u for u in plan.tiles if status.get(u.stem) in ("done", "skipped")]
    if not tiles:
        return
    masks = [tile_outputs(workflow, u.stem)["mask"] for u in tiles]
    vrt = workflow.out_dir / workflow.outputs.mosaic
    write_vrt(
        vrt,
        plan.grid,
        [
            MosaicTile(m, u.tile.row_off, u.tile.col_off, u.grid.width, u.grid.height)
            for m, u in zip(masks, tiles, strict=True)
        ],
    )
    if not workflow.outputs.stac:
        return
    period = parse_period(workflow.period) if workflow.period else None

    def at(day: Any, end: bool) -> dt.datetime | None:
        if day is None:
            return None
        clock = dt.time(23, 59, 59) if end else dt.time(0, 0)
        return dt.datetime.combine(day, clock, tzinfo=dt.UTC)

    times = [s.when for u in plan.tiles for s in u.scenes]
    start = at(period.start, False) if period and period.start else min(times, default=None)
    end = at(period.end, True) if period and period.end else max(times, default=None)
    write_collection(
        workflow.out_dir / workflow.outputs.collection,
        name=workflow.name,
        grid=plan.grid,
        items=[item_path(m) for m in masks if item_path(m).is_file()],
        period=(start, end),
        mosaic=vrt,
        description=f"landmask region run {workflow.name}: {len(tiles)} of {len(plan.tiles)} tiles",
        statistics=plan.statistics,
    )
