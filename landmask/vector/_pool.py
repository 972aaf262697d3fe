"""Where chunks are polygonized: a pool for the active Dask scheduler, a few chunks in flight.

Behind :mod:`landmask.vector.vectorize`, and the one place that decides where
polygons are made. Polygonizing holds the GIL, so with Dask's ``processes``
scheduler chunks go to a pool of worker processes kept for the whole run, with
``threads`` to a thread pool (or, inside :func:`gil_bound`, as in ``classify``
and ``run``, to worker processes), with ``synchronous`` nowhere and with a
``dask.distributed`` client to its workers (:func:`chunk_pool`).
:func:`polygonized` keeps a few chunks in flight and yields their results in
chunk order, so the output does not depend on the scheduler.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da
import numpy as np
import rasterio
import shapely

from landmask._runtime.malloc import release_free_memory
from landmask._runtime.pools import ProcessPool, cancelling, run_now
from landmask._runtime.schedulers import is_processes, local_get
from landmask.vector._polygonize import init_worker
from landmask.vector._stitch import balanced

# Imports: landmask's at the top; distributed is imported only when a cluster client is running (a
# heavy import).

__all__ = [
    "IN_PROCESS_PIXELS",
    "MERGE_SHARES",
    "Pool",
    "chunk_pool",
    "gil_bound",
    "merged",
    "polygonized",
    "stays_in_process",
]

#: Masks of at most this many pixels (4096²) are polygonized and sieved in the calling
#: process, also where chunks would go to worker processes (:func:`stays_in_process`).
#: Two idle CPUs, default ``--scheduler processes``: at 4096² in this process 2.46 s wall
#: and 3.06 CPU s against 2.70 s and 4.36 s with two workers (their imports, a chunk
#: each); at 8192² the workers 7.11 s and 12.50 CPU s against 8.75 s and 10.57 s here
#: (benchmarks/results/2026-12-08-vectorize-in-process-limit.md)
IN_PROCESS_PIXELS = 4096 * 4096

#: Border regions are merged in this many tasks of about equal work: a number
#: that does not depend on the scheduler, so neither does the order of the rows
MERGE_SHARES = 32

Pool = tuple[Callable[..., "Future[Any]"], int, str]

#: Whether the polygons made in this thread go to worker processes on local threads.
_GIL_BOUND = contextvars.ContextVar("landmask_polygons_gil_bound", default=False)


@contextlib.contextmanager
def gil_bound() -> Iterator[None]:
    """Polygonize in worker processes when the active scheduler is local threads.

    For a command whose other work runs best on threads (``classify``, ``run``):
    polygonizing holds the GIL, so threads would take turns. Set per thread
    (a :mod:`contextvars` variable, not Dask's global config), so the scenes a
    workflow runs side by side on threads decide the same way and independently.
    """
    token = _GIL_BOUND.set(True)
    try:
        yield
    finally:
        _GIL_BOUND.reset(token)


def polygonized(
    pool: Pool, data: da.Array, fn: Callable[..., Any], args: tuple[Any, ...]
) -> Iterator[tuple[tuple[int, int], Any]]:
    """``fn(block, row0, col0, inner, *args)`` for every chunk, yielded in chunk order.

    Up to twice as many chunks as the pool runs at once are in flight; with a
    local pool their blocks are computed here (threads) and sent over.
    """
    submit, workers, local = pool
    rows, cols = data.numblocks
    y_off = np.concatenate([[0], np.cumsum(data.chunks[0])])
    x_off = np.concatenate([[0], np.cumsum(data.chunks[1])])
    blocks = data.to_delayed()
    keys = [(i, j) for i in range(rows) for j in range(cols)]

    def task_args(i: int, j: int) -> tuple[Any, ...]:
        inner = (i > 0, i < rows - 1, j > 0, j < cols - 1)
        return (int(y_off[i]), int(x_off[j]), inner, *args)

    pending: deque[tuple[tuple[int, int], Future[Any]]] = deque()
    done = 0
    while done < len(keys) or pending:
        if len(pending) <= workers and done < len(keys):
            take = keys[done : done + 2 * workers - len(pending)]
            done += len(take)
            if local:  # read here, on this process's threads
                # each block is read once: GDAL's default cache (5% of RAM) would
                # only hold on to decoded blocks (a 10240² scene read on 2 threads: 1.3 GB and
                # 2.6-3.0 s with the default cache, 0.15 GB and 1.8 s with 64 MB)
                with rasterio.Env(GDAL_CACHEMAX=64):
                    read = dask.compute(
                        *[blocks[i, j] for i, j in take], scheduler=local_get(local)
                    )
                # what computing the blocks freed (a sieve's temporaries, on the
                # threads' own heaps) is of no use to polygonizing here
                release_free_memory()
            else:
                read = tuple(blocks[i, j] for i, j in take)
            for (i, j), block in zip(take, read, strict=True):
                pending.append(((i, j), submit(fn, block, *task_args(i, j))))
        key, future = pending.popleft()
        yield key, future.result()


def merged(
    pool: Pool,
    groups: list[tuple[int, list[shapely.Geometry]]],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
) -> Iterator[Any]:
    """``fn(share, *args)`` for each share of ``groups`` (:func:`balanced`), in share order."""
    submit, _, _ = pool
    futures = [submit(fn, share, *args) for share in balanced(groups, MERGE_SHARES)]
    for future in futures:
        yield future.result()


@contextlib.contextmanager
def chunk_pool(chunks: int, *, pixels: int | None = None) -> Iterator[Pool]:
    """``(submit, tasks at once, how blocks are read)`` for the active Dask scheduler.

    The third item is ``"threads"`` or ``"synchronous"`` when blocks are
    computed in this process before they are submitted, ``""`` when the
    workers compute them (``dask.distributed``). Worker processes cost about a
    second of CPU and 120 MB or more each to start, so a mask of ``chunks`` = 1
    chunk or of at most :data:`IN_PROCESS_PIXELS` ``pixels`` is polygonized
    here, one chunk at a time, and no more processes are started than there
    are chunks. On local threads inside :func:`gil_bound` the chunks go to
    worker processes too.
    """
    import dask.local
    import dask.system
    import dask.threaded

    get = dask.base.get_scheduler()
    # as Dask counts CPUs: the ones this process may use (affinity, cgroup quota)
    workers = int(dask.config.get("num_workers", None) or dask.system.CPU_COUNT or 1)
    if get is dask.local.get_sync:
        yield run_now, 1, "synchronous"
    elif (get is None or get is dask.threaded.get) and not _GIL_BOUND.get():
        with cancelling(ThreadPoolExecutor(workers)) as threads:
            yield threads.submit, workers, "threads"
    elif stays_in_process(chunks, pixels):
        # read here too: what computing the block frees (a sieve's temporaries) stays on
        # this thread's heap for the polygons, where a reader thread's heap would keep it
        yield run_now, 1, "synchronous"
    elif is_processes(get) and isinstance(_pool_of(get), ProcessPool):
        # ``--scheduler processes``: the command's pool, which a sieve's passes have used;
        # a second pool beside it held two more processes, each with its imports and heap
        procs = _pool_of(get)
        yield procs.submit, procs.workers, "threads"
    elif get is None or get is dask.threaded.get or is_processes(get):
        with cancelling(ProcessPool(min(workers, chunks), init_worker)) as procs:
            yield procs.submit, procs.workers, "threads"
    else:
        client = _client(get)
        if client is None:  # an unknown scheduler: one chunk at a time, through Dask
            yield _run_with_dask, 1, ""
        else:
            nthreads = max(1, sum(client.nthreads().values()))
            yield _submit_to(client), nthreads, ""


def stays_in_process(chunks: int, pixels: int | None = None) -> bool:
    """Whether a mask's chunk work stays in this process under the active scheduler.

    True on local threads or worker processes (not a cluster) for a mask of one
    chunk or of at most :data:`IN_PROCESS_PIXELS` ``pixels``: starting worker
    processes costs more than they save there. What :func:`chunk_pool` and the
    sieve's passes both follow.

    Parameters
    ----------
    chunks
        The mask's number of chunks.
    pixels
        The mask's number of pixels (None: unknown).

    Returns
    -------
    bool
    """
    import dask.threaded

    get = dask.base.get_scheduler()
    local = get is None or get is dask.threaded.get or is_processes(get)
    return local and (chunks == 1 or (pixels is not None and pixels <= IN_PROCESS_PIXELS))


def _pool_of(get: Any) -> Any:
    """The pool Dask's ``processes`` scheduler ``get`` computes on (None: its own)."""
    return getattr(get, "keywords", {}).get("pool")


def _run_with_dask(fn: Callable[..., Any], block: Any, *args: Any) -> Future[Any]:
    return run_now(lambda: dask.compute(dask.delayed(fn)(block, *args))[0])


def _client(get: Any) -> Any:
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return None
    return client if get == client.get else None


def _submit_to(client: Any) -> Callable[..., Future[Any]]:
    def submit(fn: Callable[..., Any], block: Any, *args: Any) -> Any:
        return client.compute(dask.delayed(fn)(block, *args))

    return submit
