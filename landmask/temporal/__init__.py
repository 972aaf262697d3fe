"""Dates -> one composite: scenes of a period warped onto a target grid and reduced per pixel.

:func:`composite` (in :mod:`landmask.temporal.composite`) is the public entry;
:mod:`landmask.temporal.dates` finds each input's acquisition time,
:mod:`landmask.temporal.statistics` names and computes the per-pixel
statistics (block functions), :mod:`landmask.temporal.warp` warps a source
window onto a chunk of the target grid (block functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.temporal.composite import composite
    from landmask.temporal.statistics import parse_features, parse_stats

__all__ = ["composite", "parse_features", "parse_stats"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "composite": "landmask.temporal.composite",
        "parse_features": "landmask.temporal.statistics",
        "parse_stats": "landmask.temporal.statistics",
    },
)
