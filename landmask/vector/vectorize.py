"""Vectorizing masks: class ids -> polygons, chunk by chunk, stitched without seams.

Each chunk is labelled into connected regions (4- or 8-connectivity, one
class at a time) and polygonized by GDAL (:func:`rasterio.features.shapes`)
on the workers, in pixel coordinates offset to the chunk's place in the
raster. Regions that touch an inner chunk border are matched with their
neighbours across it by comparing the label rows and columns on both sides
(diagonal pairs too for 8-connectivity), grouped with a graph search, and
merged by a union of their pieces. Everything is exact: coordinates are
integers until the final affine transform, so pieces share edges exactly and
a merged region equals the polygon GDAL makes from the whole raster (same
rings, holes included, collinear vertices removed).

Polygonizing is Python and GEOS work that holds the GIL, so threads cannot
share it: with Dask's ``processes`` scheduler chunks go to a pool of worker
processes kept for the whole run (the ``vectorize`` command's default), with
``threads`` to a thread pool, with ``synchronous`` nowhere, and with a
``dask.distributed`` client to its workers. A few chunks are in flight at a
time and results are taken in chunk order, so the output is the same for
every scheduler and memory holds a few chunks, not the raster.

One difference from GDAL, on purpose: an 8-connected region whose parts
touch only at a corner is a single MultiPolygon feature here, where GDAL
writes a self-touching (invalid) ring.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
import shapely
import xarray as xr
from pyproj import CRS

from landmask._runtime.chunks import as_dask
from landmask._runtime.malloc import release_free_memory
from landmask.classes import NODATA, ClassScheme, check_mask, scheme_attrs
from landmask.errors import ConfigError
from landmask.grid import Grid
from landmask.io.read.schemes import resolve_scheme
from landmask.io.stac.items import Lineage
from landmask.vector._noding import noded
from landmask.vector._polygonize import (
    NO_GEOMS,
    NO_VALUES,
    ChunkPolygons,
    Features,
    OutputSpec,
    chunk_features,
    merge_groups,
    merged_features,
    polygonize_block,
)
from landmask.vector._pool import chunk_pool, gil_bound, merged, polygonized
from landmask.vector._stitch import border_groups
from landmask.vector.formats import VectorWriter, transition_columns, write_vector
from landmask.vector.sieve import sieve

if TYPE_CHECKING:
    import geopandas as gpd

# Imports: geopandas (and pandas with it) where a GeoDataFrame is made, so that the commands
# that import this module for a vector output they may not be asked for (classify, run) do not
# load it.

__all__ = [
    "ChunkPolygons",
    "VectorSummary",
    "gil_bound",
    "iter_regions",
    "polygonize_block",
    "resolve_classes",
    "vectorize",
    "vectorize_to_file",
]


def resolve_classes(
    classes: Sequence[str | int] | None, scheme: ClassScheme, option: str = "--classes"
) -> frozenset[int]:
    """Class names or ids -> ids; default: every class but ``other`` and 255 (nodata).

    ``option`` names the setting in errors (``--classes``; empty for a caller
    that names it itself); the list is read by :meth:`ClassScheme.ids`.
    For a change map (:func:`landmask.classes.change_scheme`) the default is
    every transition between two different classes.
    """
    if not classes and scheme.base is not None:
        pairs = {c.id: scheme.transition(c.id) for c in scheme}
        return frozenset(k for k, p in pairs.items() if p is not None and p[0].id != p[1].id)
    if not classes:
        # the scheme's own "other" (0 in landcover); a scheme without one keeps all
        return frozenset(c.id for c in scheme if c.id not in (scheme.other_id, NODATA))
    return scheme.ids(classes, option=option)


def vectorize(
    mask: xr.DataArray,
    classes: Sequence[str | int] | None = None,
    *,
    connectivity: int = 4,
    min_area: float | None = None,
    simplify: float | None = None,
    scheme: ClassScheme | str | None = None,
) -> gpd.GeoDataFrame:
    """Polygons of a mask's regions, one row per connected region.

    Parameters
    ----------
    mask
        ``(y, x)`` uint8 class ids with CRS and transform (lazy or not).
    classes
        Class names or ids to vectorize; default every class but ``other`` (0).
        Nodata (255) never becomes a polygon.
    connectivity
        4 (edges) or 8 (edges and corners).
    min_area
        Minimum mapping unit in m²: regions smaller than it are merged into
        their surroundings before polygonizing (see :mod:`landmask.vector.sieve`).
    simplify
        Tolerance in CRS units for a simplification that keeps the coverage:
        neighbouring polygons keep sharing their edges, so no gaps or overlaps
        appear (GEOS coverage simplification over the regions of every class).
    scheme
        Names of the classes (a scheme or its name); None: the scheme the mask
        records, else ``landcover`` (:func:`landmask.io.read.schemes.resolve_scheme`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``class_id``, ``class_name`` (for a change map also ``from_id``,
        ``from_class``, ``to_id``, ``to_class``), ``area_m2``, ``perimeter_m`` and the
        geometry in the mask's CRS (areas and lengths on the ellipsoid for a
        geographic CRS), sorted by class and then by position. Chunks are
        polygonized in parallel; the result equals GDAL on the whole raster
        for any chunk size.
    """
    _check(mask, connectivity, min_area)
    if simplify is not None and not simplify >= 0:
        raise ConfigError(f"--simplify {simplify}: must be a number >= 0")
    scheme = resolve_scheme(scheme, mask)
    wanted = resolve_classes(classes, scheme)
    regions = list(iter_regions(mask, wanted, connectivity, min_area, whole=bool(simplify)))
    values = np.concatenate([v for v, _ in regions]) if regions else np.zeros(0, np.uint8)
    geoms = np.concatenate([g for _, g in regions]) if regions else np.zeros(0, object)
    del regions  # ``geoms`` holds the only references: _to_frame consumes it
    return _to_frame(values, geoms, mask, scheme, wanted, simplify or 0.0)


def _check(mask: xr.DataArray, connectivity: int, min_area: float | None) -> None:
    if connectivity not in (4, 8):
        raise ConfigError(f"--connectivity {connectivity}: must be 4 or 8")
    check_mask(mask, "vectorize")
    if min_area is not None and not min_area >= 0:
        raise ConfigError(f"--min-area {min_area}: must be a number >= 0")


def iter_regions(
    mask: xr.DataArray,
    wanted: frozenset[int],
    connectivity: int = 4,
    min_area: float | None = None,
    *,
    whole: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Complete regions of a mask, in batches: ``(class ids, polygons in (col, -row) pixels)``.

    The regions inside each chunk are yielded as soon as the chunk is
    polygonized, in chunk order, and only the pieces touching a chunk border
    are kept until the end, when they are stitched and yielded. Memory holds
    the chunks in flight and the border pieces, not every polygon.

    ``whole`` polygonizes every class (a coverage simplification needs all
    regions); otherwise only ``wanted`` ones. Yielded batches may hold other
    classes than ``wanted`` only with ``whole``.
    """
    _check(mask, connectivity, min_area)
    # a sieve and a coverage simplification need every region, not just the wanted ones
    drawn = frozenset(range(NODATA)) if (whole or bool(min_area)) else wanted
    data = _prepared(mask, connectivity, min_area)
    rows, cols = data.numblocks
    parts: dict[tuple[int, int], ChunkPolygons] = {}
    with chunk_pool(math.prod(data.numblocks), pixels=math.prod(data.shape)) as pool:
        for key, part in polygonized(pool, data, polygonize_block, (drawn, connectivity)):
            if part.interior_values.size:
                yield part.interior_values, part.interior
            part.interior, part.interior_values = NO_GEOMS, NO_VALUES
            parts[key] = part
        groups = border_groups(parts, rows, cols, diagonal=connectivity == 8)
        parts.clear()
        stitched = [r for r in merged(pool, groups, merge_groups, ()) if len(r[0])]
    if stitched:
        yield np.concatenate([v for v, _ in stitched]), np.concatenate([g for _, g in stitched])


def _iter_features(
    mask: xr.DataArray,
    spec: OutputSpec,
    connectivity: int,
    min_area: float | None,
) -> Iterator[Features]:
    """The output features of ``spec.wanted`` regions, chunk by chunk, then the stitched ones.

    Like :func:`iter_regions`, but the workers also transform, measure and
    encode each chunk's complete regions, so only flat arrays come back.
    """
    drawn = frozenset(range(NODATA)) if min_area else spec.wanted
    data = _prepared(mask, connectivity, min_area)
    rows, cols = data.numblocks
    parts: dict[tuple[int, int], ChunkPolygons] = {}
    with chunk_pool(math.prod(data.numblocks), pixels=math.prod(data.shape)) as pool:
        for key, (batches, part) in polygonized(
            pool, data, chunk_features, (drawn, connectivity, spec)
        ):
            yield from _nonempty(batches)
            del batches
            parts[key] = part
        groups = border_groups(parts, rows, cols, diagonal=connectivity == 8)
        parts.clear()
        for batches in merged(pool, groups, merged_features, (spec,)):
            yield from _nonempty(batches)


def _nonempty(batches: list[Features]) -> Iterator[Features]:
    """The batches of ``batches`` that hold features, each dropped from the list as it goes
    (the writer has it then)."""
    batches.reverse()
    while batches:
        features = batches.pop()
        if len(features):
            yield features
        del features


def _prepared(mask: xr.DataArray, connectivity: int, min_area: float | None) -> da.Array:
    """The mask as a Dask array, sieved if ``min_area`` asks for it."""
    data = as_dask(mask)
    if min_area:
        pixel_m2, _ = Grid.of(mask).pixel_area()
        data = sieve(data, math.ceil(min_area / pixel_m2), connectivity)
    return data


def _spec(mask: xr.DataArray, wanted: frozenset[int]) -> OutputSpec:
    crs = mask.rio.crs
    return OutputSpec(mask.rio.transform(), CRS.from_user_input(crs) if crs else None, wanted)


def _to_frame(
    values: np.ndarray,
    pixel_geoms: np.ndarray,
    mask: xr.DataArray,
    scheme: ClassScheme,
    wanted: frozenset[int],
    tolerance: float,
    *,
    sort: bool = True,
) -> gpd.GeoDataFrame:
    """Polygons in (col, -row) pixels -> a GeoDataFrame in the mask's CRS with measures.

    With a ``tolerance`` (coverage simplification), ``pixel_geoms`` is consumed: its items
    are normalized and then dropped from it, so that the peak (GEOS simplifying) holds the
    polygons twice (noded input and result), not four times.
    """
    spec = _spec(mask, wanted)
    if tolerance > 0 and len(pixel_geoms):
        # The same coverage whatever the chunks: the regions are the same, but
        # their order and where their rings start are not, and GEOS's result
        # depends on both. So: canonical rings, sorted by class and position.
        shapely.normalize(pixel_geoms, out=pixel_geoms)
        order = _order(values, pixel_geoms, canonical=True)
        values, ordered = values[order], pixel_geoms[order]
        pixel_geoms[:] = None  # ``ordered`` holds the only references now
        # GEOS needs a noded coverage: a vertex of one polygon lying on its
        # neighbour's straight edge must be a vertex of that edge too
        dense = spec.to_crs(noded(ordered))
        del ordered
        sweep = _sweep_order(dense)
        dense = dense[sweep]
        # what the steps before freed, on this thread's heap and others' (the polygonizing
        # thread's), is of no use to GEOS's many small objects: hand it back first
        release_free_memory()
        simple = shapely.coverage_simplify(dense, tolerance, simplify_boundary=True)
        del dense
        release_free_memory()  # GEOS's own structures, freed
        back = np.empty_like(sweep)
        back[sweep] = np.arange(len(sweep))
        # canonical order again, the classes asked for (the canonical order sorts by class
        # and position first: already the output order)
        chosen = np.isin(values, list(wanted))
        values, geoms = values[chosen], shapely.normalize(simple[back[chosen]])
        del simple
        area, perimeter = spec.measures(geoms, geoms, exact=False)
    else:
        geoms = spec.to_crs(pixel_geoms)
        chosen = np.isin(values, list(wanted))
        values, pixel_geoms, geoms = values[chosen], pixel_geoms[chosen], geoms[chosen]
        if sort:
            order = _order(values, pixel_geoms)
            values, pixel_geoms, geoms = values[order], pixel_geoms[order], geoms[order]
        area, perimeter = spec.measures(geoms, pixel_geoms)
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {
            "class_id": values,
            "class_name": [scheme.name_of(int(v)) for v in values],
            **transition_columns(values, scheme),
            "area_m2": area,
            "perimeter_m": perimeter,
        },
        geometry=geoms,
        crs=spec.crs,
    )
    frame.attrs.update(scheme_attrs(scheme))  # read back by write_vector (resolve_scheme)
    return frame


def _sweep_order(geoms: np.ndarray) -> np.ndarray:
    """The order in which GEOS simplifies a coverage fastest: top to bottom, left to right,
    whatever the class; ties in the order of ``geoms`` (canonical), so it is canonical too.

    GEOS finds the coverage's outer boundary by keeping the segments seen once so far in a
    hash set whose hash of a horizontal segment ignores its y (GEOS 3.14
    ``LineSegment::HashCode``): every open horizontal segment of a column shares a bucket.
    In class order (every region of one class before any neighbour of it) that set holds
    a class's whole boundary and each lookup scans a bucket as long as the raster is high:
    2.8x the CPU of this order on a 512² mask of diagonal stripes. A sweep closes each
    segment soon after it opens. The regions, their classes and their rings are not
    touched, only the order GEOS meets them in; where a coverage has several equally valid
    simplifications (pixel corners of equal areas) that order can pick another one (2,333
    of 49,297 features of a random 1024² mask), the same for any chunking.
    """
    bounds = shapely.bounds(geoms)
    # top row, then left column, then right column: stripes that all start at the top left
    # corner are met from the shortest out, not in their input order
    return np.lexsort((bounds[:, 2], bounds[:, 0], -bounds[:, 3]))  # stable: ties keep order


def _order(values: np.ndarray, geoms: np.ndarray, *, canonical: bool = False) -> np.ndarray:
    """By class, then top row, then left column; ``canonical``: ties (rare) by the geometry's
    WKB, so the order depends on nothing but the polygons (normalized ones)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    bounds = shapely.bounds(geoms)  # (col, -row): the top row is -maxy
    order = np.lexsort((bounds[:, 0], -bounds[:, 3], values))
    if canonical:
        key = np.stack([values, -bounds[:, 3], bounds[:, 0]], axis=1)[order]
        tie = np.flatnonzero((key[1:] == key[:-1]).all(axis=1))
        if len(tie):
            wkb = shapely.to_wkb(geoms)
            starts = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]).any(axis=1)])
            ends = np.r_[starts[1:], len(order)]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                if b - a > 1:
                    order[a:b] = sorted(order[a:b].tolist(), key=lambda k: wkb[k])
    return order


@dataclass
class VectorSummary:
    """What :func:`vectorize_to_file` wrote: the path and, per class id, polygons and m²."""

    path: Any
    polygons: dict[int, int] = field(default_factory=dict)
    area_m2: dict[int, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The number of polygons written."""
        return sum(self.polygons.values())


def vectorize_to_file(
    mask: xr.DataArray,
    path: str | os.PathLike[str],
    classes: Sequence[str | int] | None = None,
    *,
    connectivity: int = 4,
    min_area: float | None = None,
    simplify: float | None = None,
    scheme: ClassScheme | str | None = None,
    overwrite: bool = False,
    stac: bool = True,
) -> VectorSummary:
    """Vectorize a mask straight into a file, its format chosen by the extension.

    Without ``simplify``, features are streamed: the workers polygonize,
    measure and encode each chunk's inner regions (see the module docstring
    for which workers), which are written as soon as their chunk is done, and
    the regions crossing chunk borders are merged and written at the end, so
    memory holds the chunks in flight and the border pieces, whatever the
    raster size; rows are in chunk order, then the merged regions, the same
    for every scheduler. A coverage simplification needs every polygon at
    once, so with ``simplify`` the result of :func:`vectorize` (sorted by class
    and position) is written. The same polygons either way; the file appears
    only when complete. ``scheme`` names the classes and styles the file;
    None: the scheme the mask records (:func:`landmask.io.read.schemes.resolve_scheme`).
    ``stac``: a STAC item beside the file (:mod:`landmask.io.stac.items`), its
    input the mask.
    """

    scheme = resolve_scheme(scheme, mask)
    lineage = Lineage.of(mask.attrs) if stac else None
    if simplify:
        frame = vectorize(
            mask,
            classes,
            connectivity=connectivity,
            min_area=min_area,
            simplify=simplify,
            scheme=scheme,
        )
        out = write_vector(
            frame, path, overwrite=overwrite, scheme=scheme, stac=stac, lineage=lineage
        )
        return _summary(out, frame)
    if simplify is not None and not simplify >= 0:
        raise ConfigError(f"--simplify {simplify}: must be a number >= 0")
    _check(mask, connectivity, min_area)
    wanted = resolve_classes(classes, scheme)
    spec = _spec(mask, wanted)
    summary = VectorSummary(None)
    with VectorWriter(path, overwrite=overwrite, scheme=scheme, lineage=lineage) as writer:
        geometry_type = "Polygon" if connectivity == 4 else "Unknown"
        batches = _iter_features(mask, spec, connectivity, min_area)
        writer.write_features(_counted(batches, summary), spec.crs, geometry_type)
        if writer.count == 0:
            writer.write(_to_frame(NO_VALUES, NO_GEOMS, mask, scheme, wanted, 0.0))
    summary.path = writer.out
    return summary


def _summary(path: Any, frame: gpd.GeoDataFrame) -> VectorSummary:
    summary = VectorSummary(path)
    for class_id, group in frame.groupby("class_id")["area_m2"]:
        k = int(class_id)
        summary.polygons[k] = summary.polygons.get(k, 0) + len(group)
        summary.area_m2[k] = summary.area_m2.get(k, 0.0) + float(group.sum())
    return summary


def _counted(batches: Iterable[Features], summary: VectorSummary) -> Iterator[Features]:
    """``batches``, adding up their polygons and areas per class in ``summary`` on the way."""
    for features in batches:
        counts = np.bincount(features.values, minlength=256)
        areas = np.bincount(features.values, weights=features.area_m2, minlength=256)
        for k in np.flatnonzero(counts).tolist():
            summary.polygons[k] = summary.polygons.get(k, 0) + int(counts[k])
            summary.area_m2[k] = summary.area_m2.get(k, 0.0) + float(areas[k])
        yield features
