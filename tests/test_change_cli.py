"""``landmask change``: outputs, the printed table, the polygons, and bad input."""

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import invoke, write_raster
from rasterio.crs import CRS
from shapely import union_all

import landmask
from landmask.cli import run
from landmask.io.read.schemes import scheme_of


@pytest.fixture
def dates(tmp_path):
    """Two 10 m masks: a block of forest becomes urban, one strip of the after date is cloud."""
    before = np.zeros((60, 80), np.uint8)
    before[:, :40] = 1  # forest on the left
    before[:10] = 3  # water on top
    after = before.copy()
    after[20:40, 10:30] = 2  # 400 px forest -> urban
    after[50:, 50:] = 1  # 300 px other -> forest
    after[45:50] = 254  # cloud: 5 rows left out
    b = write_raster(tmp_path / "before.tif", before, nodata=255)
    a = write_raster(tmp_path / "after.tif", after, nodata=255)
    return b, a, before, after


def test_writes_raster_json_and_changed_polygons(dates, out_dir, capsys, caplog):
    b, a, *_ = dates
    out, js, vec = out_dir / "change.tif", out_dir / "matrix.json", out_dir / "loss.gpkg"
    res = invoke(["change", b, a, "-o", out, "--json", js, "--vector", vec], capsys, caplog)
    assert res.code == 0, res.err
    assert "forest" in res.out and "transition matrix" in res.out
    assert scheme_of(out).name == "landcover-change"
    doc = json.loads(js.read_text())
    m = doc["matrix"]
    assert m["class_ids"] == [0, 1, 2, 3] and doc["ignored"] == 5 * 80
    assert m["counts"][1][2] == 400 and m["counts"][0][1] == 300
    assert m["area_m2"][1][2] == 400 * 100.0
    assert (
        doc["classes"]["forest"]["loss_m2"] == 40_000
        and doc["classes"]["urban"]["net_m2"] == 40_000
    )
    frame = gpd.read_file(vec, layer="loss")
    assert sorted(frame["class_name"]) == ["forest -> urban", "other -> forest"]
    row = frame.set_index("class_name").loc["forest -> urban"]
    assert (row["from_class"], row["to_class"], row["from_id"], row["to_id"]) == (
        "forest",
        "urban",
        1,
        2,
    )
    assert row["area_m2"] == pytest.approx(40_000)
    # the polygons are exactly the changed pixels
    with rasterio.open(out) as ds:
        codes = ds.read(1)
        t = ds.transform
    changed = (codes != 255) & (codes % 5 != 0)  # i * 4 + j with i != j
    assert union_all(frame.geometry).area == pytest.approx(changed.sum() * abs(t.a * t.e))


def test_classes_limit_the_polygons(dates, out_dir, capsys, caplog):
    b, a, *_ = dates
    vec = out_dir / "urban.fgb"
    res = invoke(
        ["change", b, a, "-o", out_dir / "c.tif", "--vector", vec, "--classes", "urban", "-q"],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    assert list(gpd.read_file(vec)["class_name"]) == ["forest -> urban"]


def test_chunk_size_does_not_change_the_outputs(dates, out_dir, capsys, caplog):
    b, a, *_ = dates
    docs = []
    for size in ("16", "2048"):
        js = out_dir / f"c{size}-matrix.json"  # c{size}.json: the STAC item of c{size}.tif
        argv = ["change", b, a, "-o", out_dir / f"c{size}.tif", "--json", js, "--chunk-size", size]
        assert invoke([*argv, "-q"], capsys, caplog).code == 0
        docs.append(json.loads(js.read_text()))
    assert docs[0] == docs[1]


def test_bad_input(cli, dates, tmp_path, out_dir):
    b, a, before, after = dates
    out = out_dir / "change.tif"
    utm34 = write_raster(tmp_path / "utm34.tif", after, crs=CRS.from_epsg(32634), nodata=255)
    cli(["change", b, utm34, "-o", out], str(utm34), "CRS", "EPSG:32634")
    far = write_raster(tmp_path / "far.tif", after, transform=Affine(10, 0, 9e5, 0, -10, 1e5))
    cli(["change", b, far, "-o", out], str(far), "does not overlap")
    floats = write_raster(tmp_path / "floats.tif", before.astype(np.float32))
    cli(["change", floats, a, "-o", out], str(floats), "not a mask")
    with rasterio.open(a, "r+") as ds:
        ds.update_tags(CLASS_SCHEME="dynamic-world")
    wc = tmp_path / "wc.tif"
    write_raster(wc, np.full((60, 80), 10, np.uint8), nodata=255)
    with rasterio.open(wc, "r+") as ds:
        ds.update_tags(CLASS_SCHEME="worldcover")
    cli(["change", wc, a, "-o", out], str(wc), "worldcover", "dynamic-world")
    cli(["change", b, b, "-o", out, "--classes", "lava"], "--classes lava")
    cli(["change", b, b, "-o", out, "--vector", out_dir / "x.txt"], "x.txt", "format")
    cli(["change", b, b, "-o", out, "--json", out], "-o and --json name the same file")


def test_existing_output_is_kept_without_overwrite(dates, out_dir, capsys, caplog):
    b, a, *_ = dates
    out = out_dir / "change.tif"
    assert run(["change", str(b), str(a), "-o", str(out), "-q"]) == 0
    stamp = out.read_bytes()
    res = invoke(["change", b, a, "-o", out], capsys, caplog)
    assert res.code == 2 and "exists" in res.err and out.read_bytes() == stamp


# Olofsson et al. (2014), section 5: a change map with strata deforestation, forest
# gain, stable forest, stable non-forest (the sample and map sizes of tests/test_accuracy.py)
OLOFSSON = {
    "forest -> other": (200, [66, 0, 5, 4]),
    "other -> forest": (150, [0, 55, 8, 12]),
    "forest -> forest": (3200, [1, 0, 153, 11]),
    "other -> other": (6450, [2, 1, 9, 313]),
}


def test_evaluate_a_change_map_reproduces_olofsson_2014_table_8(tmp_path, capsys, caplog):
    # 100 x 100 pixels of 90 ha: each stands for 1000 of the paper's 30 m Landsat pixels
    side = 900_000**0.5
    grid = Affine(side, 0, 500_000.0, 0, -side, 5_400_000.0)
    names = list(OLOFSSON)
    stratum = np.repeat(np.arange(4), [n for n, _ in OLOFSSON.values()]).reshape(100, 100)
    before = np.isin(stratum, [0, 2]).astype(np.uint8)  # forest (1) before: loss, stable forest
    after = np.isin(stratum, [1, 2]).astype(np.uint8)  # forest after: gain, stable forest
    b = write_raster(tmp_path / "b.tif", before, transform=grid, nodata=255)
    a = write_raster(tmp_path / "a.tif", after, transform=grid, nodata=255)
    change = tmp_path / "change.tif"
    assert run(["change", str(b), str(a), "-o", str(change), "-q"]) == 0
    rows, cols, labels = [], [], []
    for k, (_, sample) in enumerate(OLOFSSON.values()):
        pixels = np.flatnonzero(stratum.ravel() == k)[: sum(sample)]
        rows += list(pixels // 100)
        cols += list(pixels % 100)
        labels += [names[j] for j, n in enumerate(sample) for _ in range(n)]
    xs, ys = grid @ (np.array(cols) + 0.5, np.array(rows) + 0.5)
    points = gpd.GeoDataFrame({"class": labels}, geometry=gpd.points_from_xy(xs, ys), crs=32633)
    points.to_file(tmp_path / "points.gpkg")
    js = tmp_path / "acc.json"
    res = invoke(["evaluate", change, tmp_path / "points.gpkg", "--json", js], capsys, caplog)
    assert res.code == 0, res.err
    assert "forest -> other" in res.out
    est = json.loads(js.read_text())["area_adjusted"]
    ha = [est["classes"][n]["area_m2"] / 1e4 for n in names]
    ci = [est["classes"][n]["area_ci95_m2"] / 1e4 for n in names]
    np.testing.assert_allclose(ha, [21_158, 11_686, 285_770, 581_386], rtol=5e-5)
    np.testing.assert_allclose(ci, [6_158, 3_756, 15_510, 16_281], rtol=2e-4)
    ua = [est["classes"][n]["users_accuracy"] for n in names]
    pa = [est["classes"][n]["producers_accuracy"] for n in names]
    np.testing.assert_allclose(ua, [0.88, 0.73, 0.93, 0.96], atol=0.005)
    np.testing.assert_allclose(pa, [0.75, 0.85, 0.93, 0.96], atol=0.005)
    assert est["overall_accuracy"] == pytest.approx(0.95, abs=0.005)


def test_vectorize_and_preview_read_a_change_map(dates, out_dir, capsys, caplog):
    b, a, *_ = dates
    out = out_dir / "change.tif"
    assert run(["change", str(b), str(a), "-o", str(out), "-q"]) == 0
    vec = out_dir / "all.parquet"
    assert invoke(["vectorize", out, "-o", vec, "-q"], capsys, caplog).code == 0
    frame = gpd.read_parquet(vec)
    assert sorted(set(frame["class_name"])) == ["forest -> urban", "other -> forest"]
    assert set(frame["from_class"]) == {"forest", "other"}
    kept = out_dir / "kept.parquet"
    argv = ["vectorize", out, "-o", kept, "--classes", "forest -> forest", "-q"]
    assert invoke(argv, capsys, caplog).code == 0
    assert set(gpd.read_parquet(kept)["to_class"]) == {"forest"}
    res = invoke(["preview", out, "-o", out_dir / "p.png"], capsys, caplog)
    assert res.code == 0 and (out_dir / "p.png").stat().st_size > 0


def test_a_change_map_is_not_compared_with_landcover_truth(dates, out_dir, capsys, caplog):
    b, a, *_ = dates
    out = out_dir / "change.tif"
    assert run(["change", str(b), str(a), "-o", str(out), "-q"]) == 0
    truth = landmask.write_mask(landmask.open_mask(b), out_dir / "truth.tif").path
    res = invoke(["evaluate", out, truth], capsys, caplog)  # truth records landcover
    assert res.code == 2 and "change map" in res.err


def test_masks_of_a_model_trained_with_user_classes(tmp_path, out_dir, capsys, caplog):
    """Issue 21: change failed on masks in a scheme made from training labels
    ("unknown class scheme 'labels-change'"); now the map, its JSON, its polygons and
    every reader of the map know the user's classes."""
    import shapely

    from landmask.synthetic import write_scene

    scene = tmp_path / "s.tif"
    write_scene(scene, 64, blocksize=32, tile=64)
    with rasterio.open(scene) as ds:
        t, crs = ds.transform, ds.crs

    def px(c0, r0, c1, r1):
        return shapely.box(*(t * (c0, r1)), *(t * (c1, r0)))

    labels = gpd.GeoDataFrame(
        {"kind": ["crop", "bare", "lake", "crop", "bare"]},
        geometry=[
            px(0, 0, 20, 20),
            px(30, 0, 60, 20),
            px(0, 40, 20, 60),
            px(40, 40, 60, 60),
            px(25, 25, 35, 35),
        ],
        crs=crs,
    )
    labels.to_file(tmp_path / "labels.gpkg")
    s2 = ["--sensor", "sentinel2-l2a", "-q"]
    steps = [
        [
            "train",
            scene,
            *s2,
            "--labels",
            tmp_path / "labels.gpkg",
            "--label-column",
            "kind",
            "-o",
            tmp_path / "model.joblib",
            "--seed",
            "1",
        ],
        [
            "classify",
            scene,
            *s2,
            "--model",
            f"sklearn:{tmp_path / 'model.joblib'}",
            "-o",
            tmp_path / "m1.tif",
        ],
    ]
    for argv in steps:
        res = invoke(argv, capsys, caplog)
        assert res.code == 0, res.err
    m1, m2 = tmp_path / "m1.tif", tmp_path / "m2.tif"
    m2.write_bytes(m1.read_bytes())
    with rasterio.open(m2, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:  # tags (scheme) kept
        before = ds.read(1)
        after = before.copy()
        after[:32][before[:32] == 1] = 2  # crop -> lake in the top half
        after[40:, :8] = 0  # and a strip -> bare
        ds.write(after, 1)
    assert scheme_of(m1).name == "labels"
    ids = [c.id for c in scheme_of(m1) if c.id < 254]
    names = [scheme_of(m1).name_of(i) for i in ids]
    assert names == ["bare", "crop", "lake"]
    out = out_dir / "c.tif"
    res = invoke(
        ["change", m1, m2, "-o", out, "--json", out_dir / "c.json", "--vector", out_dir / "c.gpkg"],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    doc = json.loads((out_dir / "c.json").read_text())
    assert doc["scheme"] == "labels" and doc["change_scheme"] == "labels-change"
    assert doc["matrix"]["class_names"] == names and doc["matrix"]["class_ids"] == ids
    # independent: numpy's crosstab of the two dates
    keep = (before < 3) & (after < 3)
    expected = np.zeros((3, 3), np.int64)
    np.add.at(expected, (before[keep].astype(int), after[keep].astype(int)), 1)
    assert doc["matrix"]["counts"] == expected.tolist()
    pixel = abs(t.a * t.e)
    changed = pixel * (expected.sum() - np.trace(expected))
    assert changed > 0 and doc["changed_m2"] == pytest.approx(changed)
    polygons = gpd.read_file(out_dir / "c.gpkg")
    assert polygons.area.sum() == pytest.approx(changed)
    assert set(polygons["class_name"]) <= {f"{a} -> {b}" for a in names for b in names if a != b}
    mapped = scheme_of(out)  # the map read back: its dates' scheme with it
    assert mapped.name == "labels-change" and mapped.base is not None
    assert [c.name for c in mapped.base if c.id < 254] == names
    for argv in (
        ["vectorize", out, "-o", out_dir / "v.fgb"],
        ["preview", out, "-o", out_dir / "p.png"],
    ):
        res = invoke([*argv, "-q"], capsys, caplog)
        assert res.code == 0, res.err
