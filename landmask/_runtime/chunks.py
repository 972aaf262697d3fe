"""Chunking: the one way an in-memory array becomes a Dask array.

Every lazy stage (indices, classify, write, vectorize, evaluate, export,
apply, training) accepts numpy-backed input too; :func:`as_dask` turns it into
Dask with one chunking, so every stage sees the same chunks for the same
input: non-spatial leading dimensions (bands, classes) whole, the last two
(``y``, ``x``) in :data:`CHUNK_SIZE` pixel sides, rounded to whole file blocks
when the array records them (``encoding["preferred_chunks"]``, which
rioxarray sets on a raster it read without chunks). Results never depend on
the chunking; memory and speed do.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from landmask.errors import ConfigError

__all__ = ["CHUNK_SIZE", "SCENE_CHUNK_SIZE", "aligned_chunks", "as_dask", "check_chunk_size"]

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
    check_chunk_size(requested)
    if 1 < block < size:
        requested = max(block, round(requested / block) * block)
    step = min(requested, size)
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
        a DataArray's ``encoding["preferred_chunks"]`` names them.

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
    chunks = (-1,) * (data.ndim - 2) + tuple(
        aligned_chunks(n, size, block) if n else (0,)
        for n, block in zip(data.shape[-2:], blocks, strict=True)
    )
    return da.from_array(data, chunks=chunks)


def _file_blocks(arr: Any) -> tuple[int, int]:
    """The ``(y, x)`` block shape a DataArray read from a file records, else ``(1, 1)``."""
    preferred = getattr(arr, "encoding", {}).get("preferred_chunks") or {}
    dims = tuple(getattr(arr, "dims", ()))[-2:]
    if len(dims) != 2:
        return (1, 1)
    return (int(preferred.get(dims[0], 1)), int(preferred.get(dims[1], 1)))
