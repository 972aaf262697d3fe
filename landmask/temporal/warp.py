"""Block functions: where a target chunk lies in a source raster, and warping onto it.

Each date is read only where it overlaps the chunk (:func:`source_window`)
and warped by GDAL (:func:`rasterio.warp.reproject`) with the exact
transformer (``tolerance=0``), so a chunk's pixels equal those of warping the
whole raster at once: the result does not depend on the chunking.
"""

from __future__ import annotations

import math

import numpy as np
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from landmask.grid import Grid

__all__ = ["lattice_offset", "resampling_scale", "source_window", "warp_block"]

#: Densified edge points when a chunk's bounds go into another CRS.
_EDGE_POINTS = 21


def lattice_offset(source: Grid, target: Grid) -> tuple[int, int] | None:
    """``(row, col)`` of ``target``'s origin in ``source`` pixels when both are one pixel lattice.

    That is the same CRS and pixel size, north-up, and a whole-pixel offset
    (within 1e-6 px); None otherwise. Then warping is a copy: any resampling
    of a pixel onto itself gives the pixel.
    """
    s, t = source.transform, target.transform
    if s.b or s.d or t.b or t.d:
        return None
    if abs(s.a - t.a) > 1e-9 * abs(s.a) or abs(s.e - t.e) > 1e-9 * abs(s.e):
        return None
    col, row = (t.c - s.c) / s.a, (t.f - s.f) / s.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    if source.crs != target.crs:
        return None
    return round(row), round(col)


def source_window(
    source: Grid, target: Grid, resampling: Resampling
) -> tuple[int, int, int, int] | None:
    """``(row_off, col_off, height, width)`` of ``source`` that ``target``'s pixels sample.

    Padded by the resampling kernel's reach (scaled when the target is coarser)
    and clipped to ``source``; None when they do not overlap.
    """
    assert source.crs is not None and target.crs is not None
    offset = lattice_offset(source, target)
    if offset is not None:  # one lattice: exactly the pixels under the target, no kernel
        row, col = offset
        r0, c0 = max(0, row), max(0, col)
        r1 = min(source.height, row + target.height)
        c1 = min(source.width, col + target.width)
        return None if r1 <= r0 or c1 <= c0 else (r0, c0, r1 - r0, c1 - c0)
    left, bottom, right, top = target.bounds
    if source.crs != target.crs:
        left, bottom, right, top = transform_bounds(
            target.crs, source.crs, left, bottom, right, top, densify_pts=_EDGE_POINTS
        )
    inverse = ~source.transform
    cols, rows = zip(
        *(
            inverse @ (x, y)
            for x, y in ((left, top), (right, top), (left, bottom), (right, bottom))
        ),
        strict=True,
    )
    # source pixels per target pixel: kernels widen by it when downsampling
    ratio = max(
        1.0,
        (max(cols) - min(cols)) / max(target.width, 1),
        (max(rows) - min(rows)) / max(target.height, 1),
    )
    reach = 0 if resampling == Resampling.nearest else 2
    pad = math.ceil(reach * ratio) + 2
    r0 = max(0, math.floor(min(rows)) - pad)
    c0 = max(0, math.floor(min(cols)) - pad)
    r1 = min(source.height, math.ceil(max(rows)) + pad)
    c1 = min(source.width, math.ceil(max(cols)) + pad)
    if r1 <= r0 or c1 <= c0:
        return None
    return (r0, c0, r1 - r0, c1 - c0)


def resampling_scale(source: Grid, target: Grid) -> tuple[float, float]:
    """Target pixels per source pixel along x and y, for the whole grids.

    GDAL widens a resampling kernel by this factor when the target is coarser;
    left to itself it derives it from each chunk's windows, so that chunks of
    one raster would be resampled differently. Fixing it from the whole grids
    makes every chunk's pixels those of one warp of the whole raster.
    """
    left, bottom, right, top = target.bounds
    if source.crs != target.crs:
        left, bottom, right, top = transform_bounds(
            target.crs, source.crs, left, bottom, right, top, densify_pts=_EDGE_POINTS
        )
    xres, yres = source.resolution
    return (
        xres * target.width / max(right - left, 1e-300),
        yres * target.height / max(top - bottom, 1e-300),
    )


def warp_block(
    values: np.ndarray,
    source: Grid,
    target: Grid,
    resampling: Resampling,
    scale: tuple[float, float],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Block function: ``(band, h, w)`` float32 on ``source`` -> ``(band, H, W)`` on ``target``.

    NaN is nodata on both sides; target pixels the source does not reach are
    NaN. One GDAL warp per band, with the kernel scale of :func:`resampling_scale`.
    ``out``: a C-contiguous ``(band, H, W)`` float32 array to warp into (a date's
    place in a stack of dates), returned; default a new one.
    """
    if out is None:
        out = np.empty((values.shape[0], target.height, target.width), np.float32)
    offset = lattice_offset(target, source) if values.size and out.size else None
    if offset is not None:  # one lattice: a copy (what GDAL's warp of it gives, faster)
        row, col = offset
        r0, c0 = max(0, row), max(0, col)
        r1 = min(target.height, row + source.height)
        c1 = min(target.width, col + source.width)
        if (r0, c0, r1, c1) != (0, 0, target.height, target.width):
            out.fill(np.nan)  # the source does not cover the target
        if r1 > r0 and c1 > c0:
            out[:, r0:r1, c0:c1] = values[:, r0 - row : r1 - row, c0 - col : c1 - col]
        return out
    out.fill(np.nan)
    if values.size == 0 or out.size == 0:
        return out
    # band by band: GDAL's multi-band warp shares one validity mask between bands
    for k in range(values.shape[0]):
        reproject(
            source=np.ascontiguousarray(values[k], dtype=np.float32),
            destination=out[k],
            src_transform=source.transform,
            src_crs=source.crs,
            src_nodata=np.nan,
            dst_transform=target.transform,
            dst_crs=target.crs,
            dst_nodata=np.nan,
            resampling=resampling,
            tolerance=0,
            init_dest_nodata=True,
            XSCALE=scale[0],
            YSCALE=scale[1],
        )
    return out
