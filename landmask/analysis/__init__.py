"""Areas of masks: class areas, zonal statistics, change between dates."""

from __future__ import annotations

from landmask.analysis.areas import ClassArea, class_areas
from landmask.analysis.change import Transitions, change, transitions
from landmask.analysis.zonal import zonal_stats

__all__ = ["ClassArea", "Transitions", "change", "class_areas", "transitions", "zonal_stats"]
