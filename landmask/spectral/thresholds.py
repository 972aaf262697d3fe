"""Automatic thresholds: ``mndwi > otsu(mndwi)`` in a rule.

A call such as ``otsu(mndwi)`` stands for one number computed over the whole
scene before any pixel is classified:

1. the quantity (an index, a band or any numeric expression) is computed chunk
   by chunk and counted into a histogram with **fixed bin edges**
   (:func:`histogram_block`); the chunks' counts are summed by a Dask reduction
   (:func:`histogram`), so the histogram, and the threshold, are the same for
   any chunk size and scheduler;
2. the threshold is found on the histogram (:func:`otsu`);
3. :func:`resolve_thresholds` puts the numbers into the rules, and the map step
   (:func:`landmask.spectral.rules.classify_block`) sees only constants.

Bin edges: normalized-difference indices lie in [-1, 1], so their edges are
fixed in advance and the scene is read once; for any other quantity a first
pass finds its exact minimum and maximum (both independent of the chunking).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import dask
import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.errors import BandError, RuleError
from landmask.spectral.expressions import Expr
from landmask.spectral.indices import BlockLookup, bands_needed, map_planes
from landmask.spectral.rules import RuleSet

__all__ = [
    "ATTR_PREFIX",
    "BINS",
    "METHODS",
    "bin_edges",
    "histogram",
    "histogram_block",
    "otsu",
    "quantity_block",
    "resolve_thresholds",
    "threshold_attrs",
    "thresholds_of",
]

log = logging.getLogger(__name__)

#: Number of histogram bins (a bin is 0.001 wide for an index in [-1, 1]).
BINS = 2000

#: Quantities known to lie in [-1, 1]: their bin edges need no first pass.
_BOUNDED = frozenset({"ndvi", "ndwi", "mndwi", "ndbi", "bsi", "nbr"})


def otsu(counts: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's threshold of a histogram: the cut that maximises the between-class variance.

    Parameters
    ----------
    counts
        ``n`` bin counts.
    edges
        ``n + 1`` increasing bin edges.

    Returns
    -------
    float
        The bin edge that best splits the histogram into two classes (values
        above it are the upper class). Otsu (1979), *A threshold selection
        method from gray-level histograms*, IEEE Trans. SMC 9(1):62-66.

    Raises
    ------
    ValueError
        If the histogram is empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("empty histogram")
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1]  # weight of the lower class for a cut after bin k
    s0 = np.cumsum(counts * centres)[:-1]
    w1 = total - w0
    s1 = (counts * centres).sum() - s0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (s0 / w0 - s1 / w1) ** 2
    between = np.where((w0 > 0) & (w1 > 0), between, -1.0)
    if between.size == 0 or between.max() < 0:  # all in one bin: no cut separates anything
        return float(centres[np.argmax(counts)])
    # several cuts tie across empty bins between the classes: take the middle one
    best = np.flatnonzero(between >= between.max() * (1 - 1e-12))
    return float(edges[1:-1][best[len(best) // 2]])


#: Threshold methods by the function name used in rules.
METHODS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"otsu": otsu}


def quantity_block(block: np.ndarray, band_names: Sequence[str], expr: Expr) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(y, x)`` float32 values of ``expr``.

    Non-finite results (nodata, a zero denominator) are NaN.
    """
    with np.errstate(all="ignore"):
        values = np.asarray(expr.evaluate(BlockLookup(block, band_names)), dtype=np.float32)
    values = np.broadcast_to(values, block.shape[1:])
    return np.where(np.isfinite(values), values, np.float32(np.nan))


def histogram_block(block: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Block function: counts of a block's finite values in fixed bins, as ``(1, 1, bins)`` int64.

    Values outside the edges count in the first or last bin.
    """
    values = block[np.isfinite(block)]
    bins = len(edges) - 1
    index = np.searchsorted(edges, values, side="right") - 1
    np.clip(index, 0, bins - 1, out=index)
    return np.bincount(index, minlength=bins).astype(np.int64).reshape(1, 1, bins)


def histogram(values: da.Array, edges: np.ndarray) -> da.Array:
    """Lazy histogram of a 2-D array's finite values in fixed bins (a Dask reduction).

    Each chunk is counted on its own (:func:`histogram_block`) and the integer
    counts are summed, so the result does not depend on the chunking. Memory:
    one chunk and ``bins`` counts per task.
    """
    bins = len(edges) - 1
    rows, cols = values.numblocks
    per_chunk = da.map_blocks(
        histogram_block,
        values,
        edges=edges,
        new_axis=2,
        chunks=((1,) * rows, (1,) * cols, (bins,)),
        dtype=np.int64,
        meta=np.empty((0, 0, 0), dtype=np.int64),
    )
    return per_chunk.sum(axis=(0, 1))


def bin_edges(lo: float, hi: float, bins: int = BINS) -> np.ndarray:
    """``bins + 1`` equal bins from ``lo`` to ``hi``; on [-1, 1] the edges are exact decimals.

    (``np.linspace(-1, 1, 2001)`` holds 0.08899999999999997 where 0.089 is
    meant; a threshold is one of these edges and is printed and stored.)
    """
    edges = np.linspace(lo, hi, bins + 1)
    return np.round(edges, 12) if (lo, hi) == (-1.0, 1.0) else edges


def _rule_of(ruleset: RuleSet, call: Expr) -> str:
    for k, rule in enumerate(ruleset.rules, start=1):
        if call in rule.expr.calls:
            return f"{ruleset.source}: rule {k} ({rule.class_name})"
    return ruleset.source


def resolve_thresholds(scene: xr.DataArray, ruleset: RuleSet, *, bins: int = BINS) -> RuleSet:
    """Compute every scene-wide threshold of a rule set and bind it into the rules.

    Parameters
    ----------
    scene
        ``(band, y, x)`` reflectance with a ``band`` coordinate of common names,
        holding every band the rules read.
    ruleset
        A rule set whose expressions may call :data:`METHODS` (``otsu(mndwi)``).
    bins
        Histogram bins between the quantity's bounds.

    Returns
    -------
    RuleSet
        ``ruleset`` itself when it has no call; else a copy whose calls are
        numbers and whose ``thresholds`` maps each call (``"otsu(mndwi)"``) to
        its value. Computes one histogram per distinct call, all in one pass
        over the scene (two for a quantity without known bounds). Memory: a few
        chunks and the histograms.

    Raises
    ------
    RuleError
        If a quantity has no finite value anywhere in the scene.
    """
    calls = tuple(dict.fromkeys(c for r in ruleset.rules for c in r.expr.calls))
    if not calls:
        return ruleset
    band_names = [str(b) for b in scene["band"].values]
    needed: set[str] = set()
    for call in calls:
        try:
            needed |= set(bands_needed(call.names, band_names).values())
        except BandError as exc:
            where = ", ".join(scene.attrs.get("sources", [])) or "scene"
            raise BandError(f"{where}: {exc}; {_rule_of(ruleset, call)} needs it") from None
    band_names = [b for b in band_names if b in needed]
    data = as_dask(scene.sel(band=band_names))
    values = {
        call: map_planes(data, quantity_block, np.float32, band_names=band_names, expr=call.args[0])
        for call in calls
    }
    unbounded = [c for c in calls if str(c.args[0]) not in _BOUNDED]
    limits = dict.fromkeys(calls, (-1.0, 1.0))
    if unbounded:
        found = dask.compute(*[(da.nanmin(values[c]), da.nanmax(values[c])) for c in unbounded])
        for call, (lo, hi) in zip(unbounded, found, strict=True):
            if not np.isfinite(lo):
                raise RuleError(f"{_rule_of(ruleset, call)}: {call} has no valid pixel")
            limits[call] = (float(lo), float(hi) if hi > lo else float(lo) + 1.0)
    edges = {c: bin_edges(*limits[c], bins) for c in calls}
    counts = dask.compute(*[histogram(values[c], edges[c]) for c in calls])
    bound: dict[Expr, float] = {}
    for call, hist in zip(calls, counts, strict=True):
        if hist.sum() == 0:
            raise RuleError(f"{_rule_of(ruleset, call)}: {call} has no valid pixel")
        bound[call] = METHODS[str(call.value)](hist, edges[call])
        log.debug("%s = %s from %d pixels", call, bound[call], hist.sum())
    rules = tuple(replace(r, expr=r.expr.bind(bound)) for r in ruleset.rules)
    return replace(
        ruleset,
        rules=rules,
        thresholds=tuple((str(c), v) for c, v in bound.items()),
    )


#: Prefix of the mask attributes (and GeoTIFF tags) that record thresholds.
ATTR_PREFIX = "THRESHOLD_"


def threshold_attrs(ruleset: RuleSet) -> Mapping[str, float]:
    """Mask attributes recording a rule set's bound thresholds: ``THRESHOLD_otsu(mndwi)``.

    Flat numbers, so the attributes survive any writer (GeoTIFF tags through
    :func:`~landmask.io.write.write_mask` or rioxarray, netCDF, Zarr).
    """
    return {f"{ATTR_PREFIX}{name}": value for name, value in ruleset.thresholds}


def thresholds_of(arr: xr.DataArray) -> dict[str, float]:
    """The thresholds recorded in a mask's attributes: ``{"otsu(mndwi)": 0.089, ...}``."""
    n = len(ATTR_PREFIX)
    return {k[n:]: float(v) for k, v in arr.attrs.items() if k.startswith(ATTR_PREFIX)}
