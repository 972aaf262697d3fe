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
from conftest import UTM33, invoke, write_raster
from conftest import assert_one_line as assert_bad_input
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from shapely.geometry import Point, box

from landmask.classes import LANDCOVER
from landmask.classification.classify import classify
from landmask.errors import BandError, InputError, ModelError
from landmask.evaluation.evaluate import evaluate
from landmask.io.read.labels import labels_on_grid
from landmask.io.read.scene import open_scene
from landmask.models.sklearn import FORMAT, SklearnModel
from landmask.models.training import draw_sample, train
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
    # a label raster: whole 64 px blocks held out, one fold of 4 (--holdout 0.25)
    assert report["holdout"] == "blocks of 64 px"
    blocks = (SIZE // 64) ** 2
    assert report["groups_train"] + report["groups_holdout"] <= blocks
    assert 0.15 * blocks <= report["groups_holdout"] <= 0.35 * blocks
    assert report["model_pixels"] == 1200
    assert 0.85 <= report["holdout_accuracy"] <= 1.0
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
    assert report["holdout"] == "none"  # --holdout 0
    mask = classify(open_scene(b.scene, sensor="sentinel2-l2a"), model=f"sklearn:{model}")
    assert evaluate(mask, b.truth).miou >= 0.85
    # points are held out by the block they lie in, as label rasters
    from landmask.models.training import draw_sample

    sample = draw_sample(scene, path, list(BANDS), label_column="landuse", holdout_block=48)
    assert sample.holdout == "blocks of 48 px"
    blocks = (np.array(rows) // 48) * 2**32 + np.array(cols) // 48
    np.testing.assert_array_equal(np.sort(sample.groups), np.sort(blocks))


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
    x, y, _, _ = sample_block(block, labels, list(BANDS), [*BANDS, "ndvi"], (0, 0), 10_000, 0)
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
        ("woods", "woods"),  # a malformed map
        ("woods=trees,lake=water", "trees"),  # a map to an unknown class
        ("--scheme=nope", "--scheme nope"),  # no such scheme
        ("--scheme=labels --label-map=woods=forest", "--label-map"),  # own classes: no map
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
    if label_map is not None and label_map.startswith("--"):
        argv += label_map.split()
    elif label_map is not None:
        argv += ["--label-map", label_map]
    err = assert_bad_input(invoke(argv, capsys, caplog), needle)
    assert "--truth-map" not in err
    if label_map is not None and not label_map.startswith("--scheme=nope"):
        assert "--label-map" in err
    assert not (tmp_path / "m.joblib").exists()


# ------------------------------------------------------ hold-out of whole groups

GENERIC = {"blue": 1, "green": 2, "red": 3, "nir": 4}
SIDE = 16  # polygon squares of 16 px on a 96 px scene: 36 polygons


def _polygon_scene(folder: Path, seed: int = 5) -> tuple[Path, gpd.GeoDataFrame, np.ndarray]:
    """A scene of 36 square polygons, each with its own spectrum, classes unrelated to spectra.

    Each polygon's pixels share one random signature (plus a little noise); its
    class (0, 1, 2 in turn) says nothing about that signature. A model can only
    tell the classes of pixels of polygons it trained on (it memorises the
    signatures): a pixel hold-out scores it near 1, a hold-out of whole
    polygons near chance (1/3). Returns the scene path, the polygons (class in
    ``class``, as text ``c0``.. ``c2``) and the signatures ``(polygon, band)``.
    """
    from conftest import TRANSFORM

    rng = np.random.default_rng(seed)
    n = 96 // SIDE
    signatures = rng.uniform(0.05, 0.5, size=(n * n, 4)).astype(np.float32)
    data = np.empty((4, 96, 96), np.float32)
    geoms, classes = [], []
    for k in range(n * n):
        r, c = divmod(k, n)
        rows, cols = slice(r * SIDE, (r + 1) * SIDE), slice(c * SIDE, (c + 1) * SIDE)
        noise = rng.normal(0, 0.002, size=(4, SIDE, SIDE)).astype(np.float32)
        data[:, rows, cols] = signatures[k][:, None, None] + noise
        x0, y0 = TRANSFORM @ (c * SIDE, r * SIDE)
        x1, y1 = TRANSFORM @ ((c + 1) * SIDE, (r + 1) * SIDE)
        geoms.append(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        classes.append(f"c{(k * 7) % 3}")
    path = write_raster(folder / "polygons.tif", data, blocksize=32)
    frame = gpd.GeoDataFrame({"class": classes}, geometry=geoms, crs="EPSG:32633")
    return path, frame, signatures


def test_holdout_keeps_whole_polygons_out_of_training(tmp_path):
    """The score comes from pixels of polygons absent from training; a pixel split would leak."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    from landmask.models.training import draw_sample, holdout_split

    path, frame, signatures = _polygon_scene(tmp_path)
    scene = open_scene(path, bands=GENERIC, chunk_size=40)  # chunks across polygon edges
    features = [*GENERIC, "ndvi"]
    sample = draw_sample(scene, frame, features, max_per_class=10_000)
    assert sample.holdout == "polygons"
    assert len(sample.y) == 96 * 96  # every pixel is in a polygon
    # each pixel's group is the polygon it lies in: the nearest signature (independent check)
    nearest = np.argmin(((sample.x[:, None, :4] - signatures[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(sample.groups, nearest)
    split = holdout_split(sample.y, sample.groups, 0.2, seed=0)
    train_groups, test_groups = set(sample.groups[split.train]), set(sample.groups[split.test])
    assert train_groups.isdisjoint(test_groups)
    assert len(train_groups) + len(test_groups) == 36
    assert len(test_groups) == 36 // 5 or len(test_groups) == 36 // 5 + 1
    # the same split as sklearn's own on the same groups
    ref_train, ref_test = next(
        StratifiedGroupKFold(5, shuffle=True, random_state=0).split(
            sample.x, sample.y, sample.groups
        )
    )
    np.testing.assert_array_equal(split.test, ref_test)
    np.testing.assert_array_equal(split.train, ref_train)
    # the leak a pixel hold-out has here, and what train reports instead
    x_fit, x_test, y_fit, y_test = train_test_split(
        sample.x, sample.y, test_size=0.2, stratify=sample.y, random_state=0
    )
    leaky = RandomForestClassifier(n_estimators=20, random_state=0).fit(x_fit, y_fit)
    assert leaky.score(x_test, y_test) > 0.95
    model = train(scene, frame, indices=["ndvi"], max_per_class=10_000, holdout=0.2)
    report = model.report
    assert report["holdout"] == "polygons"
    assert report["groups_holdout"] == len(test_groups)
    assert report["groups_train"] == len(train_groups)
    assert report["holdout_pixels"] == len(split.test)
    assert report["holdout_accuracy"] < 0.7  # chance is 1/3: nothing to learn across polygons
    assert report["model_pixels"] == 96 * 96  # the saved model is fitted on every polygon


def test_too_few_polygons_for_a_holdout_warn_and_report_no_score(tmp_path, capsys, caplog):
    path, frame, _ = _polygon_scene(tmp_path)
    few = frame.iloc[[0, 1, 2, 3, 4]]  # classes c0, c1, c2, c0, c1: c2 has one polygon
    labels = tmp_path / "few.gpkg"
    few.to_file(labels)
    out = tmp_path / "m.joblib"
    argv = ["train", path, *[f"--band={k}={v}" for k, v in GENERIC.items()], "--labels", labels]
    res = invoke([*argv, "-o", out], capsys, caplog)
    assert res.code == 0, res.err
    warning = [line for line in res.err.splitlines() if "hold-out" in line]
    assert len(warning) == 1
    assert "class c2 has 1 of the polygons" in warning[0]
    assert "no hold-out" in res.out
    report = SklearnModel.load(out).report
    assert report["holdout"] == "none"
    assert report["holdout_accuracy"] is None
    assert report["train_pixels"] == report["model_pixels"] == 5 * SIDE * SIDE


def test_label_raster_holds_out_blocks(tmp_path):
    """A label raster: groups are blocks of holdout_block px, in scene coordinates, any chunks."""
    from landmask.models.training import block_groups, draw_sample

    _, frame, _ = _polygon_scene(tmp_path)
    classes = np.array([int(c[1]) for c in frame["class"]], np.uint8)
    truth = np.kron(classes.reshape(6, 6), np.ones((SIDE, SIDE), np.uint8))
    labels = write_raster(tmp_path / "labels.tif", truth, nodata=255)
    # features: the bands; the sample's pixel positions are recovered from a
    # scene whose bands hold the row and column
    rows, cols = np.mgrid[0:96, 0:96].astype(np.float32)
    where = write_raster(tmp_path / "where.tif", np.stack([rows, cols, rows, cols]) / 1000)
    samples = [
        draw_sample(
            open_scene(where, bands=GENERIC, chunk_size=c),
            labels,
            ["blue", "green"],
            holdout_block=24,
            max_per_class=500,
            scheme="labels",
        )
        for c in (96, 37)
    ]
    for s in samples:
        r, c = np.rint(s.x[:, 0] * 1000).astype(int), np.rint(s.x[:, 1] * 1000).astype(int)
        np.testing.assert_array_equal(s.y, truth[r, c])
        np.testing.assert_array_equal(s.groups, (r // 24) * 2**32 + c // 24)
        np.testing.assert_array_equal(s.groups, block_groups(r, c, 24))
        assert s.holdout == "blocks of 24 px"
    np.testing.assert_array_equal(samples[0].x, samples[1].x)
    np.testing.assert_array_equal(samples[0].groups, samples[1].groups)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    boxes=st.lists(
        st.tuples(*[st.integers(0, 500)] * 2, *[st.integers(10, 300)] * 2), min_size=1, max_size=5
    ),
    chunk_y=st.integers(3, 40),
    chunk_x=st.integers(3, 50),
)
def test_polygon_groups_do_not_depend_on_the_chunks(boxes, chunk_y, chunk_x):
    """Each pixel's polygon, rasterized chunk by chunk = pixel centres over the whole grid."""
    import xarray as xr
    from conftest import TRANSFORM

    from landmask.io.read.labels import polygon_groups

    x0, y0 = TRANSFORM.c + 0.25, TRANSFORM.f - 0.25  # edges never through a pixel centre
    geoms = [box(x0 + a, y0 - b - h, x0 + a + w, y0 - b) for a, b, w, h in boxes]
    frame = gpd.GeoDataFrame({"class": ["x"] * len(geoms)}, geometry=geoms, crs="EPSG:32633")
    grid = xr.DataArray(np.zeros((40, 50), np.uint8), dims=("y", "x"))
    grid = grid.rio.write_crs("EPSG:32633").rio.write_transform(TRANSFORM)
    cx, cy = TRANSFORM.c + 10 * (np.arange(50) + 0.5), TRANSFORM.f - 10 * (np.arange(40) + 0.5)
    grid = grid.assign_coords(x=cx, y=cy).chunk({"y": chunk_y, "x": chunk_x})
    try:
        got = polygon_groups(frame, grid, "<test>").values
    except InputError:  # no box reaches the grid
        assert all(a >= 500 or b >= 400 for a, b, _, _ in boxes)
        return
    # independent: pixel centres strictly inside a box, the later box winning
    xx, yy = np.meshgrid(cx, cy)
    expected = np.full((40, 50), -1)
    for k, (a, b, w, h) in enumerate(boxes):
        inside = (xx > x0 + a) & (xx < x0 + a + w) & (yy < y0 - b) & (yy > y0 - b - h)
        expected[inside] = k
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------ the labels' own classes

SEVEN = {0: ("bare", "grass"), 1: ("conifer", "broadleaf"), 2: ("roofs", "roads"), 3: ("water",)}


def _seven_class_labels(a: Written) -> gpd.GeoDataFrame:
    """Windows of the truth classes named with seven classes of the user's own."""
    rects = pure_rectangles(a.truth_values, side=8, per_class=4)
    frame = rectangles_frame(rects, a.transform, "EPSG:32633")
    frame["class"] = [SEVEN[r[4]][k % len(SEVEN[r[4]])] for k, r in enumerate(rects)]
    return frame


def test_seven_label_classes_stay_seven_from_model_to_mask_to_polygons(
    tmp_path, data, capsys, caplog
):
    """Labels with their own classes: the scheme travels into the mask, its item and its readers."""
    import json

    from PIL import Image

    a, b = data
    frame = _seven_class_labels(a)
    names = sorted({n for group in SEVEN.values() for n in group})
    assert len(names) == 7
    labels = tmp_path / "habitats.gpkg"
    frame.to_file(labels)
    model = tmp_path / "m.joblib"
    res = invoke(["train", a.scene, *S2, "--labels", labels, "-o", model], capsys, caplog)
    assert res.code == 0, res.err
    assert "classes: habitats (0 bare, 1 broadleaf, 2 conifer" in res.out
    loaded = SklearnModel.load(model)
    assert loaded.classes == list(range(7))
    scheme = loaded.scheme
    assert scheme.name == "habitats"
    assert [scheme.name_of(i) for i in range(7)] == names
    assert scheme.name_of(254) == "cloud" and scheme.name_of(255) == "nodata"
    colours = [c.color for c in scheme if c.id < 7]
    assert len(set(colours)) == 7
    assert scheme.id("water") == 6 and scheme.classes[6].color == LANDCOVER.classes[3].color
    mask = tmp_path / "mask.tif"
    res = invoke(
        ["classify", b.scene, *S2, "--model", f"sklearn:{model}", "-o", mask], capsys, caplog
    )
    assert res.code == 0, res.err
    with rasterio.open(mask) as ds:
        tags, table, ids = ds.tags(), ds.colormap(1), ds.read(1)
    assert tags["CLASS_SCHEME"] == "habitats"
    assert {k: tags[f"CLASS_{k}"] for k in range(7)} == dict(enumerate(names))
    for c in scheme:
        assert "#{:02x}{:02x}{:02x}".format(*table[c.id][:3]) == c.color
    present = set(np.unique(ids).tolist()) - {255}
    assert len(present) >= 5  # the model makes the user's classes, not landmask's four
    qml = (tmp_path / "mask.qml").read_text()
    assert all(f'label="{name}"' in qml for name in (names[i] for i in present))
    from landmask.io.stac.items import item_path

    item = json.loads(item_path(mask).read_text())
    stac_classes = item["assets"]["data"]["classification:classes"]
    assert {c["value"]: c["name"] for c in stac_classes if c["value"] < 7} == dict(enumerate(names))
    # readers take the scheme from the mask, as for the built-in ones
    polys = tmp_path / "polys.gpkg"
    res = invoke(["vectorize", mask, "-o", polys], capsys, caplog)
    assert res.code == 0, res.err
    read = gpd.read_file(polys, layer="polys")
    assert set(read["class_name"]) == {names[i] for i in present}
    for _, row in read.iterrows():
        assert row["class_name"] == names[row["class_id"]]
    report = evaluate(mask, labels, truth_column="class")
    assert set(report.classes) <= set(range(7))
    assert len(report.classes) >= 5
    png = tmp_path / "p.png"
    res = invoke(["preview", mask, "-o", png], capsys, caplog)
    assert res.code == 0, res.err
    rgb = {tuple(p[:3]) for p in np.asarray(Image.open(png).convert("RGBA")).reshape(-1, 4)}
    for i in present:
        assert tuple(int(v) for v in table[i][:3]) in rgb


def test_integer_labels_keep_their_ids_and_get_fixed_colours(tmp_path, data):
    from landmask.classes import scheme_from_labels

    a, _ = data
    frame = _seven_class_labels(a)
    codes = {n: 10 * (k + 1) for k, n in enumerate(sorted(set(frame["class"])))}
    frame["class"] = [codes[n] for n in frame["class"]]
    model = train(open_scene(a.scene, sensor="sentinel2-l2a"), frame, max_per_class=300)
    assert model.classes == sorted(codes.values())
    assert model.scheme.name_of(40) == "class_40"
    again = scheme_from_labels("labels", [70, 10, 20, 30, 40, 50, 60])
    assert again == model.scheme.__class__(
        "labels", model.scheme.classes, model.scheme.landcover_names
    )
    assert len({c.color for c in again}) == len(again.classes)


def test_labels_that_are_landcover_classes_stay_landcover(tmp_path, data):
    a, _ = data
    frame = rectangles_frame(pure_rectangles(a.truth_values), a.transform, "EPSG:32633")
    model = train(open_scene(a.scene, sensor="sentinel2-l2a"), frame, max_per_class=200)
    assert model.scheme is LANDCOVER
    own = train(
        open_scene(a.scene, sensor="sentinel2-l2a"), frame, max_per_class=200, scheme="labels"
    )
    assert own.scheme.name == "labels"
    assert own.classes == [0, 1, 2, 3]  # sorted names: forest, other, urban, water
    assert [own.scheme.name_of(i) for i in own.classes] == ["forest", "other", "urban", "water"]


def test_a_partial_label_map_keeps_labels_that_are_class_names(tmp_path, data):
    a, _ = data
    rects = pure_rectangles(a.truth_values)
    words = {0: "meadow", 1: "woods", 2: "urban", 3: "lake"}  # urban is landcover's own name
    frame = rectangles_frame(rects, a.transform, "EPSG:32633")
    frame["class"] = [words[r[4]] for r in rects]
    model = train(
        open_scene(a.scene, sensor="sentinel2-l2a"),
        frame,
        label_map={"woods": "forest", "lake": "water"},
        holdout=0,
    )
    expected = expected_raster(rects, a.truth_values.shape)
    sizes = {NAMES[k]: int((expected == k).sum()) for k in NAMES}
    assert model.scheme is LANDCOVER
    # urban kept its class; only meadow (not in the map, not a class) became other
    assert model.report["pixels_per_class"] == sizes
    assert model.report["unmapped_labels"] == 2


def test_a_scheme_saved_in_a_model_loads_back(tmp_path, data):
    a, _ = data
    frame = _seven_class_labels(a)
    model = train(open_scene(a.scene, sensor="sentinel2-l2a"), frame, max_per_class=100)
    path = tmp_path / "m.joblib"
    model.save(path)
    assert isinstance(joblib.load(path)["scheme"], dict)
    assert SklearnModel.load(path).scheme == model.scheme
    builtin = train(
        open_scene(a.scene, sensor="sentinel2-l2a"),
        rectangles_frame(pure_rectangles(a.truth_values), a.transform, "EPSG:32633"),
        max_per_class=100,
    )
    builtin.save(path)
    assert joblib.load(path)["scheme"] == "landcover"  # built-in schemes by name, as before


# --------------------------------------------------------------------- real labels


def test_real_polygons_are_held_out_whole_and_keep_their_classes():
    """RStoolbox's 25 labelled polygons over a real Sentinel-2 L2A crop (tests/data)."""
    from calibration import load_script

    from landmask.models.training import draw_sample, holdout_split

    real = load_script("real_scenes")
    s2 = real.SCENES["rstoolbox-sentinel2"]
    name, column = s2.labels
    frame = gpd.read_file(real.DATA / name)
    scene = real.open_real(s2)
    burned, names = real.label_raster(s2)  # the script's own rasterization, independent
    sample = draw_sample(scene, real.DATA / name, list(scene.band.values), label_column=column)
    assert sample.scheme.name == "trainingPolygons_sen2"
    assert [c.name for c in sample.scheme if c.id < 254] == names == sorted(set(frame[column]))
    # every labelled pixel, by class, as rasterio burns the polygons
    expected = np.bincount(burned[burned >= 0], minlength=len(names))
    np.testing.assert_array_equal(np.bincount(sample.y, minlength=len(names)), expected)
    assert sample.holdout == "polygons"
    assert set(np.unique(sample.groups)) == set(range(len(frame)))
    # each group is one polygon of one class
    for group in np.unique(sample.groups):
        assert set(sample.y[sample.groups == group]) == {names.index(frame[column][group])}
    split = holdout_split(sample.y, sample.groups, 0.2, seed=0)
    held = set(sample.groups[split.test])
    assert held and held.isdisjoint(sample.groups[split.train])
    model = train(scene, real.DATA / name, label_column=column)
    assert model.classes == list(range(4))
    assert model.report["holdout"] == "polygons"
    assert model.report["groups_holdout"] == len(held)
    assert model.report["groups_train"] == len(frame) - len(held)


def test_real_points_of_seven_classes_make_a_seven_class_model():
    """The North Carolina Landsat 7 points: seven land-cover labels stay seven classes."""
    from calibration import load_script

    from landmask.errors import UncalibratedWarning

    real = load_script("real_scenes")
    nc = real.SCENES["nc-landsat7"]
    name, column = nc.labels
    with pytest.warns(UncalibratedWarning):  # 8-bit DN in float32 files
        scene = real.open_real(nc)
    model = train(scene, real.DATA / name, label_column=column, holdout=0)
    labels = sorted(set(gpd.read_file(real.DATA / name)[column]))
    assert len(labels) == 7
    assert [model.scheme.name_of(c) for c in model.classes] == labels
    assert model.scene_record.radiometry == "dn"


@pytest.fixture(scope="module")
def polygon_scene(tmp_path_factory):
    path, frame, _ = _polygon_scene(tmp_path_factory.mktemp("polygons"))
    scene = open_scene(path, bands=GENERIC)
    whole = draw_sample(scene, frame, [*GENERIC, "ndvi"], max_per_class=300, seed=3)
    return scene, frame, whole


@settings(max_examples=10, deadline=None, derandomize=True)
@given(chunk_y=st.integers(7, 96), chunk_x=st.integers(7, 96))
def test_sample_and_groups_do_not_depend_on_the_chunks(polygon_scene, chunk_y, chunk_x):
    """Capped sample of polygon labels with their groups: any chunks give the whole-array one."""
    scene, frame, whole = polygon_scene
    chunked = scene.chunk({"y": chunk_y, "x": chunk_x})
    got = draw_sample(chunked, frame, [*GENERIC, "ndvi"], max_per_class=300, seed=3)
    assert len(whole.y) == 3 * 300  # the cap bites: which pixels are kept matters
    np.testing.assert_array_equal(got.x, whole.x)
    np.testing.assert_array_equal(got.y, whole.y)
    np.testing.assert_array_equal(got.groups, whole.groups)


def test_labels_called_cloud_are_the_reserved_class_and_never_sampled(tmp_path, data):
    a, _ = data
    frame = _seven_class_labels(a)
    frame.loc[0, "class"] = "cloud"  # a polygon marking a cloud: not a class, not sampled
    model = train(open_scene(a.scene, sensor="sentinel2-l2a"), frame, holdout=0)
    names = sorted(set(frame["class"]) - {"cloud"})
    assert [model.scheme.name_of(c) for c in model.classes] == names
    assert model.scheme.id("cloud") == 254
    without = train(open_scene(a.scene, sensor="sentinel2-l2a"), frame.drop(index=0), holdout=0)
    assert model.report["pixels_per_class"] == without.report["pixels_per_class"]
