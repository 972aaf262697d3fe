"""Block functions: one composite chunk, from its dates' reads to its statistics.

A composite chunk is one task (:func:`composite_block`) given plain values
only (:class:`WindowRead`: band sources with absolute paths, a window, grids,
numbers), so it runs on any worker. For each date, and each scene of the
date, it reads the scene's window that the chunk samples
(:func:`~landmask.io.read.reflectance.read_reflectance`, one open of each
file), blanks what the quality layers say is not clear, warps it into the
date's place in the chunk's stack of dates (:func:`~landmask.temporal.warp.warp_block`)
and lets the read go before the next date is read; then it reduces the stack
(:func:`~landmask.temporal.statistics.reduce_block`). A chunk holds its stack
and one scene's read at a time, whatever the number of dates; no read waits
in the task graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rasterio.enums import Resampling
from rasterio.windows import Window

from landmask.classification.quality import quality_codes_block
from landmask.grid import Grid
from landmask.io.read.reflectance import read_reflectance
from landmask.temporal.statistics import Output, reduce_block
from landmask.temporal.warp import lattice_offset, warp_block

if TYPE_CHECKING:
    from landmask.io.read.scene import BandSource

__all__ = ["WindowRead", "composite_block", "read_clear"]


@dataclass(frozen=True)
class WindowRead:
    """One scene's part of a composite chunk: what to read, where, and its kernel scale.

    Plain values (picklable): the sources of the bands composited (in the
    composite's band order) and of the quality layers to blank with (none: no
    blanking), the window ``(row_off, col_off, height, width)`` of the scene's
    grid, that window's grid, and the resampling kernel's scale
    (:func:`~landmask.temporal.warp.resampling_scale` of the whole grids).
    """

    bands: tuple[BandSource, ...]
    quality: tuple[BandSource, ...]
    window: tuple[int, int, int, int]
    grid: Grid
    scale: tuple[float, float]


def read_clear(read: WindowRead, out: np.ndarray | None = None) -> np.ndarray:
    """Block function: the window's ``(band, h, w)`` float32 reflectance, NaN where not clear.

    Opens each file once (:func:`read_reflectance`; a file holding both bands
    and quality layers twice); costs the window's quality layers as float32 and
    its bands (none given ``out``: a date's place in the stack, when the window
    is the chunk itself).

    Parameters
    ----------
    read
        What to read: band and quality sources (absolute paths) and the window.
    out
        Where to write the bands' reflectance, or None for a new array.

    Returns
    -------
    numpy.ndarray
        ``(band, h, w)`` float32, NaN where a quality layer says not clear or a band
        is nodata.
    """
    r0, c0, h, w = read.window
    window = Window(c0, r0, w, h)
    values = read_reflectance(read.bands, window, out)
    if read.quality:
        layers = read_reflectance(read.quality, window)
        codes = quality_codes_block({s.name: v for s, v in zip(read.quality, layers, strict=True)})
        values[:, codes != 0] = np.nan  # 2.8x faster than a broadcast copyto here
    return values


def _is_the_chunk(read: WindowRead, target: Grid) -> bool:
    """Whether ``read``'s window is ``target`` itself: the same pixels, no warp needed."""
    g = read.grid
    same = (g.height, g.width) == (target.height, target.width)
    return same and lattice_offset(target, g) == (0, 0)


def composite_block(
    dates: Sequence[Sequence[WindowRead]],
    target: Grid,
    method: Resampling,
    names: Sequence[str],
    outputs: Sequence[Output],
) -> np.ndarray:
    """Block function: one chunk's ``(output + 1, y, x)`` statistics of its dates.

    ``dates``: per date reaching the chunk, the reads of its scenes, in input
    order; the scenes of one acquisition merge (the first valid pixel in input
    order). Memory: the ``(date, band, y, x)`` float32 stack, one scene's read
    and, when an acquisition has several scenes, one warp of the chunk.

    Parameters
    ----------
    dates
        Per date reaching the chunk, the reads of its scenes.
    target
        The chunk's grid (the window of the composite's grid it fills).
    method
        Resampling of the reflectance bands when a scene is not on the chunk's lattice.
    names
        The composited bands' common names, in the stack's order.
    outputs
        The statistics to compute, each a band or index and its statistic.

    Returns
    -------
    numpy.ndarray
        ``(len(outputs) + 1, y, x)`` float32: each output, then the count of clear
        observations.
    """
    stack = np.empty((len(dates), len(names), target.height, target.width), np.float32)
    for d, scenes in enumerate(dates):
        for k, read in enumerate(scenes):
            if k == 0 and _is_the_chunk(read, target):  # read straight into its place
                read_clear(read, out=stack[d])
                continue
            values = read_clear(read)
            if k == 0:
                warp_block(values, read.grid, target, method, read.scale, out=stack[d])
            else:
                more = warp_block(values, read.grid, target, method, read.scale)
                gap = ~np.isfinite(stack[d]).all(axis=0)
                stack[d][:, gap] = more[:, gap]
                del more
            del values  # before the next read: one read alive at a time
    return reduce_block(stack, names, outputs, overwrite=True)
