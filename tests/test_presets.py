"""Sensor presets on files named exactly as the providers ship them.

Each fixture writes tiny GeoTIFFs (JPEG 2000 where the provider ships it) under
the provider's own names: USGS Landsat Collection 2 Level-2 product ids
(``LT05``, ``LE07``, ``LC08``, ``LC09``) with their ``*_MTL.txt``/``*_MTL.json``,
Sentinel-2 L2A SAFE folders before and after processing baseline 04.00 with an
``MTD_MSIL2A.xml``, Element 84 folders, and STAC items with the property names
Planetary Computer and Element 84 use. Every band holds its own digital number,
so a band read under the wrong name changes the asserted reflectance and NDVI,
which are computed here from the file values with numpy. Level-1 products
(converted to top-of-atmosphere reflectance, no longer refused) are tested in
``test_level1.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import TRANSFORM, UTM33, assert_one_line, invoke, write_raster

from landmask.errors import PresetAssumedWarning, SensorError, UncalibratedWarning
from landmask.io.read.scene import open_scene
from landmask.spectral.indices import compute_indices

SHAPE = (4, 5)
SR = (2.75e-5, -0.2)
ST = (0.00341802, 149.0)

#: USGS product ids, one per instrument generation.
LANDSAT_IDS = {
    "LT05": "LT05_L2SP_044034_20110716_20200820_02_T1",
    "LE07": "LE07_L2SP_044034_20210508_20210603_02_T1",
    "LC08": "LC08_L2SP_044034_20210508_20210518_02_T1",
    "LC09": "LC09_L2SP_044034_20220302_20220304_02_T1",
}

# Independent tables, typed out from the providers' and STAC's documentation (not from
# landmask.io.sensors.presets): the preset's name for each band must be the one these give.

#: STAC ``eo`` extension v2.0, "Common Band Names": the band range (micrometres) of each
#: common name, and the instrument band numbers that carry it.
EO_RANGES = {
    "coastal": (0.40, 0.45),
    "blue": (0.45, 0.53),
    "green": (0.51, 0.60),
    "red": (0.62, 0.69),
    "rededge071": (0.69, 0.73),
    "rededge075": (0.73, 0.76),
    "rededge078": (0.76, 0.79),
    "nir": (0.76, 1.00),
    "nir08": (0.80, 0.90),
    "nir09": (0.90, 1.00),
    "cirrus": (1.35, 1.40),
    "swir16": (1.55, 1.75),
    "swir22": (2.08, 2.35),
    "lwir": (10.4, 12.5),
    "lwir11": (10.5, 11.5),
}
EO_BANDS = {  # the table's columns "Landsat 5 TM / 7 ETM+", "Landsat 8", "Sentinel-2"
    "tm-etm": {1: "blue", 2: "green", 3: "red", 4: "nir", 5: "swir16", 7: "swir22", 6: "lwir"},
    "oli": {
        1: "coastal", 2: "blue", 3: "green", 4: "red", 5: "nir08", 6: "swir16", 7: "swir22",
        9: "cirrus", 10: "lwir11",
    },
    "msi": {
        "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge071",
        "B06": "rededge075", "B07": "rededge078", "B08": "nir", "B8A": "nir08",
        "B09": "nir09", "B10": "cirrus", "B11": "swir16", "B12": "swir22",
    },
}  # fmt: skip
#: USGS, "What are the band designations for the Landsat satellites?" (micrometres) and
#: ESA, Sentinel-2 MSI spectral bands (Sentinel-2A central wavelength, nm / 1000).
WAVELENGTHS = {
    "LT05": {1: (0.45, 0.52), 2: (0.52, 0.60), 3: (0.63, 0.69), 4: (0.76, 0.90),
             5: (1.55, 1.75), 6: (10.40, 12.50), 7: (2.08, 2.35)},
    "LE07": {1: (0.45, 0.52), 2: (0.52, 0.60), 3: (0.63, 0.69), 4: (0.77, 0.90),
             5: (1.55, 1.75), 6: (10.40, 12.50), 7: (2.09, 2.35)},
    "LC08": {1: (0.43, 0.45), 2: (0.45, 0.51), 3: (0.53, 0.59), 4: (0.64, 0.67),
             5: (0.85, 0.88), 6: (1.57, 1.65), 7: (2.11, 2.29), 9: (1.36, 1.38),
             10: (10.60, 11.19)},
    "S2A": {"B01": 0.4427, "B02": 0.4924, "B03": 0.5598, "B04": 0.6646, "B05": 0.7041,
            "B06": 0.7405, "B07": 0.7828, "B08": 0.8328, "B8A": 0.8647, "B09": 0.9451,
            "B10": 1.3735, "B11": 1.6137, "B12": 2.2024},
}  # fmt: skip
#: Collection 2 Level-2 file band ids (USGS Landsat 4-7 and 8-9 C2 L2 product guides):
#: surface reflectance SR_B<n>, surface temperature ST_B<n>, the QA_PIXEL flags.
L2_FILES = {
    "tm-etm": ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7", "ST_B6", "QA_PIXEL"),
    "oli": ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7", "ST_B10", "QA_PIXEL"),
}


def documented_names(variant: str) -> dict[str, str]:
    """File band id -> the STAC common name of its band number (QA_PIXEL: the flags)."""
    return {
        band_id: "qa_pixel"
        if band_id == "QA_PIXEL"
        else EO_BANDS[variant][int(band_id.split("_B")[1])]
        for band_id in L2_FILES[variant]
    }


TM_ETM_BANDS = documented_names("tm-etm")
OLI_BANDS = documented_names("oli")


@pytest.mark.parametrize(
    ("source", "variant"), [("LT05", "tm-etm"), ("LE07", "tm-etm"), ("LC08", "oli"), ("S2A", "msi")]
)
def test_the_documented_tables_agree(source, variant):
    """Each band's documented wavelength (its centre) lies in its common name's range:
    the tables typed out above agree with each other, so a typo in one shows here."""
    for band, name in EO_BANDS[variant].items():
        if band not in WAVELENGTHS[source]:
            continue  # band 9 and 10 of OLI's table: cirrus and TIRS, only on LC08 here
        span = WAVELENGTHS[source][band]
        centre = sum(span) / 2 if isinstance(span, tuple) else span
        low, high = EO_RANGES[name]
        assert low <= centre <= high, (source, band, name, centre)


def dn_of(band_id: str) -> int:
    """A distinct digital number per band id (SR_B4 -> 14000, ST_B6 -> 44000)."""
    number = int("".join(c for c in band_id if c.isdigit()) or 0)
    return 10000 + 1000 * number + (30000 if band_id.startswith("ST") else 0)


def write_landsat(folder: Path, prefix: str, band_ids) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for band_id in band_ids:
        value = 21824 if band_id == "QA_PIXEL" else dn_of(band_id)
        files.append(
            write_raster(
                folder / f"{prefix}_{band_id}.TIF",
                np.full(SHAPE, value, np.uint16),
                nodata=1 if band_id == "QA_PIXEL" else 0,
            )
        )
    return files


def reflectance(dn: float, scaling=SR) -> float:
    return dn * scaling[0] + scaling[1]


def expected_ndvi(nir_id: str, red_id: str) -> float:
    nir, red = reflectance(dn_of(nir_id)), reflectance(dn_of(red_id))
    return (nir - red) / (nir + red)


# ---------------------------------------------------------------- Landsat


@pytest.mark.parametrize("key", ["LT05", "LE07", "LC08", "LC09"])
def test_landsat_product_ids_pick_the_band_table(tmp_path, key):
    oli = key in ("LC08", "LC09")
    table = OLI_BANDS if oli else TM_ETM_BANDS
    pid = LANDSAT_IDS[key]
    files = write_landsat(tmp_path / pid, pid, table)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        warnings.simplefilter("error", UncalibratedWarning)
        scene = open_scene(files, sensor="landsat-c2-l2")
    assert list(scene["band"].values) == list(table.values())
    values = scene.values[:, 0, 0]
    for k, (band_id, name) in enumerate(table.items()):
        if name == "qa_pixel":
            assert values[k] == 21824  # raw flags
        elif band_id.startswith("ST"):
            np.testing.assert_allclose(values[k], reflectance(dn_of(band_id), ST), rtol=1e-6)
        else:
            np.testing.assert_allclose(values[k], reflectance(dn_of(band_id)), rtol=1e-6)
    nir_id = "SR_B5" if oli else "SR_B4"
    ndvi = compute_indices(scene, ["ndvi"])["ndvi"].values
    np.testing.assert_allclose(ndvi, expected_ndvi(nir_id, "SR_B4" if oli else "SR_B3"), rtol=1e-5)
    assert scene.attrs["sensor_variant"] == ("oli" if oli else "tm-etm")
    number = key[-1]
    assert scene.attrs["instrument"].startswith(f"Landsat {number} ")
    assert scene.attrs["scale"] == SR[0] and scene.attrs["offset"] == SR[1]
    assert scene.attrs["scaling"] == "sensor"
    assert pid in scene.attrs["sensor_basis"]


def test_etm_ndvi_is_right_where_the_oli_table_was_wrong(tmp_path):
    """The issue's case: LE07 SR_B1..B7 read with Landsat 8 names gave NDVI of red vs SR_B5."""
    pid = LANDSAT_IDS["LE07"]
    files = write_landsat(tmp_path, pid, [f"SR_B{n}" for n in (1, 2, 3, 4, 5, 7)])
    scene = open_scene(files, sensor="landsat-c2-l2")
    assert scene.sel(band="nir").values[0, 0] == pytest.approx(reflectance(dn_of("SR_B4")))
    ndvi = float(compute_indices(scene, ["ndvi"])["ndvi"].values[0, 0])
    assert ndvi == pytest.approx(expected_ndvi("SR_B4", "SR_B3"), rel=1e-5)
    assert ndvi != pytest.approx(expected_ndvi("SR_B5", "SR_B4"), rel=1e-3)


MTL_TXT = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    ORIGIN = "Image courtesy of the U.S. Geological Survey"
    LANDSAT_PRODUCT_ID = "{pid}"
    PROCESSING_LEVEL = "L2SP"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "{spacecraft}"
    SENSOR_ID = "{sensor}"
    WRS_TYPE = 2
  END_GROUP = IMAGE_ATTRIBUTES
END_GROUP = LANDSAT_METADATA_FILE
END
"""


@pytest.mark.parametrize("kind", ["txt", "json"])
def test_mtl_beside_renamed_files_picks_the_band_table(tmp_path, kind):
    pid = LANDSAT_IDS["LE07"]
    files = write_landsat(tmp_path, "scene", ["SR_B3", "SR_B4", "SR_B5"])
    if kind == "txt":
        text = MTL_TXT.format(pid=pid, spacecraft="LANDSAT_7", sensor="ETM")
        (tmp_path / f"{pid}_MTL.txt").write_text(text)
    else:
        doc = {
            "LANDSAT_METADATA_FILE": {
                "PRODUCT_CONTENTS": {"LANDSAT_PRODUCT_ID": pid, "PROCESSING_LEVEL": "L2SP"},
                "IMAGE_ATTRIBUTES": {"SPACECRAFT_ID": "LANDSAT_7", "SENSOR_ID": "ETM"},
            }
        }
        (tmp_path / f"{pid}_MTL.json").write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        scene = open_scene(files, sensor="landsat-c2-l2")
    assert list(scene["band"].values) == ["red", "nir", "swir16"]
    assert scene.attrs["instrument"] == "Landsat 7 ETM+"
    assert scene.attrs["sensor_basis"] == f"{pid}_MTL.{kind}"


def test_landsat_without_product_id_or_mtl_warns_it_assumed_oli(tmp_path):
    files = write_landsat(tmp_path, "scene", ["SR_B4", "SR_B5"])
    with pytest.warns(PresetAssumedWarning, match="Landsat 8/9 OLI") as caught:
        scene = open_scene(files, sensor="landsat-c2-l2")
    assert len([w for w in caught if w.category is PresetAssumedWarning]) == 1
    assert list(scene["band"].values) == ["red", "nir08"]


def test_stac_landsat_item_with_real_property_names(tmp_path):
    """A Planetary Computer landsat-c2-l2 item: platform, instruments, raster:bands."""
    pid = LANDSAT_IDS["LE07"]
    files = write_landsat(tmp_path, pid, ["SR_B3", "SR_B4"])
    assets = {
        "red": _asset(files[0].name, "red", "SR_B3", 2.75e-5, -0.2),
        "nir08": _asset(files[1].name, "nir08", "SR_B4", 2.75e-5, -0.2),
    }
    props = {"platform": "landsat-7", "instruments": ["etm+"], "landsat:correction": "L2SP"}
    item = _write_item(tmp_path / "item.json", pid, props, assets)
    scene = open_scene(item, sensor="landsat-c2-l2")
    assert list(scene["band"].values) == ["red", "nir08"]
    assert scene.attrs["instrument"] == "Landsat 7 ETM+"
    assert scene.attrs["sensor_variant"] == "tm-etm"
    assert scene.attrs["scaling"] == "stac"
    ndvi = compute_indices(scene, ["ndvi"])["ndvi"].values
    np.testing.assert_allclose(ndvi, expected_ndvi("SR_B4", "SR_B3"), rtol=1e-5)
    with pytest.raises(SensorError, match=r"Landsat 7 ETM\+ product; --sensor sentinel2-l2a reads"):
        open_scene(item, sensor="sentinel2-l2a")


# ---------------------------------------------------------------- contradictions


def test_files_of_another_sensor_are_refused(tmp_path, capsys, caplog):
    pid = LANDSAT_IDS["LC08"]
    files = write_landsat(tmp_path, pid, ["SR_B4", "SR_B5"])
    with pytest.raises(SensorError, match="Landsat 8 OLI product; --sensor sentinel2-l2a reads"):
        open_scene(files, sensor="sentinel2-l2a")
    with pytest.raises(SensorError, match="--sensor naip"):
        open_scene(files, sensor="naip")
    out = tmp_path / "mask.tif"
    res = invoke(["classify", *files, "--sensor", "sentinel2-l2a", "-o", out], capsys, caplog)
    assert_one_line(res, files[0].name, "Landsat 8 OLI", "--sensor sentinel2-l2a")
    assert not out.exists()


def test_two_products_in_one_scene_are_refused(tmp_path):
    a = write_landsat(tmp_path, LANDSAT_IDS["LE07"], ["SR_B3"])
    b = write_landsat(tmp_path, LANDSAT_IDS["LC08"], ["SR_B5"])
    with pytest.raises(SensorError, match=r"Landsat 8 OLI file beside .*Landsat 7 ETM\+ file"):
        open_scene([*a, *b], sensor="landsat-c2-l2")


@pytest.mark.parametrize("sensor", [None, "landsat-c2-l2"])
def test_band_option_contradicting_the_provider_suffix_is_refused(tmp_path, sensor, capsys, caplog):
    pid = LANDSAT_IDS["LE07"]
    files = write_landsat(tmp_path, pid, ["SR_B1", "SR_B2", "SR_B3", "SR_B4"])
    with pytest.raises(SensorError, match=r"--band red=4: .*SR_B4\.TIF is not red") as info:
        open_scene(files, sensor=sensor, bands={"red": 4}, scale=SR[0], offset=SR[1])
    assert "SR_B4 of Landsat 7 ETM+ is nir" in str(info.value)
    # the mapping the provider's names agree with is taken
    scene = open_scene(files, sensor=sensor, bands={"red": 3, "nir": 4}, scale=SR[0], offset=SR[1])
    assert scene.sel(band="nir").values[0, 0] == pytest.approx(reflectance(dn_of("SR_B4")))
    argv = ["indices", *files, "--band", "red=4", "--band", "nir=3", "--index", "ndvi"]
    res = invoke([*argv, "--scale", SR[0], "-o", tmp_path / "ndvi.tif"], capsys, caplog)
    assert_one_line(res, "--band red=4", f"{pid}_SR_B4.TIF", "is nir")


def test_nir_names_the_oli_nir08_band(tmp_path):
    """``--band nir=N`` on an OLI SR_B5 file is no contradiction: nir stands for nir08."""
    pid = LANDSAT_IDS["LC09"]
    files = write_landsat(tmp_path, pid, ["SR_B4", "SR_B5"])
    scene = open_scene(files, bands={"red": 1, "nir": 2}, scale=SR[0], offset=SR[1])
    assert list(scene["band"].values) == ["red", "nir"]


def test_sentinel2_band_option_contradicting_the_tile_file_name(tmp_path):
    path = write_raster(
        tmp_path / "T33UUP_20220301T101839_B08_10m.tif", np.full(SHAPE, 3000, np.uint16)
    )
    with pytest.raises(SensorError, match="B08 of Sentinel-2 MSI is nir"):
        open_scene(path, bands={"red": 1}, scale=1e-4)


# ---------------------------------------------------------------- Sentinel-2

SAFE_POST = "S2A_MSIL2A_20220301T101841_N0400_R065_T33UUP_20220301T132434.SAFE"
SAFE_PRE = "S2B_MSIL2A_20211201T101319_N0301_R022_T33UUP_20211201T121111.SAFE"


def write_jp2(path: Path, value: int | np.ndarray) -> Path:
    """A lossless JPEG 2000 band as ESA ships them: ``value`` everywhere, or these values."""
    data = np.asarray(value, np.uint16)
    data = np.full(SHAPE, data, np.uint16) if data.ndim == 0 else data
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="JP2OpenJPEG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="uint16",
        crs=UTM33,
        transform=TRANSFORM,
        QUALITY=100,
        REVERSIBLE="YES",
    ) as ds:
        ds.write(data[None])
    return path


def write_safe(root: Path, safe: str, values: dict[str, int]) -> list[Path]:
    """Band files where a SAFE product keeps them: GRANULE/L2A_*/IMG_DATA/R10m/T..._B04_10m.jp2."""
    sensing = safe.split("_")[2]
    granule = root / safe / "GRANULE" / f"L2A_T33UUP_A035021_{sensing}" / "IMG_DATA" / "R10m"
    return [
        write_jp2(granule / f"T33UUP_{sensing}_{band}_10m.jp2", value)
        for band, value in values.items()
    ]


@pytest.mark.parametrize(("safe", "offset"), [(SAFE_POST, -0.1), (SAFE_PRE, 0.0)])
def test_safe_product_name_sets_the_baseline_offset(tmp_path, safe, offset):
    files = write_safe(tmp_path, safe, {"B04": 1800, "B08": 4200})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        scene = open_scene(files, sensor="sentinel2-l2a")
    assert list(scene["band"].values) == ["red", "nir"]
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.18 + offset, 0.42 + offset], rtol=1e-5)
    assert scene.attrs["offset"] == offset
    assert "processing baseline" in scene.attrs["sensor_basis"]
    red, nir = 0.18 + offset, 0.42 + offset
    ndvi = compute_indices(scene, ["ndvi"])["ndvi"].values
    np.testing.assert_allclose(ndvi, (nir - red) / (nir + red), rtol=1e-5)


def test_sentinel2_l2a_bands_named_as_documented(tmp_path):
    """All twelve L2A reflectance bands under their SAFE tile names get the names of the
    STAC eo table, each band reading its own file (distinct digital numbers)."""
    bands = [b for b in EO_BANDS["msi"] if b != "B10"]  # L2A drops the cirrus band
    folder = tmp_path / SAFE_POST / "GRANULE" / "L2A_T33UUP_A035021_20220301T101839" / "IMG_DATA"
    folder.mkdir(parents=True)
    files = [
        write_raster(folder / f"T33UUP_20220301T101839_{b}_20m.tif", np.full(SHAPE, 1100 + k, "u2"))
        for k, b in enumerate(bands)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        scene = open_scene(files, sensor="sentinel2-l2a")
    assert dict(zip(bands, scene["band"].values, strict=True)) == {
        b: EO_BANDS["msi"][b] for b in bands
    }
    expected = [(1100 + k - 1000) / 10000 for k in range(len(bands))]  # baseline >= 04.00
    np.testing.assert_allclose(scene.values[:, 0, 0], expected, rtol=1e-5)


MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <n1:General_Info>
    <Product_Info>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="GS2A_20210301T101021_029747_N05.00">
        <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
      </Datatake>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      <BOA_ADD_OFFSET_VALUES_LIST>
{offsets}
      </BOA_ADD_OFFSET_VALUES_LIST>
      <Spectral_Information_List>
        <Spectral_Information bandId="3" physicalBand="B4"/>
        <Spectral_Information bandId="7" physicalBand="B8"/>
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""


def test_mtd_msil2a_beside_the_files_gives_the_offsets(tmp_path):
    """A product sensed in 2021 and reprocessed at baseline 05.00: only the MTD says so."""
    offsets = "\n".join(f'<BOA_ADD_OFFSET band_id="{k}">-1000</BOA_ADD_OFFSET>' for k in range(13))
    (tmp_path / "MTD_MSIL2A.xml").write_text(MTD.format(baseline="05.00", offsets=offsets))
    files = [
        write_raster(tmp_path / f"T33UUP_20210301T101021_{b}_10m.tif", np.full(SHAPE, v, "u2"))
        for b, v in (("B04", 1800), ("B08", 4200))
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        scene = open_scene(files, sensor="sentinel2-l2a")
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.08, 0.32], rtol=1e-5)
    assert scene.attrs["sensor_basis"].endswith("MTD_MSIL2A.xml")
    assert scene.attrs["instrument"] == "Sentinel-2A MSI"


def test_old_tile_name_without_baseline_warns_and_offset_option_silences(tmp_path):
    path = write_raster(
        tmp_path / "T33UUP_20210301T101021_B04_10m.tif", np.full(SHAPE, 1800, np.uint16)
    )
    with pytest.warns(PresetAssumedWarning, match="--offset 0"):
        scene = open_scene(path, sensor="sentinel2-l2a")
    assert scene.values[0, 0, 0] == pytest.approx(0.08)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        scene = open_scene(path, sensor="sentinel2-l2a", offset=0.0)
    assert scene.values[0, 0, 0] == pytest.approx(0.18)
    assert scene.attrs["scaling"] == "options"


def test_element84_cog_names(tmp_path):
    """Element 84 COGs are ``B04.tif`` in a folder named for the item."""
    folder = tmp_path / "S2B_T33UUP_20240101T101439_L2A"
    folder.mkdir()
    files = [
        write_raster(folder / f"{b}.tif", np.full(SHAPE, v, np.uint16), nodata=0)
        for b, v in (("B04", 1800), ("B08", 4200), ("B11", 2500))
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        scene = open_scene(files, sensor="sentinel2-l2a")
    assert list(scene["band"].values) == ["red", "nir", "swir16"]
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.08, 0.32, 0.15], rtol=1e-5)
    with pytest.raises(SensorError, match="Sentinel-2B MSI product; --sensor landsat-c2-l2 reads"):
        open_scene(files, sensor="landsat-c2-l2")


def _asset(href: str, common: str, name: str, scale=None, offset=None) -> dict:
    asset = {
        "href": href,
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "eo:bands": [{"name": name, "common_name": common}],
    }
    if scale is not None:
        asset["raster:bands"] = [{"scale": scale, "offset": offset, "nodata": 0}]
    return asset


def _write_item(path: Path, item_id: str, props: dict, assets: dict) -> Path:
    doc = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "geometry": None,
        "properties": {"datetime": "2022-03-01T10:18:39Z", **props},
        "links": [],
        "assets": assets,
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("baseline", "raster_bands", "offset"),
    [("04.00", False, -0.1), ("03.01", False, 0.0), ("05.10", True, -0.1)],
)
def test_stac_s2_processing_baseline(tmp_path, baseline, raster_bands, offset):
    """Planetary Computer items say ``s2:processing_baseline``; Element 84's add raster:bands."""
    for b, v in (("B04", 1800), ("B08", 4200)):
        write_raster(tmp_path / f"{b}.tif", np.full(SHAPE, v, np.uint16), nodata=0)
    scaling = (1e-4, -0.1) if raster_bands else (None, None)
    assets = {
        "B04": _asset("B04.tif", "red", "B04", *scaling),
        "B08": _asset("B08.tif", "nir", "B08", *scaling),
    }
    props = {
        "platform": "sentinel-2a",
        "instruments": ["msi"],
        "s2:processing_baseline": baseline,
        "s2:product_uri": f"S2A_MSIL2A_20220301T101841_N{baseline.replace('.', '')}"
        "_R065_T33UUP_20220301T132434.SAFE",
    }
    item = _write_item(tmp_path / "item.json", "S2A_33UUP_20220301_0_L2A", props, assets)
    scene = open_scene(item, sensor="sentinel2-l2a")
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.18 + offset, 0.42 + offset], rtol=1e-5)
    assert scene.attrs["scaling"] == ("stac" if raster_bands else "sensor")
    with pytest.raises(SensorError, match="Sentinel-2A MSI product"):
        open_scene(item, sensor="landsat-c2-l2")


# ---------------------------------------------------------------- raw digital numbers


def test_integer_input_without_a_scale_warns_once(tmp_path):
    files = [
        write_raster(tmp_path / f"b{k}.tif", np.full(SHAPE, 1000 * k, np.uint16))
        for k in range(1, 5)
    ]
    bands = {"blue": 1, "green": 2, "red": 3, "nir": 4}
    with pytest.warns(UncalibratedWarning) as caught:
        scene = open_scene(files, bands=bands)
    raw = [w for w in caught if w.category is UncalibratedWarning]
    assert len(raw) == 1
    assert "--scale" in str(raw[0].message) and "--offset" in str(raw[0].message)
    assert str(files[0]) in str(raw[0].message)
    assert scene.attrs["scaling"] == "none"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        open_scene(files, bands=bands, scale=1e-4)  # the options say
        open_scene(files, bands=bands, offset=0.0)
        floats = write_raster(tmp_path / "f.tif", np.full(SHAPE, 0.2, np.float32))
        open_scene(floats, bands={"red": 1})  # already reflectance
        scaled = write_raster(tmp_path / "s.tif", np.full(SHAPE, 2000, np.uint16))
        with rasterio.open(scaled, "r+") as ds:
            ds.scales, ds.offsets = (1e-4,), (0.0,)
        assert open_scene(scaled, bands={"red": 1}).values[0, 0, 0] == pytest.approx(0.2)


def test_raw_dn_hint_names_the_preset_the_file_names_point_to(tmp_path):
    files = write_landsat(tmp_path, LANDSAT_IDS["LC09"], ["SR_B4", "SR_B5"])
    with pytest.warns(UncalibratedWarning, match="Landsat 9 OLI: --sensor landsat-c2-l2"):
        open_scene(files, bands={"red": 1, "nir": 2})


def test_raw_dn_warning_is_one_line_on_stderr(tmp_path):
    """A real run: the warning is one ``landmask: warning:`` line and the command succeeds."""
    files = [
        write_raster(tmp_path / f"b{k}.tif", np.full(SHAPE, 1000 * k, np.uint16))
        for k in range(1, 3)
    ]
    argv = [*map(str, files), "--band", "red=1", "--band", "nir=2", "--index", "ndvi"]
    code = (
        "import sys; from landmask.cli import main; sys.argv = ['landmask', *sys.argv[1:]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "indices", *argv, "-q", "-o", str(tmp_path / "i.tif")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("landmask: warning: ") and "--scale" in lines[0]
    assert (tmp_path / "i.tif").exists()


def test_mtd_offsets_that_differ_by_band_apply_per_band(tmp_path):
    offsets = "\n".join(
        f'<BOA_ADD_OFFSET band_id="{k}">{-500 if k == 7 else -1000}</BOA_ADD_OFFSET>'
        for k in range(13)
    )
    (tmp_path / "MTD_MSIL2A.xml").write_text(MTD.format(baseline="04.00", offsets=offsets))
    files = [
        write_raster(tmp_path / f"T33UUP_20220301T101839_{b}_10m.tif", np.full(SHAPE, v, "u2"))
        for b, v in (("B04", 1800), ("B08", 4200))
    ]
    scene = open_scene(files, sensor="sentinel2-l2a")
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.08, 0.37], rtol=1e-5)
    assert scene.attrs["scaling"] == "mixed"
    assert scene.attrs["band_scaling"] == {"red": [1e-4, -0.1], "nir": [1e-4, -0.05]}


def test_naip_quarter_quad_as_usda_names_it(tmp_path):
    """USDA / Planetary Computer NAIP: one 4-band 8-bit file, m_<quad>_<quarter>_..._<date>.tif."""
    data = np.stack([np.full(SHAPE, v, np.uint8) for v in (51, 102, 153, 204)])
    path = write_raster(tmp_path / "m_3807537_ne_18_060_20181104.tif", data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetAssumedWarning)
        warnings.simplefilter("error", UncalibratedWarning)
        scene = open_scene(path, sensor="naip")
    assert list(scene["band"].values) == ["red", "green", "blue", "nir"]
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.2, 0.4, 0.6, 0.8], rtol=1e-6)
    assert scene.attrs["sensor_variant"] == "naip" and scene.attrs["scaling"] == "sensor"
    assert "sensor_basis" not in scene.attrs
