"""Class scheme presets: worldcover and dynamic-world, their landcover mappings and their use."""

from __future__ import annotations

import sqlite3

import conftest
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from conftest import TRANSFORM, UTM33

from landmask.classes import (
    DYNAMIC_WORLD,
    LANDCOVER,
    SCHEMES,
    WORLDCOVER,
    get_scheme,
    scheme_from_tags,
)
from landmask.classification.classify import classify
from landmask.cli import run
from landmask.errors import ConfigError, RuleError
from landmask.evaluation.evaluate import evaluate
from landmask.io.read.schemes import recorded_scheme, resolve_scheme, scheme_of
from landmask.io.write.rasters import write_mask
from landmask.spectral.rules import load_rules

# ESA WorldCover 2021 v200 product user manual, table of classes and colours
WORLDCOVER_OFFICIAL = {
    10: "#006400",
    20: "#ffbb22",
    30: "#ffff4c",
    40: "#f096ff",
    50: "#fa0000",
    60: "#b4b4b4",
    70: "#f0f0f0",
    80: "#0064c8",
    90: "#0096a0",
    95: "#00cf75",
    100: "#fae6a0",
}
# Dynamic World V1 label palette, classes 0..8
DYNAMIC_WORLD_OFFICIAL = [
    "#419bdf",
    "#397d49",
    "#88b053",
    "#7a87c6",
    "#e49635",
    "#dfc35a",
    "#c4281b",
    "#a59b8f",
    "#b39fe1",
]


def as_mask(data: np.ndarray, **attrs: object) -> xr.DataArray:
    return conftest.as_mask(data, chunks=2, **attrs)


def test_presets_have_the_official_ids_and_colours():
    assert {c.id: c.color for c in WORLDCOVER if c.id != 255} == WORLDCOVER_OFFICIAL
    assert [c.color for c in DYNAMIC_WORLD if c.id < 9] == DYNAMIC_WORLD_OFFICIAL
    assert [c.name for c in DYNAMIC_WORLD if c.id < 9] == [
        "water",
        "trees",
        "grass",
        "flooded_vegetation",
        "crops",
        "shrub_and_scrub",
        "built",
        "bare",
        "snow_and_ice",
    ]
    assert DYNAMIC_WORLD.name_of(254) == "cloud" and DYNAMIC_WORLD.name_of(255) == "nodata"
    assert WORLDCOVER.name_of(255) == "nodata"
    assert WORLDCOVER.id("tree_cover") == 10
    assert set(SCHEMES) == {"landcover", "worldcover", "dynamic-world", "annual"}
    assert get_scheme("dynamic-world") is DYNAMIC_WORLD
    with pytest.raises(ConfigError, match="unknown class scheme 'esa'"):
        get_scheme("esa")


def test_mappings_to_landcover():
    forest, urban, water = 1, 2, 3
    assert WORLDCOVER.to_landcover == {
        10: forest,
        20: 0,
        30: 0,
        40: 0,
        50: urban,
        60: 0,
        70: 0,
        80: water,
        90: 0,
        95: forest,
        100: 0,
        255: 255,
    }
    assert DYNAMIC_WORLD.to_landcover == {
        0: water,
        1: forest,
        2: 0,
        3: 0,
        4: 0,
        5: 0,
        6: urban,
        7: 0,
        8: 0,
        254: 254,
        255: 255,
    }
    assert LANDCOVER.to_landcover == {0: 0, 1: 1, 2: 2, 3: 3, 254: 254, 255: 255}
    lut = WORLDCOVER.landcover_lut()
    # ESA's files use 0 for no data: not a class of the scheme, so nodata
    np.testing.assert_array_equal(
        lut[[0, 10, 50, 80, 95, 30, 255, 7]], [255, 1, 2, 3, 1, 0, 255, 255]
    )


def test_scheme_recorded_in_the_mask_file_and_read_back(tmp_path):
    data = np.array([[10, 50, 80], [95, 255, 30]], np.uint8)
    out = tmp_path / "wc.tif"
    write_mask(as_mask(data, class_scheme="worldcover"), out)  # scheme from the attribute
    with rasterio.open(out) as ds:
        tags = ds.tags()
        assert tags["CLASS_SCHEME"] == "worldcover"
        assert tags["CLASS_80"] == "permanent_water_bodies"
        assert ds.colormap(1)[50][:3] == (250, 0, 0)
        np.testing.assert_array_equal(ds.read(1), data)
    assert scheme_of(out) is WORLDCOVER
    assert scheme_of(as_mask(data, CLASS_SCHEME="dynamic-world")) is DYNAMIC_WORLD
    assert scheme_of(as_mask(data)) is LANDCOVER
    # a scheme landmask does not know is rebuilt from the names and the colour table
    custom = scheme_from_tags(
        {"CLASS_SCHEME": "mine", "CLASS_7": "rice", "CLASS_255": "nodata"},
        {7: (1, 2, 3, 255)},
    )
    assert custom.name == "mine" and custom.names == {7: "rice", 255: "nodata"}
    assert custom.colormap[7] == (1, 2, 3, 255)


def test_rule_set_names_its_scheme(tmp_path):
    rules = tmp_path / "wc.yaml"
    rules.write_text(
        "scheme: worldcover\ndefault: grassland\nrules:\n"
        "  - class: permanent_water_bodies\n    when: ndvi < 0\n"
        "  - class: tree_cover\n    when: ndvi > 0.6\n",
        encoding="utf-8",
    )
    ruleset = load_rules(rules)
    assert ruleset.scheme is WORLDCOVER and ruleset.default_id == 30
    red = np.array([[0.3, 0.05, 0.1, np.nan]], np.float32)
    nir = np.array([[0.1, 0.5, 0.15, 0.2]], np.float32)
    scene = xr.DataArray(np.stack([red, nir]), dims=("band", "y", "x"))
    scene = scene.assign_coords(band=["red", "nir"], y=[0.5], x=[0.5, 1.5, 2.5, 3.5])
    scene = scene.rio.write_crs(UTM33).rio.write_transform(TRANSFORM).chunk(2)
    mask = classify(scene, ruleset)
    np.testing.assert_array_equal(mask.values, [[80, 10, 30, 255]])
    out = write_mask(mask, tmp_path / "m.tif").path
    assert scheme_of(out) is WORLDCOVER

    # a scheme without 'other' needs the default class named
    rules.write_text(
        "scheme: worldcover\nrules:\n  - class: tree_cover\n    when: ndvi > 0.6\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match=r"has no class 'other'.*default: CLASS"):
        load_rules(rules)


def test_evaluate_recodes_a_worldcover_prediction_and_dynamic_world_truth(tmp_path, raster):
    pred = np.array([[10, 95, 50, 80], [30, 80, 10, 255]], np.uint8)
    pred_path = write_mask(as_mask(pred), tmp_path / "pred.tif", scheme=WORLDCOVER).path
    # landcover truth: pred recoded is [[1, 1, 2, 3], [0, 3, 1, nodata]]
    truth = np.array([[1, 1, 2, 3], [0, 0, 1, 1]], np.uint8)
    truth_path = raster("truth.tif", truth, nodata=255)
    report = evaluate(pred_path, truth_path)
    assert report.classes == (0, 1, 2, 3)
    # rows truth, columns prediction; the nodata pixel is left out
    np.testing.assert_array_equal(
        report.matrix, [[1, 0, 0, 1], [0, 3, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    assert report.ignored == 1

    # truth in Dynamic World ids, named on the command line
    dw = np.array([[1, 1, 6, 0], [254, 4, 1, 7]], np.uint8)
    dw_path = raster("dw.tif", dw)
    report = evaluate(pred_path, dw_path, truth_scheme="dynamic-world")
    np.testing.assert_array_equal(
        report.matrix, [[0, 0, 0, 1], [0, 3, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    assert report.ignored == 2  # truth cloud, prediction nodata

    json_out = tmp_path / "r.json"
    argv = ["evaluate", str(pred_path), str(dw_path), "--truth-scheme", "dynamic-world"]
    assert run([*argv, "--json", str(json_out), "-q"]) == 0
    assert '"water"' in json_out.read_text()
    assert run([*argv[:3], "--truth-scheme", "esa", "-q"]) == 2


def test_evaluate_vector_truth_labelled_in_worldcover(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    pred = np.array([[1, 1], [3, 3]], np.uint8)
    pred_path = write_mask(as_mask(pred), tmp_path / "pred.tif").path
    x0, y0 = 500000.0, 5400000.0
    truth = gpd.GeoDataFrame(
        {"class": ["tree_cover", "80"]},
        geometry=[box(x0, y0 - 10, x0 + 20, y0), box(x0, y0 - 20, x0 + 20, y0 - 10)],
        crs=UTM33,
    )
    report = evaluate(pred_path, truth, truth_scheme=WORLDCOVER)
    assert report.iou == {"forest": 1.0, "water": 1.0} and report.iou[3] == 1.0
    with pytest.raises(ConfigError, match="compared in 'landcover' only"):
        evaluate(pred_path, truth, truth_scheme=WORLDCOVER, scheme=DYNAMIC_WORLD)


def test_vectorize_scheme_option_names_an_unrecorded_scheme(tmp_path, raster):
    import geopandas as gpd

    # an ESA WorldCover tile as ESA ships it: ids only, 0 for no data, no landmask metadata
    tile = raster("esa.tif", np.array([[10, 10, 80], [50, 0, 80]], np.uint8), nodata=0)
    out = tmp_path / "esa.parquet"
    argv = ["vectorize", str(tile), "-o", str(out), "-q", "--scheme", "worldcover"]
    assert run([*argv, "--classes", "tree_cover,built_up,80"]) == 0
    frame = gpd.read_parquet(out)
    assert sorted(frame["class_name"]) == ["built_up", "permanent_water_bodies", "tree_cover"]
    assert "Tree cover" in (tmp_path / "esa.qml").read_text(encoding="utf-8")
    assert run([*argv[:5], "--scheme", "esa", "--overwrite"]) == 2


# ------------------------------------------------ one resolver: scheme=None is the mask's own


WORLDCOVER_TILE = np.array(
    [
        [10, 10, 80, 80, 255],
        [10, 50, 50, 80, 30],
        [95, 95, 50, 30, 30],
        [10, 255, 80, 80, 10],
    ],
    np.uint8,
)


def _regions_by_gdal(data: np.ndarray) -> dict[int, int]:
    """Connected regions (4-connectivity) of each class but nodata, by GDAL on the whole raster."""
    from rasterio.features import shapes

    out: dict[int, int] = {}
    for _, value in shapes(data, mask=data != 255, connectivity=4):
        out[int(value)] = out.get(int(value), 0) + 1
    return out


def test_resolve_scheme_given_wins_else_the_recorded_one_else_the_default(tmp_path):
    wc = as_mask(WORLDCOVER_TILE, class_scheme="worldcover")
    assert resolve_scheme(None, wc) is WORLDCOVER
    assert resolve_scheme("dynamic-world", wc) is DYNAMIC_WORLD
    assert resolve_scheme(LANDCOVER, wc) is LANDCOVER
    assert resolve_scheme(None, as_mask(WORLDCOVER_TILE, CLASS_SCHEME="worldcover")) is WORLDCOVER
    assert resolve_scheme(None, as_mask(WORLDCOVER_TILE)) is LANDCOVER
    assert resolve_scheme(None, as_mask(WORLDCOVER_TILE), default=WORLDCOVER) is WORLDCOVER
    assert resolve_scheme(None, WORLDCOVER_TILE) is LANDCOVER  # numpy records nothing
    assert resolve_scheme(None, None, default=DYNAMIC_WORLD) is DYNAMIC_WORLD
    assert recorded_scheme(as_mask(WORLDCOVER_TILE)) is None
    path = write_mask(wc, tmp_path / "wc.tif").path
    assert resolve_scheme(None, path) is WORLDCOVER
    assert resolve_scheme(None, str(path)) is WORLDCOVER
    assert recorded_scheme(tmp_path / "missing.tif") is None
    with pytest.raises(ConfigError, match="unknown class scheme 'esa'"):
        resolve_scheme("esa", wc)


def test_worldcover_mask_through_the_accessor_writes_and_vectorizes_in_worldcover(tmp_path):
    import geopandas as gpd

    from landmask.io.read.masks import open_mask

    mask = as_mask(WORLDCOVER_TILE, class_scheme="worldcover")
    out = mask.landmask.write(tmp_path / "wc.tif").path
    with rasterio.open(out) as ds:
        tags = ds.tags()
        np.testing.assert_array_equal(ds.read(1), WORLDCOVER_TILE)
    assert tags["CLASS_SCHEME"] == "worldcover"
    assert {k: v for k, v in tags.items() if k.startswith("CLASS_") and k != "CLASS_SCHEME"} == {
        f"CLASS_{c.id}": c.name for c in WORLDCOVER
    }
    assert "CLASS_1" not in tags  # no landcover names
    reopened = open_mask(out)
    assert scheme_of(out) is WORLDCOVER and scheme_of(reopened) is WORLDCOVER

    expected = _regions_by_gdal(WORLDCOVER_TILE)
    for source in (mask, reopened):
        frame = source.landmask.vectorize()
        assert isinstance(frame, gpd.GeoDataFrame)
        counts = frame.groupby("class_id").size().to_dict()
        assert counts == expected and sum(counts.values()) == 8
        assert set(frame["class_name"]) == {WORLDCOVER.name_of(k) for k in expected}
        assert frame.attrs["class_scheme"] == "worldcover"
    # an explicit scheme still wins
    assert len(mask.landmask.vectorize(scheme=LANDCOVER)) == 0


def test_every_caller_resolves_the_scheme_the_mask_records(tmp_path):
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landmask.io.read.masks import open_image
    from landmask.products.apply import apply_mask
    from landmask.products.export import export_mask
    from landmask.vector.formats import write_vector
    from landmask.vector.vectorize import vectorize, vectorize_to_file
    from landmask.viz import plot
    from landmask.viz.preview import write_preview

    mask = as_mask(WORLDCOVER_TILE, class_scheme="worldcover")
    expected = _regions_by_gdal(WORLDCOVER_TILE)

    # write_mask
    path = write_mask(mask, tmp_path / "m.tif").path
    assert scheme_of(path) is WORLDCOVER
    # vectorize_to_file: streamed and simplified, names and styling from the mask
    for name, simplify in (("a.gpkg", None), ("b.gpkg", 0.5)):
        summary = vectorize_to_file(mask, tmp_path / name, simplify=simplify)
        assert summary.polygons == expected
        frame = gpd.read_file(tmp_path / name, layer=name[0])
        assert set(frame["class_name"]) == {WORLDCOVER.name_of(k) for k in expected}
        with sqlite3.connect(tmp_path / name) as db:  # a GeoPackage holds its style
            (qml,) = db.execute("SELECT styleQML FROM layer_styles").fetchone()
        assert "Tree cover" in qml
    # write_vector: a vectorize frame records its scheme
    write_vector(vectorize(mask), tmp_path / "c.parquet")
    assert "Tree cover" in (tmp_path / "c.qml").read_text(encoding="utf-8")
    # the vectorize command on a file that records worldcover
    assert run(["vectorize", str(path), "-o", str(tmp_path / "d.parquet"), "-q"]) == 0
    assert gpd.read_parquet(tmp_path / "d.parquet").groupby("class_id").size().to_dict() == (
        expected
    )
    # evaluate: the worldcover prediction is recoded into landcover
    truth = as_mask(WORLDCOVER.landcover_lut()[WORLDCOVER_TILE])
    report = evaluate(mask, truth)
    assert report.overall_accuracy == 1.0 and set(report.classes) == {0, 1, 2, 3}
    # export (array and path): worldcover names and colours
    for src, name in ((mask, "e1.tif"), (path, "e2.tif")):
        exported = export_mask(src, tmp_path / name, rgb=True).path
        with rasterio.open(exported) as ds:
            assert ds.tags()["CLASS_SCHEME"] == "worldcover"
            rgba = ds.read()
        np.testing.assert_array_equal(rgba[:3, 0, 0], (0, 100, 0))  # tree cover #006400
    # apply: --keep names of the mask's scheme
    image = open_image(path)
    kept = apply_mask(image, mask, keep=["tree_cover"], mode="cutout", nodata=0)
    np.testing.assert_array_equal(kept.values[0] == 10, WORLDCOVER_TILE == 10)
    # plot and preview: legends name worldcover classes
    ax = plot.mask_image(mask)
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert labels == {WORLDCOVER.name_of(k) for k in expected}
    plt.close("all")
    png = write_preview(path, tmp_path / "p.png")
    assert png.exists() and png.stat().st_size > 0


def test_ids_reads_names_ids_and_comma_lists_one_way():
    assert LANDCOVER.ids("water, forest") == {3, 1}
    assert LANDCOVER.ids(["urban", 3, "254"]) == {2, 3, 254}
    assert LANDCOVER.ids(None) == frozenset() and LANDCOVER.ids(" , ") == frozenset()
    assert LANDCOVER.id("water", option="--x") == 3
    with pytest.raises(ConfigError, match=r"^--truth-map 1=lava: unknown class 'lava'"):
        LANDCOVER.id("lava", option="--truth-map 1=lava")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("lava", r"^--keep lava: unknown class 'lava' in scheme 'landcover' \(known: other, "),
        ("255", r"^--keep 255: nodata, not a class$"),
        ("water,256", r"^--keep 256: not a class id \(mask values are 0-254\)$"),
    ],
)
def test_ids_errors_name_the_option_and_the_item(items, message):
    with pytest.raises(ConfigError, match=message):
        LANDCOVER.ids(items, option="--keep")


def test_every_class_list_reads_through_the_scheme():
    from landmask.io.read.labels import Labels
    from landmask.products.apply import resolve_keep
    from landmask.vector.vectorize import resolve_classes

    for read in (
        lambda: resolve_classes(["lava"], LANDCOVER, "--classes"),
        lambda: resolve_keep("lava", LANDCOVER),
        lambda: Labels(LANDCOVER, {"1": "lava"}),
    ):
        with pytest.raises(ConfigError, match=r": unknown class 'lava' in scheme 'landcover'"):
            read()
    for read in (
        lambda: resolve_classes(["255"], LANDCOVER, "--classes"),
        lambda: resolve_keep("255", LANDCOVER),
    ):
        with pytest.raises(ConfigError, match=r"255: nodata, not a class$"):
            read()
