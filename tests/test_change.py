"""landmask.change: from-to codes, the transition matrix, grids and schemes."""

import dask.array as da
import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import TRANSFORM, UTM33, as_mask, write_raster
from hypothesis import example, given, settings
from hypothesis import strategies as st

import landmask
from landmask.analysis.change import change, transitions
from landmask.classes import LANDCOVER, WORLDCOVER, change_scheme, get_scheme
from landmask.errors import GridError, InputError, MaskWarpedWarning
from landmask.grid import Grid
from landmask.io.read.schemes import scheme_of

VALUES = np.array([0, 1, 2, 3, 254, 255], np.uint8)


def random_masks(seed, shape=(37, 53)):
    rng = np.random.default_rng(seed)
    p = [0.3, 0.3, 0.15, 0.15, 0.05, 0.05]
    return rng.choice(VALUES, size=shape, p=p), rng.choice(VALUES, size=shape, p=p)


def crosstab(before, after, n=4):
    """The matrix by numpy on the whole raster, independent of landmask's codes."""
    keep = (before < n) & (after < n)
    out = np.zeros((n, n), np.int64)
    np.add.at(out, (before[keep].astype(int), after[keep].astype(int)), 1)
    return out, int((~keep).sum())


def test_codes_follow_the_documented_encoding():
    before = np.array([[0, 1, 1, 2, 3, 254, 1, 255]], np.uint8)
    after = np.array([[0, 1, 2, 1, 0, 1, 254, 1]], np.uint8)
    out = change(as_mask(before), as_mask(after))
    np.testing.assert_array_equal(out.values, [[0, 5, 6, 9, 12, 255, 255, 255]])
    scheme = get_scheme(out.attrs["class_scheme"])
    assert scheme.name == "landcover-change" and scheme.base is LANDCOVER
    assert scheme.name_of(6) == "forest -> urban" and scheme.name_of(9) == "urban -> forest"
    assert scheme.transition(6)[0].name == "forest" and scheme.transition(255) is None
    assert len({c.color for c in scheme}) == len(scheme.classes)  # every transition its colour


def test_matrix_equals_a_numpy_crosstab_on_the_whole_raster():
    before, after = random_masks(1)
    t = transitions(change(as_mask(before, chunks=16), as_mask(after, chunks=16)))
    expected, ignored = crosstab(before, after)
    np.testing.assert_array_equal(t.counts, expected)
    assert t.ignored == ignored and t.class_ids == (0, 1, 2, 3)
    np.testing.assert_array_equal(t.area_m2, expected * 100.0)  # 10 m pixels
    d = t.to_dict()
    assert d["matrix"]["counts"] == expected.tolist() and d["ignored"] == ignored
    forest = d["classes"]["forest"]
    assert forest["gain_m2"] == (expected[:, 1].sum() - expected[1, 1]) * 100
    assert forest["loss_m2"] == (expected[1].sum() - expected[1, 1]) * 100
    assert forest["net_m2"] == (expected[:, 1].sum() - expected[1].sum()) * 100
    assert t.frame("ha").loc["forest", "urban"] == expected[1, 2] * 100 / 1e4


# 1-pixel-wide chunks (a thousand tasks) once, as an explicit example; random ones from 3 px
@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    chunks=st.tuples(st.integers(3, 40), st.integers(3, 60)),
    after_chunks=st.tuples(st.integers(3, 40), st.integers(3, 60)),
)
@example(seed=1, chunks=(1, 2), after_chunks=(3, 1))
def test_same_result_for_any_chunks(seed, chunks, after_chunks):
    before, after = random_masks(seed)
    whole = change(as_mask(before, chunks=-1), as_mask(after, chunks=-1))
    b = as_mask(da.from_array(before, chunks=chunks))
    a = as_mask(da.from_array(after, chunks=after_chunks))  # misaligned with before's
    chunked = change(b, a)
    np.testing.assert_array_equal(chunked.values, whole.values)
    t1, t2 = transitions(whole), transitions(chunked)
    np.testing.assert_array_equal(t1.counts, t2.counts)
    np.testing.assert_array_equal(t1.area_m2, t2.area_m2)
    assert t1.ignored == t2.ignored


def test_geographic_areas_are_on_the_ellipsoid_and_chunk_invariant():
    before, after = random_masks(3, (40, 30))
    geo = Affine(0.01, 0, 10.0, 0, -0.01, 60.0)
    wgs84 = rasterio.crs.CRS.from_epsg(4326)
    rows = Grid(wgs84, geo, 1, 40).row_areas()
    expected = np.zeros((4, 4))
    for r in range(40):
        keep = (before[r] < 4) & (after[r] < 4)
        np.add.at(expected, (before[r][keep], after[r][keep]), rows[r])
    for chunks in (7, 40):
        t = transitions(
            change(as_mask(before, geo, wgs84, chunks), as_mask(after, geo, wgs84, chunks))
        )
        np.testing.assert_allclose(t.area_m2, expected, rtol=1e-12)
    assert rows[0] < rows[-1]  # pixels shrink towards the pole


def test_files_written_and_read_back_keep_the_transition_names(tmp_path):
    before, after = random_masks(4)
    b = write_raster(tmp_path / "b.tif", before, nodata=255)
    a = write_raster(tmp_path / "a.tif", after, nodata=255)
    out = landmask.write_mask(landmask.change(b, a), tmp_path / "change.tif")
    assert scheme_of(out.path).name == "landcover-change"
    with rasterio.open(out.path) as ds:
        assert ds.tags()["CLASS_6"] == "forest -> urban"
        assert ds.colormap(1)[6][:3] == tuple(
            int(change_scheme(LANDCOVER).colormap[6][k]) for k in range(3)
        )
        assert ds.overviews(1) or ds.width < 512  # written as the other masks are
        assert ds.nodata == 255 and ds.crs == UTM33 and ds.transform == TRANSFORM
    t = transitions(out.path)
    np.testing.assert_array_equal(t.counts, crosstab(before, after)[0])


def test_accessor_spelling_gives_the_same_codes():
    before, after = random_masks(5)
    b, a = as_mask(before), as_mask(after)
    np.testing.assert_array_equal(b.landmask.change(a).values, change(b, a).values)
    t = b.landmask.change(a).landmask.transitions()
    np.testing.assert_array_equal(t.counts, crosstab(before, after)[0])


def test_worldcover_is_compared_with_landcover_through_its_mapping():
    before = np.array([[10, 50, 80, 30, 0]], np.uint8)  # tree, built-up, water, grass, no data
    after = np.array([[2, 1, 3, 1, 1]], np.uint8)
    out = change(as_mask(before, class_scheme="worldcover"), as_mask(after))
    # forest->urban, urban->forest, water->water, other->forest, nodata
    np.testing.assert_array_equal(out.values, [[6, 9, 15, 1, 255]])


def test_another_grid_in_the_same_crs_is_warped_with_a_warning(tmp_path):
    before, after = random_masks(6, (20, 20))
    b = write_raster(tmp_path / "b.tif", before, nodata=255)
    shifted = Affine(10.0, 0, TRANSFORM.c + 50, 0, -10.0, TRANSFORM.f)  # 5 px east
    a = write_raster(tmp_path / "a.tif", after, nodata=255, transform=shifted)
    with pytest.warns(MaskWarpedWarning, match=r"a\.tif.*another grid.*transform"):
        out = change(b, a)
    with pytest.warns(MaskWarpedWarning):
        small = change(b, a, chunk_size=7)  # warped chunk by chunk: the same pixels
    np.testing.assert_array_equal(small.values, out.values)
    expected = change(as_mask(before[:, 5:]), as_mask(after[:, :15])).values
    np.testing.assert_array_equal(out.values[:, 5:], expected)
    assert (out.values[:, :5] == 255).all()  # outside the after mask


def test_bad_input_is_one_clear_error(tmp_path):
    before, after = random_masks(7, (10, 10))
    b = write_raster(tmp_path / "b.tif", before, nodata=255)
    other_crs = write_raster(tmp_path / "utm32.tif", after, crs=rasterio.crs.CRS.from_epsg(32632))
    with pytest.raises(GridError, match=r"utm32\.tif: CRS EPSG:32632 differs .*EPSG:32633"):
        change(b, other_crs)
    far = Affine(10.0, 0, 900000.0, 0, -10.0, 100000.0)
    far_file = write_raster(tmp_path / "far.tif", after, transform=far)
    with pytest.raises(InputError, match=r"far\.tif: the after mask does not overlap"):
        change(b, far_file)
    floats = write_raster(tmp_path / "f.tif", after.astype(np.float32))
    with pytest.raises(InputError, match=r"f\.tif: not a mask"):
        change(b, floats)
    with pytest.raises(InputError, match=r"f\.tif: not a mask"):
        change(floats, b)
    wc = as_mask(before, class_scheme="worldcover")
    dw = as_mask(after, class_scheme="dynamic-world")
    with pytest.raises(InputError, match=r"'worldcover'.*'dynamic-world'.*--scheme landcover"):
        change(wc, dw)
    with pytest.raises(GridError, match="not on the grid"):
        change(as_mask(before), as_mask(after[:5]))
    ch = change(as_mask(before), as_mask(after))
    with pytest.raises(InputError, match="already a change map"):
        change(ch, as_mask(after))
    with pytest.raises(InputError, match="not a change map"):
        transitions(as_mask(before))
    assert WORLDCOVER.landcover_names  # the mapping the comparison relies on
