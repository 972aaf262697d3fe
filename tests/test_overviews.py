import dask.array as da
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from conftest import write_raster

from landmask.io.write.overviews import mean2x2, mode2x2, overview_factors, overview_levels


def gdal_overviews(tmp_path, data, nodata, resampling):
    """Overview levels as GDAL's COG driver builds them itself."""
    src = write_raster(tmp_path / "src.tif", data, nodata=nodata)
    cog = tmp_path / "gdal-cog.tif"
    rasterio.shutil.copy(src, cog, driver="COG", OVERVIEW_RESAMPLING=resampling, BLOCKSIZE=512)
    with rasterio.open(cog) as ds:
        n = len(ds.overviews(1))
    out = []
    for k in range(n):
        with rasterio.open(cog, overview_level=k) as ov:
            out.append(ov.read(1))
    return out


def test_mode_matches_gdal_including_ties_and_nodata(tmp_path):
    rng = np.random.default_rng(0)
    values = np.array([0, 1, 2, 3, 255], np.uint8)
    data = rng.choice(values, size=(1300, 1100), p=[0.3, 0.3, 0.2, 0.1, 0.1])
    data[:8, :8] = 255  # whole cells of nodata
    expected = gdal_overviews(tmp_path, data, 255, "MODE")
    ours = overview_levels(da.from_array(data, chunks=512), 512, categorical=True, nodata=255)
    assert len(ours) == len(expected) == 2
    for mine, theirs in zip(ours, expected, strict=True):
        np.testing.assert_array_equal(mine.compute(), theirs)
    assert (ours[0][:4, :4].compute() == 255).all()


def test_mean_matches_gdal_average_ignoring_nan(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.random((1200, 1100)).astype(np.float32)
    data[:6] = np.nan
    data[100:103, 200:203] = np.nan
    expected = gdal_overviews(tmp_path, data, float("nan"), "AVERAGE")
    ours = overview_levels(da.from_array(data, chunks=512), 512, categorical=False, nodata=np.nan)
    for mine, theirs in zip(ours, expected, strict=True):
        np.testing.assert_allclose(mine.compute(), theirs, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("chunks", [512, 1024, (512, 1536)])
def test_levels_do_not_depend_on_chunks(chunks):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 4, size=(2100, 1900)).astype(np.uint8)
    whole = [
        lvl.compute()
        for lvl in overview_levels(
            da.from_array(data, chunks=-1), 256, categorical=True, nodata=255
        )
    ]
    chunked = overview_levels(da.from_array(data, chunks=chunks), 256, categorical=True, nodata=255)
    assert [lvl.shape for lvl in chunked] == [w.shape for w in whole]
    for a, b in zip(chunked, whole, strict=True):
        np.testing.assert_array_equal(a.compute(), b)


def test_block_functions_by_hand():
    block = np.array([[1, 1, 2, 3, 7], [3, 1, 3, 2, 7]], np.uint8)
    # cells: [1,1,3,1] -> 1; [2,3,3,2] tie: 3 first reaches two; [7,pad,7,pad] -> 7
    assert mode2x2(block, 255).tolist() == [[1, 3, 7]]
    assert mode2x2(np.full((2, 2), 255, np.uint8), 255).tolist() == [[255]]
    f = np.array([[1.0, 3.0], [np.nan, 5.0]], np.float32)
    assert mean2x2(f).tolist() == [[3.0]]


def test_factors_follow_gdal_cog():
    assert overview_factors(10240, 10240, 512) == [2, 4, 8, 16, 32]
    assert overview_factors(2048, 2048, 512) == [2, 4]
    assert overview_factors(512, 300, 512) == []
    assert overview_factors(513, 10, 512) == [2]


def test_mode_of_every_cell_pattern_matches_gdal(tmp_path):
    """Every 2x2 cell over four classes and nodata (625 of them: every tie and nodata case)."""
    values = np.array([0, 1, 2, 3, 255], np.uint8)
    cells = np.array(np.meshgrid(values, values, values, values, indexing="ij")).reshape(4, -1)
    block = np.empty((2, 2 * cells.shape[1]), np.uint8)  # one row of cells, in raster order
    block[0, 0::2], block[0, 1::2], block[1, 0::2], block[1, 1::2] = cells
    # 25 x 25 cells, tiled to 1250² px so that GDAL's COG driver makes an overview
    data = np.tile(block.reshape(2, 25, 50).transpose(1, 0, 2).reshape(50, 50), (25, 25))
    expected = gdal_overviews(tmp_path, data, 255, "MODE")[0]
    np.testing.assert_array_equal(mode2x2(data, 255), expected)
