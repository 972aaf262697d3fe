"""Areas of masks: class areas, zonal statistics, change between dates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.analysis.areas import ClassArea, class_areas
    from landmask.analysis.change import Transitions, change, transitions
    from landmask.analysis.zonal import zonal_stats

__all__ = ["ClassArea", "Transitions", "change", "class_areas", "transitions", "zonal_stats"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "ClassArea": "landmask.analysis.areas",
        "Transitions": "landmask.analysis.change",
        "change": "landmask.analysis.change",
        "class_areas": "landmask.analysis.areas",
        "transitions": "landmask.analysis.change",
        "zonal_stats": "landmask.analysis.zonal",
    },
)
