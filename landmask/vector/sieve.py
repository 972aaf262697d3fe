"""Minimum mapping unit: a sieve that merges small regions of a mask into their surroundings.

The rule, in one pass over the classified mask: every region (connected
pixels of one class, 4- or 8-connected) smaller than ``min_pixels`` takes
the class most common among the pixels that border it (edge neighbours, nodata
left out) and belong to regions of at least ``min_pixels``; if no such region
borders it, the class most common among all its bordering pixels; ties go to
the lower class id. A region bordered only by nodata keeps its class.
Nodata (255) is never changed and never spreads.

Because a region of fewer than ``min_pixels`` pixels cannot reach further
than ``min_pixels`` pixels, each chunk is sieved with an overlap of that
depth (:func:`dask.array.map_overlap`): every decision sees the whole small
region and its border, so the result has no seams and does not depend on the
chunk size. A region that reaches the edge of the overlapped block is at
least that large, so it is never taken for a small one.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
from scipy import ndimage

from landmask.classes import NODATA
from landmask.errors import ConfigError

__all__ = ["MAX_SIEVE_PIXELS", "sieve", "sieve_block"]

#: Largest minimum mapping unit (in pixels) the chunked sieve accepts: the
#: overlap between chunks grows with it.
MAX_SIEVE_PIXELS = 4096

_STRUCTURE = {
    4: ndimage.generate_binary_structure(2, 1),
    8: ndimage.generate_binary_structure(2, 2),
}


def _region_labels(block: np.ndarray, connectivity: int) -> np.ndarray:
    labels = np.zeros(block.shape, dtype=np.int64)
    offset = 0
    for value in np.unique(block).tolist():
        if value == NODATA:
            continue
        lab, n = ndimage.label(block == value, structure=_STRUCTURE[connectivity])
        hit = lab > 0
        labels[hit] = lab[hit] + offset
        offset += n
    return labels


def sieve_block(block: np.ndarray, min_pixels: int, connectivity: int) -> np.ndarray:
    """Block function: the sieve of the module docstring on one (overlapped) block."""
    labels = _region_labels(block, connectivity)
    sizes = np.bincount(labels.ravel())
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    large = sizes >= min_pixels
    large[np.unique(edge)] = True  # reaches the block's edge: at least that large
    large[0] = True  # not a region (nodata)
    if large.all():
        return block
    small_pixel = ~large[labels]
    keys = []
    for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
        own = labels
        other = np.roll(labels, shift, axis=axis)
        value = np.roll(block, shift, axis=axis)
        valid = small_pixel & (other != own) & (value != NODATA)
        cut = [slice(None), slice(None)]
        cut[axis] = slice(0, 1) if shift == 1 else slice(-1, None)
        valid[tuple(cut)] = False  # np.roll wraps around
        lab, val, big = own[valid], value[valid].astype(np.int64), large[other[valid]]
        keys.append(lab * 512 + big * 256 + val)
    if not keys or not sum(len(k) for k in keys):
        return block
    key = np.concatenate(keys)
    counts = np.bincount(key)
    present = np.flatnonzero(counts)
    lab, rest = np.divmod(present, 512)
    big, val = np.divmod(rest, 256)
    # per small region: prefer neighbours in large regions, then the most
    # frequent class, then the lower class id
    order = np.lexsort((val, -counts[present], -big, lab))
    lab, val = lab[order], val[order]
    first = np.r_[True, lab[1:] != lab[:-1]]
    table = np.full(len(sizes), -1, dtype=np.int64)
    table[lab[first]] = val[first]
    out = block.copy()
    change = small_pixel & (table[labels] >= 0)
    out[change] = table[labels[change]].astype(np.uint8)
    return out


def sieve(data: da.Array, min_pixels: int, connectivity: int = 4) -> da.Array:
    """Lazily sieve a ``(y, x)`` uint8 mask (see the module docstring)."""
    if min_pixels <= 1:
        return data
    if min_pixels > MAX_SIEVE_PIXELS:
        raise ConfigError(
            f"--min-area covers {min_pixels} pixels; the chunked sieve accepts at most "
            f"{MAX_SIEVE_PIXELS} (the overlap between chunks grows with it)"
        )
    depth = min_pixels
    for axis in (0, 1):
        if min(data.chunks[axis]) < depth and data.numblocks[axis] > 1:
            data = data.rechunk({axis: max(depth, max(data.chunks[axis]))})
    return data.map_overlap(
        sieve_block,
        depth=depth,
        boundary=NODATA,
        trim=True,
        dtype=np.uint8,
        meta=np.empty((0, 0), dtype=np.uint8),
        min_pixels=min_pixels,
        connectivity=connectivity,
    )
