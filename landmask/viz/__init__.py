"""Figures: matplotlib plots and PNG previews."""

from __future__ import annotations

from landmask.viz.plot import confusion_matrix, index_map, mask_image, probability_map
from landmask.viz.preview import write_preview

__all__ = ["confusion_matrix", "index_map", "mask_image", "probability_map", "write_preview"]
