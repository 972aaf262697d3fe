"""Workflow files: validation with one line naming the key, and scene expansion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from landmask.batch.workflow import ModelClassifier, RulesClassifier, load_workflow
from landmask.cli import run
from landmask.errors import ConfigError

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"

BASE = {
    "name": "t",
    "inputs": "scenes/*.tif",
    "sensor": "sentinel2-l2a",
    "classifier": {"rules": "default"},
    "outputs": {"dir": "out"},
}


def _write(tmp_path: Path, doc: dict, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_workflows_are_valid(path):
    wf = load_workflow(path)
    assert wf.name == path.stem
    assert isinstance(wf.classifier, RulesClassifier)
    assert wf.out_dir.is_absolute()


def test_defaults_and_relative_paths(tmp_path):
    wf = load_workflow(_write(tmp_path, BASE))
    assert wf.out_dir == tmp_path / "out"
    assert wf.outputs.mask == "{stem}_mask.tif" and wf.outputs.vector is None
    assert (wf.chunk_size, wf.scheduler, wf.quality) == (1024, "threads", True)
    model = load_workflow(_write(tmp_path, {**BASE, "classifier": {"model": "rules:naip"}}))
    assert model.classifier == ModelClassifier(model="rules:naip", min_confidence=0.5)
    (tmp_path / "water.yaml").write_text("rules:\n  - {class: water, when: mndwi > 0}\n")
    relative = {**BASE, "classifier": {"model": "rules:water.yaml"}}
    assert load_workflow(_write(tmp_path, relative)).model_spec() == f"rules:{tmp_path}/water.yaml"


def _without(key: str) -> dict:
    return {k: v for k, v in BASE.items() if k != key}


@pytest.mark.parametrize(
    ("doc", "key", "words"),
    [
        pytest.param(_without("classifier"), "classifier", "missing", id="missing-classifier"),
        pytest.param(_without("outputs"), "outputs", "missing", id="missing-outputs"),
        pytest.param({**BASE, "outputs": {}}, "outputs.dir", "missing", id="missing-dir"),
        pytest.param({**BASE, "chunk_size": "big"}, "chunk_size", "integer", id="type-chunk"),
        pytest.param({**BASE, "chunk_size": -5}, "chunk_size", "greater", id="negative-chunk"),
        pytest.param({**BASE, "quality": "maybe"}, "quality", "boolean", id="type-quality"),
        pytest.param({**BASE, "inputs": 5}, "inputs", "valid", id="type-inputs"),
        pytest.param(
            {**BASE, "classifier": {"svm": "x"}}, "classifier", "unknown classifier", id="svm"
        ),
        pytest.param({**BASE, "classifier": "default"}, "classifier", "rules", id="not-a-map"),
        pytest.param(
            {**BASE, "classifier": {"rules": "nope"}}, "classifier.rules", "nope", id="rules-file"
        ),
        pytest.param(
            {**BASE, "classifier": {"model": "m", "min_confidence": 2}},
            "classifier.min_confidence",
            "less than",
            id="confidence",
        ),
        pytest.param({**BASE, "sensor": "modis"}, "sensor", "modis", id="sensor"),
        pytest.param(_without("sensor"), "sensor", "bands", id="no-sensor-no-bands"),
        pytest.param({**BASE, "bands": {"red": "x"}}, "bands.red", "integer", id="bands-type"),
        pytest.param({**BASE, "indices": ["ndxx"]}, "indices", "ndxx", id="index"),
        pytest.param({**BASE, "colour": "red"}, "colour", "unknown key", id="unknown-key"),
        pytest.param(
            {**BASE, "outputs": {"dir": "o", "mask": "mask.tif"}},
            "outputs.mask",
            "{stem}",
            id="pattern-without-stem",
        ),
        pytest.param(
            {**BASE, "outputs": {"dir": "o", "vector": "{stem}.shp"}},
            "outputs.vector",
            "vector format",
            id="vector-format",
        ),
        pytest.param(
            {**BASE, "classifier": {"model": "onnx:missing.onnx"}},
            "classifier.model",
            "no such file",
            id="model-file-missing",
        ),
        pytest.param(
            {**BASE, "classifier": {"model": "nonsense-model"}},
            "classifier.model",
            "unknown model",
            id="unknown-model",
        ),
        pytest.param(
            {**BASE, "outputs": {"dir": "o", "probabilities": "{stem}_p.tif"}},
            "outputs.probabilities",
            "model",
            id="probabilities-with-rules",
        ),
    ],
)
def test_bad_workflow_exits_2_with_one_line_naming_the_key(tmp_path, capsys, doc, key, words):
    path = _write(tmp_path, doc)
    code = run(["run", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert f"key '{key}'" in lines[0]
    assert words in lines[0]
    assert not (tmp_path / "out").exists()


def test_not_yaml_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    assert run(["run", str(bad)]) == 2
    assert "not valid YAML at line" in capsys.readouterr().err
    assert run(["run", str(tmp_path / "none.yaml")]) == 2
    assert "no such workflow file" in capsys.readouterr().err


def test_scenes_from_glob_lists_and_stac(tmp_path, raster):
    (tmp_path / "scenes").mkdir()
    for name in ("b", "a"):
        raster(f"scenes/{name}.tif", np.ones((2, 2), np.uint16))
    wf = load_workflow(_write(tmp_path, BASE))
    assert [(s.stem, s.files) for s in wf.scenes()] == [
        ("a", (str(tmp_path / "scenes" / "a.tif"),)),
        ("b", (str(tmp_path / "scenes" / "b.tif"),)),
    ]
    group = ["scenes/T33_20240601_B04_10m.tif", "scenes/T33_20240601_B08_10m.tif"]
    wf = load_workflow(_write(tmp_path, {**BASE, "inputs": [group, "scenes/a.tif"]}))
    assert [s.stem for s in wf.scenes()] == ["T33_20240601", "a"]
    items = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": f"S2B_{k}",
                "geometry": None,
                "properties": {"datetime": "2024-06-01T00:00:00Z"},
                "links": [],
                "assets": {},
            }
            for k in range(2)
        ],
    }
    (tmp_path / "items.json").write_text(json.dumps(items))
    wf = load_workflow(_write(tmp_path, {**_without("sensor"), "inputs": {"stac": "items.json"}}))
    scenes = wf.scenes()
    assert [s.stem for s in scenes] == ["S2B_0", "S2B_1"]
    assert all(s.item is not None for s in scenes)


def test_scene_name_collisions_and_empty_globs(tmp_path, raster):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    raster("x/s.tif", np.ones((2, 2), np.uint16))
    raster("y/s.tif", np.ones((2, 2), np.uint16))
    wf = load_workflow(_write(tmp_path, {**BASE, "inputs": "*/s.tif"}))
    with pytest.raises(ConfigError, match=r"key 'inputs'.*'s'.*collide"):
        wf.scenes()
    wf = load_workflow(_write(tmp_path, {**BASE, "inputs": "nothing/*.tif"}))
    with pytest.raises(ConfigError, match=r"key 'inputs'.*matches no file"):
        wf.scenes()


def test_unreadable_stac_json_fails_its_scene_or_the_catalog_key(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    wf = load_workflow(_write(tmp_path, {**BASE, "inputs": ["broken.json"]}))
    (scene,) = wf.scenes()
    assert scene.stem == "broken" and "broken.json" in (scene.error or "")
    wf = load_workflow(_write(tmp_path, {**_without("sensor"), "inputs": {"stac": "broken.json"}}))
    with pytest.raises(ConfigError, match=r"key 'inputs\.stac'.*broken\.json"):
        wf.scenes()


def test_bands_with_a_stac_catalog_is_refused(tmp_path, capsys):
    doc = {**BASE, "inputs": {"stac": "c.json"}, "bands": {"red": 1}}
    assert run(["run", str(_write(tmp_path, doc))]) == 2
    assert "key 'bands': STAC items name their bands" in capsys.readouterr().err
