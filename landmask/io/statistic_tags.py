"""How a mask records and reports the scene-wide statistics its rules were bound to.

:func:`landmask.spectral.thresholds.resolve_thresholds` computes ``otsu(ndvi)``,
``percentile(red, 1)``, ... for a scene; this module holds what every output
and summary shares about them, and imports nothing heavy (STAC items and run
summaries use it): the attribute (and GeoTIFF tag) names, ``THRESHOLD_`` plus
the call (:data:`ATTR_PREFIX`), reading them back (:func:`thresholds_of`) and the
one summary line per statistic (:func:`describe_statistic`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ATTR_PREFIX", "describe_statistic", "thresholds_of"]

#: Prefix of the mask attributes (and GeoTIFF tags) that record thresholds.
ATTR_PREFIX = "THRESHOLD_"


def thresholds_of(arr: Any) -> dict[str, float]:
    """The statistics recorded in a mask's attributes (or the attributes themselves):
    ``{"otsu(mndwi)": 0.089, "percentile(red, 1)": 0.031}``."""
    attrs: Mapping[str, Any] = arr if isinstance(arr, Mapping) else arr.attrs
    n = len(ATTR_PREFIX)
    return {k[n:]: float(v) for k, v in attrs.items() if k.startswith(ATTR_PREFIX)}


def describe_statistic(name: str, value: float | None, over: str = "scene") -> str:
    """One line for a summary: ``threshold otsu(mndwi) = 0.089 (from the scene's histogram)``,
    ``statistic percentile(red, 1) = 0.0312 (...)``; None or NaN: no valid pixel. ``over``:
    what the histogram was of (a ``region`` run's statistics are its tiles' together)."""
    kind = "threshold" if name.startswith("otsu(") else "statistic"
    if (value is None or math.isnan(value)) and " where " in name:
        return f"{kind} {name}: no pixel where its condition holds (matches no pixel)"
    if value is None or math.isnan(value):
        return f"{kind} {name}: no valid pixel (the mask is all nodata or cloud)"
    return f"{kind} {name} = {value:.4g} (from the {over}'s histogram)"
