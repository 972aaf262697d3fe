"""Neighbourhood statistics: ``focal_mean(nir, 2)`` in a rule.

A focal function of a quantity (a band, an index or any numeric expression)
gives, at each pixel, a statistic of the quantity over the square window of
``(2R + 1)²`` pixels centred on it:

``focal_mean``  mean of the window's valid values
``focal_std``   their standard deviation (population: divided by the count)
``focal_min``   smallest valid value
``focal_max``   largest valid value
``focal_range`` ``focal_max - focal_min`` (a texture contrast)

Edges and missing values: a value that is not finite (NaN: nodata, a zero
denominator) and a pixel beyond the scene's edge are left out of the window, so
the statistic is over the window's valid pixels only; a pixel whose own value
is not finite gives NaN (nodata in a mask).

Exactness across chunks: :mod:`landmask.classification.classify` grows each
chunk by the largest reach of its rules (:attr:`Expr.reach
<landmask.spectral.expressions.Expr.reach>`) from the neighbouring chunks and
trims the answer back, so a kept pixel always sees its whole window or the
scene's edge. The functions here then give **bit-identical** results for any
chunking: window sums are added in an order fixed by the window alone (sums of
power-of-two runs, :func:`window_sums`), never by a running sum that starts at
the block's edge (as ``scipy.ndimage.uniform_filter`` does, whose last bits
therefore depend on where a block starts); minimum and maximum are exact
(``scipy.ndimage.minimum_filter`` / ``maximum_filter``).

Cost: sums take ``2 * (log2(2R + 1) + popcount(2R + 1))`` passes over float64
arrays of the block (value, square and count planes together), minimum and
maximum about 3 comparisons per pixel and axis whatever ``R``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

__all__ = ["FOCAL", "MAX_RADIUS", "focal", "window_sums"]

#: Largest window radius accepted in a rule (a 101 x 101 px window).
MAX_RADIUS = 50


def window_sums(planes: np.ndarray, radius: int) -> np.ndarray:
    """Block function: sums of each ``(plane, y, x)`` plane over ``(2R+1)²`` windows.

    Pixels beyond the array's edge count as 0. Each output is the sum of its
    window's values in an order that depends only on the window (runs of
    ``2**k`` pixels added pairwise, then the runs that make up ``2R + 1``), so
    a pixel's sum is the same, bit for bit, in any block that holds its window.

    Parameters
    ----------
    planes
        ``(plane, y, x)`` float64 values, finite.
    radius
        ``R >= 0``.

    Returns
    -------
    numpy.ndarray
        ``(plane, y, x)`` float64 window sums. Memory: about three copies of
        ``planes``.
    """
    out = planes
    for axis in (2, 1):
        out = _line_sums(out, radius, axis)
    return out


def _line_sums(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    n = a.shape[axis]
    width = 2 * radius + 1
    pad = [(0, 0)] * a.ndim
    pad[axis] = (radius, radius)
    runs = np.pad(a, pad)  # runs of length `size` starting at each index

    def take(arr: np.ndarray, start: int, stop: int) -> np.ndarray:
        index: list[slice] = [slice(None)] * arr.ndim
        index[axis] = slice(start, stop)
        return arr[tuple(index)]

    out: np.ndarray | None = None
    size, offset = 1, 0
    while True:
        if width & size:
            piece = take(runs, offset, offset + n)
            out = piece.copy() if out is None else np.add(out, piece, out=out)
            offset += size
        if size * 2 > width:
            break
        length = runs.shape[axis]
        runs = take(runs, 0, length - size) + take(runs, size, length)
        size *= 2
    assert out is not None
    return out


def _moments(values: np.ndarray, radius: int, squares: bool) -> tuple[np.ndarray, ...]:
    valid = np.isfinite(values)
    planes = np.empty((2 + squares, *values.shape), dtype=np.float64)
    planes[0] = valid
    planes[1] = np.where(valid, values, 0.0)
    if squares:
        np.multiply(planes[1], planes[1], out=planes[2])
    sums = window_sums(planes, radius)
    count = sums[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums[1] / count
        if not squares:
            return valid, mean
        var = sums[2] / count - mean * mean
    np.maximum(var, 0.0, out=var)  # rounding can leave a constant window at -1e-17
    return valid, mean, var


def focal_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: mean of each pixel's ``(2R+1)²`` window of valid values, float32."""
    valid, mean = _moments(values, radius, squares=False)
    return _finish(mean, valid)


def focal_std(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: standard deviation (ddof 0) of each pixel's window, float32."""
    valid, _, var = _moments(values, radius, squares=True)
    return _finish(np.sqrt(var), valid)


def _extreme(values: np.ndarray, radius: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(values)
    fill = np.float32(np.inf if kind == "min" else -np.inf)
    filled = np.where(valid, values, fill).astype(np.float32, copy=False)
    func = ndimage.minimum_filter if kind == "min" else ndimage.maximum_filter
    return valid, func(filled, size=2 * radius + 1, mode="constant", cval=fill)


def focal_min(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: smallest valid value in each pixel's window, float32."""
    valid, low = _extreme(values, radius, "min")
    return _finish(low, valid)


def focal_max(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: largest valid value in each pixel's window, float32."""
    valid, high = _extreme(values, radius, "max")
    return _finish(high, valid)


def focal_range(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: largest minus smallest valid value in each pixel's window, float32."""
    valid, low = _extreme(values, radius, "min")
    _, high = _extreme(values, radius, "max")
    with np.errstate(invalid="ignore", over="ignore"):
        return _finish(high - low, valid)


def _finish(result: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = result.astype(np.float32)
    out[~valid] = np.nan
    return out


#: Focal functions by the name used in rules: ``(values, radius) -> float32``.
FOCAL: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "focal_mean": focal_mean,
    "focal_std": focal_std,
    "focal_min": focal_min,
    "focal_max": focal_max,
    "focal_range": focal_range,
}


def focal(name: str, values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: the focal statistic ``name`` of a 2-D array (see :data:`FOCAL`)."""
    return FOCAL[name](np.asarray(values), int(radius))
