"""PNG previews of masks, read from the file's overviews (cheap on any size)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling

from landmask.classes import ClassScheme, check_mask
from landmask.errors import ConfigError, ReadError
from landmask.io.outputs import atomic_path
from landmask.io.read.schemes import resolve_scheme
from landmask.viz.plot import mask_image

# Imports: landmask's at the top; matplotlib is imported by the function that draws (a heavy
# import only previews need).

__all__ = ["read_decimated", "write_preview"]


def read_decimated(mask_path: str | os.PathLike[str], max_size: int = 1024) -> np.ndarray:
    """A copy of a mask at most ``max_size`` pixels a side.

    GDAL serves it from the nearest internal overview (mode-resampled in
    landmask's COGs), so the cost does not grow with the mask.
    """
    if not max_size >= 1:
        raise ConfigError(f"max_size {max_size}: must be at least 1 pixel")
    try:
        with rasterio.open(mask_path) as ds:
            check_mask(ds, str(mask_path))
            factor = max(1, int(np.ceil(max(ds.width, ds.height) / max_size)))
            shape = (max(1, ds.height // factor), max(1, ds.width // factor))
            return ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    except rasterio.errors.RasterioError:
        if not Path(mask_path).exists():
            raise ReadError(f"{mask_path}: no such file") from None
        raise ReadError(f"{mask_path}: cannot read as a raster") from None


def write_preview(
    mask_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    *,
    max_size: int = 1024,
    scheme: ClassScheme | str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a colour-coded PNG of a mask with a legend of the classes present.

    The map is at most ``max_size`` pixels a side (:func:`read_decimated`);
    nodata is transparent. Colours and names are those of ``scheme``, by
    default the scheme the mask file records (:func:`~landmask.io.read.schemes.resolve_scheme`:
    its ``CLASS_SCHEME`` tag, else its ``CLASS_<id>`` names and colour table,
    else ``landcover``). Without ``overwrite``, a file that appeared at
    ``png_path`` meanwhile is kept (:func:`~landmask.io.outputs.atomic_path`).
    """
    # a Figure of its own on an Agg canvas: no pyplot, so neither the backend
    # nor pyplot's list of figures changes (a notebook's stay as they were)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = read_decimated(mask_path, max_size)
    scheme = resolve_scheme(scheme, mask_path)
    h, w = data.shape
    dpi = 100
    fig = Figure(figsize=(w / dpi + 1.8, h / dpi + 0.2), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    mask_image(data, scheme, ax=ax)
    ax.set_axis_off()
    out = Path(png_path)
    with atomic_path(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", transparent=True)
    return out
