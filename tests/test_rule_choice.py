"""Which built-in rule set a scene gets, and rule sets' ``define:`` names."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner
from rasterio.transform import from_origin

import landmask
from landmask.bands import is_composite_band
from landmask.cli import cli
from landmask.errors import RuleError
from landmask.spectral.rules import BUILTIN_RULESETS, default_rules_for, load_rules


def _scene(bands, radiometry, sensor=None):
    data = np.full((len(bands), 4, 4), 0.1, dtype=np.float32)
    attrs = {"radiometry": radiometry, "radiometry_basis": "a test"}
    if sensor:
        attrs["sensor"] = sensor
    return xr.DataArray(data, dims=("band", "y", "x"), coords={"band": list(bands)}, attrs=attrs)


SWIR = ("blue", "green", "red", "nir", "swir16", "swir22")
RGBN = ("blue", "green", "red", "nir")


@pytest.mark.parametrize(
    ("bands", "radiometry", "sensor", "expected"),
    [
        (SWIR, "dn", None, "adaptive"),
        (RGBN, "dn", None, "adaptive-rgbn"),
        (RGBN, "dn", "naip", "adaptive-rgbn"),
        (RGBN, "surface_reflectance", "naip", "naip"),
        (RGBN, "surface_reflectance", None, "naip"),
        (SWIR, "surface_reflectance", None, "default"),
        (SWIR, "toa_reflectance", None, "default"),
        # default's forest rule reads 2.2 um: without it, the set without SWIR
        (SWIR[:5], "surface_reflectance", None, "naip"),
        (SWIR[:5], "dn", None, "adaptive"),
    ],
)
def test_choice_follows_radiometry_and_bands(bands, radiometry, sensor, expected):
    choice = default_rules_for(_scene(bands, radiometry, sensor))
    assert choice.name == expected
    assert choice.name in BUILTIN_RULESETS
    assert choice.reason  # one line the user is shown
    if radiometry == "dn":
        assert "digital numbers (a test)" in choice.reason
    if radiometry == "toa_reflectance":  # the user is told what TOA costs (README)
        assert "top-of-atmosphere" in choice.reason and "Level-2" in choice.reason


def test_every_builtin_set_loads_and_reads_only_its_bands():
    for name in BUILTIN_RULESETS:
        ruleset = load_rules(name)
        assert ruleset.name == name
        bands = {"blue", "green", "red", "nir", "swir16", "swir22"}
        allowed = bands | {"ndvi", "ndwi", "mndwi", "ndbi"}
        # a composite's bands (ndvi_p10, clear_count) for the rule sets of composites
        assert all(n in allowed or is_composite_band(n) for n in ruleset.names)
    assert "swir16" not in load_rules("adaptive-rgbn").names
    assert "swir16" not in load_rules("naip").names


def test_classify_records_the_choice():
    scene = _scene(RGBN, "dn")
    rng = np.random.default_rng(0)
    scene = scene.copy(data=rng.uniform(10, 200, scene.shape).astype(np.float32))
    mask = landmask.classify(scene)
    assert mask.attrs["rules"] == "adaptive-rgbn"
    assert "digital numbers" in mask.attrs["rules_basis"]


def test_cli_says_which_rules_and_why(tmp_path):
    """Six single-band 8-bit DN files with a band mapping: the adaptive set, said in one line."""
    rng = np.random.default_rng(1)
    paths = []
    for k in range(6):
        path = tmp_path / f"band{k + 1}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=32,
            height=32,
            count=1,
            dtype="uint8",
            crs="EPSG:32618",
            transform=from_origin(500000, 4000000, 30, 30),
        ) as dst:
            dst.write(rng.integers(5, 250, (1, 32, 32), dtype=np.uint8))
        paths.append(str(path))
    bands = [f"--band={n}={k}" for k, n in enumerate(SWIR, start=1)]
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(cli, ["classify", *paths, *bands, "-o", str(out / "m.tif")])
    assert result.exit_code == 0, result.output
    line = next(s for s in result.output.splitlines() if "rules adaptive" in s)
    assert "digital numbers" in line
    with rasterio.open(out / "m.tif") as src:
        assert src.read(1).shape == (32, 32)


def test_define_names_expand_in_rules():
    ruleset = load_rules(
        {
            "define": {"brightness": "(red + nir) / 2", "half": "brightness / 2"},
            "rules": [{"class": "urban", "when": "half > 0.1 and brightness < 0.5"}],
        }
    )
    assert ruleset.names == {"red", "nir"}
    block = np.array([[[0.2, 0.5]], [[0.4, 0.9]]], dtype=np.float32)  # red, nir
    scene = xr.DataArray(block, dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    # brightness 0.3 (half 0.15): urban; 0.7: not
    assert landmask.classify(scene, ruleset).values.tolist() == [[2, 0]]


@pytest.mark.parametrize(
    ("define", "message"),
    [
        ({"ndvi": "red"}, "a band, an index or a function"),
        ({"red": "nir"}, "a band, an index or a function"),
        ({"Bad": "nir"}, "lower-case"),
        ({"x": "nir > 2"}, "not a comparison"),
        ({"x": "nir +"}, "define 'x'"),
        (["x"], "must be a mapping"),
    ],
)
def test_define_errors_name_the_definition(define, message):
    with pytest.raises(RuleError, match=message):
        load_rules({"define": define, "rules": [{"class": "urban", "when": "nir > 0"}]})


def test_define_expansion_too_long_says_it_is_the_written_out_text():
    """A short rule over a long definition is refused with the written-out length named,
    not the user's text's (which is within the limit)."""
    long = " + ".join(["nir"] * 90)  # 537 characters: a valid definition
    rule = "big > 0 and big < 2 and big < 3 and big < 4"  # 43 characters, 2.2k written out
    with pytest.raises(RuleError, match=r"rule 1 \(urban\): .*written out \(43 as written\)"):
        load_rules({"define": {"big": long}, "rules": [{"class": "urban", "when": rule}]})
    # used once, the same definition is accepted
    load_rules({"define": {"big": long}, "rules": [{"class": "urban", "when": "big > 0"}]})
