"""One numpy -> Dask conversion (landmask._runtime.chunks.as_dask), used by every stage."""

from __future__ import annotations

import re
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio.features
import rioxarray
import shapely
from conftest import as_mask
from hypothesis import given, settings
from hypothesis import strategies as st

from landmask._runtime.chunks import CHUNK_SIZE, aligned_chunks, as_dask, spatial_chunks
from landmask.errors import ConfigError
from landmask.io.read.masks import open_mask
from landmask.vector.sieve import sieve, sieve_array
from landmask.vector.vectorize import vectorize

PACKAGE = Path(__file__).resolve().parents[1] / "landmask"


def test_numpy_leading_dims_whole_spatial_dims_in_chunk_size_sides():
    data = (np.arange(2 * 5000 * 2100) % 251).astype(np.uint8).reshape(2, 5000, 2100)
    out = as_dask(data)
    assert out.chunks == ((2,), (CHUNK_SIZE, CHUNK_SIZE, 5000 - 2 * CHUNK_SIZE), (2048, 52))
    np.testing.assert_array_equal(out.compute(), data)
    assert as_dask(data, 2000).chunks[1] == (2000, 2000, 1000)
    # 10 px wide: its y chunks hold up to CHUNK_SIZE² px (spatial_chunks)
    assert as_dask(data[:, :, :10]).chunks == ((2,), (5000,), (10,))
    assert as_dask(np.zeros(7)).chunks == ((7,),)
    assert as_dask(np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises(ConfigError, match="--chunk-size 0"):
        as_dask(data, 0)
    # DataArrays give their data; Dask input is returned untouched
    lazy = da.zeros((40, 40), chunks=7, dtype=np.uint8)
    assert as_dask(lazy) is lazy
    wrapped = as_mask(lazy)
    assert as_dask(wrapped) is wrapped.data
    assert as_dask(as_mask(np.zeros((40, 40), np.uint8)).compute()).chunks == ((40,), (40,))


def test_a_raster_read_without_chunks_is_chunked_on_its_file_blocks(raster):
    path = raster("m.tif", np.zeros((2500, 2100), np.uint8), blocksize=512)
    arr = rioxarray.open_rasterio(path).squeeze("band", drop=True)
    assert not isinstance(arr.data, da.Array)
    assert arr.encoding["preferred_chunks"] == {"y": 512, "x": 512, "band": 1}
    # 2048 rounds to four 512-px blocks
    assert as_dask(arr).chunks == ((2048, 452), (2048, 52))
    assert as_dask(arr, 700).chunks == ((512,) * 4 + (452,), (512,) * 4 + (52,))  # one block
    # 300 px wide: one x chunk, so y chunks merge whole blocks up to 2048² (700²) px a chunk
    thin = rioxarray.open_rasterio(raster("t.tif", np.zeros((2500, 300), np.uint8), blocksize=512))
    assert as_dask(thin.squeeze("band", drop=True)).chunks == ((2500,), (300,))
    assert as_dask(thin.squeeze("band", drop=True), 700).chunks == ((1536, 964), (300,))


def test_a_thin_raster_is_a_few_chunks_of_at_most_a_square_chunks_pixels(raster):
    """A 1-px-high mask in 1 x 2048 slivers paid a task, sieve passes and worker processes
    per sliver (issue 25): 3.3x GDAL's time and 4.7x its memory."""
    assert spatial_chunks((1, 102_400), CHUNK_SIZE) == ((1,), (102_400,))
    assert spatial_chunks((102_400, 1), CHUNK_SIZE) == ((102_400,), (1,))
    many = spatial_chunks((3, 5_000_000), CHUNK_SIZE)
    assert len(many[1]) == 4 and max(many[1]) * 3 <= CHUNK_SIZE**2
    assert max(many[1]) % CHUNK_SIZE == 0  # a whole number of square chunks' columns
    assert as_dask(np.zeros((2, 70_000), np.uint8)).numblocks == (1, 1)
    # as read from a tiled file (256-px blocks), the benchmark's row mask
    mask = open_mask(raster("row.tif", np.ones((1, 51_200), np.uint8), blocksize=256))
    assert mask.data.chunks == ((1,), (51_200,))
    # squares and rasters of at least one chunk side are cut as before
    assert spatial_chunks((5000, 5000), CHUNK_SIZE) == ((2048, 2048, 904),) * 2
    assert spatial_chunks((2048, 9000), CHUNK_SIZE)[1] == (2048,) * 4 + (808,)
    assert spatial_chunks((0, 9), 4) == ((0,), (4, 4, 1))
    with pytest.raises(ConfigError, match="--chunk-size 0"):
        spatial_chunks((1, 10), 0)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    data=st.data(),
    thin=st.integers(1, 3),
    long=st.integers(2, 160),
    side=st.integers(1, 12),
    block=st.sampled_from([1, 1, 2, 5, 8]),
    transpose=st.booleans(),
    connectivity=st.sampled_from([4, 8]),
)
def test_thin_chunks_merge_whole_chunks_and_give_the_whole_array_result(
    data, thin, long, side, block, transpose, connectivity
):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    mask = rng.choice(np.array([0, 1, 1, 2, 255], np.uint8), (thin, long))
    if transpose:
        mask = np.ascontiguousarray(mask.T)
    chunks = spatial_chunks(mask.shape, side, (block, block))
    before = tuple(aligned_chunks(n, side, block) for n in mask.shape)
    for got, old in zip(chunks, before, strict=True):
        assert sum(got) == sum(old)
        # merged chunks: every new boundary is an old one
        assert set(np.cumsum(got).tolist()) <= set(np.cumsum(old).tolist())
    most = max(max(before[0]) * max(before[1]), side * side)
    assert max(chunks[0]) * max(chunks[1]) <= most
    if chunks != before:
        assert min(mask.shape) < side + block
    lazy = da.from_array(mask, chunks=chunks)
    np.testing.assert_array_equal(
        sieve(lazy, 4, connectivity).compute(), sieve_array(mask, 4, connectivity)
    )
    kw = dict(classes=[0, 1, 2], connectivity=connectivity)
    whole, got = vectorize(as_mask(mask, chunks=-1), **kw), vectorize(as_mask(lazy), **kw)
    assert _rows(got) == _rows(whole)
    if mask.size > 4:  # GDAL's sieve takes no size above the raster's
        want = rasterio.features.sieve(mask, 4, mask=mask != 255, connectivity=connectivity)
        np.testing.assert_array_equal(sieve_array(mask, 4, connectivity), want)


def _rows(frame) -> list[tuple[int, bytes]]:
    wkb = shapely.to_wkb(shapely.normalize(frame.geometry.values)).tolist()
    return sorted(zip(frame.class_id.tolist(), wkb, strict=True))


def test_aligned_chunks_cover_the_axis_in_whole_blocks():
    rng = np.random.default_rng(13)
    cases = [(1, 1, 1), (10, 4, 10), (513, 2048, 512), (5000, 1, 600)]
    cases += [tuple(int(v) for v in rng.integers(1, (5000, 3000, 600))) for _ in range(200)]
    for size, requested, block in cases:
        chunks = aligned_chunks(size, requested, block)
        assert sum(chunks) == size and all(c > 0 for c in chunks)
        assert len(set(chunks[:-1])) <= 1 and chunks[-1] <= chunks[0]
        if 1 < block < size:
            assert all(c % block == 0 for c in chunks[:-1])


def test_every_stage_gives_the_same_result_for_numpy_and_dask_input(tmp_path, s2_file):
    import rasterio

    from landmask.classification.classify import classify
    from landmask.evaluation.evaluate import evaluate
    from landmask.io.read.masks import open_image
    from landmask.io.read.scene import open_scene
    from landmask.io.write.rasters import write_mask
    from landmask.products.apply import apply_mask
    from landmask.products.export import export_mask
    from landmask.spectral.indices import compute_indices
    from landmask.vector.vectorize import vectorize

    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=96)
    in_memory = scene.compute()
    assert not isinstance(in_memory.data, da.Array)
    np.testing.assert_array_equal(
        compute_indices(in_memory, ["ndvi"])["ndvi"].values,
        compute_indices(scene, ["ndvi"])["ndvi"].values,
    )
    lazy_mask = classify(scene, "default")
    mask = classify(in_memory, "default")
    assert isinstance(mask.data, da.Array)
    np.testing.assert_array_equal(mask.values, lazy_mask.values)
    mem_mask = lazy_mask.compute()
    assert not isinstance(mem_mask.data, da.Array)
    a = write_mask(mem_mask, tmp_path / "a.tif")
    b = write_mask(lazy_mask, tmp_path / "b.tif")
    assert a.counts == b.counts
    with rasterio.open(a.path) as fa, rasterio.open(b.path) as fb:
        np.testing.assert_array_equal(fa.read(), fb.read())
    left, right = vectorize(mem_mask), vectorize(lazy_mask)
    assert len(left) == len(right) and left.geometry.geom_equals(right.geometry).all()
    assert evaluate(mem_mask, lazy_mask).overall_accuracy == 1.0
    export_mask(mem_mask, tmp_path / "c.tif", rgb=True)
    export_mask(lazy_mask, tmp_path / "d.tif", rgb=True)
    with rasterio.open(tmp_path / "c.tif") as fc, rasterio.open(tmp_path / "d.tif") as fd:
        np.testing.assert_array_equal(fc.read(), fd.read())
    image = open_image(s2_file)
    np.testing.assert_array_equal(
        apply_mask(image.compute(), mem_mask, keep="water").values,
        apply_mask(image, lazy_mask, keep="water").values,
    )


def test_no_other_module_converts_numpy_to_dask():
    """``da.from_array`` only in chunks.py, or over a file reader (``asarray=False``)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\bda\.from_array\(", text):
            call = text[match.end() : text.find("\n)", match.end()) + 2]
            if path.name != "chunks.py" and "asarray=False" not in call.split("\n    )")[0]:
                offenders.append(
                    f"{path.relative_to(PACKAGE)}:{text[: match.start()].count(chr(10)) + 1}"
                )
    assert offenders == []
