"""Multi-resolution scenes: 20 m bands on the 10 m grid, and a scene at a chosen resolution."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import TRANSFORM, UTM33

from landmask.cli import run
from landmask.errors import ConfigError, GridError
from landmask.io.read.resample import axis_coords, resample_block, source_span
from landmask.io.read.scene import open_scene

T20 = Affine(20.0, 0.0, TRANSFORM.c, 0.0, -20.0, TRANSFORM.f)
H20, W20 = 6, 5  # the 20 m grid; the 10 m grid is 12 x 10 over the same extent


def ramp20() -> np.ndarray:
    rows, cols = np.mgrid[0:H20, 0:W20]
    return (100 + 10 * cols + 1000 * rows).astype(np.uint16)


@pytest.fixture
def s2_multires(raster):
    """B04 (10 m), B11 (20 m, a linear ramp) and SCL (20 m, classes) of one S2 tile."""
    red = np.arange(1, 121, dtype=np.uint16).reshape(12, 10)
    scl = np.arange(H20 * W20, dtype=np.uint8).reshape(H20, W20) % 12
    return {
        "red": raster("T33UUP_B04_10m.tif", red, nodata=0),
        "swir16": raster("T33UUP_B11_20m.tif", ramp20(), transform=T20, nodata=0),
        "scl": raster("T33UUP_SCL_20m.tif", scl, transform=T20),
        "red_dn": red,
        "scl_dn": scl,
    }


def _open(files, **kw):
    paths = [files["red"], files["swir16"], files["scl"]]
    kw.setdefault("scale", 1.0)
    kw.setdefault("offset", 0.0)
    return open_scene(paths, sensor="sentinel2-l2a", **kw)


def test_twenty_metre_bands_on_the_ten_metre_grid(s2_multires):
    scene = _open(s2_multires, chunk_size=4)
    assert list(scene["band"].values) == ["red", "swir16", "scl"]
    assert scene.shape == (3, 12, 10)
    assert scene.rio.transform() == TRANSFORM and scene.rio.crs == UTM33
    values = scene.values
    np.testing.assert_array_equal(values[0], s2_multires["red_dn"])
    # nearest: every 20 m SCL pixel becomes exactly 2x2 pixels
    np.testing.assert_array_equal(values[2], np.kron(s2_multires["scl_dn"], np.ones((2, 2))))
    # bilinear on a ramp: 10 m pixel j has its centre at 20 m coordinate j/2 - 1/4
    # (held at the edge beyond the outermost 20 m centres)
    u = np.clip(np.arange(10) / 2 - 0.25, 0, W20 - 1)
    v = np.clip(np.arange(12) / 2 - 0.25, 0, H20 - 1)
    expected = 100 + 10 * u[None, :] + 1000 * v[:, None]
    np.testing.assert_allclose(values[1], expected, rtol=0, atol=1e-3)
    assert values[1, 3, 3] == pytest.approx(100 + 10 * 1.25 + 1000 * 1.25)


@pytest.mark.parametrize("chunk", [1, 3, 4, 5, 7, 64])
def test_resampling_does_not_depend_on_chunk_size(s2_multires, chunk):
    whole = _open(s2_multires, chunk_size=64).values
    np.testing.assert_array_equal(_open(s2_multires, chunk_size=chunk).values, whole)


def test_nodata_spreads_only_to_pixels_it_weighs_on(raster):
    ten = raster("a_B04_10m.tif", np.ones((12, 10), np.uint16), nodata=0)
    dn = ramp20()
    dn[2, 2] = 0  # nodata at the 20 m pixel centred on 10 m coordinate (4.5, 4.5)
    twenty = raster("a_B11_20m.tif", dn, transform=T20, nodata=0)
    for chunk in (3, 64):
        swir = open_scene([ten, twenty], sensor="sentinel2-l2a", chunk_size=chunk).values[1]
        nan_rows, nan_cols = np.nonzero(np.isnan(swir))
        # 10 m pixels 3..6 have 20 m coordinates 1.25, 1.75, 2.25, 2.75: all weigh on pixel 2
        assert set(nan_rows) == {3, 4, 5, 6} and set(nan_cols) == {3, 4, 5, 6}
        assert np.isnan(swir).sum() == 16


def test_resolution_twenty_averages_two_by_two(s2_multires):
    scene = _open(s2_multires, resolution=20, chunk_size=2)
    assert scene.shape == (3, H20, W20)
    assert scene.rio.transform() == T20
    values = scene.values
    # bilinear at the shared corner of four 10 m pixels is their mean
    red = s2_multires["red_dn"].astype(np.float64).reshape(H20, 2, W20, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(values[0], red, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(values[1], ramp20())  # already on the grid: read as is
    np.testing.assert_array_equal(values[2], s2_multires["scl_dn"])


def test_resolution_must_be_positive(s2_multires):
    with pytest.raises(ConfigError, match="--resolution"):
        _open(s2_multires, resolution=0)


def test_resolution_needs_georeferencing(raster):
    path = raster("plain.tif", np.ones((4, 4), np.uint16), crs=None, transform=None)
    with pytest.raises(ConfigError, match=r"--resolution 2.*georeferencing"):
        open_scene(path, bands={"red": 1}, allow_ungeoreferenced=True, resolution=2)


def test_coarser_band_on_another_extent_is_refused(raster):
    ten = raster("b_B04_10m.tif", np.ones((12, 10), np.uint16))
    moved = T20 * Affine.translation(3, 0)
    twenty = raster("b_B11_20m.tif", ramp20(), transform=moved)
    with pytest.raises(GridError, match=r"b_B11_20m\.tif.*extents differ"):
        open_scene([ten, twenty], sensor="sentinel2-l2a")


def test_windowed_block_equals_whole_block():
    rng = np.random.default_rng(0)
    src = rng.random((9, 7)).astype(np.float32)
    rows_all = axis_coords(0.0, -10.0, 0.0, -30.0, 0, 27)
    cols_all = axis_coords(0.0, 10.0, 0.0, 30.0, 0, 21)
    for method in ("nearest", "bilinear"):
        whole = resample_block(
            src, rows_all, cols_all, row_offset=0, col_offset=0, src_height=9, src_width=7,
            method=method,
        )  # fmt: skip
        for _ in range(20):
            r0, c0 = rng.integers(0, 26), rng.integers(0, 20)
            r1, c1 = rng.integers(r0 + 1, 28), rng.integers(c0 + 1, 22)
            rows, cols = rows_all[r0:r1], cols_all[c0:c1]
            (a, b), (c, d) = source_span(rows, 9, method), source_span(cols, 7, method)
            part = resample_block(
                src[a:b, c:d], rows, cols, row_offset=a, col_offset=c, src_height=9,
                src_width=7, method=method,
            )  # fmt: skip
            np.testing.assert_array_equal(part, whole[r0:r1, c0:c1])


def test_classify_cli_resolution(s2_band_files, tmp_path, capsys):
    out = tmp_path / "mask20.tif"
    args = ["classify", *map(str, s2_band_files), "--sensor", "sentinel2-l2a", "-q"]
    code = run([*args, "--resolution", "20", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    with rasterio.open(out) as ds:
        assert ds.transform == T20 and ds.crs == UTM33
        assert (ds.height, ds.width) == (150, 170)  # the 300x340 scene at 20 m
