"""GIS styling: .qml beside masks and polygons, GeoPackage layer_styles, GDAL attribute tables."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import conftest
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.shutil
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from conftest import TRANSFORM, UTM33
from shapely.geometry import box

from landmask.classes import DYNAMIC_WORLD, LANDCOVER, SCHEMES, WORLDCOVER, ClassScheme
from landmask.cli import run
from landmask.io.write import styling
from landmask.io.write.rasters import write_mask
from landmask.vector.formats import write_vector

LAYER_STYLES_COLUMNS = [
    "id",
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "styleName",
    "styleQML",
    "styleSLD",
    "useAsDefault",
    "description",
    "owner",
    "ui",
    "update_time",
]

ALL = list(SCHEMES.values())


def shown(scheme: ClassScheme) -> list:
    return [c for c in scheme if c.id != 255]


def as_mask(data: np.ndarray) -> xr.DataArray:
    return conftest.as_mask(data, chunks=2)


def polygons(scheme: ClassScheme) -> gpd.GeoDataFrame:
    classes = shown(scheme)[:3]
    return gpd.GeoDataFrame(
        {
            "class_id": [c.id for c in classes],
            "class_name": [c.name for c in classes],
            "area_m2": [100.0] * len(classes),
        },
        geometry=[box(500000 + 10 * k, 5399990, 500010 + 10 * k, 5400000) for k in range(3)],
        crs=UTM33,
    )


def assert_raster_qml(text: str, scheme: ClassScheme) -> None:
    root = ET.fromstring(text.split("\n", 1)[1])  # after the DOCTYPE line
    assert root.tag == "qgis"
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None and renderer.get("type") == "paletted"
    assert renderer.get("band") == "1"
    entries = {
        int(e.get("value", "-1")): (e.get("color"), e.get("label"))
        for e in renderer.iter("paletteEntry")
    }
    assert entries == {c.id: (c.color, c.title) for c in shown(scheme)}


def assert_vector_qml(text: str, scheme: ClassScheme) -> None:
    root = ET.fromstring(text.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer is not None
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "class_name"
    categories = renderer.findall("categories/category")
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    seen = {}
    for cat in categories:
        symbol = symbols[cat.get("symbol")]
        (color,) = [o.get("value") for o in symbol.iter("Option") if o.get("name") == "color"]
        seen[cat.get("value")] = (cat.get("label"), color)
    expected = {}
    for c in shown(scheme):
        r, g, b, _ = c.rgba
        expected[c.name] = (c.title, f"{r},{g},{b},255")
    assert seen == expected


@pytest.mark.parametrize("scheme", ALL, ids=lambda s: s.name)
def test_qml_and_sld_name_every_class_with_its_colour(scheme):
    assert_raster_qml(styling.raster_qml(scheme), scheme)
    assert_vector_qml(styling.vector_qml(scheme), scheme)
    by_id = ET.fromstring(styling.vector_qml(scheme, "class_id").split("\n", 1)[1])
    assert [c.get("value") for c in by_id.iter("category")] == [str(c.id) for c in shown(scheme)]
    sld = ET.fromstring(styling.vector_sld(scheme, "layer"))
    ns = {"se": "http://www.opengis.net/se", "ogc": "http://www.opengis.net/ogc"}
    rules = sld.findall(".//se:Rule", ns)
    literals = [r.find(".//ogc:Literal", ns).text for r in rules]
    fills = [r.find(".//se:Fill/se:SvgParameter", ns).text for r in rules]
    assert literals == [c.name for c in shown(scheme)]
    assert fills == [c.color for c in shown(scheme)]
    with pytest.raises(ValueError):
        styling.vector_qml(scheme, "area_m2")


def vrt_band(tif: Path, tmp_path: Path) -> ET.Element:
    """GDAL's own reading of band 1's PAM metadata, through a VRT copy of the file."""
    vrt = tmp_path / "copy.vrt"
    rasterio.shutil.copy(tif, vrt, driver="VRT")
    band = ET.parse(vrt).getroot().find("VRTRasterBand")
    assert band is not None
    return band


@pytest.mark.parametrize("scheme", [LANDCOVER, WORLDCOVER], ids=lambda s: s.name)
def test_mask_gets_a_qml_and_an_attribute_table_gdal_reads(tmp_path, scheme):
    ids = [c.id for c in shown(scheme)]
    data = np.array([ids[:2], [ids[-1], 255]], np.uint8)
    out = write_mask(as_mask(data), tmp_path / "mask.tif", scheme=scheme).path
    assert sorted(os.listdir(tmp_path)) == [
        "mask.qml",
        "mask.tif",
        "mask.tif.aux.xml",
        "mask.tif.stac.json",
    ]
    assert_raster_qml((tmp_path / "mask.qml").read_text(encoding="utf-8"), scheme)

    band = vrt_band(out, tmp_path)
    categories = [c.text or "" for c in band.findall("CategoryNames/Category")]
    assert len(categories) == max(ids) + 1
    assert {k: n for k, n in enumerate(categories) if n} == {c.id: c.name for c in shown(scheme)}
    rat = band.find("GDALRasterAttributeTable")
    assert rat is not None and rat.get("tableType") == "thematic"
    fields = [f.findtext("Name") for f in rat.findall("FieldDefn")]
    assert fields == ["Value", "Class", "Label", "Red", "Green", "Blue", "Alpha"]
    rows = [[f.text for f in row.findall("F")] for row in rat.findall("Row")]
    assert rows == [[str(c.id), c.name, c.title, *map(str, c.rgba)] for c in shown(scheme)]
    with rasterio.open(out) as ds:  # the sidecar leaves the file's own metadata intact
        assert ds.tags()["CLASS_SCHEME"] == scheme.name
        assert ds.crs == UTM33 and ds.transform == TRANSFORM and ds.nodata == 255
        np.testing.assert_array_equal(ds.read(1), data)


def read_layer_styles(path: Path) -> tuple[list[str], list[tuple]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(layer_styles)")]
        rows = db.execute("SELECT * FROM layer_styles").fetchall()
        (kind,) = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
        assert kind == "attributes"
    return columns, rows


@pytest.mark.parametrize("scheme", ALL, ids=lambda s: s.name)
def test_geopackage_carries_its_style_in_layer_styles(tmp_path, scheme):
    out = write_vector(polygons(scheme), tmp_path / "regions.gpkg", scheme=scheme)
    columns, rows = read_layer_styles(out)
    assert columns == LAYER_STYLES_COLUMNS
    (row,) = rows
    record = dict(zip(columns, row, strict=True))
    assert record["f_table_name"] == "regions"
    with sqlite3.connect(out) as db:
        (geom,) = db.execute("SELECT column_name FROM gpkg_geometry_columns").fetchone()
    assert record["f_geometry_column"] == geom
    assert record["useAsDefault"] == 1
    assert record["styleName"] == f"landmask {scheme.name}"
    assert_vector_qml(record["styleQML"], scheme)
    assert ET.fromstring(record["styleSLD"]).tag.endswith("StyledLayerDescriptor")
    for c in shown(scheme):
        assert c.title in record["description"]
    # the style is in the file: no regions.qml to contend with a raster's (regions.tif)
    assert sorted(os.listdir(tmp_path)) == ["regions.gpkg", "regions.gpkg.stac.json"]
    # the polygons read back unchanged from their layer
    back = gpd.read_file(out, layer="regions", engine="pyogrio")
    assert list(back["class_name"]) == list(polygons(scheme)["class_name"])

    # writing again keeps one row
    write_vector(polygons(scheme), out, overwrite=True, scheme=scheme)
    assert len(read_layer_styles(out)[1]) == 1


@pytest.mark.parametrize("ext", [".parquet", ".fgb", ".geojson"])
def test_other_vector_formats_get_a_qml(tmp_path, ext):
    out = write_vector(polygons(DYNAMIC_WORLD), tmp_path / f"regions{ext}", scheme=DYNAMIC_WORLD)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [out.name, "regions.qml", f"{out.name}.stac.json"]
    )
    assert_vector_qml((tmp_path / "regions.qml").read_text(encoding="utf-8"), DYNAMIC_WORLD)


def test_frames_without_classes_are_not_styled(tmp_path):
    frame = gpd.GeoDataFrame({"n": [1]}, geometry=[box(0, 0, 1, 1)], crs=UTM33)
    write_vector(frame, tmp_path / "plain.gpkg")
    assert sorted(os.listdir(tmp_path)) == ["plain.gpkg", "plain.gpkg.stac.json"]  # + its item


def test_failed_vector_write_leaves_no_style(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("landmask.vector.formats.gpkg_add_style", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_vector(polygons(LANDCOVER), tmp_path / "regions.gpkg")
    assert os.listdir(tmp_path) == []


def test_failed_mask_write_leaves_no_style(tmp_path):
    def fail(block):
        raise RuntimeError("disk on fire")

    mask = as_mask(np.zeros((4, 4), np.uint8))
    mask = mask.copy(data=mask.data.map_blocks(fail, dtype=np.uint8))
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_mask(mask, tmp_path / "mask.tif")
    assert os.listdir(tmp_path) == []


def test_cli_classify_and_vectorize_style_every_output(s2_file, tmp_path):
    mask, gpkg = tmp_path / "mask.tif", tmp_path / "mask.gpkg"
    argv = ["classify", str(s2_file), "--sensor", "sentinel2-l2a", "-o", str(mask), "-q"]
    assert run([*argv, "--vector", str(gpkg)]) == 0
    # mask.qml stays the raster's style; the GeoPackage carries its own
    assert_raster_qml((tmp_path / "mask.qml").read_text(encoding="utf-8"), LANDCOVER)
    (row,) = read_layer_styles(gpkg)[1]
    assert_vector_qml(row[6], LANDCOVER)
    assert (tmp_path / "mask.tif.aux.xml").is_file()

    # a WorldCover mask is vectorized with WorldCover names and styled after them
    wc = write_mask(
        as_mask(np.array([[10, 10, 80], [50, 255, 80]], np.uint8)),
        tmp_path / "wc.tif",
        scheme=WORLDCOVER,
    ).path
    # wc.fgb's style would be wc.qml, the raster's: refused, naming both
    style = (tmp_path / "wc.qml").read_bytes()
    argv = ["vectorize", str(wc), "-q", "--classes", "tree_cover,80", "-o"]
    assert run([*argv, str(tmp_path / "wc.fgb"), "--overwrite"]) == 2
    assert (tmp_path / "wc.qml").read_bytes() == style and not (tmp_path / "wc.fgb").exists()
    out = tmp_path / "wc_regions.fgb"
    assert run([*argv, str(out)]) == 0
    frame = gpd.read_file(out, engine="pyogrio")
    assert sorted(frame["class_name"]) == ["permanent_water_bodies", "tree_cover"]
    assert_vector_qml((tmp_path / "wc_regions.qml").read_text(encoding="utf-8"), WORLDCOVER)


def test_failed_streamed_vectorize_leaves_no_style(tmp_path, monkeypatch):
    from landmask.vector.vectorize import vectorize_to_file

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("landmask.vector.formats.gpkg_add_style", broken)
    mask = as_mask(np.array([[1, 1, 3], [0, 3, 3]], np.uint8))
    with pytest.raises(RuntimeError, match="disk on fire"):
        vectorize_to_file(mask, tmp_path / "regions.gpkg")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    summary = vectorize_to_file(mask, tmp_path / "regions.gpkg", scheme=LANDCOVER)
    (row,) = read_layer_styles(summary.path)[1]
    assert_vector_qml(row[6], LANDCOVER)
    assert sorted(os.listdir(tmp_path)) == ["regions.gpkg", "regions.gpkg.stac.json"]
