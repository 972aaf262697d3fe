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
therefore depend on where a block starts); minimum and maximum are exact.

Cost: per axis, ``log2(2R + 1) + popcount(2R + 1)`` array additions over the
float64 planes (values, squares for ``focal_std``, and valid-pixel counts when
the block has a missing value), or ``log2(2R + 1) + 1`` minimums/maximums over
float32, worked through in strips that stay in cache (:data:`STRIP_BYTES`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["FOCAL", "MAX_RADIUS", "STRIP_BYTES", "focal", "window_sums"]

#: Largest window radius accepted in a rule (a 101 x 101 px window).
MAX_RADIUS = 50


#: Bytes of float64 planes worked on at once: the block is processed in strips
#: of whole rows (plus ``R`` rows of context each side) small enough that every
#: temporary stays in a core's cache; the strip size does not change the result.
STRIP_BYTES = 1 << 19


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
        ``(plane, y, x)`` float64 window sums. Memory: one padded copy of
        ``planes`` and a strip's temporaries.
    """
    padded = _padded(planes, radius, 0.0)
    out = np.empty(planes.shape, dtype=np.float64)
    for top, bottom in _strips(planes.shape, radius):
        out[:, top:bottom] = _strip_sums(padded[:, top : bottom + 2 * radius], radius)
    return out


def _padded(planes: np.ndarray, radius: int, fill: float | np.floating) -> np.ndarray:
    *lead, h, w = planes.shape
    out = np.full((*lead, h + 2 * radius, w + 2 * radius), fill, dtype=planes.dtype)
    out[..., radius : radius + h, radius : radius + w] = planes
    return out


def _strips(shape: tuple[int, ...], radius: int) -> list[tuple[int, int]]:
    """Output rows ``[top, bottom)`` of each strip of a ``(plane, y, x)`` array."""
    planes, h, w = shape
    row_bytes = planes * (w + 2 * radius) * 8
    # at least 8R rows, so the 2R rows of context add at most a quarter to a strip's work
    rows = max(8, 8 * radius, STRIP_BYTES // max(1, row_bytes) - 2 * radius)
    return [(top, min(top + rows, h)) for top in range(0, h, rows)]


def _take(arr: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    index: list[slice] = [slice(None)] * arr.ndim
    index[axis] = slice(start, stop)
    return arr[tuple(index)]


def _strip_sums(strip: np.ndarray, radius: int) -> np.ndarray:
    """Window sums of a strip padded by ``radius`` on both spatial axes (trimmed)."""
    return _line_sums(_line_sums(strip, radius, 2), radius, 1)


def _line_sums(runs: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sums over ``2R + 1`` along ``axis`` of an array padded by ``R`` on it, in a fixed order."""
    n = runs.shape[axis] - 2 * radius
    width = 2 * radius + 1
    first: np.ndarray | None = None  # the first run, not yet added to anything
    out: np.ndarray | None = None
    size, offset = 1, 0  # `runs` holds the sums of `size` pixels starting at each index
    while True:
        if width & size:
            piece = _take(runs, axis, offset, offset + n)
            if out is not None:
                np.add(out, piece, out=out)
            elif first is not None:  # the first two runs added into a new array: no copy
                out = np.add(first, piece)
            else:
                first = piece
            offset += size
        if size * 2 > width:
            break
        length = runs.shape[axis]
        runs = np.add(_take(runs, axis, 0, length - size), _take(runs, axis, size, length))
        size *= 2
    if out is None:  # a window of one pixel
        assert first is not None
        out = first.copy()
    return out


def _line_extremes(runs: np.ndarray, radius: int, axis: int, pick: np.ufunc) -> np.ndarray:
    """Minimum (or maximum) over ``2R + 1`` along ``axis`` of an array padded by ``R`` on it.

    Runs of ``2**k`` pixels are combined pairwise up to the largest power of two
    within the window; the window is then two such runs, which may overlap.
    """
    n = runs.shape[axis] - 2 * radius
    width = 2 * radius + 1
    size = 1
    while size * 2 <= width:
        length = runs.shape[axis]
        runs = pick(_take(runs, axis, 0, length - size), _take(runs, axis, size, length))
        size *= 2
    return pick(_take(runs, axis, 0, n), _take(runs, axis, width - size, width - size + n))


def _edge_counts(n: int, radius: int) -> np.ndarray:
    """Pixels inside an axis of ``n`` in each window of ``2R + 1`` along it."""
    i = np.arange(n)
    return (np.minimum(i + radius, n - 1) - np.maximum(i - radius, 0) + 1).astype(np.float64)


def _padded_rows(
    values: np.ndarray, top: int, bottom: int, radius: int, fill: float | np.floating, dtype: Any
) -> np.ndarray:
    """Rows ``[top - R, bottom + R)`` of a 2-D array, ``R`` columns more each side, as ``dtype``.

    What lies beyond the array is ``fill``: the strip of a padded copy of the
    whole array, made without that copy.
    """
    h, w = values.shape
    out = np.empty((bottom - top + 2 * radius, w + 2 * radius), dtype=dtype)
    r0, r1 = max(0, top - radius), min(h, bottom + radius)
    y0, y1 = r0 - (top - radius), r1 - (top - radius)
    out[y0:y1, radius : radius + w] = values[r0:r1]
    # only the frame is filled: filling the whole array first cost a third of focal_min
    out[:y0] = fill
    out[y1:] = fill
    out[y0:y1, :radius] = fill
    out[y0:y1, radius + w :] = fill
    return out


def _moments(values: np.ndarray, radius: int, squares: bool) -> tuple[np.ndarray, np.ndarray]:
    """Where ``values`` is finite, and the window mean (or variance) of its finite values.

    The float64 planes (valid-pixel counts, values, squares) are made strip by
    strip, so the whole block costs only its float32 answer. A strip whose rows
    (with their ``R`` rows of context) have no missing value needs no plane of
    counts: they are ``(2R + 1)²`` but near the edges, so the sums are divided by
    that number, and the rows and columns within ``R`` of an edge again by their
    own counts (the same quotients as dividing by a plane of counts).
    """
    valid = np.isfinite(values)
    h, w = values.shape
    most = 2 + squares  # planes of a strip with a missing value: counts, values[, squares]
    out = np.empty((h, w), dtype=np.float32)
    edges_y, edges_x = _edge_counts(h, radius), _edge_counts(w, radius)
    strips = _strips((most, h, w), radius)
    tallest = max(bottom - top for top, bottom in strips) + 2 * radius
    # one buffer for every strip; its columns beyond the block stay 0
    buffer = np.zeros((most, tallest, w + 2 * radius))
    with np.errstate(invalid="ignore", divide="ignore"):
        for top, bottom in strips:
            r0, r1 = max(0, top - radius), min(h, bottom + radius)
            complete = bool(valid[r0:r1].all())  # counts follow from the edges alone
            first = 0 if complete else 1
            planes = buffer[: first + 1 + squares, : bottom - top + 2 * radius]
            y0, y1 = r0 - (top - radius), r1 - (top - radius)  # the rows inside the block
            planes[:, :y0] = 0.0  # beyond the block's edge: nothing
            planes[:, y1:] = 0.0
            inside = planes[:, y0:y1, radius : radius + w]
            inside[first] = values[r0:r1]
            if not complete:
                inside[0] = valid[r0:r1]
                np.copyto(inside[first], 0.0, where=~valid[r0:r1])
            if squares:
                np.multiply(planes[first], planes[first], out=planes[first + 1])
            sums = _strip_sums(planes, radius)
            if complete:
                mean = _by_edge_counts(sums[first], edges_y[top:bottom], edges_x, radius)
            else:
                mean = np.divide(sums[first], sums[0], out=sums[first])
            if squares:
                if complete:
                    var = _by_edge_counts(sums[first + 1], edges_y[top:bottom], edges_x, radius)
                else:
                    var = np.divide(sums[first + 1], sums[0], out=sums[first + 1])
                var -= np.multiply(mean, mean, out=mean)
                # a constant window may round to -1e-17: 0 there (var is never -0.0 and
                # NaN stays NaN, as with np.maximum, which takes 3x as long)
                np.copyto(var, 0.0, where=var < 0.0)
                np.sqrt(var, out=var)
                out[top:bottom] = var
            else:
                out[top:bottom] = mean
    return valid, _missing_to_nan(out, valid)


def _by_edge_counts(
    sums: np.ndarray, counts_y: np.ndarray, counts_x: np.ndarray, radius: int
) -> np.ndarray:
    """``sums / outer(counts_y, counts_x)`` in place, without making the plane of counts.

    Every row is divided by ``(2R + 1) * counts_x`` (one row broadcast down the
    strip); only the rows within ``R`` of the top or bottom edge (where ``counts_y``
    is smaller: the first and last strips) are divided again from their sums by
    their own counts. The divisors are the products of the counts, exact in
    float64, and IEEE division rounds the quotient alone, so the result is the
    same, bit for bit, as dividing by the plane of counts.
    """
    inner = float(2 * radius + 1)
    rows = np.flatnonzero(counts_y != inner)
    edge_rows = sums[rows]  # a copy, taken before dividing
    np.divide(sums, inner * counts_x, out=sums)
    if rows.size:
        sums[rows] = edge_rows / np.outer(counts_y[rows], counts_x)
    return sums


def focal_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: mean of each pixel's ``(2R+1)²`` window of valid values, float32."""
    return _moments(values, radius, squares=False)[1]


def focal_std(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: standard deviation (ddof 0) of each pixel's window, float32."""
    return _moments(values, radius, squares=True)[1]


def _extreme(values: np.ndarray, radius: int, pick: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """Where ``values`` is finite, and the window minimum (or maximum) of its finite values.

    A strip whose rows (with their ``R`` rows of context) have no missing value
    is padded and picked from as it is; only one with a missing value puts the
    fill (``+inf`` for the minimum) in its place first.
    """
    valid = np.isfinite(values)
    fill = np.float32(np.inf if pick is np.minimum else -np.inf)
    out = np.empty(values.shape, dtype=np.float32)
    h = values.shape[0]
    for top, bottom in _strips((1, *values.shape), radius):
        strip = _padded_rows(values, top, bottom, radius, fill, np.float32)
        if not valid[max(0, top - radius) : min(h, bottom + radius)].all():
            np.copyto(strip, fill, where=~_padded_rows(valid, top, bottom, radius, False, bool))
        out[top:bottom] = _line_extremes(_line_extremes(strip, radius, 1, pick), radius, 0, pick)
    return valid, out


def _missing_to_nan(out: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``out`` with NaN where ``valid`` is False (in place)."""
    if not valid.all():
        np.copyto(out, np.float32(np.nan), where=~valid)
    return out


def focal_min(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: smallest valid value in each pixel's window, float32."""
    valid, low = _extreme(values, radius, np.minimum)
    return _missing_to_nan(low, valid)


def focal_max(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: largest valid value in each pixel's window, float32."""
    valid, high = _extreme(values, radius, np.maximum)
    return _missing_to_nan(high, valid)


def focal_range(values: np.ndarray, radius: int) -> np.ndarray:
    """Block function: largest minus smallest valid value in each pixel's window, float32."""
    valid, low = _extreme(values, radius, np.minimum)
    _, high = _extreme(values, radius, np.maximum)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.subtract(high, low, out=high)
    return _missing_to_nan(out, valid)


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
