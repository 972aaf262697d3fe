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
        each edge; nothing else changes.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return geoms.copy()
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, coord_of = shapely.get_coordinates(rings, return_index=True)
    ij = np.rint(xy).astype(np.int64)
    if not np.array_equal(ij, xy):
        raise ValueError("noded: vertices must be integers (pixel corners)")
    lo = ij.min(axis=0)
    ij -= lo
    span = int(ij.max()) + 2
    # segment k runs from vertex k to k + 1 within a ring (rings are closed)
    seg = np.flatnonzero(coord_of[1:] == coord_of[:-1])
    a, b = ij[seg], ij[seg + 1]
    horizontal = a[:, 1] == b[:, 1]
    vertical = a[:, 0] == b[:, 0]
    if not (horizontal | vertical).all():
        raise ValueError("noded: edges must be horizontal or vertical")
    unique = np.unique(ij[:, 1] * span + ij[:, 0])  # vertices by (y, x)
    by_row = unique  # key y * span + x
    vx, vy = unique % span, unique // span
    by_col = np.sort(vx * span + vy)  # key x * span + y
    key_a = np.where(horizontal, a[:, 1] * span + a[:, 0], a[:, 0] * span + a[:, 1])
    key_b = np.where(horizontal, b[:, 1] * span + b[:, 0], b[:, 0] * span + b[:, 1])
    low, high = np.minimum(key_a, key_b), np.maximum(key_a, key_b)
    first = np.empty(len(seg), dtype=np.int64)
    count = np.empty(len(seg), dtype=np.int64)
    for mask, table in ((horizontal, by_row), (~horizontal, by_col)):
        start = np.searchsorted(table, low[mask], side="right")
        end = np.searchsorted(table, high[mask], side="left")
        first[mask], count[mask] = start, end - start
    if not count.any():
        return geoms.copy()
    # each coordinate is followed by the vertices inserted into the edge it starts
    extra = np.zeros(len(ij), dtype=np.int64)
    extra[seg] = count
    out_start = np.arange(len(ij)) + np.concatenate([[0], np.cumsum(extra)[:-1]])
    total = len(ij) + int(extra.sum())
    out = np.empty((total, 2), dtype=np.int64)
    out[out_start] = ij
    out_ring = np.empty(total, dtype=np.int64)
    out_ring[out_start] = coord_of
    has = count > 0
    seg_h, cnt_h = seg[has], count[has]
    step = np.arange(int(cnt_h.sum())) - np.repeat(np.cumsum(cnt_h) - cnt_h, cnt_h)
    forward = np.repeat(key_a[has] < key_b[has], cnt_h)
    f0 = np.repeat(first[has], cnt_h)
    c0 = np.repeat(cnt_h, cnt_h)
    index = np.where(forward, f0 + step, f0 + c0 - 1 - step)
    h = np.repeat(horizontal[has], cnt_h)
    keys = np.where(h, by_row[index], by_col[index])
    where = np.repeat(out_start[seg_h] + 1, cnt_h) + step
    out[where, 0] = np.where(h, keys % span, keys // span)
    out[where, 1] = np.where(h, keys // span, keys % span)
    out_ring[where] = np.repeat(coord_of[seg_h], cnt_h)
    new_rings = shapely.linearrings((out + lo).astype(np.float64), indices=out_ring)
    new_parts = shapely.polygons(new_rings, indices=ring_of)
    result = new_parts[np.searchsorted(part_of, np.arange(len(geoms)))].astype(object)
    multi = shapely.get_type_id(geoms) == 6
    if multi.any():
        chosen = multi[part_of]
        rank = np.cumsum(multi) - 1
        result[multi] = shapely.multipolygons(new_parts[chosen], indices=rank[part_of[chosen]])
    return result
