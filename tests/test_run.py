"""landmask run: many scenes, fault isolation, resumable runs, same outputs on any scheduler."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from conftest import TRANSFORM, UTM33, sha256, write_raster

import landmask.batch.run
import landmask.io.read.scene
import landmask.pipeline
from landmask.batch.run import MANIFEST_NAME, manifest_entries, run_workflow
from landmask.batch.workflow import load_workflow
from landmask.cli import run
from landmask.errors import ConfigError
from landmask.io.read.scene import open_scene
from landmask.spectral.rules import classify_block, load_rules
from landmask.synthetic import BANDS, S2_BAND_IDS, to_dn

T20 = Affine(20.0, 0.0, TRANSFORM.c, 0.0, -20.0, TRANSFORM.f)


@pytest.fixture
def dn(synthetic_small):
    return to_dn(synthetic_small.reflectance)  # (6, 300, 340) uint16


@pytest.fixture
def job(tmp_path, dn):
    """Three scenes in scenes/ (c.tif corrupt) and a workflow writing masks and polygons."""
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    write_raster(scenes / "a.tif", dn[:, :150, :170], nodata=0, descriptions=S2_BAND_IDS)
    b_grid = TRANSFORM @ Affine.translation(170, 150)
    write_raster(
        scenes / "b.tif", dn[:, 150:, 170:], nodata=0, descriptions=S2_BAND_IDS, transform=b_grid
    )
    (scenes / "c.tif").write_bytes(b"II*\x00 this is not a complete TIFF")
    doc = {
        "name": "three",
        "inputs": "scenes/*.tif",
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": {"dir": "out", "mask": "{stem}_mask.tif", "vector": "{stem}_polygons.gpkg"},
        "chunk_size": 64,
        "parallel_scenes": 2,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _expected_mask(path: Path) -> np.ndarray:
    scene = open_scene(path, sensor="sentinel2-l2a")
    return classify_block(scene.values, list(BANDS), load_rules("default"))


def _summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "run-summary.json").read_text())


def _status(tmp_path: Path) -> dict[str, str]:
    return {s["scene"]: s["status"] for s in _summary(tmp_path)["scenes"]}


@pytest.fixture
def opened(monkeypatch):
    """Records the inputs of every open_scene call the runner makes."""
    calls: list[str] = []
    real = landmask.io.read.scene.open_scene

    def spy(inputs, **kw):
        calls.append(Path(inputs[0]).stem if isinstance(inputs, list) else str(inputs.id))
        return real(inputs, **kw)

    monkeypatch.setattr(landmask.io.read.scene, "open_scene", spy)
    return calls


def test_corrupt_scene_is_reported_others_finish_and_rerun_resumes(
    job, tmp_path, capsys, opened, dn
):
    before = {p.name: sha256(p) for p in (tmp_path / "scenes").iterdir()}
    out = tmp_path / "out"

    code = run(["run", str(job)])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert _status(tmp_path) == {"a": "done", "b": "done", "c": "failed"}
    failed = _summary(tmp_path)["scenes"][2]
    assert "c.tif" in failed["error"] and "cannot open" in failed["error"]
    assert "c.tif" in captured.out  # the table lists the error
    assert sorted(opened) == ["a", "b", "c"]
    # outputs of the good scenes, nothing of the bad one, no temporary file left
    names = sorted(p.name for p in out.iterdir())
    styles = ["a_mask.qml", "a_mask.tif.aux.xml", "b_mask.qml", "b_mask.tif.aux.xml"]
    styles += ["a_mask.tif.stac.json", "a_polygons.gpkg.stac.json"]  # STAC items
    styles += ["b_mask.tif.stac.json", "b_polygons.gpkg.stac.json"]
    assert names == [
        MANIFEST_NAME,
        *sorted(
            [
                "a_mask.tif",
                "a_polygons.gpkg",
                "b_mask.tif",
                "b_polygons.gpkg",
                *styles,
                "catalog.json",
            ]
        ),
        "run-summary.json",
    ]
    for stem in ("a", "b"):
        with rasterio.open(out / f"{stem}_mask.tif") as ds:
            assert ds.crs == UTM33 and ds.nodata == 255
            mask = ds.read(1)
            transform = ds.transform
        np.testing.assert_array_equal(mask, _expected_mask(tmp_path / "scenes" / f"{stem}.tif"))
        counts = _summary(tmp_path)["scenes"][0 if stem == "a" else 1]["pixels"]
        assert counts["forest"] == int((mask == 1).sum())
        polygons = gpd.read_file(out / f"{stem}_polygons.gpkg", layer=f"{stem}_polygons")
        forest_area = polygons.loc[polygons.class_name == "forest", "area_m2"].sum()
        assert forest_area == pytest.approx((mask == 1).sum() * 100.0)
    assert transform == TRANSFORM @ Affine.translation(170, 150)  # scene b's own grid
    assert set(manifest_entries(out)) == {"a", "b"}

    # rerun: a and b are skipped without being opened, c is tried again
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("[ab]_*")}
    opened.clear()
    assert run(["run", str(job), "-q"]) == 3
    assert "c: " in capsys.readouterr().err
    assert opened == ["c"]
    assert _status(tmp_path) == {"a": "skipped", "b": "skipped", "c": "failed"}
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("[ab]_*")} == stamps
    assert _summary(tmp_path)["scenes"][0]["pixels"]["forest"] > 0  # kept from the manifest

    # c repaired: only c runs, exit 0
    (tmp_path / "scenes" / "c.tif").unlink()
    write_raster(tmp_path / "scenes" / "c.tif", dn[:, 50:200, 60:230], nodata=0,
                 descriptions=S2_BAND_IDS)  # fmt: skip
    opened.clear()
    assert run(["run", str(job), "-q"]) == 0
    assert opened == ["c"]
    assert _status(tmp_path) == {"a": "skipped", "b": "skipped", "c": "done"}

    # a changed input redoes that scene only; --force redoes all
    (tmp_path / "scenes" / "b.tif").unlink()
    write_raster(tmp_path / "scenes" / "b.tif", np.flip(dn[:, 150:, 170:], axis=2), nodata=0,
                 descriptions=S2_BAND_IDS)  # fmt: skip
    opened.clear()
    assert run(["run", str(job), "-q"]) == 0
    assert opened == ["b"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("a_*")} == {
        k: v for k, v in stamps.items() if k.startswith("a_")
    }
    opened.clear()
    assert run(["run", str(job), "-q", "--force"]) == 0
    assert sorted(opened) == ["a", "b", "c"]
    assert before["a.tif"] == sha256(tmp_path / "scenes" / "a.tif")  # inputs only read


def test_changed_settings_redo_every_scene(job, tmp_path, opened):
    assert run(["run", str(job), "-q"]) == 3
    doc = yaml.safe_load(job.read_text())
    doc["chunk_size"] = 100  # speed settings do not change outputs: nothing redone
    doc["parallel_scenes"] = 1
    job.write_text(yaml.safe_dump(doc))
    opened.clear()
    assert run(["run", str(job), "-q"]) == 3
    assert opened == ["c"]
    doc["vector"] = {"min_area": 1000}  # shapes the polygons: every scene redone
    job.write_text(yaml.safe_dump(doc))
    opened.clear()
    assert run(["run", str(job), "-q"]) == 3
    assert sorted(opened) == ["a", "b", "c"]
    assert _status(tmp_path) == {"a": "done", "b": "done", "c": "failed"}


def test_model_classifier_writes_mask_and_probabilities(job, tmp_path, capsys):
    doc = yaml.safe_load(job.read_text())
    doc["classifier"] = {"model": "rules:default"}
    doc["outputs"]["probabilities"] = "{stem}_proba.tif"
    doc["inputs"] = "scenes/a.tif"
    job.write_text(yaml.safe_dump(doc))
    assert run(["run", str(job), "-q"]) == 0
    expected = _expected_mask(tmp_path / "scenes" / "a.tif")
    with rasterio.open(tmp_path / "out" / "a_mask.tif") as ds:
        np.testing.assert_array_equal(ds.read(1), expected)
    with rasterio.open(tmp_path / "out" / "a_proba.tif") as ds:
        proba = ds.read()
        assert ds.count == 4 and ds.descriptions == ("other", "forest", "urban", "water")
    for k in range(4):  # one-hot: the mask's class has probability 1 (254)
        assert (proba[k][expected == k] == 254).all()
    assert _status(tmp_path) == {"a": "done"}


def test_unreadable_item_fails_only_its_scene(job, tmp_path):
    (tmp_path / "scenes" / "broken.json").write_text('{"type": "Feature"')
    doc = yaml.safe_load(job.read_text())
    doc["inputs"] = ["scenes/a.tif", "scenes/broken.json"]
    job.write_text(yaml.safe_dump(doc))
    assert run(["run", str(job), "-q"]) == 3
    assert _status(tmp_path) == {"a": "done", "broken": "failed"}
    assert "broken.json" in _summary(tmp_path)["scenes"][1]["error"]


def test_progress_lines_and_bar(job, tmp_path):
    buf = io.StringIO()
    summary = run_workflow(load_workflow(job), quiet=False, progress=True, out=buf)
    text = buf.getvalue()
    assert [s.status for s in summary.scenes] == ["done", "done", "failed"]
    assert "[3/3]" in text and "c: failed" in text
    assert "scenes 3/3 (1 failed, 0 running)" in text
    done, total = (int(x.replace(",", "")) for x in text.rsplit("tasks ", 1)[1].split("/"))
    assert done == total > 0
    # each scene's radiometry: on its progress line, in the table and the JSON summary
    said = "radiometry surface_reflectance (preset sentinel2-l2a scale 0.0001 offset -0.1)"
    assert sum(said in line for line in text.splitlines() if ": done in" in line) == 2
    assert f"a: {said}" in summary.table()
    scenes = {s["scene"]: s for s in _summary(tmp_path)["scenes"]}
    assert scenes["a"]["radiometry"] == "surface_reflectance"
    assert scenes["b"]["radiometry_basis"] == "preset sentinel2-l2a scale 0.0001 offset -0.1"
    assert scenes["c"]["radiometry"] is None  # failed before reading


@pytest.fixture
def stac_job(tmp_path, dn):
    """Two band-file scenes and a STAC item with 20 m SWIR and an SCL layer with clouds."""
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    write_raster(scenes / "a.tif", dn[:, :150, :170], nodata=0, descriptions=S2_BAND_IDS)
    write_raster(scenes / "b.tif", dn[:, 100:250, 100:270], nodata=0, descriptions=S2_BAND_IDS)
    item_dir = tmp_path / "item"
    item_dir.mkdir()
    crop = dn[:, :300, :340]
    assets = {}
    for k, (name, bid) in enumerate(zip(BANDS, S2_BAND_IDS, strict=True)):
        if name.startswith("swir"):
            coarse = crop[k].reshape(150, 2, 170, 2).astype(np.float64).mean(axis=(1, 3))
            write_raster(item_dir / f"{bid}.tif", coarse.astype(np.uint16), transform=T20)
        else:
            write_raster(item_dir / f"{bid}.tif", crop[k])
        assets[bid] = {
            "href": f"{bid}.tif",
            "roles": ["data"],
            "eo:bands": [{"name": bid, "common_name": name}],
            "raster:bands": [{"scale": 1e-4, "offset": -0.1, "nodata": 0}],
        }
    scl = np.full((150, 170), 4, np.uint8)
    scl[20:60, 30:90] = 9  # a cloud
    scl[100:110, :] = 0  # no data
    write_raster(item_dir / "SCL.tif", scl, transform=T20)
    assets["SCL"] = {"href": "SCL.tif", "roles": ["data"]}
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2_ITEM",
        "geometry": None,
        "properties": {"datetime": "2024-06-01T10:00:31Z"},
        "links": [],
        "assets": assets,
    }
    (item_dir / "item.json").write_text(json.dumps(item))
    doc = {
        "name": "mixed",
        "inputs": ["scenes/a.tif", "scenes/b.tif", "item/item.json"],
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": {"dir": "out", "vector": "{stem}.gpkg", "indices": "{stem}_ndvi.tif"},
        "chunk_size": 64,
    }
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path, scl


def _read_outputs(out: Path) -> dict:
    result = {}
    for mask in sorted(out.glob("*_mask.tif")):
        with rasterio.open(mask) as ds:
            result[mask.name] = (ds.read(1), ds.transform, ds.crs)
    for vec in sorted(out.glob("*.gpkg")):
        frame = gpd.read_file(vec, layer=vec.stem)
        rows = sorted(zip(frame.class_id, frame.geometry.to_wkb(), strict=True))
        result[vec.name] = rows
    for ind in sorted(out.glob("*_ndvi.tif")):
        with rasterio.open(ind) as ds:
            result[ind.name] = ds.read(1)
    return result


def test_local_cluster_outputs_equal_threads(stac_job, tmp_path):
    path, scl = stac_job
    doc = yaml.safe_load(path.read_text())
    runs = {}
    for spec in ("threads", "local:2"):
        doc["outputs"]["dir"] = f"out-{spec.replace(':', '')}"
        path.write_text(yaml.safe_dump(doc))
        code = run(["run", str(path), "--scheduler", spec, "-q"])
        assert code == 0
        runs[spec] = _read_outputs(tmp_path / doc["outputs"]["dir"])
    threads, cluster = runs["threads"], runs["local:2"]
    assert sorted(threads) == sorted(cluster)
    assert len(threads) == 9  # masks, polygons and indices of three scenes
    for name, value in threads.items():
        other = cluster[name]
        if isinstance(value, tuple):
            np.testing.assert_array_equal(value[0], other[0])
            assert value[1:] == other[1:]
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other)
        else:
            assert value == other, name  # polygon for polygon, exact coordinates
    # the STAC scene: 10 m grid, cloud where SCL says 9, nodata where it says 0
    mask = threads["S2_ITEM_mask.tif"][0]
    assert mask.shape == (300, 340) and threads["S2_ITEM_mask.tif"][1] == TRANSFORM
    cloud = np.kron(scl, np.ones((2, 2), np.uint8))
    assert (mask[cloud == 0] == 255).all()
    seen = mask[cloud == 9]
    assert ((seen == 254) | (seen == 255)).all() and (seen == 254).any()
    assert not ((mask == 254) & (cloud == 4)).any()


def test_existing_cluster_by_address(job, tmp_path):
    from distributed import LocalCluster

    doc = yaml.safe_load(job.read_text())
    doc["inputs"] = ["scenes/a.tif"]
    job.write_text(yaml.safe_dump(doc))
    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        assert run(["run", str(job), "--scheduler", address, "-q"]) == 0
    assert _summary(tmp_path)["scheduler"] == address
    with rasterio.open(tmp_path / "out" / "a_mask.tif") as ds:
        np.testing.assert_array_equal(ds.read(1), _expected_mask(tmp_path / "scenes" / "a.tif"))


def test_a_failed_step_removes_the_scene_outputs_with_their_styles(job, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ConfigError("vector step failed")

    monkeypatch.setattr(landmask.pipeline, "vectorize_to_file", broken)  # where run_scene calls it
    assert run(["run", str(job)]) == 3
    out = tmp_path / "out"
    # the masks were written (with their .qml and .aux.xml), then removed with them
    assert not [p.name for p in out.iterdir() if "_mask" in p.name or "_polygons" in p.name]
