"""Exporting masks for other tools: a plain grayscale GeoTIFF of class ids, or RGB colours.

* **grayscale**: one uint8 band of class ids, nodata 255, no colour table
  (photometric MINISBLACK), class names in ``CLASS_<id>`` metadata and the GIS
  styling of :mod:`landmask.io.write.styling` beside it, so tools that read raw ids get
  raw ids and QGIS still shows the classes;
* **RGB**: four uint8 bands, red, green, blue and alpha, each pixel painted in
  its class colour; nodata (255) is fully transparent (alpha 0, colour 0, 0, 0),
  every other pixel opaque (an id the scheme lacks is black). There is no
  nodata value: the alpha band says what is empty.

Both are Cloud-Optimized GeoTIFFs written chunk by chunk through
:mod:`landmask.io.write.rasters` (512-px DEFLATE tiles, the mask's exact CRS and
transform, atomic). Overviews are the mode of the class ids, 2x2 cell by cell,
painted afterwards, so an overview pixel always has the colour of a class.
"""

from __future__ import annotations

import os

import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import NODATA, ClassScheme, check_mask, scheme_tags
from landmask.io.outputs import GEOTIFF, check_output
from landmask.io.read.masks import open_mask
from landmask.io.read.schemes import resolve_scheme
from landmask.io.stac.items import Lineage
from landmask.io.write.overviews import overview_levels
from landmask.io.write.rasters import (
    TILE,
    CogJob,
    WriteResult,
    store_cogs,
    tile_aligned,
    write_mask,
)

__all__ = ["colorize_block", "export_mask", "rgba_table"]


def rgba_table(scheme: ClassScheme) -> np.ndarray:
    """A ``(256, 4)`` uint8 table: class id -> red, green, blue, alpha.

    Classes of ``scheme`` take their colour, opaque; nodata (255) is
    transparent black; ids the scheme lacks are opaque black.
    """
    table = np.zeros((256, 4), dtype=np.uint8)
    table[:, 3] = 255
    for c in scheme:
        table[c.id] = c.rgba
    table[NODATA] = (0, 0, 0, 0)
    return table


def colorize_block(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Block function: ``(1, y, x)`` uint8 class ids -> ``(4, y, x)`` uint8 RGBA."""
    return np.moveaxis(table[ids[0]], -1, 0)


def _paint(ids: da.Array, table: np.ndarray) -> da.Array:
    chunks = ((4,), *ids.chunks[1:])
    return da.map_blocks(colorize_block, ids, table=table, chunks=chunks, dtype=np.uint8)


def _recode_nodata(block: np.ndarray, nodata: int) -> np.ndarray:
    """Block function: the file's nodata value -> 255."""
    return np.where(block == nodata, np.uint8(NODATA), block)


def _nodata_as_255(mask: xr.DataArray) -> xr.DataArray:
    """A mask whose file marks nodata with another value (ESA WorldCover: 0) with 255 there."""
    nodata = mask.rio.nodata
    if nodata is None or np.isnan(nodata) or int(nodata) == NODATA or not 0 <= nodata < NODATA:
        return mask
    data = mask.data
    recoded = (
        da.map_blocks(_recode_nodata, data, nodata=int(nodata), dtype=np.uint8)
        if isinstance(data, da.Array)
        else _recode_nodata(np.asarray(data), int(nodata))
    )
    return mask.copy(data=recoded).rio.write_nodata(NODATA, encoded=False)


def export_mask(
    mask: xr.DataArray | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    rgb: bool = False,
    scheme: ClassScheme | str | None = None,
    overwrite: bool = False,
    chunk_size: int | None = None,
    stac: bool = True,
) -> WriteResult:
    """Export a mask as a grayscale GeoTIFF of class ids or an RGB(A) colour GeoTIFF.

    Parameters
    ----------
    mask
        ``(y, x)`` uint8 mask, or the path of a mask file (opened lazily).
    path
        Output ``.tif``; its folder must exist.
    rgb
        Paint class colours (four bands, alpha transparent on nodata) instead
        of writing the class ids.
    scheme
        Class scheme (or its name) for names and colours; None: the one the
        mask records, else ``landcover`` (:func:`~landmask.io.read.schemes.resolve_scheme`).
    overwrite
        Replace an existing output.
    chunk_size
        Chunk side when ``mask`` is a path (default 2048).
    stac
        Write a STAC item beside it (:mod:`landmask.io.stac.items`); the RGB export
        has no ``classification:classes`` (its pixels are colours).

    Returns
    -------
    WriteResult
        The path, and for grayscale the pixels of each class id.

    Memory is a few chunks whatever the size: every chunk is read, painted
    and written by one task. A mask whose file marks nodata with another
    value (ESA WorldCover tiles use 0) is exported with 255 there.
    """
    if not isinstance(mask, xr.DataArray):
        path_in = os.fspath(mask)
        mask = open_mask(path_in, chunk_size)
        scheme = resolve_scheme(scheme, path_in)
    check_mask(mask, "export_mask")
    scheme = resolve_scheme(scheme, mask)
    mask = _nodata_as_255(mask)
    if not rgb:
        return write_mask(mask, path, overwrite=overwrite, scheme=scheme, colormap=False, stac=stac)
    out = check_output(path, overwrite, mask.attrs.get("sources", ()), fmt=GEOTIFF)
    ids = tile_aligned(as_dask(mask)[None])
    table = rgba_table(scheme)
    levels = overview_levels(ids, TILE, categorical=True, nodata=NODATA)
    tags = scheme_tags(scheme)
    profile = {
        "count": 4,
        "dtype": "uint8",
        "nodata": None,
        "crs": mask.rio.crs,
        "transform": mask.rio.transform(),
        "photometric": "RGB",
        "alpha": "YES",
    }
    job = CogJob(
        _paint(ids, table),
        out,
        profile,
        overwrite=overwrite,
        categorical=True,
        tags=tags,
        descriptions=["red", "green", "blue", "alpha"],
        colorinterp=["red", "green", "blue", "alpha"],
        levels=[_paint(level, table) for level in levels],
        item=Lineage.of(mask.attrs) if stac else None,
    )
    store_cogs([job])
    return WriteResult(out)
