"""Zonal statistics of masks: exact class areas per zone, chunk by chunk.

``zonal_stats(mask, zones)`` gives, for every zone (polygon) and class, the
area of the mask's pixels of that class inside the zone, each pixel weighted
by the fraction of its area the zone covers (exact coverage fractions from
the zones' boundaries, :mod:`landmask.analysis._coverage`), so the areas are
exact rather than counts of pixel centres.

How it runs: the zones are reprojected onto the mask's CRS and taken apart
once into their rings' edges in pixel space
(:func:`~landmask.analysis._coverage.zone_edges`); one bulk query of a
spatial index (:class:`shapely.STRtree`) of their bounds finds the zones over
every chunk of the mask; one task per chunk computes the coverage-weighted
sums of those zones over that chunk from their edges, and the partial sums
are added per zone. Memory is zones x classes plus the chunks in flight,
never the raster. Coverage of a pixel depends on the pixel and the zone only,
so the result is the same for any chunk size and scheduler (to float
rounding).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dask
import dask.array as da
import numpy as np
import shapely
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.analysis._coverage import ZoneEdges, block_areas, zone_edges
from landmask.analysis._zone_crs import zones_on_grid
from landmask.classes import CLOUD, NODATA, ClassScheme, get_scheme
from landmask.errors import ConfigError, GridError, InputError, ZoneWarning
from landmask.grid import Grid
from landmask.io.read.labels import read_features
from landmask.io.read.masks import open_mask
from landmask.io.read.schemes import scheme_of

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["ZONE_ROW", "zonal_stats"]

#: Name of the key column when no column of the zones is unique: the row number.
ZONE_ROW = "zone"

#: How many zone keys a note names before it says "..."
_NAMED = 5


@dataclass(frozen=True)
class _Columns:
    """The result's columns: class names and the LUT from class id to accumulator column."""

    names: tuple[str, ...]  # selected classes, in scheme order
    index: tuple[int, ...]  # their accumulator columns
    lut: np.ndarray  # 256: class id -> accumulator column
    ncols: int  # classes of the scheme + cloud + nodata + unknown values

    @property
    def cloud(self) -> int:
        return self.ncols - 3

    @property
    def nodata(self) -> int:
        return self.ncols - 2

    @property
    def unknown(self) -> int:
        return self.ncols - 1


def zonal_stats(
    mask: str | os.PathLike[str] | xr.DataArray,
    zones: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    zone_column: str | None = None,
    classes: Sequence[str | int] | None = None,
    scheme: ClassScheme | str | None = None,
    chunk_size: int | None = None,
    zones_layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Exact area of each class of ``mask`` inside each zone, computed chunk by chunk.

    Parameters
    ----------
    mask
        A mask file or a ``(y, x)`` uint8 DataArray with rioxarray
        georeferencing (lazy or not).
    zones
        Polygons (a vector file in any format, or a GeoDataFrame) in any CRS;
        reprojected onto the mask's.
    zone_column
        The column that names the zones (its values must be unique). Default:
        the first column whose values are unique, else the row number (a
        column ``zone``).
    zones_layer
        The layer of ``zones`` to read; default the only layer with geometry
        (a GeoPackage's ``layer_styles`` table is passed over).
    classes
        Classes to report (names or ids of the scheme); default all but cloud
        and nodata, which are always reported.
    scheme
        The mask's class scheme; default the one the mask records.
    chunk_size
        Chunk side in pixels for a mask file (default 2048, whole tiles) or a
        mask array held in memory; a lazy array keeps its chunks.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone, in the zones' order, with the zones' attributes and
        geometry (in their own CRS), the key column first, then for each
        class ``<class>_m2`` (area in m², pixels weighted by the share of
        their area inside the zone; on the ellipsoid for a geographic mask),
        ``cloud_m2``, ``nodata_m2`` (nodata and any value that is no class of
        the scheme), ``inside_m2`` (the zone's area inside the raster, all
        values) and ``<class>_fraction`` (``<class>_m2 / inside_m2``). Zones
        outside the raster and zones without a polygonal geometry get zeros;
        invalid geometries are repaired (:func:`shapely.make_valid`). Each of
        these is reported by a :class:`~landmask.errors.ZoneWarning` and in
        ``frame.attrs["notes"]``.

    Raises
    ------
    InputError
        A raster that is not a mask, unreadable zones, a missing or not unique
        ``zone_column``, an unknown class, no zone overlapping the mask, a mask
        or zones without a CRS.
    """
    arr, mask_name = _open_mask(mask, chunk_size)
    scheme = get_scheme(scheme) if scheme is not None else scheme_of(mask)
    columns = _columns(scheme, classes)
    frame, zones_name = read_features(
        zones, what="zones", layer=zones_layer, layer_option="--zones-layer"
    )
    key = _key_column(frame, zone_column, zones_name)
    keys = frame[key].to_numpy() if key in frame.columns else np.arange(len(frame))
    notes: list[str] = []
    geoms = _polygonal(frame, keys, zones_name, notes)
    if all(g is None for g in geoms):
        raise InputError(f"{zones_name}: no zone has a polygon geometry")

    crs = arr.rio.crs
    if crs is None:
        raise GridError(f"{mask_name}: the mask has no CRS")
    transform = arr.rio.transform()
    grid = Grid(crs, transform, arr.shape[-1], arr.shape[0])
    drawn = ~shapely.is_missing(geoms)  # zones with a polygon, before any is cut away
    geoms = zones_on_grid(geoms, frame.crs, grid, keys, zones_name)
    row_areas = grid.row_areas()
    meets = _meeting(geoms, grid, mask_name)
    edges = zone_edges(geoms, transform)

    sums = _accumulate(_dask_data(arr, chunk_size), edges, meets, columns, row_areas)
    inside = sums.sum(axis=1)
    outside = drawn & (inside == 0)
    if outside.any():
        notes.append(
            f"{int(outside.sum())} of {len(frame)} zones lie outside the mask and have zero "
            f"areas{_naming(keys[outside])}"
        )
    unknown = sums[:, columns.unknown].sum()
    if unknown > 0:
        notes.append(
            f"{unknown:,.1f} m² of values that are no class of scheme {scheme.name!r} "
            "were counted as nodata"
        )
    for note in notes:
        warnings.warn(note, ZoneWarning, stacklevel=2)
    return _result(frame, key, keys, sums, inside, columns, notes)


def _open_mask(mask: Any, chunk_size: int | None) -> tuple[xr.DataArray, str]:
    """The mask as a ``(y, x)`` uint8 DataArray, and a name for messages."""
    if isinstance(mask, str | os.PathLike):
        return open_mask(mask, chunk_size), os.fspath(mask)
    if not isinstance(mask, xr.DataArray) or mask.ndim != 2 or mask.dtype != np.uint8:
        what = f"{mask.ndim}-D {mask.dtype}" if isinstance(mask, xr.DataArray) else type(mask)
        raise InputError(f"<mask>: not a mask (expected a 2-D uint8 DataArray, got {what})")
    return mask, "<mask>"


def _dask_data(arr: xr.DataArray, chunk_size: int | None) -> da.Array:
    data = arr.data
    if isinstance(data, da.Array):
        return data if chunk_size is None else data.rechunk(chunk_size)
    return as_dask(arr, chunk_size)


def _columns(scheme: ClassScheme, classes: Sequence[str | int] | None) -> _Columns:
    """Accumulator columns: every class of the scheme, cloud, nodata, unknown values."""
    kept = [c for c in scheme if c.id not in (CLOUD, NODATA)]
    ncols = len(kept) + 3
    lut = np.full(256, ncols - 1, dtype=np.int32)  # unknown values
    for i, c in enumerate(kept):
        lut[c.id] = i
    lut[CLOUD], lut[NODATA] = ncols - 3, ncols - 2
    picked = list(range(len(kept)))
    if classes is not None:
        picked = []
        for item in classes:
            text = str(item).strip()
            ids = [i for i, c in enumerate(kept) if c.name == text or str(c.id) == text]
            if not ids:
                known = ", ".join(c.name for c in kept)
                raise ConfigError(
                    f"--classes: no class {text!r} in scheme {scheme.name!r} "
                    f"(known: {known}; cloud and nodata are always reported)"
                )
            picked.extend(i for i in ids if i not in picked)
        picked.sort()
    return _Columns(tuple(kept[i].name for i in picked), tuple(picked), lut, ncols)


def _key_column(frame: gpd.GeoDataFrame, zone_column: str | None, name: str) -> str:
    """The key column: the one named (which must be unique), else the first unique one."""
    attributes = [c for c in frame.columns if c != frame.geometry.name]
    if zone_column is not None:
        if zone_column not in frame.columns or zone_column == frame.geometry.name:
            cols = ", ".join(map(str, attributes)) or "none"
            raise InputError(f"{name}: no column {zone_column!r} (columns: {cols})")
        values = frame[zone_column]
        if values.isna().any() or not values.is_unique:
            dup = values[values.duplicated() | values.isna()].iloc[0]
            raise InputError(
                f"{name}: column {zone_column!r} does not name the zones uniquely "
                f"({dup} is missing or repeated)"
            )
        return zone_column
    for col in attributes:
        values = frame[col]
        if not values.isna().any() and values.is_unique:
            return str(col)
    return ZONE_ROW if ZONE_ROW not in frame.columns else f"{ZONE_ROW}_row"


def _polygonal(
    frame: gpd.GeoDataFrame, keys: np.ndarray, name: str, notes: list[str]
) -> np.ndarray:
    """The zones' geometries, polygonal parts only; invalid ones repaired, others None."""
    geoms = np.array(frame.geometry.to_numpy(), dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        notes.append(
            f"{name}: {int(invalid.sum())} invalid zone geometries were repaired "
            f"(shapely.make_valid){_naming(keys[invalid])}"
        )
    kinds = shapely.get_type_id(geoms)
    polygons = np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    mixed = ~missing & ~polygons
    for i in np.flatnonzero(mixed):
        parts = shapely.get_parts(geoms[i])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        geoms[i] = shapely.union_all(parts) if len(parts) else None
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        notes.append(
            f"{name}: {int(empty.sum())} zones have no polygon (empty, missing or not "
            f"polygonal geometry) and zero areas{_naming(keys[empty])}"
        )
        geoms[empty] = None
    return geoms


def _naming(keys: np.ndarray) -> str:
    shown = ", ".join(map(str, keys[:_NAMED].tolist()))
    return f": {shown}{', ...' if len(keys) > _NAMED else ''}"


def _meeting(geoms: np.ndarray, grid: Grid, mask_name: str) -> np.ndarray:
    """Indices of the zones that meet the raster (its outline, in its CRS)."""
    corners = np.array([(0, 0), (grid.width, 0), (grid.width, grid.height), (0, grid.height)])
    t = grid.transform
    outline = shapely.Polygon(
        np.column_stack(
            [
                t.a * corners[:, 0] + t.b * corners[:, 1] + t.c,
                t.d * corners[:, 0] + t.e * corners[:, 1] + t.f,
            ]
        )
    )
    shapely.prepare(outline)
    present = ~shapely.is_missing(geoms)
    meets = np.flatnonzero(present)[shapely.intersects(outline, geoms[present])]
    if not len(meets):
        raise InputError(f"{mask_name}: no zone overlaps the mask")
    return meets


def _accumulate(
    data: da.Array,
    edges: ZoneEdges,
    meets: np.ndarray,
    columns: _Columns,
    row_areas: np.ndarray,
) -> np.ndarray:
    """``(zones, ncols)`` coverage-weighted areas: one task per chunk, partial sums added.

    The zones over each chunk are those of ``meets`` whose bounds overlap it
    (one bulk query of a spatial index of their bounds); a zone whose bounds
    overlap a chunk it does not meet adds zeros.
    """
    row_edges = np.cumsum((0, *data.chunks[0]))
    col_edges = np.cumsum((0, *data.chunks[1]))
    chunk_rows, chunk_cols = np.meshgrid(
        np.arange(len(row_edges) - 1), np.arange(len(col_edges) - 1), indexing="ij"
    )
    rows, cols = chunk_rows.ravel(), chunk_cols.ravel()
    zb = edges.bounds[meets]
    tree = shapely.STRtree(shapely.box(zb[:, 0], zb[:, 1], zb[:, 2], zb[:, 3]))
    chunk_boxes = shapely.box(
        col_edges[cols], row_edges[rows], col_edges[cols + 1], row_edges[rows + 1]
    )
    chunk_of, found = tree.query(chunk_boxes)
    # overlapping, not touching: a zone's bounds on a chunk's edge add nothing there
    zb = zb[found]
    c0, c1 = col_edges[cols[chunk_of]], col_edges[cols[chunk_of] + 1]
    r0, r1 = row_edges[rows[chunk_of]], row_edges[rows[chunk_of] + 1]
    keep = (zb[:, 0] < c1) & (zb[:, 2] > c0) & (zb[:, 1] < r1) & (zb[:, 3] > r0)
    chunk_of, found = chunk_of[keep], meets[found[keep]]
    order = np.lexsort((found, chunk_of))
    chunk_of, found = chunk_of[order], found[order]
    starts = np.flatnonzero(np.diff(chunk_of, prepend=-1))  # each chunk's first zone
    ends = np.r_[starts[1:], len(found)]
    blocks = data.to_delayed()
    hits, tasks = [], []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        k = int(chunk_of[start])
        i, j = int(rows[k]), int(cols[k])
        r0, c0 = int(row_edges[i]), int(col_edges[j])
        zones = found[start:end]
        hits.append(zones)
        tasks.append(
            dask.delayed(block_areas, pure=False)(
                blocks[i, j],
                r0,
                c0,
                edges.subset(zones),
                columns.lut,
                columns.ncols,
                row_areas[r0 : int(row_edges[i + 1])],
            )
        )
    sums = np.zeros((edges.zones, columns.ncols))
    for zones, part in zip(hits, dask.compute(*tasks), strict=True):
        sums[zones] += part
    return sums


def _result(
    frame: gpd.GeoDataFrame,
    key: str,
    keys: np.ndarray,
    sums: np.ndarray,
    inside: np.ndarray,
    columns: _Columns,
    notes: list[str],
) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    stats: dict[str, np.ndarray] = {}
    for name, col in zip(columns.names, columns.index, strict=True):
        stats[f"{name}_m2"] = sums[:, col]
    stats["cloud_m2"] = sums[:, columns.cloud]
    stats["nodata_m2"] = sums[:, columns.nodata] + sums[:, columns.unknown]
    stats["inside_m2"] = inside
    share = np.divide(1.0, inside, out=np.zeros_like(inside), where=inside > 0)
    for name, col in zip(columns.names, columns.index, strict=True):
        stats[f"{name}_fraction"] = sums[:, col] * share
    geometry = frame.geometry.name
    if key in stats:
        raise ConfigError(
            f"zone column {key!r} is named like a statistic landmask writes; "
            "pick another with --zone-column (or rename it)"
        )
    attributes = [c for c in frame.columns if c not in (key, geometry) and c not in stats]
    table = pd.DataFrame({key: keys}, index=frame.index)
    table = pd.concat([table, frame[attributes], pd.DataFrame(stats, index=frame.index)], axis=1)
    table[geometry] = frame.geometry
    out = gpd.GeoDataFrame(table, geometry=geometry, crs=frame.crs).reset_index(drop=True)
    out.attrs["notes"] = list(notes)
    out.attrs["key"] = key
    return out
