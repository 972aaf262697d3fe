import dask
import dask.array as da
import numpy as np
import pytest
import rasterio
from conftest import TRANSFORM, UTM33

from landmask._runtime.schedulers import use_scheduler
from landmask.classification.classify import classify
from landmask.io.read.scene import open_scene
from landmask.io.write.rasters import write_mask
from landmask.spectral.rules import classify_block, load_rules
from landmask.synthetic import BANDS


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
    styles = [out.with_suffix(".qml").name, f"{out.name}.aux.xml", f"{out.name}.stac.json"]
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
    from landmask._runtime.schedulers import progress

    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=64)
    with progress(True):
        classify(scene).compute()
    err = capsys.readouterr().err
    assert "100%" in err and "Completed" in err
    with progress(False):
        classify(scene).compute()
    assert capsys.readouterr().err == ""
