"""The global plan of the exact chunked sieve: face regions joined across chunks.

Behind :mod:`landmask.vector.sieve`. From the blocks' face summaries
(:mod:`landmask.vector._sieve_blocks`), :func:`join_faces` finds which face
regions of neighbouring blocks are one region (a union-find over the pixel
pairs that face each other across chunk borders, diagonal ones too for
8-connectivity) and their global sizes; :func:`face_outcomes` then picks each
small face region's largest neighbour (the best of the blocks' candidates
and of the neighbours across faces) and follows the chains of largest
neighbours to the class each face region takes. Everything here is sized by
the face regions and the face pixels, not by the raster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmask.vector._polygonize import joined
from landmask.vector._sieve_blocks import FOLLOW, KEEP, Candidates, FaceSummary, follow

__all__ = ["FacePlan", "face_outcomes", "join_faces"]


@dataclass
class FacePlan:
    """Face regions joined across chunks.

    Per block (row-major): ``labels[b]`` its face regions' labels,
    ``roots[b]`` the global id of each and ``sizes[b]`` their global sizes;
    ``offsets[b]`` turns a block's label into a global id.
    ``events`` are the pairs of different regions that meet across a face:
    ``(root of the later pixel, root of the earlier, scan key)``.
    """

    offsets: np.ndarray
    labels: list[np.ndarray]
    roots: list[np.ndarray]
    sizes: list[np.ndarray]
    root_ids: np.ndarray  # every face root, sorted
    root_sizes: np.ndarray
    root_classes: np.ndarray
    events: tuple[np.ndarray, np.ndarray, np.ndarray]


def _face_pairs(
    summaries: list[FaceSummary],
    offsets: np.ndarray,
    chunks: tuple[tuple[int, ...], tuple[int, ...]],
    connectivity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel pairs across chunk faces: ``(later id, earlier id, key, same class)``."""
    rows, cols = len(chunks[0]), len(chunks[1])
    width = sum(chunks[1])
    y_off = np.concatenate([[0], np.cumsum(chunks[0])])
    x_off = np.concatenate([[0], np.cumsum(chunks[1])])

    def ids(b: int, side: int) -> tuple[np.ndarray, np.ndarray]:
        lab = summaries[b].strips[side].astype(np.int64)
        return np.where(lab > 0, lab + offsets[b], -1), summaries[b].values[side]

    out: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        gb: np.ndarray, vb: np.ndarray, ga: np.ndarray, va: np.ndarray, pos_b: np.ndarray, k: int
    ) -> None:
        ok = (gb >= 0) & (ga >= 0)
        key = pos_b[ok] * 4 + k
        out.append((gb[ok], ga[ok], key, vb[ok] == va[ok]))

    for i in range(rows - 1):  # horizontal faces: the later pixel is below
        up = [ids(i * cols + j, 1) for j in range(cols)]
        down = [ids((i + 1) * cols + j, 0) for j in range(cols)]
        ga, va = np.concatenate([u[0] for u in up]), np.concatenate([u[1] for u in up])
        gb, vb = np.concatenate([d[0] for d in down]), np.concatenate([d[1] for d in down])
        pos = int(y_off[i + 1]) * width + np.arange(width)
        add(gb, vb, ga, va, pos, 0)
        if connectivity == 8:
            add(gb[1:], vb[1:], ga[:-1], va[:-1], pos[1:], 1)
            add(gb[:-1], vb[:-1], ga[1:], va[1:], pos[:-1], 2)
    height = sum(chunks[0])
    for j in range(cols - 1):  # vertical faces: the later pixel is right
        left = [ids(i * cols + j, 3) for i in range(rows)]
        right = [ids(i * cols + j + 1, 2) for i in range(rows)]
        gl, vl = np.concatenate([u[0] for u in left]), np.concatenate([u[1] for u in left])
        gr, vr = np.concatenate([d[0] for d in right]), np.concatenate([d[1] for d in right])
        xr = int(x_off[j + 1])
        pos_r = np.arange(height) * width + xr
        add(gr, vr, gl, vl, pos_r, 3)
        if connectivity == 8:  # diagonals within a row of blocks (across both faces: twice)
            add(gr[1:], vr[1:], gl[:-1], vl[:-1], pos_r[1:], 1)
            add(gl[1:], vl[1:], gr[:-1], vr[:-1], pos_r[1:] - 1, 2)
    if not out:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0, bool)
    return tuple(np.concatenate([o[n] for o in out]) for n in range(4))  # type: ignore[return-value]


def join_faces(
    summaries: list[FaceSummary],
    chunks: tuple[tuple[int, ...], tuple[int, ...]],
    connectivity: int,
) -> FacePlan:
    """Pass 1's plan: face regions joined across chunk faces, with their global sizes."""
    counts = np.array([s.count for s in summaries], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    gids = np.concatenate([s.labels.astype(np.int64) + offsets[b] for b, s in enumerate(summaries)])
    sizes = np.concatenate([s.sizes for s in summaries])
    classes = np.concatenate([s.classes for s in summaries])
    later, earlier, key, same = _face_pairs(summaries, offsets, chunks, connectivity)
    n = len(gids)  # gids are sorted: blocks in order, labels sorted in each
    a, b = np.searchsorted(gids, later[same]), np.searchsorted(gids, earlier[same])
    comp = joined(a, b, n)
    root_of_comp = np.full(comp.max(initial=-1) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(root_of_comp, comp, gids)
    root = root_of_comp[comp]
    comp_size = np.bincount(comp, weights=sizes, minlength=len(root_of_comp)).astype(np.int64)
    root_ids, first = np.unique(root, return_index=True)
    root_sizes = comp_size[comp[first]]
    roots, block_sizes, start = [], [], 0
    for s in summaries:
        roots.append(root[start : start + len(s.labels)])
        block_sizes.append(comp_size[comp[start : start + len(s.labels)]])
        start += len(s.labels)
    diff = ~same
    events = (
        root[np.searchsorted(gids, later[diff])],
        root[np.searchsorted(gids, earlier[diff])],
        key[diff],
    )
    return FacePlan(
        offsets,
        [s.labels for s in summaries],
        roots,
        block_sizes,
        root_ids,
        root_sizes,
        classes[first].astype(np.int64),
        events,
    )


def face_outcomes(
    plan: FacePlan, candidates: list[Candidates], min_pixels: int
) -> list[np.ndarray]:
    """Pass 2's plan: per block, the class each face region takes (or KEEP), aligned with
    ``plan.roots[b]``."""
    n = len(plan.root_ids)

    def index(g: np.ndarray) -> np.ndarray:
        return np.searchsorted(plan.root_ids, g)

    # every candidate neighbour of every face root: (root, size, key, target root, class)
    later, earlier, key = plan.events
    li, ei = index(later), index(earlier)
    parts = [
        (li, plan.root_sizes[ei], key, ei, np.full(len(ei), FOLLOW, np.int64)),
        (ei, plan.root_sizes[li], key, li, np.full(len(li), FOLLOW, np.int64)),
    ]
    for b, c in enumerate(candidates):
        local = np.searchsorted(plan.labels[b], c.labels)
        root = plan.roots[b][local]
        follow_face = c.target_class == FOLLOW
        target = np.full(len(c.labels), -1, np.int64)
        where = np.searchsorted(plan.labels[b], c.target_label[follow_face])
        target[follow_face] = index(plan.roots[b][where])
        parts.append((index(root), c.sizes, c.keys, target, c.target_class.astype(np.int64)))
    p, s, k, t, cls = (np.concatenate([part[m] for part in parts]) for m in range(5))
    has = np.zeros(n, dtype=bool)
    nxt = np.arange(n)
    terminal = np.full(n, KEEP, dtype=np.int64)
    if len(p):
        order = np.lexsort((k, -s, p))
        first = order[np.r_[True, p[order][1:] != p[order][:-1]]]
        p, t, cls = p[first], t[first], cls[first]
        small = plan.root_sizes[p] < min_pixels
        p, t, cls = p[small], t[small], cls[small]
        to_face = cls == FOLLOW
        big = np.zeros(len(p), dtype=bool)
        big[to_face] = plan.root_sizes[t[to_face]] >= min_pixels
        cls[big] = plan.root_classes[t[big]]
        onward = to_face & ~big
        has[p[onward]] = True
        nxt[p[onward]] = t[onward]
        # a small root that leads to a class: a sink worth that class
        fixed = p[~onward]
        terminal_of = np.full(n, KEEP, dtype=np.int64)
        terminal_of[fixed] = cls[~onward]
        end = follow(nxt, ~has)
        terminal = np.where(end >= 0, terminal_of[np.maximum(end, 0)], KEEP)
        terminal[plan.root_sizes >= min_pixels] = KEEP
    return [terminal[index(r)] for r in plan.roots]
