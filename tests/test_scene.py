from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import TRANSFORM, UTM33, write_raster
from hypothesis import given, settings
from hypothesis import strategies as st

import landmask.io.read.reflectance
from landmask.errors import BandError, ConfigError, GridError, ReadError
from landmask.io.read.scene import aligned_chunks, open_scene, to_reflectance
from landmask.spectral.indices import band_reads
from landmask.synthetic import BANDS, S2_BAND_IDS


def test_multiband_sentinel2_names_bands_from_descriptions(s2_file, synthetic_small):
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    assert list(scene["band"].values) == list(BANDS)
    assert isinstance(scene.data, da.Array)
    assert scene.dtype == np.float32
    assert scene.rio.crs == UTM33
    assert scene.rio.transform() == TRANSFORM
    values = scene.values
    expected = synthetic_small.reflectance
    # DN = round((refl + 0.1) * 1e4): reflectance back within half a DN step
    np.testing.assert_allclose(values, expected, atol=0.5e-4 + 1e-6, equal_nan=True)
    assert np.array_equal(np.isnan(values), np.isnan(expected))


def test_pixel_centre_coordinates(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    assert scene.x.values[0] == TRANSFORM.c + 5.0
    assert scene.y.values[0] == TRANSFORM.f - 5.0
    assert scene.x.values[-1] == TRANSFORM.c + 10.0 * (scene.sizes["x"] - 0.5)


def test_single_band_files_named_by_suffix(s2_band_files, s2_file):
    shuffled = list(reversed(s2_band_files))
    scene = open_scene(shuffled, sensor="sentinel2-l2a")
    assert list(scene["band"].values) == list(reversed(BANDS))
    whole = open_scene(s2_file, sensor="sentinel2-l2a")
    np.testing.assert_array_equal(scene.sel(band="red").values, whole.sel(band="red").values)


@pytest.mark.parametrize("suffix", ["_B04.jp2", "_B04_10m.tif", "_b04.tif"])
def test_sentinel2_suffix_variants(tmp_path, suffix):
    data = np.full((1, 8, 8), 2000, np.uint16)
    if suffix.endswith(".jp2"):
        path = tmp_path / f"T33UUP{suffix}"
        with rasterio.open(
            path,
            "w",
            driver="JP2OpenJPEG",
            width=8,
            height=8,
            count=1,
            dtype="uint16",
            crs=UTM33,
            transform=TRANSFORM,
            QUALITY=100,
            REVERSIBLE="YES",
        ) as ds:
            ds.write(data)
    else:
        path = write_raster(tmp_path / f"T33UUP{suffix}", data, nodata=0)
    scene = open_scene(path, sensor="sentinel2-l2a")
    assert list(scene["band"].values) == ["red"]
    np.testing.assert_allclose(scene.values, 0.1, rtol=1e-6)


def test_landsat_suffix_scale_offset_and_nir08(tmp_path):
    files = []
    for b, dn in (("SR_B4", 10000), ("SR_B5", 20000)):
        files.append(
            write_raster(
                tmp_path / f"LC09_L2SP_190026_{b}.TIF", np.full((6, 6), dn, np.uint16), nodata=0
            )
        )
    scene = open_scene(files, sensor="landsat-c2-l2")
    assert list(scene["band"].values) == ["red", "nir08"]
    np.testing.assert_allclose(scene.sel(band="red").values, 10000 * 2.75e-5 - 0.2, rtol=1e-6)
    from landmask.spectral.indices import compute_indices

    ndvi = compute_indices(scene, ["ndvi"])["ndvi"].values
    red, nir = 10000 * 2.75e-5 - 0.2, 20000 * 2.75e-5 - 0.2
    np.testing.assert_allclose(ndvi, (nir - red) / (nir + red), rtol=1e-5)


def test_naip_band_order_and_scale(raster):
    data = np.stack([np.full((4, 4), v, np.uint8) for v in (51, 102, 153, 204)])
    scene = open_scene(raster("naip.tif", data), sensor="naip")
    assert list(scene["band"].values) == ["red", "green", "blue", "nir"]
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.2, 0.4, 0.6, 0.8], rtol=1e-6)


def test_generic_band_mapping_scale_offset_and_numbering_across_files(raster):
    a = raster(
        "a.tif", np.stack([np.full((5, 5), 100, np.uint16), np.full((5, 5), 200, np.uint16)])
    )
    b = raster("b.tif", np.full((5, 5), 300, np.uint16))
    scene = open_scene([a, b], bands={"red": 2, "nir": 3}, scale=0.001, offset=0.05)
    assert list(scene["band"].values) == ["red", "nir"]
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.25, 0.35], rtol=1e-6)


def test_nodata_per_band_becomes_nan(raster):
    data = np.array([[[0, 5], [7, 9]], [[3, 65535], [4, 4]]], dtype=np.uint16)
    a = raster("a.tif", data[0], nodata=0)
    b = raster("b.tif", data[1], nodata=65535)
    values = open_scene([a, b], bands={"red": 1, "nir": 2}).values
    assert np.isnan(values[0, 0, 0]) and not np.isnan(values[0, 0, 1])
    assert np.isnan(values[1, 0, 1]) and not np.isnan(values[1, 0, 0])
    assert np.isnan(values).sum() == 2


def test_float_input_nan_stays_nan(raster):
    data = np.array([[np.nan, 0.5]], dtype=np.float32)
    values = open_scene(raster("f.tif", data), bands={"red": 1}).values
    assert np.isnan(values[0, 0, 0]) and values[0, 0, 1] == 0.5


def test_chunks_are_whole_blocks(raster):
    data = np.zeros((3, 200, 300), np.uint16)
    path = raster("t.tif", data, blocksize=64, descriptions=("red", "green", "nir"))
    scene = open_scene(path, chunk_size=100)
    assert scene.chunks[1] == (128, 72)
    assert scene.chunks[2] == (128, 128, 44)
    assert scene.chunks[0] == (3,)


def test_aligned_chunks_striped_and_errors():
    assert aligned_chunks(10, 4, 10) == (4, 4, 2)  # a block as long as the axis: no alignment
    assert aligned_chunks(10, 100, 1) == (10,)
    assert aligned_chunks(1000, 10, 256) == (256, 256, 256, 232)
    with pytest.raises(ConfigError):
        aligned_chunks(10, 0, 1)


def test_vrt_input(s2_file, tmp_path):
    import rasterio.shutil

    vrt = tmp_path / "scene.vrt"
    rasterio.shutil.copy(s2_file, vrt, driver="VRT")
    scene = open_scene(vrt, sensor="sentinel2-l2a")
    np.testing.assert_array_equal(scene.values, open_scene(s2_file, sensor="sentinel2-l2a").values)


def test_opening_reads_no_pixels(s2_file, monkeypatch):
    import landmask.io.read.reflectance as scene_mod

    calls = []
    real = scene_mod.read_reflectance
    monkeypatch.setattr(scene_mod, "read_reflectance", lambda *a: calls.append(1) or real(*a))
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)
    assert calls == []
    scene.isel(x=slice(0, 10), y=slice(0, 10)).compute()
    assert len(calls) == 1  # only the one chunk holding the window


def test_reflectance_block_function_never_wraps_unsigned():
    raw = np.array([[0, 1, 65535]], dtype=np.uint16)
    out = np.empty(raw.shape, np.float32)
    to_reflectance(raw, 1e-4, -0.1, 0, out)
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out[0, 1:], [1e-4 - 0.1, 6.5535 - 0.1], rtol=1e-6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**16),
    shape=st.sampled_from([(), (1,), (7,), (3, 5), (300, 7), (70000,), (2, 40000)]),
    strip=st.sampled_from([1, 16, 1 << 16]),
    dtype=st.sampled_from(["uint8", "uint16", "int16", "int32", "float32"]),
    offset=st.sampled_from([0.0, -0.1, 1000.0]),
    # as files give it (floats), in and out of each dtype's range, and not whole
    nodata=st.sampled_from(
        [None, 0, 3, float("nan"), 3.0, 3.5, -1.0, 255.0, 65535.0, -9999.0, 1e20, np.float64(3)]
    ),
)
def test_reflectance_strips_equal_one_pass_over_the_block(
    seed, shape, strip, dtype, offset, nodata
):
    # worked through in strips of rows for the cache: the same values as whole-array numpy
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 50, shape).astype(dtype)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(landmask.io.read.reflectance, "REFLECTANCE_STRIP", strip)
        out = to_reflectance(raw, 2.75e-5, offset, nodata, np.empty(raw.shape, np.float32))
    want = raw.astype(np.float32) * np.float32(2.75e-5)
    if offset:
        want = want + np.float32(offset)
    if nodata is not None and not np.isnan(nodata):
        want = np.where(raw == nodata, np.float32(np.nan), want)
    np.testing.assert_array_equal(out, want)


def test_missing_file():
    with pytest.raises(ReadError, match="no such file"):
        open_scene("/nonexistent/scene.tif", sensor="sentinel2-l2a")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(ReadError, match=r"bad\.tif"):
        open_scene(bad, sensor="sentinel2-l2a")


def test_grid_mismatch_names_the_file(raster):
    a = raster("a.tif", np.ones((5, 5), np.uint16), descriptions=("red",))
    shifted = TRANSFORM @ Affine.translation(1, 0)
    b = raster("b.tif", np.ones((5, 5), np.uint16), transform=shifted, descriptions=("nir",))
    with pytest.raises(GridError, match=r"b\.tif.*transform"):
        open_scene([a, b])
    c = raster("c.tif", np.ones((5, 6), np.uint16), descriptions=("nir",))
    with pytest.raises(GridError, match="size"):
        open_scene([a, c])
    d = raster("d.tif", np.ones((5, 5), np.uint16), crs="EPSG:32632", descriptions=("nir",))
    with pytest.raises(GridError, match="CRS"):
        open_scene([a, d])


def test_ungeoreferenced_refused_unless_allowed(raster):
    path = raster("plain.tif", np.ones((4, 4), np.uint16), crs=None, transform=None)
    with pytest.raises(GridError, match="georeferencing"):
        open_scene(path, bands={"red": 1})
    scene = open_scene(path, bands={"red": 1}, allow_ungeoreferenced=True)
    assert scene.shape == (1, 4, 4)


def test_band_errors(raster):
    path = raster("x.tif", np.ones((2, 4, 4), np.uint16))
    with pytest.raises(BandError, match="out of range"):
        open_scene(path, bands={"red": 3})
    with pytest.raises(BandError, match="cannot tell which band"):
        open_scene(path)
    with pytest.raises(BandError, match="both named"):
        open_scene(raster("y.tif", np.ones((2, 4, 4), np.uint16), descriptions=("red", "red")))
    with pytest.raises(ConfigError, match="unknown sensor"):
        open_scene(path, sensor="modis")


def test_descriptions_as_s2_ids(tmp_path, synthetic_small):
    assert S2_BAND_IDS[2] == "B04"
    path = write_raster(
        tmp_path / "x.tif", np.ones((2, 3, 3), np.uint16), descriptions=("B04", "B08")
    )
    assert list(open_scene(path, sensor="sentinel2-l2a")["band"].values) == ["red", "nir"]


def test_paths_accept_pathlib(s2_file):
    assert open_scene(Path(s2_file), sensor="sentinel2-l2a").sizes["band"] == 6


def test_needs_keeps_only_the_bands_read(s2_band_files, monkeypatch):
    import rasterio as rio

    scene = open_scene(s2_band_files, sensor="sentinel2-l2a", needs=band_reads(["ndvi", "blue"]))
    assert list(scene["band"].values) == ["blue", "red", "nir"]
    opened = []
    real_open = rio.open
    monkeypatch.setattr(
        rio, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k)
    )
    scene.compute()
    assert sorted({Path(p).name.split("_")[2] for p in opened}) == ["B02", "B04", "B08"]
    with pytest.raises(BandError, match=r"_B02_10m\.tif.*'swir16'"):
        open_scene(s2_band_files[:4], sensor="sentinel2-l2a", needs=band_reads(["mndwi"]))
