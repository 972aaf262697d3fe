"""One scene pipeline: ``classify`` and ``run`` write the same files; one rules engine."""

from __future__ import annotations

import contextlib
import importlib
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from conftest import as_mask

import landmask
from landmask._runtime.schedulers import use_scheduler
from landmask.cli import run
from landmask.io.read.scene import open_scene
from landmask.models.registry import RulesModel, load_model
from landmask.spectral.rules import load_rules

OTSU_RULES = {
    "name": "adaptive",
    "rules": [
        {"class": "water", "when": "mndwi > otsu(mndwi)"},
        {"class": "forest", "when": "ndvi > 0.7"},
    ],
}


def _pixels(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    with rasterio.open(path) as ds:
        return ds.read(1), ds.tags()


def _polygons(path: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(path, layer=path.stem)
    return frame.sort_values(["class_id", "area_m2"]).reset_index(drop=True)


def _workflow(tmp_path: Path, scene: Path, classifier: dict, vector: dict) -> Path:
    doc = {
        "name": "one",
        "inputs": str(scene),
        "sensor": "sentinel2-l2a",
        "classifier": classifier,
        "vector": vector,
        "outputs": {"dir": "out", "mask": "{stem}_mask.tif", "vector": "{stem}.gpkg"},
        "chunk_size": 96,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _pool_kind(pool) -> str:
    owner = getattr(pool[0], "__self__", None)
    return type(owner).__name__ if owner is not None else pool[0].__name__


@pytest.fixture
def pools(monkeypatch):
    """The kind of pool every polygonizing pass of a run was given, in order."""
    kinds: list[str] = []
    # the module (landmask.vector.vectorize is the function the subpackage exports)
    vectorize_module = importlib.import_module("landmask.vector.vectorize")
    real = vectorize_module.chunk_pool

    @contextlib.contextmanager
    def spy(chunks, **kwargs):
        with real(chunks, **kwargs) as pool:
            kinds.append(_pool_kind(pool))
            yield pool

    monkeypatch.setattr(vectorize_module, "chunk_pool", spy)
    return kinds


def test_polygons_go_to_processes_on_threads_only_inside_gil_bound():
    from landmask.vector.vectorize import chunk_pool, gil_bound

    seen: dict[str, str] = {}

    def other_thread():
        with chunk_pool(4) as pool:
            seen["other"] = _pool_kind(pool)

    with use_scheduler("threads"):
        with chunk_pool(4) as pool:
            assert _pool_kind(pool) == "ThreadPoolExecutor"
        with gil_bound():
            with chunk_pool(4) as pool:
                assert _pool_kind(pool) == "ProcessPool"
            with chunk_pool(1) as pool:
                assert _pool_kind(pool) == "run_now"  # one chunk: no process start
            thread = threading.Thread(target=other_thread)  # its own context
            thread.start()
            thread.join()
        assert seen == {"other": "ThreadPoolExecutor"}
    with use_scheduler("synchronous"), gil_bound(), chunk_pool(4) as pool:
        assert _pool_kind(pool) == "run_now"


@pytest.mark.parametrize("min_area", [None, 800.0])
def test_a_small_mask_is_polygonized_here_without_worker_processes(tmp_path, monkeypatch, min_area):
    """Up to IN_PROCESS_PIXELS, chunks are polygonized in this process, one at a time, on
    every local scheduler that would send them to worker processes (a worker's start cost
    more than the work), and sieved (``min_area``) on its threads: none is started, and the
    file is the one they would write."""
    from landmask._runtime import pools as pools_module
    from landmask.vector._pool import IN_PROCESS_PIXELS
    from landmask.vector.vectorize import chunk_pool, gil_bound, vectorize_to_file

    with use_scheduler("processes"):
        with chunk_pool(4, pixels=IN_PROCESS_PIXELS) as pool:
            assert _pool_kind(pool) == "run_now"
        with chunk_pool(4, pixels=IN_PROCESS_PIXELS + 1) as pool:
            assert _pool_kind(pool) == "ProcessPool"
    with use_scheduler("threads"), gil_bound(), chunk_pool(4, pixels=4096) as pool:
        assert _pool_kind(pool) == "run_now"

    data = np.random.default_rng(5).integers(0, 4, size=(60, 70), dtype=np.uint8)
    mask = as_mask(data, chunks=(25, 30))  # 3 x 3 chunks
    with use_scheduler("synchronous"):
        done = vectorize_to_file(mask, tmp_path / "a.gpkg", min_area=min_area)
        expected = gpd.read_file(done.path, layer="a")

    def no_process(*args, **kwargs):
        raise AssertionError("a worker process was asked for")

    monkeypatch.setattr(pools_module.ProcessPool, "submit", no_process)
    with use_scheduler("processes"):
        done = vectorize_to_file(mask, tmp_path / "b.gpkg", min_area=min_area)
        got = gpd.read_file(done.path, layer="b")
    assert len(got) > (100 if min_area is None else 10)
    assert got.drop(columns="geometry").equals(expected.drop(columns="geometry"))
    assert got.geometry.to_wkb().equals(expected.geometry.to_wkb())


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_classify_and_run_write_the_same_mask_and_polygons(
    s2_file, tmp_path, scheduler, pools, worker_processes
):
    vector = {"min_area": 2000.0, "simplify": 15.0, "connectivity": 8}
    flags = ["--min-area", "2000", "--simplify", "15", "--connectivity", "8"]
    mask, polygons = tmp_path / "cli.tif", tmp_path / "cli.gpkg"
    argv = ["classify", str(s2_file), "--sensor", "sentinel2-l2a", "-o", str(mask)]
    argv += ["--vector", str(polygons), *flags, "--chunk-size", "96", "--scheduler", scheduler]
    assert run([*argv, "-q"]) == 0
    job = _workflow(tmp_path, s2_file, {"rules": "default"}, vector)
    assert run(["run", str(job), "--scheduler", scheduler, "-q"]) == 0
    # polygonizing is decided in one place, the same way for both commands
    assert len(pools) == 2 and pools[0] == pools[1]
    assert pools[0] == ("ProcessPool" if scheduler == "threads" else "run_now")

    cli_pixels, cli_tags = _pixels(mask)
    run_pixels, run_tags = _pixels(tmp_path / "out" / "s2_mask.tif")
    np.testing.assert_array_equal(cli_pixels, run_pixels)
    assert cli_tags == run_tags
    a, b = _polygons(polygons), _polygons(tmp_path / "out" / "s2.gpkg")
    assert len(a) == len(b) > 3
    assert (a.drop(columns="geometry") == b.drop(columns="geometry")).all().all()
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()


def test_model_rules_file_with_otsu_equals_rules_file(s2_file, tmp_path):
    rules = tmp_path / "adaptive.yaml"
    rules.write_text(yaml.safe_dump(OTSU_RULES))
    by_rules, by_model = tmp_path / "r.tif", tmp_path / "m.tif"
    base = ["classify", str(s2_file), "--sensor", "sentinel2-l2a", "-q"]
    assert run([*base, "--rules", str(rules), "-o", str(by_rules)]) == 0
    assert run([*base, "--model", f"rules:{rules}", "-o", str(by_model)]) == 0
    a, tags_a = _pixels(by_rules)
    b, tags_b = _pixels(by_model)
    np.testing.assert_array_equal(a, b)
    assert "THRESHOLD_otsu(mndwi)" in tags_a
    assert tags_a["THRESHOLD_otsu(mndwi)"] == tags_b["THRESHOLD_otsu(mndwi)"]
    assert (a == 3).any() and (a == 1).any()

    job = _workflow(tmp_path, s2_file, {"model": f"rules:{rules}"}, {})
    assert run(["run", str(job), "-q"]) == 0
    np.testing.assert_array_equal(_pixels(tmp_path / "out" / "s2_mask.tif")[0], a)


def test_rules_model_binds_scene_wide_thresholds_in_prepare(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    model = RulesModel(load_rules(OTSU_RULES))
    prepared = model.prepare(scene)
    assert prepared is not model
    ((name, value),) = prepared.ruleset.thresholds
    assert name == "otsu(mndwi)"
    assert -1.0 < value < 1.0
    plain = RulesModel(load_rules("default"))
    assert plain.prepare(scene) is plain  # nothing scene-wide to bind
    direct = landmask.classify(scene, OTSU_RULES).values
    via_model = landmask.classify(scene, model=model).values
    np.testing.assert_array_equal(direct, via_model)


def test_classify_picks_the_adaptive_rgbn_rules_for_a_naip_scene(raster, synthetic_small):
    from landmask.synthetic import to_dn

    dn = to_dn(synthetic_small.reflectance)  # blue, green, red, nir, swir16, swir22
    rgbn = raster("naip.tif", (dn[[2, 1, 0, 3]] // 40).astype(np.uint8))
    scene = open_scene(rgbn, sensor="naip")
    mask = landmask.classify(scene)
    # NAIP's 8-bit values are DN of unknown calibration (radiometry "dn")
    assert mask.attrs["rules"] == "adaptive-rgbn"
    assert "digital numbers" in mask.attrs["rules_basis"]
    assert set(np.unique(mask.values)) <= {0, 1, 2, 3, 255}


class _Unsure:
    """A model with a ``predict`` shortcut whose probabilities are never above 0.6."""

    classes = (0, 1, 3)
    bands = ("red", "nir")
    halo = 0

    def predict(self, block: np.ndarray) -> np.ndarray:
        return np.full(block.shape[1:], 1, np.uint8)

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        proba = np.zeros((3, *block.shape[1:]), np.float32)
        proba[0], proba[1], proba[2] = 0.15, 0.55, 0.3
        return proba


def test_min_confidence_applies_to_models_that_have_predict(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    model = _Unsure()
    assert load_model(model) is model
    loose = landmask.classify(scene, model=model, min_confidence=0.5).values
    strict = landmask.classify(scene, model=model, min_confidence=0.6).values
    valid = loose != 255
    assert (loose[valid] == 1).all()
    assert (strict[valid] == 0).all()  # 0.55 < 0.6: other, although predict says forest


def test_threads_run_at_most_a_task_per_cpu_for_each_calling_thread():
    """Scenes and tiles of a batch run compute from worker threads: there Dask's threads
    scheduler would make a pool of CPUs + 4 threads per calling thread (each task a chunk
    holding its stack of dates); under use_scheduler it has one thread per CPU."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import dask
    from dask.system import CPU_COUNT

    lock, running, most = threading.Lock(), [0], [0]

    def task(k):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1
        return k

    graph = [dask.delayed(task)(k) for k in range(4 * (CPU_COUNT + 4))]
    with use_scheduler("threads"), ThreadPoolExecutor(1) as pool:
        assert pool.submit(dask.compute, *graph).result() == tuple(range(len(graph)))
    assert 1 <= most[0] <= CPU_COUNT
