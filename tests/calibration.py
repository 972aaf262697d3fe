"""Scripts of scripts/ imported as modules, for the tests of the real-spectra test set.

``scripts/accuracy_on_real_data.py`` prints the README's "Accuracy on real
data" tables; the tests import that same module, so what they assert is what
the README shows. :func:`default_water` and :func:`default_forest` are the
independent reading of ``default`` those figures are checked against.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str = "accuracy_on_real_data") -> ModuleType:
    """``scripts/NAME.py`` as a module (imported once). The scripts import each other by
    name, as they do when run from scripts/, so that folder goes on ``sys.path``."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


def default_water(bands: dict[str, np.ndarray]) -> np.ndarray:
    """``default``'s water rule, read from its YAML by hand, in numpy: ``mndwi > 0 and
    (ndwi > 0 or ndvi > 0.2)``. ``bands`` as in :func:`default_forest`; False where missing."""
    b = bands
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (b["nir"] - b["red"]) / (b["nir"] + b["red"])
        mndwi = (b["green"] - b["swir16"]) / (b["green"] + b["swir16"])
        ndwi = (b["green"] - b["nir"]) / (b["green"] + b["nir"])
    return (mndwi > 0) & ((ndwi > 0) | (ndvi > 0.2))


def default_forest(
    bands: dict[str, np.ndarray],
    ndvi_cut: float = 0.5,
    dark_cut: float = 0.08,
    *,
    neighbours: bool = False,
    nir_cut: float | None = 0.47,
) -> np.ndarray:
    """``default``'s forest (after its water rule), read from its YAML by hand, in numpy.

    ``bands``: blue, green, red, nir, swir16, swir22 as float64 arrays of one shape. Water
    (:func:`default_water`) first; forest: green and canopy-dark (``ndvi >
    ndvi_cut``, canopy darkness below ``dark_cut``), or the canopy's edge: ``ndvi_cut + 0.1``,
    ``dark_cut + 0.02`` and a pixel of the 3 x 3 window (``neighbours``: 2-D rasters, scipy's
    minimum over the finite values, the raster's edge held) below ``dark_cut``; both with NIR
    below ``nir_cut`` (None: without it, ``default`` before session 10). Without
    ``neighbours`` each sample is an even field, its own darkest neighbour. False where a value
    is missing.
    """
    b = bands
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (b["nir"] - b["red"]) / (b["nir"] + b["red"])
    dark = ((b["blue"] + b["green"] + b["red"]) / 3 + b["swir22"]) / 2
    darkest = dark
    if neighbours:
        from scipy import ndimage

        finite = np.where(np.isfinite(dark), dark, np.inf)
        darkest = ndimage.minimum_filter(finite, 3, mode="constant", cval=np.inf)
    water = default_water(b)
    core = (ndvi > ndvi_cut) & (dark < dark_cut)
    edge = (ndvi > ndvi_cut + 0.1) & (dark < dark_cut + 0.02) & (darkest < dark_cut)
    shaded = b["nir"] < nir_cut if nir_cut is not None else np.ones(dark.shape, bool)
    return ~water & (core | edge) & shaded
