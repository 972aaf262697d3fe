"""Dates -> one composite: scenes of a period warped onto a target grid and reduced per pixel.

:func:`composite` (in :mod:`landmask.temporal.composite`) is the public entry;
:mod:`landmask.temporal.dates` finds each input's acquisition time,
:mod:`landmask.temporal.statistics` names and computes the per-pixel
statistics (block functions), :mod:`landmask.temporal.warp` warps a source
window onto a chunk of the target grid (block functions).
"""

from __future__ import annotations

from landmask.temporal.composite import composite
from landmask.temporal.statistics import parse_features, parse_stats

__all__ = ["composite", "parse_features", "parse_stats"]
