"""Scene-wide statistics in rules: ``mndwi > otsu(mndwi)``, ``red - dark(red)``.

A call of a statistic (:data:`landmask.spectral.expressions.STATISTICS`) stands
for one number computed over the whole scene before any pixel is classified:

``otsu(x)``          Otsu's threshold of ``x``'s histogram (:func:`otsu`)
``percentile(x, P)`` the ``P``-th percentile of ``x``, ``0 <= P <= 100`` (:func:`percentile`)
``dark(x)``          ``percentile(x, 1)``: the dark object of dark-object subtraction
                     (:data:`DARK_PERCENTILE`)
``valley(x)``        the top of a separate cluster of ``x``'s darkest values (open water
                     in the near infrared), or ``x``'s minimum when its darkest values
                     are no cluster of their own (:func:`valley`)

1. each quantity (an index, a band or any numeric expression) is computed chunk
   by chunk and its finite values are counted into a histogram with **fixed
   bin edges** (:func:`histogram_block`); the chunks' counts are summed by a
   Dask reduction (:func:`histogram`), so the histogram, and the statistic,
   are the same for any chunk size and scheduler. Every histogram of a rule
   set comes from **one pass** over the scene (a quantity read by several
   statistics is computed once per chunk), or one pass per level where a
   statistic's argument holds statistics (``otsu(vis_s where ndvi_s > 0.15)``
   with ``vis_s`` a band stretched between its percentiles: the percentiles
   first). ``x where c`` counts only the pixels where ``c`` holds; with none, the
   statistic is NaN and comparisons with it match nothing (it voids no mask).
   A scene may come in parts (:func:`compute_statistics`: a region run's tiles,
   :mod:`landmask.batch.region_statistics`): their counts are added up, so the
   statistics are those of the whole;
2. the statistic is found on the histogram;
3. :func:`resolve_thresholds` (or, with values computed elsewhere,
   :func:`bind_statistics`) puts the numbers into the rules, and the map step
   (:func:`landmask.spectral.rules.classify_block`) sees only constants.

Bin edges: Otsu's threshold of a normalized-difference index (in [-1, 1])
uses :data:`BINS` equal bins over [-1, 1]; every other statistic uses the
fixed **float bins** (:func:`float_bin_edges`), which cover every magnitude
from 2**-30 to 2**40 on either side of zero with a relative width of 2**-10
(0.1%), so no pass is needed to find a quantity's range first. A percentile is
therefore within one bin width (0.1% of its value) of numpy's percentile of
the same pixels.

Bad input: a statistic with no valid pixel (an all-nodata or all-cloud scene, a
tile outside the swath) makes the mask all nodata (cloud where the scene's
quality band says cloud: :mod:`landmask.classification.quality`), with one
:class:`~landmask.errors.StatisticWarning`; so does nothing else. A statistic
outside its quantity's plausible range (:func:`implausible`) is bound as it
is, with a warning naming it and its value; so are two percentiles of one
quantity, far apart, with (almost) the same value (a saturated or dead band, an
undeclared fill), which a scene-adaptive stretch cannot use.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import dask
import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.errors import BandError, ConfigError, StatisticWarning
from landmask.io.statistic_tags import ATTR_PREFIX, describe_statistic, thresholds_of
from landmask.spectral.expressions import Expr
from landmask.spectral.indices import BlockLookup, bands_needed, map_planes
from landmask.spectral.rules import RuleSet

__all__ = [
    "ATTR_PREFIX",
    "BATCH_CHUNKS",
    "BINS",
    "DARK_PERCENTILE",
    "METHODS",
    "Part",
    "bin_edges",
    "bind_statistics",
    "compute_statistics",
    "describe_statistic",
    "float_bin_edges",
    "histogram",
    "histogram_block",
    "implausible",
    "otsu",
    "percentile",
    "quantity_block",
    "resolve_thresholds",
    "statistic_calls",
    "statistic_reach",
    "threshold_attrs",
    "thresholds_of",
    "valley",
    "warn_statistics",
]

log = logging.getLogger(__name__)


def threshold_attrs(ruleset: RuleSet) -> Mapping[str, float]:
    """Mask attributes recording a rule set's bound statistics: ``THRESHOLD_otsu(mndwi)``,
    ``THRESHOLD_percentile(red, 1)`` (NaN for a statistic with no valid pixel).

    Flat numbers, so the attributes survive any writer (GeoTIFF tags through
    :func:`~landmask.io.write.rasters.write_mask` or rioxarray, netCDF, Zarr).
    """
    return {f"{ATTR_PREFIX}{name}": value for name, value in ruleset.thresholds}


#: Number of histogram bins (a bin is 0.001 wide for an index in [-1, 1]).
BINS = 2000

#: Quantities known to lie in [-1, 1] (normalized differences of reflectance).
_BOUNDED = frozenset({"ndvi", "ndwi", "mndwi", "ndbi", "bsi", "nbr"})

#: Percentile of a band that ``dark(band)`` stands for: the scene's darkest 1%.
DARK_PERCENTILE = 1.0

#: Float bins: mantissa bits kept (relative bin width 2**-10) and the magnitudes
#: covered, 2**-30 (smaller is one bin around 0) to 2**40 (larger joins the last bin).
_MANTISSA_BITS = 10
_MIN_EXPONENT, _MAX_EXPONENT = -30, 40
_SHIFT = 23 - _MANTISSA_BITS
_KEY_LOW = (127 + _MIN_EXPONENT) << _MANTISSA_BITS
_SIDE = (_MAX_EXPONENT - _MIN_EXPONENT) << _MANTISSA_BITS  # bins on each side of zero


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


def percentile(counts: np.ndarray, edges: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) of the values a histogram counts.

    numpy's default (linear) definition: the value at rank ``(n - 1) * q / 100``
    of the sorted values, interpolated between the two nearest ranks. Each rank's
    value is placed within its bin by its order among the bin's values, so the
    result is within one bin width of numpy's percentile of the values.

    Raises
    ------
    ValueError
        If the histogram is empty.
    """
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.float64)
    total = int(counts.sum())
    if total <= 0:
        raise ValueError("empty histogram")
    cumulative = np.cumsum(counts)

    def value_at(rank: int) -> float:
        b = int(np.searchsorted(cumulative, rank, side="right"))
        within = rank - (cumulative[b] - counts[b])
        return float(edges[b] + (within + 0.5) / counts[b] * (edges[b + 1] - edges[b]))

    position = (total - 1) * float(q) / 100.0
    low = math.floor(position)
    v_low = value_at(low)
    if position == low:
        return v_low
    return v_low + (position - low) * (value_at(min(low + 1, total - 1)) - v_low)


def _dark(counts: np.ndarray, edges: np.ndarray) -> float:
    return percentile(counts, edges, DARK_PERCENTILE)


#: :func:`valley`'s window width, the highest the dark cluster's fullest window may
#: start and the highest its valley may lie, as fractions of the values' robust
#: range (1st to 99th percentile, the range of a stretched band).
VALLEY_WINDOW = 0.04
VALLEY_PEAK = 0.04
VALLEY_TOP = 0.5
#: How much fuller a mode's fullest window is than the valley beside it: at least
#: this many times, and by this many standard deviations of its count (Poisson),
#: so that the sparse dark tail of a few hundred samples is no cluster.
VALLEY_DEPTH = 3.0
VALLEY_SIGMAS = 4.0


def _apart(full: float, sparse: float) -> bool:
    """Whether a window of ``full`` values stands clearly above one of ``sparse``."""
    return (
        full > 0
        and full >= VALLEY_DEPTH * sparse
        and full - sparse >= VALLEY_SIGMAS * math.sqrt(full)
    )


def valley(counts: np.ndarray, edges: np.ndarray) -> float:
    """The top of a separate cluster of the darkest values, else the smallest value.

    Open water is the dark object of the near infrared and, unlike shadow, a
    cluster apart: few pixels lie between water and the darkest land. Windows
    :data:`VALLEY_WINDOW` of the robust range wide (1st to 99th percentile),
    stepped by half that, are counted upwards from the smallest value (at most
    one range below the 1st percentile). There is a dark cluster when the
    counts fall from a mode whose fullest window starts below
    :data:`VALLEY_PEAK` of the range to a valley below :data:`VALLEY_TOP` and
    rise again above it, each side outnumbering the valley :data:`VALLEY_DEPTH`
    times and by :data:`VALLEY_SIGMAS` standard deviations; the result is then
    the centre of the valley's emptiest stretch. In water-free scenes the dark
    tail (shadow, dark forest, asphalt) thins out smoothly into the land's first
    mode, and there is no valley. Values piled up in the lowest bin, more than
    in the window above it (a clipped dark end, a fill value not declared
    nodata), are left out of the search: a cluster has a spread.

    The counts are those of the values themselves, so the result moves with
    any gain and offset of the values, as a percentile does.

    Returns
    -------
    float
        The cut (values below it are the dark cluster), or the lower edge of
        the lowest non-empty bin when there is no dark cluster: a value that no
        value is below, so ``x < valley(x)`` holds nowhere.

    Raises
    ------
    ValueError
        If the histogram is empty.
    """
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.float64)
    total = int(counts.sum())
    if total <= 0:
        raise ValueError("empty histogram")
    first_bin = int(np.flatnonzero(counts)[0])
    lowest = float(edges[first_bin])
    low = percentile(counts, edges, 1.0)
    span = percentile(counts, edges, 99.0) - low
    if not span > 0:
        return lowest
    below = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])

    def count(start: np.ndarray | float, end: np.ndarray | float) -> np.ndarray:
        return np.interp(end, edges, below) - np.interp(start, edges, below)

    start = lowest
    floor = float(edges[first_bin + 1])
    if counts[first_bin] > count(floor, floor + VALLEY_WINDOW * span):
        # values piled up on one value at the bottom (a clipped dark end, a fill value
        # not declared nodata) are no cluster of their own: look above them
        start = floor
    starts = np.arange(max((start - low) / span, -1.0), 1.0, VALLEY_WINDOW / 2)
    full = count(low + starts * span, low + (starts + VALLEY_WINDOW) * span)
    peak, peak_at, first = 0.0, -math.inf, None
    for k in range(int(np.count_nonzero(starts < VALLEY_TOP))):
        if full[k] > peak:
            peak, peak_at = float(full[k]), float(starts[k])
        if peak_at > VALLEY_PEAK:
            return lowest  # the first mode is land's, not a dark object
        if _apart(peak, float(full[k])):
            first = k
            break
    if first is None:
        return lowest
    # follow the valley down to its emptiest windows until the counts rise again
    bottom, run = float(full[first]), [first]
    for k in range(first + 1, len(full)):
        if full[k] < bottom:
            bottom, run = float(full[k]), [k]
        elif full[k] == bottom:
            run.append(k)
        elif _apart(float(full[k]), bottom):
            middle = run[len(run) // 2]
            return float(low + (starts[middle] + VALLEY_WINDOW / 2) * span)
    return lowest  # the counts never rise again: the dark end of a single mode


#: Statistics by the function name used in rules: ``(counts, edges, *literals) -> value``.
METHODS: dict[str, Callable[..., float]] = {
    "otsu": otsu,
    "percentile": percentile,
    "dark": _dark,
    "valley": valley,
}


def quantity_block(block: np.ndarray, band_names: Sequence[str], expr: Expr) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(y, x)`` float32 values of ``expr``.

    Non-finite results (nodata, a zero denominator) are NaN.
    """
    with np.errstate(all="ignore"):
        values = np.asarray(expr.evaluate(BlockLookup(block, band_names)), dtype=np.float32)
    values = np.broadcast_to(values, block.shape[1:])
    return np.where(np.isfinite(values), values, np.float32(np.nan))


def histogram_block(block: np.ndarray, edges: np.ndarray | None = None) -> np.ndarray:
    """Block function: counts of a block's finite values in fixed bins, as ``(1, 1, bins)`` int64.

    ``edges`` None: the float bins (:func:`float_bin_edges`). Values outside
    the edges count in the first or last bin.
    """
    values = block[np.isfinite(block)]
    if edges is None:
        bins = 2 * _SIDE + 1
        index = _float_bin_index(values)
    else:
        bins = len(edges) - 1
        index = _linear_bin_index(values, edges)
    return np.bincount(index, minlength=bins).astype(np.int64, copy=False).reshape(1, 1, bins)


def _linear_bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each finite value among equal-width ``edges``: ``edges[b] <= v < edges[b+1]``.

    What ``np.searchsorted(edges, v, side="right") - 1`` gives, clamped to the
    bins, found by arithmetic and one correction each way for the rounding of
    the edges (3x faster than the binary search over 2000 edges).
    """
    bins = len(edges) - 1
    v = values.astype(np.float64)
    index = np.floor((v - edges[0]) * (bins / (edges[-1] - edges[0])))
    np.clip(index, 0, bins - 1, out=index)
    index = index.astype(np.intp)
    index -= (v < edges[index]) & (index > 0)
    index += (v >= edges[index + 1]) & (index < bins - 1)
    return index


def _float_bin_index(values: np.ndarray) -> np.ndarray:
    """The float bin of each finite value: its sign, exponent and top mantissa bits."""
    magnitude = np.abs(values.astype(np.float32, copy=False))
    key = (magnitude.view(np.uint32) >> np.uint32(_SHIFT)).astype(np.int64) - _KEY_LOW
    np.clip(key, 0, _SIDE - 1, out=key)
    index = np.where(values > 0, _SIDE + 1 + key, _SIDE - 1 - key)
    index[magnitude < np.float32(2.0**_MIN_EXPONENT)] = _SIDE  # the bin around zero
    return index


@functools.cache
def float_bin_edges() -> np.ndarray:
    """The edges of the float bins, from -2**40 to 2**40 (143,362 edges, float64).

    Positive bins run from one float32 with 10 mantissa bits to the next
    (``[1, 1 + 2**-10)``, ...), negative bins mirror them, and one bin holds
    ``[-2**-30, 2**-30)``: a bin is at most 0.1% of its values wide.
    """
    keys = (_KEY_LOW + np.arange(_SIDE + 1, dtype=np.int64)) << _SHIFT
    positive = keys.astype(np.uint32).view(np.float32).astype(np.float64)
    edges = np.concatenate([-positive[::-1], positive])
    edges.flags.writeable = False
    return edges


def histogram(values: da.Array, edges: np.ndarray | None = None) -> da.Array:
    """Lazy histogram of a 2-D array's finite values in fixed bins (a Dask reduction).

    Each chunk is counted on its own (:func:`histogram_block`; ``edges`` None:
    the float bins) and the integer counts are summed, so the result does not
    depend on the chunking. Memory: one chunk and the bins' counts per task
    (1.1 MB for the float bins).
    """
    bins = 2 * _SIDE + 1 if edges is None else len(edges) - 1
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


def _inner(call: Expr) -> tuple[Expr, ...]:
    """The statistics inside ``call``'s argument."""
    return tuple(c for a in call.args for c in a.all_calls)


#: A part of a scene whose statistics are counted: its ``(band, y, x)`` pixels and the
#: window ``(row_off, col_off, height, width)`` of them counted (None: all of them); the
#: pixels around the window are context, read by neighbourhood functions in a statistic's
#: argument (a region's tile composited with its neighbours' rims).
Part = tuple[xr.DataArray, tuple[int, int, int, int] | None]

#: Chunks whose histograms :func:`compute_statistics` asks Dask for at once: parts are
#: gathered until they hold this many, so a region of many tiles is one graph per batch.
BATCH_CHUNKS = 256


def statistic_calls(ruleset: RuleSet) -> tuple[Expr, ...]:
    """Every distinct scene-wide statistic of a rule set, inner ones first."""
    return tuple(dict.fromkeys(c for r in ruleset.rules for c in r.expr.all_calls))


def statistic_reach(ruleset: RuleSet) -> int:
    """Pixels of context a rule set's statistics read around a pixel (focal functions in
    their arguments, ``percentile(focal_std(nir, 2), 90)``: 2)."""
    return max((c.args[0].reach for c in statistic_calls(ruleset)), default=0)


def _part_data(
    scene: xr.DataArray, ruleset: RuleSet, calls: Sequence[Expr]
) -> tuple[da.Array, list[str]]:
    """The bands of ``scene`` that ``calls`` read, as Dask, and their names."""
    band_names = [str(b) for b in scene["band"].values]
    needed: set[str] = set()
    for call in calls:
        try:
            needed |= set(bands_needed(call.names, band_names).values())
        except BandError as exc:
            where = ", ".join(scene.attrs.get("sources", [])) or "scene"
            raise BandError(f"{where}: {exc}; {_rule_of(ruleset, call)} needs it") from None
    band_names = [b for b in band_names if b in needed]
    return as_dask(scene.sel(band=band_names)), band_names


def _one_pass(
    parts: Iterable[Part],
    ruleset: RuleSet,
    calls: Sequence[Expr],
    bound: Mapping[Expr, float],
    bins: int,
) -> dict[Expr, float]:
    """Each of ``calls`` computed in one pass over ``parts``, its inner statistics ``bound``.

    The parts' histograms are added up (integer counts: the same in any order), in
    batches of about :data:`BATCH_CHUNKS` chunks.
    """
    arguments = {c: c.args[0].bind(bound) for c in calls}
    quantities = tuple(dict.fromkeys(arguments.values()))
    linear = bin_edges(-1.0, 1.0, bins)
    wanted = list(dict.fromkeys((arguments[c], _linear(c)) for c in calls))
    counts: dict[tuple[Expr, bool], np.ndarray] = {}
    pending: list[list[da.Array]] = []  # per part, a histogram per wanted
    held = 0

    def flush() -> None:
        nonlocal pending, held
        # the parts' histograms added up in the graph, as they finish: one histogram per
        # wanted comes back from a batch, however many parts it holds
        sums = [da.stack([h[k] for h in pending]).sum(axis=0) for k in range(len(wanted))]
        for key, hist in zip(wanted, dask.compute(*sums), strict=True):
            counts[key] = hist if key not in counts else counts[key] + hist
        pending, held = [], 0

    for scene, window in parts:
        data, band_names = _part_data(scene, ruleset, calls)
        values = {}
        for q in quantities:
            plane = map_planes(
                data, quantity_block, np.float32, halo=q.reach, band_names=band_names, expr=q
            )
            if window is not None:
                r, c, h, w = window
                plane = plane[r : r + h, c : c + w]
            values[q] = plane
        pending.append([histogram(values[q], linear if lin else None) for q, lin in wanted])
        held += math.prod(data.numblocks[1:])
        if held >= BATCH_CHUNKS:
            flush()
    if pending:
        flush()
    out: dict[Expr, float] = {}
    for call in calls:
        lin = _linear(call)
        hist = counts.get((arguments[call], lin))
        if hist is None or hist.sum() == 0:
            out[call] = math.nan
            continue
        literals = [float(a.value or 0) for a in call.args[1:]]
        out[call] = METHODS[str(call.value)](hist, linear if lin else float_bin_edges(), *literals)
        log.debug("%s = %s from %d pixels", call, out[call], hist.sum())
    return out


def compute_statistics(
    ruleset: RuleSet, parts: Callable[[], Iterable[Part]], *, bins: int = BINS
) -> dict[Expr, float]:
    """Every scene-wide statistic of a rule set over all of ``parts``, as if one scene.

    Parameters
    ----------
    ruleset
        Its calls (:func:`statistic_calls`) are computed.
    parts
        Gives the parts of the scene (:data:`Part`), lazily, once per pass: a
        scene is one part; a region run's tiles are its parts, each
        composited on its grid grown by :func:`statistic_reach` with the tile
        its window. Histograms of the parts' windows are added up, so the
        statistics are those of the whole, whatever the parts and chunks.
    bins
        Histogram bins over [-1, 1] for Otsu's threshold of a normalized
        difference index.

    Returns
    -------
    dict
        Each call's value, NaN where no pixel counted. One pass over the parts
        per level of nesting (a statistic in another's argument is computed in
        the pass before). Memory: a few chunks and the histograms.
    """
    calls = statistic_calls(ruleset)
    bound: dict[Expr, float] = {}
    # statistics of statistics (otsu(x where ndvi_s > 0.15), ndvi_s itself a stretch
    # between percentiles): one pass per level, the inner ones bound first
    while len(bound) < len(calls):
        ready = [c for c in calls if c not in bound and all(i in bound for i in _inner(c))]
        bound.update(_one_pass(parts(), ruleset, ready, bound, bins))
    return {c: bound[c] for c in calls}


def _rule_of(ruleset: RuleSet, call: Expr) -> str:
    for k, rule in enumerate(ruleset.rules, start=1):
        if call in rule.expr.all_calls:
            return f"{ruleset.source}: rule {k} ({rule.class_name})"
    return ruleset.source


def resolve_thresholds(scene: xr.DataArray, ruleset: RuleSet, *, bins: int = BINS) -> RuleSet:
    """Compute every scene-wide statistic of a rule set and bind it into the rules.

    Parameters
    ----------
    scene
        ``(band, y, x)`` reflectance with a ``band`` coordinate of common names,
        holding every band the rules read.
    ruleset
        A rule set whose expressions may call :data:`METHODS` (``otsu(mndwi)``,
        ``percentile(red, 1)``, ``dark(red)``).
    bins
        Histogram bins over [-1, 1] for Otsu's threshold of a normalized
        difference index.

    Returns
    -------
    RuleSet
        ``ruleset`` itself when it has no call; else a copy whose calls are
        numbers and whose ``thresholds`` maps each call (``"otsu(mndwi)"``) to
        its value. One pass over the scene computes every histogram. A call
        with no valid pixel anywhere is bound to NaN, which makes the mask all
        nodata (:attr:`RuleSet.void`), with one
        :class:`~landmask.errors.StatisticWarning`. Memory: a few chunks and
        the histograms.
    """
    if not statistic_calls(ruleset):
        return ruleset
    bound = compute_statistics(ruleset, lambda: [(scene, None)], bins=bins)
    warn_statistics(ruleset, bound)
    return bind_statistics(ruleset, {ruleset.label(c): v for c, v in bound.items()})


def warn_statistics(ruleset: RuleSet, bound: Mapping[Expr, float], over: str = "scene") -> None:
    """The warnings a rule set's computed statistics call for, each once.

    A statistic outside its quantity's plausible range (:func:`implausible`), a
    quantity flat over the ``over`` (a scene, a region), statistics with no valid
    pixel (the mask is all nodata: :attr:`RuleSet.void`); a statistic over part of
    the ``over`` with no pixel there is logged, not warned.
    """
    for call, value in bound.items():
        note = implausible(call, value)
        if note:
            warnings.warn(f"{_rule_of(ruleset, call)}: {note}", StatisticWarning, stacklevel=3)
    note = _flat(bound)
    if note:
        warnings.warn(f"{ruleset.source}: {note}", StatisticWarning, stacklevel=3)
    # a statistic over part of the scene with no pixel in that part matches nothing;
    # only one with no valid pixel at all makes the mask nodata
    empty = [c for c in bound if math.isnan(bound[c]) and c.args[0].kind == "where"]
    for call in empty:  # expected (a tile with no vegetation): said, not warned
        log.info(
            "%s: %s has no pixel where its condition holds",
            _rule_of(ruleset, call),
            ruleset.label(call),
        )
    void = [c for c in bound if math.isnan(bound[c]) and c not in empty]
    if void:
        names = ", ".join(ruleset.label(c) for c in void)
        warnings.warn(
            f"{_rule_of(ruleset, void[0])}: {names} {'has' if len(void) == 1 else 'have'} no "
            f"valid pixel in the {over} (all nodata, all cloud or outside the swath): the mask "
            "is all nodata, or cloud where a quality band says so",
            StatisticWarning,
            stacklevel=3,
        )


def bind_statistics(ruleset: RuleSet, values: Mapping[str, float]) -> RuleSet:
    """A rule set with its statistics bound to ``values``, by label (``"otsu(mndwi)"``).

    The labels are those of :attr:`RuleSet.thresholds` (:meth:`RuleSet.label`):
    values computed elsewhere (a region's, over all of its tiles, or recorded by
    a run before) bind as computed ones do; NaN for a statistic with no pixel.

    Raises
    ------
    ConfigError
        A statistic of the rules without a value.
    """
    calls = statistic_calls(ruleset)
    if not calls:
        return ruleset
    bound: dict[Expr, float] = {}
    for call in calls:
        label = ruleset.label(call)
        if label not in values:
            raise ConfigError(f"{_rule_of(ruleset, call)}: no value given for {label}")
        bound[call] = float(values[label])
    rules = tuple(replace(r, expr=r.expr.bind(bound)) for r in ruleset.rules)
    return replace(
        ruleset,
        rules=rules,
        thresholds=tuple((ruleset.label(c), v) for c, v in bound.items()),
    )


def _linear(call: Expr) -> bool:
    """Whether a statistic uses the linear bins over [-1, 1]: Otsu of a normalized difference."""
    return call.value == "otsu" and str(call.args[0]) in _BOUNDED


#: Two percentiles of one quantity at least this many percent apart whose values
#: differ by at most FLAT_SPREAD of their size (four float bins) mark it as flat.
FLAT_PERCENTS = 50.0
FLAT_SPREAD = 2.0**-8


def _percent(call: Expr) -> float | None:
    if call.value == "dark":
        return DARK_PERCENTILE
    if call.value == "percentile":
        return float(call.args[1].value or 0)
    return None


def _flat(bound: Mapping[Expr, float]) -> str | None:
    """Why a quantity's percentiles say it is the same over the scene, or None.

    A band stretched between its 1st and 99th percentiles (the scene-adaptive
    rules) means nothing when they are equal: a saturated or dead band, a
    constant fill not declared nodata. The first such quantity is named.
    """
    by_quantity: dict[str, list[tuple[float, Expr, float]]] = {}
    for call, value in bound.items():
        percent = _percent(call)
        if percent is not None and math.isfinite(value):
            by_quantity.setdefault(str(call.args[0]), []).append((percent, call, value))
    for quantity, found in by_quantity.items():
        low, high = min(found, key=lambda f: f[0]), max(found, key=lambda f: f[0])
        if high[0] - low[0] < FLAT_PERCENTS:
            continue
        if abs(high[2] - low[2]) <= FLAT_SPREAD * max(abs(low[2]), abs(high[2])):
            return (
                f"{low[1]} = {low[2]:.4g} and {high[1]} = {high[2]:.4g}: {quantity} is the "
                "same over nearly the whole scene (a saturated or dead band, a constant fill "
                "not declared nodata); rules that compare it within the scene cannot tell "
                "its pixels apart"
            )
    return None


#: Plausible values of Otsu's split of an index (a vegetation split below 0
#: separates water from everything else; above 0.9 nothing from dense canopy).
_PLAUSIBLE_SPLIT = {"ndvi": (0.0, 0.9)}


def implausible(call: Expr, value: float) -> str | None:
    """Why a statistic's value is implausible for its quantity, or None.

    Otsu's split of NDVI outside [0, 0.9]; any statistic of a normalized
    difference index (:data:`_BOUNDED`) outside [-1, 1] (reflectance below 0
    or a wrong scale).
    """
    quantity = str(call.args[0])
    if math.isnan(value):
        return None
    if call.value == "otsu" and quantity in _PLAUSIBLE_SPLIT:
        low, high = _PLAUSIBLE_SPLIT[quantity]
        if not low <= value <= high:
            return (
                f"{call} = {value:.4f} is outside the plausible range of a split of {quantity} "
                f"[{low:g}, {high:g}]: the scene may lack one of the two classes, or its bands "
                "are not reflectance"
            )
    if quantity in _BOUNDED and not -1.0 <= value <= 1.0:
        return (
            f"{call} = {value:.4f} is outside [-1, 1], the range of a normalized difference: "
            "some reflectance is negative (check --scale/--offset)"
        )
    return None
