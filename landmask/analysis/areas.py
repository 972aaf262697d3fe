"""Areas of pixels and per-class area summaries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from landmask.classes import LANDCOVER, ClassScheme
from landmask.errors import GridError

__all__ = ["ClassArea", "class_areas", "format_areas", "pixel_area_m2", "pixel_row_areas_m2"]


def pixel_area_m2(transform: Affine, crs: CRS | None) -> tuple[float, bool]:
    """Area of one pixel in m² and whether it is exact.

    Exact for projected CRSs (in the CRS's linear unit, converted to metres);
    for a geographic CRS, the ellipsoidal area of the pixel at the grid origin
    (approximate away from it); ``nan`` without a CRS.
    """
    if crs is None:
        return float("nan"), False
    if crs.is_geographic:
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        x0, y0 = transform @ (0, 0)
        x1, y1 = transform @ (1, 1)
        area, _ = geod.polygon_area_perimeter([x0, x1, x1, x0], [y0, y0, y1, y1])
        return abs(area), False
    factor = crs.linear_units_factor[1]
    return abs(transform.a * transform.e - transform.b * transform.d) * factor**2, True


def pixel_row_areas_m2(transform: Affine, crs: CRS | None, height: int) -> np.ndarray:
    """Area in m² of one pixel of each of ``height`` rows, exactly: a ``(height,)`` float64 array.

    For a projected CRS every row has the area of :func:`pixel_area_m2`. For a
    geographic CRS a pixel of row ``r`` is the quad between the parallels of
    the row's top and bottom edges, measured on the CRS's own ellipsoid
    (:meth:`pyproj.Geod.polygon_area_perimeter`), so areas shrink towards the
    poles; this needs a north-up grid (no rotation), else :class:`GridError`.
    Cost: one geodesic area per row.
    """
    if crs is None:
        raise GridError("the mask has no CRS: areas in m² need one")
    if not crs.is_geographic:
        area, _ = pixel_area_m2(transform, crs)
        return np.full(height, area)
    if transform.b != 0 or transform.d != 0:
        raise GridError("a rotated grid in a geographic CRS: pixel areas need a north-up grid")
    from pyproj import CRS as ProjCRS

    geod = ProjCRS.from_user_input(crs).get_geod()
    assert geod is not None
    x0, x1 = transform.c, transform.c + transform.a
    edges = transform.f + transform.e * np.arange(height + 1, dtype=np.float64)
    out = np.empty(height)
    for r in range(height):
        ya, yb = edges[r], edges[r + 1]
        area, _ = geod.polygon_area_perimeter([x0, x1, x1, x0], [ya, ya, yb, yb])
        out[r] = abs(area)
    return out


@dataclass(frozen=True)
class ClassArea:
    """Pixels and area of one class."""

    class_id: int
    name: str
    pixels: int
    km2: float
    share: float


def class_areas(
    counts: Mapping[int, int], transform: Affine, crs: CRS | None, scheme: ClassScheme = LANDCOVER
) -> list[ClassArea]:
    """Per-class pixels, km² and share of valid (non-nodata) pixels, by class id."""
    area, _ = pixel_area_m2(transform, crs)
    valid = sum(n for c, n in counts.items() if c != 255) or 1
    return [
        ClassArea(c, scheme.name_of(c), n, n * area / 1e6, n / valid if c != 255 else float("nan"))
        for c, n in sorted(counts.items())
    ]


def format_areas(rows: list[ClassArea], exact: bool = True) -> str:
    """A plain-text table of :func:`class_areas` rows."""
    unit = "km2" if exact else "~km2"
    lines = [f"{'class':<10} {'id':>3} {'pixels':>12} {unit:>12} {'share':>7}"]
    for r in rows:
        share = "" if r.class_id == 255 else f"{100 * r.share:6.1f}%"
        lines.append(f"{r.name:<10} {r.class_id:>3} {r.pixels:>12,} {r.km2:>12,.3f} {share:>7}")
    return "\n".join(lines)
