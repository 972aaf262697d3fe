"""Property tests: every chunked operation equals its whole-array result, for random inputs
and random chunk sizes (1-px remainders, chunks not aligned to anything) — and the sieve
equals GDAL's on the whole raster."""

from __future__ import annotations

import dask.array as da
import numpy as np
import rasterio.features
import shapely
import xarray as xr
from conftest import TRANSFORM, UTM33, as_mask, as_scene, write_raster
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from landmask.classification.classify import classify
from landmask.classification.quality import apply_quality
from landmask.evaluation.evaluate import evaluate
from landmask.io.read.reflectance import ReflectanceReader
from landmask.io.read.resample import Resample
from landmask.io.read.scene import BandSource
from landmask.products.apply import apply_mask
from landmask.spectral.indices import compute_indices
from landmask.vector.sieve import sieve
from landmask.vector.vectorize import vectorize

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def masks(draw: st.DrawFn, max_side: int = 24) -> np.ndarray:
    """Class ids 0..3 with some nodata, in patches (a random image, upsampled by 1..3)."""
    h = draw(st.integers(2, max_side))
    w = draw(st.integers(2, max_side))
    scale = draw(st.integers(1, 3))
    small = draw(
        arrays(
            np.uint8,
            (-(-h // scale), -(-w // scale)),
            elements=st.sampled_from([0, 1, 1, 2, 3, 255]),
        )
    )
    return np.kron(small, np.ones((scale, scale), np.uint8))[:h, :w]


def chunking(draw: st.DrawFn, shape: tuple[int, ...], least: int = 1) -> tuple[int, int]:
    """Chunk sides from ``least`` px to the whole side: remainders of 1 px come up often."""
    h, w = shape[-2:]
    return (draw(st.integers(min(least, h), h)), draw(st.integers(min(least, w), w)))


@SETTINGS
@given(data=st.data(), mask=masks(), size=st.integers(2, 40), connectivity=st.sampled_from([4, 8]))
def test_sieve_equals_gdal_on_the_whole_raster(data, mask, size, connectivity):
    size = min(size, mask.size - 1) if mask.size > 2 else 2
    if mask.size <= size:
        return
    chunks = chunking(data.draw, mask.shape)
    got = sieve(da.from_array(mask, chunks=chunks), size, connectivity).compute()
    want = rasterio.features.sieve(mask, size, mask=mask != 255, connectivity=connectivity)
    np.testing.assert_array_equal(got, want)


def _rows(frame) -> list[tuple[int, bytes]]:
    wkb = shapely.to_wkb(shapely.normalize(frame.geometry.values)).tolist()
    return sorted(zip(frame.class_id.tolist(), wkb, strict=True))


@SETTINGS
@given(
    data=st.data(),
    mask=masks(),
    connectivity=st.sampled_from([4, 8]),
    min_area=st.sampled_from([None, 300.0, 1500.0]),
    simplify=st.sampled_from([None, 15.0]),
)
def test_vectorize_equals_the_whole_array(data, mask, connectivity, min_area, simplify):
    chunks = chunking(data.draw, mask.shape)
    kw = dict(classes=[0, 1, 2, 3], connectivity=connectivity, min_area=min_area, simplify=simplify)
    whole = vectorize(as_mask(mask, chunks=-1), **kw)
    got = vectorize(as_mask(mask, chunks=chunks), **kw)
    if simplify:  # the same rows in the same order, byte for byte
        assert shapely.to_wkb(got.geometry.values).tolist() == (
            shapely.to_wkb(whole.geometry.values).tolist()
        )
    else:
        assert _rows(got) == _rows(whole)
    np.testing.assert_allclose(np.sort(got.area_m2), np.sort(whole.area_m2))


def _grid(values: np.ndarray, chunks: tuple[int, int]) -> xr.DataArray:
    h, w = values.shape[-2:]
    dims = ("band", "y", "x") if values.ndim == 3 else ("y", "x")
    coords = {
        "y": TRANSFORM.f + TRANSFORM.e * (np.arange(h) + 0.5),
        "x": TRANSFORM.c + TRANSFORM.a * (np.arange(w) + 0.5),
    }
    full = (values.shape[0], *chunks) if values.ndim == 3 else chunks
    arr = xr.DataArray(da.from_array(values, chunks=full), dims=dims, coords=coords)
    return arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM)


@SETTINGS
@given(
    data=st.data(),
    mask=masks(),
    mode=st.sampled_from(["cutout", "blur", "crop"]),
    sigma=st.sampled_from([0.5, 1.5, 4.0]),
)
def test_apply_equals_the_whole_array(data, mask, mode, sigma):
    rng = np.random.default_rng(mask.size)
    image = rng.integers(1, 1000, size=(2, *mask.shape)).astype(np.uint16)
    if mode == "crop" and not np.isin(mask, [1, 3]).any():
        mask[0, 0] = 1
    if mode == "blur":  # a blur deeper than the image is refused (ConfigError)
        assume(int(np.ceil(4 * sigma)) <= min(mask.shape))
    chunks = chunking(data.draw, mask.shape, least=4)
    whole_shape = mask.shape

    def run(ch: tuple[int, int]) -> xr.DataArray:
        return apply_mask(
            _grid(image, ch), _grid(mask, ch), keep="forest,water", mode=mode, sigma=sigma
        )

    want = run(whole_shape)
    got = run(chunks)
    np.testing.assert_array_equal(got.values, want.values)
    assert got.rio.transform() == want.rio.transform()


@SETTINGS
@given(data=st.data(), pred=masks(), seed=st.integers(0, 2**16))
def test_evaluate_counts_equal_numpy(data, pred, seed):
    truth = np.random.default_rng(seed).choice(
        np.array([0, 1, 2, 3, 255], np.uint8), size=pred.shape
    )
    chunks = chunking(data.draw, pred.shape)
    result = evaluate(as_mask(pred, chunks=chunks), as_mask(truth, chunks=chunks))
    valid = (pred != 255) & (truth != 255)
    want = np.zeros((256, 256), np.int64)
    np.add.at(want, (truth[valid], pred[valid]), 1)
    ids = list(result.classes)
    np.testing.assert_array_equal(result.matrix, want[np.ix_(ids, ids)])
    assert result.matrix.sum() == valid.sum()


BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]


@SETTINGS
@given(data=st.data(), h=st.integers(1, 20), w=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_indices_equal_the_whole_array(data, h, w, seed):
    rng = np.random.default_rng(seed)
    values = rng.random((len(BANDS), h, w)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = 0.0  # zero denominators
    values[rng.random(values.shape) < 0.05] = np.nan  # nodata
    chunks = chunking(data.draw, values.shape)

    def scene(ch: tuple[int, int]) -> xr.DataArray:
        coords = {
            "y": TRANSFORM.f + TRANSFORM.e * (np.arange(h) + 0.5),
            "x": TRANSFORM.c + TRANSFORM.a * (np.arange(w) + 0.5),
        }
        arr = xr.DataArray(
            da.from_array(values, chunks=(len(BANDS), *ch)), dims=("band", "y", "x"), coords=coords
        ).assign_coords(band=BANDS)
        return arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM)

    names = ["ndvi", "mndwi", "ndbi"]
    want = compute_indices(scene((h, w)), names).compute()
    got = compute_indices(scene(chunks), names).compute()
    for name in names:
        np.testing.assert_array_equal(got[name].values, want[name].values)


@SETTINGS
@given(data=st.data(), mask=masks(), seed=st.integers(0, 2**16))
def test_quality_masking_equals_the_whole_array(data, mask, seed):
    codes = np.random.default_rng(seed).choice(np.array([0, 254, 255], np.uint8), size=mask.shape)
    chunks = chunking(data.draw, mask.shape)
    got = apply_quality(as_mask(mask, chunks=chunks), as_mask(codes, chunks=chunks)).values
    want = apply_quality(as_mask(mask, chunks=-1), as_mask(codes, chunks=-1)).values
    np.testing.assert_array_equal(got, want)
    expect = np.where((codes == 254) & (mask != 255), 254, mask)
    expect[codes == 255] = 255
    np.testing.assert_array_equal(got, expect)


def _scene(values: np.ndarray, chunks: tuple[int, int] | int) -> xr.DataArray:
    """A georeferenced ``(band, y, x)`` reflectance DataArray of ``values``."""
    return as_scene(values, BANDS, chunks)


@SETTINGS
@given(
    data=st.data(),
    h=st.integers(2, 24),
    w=st.integers(2, 24),
    seed=st.integers(0, 2**16),
    rules=st.sampled_from(["default", "naip"]),
)
def test_rules_and_classify_equal_the_whole_array(data, h, w, seed, rules):
    # naip's urban rule holds a scene-wide otsu(ndvi): bound once, before the chunks
    rng = np.random.default_rng(seed)
    values = rng.random((len(BANDS), h, w)).astype(np.float32) * 0.5
    values[rng.random(values.shape) < 0.05] = np.nan
    chunks = chunking(data.draw, values.shape)
    want = classify(_scene(values, -1), rules=rules).values
    got = classify(_scene(values, chunks), rules=rules).values
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(
    data=st.data(),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    method=st.sampled_from(["nearest", "bilinear"]),
)
def test_resampled_bands_equal_the_whole_array(tmp_path_factory, data, h, w, seed, method):
    """A 20 m band read onto a 10 m grid window by window equals one read of the whole grid."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 10000, (h, w)).astype(np.uint16)
    coarse[rng.random(coarse.shape) < 0.1] = 0  # nodata
    src = TRANSFORM * TRANSFORM.scale(2)  # 20 m over the same origin
    path = write_raster(tmp_path_factory.mktemp("resample") / "b20.tif", coarse, transform=src)
    band = BandSource(
        str(path), 1, "swir16", 0.0, 1e-4, 0.0, Resample(src, h, w, TRANSFORM, method)
    )
    shape = (2 * h, 2 * w)
    chunks = chunking(data.draw, shape)

    def read(ch: tuple[int, ...] | int) -> np.ndarray:
        reader = ReflectanceReader([band], *shape)
        arr = da.from_array(reader, chunks=ch, asarray=False, fancy=False, lock=False)
        return arr.compute()

    want = read(-1)
    got = read((1, *chunks))
    np.testing.assert_array_equal(got, want)
    assert np.isnan(want).any() == (coarse == 0).any()
