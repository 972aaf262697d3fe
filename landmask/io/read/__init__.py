"""Reading: scenes into lazy ``(band, y, x)`` reflectance, masks and images, on one grid."""

from __future__ import annotations

from landmask.io.read.masks import open_image, open_mask
from landmask.io.read.scene import SceneOptions, open_scene
from landmask.io.read.schemes import resolve_scheme

__all__ = ["SceneOptions", "open_image", "open_mask", "open_scene", "resolve_scheme"]
