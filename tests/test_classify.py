import sys

import dask
import dask.array as da
import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import TRANSFORM, UTM33

from landmask.classify import classify
from landmask.rules import classify_block, load_rules
from landmask.scene import dn_sources as scene_dn_sources
from landmask.scene import open_scene
from landmask.schedulers import use_scheduler
from landmask.synthetic import BANDS, S2_BAND_IDS, to_dn
from landmask.write import write_mask


@pytest.fixture
def reference_mask(s2_file):
    """The mask computed in one numpy call on the whole scene."""
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    return classify_block(scene.values, list(BANDS), load_rules("default"))


def test_classify_is_lazy_uint8_on_the_scene_grid(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)
    mask = classify(scene)
    assert isinstance(mask.data, da.Array)
    assert mask.dtype == np.uint8 and mask.dims == ("y", "x")
    assert mask.shape == scene.shape[1:]
    assert mask.chunks == scene.chunks[1:]
    assert mask.rio.crs == UTM33 and mask.rio.transform() == TRANSFORM
    assert mask.rio.nodata == 255
    np.testing.assert_array_equal(mask.x.values, scene.x.values)
    np.testing.assert_array_equal(mask.y.values, scene.y.values)


@pytest.mark.parametrize("chunk_size", [37, 100, 256, 1000, None])
def test_mask_identical_for_any_chunk_size(s2_file, reference_mask, chunk_size):
    size = chunk_size or 100_000
    mask = classify(open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=size))
    np.testing.assert_array_equal(mask.values, reference_mask)


def test_a_scene_from_open_scene_is_classified_from_digital_numbers(
    s2_file, reference_mask, monkeypatch
):
    import landmask.rules as rules_module
    import landmask.scene as scene_module

    reads = []
    real = scene_module.read_reflectance
    monkeypatch.setattr(scene_module, "read_reflectance", lambda *a: reads.append(1) or real(*a))
    blocks = []
    real_dn = rules_module.classify_dn_block

    def spy(dn, *args):
        blocks.append([b.dtype for b in dn])
        return real_dn(dn, *args)

    # landmask.classify is the function; its module is in sys.modules
    monkeypatch.setattr(sys.modules["landmask.classify"], "classify_dn_block", spy)
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)
    mask = classify(scene).values
    np.testing.assert_array_equal(mask, reference_mask)
    assert not reads  # no float32 reflectance chunk was made
    assert blocks and all(d == [np.uint16] * 5 for d in blocks)  # the 5 bands the rules read
    # anything but the untouched array goes the general way, with the same result
    blocks.clear()
    for changed in (scene * 1, scene.sel(band=["blue", "green", "red", "nir", "swir16"])):
        np.testing.assert_array_equal(classify(changed).values, reference_mask)
    assert not blocks and reads


def test_digital_numbers_of_separate_band_files_with_generic_scaling(s2_band_files):
    mapping = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5}
    scene = open_scene(s2_band_files, bands=mapping, scale=2e-4, offset=-0.05, chunk_size=64)
    assert scene_dn_sources(scene) is not None
    general = classify(scene.copy(data=scene.data + 0)).values
    np.testing.assert_array_equal(classify(scene).values, general)
    assert len(np.unique(general)) >= 4


@pytest.mark.parametrize("chunk", [50, 128, 1000])
def test_digital_numbers_with_a_twenty_metre_band(raster, synthetic_small, chunk):
    # a Sentinel-2 L2A tile: B11 (swir16) at 20 m is resampled onto the 10 m grid
    dn = to_dn(synthetic_small.reflectance)
    files = [
        raster(f"T33UUP_{bid}_10m.tif", dn[k], nodata=0)
        for k, bid in enumerate(S2_BAND_IDS)
        if bid != "B11"
    ]
    h, w = dn.shape[1:]
    b11 = dn[4].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).astype(np.uint16)
    t20 = Affine(20.0, 0.0, TRANSFORM.c, 0.0, -20.0, TRANSFORM.f)
    files.append(raster("T33UUP_B11_20m.tif", b11, transform=t20, nodata=0))
    scene = open_scene(files, sensor="sentinel2-l2a", chunk_size=chunk)
    sources = scene_dn_sources(scene)
    assert sources is not None and sources[-1].resample is not None
    general = classify(scene.copy(data=scene.data + 0)).values
    np.testing.assert_array_equal(classify(scene).values, general)
    assert {0, 1, 3, 255} <= set(np.unique(general).tolist())


def test_nodata_margin_propagates_to_255(s2_file, synthetic_small, reference_mask):
    nodata = np.isnan(synthetic_small.reflectance).any(axis=0)
    assert nodata.any()
    assert (reference_mask[nodata] == 255).all()
    assert (reference_mask[~nodata] != 255).all()


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes", "local:2"])
def test_written_mask_identical_on_every_scheduler(s2_file, reference_mask, tmp_path, scheduler):
    out = tmp_path / f"mask-{scheduler.replace(':', '')}.tif"
    with use_scheduler(scheduler):
        scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)
        result = write_mask(classify(scene), out)
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), reference_mask)
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
    ids, counts = np.unique(reference_mask, return_counts=True)
    assert result.counts == dict(zip(ids.tolist(), counts.tolist(), strict=True))
    styles = [out.with_suffix(".qml").name, f"{out.name}.aux.xml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s2.tif", out.name, *styles])


def test_bands_the_rules_do_not_read_are_not_needed(raster):
    red = np.array([[1000, 3000]], np.uint16)
    nir = np.array([[5000, 3000]], np.uint16)
    path = raster("rn.tif", np.stack([red, nir]), descriptions=("red", "nir"))
    scene = open_scene(path, scale=1e-4)
    mask = classify(scene, {"rules": [{"class": "forest", "when": "ndvi > 0.5"}]})
    assert mask.values.tolist() == [[1, 0]]


def test_mask_for_numpy_backed_scene(s2_file, reference_mask):
    scene = open_scene(s2_file, sensor="sentinel2-l2a").compute()
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(classify(scene).values, reference_mask)


def test_progress_bar_reports_on_stderr(s2_file, capsys):
    from landmask.schedulers import progress

    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=64)
    with progress(True):
        classify(scene).compute()
    err = capsys.readouterr().err
    assert "100%" in err and "Completed" in err
    with progress(False):
        classify(scene).compute()
    assert capsys.readouterr().err == ""
