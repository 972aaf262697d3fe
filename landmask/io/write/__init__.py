"""Writing rasters: Cloud-Optimized GeoTIFFs, overviews, GIS styling sidecars, tables, mosaics."""

from __future__ import annotations

from landmask.io.write.rasters import write_image, write_indices, write_mask

__all__ = ["write_image", "write_indices", "write_mask"]
