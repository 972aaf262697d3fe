"""Resources a command is about to use, refused up front when they cannot be right.

:func:`check_declared_size`: a raster whose header declares far more pixels
than its file could hold (a 462 KB file declaring 200000² px) is refused before
anything is read or written: opening it would fill the disk with temporaries.
The free disk for temporaries is checked by :func:`landmask.io.write._cog.check_free_space`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from landmask.errors import ReadError

__all__ = ["MAX_RATIO", "check_declared_size"]

#: The largest uncompressed/file size ratio believed: DEFLATE stops near 1,000:1,
#: ZSTD on constant tiles a few times higher.
MAX_RATIO = 10_000
#: Rasters smaller than this, uncompressed, are never refused.
_SMALL = 1 << 30
_RASTERS = (".tif", ".tiff", ".jp2", ".img")


def check_declared_size(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse local rasters whose declared size is implausible for their file size.

    Only GeoTIFF, JPEG 2000 and ERDAS files on a local disk are checked (a VRT
    is small by design); only their headers are read.

    Raises
    ------
    ReadError
        One line naming the file, its declared size and its file size.
    """
    import rasterio

    for p in (os.fspath(x) for x in paths):
        if not p.lower().endswith(_RASTERS) or not os.path.isfile(p):
            continue
        size = os.path.getsize(p)
        try:
            with rasterio.open(p) as ds:
                width, height, count = ds.width, ds.height, ds.count
                itemsize = max(np.dtype(d).itemsize for d in ds.dtypes)
        except Exception:  # unreadable: the reader names the problem
            continue
        declared = width * height * count * itemsize
        if declared > _SMALL and declared > MAX_RATIO * max(size, 1):
            raise ReadError(
                f"{p}: declares {width}x{height} px x {count} bands "
                f"({declared / 1e9:,.1f} GB) in a {size / 1e3:,.0f} KB file: implausible, "
                "refused (a corrupt or hostile header?)"
            )
