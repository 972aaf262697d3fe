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

One difference from GDAL, on purpose: an 8-connected region whose parts
touch only at a corner is a single MultiPolygon feature here, where GDAL
writes a self-touching (invalid) ring.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from landmask.areas import pixel_area_m2
from landmask.classes import LANDCOVER, NODATA, ClassScheme
from landmask.errors import ConfigError, InputError
from landmask.sieve import sieve

__all__ = [
    "ChunkPolygons",
    "iter_regions",
    "polygonize_block",
    "resolve_classes",
    "vectorize",
    "vectorize_to_file",
]

_STRUCTURE = {
    4: ndimage.generate_binary_structure(2, 1),
    8: ndimage.generate_binary_structure(2, 2),
}


_NO_GEOMS = np.zeros(0, dtype=object)
_NO_VALUES = np.zeros(0, dtype=np.uint8)


@dataclass
class ChunkPolygons:
    """Polygons of one chunk, in global pixel coordinates.

    ``interior`` regions are complete; ``border`` regions (keyed by their
    chunk-local label) touch an inner chunk border and may continue in a
    neighbour. The edge rows and columns of the label image let the driver
    find those continuations.
    """

    interior: np.ndarray = field(default_factory=lambda: _NO_GEOMS)
    interior_values: np.ndarray = field(default_factory=lambda: _NO_VALUES)
    border: dict[int, tuple[int, shapely.Geometry]] = field(default_factory=dict)
    top: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    bottom: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    left: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    right: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


def _labels(
    block: np.ndarray, classes: Iterable[int], connectivity: int
) -> tuple[np.ndarray, dict[int, int]]:
    """Connected regions of each class: an int32 label image (0: none) and label -> class."""
    labels = np.zeros(block.shape, dtype=np.int32)
    class_of: dict[int, int] = {}
    offset = 0
    present = set(np.unique(block).tolist())
    for value in sorted(set(classes) & present):
        lab, n = ndimage.label(block == value, structure=_STRUCTURE[connectivity])
        if n:
            hit = lab > 0
            labels[hit] = lab[hit] + offset
            class_of.update({offset + k: value for k in range(1, n + 1)})
            offset += n
    return labels, class_of


def polygonize_block(
    block: np.ndarray,
    row0: int,
    col0: int,
    inner: tuple[bool, bool, bool, bool],
    classes: frozenset[int],
    connectivity: int,
) -> ChunkPolygons:
    """Block function: polygons of every region of ``classes`` in one chunk.

    Parameters
    ----------
    block
        ``(y, x)`` class ids of the chunk.
    row0, col0
        The chunk's offset in the raster (pixels).
    inner
        Whether the top, bottom, left and right sides are inner chunk borders.
    classes
        Class ids to polygonize.
    connectivity
        4 or 8.

    Costs one int32 label image of the chunk plus GDAL's polygons.
    """
    labels, class_of = _labels(block, classes, connectivity)
    out = ChunkPolygons(
        top=labels[0].copy(),
        bottom=labels[-1].copy(),
        left=labels[:, 0].copy(),
        right=labels[:, -1].copy(),
    )
    if not class_of:
        return out
    edges = [
        e for e, keep in zip((out.top, out.bottom, out.left, out.right), inner, strict=True) if keep
    ]
    on_border = set(np.unique(np.concatenate(edges)).tolist()) - {0} if edges else set()
    # (col, -row) coordinates: exact integers like pixel coordinates, but not
    # an identity transform, which rasterio would warn about from worker threads
    transform = Affine(1, 0, col0, 0, -1, -row0)
    # Single-pixel regions (most of them on speckled masks) are squares: made
    # here in one vectorized call instead of one GDAL feature and dict each
    single = np.bincount(labels.ravel()) == 1
    single[0] = False
    is_single = single[labels]
    rows, cols = np.nonzero(is_single)
    squares = shapely.box(col0 + cols, -(row0 + rows + 1), col0 + cols + 1, -(row0 + rows))
    rest = (labels > 0) & ~is_single
    found = shapes(labels, mask=rest, connectivity=connectivity, transform=transform)
    label_list, geoms = _polygons([(int(v), g["coordinates"]) for g, v in found])
    if connectivity == 8:  # parts touching at a corner make self-touching rings
        bad = ~shapely.is_valid(geoms)
        geoms[bad] = shapely.make_valid(geoms[bad])
    labels_arr = np.concatenate([np.asarray(label_list, dtype=np.int64), labels[rows, cols]])
    geoms = np.concatenate([geoms, np.asarray(squares, dtype=object)])
    border = np.isin(labels_arr, list(on_border))
    for label, geom in zip(labels_arr[border].tolist(), geoms[border].tolist(), strict=True):
        out.border[label] = (class_of[label], geom)
    lut = np.zeros(len(class_of) + 1, dtype=np.uint8)
    lut[np.fromiter(class_of, dtype=np.int64)] = np.fromiter(class_of.values(), dtype=np.uint8)
    out.interior = geoms[~border]
    out.interior_values = lut[labels_arr[~border]]
    return out


def _polygons(
    found: list[tuple[int, list[list[tuple[float, float]]]]],
) -> tuple[list[int], np.ndarray]:
    """GeoJSON-like polygon coordinates -> shapely polygons, built in one vectorized call.

    Building each polygon from its dict in Python cost more than GDAL's polygonize.
    """
    labels = [label for label, _ in found]
    if not found:
        return labels, np.zeros(0, dtype=object)
    rings = [ring for _, polygon in found for ring in polygon]
    lengths = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    flat = chain.from_iterable(chain.from_iterable(rings))  # x0, y0, x1, y1, ...
    coords = np.fromiter(flat, dtype=np.float64, count=2 * int(lengths.sum())).reshape(-1, 2)
    ring_ends = np.cumsum(lengths)
    poly_ends = np.cumsum(np.fromiter((len(p) for _, p in found), dtype=np.int64, count=len(found)))
    offsets = (np.concatenate([[0], ring_ends]), np.concatenate([[0], poly_ends]))
    return labels, shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, offsets)


def _pairs(
    a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray, diagonal: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Label pairs that touch across a border: ``a`` and ``b`` face each other."""
    out = []
    shifts = [(0, 0)] + ([(1, 0), (0, 1)] if diagonal else [])
    for sa, sb in shifts:
        n = len(a) - max(sa, sb)
        la, lb = a[sa : sa + n], b[sb : sb + n]
        keep = (la > 0) & (lb > 0) & (ca[sa : sa + n] == cb[sb : sb + n])
        out.append((la[keep], lb[keep]))
    return out


def _stitch(
    parts: dict[tuple[int, int], ChunkPolygons], rows: int, cols: int, diagonal: bool
) -> list[tuple[int, shapely.Geometry]]:
    """Merge border regions that continue across chunk borders."""
    ids: dict[tuple[int, int, int], int] = {}
    pieces: list[tuple[int, shapely.Geometry]] = []
    for (i, j), part in parts.items():
        for label, (value, geom) in part.border.items():
            ids[(i, j, label)] = len(pieces)
            pieces.append((value, geom))
    if not pieces:
        return []

    def gids(i: int, j: int, labels: np.ndarray) -> np.ndarray:
        return np.array([ids.get((i, j, int(v)), -1) if v else -1 for v in labels], dtype=np.int64)

    def classes(g: np.ndarray) -> np.ndarray:
        return np.array([pieces[k][0] if k >= 0 else -1 for k in g], dtype=np.int64)

    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    for i in range(rows - 1):  # horizontal borders, across the whole width
        upper = np.concatenate([gids(i, j, parts[(i, j)].bottom) for j in range(cols)])
        lower = np.concatenate([gids(i + 1, j, parts[(i + 1, j)].top) for j in range(cols)])
        for a, b in _pairs(upper + 1, lower + 1, classes(upper), classes(lower), diagonal):
            src.append(a - 1)
            dst.append(b - 1)
    for j in range(cols - 1):  # vertical borders, across the whole height
        left = np.concatenate([gids(i, j, parts[(i, j)].right) for i in range(rows)])
        right = np.concatenate([gids(i, j + 1, parts[(i, j + 1)].left) for i in range(rows)])
        for a, b in _pairs(left + 1, right + 1, classes(left), classes(right), diagonal):
            src.append(a - 1)
            dst.append(b - 1)
    n = len(pieces)
    s = np.concatenate(src) if src else np.zeros(0, np.int64)
    d = np.concatenate(dst) if dst else np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    merged = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        value = pieces[members[0]][0]
        if len(members) == 1:
            merged.append((value, pieces[members[0]][1]))
        else:
            union = shapely.union_all([pieces[k][1] for k in members])
            merged.append((value, shapely.simplify(union, 0)))  # drop vertices on old borders
    return merged


def resolve_classes(classes: Sequence[str | int] | None, scheme: ClassScheme) -> frozenset[int]:
    """Class names or ids -> ids; default: every class but 0 (other) and 255 (nodata)."""
    if not classes:
        return frozenset(c.id for c in scheme if c.id not in (0, NODATA))
    out = set()
    for c in classes:
        text = str(c).strip()
        if text.isdigit():
            out.add(int(text))
        else:
            try:
                out.add(scheme.id_of(text))
            except ConfigError:
                known = ", ".join(k.name for k in scheme)
                raise ConfigError(f"--classes {text}: unknown class (known: {known})") from None
    if NODATA in out:
        raise ConfigError("nodata (255) is never vectorized")
    return frozenset(out)


def vectorize(
    mask: xr.DataArray,
    classes: Sequence[str | int] | None = None,
    *,
    connectivity: int = 4,
    min_area: float | None = None,
    simplify: float | None = None,
    scheme: ClassScheme = LANDCOVER,
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
        their surroundings before polygonizing (see :mod:`landmask.sieve`).
    simplify
        Tolerance in CRS units for a simplification that keeps the coverage:
        neighbouring polygons keep sharing their edges, so no gaps or overlaps
        appear (GEOS coverage simplification over the regions of every class).
    scheme
        Names of the classes.

    Returns
    -------
    geopandas.GeoDataFrame
        ``class_id``, ``class_name``, ``area_m2``, ``perimeter_m`` and the
        geometry in the mask's CRS (areas and lengths on the ellipsoid for a
        geographic CRS), sorted by class and then by position. Chunks are
        polygonized in parallel; the result equals GDAL on the whole raster
        for any chunk size.
    """
    _check(mask, connectivity, min_area)
    if simplify is not None and not simplify >= 0:
        raise ConfigError(f"--simplify {simplify}: must be a number >= 0")
    wanted = resolve_classes(classes, scheme)
    regions = list(iter_regions(mask, wanted, connectivity, min_area, whole=bool(simplify)))
    values = np.concatenate([v for v, _ in regions]) if regions else np.zeros(0, np.uint8)
    geoms = np.concatenate([g for _, g in regions]) if regions else np.zeros(0, object)
    return _to_frame(values, geoms, mask, scheme, wanted, simplify or 0.0)


def _check(mask: xr.DataArray, connectivity: int, min_area: float | None) -> None:
    if connectivity not in (4, 8):
        raise ConfigError(f"--connectivity {connectivity}: must be 4 or 8")
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise InputError(
            f"not a mask: expected 2-D uint8 class ids, got {mask.ndim}-D {mask.dtype}"
        )
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

    Chunks are polygonized a few at a time (as many as the scheduler runs at
    once, at least a row of chunks); the regions inside each chunk are yielded
    as soon as its batch is done, and only the pieces touching a chunk border
    are kept until the end, when they are stitched and yielded. Memory holds
    one batch of chunks and the border pieces, not every polygon.

    ``whole`` polygonizes every class (a coverage simplification needs all
    regions); otherwise only ``wanted`` ones. Yielded batches may hold other
    classes than ``wanted`` only with ``whole``.
    """
    _check(mask, connectivity, min_area)
    # a sieve and a coverage simplification need every region, not just the wanted ones
    polygonized = frozenset(range(NODATA)) if (whole or bool(min_area)) else wanted
    data = (
        mask.data
        if isinstance(mask.data, da.Array)
        else da.from_array(np.asarray(mask.data), chunks=2048)
    )
    if min_area:
        pixel_m2, _ = pixel_area_m2(mask.rio.transform(), mask.rio.crs)
        data = sieve(data, math.ceil(min_area / pixel_m2), connectivity)
    rows, cols = data.numblocks
    y_off = np.concatenate([[0], np.cumsum(data.chunks[0])])
    x_off = np.concatenate([[0], np.cumsum(data.chunks[1])])
    blocks = data.to_delayed()
    keys = [(i, j) for i in range(rows) for j in range(cols)]
    parts: dict[tuple[int, int], ChunkPolygons] = {}
    step = max(cols, 2 * _workers())
    for start in range(0, len(keys), step):
        batch = keys[start : start + step]
        tasks = [
            dask.delayed(polygonize_block)(
                blocks[i, j],
                int(y_off[i]),
                int(x_off[j]),
                (i > 0, i < rows - 1, j > 0, j < cols - 1),
                polygonized,
                connectivity,
            )
            for i, j in batch
        ]
        for key, part in zip(batch, dask.compute(*tasks), strict=True):
            if part.interior_values.size:
                yield part.interior_values, part.interior
            part.interior, part.interior_values = _NO_GEOMS, _NO_VALUES
            parts[key] = part
    merged = _stitch(parts, rows, cols, diagonal=connectivity == 8)
    if merged:
        yield (
            np.array([v for v, _ in merged], dtype=np.uint8),
            np.array([g for _, g in merged], dtype=object),
        )


def _workers() -> int:
    """How many tasks the active Dask scheduler runs at once."""
    try:
        from distributed import default_client

        return max(1, sum(default_client().nthreads().values()))
    except (ImportError, ValueError):
        return os.cpu_count() or 1


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
    """Polygons in (col, -row) pixels -> a GeoDataFrame in the mask's CRS with measures."""
    t = mask.rio.transform()
    coeffs = np.array([[t.a, -t.b], [t.d, -t.e]])  # from (col, -row)
    offset = np.array([t.c, t.f])
    if tolerance > 0 and len(pixel_geoms):
        # GEOS needs a noded coverage: a vertex of one polygon lying on its
        # neighbour's straight edge must be a vertex of that edge too, so put a
        # vertex on every pixel corner of every edge, then simplify
        dense = shapely.transform(shapely.segmentize(pixel_geoms, 1.0), _affine(coeffs, offset))
        geoms = shapely.coverage_simplify(dense, tolerance, simplify_boundary=True)
    else:
        geoms = shapely.transform(pixel_geoms, _affine(coeffs, offset))
    chosen = np.isin(values, list(wanted))
    values, pixel_geoms, geoms = values[chosen], pixel_geoms[chosen], geoms[chosen]
    if sort:
        order = _order(values, pixel_geoms)
        values, pixel_geoms, geoms = values[order], pixel_geoms[order], geoms[order]
    crs = mask.rio.crs
    frame = gpd.GeoDataFrame(
        {
            "class_id": values,
            "class_name": [scheme.name_of(int(v)) for v in values],
        },
        geometry=geoms,
        crs=crs,
    )
    area, perimeter = _measures(frame, pixel_geoms, t, exact=tolerance == 0)
    frame.insert(2, "area_m2", area)
    frame.insert(3, "perimeter_m", perimeter)
    return frame


def _affine(coeffs: np.ndarray, offset: np.ndarray) -> Any:
    return lambda xy: xy @ coeffs.T + offset


def _order(values: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    bounds = shapely.bounds(geoms)  # (col, -row): the top row is -maxy
    return np.lexsort((bounds[:, 0], -bounds[:, 3], values))


def _measures(
    frame: gpd.GeoDataFrame, pixel_geoms: np.ndarray, t: Affine, *, exact: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Areas (m²) and perimeters (m): on the ellipsoid for a geographic CRS, else from
    whole pixels for unsimplified polygons, or from the simplified geometry."""
    crs = frame.crs
    if crs is not None and crs.is_geographic:
        geod = crs.get_geod()
        area = [abs(geod.geometry_area_perimeter(g)[0]) for g in frame.geometry]
        # geometry_area_perimeter measures the exterior only; count the holes too
        length = [geod.geometry_length(g.boundary) for g in frame.geometry]
        return np.asarray(area, dtype=float), np.asarray(length, dtype=float)
    factor = crs.axis_info[0].unit_conversion_factor if crs is not None else 1.0
    if exact:
        area = shapely.area(pixel_geoms) * abs(t.determinant) * factor**2
    else:
        area = shapely.area(np.asarray(frame.geometry.values)) * factor**2
    perimeter = shapely.length(np.asarray(frame.geometry.values)) * factor
    return np.asarray(area, dtype=float), np.asarray(perimeter, dtype=float)


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
    scheme: ClassScheme = LANDCOVER,
    overwrite: bool = False,
) -> VectorSummary:
    """Vectorize a mask straight into a file, its format chosen by the extension.

    Without ``simplify``, features are streamed: the regions inside each
    chunk are written as soon as its batch is polygonized, and the regions
    crossing chunk borders at the end, so memory holds one batch of chunks and
    the border pieces, whatever the raster size; rows are in chunk order. A
    coverage simplification needs every polygon at once, so with ``simplify``
    the result of :func:`vectorize` (sorted by class and position) is written.
    The same polygons either way; the file appears only when complete.
    """
    from landmask.vector_formats import VectorWriter, write_vector

    if simplify:
        frame = vectorize(
            mask,
            classes,
            connectivity=connectivity,
            min_area=min_area,
            simplify=simplify,
            scheme=scheme,
        )
        out = write_vector(frame, path, overwrite=overwrite, scheme=scheme)
        return _summary(out, frame)
    if simplify is not None and not simplify >= 0:
        raise ConfigError(f"--simplify {simplify}: must be a number >= 0")
    _check(mask, connectivity, min_area)
    wanted = resolve_classes(classes, scheme)
    summary = VectorSummary(None)
    with VectorWriter(path, overwrite=overwrite, scheme=scheme) as writer:
        for values, geoms in iter_regions(mask, wanted, connectivity, min_area):
            frame = _to_frame(values, geoms, mask, scheme, wanted, 0.0, sort=False)
            if len(frame):
                writer.write(frame)
                _add(summary, frame)
        if writer.count == 0:
            writer.write(_to_frame(_NO_VALUES, _NO_GEOMS, mask, scheme, wanted, 0.0))
    summary.path = writer.out
    return summary


def _summary(path: Any, frame: gpd.GeoDataFrame) -> VectorSummary:
    summary = VectorSummary(path)
    _add(summary, frame)
    return summary


def _add(summary: VectorSummary, frame: gpd.GeoDataFrame) -> None:
    for class_id, group in frame.groupby("class_id")["area_m2"]:
        k = int(class_id)
        summary.polygons[k] = summary.polygons.get(k, 0) + len(group)
        summary.area_m2[k] = summary.area_m2.get(k, 0.0) + float(group.sum())
