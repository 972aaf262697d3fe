"""Whole real scenes (tests/data/*/README.md), classified as a new user would.

Each scene is opened with only the options a user types (files, a band
mapping, a sensor or a scale; never a rule set) through the functions of
``scripts/real_scenes.py``, which print the README's tables. The bounds are
issue 19's plausibility targets where it sets them, else the measured figure
with a margin, each said where it is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from calibration import load_script

real = load_script("real_scenes")
SCENES = real.SCENES


def test_fixtures_are_small_and_documented():
    total = 0
    for scene in SCENES.values():
        folder = scene.paths[0].parent
        readme = (folder / "README.md").read_text()
        assert "Licence" in readme and "Source" in readme
        total += sum(p.stat().st_size for p in folder.iterdir())
    assert total < 5_000_000
    assert [s.name for s in SCENES.values() if s.held_out] == ["rstoolbox-landsat5"]


@pytest.mark.parametrize("name", [n for n, s in SCENES.items() if s.labels])
def test_labels_fall_on_the_scene(name):
    """Every label class has pixels on the raster (the CRS of labels and raster agree)."""
    burned, names = real.label_raster(SCENES[name])
    counts = np.bincount(burned[burned >= 0].ravel(), minlength=len(names))
    assert (counts > 0).all(), dict(zip(names, counts, strict=True))


@pytest.mark.parametrize("name", list(SCENES))
def test_mask_keeps_the_scene_grid(name):
    scene = SCENES[name]
    data = real.open_real(scene)
    mask, _ = real.classify_real(scene)
    with rasterio.open(scene.paths[0]) as src:
        assert mask.shape == src.shape
        nodata = src.read_masks(1) == 0
    # nodata in the input is nodata in the mask, and nowhere else without a reason
    assert (mask[nodata] == 255).all()
    assert set(np.unique(mask)) <= {0, 1, 2, 3, 255}
    assert data.sizes["y"] == mask.shape[0]
