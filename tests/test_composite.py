"""landmask.composite: dates cloud-masked, warped onto one grid and reduced, against numpy.

The independent computation warps each whole date with rasterio.warp.reproject
(the same resampling, exact transformer), blanks clouds with the SCL codes and
reduces with numpy's nan-statistics.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject

from landmask.classification.quality import SCL_CLOUD
from landmask.cli import run
from landmask.errors import BandError, DateSkippedWarning, InputError, LandmaskError
from landmask.grid import Grid
from landmask.io.companions import item_path
from landmask.temporal import composite
from landmask.temporal.warp import resampling_scale

UTM33 = CRS.from_epsg(32633)
UTM32 = CRS.from_epsg(32632)
BANDS = ("green", "red", "nir")


def _write(path: Path, data: np.ndarray, crs: CRS, transform: Affine, nodata=None) -> str:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as ds:
        ds.write(data, 1)
    return str(path)


def make_date(
    folder: Path,
    name: str,
    when: str,
    *,
    crs=UTM33,
    transform=None,
    shape=(40, 50),
    seed=0,
    clouds=0.15,
) -> tuple[Path, dict]:
    """A STAC item of uint16 DN bands (scale 1e-4, nodata 0) and an SCL layer; its truth."""
    folder.mkdir(parents=True, exist_ok=True)
    transform = transform or Affine(10, 0, 500000, 0, -10, 5400000)
    rng = np.random.default_rng(seed)
    assets = {}
    dns = {}
    for k, band in enumerate(BANDS):
        dn = rng.integers(200, 6000 + 1000 * k, size=shape).astype(np.uint16)
        dn[rng.random(shape) < 0.02] = 0
        dns[band] = dn
        href = _write(folder / f"{name}_{band}.tif", dn, crs, transform, nodata=0)
        assets[band] = {
            "href": href,
            "roles": ["data"],
            "eo:bands": [{"name": band, "common_name": band}],
            "raster:bands": [{"scale": 1e-4, "offset": 0.0, "nodata": 0}],
        }
    scl = np.where(rng.random(shape) < clouds, SCL_CLOUD[-1], 4).astype(np.uint8)
    assets["SCL"] = {
        "href": _write(folder / f"{name}_scl.tif", scl, crs, transform),
        "roles": ["data"],
    }
    doc = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": name,
        "geometry": None,
        "properties": {"datetime": when, "platform": "sentinel-2a"},
        "links": [],
        "assets": assets,
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    truth = {"dn": dns, "scl": scl, "crs": crs, "transform": transform}
    return path, truth


def expected(truths: list[dict], grid: Grid, method=Resampling.bilinear) -> np.ndarray:
    """Each date warped whole onto ``grid``, clouds blanked: ``(date, band, y, x)``."""
    stack = []
    for t in truths:
        planes = []
        scale = resampling_scale(Grid(t["crs"], t["transform"], *t["dn"]["red"].shape[::-1]), grid)
        for band in BANDS:
            refl = np.where(t["dn"][band] == 0, np.nan, t["dn"][band] * np.float32(1e-4))
            refl = refl.astype(np.float32)
            refl[np.isin(t["scl"], SCL_CLOUD)] = np.nan
            out = np.full(grid.shape, np.nan, np.float32)
            reproject(
                refl,
                out,
                src_transform=t["transform"],
                src_crs=t["crs"],
                src_nodata=np.nan,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                dst_nodata=np.nan,
                resampling=method,
                tolerance=0,
                XSCALE=scale[0],
                YSCALE=scale[1],
            )
            planes.append(out)
        stack.append(np.stack(planes))
    return np.stack(stack)


def nan_stats(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    clear = np.isfinite(stack).all(axis=1)
    blank = np.where(clear[:, None], stack, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(blank, axis=0), clear.sum(axis=0)


@pytest.fixture
def three_dates(tmp_path):
    shifted = Affine(10, 0, 500000 + 37, 0, -10, 5400000 - 23)  # misaligned by a fraction
    a = make_date(tmp_path / "a", "A", "2024-05-01T10:00:00Z", seed=1)
    b = make_date(tmp_path / "b", "B", "2024-06-01T10:00:00Z", seed=2, transform=shifted)
    c = make_date(tmp_path / "c", "C", "2024-07-01T10:00:00Z", seed=3, shape=(30, 45))
    return [a, b, c]


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(chunk=st.integers(8, 64), res=st.sampled_from([10.0, 13.0, 20.0]))
def test_median_and_clear_count_equal_numpy_for_any_chunking(three_dates, chunk, res):
    paths = [str(p) for p, _ in three_dates]
    out = composite(paths, resolution=res, chunk_size=chunk)
    grid = Grid.of(out)
    stack = expected([t for _, t in three_dates], grid)
    median, count = nan_stats(stack)
    got = out.values
    assert list(out["band"].values) == [f"{b}_median" for b in BANDS] + ["clear_count"]
    np.testing.assert_array_equal(got[-1], count)
    np.testing.assert_allclose(got[:-1], median, rtol=1e-5, atol=1e-7, equal_nan=True)
    assert count.max() == 3 and (count == 0).any()  # dates overlap; the union reaches past some
    assert out.attrs["start_datetime"] == "2024-05-01T10:00:00Z"
    assert out.attrs["end_datetime"] == "2024-07-01T10:00:00Z"


def test_more_dates_make_smaller_chunks_not_larger_stacks(three_dates, monkeypatch):
    """A chunk's stack of dates stays under STACK_BYTES: the chunks shrink as dates are
    added (by halving, to MIN_STACK_CHUNK), and the values do not change."""
    import importlib

    module = importlib.import_module("landmask.temporal.composite")
    assert module.stack_chunk_size(1024, 4, 4) == 1024  # 64 MiB: fits
    assert module.stack_chunk_size(1024, 16, 4) == 512
    assert module.stack_chunk_size(1024, 120, 4) == 128  # a year of dates: 31 MiB stacks
    assert module.stack_chunk_size(100, 10**6, 4) == 100  # never below the floor
    for dates, bands in ((1, 4), (8, 4), (60, 6), (500, 4)):
        size = module.stack_chunk_size(1024, dates, bands)
        assert 4 * dates * bands * size**2 <= module.STACK_BYTES or size == 128
    paths = [str(p) for p, _ in three_dates]
    whole = composite(paths, resolution=10, chunk_size=40)
    monkeypatch.setattr(module, "MIN_STACK_CHUNK", 5)
    monkeypatch.setattr(module, "STACK_BYTES", 4 * 3 * 4 * 10 * 10)  # 3 dates of 10² px
    small = composite(paths, resolution=10, chunk_size=40)
    assert max(small.chunks[1]) == 10 and max(whole.chunks[1]) == 40
    np.testing.assert_array_equal(small.values, whole.values)


def _one_chunk_peak(tmp_path: Path, n: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Python-traced peak bytes of computing a composite of ``n`` dates in one chunk, the
    composite's values and the independent ``(date, band, y, x)`` stack."""
    import tracemalloc

    import dask

    dated = [
        make_date(
            tmp_path / f"{n}_{k}",
            f"D{k}",
            f"2024-{k % 12 + 1:02d}-01T10:00:00Z",
            seed=k,
            shape=(120, 100),
        )
        for k in range(n)
    ]
    out = composite([str(p) for p, _ in dated], resolution=10, chunk_size=256)
    assert out.data.npartitions == 1
    with dask.config.set(scheduler="synchronous"):
        _ = out.values  # imports, GDAL's first open: not counted
        tracemalloc.start()
        try:
            got = out.values
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak, got, expected([t for _, t in dated], Grid.of(out))


def test_a_chunk_holds_one_dates_read_at_a_time(tmp_path):
    """Each chunk reads, masks and warps its dates one after the other inside its own task,
    so a date adds its place in the chunk's stack and little more: the reads do not wait
    in the task graph, all alive at once, for the stack to be built. Values unchanged."""
    per_date = 3 * 120 * 100 * 4  # one date's place in the stack: 3 bands float32
    few, _, _ = _one_chunk_peak(tmp_path, 4)
    many, got, stack = _one_chunk_peak(tmp_path, 12)
    growth = (many - few) / 8
    # reads held in the graph until the stack is built cost a date >= 2 places (its
    # masked read and its place in the stack): 2.5 before the fused chunks; now 1.4
    assert growth < 2 * per_date, growth / per_date
    median, count = nan_stats(stack)
    np.testing.assert_array_equal(got[-1], count)
    np.testing.assert_array_equal(got[:-1], median.astype(np.float32))


def test_other_utm_zone_is_warped_onto_the_grid(tmp_path):
    a, ta = make_date(tmp_path / "a", "A", "2024-05-01T10:00:00Z", seed=1)
    # the same place seen in the neighbouring zone, on a grid rotated by the zones' convergence
    from rasterio.warp import transform as transform_points

    (x,), (y,) = transform_points(UTM33, UTM32, [500000 + 120], [5400000 + 90])
    b, tb = make_date(
        tmp_path / "b",
        "B",
        "2024-05-11T10:00:00Z",
        seed=4,
        crs=UTM32,
        transform=Affine(10, 0, round(x), 0, -10, round(y)),
    )
    from rasterio.warp import transform_bounds

    grid_a = Grid(UTM33, ta["transform"], 50, 40)
    left, _, right, _ = grid_a.bounds
    out = composite([a, b], like=grid_a, chunk_size=17)
    stack = expected([ta, tb], Grid.of(out))
    median, count = nan_stats(stack)
    np.testing.assert_array_equal(out.values[-1], count)
    # across CRSs GDAL's per-pixel transform of a chunk's window differs from the whole
    # raster's in the last bits: within 1e-4 reflectance (one DN), far below the noise
    np.testing.assert_allclose(out.values[:-1], median, rtol=0, atol=1e-4, equal_nan=True)
    overlap = transform_bounds(UTM32, UTM33, *Grid(UTM32, tb["transform"], 50, 40).bounds)
    assert overlap[0] < right and overlap[2] > left  # the fixture does overlap
    assert count.max() == 2


def test_index_features_and_percentiles(three_dates):
    paths = [p for p, _ in three_dates]
    out = composite(
        paths, resolution=10, stats=["p25", "max"], features=["ndvi:p10,p90"], chunk_size=16
    )
    names = list(out["band"].values)
    assert names[-3:] == ["ndvi_p10", "ndvi_p90", "clear_count"]
    assert "red_p25" in names and "nir_max" in names
    stack = expected([t for _, t in three_dates], Grid.of(out))
    clear = np.isfinite(stack).all(axis=1)
    blank = np.where(clear[:, None], stack, np.nan)
    red, nir = blank[:, 1], blank[:, 2]
    ndvi = (nir - red) / (nir + red)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p10 = np.nanpercentile(ndvi, 10, axis=0)
        red25 = np.nanpercentile(red, 25, axis=0)
        nirmax = np.nanmax(nir, axis=0)
    got = out.values
    np.testing.assert_allclose(
        got[names.index("ndvi_p10")], p10, rtol=1e-4, atol=1e-6, equal_nan=True
    )
    np.testing.assert_allclose(got[names.index("red_p25")], red25, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(got[names.index("nir_max")], nirmax, rtol=1e-6, equal_nan=True)


def test_period_skips_dates_with_a_warning_each(three_dates):
    paths = [p for p, _ in three_dates]
    with pytest.warns(DateSkippedWarning, match="outside the period") as caught:
        out = composite(paths, resolution=10, period="2024-05-15/2024-06-30")
    assert len([w for w in caught if w.category is DateSkippedWarning]) == 2
    assert out.attrs["dates"] == ["2024-06-01 sentinel-2a"]
    assert int(np.nanmax(out.values[-1])) == 1
    with (
        pytest.warns(DateSkippedWarning),
        pytest.raises(InputError, match="no input scene lies in the period"),
    ):
        composite(paths, period="2025-01-01/..")


def test_one_acquisition_given_twice_counts_once(tmp_path):
    a, _ = make_date(tmp_path / "a", "A", "2024-05-01T10:00:00Z", seed=1, clouds=0)
    out = composite([a, a], chunk_size=20)
    assert int(np.nanmax(out.values[-1])) == 1
    assert out.attrs["dates"] == ["2024-05-01 sentinel-2a"]


def test_bad_inputs_are_one_line_errors(tmp_path, three_dates):
    path, _ = three_dates[0]
    doc = json.loads(path.read_text())
    doc["properties"] = {}
    undated = tmp_path / "undated.json"
    undated.write_text(json.dumps(doc))
    with pytest.raises(LandmaskError, match="datetime"):
        composite([undated])
    with pytest.raises(BandError, match="has no band swir16"):
        composite([path], bands=["swir16"])
    with pytest.raises(BandError, match="features ndbi"):
        composite([path], features=["ndbi:p50"])


def test_cli_writes_a_described_cog_with_its_period(tmp_path, three_dates):
    paths = [str(p) for p, _ in three_dates]
    out = tmp_path / "out" / "composite.tif"
    out.parent.mkdir()
    code = run(
        [
            "composite",
            *paths,
            "-o",
            str(out),
            "--feature",
            "ndvi:p90",
            "--chunk-size",
            "32",
            "--quiet",
        ]
    )
    assert code == 0
    with rasterio.open(out) as ds:
        assert ds.descriptions[-2:] == ("ndvi_p90", "clear_count")
        assert ds.crs == UTM33 and ds.dtypes[0] == "float32"
        reference = composite(paths, features=["ndvi:p90"], chunk_size=64).values
        np.testing.assert_allclose(ds.read(), reference, rtol=1e-6, equal_nan=True)
    assert (
        run(["composite", *paths, "-o", str(tmp_path / "x.tif"), "--period", "2024-13-01/.."]) == 2
    )
    item = json.loads(item_path(out).read_text())
    assert item["properties"]["start_datetime"] == "2024-05-01T10:00:00Z"
    assert item["properties"]["end_datetime"] == "2024-07-01T10:00:00Z"
    derived = sorted(link["href"] for link in item["links"] if link["rel"] == "derived_from")
    assert [os.path.basename(h) for h in derived] == ["A.json", "B.json", "C.json"]


def test_rules_read_a_composites_bands_by_name(tmp_path, three_dates):
    paths = [str(p) for p, _ in three_dates]
    comp = tmp_path / "comp.tif"
    assert run(["composite", *paths, "-o", str(comp), "--feature", "ndvi:p10", "--quiet"]) == 0
    rules = tmp_path / "annual.yaml"
    rules.write_text(
        "name: t\nscheme: landcover\nrules:\n"
        "  - class: forest\n    when: ndvi_p10 > 0.1 and clear_count >= 2\n"
        "  - class: urban\n    when: ndvi < 0\n"
    )
    mask = tmp_path / "mask.tif"
    assert run(["classify", str(comp), "--rules", str(rules), "-o", str(mask), "--quiet"]) == 0
    with rasterio.open(comp) as ds:
        bands = dict(zip(ds.descriptions, ds.read(), strict=True))
    with rasterio.open(mask) as ds:
        got = ds.read(1)
    red, nir = bands["red_median"], bands["nir_median"]
    ndvi = (nir - red) / (nir + red)  # ndvi on a composite reads the bands' medians
    missing = ~np.isfinite(bands["ndvi_p10"]) | ~np.isfinite(ndvi)
    want = np.where(
        (bands["ndvi_p10"] > 0.1) & (bands["clear_count"] >= 2), 1, np.where(ndvi < 0, 2, 0)
    )
    want[missing] = 255
    np.testing.assert_array_equal(got, want)
    assert {0, 1, 2} <= set(np.unique(got).tolist())  # every rule fires somewhere


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    dates=st.integers(0, 9),
    stat=st.sampled_from(["median", "min", "max", "p0", "p10", "p37", "p90", "p100"]),
    seed=st.integers(0, 2**16),
)
def test_statistics_equal_numpys_nan_functions(dates, stat, seed):
    from landmask.temporal.statistics import Output, reduce_block

    rng = np.random.default_rng(seed)
    stack = rng.random((dates, 2, 7, 5)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.3] = np.nan
    out = reduce_block(
        stack, ["red", "nir"], [Output("nir", stat, False), Output("ndvi", stat, True)]
    )
    clear = np.isfinite(stack).all(axis=1)
    nir = np.where(clear, stack[:, 1], np.nan)
    red = np.where(clear, stack[:, 0], np.nan)
    ndvi = (nir - red) / (nir + red)
    func = {"median": np.nanmedian, "min": np.nanmin, "max": np.nanmax}.get(stat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k, values in enumerate((nir, ndvi)):
            if dates == 0:
                want = np.full((7, 5), np.nan)
            elif func is not None:
                want = func(values, axis=0)
            else:
                want = np.nanpercentile(values, float(stat[1:]), axis=0)
            np.testing.assert_allclose(out[k], want, rtol=1e-6, atol=1e-7, equal_nan=True)
    np.testing.assert_array_equal(out[-1], clear.sum(axis=0))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 9, 13])
def test_the_sorting_network_sorts_every_zero_one_input(n):
    """Zero-one principle: a comparator network sorting every 0/1 sequence sorts all."""
    import itertools

    from landmask.temporal.statistics import sorting_network

    pairs = sorting_network(n)
    assert all(0 <= i < j < n for i, j in pairs)
    for bits in itertools.product((0, 1), repeat=n):
        v = list(bits)
        for i, j in pairs:
            v[i], v[j] = min(v[i], v[j]), max(v[i], v[j])
        assert v == sorted(bits)


@pytest.mark.parametrize(("n", "top"), [(1, 0), (4, 2), (5, 0), (8, 4), (9, 5), (13, 7), (13, 12)])
def test_the_selection_network_puts_the_wanted_ranks_of_every_zero_one_input(n, top):
    """Zero-one principle: the ranks up to ``top`` are in place for every 0/1 sequence, and
    each compare-exchange writes only the results read later."""
    import itertools

    from landmask.temporal.statistics import selection_network, sorting_network

    steps = selection_network(n, top)
    assert len(steps) <= len(sorting_network(n))
    for bits in itertools.product((0, 1), repeat=n):
        v = list(bits)
        for i, j, low, high in steps:
            a, b = min(v[i], v[j]), max(v[i], v[j])
            v[i], v[j] = a if low else -1, b if high else -1  # -1: a value nothing may read
        assert v[: top + 1] == sorted(bits)[: top + 1]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 70),
    stats=st.lists(
        st.sampled_from(["median", "min", "max", "p0", "p10", "p37", "p50", "p90", "p100"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    seed=st.integers(0, 2**16),
    share=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
)
def test_reduce_dates_equals_numpys_sort_and_linear_interpolation(n, stats, seed, share):
    """Bit for bit: numpy's sort with the missing values last, then numpy's linear
    interpolation between the closest ranks of each pixel's count (a float64 formula)."""
    from landmask.temporal.statistics import NETWORK_STRIP, reduce_dates

    rng = np.random.default_rng(seed)
    # more pixels than a strip (a last, short strip), ties, and values above missing ones
    values = rng.integers(0, 40, (n, 3, NETWORK_STRIP // 3 + 5)).astype(np.float32) / 7
    missing = rng.random(values.shape) < share
    values[missing & (rng.random(values.shape) < 0.5)] = np.nan  # some missing are NaN
    count = n - missing.sum(axis=0)
    out = np.full((len(stats), *values.shape[1:]), -1, np.float32)
    given = values.copy()
    reduce_dates(values, missing, count, list(enumerate(stats)), out)
    if n <= 64:
        np.testing.assert_array_equal(values, given)  # the network works on a copy
    ordered = np.sort(np.where(missing, np.inf, given), axis=0)
    seen, last = count > 0, np.maximum(count - 1, 0)
    for k, stat in enumerate(stats):
        if stat in ("min", "max"):
            rank = np.zeros_like(last) if stat == "min" else last
            want = np.take_along_axis(ordered, rank[None], axis=0)[0].astype(np.float64)
        else:
            position = (50.0 if stat == "median" else float(stat[1:])) / 100.0 * last
            low = np.floor(position).astype(int)
            below = np.take_along_axis(ordered, low[None], axis=0)[0].astype(np.float64)
            high = np.minimum(low + 1, last)
            above = np.take_along_axis(ordered, high[None], axis=0)[0].astype(np.float64)
            with np.errstate(invalid="ignore"):
                want = below + (above - below) * (position - low)
        want = np.where(seen, want, np.nan).astype(np.float32)
        np.testing.assert_array_equal(out[k].view(np.uint32), want.view(np.uint32))
