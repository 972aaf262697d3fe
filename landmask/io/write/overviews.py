"""Overview levels of a raster, computed chunk by chunk with the data they summarise.

GDAL's COG driver would otherwise rebuild every level in one serial pass after
all chunks are written (for a 10240² mask, MODE overviews took a quarter of
the run). Here each level halves the previous one inside the Dask graph, so
the work is spread over the workers while the full-resolution chunks are
still in memory, and the COG driver only has to compress.

* categorical data (masks): the *mode* of each 2x2 cell, nodata ignored, as
  GDAL's MODE resampling computes it (scanning the cell in raster order, a tie
  goes to the value that first reaches the highest count); a cell of nodata
  only stays nodata;
* continuous data (indices): the mean of the valid (non-NaN) pixels of each cell.

Each level is computed from the previous level (as GDAL does when it builds
overviews iteratively), so level ``k`` is the mode of modes, not the mode of
the whole ``2**k`` square.
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np

__all__ = ["mean2x2", "mode2x2", "overview_factors", "overview_levels"]


def overview_factors(height: int, width: int, tile: int) -> list[int]:
    """Decimation factors GDAL's COG driver uses: halve until a level fits one tile."""
    factors: list[int] = []
    factor = 1
    while max(math.ceil(height / factor), math.ceil(width / factor)) > tile:
        factor *= 2
        factors.append(factor)
    return factors


def _pad_even(block: np.ndarray, fill: float) -> np.ndarray:
    h, w = block.shape[-2:]
    if h % 2 == 0 and w % 2 == 0:
        return block
    pad = [(0, 0)] * (block.ndim - 2) + [(0, h % 2), (0, w % 2)]
    return np.pad(block, pad, constant_values=fill)


def mode2x2(block: np.ndarray, nodata: int) -> np.ndarray:
    """Block function: the most frequent valid value of each 2x2 cell of the last two axes.

    Odd edges are padded with nodata. Works on any integer dtype. Uniform cells
    (most of a land-cover mask) are settled by three comparisons; only mixed
    cells go through the full count.
    """
    b = _pad_even(block, nodata)
    cells = [b[..., i::2, j::2] for i in (0, 1) for j in (0, 1)]
    out = cells[0].copy()
    mixed = (cells[0] != cells[1]) | (cells[0] != cells[2]) | (cells[0] != cells[3])
    where = np.nonzero(mixed)
    if where[0].size:
        out[where] = _mode_of_four([c[where] for c in cells], nodata)
    return out


def _mode_of_four(cells: list[np.ndarray], nodata: int) -> np.ndarray:
    """Mode of four equal-length 1-D arrays, element-wise, as GDAL's MODE picks it.

    GDAL's MODE scans a window in raster order with a running count of each
    value; the value that first reaches the highest count wins a tie. That is
    the value at the first position of the highest running count (``argmax``),
    a nodata value counting 0 (so a cell of nodata only stays nodata): the
    counts are found with six comparisons for all cells at once.
    """
    c0, c1, c2, c3 = cells
    counts = np.empty((4, c0.size), dtype=np.uint8)
    counts[0] = 1
    np.add((c1 == c0).view(np.uint8), 1, out=counts[1])
    np.add((c2 == c0).view(np.uint8), (c2 == c1).view(np.uint8), out=counts[2])
    counts[2] += 1
    np.add((c3 == c0).view(np.uint8), (c3 == c1).view(np.uint8), out=counts[3])
    counts[3] += (c3 == c2).view(np.uint8) + 1
    for count, value in zip(counts, cells, strict=True):
        count[value == nodata] = 0
    return np.choose(np.argmax(counts, axis=0), cells)


def mean2x2(block: np.ndarray, nodata: float = np.nan) -> np.ndarray:
    """Block function: the nodata-ignoring mean of each 2x2 cell of the last two axes.

    Floats ignore NaN; integers ignore ``nodata``, round the mean to the
    nearest integer and give ``nodata`` where a cell has no valid value.
    """
    integer = not np.issubdtype(block.dtype, np.floating)
    b = _pad_even(block, nodata if integer else np.nan)
    h, w = b.shape[-2:]
    cells = b.reshape(*b.shape[:-2], h // 2, 2, w // 2, 2)
    valid = cells != nodata if integer else ~np.isnan(cells)
    total = np.where(valid, cells, 0).sum(axis=(-3, -1), dtype=np.float64)
    count = valid.sum(axis=(-3, -1))
    with np.errstate(invalid="ignore", divide="ignore"):  # thread-local: all-NaN cells stay NaN
        mean = total / count
    if integer:
        return np.where(count > 0, np.floor(mean + 0.5), nodata).astype(b.dtype)
    return mean.astype(b.dtype)


def _halve(level: da.Array, categorical: bool, nodata: float) -> da.Array:
    # every chunk but the last must have even sides for per-chunk halving to
    # equal halving the whole array
    for axis in (-2, -1):
        if any(c % 2 for c in level.chunks[axis][:-1]):
            level = level.rechunk({level.ndim + axis: 1024})
    chunks = [*level.chunks[:-2], *(tuple((c + 1) // 2 for c in cs) for cs in level.chunks[-2:])]
    # meta given: without it dask calls the block function on a dummy to guess it,
    # under a warnings.catch_warnings() that races with other threads' filters
    meta = np.empty((0,) * level.ndim, level.dtype)
    if categorical:
        return da.map_blocks(
            mode2x2, level, nodata=int(nodata), chunks=chunks, dtype=level.dtype, meta=meta
        )
    return da.map_blocks(mean2x2, level, nodata=nodata, chunks=chunks, dtype=level.dtype, meta=meta)


def overview_levels(
    data: da.Array, tile: int, *, categorical: bool, nodata: float
) -> list[da.Array]:
    """Lazy overview levels of ``(..., y, x)`` data, by factors of :func:`overview_factors`."""
    levels = []
    level = data
    for _ in overview_factors(data.shape[-2], data.shape[-1], tile):
        level = _halve(level, categorical, nodata)
        levels.append(level)
    return levels
