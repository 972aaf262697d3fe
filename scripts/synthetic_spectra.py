"""Print ``landmask.synthetic.ENDMEMBERS`` as derived from the real spectra.

Each synthetic material is the band-wise median of a group of real samples in
``tests/data/calibration/`` and, for grass, ``tests/data/enmap_potsdam/`` (see their
READMEs), so the generator's per-class
index distributions follow real ones (``tests/test_synthetic.py`` checks
them). Run from the repository root and paste the output into
``landmask/synthetic.py``::

    python scripts/synthetic_spectra.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "calibration"
POTSDAM = DATA.parent / "enmap_potsdam"
BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]


def _nd(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a - b) / (a + b)


def potsdam_low_vegetation() -> pd.DataFrame:
    """The EnMAP Potsdam scene's pixels labelled low vegetation (grass, meadows, crops)."""
    with rasterio.open(POTSDAM / "enmap_potsdam_s2bands.tif") as src:
        bands = src.read().astype("float64") / 10000
    with rasterio.open(POTSDAM / "enmap_potsdam_landcover.tif") as src:
        low = src.read(1) == 3
    return pd.DataFrame({b: bands[i][low] for i, b in enumerate(BANDS)})


def groups() -> dict[str, tuple[int, str, pd.DataFrame]]:
    """Material -> (class id, where its samples come from, the samples in S2 bands)."""
    l8 = pd.read_csv(DATA / "landsat8_spyndex.csv")
    lib = pd.read_csv(DATA / "earthlib_spectra.csv")
    s2 = lib[["group", *(f"s2_{b}" for b in BANDS)]].set_axis(["group", *BANDS], axis=1)
    veg = l8[l8["class"] == "vegetation"]
    urban = l8[l8["class"] == "urban"]
    water = l8[l8["class"] == "water"]
    bare = s2[s2["group"] == "bare"]
    redness = _nd(bare["red"], bare["blue"])
    bright = urban[["blue", "green", "red"]].mean(axis=1)
    dark_water = water["green"] <= water["green"].median()
    return {
        # typed grass and crops, not the greener Landsat 8 vegetation pixels: those are
        # untyped, as dark as trees in the visible and SWIR, and the rules call them forest
        "grass": (0, "EnMAP Potsdam low vegetation", potsdam_low_vegetation()),
        "stubble": (0, "earthlib dry vegetation (S2)", s2[s2["group"] == "npv"]),
        "soil": (0, "earthlib bare soil, redder half (S2)", bare[redness > redness.median()]),
        "pale_soil": (0, "earthlib bare soil, paler half (S2)", bare[redness <= redness.median()]),
        "forest": (1, "Landsat 8 vegetation, NDVI >= 0.7", veg[_nd(veg.nir, veg.red) >= 0.7]),
        "urban_dark": (
            2,
            "Landsat 8 urban, darkest third",
            urban[bright <= bright.quantile(1 / 3)],
        ),
        "urban_mid": (
            2,
            "Landsat 8 urban, middle third",
            urban[(bright > bright.quantile(1 / 3)) & (bright <= bright.quantile(2 / 3))],
        ),
        "urban_bright": (
            2,
            "Landsat 8 urban, brightest third",
            urban[bright > bright.quantile(2 / 3)],
        ),
        "water": (3, "Landsat 8 water, darker half in green", water[dark_water]),
        "turbid": (3, "Landsat 8 water, brighter half in green", water[~dark_water]),
    }


def main() -> None:
    for name, (class_id, what, samples) in groups().items():
        spectrum = np.round(samples[BANDS].median().to_numpy(), 3)
        values = ", ".join(f"{v:.3f}" for v in spectrum)
        print(f"    # {what}: median of {len(samples)}")
        print(f'    "{name}": ({class_id}, ({values})),')


if __name__ == "__main__":
    main()
