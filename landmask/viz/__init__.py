"""Figures: matplotlib plots and PNG previews."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.viz.plot import confusion_matrix, index_map, mask_image, probability_map
    from landmask.viz.preview import write_preview

__all__ = ["confusion_matrix", "index_map", "mask_image", "probability_map", "write_preview"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "confusion_matrix": "landmask.viz.plot",
        "index_map": "landmask.viz.plot",
        "mask_image": "landmask.viz.plot",
        "probability_map": "landmask.viz.plot",
        "write_preview": "landmask.viz.preview",
    },
)
