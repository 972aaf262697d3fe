"""Forest means trees: the built-in rules on labelled trees, crops and grass (issue 19, part 3).

The figures are those of ``scripts/forest_accuracy.py`` and the README's
forest-versus-other-vegetation table; the data are in ``tests/data/enmap_potsdam``.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from calibration import default_forest, load_script

fa = load_script("forest_accuracy")


@pytest.fixture(scope="module")
def potsdam():
    return fa.potsdam_table()


def test_data_is_small_documented_and_on_one_grid():
    readme = (fa.DATA / "README.md").read_text()
    assert "Licence" in readme and "Source" in readme
    assert sum(p.stat().st_size for p in fa.DATA.iterdir()) < 400_000
    with rasterio.open(fa.SCENE) as scene, rasterio.open(fa.LANDCOVER) as lc:
        assert (scene.crs, scene.transform, scene.shape) == (lc.crs, lc.transform, lc.shape)
        assert scene.descriptions == fa.BANDS
        bands, labels = scene.read(), lc.read(1)
    # labels only where there is data, and both classes of the question on both tile sets
    assert not ((labels > 0) & (bands[3] == fa.NODATA)).any()
    tune = fa.tuning_tiles(labels.shape)
    inner = fa.interiors(labels)
    for part in (tune, ~tune):
        assert (part & inner & (labels == 4)).sum() >= 300
        assert (part & inner & (labels == 3)).sum() >= 100


def test_interiors_against_scipy():
    """A pixel is interior where the 3 x 3 minimum and maximum of its labels agree."""
    from scipy import ndimage

    lc = fa.landcover()
    lo = ndimage.minimum_filter(lc, 3, mode="constant", cval=0)
    hi = ndimage.maximum_filter(lc, 3, mode="constant", cval=0)
    np.testing.assert_array_equal(fa.interiors(lc), (lo == hi) & (lc > 0))


def test_majority_against_a_count_of_each_label():
    """A pixel is "majority" where 5 or more of its 3 x 3 window carry its label."""
    from scipy import ndimage

    lc = fa.landcover()
    expect = np.zeros(lc.shape, bool)
    for k in range(1, 7):
        count = ndimage.correlate((lc == k).astype(int), np.ones((3, 3), int), mode="constant")
        expect |= (lc == k) & (count >= 5)
    got = fa.majority(lc)
    np.testing.assert_array_equal(got, expect)
    assert (fa.interiors(lc) <= got).all() and got.sum() > fa.interiors(lc).sum()


def test_potsdam_labels_against_a_numpy_reading_of_the_rules():
    """landmask's forest on the labelled pixels is the default rules' forest, computed here."""
    import landmask

    data = fa.open_potsdam()
    mask = np.asarray(landmask.classify(data).values)
    b = {name: data.sel(band=name).values.astype("float64") for name in fa.BANDS}
    # the 3 x 3 minimum of canopy darkness over the valid pixels (scipy on the whole raster)
    forest = default_forest(b, neighbours=True)
    lc = fa.landcover()
    where = (lc > 0) & (lc != 6) & (mask != 255)
    agree = ((mask == 1) == forest)[where].mean()
    assert agree >= 0.999  # float32 in the engine against float64 here
    # the neighbourhood term is exercised: forest only by a canopy-dark neighbour
    assert (forest & ~default_forest(b) & where).sum() > 100


@pytest.mark.parametrize("rules", ["default", "naip"])
def test_potsdam_mask_does_not_depend_on_the_chunks(rules):
    """The forest rule's 3 x 3 minimum is exact at seams: small misaligned chunks, one mask."""
    import landmask

    data = fa.open_potsdam()
    whole = landmask.classify(data.compute(), rules).values
    chunked = data.chunk({"band": -1, "y": 37, "x": 53})
    assert len(chunked.chunks[1]) > 3 and len(chunked.chunks[2]) > 3
    np.testing.assert_array_equal(landmask.classify(chunked, rules).values, whole)


def test_trees_against_low_vegetation_on_the_held_out_tiles(potsdam):
    held = potsdam.loc["held out"]
    # every labelled pixel, edges and street trees included: issue 19's targets, trees
    # >= 0.80, crops and grass <= 0.25 (before the neighbourhood term: 0.75, 0.07)
    assert held.loc[("all", "tree"), "forest"] >= 0.82  # measured 0.86
    assert held.loc[("all", "low vegetation"), "forest"] <= 0.22  # measured 0.19
    assert held.loc[("all", "tree"), ["urban", "water"]].sum() <= 0.05
    for built in ("roof", "pavement"):
        assert held.loc[("all", built), "forest"] <= 0.12  # measured 0.09, 0.08 (0.05, 0.03)
    # pixels whose 3 x 3 window is mostly their own class
    assert held.loc[("majority", "tree"), "forest"] >= 0.92  # measured 0.95 (0.84)
    assert held.loc[("majority", "low vegetation"), "forest"] <= 0.16  # measured 0.13 (0.03)
    # stand interiors
    assert held.loc[("interior", "tree"), "forest"] >= 0.95  # measured 1.00 (0.97)
    assert held.loc[("interior", "low vegetation"), "forest"] <= 0.05  # measured 0.01 (0.00)


def test_trees_against_low_vegetation_on_the_tuning_tiles(potsdam):
    tune = potsdam.loc["tuning"]
    assert tune.loc[("interior", "tree"), "forest"] >= 0.95  # measured 1.00 (0.97)
    assert tune.loc[("interior", "low vegetation"), "forest"] <= 0.05  # measured 0.00
    assert tune.loc[("all", "tree"), "forest"] >= 0.80  # measured 0.83 (0.75)
    assert tune.loc[("all", "low vegetation"), "forest"] <= 0.14  # measured 0.11 (0.04)


def test_held_out_berlin_library():
    """HyMap image spectra at 3.6 m: trees, and the grasses and crops dark enough to pass.

    Each spectrum in an even field of itself: the forest rule's neighbourhood term finds
    no darker neighbour, and what passes is canopy-dark on its own.
    """
    table = fa.library_table(fields=True)
    assert table.loc["tree", "forest"] >= 0.90  # measured 1.00 (13 of 13)
    # measured 0.28 (5 of 18: corn, sorghum, two lush grasslands, clover): issue 19's
    # target of 0.25 is missed here, see the README
    assert table.loc["low vegetation", "forest"] <= 0.35
    assert table.loc[["impervious", "soil", "water"], "forest"].max() == 0.0
    named = table.attrs["forest"]
    assert {"corn", "sorghum"} <= set(named)
    assert not {"sunflower", "potatoes", "grass (dry) 1", "grass (dry) 2"} & set(named)


def test_held_out_berlin_library_next_to_a_canopy():
    """The same spectra with the neighbourhood term taken as met (a darker canopy beside).

    A green lawn or crop beside a canopy-dark pixel is read as the canopy's edge: most of
    the library's green low vegetation would be forest there (README).
    """
    table = fa.library_table()
    assert table.loc["tree", "forest"] >= 0.90  # measured 1.00
    assert 0.45 <= table.loc["low vegetation", "forest"] <= 0.70  # measured 0.61 (11 of 18)
    assert table.loc[["impervious", "soil", "water"], "forest"].max() == 0.0
    assert not {"grass (dry) 1", "grass (dry) 2", "sunflower"} & set(table.attrs["forest"])


def test_naip_labels_against_a_numpy_reading_of_the_rules():
    """landmask's ``naip`` forest on blue..NIR is the naip rules' forest, computed here."""
    from scipy import ndimage

    import landmask

    data = fa.open_potsdam().sel(band=list(fa.VNIR))
    mask = np.asarray(landmask.classify(data, "naip").values)
    b = {name: data.sel(band=name).values.astype("float64") for name in fa.VNIR}
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (b["nir"] - b["red"]) / (b["nir"] + b["red"])
        ndwi = (b["green"] - b["nir"]) / (b["green"] + b["nir"])
    vis = (b["blue"] + b["green"] + b["red"]) / 3
    # the 5 x 5 minimum of the visible mean over the valid pixels (scipy on the whole raster)
    darkest = ndimage.minimum_filter(
        np.where(np.isfinite(vis), vis, np.inf), 5, mode="constant", cval=np.inf
    )
    core = (ndvi > 0.5) & (vis < 0.045)
    edge = (ndvi > 0.6) & (vis < 0.08) & (darkest < 0.045)
    forest = ~(ndwi > 0) & (core | edge)
    lc = fa.landcover()
    where = (lc > 0) & (lc != 6) & (mask != 255)
    agree = ((mask == 1) == forest)[where].mean()
    assert agree >= 0.999  # float32 in the engine against float64 here
    assert (edge & ~core & where).sum() > 100  # the neighbourhood term is exercised


@pytest.fixture(scope="module")
def potsdam_naip():
    return fa.potsdam_table("naip", bands=fa.VNIR)


def test_naip_on_the_held_out_tiles_without_swir(potsdam_naip):
    """``naip`` (blue..NIR reflectance): green and dark in the visible, or green, not much
    brighter and within two pixels of a dark one (a canopy's edge). The edge term was chosen
    on the tuning tiles; these are held out. In brackets: with the 3 x 3 edge term (NDVI >
    0.55, visible < 0.07), then before any edge term."""
    held = potsdam_naip.loc["held out"]
    # issue 19's targets: trees >= 0.80 (missed), crops and grass <= 0.25
    assert held.loc[("all", "tree"), "forest"] >= 0.77  # measured 0.793 (0.74, 0.60)
    assert held.loc[("all", "low vegetation"), "forest"] <= 0.23  # measured 0.20 (0.16, 0.04)
    assert held.loc[("all", "tree"), ["urban", "water"]].sum() <= 0.05  # measured 0.04
    for built in ("roof", "pavement"):
        assert held.loc[("all", built), "forest"] <= 0.10  # measured 0.08, 0.05 (0.08, 0.05)
    assert held.loc[("majority", "tree"), "forest"] >= 0.85  # measured 0.88 (0.83, 0.69)
    assert held.loc[("majority", "low vegetation"), "forest"] <= 0.17  # measured 0.14 (0.09)
    assert held.loc[("interior", "tree"), "forest"] >= 0.90  # measured 0.94 (0.88, 0.80)
    assert held.loc[("interior", "low vegetation"), "forest"] <= 0.05  # measured 0.00


def test_naip_on_the_tuning_tiles_without_swir(potsdam_naip):
    """The edge term's choice (README): the most tree pixels called forest with at most 0.14
    of the low vegetation (0.10 of its majority pixels, 0.02 of its interiors), roofs and
    pavement at most 0.10, France's crops and grass at peak no more (NDVI cut 0.50-0.65,
    visible cut 0.060-0.085, neighbour cut 0.045-0.055, window 3 x 3 or 5 x 5 tried; texture,
    NIR over visible and a greener neighbour lost). In brackets: the 3 x 3 edge term, then
    none."""
    tune = potsdam_naip.loc["tuning"]
    assert tune.loc[("all", "tree"), "forest"] >= 0.74  # measured 0.763 (0.71, 0.56)
    assert tune.loc[("all", "low vegetation"), "forest"] <= 0.14  # measured 0.12 (0.10, 0.02)
    assert tune.loc[("majority", "low vegetation"), "forest"] <= 0.10  # measured 0.07 (0.04)
    for built in ("roof", "pavement"):
        assert tune.loc[("all", built), "forest"] <= 0.10  # measured 0.03, 0.03 (0.04, 0.03)
    assert tune.loc[("interior", "tree"), "forest"] >= 0.80  # measured 0.83 (0.77, 0.65)
    assert tune.loc[("interior", "low vegetation"), "forest"] <= 0.02  # measured 0.004 (0.00)


# a date whose every parcel is under cloud leaves otsu(ndvi) no pixel: that date is nodata
@pytest.mark.filterwarnings("ignore::landmask.errors.StatisticWarning")
def test_naip_on_the_france_crops_and_grass():
    """Tuning data: the crops and grass at peak as even fields. An even field is its own
    darkest neighbour, so the edge term adds nothing there (as before, 0.19)."""
    france = fa.france_forest("naip")
    assert france.loc["crops and grass", "peak"] <= 0.22  # measured 0.19 (0.19)


def test_naip_on_the_held_out_berlin_library():
    """The library's blue..NIR: as even fields (no darker neighbour) the edge term adds
    nothing; with it taken as met (beside a canopy) most green low vegetation is forest."""
    table = fa.library_table("naip", fields=True, bands=fa.VNIR)
    assert table.loc["tree", "forest"] >= 0.90  # measured 1.00
    assert table.loc["low vegetation", "forest"] <= 0.15  # measured 0.06 (1 of 18), as before
    met = fa.library_table("naip", bands=fa.VNIR)
    assert met.loc["tree", "forest"] >= 0.90  # measured 1.00
    assert 0.45 <= met.loc["low vegetation", "forest"] <= 0.70  # measured 0.61 (11 of 18)
    assert met.loc[["impervious", "soil", "water"], "forest"].max() == 0.0
    assert not {"grass (dry) 1", "grass (dry) 2", "sunflower"} & set(met.attrs["forest"])


@pytest.fixture(scope="module")
def potsdam_dn():
    return fa.potsdam_table(dn=True)


def test_the_same_scene_as_dn_gets_adaptive_and_its_leaf_on_trees_on_the_held_out_tiles(
    potsdam_dn,
):
    """Read without its scale the scene is DN and gets ``adaptive``. Its trees are the
    scene's NIR-brightest pixels, so the leaf-off forest rule (dark NIR and SWIR) keeps
    none of them; the split of canopy darkness within the vegetated pixels
    (``otsu(dark_s where ...)``) does. Chosen on the tuning tiles; these are held out."""
    assert potsdam_dn.attrs["rules"] == "adaptive"
    held = potsdam_dn.loc["held out"]
    assert held.loc[("interior", "tree"), "forest"] >= 0.80  # measured 0.88 (0.00 before)
    assert held.loc[("interior", "low vegetation"), "forest"] <= 0.05  # measured 0.00
    assert held.loc[("all", "tree"), "forest"] >= 0.62  # measured 0.70 (0.03 before)
    assert held.loc[("all", "low vegetation"), "forest"] <= 0.12  # measured 0.07 (0.00)
    for built in ("roof", "pavement"):
        assert held.loc[("all", built), "forest"] <= 0.12  # measured 0.07, 0.08 (mixtures)


def test_the_same_scene_as_dn_on_the_tuning_tiles(potsdam_dn):
    tune = potsdam_dn.loc["tuning"]
    assert tune.loc[("interior", "tree"), "forest"] >= 0.65  # measured 0.74 (0.00 before)
    assert tune.loc[("interior", "low vegetation"), "forest"] <= 0.05  # measured 0.00
    assert tune.loc[("all", "low vegetation"), "forest"] <= 0.10  # measured 0.04


def test_held_out_berlin_library_as_dn_of_random_gains():
    """The library written as DN of random per-band gains and offsets, ``adaptive``: the
    same labels as from its reflectance (the stretch cancels them), every tree forest, and
    most grasses and crops too (README: pure spectra of lush vegetation at peak season,
    with no darker canopy among them, have nothing for a within-scene split to find)."""
    want = fa.library_table("adaptive")
    for seed in range(3):
        table = fa.library_table("adaptive", dn_seed=seed)
        assert table.attrs["forest"] == want.attrs["forest"], seed
    assert want.loc["tree", "forest"] >= 0.90  # measured 1.00 (1.00 before)
    assert want.loc["low vegetation", "forest"] <= 0.72  # measured 0.67 (0.61 before): missed
    assert want.loc[["impervious", "soil", "water"], "forest"].max() == 0.0
    assert {"grass (dry) 1", "grass (dry) 2"}.isdisjoint(want.attrs["forest"])


def test_adaptive_rgbn_on_the_blue_to_nir_bands_of_the_held_out_data():
    """Without SWIR, as DN (``adaptive-rgbn``): the visible darker than Otsu's split of it
    within the vegetation. Held out: Potsdam's held-out tiles and the Berlin library as DN of
    random gains (its grasses and crops 1.00 forest with the fixed cut vis_s < 0.3)."""
    table = fa.potsdam_table(dn=True, bands=fa.VNIR)
    assert table.attrs["rules"] == "adaptive-rgbn"
    held = table.loc["held out"]
    assert held.loc[("interior", "tree"), "forest"] >= 0.85  # measured 0.94 (0.94 before)
    assert held.loc[("interior", "low vegetation"), "forest"] <= 0.05  # measured 0.00
    assert held.loc[("all", "low vegetation"), "forest"] <= 0.14  # measured 0.09 (0.08)
    want = fa.library_table("adaptive-rgbn", bands=fa.VNIR)
    for seed in range(3):
        dn = fa.library_table("adaptive-rgbn", dn_seed=seed, bands=fa.VNIR)
        assert dn.attrs["forest"] == want.attrs["forest"], seed
    assert want.loc["tree", "forest"] >= 0.90  # measured 1.00
    assert want.loc["low vegetation", "forest"] <= 0.50  # measured 0.44 (1.00 before)
    assert want.loc[["impervious", "soil", "water"], "forest"].max() == 0.0  # (0.03 before)


def test_what_is_missed_is_the_mixed_pixel():
    """Forest recall of tree pixels rises with their tree neighbours (README)."""
    near = fa.by_tree_neighbours().to_numpy()
    # measured 0.22, 0.52, 0.86, 0.97, 1.00 (0.14, 0.38, 0.66, 0.84, 0.97 before the
    # neighbourhood term)
    assert (np.diff(near) > 0).all()
    assert near[0] <= 0.35 and near[2] >= 0.80 and near[-1] >= 0.98


def test_classify_fields_gives_each_sample_an_even_field():
    """Samples as 3 x 3 fields of themselves: spectral terms as on the samples, no texture."""
    from landmask.spectral.rules import load_rules

    acc = load_script("annual_accuracy")
    rng = np.random.default_rng(5)
    values = rng.uniform(0.0, 0.6, (2, 41)).astype(np.float32)
    spec = {
        "name": "fields",
        "scheme": "landcover",
        "rules": [
            {"class": "water", "when": "focal_std(nir, 1) > 0"},
            {"class": "urban", "when": "focal_min(nir, 1) < nir"},
            {"class": "forest", "when": "nir > 0.3 and focal_max(red, 1) == red"},
        ],
    }
    ids = acc.classify_fields(values, ["red", "nir"], load_rules(spec))
    # no texture and no darker or brighter neighbour: only the spectral term decides
    np.testing.assert_array_equal(ids, np.where(values[1] > 0.3, 1, 0))
    # a wider window too sees its own field only (the field grows with the rules' reach)
    wider = [{**r, "when": r["when"].replace(", 1)", ", 2)")} for r in spec["rules"]]
    wide = load_rules({**spec, "rules": wider})
    assert wide.reach == 2
    got = acc.classify_fields(values, ["red", "nir"], wide)
    np.testing.assert_array_equal(got, np.where(values[1] > 0.3, 1, 0))
    # side by side in one row, the neighbouring samples would have made texture
    import xarray as xr

    import landmask

    row = xr.DataArray(values[:, None, :], dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    assert (np.asarray(landmask.classify(row, load_rules(spec)).values)[0] == 3).mean() > 0.9


@pytest.fixture(scope="module")
def france():
    return fa.france_forest()


def test_france_data_is_small_documented_and_holds_dark_crops_at_peak():
    readme = (fa.FRANCE.parent / "README.md").read_text()
    assert "Licence" in readme and "Source" in readme
    assert fa.FRANCE.stat().st_size < 200_000
    data = load_script("annual_accuracy").load_worldcereal(fa.FRANCE)
    assert data["reflectance"].shape == (36, 6, 500)  # 10-day composites of 2023
    assert list(data["bands"]) == list(fa.BANDS)
    assert all(str(d).startswith("2023-") for d in data["months"])
    groups = list(data["group"])
    assert groups.count("temporary_crops") == 266 and groups.count("grasslands") == 158
    assert "trees" not in groups  # crops and grass only: it measures one side
    # dark and green at peak: parcels of crops and grass as dark as Potsdam's canopies
    refl = data["reflectance"]
    b = {name: refl[:, k] for k, name in enumerate(fa.BANDS)}
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (b["nir"] - b["red"]) / (b["nir"] + b["red"])
    dark = ((b["blue"] + b["green"] + b["red"]) / 3 + b["swir22"]) / 2
    low = np.isin(data["group"], fa.CROPS_AND_GRASS)
    july = [k for k, d in enumerate(data["months"]) if str(d)[5:7] == "07"]
    green_dark = (ndvi[july] > 0.8) & (dark[july] < 0.07)
    assert green_dark[:, low].sum() >= 50


def test_france_forest_against_a_numpy_reading_of_the_rules(france):
    """The peak share is the default rules' forest on even fields, computed here."""
    data = load_script("annual_accuracy").load_worldcereal(fa.FRANCE)
    refl = data["reflectance"].astype("float64")
    b = {name: refl[:, k] for k, name in enumerate(fa.BANDS)}
    # an even field is its own darkest neighbour: the edge term is canopy darkness too
    forest = default_forest(b)
    clear = np.isfinite(refl).all(axis=1)
    months = np.array([int(str(d)[5:7]) for d in data["months"]])
    peak = np.isin(months, fa.PEAK_MONTHS)[:, None] & clear
    rows = (("temporary_crops", ["temporary_crops"]), ("crops and grass", fa.CROPS_AND_GRASS))
    for name, members in rows:
        sel = peak & np.isin(data["group"], members)[None, :]
        expect = forest[sel].mean()
        assert abs(france.loc[name, "peak"] - expect) <= 0.003  # float32 engine, float64 here
    assert france.loc["crops and grass", "parcels"] == 439


def test_default_calls_dark_crops_and_grass_forest_on_any_date(france):
    """What one date cannot do: a fifth of France's crops and grass are forest (README).

    Measured 0.20 of the June-August composites (0.245 on the median date, 0.63 on the
    worst, in January; 0.28, 0.35 and 0.71 before the NIR cut): tall dense crops and lush
    grass are as dark as a canopy, and the darker ones not much brighter in the NIR. If
    this falls, update the README's forest section.
    """
    row = france.loc["crops and grass"]
    assert 0.16 <= row["peak"] <= 0.24  # measured 0.197
    assert 0.20 <= row["median date"] <= 0.30  # measured 0.245
    assert row["worst date"] >= 0.55  # measured 0.625
    assert france.loc["temporary_crops", "peak"] >= 0.18  # measured 0.233


def test_a_moisture_cap_chosen_on_tuning_data_fails_the_held_out_data():
    """The cue tried for dark crops, and why ``default`` does not use it (README).

    NDMI below 0.42 (just above the moistest tree-stand interior of Potsdam's tuning
    tiles, 0.417) halves France's crops and grass called forest and keeps the tuning
    trees, but held out it leaves the Berlin library's five dark grasses and crops forest
    and loses Corsica's trees.
    """
    acc = load_script("annual_accuracy")
    rules = fa.forest_with("(nir - swir16) / (nir + swir16) < 0.42", nir_cut=False)
    france = fa.france_forest(rules)
    assert france.loc["crops and grass", "peak"] <= 0.17  # measured 0.13 (0.28)
    assert france.loc["crops and grass", "median date"] <= 0.24  # measured 0.19 (0.35)
    tune = fa.potsdam_table(rules).loc["tuning"]
    assert tune.loc[("all", "tree"), "forest"] >= 0.81  # measured 0.825 (0.834)
    assert tune.loc[("interior", "tree"), "forest"] >= 0.99  # measured 1.00
    # held out: Berlin's low vegetation unchanged, Corsica's trees lost
    berlin = fa.library_table(rules, fields=True)
    assert berlin.loc["low vegetation", "forest"] > 0.25  # measured 0.28 (0.28)
    corsica = acc.corsica_single_date_table(acc.load_corsica(), rules)
    assert corsica.loc["trees", "forest"] <= 0.75  # measured 0.69 (0.85)
    assert corsica.loc["grasslands", "forest"] > 0.25  # measured 0.40 (0.44)
    fuel = fa.fuel_forest(rules)  # presto's fuel sites (top of atmosphere), README's table
    assert 0.24 <= fuel.loc["trees", "forest"] <= 0.29  # measured 0.27 (0.29)
    assert fuel.loc["crops and grass", "forest"] <= 0.01  # measured 0.000 (0.001)


@pytest.fixture(scope="module")
def fuel():
    return fa.fuel_forest()


def test_fuel_sites_forest_per_dynamic_world_class(fuel):
    """presto's live-fuel sites (western US, Sentinel-2 L1C top of atmosphere, Dynamic World
    labels; no forest cut was chosen on them): crops, grass and shrubs are not forest, and on
    top-of-atmosphere reflectance ``default`` keeps under a third of the trees (README)."""
    assert fuel.loc["trees", "n"] == 1871 and fuel.loc["crops and grass", "n"] == 732
    assert fuel.loc["shrub and scrub", "n"] == 2611
    assert 0.24 <= fuel.loc["trees", "forest"] <= 0.34  # measured 0.29
    assert fuel.loc["crops and grass", "forest"] <= 0.01  # measured 0.001 (1 of 732)
    assert fuel.loc["shrub and scrub", "forest"] <= 0.01  # measured 0.001
    assert fuel.loc["trees", "water"] <= 0.05  # measured 0.03 (dark conifers on slopes)


def test_fuel_sites_forest_against_a_numpy_reading_of_the_rules(fuel):
    """The trees' share is ``default``'s forest on even fields, computed here in float64."""
    data = load_script("annual_accuracy").load_presto("fuel_moisture")
    refl = data["reflectance"].astype("float64")  # (step, band, site)
    b = {name: refl[:, k] for k, name in enumerate(data["bands"])}
    forest = default_forest(b)  # an even field: the edge term adds nothing
    trees = (data["dynamic_world"].T == 1) & (b["blue"] <= fa.FUEL_MAX_BLUE)
    assert abs(fuel.loc["trees", "forest"] - forest[trees].mean()) <= 0.003


def test_the_pre_registered_nir_cue_is_not_confirmed_by_the_fuel_sites(fuel):
    """The rule written before the run (tests/data/presto_dynamic_world/README.md): take
    ``nir < 0.47`` only if trees hold and crops and grass called forest fall. Trees hold
    (0.29 -> 0.29), but the one crop-or-grass step called forest stays forest: the set
    cannot confirm the cue (``bigearthnet-examples`` later did, and ``default`` took it; the
    fuel sites' figures are the same with it)."""
    before = fa.fuel_forest(fa.forest_with(None, nir_cut=False))
    assert fuel.loc["trees", "forest"] >= before.loc["trees", "forest"] - 0.02  # rule 1 holds
    low = "crops and grass"
    assert fuel.loc[low, "forest"] == before.loc[low, "forest"]  # rule 2 fails: no fewer
    # default took the cut later, once bigearthnet-examples confirmed it
    text = (fa.ROOT / "landmask" / "spectral" / "rulesets" / "default.yaml").read_text()
    assert f"canopy_dark < 0.08 and {fa.NIR_CUT}" in text


def test_a_low_sun_ratio_cue_fails_its_own_choice_rule_on_the_tuning_data():
    """The pre-registered low-sun cue (tests/data/worldcereal_france2023/README.md):
    ``swir22 / swir16 < c``, a ratio a uniform darkening leaves unchanged. Every ``c`` that
    lowers France's winter crops and grass called forest by 0.10 drops Potsdam's tuning-tile
    trees below 0.82 (crown-edge mixtures have a crop's ratio), so no cue is chosen and
    ``default`` keeps absolute darkness."""
    acc = load_script("annual_accuracy")
    data = acc.load_worldcereal(fa.FRANCE)
    months = np.array([int(str(d)[5:7]) for d in data["months"]])
    low = np.isin(data["group"], fa.CROPS_AND_GRASS)

    def winter_share(rules):
        bands = list(data["bands"])
        ids = np.stack([acc.classify_fields(d, bands, rules) for d in data["reflectance"]])
        sel = np.isin(months, (12, 1, 2))[:, None] & low[None, :] & (ids != 255)
        return float((ids[sel] == 1).mean())

    base = winter_share(fa.forest_with(None, nir_cut=False))  # default as it was
    assert 0.40 <= base <= 0.48  # measured 0.44
    loose = fa.forest_with("swir22 / swir16 < 0.6", nir_cut=False)
    tight = fa.forest_with("swir22 / swir16 < 0.52", nir_cut=False)
    assert base - winter_share(loose) < 0.10  # measured 0.40: too little
    assert base - winter_share(tight) >= 0.10  # measured 0.19
    trees = fa.potsdam_table(loose).loc["tuning"].loc[("all", "tree"), "forest"]
    assert trees < 0.82  # measured 0.798 (0.834 without): the loosest cut already fails
    text = (fa.ROOT / "landmask" / "spectral" / "rulesets" / "default.yaml").read_text()
    assert "swir22 / swir16" not in text


def test_a_blue_ratio_cue_chosen_on_tuning_data_loses_corsicas_held_out_trees():
    """The second pre-registered low-sun cue (tests/data/worldcereal_france2023/README.md):
    blue against the mean visible, ``> -0.20`` (the grid's choice on the tuning data). It
    passes its tuning rule and the held-out Potsdam, Berlin and fuel-site trees, and fails
    on Corsica's held-out evergreen trees, so ``default`` does not take it."""
    acc = load_script("annual_accuracy")
    cue = "((blue - (blue + green + red) / 3) / (blue + (blue + green + red) / 3)) > -0.20"
    rules = fa.forest_with(cue, nir_cut=False)
    data = acc.load_worldcereal(fa.FRANCE)
    months = np.array([int(str(d)[5:7]) for d in data["months"]])
    low = np.isin(data["group"], fa.CROPS_AND_GRASS)
    bands = list(data["bands"])
    ids = np.stack([acc.classify_fields(d, bands, rules) for d in data["reflectance"]])
    winter = np.isin(months, (12, 1, 2))[:, None] & low[None, :] & (ids != 255)
    assert (ids[winter] == 1).mean() <= 0.20  # tuning: measured 0.17 (0.44 without)
    tune = fa.potsdam_table(rules).loc["tuning"]
    assert tune.loc[("all", "tree"), "forest"] >= 0.82  # measured 0.823 (0.834)
    assert tune.loc[("interior", "tree"), "forest"] >= 0.99  # measured 0.992 (1.00)
    # held out
    before = fa.forest_with(None, nir_cut=False)  # default as it was
    base, with_cue = fa.corsica_monthly_forest(before), fa.corsica_monthly_forest(rules)
    # the month-by-month shares agree with the annual script's median-month table
    single = acc.corsica_single_date_table(acc.load_corsica(), before)
    assert base["trees"].median() == pytest.approx(single.loc["trees", "forest"])
    assert base["grasslands"].median() == pytest.approx(single.loc["grasslands", "forest"])
    lost = base["trees"] - with_cue["trees"]
    assert lost.loc[[12, 1, 2]].min() > 0.05  # measured 0.25, 0.31, 0.38: the test fails
    assert with_cue["trees"].median() <= 0.50  # measured 0.46 (0.85)
    assert (with_cue.loc[[12, 1, 2], "grasslands"] < base.loc[[12, 1, 2], "grasslands"]).all()
    assert base.loc[1, "trees"] == 1.0 and base.loc[1, "grasslands"] >= 0.50  # 0.53: winter
    held = fa.potsdam_table(rules).loc["held out"]
    assert held.loc[("all", "tree"), "forest"] >= 0.84  # measured 0.854 (0.860)
    text = (fa.ROOT / "landmask" / "spectral" / "rulesets" / "default.yaml").read_text()
    assert "blue - (blue + green + red) / 3" not in text
