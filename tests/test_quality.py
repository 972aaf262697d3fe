"""Cloud and quality masks: SCL classes and QA_PIXEL bits -> 254 cloud / 255 nodata."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import TRANSFORM, UTM33

from landmask.classes import CLOUD, NODATA
from landmask.classification.classify import classify
from landmask.classification.quality import (
    apply_quality,
    apply_quality_block,
    qa_pixel_block,
    quality_mask,
    scl_block,
)
from landmask.cli import run
from landmask.errors import StatisticWarning
from landmask.io.read.scene import open_scene

# SCL class -> expected code: 0 nodata; 1, 3, 8, 9, 10 cloud; the rest clear
SCL_EXPECTED = {
    0: 255,
    1: 254,
    2: 0,
    3: 254,
    4: 0,
    5: 0,
    6: 0,
    7: 0,
    8: 254,
    9: 254,
    10: 254,
    11: 0,
}


def test_scl_block_every_class():
    scl = np.array(list(SCL_EXPECTED), dtype=np.uint8)
    np.testing.assert_array_equal(scl_block(scl), list(SCL_EXPECTED.values()))
    as_float = np.array([*SCL_EXPECTED, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(scl_block(as_float), [*SCL_EXPECTED.values(), 255])
    assert scl_block(scl).dtype == np.uint8


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (0, 0),
        (1 << 0, NODATA),  # fill
        (1 << 1, CLOUD),  # dilated cloud
        (1 << 2, CLOUD),  # cirrus
        (1 << 3, CLOUD),  # cloud
        (1 << 4, CLOUD),  # cloud shadow
        (1 << 5, 0),  # snow is seen ground
        (1 << 6, 0),  # clear
        (1 << 7, 0),  # water
        (21824, 0),  # clear land, low confidences: bits 6, 8, 10, 12, 14
        (21952, 0),  # clear water: bits 6, 7, 8, 10, 12, 14
        (22280, CLOUD),  # cloud with high confidence: bits 3, 8, 9, 10, 12, 14
        (23888, CLOUD),  # cloud shadow: bits 4, 6, 8, 10, 11, 12, 14
        ((1 << 0) | (1 << 3), NODATA),  # fill wins
    ],
)
def test_qa_pixel_bits(flags, code):
    assert qa_pixel_block(np.array([flags], dtype=np.uint16))[0] == code
    assert qa_pixel_block(np.array([flags], dtype=np.float32))[0] == code


def test_apply_quality_block_keeps_nodata_and_hides_cloud():
    mask = np.array([0, 1, 2, 3, 255, 3], dtype=np.uint8)
    quality = np.array([254, 0, 255, 254, 254, 0], dtype=np.uint8)
    out = apply_quality_block(mask, quality)
    np.testing.assert_array_equal(out, [254, 1, 255, 254, 255, 3])
    assert out.dtype == np.uint8


RULES = (
    "name: r\nrules:\n  - class: water\n    when: red < 0.5\n  - class: forest\n    when: nir > 0\n"
)


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


@pytest.fixture
def s2_with_scl(raster):
    """10 m red/nir and a 20 m SCL layer holding every class, as Sentinel-2 L2A band files."""
    rng = np.random.default_rng(7)
    red = rng.integers(1000, 20000, size=(8, 12), dtype=np.uint16)  # reflectance 0..1.9
    red[0, 5] = 0  # nodata in red
    nir = np.full((8, 12), 5000, dtype=np.uint16)
    scl = np.arange(24, dtype=np.uint8).reshape(4, 6) % 12
    t20 = Affine(20.0, 0.0, TRANSFORM.c, 0.0, -20.0, TRANSFORM.f)
    files = [
        raster("T33UUP_B04_10m.tif", red, nodata=0),
        raster("T33UUP_B08_10m.tif", nir, nodata=0),
        raster("T33UUP_SCL_20m.tif", scl, transform=t20),
    ]
    return files, red, scl


def _expected(red: np.ndarray, scl: np.ndarray) -> np.ndarray:
    reflectance = red * 1e-4 - 0.1
    classes = np.where(reflectance < 0.5, 3, 1).astype(np.uint8)
    classes[red == 0] = NODATA
    code = np.vectorize(SCL_EXPECTED.get)(np.kron(scl, np.ones((2, 2), int)))
    classes[(code == CLOUD) & (classes != NODATA)] = CLOUD
    classes[code == NODATA] = NODATA
    return classes


@pytest.mark.parametrize("chunk", [3, 4, 64])
def test_sentinel2_scl_marks_cloud_pixel_exact(s2_with_scl, rules_file, chunk):
    files, red, scl = s2_with_scl
    scene = open_scene(files, sensor="sentinel2-l2a", chunk_size=chunk)
    assert list(scene["band"].values) == ["red", "nir", "scl"]
    quality = quality_mask(scene)
    assert quality is not None and quality.dtype == np.uint8
    mask = apply_quality(classify(scene, rules=rules_file), quality)
    assert mask.rio.transform() == TRANSFORM and mask.rio.crs == UTM33
    assert mask.attrs["quality"] == "scl"
    np.testing.assert_array_equal(mask.values, _expected(red, scl))


def test_landsat_qa_pixel_by_file_name(raster):
    red = np.full((3, 4), 9000, dtype=np.uint16)
    nir = np.full((3, 4), 30000, dtype=np.uint16)
    qa = np.array(
        [[21824, 1, 22280, 23888], [2, 4, 21952, 0], [21824, 21824, 1 | 8, 1 << 5]],
        dtype=np.uint16,
    )
    files = [
        raster("LC09_L2SP_SR_B4.TIF", red, nodata=0),
        raster("LC09_L2SP_SR_B5.TIF", nir, nodata=0),
        raster("LC09_L2SP_QA_PIXEL.TIF", qa, nodata=1),
    ]
    scene = open_scene(files, sensor="landsat-c2-l2")
    assert list(scene["band"].values) == ["red", "nir08", "qa_pixel"]
    np.testing.assert_array_equal(scene.sel(band="qa_pixel").values, qa)  # raw flags
    quality = quality_mask(scene)
    assert quality is not None
    expected = np.array([[0, 255, 254, 254], [254, 254, 0, 0], [0, 0, 255, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(quality.values, expected)


def test_scene_without_quality_band(s2_file):
    assert quality_mask(open_scene(s2_file, sensor="sentinel2-l2a")) is None


def test_quality_band_not_required_by_needs(s2_file, s2_with_scl):
    scene = open_scene(s2_file, sensor="sentinel2-l2a", needs={"red", "scl"})
    assert list(scene["band"].values) == ["red"]
    files, _, _ = s2_with_scl
    scene = open_scene(files, sensor="sentinel2-l2a", needs={"red", "scl"})
    assert list(scene["band"].values) == ["red", "scl"]


def test_classify_cli_applies_quality_by_default(s2_with_scl, rules_file, tmp_path, capsys):
    files, red, scl = s2_with_scl
    base = ["classify", *map(str, files), "--sensor", "sentinel2-l2a", "--rules", str(rules_file)]
    on, off = tmp_path / "on.tif", tmp_path / "off.tif"
    assert run([*base, "-o", str(on), "--chunk-size", "4"]) == 0, capsys.readouterr().err
    assert "quality scl" in capsys.readouterr().out
    assert run([*base, "-o", str(off), "--no-quality", "-q"]) == 0
    with rasterio.open(on) as ds:
        got = ds.read(1)
        assert ds.transform == TRANSFORM and ds.nodata == 255
        assert ds.tags()["CLASS_254"] == "cloud"
    np.testing.assert_array_equal(got, _expected(red, scl))
    with rasterio.open(off) as ds:
        plain = ds.read(1)
    assert CLOUD not in plain
    seen = got < CLOUD
    np.testing.assert_array_equal(got[seen], plain[seen])


ADAPTIVE = (
    "name: a\nrules:\n  - class: water\n    when: red < percentile(red, 50)\n"
    "  - class: forest\n    when: nir > 0\n"
)


@pytest.mark.parametrize("kind", ["per-pixel", "scene-adaptive"])
@pytest.mark.parametrize("chunk", [3, 64])
def test_all_cloud_scene_is_cloud_with_either_kind_of_rules(raster, tmp_path, kind, chunk):
    # Seen but hidden (254), not nodata, whichever rules: the scene-adaptive
    # rules' percentile has no clear pixel, so their classes are all 255, and
    # the quality band alone decides. Fill (SCL 0) and missing red stay 255.
    red = np.full((8, 12), 9000, dtype=np.uint16)
    red[0, 5] = 0
    nir = np.full((8, 12), 5000, dtype=np.uint16)
    scl = np.full((4, 6), 9, dtype=np.uint8)  # cloud, high probability
    scl[3, 5] = 0
    t20 = Affine(20.0, 0.0, TRANSFORM.c, 0.0, -20.0, TRANSFORM.f)
    files = [
        raster("T33UUP_B04_10m.tif", red, nodata=0),
        raster("T33UUP_B08_10m.tif", nir, nodata=0),
        raster("T33UUP_SCL_20m.tif", scl, transform=t20),
    ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES if kind == "per-pixel" else ADAPTIVE)
    scene = open_scene(files, sensor="sentinel2-l2a", chunk_size=chunk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mask = apply_quality(classify(scene, rules=rules), quality_mask(scene))
        got = mask.values
    said = [w for w in caught if issubclass(w.category, StatisticWarning)]
    assert len(said) == (kind == "scene-adaptive"), [str(w.message) for w in caught]
    expected = np.full((8, 12), CLOUD, dtype=np.uint8)
    expected[6:, 10:] = NODATA  # SCL 0: fill
    if kind == "per-pixel":
        expected[0, 5] = NODATA  # no red: nodata whatever the quality says
    np.testing.assert_array_equal(got, expected)
