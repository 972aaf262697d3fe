"""glibc allocator tuning for processes that work chunk by chunk.

Every chunk allocates arrays of a few MB; by default glibc maps and unmaps each
one, and the page faults cost more than the arithmetic (measured on this project's 2-CPU
machines: whole-array float32 temporaries of 420 MB cost 11x the arithmetic they carry).
The command line (every subcommand: ``landmask.cli.main``) and the worker
processes of ``--scheduler processes`` and of vectorize's pool call
:func:`tune_malloc` at start; a library never changes its host process's
allocator. The worker processes of ``local:N`` and of a cluster are
``distributed``'s and keep its settings (its nanny sets
``MALLOC_TRIM_THRESHOLD_`` to give freed memory back early).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

__all__ = ["release_free_memory", "share_one_heap", "tune_malloc"]


@functools.cache
def _libc() -> Any:
    """glibc, or None (another platform or C library)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - a C library without it (musl) is not glibc
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> None:
    """Give the free pages of every glibc heap back to the system (``malloc_trim``).

    :func:`tune_malloc` keeps freed memory on the heap for the next chunk's
    temporaries of the same sizes. Between stages whose allocations differ (a
    sieve's whole-chunk numpy temporaries, then a chunk's polygons as small
    GEOS and Python objects; memory freed in a reader thread's arena, then
    needed on the main thread), it is not reused and only adds to the peak:
    after such a stage, one call (a few ms) hands it back. A no-op off glibc.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def share_one_heap() -> None:
    """From now on, one glibc arena for every new thread (``landmask run``; glibc only).

    By default glibc gives each new thread an arena of its own (up to 8 per
    CPU), and memory freed in an arena is reused only by the threads of that
    arena: with :func:`tune_malloc`'s thresholds a process keeps, in the sum,
    the high-water mark of every thread that ever did chunk work. A region
    run's peak grew with the number of tiles until each pool thread, GDAL's
    writer threads and each tile thread had held a chunk's temporaries once (9
    arenas, 4 of them ~46 MB: 357 MB for 4 tiles, 448 MB for 16 and more); one
    arena holds the high-water mark of the process instead (348 and 351 MB, the
    same CPU). Not for every command: a classify of 10240² px took ~10% more
    CPU on one arena (its decoding threads allocate often). Called before the
    run starts its threads; see benchmarks/results/2026-12-08-region-memory.md.
    """
    libc = _libc()
    if libc is not None:
        m_arena_max = -8
        libc.mallopt(m_arena_max, 1)


def tune_malloc() -> None:
    """Keep chunk-sized temporaries on glibc's heap instead of fresh mmaps (glibc only)."""
    libc = _libc()
    if libc is None:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 * 2**20)
    libc.mallopt(m_trim_threshold, 512 * 2**20)
