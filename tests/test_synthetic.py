"""The synthetic generator's classes look like real measured pixels.

``landmask.synthetic``'s spectra are medians of groups of the real samples in
tests/data/calibration (scripts/synthetic_spectra.py). Here the scene's
per-class index distributions, on pixels at least two pixels inside their
class (away from the blur at edges), are compared with spyndex's labelled
Landsat 8 pixels: medians within 0.1 and 10th / 90th percentiles within 0.15
of the real ones, for NDVI, MNDWI, NDBI and NDWI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from calibration import load_script
from scipy import ndimage

from landmask.synthetic import BANDS, ENDMEMBERS, make_scene

INDICES = {
    "ndvi": ("nir", "red"),
    "mndwi": ("green", "swir16"),
    "ndbi": ("swir16", "nir"),
    "ndwi": ("green", "nir"),
}
MEDIAN_TOL, QUANTILE_TOL = 0.1, 0.15
REAL = pd.read_csv(load_script().DATA / "landsat8_spyndex.csv")


def normalized_differences(bands):
    return {k: (bands[a] - bands[b]) / (bands[a] + bands[b]) for k, (a, b) in INDICES.items()}


@pytest.fixture(scope="module")
def scene():
    return make_scene(512, 1)


@pytest.mark.parametrize(
    ("class_id", "real_class"), [(1, "vegetation"), (2, "urban"), (3, "water")]
)
@pytest.mark.parametrize("index", list(INDICES))
def test_class_index_distributions_follow_real_pixels(scene, class_id, real_class, index):
    inside = ndimage.binary_erosion(scene.truth == class_id, iterations=2)
    syn = normalized_differences(dict(zip(BANDS, scene.reflectance, strict=True)))[index][inside]
    real_rows = REAL[REAL["class"] == real_class]
    real = normalized_differences({b: real_rows[b].to_numpy() for b in BANDS})[index]
    q_syn = np.nanpercentile(syn, [10, 50, 90])
    q_real = np.percentile(real, [10, 50, 90])
    assert abs(q_syn[1] - q_real[1]) <= MEDIAN_TOL, (q_syn, q_real)
    assert np.abs(q_syn[[0, 2]] - q_real[[0, 2]]).max() <= QUANTILE_TOL, (q_syn, q_real)


def test_endmembers_are_the_medians_the_script_derives():
    groups = load_script("synthetic_spectra").groups()
    assert set(groups) == set(ENDMEMBERS)
    for name, (class_id, _, samples) in groups.items():
        assert ENDMEMBERS[name][0] == class_id
        np.testing.assert_allclose(
            ENDMEMBERS[name][1], samples[list(BANDS)].median().to_numpy(), atol=0.0006
        )
