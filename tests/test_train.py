"""``landmask train``: labels of any kind and CRS onto the scene's pixels, sampling, the model file.

Scenes are synthetic Sentinel-2-like GeoTIFFs with known truth
(:func:`landmask.synthetic.write_scene`), 384 px a side in 128 px blocks so
that chunk sizes can differ. A model trained on one scene classifies another
(other seed); labels given as polygons or points in other CRSs must land on
the pixels they were made from.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import joblib
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from conftest import UTM33, write_raster
from scipy import ndimage
from shapely.geometry import Point, box
from test_cli_errors import assert_one_line as assert_bad_input
from test_cli_errors import invoke

from landmask.classes import LANDCOVER
from landmask.classification.classify import classify
from landmask.errors import BandError, InputError, ModelError
from landmask.evaluation.evaluate import evaluate
from landmask.evaluation.truth import labels_on_grid
from landmask.io.scene import open_scene
from landmask.models.sklearn import FORMAT, SklearnModel
from landmask.models.training import train
from landmask.synthetic import BANDS, S2_BAND_IDS, make_scene, to_dn, write_scene

SIZE = 384
BLOCK = 128
S2 = ("--sensor", "sentinel2-l2a")
NAMES = {0: "other", 1: "forest", 2: "urban", 3: "water"}


@dataclass(frozen=True)
class Written:
    scene: Path
    truth: Path
    transform: Affine
    truth_values: np.ndarray


def _write(folder: Path, seed: int) -> Written:
    scene, truth = folder / f"s2-{seed}.tif", folder / f"truth-{seed}.tif"
    transform = write_scene(scene, SIZE, seed, truth_path=truth, blocksize=BLOCK)
    with rasterio.open(truth) as ds:
        values = ds.read(1)
    return Written(scene, truth, transform, values)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Written, Written]:
    """Two synthetic scenes: A to train on, B (another seed) to classify."""
    folder = tmp_path_factory.mktemp("scenes")
    return _write(folder, 11), _write(folder, 12)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, data) -> Path:
    """A model trained (through the Python API) on scene A's truth raster."""
    a, _ = data
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    model = train(open_scene(a.scene, sensor="sentinel2-l2a"), a.truth, max_per_class=500)
    model.save(path)
    return path


def pure_rectangles(truth: np.ndarray, side: int = 10, per_class: int = 2) -> list[tuple]:
    """``(row, col, height, width, class_id)`` windows of one class each, apart from each other.

    Every other window is two pixels wider than high where the class allows.
    """
    out = []
    taken = np.zeros(truth.shape, dtype=bool)
    for class_id in sorted(NAMES):
        pure = ndimage.minimum_filter((truth == class_id).astype(np.uint8), size=side + 2)
        corners = np.argwhere(pure > 0) - (side + 2) // 2  # windows of side + 2 that are pure
        found = 0
        for r, c in corners[:: max(1, len(corners) // 60)]:
            if r < 3 or c < 3 or taken[r - 3 : r + side + 5, c - 3 : c + side + 5].any():
                continue
            w = side + 2 if found % 2 else side
            assert (truth[r : r + side, c : c + w] == class_id).all()
            out.append((int(r), int(c), side, w, class_id))
            taken[r : r + side, c : c + w] = True
            found += 1
            if found == per_class:
                break
        assert found == per_class, f"no {side}px window of class {class_id}"
    return out


def rectangles_frame(rects: Sequence[tuple], transform, crs: str) -> gpd.GeoDataFrame:
    """Pixel rectangles as polygons in the scene CRS (UTM 33N), reprojected to ``crs``."""
    geoms, labels = [], []
    for r, c, h, w, class_id in rects:
        x0, y0 = transform @ (c, r)
        x1, y1 = transform @ (c + w, r + h)
        geoms.append(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        labels.append(NAMES[class_id])
    frame = gpd.GeoDataFrame({"class": labels}, geometry=geoms, crs="EPSG:32633")
    return frame.to_crs(crs)


def expected_raster(rects: Sequence[tuple], shape: tuple[int, int]) -> np.ndarray:
    out = np.full(shape, 255, dtype=np.uint8)
    for r, c, h, w, class_id in rects:
        out[r : r + h, c : c + w] = class_id
    return out


# ---------------------------------------------------------------- the CLI


def test_train_then_classify_another_scene(tmp_path, data, capsys, caplog):
    a, b = data
    model = tmp_path / "model.joblib"
    res = invoke(
        ["train", a.scene, *S2, "--labels", a.truth, "--max-per-class", 2000, "-o", model],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    assert "hold-out accuracy" in res.out
    assert str(model) in res.out
    mask = tmp_path / "mask.tif"
    # the sensor comes from the model file
    res = invoke(["classify", b.scene, "--model", f"sklearn:{model}", "-o", mask], capsys, caplog)
    assert res.code == 0, res.err
    with rasterio.open(mask) as ds, rasterio.open(b.scene) as src:
        assert ds.crs == src.crs and ds.transform == src.transform
        assert ds.shape == src.shape
    ev = evaluate(mask, b.truth)
    assert set(ev.iou) == {NAMES[c] for c in (0, 1, 2, 3)}  # keyed by name, as to_dict()
    for name, iou in ev.iou.items():
        assert iou >= 0.9, f"IoU of {name} is {iou:.3f}: {ev.iou}"


def test_model_file_records_what_it_needs(tmp_path, data, capsys, caplog):
    a, _ = data
    out = tmp_path / "m.joblib"
    res = invoke(
        [
            *("train", a.scene, *S2, "--labels", a.truth, "--max-per-class", 300),
            *("--holdout", 0.25, "--index", "ndvi", "--index", "mndwi", "--seed", 3, "-o", out),
        ],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    model = SklearnModel.load(out)
    assert model.bands == list(BANDS)
    assert model.features == [*BANDS, "ndvi", "mndwi"]
    assert model.scheme_name == "landcover"
    assert model.scheme is LANDCOVER or model.scheme.name == "landcover"
    assert model.sensor == "sentinel2-l2a"
    assert model.classes == [0, 1, 2, 3]
    assert model.halo == 0
    report = model.report
    assert report["pixels_per_class"] == {n: 300 for n in NAMES.values()}
    assert report["train_pixels"] + report["holdout_pixels"] == 1200
    assert report["holdout_pixels"] == 300
    assert 0.9 <= report["holdout_accuracy"] <= 1.0
    assert set(report["f1"]) == set(NAMES.values())
    assert report["estimator"] == "random-forest"
    assert report["features"] == model.features
    payload = joblib.load(out)
    assert payload["format"] == FORMAT


# ------------------------------------------------------- labels onto the grid


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_polygons_in_another_crs_land_on_their_pixels(tmp_path, data, crs):
    a, _ = data
    rects = pure_rectangles(a.truth_values)
    frame = rectangles_frame(rects, a.transform, crs)
    assert frame.crs.to_epsg() == int(crs.split(":")[1])
    path = tmp_path / "labels.gpkg"
    frame.to_file(path)
    scene = open_scene(a.scene, sensor="sentinel2-l2a", chunk_size=BLOCK)
    grid = scene.isel(band=0, drop=True)
    expected = expected_raster(rects, grid.shape)
    for source in (path, frame):
        on_grid = labels_on_grid(source, grid, column="class")
        assert on_grid.raster is not None
        np.testing.assert_array_equal(on_grid.raster.values, expected)
    # training from them: every labelled pixel is sampled (no cap hit), then the
    # model tells the classes apart on another scene
    model = train(scene, path, label_column="class", holdout=0)
    ids, sizes = np.unique(expected[expected != 255], return_counts=True)
    counts = {NAMES[int(k)]: int(n) for k, n in zip(ids, sizes, strict=True)}
    assert model.report["pixels_per_class"] == counts
    assert model.classes == [0, 1, 2, 3]


def test_polygon_labels_train_a_usable_model(tmp_path, data):
    a, b = data
    rects = pure_rectangles(a.truth_values, side=8, per_class=4)
    path = tmp_path / "labels.geojson"
    rectangles_frame(rects, a.transform, "EPSG:4326").to_file(path)
    model = train(open_scene(a.scene, sensor="sentinel2-l2a"), path)
    mask = classify(open_scene(b.scene, sensor="sentinel2-l2a"), model=model)
    ev = evaluate(mask, b.truth)
    # measured 0.76: 4 rectangles a class do not tell pale soil from urban,
    # whose real spectra are close (README, "Accuracy on real data")
    assert ev.miou >= 0.7, ev.iou


def test_point_labels(tmp_path, data, capsys, caplog):
    a, b = data
    rng = np.random.default_rng(0)
    rows, cols, labels = [], [], []
    for class_id, name in NAMES.items():
        rr, cc = np.nonzero(a.truth_values == class_id)
        pick = rng.choice(len(rr), 150, replace=False)
        rows += rr[pick].tolist()
        cols += cc[pick].tolist()
        labels += [name] * len(pick)
    xs, ys = a.transform @ (np.array(cols) + 0.5, np.array(rows) + 0.5)
    frame = gpd.GeoDataFrame(
        {"landuse": labels}, geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)]
    )
    frame = frame.set_crs("EPSG:32633").to_crs("EPSG:3857")
    # two points off the scene are ignored
    off = gpd.GeoDataFrame(
        {"landuse": ["forest", "water"]},
        geometry=[Point(0, 0), Point(1e6, 1e6)],
        crs="EPSG:3857",
    )
    path = tmp_path / "points.gpkg"
    pd.concat([frame, off], ignore_index=True).to_file(path)
    scene = open_scene(a.scene, sensor="sentinel2-l2a", chunk_size=BLOCK)
    on_grid = labels_on_grid(path, scene.isel(band=0, drop=True), column="landuse")
    assert on_grid.raster is None
    np.testing.assert_array_equal(on_grid.rows, rows)
    np.testing.assert_array_equal(on_grid.cols, cols)
    np.testing.assert_array_equal(on_grid.ids, np.repeat(list(NAMES), 150))
    model = tmp_path / "points.joblib"
    res = invoke(
        [
            *("train", a.scene, *S2, "--labels", path, "--label-column", "landuse"),
            *("--holdout", 0, "-o", model),
        ],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    report = SklearnModel.load(model).report
    assert report["pixels_per_class"] == {n: 150 for n in NAMES.values()}
    mask = classify(open_scene(b.scene, sensor="sentinel2-l2a"), model=f"sklearn:{model}")
    assert evaluate(mask, b.truth).miou >= 0.85


def test_label_map_counts_unmapped(tmp_path, data, capsys, caplog):
    a, _ = data
    rects = pure_rectangles(a.truth_values)
    words = {0: "meadow", 1: "woods", 2: "built", 3: "lake"}
    frame = rectangles_frame(rects, a.transform, "EPSG:4326")
    frame["class"] = [words[r[4]] for r in rects]
    frame.loc[len(frame) - 1, "class"] = "marsh"  # one lake polygon is called something else
    path = tmp_path / "labels.gpkg"
    frame.to_file(path)
    model = tmp_path / "m.joblib"
    res = invoke(
        [
            *("train", a.scene, *S2, "--labels", path, "-o", model, "--holdout", 0),
            *("--label-map", "woods=forest,built=urban,lake=water"),
        ],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    # meadow (2 polygons) and marsh (1) are not in the map: 3 labels became other
    assert "3 labels not in --label-map became 0 (other)" in res.out
    report = SklearnModel.load(model).report
    assert report["unmapped_labels"] == 3
    expected = expected_raster(rects, a.truth_values.shape)
    sizes = {k: int((expected == k).sum()) for k in NAMES}
    marsh = rects[-1][2] * rects[-1][3]
    assert report["pixels_per_class"] == {
        "other": sizes[0] + marsh,
        "forest": sizes[1],
        "urban": sizes[2],
        "water": sizes[3] - marsh,
    }


def test_label_raster_on_a_coarser_grid(tmp_path, data, capsys, caplog):
    """A 20 m label raster on a 10 m scene: each label covers 2x2 scene pixels (nearest)."""
    a, _ = data
    coarse = a.truth_values[::2, ::2].copy()
    coarse[:20, :] = 255  # unlabelled rows
    coarse_transform = a.transform @ Affine.scale(2)
    labels = write_raster(
        tmp_path / "labels20m.tif",
        coarse,
        crs=UTM33,
        transform=coarse_transform,
        nodata=255,
    )
    scene = open_scene(a.scene, sensor="sentinel2-l2a", chunk_size=BLOCK)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_grid = labels_on_grid(labels, scene.isel(band=0, drop=True))
        values = on_grid.raster.values
    np.testing.assert_array_equal(values, np.kron(coarse, np.ones((2, 2), dtype=np.uint8)))
    model = tmp_path / "m.joblib"
    res = invoke(
        ["train", a.scene, *S2, "--labels", labels, "--max-per-class", 400, "-o", model],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    assert SklearnModel.load(model).report["pixels_per_class"] == {n: 400 for n in NAMES.values()}


# ------------------------------------------------------------------ sampling


def test_pixels_with_a_missing_band_are_never_sampled(tmp_path, raster):
    """A nodata stripe in one band inside a labelled polygon: those pixels are left out."""
    scene = make_scene((200, 240), seed=4)
    dn = to_dn(scene.reflectance)
    dn[:, :, :60] = to_dn(np.full((6, 200, 60), 0.1, dtype=np.float32))  # no swath margin
    dn[4, 100:106, :] = 0  # swir16 nodata in rows 100-105 only
    path = raster("stripe.tif", dn, nodata=0, descriptions=S2_BAND_IDS, blocksize=64)
    with rasterio.open(path) as ds:
        transform = ds.transform
    rects = [(80, 20, 40, 50, 1), (150, 150, 20, 30, 3)]  # forest crosses the stripe
    frame = rectangles_frame(rects, transform, "EPSG:32633")
    sc = open_scene(path, sensor="sentinel2-l2a", chunk_size=64)
    assert np.isnan(sc.sel(band="swir16").values[100:106]).all()
    model = train(sc, frame, label_column="class", holdout=0)
    assert model.report["pixels_per_class"] == {"forest": 40 * 50 - 6 * 50, "water": 20 * 30}
    # and with the cap below the labelled count, the sample still has no missing feature
    from landmask.models.training import sample_block

    block = sc.values
    labels = expected_raster(rects, block.shape[1:])
    x, y, _ = sample_block(block, labels, list(BANDS), [*BANDS, "ndvi"], (0, 0), 10_000, 0)
    assert np.isfinite(x).all()
    assert (y == 1).sum() == 40 * 50 - 6 * 50


def test_cap_and_sample_do_not_depend_on_chunk_size(tmp_path, data):
    a, b = data
    models = []
    for chunk in (BLOCK, 2 * BLOCK, SIZE):
        scene = open_scene(a.scene, sensor="sentinel2-l2a", chunk_size=chunk)
        assert scene.data.chunks[1][0] == chunk
        models.append(train(scene, a.truth, max_per_class=250, seed=1))
    reports = [m.report for m in models]
    assert reports[0]["pixels_per_class"] == {n: 250 for n in NAMES.values()}
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]
    target = open_scene(b.scene, sensor="sentinel2-l2a", chunk_size=SIZE).values
    proba = [m.predict_proba(target) for m in models]
    np.testing.assert_array_equal(proba[1], proba[0])
    np.testing.assert_array_equal(proba[2], proba[0])


def test_another_seed_gives_another_sample(data):
    a, _ = data
    scene = open_scene(a.scene, sensor="sentinel2-l2a")
    first = train(scene, a.truth, max_per_class=100, seed=1, holdout=0)
    second = train(scene, a.truth, max_per_class=100, seed=2, holdout=0)
    target = scene.values[:, :64, :64]
    assert not np.array_equal(first.predict_proba(target), second.predict_proba(target))


# ---------------------------------------------------------------- bad input


def test_labels_outside_the_scene(tmp_path, data, capsys, caplog):
    a, _ = data
    rects = pure_rectangles(a.truth_values)
    frame = rectangles_frame(rects, a.transform, "EPSG:32633")
    frame["geometry"] = frame.geometry.translate(100_000, 0)
    path = tmp_path / "far.gpkg"
    frame.to_crs("EPSG:4326").to_file(path)
    res = invoke(
        ["train", a.scene, *S2, "--labels", path, "-o", tmp_path / "m.joblib"], capsys, caplog
    )
    assert_bad_input(res, str(path), "overlap")
    assert not (tmp_path / "m.joblib").exists()


def test_labels_of_one_class(tmp_path, data, capsys, caplog):
    a, _ = data
    rects = [r for r in pure_rectangles(a.truth_values) if r[4] == 1]
    path = tmp_path / "forest.gpkg"
    rectangles_frame(rects, a.transform, "EPSG:4326").to_file(path)
    res = invoke(
        ["train", a.scene, *S2, "--labels", path, "-o", tmp_path / "m.joblib"], capsys, caplog
    )
    assert_bad_input(res, str(path), "forest", "two classes")
    assert not (tmp_path / "m.joblib").exists()


def test_corrupt_model_file(tmp_path, data, capsys, caplog):
    _, b = data
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    out = tmp_path / "mask.tif"
    res = invoke(
        ["classify", b.scene, *S2, "--model", f"sklearn:{garbage}", "-o", out], capsys, caplog
    )
    assert_bad_input(res, str(garbage), "cannot load")
    assert not out.exists()


def test_joblib_that_is_not_a_model(tmp_path, data, capsys, caplog):
    _, b = data
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": [1, 2, 3]}, other)
    out = tmp_path / "mask.tif"
    res = invoke(
        ["classify", b.scene, *S2, "--model", f"sklearn:{other}", "-o", out], capsys, caplog
    )
    assert_bad_input(res, str(other), "not a landmask model")
    assert not out.exists()
    with pytest.raises(ModelError, match="not a landmask model"):
        SklearnModel.load(other)


def test_missing_model_file(tmp_path, data, capsys, caplog):
    _, b = data
    missing = tmp_path / "nope.joblib"
    res = invoke(
        ["classify", b.scene, *S2, "--model", f"sklearn:{missing}", "-o", tmp_path / "m.tif"],
        capsys,
        caplog,
    )
    assert_bad_input(res, str(missing), "no such file")


def test_model_needs_bands_the_scene_lacks(tmp_path, model_file, data, capsys, caplog):
    """Trained on 6 Sentinel-2 bands; four of them (no SWIR) are not enough."""
    a, _ = data
    with rasterio.open(a.scene) as ds:
        dn = ds.read()
    files = [
        write_raster(tmp_path / f"T33UUP_20240601T100031_{bid}_10m.tif", dn[k], nodata=0)
        for k, bid in enumerate(S2_BAND_IDS[:4])
    ]
    out = tmp_path / "mask.tif"
    res = invoke(
        ["classify", *files, "--model", f"sklearn:{model_file}", "-o", out], capsys, caplog
    )
    assert_bad_input(res, str(files[0]), "swir16", f"sklearn:{model_file} reads")
    assert not out.exists()
    scene = open_scene(files, sensor="sentinel2-l2a")
    with pytest.raises(BandError, match="swir16"):
        classify(scene, model=f"sklearn:{model_file}")


def test_model_of_another_sensor_is_refused(tmp_path, model_file, capsys, caplog):
    """Trained with --sensor sentinel2-l2a; --sensor naip contradicts it."""
    rng = np.random.default_rng(0)
    naip = write_raster(
        tmp_path / "naip.tif",
        rng.integers(0, 255, (4, 128, 128), dtype=np.uint8),
        blocksize=64,
    )
    out = tmp_path / "mask.tif"
    res = invoke(
        ["classify", naip, "--sensor", "naip", "--model", f"sklearn:{model_file}", "-o", out],
        capsys,
        caplog,
    )
    assert_bad_input(res, "--sensor naip", "sentinel2-l2a")
    assert not out.exists()


def test_model_output_suffix(tmp_path, data, capsys, caplog):
    a, _ = data
    res = invoke(
        ["train", a.scene, *S2, "--labels", a.truth, "-o", tmp_path / "m.pkl"], capsys, caplog
    )
    assert_bad_input(res, ".joblib")


def test_labels_without_valid_pixels(tmp_path, data):
    """Polygons only over the nodata swath margin: nothing to sample."""
    a, _ = data
    frame = rectangles_frame([(0, 0, 8, 8, 1), (0, 20, 6, 6, 3)], a.transform, "EPSG:4326")
    assert (a.truth_values[:8, :26] == 255).all()
    with pytest.raises(InputError, match="no labelled pixel"):
        train(open_scene(a.scene, sensor="sentinel2-l2a"), frame)


@pytest.mark.parametrize(
    ("label_map", "needle"),
    [
        (None, "woods"),  # label names that are not classes and no map
        ("woods", "woods"),  # a malformed map
        ("woods=trees,lake=water", "trees"),  # a map to an unknown class
    ],
)
def test_label_errors_name_the_train_option(tmp_path, data, capsys, caplog, label_map, needle):
    """train's option is --label-map: its errors must not point to evaluate's --truth-map."""
    a, _ = data
    rects = pure_rectangles(a.truth_values)[2:6]
    frame = rectangles_frame(rects, a.transform, "EPSG:4326")
    frame["class"] = ["woods", "woods", "lake", "lake"][: len(frame)]
    path = tmp_path / "words.gpkg"
    frame.to_file(path)
    argv = ["train", a.scene, *S2, "--labels", path, "-o", tmp_path / "m.joblib"]
    if label_map is not None:
        argv += ["--label-map", label_map]
    err = assert_bad_input(invoke(argv, capsys, caplog), needle)
    assert "--truth-map" not in err
    if label_map is not None:
        assert "--label-map" in err
    assert not (tmp_path / "m.joblib").exists()
