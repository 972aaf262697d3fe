"""Writing rasters: Cloud-Optimized GeoTIFFs, overviews, GIS styling sidecars, tables, mosaics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.io.write.rasters import write_image, write_indices, write_mask

__all__ = ["write_image", "write_indices", "write_mask"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "write_image": "landmask.io.write.rasters",
        "write_indices": "landmask.io.write.rasters",
        "write_mask": "landmask.io.write.rasters",
    },
)
