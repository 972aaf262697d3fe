"""PNG previews of masks, read from the file's overviews (cheap on any size)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning

from landmask.classes import LANDCOVER, NODATA, ClassScheme
from landmask.errors import ReadError
from landmask.write import atomic_path

__all__ = ["write_preview"]


def write_preview(
    mask_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    *,
    max_size: int = 1024,
    scheme: ClassScheme = LANDCOVER,
) -> Path:
    """Write a colour-coded PNG of a mask, at most ``max_size`` pixels a side.

    Reads a decimated copy (GDAL picks the nearest internal overview, mode
    resampled), so the cost does not grow with the mask. Nodata is transparent.
    """
    out = Path(png_path)
    try:
        with rasterio.open(mask_path) as ds:
            factor = max(1, int(np.ceil(max(ds.width, ds.height) / max_size)))
            shape = (max(1, ds.height // factor), max(1, ds.width // factor))
            data = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    except rasterio.errors.RasterioError as exc:
        raise ReadError(f"{mask_path}: cannot read mask ({exc})") from None
    with atomic_path(out) as tmp:
        profile = {
            "driver": "PNG",
            "width": shape[1],
            "height": shape[0],
            "count": 1,
            "dtype": "uint8",
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", nodata=NODATA, **profile) as dst:
                dst.write(data, 1)
                dst.write_colormap(1, scheme.colormap)
        aux = tmp.with_name(tmp.name + ".aux.xml")
        if aux.exists():
            aux.unlink()
    return out
