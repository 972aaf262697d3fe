"""Band names have one home (landmask.bands) that io and spectral both read; that io does
not import spectral for them is checked with every other layer in test_layers.py."""

import pytest

from landmask.bands import (
    BAND_ALIASES,
    COMMON_NAMES,
    common_name,
    is_composite_band,
    resolve_band,
    same_band,
    scene_bands,
)
from landmask.errors import BandError
from landmask.spectral.indices import INDICES, band_reads, bands_needed


def test_common_name_normalises_case_and_space():
    assert common_name(" Red ") == "red"
    assert common_name("NIR08") == "nir08"
    assert common_name("B04") is None
    assert common_name("") is None
    assert common_name(None) is None


def test_aliases_name_known_common_names():
    for name, alias in BAND_ALIASES.items():
        assert name in COMMON_NAMES and alias in COMMON_NAMES


def test_same_band_is_symmetric_through_aliases():
    assert same_band("nir", "nir08") and same_band("nir08", "nir")
    assert same_band("red", "red")
    assert not same_band("red", "nir")
    assert not same_band(None, "red")


def test_resolve_band_prefers_the_band_then_alias_then_median():
    assert resolve_band("nir", ["nir", "nir08"]) == "nir"
    assert resolve_band("nir", ["red", "nir08"]) == "nir08"
    assert resolve_band("nir", ["red", "nir08_median"]) == "nir08_median"
    assert resolve_band("swir16", ["red"]) is None


def test_composite_band_names():
    assert is_composite_band("ndvi_p10") and is_composite_band("clear_count")
    assert not is_composite_band("ndvi_p101") and not is_composite_band("red")


def test_scene_bands_names_the_index_that_reads_a_missing_band():
    assert scene_bands(band_reads(["ndvi"]), ["red", "nir08"]) == {"red": "red", "nir": "nir08"}
    with pytest.raises(BandError, match=r"band 'swir16' \(for mndwi\) is not in the scene"):
        scene_bands(band_reads(["mndwi"]), ["green", "red"])
    with pytest.raises(BandError, match=r"^band 'blue' is not in the scene \(it has: red\)$"):
        scene_bands(["blue"], ["red"])


def test_bands_needed_reads_every_index_formula_band():
    available = sorted(COMMON_NAMES)
    for name, index in INDICES.items():
        assert set(bands_needed([name], available)) == set(index.bands)
