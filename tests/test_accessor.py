import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
from conftest import TRANSFORM, UTM33
from test_write import as_mask

from landmask.classification.classify import classify
from landmask.errors import InputError
from landmask.evaluation.evaluate import evaluate
from landmask.io.read.scene import open_scene
from landmask.spectral.indices import compute_indices
from landmask.vector.vectorize import vectorize


@pytest.fixture
def scene(s2_file):
    return open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_import_landmask_registers_the_accessor_without_importing_xarray():
    code = (
        "import sys, landmask; print('xarray' in sys.modules); "
        "import xarray; print(hasattr(xarray.DataArray, 'landmask'))"
    )
    assert _python(code).split() == ["False", "True"]
    code = "import xarray, landmask; print(hasattr(xarray.DataArray, 'landmask'))"
    assert _python(code) == "True"
    # the command line's start-up does not pay for xarray
    assert _python("import sys, landmask.cli; print('xarray' in sys.modules)") == "False"


def test_scene_methods_delegate_lazily(scene):
    ndvi = scene.landmask.indices(["ndvi"])["ndvi"]
    assert isinstance(ndvi.data, da.Array)
    np.testing.assert_array_equal(ndvi.values, compute_indices(scene, ["ndvi"])["ndvi"].values)
    mask = scene.landmask.classify(rules="default")
    assert isinstance(mask.data, da.Array) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask.values, classify(scene, "default").values)
    assert mask.rio.crs == UTM33 and mask.rio.transform() == TRANSFORM


def test_scene_classify_takes_a_model(scene):
    from landmask.classification.classify import classify

    mask = scene.landmask.classify(model="rules:default", min_confidence=0.0)
    assert mask.attrs["model"] == "rules:default"
    expected = classify(scene, model="rules:default", min_confidence=0.0)
    np.testing.assert_array_equal(mask.values, expected.values)
    # the rules model gives the rules' own mask
    np.testing.assert_array_equal(mask.values, scene.landmask.classify().values)


def test_mask_methods_chain_to_a_file_polygons_and_a_report(scene, tmp_path, synthetic_small):
    mask = scene.landmask.classify()
    result = mask.landmask.write(tmp_path / "m.tif")
    with rasterio.open(result.path) as ds:
        assert ds.crs == UTM33 and ds.transform == TRANSFORM and ds.nodata == 255
        np.testing.assert_array_equal(ds.read(1), mask.values)
    frame = mask.landmask.vectorize(["water"], min_area=500)
    expected = vectorize(mask, ["water"], min_area=500)
    assert len(frame) == len(expected) > 0
    assert frame.geometry.geom_equals(expected.geometry).all()
    truth = as_mask(synthetic_small.truth)
    report = mask.landmask.evaluate(truth)
    assert report.miou == evaluate(mask, truth).miou
    assert report.iou[3] > 0.9


def test_an_index_is_written_as_a_float_band(scene, tmp_path):
    ndvi = scene.landmask.indices(["ndvi"])["ndvi"]
    ndvi.landmask.write(tmp_path / "ndvi.tif")
    with rasterio.open(tmp_path / "ndvi.tif") as ds:
        assert ds.descriptions == ("ndvi",) and ds.dtypes == ("float32",)
        np.testing.assert_allclose(ds.read(1), ndvi.values, equal_nan=True)


def test_plot_picks_the_plot_for_the_array(scene):
    ax = scene.landmask.plot(bands=("nir", "red", "green"), max_size=100)
    assert ax.get_title() == "nir / red / green"
    mask = scene.landmask.classify()
    ax = mask.landmask.plot()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == sorted(labels, key=["other", "forest", "urban", "water"].index)
    assert {"forest", "water"} <= set(labels)
    ax = scene.landmask.indices(["mndwi"])["mndwi"].landmask.plot()
    image = ax.get_images()[0]
    assert image.norm.vmin == -image.norm.vmax and ax.get_title() == "mndwi"


def test_wrong_kind_of_array_is_a_clear_error(scene):
    mask = scene.landmask.classify()
    with pytest.raises(InputError, match=r"classify\(\) needs a scene"):
        mask.landmask.classify()
    with pytest.raises(
        InputError,
        match=r"vectorize\(\): not a mask \(expected 2-D uint8 class ids, got 3-D float32\)",
    ):
        scene.landmask.vectorize()
    with pytest.raises(InputError, match=r"write\(\) writes a mask"):
        scene.landmask.write("x.tif")


def test_package_functions_stay_functions_after_their_modules_load():
    code = (
        "import landmask\n"
        "from landmask.io.read.masks import open_mask\n"  # loads the module landmask/evaluate.py
        "import landmask.classification.classify\n"
        "print(callable(landmask.classify), callable(landmask.evaluate),"
        " landmask.classify.__name__, landmask.evaluate.__module__)"
    )
    assert _python(code).split() == ["True", "True", "classify", "landmask.evaluation.evaluate"]
