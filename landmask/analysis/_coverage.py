"""Block functions of zonal statistics: coverage-weighted class areas of zones over one block.

Everything here works in *pixel space*: x is the column, y is minus the row,
so a pixel ``(row, col)`` of the whole raster is the unit square
``[col, col + 1] x [-row - 1, -row]`` and a block is an axis-aligned,
north-up rectangle with integer corners whatever the raster's transform
(rotated grids included: an affine map keeps ratios of areas, so coverage
fractions in pixel space are those in the CRS).

Coverage fractions (the share of each pixel's area inside a polygon) are
computed by exactextract (Baston 2022), run on the block as an in-memory
raster, for the zones that intersect the block only. Each pixel's fraction
depends on the pixel and the polygon alone, so sums over blocks equal sums
over the whole raster for any block layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import shapely
from affine import Affine
from exactextract import exact_extract
from exactextract.feature import Feature, FeatureSource, JSONFeature
from exactextract.raster import NumPyRasterSource
from exactextract.writer import Writer

__all__ = ["block_areas", "to_pixel_space"]

#: the exactextract operations: the values under a zone, the coverage-weighted
#: share of each, and the coverage-weighted pixel count (sum of fractions)
_OPS = ["unique", "frac", "count"]


def to_pixel_space(geoms: np.ndarray, transform: Affine) -> np.ndarray:
    """Shapely geometries in the raster's CRS -> pixel space (x = column, y = -row)."""
    inverse = ~transform

    def convert(xy: np.ndarray) -> np.ndarray:
        col = inverse.a * xy[:, 0] + inverse.b * xy[:, 1] + inverse.c
        row = inverse.d * xy[:, 0] + inverse.e * xy[:, 1] + inverse.f
        return np.column_stack([col, -row])

    out: np.ndarray = shapely.transform(geoms, convert)
    return out


def block_areas(
    block: np.ndarray,
    row0: int,
    col0: int,
    zones_wkb: np.ndarray,
    lut: np.ndarray,
    ncols: int,
    row_areas: np.ndarray,
) -> np.ndarray:
    """Coverage-weighted areas of each zone's pixels over one block, by column of ``lut``.

    Parameters
    ----------
    block
        ``(h, w)`` uint8 class ids, the block whose top-left pixel is
        ``(row0, col0)`` of the raster.
    zones_wkb
        ``(k,)`` WKB of the zones (polygons in pixel space, see the module)
        that intersect the block.
    lut
        256-entry table: class id -> column (``0 .. ncols - 1``) of the result.
    row_areas
        ``(h,)`` area of one pixel of each row of the block (m²).

    Returns
    -------
    numpy.ndarray
        ``(k, ncols)`` float64: for zone ``i`` and column ``j``, the sum over
        the block's pixels of class ``c`` with ``lut[c] == j`` of the pixel's
        coverage fraction by the zone times its area. Memory: the block and
        one int32 copy of it; time: exactextract's, linear in the pixels and
        boundary length of the zones.
    """
    h, w = block.shape
    out = np.zeros((len(zones_wkb), ncols))
    if not len(zones_wkb) or not block.size:
        return out
    columns = np.take(lut.astype(np.int32, copy=False), block)
    uniform = bool(np.all(row_areas == row_areas[0]))
    if not uniform:  # each row its own area: one code per (row, column)
        columns += ncols * np.arange(h, dtype=np.int32)[:, None]
    raster = NumPyRasterSource(columns, col0, -(row0 + h), col0 + w, -row0)
    writer = _SumsWriter()
    exact_extract(raster, _Zones(zones_wkb), _OPS, include_cols=["zone"], output=writer)
    for zone, codes, frac, count in writer.rows:
        if not len(codes):
            continue
        covered = np.asarray(frac, dtype=np.float64) * float(count)
        codes = np.asarray(codes, dtype=np.int64)
        if uniform:
            np.add.at(out[zone], codes, covered * row_areas[0])
        else:
            np.add.at(out[zone], codes % ncols, covered * row_areas[codes // ncols])
    return out


class _Zone(Feature):
    """One zone for exactextract: its position in the block's list and its WKB."""

    def __init__(self, index: int, wkb: bytes) -> None:
        super().__init__()
        self.index, self.wkb = index, wkb

    def get(self, name: str) -> int:
        return self.index

    def set(self, name: str, value: Any) -> None:
        raise NotImplementedError("zones are read-only")

    def geometry(self) -> bytes:
        return self.wkb

    def set_geometry_format(self) -> str:
        return "wkb"

    def fields(self) -> list[str]:
        return ["zone"]


class _Zones(FeatureSource):
    """The zones of one block as an exactextract feature source (WKB, no copies)."""

    def __init__(self, wkbs: np.ndarray) -> None:
        super().__init__()
        self.wkbs = wkbs

    def count(self) -> int:
        return len(self.wkbs)

    def __iter__(self) -> Iterator[_Zone]:
        for i, wkb in enumerate(self.wkbs):
            yield _Zone(i, wkb)

    def srs_wkt(self) -> None:
        return None  # pixel space, as the raster's


class _SumsWriter(Writer):
    """Collects ``(zone, unique, frac, count)`` per zone from exactextract."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, Any, Any, float]] = []

    def add_operation(self, op: Any) -> None:
        pass

    def add_column(self, name: str) -> None:
        pass

    def add_geometry(self) -> None:
        pass

    def write(self, feature: Any) -> None:
        f = JSONFeature()
        feature.copy_to(f)
        p = f.feature["properties"]
        unique, frac = p.get("unique"), p.get("frac")
        if unique is None or frac is None:
            unique, frac = (), ()
        self.rows.append((int(p["zone"]), unique, frac, float(p.get("count") or 0.0)))

    def features(self) -> list[tuple[int, Any, Any, float]]:
        return self.rows
