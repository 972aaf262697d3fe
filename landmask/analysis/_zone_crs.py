"""Zones drawn in another CRS than the mask's, brought onto the mask's CRS without losing ground.

Reprojecting a zone vertex by vertex goes wrong in three ways that
:func:`zones_on_grid` rules out:

* **far outside the projection**: a whole-world box in EPSG:4326 has corners
  that a UTM zone cannot hold (their coordinates come out wild or infinite),
  so the reprojected box no longer covers the mask. Each zone is first cut to
  the mask's footprint (the raster's outline, a margin around it, drawn in the
  zones' CRS), whose every point the mask's CRS holds.
* **poles and the antimeridian**: in longitude and latitude the footprint of a
  mask around a pole, or across the antimeridian, is not one plain polygon.
  Its outline is unwrapped (no jump of 360°), closed along the pole's
  parallel when it goes round a pole, and zones are cut by it shifted by
  whole turns, so a zone split at the antimeridian (as GeoJSON asks, RFC 7946
  §3.1.9) or written in 0..360° longitudes meets the mask wherever it lies.
* **long edges**: an edge is straight in the zones' CRS, a curve in the
  mask's; edges are cut to an eighth of a pixel before reprojecting (the
  chord of a curve strays from it as the square of its length: at a pixel,
  a zone round a pole 40 km pixels wide was 5e-5 short of its area; at an
  eighth, 1e-6).

An edge that spans more than 180° of longitude is ambiguous (a zone 340°
wide, or one crossing the antimeridian written as its complement): such a
zone is refused with one line naming it, never read as its complement.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from landmask.errors import InputError
from landmask.grid import Grid

__all__ = ["zones_on_grid"]

#: Points of the footprint's outline along each side of the raster, at most
_SIDE_POINTS = 512
#: Pieces of a pixel's width that a zone's edges are cut to before reprojecting
_PIECES_PER_PIXEL = 8


def zones_on_grid(
    geoms: np.ndarray, crs: Any, grid: Grid, keys: np.ndarray, name: str
) -> np.ndarray:
    """Polygonal zones (None for none) in ``crs`` -> the same ground in ``grid``'s CRS.

    Each zone is cut to the mask's footprint plus a margin (so what it covers
    of the raster is kept whole), its edges cut to an eighth of a pixel, and
    reprojected; a zone that misses the footprint becomes None. Zones already
    in the mask's CRS come back unchanged, unless that CRS is geographic (a
    zone may then lie a whole turn of longitude away from the raster).

    Raises
    ------
    InputError
        A zone in a geographic CRS with an edge spanning more than 180° of
        longitude, or one that cannot be reprojected onto the mask's CRS.
    """
    from pyproj import CRS as ProjCRS
    from pyproj import Transformer

    src, dst = ProjCRS.from_user_input(crs), ProjCRS.from_user_input(grid.crs)
    geographic = src.is_geographic
    if geographic:
        _check_longitude_spans(geoms, keys, name)
    same = src == dst
    if same and not geographic:
        return geoms
    to_dst = None if same else Transformer.from_crs(src, dst, always_xy=True)
    to_src = None if same else Transformer.from_crs(dst, src, always_xy=True)
    footprint, step = _footprint(grid, to_src, geographic)
    out = np.full(len(geoms), None, dtype=object)
    present = ~shapely.is_missing(geoms)
    # no footprint: the raster's outline has no shape in the zones' CRS; the zones as they are
    cut = geoms.copy() if footprint is None else _cut(geoms, present, footprint, geographic)
    cut = np.asarray(cut, dtype=object)
    kept = present & ~shapely.is_missing(cut)
    kept[kept] = ~shapely.is_empty(cut[kept])
    if not kept.any():
        return out
    pieces = cut[kept]
    if step is not None and step > 0:
        pieces = shapely.segmentize(pieces, step)
    if to_dst is not None:
        transformer = to_dst

        def project(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        pieces = shapely.transform(pieces, project)
    coords = [shapely.get_coordinates(p) for p in pieces]
    for key, xy in zip(keys[kept], coords, strict=True):
        if not np.isfinite(xy).all():
            raise InputError(
                f"{name}: zone {key} cannot be reprojected onto the mask's CRS "
                f"({dst.to_string()}): cut it to the mask's area or reproject it first"
            )
    invalid = ~shapely.is_valid(pieces)
    if invalid.any():
        pieces[invalid] = shapely.make_valid(pieces[invalid])
    out[kept] = [_polygonal(p) for p in pieces]
    return out


def _polygonal(geom: Any) -> Any:
    """The polygons of ``geom`` (a repaired zone may hold lines), or None."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(parts) if len(parts) else None


def _check_longitude_spans(geoms: np.ndarray, keys: np.ndarray, name: str) -> None:
    """Refuse a zone with an edge over 180° of longitude (except one from -180° to 180°)."""
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if not len(present):
        return
    parts, part_zone = shapely.get_parts(geoms[present], return_index=True)
    rings, of_part = shapely.get_rings(parts, return_index=True)
    xy, of_ring = shapely.get_coordinates(rings, return_index=True)
    same = of_ring[1:] == of_ring[:-1]
    x0, x1 = xy[:-1, 0], xy[1:, 0]
    span = np.abs(x1 - x0)
    round_the_world = (np.abs(x0) == 180) & (np.abs(x1) == 180)
    bad = np.flatnonzero(same & (span > 180) & ~round_the_world)
    if not len(bad):
        return
    k = bad[0]
    key = keys[present[part_zone[of_part[of_ring[k]]]]]
    raise InputError(
        f"{name}: zone {key} has an edge spanning {span[k]:.1f}° of longitude "
        f"({x0[k]:g}° to {x1[k]:g}°): if it crosses the antimeridian, split it there "
        "(RFC 7946 §3.1.9); a zone wider than 180° needs a vertex at least every 180°"
    )


def _footprint(grid: Grid, to_src: Any, geographic: bool) -> tuple[Any, float | None]:
    """The raster's outline plus a margin, in the zones' CRS, and the step to cut edges to.

    ``(None, None)`` when the outline does not reproject to a plain polygon.
    """
    h, w = grid.height, grid.width
    nx, ny = min(max(w, 4), _SIDE_POINTS), min(max(h, 4), _SIDE_POINTS)
    margin = max(2.0, w / nx, h / ny)
    left, right, top, bottom = -margin, w + margin, -margin, h + margin
    cols = np.concatenate(
        [
            np.linspace(left, right, nx, endpoint=False),
            np.full(ny, right),
            np.linspace(right, left, nx, endpoint=False),
            np.full(ny, left),
        ]
    )
    rows = np.concatenate(
        [
            np.full(nx, top),
            np.linspace(top, bottom, ny, endpoint=False),
            np.full(nx, bottom),
            np.linspace(bottom, top, ny, endpoint=False),
        ]
    )
    cols, rows = np.append(cols, left), np.append(rows, top)  # closed
    t = grid.transform
    x = t.a * cols + t.b * rows + t.c
    y = t.d * cols + t.e * rows + t.f
    if to_src is not None:
        x, y = (np.asarray(v, dtype=np.float64) for v in to_src.transform(x, y))
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None, None
    coords = np.column_stack([x, y])
    if geographic:
        coords[:, 0] = np.unwrap(coords[:, 0], period=360.0)
        turns = round((coords[-1, 0] - coords[0, 0]) / 360.0)
        if turns:  # round a pole: close the outline along it
            pole = 90.0 if coords[:, 1].mean() > 0 else -90.0
            end, start = coords[-1, 0], coords[0, 0]
            coords = np.vstack([coords, [[end, pole], [start, pole], coords[0]]])
    footprint = shapely.Polygon(coords)
    if not footprint.is_valid:
        footprint = shapely.make_valid(footprint)
        if shapely.get_type_id(footprint) not in (3, 6):
            return None, None
    pixels = (right - left) * (bottom - top)
    if pixels <= 0:
        return footprint, None
    return footprint, math.sqrt(footprint.area / pixels) / _PIECES_PER_PIXEL


def _cut(geoms: np.ndarray, present: np.ndarray, footprint: Any, geographic: bool) -> np.ndarray:
    """Each zone cut to the footprint; in longitudes, to it shifted by whole turns too.

    A piece cut by the footprint shifted by ``k`` turns is shifted back, so
    every piece lies in the footprint's own longitudes.
    """
    out = np.full(len(geoms), None, dtype=object)
    if not present.any():
        return out
    shifts = [0.0]
    if geographic:
        zx0, _, zx1, _ = shapely.total_bounds(geoms[present])
        fx0, _, fx1, _ = footprint.bounds
        first, last = math.floor((zx0 - fx1) / 360.0), math.ceil((zx1 - fx0) / 360.0)
        shifts = [360.0 * k for k in range(first, last + 1)]
    pieces: list[np.ndarray] = []
    for shift in shifts:
        offset = np.array([shift, 0.0])
        moved = shapely.transform(footprint, lambda xy, d=offset: xy + d)
        part = np.asarray(shapely.intersection(geoms[present], moved), dtype=object)
        if shift:
            part = shapely.transform(part, lambda xy, d=offset: xy - d)
        pieces.append(part)
    for k, i in enumerate(np.flatnonzero(present)):
        found = [p[k] for p in pieces if p[k] is not None and not p[k].is_empty]
        if len(found) == 1:
            out[i] = found[0]
        elif found:
            out[i] = shapely.union_all(found)
    return out
