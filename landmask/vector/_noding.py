"""Noding a coverage of pixel polygons: a vertex wherever a neighbour has one on an edge.

Behind the coverage simplification of :mod:`landmask.vector.vectorize`. GEOS
simplifies a coverage edge by edge and finds the edges two polygons share by
their vertices, so a vertex of one polygon in the middle of its neighbour's
straight edge must be a vertex of that edge too, or the two sides are
simplified apart (gaps, overlaps). Putting a vertex on every pixel corner
(:func:`shapely.segmentize` to one pixel) does that, but makes a 1-pixel line
of ``n`` pixels ``2n`` vertices long, and GEOS's simplifier slowed down with
those runs of collinear vertices far more than linearly (30 s for 512 lines of
512 pixels, against 0.01 s for their 5-vertex rectangles).

:func:`noded` adds exactly the vertices that are needed: the polygons are
rectilinear with integer coordinates, so the vertices on the inside of a
horizontal edge are those of the same ``y`` with ``x`` between its ends, found
for every edge at once by binary search in the sorted vertices.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["noded"]


def noded(geoms: np.ndarray) -> np.ndarray:
    """Pixel polygons (integer, axis-parallel edges) with every vertex of any of them that
    lies inside an edge of another inserted into that edge.

    Parameters
    ----------
    geoms
        Polygons and multipolygons whose vertices are integers (pixel corners) and whose edges
        are horizontal or vertical, e.g. traced regions in (col, -row) pixels.

    Returns
    -------
    numpy.ndarray
        The same geometries, same types and rings, with the vertices added in order along
        each edge; nothing else changes. Works on flat coordinate arrays (GeoArrow layout):
        the only geometries made are the results.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    if len(geoms) == 0:
        return out
    xy = shapely.get_coordinates(geoms)
    lo = np.floor(xy.min(axis=0)).astype(np.int64)
    span = int(np.ceil(xy.max())) - int(lo.min()) + 2
    vertices = _Vertices(xy, lo, span)
    del xy
    kinds = shapely.get_type_id(geoms)
    if not np.isin(kinds, (3, 6)).all():
        raise ValueError("noded: polygons and multipolygons only")
    for kind, geometry_type in (
        (3, shapely.GeometryType.POLYGON),
        (6, shapely.GeometryType.MULTIPOLYGON),
    ):
        chosen = np.flatnonzero(kinds == kind)
        if not len(chosen):
            continue
        _, coords, offsets = shapely.to_ragged_array(geoms[chosen])
        coords, rings = vertices.insert(coords, offsets[0])
        out[chosen] = shapely.from_ragged_array(geometry_type, coords, (rings, *offsets[1:]))
    return out


class _Vertices:
    """Every vertex of a coverage, sorted by (y, x) and by (x, y), as integer keys."""

    def __init__(self, xy: np.ndarray, lo: np.ndarray, span: int) -> None:
        ij = np.rint(xy).astype(np.int64)
        if not np.array_equal(ij, xy):
            raise ValueError("noded: vertices must be integers (pixel corners)")
        ij -= lo
        self.lo, self.span = lo, span
        self.by_row = np.unique(ij[:, 1] * span + ij[:, 0])  # key y * span + x
        x, y = self.by_row % span, self.by_row // span
        self.by_col = np.sort(x * span + y)  # key x * span + y

    def insert(self, coords: np.ndarray, ring_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rings (flat ``coords``, closed, split at ``ring_offsets``) with the vertices that lie
        inside their edges inserted: ``(coords, ring_offsets)``."""
        span = self.span
        ij = np.rint(coords).astype(np.int64) - self.lo
        if not np.array_equal(ij + self.lo, coords):
            raise ValueError("noded: vertices must be integers (pixel corners)")
        ring_of = np.repeat(np.arange(len(ring_offsets) - 1), np.diff(ring_offsets))
        # segment k runs from vertex k to k + 1 within a ring (rings are closed)
        seg = np.flatnonzero(ring_of[1:] == ring_of[:-1])
        a, b = ij[seg], ij[seg + 1]
        horizontal = a[:, 1] == b[:, 1]
        if not (horizontal | (a[:, 0] == b[:, 0])).all():
            raise ValueError("noded: edges must be horizontal or vertical")
        key_a = np.where(horizontal, a[:, 1] * span + a[:, 0], a[:, 0] * span + a[:, 1])
        key_b = np.where(horizontal, b[:, 1] * span + b[:, 0], b[:, 0] * span + b[:, 1])
        del a, b
        low, high = np.minimum(key_a, key_b), np.maximum(key_a, key_b)
        first = np.empty(len(seg), dtype=np.int64)
        count = np.empty(len(seg), dtype=np.int64)
        for mask, table in ((horizontal, self.by_row), (~horizontal, self.by_col)):
            start = np.searchsorted(table, low[mask], side="right")
            end = np.searchsorted(table, high[mask], side="left")
            first[mask], count[mask] = start, end - start
        if not count.any():
            return coords, ring_offsets
        # each coordinate is followed by the vertices inserted into the edge it starts
        extra = np.zeros(len(ij), dtype=np.int64)
        extra[seg] = count
        before = np.concatenate([[0], np.cumsum(extra)])
        out_start = np.arange(len(ij)) + before[:-1]
        out = np.empty((len(ij) + int(before[-1]), 2), dtype=np.int64)
        out[out_start] = ij
        has = count > 0
        seg_h, cnt_h = seg[has], count[has]
        step = np.arange(int(cnt_h.sum())) - np.repeat(np.cumsum(cnt_h) - cnt_h, cnt_h)
        forward = np.repeat(key_a[has] < key_b[has], cnt_h)
        f0 = np.repeat(first[has], cnt_h)
        c0 = np.repeat(cnt_h, cnt_h)
        index = np.where(forward, f0 + step, f0 + c0 - 1 - step)
        h = np.repeat(horizontal[has], cnt_h)
        keys = np.where(h, self.by_row[index], self.by_col[index])
        where = np.repeat(out_start[seg_h] + 1, cnt_h) + step
        out[where, 0] = np.where(h, keys % span, keys // span)
        out[where, 1] = np.where(h, keys // span, keys % span)
        rings = ring_offsets + before[ring_offsets]
        return (out + self.lo).astype(np.float64), rings
