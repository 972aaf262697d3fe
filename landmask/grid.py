"""The pixel grid as a value: CRS, transform, size and file blocks.

:class:`Grid` is the one place where landmask decides whether two rasters are
on the same grid, how a grid is cut into chunks and tiles, and what a pixel
covers on the ground. It is immutable and hashable (usable as a dict key and
in a Dask graph), made from anything that has a grid (:meth:`Grid.of`: a
DataArray with rioxarray georeferencing, a raster path, an open rasterio
dataset) or from a region (:meth:`Grid.from_bounds`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from landmask._runtime.chunks import spatial_chunks
from landmask.errors import ConfigError, GridError

__all__ = ["TRANSFORM_PRECISION", "Grid", "Tile"]

#: Transforms closer than this (in CRS units, each coefficient) are the same grid.
TRANSFORM_PRECISION = 1e-9


@dataclass(frozen=True)
class Grid:
    """A north-up (or affine) pixel grid.

    Parameters
    ----------
    crs
        The coordinate reference system, or None for pixel coordinates.
    transform
        Pixel ``(col, row)`` to CRS ``(x, y)`` of the pixel's upper-left corner.
    width, height
        Size in pixels.
    block
        ``(rows, cols)`` of the file's internal blocks, which chunks are rounded
        to; ``(1, 1)`` when there is no file (no alignment). Not part of
        equality: two files with other tilings are on the same grid.
    """

    crs: CRS | None
    transform: Affine
    width: int
    height: int
    block: tuple[int, int] = field(default=(1, 1), compare=False)

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise GridError(f"a grid of {self.width}x{self.height} pixels")

    # -- making grids -------------------------------------------------------------------

    @classmethod
    def of(cls, obj: Any) -> Grid:
        """The grid of ``obj``: a Grid, a DataArray (rioxarray), a rasterio dataset or a path.

        A path is opened for its header only.
        """
        if isinstance(obj, Grid):
            return obj
        if isinstance(obj, str | os.PathLike):
            import rasterio

            with rasterio.open(os.fspath(obj)) as ds:
                return cls.of(ds)
        if hasattr(obj, "rio") and hasattr(obj, "dims"):
            preferred = obj.encoding.get("preferred_chunks") or {}
            ydim, xdim = obj.dims[-2:]
            block = (int(preferred.get(ydim, 1)), int(preferred.get(xdim, 1)))
            # from the coordinates when there are some (a selection keeps the stale
            # GeoTransform attribute of its parent), else the recorded transform
            recalc = xdim in obj.coords and ydim in obj.coords and min(obj.shape[-2:]) > 1
            return cls(
                obj.rio.crs,
                obj.rio.transform(recalc=recalc),
                int(obj.shape[-1]),
                int(obj.shape[-2]),
                block,
            )
        if hasattr(obj, "transform") and hasattr(obj, "block_shapes"):
            rows, cols = obj.block_shapes[0]
            return cls(obj.crs, obj.transform, obj.width, obj.height, (rows, cols))
        raise TypeError(f"no grid in {type(obj).__name__}")

    @classmethod
    def from_bounds(
        cls,
        crs: Any,
        resolution: float | tuple[float, float],
        bounds: tuple[float, float, float, float],
        *,
        block: tuple[int, int] = (1, 1),
    ) -> Grid:
        """The grid of ``resolution`` covering ``bounds`` (left, bottom, right, top) in ``crs``.

        The edges snap outwards to whole multiples of the resolution from the
        CRS origin, so grids made for neighbouring regions line up pixel for
        pixel.
        """
        if isinstance(resolution, tuple):
            xres, yres = float(resolution[0]), float(resolution[1])
        else:
            xres = yres = float(resolution)
        if not (xres > 0 and yres > 0 and math.isfinite(xres) and math.isfinite(yres)):
            raise ConfigError(f"resolution {resolution}: must be positive CRS units")
        left, bottom, right, top = (float(v) for v in bounds)
        if not all(math.isfinite(v) for v in (left, bottom, right, top)):
            raise ConfigError(f"bounds {bounds}: not finite")
        if not (left < right and bottom < top):
            raise ConfigError(f"bounds {bounds}: need left < right and bottom < top")
        x0 = math.floor(left / xres + 1e-9) * xres
        y0 = math.ceil(top / yres - 1e-9) * yres
        width = max(1, math.ceil((right - x0) / xres - 1e-9))
        height = max(1, math.ceil((y0 - bottom) / yres - 1e-9))
        return cls(
            CRS.from_user_input(crs), Affine(xres, 0.0, x0, 0.0, -yres, y0), width, height, block
        )

    # -- what it is ---------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return (self.height, self.width)

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units, both positive."""
        t = self.transform
        return (math.hypot(t.a, t.d), math.hypot(t.b, t.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of a north-up grid (the corners' hull otherwise)."""
        t = self.transform
        xs = [t.c, t.c + t.a * self.width, t.c + t.b * self.height]
        xs.append(xs[1] + t.b * self.height)
        ys = [t.f, t.f + t.d * self.width, t.f + t.e * self.height]
        ys.append(ys[1] + t.e * self.height)
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def is_rectilinear(self) -> bool:
        """No rotation or shear."""
        return self.transform.b == 0 and self.transform.d == 0

    def coords(self) -> dict[str, np.ndarray]:
        """Pixel-centre ``y`` and ``x`` coordinates (a north-up grid)."""
        t = self.transform
        return {
            "y": t.f + t.e * (np.arange(self.height) + 0.5),
            "x": t.c + t.a * (np.arange(self.width) + 0.5),
        }

    # -- comparing ----------------------------------------------------------------------

    def difference(self, other: Any) -> str:
        """How ``other``'s grid differs from this one, in words for an error ('' if not).

        CRSs are compared as CRSs (not as text); a side without a CRS differs
        from one with a CRS. Transforms are equal within
        :data:`TRANSFORM_PRECISION`.
        """
        o = Grid.of(other)
        diffs = []
        if (self.crs is None) != (o.crs is None) or (
            self.crs is not None and o.crs is not None and self.crs != o.crs
        ):
            diffs.append(f"CRS {_crs_name(o.crs)} instead of {_crs_name(self.crs)}")
        if not o.transform.almost_equals(self.transform, precision=TRANSFORM_PRECISION):
            diffs.append(
                f"transform {tuple(o.transform)[:6]} instead of {tuple(self.transform)[:6]}"
            )
        if o.shape != self.shape:
            diffs.append(f"size {o.width}x{o.height} instead of {self.width}x{self.height}")
        return "; ".join(diffs)

    def same(self, other: Any) -> bool:
        """Whether ``other`` is on this grid (:meth:`difference` is empty)."""
        return not self.difference(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.same(other)

    def __hash__(self) -> int:
        # coarse on purpose: equal grids (within the transform precision) hash alike
        return hash((self.crs is None, self.shape))

    # -- cutting ------------------------------------------------------------------------

    def chunks(self, size: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(y, x)`` chunk lengths of about ``size`` px, rounded to whole blocks and clamped
        (:func:`~landmask._runtime.chunks.spatial_chunks`)."""
        return spatial_chunks(self.shape, size, self.block)

    def window(self, row_off: int, col_off: int, height: int, width: int) -> Grid:
        """The grid of the pixels ``[row_off:row_off+height, col_off:col_off+width]``.

        The window may reach beyond this grid (a tile of a region's edge).
        """
        if height < 0 or width < 0:
            raise GridError(f"a window of {width}x{height} pixels")
        transform = self.transform @ Affine.translation(col_off, row_off)
        return Grid(self.crs, transform, width, height, self.block)

    def tiles(self, size: int | tuple[int, int]) -> Iterator[Tile]:
        """The grid cut into tiles of ``size`` px (rows, cols), row by row; edge tiles clamped."""
        rows, cols = (size, size) if isinstance(size, int) else size
        if rows <= 0 or cols <= 0:
            raise ConfigError(f"tile size {size}: must be positive")
        for r in range(0, self.height, rows):
            for c in range(0, self.width, cols):
                h, w = min(rows, self.height - r), min(cols, self.width - c)
                yield Tile(r // rows, c // cols, r, c, self.window(r, c, h, w))

    # -- areas --------------------------------------------------------------------------

    def pixel_area(self) -> tuple[float, bool]:
        """Area of one pixel in m² and whether it is exact.

        Exact for projected CRSs (in the CRS's linear unit, converted to
        metres); for a geographic CRS, the ellipsoidal area of the pixel at the
        grid origin (approximate away from it; :meth:`row_areas` is exact);
        ``nan`` without a CRS.
        """
        t = self.transform
        if self.crs is None:
            return float("nan"), False
        if self.crs.is_geographic:
            geod = _geod(self.crs)
            x0, y0 = t @ (0, 0)
            x1, y1 = t @ (1, 1)
            area, _ = geod.polygon_area_perimeter([x0, x1, x1, x0], [y0, y0, y1, y1])
            return abs(area), False
        factor = self.crs.linear_units_factor[1]
        return abs(t.a * t.e - t.b * t.d) * factor**2, True

    def row_areas(self) -> np.ndarray:
        """Area in m² of one pixel of each row, exactly: a ``(height,)`` float64 array.

        For a projected CRS every row has :meth:`pixel_area`. For a geographic
        CRS a pixel of row ``r`` is the quad between the parallels of the row's
        top and bottom edges on the CRS's own ellipsoid, so areas shrink towards
        the poles; this needs a north-up grid. The part of a row past a pole
        (a grid reaching beyond 90°N or 90°S) covers no ground and has no area:
        the row's edges are clamped to the poles, so a row wholly past one has
        area 0, never NaN. The area between two parallels is the closed form of
        the ellipsoid's zone (Snyder 1987, eq. 3-12), not a polygon of geodesics,
        whose edges would leave the parallels. Cost: a few numpy operations per row.

        Raises
        ------
        GridError
            Without a CRS, or for a rotated geographic grid.
        """
        if self.crs is None:
            raise GridError("the mask has no CRS: areas in m² need one")
        if not self.crs.is_geographic:
            return np.full(self.height, self.pixel_area()[0])
        if not self.is_rectilinear:
            raise GridError("a rotated grid in a geographic CRS: pixel areas need a north-up grid")
        geod = _geod(self.crs)
        t = self.transform
        edges = np.clip(t.f + t.e * np.arange(self.height + 1, dtype=np.float64), -90.0, 90.0)
        below = _zone_area(np.radians(edges), geod.a, geod.f)  # per radian of longitude
        return np.abs(np.diff(below)) * abs(math.radians(t.a))


@dataclass(frozen=True)
class Tile:
    """One tile of :meth:`Grid.tiles`: its index, its offset in the parent grid, its grid."""

    row: int
    col: int
    row_off: int
    col_off: int
    grid: Grid


def _crs_name(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else (crs.to_string() or "a custom CRS")


def _zone_area(lat: np.ndarray, a: float, f: float) -> np.ndarray:
    """Area (m²) of the ellipsoid from the equator to latitudes ``lat`` (radians), per radian
    of longitude; negative south of the equator (Snyder 1987, the authalic ``q``)."""
    e2 = f * (2.0 - f)
    b2 = (a * (1.0 - f)) ** 2
    s = np.sin(lat)
    if e2 == 0.0:
        out: np.ndarray = a * a * s
        return out
    e = math.sqrt(e2)
    q = s / (1.0 - e2 * s * s) + np.arctanh(e * s) / e
    return b2 / 2.0 * q


def _geod(crs: CRS) -> Any:
    from pyproj import CRS as ProjCRS

    geod = ProjCRS.from_user_input(crs).get_geod()
    if geod is None:
        raise GridError(f"{_crs_name(crs)}: no ellipsoid to measure areas on")
    return geod
