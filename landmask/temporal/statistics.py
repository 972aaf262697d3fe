"""Per-pixel statistics over dates: their names, and the block function that computes them.

A statistic is ``median``, ``min``, ``max`` or a percentile ``pNN`` (``p10``,
``p90``; ``p50`` is the median). Bands get the statistics of ``--stat``
(``blue_median``); features are spectral indices computed per date and then
reduced (``ndvi:p10,p50,p90`` -> ``ndvi_p10``, ...); ``clear_count`` is the
number of dates with every band valid at the pixel (after cloud masking), the
last output band. A date counts at a pixel only where all its bands are valid,
so every band's statistic comes from the same observations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from landmask.bands import composite_band
from landmask.errors import ConfigError
from landmask.spectral.indices import check_index_names, indices_block

__all__ = [
    "NETWORK_DATES",
    "Output",
    "parse_features",
    "parse_stats",
    "reduce_block",
    "sort_dates",
    "sorting_network",
]

_STAT = re.compile(r"^(median|min|max|p(100|[1-9]?[0-9]))$")


@dataclass(frozen=True)
class Output:
    """One output band: a statistic of a band or of an index over the dates."""

    quantity: str  # a band common name or an index name
    stat: str  # median, min, max, pNN
    is_index: bool

    @property
    def name(self) -> str:
        """``blue_median``, ``ndvi_p90``."""
        return composite_band(self.quantity, self.stat)

    @property
    def description(self) -> str:
        """In words, for the band description."""
        what = {"median": "median", "min": "minimum", "max": "maximum"}.get(
            self.stat, f"{self.stat[1:]}th percentile"
        )
        return f"{what} over the clear dates of {self.quantity}"


def parse_stats(stats: Sequence[str]) -> list[str]:
    """Check statistic names (``median``, ``min``, ``max``, ``p0``..``p100``)."""
    out = []
    for stat in stats:
        key = stat.strip().lower()
        if not _STAT.match(key):
            raise ConfigError(f"statistic {stat!r}: expected median, min, max or pNN (p10, p90)")
        if key not in out:
            out.append(key)
    return out


def parse_features(features: Sequence[str]) -> list[Output]:
    """``ndvi:p10,p50,p90`` (an index, its statistics) -> outputs; unknown names refused."""

    out: list[Output] = []
    for feature in features:
        name, sep, stats = feature.partition(":")
        if not sep or not stats.strip():
            raise ConfigError(
                f"feature {feature!r}: expected INDEX:STAT[,STAT...], e.g. ndvi:p10,p90"
            )
        (index,) = check_index_names([name])
        for stat in parse_stats(stats.split(",")):
            output = Output(index, stat, True)
            if output not in out:
                out.append(output)
    return out


def reduce_block(
    stack: np.ndarray,
    band_names: Sequence[str],
    outputs: Sequence[Output],
    *,
    overwrite: bool = False,
) -> np.ndarray:
    """Block function: ``(date, band, y, x)`` float32 reflectance -> ``(output + 1, y, x)``.

    NaN marks a missing observation; a date counts at a pixel only where all
    its bands are finite. The last plane is the clear count. Statistics of a
    pixel with no clear date are NaN. Memory: the stack, a copy with the
    unclear dates blanked (none with ``overwrite``: the stack is blanked and
    each band sorted in place), and one sorted band or index stack at a time.
    """
    n_dates = stack.shape[0]
    height, width = stack.shape[-2:]
    out = np.full((len(outputs) + 1, height, width), np.nan, np.float32)
    clear = np.empty((n_dates, height, width), bool)
    for d in range(n_dates):  # date by date: no (date, band) temporary
        np.isfinite(stack[d]).all(axis=0, out=clear[d])
    clear_count = clear.sum(axis=0)
    out[-1] = clear_count
    if n_dates == 0 or not clear.any():
        return out
    blanked = stack if overwrite else stack.copy()
    for d in range(n_dates):  # boolean indexing: 2.8x faster than a broadcast copyto
        blanked[d][:, ~clear[d]] = np.nan
    by_quantity: dict[str, list[tuple[int, str]]] = {}
    for k, o in enumerate(outputs):
        by_quantity.setdefault(o.quantity, []).append((k, o.stat))
    names = list(band_names)
    # indices first: they read the bands, which are then sorted in place when ``overwrite``
    for quantity in sorted(by_quantity, key=lambda q: q in names):
        if quantity in names:
            # a date is blanked in every band where any is not finite: its count is the clear count
            values = blanked[:, names.index(quantity)]
            ordered = _sorted_values(values, clear_count, in_place=True)
        else:
            values = _index_stack(blanked, band_names, quantity)
            ordered = _sorted_values(values, None, in_place=True)
        for k, stat in by_quantity[quantity]:
            out[k] = _statistic(ordered, stat)
        del values, ordered
    return out


def _index_stack(stack: np.ndarray, band_names: Sequence[str], index: str) -> np.ndarray:

    return np.stack([indices_block(date, band_names, [index])[0] for date in stack])


#: Most dates sorted by a sorting network (:func:`sort_dates`); more by numpy's sort.
NETWORK_DATES = 64

#: Pixels a sorting network works on at a time (its dates' values stay in the L2 cache).
_NETWORK_STRIP = 16384


def sorting_network(n: int) -> list[tuple[int, int]]:
    """The compare-exchanges ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort of ``n``.

    Built for the next power of two and cut to ``n``: the missing items would be
    +inf, which no compare-exchange moves.

    Parameters
    ----------
    n
        How many items to sort (at least 1).

    Returns
    -------
    list of (int, int)
        The compare-exchanges in the order to apply them.
    """
    size = 1 << max(0, (n - 1).bit_length())
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return [(a, b) for a, b in pairs if b < n]


def sort_dates(values: np.ndarray) -> np.ndarray:
    """Block function: ``(date, ...)`` float32 sorted over the dates, non-finite last.

    Non-finite values become +inf. Up to :data:`NETWORK_DATES` dates, a
    sorting network of elementwise minima and maxima over strips of
    :data:`_NETWORK_STRIP` pixels: each date's plane is contiguous, where
    numpy's sort over the first axis copies every pixel's few values to sort
    them (33 ms for 4 dates of 512² px against 1 ms; 61 against 18 for 16).
    Returns the sorted values: ``values`` itself when each of its planes is
    contiguous (a stack's band), else a sorted copy.
    """
    n = values.shape[0]
    flat = values.reshape(n, -1)  # a view when each plane is contiguous
    if n > NETWORK_DATES:
        np.nan_to_num(flat, copy=False, nan=np.inf, neginf=np.inf)
        flat.sort(axis=0)
        return flat.reshape(values.shape)
    pairs = sorting_network(n)
    width = min(_NETWORK_STRIP, flat.shape[1])
    spare, bad = np.empty(width, values.dtype), np.empty((n, width), bool)
    for start in range(0, flat.shape[1], _NETWORK_STRIP):
        block = flat[:, start : start + _NETWORK_STRIP]
        low, gone = spare[: block.shape[1]], bad[:, : block.shape[1]]
        np.isfinite(block, out=gone)
        np.logical_not(gone, out=gone)
        np.copyto(block, np.float32(np.inf), where=gone)
        for i, j in pairs:
            np.minimum(block[i], block[j], out=low)
            np.maximum(block[i], block[j], out=block[j])
            block[i] = low
    return flat.reshape(values.shape)


def _sorted_values(
    values: np.ndarray, count: np.ndarray | None, *, in_place: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's values sorted over axis 0 (non-finite last, as +inf), and how many are
    finite (``count``, when known).

    One sort serves every statistic of a quantity (:func:`sort_dates`); ``in_place``
    sorts ``values`` itself, else a copy.
    """
    if count is None:
        count = np.isfinite(values).sum(axis=0)
    if not in_place:
        values = values.copy()
    return sort_dates(values), count


def _statistic(ordered: tuple[np.ndarray, np.ndarray], stat: str) -> np.ndarray:
    """``stat`` over the dates of sorted values; NaN where a pixel has no value.

    Percentiles interpolate linearly between the closest ranks, as numpy's
    default (``nanpercentile(..., method="linear")``); the median is ``p50``.
    """
    values, count = ordered
    seen = count > 0
    result = np.full(values.shape[1:], np.nan, np.float32)
    if not seen.any():
        return result
    last = np.maximum(count - 1, 0)
    if stat == "min":
        return np.where(seen, values[0], np.float32(np.nan)).astype(np.float32)
    if stat == "max":
        top = np.take_along_axis(values, last[None], axis=0)[0]
        return np.where(seen, top, np.float32(np.nan)).astype(np.float32)
    q = 50.0 if stat == "median" else float(stat[1:])
    position = q / 100.0 * last
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, last)
    below = np.take_along_axis(values, low[None], axis=0)[0].astype(np.float64)
    above = np.take_along_axis(values, high[None], axis=0)[0].astype(np.float64)
    share = position - low
    with np.errstate(invalid="ignore"):  # inf - inf where a pixel has no value: masked below
        mixed = below + (above - below) * share
    return np.where(seen, mixed, np.nan).astype(np.float32)
