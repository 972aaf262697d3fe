"""Digital numbers -> surface reflectance, the block function every scene read goes through.

``reflectance = DN * scale + offset`` in float32, so unsigned inputs never wrap,
and the band's nodata value becomes NaN. :mod:`landmask.scene` applies it to
each chunk it reads; :func:`landmask.rules.classify_dn_block` applies it strip
by strip while classifying, so a scene read only for its mask never holds a
float32 copy of a whole chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scaling", "to_reflectance"]


@dataclass(frozen=True)
class Scaling:
    """How one band's digital numbers become reflectance."""

    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None


def to_reflectance(
    raw: np.ndarray, scale: float, offset: float, nodata: float | None, out: np.ndarray
) -> np.ndarray:
    """Block function: digital numbers -> float32 reflectance, nodata -> NaN.

    Works in float32 so unsigned inputs never wrap; writes into ``out``.
    """
    np.multiply(raw, np.float32(scale), out=out, dtype=np.float32, casting="unsafe")
    if offset:
        out += np.float32(offset)
    if nodata is not None and not np.isnan(nodata):
        out[raw == nodata] = np.nan
    return out
