"""Cloud and quality masks: pixels the sensor did not see are ``cloud`` (254), not a class.

Two quality layers are understood, carried by a scene as raw-valued bands
(:data:`landmask.bands.QUALITY_BANDS`):

``scl``
    Sentinel-2 L2A scene classification. 0 no data -> 255 (nodata); 1 saturated
    or defective, 3 cloud shadow, 8 cloud medium probability, 9 cloud high
    probability, 10 thin cirrus -> 254 (cloud); every other class is clear.
``qa_pixel``
    Landsat Collection 2 ``QA_PIXEL`` bit flags. Bit 0 fill -> 255; bit 1
    dilated cloud, bit 2 cirrus, bit 3 cloud, bit 4 cloud shadow -> 254.

A quality code is ``0`` clear, :data:`~landmask.classes.CLOUD` (254) not seen,
:data:`~landmask.classes.NODATA` (255) no data; a NaN quality value (outside
the quality raster) is no data. :func:`apply_quality` lays the codes over a
class mask: nodata stays nodata (a pixel with no reflectance is 255 whatever
the quality says), cloud hides the class. The classifier itself is untouched.

A pixel the quality band calls cloud is 254 whichever rules classified the
scene (the class scheme's 254: seen, but hidden by cloud or shadow). A rule set
with scene-wide statistics (``percentile(red, 1)``, ``otsu(ndvi)``) computes
them over the clear pixels; when there are none (an all-cloud scene) the
statistics have no value and the classifier makes every pixel 255, which then
says nothing of the reflectance, so the quality codes alone decide: cloud 254,
fill 255, as per-pixel rules give the same scene.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor mask_like uses)
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.bands import QUALITY_BANDS
from landmask.classes import CLOUD, NODATA
from landmask.io.statistic_tags import thresholds_of

__all__ = [
    "QA_PIXEL_CLOUD_BITS",
    "QA_PIXEL_FILL_BIT",
    "SCL_CLOUD",
    "SCL_NODATA",
    "apply_quality",
    "apply_quality_block",
    "mask_like",
    "qa_pixel_block",
    "quality_codes_block",
    "quality_mask",
    "scl_block",
]

#: SCL classes that hide the ground: saturated/defective, cloud shadow, cloud
#: medium and high probability, thin cirrus.
SCL_CLOUD = (1, 3, 8, 9, 10)
#: SCL classes without data.
SCL_NODATA = (0,)
#: QA_PIXEL bit flagging fill (no data).
QA_PIXEL_FILL_BIT = 0
#: QA_PIXEL bits flagging dilated cloud, cirrus, cloud and cloud shadow.
QA_PIXEL_CLOUD_BITS = (1, 2, 3, 4)


def _scl_codes() -> np.ndarray:
    """Quality code of each SCL class 0..255, then 0 (clear) for any other value (at 256 and
    at -1, i.e. 257)."""
    codes = np.zeros(258, np.uint8)
    codes[list(SCL_CLOUD)] = CLOUD
    codes[list(SCL_NODATA)] = NODATA
    return codes


_SCL_CODES = _scl_codes()


def scl_block(scl: np.ndarray) -> np.ndarray:
    """Block function: SCL classes (any numeric dtype, NaN allowed) -> quality codes (uint8).

    One table look-up per pixel (5x faster than testing membership): a NaN
    (outside the quality raster) is nodata, a value that is no SCL class (below
    0 or above 255) is clear.
    """
    values = np.asarray(scl)
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=0.0, posinf=-1.0, neginf=-1.0)
    classes = values.astype(np.int64)
    np.clip(classes, -1, 256, out=classes)
    return _SCL_CODES[classes]


def qa_pixel_block(qa: np.ndarray) -> np.ndarray:
    """Block function: Landsat QA_PIXEL flags (any numeric dtype, NaN allowed) -> quality codes."""
    values = np.asarray(qa)
    missing = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    flags = np.where(missing, 0, values).astype(np.int64)
    cloud_bits = sum(1 << b for b in QA_PIXEL_CLOUD_BITS)
    out = np.zeros(values.shape, dtype=np.uint8)
    out[(flags & cloud_bits) != 0] = CLOUD
    out[((flags >> QA_PIXEL_FILL_BIT) & 1 == 1) | missing] = NODATA
    return out


_BLOCKS = {"scl": scl_block, "qa_pixel": qa_pixel_block}


def _combine_block(*codes: np.ndarray) -> np.ndarray:
    """The strongest code per pixel (nodata > cloud > clear)."""
    return np.maximum.reduce(codes) if len(codes) > 1 else codes[0]


def quality_codes_block(layers: Mapping[str, np.ndarray]) -> np.ndarray:
    """Block function: quality codes from raw quality layers by band name (``scl``, ``qa_pixel``).

    The strongest code of the layers per pixel (nodata > cloud > clear), as
    :func:`quality_mask` gives for a scene carrying them.

    Parameters
    ----------
    layers
        Raw quality layers of one window, by band name.

    Returns
    -------
    numpy.ndarray
        uint8 codes (0 clear, 254 cloud, 255 nodata), the shape of the layers.
    """
    return _combine_block(*(_BLOCKS[name](values) for name, values in layers.items()))


def quality_mask(scene: xr.DataArray) -> xr.DataArray | None:
    """Quality codes of a scene from its ``scl`` and/or ``qa_pixel`` bands, lazily.

    Parameters
    ----------
    scene
        ``(band, y, x)`` DataArray from :func:`~landmask.open_scene`.

    Returns
    -------
    xarray.DataArray or None
        ``(y, x)`` uint8 (0 clear, 254 cloud, 255 nodata) on the scene's grid
        and chunks, or None when the scene has no quality band. Each chunk costs
        one read of the quality band's chunk.
    """
    present = [str(b) for b in scene["band"].values if str(b) in QUALITY_BANDS]
    if not present:
        return None
    parts = []
    for name in present:
        band = as_dask(scene.sel(band=name))
        parts.append(
            da.map_blocks(_BLOCKS[name], band, dtype=np.uint8, meta=np.empty((0, 0), np.uint8))
        )
    data = parts[0] if len(parts) == 1 else da.map_blocks(_combine_block, *parts, dtype=np.uint8)

    out = mask_like(scene, data, name="quality")
    return out.assign_attrs(quality_bands=present)


def apply_quality_block(mask: np.ndarray, quality: np.ndarray, unbound: bool = False) -> np.ndarray:
    """Block function: class ids with quality codes laid over them.

    255 in either stays 255; otherwise 254 in ``quality`` makes the pixel 254;
    otherwise the class id is kept. ``unbound``: the mask is 255 because a
    scene-wide statistic had no clear pixel, not for want of reflectance, so
    254 in ``quality`` makes the pixel 254 whatever the mask says.
    """
    hidden = quality == CLOUD
    if not unbound:
        hidden &= mask != NODATA
    out = np.where(hidden, np.uint8(CLOUD), mask)
    out[quality == NODATA] = NODATA
    return out.astype(np.uint8, copy=False)


def apply_quality(mask: xr.DataArray, quality: xr.DataArray | None) -> xr.DataArray:
    """Mark a mask's cloud (254) and no-data (255) pixels from quality codes, lazily.

    ``quality`` is the output of :func:`quality_mask` on the same grid (None
    returns ``mask`` unchanged). The result keeps the mask's chunks, coordinates,
    CRS, transform and attributes. A mask whose rules' scene-wide statistics
    found no clear pixel (NaN ``THRESHOLD_*`` attributes: all 255) takes the
    quality codes' cloud (254) wherever they say cloud.
    """
    if quality is None:
        return mask
    if quality.shape != mask.shape:
        raise ValueError(f"quality {quality.shape} and mask {mask.shape} differ in shape")
    m = as_dask(mask)
    q = as_dask(quality)
    q = q.rechunk(m.chunks)
    unbound = any(math.isnan(v) for v in thresholds_of(mask).values())
    data = da.map_blocks(
        apply_quality_block, m, q, unbound, dtype=np.uint8, meta=np.empty((0, 0), np.uint8)
    )
    bands = quality.attrs.get("quality_bands", [])
    return mask.copy(data=data).assign_attrs(quality=",".join(bands))


def mask_like(scene: xr.DataArray, data: da.Array, name: str) -> xr.DataArray:
    """Wrap a ``(y, x)`` uint8 array as a mask on ``scene``'s grid, nodata 255."""
    spatial = scene.isel(band=0, drop=True) if "band" in scene.dims else scene
    mask = xr.DataArray(data, dims=("y", "x"), coords=spatial.coords, name=name)
    mask = mask.rio.write_nodata(NODATA, encoded=False)
    if spatial.rio.crs is not None:
        mask = mask.rio.write_crs(spatial.rio.crs)
    return mask.rio.write_transform(spatial.rio.transform())
