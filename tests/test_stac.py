"""STAC items as scenes: asset picking by common name, raster:bands scaling, href resolution."""

from __future__ import annotations

import json

import numpy as np
import pystac
import pytest
import rasterio
from conftest import TRANSFORM, UTM33

from landmask.classification.classify import classify
from landmask.cli import run
from landmask.errors import BandError, ConfigError, ReadError
from landmask.io.read.scene import open_scene
from landmask.io.stac.read import gdal_path, item_bands, read_items

SHAPE = (12, 10)


def _dn(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dn = rng.integers(1000, 9000, size=SHAPE, dtype=np.uint16)
    dn[0, 0] = 0  # nodata
    return dn


def _item(item_id: str, assets: dict, stac_version: str = "1.0.0") -> dict:
    return {
        "type": "Feature",
        "stac_version": stac_version,
        "id": item_id,
        "geometry": None,
        "properties": {"datetime": "2024-06-01T10:00:31Z"},
        "links": [],
        "assets": assets,
    }


def _v10(href: str, common: str, scale=1e-4, offset=-0.1, nodata=0) -> dict:
    return {
        "href": href,
        "type": "image/tiff; application=geotiff",
        "roles": ["data"],
        "eo:bands": [{"name": common.upper(), "common_name": common}],
        "raster:bands": [{"scale": scale, "offset": offset, "nodata": nodata}],
    }


@pytest.fixture
def item_v10(tmp_path, raster):
    """A STAC 1.0 item in items/ with relative hrefs into data/, a thumbnail and a JP2 twin."""
    (tmp_path / "data").mkdir()
    (tmp_path / "items").mkdir()
    dns = {}
    for k, name in enumerate(["blue", "red", "nir"]):
        dns[name] = _dn(k)
        raster(f"data/{name}.tif", dns[name])
    assets = {
        "thumbnail": {"href": "../data/thumb.png", "roles": ["thumbnail"]},
        "blue": _v10("../data/blue.tif", "blue"),
        "red": _v10("../data/red.tif", "red", scale=2e-4, offset=0.0),
        "nir": _v10("../data/nir.tif", "nir", nodata=None),
        "red-jp2": _v10("../data/missing.jp2", "red"),
        "visual": {
            "href": "../data/missing_tci.tif",
            "roles": ["visual"],
            "eo:bands": [{"common_name": "red"}, {"common_name": "green"}],
        },
    }
    path = tmp_path / "items" / "S2_TEST.json"
    path.write_text(json.dumps(_item("S2_TEST", assets)))
    return path, dns


def test_item_json_picks_assets_by_common_name_and_scales(item_v10):
    path, dns = item_v10
    scene = open_scene(path)
    assert list(scene["band"].values) == ["blue", "red", "nir"]
    assert scene.rio.crs == UTM33
    assert scene.rio.transform() == TRANSFORM
    values = scene.values
    blue = dns["blue"].astype(np.float32) * np.float32(1e-4) + np.float32(-0.1)
    blue[0, 0] = np.nan
    np.testing.assert_array_equal(values[0], blue)
    red = dns["red"].astype(np.float32) * np.float32(2e-4)  # the asset's own scale, no offset
    red[0, 0] = np.nan
    np.testing.assert_array_equal(values[1], red)
    # raster:bands gives no nodata for nir and the file has none: 0 stays a value
    assert values[2, 0, 0] == np.float32(-0.1)


def test_relative_hrefs_resolve_against_the_item(item_v10, tmp_path):
    path, _ = item_v10
    bands = item_bands(pystac.Item.from_file(str(path)))
    assert [b.href for b in bands] == [
        str(tmp_path / "data" / f"{n}.tif") for n in ("blue", "red", "nir")
    ]
    assert [b.asset for b in bands] == ["blue", "red", "nir"]  # red-jp2, visual skipped


def test_pystac_item_object_equals_item_path(item_v10):
    path, _ = item_v10
    a = open_scene(path, chunk_size=4).values
    b = open_scene(pystac.Item.from_file(str(path)), chunk_size=5).values
    np.testing.assert_array_equal(a, b)


def test_explicit_scale_overrides_raster_bands(item_v10):
    path, dns = item_v10
    scene = open_scene(path, scale=1.0, offset=0.0, needs=["red"])
    assert list(scene["band"].values) == ["red"]
    expected = dns["red"].astype(np.float32)
    expected[0, 0] = np.nan
    np.testing.assert_array_equal(scene.values[0], expected)


def test_stac_11_bands_form(tmp_path, raster):
    both = np.stack([_dn(5), _dn(6)])
    raster("rn.tif", both)
    scl = np.array([[0, 4, 8, 9, 3, 10, 5, 6, 1, 2]] * SHAPE[0], np.uint8)
    raster("scl.tif", scl)
    assets = {
        "rednir": {
            "href": "rn.tif",
            "roles": ["data"],
            "raster:scale": 0.5,
            "bands": [
                {"name": "B04", "eo:common_name": "red", "nodata": 0},
                {"name": "B08", "eo:common_name": "nir", "raster:offset": 1.0},
            ],
        },
        "scl": {"href": "scl.tif", "roles": ["data"], "bands": [{"name": "SCL"}]},
    }
    path = tmp_path / "item11.json"
    path.write_text(json.dumps(_item("I11", assets, stac_version="1.1.0")))
    scene = open_scene(path)
    assert list(scene["band"].values) == ["red", "nir", "scl"]
    values = scene.values
    red = both[0].astype(np.float32) * np.float32(0.5)
    red[0, 0] = np.nan
    np.testing.assert_array_equal(values[0], red)
    np.testing.assert_array_equal(values[1], both[1] * np.float32(0.5) + np.float32(1.0))
    np.testing.assert_array_equal(values[2], scl.astype(np.float32))  # raw, 0 kept


def test_item_without_band_metadata(tmp_path, raster):
    raster("x.tif", _dn(1))
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(_item("bare", {"data": {"href": "x.tif"}})))
    with pytest.raises(BandError, match=r"bare\.json.*common names"):
        open_scene(path)


def test_band_mapping_refused_for_stac(item_v10):
    with pytest.raises(ConfigError, match="STAC"):
        open_scene(item_v10[0], bands={"red": 1})


def test_not_an_item(tmp_path):
    path = tmp_path / "coll.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(ReadError, match=r"coll\.json.*not a STAC item"):
        open_scene(path)


def test_item_collection_and_catalog(tmp_path, raster):
    raster("red.tif", _dn(1))
    raster("nir.tif", _dn(2))
    items = [
        _item(f"scene-{k}", {"red": _v10("red.tif", "red"), "nir": _v10("nir.tif", "nir")})
        for k in range(2)
    ]
    coll = tmp_path / "collection.json"
    coll.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    found = read_items(coll)
    assert [i.id for i in found] == ["scene-0", "scene-1"]
    assert item_bands(found[1])[0].href == str(tmp_path / "red.tif")

    catalog = pystac.Catalog(id="cat", description="two scenes")
    for doc in items:
        catalog.add_item(pystac.Item.from_dict(doc))
    cat_dir = tmp_path / "catalog"
    catalog.normalize_hrefs(str(cat_dir))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    found = read_items(cat_dir / "catalog.json")
    assert sorted(i.id for i in found) == ["scene-0", "scene-1"]


def test_classify_cli_reads_an_item(item_v10, tmp_path, capsys):
    path, _ = item_v10
    out = tmp_path / "mask.tif"
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "name: r\nrules:\n  - class: forest\n    when: (nir - red) / (nir + red) > 0\n"
    )
    code = run(["classify", str(path), "--rules", str(rules), "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    expected = classify(open_scene(path), rules=str(rules)).values
    with rasterio.open(out) as ds:
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
        np.testing.assert_array_equal(ds.read(1), expected)
    assert expected[0, 0] == 255 and (expected == 1).any()


@pytest.mark.parametrize(
    ("href", "path"),
    [
        ("s3://bucket/tiles/B04.tif", "/vsis3/bucket/tiles/B04.tif"),
        ("https://host/x/B04.tif", "/vsicurl/https://host/x/B04.tif"),
        ("file:///data/B04.tif", "/data/B04.tif"),
        ("/data/B04.tif", "/data/B04.tif"),
    ],
)
def test_hrefs_become_gdal_paths(href, path):
    assert gdal_path(href) == path
