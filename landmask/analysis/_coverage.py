"""Block functions of zonal statistics: coverage-weighted class areas of zones over one block.

Everything here works in *pixel space*: x is the column, y is minus the row,
so a pixel ``(row, col)`` of the whole raster is the unit square
``[col, col + 1] x [-row - 1, -row]`` and a block is an axis-aligned,
north-up rectangle with integer corners whatever the raster's transform
(rotated grids included: an affine map keeps ratios of areas, so coverage
fractions in pixel space are those in the CRS).

Coverage fractions (the share of each pixel's area inside a polygon) are
exact areas, computed as a scanline rasterizer with exact area coverage
does it (the accumulation buffer of font rasterizers): each zone, clipped
to the block, has its ring edges cut at every pixel row and column; each
piece, inside one pixel, adds its signed height to that pixel and the next
in proportion to the pixel's area right of it; a running sum along the row
is then the pixel's coverage. Between two pixels that hold pieces the
coverage is constant, so a zone's sum over such a run is its coverage times
the run's class areas, read from prefix counts of the row: the cost is
linear in the zones' boundary length plus one pass over the block per class,
never per zone and pixel. Each pixel's fraction depends on the pixel and the
polygon alone, so sums over blocks equal sums over the whole raster for any
block layout (to float rounding).
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine

__all__ = ["block_areas", "to_pixel_space"]


def to_pixel_space(geoms: np.ndarray, transform: Affine) -> np.ndarray:
    """Shapely geometries in the raster's CRS -> pixel space (x = column, y = -row)."""
    inverse = ~transform

    def convert(xy: np.ndarray) -> np.ndarray:
        col = inverse.a * xy[:, 0] + inverse.b * xy[:, 1] + inverse.c
        row = inverse.d * xy[:, 0] + inverse.e * xy[:, 1] + inverse.f
        return np.column_stack([col, -row])

    out: np.ndarray = shapely.transform(geoms, convert)
    return out


def block_areas(
    block: np.ndarray,
    row0: int,
    col0: int,
    zones: np.ndarray,
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
    zones
        ``(k,)`` shapely polygons of the zones in pixel space (see the
        module) that intersect the block.
    lut
        256-entry table: class id -> column (``0 .. ncols - 1``) of the result.
    row_areas
        ``(h,)`` area of one pixel of each row of the block (m²).

    Returns
    -------
    numpy.ndarray
        ``(k, ncols)`` float64: for zone ``i`` and column ``j``, the sum over
        the block's pixels of class ``c`` with ``lut[c] == j`` of the pixel's
        coverage fraction by the zone times its area. Memory: ``ncols`` int32
        prefix counts of the block and a few arrays the size of the zones'
        boundary in pixels.
    """
    h, w = block.shape
    out = np.zeros((len(zones), ncols))
    if not len(zones) or not block.size:
        return out
    bounds = shapely.bounds(zones)  # pixel space: rows -maxy .. -miny
    columns = np.take(lut.astype(np.uint8 if ncols <= 256 else np.int32), block)
    areas = np.asarray(row_areas, dtype=np.float64)
    for top in range(0, h, STRIP_ROWS):
        bottom = min(h, top + STRIP_ROWS)
        near = np.flatnonzero((-bounds[:, 3] < row0 + bottom) & (-bounds[:, 1] > row0 + top))
        if len(near):
            strip = shapely.clip_by_rect(
                zones[near], col0, -(row0 + bottom), col0 + w, -(row0 + top)
            )
            out[near] += _strip_areas(
                strip, row0 + top, col0, columns[top:bottom], areas[top:bottom], ncols
            )
    return out


#: Rows of a block worked through at once: the memory of the boundary pieces
#: and prefix counts follows the strip, not the block.
STRIP_ROWS = 256


def _strip_areas(
    zones: np.ndarray, row0: int, col0: int, columns: np.ndarray, row_areas: np.ndarray, ncols: int
) -> np.ndarray:
    """:func:`block_areas` of zones clipped to a strip of accumulator ``columns``."""
    h, w = columns.shape
    out = np.zeros((len(zones), ncols))
    zone, row, col, cell_cover, run_end, run_cover = coverage_runs(zones, row0, col0, h, w)
    if not len(zone):
        return out
    areas = row_areas[row]
    # the pixels the zones' boundaries cross, one by one
    codes = zone * ncols + columns[row, col]
    out += np.bincount(codes, weights=cell_cover * areas, minlength=out.size).reshape(out.shape)
    # the runs of whole pixels after each, from prefix counts of each column along the rows
    run = (run_end > col + 1) & (np.abs(run_cover) > 1e-12)
    zone, row, start, end = zone[run], row[run], col[run] + 1, run_end[run]
    weight = run_cover[run] * areas[run]
    prefix = np.zeros((h, w + 1), dtype=np.int32)  # pixels of a column left of each pixel
    for k in np.flatnonzero(np.bincount(columns.ravel(), minlength=ncols)).tolist():
        np.cumsum(columns == k, axis=1, dtype=np.int32, out=prefix[:, 1:])
        counts = prefix[row, end] - prefix[row, start]
        out[:, k] += np.bincount(zone, weights=weight * counts, minlength=len(zones))
    return out


def coverage_runs(
    zones: np.ndarray, row0: int, col0: int, h: int, w: int
) -> tuple[np.ndarray, ...]:
    """Each zone's coverage of the pixels its boundary crosses, and of the runs after them.

    ``zones`` are polygons in pixel space inside the ``h x w`` block at
    ``(row0, col0)``. Returns ``(zone, row, col, cell_cover, run_end,
    run_cover)`` (block-local rows and columns): zone ``zone[i]`` covers the
    share ``cell_cover[i]`` of pixel ``(row[i], col[i])``, which its boundary
    crosses, and ``run_cover[i]`` (0 or 1 up to rounding) of each pixel of
    that row from ``col[i] + 1`` to ``run_end[i] - 1``. Any other pixel is
    outside the zone.
    """
    parts, zone_of_part = shapely.get_parts(zones, return_index=True)
    polygons = shapely.get_type_id(parts) == 3
    parts, zone_of_part = parts[polygons], zone_of_part[polygons]
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    x = xy[:, 0] - col0
    v = -xy[:, 1] - row0
    # the sign of each ring's pieces: +1 inside a shell, -1 inside a hole, whatever the
    # rings' orientation (from their signed areas)
    same = ring[1:] == ring[:-1]
    cross = np.where(same, x[:-1] * v[1:] - x[1:] * v[:-1], 0.0)
    area = np.bincount(ring[:-1], weights=cross, minlength=len(rings))
    shell = np.r_[True, part_of_ring[1:] != part_of_ring[:-1]]  # a part's first ring
    sign = np.where(shell, -1.0, 1.0) * np.sign(area)
    a = np.flatnonzero(same)
    edge_ring = ring[a]
    x0, x1, v0, v1 = x[a], x[a + 1], v[a], v[a + 1]
    keep = (v0 != v1) & (sign[edge_ring] != 0)  # level edges add no height
    x0, x1, v0, v1, edge_ring = x0[keep], x1[keep], v0[keep], v1[keep], edge_ring[keep]
    # cut the edges at every pixel row, then those pieces at every pixel column: in
    # the order of travel, so a piece is two consecutive points of one edge
    vs, xs, of_edge = _cut(v0, v1, x0, x1)
    p1 = np.flatnonzero(of_edge[1:] == of_edge[:-1])
    xs, vs, of_piece = _cut(xs[p1], xs[p1 + 1], vs[p1], vs[p1 + 1])
    p2 = np.flatnonzero(of_piece[1:] == of_piece[:-1])
    xa, xb, va, vb = xs[p2], xs[p2 + 1], vs[p2], vs[p2 + 1]
    owner = edge_ring[of_edge[p1[of_piece[p2]]]]
    height = (vb - va) * sign[owner]
    mid_x = (xa + xb) / 2
    col = np.maximum(np.floor(mid_x), 0).astype(np.intp)  # x >= 0 once clipped
    row = np.floor((va + vb) / 2).astype(np.intp)
    left = mid_x - col  # the share of the pixel left of the piece
    zone = zone_of_part[part_of_ring[owner]].astype(np.intp)
    ok = (row >= 0) & (row < h) & (col < w) & (height != 0)
    zone, row, col, height, left = zone[ok], row[ok], col[ok], height[ok], left[ok]
    if not len(zone):
        return zone, row, col, height, col, height
    # per pixel (zone, row, col): sum of heights, and of heights x the share right of them;
    # a running sum of heights along each (zone, row) is the coverage right of a pixel
    key = (zone * h + row) * w + col
    order = np.argsort(key, kind="stable")
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


def _cut(
    a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments ``(a0, b0) -> (a1, b1)`` cut where ``a`` crosses an integer, in travel order.

    Returns the points ``(a, b)`` of every segment, its ends included, and
    the segment of each point: consecutive points of one segment are a piece.
    """
    lo, hi = np.minimum(a0, a1), np.maximum(a0, a1)
    first, last = np.floor(lo) + 1, np.ceil(hi) - 1  # integers strictly inside
    inner = np.maximum(last - first + 1, 0).astype(np.intp)
    count = inner + 2
    of = np.repeat(np.arange(len(a0)), count)
    j = np.arange(len(of)) - np.repeat(np.cumsum(count) - count, count)
    up = a1[of] > a0[of]
    a = np.where(up, first[of] + (j - 1), last[of] - (j - 1))
    end = j == count[of] - 1
    a = np.where(j == 0, a0[of], np.where(end, a1[of], a))
    span = a1 - a0
    with np.errstate(divide="ignore", invalid="ignore"):
        b = b0[of] + (a - a0[of]) * ((b1 - b0) / span)[of]
    b = np.where(j == 0, b0[of], np.where(end, b1[of], b))
    return a, b, of
