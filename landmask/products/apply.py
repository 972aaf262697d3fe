"""Applying a mask to an image: cut out, blur or crop everything but the kept classes.

* ``cutout``: pixels outside the kept classes become the image's nodata;
* ``blur``: pixels outside are replaced by a Gaussian blur of the image (for
  display: the kept classes stay sharp, unchanged to the bit);
* ``crop``: the image is cut to the smallest window holding every kept pixel,
  its transform moved to the window's corner (pixels inside the window keep
  their values, kept or not).

Image and mask must share one pixel grid (CRS, transform, size). Everything is
lazy and chunked: the cutout is a per-chunk ``where``, the blur a
:func:`dask.array.map_overlap` as deep as the kernel reaches, and the crop
window a reduction of each chunk's rows and columns to "holds a kept pixel"
flags (memory: one flag per row and per column), so the result is the same
for any chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import dask
import dask.array as da
import numpy as np
import xarray as xr
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from scipy import ndimage

from landmask._runtime.chunks import as_dask
from landmask.classes import ClassScheme, check_mask
from landmask.errors import ConfigError, GridError, InputError
from landmask.grid import Grid
from landmask.io.read.schemes import resolve_scheme

__all__ = [
    "MODES",
    "apply_mask",
    "blur_block",
    "crop_window",
    "default_nodata",
    "kept_block",
    "resolve_keep",
]

Mode = Literal["cutout", "blur", "crop"]
#: the ways a mask is applied
MODES: tuple[str, ...] = ("cutout", "blur", "crop")
#: the Gaussian kernel reaches ``truncate * sigma`` pixels (scipy's default)
TRUNCATE = 4.0


def resolve_keep(keep: Sequence[str | int] | str, scheme: ClassScheme) -> frozenset[int]:
    """Class names or ids (or ``"water,forest"``) -> the kept ids (:meth:`ClassScheme.ids`)."""
    out = scheme.ids(keep, option="--keep")
    if not out:
        raise ConfigError("--keep: name at least one class to keep")
    return frozenset(out)


def default_nodata(dtype: np.dtype[Any], nodata: float | None) -> float:
    """Nodata of a result: the image's, else NaN (floats), 0 (unsigned) or the minimum (signed)."""
    if nodata is not None:
        return nodata
    if np.issubdtype(dtype, np.floating):
        return float("nan")
    if np.issubdtype(dtype, np.unsignedinteger):
        return 0
    return int(np.iinfo(dtype).min)


def _check_fits(value: float, dtype: np.dtype[Any]) -> None:
    """Refuse a nodata value the image's dtype cannot hold (``--nodata 70000`` for uint16)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ConfigError(f"--nodata {value}: the image's {dtype} holds whole numbers only")
        if not info.min <= value <= info.max:
            raise ConfigError(
                f"--nodata {value:g}: out of the range of the image's {dtype} "
                f"({info.min} to {info.max})"
            )
    elif np.issubdtype(dtype, np.floating) and math.isfinite(value):
        limit = float(np.finfo(dtype).max)
        if abs(value) > limit:
            raise ConfigError(f"--nodata {value:g}: out of the range of the image's {dtype}")


def kept_block(mask: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Block function: ``(y, x)`` class ids -> bool, True where the class is kept."""
    table = np.zeros(256, dtype=bool)
    table[ids] = True
    return table[mask]


def blur_block(block: np.ndarray, sigma: float) -> np.ndarray:
    """Block function: Gaussian blur of a ``(band, y, x)`` block in float32, band by band.

    Edges reflect (scipy's ``reflect``); with an overlap of
    ``ceil(4 * sigma)`` pixels a chunk's blur equals the whole image's.
    """
    data = block.astype(np.float32, copy=False)
    return ndimage.gaussian_filter(data, sigma=(0, sigma, sigma), mode="reflect", truncate=TRUNCATE)


def _as_dtype(values: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def _blend_block(
    image: np.ndarray, blurred: np.ndarray, kept: np.ndarray, nodata: float | None
) -> np.ndarray:
    """Block function: the image where kept or nodata, the blur (in its dtype) elsewhere."""
    keep = kept if nodata is None or np.isnan(nodata) else kept | (image == nodata)
    return np.where(keep, image, _as_dtype(blurred, image.dtype))


def _check_grid(image: xr.DataArray, mask: xr.DataArray) -> None:
    difference = Grid.of(image).difference(mask)
    if difference:
        raise GridError(f"image and mask are not on one grid: {difference} (mask vs image)")


def crop_window(kept: da.Array) -> Window:
    """The smallest window holding every True pixel of a ``(y, x)`` boolean dask array.

    Each chunk is reduced to per-row and per-column "any" flags; only those
    (one per row and column) are gathered. Raises :class:`InputError` when
    nothing is kept.
    """
    rows, cols = dask.compute(kept.any(axis=1), kept.any(axis=0))
    if not rows.any():
        raise InputError("no pixel of the kept classes in the mask: nothing to crop to")
    r = np.flatnonzero(rows)
    c = np.flatnonzero(cols)
    return Window(int(c[0]), int(r[0]), int(c[-1] - c[0] + 1), int(r[-1] - r[0] + 1))


def apply_mask(
    image: xr.DataArray,
    mask: xr.DataArray,
    *,
    keep: Sequence[str | int] | str,
    mode: Mode = "cutout",
    scheme: ClassScheme | str | None = None,
    nodata: float | None = None,
    sigma: float = 5.0,
) -> xr.DataArray:
    """Apply ``mask`` to ``image``: keep some classes, cut out, blur or crop the rest.

    Parameters
    ----------
    image
        ``(band, y, x)`` or ``(y, x)`` DataArray with rioxarray georeferencing
        (e.g. :func:`open_image`); any dtype.
    mask
        ``(y, x)`` uint8 class ids on the same grid (CRS, transform, size).
    keep
        Classes to keep: names or ids of ``scheme`` (``["water", "forest"]``
        or ``"water,forest"``).
    mode
        ``cutout``, ``blur`` or ``crop`` (see the module).
    scheme
        Class scheme of the mask; default the one it records, else landcover.
    nodata
        ``cutout`` only: the value of cut pixels; default the image's nodata,
        else NaN (floats), 0 (unsigned) or the dtype's minimum (signed).
        Written as the result's nodata.
    sigma
        ``blur`` only: standard deviation of the Gaussian in pixels.

    Returns
    -------
    xarray.DataArray
        Lazy, in the image's dtype and dims. ``crop`` computes the window
        (one pass over the mask) before returning.
    """
    if mode not in MODES:
        raise ConfigError(f"--mode {mode}: expected one of {', '.join(MODES)}")
    check_mask(mask, "apply_mask")
    flat = image.ndim == 2
    if flat:
        image = image.expand_dims("band")
    if image.ndim != 3:
        raise InputError(f"the image must be (band, y, x), got dims {image.dims}")
    _check_grid(image, mask)
    ids = np.array(sorted(resolve_keep(keep, resolve_scheme(scheme, mask))), dtype=np.uint8)
    img = as_dask(image)
    img = img.rechunk({0: -1})
    mask_data = as_dask(mask)
    kept = da.map_blocks(kept_block, mask_data.rechunk(img.chunks[1:]), ids=ids, dtype=bool)
    out: xr.DataArray
    if mode == "crop":
        window = crop_window(kept)
        rows = slice(window.row_off, window.row_off + window.height)
        cols = slice(window.col_off, window.col_off + window.width)
        transform = window_transform(window, image.rio.transform())
        out = image.isel({image.rio.y_dim: rows, image.rio.x_dim: cols})
        out = out.rio.write_transform(transform)
    elif mode == "cutout":
        fill = default_nodata(image.dtype, nodata if nodata is not None else image.rio.nodata)
        _check_fits(fill, image.dtype)
        data = da.where(kept[None], img, np.array(fill).astype(image.dtype))
        out = image.copy(data=data).rio.write_nodata(fill, encoded=False)
    else:
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ConfigError(f"--sigma {sigma}: must be a finite number > 0")
        depth = math.ceil(TRUNCATE * sigma)
        side = min(image.shape[1:])
        if depth > side:
            raise ConfigError(
                f"--sigma {sigma}: the blur would reach {depth} px, beyond the image's "
                f"{side} px side (at most --sigma {side / TRUNCATE:g})"
            )
        blurred = da.map_overlap(
            blur_block,
            img,
            depth={0: 0, 1: depth, 2: depth},
            boundary="none",
            sigma=sigma,
            dtype=np.float32,
            meta=np.empty((0, 0, 0), np.float32),
        )
        # chunks thinner than the depth are merged by map_overlap: line them up again
        blurred = blurred.rechunk(img.chunks)
        data = da.map_blocks(
            _blend_block, img, blurred, kept[None], nodata=image.rio.nodata, dtype=image.dtype
        )
        out = image.copy(data=data)
    out = out.assign_attrs(landmask_apply=f"{mode} keep={','.join(map(str, ids.tolist()))}")
    return out.squeeze("band", drop=True) if flat else out
