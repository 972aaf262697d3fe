"""landmask.grid.Grid: the one grid value, checked against rasterio and pyproj."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from landmask.errors import ConfigError, GridError
from landmask.grid import Grid

# rasterio.windows.transform (the independent check) still multiplies affines with `*`
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

UTM = CRS.from_epsg(32633)
WGS84 = CRS.from_epsg(4326)


def _raster(path, size=(70, 90), crs=UTM):
    h, w = size
    transform = Affine(10, 0, 500000, 0, -10, 6000000)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=32,
        blockysize=16,
    ) as ds:
        ds.write(np.zeros((1, h, w), np.uint8))
    return path


def test_of_path_dataset_and_dataarray_agree(tmp_path):
    path = _raster(tmp_path / "a.tif")
    by_path = Grid.of(path)
    with rasterio.open(path) as ds:
        by_ds = Grid.of(ds)
        assert by_ds.transform == ds.transform and by_ds.crs == ds.crs
        assert (by_ds.width, by_ds.height) == (ds.width, ds.height)
    by_array = Grid.of(rioxarray.open_rasterio(path))
    assert by_path == by_ds == by_array
    assert by_path.block == (16, 32)
    assert by_path.shape == (70, 90)
    assert by_path.bounds == pytest.approx(rasterio.open(path).bounds)
    assert hash(by_path) == hash(by_array)


def test_difference_names_each_difference(tmp_path):
    a = Grid.of(_raster(tmp_path / "a.tif"))
    assert a.difference(a) == ""
    other_crs = Grid(CRS.from_epsg(32632), a.transform, a.width, a.height)
    assert "CRS EPSG:32632 instead of EPSG:32633" in a.difference(other_crs)
    shifted = Grid(a.crs, a.transform * Affine.translation(1, 0), a.width, a.height)
    assert a.difference(shifted).startswith("transform")
    smaller = Grid(a.crs, a.transform, a.width - 1, a.height)
    assert a.difference(smaller) == "size 89x70 instead of 90x70"
    no_crs = Grid(None, a.transform, a.width, a.height)
    assert "CRS none" in a.difference(no_crs)
    # the CRS is compared as a CRS, not as text
    same = Grid(CRS.from_wkt(UTM.to_wkt()), a.transform, a.width, a.height)
    assert a.same(same) and a == same
    # a transform within the precision is the same grid
    near = Grid(a.crs, Affine(10, 0, 500000 + 1e-12, 0, -10, 6000000), a.width, a.height)
    assert a == near


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    size=st.integers(1, 300),
    block=st.integers(1, 80),
    requested=st.integers(1, 400),
)
def test_chunks_are_whole_blocks_and_cover_the_axis(size, block, requested):
    grid = Grid(UTM, Affine.identity(), size, size, (block, block))
    ys, xs = grid.chunks(requested)
    assert ys == xs
    assert sum(ys) == size
    assert all(c > 0 for c in ys)
    if 1 < block < size:  # every chunk but the last is made of whole blocks
        assert all(c % block == 0 for c in ys[:-1])
    assert max(ys) <= max(size, 1)


def test_chunks_refuse_nonpositive_sizes():
    with pytest.raises(ConfigError, match="positive"):
        Grid(UTM, Affine.identity(), 10, 10).chunks(0)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    height=st.integers(1, 120),
    width=st.integers(1, 120),
    rows=st.integers(1, 50),
    cols=st.integers(1, 50),
)
def test_tiles_cover_the_grid_once_with_rasterio_window_transforms(height, width, rows, cols):
    grid = Grid(UTM, Affine(20, 0, 300000, 0, -20, 5000000), width, height)
    covered = np.zeros((height, width), np.int32)
    for tile in grid.tiles((rows, cols)):
        g = tile.grid
        covered[tile.row_off : tile.row_off + g.height, tile.col_off : tile.col_off + g.width] += 1
        window = Window(tile.col_off, tile.row_off, g.width, g.height)
        assert g.transform == window_transform(window, grid.transform)
        assert (tile.row, tile.col) == (tile.row_off // rows, tile.col_off // cols)
    assert (covered == 1).all()


def test_from_bounds_snaps_outwards_so_neighbours_line_up():
    a = Grid.from_bounds(UTM, 10, (500003, 5999001, 500997, 6000007))
    assert a.transform == Affine(10, 0, 500000, 0, -10, 6000010)
    left, bottom, right, top = a.bounds
    assert left <= 500003 and bottom <= 5999001 and right >= 500997 and top >= 6000007
    b = Grid.from_bounds(UTM, 10, (500997, 5999001, 501500, 6000007))
    offset = (~a.transform) * (b.transform.c, b.transform.f)
    assert offset == pytest.approx((round(offset[0]), round(offset[1])))  # whole pixels apart
    with pytest.raises(ConfigError, match="left < right"):
        Grid.from_bounds(UTM, 10, (5, 0, 1, 1))
    with pytest.raises(ConfigError, match="positive"):
        Grid.from_bounds(UTM, 0, (0, 0, 1, 1))


def test_pixel_areas_projected_and_geographic():
    grid = Grid(UTM, Affine(10, 0, 0, 0, -20, 0), 3, 4)
    assert grid.pixel_area() == (200.0, True)
    assert (grid.row_areas() == 200.0).all()
    # feet: the CRS's linear unit converts to metres
    feet = Grid(CRS.from_epsg(2229), Affine(1, 0, 0, 0, -1, 0), 1, 1)
    assert feet.pixel_area()[0] == pytest.approx(0.3048006096**2)
    # one-degree pixels from pole to pole sum to the area of the WGS84 ellipsoid
    globe = Grid(WGS84, Affine(1, 0, -180, 0, -1, 90), 360, 180)
    rows = globe.row_areas()
    assert 360 * rows.sum() == pytest.approx(510_065_621.724e6, rel=1e-6)
    assert rows[0] < rows[89]  # shrink towards the poles
    assert not globe.pixel_area()[1]
    with pytest.raises(GridError, match="no CRS"):
        Grid(None, Affine.identity(), 1, 1).row_areas()


def test_window_of_a_dataarray_grid():
    whole = Grid(UTM, Affine(5, 0, 100, 0, -5, 900), 40, 30)
    arr = xr.DataArray(np.zeros((30, 40), np.uint8), dims=("y", "x"), coords=whole.coords())
    arr = arr.rio.write_crs(UTM).rio.write_transform(whole.transform)
    grid = Grid.of(arr)
    assert grid == whole
    sub = grid.window(10, 20, 5, 6)
    assert Grid.of(arr.isel(y=slice(10, 15), x=slice(20, 26))) == sub
