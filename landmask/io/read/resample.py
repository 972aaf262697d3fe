"""Resampling bands of another resolution onto a scene's grid, one window at a time.

Sentinel-2 delivers 10 m, 20 m and 60 m bands on one tile; landmask reads them
all on one target grid (the finest by default, or the resolution the user asks
for). Grids share a CRS and are north-up, so resampling is separable: every
target column maps to one continuous source column coordinate and every target
row to one source row coordinate.

The block functions here are pure numpy. A target pixel's value depends only
on its own position and the source pixels around it, never on the window it is
computed in, so results are the same for any chunk size:

* ``nearest`` (categorical layers: SCL, QA_PIXEL) takes the source pixel that
  contains the target pixel's centre; at 10 m from 20 m that replicates each
  source pixel 2x2.
* ``bilinear`` (reflectance) interpolates between the four source pixel centres
  around the target pixel's centre; beyond the outermost centres the edge value
  is held. A NaN (nodata) source pixel makes every target pixel it weighs on
  NaN; a source pixel with weight zero is never read.

Target pixels whose centre falls outside the source raster are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from affine import Affine

__all__ = ["Method", "Resample", "axis_coords", "resample_block", "source_span", "target_size"]

Method = Literal["nearest", "bilinear"]


@dataclass(frozen=True)
class Resample:
    """How one source raster maps onto the target grid.

    Attributes
    ----------
    src_transform, src_height, src_width
        The source raster's grid.
    dst_transform
        The target grid's transform (same CRS, north-up).
    method
        ``nearest`` or ``bilinear``.
    """

    src_transform: Affine
    src_height: int
    src_width: int
    dst_transform: Affine
    method: Method

    def rows(self, start: int, count: int) -> np.ndarray:
        """Continuous source row coordinates of target rows ``start .. start+count``."""
        return axis_coords(
            self.dst_transform.f, self.dst_transform.e, self.src_transform.f,
            self.src_transform.e, start, count,
        )  # fmt: skip

    def cols(self, start: int, count: int) -> np.ndarray:
        """Continuous source column coordinates of target columns ``start .. start+count``."""
        return axis_coords(
            self.dst_transform.c, self.dst_transform.a, self.src_transform.c,
            self.src_transform.a, start, count,
        )  # fmt: skip


def axis_coords(
    dst_origin: float, dst_step: float, src_origin: float, src_step: float, start: int, count: int
) -> np.ndarray:
    """Source pixel coordinates (centres at integers) of target pixel centres.

    Target pixel ``i`` has its centre at ``dst_origin + dst_step * (i + 0.5)``;
    its source coordinate is ``(centre - src_origin) / src_step - 0.5``. Computed
    from the global index alone, so any window gives the same numbers.
    """
    i = np.arange(start, start + count, dtype=np.float64)
    centre = dst_origin + dst_step * (i + 0.5)
    return (centre - src_origin) / src_step - 0.5


def source_span(coords: np.ndarray, size: int, method: Method) -> tuple[int, int] | None:
    """The source pixels ``[lo, hi)`` a window of target coordinates reads, or None."""
    inside = (coords >= -0.5) & (coords < size - 0.5)
    if not inside.any():
        return None
    c = np.clip(coords[inside], 0, size - 1)
    if method == "nearest":
        idx = np.floor(coords[inside] + 0.5)
        return int(idx.min()), int(idx.max()) + 1
    lo = int(np.floor(c.min()))
    hi = min(int(np.floor(c.max())) + 2, size)
    return lo, hi


def _axis_plan(
    coords: np.ndarray, size: int, offset: int, method: Method
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per target pixel: low index, high index, weight of high, inside-raster flag.

    Indices are relative to a source window starting at ``offset``.
    """
    inside = (coords >= -0.5) & (coords < size - 0.5)
    if method == "nearest":
        idx = np.clip(np.floor(coords + 0.5), 0, size - 1).astype(np.int64) - offset
        return idx, idx, np.zeros(coords.shape), inside
    c = np.clip(coords, 0, size - 1)
    lo = np.floor(c).astype(np.int64)
    hi = np.minimum(lo + 1, size - 1)
    return lo - offset, hi - offset, c - lo, inside


def resample_block(
    src: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    row_offset: int,
    col_offset: int,
    src_height: int,
    src_width: int,
    method: Method,
) -> np.ndarray:
    """Block function: sample a source window at target pixel positions.

    Parameters
    ----------
    src
        ``(h, w)`` float32 source values (NaN = nodata) of the source window that
        starts at ``(row_offset, col_offset)``; it must cover
        :func:`source_span` of ``rows`` and ``cols``.
    rows, cols
        Continuous source coordinates of the target rows and columns
        (:func:`axis_coords`).
    src_height, src_width
        Size of the whole source raster (edges are decided against it).
    method
        ``nearest`` or ``bilinear``.

    Returns
    -------
    numpy.ndarray
        ``(len(rows), len(cols))`` float32; NaN outside the source raster.
    """
    out = np.full((rows.size, cols.size), np.nan, dtype=np.float32)
    r_lo, r_hi, r_w, r_in = _axis_plan(rows, src_height, row_offset, method)
    c_lo, c_hi, c_w, c_in = _axis_plan(cols, src_width, col_offset, method)
    if not r_in.any() or not c_in.any():
        return out
    r_lo, r_hi, r_w = r_lo[r_in], r_hi[r_in], r_w[r_in]
    c_lo, c_hi, c_w = c_lo[c_in], c_hi[c_in], c_w[c_in]
    values = src.astype(np.float64, copy=False)
    if method == "nearest":
        block = values[np.ix_(r_lo, c_lo)]
    else:
        block = _lerp(values[r_lo], values[r_hi], r_w[:, None])
        block = _lerp(block[:, c_lo], block[:, c_hi], c_w[None, :])
    out[np.ix_(r_in, c_in)] = block
    return out


def _lerp(lo: np.ndarray, hi: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``lo + (hi - lo) * w``, taking ``lo`` alone where ``w == 0`` (so a NaN ``hi`` is unread)."""
    with np.errstate(invalid="ignore"):
        mixed = lo + (hi - lo) * weight
    return np.where(weight == 0, lo, mixed)


def target_size(extent: float, resolution: float) -> int:
    """Pixels needed to cover ``extent`` at ``resolution`` (a near-integer ratio is rounded)."""
    ratio = extent / resolution
    nearest = round(ratio)
    if math.isclose(ratio, nearest, rel_tol=1e-9, abs_tol=1e-6):
        return max(1, nearest)
    return max(1, math.ceil(ratio))
