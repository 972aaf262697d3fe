"""Level-1 products are converted to top-of-atmosphere reflectance with their own metadata.

The metadata are real (``tests/data/level1/README.md``): the MTL of Landsat 7
ETM+ Collection 2 Level-1 product ``LE07_L1TP_230080_20231208_20240103_02_T1``
(XML), that of Landsat 8 ``LC08_L1TP_193024_20180824_20200831_02_T1`` (text)
and the ``MTD_MSIL1C.xml`` of Sentinel-2B product
``S2B_MSIL1C_20230601T094549_N0509_R079_T34UDD_20230601T115221``. The band
files are tiny rasters named exactly as USGS and ESA name them; the expected
reflectance is computed here by hand from the numbers printed in those files.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import assert_one_line, invoke, write_raster
from test_presets import write_jp2

from landmask.errors import SensorError, UncalibratedWarning
from landmask.io.read.scene import open_scene

DATA = Path(__file__).parent / "data" / "level1"
LE07 = "LE07_L1TP_230080_20231208_20240103_02_T1"
S2_SAFE = "S2B_MSIL1C_20230601T094549_N0509_R079_T34UDD_20230601T115221.SAFE"
SHAPE = (6, 7)

#: Read by eye from LE07_L1TP_230080_20231208_20240103_02_T1_MTL.xml.
LE07_MTL = {
    "B3": (1.2428e-03, -0.011238),  # REFLECTANCE_MULT_BAND_3, REFLECTANCE_ADD_BAND_3
    "B4": (2.7591e-03, -0.017277),
    "B5": (1.7365e-03, -0.015494),
}
LE07_SUN_ELEVATION = 30.88235160


def dn(seed: int, low: int = 1, high: int = 255, dtype="u1") -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, SHAPE).astype(dtype)


def write_le07(folder: Path, mtl_format: str = "xml") -> dict[str, Path]:
    """Band files B3, B4, B5 (uint8, as USGS ships ETM+) beside the real MTL."""
    folder.mkdir(parents=True, exist_ok=True)
    real = DATA / f"{LE07}_MTL.xml"
    target = folder / f"{LE07}_MTL.{mtl_format}"
    if mtl_format == "xml":
        shutil.copy(real, target)
    elif mtl_format == "txt":
        target.write_text(_as_odl(ET.parse(real).getroot()))
    else:
        target.write_text(json.dumps(_as_json(ET.parse(real).getroot()), indent=2))
    return {
        b: write_raster(folder / f"{LE07}_{b}.TIF", dn(k), nodata=0)
        for k, b in enumerate(("B3", "B4", "B5"))
    }


def _as_odl(el: ET.Element, depth: int = 0) -> str:
    """The MTL.xml as USGS's MTL.txt (ODL) writes the same fields."""
    pad = "  " * depth
    if len(el) == 0:
        return f"{pad}{el.tag} = {el.text}\n"
    body = "".join(_as_odl(child, depth + 1) for child in el)
    return f"{pad}GROUP = {el.tag}\n{body}{pad}END_GROUP = {el.tag}\n" + (
        "END\n" if not depth else ""
    )


def _as_json(el: ET.Element) -> dict | str:
    if len(el) == 0:
        return el.text or ""
    return {child.tag: _as_json(child) for child in el}


def toa(band: str, values: np.ndarray) -> np.ndarray:
    """By hand: (M * Q + A) / sin(sun elevation), nodata 0 -> NaN."""
    mult, add = LE07_MTL[band]
    out = (mult * values.astype(np.float64) + add) / math.sin(math.radians(LE07_SUN_ELEVATION))
    return np.where(values == 0, np.nan, out)


@pytest.mark.parametrize("sensor", ["landsat-c2-l1", None, "landsat-c2-l2"])
def test_landsat7_level1_is_top_of_atmosphere_reflectance_per_band(tmp_path, sensor):
    files = write_le07(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        scene = open_scene(list(files.values()), sensor=sensor)
    # ETM+ band table: B3 red, B4 nir, B5 swir16
    assert list(scene["band"].values) == ["red", "nir", "swir16"]
    for band, name in (("B3", "red"), ("B4", "nir"), ("B5", "swir16")):
        with rasterio.open(files[band]) as ds:
            expected = toa(band, ds.read(1))
        np.testing.assert_allclose(scene.sel(band=name).values, expected, rtol=2e-6)
    assert scene.attrs["radiometry"] == "toa_reflectance"
    basis = scene.attrs["radiometry_basis"]
    assert f"{LE07}_MTL.xml" in basis and "SUN_ELEVATION 30.8824" in basis
    assert scene.attrs["scaling"] == "mixed"  # one gain per band
    sine = math.sin(math.radians(LE07_SUN_ELEVATION))
    assert scene.attrs["band_scaling"]["nir"] == pytest.approx(
        [2.7591e-03 / sine, -0.017277 / sine]
    )
    assert scene.attrs["long_name"] == "top-of-atmosphere reflectance"


@pytest.mark.parametrize("mtl_format", ["txt", "json"])
def test_the_same_mtl_as_text_or_json_gives_the_same_reflectance(tmp_path, mtl_format):
    files = write_le07(tmp_path, mtl_format)
    scene = open_scene(list(files.values()), sensor="landsat-c2-l1")
    with rasterio.open(files["B4"]) as ds:
        expected = toa("B4", ds.read(1))
    np.testing.assert_allclose(scene.sel(band="nir").values, expected, rtol=2e-6)
    assert f"{LE07}_MTL.{mtl_format}" in scene.attrs["radiometry_basis"]


def test_level1_cli_prints_the_radiometry_line(tmp_path, capsys, caplog):
    files = write_le07(tmp_path / "in")
    out = tmp_path / "ndvi.tif"
    res = invoke(
        ["indices", files["B3"], files["B4"], "--index", "ndvi", "-o", out], capsys, caplog
    )
    assert res.code == 0, res.err
    assert f"radiometry: toa reflectance (Level-1 MTL {LE07}_MTL.xml" in res.out
    with rasterio.open(out) as ds:
        ndvi = ds.read(1)
        assert ds.tags()["RADIOMETRY"] == "toa_reflectance"
    with rasterio.open(files["B3"]) as r, rasterio.open(files["B4"]) as n:
        red, nir = toa("B3", r.read(1)), toa("B4", n.read(1))
    np.testing.assert_allclose(ndvi, (nir - red) / (nir + red), rtol=1e-5)


def test_level1_without_its_mtl_is_refused_with_a_preset_and_dn_without(tmp_path, capsys, caplog):
    path = write_raster(tmp_path / f"{LE07}_B4.TIF", dn(1), nodata=0)
    with pytest.raises(SensorError, match=r"Level-1 product \(L1TP\) with no REFLECTANCE_MULT"):
        open_scene(path, sensor="landsat-c2-l2")
    res = invoke(
        [
            "indices",
            path,
            "--sensor",
            "landsat-c2-l1",
            "--band",
            "nir=1",
            "--index",
            "ndvi",
            "-o",
            tmp_path / "x.tif",
        ],
        capsys,
        caplog,
    )
    assert_one_line(res, f"{LE07}_B4.TIF", "_MTL.txt")
    assert not (tmp_path / "x.tif").exists()
    with pytest.warns(UncalibratedWarning, match="uint8 values with no scale"):
        scene = open_scene(path, bands={"nir": 1})
    assert scene.attrs["radiometry"] == "dn"


def test_landsat_c2_l1_with_no_product_is_refused(tmp_path):
    path = write_raster(tmp_path / "b4.tif", dn(1), nodata=0)
    with pytest.raises(SensorError, match="no Landsat Level-1 product id"):
        open_scene(path, sensor="landsat-c2-l1")


def test_landsat8_level1_with_its_real_mtl_txt(tmp_path):
    """LC08_L1TP_193024_20180824_20200831_02_T1_MTL.txt as USGS writes it (ODL text)."""
    pid = "LC08_L1TP_193024_20180824_20200831_02_T1"
    mtl = tmp_path / f"{pid}_MTL.txt"
    shutil.copy(DATA / mtl.name, mtl)
    files = [write_raster(tmp_path / f"{pid}_B{n}.TIF", dn(n, 6000, 30000, "u2")) for n in (4, 5)]
    scene = open_scene(files)  # no --sensor: the product id and MTL choose landsat-c2-l1
    assert list(scene["band"].values) == ["red", "nir08"]  # OLI: B4 red, B5 nir08
    # the MTL: REFLECTANCE_MULT_BAND_5 = 2.0000E-05, REFLECTANCE_ADD_BAND_5 = -0.100000,
    # SUN_ELEVATION = 47.03107233
    with rasterio.open(files[1]) as ds:
        q = ds.read(1).astype(np.float64)
    expected = (2e-5 * q - 0.1) / math.sin(math.radians(47.03107233))
    np.testing.assert_allclose(scene.sel(band="nir08").values, expected, rtol=2e-6)
    assert f"{pid}_MTL.txt" in scene.attrs["radiometry_basis"]
    # the same product at night (a descending-node scene): nothing to compute
    night = mtl.read_text().replace("SUN_ELEVATION = 47.03107233", "SUN_ELEVATION = -41.46228969")
    mtl.write_text(night)
    with pytest.raises(SensorError, match=r"SUN_ELEVATION -41\.4623: the sun is below the horizon"):
        open_scene(files, sensor="landsat-c2-l1")


def test_level1_and_level2_files_are_two_products(tmp_path):
    l1 = write_le07(tmp_path)["B3"]
    l2 = write_raster(
        tmp_path / "LE07_L2SP_230080_20231208_20240103_02_T1_SR_B4.TIF", dn(2, dtype="u2")
    )
    with pytest.raises(SensorError, match="one scene is one product"):
        open_scene([l1, l2], sensor="landsat-c2-l2")


# ---------------------------------------------------------------- Sentinel-2 L1C


def write_l1c(root: Path, safe: str = S2_SAFE, mtd: bool = True) -> dict[str, Path]:
    """GRANULE/L1C_*/IMG_DATA/T34UDD_<sensing>_B04.jp2 (JPEG 2000, 12-bit DN in uint16)."""
    sensing = safe.split("_")[2]
    product = root / safe
    granule = product / "GRANULE" / f"L1C_T34UDD_A032557_{sensing}" / "IMG_DATA"
    granule.mkdir(parents=True)
    if mtd:
        shutil.copy(DATA / "MTD_MSIL1C.xml", product / "MTD_MSIL1C.xml")
    return {
        band: write_jp2(granule / f"T34UDD_{sensing}_{band}.jp2", dn(10 + k, 1001, 9000, "u2"))
        for k, band in enumerate(("B04", "B08"))
    }


@pytest.mark.parametrize("sensor", ["sentinel2-l1c", None, "sentinel2-l2a"])
def test_sentinel2_l1c_is_top_of_atmosphere_reflectance(tmp_path, sensor):
    files = write_l1c(tmp_path)
    scene = open_scene(list(files.values()), sensor=sensor)
    assert list(scene["band"].values) == ["red", "nir"]
    for band, name in (("B04", "red"), ("B08", "nir")):
        with rasterio.open(files[band]) as ds:
            # MTD_MSIL1C.xml: RADIO_ADD_OFFSET -1000, QUANTIFICATION_VALUE 10000
            expected = (ds.read(1).astype(np.float64) - 1000) / 10000
        np.testing.assert_allclose(scene.sel(band=name).values, expected, rtol=1e-5, atol=1e-7)
    assert scene.attrs["radiometry"] == "toa_reflectance"
    basis = scene.attrs["radiometry_basis"]
    assert "RADIO_ADD_OFFSET -1000" in basis and "QUANTIFICATION_VALUE 10000" in basis
    assert "MTD_MSIL1C.xml" in basis


def test_sentinel2_l1c_before_baseline_04_has_no_offset(tmp_path):
    safe = "S2A_MSIL1C_20211201T101319_N0301_R022_T34UDD_20211201T121111.SAFE"
    files = write_l1c(tmp_path, safe, mtd=False)
    scene = open_scene(list(files.values()), sensor="sentinel2-l1c")
    with rasterio.open(files["B04"]) as ds:
        expected = ds.read(1).astype(np.float64) / 10000
    np.testing.assert_allclose(scene.sel(band="red").values, expected, rtol=1e-5)
    assert scene.attrs["radiometry"] == "toa_reflectance"
    assert "RADIO_ADD_OFFSET 0" in scene.attrs["radiometry_basis"]
    assert "processing baseline 03.01" in scene.attrs["radiometry_basis"]


def test_a_landsat_level1_stac_item_is_converted_with_its_mtl_asset(tmp_path):
    """USGS lists the MTL among a Level-1 item's assets; the bands are named by eo:bands."""
    files = write_le07(tmp_path)
    assets = {
        key: {"href": files[band].name, "eo:bands": [{"name": band, "common_name": key}]}
        for key, band in (("red", "B3"), ("nir", "B4"))
    }
    assets["MTL.xml"] = {"href": f"{LE07}_MTL.xml", "roles": ["metadata"]}
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": LE07,
        "geometry": None,
        "properties": {
            "datetime": "2023-12-08T11:44:51Z",
            "platform": "landsat-7",
            "instruments": ["etm+"],
            "landsat:correction": "L1TP",
        },
        "links": [],
        "assets": assets,
    }
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        scene = open_scene(path)
    with rasterio.open(files["B4"]) as ds:
        expected = toa("B4", ds.read(1))
    np.testing.assert_allclose(scene.sel(band="nir").values, expected, rtol=2e-6)
    assert scene.attrs["radiometry"] == "toa_reflectance"
    assert f"{LE07}_MTL.xml" in scene.attrs["radiometry_basis"]
    # ETM+ has no nir08: a band the MTL gives no gain for is refused, never read as DN * 1
    item["assets"]["nir08"] = item["assets"].pop("nir")
    item["assets"]["nir08"]["eo:bands"][0]["common_name"] = "nir08"
    path.write_text(json.dumps(item))
    with pytest.raises(SensorError, match="no reflectance gain for band 'nir08'"):
        open_scene(path)
    del item["assets"]["MTL.xml"]
    path.write_text(json.dumps(item))
    with pytest.raises(SensorError, match="no REFLECTANCE_MULT_BAND_n"):
        open_scene(path, sensor="landsat-c2-l1")


def test_a_sentinel2_l1c_stac_item_takes_the_offset_of_its_baseline(tmp_path):
    red = write_raster(tmp_path / "B04.tif", dn(20, 1001, 9000, "u2"))
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2B_34UDD_20230601_0_L1C",
        "geometry": None,
        "properties": {
            "datetime": "2023-06-01T09:45:49Z",
            "platform": "sentinel-2b",
            "instruments": ["msi"],
            "s2:product_uri": S2_SAFE,
        },
        "links": [],
        "assets": {"B04": {"href": red.name, "eo:bands": [{"name": "B04", "common_name": "red"}]}},
    }
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        scene = open_scene(path)  # no --sensor: the product uri says L1C, baseline 05.09
    with rasterio.open(red) as ds:
        expected = (ds.read(1).astype(np.float64) - 1000) / 10000
    np.testing.assert_allclose(scene.sel(band="red").values, expected, rtol=1e-5, atol=1e-7)
    assert scene.attrs["radiometry"] == "toa_reflectance"
    assert "processing baseline 05.09" in scene.attrs["radiometry_basis"]


def test_a_collection1_mtl_as_usgs_named_it_converts_too(tmp_path):
    """LE07_L1TP_..._01_T1_MTL.TXT (Collection 1, upper-case extension, DATA_TYPE not
    PROCESSING_LEVEL, group RADIOMETRIC_RESCALING): the same formula, its own numbers."""
    pid = "LE07_L1TP_160031_20110416_20161210_01_T1"
    shutil.copy(DATA / f"{pid}_MTL.TXT", tmp_path / f"{pid}_MTL.TXT")
    files = [write_raster(tmp_path / f"{pid}_B{n}.TIF", dn(n), nodata=0) for n in (3, 4)]
    scene = open_scene(files)
    assert list(scene["band"].values) == ["red", "nir"]
    sine = math.sin(math.radians(53.22910777))  # SUN_ELEVATION
    for path, name, (mult, add) in zip(
        files, ("red", "nir"), ((1.9550e-03, -0.012326), (2.8628e-03, -0.017926)), strict=True
    ):
        with rasterio.open(path) as ds:
            q = ds.read(1)
        expected = np.where(q == 0, np.nan, (mult * q.astype(np.float64) + add) / sine)
        np.testing.assert_allclose(scene.sel(band=name).values, expected, rtol=2e-6)
    assert scene.attrs["radiometry"] == "toa_reflectance"


def test_options_on_a_level1_product_are_still_top_of_atmosphere(tmp_path):
    """--scale/--offset beat the MTL's gains, but the values stay top-of-atmosphere ones."""
    files = write_le07(tmp_path)
    scene = open_scene(list(files.values()), scale={"nir": 2e-3}, offset={"nir": -0.01})
    with rasterio.open(files["B4"]) as ds:
        q = ds.read(1)
    expected = np.where(q == 0, np.nan, 2e-3 * q.astype(np.float64) - 0.01)
    np.testing.assert_allclose(scene.sel(band="nir").values, expected, rtol=2e-6)
    with rasterio.open(files["B3"]) as ds:  # red keeps the MTL's gain
        np.testing.assert_allclose(scene.sel(band="red").values, toa("B3", ds.read(1)), rtol=2e-6)
    assert scene.attrs["radiometry"] == "toa_reflectance"
    assert "--scale/--offset" in scene.attrs["radiometry_basis"]
    assert "on a Level-1 product" in scene.attrs["radiometry_basis"]


def test_sentinel2_l1c_classify_says_which_rules_and_what_top_of_atmosphere_costs(
    tmp_path, capsys, caplog
):
    """A six-band L1C scene gets ``default`` (no top-of-atmosphere set passed its checks,
    README "Top-of-atmosphere input"), and the one rules line says so."""
    sensing = S2_SAFE.split("_")[2]
    granule = tmp_path / S2_SAFE / "GRANULE" / f"L1C_T34UDD_A032557_{sensing}" / "IMG_DATA"
    granule.mkdir(parents=True)
    shutil.copy(DATA / "MTD_MSIL1C.xml", tmp_path / S2_SAFE / "MTD_MSIL1C.xml")
    files = [
        write_jp2(granule / f"T34UDD_{sensing}_{band}.jp2", dn(20 + k, 1001, 9000, "u2"))
        for k, band in enumerate(("B02", "B03", "B04", "B08", "B11", "B12"))
    ]
    out = tmp_path / "out"
    out.mkdir()
    res = invoke(["classify", *files, "-o", out / "mask.tif"], capsys, caplog)
    assert res.code == 0, res.err
    assert "radiometry: toa reflectance" in res.out
    line = next(s for s in res.out.splitlines() if "rules default" in s)
    assert "top-of-atmosphere reflectance" in line and "Level-2" in line
    with rasterio.open(out / "mask.tif") as ds:
        assert ds.tags()["RADIOMETRY"] == "toa_reflectance"
