"""The model protocol, the spec registry and plug-ins, and tiled inference with a halo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from conftest import TRANSFORM, UTM33
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from landmask._runtime.schedulers import use_scheduler
from landmask.classes import LANDCOVER, NODATA, WORLDCOVER
from landmask.classification.classify import classify, classify_with_probabilities
from landmask.cli import run
from landmask.errors import BandError, ModelError
from landmask.io.read.scene import open_scene
from landmask.models.inference import ids_from_proba
from landmask.models.registry import (
    ModelHandle,
    RulesModel,
    available_models,
    check_model,
    load_model,
    model_scheme,
)
from landmask.spectral.rules import load_rules
from landmask.synthetic import BANDS, make_scene

PLUGIN_SOURCE = Path(__file__).parent / "plugin"


def as_scene(reflectance: np.ndarray, chunks: int | None = None) -> xr.DataArray:
    arr = xr.DataArray(reflectance, dims=("band", "y", "x"), coords={"band": list(BANDS)})
    arr = arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM)
    return arr.chunk({"band": -1, "y": chunks or -1, "x": chunks or -1})


@pytest.fixture(scope="module")
def synthetic() -> np.ndarray:
    return make_scene((230, 250), seed=5).reflectance


class Smoothed:
    """A model that needs context: water where the 5x5 mean of MNDWI-like contrast is high."""

    classes = (0, 3)
    bands = ("green", "swir16")
    halo = 2

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        green, swir = np.nan_to_num(block[0]), np.nan_to_num(block[1])
        contrast = (green - swir) / (green + swir + 1e-6)
        smooth = ndimage.uniform_filter(contrast, 5, mode="constant")  # reach: 2 px
        water = 1 / (1 + np.exp(-30 * smooth))
        return np.stack([1 - water, water]).astype(np.float32)


def whole_array_reference(model: Smoothed, reflectance: np.ndarray) -> np.ndarray:
    """The model run once on the whole scene, then argmax, in plain numpy."""
    index = [list(BANDS).index(b) for b in model.bands]
    block = reflectance[index]
    proba = model.predict_proba(block)
    missing = ~np.isfinite(block).all(axis=0)
    return ids_from_proba(proba, model.classes, 0.5, missing)


# ------------------------------------------------------------- inference


@pytest.mark.parametrize("chunks", [11, 17, 64, 100, None])
def test_halo_model_is_seamless_for_any_chunk_size(synthetic, chunks):
    expected = whole_array_reference(Smoothed(), synthetic)
    assert {0, 3, 255} <= set(np.unique(expected).tolist())
    mask = classify(as_scene(synthetic, chunks), model=Smoothed())
    assert mask.chunks == as_scene(synthetic, chunks).chunks[1:]
    np.testing.assert_array_equal(mask.values, expected)


def test_without_halo_the_same_model_would_leave_seams(synthetic):
    """The test above can fail: declaring no halo changes pixels along chunk borders."""

    class NoHalo(Smoothed):
        halo = 0

    expected = whole_array_reference(Smoothed(), synthetic)
    seamy = classify(as_scene(synthetic, 40), model=NoHalo()).values
    differ = np.argwhere(seamy != expected)
    assert len(differ) > 0
    near_border = (differ % 40 <= 1) | (differ % 40 >= 38)
    assert near_border.any(axis=1).all()


def test_rules_as_a_model_equal_the_rules_path(synthetic):
    scene = as_scene(synthetic, 64)
    expected = classify(scene, "default").values
    np.testing.assert_array_equal(classify(scene, model="rules:default").values, expected)
    model = RulesModel(load_rules("default"))
    np.testing.assert_array_equal(classify(scene, model=model).values, expected)
    mask, proba = classify_with_probabilities(scene, "rules:naip")
    naip = classify(scene, "naip").values
    np.testing.assert_array_equal(mask.values, naip)
    # one-hot: the class's layer is 254 (p = 1), the others 0, nodata 255 everywhere
    p = proba.values
    for k, class_id in enumerate(proba["class"].values):
        assert (p[k][naip == class_id] == 254).all()
        assert (p[k][(naip != class_id) & (naip != 255)] == 0).all()
    assert (p[:, naip == 255] == 255).all()


def test_min_confidence_makes_unsure_pixels_other():
    proba = np.array(
        [[[0.9, 0.4, np.nan]], [[0.1, 0.35, 0.2]], [[0.0, 0.25, 0.8]]], dtype=np.float32
    )
    missing = np.zeros((1, 3), dtype=bool)
    ids = ids_from_proba(proba, (1, 2, 3), 0.5, missing)
    np.testing.assert_array_equal(ids, [[1, 0, 255]])
    np.testing.assert_array_equal(ids_from_proba(proba, (1, 2, 3), 0.3, missing), [[1, 1, 255]])
    missing[0, 0] = True
    assert ids_from_proba(proba, (1, 2, 3), 0.5, missing)[0, 0] == 255


def test_probabilities_are_quantised_and_match_the_mask(synthetic):
    scene = as_scene(synthetic, 64)
    mask, proba = classify_with_probabilities(scene, Smoothed(), min_confidence=0.5)
    m, p = mask.values, proba.values
    assert proba.dtype == np.uint8 and proba.dims == ("class", "y", "x")
    assert list(proba["class"].values) == [0, 3]
    index = [list(BANDS).index(b) for b in Smoothed.bands]
    direct = Smoothed().predict_proba(synthetic[index])
    valid = m != 255
    np.testing.assert_array_equal(p[:, valid], np.rint(direct[:, valid] * 254).astype(np.uint8))
    assert (p[:, ~valid] == 255).all()
    assert proba.rio.crs == UTM33 and proba.rio.transform() == TRANSFORM


def test_probabilities_written_with_the_mask_in_one_pass(synthetic, tmp_path):
    from landmask.io.write.rasters import write_mask

    class Counting(Smoothed):
        calls = 0

        def predict_proba(self, block):
            type(self).calls += 1
            return super().predict_proba(block)

    scene = as_scene(synthetic, 128)
    mask, proba = classify_with_probabilities(scene, Counting())
    write_mask(mask, tmp_path / "m.tif", probabilities=proba, probabilities_path=tmp_path / "p.tif")
    # shared by both outputs: each of the 4 chunks once, then the strips along its
    # 2 seams (landmask._runtime.seams); computed per output it would be 24
    assert Counting.calls == 4 + 4 * 2
    with rasterio.open(tmp_path / "p.tif") as ds:
        assert ds.count == 2 and ds.dtypes[0] == "uint8" and ds.nodata == 255
        assert ds.descriptions == ("other", "water")
        assert ds.scales == pytest.approx((1 / 254, 1 / 254))
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
        stored = ds.read()
    with rasterio.open(tmp_path / "m.tif") as ds:
        written = ds.read(1)
    np.testing.assert_array_equal(written, mask.values)
    np.testing.assert_array_equal(stored, proba.values)


def test_a_model_spec_is_loaded_once_per_process(tmp_path, monkeypatch, plugin_path):
    log = tmp_path / "loads.txt"
    monkeypatch.setenv("LANDMASK_PLUGIN_LOG", str(log))
    scene = as_scene(make_scene((200, 200), seed=1).reflectance, 50)  # 16 chunks
    with use_scheduler("processes"):
        mask = classify(scene, model="greenness:0.55").values
    pids = log.read_text().split()
    assert len(pids) == len(set(pids)), f"a process loaded the model twice: {pids}"
    assert len(pids) <= 1 + (os.cpu_count() or 1)  # this process, then each worker once
    assert set(np.unique(mask).tolist()) <= {0, 1, 255}


def test_model_handle_pickles_as_its_spec():
    import pickle

    handle = ModelHandle("rules:default")
    again = pickle.loads(pickle.dumps(handle))
    assert again == handle and again.get() is handle.get()  # cached per process


# -------------------------------------------------------------- protocol


@pytest.mark.parametrize(
    ("attrs", "needle"),
    [
        ({"bands": ["red"], "halo": 0}, "lacks classes"),
        ({"classes": [], "bands": ["red"], "halo": 0}, "non-empty list of class ids"),
        ({"classes": [1, 255], "bands": ["red"], "halo": 0}, "within 0..254"),
        ({"classes": [1, 1], "bands": ["red"], "halo": 0}, "unique"),
        ({"classes": [1], "bands": [], "halo": 0}, "band names"),
        ({"classes": [1], "bands": ["red"], "halo": -1}, "halo"),
    ],
)
def test_check_model_names_what_is_wrong(attrs, needle):
    obj = type("Bad", (), {**attrs, "predict_proba": lambda self, b: b})()
    with pytest.raises(ModelError, match=needle):
        check_model(obj, "bad-model")


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [(None, LANDCOVER), (WORLDCOVER, WORLDCOVER), ("worldcover", WORLDCOVER)],
    ids=["none", "object", "name"],
)
def test_model_scheme_from_an_object_or_a_name(scheme, expected):
    model = Smoothed()
    if scheme is not None:
        model.scheme = scheme  # type: ignore[attr-defined]
    assert model_scheme(model) is expected


def test_model_scheme_by_name_reaches_the_mask(synthetic):
    class TreeWater(Smoothed):
        classes = (10, 80)  # worldcover: tree_cover, permanent_water_bodies
        scheme = "worldcover"

    mask = classify(as_scene(synthetic), model=TreeWater())
    assert mask.attrs["class_scheme"] == "worldcover"
    assert "80:permanent_water_bodies" in mask.attrs["class_names"]


@pytest.mark.parametrize(
    ("scheme", "needle"),
    [("no-such-scheme", r"my-model: unknown class scheme 'no-such-scheme'"), (3, "scheme name")],
)
def test_model_scheme_that_is_not_a_scheme_is_a_model_error(synthetic, scheme, needle):
    model = Smoothed()
    model.name = "my-model"  # type: ignore[attr-defined]
    model.scheme = scheme  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match=needle):
        model_scheme(model)
    with pytest.raises(ModelError, match=needle):
        classify(as_scene(synthetic), model=model)


def test_model_reading_a_missing_band_is_refused(synthetic):
    class NeedsRedEdge(Smoothed):
        bands = ("rededge", "nir")

    with pytest.raises(BandError, match=r"rededge.*model"):
        classify(as_scene(synthetic), model=NeedsRedEdge())


def test_predict_proba_of_the_wrong_shape_is_an_error(synthetic):
    class Wrong(Smoothed):
        def predict_proba(self, block):
            return np.zeros((3, *block.shape[1:]), np.float32)

    with pytest.raises(ModelError, match="shape"):
        classify(as_scene(synthetic, 100), model=Wrong()).compute()


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nonsense", "unknown model"),
        ("sklearn:", "give a path"),
        ("onnx:/no/such/file.onnx", "no such file"),
        ("json:dumps", "factory failed"),
        ("json:JSONDecoder", "not a model"),
        ("no_such_module_xyz:factory", "cannot import"),
        ("landmask.models.registry:nothing_here", "has no nothing_here"),
        ("rules:/no/such/rules.yaml", "no such rules file"),
    ],
)
def test_bad_specs_raise_model_errors(spec, needle):
    from landmask.errors import InputError

    with pytest.raises(InputError, match=needle):
        load_model(spec)


def test_module_factory_spec(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "from landmask.models.registry import RulesModel\n"
        "from landmask.spectral.rules import load_rules\n"
        "def water_only():\n"
        "    return RulesModel(load_rules({'rules': [{'class': 'water', 'when': 'mndwi > 0'}]}))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = load_model("my_models:water_only")
    assert model.classes == [0, 3] and model.bands == ["green", "swir16"]


# --------------------------------------------------------------- plug-ins


@pytest.fixture(scope="session")
def installed_plugin(tmp_path_factory) -> Path:
    """The example plug-in package, pip-installed into a folder of its own."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN_SOURCE, work / "src")
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"),
            *("--no-index", "--target", str(target), str(source)),
        ],
        check=True,
        capture_output=True,
    )
    assert (next(target.glob("*.dist-info")) / "entry_points.txt").is_file()
    return target


@pytest.fixture
def plugin_path(installed_plugin, monkeypatch) -> Path:
    monkeypatch.syspath_prepend(str(installed_plugin))
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(installed_plugin), pythonpath]))
    )
    return installed_plugin


def test_plugin_is_found_through_its_entry_point(plugin_path):
    listed = {info.spec: info for info in available_models()}
    assert listed["greenness"].kind == "plug-in"
    assert "landmask-example-plugin" in listed["greenness"].description
    model = load_model("greenness:0.6")
    assert model.threshold == 0.6 and type(model).__module__ == "landmask_example_plugin"


def test_plugin_runs_from_the_command_line(plugin_path, tmp_path, s2_file, capsys):
    out = tmp_path / "mask.tif"
    args = [str(s2_file), "--sensor", "sentinel2-l2a", "--model", "greenness:0.6", "-o", str(out)]
    assert run(["classify", *args]) == 0
    assert "model greenness:0.6" in capsys.readouterr().out
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    red, nir = scene.sel(band="red").values, scene.sel(band="nir").values
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    with rasterio.open(out) as ds:
        mask = ds.read(1)
        assert ds.tags()["MODEL"] == "greenness:0.6"
    sure = np.abs(ndvi - 0.6) > 0.05  # away from the threshold the answer is certain
    np.testing.assert_array_equal(mask[sure & (ndvi > 0.6)], 1)
    np.testing.assert_array_equal(mask[sure & (ndvi < 0.6)], 0)
    assert run(["models"]) == 0
    assert "greenness" in capsys.readouterr().out


def test_models_command_lists_builtins_and_model_files(tmp_path, capsys):
    (tmp_path / "a.onnx").write_bytes(b"")
    (tmp_path / "b.joblib").write_bytes(b"")
    assert run(["models", "--search", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "rules:default" in out and "rules:naip" in out
    assert f"onnx:{tmp_path / 'a.onnx'}" in out and f"sklearn:{tmp_path / 'b.joblib'}" in out


def test_dask_graph_carries_the_spec_not_the_model(synthetic):
    import pickle

    mask = classify(as_scene(synthetic, 100), model="rules:default")
    assert isinstance(mask.data, da.Array)
    pickled = pickle.dumps(dict(mask.data.__dask_graph__()))
    assert b"ModelHandle" in pickled and b"rules:default" in pickled
    assert b"RulesModel" not in pickled and b"RuleSet" not in pickled


_SKIP_RULES = [
    "default",
    "ndvi > 0.4 and (red - blue) / (red + blue) < 0.2",
    "red / nir > 0.5",  # nir only in a denominator: red / inf is 0, so it needs the mask
    "nir ** 0 > 0.5 and ndvi > 0.3",  # nan ** 0 is 1: the bands are checked too
    "focal_mean(nir - red, 1) > 0.05 or (blue + swir22) * 2 < 0.3",
]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**16),
    rules=st.sampled_from(_SKIP_RULES),
    pick=st.permutations(range(6)),
)
def test_rules_that_mark_missing_pixels_need_no_mask_of_their_own(seed, rules, pick):
    # predict_block skips its mask of missing bands for rules whose every band sits
    # where NaN or +-inf makes a checked quantity not finite: the same ids as with it
    from landmask.models.inference import predict_block
    from landmask.spectral.rules import classify_block

    ruleset = load_rules(
        rules
        if rules == "default"
        else {"name": "t", "rules": [{"class": "forest", "when": rules}]}
    )
    model = RulesModel(ruleset)
    rng = np.random.default_rng(seed)
    block = (rng.random((6, 9, 11)) * 0.6 - 0.05).astype(np.float32)
    for value, share in ((np.nan, 0.1), (np.inf, 0.05), (-np.inf, 0.05), (0.0, 0.1)):
        block[rng.random(block.shape) < share] = value
    order = [BANDS[k] for k in pick]
    shuffled = block[[BANDS.index(b) for b in order]]
    reads = [order.index(b) for b in model.bands]
    got = predict_block(shuffled, model, 0.5, False, pick=reads)[0]
    want = classify_block(shuffled, order, ruleset)
    want[~np.isfinite(shuffled[reads]).all(axis=0)] = NODATA
    np.testing.assert_array_equal(got, want)
    assert model.marks_missing == (rules not in ("red / nir > 0.5",))
