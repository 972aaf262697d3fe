"""Stitching chunk polygons: which border pieces of neighbouring chunks form one region.

Behind :mod:`landmask.vector.vectorize`. Each chunk's regions that touch an
inner chunk border come with the labels of their border rows and columns
(:class:`~landmask.vector._polygonize.ChunkPolygons`); pieces whose labels face
each other across a border (and share a class) are one region, found as the
connected components of a sparse graph of those pairs (diagonal neighbours
too for 8-connectivity). The groups are then dealt into shares of about equal
merging work for the workers.
"""

from __future__ import annotations

import numpy as np
import shapely

from landmask.vector._polygonize import ChunkPolygons, joined

__all__ = ["balanced", "border_groups"]


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


def border_groups(
    parts: dict[tuple[int, int], ChunkPolygons], rows: int, cols: int, diagonal: bool
) -> list[tuple[int, list[shapely.Geometry]]]:
    """Border pieces grouped by the region they belong to: ``(class id, pieces)`` each."""
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
    group = joined(s, d, n)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.diff(group[order], prepend=-1))
    return [
        (pieces[members[0]][0], [pieces[k][1] for k in members.tolist()])
        for members in np.split(order, starts[1:])
    ]


def balanced(
    groups: list[tuple[int, list[shapely.Geometry]]], tasks: int
) -> list[list[tuple[int, list[shapely.Geometry]]]]:
    """``groups`` dealt into up to ``tasks`` lists of about equal work (vertices to merge).

    The deal depends on the groups only, so every scheduler gets the same lists.
    """
    if not groups:
        return []
    cost = np.array(
        [sum(int(shapely.get_num_coordinates(g)) for g in pieces) for _, pieces in groups]
    )
    loads = np.zeros(min(tasks, len(groups)))
    dealt: list[list[int]] = [[] for _ in loads]
    for k in np.argsort(-cost, kind="stable").tolist():  # biggest first, to the least loaded
        t = int(np.argmin(loads))
        loads[t] += cost[k]
        dealt[t].append(k)
    return [[groups[k] for k in sorted(ks)] for ks in dealt]
