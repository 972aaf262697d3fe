"""Minimum mapping unit: a sieve that merges small regions of a mask into their neighbours.

The rule is GDAL's (:func:`rasterio.features.sieve` on the whole raster, with
nodata masked): a region (connected pixels of one class, 4- or 8-connected)
of fewer than ``min_pixels`` pixels takes the class of its largest
neighbouring region (nodata is no neighbour; between neighbours of one size,
the first met in a row-by-row scan). If that neighbour is small too, the
chain of largest neighbours is followed to the first region of at least
``min_pixels``; a chain that runs in a circle or ends at a region without
neighbours leaves the region as it is. Nodata (255) is never changed and
never spreads. The result is exact for any size and any chunking.

It runs in three passes over the chunks, of which only the last is lazy:

1. each block is labelled into regions and summarised by the regions on its
   edges (sizes, classes, the labels of its edge rows and columns); the plan
   joins those across chunk faces (union-find) into global regions and sizes;
2. each block, given the global sizes of its edge regions, finds every
   region's largest neighbour and follows the chains inside the block; the
   plan completes the edge regions' neighbours across faces and follows their
   chains from block to block;
3. each block is sieved with the plan's outcome for its edge regions.

Blocks are labelled again in every pass; memory holds a few blocks and the
regions on chunk faces, not the raster. Block functions are in
:mod:`landmask.vector._sieve_blocks`, the plan in :mod:`landmask.vector._sieve_plan`.
"""

from __future__ import annotations

import math

import dask
import dask.array as da
import numpy as np

from landmask._runtime.schedulers import is_processes
from landmask.vector._pool import stays_in_process
from landmask.vector._sieve_blocks import apply_sieve, face_candidates, face_summary
from landmask.vector._sieve_plan import face_outcomes, join_faces

__all__ = ["sieve", "sieve_array"]


def _check(connectivity: int) -> None:
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity {connectivity}: must be 4 or 8")


def sieve(data: da.Array, min_pixels: int, connectivity: int = 4) -> da.Array:
    """Sieve a ``(y, x)`` uint8 mask (see the module docstring): lazy, after two planning passes.

    Parameters
    ----------
    data
        Class ids, 255 nodata, in any chunks.
    min_pixels
        Regions of fewer pixels are merged; 1 or less: ``data`` as it is.
    connectivity
        4 or 8.
    """
    _check(connectivity)
    if min_pixels <= 1:
        return data
    chunks = data.chunks
    rows, cols = data.numblocks
    width = int(data.shape[1])
    y_off = np.concatenate([[0], np.cumsum(chunks[0])]).tolist()
    x_off = np.concatenate([[0], np.cumsum(chunks[1])]).tolist()
    blocks = data.to_delayed()
    keys = [(i, j) for i in range(rows) for j in range(cols)]
    # one block: computed here, as chunk_pool does; a process pool (started afresh by each
    # compute) cost 3.4 CPU s of the 6.7 s of a 512² --min-area vectorize. A mask that
    # chunk_pool polygonizes in this process (stays_in_process) is sieved on its threads
    # too: ``--scheduler processes`` started its worker processes for the sieve alone
    where: dict[str, str] = {}
    if len(keys) == 1:
        where = {"scheduler": "sync"}
    elif stays_in_process(len(keys), math.prod(data.shape)) and is_processes(
        dask.base.get_scheduler()
    ):
        where = {"scheduler": "threads"}
    summaries = dask.compute(
        *[dask.delayed(face_summary)(blocks[k], connectivity) for k in keys], **where
    )
    plan = join_faces(list(summaries), chunks, connectivity)
    candidates = dask.compute(
        *[
            dask.delayed(face_candidates)(
                blocks[i, j],
                connectivity,
                min_pixels,
                (y_off[i], x_off[j]),
                width,
                plan.labels[b],
                plan.sizes[b],
            )
            for b, (i, j) in enumerate(keys)
        ],
        **where,
    )
    outcomes = face_outcomes(plan, list(candidates), min_pixels)
    out = [
        [
            da.from_delayed(
                dask.delayed(apply_sieve)(
                    blocks[i, j],
                    connectivity,
                    min_pixels,
                    (y_off[i], x_off[j]),
                    width,
                    plan.labels[i * cols + j],
                    plan.sizes[i * cols + j],
                    outcomes[i * cols + j],
                ),
                shape=(chunks[0][i], chunks[1][j]),
                dtype=np.uint8,
                meta=np.empty((0, 0), dtype=np.uint8),
            )
            for j in range(cols)
        ]
        for i in range(rows)
    ]
    return da.block(out)


def sieve_array(data: np.ndarray, min_pixels: int, connectivity: int = 4) -> np.ndarray:
    """The sieve of a whole in-memory ``(y, x)`` uint8 mask (one block, no Dask)."""
    _check(connectivity)
    if min_pixels <= 1:
        return data
    chunks = ((data.shape[0],), (data.shape[1],))
    plan = join_faces([face_summary(data, connectivity)], chunks, connectivity)
    args = (connectivity, min_pixels, (0, 0), data.shape[1], plan.labels[0], plan.sizes[0])
    outcomes = face_outcomes(plan, [face_candidates(data, *args)], min_pixels)
    return apply_sieve(data, *args, outcomes[0])
