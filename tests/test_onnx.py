"""ONNX models: halo tiling without seams, metadata and sidecars, fixed input sizes, the CLI.

The models (:mod:`onnx_builders`) are 5x5 convolutions with pseudo-random
weights: every output pixel depends on its neighbours, so a wrong halo, a
wrong trim or a wrong tile offset changes the mask. The reference is the same
network run by a plain onnxruntime session on the whole scene at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from conftest import TRANSFORM, UTM33, invoke, write_raster
from conftest import assert_one_line as assert_bad_input
from onnx_builders import conv_model, default_metadata, reference_proba, unet_model, write_bytes

from landmask.classification.classify import classify, classify_with_probabilities
from landmask.errors import BandError, ModelError
from landmask.io.read.scene import pixel_coords
from landmask.models.onnx import OnnxModel
from landmask.models.registry import load_model
from landmask.synthetic import BANDS, make_scene

MODEL_BANDS = ("green", "red", "nir", "swir16")
CLASSES = (0, 1, 2, 3)
SHAPE = (600, 640)
CHUNKS = (64, 300, -1)


# ------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def synthetic() -> np.ndarray:
    """Reflectance ``(band, y, x)`` of a 600x640 synthetic scene, NaN in its nodata margin."""
    return make_scene(SHAPE, seed=5).reflectance


def as_scene(reflectance: np.ndarray, chunk: int | None = None) -> xr.DataArray:
    """An in-memory georeferenced scene as :func:`~landmask.open_scene` returns one."""
    h, w = reflectance.shape[1:]
    arr = xr.DataArray(
        reflectance,
        dims=("band", "y", "x"),
        coords={"band": list(BANDS), **pixel_coords(TRANSFORM, h, w)},
        name="reflectance",
    )
    arr = arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM)
    return arr if chunk is None else arr.chunk({"band": -1, "y": chunk, "x": chunk})


def reference_ids(
    path: Path,
    reflectance: np.ndarray,
    bands: Sequence[str] = MODEL_BANDS,
    classes: Sequence[int] = CLASSES,
    min_confidence: float = 0.5,
) -> np.ndarray:
    """The mask the model gives when it sees the whole scene at once, computed here."""
    meta = default_metadata(bands, classes, 0, "logits")
    mean = [float(v) for v in meta["landmask.mean"].split(",")]
    std = [float(v) for v in meta["landmask.std"].split(",")]
    block = reflectance[[BANDS.index(b) for b in bands]]
    proba = reference_proba(path, block, mean, std)
    ids = np.asarray(classes, dtype=np.uint8)[np.argmax(proba, axis=0)]
    ids[proba.max(axis=0) < min_confidence] = 0
    ids[~np.isfinite(block).all(axis=0)] = 255
    return ids


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5x5-conv model with landmask metadata (halo 2)."""
    return conv_model(tmp_path_factory.mktemp("onnx") / "conv.onnx", MODEL_BANDS, CLASSES)


@pytest.fixture(scope="module")
def reference(model_path: Path, synthetic: np.ndarray) -> np.ndarray:
    ids = reference_ids(model_path, synthetic)
    # the test scene must exercise every class, the confidence floor and nodata
    values, counts = np.unique(ids, return_counts=True)
    assert set(values) == {*CLASSES, 255}, values
    assert counts.min() > 1000, dict(zip(values, counts, strict=True))
    return ids


# ---------------------------------------------------------- tiled inference


def test_mask_does_not_depend_on_chunk_size(model_path, synthetic, reference):
    masks = {}
    for chunk in CHUNKS:
        mask = classify(as_scene(synthetic, chunk), model=f"onnx:{model_path}")
        assert mask.dtype == np.uint8
        assert mask.shape == SHAPE
        masks[chunk] = mask.values
    for chunk, values in masks.items():
        differ = int((values != reference).sum())
        assert differ == 0, f"chunk {chunk}: {differ} pixels differ from the whole-scene run"


def test_mask_keeps_grid(model_path, synthetic):
    scene = as_scene(synthetic, 300)
    mask = classify(scene, model=f"onnx:{model_path}")
    assert mask.rio.crs == UTM33
    assert mask.rio.transform() == TRANSFORM
    assert mask.rio.nodata == 255
    np.testing.assert_array_equal(mask["x"].values, scene["x"].values)
    np.testing.assert_array_equal(mask["y"].values, scene["y"].values)
    assert mask.data.chunks == scene.data.chunks[1:]
    assert mask.attrs["model"] == f"onnx:{model_path}"


def test_declared_halo_too_small_leaves_seams(tmp_path, synthetic, reference):
    """The check above can fail: the same network declaring halo 0 gives seams at chunk edges."""
    path = conv_model(tmp_path / "nohalo.onnx", MODEL_BANDS, CLASSES, halo=0)
    mask = classify(as_scene(synthetic, 64), model=f"onnx:{path}").values
    differ = mask != reference
    assert differ.sum() > 100
    # and only near chunk borders (within the 2 px the network really needs)
    rows, cols = np.nonzero(differ)
    near = (np.minimum(rows % 64, 63 - rows % 64) < 2) | (np.minimum(cols % 64, 63 - cols % 64) < 2)
    assert near.all()


def test_min_confidence(model_path, synthetic):
    scene = as_scene(synthetic, 300)
    strict = classify(scene, model=f"onnx:{model_path}", min_confidence=0.9).values
    expected = reference_ids(model_path, synthetic, min_confidence=0.9)
    np.testing.assert_array_equal(strict, expected)
    loose = classify(scene, model=f"onnx:{model_path}", min_confidence=0.0).values
    assert (strict == 0).sum() > (loose == 0).sum()


def test_probabilities_from_the_same_pass(model_path, synthetic, reference):
    mask, proba = classify_with_probabilities(as_scene(synthetic, 64), f"onnx:{model_path}")
    mask_v, proba_v = mask.values, proba.values
    np.testing.assert_array_equal(mask_v, reference)
    assert proba.dims == ("class", "y", "x")
    assert list(proba["class"].values) == list(CLASSES)
    assert proba_v.dtype == np.uint8
    assert (proba_v[:, mask_v == 255] == 255).all()
    valid = mask_v != 255
    meta = default_metadata(MODEL_BANDS, CLASSES, 0, "logits")
    expected = reference_proba(
        model_path,
        synthetic[[BANDS.index(b) for b in MODEL_BANDS]],
        [float(v) for v in meta["landmask.mean"].split(",")],
        [float(v) for v in meta["landmask.std"].split(",")],
    )
    diff = np.abs(proba_v[:, valid].astype(int) - np.rint(expected[:, valid] * 254))
    assert diff.max() <= 1, diff.max()


def test_softmax_in_graph(tmp_path, synthetic, reference):
    """output: probabilities (a Softmax node in the graph) gives the mask of the logits model."""
    path = conv_model(tmp_path / "soft.onnx", MODEL_BANDS, CLASSES, output="probabilities")
    assert OnnxModel(path).output == "probabilities"
    mask = classify(as_scene(synthetic, 300), model=f"onnx:{path}").values
    assert int((mask != reference).sum()) == 0


@pytest.mark.parametrize("size", [128, (96, 160)])
def test_fixed_input_size_is_tiled(tmp_path, synthetic, reference, size):
    """A network with a fixed input size gets tiles of that size, trimmed, for any chunk size."""
    path = conv_model(tmp_path / "fixed.onnx", MODEL_BANDS, CLASSES, fixed_size=size)
    model = OnnxModel(path)
    assert model.fixed == ((size, size) if isinstance(size, int) else size)
    for chunk in (64, 300, -1):
        mask = classify(as_scene(synthetic, chunk), model=f"onnx:{path}").values
        differ = int((mask != reference).sum())
        assert differ == 0, f"chunk {chunk}: {differ} pixels differ"


def test_tiles_within_a_large_block(tmp_path, synthetic, reference):
    """A block larger than the model's tile is cut into overlapping tiles without seams."""
    path = conv_model(tmp_path / "small_tile.onnx", MODEL_BANDS, CLASSES, metadata={"tile": "50"})
    assert OnnxModel(path).tile == 50
    mask = classify(as_scene(synthetic, -1), model=f"onnx:{path}").values
    assert int((mask != reference).sum()) == 0


def test_deeper_network_halo(tmp_path, synthetic):
    """Two 5x5 convolutions with a ReLU between (halo 4): chunked equals whole.

    Zeros fed beyond a block edge are not what the network's own per-layer
    padding gives (ReLU(bias) != 0), so windows must never be padded to batch
    them with larger ones: the whole-scene chunk (600x640, cut into 512 px
    tiles of different sizes) shows it.
    """
    path = conv_model(tmp_path / "deep.onnx", MODEL_BANDS, CLASSES, depth=2, hidden=6, seed=2)
    assert OnnxModel(path).halo == 4
    expected = reference_ids(path, synthetic)
    for chunk in CHUNKS:
        mask = classify(as_scene(synthetic, chunk), model=f"onnx:{path}").values
        differ = int((mask != expected).sum())
        assert differ == 0, f"chunk {chunk}: {differ} pixels differ"


def test_unet_mask_does_not_depend_on_chunk_size(tmp_path, synthetic):
    """A one-level U-Net (max-pool, upsampling, skip connection) with an even halo (8).

    Exact for even chunk sizes: every tile then starts on an even pixel, so
    the pooling grid is the whole-scene run's.
    """
    path = unet_model(tmp_path / "unet.onnx", BANDS, CLASSES)
    expected = reference_ids(path, synthetic, bands=BANDS)
    assert (expected == 0).sum() > 10_000 and (expected == 1).sum() > 10_000
    for chunk in CHUNKS:
        mask = classify(as_scene(synthetic, chunk), model=f"onnx:{path}").values
        differ = int((mask != expected).sum())
        assert differ == 0, f"chunk {chunk}: {differ} pixels differ"


def test_model_object_and_spec_agree(model_path, synthetic, reference):
    model = OnnxModel(model_path)
    assert load_model(f"onnx:{model_path}") is load_model(f"onnx:{model_path}")  # cached
    mask = classify(as_scene(synthetic, 300), model=model).values
    np.testing.assert_array_equal(mask, reference)


def test_scene_without_model_band(model_path, synthetic):
    scene = as_scene(synthetic, 300).sel(band=["blue", "green", "red", "nir"])
    with pytest.raises(BandError, match="swir16"):
        classify(scene, model=f"onnx:{model_path}")


# ----------------------------------------------------- metadata and sidecars


SIDECAR = """\
bands: [green, red, nir, swir16]
classes: [0, 1, 2, 3]
halo: 2
mean: [0.08, 0.08, 0.24, 0.2]
std: [0.03, 0.05, 0.09, 0.09]
output: logits
"""


def test_metadata(model_path):
    model = OnnxModel(model_path)
    assert model.bands == list(MODEL_BANDS)
    assert model.classes == list(CLASSES)
    assert model.halo == 2
    assert model.output == "logits"
    np.testing.assert_allclose(model.mean.ravel(), [0.08, 0.08, 0.24, 0.2])
    np.testing.assert_allclose(model.std.ravel(), [0.03, 0.05, 0.09, 0.09])


@pytest.mark.parametrize("name", ["bare.onnx.yaml", "bare.yaml"])
def test_sidecar(tmp_path, synthetic, reference, name):
    path = conv_model(tmp_path / "bare.onnx", MODEL_BANDS, CLASSES, metadata=False)
    with pytest.raises(ModelError, match="bands and classes"):
        OnnxModel(path)
    (tmp_path / name).write_text(SIDECAR)
    model = OnnxModel(path)
    assert (model.bands, model.classes, model.halo) == (list(MODEL_BANDS), list(CLASSES), 2)
    mask = classify(as_scene(synthetic, 64), model=f"onnx:{path}").values
    assert int((mask != reference).sum()) == 0


def test_sidecar_overrides_metadata(tmp_path):
    path = conv_model(tmp_path / "m.onnx", MODEL_BANDS, CLASSES)
    Path(f"{path}.yaml").write_text("classes: 3,2,1,0\nhalo: 3\n")
    model = OnnxModel(path)
    assert model.classes == [3, 2, 1, 0]
    assert model.halo == 3
    assert model.bands == list(MODEL_BANDS)


@pytest.mark.parametrize(
    ("build", "sidecar", "pattern"),
    [
        ({"metadata": {"bands": None}}, None, "bands and classes"),
        ({"metadata": {"classes": None}}, None, "bands and classes"),
        ({"metadata": False}, "bands: [green, red, nir, swir16]\n", "bands and classes"),
        ({"channels": 5}, None, "5 channels"),
        ({"metadata": {"bands": "green,red,nir", "mean": "0.1", "std": "0.1"}}, None, "4 channels"),
        ({"metadata": {"classes": "1,2,3"}}, None, "4 classes"),
        ({"metadata": {"std": "0.1,0,0.1,0.1"}}, None, "std"),
        ({"metadata": {"mean": "0.1,0.2"}}, None, "mean/std"),
        ({"metadata": {"halo": "two"}}, None, "bad setting"),
        ({"metadata": {"output": "scores"}}, None, "logits or probabilities"),
        ({"metadata": {"classes": "1,1,2,3"}}, None, "unique"),
        ({"metadata": {"classes": "0,1,2,255"}}, None, "0..254"),
        ({"fixed_size": 8, "metadata": {"halo": "4"}}, None, "too small for halo"),
        ({}, "bands: [a, b\n", "not valid YAML"),
        ({}, "- bands\n", "mapping"),
        ({}, "weights: x\n", "unknown keys weights"),
    ],
)
def test_bad_model_description(tmp_path, build, sidecar, pattern):
    path = conv_model(tmp_path / "m.onnx", MODEL_BANDS, CLASSES, **build)
    if sidecar is not None:
        Path(f"{path}.yaml").write_text(sidecar)
    with pytest.raises(ModelError, match=pattern) as info:
        load_model(f"onnx:{path}")
    assert "\n" not in str(info.value)


def test_corrupt_and_missing_files(tmp_path):
    bad = write_bytes(tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match="cannot load") as info:
        load_model(f"onnx:{bad}")
    assert str(bad) in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelError, match="no such file"):
        load_model(f"onnx:{tmp_path / 'missing.onnx'}")
    with pytest.raises(ModelError, match="give a path"):
        load_model("onnx:")


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def scene_file(tmp_path: Path, synthetic: np.ndarray) -> Path:
    """The scene as a float32 GeoTIFF whose band descriptions are common names (no --sensor)."""
    return write_raster(
        tmp_path / "scene.tif",
        synthetic,
        nodata=float("nan"),
        descriptions=BANDS,
        blocksize=64,
    )


def test_cli_classify_with_onnx(tmp_path, scene_file, model_path, reference, capfd, caplog):
    out = tmp_path / "mask.tif"
    argv = ["classify", scene_file, "--model", f"onnx:{model_path}", "-o", out]
    res = invoke([*argv, "--chunk-size", "128"], capfd, caplog)
    assert res.code == 0, res.err
    assert f"model onnx:{model_path}" in res.out
    with rasterio.open(out) as mask, rasterio.open(scene_file) as src:
        assert mask.crs == src.crs == UTM33
        assert mask.transform == src.transform == TRANSFORM
        assert (mask.width, mask.height) == (src.width, src.height)
        assert mask.nodata == 255
        assert mask.tags()["MODEL"] == f"onnx:{model_path}"
        values = mask.read(1)
    np.testing.assert_array_equal(values, reference)


def test_cli_probabilities(tmp_path, scene_file, model_path, reference, capfd, caplog):
    out, prob = tmp_path / "mask.tif", tmp_path / "p.tif"
    argv = ["classify", scene_file, "--model", f"onnx:{model_path}", "-o", out]
    res = invoke([*argv, "--probabilities", prob, "--chunk-size", "64"], capfd, caplog)
    assert res.code == 0, res.err
    with rasterio.open(out) as ds:
        mask = ds.read(1)
    with rasterio.open(prob) as ds:
        assert ds.count == len(CLASSES)
        assert ds.dtypes == ("uint8",) * len(CLASSES)
        assert ds.nodata == 255
        np.testing.assert_allclose(ds.scales, [1 / 254] * len(CLASSES))
        assert ds.descriptions == ("other", "forest", "urban", "water")
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
        stored = ds.read()
    np.testing.assert_array_equal(mask, reference)
    assert (stored[:, mask == 255] == 255).all()
    valid = mask != 255
    assert (stored[:, valid] <= 254).all()
    # probabilities of a pixel sum to ~1 (each rounded to 1/254)
    sums = stored[:, valid].astype(int).sum(axis=0)
    assert np.abs(sums - 254).max() <= len(CLASSES)
    # the stored argmax is the mask wherever a class won (not other, not nodata) without a tie
    top2 = np.sort(stored, axis=0)[-2:]
    clear = (mask != 0) & valid & (top2[1] > top2[0])
    assert clear.sum() > 0.15 * valid.sum()  # measured 0.22 on the real-spectra generator
    best = np.asarray(CLASSES, dtype=np.uint8)[np.argmax(stored, axis=0)]
    np.testing.assert_array_equal(best[clear], mask[clear])


def test_cli_model_band_missing(tmp_path, scene_file, capfd, caplog):
    path = conv_model(tmp_path / "re.onnx", ("red", "rededge", "nir"), (0, 1, 3))
    out = tmp_path / "mask.tif"
    res = invoke(["classify", scene_file, "--model", f"onnx:{path}", "-o", out], capfd, caplog)
    assert_bad_input(res, str(scene_file), "rededge")
    assert not out.exists()


def test_cli_corrupt_onnx(tmp_path, scene_file, capfd, caplog):
    bad = write_bytes(tmp_path / "bad.onnx")
    out = tmp_path / "mask.tif"
    res = invoke(["classify", scene_file, "--model", f"onnx:{bad}", "-o", out], capfd, caplog)
    assert_bad_input(res, str(bad))
    assert not out.exists()


def test_cli_sidecar_error(tmp_path, scene_file, capfd, caplog):
    path = conv_model(tmp_path / "bare.onnx", MODEL_BANDS, CLASSES, metadata=False)
    out = tmp_path / "mask.tif"
    res = invoke(["classify", scene_file, "--model", f"onnx:{path}", "-o", out], capfd, caplog)
    assert_bad_input(res, str(path), "bare.onnx.yaml")
    assert not out.exists()


def test_cli_probabilities_need_model(tmp_path, scene_file, capfd, caplog):
    out, prob = tmp_path / "mask.tif", tmp_path / "p.tif"
    res = invoke(["classify", scene_file, "-o", out, "--probabilities", prob], capfd, caplog)
    assert_bad_input(res, "--probabilities")
    assert not out.exists() and not prob.exists()


def test_cli_probabilities_same_path_as_mask(tmp_path, scene_file, model_path, capfd, caplog):
    """-o and --probabilities naming one file would leave only one of the two outputs."""
    out = tmp_path / "mask.tif"
    argv = ["classify", scene_file, "--model", f"onnx:{model_path}", "-o", out]
    res = invoke([*argv, "--probabilities", out], capfd, caplog)
    assert_bad_input(res, "--probabilities")
    assert not out.exists()
