"""The COG writer behind :mod:`landmask.io.write.rasters`: part files, overviews, one GDAL copy.

Each output is written in two steps beside its final path:

1. a tiled, uncompressed GeoTIFF (tiles written once each, under the lock, so
   they are appended in turn), created once with all its metadata, into which
   :func:`dask.array.store` writes every chunk (aligned to 512-px tiles) under a
   lock that matches the scheduler (threads, processes or ``dask.distributed``),
   so no chunk is ever held longer than it takes to write it;
2. a copy by GDAL's COG driver, which builds the internal overviews and
   compresses the tiles (DEFLATE, 512 px, one pass, all cores).

Only then is the result published on the output path, with its sidecars
(:func:`landmask.io.outputs.atomic_path`); on any failure the temporary files
are removed and an existing output is left untouched. Before anything is
written, outputs whose uncompressed part files would not fit the free disk are
refused (:func:`check_free_space`).

Nothing here touches process-wide state: no warning filters (every part file
has a geotransform, so rasterio has nothing to warn about, even for a grid in
pixel coordinates, whose geotransform is put back in the VRT), and the lock of
the ``processes`` scheduler comes from a manager started for one write and
shut down after it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import dask
import dask.array as da
import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from dask.core import flatten
from dask.highlevelgraph import HighLevelGraph
from dask.utils import SerializableLock
from rasterio.enums import ColorInterp
from rasterio.windows import Window

from landmask._runtime.pools import process_context
from landmask._runtime.schedulers import is_processes
from landmask._runtime.signals import signals_deferred
from landmask.classes import ClassScheme
from landmask.errors import WriteError
from landmask.io.companions import Output
from landmask.io.outputs import atomic_path, attach_sidecars, discard_temp, plan_outputs, temp_path
from landmask.io.stac.items import Lineage, attach_item
from landmask.io.write.gdal_metadata import embed_rat, reserve_rat
from landmask.io.write.overviews import overview_levels

# Imports: landmask's at the top; distributed is imported only when a cluster client is running (a
# heavy import).

__all__ = ["TILE", "CogJob", "check_free_space", "compute_once", "store_cogs", "tile_aligned"]

#: Tile size of written rasters (pixels a side).
TILE = 512


class _WindowWriter:
    """Target of :func:`dask.array.store`: writes a region into an existing GeoTIFF.

    Holds only a path, so it pickles to worker processes; each write opens the
    file in update mode, writes one window and closes it (under the store lock).
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        ys, xs = key[-2], key[-1]
        window = Window(xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start)
        with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(self.path, "r+") as ds:
            if value.ndim == 2:
                ds.write(value, 1, window=window)
            else:
                ds.write(value, window=window)


@contextlib.contextmanager
def _scheduler_locks() -> Iterator[Callable[[], Any]]:
    """A maker of locks that work on the active Dask scheduler, for one write.

    Threads share a :class:`~dask.utils.SerializableLock`; ``dask.distributed``
    workers a :class:`distributed.Lock`; the worker processes of the
    ``processes`` scheduler a lock served by a :class:`multiprocessing.Manager`,
    whose server process is started here and shut down when the write ends.
    """
    get = dask.base.get_scheduler()
    if "distributed" in sys.modules:  # no client can exist before it is imported
        from distributed import Lock as DistributedLock
        from distributed import get_client

        with contextlib.suppress(ValueError):
            client = get_client()
            if get == client.get:
                yield lambda: DistributedLock(f"landmask-write-{uuid.uuid4().hex}")
                return
    if is_processes(get):
        with signals_deferred():  # no server process half-started by a signal
            manager = process_context().Manager()
        with manager:
            yield manager.Lock
        return
    yield SerializableLock


def tile_aligned(data: da.Array) -> da.Array:
    """``(band, y, x)`` data rechunked to whole output tiles, all bands in one chunk.

    Neighbouring chunks are only regrouped, which task rechunking does best
    (and without importing ``dask.distributed`` to consider p2p).
    """
    chunks = {0: -1, 1: _aligned(data.chunks[1]), 2: _aligned(data.chunks[2])}
    return data.rechunk(chunks, method="tasks")


def _aligned(chunks: tuple[int, ...]) -> int:
    """A chunk length made of whole tiles, close to the array's current chunks."""
    c = max(chunks) if chunks else TILE
    return max(TILE, round(c / TILE) * TILE)


#: geotransforms rasterio warns about (NotGeoreferencedWarning) and GDAL may not store
_NOT_GEOREFERENCED = (Affine.identity(), Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
#: the geotransform of part files of a grid in pixel coordinates (not written out)
_PLACEHOLDER = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 1.0)


def _part_transform(profile: Mapping[str, Any], factor: float = 1.0) -> Affine:
    """The geotransform of a part file: the output's, scaled for an overview level.

    A grid in pixel coordinates gets a placeholder, so that neither creating
    nor updating the part file raises rasterio's NotGeoreferencedWarning; the
    VRT the COG is made from carries the output's own geotransform.
    """
    transform = profile.get("transform")
    if transform is None or transform in _NOT_GEOREFERENCED:
        transform = _PLACEHOLDER
    return transform @ Affine.scale(factor)


def _create_part(path: Path, width: int, height: int, profile: Mapping[str, Any]) -> None:
    """Create an empty tiled, uncompressed GeoTIFF that chunks are written into.

    Uncompressed: the chunks are written under the store lock, and ZSTD level 1
    there cost 4x the CPU of a plain write (0.95 vs 0.22 s for a 10240² mask)
    while the COG copy read it no faster. :func:`check_free_space` counts
    the parts' uncompressed size.
    """
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        tiled=True,
        blockxsize=TILE,
        blockysize=TILE,
        BIGTIFF="IF_SAFER",
        **profile,
    ):
        pass


def _vrt_with_overviews(
    part: Path, levels: Sequence[Path], vrt: Path, transform: Affine | None
) -> None:
    """A VRT of ``part`` that declares ``levels`` as its overviews, for the COG driver.

    Its geotransform is ``transform`` (the output's), none when that is None.
    """
    rasterio.shutil.copy(part, vrt, driver="VRT")
    tree = ElementTree.parse(vrt)
    root = tree.getroot()
    geo = root.find("GeoTransform")
    if geo is not None and transform is None:
        root.remove(geo)
    elif geo is not None and transform is not None:
        geo.text = ", ".join(repr(float(v)) for v in transform.to_gdal())
    for band in tree.getroot().iter("VRTRasterBand"):
        for level in levels:
            overview = ElementTree.SubElement(band, "Overview")
            source = ElementTree.SubElement(overview, "SourceFilename", relativeToVRT="0")
            source.text = str(level)
            ElementTree.SubElement(overview, "SourceBand").text = band.get("band", "1")
    tree.write(vrt)


@dataclass
class CogJob:
    """One COG output: its data, path and metadata (see :func:`store_cogs`)."""

    data: da.Array
    path: Path
    profile: Mapping[str, Any]
    categorical: bool
    colormap: Mapping[int, tuple[int, int, int, int]] | None = None
    tags: Mapping[str, str] | None = None
    descriptions: Sequence[str] | None = None
    scales: Sequence[float] | None = None
    offsets: Sequence[float] | None = None
    #: overview levels given instead of computed: the shapes of
    #: :func:`overview_levels` of :func:`tile_aligned` ``data`` (e.g. colours
    #: painted on the mode of class ids)
    levels: Sequence[da.Array] | None = None
    #: with ``levels=[]``, a GDAL resampling (``AVERAGE``) with which the COG
    #: driver builds the overviews itself, leaving nodata out
    gdal_overviews: str | None = None
    #: text files published with the raster (``.qml``, ``.aux.xml``): path -> text
    sidecars: Mapping[Path, str] | None = None
    #: band 1's raster attribute table (a ``GDALRasterAttributeTable`` element,
    #: :func:`landmask.io.write.styling.rat_xml`), kept inside the file's ``GDAL_METADATA``
    #: tag (:mod:`landmask.io.write.gdal_metadata`); None: none
    rat: str | None = None
    #: the lineage of its STAC item beside it (:mod:`landmask.io.stac.items`); None: no item
    item: Lineage | None = None
    #: the scheme of its class ids, for the item's ``classification:classes``
    scheme: ClassScheme | None = None
    #: replace a file that appeared at ``path`` (or its item) after the output was checked
    overwrite: bool = False
    #: colour interpretation of each band (``gray``, ``undefined``, ``red``, ``green``,
    #: ``blue``, ``alpha``, ``palette``: :func:`colour_interpretation`); None: gray,
    #: then undefined, so no band count is ever taken for colours
    colorinterp: Sequence[str] | None = None
    #: the kind of output (:data:`landmask.io.companions.KINDS`): decides its companions
    kind: str = "image"

    def output(self) -> Output:
        """The output with its companions (its STAC item when ``item`` is set)."""
        return Output(self.path, self.kind, stac=self.item is not None)


def _coarsened(level: da.Array, data: da.Array) -> da.Array:
    """An overview level in chunks as large as ``data``'s (tile-aligned).

    Halving shrinks chunks with the level (a 1024² chunk gives 32² pieces five
    levels down); storing pieces that small cost one file open each, 500 of
    them for a 10240² mask. Gathering them first makes ~20x fewer writes of
    arrays that are small anyway.
    """
    side = [max(data.chunks[axis]) for axis in (-2, -1)]
    if all(max(level.chunks[axis]) >= s for axis, s in zip((-2, -1), side, strict=True)):
        return level
    return level.rechunk({level.ndim - 2: side[0], level.ndim - 1: side[1]}, method="tasks")


@contextlib.contextmanager
def _staged(job: CogJob, lock: Any) -> Iterator[Any]:
    """Create the part files of ``job``; yield the lazy store into them; then make the COG.

    The full-resolution chunks and every overview level (:mod:`landmask.io.write.overviews`)
    are stored into uncompressed part files; on a clean exit GDAL's COG driver
    only compresses and lays out the tiles. Temporary files never outlive it.
    ``lock`` guards the part files' writes (:func:`_scheduler_locks`).
    """
    data = tile_aligned(job.data)
    profile = job.profile
    levels = job.levels
    if levels is None:
        levels = overview_levels(data, TILE, categorical=job.categorical, nodata=profile["nodata"])
    levels = [_coarsened(level, data) for level in levels]
    parts = [temp_path(job.path, f".part{k}.tif") for k in range(len(levels) + 1)]
    vrt = temp_path(job.path, ".vrt")
    with atomic_path(job.path, overwrite=job.overwrite) as final_tmp:
        try:
            level_profile = {k: profile[k] for k in ("count", "dtype", "nodata")}
            for part, level in zip(parts, [data, *levels], strict=True):
                full = part == parts[0]
                factor = data.shape[2] / level.shape[2]
                part_profile = {
                    **(profile if full else level_profile),
                    "transform": _part_transform(profile, factor),
                }
                _create_part(part, level.shape[2], level.shape[1], part_profile)
            with rasterio.open(parts[0], "r+") as ds:
                ds.colorinterp = [ColorInterp[c] for c in _interpretation(job, ds.count)]
                if job.colormap:
                    ds.write_colormap(1, job.colormap)
                if job.tags:
                    ds.update_tags(**job.tags)
                if job.rat:
                    ds.update_tags(1, **reserve_rat(job.rat))
                if job.descriptions:
                    ds.descriptions = tuple(job.descriptions)
                if job.scales:
                    ds.scales = tuple(job.scales)
                if job.offsets:
                    ds.offsets = tuple(job.offsets)
            targets: list[Any] = [_WindowWriter(str(p)) for p in parts]
            yield da.store([data, *levels], targets, lock=lock, compute=False)
            transform = profile.get("transform")
            _vrt_with_overviews(parts[0], parts[1:], vrt, transform)
            with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=64):
                rasterio.shutil.copy(
                    vrt,
                    final_tmp,
                    driver="COG",
                    COMPRESS="DEFLATE",
                    # level 3: 2.2x faster than the default 6 on masks, files 25% larger
                    LEVEL=3,
                    PREDICTOR="NO" if job.categorical else "YES",
                    BLOCKSIZE=TILE,
                    OVERVIEWS="FORCE_USE_EXISTING" if levels else _auto(job.gdal_overviews),
                    RESAMPLING=job.gdal_overviews or "NEAREST",
                    BIGTIFF="IF_SAFER",
                    NUM_THREADS="ALL_CPUS",
                )
            if job.rat:
                embed_rat(final_tmp, job.rat)
            attach_sidecars(final_tmp, job.sidecars or {})
            if job.item is not None:
                attach_item(
                    final_tmp,
                    job.path,
                    job.item,
                    scheme=job.scheme,
                    sidecars=list(job.sidecars or {}),
                )
        finally:
            for leftover in [*parts, vrt]:
                discard_temp(leftover)


def _interpretation(job: CogJob, count: int) -> list[str]:
    """The colour interpretation of each band of ``job`` (see :attr:`CogJob.colorinterp`)."""
    if job.colorinterp is not None:
        if len(job.colorinterp) != count:
            raise ValueError(f"{len(job.colorinterp)} colour interpretations for {count} bands")
        return list(job.colorinterp)
    if job.colormap:
        return ["palette", *["undefined"] * (count - 1)]
    return ["gray", *["undefined"] * (count - 1)]


def store_cogs(jobs: Sequence[CogJob], also: Sequence[Any] = ()) -> tuple[Any, ...]:
    """Write every job as a COG from one Dask graph; compute ``also`` alongside.

    Outputs that share inputs (a mask and its probabilities) are computed once.
    Each output appears only if all of them were written. Jobs with an
    ``item`` lineage get their STAC item published with them
    (:func:`landmask.io.stac.items.attach_item`); every output and its companions
    are planned (:func:`landmask.io.outputs.plan_outputs`) before any work.
    """
    for job in jobs:
        plan_outputs({"the output": job.output()}, overwrite=job.overwrite)
    check_free_space(jobs)
    with contextlib.ExitStack() as stack:
        lock = stack.enter_context(_scheduler_locks())
        stores = [stack.enter_context(_staged(job, lock())) for job in jobs]
        stored = [a for store in stores for a in (store if isinstance(store, tuple) else [store])]
        results = compute_once([*stored, *also])
    return tuple(results[len(stored) :])


def compute_once(arrays: Sequence[da.Array]) -> tuple[Any, ...]:
    """``dask.compute`` of Dask arrays whose graph is optimized once, as a whole.

    ``dask.compute`` optimizes each array on its own: its fusion then inlines a
    task that several arrays share (a chunk's classification, read by its
    store, its pixel count and every overview level) into each of them, so
    the chunk was classified up to 7 times and held until the last of them
    ran. Optimized together, a shared task is computed once. A read (a task
    of data alone) with one consumer is then made part of that consumer: Dask's
    threaded scheduler runs every ready task when a thread is free, so reads
    left on their own ran ahead of the work that frees them (100 MB of chunks
    of a 10240² scene waiting).
    """
    keys = [a.__dask_keys__() for a in arrays]
    flat = list(flatten(keys))
    graph = HighLevelGraph.merge(*(a.__dask_graph__() for a in arrays))
    optimized = _inline_reads(da.Array.__dask_optimize__(graph, flat), set(flat))
    again = [da.Array(optimized, a.name, a.chunks, meta=a._meta) for a in arrays]
    return tuple(dask.compute(*again, optimize_graph=False))


def _inline_reads(graph: Any, keep: set[Any]) -> dict[Any, Any]:
    """``graph`` with each task that depends on data alone and feeds one task inlined into it."""
    from dask._task_spec import DataNode, Task, convert_legacy_graph

    dsk = convert_legacy_graph(dict(graph))
    data = {k for k, node in dsk.items() if isinstance(node, DataNode)}
    users: dict[Any, list[Any]] = {}
    for k, node in dsk.items():
        for dep in node.dependencies:
            users.setdefault(dep, []).append(k)
    for k, node in list(dsk.items()):
        if k in keep or not isinstance(node, Task) or not node.dependencies <= data:
            continue
        (user, *more) = users.get(k) or [None]
        if user is None or more or not isinstance(dsk[user], Task):
            continue
        # the user depends on a task, so it is never inlined itself
        dsk[user] = dsk[user].substitute({k: node})
        del dsk[k]
    return dsk


def check_free_space(jobs: Sequence[CogJob]) -> None:
    """Refuse outputs whose part files, uncompressed, would not fit the free disk.

    Counts the full-resolution data and a third more for the overviews, per
    file system (the output folders').

    Raises
    ------
    WriteError
        One line naming the output, the space needed and the space free.
    """
    need: dict[int, tuple[int, Path]] = {}
    for job in jobs:
        device = os.stat(job.path.parent).st_dev
        size = int(job.data.nbytes * 4 / 3)
        total, _ = need.get(device, (0, job.path))
        need[device] = (total + size, job.path)
    for total, path in need.values():
        free = shutil.disk_usage(path.parent).free
        if total > free:
            raise WriteError(
                f"{path}: needs up to {total / 1e6:,.0f} MB of temporary files, "
                f"{free / 1e6:,.0f} MB free in {path.parent}"
            )


def _auto(resampling: str | None) -> str:
    return "AUTO" if resampling else "NONE"
