"""Forest on BigEarthNet's example patches (issue 19, part 3): the figures of
``scripts/bigearthnet_forest.py`` and of the README's table, checked against numpy.

The data (``tests/data/bigearthnet_examples``): 14 real Sentinel-2 L2A patches with their
CORINE labels; none of them chose a threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
from calibration import default_forest, load_script

be = load_script("bigearthnet_forest")


@pytest.fixture(scope="module")
def data():
    return be.load()


@pytest.fixture(scope="module")
def groups():
    return be.group_table()


def test_data_is_small_documented_and_whole(data):
    readme = (be.DATA / "README.md").read_text()
    assert "Licence" in readme and "Source" in readme and "CDLA-Permissive-1.0" in readme
    assert sum(p.stat().st_size for p in be.DATA.iterdir()) < 2_000_000
    assert len(set(data["patch"])) == 14
    assert data["bands10"].shape == (14, 4, 120, 120) and data["bands10"].dtype == np.uint16
    assert data["bands20"].shape == (14, 2, 60, 60) and data["bands20"].dtype == np.uint16
    # reflectance x 10^4 with no gaps: every value a plausible surface reflectance
    assert data["bands10"].min() > 0 and data["bands10"].max() < 20000
    assert list(data["patch"][data["seasonal_snow"]]) == ["S2B_MSIL2A_20180204T94161_57_38"]


def test_groups_from_corine_labels(data):
    pairs = zip(data["patch"], data["labels"], strict=True)
    got = {str(p): be.group(str(lab).split("; ")) for p, lab in pairs}
    assert got["S2B_MSIL2A_20170924T93021_41_29"] == "forest"
    assert got["S2A_MSIL2A_20170617T113321_4_55"] == "crops and grass"
    assert got["S2A_MSIL2A_20170617T113321_36_85"] == "crops and grass"
    assert got["S2A_MSIL2A_20170613T101031_87_48"] == "agriculture with natural vegetation"
    assert got["S2A_MSIL2A_20180510T94033_19_86"] == "forest with shrub, bog or water"
    counts = {g: list(got.values()).count(g) for g in be.GROUPS}
    assert counts == {
        "forest": 1,
        "forest with shrub, bog or water": 3,
        "crops and grass": 3,
        "agriculture with natural vegetation": 1,
        "agriculture with forest": 6,
    }


def test_20m_bands_repeated_onto_the_10m_grid(data):
    bands = be.patch_bands(data, 0)
    assert bands.shape == (6, 120, 120)
    np.testing.assert_array_equal(bands[4, ::2, ::2], data["bands20"][0, 0])
    np.testing.assert_array_equal(bands[5, 1::2, 1::2], data["bands20"][0, 1])
    np.testing.assert_array_equal(bands[:4], data["bands10"][0])


def test_default_forest_share_per_patch_against_numpy(data):
    """Each patch's share called forest by ``default`` is the share numpy's reading of
    default's YAML (water first, then the canopy-dark core or its edge beside a dark pixel)
    gives on the same reflectance."""
    table = be.patch_table("default")
    for i, name in enumerate(data["patch"]):
        bands = dict(zip(be.BANDS, be.patch_bands(data, i).astype(np.float64) * 1e-4, strict=True))
        expect = default_forest(bands, neighbours=True).mean()
        # float32 in landmask, float64 here: a pixel or two on a cut may fall either side
        assert table.loc[str(name), "forest"] == pytest.approx(expect, abs=3e-4), name
        assert table.loc[str(name), "n"] == 14400


def test_group_table_pools_the_patch_table(groups):
    table = be.patch_table("naip", be.VNIR)
    sel = table["group"] == "crops and grass"
    pooled = (table.loc[sel, "forest"] * table.loc[sel, "n"]).sum() / table.loc[sel, "n"].sum()
    assert groups.loc["crops and grass", "naip"] == pytest.approx(pooled)
    assert groups["patches"].sum() == 14


def test_forest_figures(groups):
    """The README's table (measured on no data that chose a threshold). ``default`` keeps the
    Finnish forest (0.96, the target 0.80 met) and calls 0.36 of Ireland's pastures and arable
    land forest (0.60 before its NIR cut; the target 0.25 missed): lush grass in June is as
    green and as dark in the visible and at 2.2 um as a canopy (its canopy darkness median
    0.08, the cut); ``naip``, without SWIR and without the NIR cut, 0.60."""
    g = groups
    assert g.loc["forest", "default"] == pytest.approx(0.961, abs=0.005)
    assert g.loc["forest", "naip"] == pytest.approx(0.97, abs=0.01)
    assert g.loc["crops and grass", "default"] == pytest.approx(0.36, abs=0.01)
    assert g.loc["crops and grass", "naip"] == pytest.approx(0.60, abs=0.01)
    assert g.loc["forest with shrub, bog or water", "default"] == pytest.approx(0.73, abs=0.01)
    # read as DN, the adaptive sets split each patch within itself: a patch that is all
    # forest keeps under half of it, and a patch of pasture calls a third to half forest
    assert g.loc["forest", "adaptive"] < 0.5 and g.loc["forest", "adaptive-rgbn"] < 0.5
    assert 0.3 <= g.loc["crops and grass", "adaptive"] <= 0.5
    assert g.loc["seasonal snow", "default"] == 0.0


def test_nir_cut_check_written_before_it_was_run():
    """The data folder's README wrote the rule before the figures: the README's NIR cut
    (``nir < 0.47`` in both terms of ``default``'s forest rule as it was) is confirmed here:
    the forest patch keeps 0.96, the forest with shrub, bog or water 0.73, and Ireland's crops
    and grass fall 0.60 -> 0.36 (still above the target 0.25). ``default`` has taken it: the
    candidate is ``default`` as it is."""
    check = be.cue_check()
    assert check.attrs["confirmed"]
    now = be.group_table()["default"]
    assert check.iloc[:, 1].to_numpy() == pytest.approx(now.loc[check.index].to_numpy())
    before, after = check.columns[0], check.columns[1]
    assert check.loc["forest", after] == pytest.approx(0.961, abs=0.005)
    assert check.loc["forest with shrub, bog or water", "change"] == pytest.approx(0.0, abs=0.005)
    assert check.loc["crops and grass", before] == pytest.approx(0.60, abs=0.01)
    assert check.loc["crops and grass", after] == pytest.approx(0.36, abs=0.01)
    # the decision follows the written rule, not the figures above: a cue that keeps every
    # pixel's label (nir below 5) changes nothing and is not confirmed
    assert not be.cue_check("nir < 5").attrs["confirmed"]
