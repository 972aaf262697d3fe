"""landmask apply: cutout, blur and crop by class, on one grid, chunk-size independent."""

from __future__ import annotations

import os
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from affine import Affine
from conftest import TRANSFORM, UTM33, sha256
from rasterio.crs import CRS
from scipy import ndimage

from landmask.classes import WORLDCOVER
from landmask.cli import run
from landmask.errors import ConfigError, GridError, InputError
from landmask.io.read.masks import open_image, open_mask
from landmask.products.apply import apply_mask, crop_window

H, W = 40, 50
OTHER, FOREST, URBAN, WATER = 0, 1, 2, 3


@pytest.fixture
def classes() -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[7:13, 20:30] = WATER  # rows 7..12, cols 20..29
    mask[30:35, 3:6] = FOREST  # rows 30..34, cols 3..5
    mask[0:5, 40:50] = URBAN
    mask[20, :] = 255  # a nodata row
    return mask


@pytest.fixture
def pixels() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.integers(1, 10000, size=(3, H, W), dtype=np.uint16)


@pytest.fixture
def files(raster, classes, pixels) -> tuple[Path, Path]:
    image = raster("image.tif", pixels, nodata=0, blocksize=16, descriptions=["b", "g", "r"])
    mask = raster("mask.tif", classes, nodata=255, blocksize=16)
    return image, mask


def grid(data: np.ndarray, chunks: int) -> xr.DataArray:
    dims = ("band", "y", "x") if data.ndim == 3 else ("y", "x")
    coords = {
        "y": 5400000.0 - 10 * (np.arange(H) + 0.5),
        "x": 500000.0 + 10 * (np.arange(W) + 0.5),
    }
    arr = xr.DataArray(da.from_array(data, chunks=chunks), dims=dims, coords=coords)
    return arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM)


@pytest.mark.parametrize("chunks", [7, 16, 64])
def test_crop_window_and_transform_are_exact(classes, pixels, chunks):
    out = apply_mask(grid(pixels, chunks), grid(classes, chunks), keep="water,forest", mode="crop")
    # kept pixels span rows 7..34 and columns 3..29
    assert out.shape == (3, 28, 27)
    assert out.rio.transform() == Affine(10.0, 0.0, 500030.0, 0.0, -10.0, 5399930.0)
    assert out.rio.transform() == TRANSFORM @ Affine.translation(3, 7)
    np.testing.assert_array_equal(out.values, pixels[:, 7:35, 3:30])
    assert out.rio.crs == UTM33
    # coordinates are the pixel centres of the window
    assert float(out.x[0]) == 500035.0 and float(out.y[0]) == 5399925.0


def test_crop_window_reduction_matches_numpy_for_any_chunking():
    rng = np.random.default_rng(5)
    for _ in range(20):
        kept = np.zeros((rng.integers(1, 60), rng.integers(1, 60)), bool)
        n = int(rng.integers(1, 4))
        kept[rng.integers(0, kept.shape[0], n), rng.integers(0, kept.shape[1], n)] = True
        rows, cols = np.nonzero(kept)
        chunks = (int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        window = crop_window(da.from_array(kept, chunks=chunks))
        assert (window.row_off, window.col_off) == (rows.min(), cols.min())
        assert window.height == rows.max() - rows.min() + 1
        assert window.width == cols.max() - cols.min() + 1
    with pytest.raises(InputError, match="nothing to crop"):
        crop_window(da.zeros((5, 5), dtype=bool, chunks=2))


@pytest.mark.parametrize("chunks", [7, 64])
def test_cutout_is_pixel_exact(classes, pixels, chunks):
    image = grid(pixels, chunks).rio.write_nodata(0)
    out = apply_mask(image, grid(classes, chunks), keep=["water", 1], mode="cutout")
    kept = np.isin(classes, [WATER, FOREST])
    assert out.dtype == np.uint16 and out.rio.nodata == 0
    np.testing.assert_array_equal(out.values, np.where(kept, pixels, 0))
    # without an image nodata: NaN for floats, or the value asked for
    floats = grid(pixels.astype(np.float32), chunks)
    cut = apply_mask(floats, grid(classes, chunks), keep="urban").values
    np.testing.assert_array_equal(np.isnan(cut), np.broadcast_to(classes != URBAN, cut.shape))
    chosen = apply_mask(grid(pixels, chunks), grid(classes, chunks), keep="urban", nodata=65535)
    assert chosen.rio.nodata == 65535
    np.testing.assert_array_equal(chosen.values, np.where(classes == URBAN, pixels, 65535))


def test_blur_keeps_kept_pixels_and_equals_the_whole_image_blur(classes, pixels):
    sigma = 2.0
    whole = ndimage.gaussian_filter(pixels.astype(np.float32), sigma=(0, sigma, sigma))
    expected_outside = np.clip(np.rint(whole), 0, 65535).astype(np.uint16)
    kept = classes == WATER
    results = []
    for chunks in (6, 16, 64):
        out = apply_mask(
            grid(pixels, chunks), grid(classes, chunks), keep="water", mode="blur", sigma=sigma
        )
        values = out.values
        assert values.dtype == np.uint16
        np.testing.assert_array_equal(values[:, kept], pixels[:, kept])  # bit for bit
        np.testing.assert_array_equal(values[:, ~kept], expected_outside[:, ~kept])
        results.append(values)
    assert (results[0][:, ~kept] != pixels[:, ~kept]).mean() > 0.9  # actually blurred
    np.testing.assert_array_equal(results[0], results[2])
    with pytest.raises(ConfigError, match="sigma"):
        apply_mask(grid(pixels, 8), grid(classes, 8), keep="water", mode="blur", sigma=0)


def test_image_and_mask_must_share_the_grid(classes, pixels):
    image = grid(pixels, 16)
    shifted = grid(classes, 16).assign_coords(x=lambda d: d.x + 10.0)
    with pytest.raises(GridError, match="not on one grid: transform"):
        apply_mask(image, shifted, keep="water")
    other_crs = grid(classes, 16).rio.write_crs(CRS.from_epsg(32632))
    with pytest.raises(GridError, match="CRS"):
        apply_mask(image, other_crs, keep="water")
    with pytest.raises(GridError, match="size 49x40 instead of 50x40"):
        apply_mask(image, grid(classes, 16)[:, :-1], keep="water")
    with pytest.raises(ConfigError, match="unknown class"):
        apply_mask(image, grid(classes, 16), keep="lava")
    with pytest.raises(ConfigError, match="mode"):
        apply_mask(image, grid(classes, 16), keep="water", mode="erase")  # type: ignore[arg-type]
    # names come from the mask's scheme
    wc = grid(np.where(classes == WATER, 80, 10).astype(np.uint8), 16)
    out = apply_mask(image, wc.assign_attrs(class_scheme="worldcover"), keep="tree_cover")
    assert out.values[0, 8, 21] == 0 and out.values[0, 0, 0] == pixels[0, 0, 0]
    out = apply_mask(image, wc, keep="permanent_water_bodies", scheme=WORLDCOVER, mode="crop")
    assert out.shape == (3, 6, 10)


def test_cli_crop_writes_the_window(files, pixels, tmp_path, capsys):
    image, mask = files
    before = sha256(image), sha256(mask)
    out = tmp_path / "crop.tif"
    argv = ["apply", str(image), str(mask), "-o", str(out), "--keep", "water,forest"]
    assert run([*argv, "--mode", "crop", "--chunk-size", "16"]) == 0
    assert "crop" in capsys.readouterr().out
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height, ds.count) == (27, 28, 3)
        assert ds.transform == Affine(10.0, 0.0, 500030.0, 0.0, -10.0, 5399930.0)
        assert ds.crs == UTM33 and ds.nodata == 0 and ds.dtypes[0] == "uint16"
        assert ds.descriptions == ("b", "g", "r")
        assert ds.tags()["LANDMASK_APPLY"] == "crop keep=1,3"
        np.testing.assert_array_equal(ds.read(), pixels[:, 7:35, 3:30])
    assert (sha256(image), sha256(mask)) == before


def test_cli_cutout_and_blur(files, pixels, classes, tmp_path):
    image, mask = files
    cut, blur = tmp_path / "cut.tif", tmp_path / "blur.tif"
    base = ["apply", str(image), str(mask), "--keep", "urban", "-q", "--chunk-size", "16"]
    assert run([*base, "-o", str(cut)]) == 0
    assert run([*base, "-o", str(blur), "--mode", "blur", "--sigma", "1.5"]) == 0
    kept = classes == URBAN
    with rasterio.open(cut) as ds:
        assert ds.transform == TRANSFORM and ds.nodata == 0
        np.testing.assert_array_equal(ds.read(), np.where(kept, pixels, 0))
    with rasterio.open(blur) as ds:
        values = ds.read()
        np.testing.assert_array_equal(values[:, kept], pixels[:, kept])
        assert (values[:, ~kept] != pixels[:, ~kept]).any()
    assert sorted(os.listdir(tmp_path)) == [
        "blur.tif",
        "blur.tif.stac.json",  # the STAC items (landmask.io.companions)
        "cut.tif",
        "cut.tif.stac.json",
        "image.tif",
        "mask.tif",
    ]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_cli_bad_input_is_one_line_and_exit_2(files, raster, classes, tmp_path, capsys):
    image, mask = files
    out = tmp_path / "out.tif"
    shifted = raster("shifted.tif", classes, transform=TRANSFORM @ Affine.translation(0, 2))
    small = raster("small.tif", classes[:-1], nodata=255)
    cases = [
        ([str(image), str(shifted), "--keep", "water"], "not on one grid"),
        ([str(image), str(small), "--keep", "water"], "not on one grid"),
        ([str(image), str(mask), "--keep", "lava"], "unknown class"),
        ([str(image), str(mask), "--keep", "cloud", "--mode", "crop"], "nothing to crop"),
        ([str(image), str(tmp_path / "nope.tif"), "--keep", "water"], "no such file"),
        ([str(image), str(image), "--keep", "water"], "not a mask"),
        ([str(image), str(mask), "--keep", "water", "--mode", "smudge"], "--mode"),
    ]
    for args, needle in cases:
        assert run(["apply", *args, "-o", str(out)]) == 2, args
        assert needle in one_error_line(capsys), args
        assert not out.exists()
    out.write_bytes(b"keep me")
    assert run(["apply", str(image), str(mask), "--keep", "water", "-o", str(out)]) == 2
    assert "--overwrite" in one_error_line(capsys)
    assert out.read_bytes() == b"keep me"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_open_image_keeps_dtype_and_is_lazy(files):
    image, mask = files
    arr = open_image(image, chunk_size=16)
    assert arr.dtype == np.uint16 and arr.shape == (3, H, W)
    assert isinstance(arr.data, da.Array) and arr.data.chunks[1][0] == 16
    assert open_mask(mask, 16).rio.transform() == arr.rio.transform()


def test_blur_leaves_image_nodata_alone(classes, pixels):
    holes = pixels.copy()
    holes[:, 35:, 40:] = 0  # an image nodata corner, outside the kept classes
    image = grid(holes, 16).rio.write_nodata(0)
    out = apply_mask(image, grid(classes, 16), keep="water", mode="blur", sigma=1.0).values
    assert (out[:, 35:, 40:] == 0).all()
    assert (out[:, 34, 40:] > 0).all()  # blurred next to it


def test_large_output_has_averaged_overviews(raster, tmp_path):
    rng = np.random.default_rng(2)
    pixels = rng.integers(1, 1000, size=(2, 700, 600), dtype=np.uint16)
    classes = np.zeros((700, 600), np.uint8)
    classes[:350] = WATER
    image = raster("big.tif", pixels, nodata=0, blocksize=256)
    mask = raster("big-mask.tif", classes, nodata=255, blocksize=256)
    out = tmp_path / "big-out.tif"
    argv = ["apply", str(image), str(mask), "--keep", "water", "-o", str(out), "-q"]
    assert run([*argv, "--chunk-size", "256"]) == 0
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2]
        assert ds.block_shapes[0] == (512, 512)
        np.testing.assert_array_equal(ds.read(), np.where(classes == WATER, pixels, 0))
    with rasterio.open(out, overview_level=0) as ov:
        level = ov.read(1)
    # the cut half stays nodata in the overview; the kept half is the 2x2 mean
    assert (level[176:] == 0).all()
    expected = pixels[0, :350].reshape(175, 2, 300, 2).mean(axis=(1, 3))
    assert np.abs(level[:175].astype(float) - expected).max() <= 1


def test_apply_mask_is_exported_from_the_package():
    import landmask
    import landmask.products.apply

    assert landmask.apply_mask is landmask.products.apply.apply_mask
    assert "apply_mask" in landmask.__all__ and "apply_mask" in dir(landmask)
