"""What the STAC items say: acquisition times, kinds in ids, band names, schema validity.

Every item written here is also validated against the official JSON schemas
by the ``_stac_documents_are_valid`` hook of conftest (:mod:`stac_schemas`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import TRANSFORM, as_mask
from stac_schemas import check_stac_folder, stac_errors

from landmask.cli import run
from landmask.io.sensors.provider import product_of_file
from landmask.io.stac.items import class_name, item_path
from landmask.io.write.rasters import write_indices, write_mask

H = W = 32
UTC = dt.UTC


def _doc(path: Path) -> dict:
    return json.loads(item_path(path).read_text())


def test_acquisition_time_from_provider_names_and_metadata(tmp_path):
    s2 = tmp_path / "T33UUP_20240601T100031_B04_10m.tif"
    assert product_of_file(str(s2)).acquired == "2024-06-01T10:00:31Z"
    landsat = tmp_path / "LC09_L2SP_190026_20240601_20240603_02_T1_SR_B4.TIF"
    landsat.write_bytes(b"")
    assert product_of_file(str(landsat)).acquired == "2024-06-01T00:00:00Z"  # the day only
    (tmp_path / "LC09_L2SP_190026_20240601_20240603_02_T1_MTL.txt").write_text(
        'GROUP = LANDSAT_METADATA_FILE\n  SPACECRAFT_ID = "LANDSAT_9"\n  SENSOR_ID = "OLI_TIRS"\n'
        '  DATE_ACQUIRED = 2024-06-01\n  SCENE_CENTER_TIME = "10:10:31.6430890Z"\n'
        "END_GROUP = LANDSAT_METADATA_FILE\n"
    )
    assert product_of_file(str(landsat)).acquired == "2024-06-01T10:10:31Z"  # the MTL's
    safe = tmp_path / "S2B_MSIL2A_20220301T101839_N0400_R065_T33UUP_20220301T132434.SAFE"
    granule = safe / "GRANULE" / "IMG_DATA"
    granule.mkdir(parents=True)
    (safe / "MTD_MSIL2A.xml").write_text(
        "<Level-2A_User_Product><General_Info><Product_Info>"
        "<PRODUCT_START_TIME>2022-03-01T10:18:39.024Z</PRODUCT_START_TIME>"
        "<PROCESSING_BASELINE>04.00</PROCESSING_BASELINE>"
        "</Product_Info></General_Info></Level-2A_User_Product>"
    )
    band = granule / "B04.jp2"
    assert product_of_file(str(band)).acquired == "2022-03-01T10:18:39Z"


def test_mask_item_datetime_is_the_scenes_acquisition_time(tmp_path, s2_band_files):
    mask = tmp_path / "mask.tif"
    argv = ["classify", *map(str, s2_band_files), "--sensor", "sentinel2-l2a", "-o", str(mask)]
    assert run([*argv, "-q"]) == 0
    doc = _doc(mask)
    assert doc["properties"]["datetime"] == "2024-06-01T10:00:31Z"  # T33UUP_20240601T100031
    created = dt.datetime.fromisoformat(doc["properties"]["created"].replace("Z", "+00:00"))
    assert abs(dt.datetime.now(UTC) - created) < dt.timedelta(hours=1)
    assert "start_datetime" not in doc["properties"]
    poly = tmp_path / "poly.gpkg"
    assert run(["vectorize", str(mask), "-o", str(poly), "-q"]) == 0
    assert _doc(poly)["properties"]["datetime"] == "2024-06-01T10:00:31Z"  # the mask's date
    assert _doc(poly)["id"] == "poly-polygons-gpkg" and doc["id"] == "mask-mask"


def _item_with_date(path: Path, when: str) -> None:
    doc = json.loads(item_path(path).read_text())
    doc["properties"]["datetime"] = when
    item_path(path).write_text(json.dumps(doc))


def test_change_item_spans_both_dates(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    write_mask(as_mask(rng.integers(0, 4, (H, W)).astype(np.uint8)), a)
    write_mask(as_mask(rng.integers(0, 4, (H, W)).astype(np.uint8)), b)
    _item_with_date(a, "2020-06-01T10:00:00Z")
    _item_with_date(b, "2024-06-01T10:00:00Z")
    out = tmp_path / "ch.tif"
    assert run(["change", str(a), str(b), "-o", str(out), "-q"]) == 0
    props = _doc(out)["properties"]
    assert props["datetime"] is None
    assert props["start_datetime"] == "2020-06-01T10:00:00Z"
    assert props["end_datetime"] == "2024-06-01T10:00:00Z"
    assert _doc(out)["id"] == "ch-change"


def test_probability_and_index_items_name_their_bands(tmp_path):
    mask = as_mask(np.random.default_rng(1).integers(0, 4, (H, W)).astype(np.uint8), chunks=16)
    values = np.random.default_rng(2).integers(0, 255, (4, H, W)).astype(np.uint8)
    proba = xr.DataArray(
        da.from_array(values, chunks=(4, 16, 16)),
        dims=("class", "y", "x"),
        coords={"class": [0, 1, 2, 3], "y": mask.y, "x": mask.x},
    )
    proba = proba.rio.write_crs(mask.rio.crs).rio.write_transform(TRANSFORM)
    m, p = tmp_path / "scene.tif", tmp_path / "scene_proba.tif"
    write_mask(mask, m, probabilities=proba, probabilities_path=p)
    doc = _doc(p)
    bands = doc["assets"]["data"]["eo:bands"]
    assert [b["name"] for b in bands] == ["other", "forest", "urban", "water"]
    assert bands[3]["description"] == "probability of water"
    assert doc["assets"]["qgis-style"]["href"] == "./scene_proba.qml"
    assert doc["id"] == "scene_proba-probabilities"
    ids = {_doc(m)["id"], doc["id"]}
    assert len(ids) == 2
    idx = tmp_path / "idx.tif"
    write_indices(
        xr.Dataset({"ndvi": mask.astype("float32"), "mndwi": mask.astype("float32")}), idx
    )
    assert [b["name"] for b in _doc(idx)["assets"]["data"]["eo:bands"]] == ["ndvi", "mndwi"]
    assert _doc(idx)["id"] == "idx-indices"
    assert check_stac_folder(tmp_path) == 3


@pytest.mark.parametrize(
    ("name", "slug"),
    [("other -> forest", "other-to-forest"), ("tree_cover", "tree_cover"), ("a b/c", "a-b-c")],
)
def test_class_names_match_the_extensions_pattern(name, slug):
    assert class_name(name) == slug


def test_the_validator_rejects_what_the_schemas_forbid(tmp_path):
    mask = tmp_path / "m.tif"
    write_mask(as_mask(np.zeros((H, W), np.uint8)), mask)
    doc = _doc(mask)
    assert stac_errors(doc) == []
    bad = json.loads(json.dumps(doc))
    bad["assets"]["data"]["classification:classes"][0]["name"] = "other -> forest"
    assert any("does not match" in e for e in stac_errors(bad))
    bad = json.loads(json.dumps(doc))
    del bad["properties"]["datetime"]
    assert stac_errors(bad)
    bad = json.loads(json.dumps(doc))
    bad["stac_extensions"].append("https://stac-extensions.github.io/label/v1.0.1/schema.json")
    assert any("no vendored schema" in e for e in stac_errors(bad))
