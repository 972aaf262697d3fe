import numpy as np
import pytest
import xarray as xr

from landmask.errors import GridError
from landmask.evaluation.evaluate import confusion_block, evaluate


def arr(values, chunks=None):
    a = xr.DataArray(np.array(values, np.uint8), dims=("y", "x"))
    return a.chunk(dict(zip(("y", "x"), chunks, strict=True))) if chunks else a


PRED = [[0, 1, 1, 3], [2, 2, 255, 1], [0, 0, 3, 3]]
TRUTH = [[0, 1, 2, 3], [2, 1, 1, 255], [0, 3, 3, 3]]


def test_hand_computed_confusion_and_scores():
    ev = evaluate(arr(PRED), arr(TRUTH))
    assert ev.classes == (0, 1, 2, 3)
    # rows: truth, columns: prediction; pixels with 255 on either side left out
    expected = np.array(
        [
            [2, 0, 0, 0],
            [0, 1, 1, 0],
            [0, 1, 1, 0],
            [1, 0, 0, 3],
        ]
    )
    np.testing.assert_array_equal(ev.matrix, expected)
    assert ev.ignored == 2
    assert ev.iou[0] == pytest.approx(2 / 3)
    assert ev.iou[1] == pytest.approx(1 / 3)
    assert ev.iou[3] == pytest.approx(3 / 4)
    assert ev.precision[1] == pytest.approx(1 / 2)
    assert ev.recall[3] == pytest.approx(3 / 4)
    assert ev.f1[3] == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert ev.overall_accuracy == pytest.approx(7 / 10)
    assert ev.miou == pytest.approx(np.mean([2 / 3, 1 / 3, 1 / 3, 3 / 4]))


def test_chunked_equals_in_memory():
    rng = np.random.default_rng(1)
    p = rng.integers(0, 4, size=(97, 61)).astype(np.uint8)
    t = rng.integers(0, 4, size=(97, 61)).astype(np.uint8)
    t[:5] = 255
    whole = evaluate(arr(p), arr(t))
    chunked = evaluate(arr(p, chunks=(10, 7)), arr(t, chunks=(13, 50)))
    np.testing.assert_array_equal(whole.matrix, chunked.matrix)
    assert whole.ignored == chunked.ignored == 5 * 61
    direct = confusion_block(p, t)
    assert direct[1, 2] == ((t == 1) & (p == 2)).sum()


def test_perfect_match_and_absent_class():
    ev = evaluate(arr([[0, 1], [1, 0]]), arr([[0, 1], [1, 0]]))
    assert ev.miou == 1.0 and ev.overall_accuracy == 1.0
    ev = evaluate(arr([[0, 2]]), arr([[0, 0]]))
    assert ev.iou[2] == 0.0 and ev.recall[0] == 0.5
    assert np.isnan(ev.recall[2])


def test_all_nodata_gives_nan_scores():
    ev = evaluate(arr([[255, 255]]), arr([[1, 2]]))
    assert ev.classes == (1, 2) and ev.ignored == 2
    assert np.isnan(ev.overall_accuracy)


def test_shape_mismatch():
    with pytest.raises(GridError):
        evaluate(arr([[0, 1]]), arr([[0], [1]]))


# ---------------------------------------------------------------- truth sources

import geopandas as gpd  # noqa: E402
import rasterio  # noqa: E402
from affine import Affine  # noqa: E402
from conftest import TRANSFORM, UTM33, write_raster  # noqa: E402
from shapely.geometry import Point, box  # noqa: E402

from landmask.errors import ConfigError, InputError, TruthReprojectedWarning  # noqa: E402
from landmask.io.read.masks import open_mask  # noqa: E402


@pytest.fixture
def pred_file(tmp_path):
    """A 40x60 mask: left half forest (1), right half water (3), a nodata row at the top."""
    data = np.ones((40, 60), np.uint8)
    data[:, 30:] = 3
    data[0] = 255
    return write_raster(tmp_path / "pred.tif", data, nodata=255)


def test_raster_truth_on_the_same_grid_from_files(pred_file, tmp_path):
    truth = np.ones((40, 60), np.uint8)
    truth[:, 20:] = 3  # 10 columns of forest are truly water
    path = write_raster(tmp_path / "truth.tif", truth, nodata=255)
    ev = evaluate(pred_file, path)
    assert ev.classes == (1, 3)
    np.testing.assert_array_equal(ev.matrix, [[39 * 20, 0], [39 * 10, 39 * 30]])
    assert ev.ignored == 60
    assert ev.pixel_area == 100.0
    d = ev.to_dict()
    assert d["confusion_matrix"]["area_m2"][1][0] == 39 * 10 * 100.0
    assert d["classes"]["water"]["recall"] == pytest.approx(30 / 40)


def test_raster_truth_on_another_grid_is_warped_with_a_warning(pred_file, tmp_path):
    # truth at 5 m in UTM: each prediction pixel covers 2x2 truth pixels
    truth = np.ones((80, 120), np.uint8)
    truth[:, 60:] = 3
    fine = Affine(5.0, 0, TRANSFORM.c, 0, -5.0, TRANSFORM.f)
    path = write_raster(tmp_path / "truth5m.tif", truth, transform=fine, nodata=255)
    with pytest.warns(TruthReprojectedWarning, match="truth5m.tif.*transform"):
        ev = evaluate(pred_file, path)
    assert ev.overall_accuracy == 1.0
    assert ev.matrix.sum() == 39 * 60


def test_raster_truth_with_label_map(pred_file, tmp_path):
    truth = np.full((40, 60), 10, np.uint8)  # WorldCover: 10 trees, 80 water, 50 built-up
    truth[:, 30:] = 80
    truth[5, 5] = 50
    path = write_raster(tmp_path / "wc.tif", truth, nodata=0)
    ev = evaluate(pred_file, path, truth_map={"10": "forest", "80": "water", "50": "urban"})
    assert ev.classes == (1, 2, 3)
    assert ev.matrix[1].sum() == 1  # the built-up pixel


def test_polygon_truth_in_another_crs_lands_on_the_right_pixels(pred_file, tmp_path):
    # a water polygon covering columns 30-59 and a forest one over 0-29, given in WGS 84
    x0, y0 = TRANSFORM.c, TRANSFORM.f
    polys = gpd.GeoDataFrame(
        {"cover": ["woods", "lake"]},
        geometry=[box(x0, y0 - 400, x0 + 300, y0), box(x0 + 300, y0 - 400, x0 + 600, y0)],
        crs=UTM33,
    ).to_crs("EPSG:4326")
    path = tmp_path / "truth.gpkg"
    polys.to_file(path)
    ev = evaluate(
        pred_file, path, truth_column="cover", truth_map={"woods": "forest", "lake": "water"}
    )
    # reprojection to WGS 84 and back moves edges by far less than half a pixel
    assert ev.classes == (1, 3)
    np.testing.assert_array_equal(ev.matrix, [[39 * 30, 0], [0, 39 * 30]])


def test_polygon_truth_chunked_equals_whole(pred_file, tmp_path):
    x0, y0 = TRANSFORM.c, TRANSFORM.f
    gdf = gpd.GeoDataFrame(
        {"class": ["water", "forest"]},
        geometry=[box(x0 + 123, y0 - 377, x0 + 511, y0 - 33), box(x0 + 7, y0 - 97, x0 + 213, y0)],
        crs=UTM33,
    )
    whole = evaluate(open_mask(pred_file, chunk_size=1000), gdf)
    chunked = evaluate(open_mask(pred_file).chunk({"y": 7, "x": 11}), gdf)
    np.testing.assert_array_equal(whole.matrix, chunked.matrix)
    # independent check: pixel centres inside each box, later polygon wins
    cols = TRANSFORM.c + 10 * (np.arange(60) + 0.5)
    rows = TRANSFORM.f - 10 * (np.arange(40) + 0.5)
    xx, yy = np.meshgrid(cols, rows)
    truth = np.full((40, 60), 255)
    truth[(xx > x0 + 123) & (xx < x0 + 511) & (yy > y0 - 377) & (yy < y0 - 33)] = 3
    truth[(xx > x0 + 7) & (xx < x0 + 213) & (yy > y0 - 97) & (yy < y0)] = 1
    with rasterio.open(pred_file) as ds:
        pred = ds.read(1)
    ok = (truth != 255) & (pred != 255)
    assert whole.matrix.sum() == ok.sum()
    assert (
        whole.matrix[whole.classes.index(3), whole.classes.index(3)]
        == (ok & (truth == 3) & (pred == 3)).sum()
    )


def test_point_truth_samples_the_prediction_and_estimates_areas(pred_file, tmp_path):
    x0, y0 = TRANSFORM.c, TRANSFORM.f
    pts = [
        (x0 + 5, y0 - 25, "forest"),  # forest pixel
        (x0 + 15, y0 - 35, "water"),  # forest pixel, truly water
        (x0 + 405, y0 - 105, "water"),  # water pixel
        (x0 + 455, y0 - 205, "water"),
        (x0 + 5, y0 - 5, "forest"),  # nodata row: left out
        (x0 - 50, y0 - 50, "water"),  # outside
    ]
    gdf = gpd.GeoDataFrame(
        {"label": [p[2] for p in pts]},
        geometry=[Point(p[0], p[1]) for p in pts],
        crs=UTM33,
    ).to_crs("EPSG:3857")
    ev = evaluate(pred_file, gdf)
    assert ev.kind == "points"
    assert ev.notes["outside"] == 1 and ev.notes["nodata_or_cloud"] == 1
    assert ev.classes == (1, 3)
    np.testing.assert_array_equal(ev.matrix, [[1, 0], [1, 2]])
    est = ev.area_estimate
    assert est is not None
    # strata: 39*30 pixels of each class; half the forest sample is water
    np.testing.assert_allclose(est.map_area, [1170 * 100.0, 1170 * 100.0])
    np.testing.assert_allclose(est.area, [0.5 * 1170 * 100, 1.5 * 1170 * 100])
    assert ev.to_dict()["area_adjusted"]["classes"]["water"]["area_m2"] == pytest.approx(175500)


def test_truth_errors(pred_file, tmp_path):
    far = Affine(10.0, 0, 900000.0, 0, -10.0, 100000.0)
    path = write_raster(tmp_path / "far.tif", np.ones((5, 5), np.uint8), transform=far)
    with pytest.raises(InputError, match=r"far\.tif: truth does not overlap"):
        evaluate(pred_file, path)
    gdf = gpd.GeoDataFrame({"kind": ["forest"]}, geometry=[box(0, 0, 1, 1)], crs=UTM33)
    vec = tmp_path / "v.gpkg"
    gdf.to_file(vec)
    with pytest.raises(InputError, match=r"no column 'klass'.*kind"):
        evaluate(pred_file, vec, truth_column="klass")
    with pytest.raises(ConfigError, match="unknown class 'lava'"):
        evaluate(pred_file, vec, truth_column="kind", truth_map={"forest": "lava"})
    with pytest.raises(InputError, match="does not overlap"):
        evaluate(pred_file, vec, truth_column="kind")
    labelled = gpd.GeoDataFrame({"class": ["swamp"]}, geometry=[box(*[0, 0, 1, 1])], crs=UTM33)
    with pytest.raises(InputError, match=r"swamp.*--truth-map"):
        evaluate(pred_file, labelled)
    with pytest.raises(InputError, match="not a mask"):
        evaluate(write_raster(tmp_path / "f.tif", np.ones((4, 4), np.float32)), path)


def test_binary_masks():
    ev = evaluate(arr([[0, 1, 1], [0, 0, 1]]), arr([[0, 1, 0], [0, 1, 1]]))
    assert ev.classes == (0, 1)
    np.testing.assert_array_equal(ev.matrix, [[2, 1], [1, 2]])
    assert ev.iou[1] == pytest.approx(2 / 4)
    assert ev.kappa == pytest.approx((4 / 6 - 0.5) / 0.5)
