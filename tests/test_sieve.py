import dask.array as da
import numpy as np
import pytest
import shapely
from test_write import as_mask

from landmask.errors import ConfigError
from landmask.vector.sieve import MAX_SIEVE_PIXELS, sieve, sieve_block
from landmask.vector.vectorize import vectorize


def test_small_region_takes_the_class_of_the_large_region_around_it():
    block = np.ones((7, 7), np.uint8)
    block[3, 3] = 3  # one water pixel inside forest
    block[0:2, 5:7] = 2  # a 4-pixel urban patch in the corner
    out = sieve_block(block, min_pixels=5, connectivity=4)
    assert out[3, 3] == 1
    # the corner patch reaches the block edge: it may continue, so it is kept
    assert (out[0:2, 5:7] == 2).all()


def test_large_neighbours_win_over_small_ones_and_ties_go_to_the_lower_id():
    block = np.full((9, 9), 2, np.uint8)  # urban all around
    block[4, 3:6] = [1, 3, 1]  # water pixel between two single forest pixels
    out = sieve_block(block, min_pixels=4, connectivity=4)
    # the water pixel borders two small forest pixels and two large-urban pixels
    assert out[4, 4] == 2 and out[4, 3] == 2 and out[4, 5] == 2
    tie = np.zeros((8, 8), np.uint8)
    tie[:, 4:] = 3
    tie[3, 3:5] = [1, 1]  # a 2-pixel region bordered by 3 pixels of class 0 and 3 of class 3
    assert sieve_block(tie, min_pixels=3, connectivity=4)[3, 3] == 0


def test_nodata_is_never_changed_and_never_spreads():
    block = np.full((6, 6), 255, np.uint8)
    block[1:5, 1:5] = 1
    block[2, 2] = 3
    block[0, 0] = 2  # alone among nodata at the corner of the block
    out = sieve_block(block, min_pixels=3, connectivity=4)
    assert out[2, 2] == 1
    assert (out[block == 255] == 255).all()


@pytest.mark.parametrize("connectivity", [4, 8])
def test_sieve_does_not_depend_on_chunks(connectivity):
    rng = np.random.default_rng(5)
    data = rng.choice(np.array([0, 1, 2, 3], np.uint8), size=(230, 190), p=[0.55, 0.2, 0.15, 0.1])
    data[:3] = 255
    whole = sieve(da.from_array(data, chunks=-1), 6, connectivity).compute()
    assert (whole != data).sum() > 1000
    for chunks in (40, 64, (100, 57)):
        np.testing.assert_array_equal(
            sieve(da.from_array(data, chunks=chunks), 6, connectivity).compute(), whole
        )


def test_min_area_and_limits():
    data = np.ones((40, 40), np.uint8)
    data[10:12, 10:12] = 3  # 400 m² at 10 m pixels
    data[20:25, 20:25] = 2  # 2500 m²
    frame = vectorize(as_mask(data, chunks=16), min_area=1000)
    assert sorted(frame.class_name) == ["forest", "urban"]
    assert frame.area_m2.sum() == 40 * 40 * 100
    with pytest.raises(ConfigError, match="at most"):
        sieve(da.from_array(data), MAX_SIEVE_PIXELS + 1)
    with pytest.raises(ConfigError, match=">= 0"):
        vectorize(as_mask(data), min_area=-5)


def test_simplify_keeps_a_coverage_and_the_area_budget():
    rng = np.random.default_rng(7)
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(rng.random((160, 150)), 4)
    data = np.digitize(smooth, np.quantile(smooth, [0.3, 0.6, 0.8])).astype(np.uint8)
    exact = vectorize(as_mask(data, chunks=50), classes=[0, 1, 2, 3])
    tolerance = 25.0  # metres, 2.5 pixels
    simple = vectorize(as_mask(data, chunks=50), classes=[0, 1, 2, 3], simplify=tolerance)
    assert len(simple) == len(exact)
    geoms = np.asarray(simple.geometry.values)
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)  # no gaps between neighbours, no overlaps
    assert (
        shapely.get_num_coordinates(geoms).sum()
        < 0.6 * shapely.get_num_coordinates(np.asarray(exact.geometry.values)).sum()
    )
    union = shapely.union_all(geoms)
    assert union.area == pytest.approx(160 * 150 * 100, rel=1e-9)  # still covers the raster
    for c in range(4):
        before = exact[exact.class_id == c]
        after = simple[simple.class_id == c]
        budget = tolerance * before.perimeter_m.sum()
        assert abs(after.area_m2.sum() - before.area_m2.sum()) < budget
