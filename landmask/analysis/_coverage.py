"""Block functions of zonal statistics: coverage-weighted class areas of zones over one block.

Everything here works in *pixel space*: x is the column, v the row, so a
pixel ``(row, col)`` of the whole raster is the unit square
``[col, col + 1] x [row, row + 1]`` and a block is an axis-aligned rectangle
with integer corners whatever the raster's transform (rotated grids
included: an affine map keeps ratios of areas, so coverage fractions in
pixel space are those in the CRS).

The zones are taken apart once (:func:`zone_edges`): every ring's edges in
pixel space, in flat arrays, each with its zone and the sign of its ring
(+1 bounding a shell, -1 a hole, whatever the rings' orientation). A block
gets the edges of the zones over it (:meth:`ZoneEdges.subset`); no geometry
is built or clipped per block.

Coverage fractions (the share of each pixel's area inside a polygon) are
exact areas, computed as a scanline rasterizer with exact area coverage
does it (the accumulation buffer of font rasterizers): the edges are cut at
every pixel row and column of the block; each piece, inside one pixel, adds
its signed height to that pixel and the next in proportion to the pixel's
area right of it; a running sum along the row is then the pixel's coverage.
A piece left of the block adds its whole height to the row's first pixel
(what clipping the zone to the block would put on the block's left edge);
pieces right of it and above or below it add nothing. Between two pixels
that hold pieces the coverage is constant, so a zone's sum over such a run
is its coverage times the run's class areas, counted over the runs in one
pass per class present (:func:`range_counts`): the cost is linear in the
zones' boundary length plus a pass over the block per class, never per
zone and pixel. Each pixel's fraction depends on the pixel and the polygon
alone, so sums over blocks equal sums over the whole raster for any block
layout (to float rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine

__all__ = ["STRIP_ROWS", "ZoneEdges", "block_areas", "range_counts", "zone_edges"]

#: Rows of a block worked through at once: the memory of the boundary pieces
#: follows the strip, not the block.
STRIP_ROWS = 128

#: Coverage below this share of a pixel is float rounding of edges that cancel
_ROUNDING = 1e-12


@dataclass(frozen=True)
class ZoneEdges:
    """The zones' ring edges in pixel space, grouped by zone.

    Edge ``i`` runs from ``(x0[i], v0[i])`` to ``(x1[i], v1[i])`` (x the
    column, v the row), belongs to zone ``zone[i]`` (non-decreasing) and
    counts with ``sign[i]``: +1 for a shell, -1 for a hole. Level edges
    (``v0 == v1``) add no coverage and are left out. ``bounds`` is
    ``(zones, 4)``: column and row minimum, column and row maximum of each
    zone's vertices, NaN for a zone without a polygon.
    """

    x0: np.ndarray
    v0: np.ndarray
    x1: np.ndarray
    v1: np.ndarray
    sign: np.ndarray
    zone: np.ndarray
    bounds: np.ndarray

    @property
    def zones(self) -> int:
        """How many zones (with or without edges)."""
        return len(self.bounds)

    def subset(self, zones: np.ndarray) -> ZoneEdges:
        """The edges of ``zones`` (sorted indices), renumbered ``0 .. len(zones) - 1``."""
        first = np.searchsorted(self.zone, zones, side="left")
        count = np.searchsorted(self.zone, zones, side="right") - first
        total = int(count.sum())
        idx = np.arange(total) + np.repeat(first - (np.cumsum(count) - count), count)
        return ZoneEdges(
            self.x0[idx],
            self.v0[idx],
            self.x1[idx],
            self.v1[idx],
            self.sign[idx],
            np.repeat(np.arange(len(zones)), count),
            self.bounds[zones],
        )


def zone_edges(geoms: np.ndarray, transform: Affine) -> ZoneEdges:
    """The edges of polygonal zones (None for none) in the raster's CRS, in pixel space.

    Parameters
    ----------
    geoms
        ``(n,)`` Polygons, MultiPolygons or None, in the CRS of ``transform``.
    transform
        The raster's affine transform (pixel -> CRS).

    Returns
    -------
    ZoneEdges
        Every ring's edges with their zone and sign, and each zone's bounds
        in pixel space. Memory: a few float64 per vertex.
    """
    n = len(geoms)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        empty = np.zeros(0)
        return ZoneEdges(
            empty, empty, empty, empty, empty, np.zeros(0, np.intp), np.full((n, 4), np.nan)
        )
    # flat coordinates and offsets, no geometry cloned part by part or ring by ring
    kind, xy, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:
        (ring_offsets, part_offsets), zone_offsets = offsets, np.arange(n + 1)
    elif kind == shapely.GeometryType.MULTIPOLYGON:
        ring_offsets, part_offsets, zone_offsets = offsets
    else:
        raise TypeError(f"zones must be polygonal, not {kind.name}")
    ring_part = np.repeat(np.arange(len(part_offsets) - 1), np.diff(part_offsets))
    zone_of_ring = np.repeat(np.arange(n), np.diff(zone_offsets))[ring_part]
    shell = np.arange(len(ring_part)) == part_offsets[ring_part]  # a part's first ring
    ring = np.repeat(np.arange(len(ring_part)), np.diff(ring_offsets))
    inverse = ~transform
    x = inverse.a * xy[:, 0] + inverse.b * xy[:, 1] + inverse.c
    v = inverse.d * xy[:, 0] + inverse.e * xy[:, 1] + inverse.f
    del xy
    bounds = np.full((n, 4), np.nan)
    if len(x):
        vertex_zone = zone_of_ring[ring]
        starts = np.flatnonzero(np.r_[True, vertex_zone[1:] != vertex_zone[:-1]])
        owners = vertex_zone[starts]
        bounds[owners, 0] = np.minimum.reduceat(x, starts)
        bounds[owners, 1] = np.minimum.reduceat(v, starts)
        bounds[owners, 2] = np.maximum.reduceat(x, starts)
        bounds[owners, 3] = np.maximum.reduceat(v, starts)
    # the sign of each ring's edges: +1 round a shell, -1 round a hole, whatever the rings'
    # orientation (from their signed areas, taken about the ring's first vertex)
    same = ring[1:] == ring[:-1]
    first = np.flatnonzero(np.r_[True, ring[1:] != ring[:-1]])
    x_rel = x - np.repeat(x[first], np.diff(np.r_[first, len(x)]))
    v_rel = v - np.repeat(v[first], np.diff(np.r_[first, len(v)]))
    cross = np.where(same, x_rel[:-1] * v_rel[1:] - x_rel[1:] * v_rel[:-1], 0.0)
    area = np.bincount(ring[:-1], weights=cross, minlength=len(ring_part))
    sign = np.where(shell, -1.0, 1.0) * np.sign(area)
    a = np.flatnonzero(same)
    a = a[(v[a] != v[a + 1]) & (sign[ring[a]] != 0)]
    return ZoneEdges(
        x[a], v[a], x[a + 1], v[a + 1], sign[ring[a]], zone_of_ring[ring[a]].astype(np.intp), bounds
    )


def block_areas(
    block: np.ndarray,
    row0: int,
    col0: int,
    edges: ZoneEdges,
    lut: np.ndarray,
    ncols: int,
    row_areas: np.ndarray,
) -> np.ndarray:
    """Coverage-weighted areas of each zone's pixels over one block, by column of ``lut``.

    Parameters
    ----------
    block
        ``(h, w)`` uint8 class ids, the block whose top-left pixel is
        ``(row0, col0)`` of the raster.
    edges
        The edges of the ``k`` zones that may meet the block (see
        :func:`zone_edges`, :meth:`ZoneEdges.subset`); a zone that does
        not meet it gets zeros.
    lut
        256-entry table: class id -> column (``0 .. ncols - 1``) of the result.
    row_areas
        ``(h,)`` area of one pixel of each row of the block (m²).

    Returns
    -------
    numpy.ndarray
        ``(k, ncols)`` float64: for zone ``i`` and column ``j``, the sum over
        the block's pixels of class ``c`` with ``lut[c] == j`` of the pixel's
        coverage fraction by the zone times its area. Memory: a few arrays
        the size of the zones' boundary in pixels within a strip of
        :data:`STRIP_ROWS` rows, and one boolean strip.
    """
    h, w = block.shape
    out = np.zeros((edges.zones, ncols))
    if not edges.zones or not block.size:
        return out
    lo, hi = np.minimum(edges.v0, edges.v1) - row0, np.maximum(edges.v0, edges.v1) - row0
    in_block = np.minimum(edges.x0, edges.x1) < col0 + w  # edges right of it add nothing
    areas = np.asarray(row_areas, dtype=np.float64)
    lut = np.asarray(lut)
    for top in range(0, h, STRIP_ROWS):
        bottom = min(h, top + STRIP_ROWS)
        near = np.flatnonzero(in_block & (lo < bottom) & (hi > top))
        if len(near):
            _strip_areas(
                out,
                block[top:bottom],
                row0 + top,
                col0,
                edges,
                near,
                lut,
                ncols,
                areas[top:bottom],
            )
    return out


def _strip_areas(
    out: np.ndarray,
    strip: np.ndarray,
    row0: int,
    col0: int,
    edges: ZoneEdges,
    near: np.ndarray,
    lut: np.ndarray,
    ncols: int,
    row_areas: np.ndarray,
) -> None:
    """Add to ``out`` the areas of :func:`block_areas` over a strip, from the edges ``near``."""
    h, w = strip.shape
    zone, row, col, cell_cover, run_end, run_cover = coverage_runs(
        edges.x0[near] - col0,
        edges.v0[near] - row0,
        edges.x1[near] - col0,
        edges.v1[near] - row0,
        edges.sign[near],
        edges.zone[near],
        h,
        w,
    )
    if not len(zone):
        return
    values = strip.reshape(-1)
    areas = row_areas[row]
    at = row * w
    # the pixels the zones' boundaries cross, one by one
    cell = np.abs(cell_cover) > _ROUNDING
    codes = zone[cell] * ncols + lut[values[at[cell] + col[cell]]]
    out += np.bincount(codes, weights=cell_cover[cell] * areas[cell], minlength=out.size).reshape(
        out.shape
    )
    # the runs of whole pixels after each
    run = (run_end > col + 1) & (np.abs(run_cover) > _ROUNDING)
    if not run.any():
        return
    counts = range_counts(values, at[run] + col[run] + 1, at[run] + run_end[run], lut, ncols)
    weight = run_cover[run] * areas[run]
    zone = zone[run]
    for k in np.flatnonzero(counts.any(axis=0)).tolist():
        out[:, k] += np.bincount(zone, weights=weight * counts[:, k], minlength=len(out))


def range_counts(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, lut: np.ndarray, ncols: int
) -> np.ndarray:
    """How many of ``values[starts[i]:ends[i]]`` fall in each column of ``lut``.

    Parameters
    ----------
    values
        1-D uint8 class ids.
    starts, ends
        ``(n,)`` half-open ranges of positions, ``0 <= start <= end <= len(values)``;
        they may overlap.
    lut
        256-entry table: class id -> column (``0 .. ncols - 1``).

    Returns
    -------
    numpy.ndarray
        ``(n, ncols)`` int64 counts. Cost: the ranges' ends are sorted into
        segments of ``values``; one pass over ``values`` per column present
        but the most frequent one (counted in segments by
        :func:`numpy.add.reduceat`), which is the rest of each range.
        Memory: one boolean array the size of ``values``.
    """
    size = len(values)
    n = len(starts)
    out = np.zeros((n, ncols), dtype=np.int64)
    if not n or not size:
        return out
    # the ranges' ends, sorted and made unique, cut values into segments; each end's rank
    # among them is its prefix count's index
    cuts, rank = _ranks(np.concatenate([np.zeros(1, dtype=starts.dtype), starts, ends]))
    first, last = rank[1 : n + 1], rank[n + 1 :]
    cuts = cuts[cuts < size]
    # classes present: compare with each id of a column of few ids; a column of many ids
    # (values that are no class) is whatever the others leave
    ids = [np.flatnonzero(lut == k) for k in range(ncols)]
    rest = max(range(ncols), key=lambda k: len(ids[k]))
    totals = np.zeros(ncols, dtype=np.int64)
    for k in range(ncols):
        if k != rest:
            totals[k] = sum(np.count_nonzero(values == i) for i in ids[k].tolist())
    totals[rest] = size - totals.sum()
    derived = int(np.argmax(totals))
    acc = np.int32 if size < 2**31 else np.int64
    prefix = np.zeros(len(cuts) + 1, dtype=np.int64)
    for k in np.flatnonzero(totals).tolist():
        if k == derived:
            continue
        if k == rest:
            member = np.take(lut == k, values)
        elif len(ids[k]) == 1:
            member = values == ids[k][0]
        else:
            member = np.isin(values, ids[k])
        np.cumsum(np.add.reduceat(member.view(np.uint8), cuts, dtype=acc), out=prefix[1:])
        out[:, k] = prefix[last] - prefix[first]
    out[:, derived] = (ends - starts) - out.sum(axis=1)
    return out


def _ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted unique ``values`` and the index of each value among them."""
    order = np.argsort(values)
    ordered = values[order]
    new = np.empty(len(values), dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    rank = np.empty(len(values), dtype=np.intp)
    rank[order] = np.cumsum(new) - 1
    return ordered[new], rank


def coverage_runs(
    x0: np.ndarray,
    v0: np.ndarray,
    x1: np.ndarray,
    v1: np.ndarray,
    sign: np.ndarray,
    zone: np.ndarray,
    h: int,
    w: int,
) -> tuple[np.ndarray, ...]:
    """Each zone's coverage of the pixels its boundary crosses, and of the runs after them.

    The edges ``(x0, v0) -> (x1, v1)`` (block-local columns and rows), of
    sign ``sign`` and zone ``zone``, are all the edges of their zones in the
    rows they cross of the ``h x w`` block, wherever they lie left or right
    of it. Returns ``(zone, row, col, cell_cover, run_end, run_cover)``
    (block-local rows and columns): zone ``zone[i]`` covers the share
    ``cell_cover[i]`` of pixel ``(row[i], col[i])``, which its boundary
    crosses, and ``run_cover[i]`` (0 or 1 up to rounding) of each pixel of
    that row from ``col[i] + 1`` to ``run_end[i] - 1``. Any other pixel is
    outside the zone.
    """
    # cut the edges at every pixel row of the block, then those pieces at every pixel column
    va, vb, xa, xb, of_edge = _pieces(v0, v1, x0, x1, 0, h)
    row = np.floor((va + vb) / 2)
    keep = np.flatnonzero((row >= 0) & (row < h))
    xa, xb, va, vb, of_piece = _pieces(xa[keep], xb[keep], va[keep], vb[keep], 0, w)
    keep = keep[of_piece]
    owner = of_edge[keep]
    height = (vb - va) * sign[owner]
    del va, vb
    mid_x = xa + xb
    mid_x *= 0.5
    del xa, xb
    col = np.floor(mid_x)
    # a piece left of the block: all of the row's first pixel is right of it
    left = np.where(col < 0, 0.0, mid_x - col)  # the share of the pixel left of the piece
    del mid_x
    col = np.maximum(col, 0).astype(np.intp)
    row = row[keep].astype(np.intp)
    ok = (col < w) & (height != 0)
    zone, row, col, height, left = zone[owner[ok]], row[ok], col[ok], height[ok], left[ok]
    if not len(zone):
        return zone, row, col, height, col, height
    # per pixel (zone, row, col): sum of heights, and of heights x the share right of them;
    # a running sum of heights along each (zone, row) is the coverage right of a pixel
    key = (zone * h + row) * w + col
    order = np.argsort(key)
    key, height, left = key[order], height[order], left[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    total = np.add.reduceat(height, starts)
    partial = np.add.reduceat(height * (1 - left), starts)
    key = key[starts]
    col, line = key % w, key // w
    new_line = np.r_[True, line[1:] != line[:-1]]
    running = np.cumsum(total)
    before = running - total
    before -= np.repeat(before[new_line], np.diff(np.r_[np.flatnonzero(new_line), len(line)]))
    has_next = np.r_[~new_line[1:], False]
    run_end = np.where(has_next, np.r_[col[1:], 0], w)
    return line // h, line % h, col, before + partial, run_end, before + total


def _pieces(
    a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments ``(a0, b0) -> (a1, b1)`` cut where ``a`` crosses an integer of ``lo .. hi``.

    Returns ``(pa0, pa1, pb0, pb1, of)``: piece ``k`` runs from
    ``(pa0[k], pb0[k])`` to ``(pa1[k], pb1[k])`` and is part of segment
    ``of[k]``; a segment's pieces follow each other in the order of travel.
    A piece outside ``lo .. hi`` is not cut further.
    """
    low, high = np.minimum(a0, a1), np.maximum(a0, a1)
    first = np.maximum(np.floor(low) + 1, lo)  # integers strictly inside, within lo .. hi
    last = np.minimum(np.ceil(high) - 1, hi)
    count = np.maximum(last - first + 1, 0).astype(np.intp) + 1  # pieces of each segment
    ends = np.cumsum(count)
    begins = ends - count
    of = np.repeat(np.arange(len(a0)), count)
    up = a1 > a0
    step = np.where(up, 1.0, -1.0)
    origin = np.where(up, first, last) - step  # the j-th cut (from 1) is at origin + j * step
    j = np.arange(len(of), dtype=np.float64)
    j -= np.repeat(begins.astype(np.float64), count)
    pa0 = origin[of] + step[of] * j  # a piece starts at a cut, the first at the segment's start
    pa0[begins] = a0
    pa1 = np.empty_like(pa0)
    pa1[:-1] = pa0[1:]
    pa1[ends - 1] = a1
    with np.errstate(divide="ignore", invalid="ignore"):  # a segment along a: one piece
        slope = (b1 - b0) / (a1 - a0)
        pb0 = (pa0 - a0[of]) * slope[of]
    pb0 += b0[of]
    pb0[begins] = b0
    pb1 = np.empty_like(pb0)
    pb1[:-1] = pb0[1:]
    pb1[ends - 1] = b1
    return pa0, pa1, pb0, pb1, of
