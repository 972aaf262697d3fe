import dask.array as da
import numpy as np
import pytest
import rasterio.features
import shapely
from scipy import ndimage
from test_write import as_mask

from landmask.errors import ConfigError
from landmask.vector.sieve import sieve, sieve_array
from landmask.vector.vectorize import vectorize


def gdal(data: np.ndarray, size: int, connectivity: int) -> np.ndarray:
    """The reference: GDAL's sieve on the whole raster, nodata masked."""
    return rasterio.features.sieve(data, size, mask=data != 255, connectivity=connectivity)


def test_small_region_takes_the_class_of_its_largest_neighbour():
    block = np.ones((7, 7), np.uint8)
    block[3, 3] = 3  # one water pixel inside forest
    block[0:2, 5:7] = 2  # a 4-pixel urban patch in the corner
    out = sieve_array(block, 5, 4)
    assert out[3, 3] == 1 and (out[0:2, 5:7] == 1).all()
    np.testing.assert_array_equal(out, gdal(block, 5, 4))


def test_chains_of_small_neighbours_lead_to_a_large_region_or_keep_the_class():
    data = np.full((9, 9), 2, np.uint8)
    data[4, 3:6] = [1, 3, 1]  # water between two single forest pixels
    data[0, 0:2] = [3, 1]  # two single pixels, each the other's largest neighbour: a cycle
    data[1, 0:2] = 255
    data[0, 2:] = 255
    out = sieve_array(data, 4, 4)
    assert (out[4, 3:6] == 2).all()
    np.testing.assert_array_equal(out, gdal(data, 4, 4))


def test_nodata_is_never_changed_and_never_spreads():
    block = np.full((6, 6), 255, np.uint8)
    block[1:5, 1:5] = 1
    block[2, 2] = 3
    block[0, 0] = 2  # alone among nodata: no neighbour, kept
    out = sieve_array(block, 3, 4)
    assert out[2, 2] == 1 and out[0, 0] == 2
    assert (out[block == 255] == 255).all()
    np.testing.assert_array_equal(out, gdal(block, 3, 4))


@pytest.mark.parametrize("connectivity", [4, 8])
def test_sieve_equals_gdal_on_the_whole_raster_for_any_chunks(connectivity):
    rng = np.random.default_rng(5)
    smooth = ndimage.gaussian_filter(rng.random((230, 190)), 1.5)
    data = np.digitize(smooth, np.quantile(smooth, [0.4, 0.7, 0.9])).astype(np.uint8)
    data[100:200, 20:120] = 0  # a region across many chunks, larger than the second size
    data[rng.random(data.shape) < 0.03] = 255
    data[:3] = 255
    for size in (6, 5_000):  # the second far beyond the chunk size
        whole = gdal(data, size, connectivity)
        assert (whole != data).sum() > 1000
        np.testing.assert_array_equal(sieve_array(data, size, connectivity), whole)
        for chunks in (40, (100, 57), (229, 189), (230, 7)):  # 1-px remainders, thin strips
            got = sieve(da.from_array(data, chunks=chunks), size, connectivity).compute()
            np.testing.assert_array_equal(got, whole)


def test_min_area_and_limits():
    data = np.ones((40, 40), np.uint8)
    data[10:12, 10:12] = 3  # 400 m² at 10 m pixels
    data[20:25, 20:25] = 2  # 2500 m²
    frame = vectorize(as_mask(data, chunks=16), min_area=1000)
    assert sorted(frame.class_name) == ["forest", "urban"]
    assert frame.area_m2.sum() == 40 * 40 * 100
    # no limit: a minimum mapping unit larger than any chunk
    big = vectorize(as_mask(data, chunks=16), min_area=1000 * 100)  # 1000 px, chunks of 256
    assert list(big.class_name) == ["forest"] and big.area_m2.sum() == 40 * 40 * 100
    with pytest.raises(ConfigError, match=">= 0"):
        vectorize(as_mask(data), min_area=-5)


def test_simplify_keeps_a_coverage_and_the_area_budget():
    rng = np.random.default_rng(7)
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


def test_simplify_meets_regions_top_to_bottom_and_keeps_a_coverage(monkeypatch):
    # GEOS keeps the coverage's open segments in a hash set that puts every horizontal
    # segment of a column in one bucket: met class by class, a speckled or striped mask
    # filled it with a whole class's boundary (2.8x the CPU on 512² stripes)
    rng = np.random.default_rng(5)
    rows, cols = np.indices((60, 70))
    data = rng.integers(0, 4, (60, 70)).astype(np.uint8)  # speckle
    data[:, 35:] = ((rows + cols) % 3)[:, 35:]  # diagonal one-pixel stripes
    met = []
    real = shapely.coverage_simplify

    def spy(geoms, tolerance, **kw):
        met.append(shapely.bounds(geoms))
        return real(geoms, tolerance, **kw)

    monkeypatch.setattr(shapely, "coverage_simplify", spy)
    kw = dict(classes=[0, 1, 2, 3], connectivity=8)
    simple = vectorize(as_mask(data, chunks=25), simplify=15.0, **kw)
    (bounds,) = met
    top, left = bounds[:, 3], bounds[:, 0]
    assert (np.diff(top) <= 0).all()  # north-up: from the top row down, whatever the class
    same_top = np.diff(top) == 0
    assert (np.diff(left)[same_top] >= 0).all()  # then from the left
    exact = vectorize(as_mask(data, chunks=25), **kw)
    assert len(simple) == len(exact) == len(bounds)
    np.testing.assert_array_equal(simple.class_id, exact.class_id)  # the canonical order
    geoms = np.asarray(simple.geometry.values)
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)  # no gaps between neighbours, no overlaps
    # the raster's edge may move (simplify_boundary), by less than the tolerance
    assert abs(shapely.union_all(geoms).area - 60 * 70 * 100) < 15.0 * 2 * (600 + 700)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_simplify_does_not_depend_on_chunks(connectivity):
    rng = np.random.default_rng(7)
    smooth = ndimage.gaussian_filter(rng.random((200, 190)), 2)
    data = np.digitize(smooth, np.quantile(smooth, [0.3, 0.6, 0.8])).astype(np.uint8)
    data[rng.random(data.shape) < 0.01] = 255
    kw = dict(classes=[0, 1, 2, 3], connectivity=connectivity, simplify=15.0, min_area=500)
    whole = vectorize(as_mask(data, chunks=-1), **kw)
    assert len(whole) > 100
    for chunks in (64, 101):
        got = vectorize(as_mask(data, chunks=chunks), **kw)
        # byte for byte: same rows, same rings from the same start points
        assert shapely.to_wkb(got.geometry.values).tolist() == (
            shapely.to_wkb(whole.geometry.values).tolist()
        )
        np.testing.assert_array_equal(got.area_m2, whole.area_m2)
