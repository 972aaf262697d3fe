"""An example landmask model plug-in: forest where NDVI is high.

Registered under the entry-point group ``landmask.models`` as ``greenness``;
``--model greenness:0.6`` sets the NDVI threshold. When the environment
variable ``LANDMASK_PLUGIN_LOG`` names a file, each load appends this
process's id to it (tests count loads per process).
"""

from __future__ import annotations

import os

import numpy as np


class Greenness:
    """Probability of forest rising steeply with NDVI around a threshold."""

    classes = (0, 1)
    bands = ("red", "nir")
    halo = 0

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.name = f"greenness:{threshold}"

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        red, nir = block[0], block[1]
        with np.errstate(all="ignore"):
            ndvi = (nir - red) / (nir + red)
            forest = 1.0 / (1.0 + np.exp(-40.0 * (ndvi - self.threshold)))
        return np.stack([1.0 - forest, forest]).astype(np.float32)


def greenness(arg: str | None = None) -> Greenness:
    log = os.environ.get("LANDMASK_PLUGIN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    return Greenness(float(arg) if arg else 0.5)
