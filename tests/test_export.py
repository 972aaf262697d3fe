"""landmask export: grayscale class ids or RGBA colours, exact georeferencing, chunked."""

from __future__ import annotations

import os
from pathlib import Path

import conftest
import dask
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from conftest import TRANSFORM, UTM33, sha256
from dask.callbacks import Callback
from rasterio.enums import ColorInterp

from landmask.classes import LANDCOVER, WORLDCOVER
from landmask.cli import run
from landmask.io.write.overviews import mode2x2
from landmask.io.write.rasters import write_mask
from landmask.products.export import colorize_block, export_mask, rgba_table

SHAPE = (1100, 1300)  # more than two tiles a side: two overview levels


def as_mask(data: np.ndarray, chunks: int = 300) -> xr.DataArray:
    return conftest.as_mask(data, chunks=chunks)


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    rng = np.random.default_rng(7)
    # blocks of classes with speckle, so overviews have both uniform and mixed cells
    coarse = rng.choice(np.array([0, 1, 2, 3, 254, 255], np.uint8), size=(23, 27))
    data = np.kron(coarse, np.ones((50, 50), np.uint8))[: SHAPE[0], : SHAPE[1]]
    speckle = rng.random(SHAPE) < 0.1
    data[speckle] = rng.choice(np.array([0, 1, 2, 3, 255], np.uint8), size=int(speckle.sum()))
    return data


@pytest.fixture
def mask_file(tmp_path: Path, ids: np.ndarray) -> Path:
    return write_mask(as_mask(ids), tmp_path / "mask.tif").path


def test_rgba_table_and_block_function():
    table = rgba_table(WORLDCOVER)
    assert tuple(table[10]) == (0, 100, 0, 255)  # tree cover #006400
    assert tuple(table[80]) == (0, 100, 200, 255)
    assert tuple(table[255]) == (0, 0, 0, 0)
    assert tuple(table[7]) == (0, 0, 0, 255)  # no class of the scheme: opaque black
    block = np.array([[[10, 255], [80, 7]]], np.uint8)
    rgba = colorize_block(block, table)
    assert rgba.shape == (4, 2, 2) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[:, 0, 0], [0, 100, 0, 255])
    np.testing.assert_array_equal(rgba[3], [[255, 0], [255, 255]])


def test_grayscale_export_is_the_class_ids(mask_file, ids, tmp_path):
    out = tmp_path / "gray.tif"
    result = export_mask(mask_file, out, chunk_size=256)
    values, counts = np.unique(ids, return_counts=True)
    assert result.counts == dict(zip(values.tolist(), counts.tolist(), strict=True))
    with rasterio.open(out) as ds:
        assert (ds.count, ds.dtypes[0], ds.nodata) == (1, "uint8", 255)
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
        assert ds.colorinterp == (ColorInterp.gray,)
        with pytest.raises(ValueError):
            ds.colormap(1)  # grayscale: no colour table
        assert ds.block_shapes == [(512, 512)] and ds.compression.name == "deflate"
        assert ds.tags()["CLASS_1"] == "forest" and ds.tags()["CLASS_SCHEME"] == "landcover"
        assert ds.overviews(1) == [2, 4]
        np.testing.assert_array_equal(ds.read(1), ids)
    assert {"gray.qml", "gray.tif.aux.xml"} <= set(os.listdir(tmp_path))


def test_rgb_export_paints_every_pixel_and_overview(mask_file, ids, tmp_path):
    before = sha256(mask_file)
    out = tmp_path / "rgb.tif"
    export_mask(mask_file, out, rgb=True, chunk_size=256)
    table = rgba_table(LANDCOVER)
    with rasterio.open(out) as ds:
        assert (ds.count, ds.dtypes, ds.nodata) == (4, ("uint8",) * 4, None)
        assert ds.colorinterp == (
            ColorInterp.red,
            ColorInterp.green,
            ColorInterp.blue,
            ColorInterp.alpha,
        )
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
        assert ds.block_shapes[0] == (512, 512) and ds.compression.name == "deflate"
        rgba = ds.read()
        np.testing.assert_array_equal(rgba, np.moveaxis(table[ids], -1, 0))
        assert (rgba[3][ids == 255] == 0).all() and (rgba[3][ids != 255] == 255).all()
        assert ds.overviews(1) == [2, 4]
    # the first overview is the mode of the ids, painted: always a class colour
    with rasterio.open(out, overview_level=0) as ov:
        level = ov.read()
    np.testing.assert_array_equal(level, np.moveaxis(table[mode2x2(ids, 255)], -1, 0))
    assert sha256(mask_file) == before
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


class MaxBlock(Callback):
    """Records the largest array any task returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        if isinstance(result, np.ndarray):
            self.largest = max(self.largest, result.nbytes)


def test_rgb_export_is_chunked_and_independent_of_chunk_size(mask_file, ids, tmp_path):
    outs = []
    for chunk in (256, 1024):
        out = tmp_path / f"rgb{chunk}.tif"
        with dask.config.set(scheduler="threads"), MaxBlock() as seen:
            export_mask(mask_file, out, rgb=True, chunk_size=chunk)
        assert seen.largest <= 4 * 1024 * 1024  # one tile-aligned RGBA chunk at most
        assert seen.largest < 4 * ids.size  # never the whole raster
        with rasterio.open(out) as ds:
            outs.append(ds.read())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_export_of_a_worldcover_mask_uses_its_scheme(tmp_path):
    data = np.array([[10, 50], [80, 255]], np.uint8)
    wc = write_mask(as_mask(data, 1), tmp_path / "wc.tif", scheme=WORLDCOVER).path
    export_mask(wc, tmp_path / "wc-rgb.tif", rgb=True)
    with rasterio.open(tmp_path / "wc-rgb.tif") as ds:
        np.testing.assert_array_equal(ds.read()[:, :, 0].T, [[0, 100, 0, 255], [0, 100, 200, 255]])
        assert ds.tags()["CLASS_SCHEME"] == "worldcover"


def test_cli_export(mask_file, tmp_path, capsys):
    out = tmp_path / "out.tif"
    assert run(["export", str(mask_file), "-o", str(out), "--rgb"]) == 0
    assert "RGBA" in capsys.readouterr().out
    with rasterio.open(out) as ds:
        assert ds.count == 4
    # an existing output needs --overwrite
    assert run(["export", str(mask_file), "-o", str(out), "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run(["export", str(mask_file), "-o", str(out), "-q", "--overwrite"]) == 0
    with rasterio.open(out) as ds:
        assert ds.count == 1
    # the output may not be the input; a non-mask is refused in one line
    assert run(["export", str(mask_file), "-o", str(mask_file), "-q", "--overwrite"]) == 2
    image = tmp_path / "image.tif"
    with rasterio.open(
        image,
        "w",
        driver="GTiff",
        width=2,
        height=2,
        count=3,
        dtype="uint16",
        crs=UTM33,
        transform=TRANSFORM,
    ) as ds:
        ds.write(np.ones((3, 2, 2), np.uint16))
    capsys.readouterr()
    assert run(["export", str(image), "-o", str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a mask" in err
    assert run(["export", str(mask_file), "-o", str(tmp_path / "y.tif"), "--scheme", "x"]) == 2
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "y.tif").exists()


def test_export_of_an_esa_tile_turns_its_nodata_into_255(raster, tmp_path):
    tile = raster("esa.tif", np.array([[10, 0], [80, 50]], np.uint8), nodata=0)
    export_mask(tile, tmp_path / "gray.tif", scheme=WORLDCOVER)
    export_mask(tile, tmp_path / "rgb.tif", rgb=True, scheme=WORLDCOVER)
    with rasterio.open(tmp_path / "gray.tif") as ds:
        assert ds.nodata == 255
        np.testing.assert_array_equal(ds.read(1), [[10, 255], [80, 50]])
    with rasterio.open(tmp_path / "rgb.tif") as ds:
        np.testing.assert_array_equal(ds.read(4), [[255, 0], [255, 255]])
        np.testing.assert_array_equal(ds.read()[:, 1, 1], [250, 0, 0, 255])


def test_export_mask_is_exported_from_the_package():
    import landmask
    import landmask.products.export

    assert landmask.export_mask is landmask.products.export.export_mask
    assert "export_mask" in landmask.__all__ and "export_mask" in dir(landmask)
