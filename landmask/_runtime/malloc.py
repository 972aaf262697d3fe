"""glibc allocator tuning for processes that work chunk by chunk.

Every chunk allocates arrays of a few MB; by default glibc maps and unmaps each
one, and the page faults cost more than the arithmetic (see PERFORMANCE.md).
The command line and the vectorize worker processes call :func:`tune_malloc`
at start; a library never changes its host process's allocator.
"""

from __future__ import annotations

import sys

__all__ = ["tune_malloc"]


def tune_malloc() -> None:
    """Keep chunk-sized temporaries on glibc's heap instead of fresh mmaps (glibc only)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 * 2**20)
    libc.mallopt(m_trim_threshold, 512 * 2**20)
