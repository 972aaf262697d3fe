"""The built-in ``annual`` rules on a real time series (eo-learn's TestEOPatch).

Every figure comes from landmask's own engine through the functions of
``scripts/annual_accuracy.py`` that print the README's table; the mask is
checked against an independent numpy computation of the rules.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from calibration import load_script

from landmask.cli import run
from landmask.spectral.rules import BUILTIN_RULESETS, load_rules

acc = load_script("annual_accuracy")


@pytest.fixture(scope="module")
def data():
    return acc.load()


@pytest.fixture(scope="module")
def mask(data):
    return acc.annual_mask(data)


@pytest.fixture(scope="module")
def tables(data, mask):
    return {
        "annual": acc.annual_table(data, mask),
        "default": acc.single_date_table(data),
        "best_cut": acc.best_cut_table(data),
    }


def test_vendored_subset_is_small_and_documented(data):
    path = acc.DATA / "testeopatch.npz"
    assert path.stat().st_size < 2_000_000
    readme = (acc.DATA / "README.md").read_text()
    assert "MIT" in readme and "303e75855880531d519264f847e7c6b2fb97104d" in readme
    with np.load(path) as npz:
        assert npz["ndvi"].shape == (68, 101, 100) and npz["clm"].shape == (68, 101, 100)
        ids, counts = np.unique(npz["lulc"], return_counts=True)
    assert dict(zip(ids.tolist(), counts.tolist(), strict=True)) == {
        0: 155,
        1: 11,
        2: 7601,
        3: 1777,
        4: 358,
        8: 198,
    }
    assert len(data["dates"]) == 30  # dates with at most 5% of the patch under clouds
    assert json.dumps(data["dates"].tolist())  # plain strings


def test_annual_is_builtin_and_reads_only_composite_bands():
    assert "annual" in BUILTIN_RULESETS
    rules = load_rules("annual")
    assert rules.names == {"ndvi_p10", "ndvi_p90", "clear_count"}


def percentile(values, q):
    """``q``-th percentile over axis 0 ignoring NaN (linear interpolation), by sorting."""
    ordered = np.sort(values, axis=0)  # NaN last
    count = np.isfinite(values).sum(axis=0)
    pos = q / 100 * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    a = np.take_along_axis(ordered, lo[None], 0)[0]
    b = np.take_along_axis(ordered, hi[None], 0)[0]
    return np.where(count > 0, a + (b - a) * (pos - lo), np.nan)


def test_annual_mask_equals_numpy_on_the_patch(data, mask):
    ndvi = data["ndvi"].astype(np.float64)
    seen = np.isfinite(ndvi).any(axis=0)
    p10, p90 = percentile(ndvi, 10), percentile(ndvi, 90)
    count = np.isfinite(ndvi).sum(axis=0)
    want = np.select(
        [p90 < 0, (p10 > 0.14) & (count >= 12), p90 < 0.65], [3, 1, 2], 0
    )  # landcover ids: forest 1, urban 2, water 3
    want[~seen] = 255
    scheme = load_rules("annual").scheme
    assert [scheme.id_of(c) for c in ("forest", "urban", "water")] == [1, 2, 3]
    # float32 percentiles (the engine) vs float64 (here) may differ at a cut
    assert np.count_nonzero(mask != want) <= 2  # measured: 0 of 10,100
    assert {0, 1, 2} <= set(np.unique(mask).tolist())


def test_annual_table_on_held_out_quadrants(tables):
    annual = tables["annual"]
    assert annual.loc["forest", "forest"] >= 0.95  # measured 0.98
    assert annual.loc["grassland", "forest"] <= 0.30  # 0.24
    assert annual.loc["cultivated", "forest"] <= 0.10  # 0.00 (11 pixels)
    assert annual.loc["artificial", "urban"] >= 0.45  # 0.50
    assert annual.loc["artificial", "urban"] > annual.loc["artificial", "forest"]
    assert annual.loc[:, "water"].max() == 0.0  # no water in the patch, none called
    np.testing.assert_allclose(annual.sum(axis=1), 1.0)


def test_annual_beats_single_dates_on_the_same_pixels(tables):
    annual, default, best = tables["annual"], tables["default"], tables["best_cut"]
    # the default rules' NDVI clauses call most grassland forest on a typical date
    assert default.loc["grassland", "forest"] >= 0.8  # measured 0.93
    # even the best NDVI cut of each date loses forest the composite keeps ...
    assert best.loc["forest", "forest"] <= annual.loc["forest", "forest"] - 0.1  # 0.77 vs 0.98
    # ... and calls more grassland forest
    assert best.loc["grassland", "forest"] > annual.loc["grassland", "forest"]  # 0.30 vs 0.24
    # never green over a year finds more built-up land than "not green" on one date
    assert (
        annual.loc["artificial", "urban"] >= default.loc["artificial", "urban"] + 0.15
    )  # 0.50/0.26


def test_ndvi_part_keeps_only_ndvi_comparisons():
    relaxed = acc.ndvi_part(load_rules("default"))
    assert all(rule.expr.names == {"ndvi"} for rule in relaxed.rules)
    assert [rule.class_name for rule in relaxed.rules] == ["forest", "urban"]


def test_ndvi_scene_reads_back_its_ndvi():
    values = np.array([[-0.2, 0.0, 0.45, 0.9]], np.float32)
    scene = acc.ndvi_scene(values)
    red, nir = scene.sel(band="red").values, scene.sel(band="nir").values
    np.testing.assert_allclose((nir - red) / (nir + red), values, atol=1e-6)


def test_cli_classifies_a_composite_file_with_annual(tmp_path, data, mask):
    comp = acc.composite(data["ndvi"])
    path = tmp_path / "year.tif"
    profile = {"driver": "GTiff", "count": 3, "dtype": "float32", "width": 100, "height": 101}
    transform = Affine(10, 0, 465181.05, 0, -10, 5080254.63)
    with rasterio.open(path, "w", **profile, crs="EPSG:32633", transform=transform) as ds:
        ds.write(comp.values)
        ds.descriptions = tuple(str(b) for b in comp["band"].values)
    out = tmp_path / "mask.tif"
    assert run(["classify", str(path), "--rules", "annual", "-o", str(out), "--quiet"]) == 0
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), mask)
