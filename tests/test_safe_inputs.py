"""Inputs opened safely and answers valid or refused (issue 21 items 2 and 4): one test per case."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import yaml
from affine import Affine
from conftest import UTM33, assert_one_line, invoke, write_raster
from scipy import ndimage

MASK = np.array([[1, 1, 3, 3], [0, 1, 3, 3], [2, 2, 0, 0], [2, 0, 0, 1]], np.uint8)


@pytest.fixture
def mask(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "m.tif", MASK, nodata=255)


def test_implausible_header_refused_before_the_sieve(tmp_path, capsys, caplog):
    """Issue 21: ``vectorize --min-area`` on a 300000² sparse header ran for minutes."""
    huge = tmp_path / "huge.tif"
    profile = dict(driver="GTiff", width=300_000, height=300_000, count=1, dtype="uint8")
    profile |= dict(crs=UTM33, transform=Affine(10, 0, 0, 0, -10, 0), nodata=255)
    profile |= dict(tiled=True, blockxsize=4096, blockysize=4096, sparse_ok="TRUE")
    with rasterio.open(huge, "w", **profile):
        pass  # nothing written: the header declares 90 Gpx, the file holds a few KB
    assert huge.stat().st_size < 1_000_000
    argv = ["vectorize", huge, "-o", tmp_path / "p.gpkg", "--min-area", "500"]
    res = invoke(argv, capsys, caplog)
    assert_one_line(res, str(huge), "implausible")  # GDAL's own warning not printed first
    assert not (tmp_path / "p.gpkg").exists()


def test_rules_file_with_a_nul_byte(tmp_path, capsys, caplog, s2_file):
    rules = tmp_path / "r.yaml"
    rules.write_bytes(b"name: r\nrules: []\x00\n")
    argv = ["classify", s2_file, "--sensor", "sentinel2-l2a", "--rules", rules]
    res = invoke([*argv, "-o", tmp_path / "m.tif"], capsys, caplog)
    assert_one_line(res, str(rules), "NUL byte")


def test_workflow_that_is_a_link_to_dev_zero(tmp_path, capsys, caplog):
    link = tmp_path / "w.yaml"
    link.symlink_to("/dev/zero")
    assert_one_line(invoke(["run", link], capsys, caplog), str(link), "not a regular file")


@pytest.mark.parametrize("name", ["a\nb", "esc\x1b[31m", "../up"])
def test_workflow_names_validated_up_front(tmp_path, capsys, caplog, s2_file, name):
    doc = {
        "name": name,
        "inputs": [str(s2_file)],
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": {"dir": "out", "mask": "{name}_{stem}.tif"},
    }
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert_one_line(invoke(["run", path], capsys, caplog), "name")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("classes", ["", ",,", " , "])
def test_empty_class_list_refused(mask, tmp_path, capsys, caplog, classes):
    argv = ["vectorize", mask, "-o", tmp_path / "p.gpkg", "--classes", classes]
    assert_one_line(invoke(argv, capsys, caplog), "--classes", "names no class")


def test_vectorize_refuses_a_mask_without_crs(tmp_path, capsys, caplog):
    bare = write_raster(tmp_path / "bare.tif", MASK, nodata=255, crs=None)
    out = tmp_path / "p.gpkg"
    res = invoke(["vectorize", bare, "-o", out], capsys, caplog)
    assert_one_line(res, str(bare), "no CRS", "--allow-ungeoreferenced")
    assert not out.exists()
    argv = ["vectorize", bare, "-o", out, "--allow-ungeoreferenced", "-q"]
    assert invoke(argv, capsys, caplog).code == 0
    regions = sum(ndimage.label(c == MASK)[1] for c in (1, 2, 3))  # every class but other
    assert len(gpd.read_file(out, layer="p")) == regions


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_change_json_past_the_pole_has_no_nan(tmp_path, capsys, caplog):
    """Issue 21: ``"changed_m2": NaN`` on a geographic grid reaching past 90°N."""
    grid = Affine(1.0, 0, 0.0, 0, -1.0, 92.0)  # rows from 92°N down to 88°N
    before = write_raster(tmp_path / "a.tif", MASK, nodata=255, crs="EPSG:4326", transform=grid)
    after = write_raster(
        tmp_path / "b.tif", np.where(MASK == 1, 2, MASK).astype(np.uint8), nodata=255,
        crs="EPSG:4326", transform=grid,
    )  # fmt: skip
    report = tmp_path / "c.json"
    argv = ["change", before, after, "-o", tmp_path / "c.tif", "--json", report, "-q"]
    res = invoke(argv, capsys, caplog)
    if res.code == 2:  # refused with a reason is the other valid answer
        assert_one_line(res)
        return
    assert res.code == 0, res.err
    doc = _strict(report.read_text())
    assert isinstance(doc, dict) and "changed_m2" in doc


def test_geoparquet_zones(mask, tmp_path, capsys, caplog):
    """Issue 21: GeoParquet zones were unreadable though landmask writes GeoParquet."""
    with rasterio.open(mask) as ds:
        box = shapely.box(*ds.bounds)
    zones = tmp_path / "z.parquet"
    gpd.GeoDataFrame({"zone": ["a"]}, geometry=[box], crs=UTM33).to_parquet(zones)
    out = tmp_path / "areas.csv"
    assert invoke(["zonal", mask, zones, "-o", out, "-q"], capsys, caplog).code == 0
    row = out.read_text().splitlines()[1].split(",")
    assert row[0] == "a"


def test_zone_column_named_like_a_statistic(mask, tmp_path, capsys, caplog):
    with rasterio.open(mask) as ds:
        box = shapely.box(*ds.bounds)
    zones = tmp_path / "z.gpkg"
    frame = gpd.GeoDataFrame({"water_m2": ["a"]}, geometry=[box], crs=UTM33)
    frame.to_file(zones)
    argv = ["zonal", mask, zones, "-o", tmp_path / "a.csv", "--zone-column", "water_m2"]
    assert_one_line(invoke(argv, capsys, caplog), "water_m2")
    assert sorted(os.listdir(tmp_path)) == ["m.tif", "z.gpkg"]
