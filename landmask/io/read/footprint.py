"""Which band blanks the map: a pixel without data in any band the model reads is nodata.

A band with a smaller footprint than the others (a 20 m band cut at another
edge, a file with a stripe of fill) turns everything outside its footprint into
nodata (255) without a word. :func:`warn_nodata_footprint` names the band when
the mask came out more than a tenth nodata: it looks at the scene decimated to
at most 512 pixels a side (one more read of the scene, only in that case).
:func:`warn_empty_mask` says it once when no pixel at all could be classified.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

from landmask.classes import CLOUD, NODATA
from landmask.errors import NodataFootprintWarning

__all__ = [
    "BLANKING_SHARE",
    "blanking_shares",
    "warn_empty_mask",
    "warn_nodata_footprint",
    "warn_training_footprint",
]

#: share of the map a band must blank alone before it is named
BLANKING_SHARE = 0.1


def blanking_shares(scene: xr.DataArray, max_side: int = 512) -> dict[str, float]:
    """Per band of a ``(band, y, x)`` reflectance scene (NaN = no data): the share of the
    map where that band has no data but another band has, on a decimated grid."""
    h, w = scene.shape[-2:]
    step = max(1, math.ceil(max(h, w) / max_side))
    small = np.asarray(scene.isel(y=slice(None, None, step), x=slice(None, None, step)).values)
    missing = np.isnan(small.astype(np.float32, copy=False))
    seen = ~missing.all(axis=0)
    if not missing.size:
        return {}
    return {
        str(name): float((missing[k] & seen).mean()) for k, name in enumerate(scene["band"].values)
    }


def warn_nodata_footprint(
    scene: xr.DataArray,
    counts: Mapping[int, int],
    *,
    share: float = BLANKING_SHARE,
    skip: tuple[str, ...] = (),
) -> list[str]:
    """Warn (:class:`~landmask.errors.NodataFootprintWarning`, once) naming each band whose
    nodata footprint alone blanks more than ``share`` of the map.

    ``counts``: the written mask's pixels per class id; nothing is read unless
    nodata (255) is more than ``share`` of them. ``skip``: bands not to name
    (quality layers). Returns the bands named.
    """
    total = sum(counts.values())
    if not total or counts.get(NODATA, 0) / total <= share:
        return []
    shares = _blanking(scene, share, skip)
    if shares:
        warnings.warn(
            NodataFootprintWarning(
                f"{counts.get(NODATA, 0) / total:.0%} of the map is nodata: band {_said(shares)} "
                "has no data where the other bands have (a smaller footprint or a stripe of "
                "fill); those pixels are 255 in the mask"
            ),
            stacklevel=2,
        )
    return sorted(shares)


def warn_empty_mask(counts: Mapping[int, int], *, said: bool = False) -> bool:
    """Warn (:class:`~landmask.errors.NodataFootprintWarning`) when a written mask has no
    classified pixel: every pixel nodata (255) or cloud (254), as for a scene outside the
    swath, all fill or all cloud. Such a mask is a result, not an error (a batch goes on).

    ``said``: the user was told already (a scene-wide statistic found no valid pixel,
    :func:`landmask.spectral.thresholds.resolve_thresholds`), so one warning line is all.
    Returns whether the mask is empty.
    """
    total = sum(counts.values())
    empty = total > 0 and counts.get(NODATA, 0) + counts.get(CLOUD, 0) == total
    if empty and not said:
        hidden = "nodata or cloud" if counts.get(CLOUD, 0) else "nodata"
        warnings.warn(
            NodataFootprintWarning(
                f"no pixel of the scene could be classified: all {total:,} are {hidden} (no "
                "valid pixel: all fill, all cloud or outside the swath); the mask is written "
                "as such"
            ),
            stacklevel=2,
        )
    return empty


def warn_training_footprint(
    scene: xr.DataArray, *, share: float = BLANKING_SHARE, skip: tuple[str, ...] = ()
) -> list[str]:
    """Warn (:class:`~landmask.errors.NodataFootprintWarning`, once) naming each band whose
    nodata footprint alone leaves more than ``share`` of the scene out of training (a
    pixel with any band missing is never sampled). One decimated read of the scene."""
    shares = _blanking(scene, share, skip)
    if shares:
        warnings.warn(
            NodataFootprintWarning(
                f"band {_said(shares)} has no data where the other bands have (a smaller "
                "footprint or a stripe of fill): labelled pixels there are left out of training"
            ),
            stacklevel=2,
        )
    return sorted(shares)


def _blanking(scene: xr.DataArray, share: float, skip: tuple[str, ...]) -> dict[str, float]:
    return {b: s for b, s in blanking_shares(scene).items() if b not in skip and s > share}


def _said(shares: Mapping[str, float]) -> str:
    return ", ".join(f"{b} ({s:.0%})" for b, s in sorted(shares.items(), key=lambda p: -p[1]))
