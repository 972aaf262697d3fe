"""Neighbourhood operations over chunks, exact at the seams, one chunk held at a time.

A block function that looks at neighbouring pixels (a rule with ``focal_std(x, 1)``,
a model with a halo) is exact at a pixel when the block holds the pixel's whole
``(2h + 1)²`` window, or reaches the scene's edge there. Growing every chunk by
``h`` pixels of its eight neighbours (:func:`dask.array.overlap.overlap`) does
that, but a chunk can then only be worked on once its neighbours are read: the
scheduler kept whole rows of float32 chunks (and, under the COG writer's graph,
nearly the whole scene: 2.0 GB for a 10240² 6-band scene) waiting for them.

:func:`map_halo` runs the function in two steps instead:

1. **alone** (:func:`first_pass`), as soon as a chunk is read: the function over
   the chunk as it is. Its answer is exact everywhere but in the chunk's *seam
   frame*, the pixels within ``h`` of a side that has a neighbouring chunk. The
   task keeps that answer and copies of the chunk's *rims* (its ``2h`` outermost
   rows and columns); the chunk itself is freed when the task ends.
2. **at the seams** (:func:`second_pass`): from the rims of the chunk and its
   eight neighbours, four strips ``3h`` wide around the chunk's sides are put
   together, the function runs on them, and their middle rows (or columns), the
   seam frame seen with its whole windows, are laid over the answer.

What waits for the neighbours is then the answer and the rims: a 1024² chunk of
six float32 bands waits as a 1 MB uint8 answer and 0.2 MB of rims (``h = 1``)
instead of 25 MB, and the extra work is the strips (about ``12h / 1024`` of a
chunk's pixels). The result is the function's over the whole array, bit for bit,
if the function is *local*: its answer at a pixel depends only on the values in
the pixel's window that lie inside the block (the block's edge taken as the
scene's), as :mod:`landmask.spectral.focal` guarantees.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

__all__ = ["Rimmed", "first_pass", "map_halo", "second_pass"]


@dataclass(frozen=True)
class Rimmed:
    """A chunk's answer from :func:`first_pass` and the rims its seams are redone from."""

    #: ``(layer, y, x)``: the function over the chunk alone
    answer: np.ndarray
    #: ``(band, 2h, x)`` first and last rows, ``(band, y, 2h)`` first and last columns
    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """The chunk's ``(y, x)`` size."""
        return (self.left.shape[1], self.top.shape[2])

    def cut(self, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """The chunk's input in ``rows`` x ``cols`` (chunk coordinates), from one rim."""
        (r0, r1), (c0, c1) = rows, cols
        h, w = self.shape
        rim = self.top.shape[1]
        if r1 <= rim:
            return self.top[:, r0:r1, c0:c1]
        if r0 >= h - rim:
            return self.bottom[:, r0 - (h - rim) : r1 - (h - rim), c0:c1]
        if c1 <= rim:
            return self.left[:, r0:r1, c0:c1]
        if c0 >= w - rim:
            return self.right[:, r0:r1, c0 - (w - rim) : c1 - (w - rim)]
        raise AssertionError(f"rows {rows}, cols {cols} of a {h}x{w} chunk lie in no rim")


def first_pass(block: np.ndarray, op: Callable[[np.ndarray], np.ndarray], halo: int) -> Rimmed:
    """Block function: ``op`` over a ``(band, y, x)`` chunk alone, and copies of its rims.

    Memory: ``op``'s own, plus rims of ``4 * 2h`` rows or columns of the chunk.
    """
    rim = 2 * halo
    return Rimmed(
        answer=op(block),
        top=block[:, :rim].copy(),
        bottom=block[:, -rim:].copy(),
        left=block[:, :, :rim].copy(),
        right=block[:, :, -rim:].copy(),
    )


def _first_after(
    block: np.ndarray, op: Callable[[np.ndarray], np.ndarray], halo: int, after: Any
) -> Rimmed:
    """:func:`first_pass`, run once ``after`` (another task's result, unused) exists."""
    return first_pass(block, op, halo)


def _assemble(
    around: Sequence[Sequence[Rimmed | None]], rows: tuple[int, int], cols: tuple[int, int]
) -> np.ndarray:
    """The input in ``rows`` x ``cols`` (coordinates of the middle chunk of ``around``).

    ``around[1 + di][1 + dj]`` is the chunk ``di`` rows and ``dj`` columns of
    chunks away (None beyond the array); the region reaches into a neighbour by
    at most ``h``, and into the middle chunk by at most ``2h`` from a side.
    """
    middle = around[1][1]
    assert middle is not None
    h, w = middle.shape
    above, below = around[0][1], around[2][1]
    left, right = around[1][0], around[1][2]
    row_spans = {
        -1: (-(above.shape[0] if above else 0), 0),
        0: (0, h),
        1: (h, h + (below.shape[0] if below else 0)),
    }
    col_spans = {
        -1: (-(left.shape[1] if left else 0), 0),
        0: (0, w),
        1: (w, w + (right.shape[1] if right else 0)),
    }
    bands, dtype = middle.top.shape[0], middle.top.dtype
    out = np.empty((bands, rows[1] - rows[0], cols[1] - cols[0]), dtype=dtype)
    for di, (y0, y1) in row_spans.items():
        r0, r1 = max(rows[0], y0), min(rows[1], y1)
        if r0 >= r1:
            continue
        for dj, (x0, x1) in col_spans.items():
            c0, c1 = max(cols[0], x0), min(cols[1], x1)
            if c0 >= c1:
                continue
            chunk = around[1 + di][1 + dj]
            assert chunk is not None, "a region reaches beyond the array"
            piece = chunk.cut((r0 - y0, r1 - y0), (c0 - x0, c1 - x0))
            out[:, r0 - rows[0] : r1 - rows[0], c0 - cols[0] : c1 - cols[0]] = piece
    return out


def second_pass(
    around: Sequence[Sequence[Rimmed | None]],
    func: Callable[[np.ndarray], np.ndarray],
    halo: int,
) -> np.ndarray:
    """Block function: the middle chunk's answer with its seam frame redone from the rims.

    ``around`` is the 3 x 3 neighbourhood of :func:`first_pass` results (None
    beyond the array). Each side with a neighbour gets a strip of ``3h`` rows
    (or columns) put together: ``h`` from the neighbours, ``2h`` from the chunk,
    as long as the chunk plus the neighbours' ``h`` across the other axis.
    ``func`` runs on it and its middle ``h`` rows (columns), which saw their whole
    windows, replace the chunk's frame. Memory: the answer copied, and the strips.
    """
    middle = around[1][1]
    assert middle is not None
    h, w = middle.shape
    t = halo if around[0][1] is not None else 0
    b = halo if around[2][1] is not None else 0
    left = halo if around[1][0] is not None else 0
    right = halo if around[1][2] is not None else 0
    out = middle.answer.copy()
    if t:
        strip = func(_assemble(around, (-halo, 2 * halo), (-left, w + right)))
        out[:, :halo] = strip[:, halo : 2 * halo, left : left + w]
    if b:
        strip = func(_assemble(around, (h - 2 * halo, h + halo), (-left, w + right)))
        out[:, h - halo :] = strip[:, halo : 2 * halo, left : left + w]
    if left:
        strip = func(_assemble(around, (-t, h + b), (-halo, 2 * halo)))
        out[:, :, :halo] = strip[:, t : t + h, halo : 2 * halo]
    if right:
        strip = func(_assemble(around, (-t, h + b), (w - 2 * halo, w + halo)))
        out[:, :, w - halo :] = strip[:, t : t + h, halo : 2 * halo]
    return out


def _at_least(chunks: tuple[int, ...], size: int) -> tuple[int, ...]:
    """Chunks of an axis each at least ``size`` long (one chunk if the axis is shorter)."""
    total = sum(chunks)
    if total <= size:
        return (total,)
    return tuple(da.overlap.ensure_minimum_chunksize(size, chunks))


def map_halo(
    data: da.Array,
    func: Callable[..., np.ndarray],
    halo: int,
    *,
    layers: int,
    dtype: Any,
    name: str = "map-halo",
    **kwargs: Any,
) -> da.Array:
    """Dask wiring: a local block function ``(band, y, x) -> (layer, y, x)`` over every chunk.

    Parameters
    ----------
    data
        ``(band, y, x)``; bands are made one chunk, and any chunk shorter than
        ``2 * halo`` is merged with its neighbour (an axis that short, one chunk).
    func
        ``func(block, **kwargs)``: a ``(layer, y, x)`` array of ``dtype`` whose
        value at a pixel depends only on the block's values within ``halo``
        pixels of it (the block's edge taken as the array's).
    halo
        The function's reach in pixels; 0 maps the blocks as they are.

    Returns
    -------
    dask.array.Array
        ``(layer, y, x)`` equal to ``func`` of the whole array, in the chunks
        of ``data`` (after the merging above). Two tasks per chunk
        (:func:`first_pass`, :func:`second_pass`); nothing holds a chunk of
        ``data`` after its first task.
    """
    data = data.rechunk({0: -1})
    meta = np.empty((0, 0, 0), dtype=dtype)
    if not halo:
        chunks = ((layers,), *data.chunks[1:])
        return da.map_blocks(func, data, chunks=chunks, dtype=dtype, meta=meta, **kwargs)
    data = data.rechunk({axis: _at_least(data.chunks[axis], 2 * halo) for axis in (1, 2)})
    bound = functools.partial(func, **kwargs)  # no dict among a task's arguments
    ny, nx = len(data.chunks[1]), len(data.chunks[2])
    token = tokenize(data, func, halo, kwargs)
    first, out_name = f"{name}-alone-{token}", f"{name}-{token}"
    layer: dict[Any, Any] = {}
    for i in range(ny):
        for j in range(nx):
            # a chunk's first pass waits for the seams of the chunk two rows up:
            # at most three rows of first passes are then held, whatever the
            # order Dask picks (unconstrained, it ran most of a scene's first
            # passes before their seams)
            after = (out_name, 0, i - 2, j) if i >= 2 else None
            layer[(first, 0, i, j)] = (_first_after, (data.name, 0, i, j), bound, halo, after)
            around = [
                [
                    (first, 0, i + di, j + dj) if 0 <= i + di < ny and 0 <= j + dj < nx else None
                    for dj in (-1, 0, 1)
                ]
                for di in (-1, 0, 1)
            ]
            layer[(out_name, 0, i, j)] = (second_pass, around, bound, halo)
    graph = data.__dask_graph__()
    assert isinstance(graph, HighLevelGraph)
    graph = HighLevelGraph(
        {**graph.layers, out_name: MaterializedLayer(layer)},
        {**graph.dependencies, out_name: set(data.__dask_layers__())},
    )
    return da.Array(graph, out_name, chunks=((layers,), *data.chunks[1:]), meta=meta)
