"""The work on one chunk of a mask: label, polygonize, and encode features compactly.

This module is what worker processes import (see :mod:`landmask.vector.vectorize`),
so it imports only numpy, scipy, shapely and rasterio: no Dask, xarray or
geopandas, which would add a second or more to every worker's start.

A chunk's complete regions leave the worker as :class:`Features`, a few
thousand regions each: class ids, areas, perimeters and the geometries in the
output CRS as one WKB buffer with offsets. A few flat arrays pickle in
microseconds and become an Arrow table for the writer without a Python object
per polygon.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes

from landmask._runtime.malloc import release_free_memory, tune_malloc
from landmask._runtime.signals import die_with_parent
from landmask.vector._ragged import PolygonArray, Regions

# Imports: scipy (ndimage, sparse; ~0.1 s and ~20 MB) inside the functions that label and join
# regions, so that a command whose scenes import this module without vectorizing (classify, run)
# does not load it.

__all__ = [
    "STRIP_PIXELS",
    "ChunkPolygons",
    "Features",
    "OutputSpec",
    "joined",
    "polygonize_block",
    "region_labels",
]

#: ``scipy.ndimage.label``'s neighbourhoods: ``generate_binary_structure(2, 1)``, ``(2, 2)``
_STRUCTURE = {
    4: np.array([[False, True, False], [True, True, True], [False, True, False]]),
    8: np.ones((3, 3), dtype=bool),
}

NO_GEOMS = np.zeros(0, dtype=object)
NO_VALUES = np.zeros(0, dtype=np.uint8)

#: GDAL features turned into polygons at a time (their coordinates as Python tuples meanwhile)
_GDAL_BATCH = 4_096
#: Polygons transformed, measured and encoded at a time (:meth:`OutputSpec.features`)
_FEATURE_BATCH = 8_192
#: Pixels of a chunk whose labels are cast to int64 at a time (8 MB of index)
STRIP_PIXELS = 1 << 20


@dataclass
class ChunkPolygons:
    """Polygons of one chunk, in global pixel coordinates.

    ``interior`` regions are complete; ``border`` regions (keyed by their
    chunk-local label) touch an inner chunk border and may continue in a
    neighbour. The edge rows and columns of the label image let the driver
    find those continuations.
    """

    interior: np.ndarray = field(default_factory=lambda: NO_GEOMS)
    interior_values: np.ndarray = field(default_factory=lambda: NO_VALUES)
    border: dict[int, tuple[int, shapely.Geometry]] = field(default_factory=dict)
    top: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    bottom: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    left: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    right: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


def region_labels(
    block: np.ndarray, classes: Iterable[int], connectivity: int
) -> tuple[np.ndarray, np.ndarray]:
    """Connected regions of each of ``classes`` (4- or 8-connected) in one block.

    Returns an int32 label image (0: no region, labels numbered class by
    class in increasing class id) and the class of each label (index 0 unused).
    """
    from scipy import ndimage

    labels = np.zeros(block.shape, dtype=np.int32)
    lab = np.empty(block.shape, dtype=np.int32)
    class_of = [np.zeros(1, dtype=np.uint8)]
    offset = 0
    wanted = sorted(set(classes))
    if len(wanted) > 8:  # every class (sieve, simplify): skip the absent ones
        present = set(np.flatnonzero(np.bincount(block.ravel(), minlength=256)).tolist())
        wanted = [v for v in wanted if v in present]
    for value in wanted:
        inside = block == value
        n = int(ndimage.label(inside, structure=_STRUCTURE[connectivity], output=lab))
        if n:
            np.add(lab, offset, out=labels, where=inside)
            class_of.append(np.full(n, value, dtype=np.uint8))
            offset += n
    return labels, np.concatenate(class_of)


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
    out, interior, lut = _chunk_regions(block, row0, col0, inner, classes, connectivity)
    out.interior = interior.geometries()
    out.interior_values = lut[interior.labels]
    return out


def _chunk_regions(
    block: np.ndarray,
    row0: int,
    col0: int,
    inner: tuple[bool, bool, bool, bool],
    classes: frozenset[int],
    connectivity: int,
) -> tuple[ChunkPolygons, Regions, np.ndarray]:
    """:func:`polygonize_block` with the complete regions left as :class:`Regions`:
    ``(border pieces and edge labels, complete regions, class of each label)``."""
    labels, lut = region_labels(block, classes, connectivity)
    out = ChunkPolygons(
        top=labels[0].copy(),
        bottom=labels[-1].copy(),
        left=labels[:, 0].copy(),
        right=labels[:, -1].copy(),
    )
    if len(lut) == 1:
        return out, Regions.of_polygons(PolygonArray.empty(), np.zeros(0, np.int64)), lut
    edges = [
        e for e, keep in zip((out.top, out.bottom, out.left, out.right), inner, strict=True) if keep
    ]
    on_border = np.unique(np.concatenate(edges)) if edges else np.zeros(0, np.int32)
    if connectivity == 4:
        ids, polygons = _traced(labels, row0, col0)
        regions = Regions.of_polygons(polygons, ids)
    else:
        regions = _from_parts(block, labels, classes, row0, col0)
    del labels
    border = np.isin(regions.labels, on_border[on_border > 0])
    if border.any():
        pieces = regions.select(border)
        geoms = pieces.geometries().tolist()
        for label, geom in zip(pieces.labels.tolist(), geoms, strict=True):
            out.border[label] = (int(lut[label]), geom)
    return out, regions.select(~border), lut


def _traced(labels: np.ndarray, row0: int, col0: int) -> tuple[np.ndarray, PolygonArray]:
    """The polygon of every 4-connected region of ``labels``: ``(labels, polygons)``.

    GDAL traces the regions of more than one pixel; single-pixel regions (most
    of them on speckled masks) and one-pixel holes are squares made in one
    vectorized call each instead of one GDAL feature and dict apiece. The
    polygons stay flat arrays (:class:`PolygonArray`), not shapely objects.
    ``labels`` is consumed: one-pixel holes are filled in it
    (:func:`_fill_pixel_holes`).
    """
    single = _pixel_counts(labels) == 1
    single[0] = False
    is_single = _looked_up(single, labels)
    rows, cols = np.nonzero(is_single)
    single_ids = labels[rows, cols]  # before holes are filled in
    rest = labels > 0
    rest[is_single] = False
    del is_single
    traced, rest, holes = _fill_pixel_holes(labels, rest)
    # (col, -row) coordinates: exact integers like pixel coordinates, but not
    # an identity transform, which rasterio would warn about from worker threads
    transform = Affine(1, 0, col0, 0, -1, -row0)
    found = shapes(traced, mask=rest, connectivity=4, transform=transform)
    # in batches: GDAL's rings as Python tuples take ~10x the memory of the polygons
    ids_parts, arrays = [], []
    while batch := list(islice(found, _GDAL_BATCH)):
        ids_parts.append(np.fromiter((v for _, v in batch), dtype=np.int64, count=len(batch)))
        arrays.append(PolygonArray.from_rings([g["coordinates"] for g, _ in batch]))
        del batch
    del traced, rest, found
    # GDAL's layer of the chunk's polygons is gone: small pieces the flat arrays below
    # cannot reuse, so they go back rather than add to the peak
    release_free_memory()
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
    polygons = PolygonArray.concat(arrays)
    del arrays
    if holes is not None:
        polygons = _with_pixel_holes(polygons, ids, holes, row0, col0)
    ids = np.concatenate([ids, single_ids])
    return ids, PolygonArray.concat([polygons, PolygonArray.squares(col0 + cols, -(row0 + rows))])


def _from_parts(
    block: np.ndarray, labels: np.ndarray, classes: Iterable[int], row0: int, col0: int
) -> Regions:
    """Every 8-connected region of ``labels``, made of its 4-connected parts.

    GDAL traces an 8-connected region whose parts meet at a corner as one
    self-touching ring, which :func:`shapely.make_valid` repaired at 0.6 ms a
    region (78% of an 8-connected vectorize of a speckled mask). Its valid
    form is a polygon for one part, else the multipolygon of its 4-connected
    parts, which touch at points only; that is what is built here, from one
    4-connected trace (:func:`_traced`) and no repair: the parts grouped by
    region (:class:`Regions`), made into geometries later, a batch at a time.
    """
    parts, _ = region_labels(block, classes, 4)
    owner = np.zeros(int(parts.max()) + 1, dtype=np.int64)
    owner[parts] = labels
    part_ids, polygons = _traced(parts, row0, col0)
    del parts
    region = owner[part_ids]
    order = np.argsort(region, kind="stable")
    region = region[order]
    first = np.r_[True, region[1:] != region[:-1]] if len(region) else np.zeros(0, bool)
    parts_at = np.append(np.flatnonzero(first), len(region)).astype(np.int64)
    return Regions(polygons, region[first], order, parts_at)


def _pixel_counts(labels: np.ndarray) -> np.ndarray:
    """``np.bincount(labels.ravel())``, a strip of rows at a time: bincount casts its input to
    int64, a copy twice the size of an int32 chunk's labels."""
    n = int(labels.max(initial=0)) + 1
    counts = np.zeros(n, dtype=np.int64)
    for strip in _strips(labels):
        counts += np.bincount(strip.ravel(), minlength=n)
    return counts


def _looked_up(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``table[labels]``, a strip of rows at a time (the index is cast to int64 too)."""
    out = np.empty(labels.shape, dtype=table.dtype)
    for strip, into in zip(_strips(labels), _strips(out), strict=True):
        np.take(table, strip, out=into, mode="clip")  # "raise" buffers ``out`` whole
    return out


def _strips(image: np.ndarray) -> list[np.ndarray]:
    """``image`` as views of :data:`STRIP_PIXELS` pixels or so, whole rows each."""
    rows = max(1, STRIP_PIXELS // max(1, image.shape[1]))
    return [image[a : a + rows] for a in range(0, image.shape[0], rows)]


def _fill_pixel_holes(
    labels: np.ndarray, rest: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Single-pixel holes filled in for GDAL, in ``labels`` and ``rest`` themselves (a copy
    of a chunk's labels was a fifth of its peak): ``(labels, rest, (rows, cols, region))``.

    A pixel whose four edge neighbours all belong to one region (and it not)
    is a one-pixel hole in that region's polygon. Speckle makes thousands of
    them in a big region, and GDAL hands each one back as a ring of Python
    tuples; filled in, the region is traced without them and the holes are
    added back as squares in one vectorized call (:func:`_with_pixel_holes`).
    4-connectivity only: with 8 a hole's corner may touch a neighbour's.
    """
    if min(labels.shape) < 3:
        return labels, rest, None
    up = labels[:-2, 1:-1]
    hole = (up > 0) & (labels[1:-1, 1:-1] != up)
    for side in (labels[2:, 1:-1], labels[1:-1, :-2], labels[1:-1, 2:]):
        hole &= side == up
    rows, cols = np.nonzero(hole)
    if not len(rows):
        return labels, rest, None
    region = up[rows, cols]
    rows += 1
    cols += 1
    labels[rows, cols] = region
    rest[rows, cols] = True
    return labels, rest, (rows, cols, region)


def _with_pixel_holes(
    polygons: PolygonArray,
    labels: np.ndarray,
    holes: tuple[np.ndarray, np.ndarray, np.ndarray],
    row0: int,
    col0: int,
) -> PolygonArray:
    """Put the holes :func:`_fill_pixel_holes` filled back into ``polygons`` (one per label)."""
    rows, cols, region = holes
    where = np.full(int(labels.max(initial=0)) + 1, -1, dtype=np.int64)
    where[labels] = np.arange(len(labels))
    target = where[region]
    if (target < 0).any():  # cannot happen: every filled region is traced
        raise AssertionError("a region with a one-pixel hole was not polygonized")
    squares = PolygonArray.squares(col0 + cols, -(row0 + rows), hole=True)
    return polygons.with_holes(target, squares)


# ------------------------------------------------------------------ features


@dataclass(frozen=True)
class OutputSpec:
    """How pixel polygons become output features: the mask's georeferencing and classes.

    ``transform`` is the mask's affine transform; ``crs`` a :class:`pyproj.CRS`
    (or None); ``wanted`` the class ids to keep.
    """

    transform: Affine
    crs: Any
    wanted: frozenset[int]

    def to_crs(self, pixel_geoms: np.ndarray) -> np.ndarray:
        """Polygons in (col, -row) pixels -> polygons in the mask's CRS, in canonical form.

        Canonical (:func:`shapely.normalize`: where each ring starts, which way it
        turns): a polygon GDAL traced whole and the same polygon stitched from
        chunks are then the same bytes, so files do not depend on the chunking.
        """
        return shapely.normalize(shapely.transform(pixel_geoms, self.affine))

    def affine(self, xy: np.ndarray) -> np.ndarray:
        """``(n, 2)`` coordinates in (col, -row) pixels -> in the mask's CRS."""
        t = self.transform
        coeffs = np.array([[t.a, -t.b], [t.d, -t.e]])  # from (col, -row)
        offset = np.array([t.c, t.f])
        return xy @ coeffs.T + offset

    def measures(
        self, geoms: np.ndarray, pixel_geoms: np.ndarray, *, exact: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Areas (m²) and perimeters (m): on the ellipsoid for a geographic CRS, else from
        whole pixels for unsimplified polygons (``exact``), or from ``geoms``."""
        crs = self.crs
        if crs is not None and crs.is_geographic:
            geod = crs.get_geod()
            area = [abs(geod.geometry_area_perimeter(g)[0]) for g in geoms]
            # geometry_area_perimeter measures the exterior only; count the holes too
            length = [geod.geometry_length(g.boundary) for g in geoms]
            return np.asarray(area, dtype=float), np.asarray(length, dtype=float)
        factor = crs.axis_info[0].unit_conversion_factor if crs is not None else 1.0
        if exact:
            area = shapely.area(pixel_geoms) * abs(self.transform.determinant) * factor**2
        else:
            area = shapely.area(geoms) * factor**2
        perimeter = shapely.length(geoms) * factor
        return np.asarray(area, dtype=float), np.asarray(perimeter, dtype=float)

    def features(self, values: np.ndarray, pixel_geoms: np.ndarray) -> list[Features]:
        """The features of ``wanted`` regions among ``(values, pixel_geoms)``, in input order,
        in batches of a few thousand.

        ``pixel_geoms`` is consumed (its items are set to None): the polygons are
        transformed, measured and encoded a few thousand at a time and dropped as they
        are, so memory holds them about once, not three times over.
        """
        chosen = np.isin(values, list(self.wanted))
        values, kept = values[chosen], pixel_geoms[chosen]
        pixel_geoms[:] = None

        def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for a in range(0, len(kept), _FEATURE_BATCH):
                pixel = kept[a : a + _FEATURE_BATCH].copy()  # a slice is a view
                kept[a : a + _FEATURE_BATCH] = None
                yield pixel, self.to_crs(pixel)

        return self._encoded(values, batches())

    def region_features(self, values: np.ndarray, regions: Regions) -> list[Features]:
        """:meth:`features` of :class:`Regions` (``values`` their classes): their geometries
        are made a batch at a time, so memory holds the flat arrays and one batch. The
        output ones are made from transformed coordinates, not transformed polygons."""
        chosen = np.isin(values, list(self.wanted))
        values, regions = values[chosen], regions.select(chosen)

        def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for a, b in regions.batches(_FEATURE_BATCH):
                geoms = shapely.normalize(regions.geometries(a, b, self.affine))
                yield regions.geometries(a, b), geoms

        return self._encoded(values, batches())

    def _encoded(
        self, values: np.ndarray, batches: Iterator[tuple[np.ndarray, np.ndarray]]
    ) -> list[Features]:
        """Features of ``values``, their polygons given batch by batch, in pixels and in
        the CRS (:meth:`to_crs`): one :class:`Features` per batch, so that no buffer of
        every batch's WKB is ever made (it held them twice while it was)."""
        out, start = [], 0
        for pixel, geoms in batches:
            area, perimeter = self.measures(geoms, pixel)
            del pixel
            wkb = shapely.to_wkb(geoms)
            n = len(wkb)
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.fromiter(map(len, wkb), dtype=np.int64, count=n), out=offsets[1:])
            data = np.frombuffer(b"".join(wkb), dtype=np.uint8)
            del geoms, wkb
            kept = values[start : start + n].astype(np.uint8)
            out.append(Features(kept, np.asarray(area), np.asarray(perimeter), data, offsets))
            start += n
        return out


@dataclass
class Features:
    """Output features as flat arrays: class ids, m², m and WKB geometries (one buffer)."""

    values: np.ndarray
    area_m2: np.ndarray
    perimeter_m: np.ndarray
    wkb: np.ndarray  # uint8: every geometry's WKB, one after the other
    offsets: np.ndarray  # int64: geometry k is wkb[offsets[k]:offsets[k + 1]]

    def __len__(self) -> int:
        return len(self.values)

    def geometries(self) -> np.ndarray:
        """The geometries as shapely objects."""
        blob = self.wkb.tobytes()
        o = self.offsets.tolist()
        return shapely.from_wkb([blob[o[k] : o[k + 1]] for k in range(len(self))])


def chunk_features(
    block: np.ndarray,
    row0: int,
    col0: int,
    inner: tuple[bool, bool, bool, bool],
    classes: frozenset[int],
    connectivity: int,
    spec: OutputSpec,
) -> tuple[list[Features], ChunkPolygons]:
    """Block function of the streamed path: the chunk's complete regions as :class:`Features`
    (a few thousand each) and its border pieces (in pixels) for stitching."""
    part, interior, lut = _chunk_regions(block, row0, col0, inner, classes, connectivity)
    features = spec.region_features(lut[interior.labels], interior)
    del interior
    # the chunk's polygons are freed: their memory is not what writing or the next chunk's
    # labels and GDAL output need, so it goes back rather than add to the peak
    release_free_memory()
    return features, part


def merge_groups(
    groups: list[tuple[int, list[shapely.Geometry]]],
) -> tuple[np.ndarray, np.ndarray]:
    """Border pieces of each region -> ``(class ids, polygons)``, one per region, in pixels.

    Pieces share their edges exactly (integer coordinates), so the union is
    the region; simplifying with tolerance 0 drops the vertices the chunk
    borders left on straight edges, as GDAL on the whole raster would.
    """
    values = np.array([v for v, _ in groups], dtype=np.uint8)
    geoms = np.empty(len(groups), dtype=object)
    for k, (_, pieces) in enumerate(groups):
        geoms[k] = pieces[0] if len(pieces) == 1 else _union(pieces)
    return values, geoms


def _union(pieces: list[shapely.Geometry]) -> shapely.Geometry:
    """The union of a region's pieces (one per chunk), as GDAL traces the whole region.

    Pieces of 4-connected regions are polygons (:func:`_merge_polygons`). A
    piece of an 8-connected region may be a multipolygon of 4-connected parts
    that touch at corners only: overlaying such pieces whole cost GEOS seconds
    per region on stripes and checkerboards (thousands of corner contacts), so
    only the parts that share an edge with a part of another piece are merged
    (:func:`_edge_groups`), and every other part is kept as it is.
    """
    if all(shapely.get_type_id(p) == 3 for p in pieces):
        merged = _merge_polygons(pieces)
        if shapely.get_type_id(merged) == 3:
            return merged
    parts, piece_of = shapely.get_parts(np.asarray(pieces, dtype=object), return_index=True)
    group = _edge_groups(parts, piece_of)
    size = np.bincount(group)
    alone = size[group] == 1  # most parts of a fragmented region: kept as they are
    shared = np.flatnonzero(~alone)
    order = shared[np.argsort(group[shared], kind="stable")]
    ends = np.cumsum(size[size > 1])
    merged = (
        [_merge_polygons(list(parts[m])) for m in np.split(order, ends[:-1])] if len(order) else []
    )
    flat = np.concatenate([parts[alone], shapely.get_parts(np.asarray(merged, dtype=object))])
    return flat[0] if len(flat) == 1 else shapely.multipolygons(flat)


def _edge_groups(parts: np.ndarray, piece_of: np.ndarray) -> np.ndarray:
    """A group number per part: parts of different pieces that share an edge, transitively.

    Parts of one piece never share an edge (they are its 4-connected parts),
    and parts of different pieces meet only along chunk borders, so the pairs
    are few: the spatial index finds the candidates, a DE-9IM test keeps the
    pairs whose boundaries meet in a line (not just at a corner).
    """
    a, b = shapely.STRtree(parts).query(parts, predicate="intersects")
    keep = piece_of[a] < piece_of[b]
    a, b = a[keep], b[keep]
    if len(a):
        edge = shapely.relate_pattern(parts[a], parts[b], "****1****")
        a, b = a[edge], b[edge]
    return joined(a, b, len(parts))


def joined(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The connected component of each of ``n`` nodes joined by the edges ``a[k]``-``b[k]``.

    Components are numbered from 0 in the order of their lowest node
    (:func:`scipy.sparse.csgraph.connected_components` of the undirected graph).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1])


def _merge_polygons(pieces: list[shapely.Geometry]) -> shapely.Geometry:
    """The union of polygons that share edges, without overlaying their holes.

    A piece's holes never touch its chunk's border (a pocket open to the border
    is a notch in the outline), so no other piece reaches them and they are
    holes of the region as they are. Most of a big region's vertices are
    in such holes (speckle of other classes), so the shells are merged alone
    and the holes added back; shells that merge into several polygons
    (8-connectivity) get the full union. Simplifying with tolerance 0 drops
    the vertices the chunk borders left on straight edges.
    """
    shells = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(pieces)))
    shells = shapely.simplify(shells, 0)  # drop the vertices the chunk borders left
    if shapely.get_type_id(shells) != 3:
        return shapely.simplify(shapely.union_all(pieces), 0)
    holes = list(shells.interiors)
    for piece in pieces:
        holes.extend(piece.interiors)
    return shapely.Polygon(shells.exterior, holes)


def merged_features(
    groups: list[tuple[int, list[shapely.Geometry]]], spec: OutputSpec
) -> list[Features]:
    """Task function of the streamed path: :func:`merge_groups`, as output features."""
    return spec.features(*merge_groups(groups))


def init_worker() -> None:
    """Worker-process start: glibc's heap for chunk-sized temporaries (as the CLI does);
    the process ends with its parent (:func:`~landmask._runtime.signals.die_with_parent`)."""

    die_with_parent()
    tune_malloc()
