"""Block functions of the exact chunked sieve: numpy in, numpy out.

Behind :mod:`landmask.vector.sieve`, which describes the rule and the three
passes. Here, one block at a time:

- :func:`face_summary` (pass 1): the block's regions that touch its edges
  (its *face* regions), with their sizes, classes and the label strips of the
  four edges, from which the plan joins regions across chunk faces;
- :func:`face_candidates` (pass 2): for each face region, its largest
  neighbour inside the block and where the chain of largest neighbours from
  there leads, as far as the block can tell;
- :func:`apply_sieve` (pass 3): the sieved block, given the plan's outcome for
  every face region.

Regions that do not touch an edge are complete in the block, and so are
their neighbours' pixels next to them, so everything about them is decided
here; only face regions need the global plan (:mod:`landmask.vector._sieve_plan`).
Every block function labels the block again rather than keeping labels
between passes, so memory holds a few blocks, not the raster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmask.classes import NODATA
from landmask.vector._polygonize import region_labels

__all__ = [
    "FOLLOW",
    "KEEP",
    "Candidates",
    "FaceSummary",
    "apply_sieve",
    "face_candidates",
    "face_summary",
    "follow",
]

#: outcome: the region keeps its class
KEEP = -1
#: candidate target: a face region, to follow in the global plan
FOLLOW = -2

_NO_KEY = np.iinfo(np.int64).max
_CLASSES = range(NODATA)  # every class but nodata

# The neighbours GDAL compares each pixel with, in its order: up, up-left,
# up-right (8-connectivity only), left. Per direction k: the slices of the
# later pixel b and the earlier pixel a, and b's offset in the block.
_DIRECTIONS = (
    (0, (slice(1, None), slice(None)), (slice(None, -1), slice(None)), (1, 0)),
    (1, (slice(1, None), slice(1, None)), (slice(None, -1), slice(None, -1)), (1, 1)),
    (2, (slice(1, None), slice(None, -1)), (slice(None, -1), slice(1, None)), (1, 0)),
    (3, (slice(None), slice(1, None)), (slice(None), slice(None, -1)), (0, 1)),
)


@dataclass
class FaceSummary:
    """Pass 1 of one block: label count, edge strips and the face regions.

    ``strips`` are the labels of the top, bottom, left and right edges (0:
    nodata) and ``values`` their class ids; ``labels``, ``sizes`` and
    ``classes`` describe the face regions (regions with a pixel on an edge).
    """

    count: int
    strips: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    values: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    labels: np.ndarray
    sizes: np.ndarray
    classes: np.ndarray


@dataclass
class Candidates:
    """Pass 2 of one block: each face region's largest neighbour inside the block.

    For face region ``labels[k]``: the neighbour's size ``sizes[k]``, the
    position in GDAL's scan where it is first met ``keys[k]`` (ties go to the
    first met), and where its chain leads: ``target_class[k]`` a class id or
    :data:`KEEP`, or :data:`FOLLOW` the face region ``target_label[k]``.
    """

    labels: np.ndarray
    sizes: np.ndarray
    keys: np.ndarray
    target_label: np.ndarray
    target_class: np.ndarray


def _strips(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return a[0].copy(), a[-1].copy(), a[:, 0].copy(), a[:, -1].copy()


def face_summary(block: np.ndarray, connectivity: int) -> FaceSummary:
    """Pass 1: the face regions of ``block`` (``(y, x)`` uint8 class ids, 255 nodata)."""
    labels, lut = region_labels(block, _CLASSES, connectivity)
    strips = _strips(labels)
    face = np.unique(np.concatenate(strips))
    face = face[face > 0]
    sizes = np.bincount(labels.ravel(), minlength=len(lut))
    return FaceSummary(
        len(lut) - 1, strips, _strips(block), face, sizes[face].astype(np.int64), lut[face]
    )


def follow(nxt: np.ndarray, sink: np.ndarray) -> np.ndarray:
    """Where the chains ``x -> nxt[x] -> ...`` end: a sink (``nxt[s] == s``), or -1 on a cycle.

    Pointer doubling: whole-array steps, no Python loop over nodes.
    """
    end = nxt.copy()
    for _ in range(max(1, len(nxt).bit_length())):
        end = end[end]
    return np.where(sink[end], end, -1)


def _update_best(
    best: tuple[np.ndarray, np.ndarray, np.ndarray],
    p: np.ndarray,
    q: np.ndarray,
    key: np.ndarray,
    sizes: np.ndarray,
) -> None:
    """Fold the events "p meets q at key" into the best neighbour per p (largest, then first).

    Unbuffered ``maximum.at`` / ``minimum.at`` reductions, linear in the events: a
    lexsort of them cost 87% of the sieve on a speckled mask (millions of events).
    """
    if not len(p):
        return
    best_s, best_key, best_q = best
    s = sizes[q]
    new_s = best_s.copy()
    np.maximum.at(new_s, p, s)
    grew = new_s > best_s
    new_key = np.where(grew, _NO_KEY, best_key)
    top = s == new_s[p]
    p, q, key = p[top], q[top], key[top]
    np.minimum.at(new_key, p, key)
    won = key == new_key[p]
    best_q[p[won]] = q[won]
    best_s[:] = new_s
    best_key[:] = new_key


def _best_neighbours(
    labels: np.ndarray, sizes: np.ndarray, origin: tuple[int, int], width: int, connectivity: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label: the size, scan key and label of its largest neighbour in the block (0: none).

    A neighbour is an adjacent region (4 or 8 neighbours) that is not nodata.
    The key orders the comparisons as GDAL's scan makes them: by the later
    pixel's position in the raster, then by direction.
    """
    n = len(sizes)
    best = (np.full(n, -1, np.int64), np.full(n, _NO_KEY, np.int64), np.zeros(n, np.int64))
    for k, b_cut, a_cut, (dy, dx) in _DIRECTIONS:
        if connectivity == 4 and k in (1, 2):
            continue
        b, a = labels[b_cut], labels[a_cut]
        hit = (a > 0) & (b > 0) & (a != b)
        ys, xs = np.nonzero(hit)
        key = ((ys + (origin[0] + dy)) * width + (xs + (origin[1] + dx))) * 4 + k
        pb, pa = b[hit].astype(np.int64), a[hit].astype(np.int64)
        _update_best(best, pb, pa, key, sizes)
        _update_best(best, pa, pb, key, sizes)
    return best


@dataclass
class _Resolved:
    labels: np.ndarray
    lut: np.ndarray
    large: np.ndarray
    is_face: np.ndarray
    best: tuple[np.ndarray, np.ndarray, np.ndarray]
    end: np.ndarray  # per label: where its chain ends inside the block (-1: a cycle)


def _resolve(
    block: np.ndarray,
    connectivity: int,
    min_pixels: int,
    origin: tuple[int, int],
    width: int,
    face_labels: np.ndarray,
    face_sizes: np.ndarray,
) -> _Resolved:
    """Labels, largest neighbours and the chains inside the block, face regions at their
    global sizes. A chain stops at a large region, at a face region (decided globally) and at
    a small region without neighbours."""
    labels, lut = region_labels(block, _CLASSES, connectivity)
    sizes = np.bincount(labels.ravel(), minlength=len(lut)).astype(np.int64)
    sizes[face_labels] = face_sizes
    sizes[0] = 0
    best = _best_neighbours(labels, sizes, origin, width, connectivity)
    large = sizes >= min_pixels
    is_face = np.zeros(len(lut), dtype=bool)
    is_face[face_labels] = True
    move = ~large & ~is_face & (best[2] > 0)
    move[0] = False
    nxt = np.arange(len(lut))
    nxt[move] = best[2][move]
    return _Resolved(labels, lut, large, is_face, best, follow(nxt, ~move))


def _targets(r: _Resolved, face_out: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per label, what reaching it through a chain gives: ``(class or KEEP/FOLLOW, face label)``.

    A large region gives its class; a small face region its global outcome
    (``face_out``) or, without one, FOLLOW itself; anything else (cycle,
    isolated) KEEP.
    """
    n = len(r.lut)
    end = r.end
    cls = np.full(n, KEEP, dtype=np.int64)
    label = np.zeros(n, dtype=np.int64)
    ok = end >= 0
    e = np.where(ok, end, 0)
    big = ok & r.large[e]
    cls[big] = r.lut[e[big]]
    face = ok & ~r.large[e] & r.is_face[e]
    if face_out is None:
        cls[face] = FOLLOW
        label[face] = e[face]
    else:
        cls[face] = face_out[e[face]]
    return cls, label


def face_candidates(
    block: np.ndarray,
    connectivity: int,
    min_pixels: int,
    origin: tuple[int, int],
    width: int,
    face_labels: np.ndarray,
    face_sizes: np.ndarray,
) -> Candidates:
    """Pass 2: each face region's largest neighbour in the block and where its chain leads.

    ``origin`` is the block's ``(row, col)`` in the raster of ``width``
    columns; ``face_sizes`` the global sizes of the face regions.
    """
    r = _resolve(block, connectivity, min_pixels, origin, width, face_labels, face_sizes)
    best_s, best_key, best_q = r.best
    f = face_labels[best_q[face_labels] > 0]
    q = best_q[f]
    cls, label = _targets(r, None)
    target_class, target_label = cls[q], label[q]
    direct = r.is_face[q]  # a face neighbour: the plan decides with its global size
    target_class[direct] = FOLLOW
    target_label[direct] = q[direct]
    return Candidates(f, best_s[f], best_key[f], target_label, target_class)


def apply_sieve(
    block: np.ndarray,
    connectivity: int,
    min_pixels: int,
    origin: tuple[int, int],
    width: int,
    face_labels: np.ndarray,
    face_sizes: np.ndarray,
    face_outcome: np.ndarray,
) -> np.ndarray:
    """Pass 3: the sieved block, given each face region's outcome (a class id or KEEP)."""
    r = _resolve(block, connectivity, min_pixels, origin, width, face_labels, face_sizes)
    face_out = np.full(len(r.lut), KEEP, dtype=np.int64)
    face_out[face_labels] = face_outcome
    value, _ = _targets(r, face_out)
    # a region's own outcome: its chain's (from its largest neighbour on) if it
    # is small and has one; a face region's from the plan; else it stays
    value[r.large] = KEEP
    value[r.is_face] = face_out[r.is_face]
    value[0] = KEEP
    new = value[r.labels]
    change = new >= 0
    if not change.any():
        return block
    out = block.copy()
    out[change] = new[change].astype(np.uint8)
    return out
