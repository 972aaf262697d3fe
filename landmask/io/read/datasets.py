"""Open datasets a run keeps: an input file opened about once a run, not once per read.

Tasks are given paths, never open datasets (those neither pickle nor may be
used by two threads at once). A read opens its file with
:func:`open_dataset`; outside :func:`kept_open` that is ``rasterio.open``
and the file is closed after the read. Inside :func:`kept_open` (a run, in the
process that runs it) a file read is put back, open, among the process's idle
datasets, keyed by absolute path and the file's identity (device, inode,
size, modification time: a file replaced on disk is opened anew), and the
next read of the file, by any thread, takes it up; a file read by two
threads at once is open twice. Every kept file is closed when the outermost
:func:`kept_open` ends, and the least recently read ones beyond
:data:`MAX_KEPT` before.

Opening a GeoTIFF costs about 1.3 ms of CPU (GDAL parses its header, rasterio
builds its CRS and a GDAL environment); a composite chunk reads every band
file of every date, so a 16-date region run of 2048² px in 512-px chunks
opened 1280 files for 80 distinct ones. A kept GeoTIFF holds about 0.5 MB
(GDAL's buffer of its last decoded tile).

Worker processes (``processes``, ``local:N``, a cluster) never enter
:func:`kept_open`: there each read opens and closes its file, as outside a
run. A forked child starts with no kept file and outside any
:func:`kept_open`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator

import rasterio
from rasterio.io import DatasetReader

__all__ = ["KEPT_PER_FILE", "MAX_KEPT", "kept_count", "kept_open", "open_dataset"]

#: Idle files kept open at most (the least recently read is closed first).
MAX_KEPT = 512

#: Idle datasets kept of one file at most: a file read by two threads at once is opened
#: twice, and the second closed after its read (each costs ~0.5 MB kept).
KEPT_PER_FILE = 1

_Key = tuple[str, int, int, int, int]


class _State:
    """The process's kept datasets: how many :func:`kept_open` are active, and the idle files."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.generation = 0  # a new one each time the outermost kept_open starts
        # idle datasets by file, least recently read first; a read takes one out and puts it back
        self.idle: OrderedDict[_Key, list[DatasetReader]] = OrderedDict()
        self.count = 0  # idle datasets


_STATE = _State()


def _reset_in_child() -> None:
    global _STATE
    _STATE = _State()  # a forked child closes nothing of its parent's and keeps nothing


os.register_at_fork(after_in_child=_reset_in_child)


@contextlib.contextmanager
def kept_open() -> Iterator[None]:
    """While inside, :func:`open_dataset` keeps the files it opens; all closed at the end.

    Nestable and usable from several threads at once: the files are closed
    when the last active :func:`kept_open` ends, also when it ends by an
    exception (an error, or the :class:`KeyboardInterrupt` a signal raises);
    a read still running then closes its file when it ends.

    Yields
    ------
    None
        Nothing: the files are kept while the block runs.
    """
    state = _STATE
    with state.lock:
        if state.depth == 0:
            state.generation += 1
        state.depth += 1
    try:
        yield
    finally:
        closing: list[DatasetReader] = []
        with state.lock:
            state.depth -= 1
            if state.depth == 0:
                for datasets in state.idle.values():
                    closing += datasets
                state.idle.clear()
                state.count = 0
        for ds in closing:
            ds.close()


def kept_count() -> int:
    """How many files are kept open, idle, now.

    Returns
    -------
    int
        The idle datasets of every active :func:`kept_open`; 0 outside a run.
    """
    with _STATE.lock:
        return _STATE.count


@contextlib.contextmanager
def open_dataset(path: str) -> Iterator[DatasetReader]:
    """``path`` open for reading, for one thread: inside :func:`kept_open` a kept dataset of the
    file (or one opened here and kept after), else opened here and closed on leaving.

    A dataset serves one read at a time (never two threads at once); another
    thread may take it up after. Call it inside a ``rasterio.Env`` (its options
    apply when a file is opened).

    Parameters
    ----------
    path : str
        A raster file (relative paths are made absolute for the key), or any
        other name ``rasterio.open`` takes (opened and closed per read).

    Yields
    ------
    rasterio.io.DatasetReader
        The open dataset, for this thread's read alone.

    Raises
    ------
    rasterio.errors.RasterioIOError
        As ``rasterio.open`` raises it.
    """
    state = _STATE
    key = _key(path) if state.depth else None
    if key is None:
        with rasterio.open(path) as ds:
            yield ds
        return
    with state.lock:
        generation = state.generation
        free = state.idle.get(key)
        ds = free.pop() if free else None
        if ds is not None:
            state.count -= 1
    if ds is None:
        ds = rasterio.open(key[0])
    try:
        yield ds
    except BaseException:
        ds.close()  # a failed read leaves no dataset in doubt behind
        raise
    closing = [ds]
    with state.lock:
        free = (
            state.idle.setdefault(key, [])
            if state.depth and state.generation == generation
            else None
        )
        if free is not None and len(free) < KEPT_PER_FILE:
            free.append(ds)
            state.idle.move_to_end(key)
            state.count += 1
            closing = []
            while state.count > MAX_KEPT:
                oldest = next(iter(state.idle))
                gone = state.idle.pop(oldest)
                closing += gone
                state.count -= len(gone)
    for old in closing:
        old.close()


def _key(path: str) -> _Key | None:
    """The absolute path and the identity of the file (device, inode, size, modification time);
    None when it is not a local file (rasterio then opens it, or says why not)."""
    full = os.path.abspath(path)
    try:
        st = os.stat(full)
    except OSError:
        return None
    return (full, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
