"""Reading: scenes into lazy ``(band, y, x)`` reflectance, masks and images, on one grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.io.read.masks import open_image, open_mask
    from landmask.io.read.scene import SceneOptions, open_scene
    from landmask.io.read.schemes import resolve_scheme

__all__ = ["SceneOptions", "open_image", "open_mask", "open_scene", "resolve_scheme"]

# workers and light modules import one reader (io.read.schemes) without Dask and rioxarray
export_lazily(
    __name__,
    {
        "SceneOptions": "landmask.io.read.scene",
        "open_image": "landmask.io.read.masks",
        "open_mask": "landmask.io.read.masks",
        "open_scene": "landmask.io.read.scene",
        "resolve_scheme": "landmask.io.read.schemes",
    },
)
