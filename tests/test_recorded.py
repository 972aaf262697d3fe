"""Models read scenes as they were trained: the record, its merge with the options, refusals.

A model is trained through the CLI with an explicit ``--band``/``--scale``/
``--offset`` mapping on a synthetic 6-band uint16 scene (DN = reflectance * 1e4
+ 1000, so the right options are ``--scale 0.0001 --offset -0.1``), then used
with the same options, with none, with the mapping alone (the issue's case) and
with contradicting ones; the batch runner takes the same route.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import rasterio
import yaml
from conftest import assert_one_line, invoke, write_raster
from sklearn.tree import DecisionTreeClassifier

from landmask.classification.classify import classify
from landmask.errors import ModelMismatchError, UncalibratedWarning
from landmask.io.read.scene import open_scene
from landmask.models.recorded import SceneRecord, recorded, scene_options
from landmask.models.registry import load_model
from landmask.models.sklearn import FORMAT, SklearnModel
from landmask.synthetic import write_scene

SIZE = 160
BANDS = ("--band", "blue=1", "--band", "green=2", "--band", "red=3")
BANDS += ("--band", "nir=4", "--band", "swir16=5", "--band", "swir22=6")
MAPPING = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5, "swir22": 6}
RADIOMETRY = ("--scale", "0.0001", "--offset", "-0.1")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A scene, its truth, another scene, and a model trained on the first with explicit options."""
    folder = tmp_path_factory.mktemp("recorded")
    a, b = folder / "a.tif", folder / "b.tif"
    write_scene(a, SIZE, 21, truth_path=folder / "truth.tif", blocksize=64)
    write_scene(b, SIZE, 22, blocksize=64)
    model = folder / "model.joblib"
    argv = ["train", a, *BANDS, *RADIOMETRY, "--labels", folder / "truth.tif"]
    from landmask.cli import run

    assert run([str(x) for x in [*argv, "--max-per-class", 400, "-q", "-o", model]]) == 0
    return folder, a, b, model


def _classify(capsys, caplog, scene, model, out, *options):
    return invoke(
        ["classify", scene, *options, "--model", f"sklearn:{model}", "-o", out], capsys, caplog
    )


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(1)


def test_the_model_file_records_the_options(trained):
    _, _, _, model = trained
    loaded = SklearnModel.load(model)
    record = loaded.scene_record
    assert record.bands == MAPPING
    assert (record.scale, record.offset, record.scaling) == (1e-4, -0.1, "options")
    assert record.sensor is None  # a generic mapping, no preset
    assert set(record.nodata) == set(MAPPING) and all(v == 0 for v in record.nodata.values())
    assert joblib.load(model)["scene"]["bands"] == MAPPING


def test_classify_without_options_applies_the_recorded_ones(trained, tmp_path, capsys, caplog):
    _, _, b, model = trained
    given, none, only_bands = tmp_path / "given.tif", tmp_path / "none.tif", tmp_path / "bands.tif"
    res = _classify(capsys, caplog, b, model, given, *BANDS, *RADIOMETRY)
    assert res.code == 0, res.err
    res = _classify(capsys, caplog, b, model, none)
    assert res.code == 0, res.err
    assert res.err == ""
    res = _classify(capsys, caplog, b, model, only_bands, *BANDS)
    assert res.code == 0, res.err
    expected = _read(given)
    np.testing.assert_array_equal(_read(none), expected)
    np.testing.assert_array_equal(_read(only_bands), expected)
    # and the options matter: the same model on digital numbers read unscaled is another map
    raw = open_scene(b, bands=MAPPING, scale=1.0, offset=0.0)
    unscaled = classify(raw, model=load_model(f"sklearn:{model}")).values
    assert (unscaled != expected).mean() > 0.2


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (("--scale", "0.001"), ("--scale 0.001", "scale 0.0001")),
        (("--offset", "0"), ("--offset 0", "offset -0.1")),
        (("--band", "red=4", "--band", "nir=3"), ("--band nir=3", "--band nir=4")),
        (("--sensor", "sentinel2-l2a", "--scale", "0.0002"), ("--scale 0.0002", "0.0001")),
    ],
)
def test_contradicting_options_are_refused(trained, tmp_path, capsys, caplog, options, needles):
    _, _, b, model = trained
    out = tmp_path / "mask.tif"
    res = _classify(capsys, caplog, b, model, out, *options)
    assert_one_line(res, *needles, str(model))
    assert not out.exists()


def test_models_show_prints_the_record(trained, capsys, caplog):
    _, _, _, model = trained
    for spec in (f"sklearn:{model}", str(model)):
        res = invoke(["models", "show", spec], capsys, caplog)
        assert res.code == 0, res.err
        out = res.out
        assert "bands: blue, green, red, nir, swir16, swir22" in out
        assert "band mapping: --band blue=1 --band green=2" in out
        assert "scale: 0.0001, offset: -0.1 (from options)" in out
        assert "classes (landcover): 0 other, 1 forest, 2 urban, 3 water" in out
        assert "hold-out accuracy" in out and "features: blue" in out
    res = invoke(["models"], capsys, caplog)  # the listing still works
    assert res.code == 0 and "rules:default" in res.out
    res = invoke(["models", "show", "rules:default"], capsys, caplog)
    assert res.code == 0 and "nothing recorded" in res.out


def _oli_model(path, sensor="landsat-c2-l2", variant="oli"):
    bands = ["red", "nir08"]
    x = np.array([[0.1, 0.4], [0.3, 0.1], [0.05, 0.02]], np.float32)
    estimator = DecisionTreeClassifier(random_state=0).fit(x, [1, 2, 3])
    record = SceneRecord(
        sensor=sensor, variant=variant, instrument="Landsat 8 OLI", scaling="sensor"
    )
    SklearnModel(estimator, bands, bands, "landcover", record).save(path)
    return path


def _landsat_files(folder, pid, band_ids):
    return [
        write_raster(folder / f"{pid}_{b}.TIF", np.full((8, 8), 12000, np.uint16), nodata=0)
        for b in band_ids
    ]


def test_files_of_another_variant_than_the_model_are_refused(tmp_path, capsys, caplog):
    model = _oli_model(tmp_path / "oli.joblib")
    etm = _landsat_files(tmp_path, "LE07_L2SP_044034_20210508_20210603_02_T1", ["SR_B3", "SR_B4"])
    oli = _landsat_files(tmp_path, "LC08_L2SP_044034_20210508_20210518_02_T1", ["SR_B4", "SR_B5"])
    out = tmp_path / "mask.tif"
    res = invoke(["classify", *etm, "--model", f"sklearn:{model}", "-o", out], capsys, caplog)
    assert_one_line(res, "Landsat 7 ETM+ files", "trained on Landsat 8 OLI")
    assert not out.exists()
    s2 = write_raster(tmp_path / "T33UUP_20220301T101839_B04_10m.tif", np.ones((8, 8), "u2"))
    with pytest.raises(ModelMismatchError, match="Sentinel-2 MSI files"):
        scene_options(
            load_model(f"sklearn:{model}"), [s2], sensor=None, bands=None, scale=None, offset=None
        )
    res = invoke(["classify", *oli, "--model", f"sklearn:{model}", "-o", out], capsys, caplog)
    assert res.code == 0, res.err
    assert _read(out).shape == (8, 8)


def test_model_files_of_earlier_versions_load_with_their_options(tmp_path):
    path = tmp_path / "old.joblib"
    estimator = DecisionTreeClassifier().fit(np.array([[0.1], [0.5]]), [1, 3])
    payload = {
        "format": FORMAT,
        "estimator": estimator,
        "bands": ["nir"],
        "features": ["nir"],
        "scheme": "landcover",
        "sensor": "sentinel2-l2a",
        "scale": 1e-4,
        "offset": 0.0,
        "report": {},
    }
    joblib.dump(payload, path)
    record = recorded(SklearnModel.load(path))
    assert (record.sensor, record.scale, record.offset, record.scaling) == (
        "sentinel2-l2a",
        1e-4,
        0.0,
        "options",
    )
    choice = scene_options(
        SklearnModel.load(path), [], sensor=None, bands=None, scale=None, offset=None
    )
    assert (choice.sensor, choice.scale, choice.offset) == ("sentinel2-l2a", 1e-4, 0.0)
    assert choice.from_model == ("sensor", "scale", "offset")


def test_a_preset_trained_model_leaves_the_offset_to_the_files(tmp_path):
    """Trained through the preset: the baseline of each product decides its offset."""
    model = tmp_path / "s2.joblib"
    x = np.array([[0.1], [0.5]], np.float32)
    record = SceneRecord(
        sensor="sentinel2-l2a", variant="msi", scale=1e-4, offset=-0.1, scaling="sensor"
    )
    SklearnModel(
        DecisionTreeClassifier().fit(x, [1, 3]), ["red"], ["red"], "landcover", record
    ).save(model)
    choice = scene_options(
        load_model(f"sklearn:{model}"), [], sensor=None, bands=None, scale=None, offset=None
    )
    assert (choice.sensor, choice.scale, choice.offset) == ("sentinel2-l2a", None, None)


def test_run_workflow_takes_the_model_record(trained, tmp_path):
    from landmask.batch.workflow import load_workflow
    from landmask.cli import run
    from landmask.errors import ConfigError

    _, _, b, model = trained
    doc = {
        "name": "recorded",
        "inputs": [str(b)],
        "classifier": {"model": f"sklearn:{model}"},
        "outputs": {"dir": str(tmp_path / "out"), "mask": "{stem}_mask.tif"},
    }
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    assert run(["run", str(job), "-q"]) == 0
    expected = classify(
        open_scene(b, bands=MAPPING, scale=1e-4, offset=-0.1), model=f"sklearn:{model}"
    ).values
    np.testing.assert_array_equal(_read(tmp_path / "out" / "b_mask.tif"), expected)
    job.write_text(yaml.safe_dump({**doc, "scale": 0.001}))
    with pytest.raises(ConfigError, match=r"scale: 0\.001 contradicts the scale 0\.0001"):
        load_workflow(job)


def test_onnx_sidecar_records_scene_options(tmp_path):
    pytest.importorskip("onnx")
    from onnx_builders import conv_model

    from landmask.models.onnx import OnnxModel

    path = conv_model(tmp_path / "m.onnx", ("red", "nir"), (0, 1, 2, 3))
    (tmp_path / "m.onnx.yaml").write_text("sensor: sentinel2-l2a\nscale: 0.0001\noffset: -0.1\n")
    model = OnnxModel(path)
    assert recorded(model) == SceneRecord(
        sensor="sentinel2-l2a", scale=1e-4, offset=-0.1, scaling="options"
    )
    none = {"sensor": None, "bands": None, "scale": None, "offset": None}
    choice = scene_options(model, [], **none)
    assert (choice.sensor, choice.scale, choice.offset) == ("sentinel2-l2a", 1e-4, -0.1)
    with pytest.raises(ModelMismatchError, match="--sensor naip contradicts"):
        scene_options(model, [], **{**none, "sensor": "naip"})


def test_run_fails_only_the_scene_of_another_variant(tmp_path):
    """A Landsat 8 OLI model over an LC08 scene and an LE07 scene: the LE07 one fails alone."""
    import json

    from landmask.cli import run

    model = _oli_model(tmp_path / "oli.joblib")
    oli = _landsat_files(tmp_path, "LC08_L2SP_044034_20210508_20210518_02_T1", ["SR_B4", "SR_B5"])
    etm = _landsat_files(tmp_path, "LE07_L2SP_044034_20210508_20210603_02_T1", ["SR_B3", "SR_B4"])
    doc = {
        "name": "variants",
        "inputs": [[str(p) for p in oli], [str(p) for p in etm]],
        "classifier": {"model": f"sklearn:{model}"},
        "quality": False,
        "outputs": {"dir": str(tmp_path / "out"), "mask": "{stem}_mask.tif"},
    }
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    assert run(["run", str(job), "-q"]) != 0
    summary = json.loads((tmp_path / "out" / "run-summary.json").read_text())
    status = {s["status"]: s for s in summary["scenes"]}
    assert set(status) == {"done", "failed"}
    assert "Landsat 7 ETM+ files" in status["failed"]["error"]
    assert "trained on Landsat 8 OLI" in status["failed"]["error"]
    outputs = sorted(p.name for p in (tmp_path / "out").glob("*_mask.tif"))
    assert len(outputs) == 1 and outputs[0].startswith("LC08")


# ------------------------------------------------------------------ radiometry


@pytest.fixture(scope="module")
def dn_model(trained):
    """A model trained on the same scene read as digital numbers (no scale from anywhere)."""
    folder, a, _, _ = trained
    model = folder / "dn-model.joblib"
    argv = ["train", a, *BANDS, "--labels", folder / "truth.tif", "--max-per-class", 200]
    from landmask.cli import run

    assert run([str(x) for x in [*argv, "-q", "-o", model]]) == 0
    return model


def test_the_model_records_its_radiometry(trained, dn_model, capsys, caplog):
    _, _, _, model = trained
    record = SklearnModel.load(model).scene_record
    assert record.radiometry == "surface_reflectance"
    assert "--scale/--offset" in record.radiometry_basis
    assert SklearnModel.load(dn_model).scene_record.radiometry == "dn"
    res = invoke(["models", "show", str(dn_model)], capsys, caplog)
    assert res.code == 0, res.err
    line = [x for x in res.out.splitlines() if x.startswith("radiometry:")]
    assert len(line) == 1 and line[0].startswith("radiometry: digital numbers (uint16")


def test_a_dn_model_refuses_a_reflectance_scene(trained, dn_model, tmp_path, capsys, caplog):
    _, _, b, _ = trained
    out = tmp_path / "mask.tif"
    # a scale makes reflectance of the scene
    res = _classify(capsys, caplog, b, dn_model, out, *RADIOMETRY)
    assert_one_line(res, "--scale 0.0001", "reflectance", "digital numbers", str(dn_model))
    assert not out.exists()
    # a file that holds reflectance
    with rasterio.open(b) as ds:
        values = ds.read().astype(np.float32) * 1e-4 - 0.1
    reflectance = write_raster(tmp_path / "reflectance.tif", values)
    res = _classify(capsys, caplog, reflectance, dn_model, out, *BANDS)
    assert_one_line(res, "surface reflectance", "digital numbers", str(dn_model), "reflectance.tif")
    assert not out.exists()
    # the same scene as digital numbers, as the model was trained: classified
    res = _classify(capsys, caplog, b, dn_model, out)
    assert res.code == 0, res.err


def test_a_reflectance_model_refuses_digital_numbers(trained):
    _, _, b, model = trained
    with pytest.warns(UncalibratedWarning):  # uint16 with no scale: digital numbers
        dn = open_scene(b, bands=MAPPING)
    assert dn.attrs["radiometry"] == "dn"
    with pytest.raises(ModelMismatchError) as info:
        classify(dn, model=f"sklearn:{model}")
    message = str(info.value)
    assert "\n" not in message
    assert "digital numbers" in message and "trained on surface reflectance" in message
    assert "--scale" in message  # and how to read it as reflectance


def test_a_model_file_without_the_record_still_classifies(trained, tmp_path, caplog):
    import logging

    _, _, b, model = trained
    payload = joblib.load(model)
    for key in ("radiometry", "radiometry_basis"):
        del payload["scene"][key]
    old = tmp_path / "old.joblib"
    joblib.dump(payload, old)
    loaded = SklearnModel.load(old)
    assert loaded.scene_record.radiometry is None
    with pytest.warns(UncalibratedWarning):
        dn = open_scene(b, bands=MAPPING)
    with caplog.at_level(logging.DEBUG, logger="landmask.models.recorded"):
        mask = classify(dn, model=loaded)
    assert mask.shape == (SIZE, SIZE)
    assert any("records no radiometry" in r.getMessage() for r in caplog.records)
    assert "radiometry: not recorded" in "\n".join(loaded.scene_record.describe())


PER_BAND = ("--scale", "0.0001", "--scale", "nir=0.0002", "--offset", "red=-0.05")


@pytest.fixture(scope="module")
def per_band_model(trained):
    """The fixture's scene trained with per-band scale and offset (not one for every band)."""
    folder, a, _, _ = trained
    model = folder / "per_band.joblib"
    argv = ["train", a, *BANDS, *PER_BAND, "--labels", folder / "truth.tif"]
    from landmask.cli import run

    assert run([str(x) for x in [*argv, "--max-per-class", 400, "-q", "-o", model]]) == 0
    return model


def test_a_model_records_per_band_options(per_band_model, capsys, caplog):
    record = SklearnModel.load(per_band_model).scene_record
    assert record.scaling == "mixed" and record.scale is None
    assert record.option_scaling is not None
    assert record.option_scaling["nir"] == pytest.approx([2e-4, 0.0])
    assert record.option_scaling["red"] == pytest.approx([1e-4, -0.05])
    assert record.option_scaling["blue"] == pytest.approx([1e-4, 0.0])
    res = invoke(["models", "show", f"sklearn:{per_band_model}"], capsys, caplog)
    assert res.code == 0, res.err
    assert "scale/offset per band (from options): " in res.out
    assert "nir=0.0002/0" in res.out and "red=0.0001/-0.05" in res.out


def test_classify_applies_the_recorded_per_band_options(
    trained, per_band_model, tmp_path, capsys, caplog
):
    _, _, b, _ = trained
    given, none, some = tmp_path / "given.tif", tmp_path / "none.tif", tmp_path / "some.tif"
    res = _classify(capsys, caplog, b, per_band_model, given, *BANDS, *PER_BAND)
    assert res.code == 0, res.err
    res = _classify(capsys, caplog, b, per_band_model, none)
    assert res.code == 0, res.err
    res = _classify(capsys, caplog, b, per_band_model, some, "--scale", "nir=0.0002")
    assert res.code == 0, res.err
    expected = _read(given)
    np.testing.assert_array_equal(_read(none), expected)
    np.testing.assert_array_equal(_read(some), expected)
    # the per-band values matter: one scale for every band is another map
    model = load_model(f"sklearn:{per_band_model}")
    uniform = classify(open_scene(b, bands=MAPPING, scale=1e-4, offset=0.0), model=model).values
    assert (uniform != expected).mean() > 0.01


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (("--scale", "nir=0.0003"), ("--scale nir=0.0003", "scale nir=0.0002")),
        (("--scale", "0.0002"), ("--scale 0.0002", "scale blue=0.0001")),
        (("--offset", "red=0"), ("--offset red=0", "offset red=-0.05")),
    ],
)
def test_options_contradicting_recorded_per_band_values_are_refused(
    trained, per_band_model, tmp_path, capsys, caplog, options, needles
):
    _, _, b, _ = trained
    out = tmp_path / "mask.tif"
    res = _classify(capsys, caplog, b, per_band_model, out, *options)
    assert_one_line(res, *needles, str(per_band_model))
    assert not out.exists()


def test_per_band_records_complete_the_users_mapping():
    record = SceneRecord(scaling="mixed", option_scaling={"nir08": [2e-4, 0.0], "red": [1e-4, 0.1]})

    class Model:
        scene_record = record

    choice = scene_options(Model(), [], sensor=None, bands=None, scale={"nir": 2e-4}, offset=None)
    assert choice.scale == {"red": 1e-4, "nir": 2e-4}  # the user's "nir" names nir08
    assert choice.offset == {"nir08": 0.0, "red": 0.1}
    assert set(choice.from_model) == {"scale", "offset"}
