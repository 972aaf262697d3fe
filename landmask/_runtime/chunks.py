"""Chunking: the one way an in-memory array becomes a Dask array.

Every lazy stage (indices, classify, write, vectorize, evaluate, export,
apply, training) accepts numpy-backed input too; :func:`as_dask` turns it into
Dask with one chunking, so every stage sees the same chunks for the same
input: non-spatial leading dimensions (bands, classes) whole, the last two
(``y``, ``x``) in :data:`CHUNK_SIZE` pixel sides, rounded to whole file blocks
when the array records them (``encoding["preferred_chunks"]``, which
rioxarray sets on a raster it read without chunks). :func:`spatial_chunks`
decides those ``(y, x)`` chunks for every reader and stage: a raster thinner
than a chunk side (one pixel high, say) gets chunks that hold up to a chunk
side squared pixels, not dozens of slivers that each pay a task, a sieve pass
and a stitch. Results never depend on the chunking; memory and speed do.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from landmask.errors import ConfigError

__all__ = [
    "CHUNK_SIZE",
    "SCENE_CHUNK_SIZE",
    "aligned_chunks",
    "as_dask",
    "check_chunk_size",
    "spatial_chunks",
]

#: Chunk side (pixels) of masks and in-memory arrays made lazy, before alignment to
#: file blocks: a uint8 chunk of 2048² px is 4 MB.
CHUNK_SIZE = 2048

#: Chunk side (pixels) of multi-band scenes and images read from files: a float32
#: chunk of 1024² px is 4 MB a band, so a 6-band chunk and its indices stay small.
SCENE_CHUNK_SIZE = 1024


def check_chunk_size(size: int) -> int:
    """``size`` if it is a chunk side (a positive number of pixels): the one check of it.

    Raises :class:`~landmask.errors.ConfigError` naming ``--chunk-size`` otherwise.
    """
    if size <= 0:
        raise ConfigError(f"--chunk-size {size}: must be a positive number of pixels")
    return size


def aligned_chunks(size: int, requested: int, block: int) -> tuple[int, ...]:
    """Chunk lengths along one axis: ``requested`` rounded to whole blocks.

    A block as long as the axis (a striped file's width) imposes no alignment.
    """
    return _split(size, _aligned_step(size, requested, block))


def spatial_chunks(
    shape: tuple[int, int], size: int, blocks: tuple[int, int] = (1, 1)
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(y, x)`` chunk lengths of a raster of ``shape``: the one place they are decided.

    Each axis is cut in ``size`` px rounded to whole ``blocks``
    (:func:`aligned_chunks`). When one axis is a single chunk shorter than
    that (a raster one pixel high), the other axis's chunks are merged, a
    whole number of them at a time, so that a chunk holds up to ``size``²
    pixels: a 1 x 102,400 mask is one chunk, not fifty 1 x 2048 ones. The
    chunk boundaries stay on block boundaries, and no chunk holds more pixels
    than one of ``size``² px (as rounded to blocks) would.

    Raises :class:`~landmask.errors.ConfigError` for a ``size`` that is not positive.
    """
    check_chunk_size(size)
    steps = [_aligned_step(n, size, b) for n, b in zip(shape, blocks, strict=True)]
    for axis in (0, 1):
        other = 1 - axis
        thin, long = shape[axis], shape[other]
        if 0 < thin <= steps[axis] and long > steps[other]:
            merge = max(1, (size * size) // (thin * steps[other]))
            steps[other] = min(long, steps[other] * merge)
            break
    return _split(shape[0], steps[0]), _split(shape[1], steps[1])


def _aligned_step(size: int, requested: int, block: int) -> int:
    """The chunk length along an axis of ``size`` px: ``requested`` rounded to whole blocks."""
    check_chunk_size(requested)
    if 1 < block < size:
        requested = max(block, round(requested / block) * block)
    return max(1, min(requested, size))


def _split(size: int, step: int) -> tuple[int, ...]:
    """``size`` px in chunks of ``step``, the last one shorter; ``(0,)`` for an empty axis."""
    if size == 0:
        return (0,)
    full, rest = divmod(size, step)
    return (step,) * full + ((rest,) if rest else ())


def as_dask(arr: Any, chunk_size: int | None = None) -> da.Array:
    """The data of ``arr`` as a Dask array; a Dask-backed input is returned as it is.

    Parameters
    ----------
    arr
        A DataArray (its ``.data``), a Dask array, or anything numpy can take.
    chunk_size
        Side of the ``(y, x)`` chunks, default :data:`CHUNK_SIZE`; leading
        dimensions are one chunk. Sides are rounded to whole file blocks when
        a DataArray's ``encoding["preferred_chunks"]`` names them; a thin
        array's chunks are longer (:func:`spatial_chunks`).

    Returns
    -------
    dask.array.Array
        No copy: the chunks are views of the in-memory array.
    """
    data = getattr(arr, "data", arr) if hasattr(arr, "dims") else arr
    if isinstance(data, da.Array):
        return data
    data = np.asarray(data)
    if data.ndim < 2:
        return da.from_array(data, chunks=-1)
    size = CHUNK_SIZE if chunk_size is None else chunk_size
    blocks = _file_blocks(arr)
    height, width = data.shape[-2:]
    chunks = (-1,) * (data.ndim - 2) + spatial_chunks((height, width), size, blocks)
    return da.from_array(data, chunks=chunks)


def _file_blocks(arr: Any) -> tuple[int, int]:
    """The ``(y, x)`` block shape a DataArray read from a file records, else ``(1, 1)``."""
    preferred = getattr(arr, "encoding", {}).get("preferred_chunks") or {}
    dims = tuple(getattr(arr, "dims", ()))[-2:]
    if len(dims) != 2:
        return (1, 1)
    return (int(preferred.get(dims[0], 1)), int(preferred.get(dims[1], 1)))
