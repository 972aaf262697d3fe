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

__all__ = ["Output", "parse_features", "parse_stats", "reduce_block"]

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
    unclear dates blanked (none with ``overwrite``: the stack is blanked in
    place), and one sorted quantity or index stack at a time.
    """
    n_dates = stack.shape[0]
    height, width = stack.shape[-2:]
    out = np.full((len(outputs) + 1, height, width), np.nan, np.float32)
    clear = np.isfinite(stack).all(axis=1) if n_dates else np.zeros((0, height, width), bool)
    out[-1] = clear.sum(axis=0)
    if n_dates == 0 or not clear.any():
        return out
    if overwrite:
        blanked = stack
        np.copyto(blanked, np.float32(np.nan), where=~clear[:, None])
    else:
        blanked = np.where(clear[:, None], stack, np.float32(np.nan))
    by_quantity: dict[str, list[tuple[int, str]]] = {}
    for k, o in enumerate(outputs):
        by_quantity.setdefault(o.quantity, []).append((k, o.stat))
    for quantity, wanted in by_quantity.items():
        if quantity in band_names:
            values = blanked[:, list(band_names).index(quantity)]
        else:
            values = _index_stack(blanked, band_names, quantity)
        ordered = _sorted_values(values)
        for k, stat in wanted:
            out[k] = _statistic(ordered, stat)
    return out


def _index_stack(stack: np.ndarray, band_names: Sequence[str], index: str) -> np.ndarray:

    return np.stack([indices_block(date, band_names, [index])[0] for date in stack])


def _sorted_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's values sorted over axis 0 (NaN last), and how many are finite.

    One sort serves every statistic of a quantity: numpy's nan-percentile sorts
    again for each call and handles NaN slowly (0.33 s for 30 dates of 10,100
    px against 0.07 s here).
    """
    return np.sort(values, axis=0), np.isfinite(values).sum(axis=0)


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
    mixed = below + (above - below) * share
    return np.where(seen, mixed, np.nan).astype(np.float32)
