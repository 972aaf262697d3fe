"""The built-in ``annual`` rules on real time series: eo-learn's TestEOPatch, WorldCereal's Corsica.

Every figure comes from landmask's own engine through the functions of
``scripts/annual_accuracy.py`` that print the README's tables; the masks are
checked against an independent numpy computation of the rules.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from calibration import load_script

import landmask
from landmask.classes import ANNUAL
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
    assert rules.scheme is ANNUAL
    assert rules.names == {
        "ndvi_p10",
        "ndvi_p90",
        "mndwi_p10",
        "mndwi_p90",
        "nir_p10",
        "nir_p90",
        "blue_median",
        "green_median",
        "red_median",
        "swir16_median",
        "swir22_median",
        "clear_count",
    }
    # what the README's composite command makes is enough
    assert rules.names <= {o.name for o in acc.ANNUAL_OUTPUTS} | {"clear_count"}


def test_relaxed_keeps_what_the_data_can_compare():
    rules = acc.annual_rules_for({})
    assert [r.class_name for r in rules.rules] == ["bare", "forest", "urban", "crops_grassland"]
    assert rules.names == {"ndvi_p10", "ndvi_p90", "clear_count"}
    assert str(rules.rules[0].expr) == "ndvi_p90 < 0.2"  # an upper bound of bare


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
        [p90 < 0.2, (p10 > 0.14) & (count >= 12), p90 < 0.65, (p90 >= 0.65) & (count >= 12)],
        [5, 1, 2, 6],
        0,
    )  # annual ids: forest 1, urban 2, bare 5, crops_grassland 6, other 0
    want[~seen] = 255
    ids = [ANNUAL.id(c) for c in ("forest", "urban", "bare", "crops_grassland", "other")]
    assert ids == [1, 2, 5, 6, 0]
    # float32 percentiles (the engine) vs float64 (here) may differ at a cut
    assert np.count_nonzero(mask != want) <= 2  # measured: 0 of 10,100
    assert {1, 2, 6} <= set(np.unique(mask).tolist())


def test_annual_table_on_held_out_quadrants(tables):
    annual = tables["annual"]
    assert annual.loc["forest", "forest"] >= 0.95  # measured 0.98
    assert annual.loc["grassland", "forest"] <= 0.30  # 0.24
    assert annual.loc["grassland", "crops_grassland"] >= 0.65  # 0.72
    assert annual.loc["cultivated", "forest"] <= 0.10  # 0.00 (11 pixels)
    assert annual.loc["cultivated", "crops_grassland"] >= 0.8  # 0.91
    assert annual.loc["artificial", "urban"] >= 0.45  # 0.50
    assert annual.loc["artificial", "urban"] > annual.loc["artificial", "forest"]
    # no water nor bare land in the patch: none called (the water rules cannot run on NDVI)
    assert annual.loc[:, ["water", "seasonal_water", "bare"]].to_numpy().max() == 0.0
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


def _write_composite(path, comp):
    count, height, width = comp.shape
    profile = {"driver": "GTiff", "count": count, "dtype": "float32"}
    transform = Affine(10, 0, 465181.05, 0, -10, 5080254.63)
    with rasterio.open(
        path, "w", **profile, width=width, height=height, crs="EPSG:32633", transform=transform
    ) as ds:
        ds.write(comp.values)
        ds.descriptions = tuple(str(b) for b in comp["band"].values)


def test_cli_classifies_a_composite_file_with_annual(tmp_path, corsica, corsica_mask):
    path = tmp_path / "year.tif"
    _write_composite(path, acc.corsica_composite(corsica))
    out = tmp_path / "mask.tif"
    assert run(["classify", str(path), "--rules", "annual", "-o", str(out), "--quiet"]) == 0
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1)[0], corsica_mask)
        assert ds.tags()["CLASS_SCHEME"] == "annual"
        assert ds.colormap(1)[ANNUAL.id("seasonal_water")][:3] == (0x8C, 0xC8, 0xF0)


def test_cli_refuses_a_composite_without_the_bands_it_reads(tmp_path, data, capsys):
    path = tmp_path / "ndvi-only.tif"
    _write_composite(path, acc.composite(data["ndvi"]))
    out = tmp_path / "mask.tif"
    assert run(["classify", str(path), "--rules", "annual", "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not in the scene" in err
    missing = err.split("band '")[1].split("'")[0]
    assert missing in load_rules("annual").names - {"ndvi_p10", "ndvi_p90", "clear_count"}
    assert not out.exists()


# --- WorldCereal's Corsica 2022 parcels: every band there, the rules run whole ---------


@pytest.fixture(scope="module")
def corsica():
    return acc.load_corsica()


@pytest.fixture(scope="module")
def corsica_mask(corsica):
    return acc.corsica_annual_mask(corsica)


@pytest.fixture(scope="module")
def corsica_tables(corsica, corsica_mask):
    return {
        "annual": acc.corsica_annual_table(corsica, corsica_mask),
        "default": acc.corsica_single_date_table(corsica),
    }


def test_corsica_subset_is_small_and_documented(corsica):
    path = acc.CORSICA / "corsica2022.npz"
    assert path.stat().st_size < 200_000
    readme = (acc.CORSICA / "README.md").read_text()
    assert "MIT" in readme and "6c574425857177d9476bcf0876895e368ce445bb" in readme
    assert corsica["reflectance"].shape == (12, 6, 500)  # (month, band, parcel)
    assert list(corsica["bands"]) == ["blue", "green", "red", "nir", "swir16", "swir22"]
    months = list(corsica["months"])
    assert months[0] == "2022-01-01" and months[-1] == "2022-12-01"
    groups, counts = np.unique(corsica["group"], return_counts=True)
    assert dict(zip(groups.tolist(), counts.tolist(), strict=True)) == {
        "built_up": 1,
        "grasslands": 224,
        "ignore": 71,
        "permanent_crops": 140,
        "temporary_crops": 25,
        "temporary_grasses": 18,
        "trees": 19,
        "wetlands": 2,
    }
    assert acc.corsica_held_out(corsica).sum() == 250
    assert ((corsica["lat"] > 41.3) & (corsica["lat"] < 43.1)).all()  # Corsica


def test_corsica_mask_equals_numpy(corsica, corsica_mask):
    refl = corsica["reflectance"].astype(np.float64)  # (month, band, parcel)
    refl = np.where(np.isfinite(refl).all(axis=1, keepdims=True), refl, np.nan)
    green, red, nir, swir16 = (refl[:, k] for k in (1, 2, 3, 4))
    ndvi, mndwi = (nir - red) / (nir + red), (green - swir16) / (green + swir16)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 2 parcels have no clear month
        med = {
            name: np.nanmedian(refl[:, k], axis=0)
            for k, name in enumerate(("blue", "green", "red", "nir", "swir16", "swir22"))
        }
    count = np.isfinite(ndvi).sum(axis=0)
    shade = ((med["blue"] + med["green"] + med["red"]) / 3 + med["swir22"]) / 2
    conditions = [
        (percentile(mndwi, 10) > 0) & (percentile(nir, 90) < 0.15),
        (percentile(mndwi, 90) > 0) & (percentile(nir, 10) < 0.10),
        (percentile(ndvi, 90) < 0.2) & (med["swir16"] > 0.3),
        (percentile(ndvi, 10) > 0.14) & (count >= 12) & (shade < 0.095),
        percentile(ndvi, 90) < 0.65,
        (percentile(ndvi, 90) >= 0.65) & (count >= 12),
    ]
    want = np.select(conditions, [3, 4, 5, 1, 2, 6], 0)
    # float32 (the engine) against float64 (here) may differ at a cut
    assert np.count_nonzero(corsica_mask != want) <= 2  # measured: 0 of 500
    assert {1, 2, 6} <= set(corsica_mask.tolist())


def test_corsica_held_out_table(corsica_tables):
    annual, default = corsica_tables["annual"], corsica_tables["default"]
    assert annual.loc["trees", "forest"] >= 0.8  # measured 0.92 (13 parcels)
    assert annual.loc["grasslands", "forest"] <= 0.65  # 0.54 (112)
    assert annual.loc["grasslands", "crops_grassland"] >= 0.3  # 0.39
    assert annual.loc["temporary_crops", "crops_grassland"] >= 0.65  # 0.78 (9)
    assert annual.loc["temporary_crops", "forest"] <= 0.25  # 0.11
    # the single months' default rules: as much forest in the trees, less in the grass
    assert default.loc["trees", "forest"] >= 0.75  # 0.85
    assert default.loc["grasslands", "forest"] <= annual.loc["grasslands", "forest"]  # 0.44
    np.testing.assert_allclose(annual.sum(axis=1), 1.0)


def test_corsica_forest_needs_the_shade_clause(corsica):
    """Without the canopy-shade clause the cold-winter NDVI cut calls Corsica's grass forest."""
    comp = acc.corsica_composite(corsica)
    shade_bands = {"blue_median", "green_median", "red_median", "swir22_median"}
    available = ({o.name for o in acc.ANNUAL_OUTPUTS} | {"clear_count"}) - shade_bands
    mask = np.asarray(landmask.classify(comp, acc.relaxed(load_rules("annual"), available)).values)
    truth, _ = acc._corsica_truth(corsica)
    grass = acc.corsica_held_out(corsica) & (truth == acc.CORSICA_GROUPS.index("grasslands"))
    assert np.mean(mask[0][grass] == ANNUAL.id("forest")) >= 0.9  # measured 0.98


def test_uncalibrated_water_and_bare_rules_call_no_green_parcel(corsica, corsica_mask):
    """Not a calibration: the only real check of the water and bare rules (no such labels).

    One parcel is called seasonal water: declared grassland, on the east coast, and dark
    in every band all year (NIR at most 0.065, NDVI never above 0.1): water or wet dark
    ground by its spectra, whatever its label. No parcel that is ever green is called
    water, seasonal water or bare.
    """
    comp = acc.corsica_composite(corsica)
    called = np.isin(corsica_mask, [ANNUAL.id(c) for c in ("water", "seasonal_water", "bare")])
    (k,) = np.flatnonzero(called)
    assert corsica["sample_id"][k] == "2022_FRA_LPIS_POLY_110_1029320"
    assert corsica_mask[k] == ANNUAL.id("seasonal_water")
    assert corsica["group"][k] == "grasslands"
    assert np.nanmax(corsica["reflectance"][:, :, k]) < 0.07
    green_ever = comp.sel(band="ndvi_p90").values[0] >= 0.3
    assert green_ever.sum() == 494  # of 500 (2 have no clear month, 4 stay below 0.3)
    assert not called[green_ever].any()


def test_seasonal_water_nir_clause_keeps_a_bright_built_parcel_out(corsica, corsica_mask):
    """Corsica's built-up parcel has MNDWI above 0 on its wettest dates but bright NIR."""
    (k,) = np.flatnonzero(corsica["group"] == "built_up")
    comp = acc.corsica_composite(corsica)
    assert comp.sel(band="mndwi_p90").values[0][k] > 0  # 0.07: the MNDWI clause alone fires
    assert comp.sel(band="nir_p10").values[0][k] > 0.3  # 0.40: never NIR-dark
    assert corsica_mask[k] == ANNUAL.id("urban")


def test_the_shade_cut_is_the_calibration_halfs_best(corsica):
    """annual.yaml's 0.095 is what the northern half gives; the southern half played no part."""
    cut, balanced = acc.best_shade_cut(corsica)
    assert cut == 0.095 and balanced == pytest.approx(0.84, abs=0.005)
    assert "< 0.095" in next(r.text for r in load_rules("annual").rules if r.class_name == "forest")


# --- WorldCereal's Uganda and South Sudan 2017 fields: a third region, nothing tuned -------


@pytest.fixture(scope="module")
def east_africa():
    return acc.load_east_africa()


def test_east_africa_subset_is_small_and_documented(east_africa):
    path = acc.EAST_AFRICA / "eastafrica2017.npz"
    assert path.stat().st_size < 200_000
    readme = (acc.EAST_AFRICA / "README.md").read_text()
    assert "MIT" in readme and "6c574425857177d9476bcf0876895e368ce445bb" in readme
    assert east_africa["reflectance"].shape == (12, 6, 500)
    months = list(east_africa["months"])
    assert months[0] == "2016-12-01" and months[-1] == "2017-11-01"
    groups, counts = np.unique(east_africa["group"], return_counts=True)
    assert dict(zip(groups.tolist(), counts.tolist(), strict=True)) == {
        "built_up": 1,
        "grasslands": 5,
        "temporary_crops": 471,
        "trees": 23,
    }
    assert east_africa["held_out"].all()
    assert ((east_africa["lat"] > 0) & (east_africa["lat"] < 5.1)).all()


def test_east_africa_shows_where_the_european_cuts_fail(east_africa):
    """Savanna trees and dry-season crops never reach NDVI 0.65: most are called urban."""
    annual = acc.corsica_annual_table(east_africa)
    default = acc.corsica_single_date_table(east_africa)
    assert annual.loc["trees", "forest"] <= 0.1  # measured 0.00 (23 samples)
    assert annual.loc["trees", "urban"] >= 0.6  # 0.78
    assert annual.loc["temporary_crops", "urban"] >= 0.4  # 0.51 (471)
    assert annual.loc["temporary_crops", "crops_grassland"] <= 0.3  # 0.18
    assert annual.loc["temporary_crops", "forest"] <= 0.05  # 0.01
    # one month's default rules do no better on the trees
    assert default.loc["trees", "forest"] <= 0.1  # 0.00
    # the one built-up field is never green and bright at 1.6 um: called bare, not urban
    assert annual.loc["built_up", "bare"] == 1.0
    np.testing.assert_allclose(annual.sum(axis=1), 1.0)
