"""A new user's first hour: what the API and the CLI say, and how plots look."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from conftest import as_mask, write_raster

from landmask.cli import run
from landmask.errors import OutputExistsError
from landmask.evaluation.evaluate import Evaluation
from landmask.io.read.masks import open_image
from landmask.io.write.rasters import write_image, write_mask

H = W = 32


def _mask(seed: int = 0):
    return as_mask(np.random.default_rng(seed).integers(0, 4, (H, W)).astype(np.uint8))


def test_python_errors_name_the_keyword_the_cli_the_option(tmp_path, capsys):
    out = tmp_path / "m.tif"
    write_mask(_mask(), out)
    with pytest.raises(OutputExistsError, match=r"pass overwrite=True to replace it") as err:
        write_mask(_mask(), out)
    assert "--overwrite" not in str(err.value)
    scene = write_raster(tmp_path / "s.tif", np.ones((4, H, W), np.uint16), nodata=0)
    argv = ["indices", str(scene), "--band", "red=1", "--band", "nir=2", "--index", "ndvi"]
    assert run([*argv, "-o", str(out), "-q"]) == 2
    err_text = capsys.readouterr().err
    assert "pass --overwrite" in err_text and "overwrite=True" not in err_text


def test_scores_are_keyed_by_class_name_like_to_dict():
    matrix = np.array([[3, 1], [0, 4]])
    ev = Evaluation(classes=(1, 3), matrix=matrix, ignored=0)
    assert set(ev.iou) == set(ev.to_dict()["classes"]) == {"forest", "water"}
    assert ev.iou["forest"] == pytest.approx(3 / 4) == ev.iou[1]
    assert ev.recall["water"] == pytest.approx(1.0) and ev.f1[3] == ev.f1["water"]
    assert ev.to_dict()["classes"]["forest"]["iou"] == pytest.approx(ev.iou["forest"])


def test_mask_legend_stays_inside_its_own_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landmask.viz.plot import mask_image

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
    mask_image(_mask(), ax=left)
    mask_image(_mask(1), ax=right)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (left, right):
        box = ax.get_legend().get_window_extent(renderer)
        frame = ax.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 + 1, "legend outside its axes"
    plt.close(fig)


def test_models_show_default_names_the_builtin_rules(capsys):
    assert run(["models", "show", "default"]) == 0
    assert capsys.readouterr().out.startswith("model: rules:default")


def test_small_scenes_print_a_rate_that_is_not_zero(tmp_path, capsys):
    scene = write_raster(
        tmp_path / "s.tif",
        np.random.default_rng(0).integers(1, 4000, (6, H, W)).astype(np.uint16),
        nodata=0,
        descriptions=["B02", "B03", "B04", "B08", "B11", "B12"],
    )
    argv = ["classify", str(scene), "--sensor", "sentinel2-l2a", "-o", str(tmp_path / "m.tif")]
    assert run(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "px/s" in last and "(0.0 Mpx/s)" not in last


def test_images_with_per_band_scales_open_quietly_and_keep_them(tmp_path):
    path = tmp_path / "scaled.tif"
    write_raster(path, np.ones((3, H, W), np.uint16), nodata=0)
    with rasterio.open(path, "r+") as ds:
        ds.scales = (0.0001, 0.0002, 0.0001)
        ds.offsets = (0.0, -0.1, 0.0)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*differ across bands")  # rioxarray's
        image = open_image(path)
    out = write_image(image, tmp_path / "copy.tif").path
    with rasterio.open(out) as ds:
        assert ds.scales == pytest.approx((0.0001, 0.0002, 0.0001))
        assert ds.offsets == pytest.approx((0.0, -0.1, 0.0))


def test_no_deprecated_affine_operator_in_landmask():
    import pathlib
    import re

    root = pathlib.Path(__file__).parents[1] / "landmask"
    pattern = re.compile(r"\b(transform\(\)|transform|inverse|t|~\w+)\s*\*\s*(\(|Affine)")
    hits = [
        f"{p.name}:{n}"
        for p in root.rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_a_partial_truth_map_keeps_labels_that_are_class_names(tmp_path, capsys):
    import geopandas as gpd
    import shapely
    from conftest import UTM33

    from landmask.evaluation.evaluate import evaluate

    data = np.zeros((H, W), np.uint8)
    data[:, 8:16], data[:, 16:24], data[:, 24:] = 1, 2, 3  # forest, urban, water columns
    pred = write_mask(as_mask(data), tmp_path / "m.tif").path
    x0, y0 = 500000.0, 5400000.0
    truth = gpd.GeoDataFrame(
        {"landuse": ["forest", "developed", "water"]},
        geometry=[
            shapely.box(x0 + 80, y0 - 320, x0 + 160, y0),
            shapely.box(x0 + 160, y0 - 320, x0 + 240, y0),
            shapely.box(x0 + 240, y0 - 320, x0 + 320, y0),
        ],
        crs=UTM33,
    )
    truth.to_file(tmp_path / "truth.gpkg", engine="pyogrio")
    report = evaluate(
        pred, tmp_path / "truth.gpkg", truth_column="landuse", truth_map={"developed": "urban"}
    )
    assert report.notes.get("unmapped_labels", 0) == 0
    assert report.iou["forest"] == report.iou["urban"] == report.iou["water"] == 1.0
    argv = ["evaluate", str(pred), str(tmp_path / "truth.gpkg"), "--truth-column", "landuse"]
    assert run([*argv, "--truth-map", "developed=urban"]) == 0
    out = capsys.readouterr().out
    assert "forest" in out and "unmapped" not in out


def test_a_band_whose_nodata_blanks_the_map_is_named(tmp_path, capsys, synthetic_small):
    from landmask.synthetic import S2_BAND_IDS, to_dn

    dn = to_dn(synthetic_small.reflectance)
    files = []
    for k, band_id in enumerate(S2_BAND_IDS):
        values = dn[k].copy()
        if band_id == "B11":  # swir16: fill over the left 40% of the scene
            values[:, : int(values.shape[1] * 0.4)] = 0
        path = tmp_path / f"T33UUP_20240601T100031_{band_id}_10m.tif"
        files.append(write_raster(path, values, nodata=0))
    out = tmp_path / "m.tif"
    assert run(["classify", *map(str, files), "--sensor", "sentinel2-l2a", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "has no data where the other bands" in line]
    assert len(lines) == 1 and "band swir16 (" in lines[0], err
    share = float(lines[0].split("swir16 (")[1].split("%")[0]) / 100
    with rasterio.open(out) as ds:
        mask = ds.read(1)
    other = np.isnan(synthetic_small.reflectance).any(axis=0)
    alone = (mask == 255) & ~other  # blanked by swir16 alone, counted on the whole raster
    assert abs(alone.mean() - share) < 0.03
    # the same scene without the stripe: no such warning
    files[4].unlink()
    write_raster(files[4], dn[4], nodata=0)
    assert (
        run(
            [
                "classify",
                *map(str, files),
                "--sensor",
                "sentinel2-l2a",
                "-o",
                str(out),
                "--overwrite",
            ]
        )
        == 0
    )
    assert "has no data where the other bands" not in capsys.readouterr().err


def test_train_names_a_band_whose_nodata_leaves_labels_out(tmp_path, synthetic_small):
    import geopandas as gpd
    from shapely.geometry import box

    from landmask.errors import NodataFootprintWarning
    from landmask.io.read.scene import open_scene
    from landmask.models.training import train
    from landmask.synthetic import BANDS

    path = write_raster(tmp_path / "s.tif", synthetic_small.reflectance, descriptions=BANDS)
    scene = open_scene(path)
    h, w = scene.shape[-2:]
    t = scene.rio.transform()
    x0, y0 = t * (0, 0)
    x1, y1 = t * (w, h)
    halves = [box(x0, y1, (x0 + x1) / 2, y0), box((x0 + x1) / 2, y1, x1, y0)]
    labels = gpd.GeoDataFrame({"class": ["forest", "water"]}, geometry=halves, crs=scene.rio.crs)
    names = [str(b) for b in scene["band"].values]
    blanked = scene.copy(data=scene.data.copy())
    nir = names.index("nir")
    blanked[nir, :, : int(w * 0.3)] = np.nan  # nir's fill over the left 30%
    with pytest.warns(NodataFootprintWarning, match="left out of training") as caught:
        train(blanked, labels, label_column="class", max_per_class=200)
    (said,) = [str(w.message) for w in caught if w.category is NodataFootprintWarning]
    share = float(said.split("band nir (")[1].split("%")[0]) / 100
    values = blanked.values
    alone = np.isnan(values[nir]) & np.isfinite(np.delete(values, nir, axis=0)).any(axis=0)
    assert abs(alone.mean() - share) < 0.03  # measured on the whole raster
    with warnings.catch_warnings():
        warnings.simplefilter("error", NodataFootprintWarning)
        train(scene, labels, label_column="class", max_per_class=200)  # no stripe, no warning
