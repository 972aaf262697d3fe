"""Zonal statistics: exact class areas per zone, checked against independent computations.

The reference for projected masks is the exact intersection area (shapely) of
each zone with each pixel square, summed per class; for geographic masks,
pyproj's geodesic area of a zone. Chunked results are compared with the
whole-array result for random masks, zones and misaligned chunk sizes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio.features
import shapely
from affine import Affine
from conftest import TRANSFORM, UTM33, as_mask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from rasterio.crs import CRS

import landmask
from landmask.analysis._coverage import block_areas, range_counts, zone_edges
from landmask.classes import WORLDCOVER
from landmask.cli import run
from landmask.errors import GridError, InputError, ZoneWarning
from landmask.grid import Grid

LANDCOVER_COLUMNS = ["other", "forest", "urban", "water"]
VALUES = np.array([0, 1, 2, 3, 254, 255], dtype=np.uint8)


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.choice(VALUES, size=(h, w)).astype(np.uint8)


def star(
    rng: np.random.Generator, cx: float, cy: float, radius: float, n: int = 11
) -> shapely.Polygon:
    """An irregular star-shaped polygon: a zone that pixel centres approximate badly."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = radius * rng.uniform(0.35, 1.0, n)
    return shapely.Polygon(
        np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    )


def pixel_squares(transform: Affine, h: int, w: int) -> np.ndarray:
    """Every pixel as a polygon of its four corners (rotated grids too), row by row."""
    rows, cols = (a.ravel() for a in np.meshgrid(np.arange(h), np.arange(w), indexing="ij"))
    corners = [transform @ (cols + dc, rows + dr) for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1))]
    rings = np.stack([np.column_stack(c) for c in corners], axis=1)
    return shapely.polygons(rings)


def exact_areas(data: np.ndarray, transform: Affine, zone: shapely.Geometry) -> dict[int, float]:
    """Independent reference: exact shapely intersection area of the zone with every pixel."""
    cells = pixel_squares(transform, *data.shape)
    areas = shapely.area(shapely.intersection(cells, zone))
    return {int(v): float(areas[data.ravel() == v].sum()) for v in VALUES}


def zones_frame(geoms, crs=UTM33, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"z{i}" for i in range(len(geoms))], **columns}, geometry=list(geoms), crs=crs
    )


# ---------------------------------------------------------------- exactness


def test_areas_equal_exact_polygon_intersections():
    rng = np.random.default_rng(5)
    h, w = 30, 40
    data = random_mask(rng, h, w)
    left, top = TRANSFORM.c, TRANSFORM.f
    geoms = [
        star(rng, left + rng.uniform(50, 350), top - rng.uniform(50, 250), rng.uniform(30, 120))
        for _ in range(8)
    ]
    holed = shapely.Polygon(
        [
            (left + 20, top - 20),
            (left + 380, top - 20),
            (left + 380, top - 280),
            (left + 20, top - 280),
        ],
        [[(left + 100, top - 100), (left + 300, top - 110), (left + 200, top - 200)]],
    )
    multi = shapely.MultiPolygon(
        [star(rng, left + 60, top - 60, 40), star(rng, left + 330, top - 230, 50)]
    )
    straddling = star(rng, left - 20, top - 150, 90)  # partly west of the raster
    geoms += [holed, multi, straddling]
    result = landmask.zonal_stats(as_mask(data, chunks=11), zones_frame(geoms))
    assert list(result["name"]) == [f"z{i}" for i in range(len(geoms))]
    raster = shapely.box(left, top - 10 * h, left + 10 * w, top)
    for i, zone in enumerate(geoms):
        ref = exact_areas(data, TRANSFORM, zone)
        row = result.iloc[i]
        for v, name in enumerate(LANDCOVER_COLUMNS):
            assert row[f"{name}_m2"] == pytest.approx(ref[v], rel=1e-8, abs=1e-4)
        assert row["cloud_m2"] == pytest.approx(ref[254], rel=1e-8, abs=1e-4)
        assert row["nodata_m2"] == pytest.approx(ref[255], rel=1e-8, abs=1e-4)
        inside = shapely.intersection(zone, raster).area
        assert row["inside_m2"] == pytest.approx(inside, rel=1e-8)
        assert row["forest_fraction"] == pytest.approx(ref[1] / inside, rel=1e-7)


def test_pixel_centres_are_measurably_off_on_irregular_zones():
    """Counting centres (rasterize + bincount) errs by far more than float rounding."""
    rng = np.random.default_rng(11)
    h, w = 60, 60
    data = random_mask(rng, h, w)
    left, top = TRANSFORM.c, TRANSFORM.f
    geoms = [
        star(
            rng, left + rng.uniform(150, 450), top - rng.uniform(150, 450), rng.uniform(60, 140), 17
        )
        for _ in range(12)
    ]
    result = landmask.zonal_stats(as_mask(data), zones_frame(geoms))
    ours, centres = [], []
    for i, zone in enumerate(geoms):
        ref = exact_areas(data, TRANSFORM, zone)[1]
        burnt = rasterio.features.rasterize([(zone, 1)], out_shape=(h, w), transform=TRANSFORM)
        by_centre = 100.0 * np.count_nonzero((burnt == 1) & (data == 1))
        ours.append(abs(result["forest_m2"][i] - ref) / ref)
        centres.append(abs(by_centre - ref) / ref)
    assert max(ours) < 1e-8
    assert np.median(centres) > 1e-3  # typically a percent on zones of a few hundred pixels
    assert min(centres) > 1000 * max(ours)


def test_zones_in_another_crs_are_reprojected():
    rng = np.random.default_rng(2)
    data = random_mask(rng, 40, 40)
    zone_utm = star(rng, TRANSFORM.c + 200, TRANSFORM.f - 200, 150)
    zone_ll = gpd.GeoSeries([zone_utm], crs=UTM33).to_crs(4326)
    result = landmask.zonal_stats(as_mask(data), zones_frame(zone_ll, crs="EPSG:4326"))
    # the edges are straight in EPSG:4326, curves in UTM: densified far finer than a pixel
    # (landmask cuts them to about a pixel: 1e-8 of the area here, 1e-6 without)
    back = zone_ll.segmentize(1e-5).to_crs(UTM33).iloc[0]
    ref = exact_areas(data, TRANSFORM, back)
    assert result["water_m2"][0] == pytest.approx(ref[3], rel=1e-7)
    assert result["inside_m2"][0] == pytest.approx(back.area, rel=1e-7)
    assert result.crs == "EPSG:4326"  # the zones keep their own CRS and geometry
    assert result.geometry.iloc[0].equals_exact(zone_ll.iloc[0], 0)


def test_geographic_mask_areas_on_the_ellipsoid():
    """EPSG:4326 mask at 60°N: pixel areas shrink northwards; sums match pyproj's geodesic area."""
    res = 0.001
    transform = Affine(res, 0, 10.0, 0, -res, 60.1)
    h, w = 100, 100
    rng = np.random.default_rng(4)
    data = random_mask(rng, h, w)
    wgs84 = CRS.from_epsg(4326)
    rows = Grid(wgs84, transform, 1, h).row_areas()
    assert rows[0] < rows[-1]  # the northern row is smaller
    assert rows[-1] / rows[0] == pytest.approx(
        np.cos(np.radians(60.0005)) / np.cos(np.radians(60.0995)), rel=1e-4
    )
    zone = shapely.Polygon([(10.012, 60.013), (10.081, 60.021), (10.07, 60.088), (10.03, 60.07)])
    # pyproj takes edges for geodesics, the raster's grid for straight lines in degrees (0.5 m
    # apart mid-edge here); short edges make the two agree to ~1e-6
    zone = shapely.segmentize(zone, 0.0002)
    result = landmask.zonal_stats(
        as_mask(data, transform=transform, crs=wgs84), zones_frame([zone], crs=wgs84)
    )
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(zone)[0])
    total = (
        result[[f"{c}_m2" for c in LANDCOVER_COLUMNS] + ["cloud_m2", "nodata_m2"]].to_numpy().sum()
    )
    assert total == pytest.approx(result["inside_m2"][0], rel=1e-12)
    assert total == pytest.approx(geodesic, rel=1e-5)
    # per class: coverage from shapely in degrees times each row's area
    cells = pixel_squares(transform, h, w)
    cover = shapely.area(shapely.intersection(cells, zone)) / res**2
    weighted = cover * rows[:, None].repeat(w, axis=1).ravel()
    assert result["forest_m2"][0] == pytest.approx(weighted[data.ravel() == 1].sum(), rel=1e-7)


def test_rotated_projected_grid():
    """A rotated grid: coverage is taken in pixel space, areas still exact."""
    rotated = TRANSFORM @ Affine.rotation(20)
    rng = np.random.default_rng(8)
    data = random_mask(rng, 25, 25)
    centre = rotated @ (12, 12)
    zone = star(rng, *centre, 90)
    result = landmask.zonal_stats(as_mask(data, transform=rotated), zones_frame([zone]))
    ref = exact_areas(data, rotated, zone)
    assert result["urban_m2"][0] == pytest.approx(ref[2], rel=1e-8)


# ---------------------------------------------------------------- chunks


GEOGRAPHIC = Affine(0.001, 0.0, 10.0, 0.0, -0.001, 60.0)


@st.composite
def cases(draw):
    h = draw(st.integers(3, 40))
    w = draw(st.integers(3, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 6))
    chunks = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    geographic = draw(st.booleans())
    return h, w, seed, n, chunks, geographic


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_any_chunk_size_gives_the_whole_array_result(case):
    h, w, seed, n, chunks, geographic = case
    transform, crs = (GEOGRAPHIC, CRS.from_epsg(4326)) if geographic else (TRANSFORM, UTM33)
    rng = np.random.default_rng(seed)
    data = random_mask(rng, h, w)
    geoms = []  # drawn in pixel units, then put on the grid
    for _ in range(n):  # zones of any size, some across the raster's edges
        cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
        geoms.append(star(rng, cx, cy, rng.uniform(0.5, max(h, w))))
    geoms.append(shapely.box(0, 0, w, h))  # the whole raster: never all outside
    on_grid = shapely.transform(np.array(geoms), lambda xy: np.column_stack(transform @ xy.T))
    frame = zones_frame(on_grid, crs=crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZoneWarning)
        whole = landmask.zonal_stats(as_mask(data, transform, crs, chunks=max(h, w)), frame)
        chunked = landmask.zonal_stats(as_mask(data, transform, crs, chunks=chunks), frame)
    stats = [c for c in whole.columns if c.endswith(("_m2", "_fraction"))]
    np.testing.assert_allclose(
        chunked[stats].to_numpy(), whole[stats].to_numpy(), rtol=1e-12, atol=1e-9
    )
    # and the whole-raster zone counts every pixel once, with its row's area
    rows = Grid(crs, transform, 1, h).row_areas()
    full = whole.iloc[-1]
    assert full["inside_m2"] == pytest.approx(rows.sum() * w, rel=1e-12)
    assert full["forest_m2"] == pytest.approx((rows[:, None] * (data == 1)).sum(), rel=1e-12)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    h=st.integers(2, 24),
    w=st.integers(2, 24),
    seed=st.integers(0, 2**32 - 1),
    chunks=st.tuples(st.integers(1, 24), st.integers(1, 24)),
)
def test_holes_parts_and_grid_aligned_edges_equal_exact_intersections(h, w, seed, chunks):
    """Zones with holes, several parts, edges on pixel edges and through pixel corners, in
    any chunks: equal to shapely's exact intersection areas, pixel by pixel."""
    rng = np.random.default_rng(seed)
    data = random_mask(rng, h, w)
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), max(h, w) * rng.uniform(0.3, 0.8)
    holed = shapely.Point(cx, cy).buffer(r, 5).difference(shapely.Point(cx, cy).buffer(r / 2, 3))
    x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
    aligned = shapely.box(x0, y0, x0 + rng.integers(1, 4), y0 + rng.integers(1, 4))  # on edges
    diamond = shapely.Polygon([(x0, y0 + 2), (x0 + 2, y0), (x0 + 4, y0 + 2), (x0 + 2, y0 + 4)])
    parts = shapely.MultiPolygon(
        [shapely.box(-1, -1, 0.5, 0.75), shapely.box(w - 1.5, h - 1, w, h)]
    )
    geoms = [holed, aligned, diamond, parts, shapely.box(0, 0, w, h)]
    on_grid = shapely.transform(np.array(geoms), lambda xy: np.column_stack(TRANSFORM * xy.T))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZoneWarning)
        got = landmask.zonal_stats(as_mask(data, chunks=chunks), zones_frame(on_grid))
    for k, zone in enumerate(on_grid):
        ref = exact_areas(data, TRANSFORM, zone)
        for v, name in enumerate(LANDCOVER_COLUMNS):
            assert got[f"{name}_m2"][k] == pytest.approx(ref[v], rel=1e-9, abs=1e-6)
        assert got["nodata_m2"][k] == pytest.approx(ref[255], rel=1e-9, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 40),
    kinds=st.integers(1, 7),
)
def test_range_counts_equal_each_ranges_own_counts(size, seed, n, kinds):
    """The block function counting classes over runs of whole pixels: ranges that overlap,
    are empty, start at 0 or end at the last value; values that are no class (7, 9)."""
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([0, 1, 2, 3, 254, 255, 7, 9], np.uint8)[: kinds + 1], size)
    starts = rng.integers(0, size + 1, n)
    ends = starts + (rng.integers(0, size + 1, n) % (size - starts + 1))
    lut = np.full(256, 6, dtype=np.int32)  # unknown values
    lut[[0, 1, 2, 3, 254, 255]] = [0, 1, 2, 3, 4, 5]
    got = range_counts(values, starts, ends, lut, 7)
    want = np.array(
        [np.bincount(lut[values[a:b]], minlength=7) for a, b in zip(starts, ends, strict=True)]
    ).reshape(n, 7)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 300),
    w=st.integers(1, 20),
    row0=st.integers(0, 30),
    col0=st.integers(0, 30),
)
def test_block_areas_equal_exact_intersections_wherever_the_zones_lie(seed, h, w, row0, col0):
    """One block at an offset, zones across its edges, wholly around it or beside it, taller
    than a strip: each zone's areas equal shapely's exact intersections with its pixels."""
    rng = np.random.default_rng(seed)
    block = random_mask(rng, h, w)
    # pixel space of the whole raster: x = column, y = row (an identity transform)
    zones = [  # made valid (a star may cross itself), polygonal
        shapely.make_valid(
            star(rng, col0 + rng.uniform(-10, w + 10), row0 + rng.uniform(-10, h + 10), r),
            method="structure",
            keep_collapsed=False,
        )
        for r in rng.uniform(0.5, 40, 3)
    ]
    zones.append(shapely.box(col0 - 5, row0 - 5, col0 + w + 5, row0 + h + 5))  # round it
    zones.append(shapely.box(col0 - 9, row0, col0 - 1, row0 + h))  # left of it
    zones.append(shapely.box(col0 + 0.25, row0 - 3.5, col0 + w - 0.5, row0 + h + 2))  # across
    geoms = np.array(zones, dtype=object)
    edges = zone_edges(geoms, Affine.identity())
    lut = np.full(256, 6, dtype=np.int32)
    lut[VALUES] = [0, 1, 2, 3, 4, 5]
    areas = np.full(h, 2.0)
    got = block_areas(block, row0, col0, edges.subset(np.arange(len(geoms))), lut, 7, areas)
    cells = pixel_squares(Affine.translation(col0, row0), h, w)
    for k, zone in enumerate(geoms):
        share = shapely.area(shapely.intersection(cells, zone))
        want = np.bincount(lut[block.ravel()], weights=share * 2.0, minlength=7)
        np.testing.assert_allclose(got[k], want, rtol=1e-9, atol=1e-9)


def test_chunk_size_of_a_file_and_the_processes_scheduler(tmp_path):
    import dask

    rng = np.random.default_rng(9)
    data = random_mask(rng, 70, 90)
    path = tmp_path / "mask.tif"
    landmask.write_mask(as_mask(data), path)
    geoms = [
        star(rng, TRANSFORM.c + rng.uniform(0, 900), TRANSFORM.f - rng.uniform(0, 700), 120)
        for _ in range(10)
    ]
    frame = zones_frame(geoms)
    whole = landmask.zonal_stats(path, frame, chunk_size=4096)
    with dask.config.set(scheduler="processes", num_workers=2):
        chunked = landmask.zonal_stats(path, frame, chunk_size=16)
    pd.testing.assert_frame_equal(
        pd.DataFrame(chunked.drop(columns="geometry")),
        pd.DataFrame(whole.drop(columns="geometry")),
        rtol=1e-12,
    )


# ------------------------------------------------------------- keys, classes


def test_zone_key_default_and_columns():
    rng = np.random.default_rng(1)
    data = random_mask(rng, 20, 20)
    geoms = [
        shapely.box(TRANSFORM.c + 10 * i, TRANSFORM.f - 100, TRANSFORM.c + 10 * i + 50, TRANSFORM.f)
        for i in range(3)
    ]
    frame = gpd.GeoDataFrame(
        {"kind": ["a", "a", "b"], "code": [7, 8, 9]}, geometry=geoms, crs=UTM33
    )
    result = landmask.zonal_stats(as_mask(data), frame)
    assert list(result.columns[:2]) == ["code", "kind"]  # the first unique column is the key
    assert result.attrs["key"] == "code"
    expected = [f"{c}_m2" for c in LANDCOVER_COLUMNS] + ["cloud_m2", "nodata_m2", "inside_m2"]
    expected += [f"{c}_fraction" for c in LANDCOVER_COLUMNS]
    assert list(result.columns[2:-1]) == expected
    # no unique column: the row number
    frame = gpd.GeoDataFrame({"kind": ["a", "a", "b"]}, geometry=geoms, crs=UTM33)
    result = landmask.zonal_stats(as_mask(data), frame)
    assert list(result["zone"]) == [0, 1, 2]
    # a chosen column and a subset of classes
    result = landmask.zonal_stats(
        as_mask(data), frame.assign(code=[1, 2, 3]), zone_column="code", classes=["water", "1"]
    )
    assert [c for c in result.columns if c.endswith("_m2")] == [
        "forest_m2",
        "water_m2",
        "cloud_m2",
        "nodata_m2",
        "inside_m2",
    ]
    assert result["inside_m2"][0] == pytest.approx(5000.0)


def test_scheme_names_the_columns():
    ids = np.array([10, 20, 50, 80, 255], dtype=np.uint8)
    data = np.resize(ids, (10, 10)).astype(np.uint8)
    mask = as_mask(data, class_scheme="worldcover")
    zone = shapely.box(TRANSFORM.c, TRANSFORM.f - 100, TRANSFORM.c + 100, TRANSFORM.f)
    result = mask.landmask.zonal(zones_frame([zone]))
    names = [c.name for c in WORLDCOVER if c.id != 255]
    assert [c for c in result.columns if c.endswith("_fraction")] == [
        f"{n}_fraction" for n in names
    ]
    assert result["tree_cover_m2"][0] == pytest.approx(100.0 * np.count_nonzero(data == 10))
    assert result["nodata_m2"][0] == pytest.approx(100.0 * np.count_nonzero(data == 255))


def test_values_outside_the_scheme_count_as_nodata():
    data = np.full((10, 10), 1, dtype=np.uint8)
    data[:2] = 7  # no class of landcover
    zone = shapely.box(TRANSFORM.c, TRANSFORM.f - 100, TRANSFORM.c + 100, TRANSFORM.f)
    with pytest.warns(ZoneWarning, match="no class of scheme 'landcover'"):
        result = landmask.zonal_stats(as_mask(data), zones_frame([zone]))
    assert result["nodata_m2"][0] == pytest.approx(2000.0)
    assert result["forest_fraction"][0] == pytest.approx(0.8)


# ---------------------------------------------------------------- bad zones


def test_outside_empty_and_invalid_zones_are_reported_not_fatal():
    data = np.ones((20, 20), dtype=np.uint8)
    left, top = TRANSFORM.c, TRANSFORM.f
    inside = shapely.box(left + 10, top - 110, left + 110, top - 10)
    outside = shapely.box(left - 500, top - 100, left - 400, top)
    bowtie = shapely.Polygon(
        [(left, top), (left + 100, top - 100), (left + 100, top), (left, top - 100)]
    )
    geoms = [
        inside,
        outside,
        shapely.Polygon(),
        None,
        shapely.LineString([(left, top), (left + 50, top - 50)]),
        bowtie,
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = landmask.zonal_stats(as_mask(data), zones_frame(geoms))
    messages = [str(w.message) for w in caught if issubclass(w.category, ZoneWarning)]
    assert any("1 of 6 zones lie outside the mask" in m and "z1" in m for m in messages), messages
    assert any("3 zones have no polygon" in m and "z2, z3, z4" in m for m in messages), messages
    assert any("1 invalid zone geometries were repaired" in m and "z5" in m for m in messages), (
        messages
    )
    assert result.attrs["notes"] == messages
    assert len(result) == 6
    assert result["forest_m2"][0] == pytest.approx(10000.0)
    assert (result.loc[1:4, ["forest_m2", "inside_m2", "forest_fraction"]] == 0).all().all()
    assert result["forest_m2"][5] == pytest.approx(shapely.make_valid(bowtie).area)  # two triangles


def test_no_zone_overlaps_the_mask():
    far = shapely.box(0, 0, 100, 100)
    with pytest.raises(InputError, match="no zone overlaps the mask"):
        landmask.zonal_stats(as_mask(np.ones((5, 5), np.uint8)), zones_frame([far]))


def test_zones_without_any_polygon():
    points = gpd.GeoDataFrame(geometry=[shapely.Point(TRANSFORM.c + 5, TRANSFORM.f - 5)], crs=UTM33)
    with pytest.raises(InputError, match="no zone has a polygon geometry"):
        landmask.zonal_stats(as_mask(np.ones((5, 5), np.uint8)), points)


def test_bad_zone_column_and_missing_crs():
    zone = shapely.box(TRANSFORM.c, TRANSFORM.f - 50, TRANSFORM.c + 50, TRANSFORM.f)
    mask = as_mask(np.ones((5, 5), np.uint8))
    with pytest.raises(InputError, match=r"no column 'district' \(columns: name\)"):
        landmask.zonal_stats(mask, zones_frame([zone]), zone_column="district")
    with pytest.raises(InputError, match="does not name the zones uniquely"):
        landmask.zonal_stats(mask, zones_frame([zone, zone], dup=[1, 1]), zone_column="dup")
    with pytest.raises(GridError, match="no CRS"):
        landmask.zonal_stats(mask, zones_frame([zone], crs=None))
    with pytest.raises(InputError, match="no class 'forrest'"):
        landmask.zonal_stats(mask, zones_frame([zone]), classes=["forrest"])
    with pytest.raises(InputError, match="not a mask"):
        landmask.zonal_stats(mask.astype("float32"), zones_frame([zone]))


# ---------------------------------------------------------------- command line


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, np.ndarray, list]:
    rng = np.random.default_rng(3)
    data = random_mask(rng, 50, 60)
    mask = tmp_path / "mask.tif"
    landmask.write_mask(as_mask(data), mask)
    geoms = [
        star(rng, TRANSFORM.c + rng.uniform(100, 500), TRANSFORM.f - rng.uniform(100, 400), 100)
        for _ in range(5)
    ]
    zones = tmp_path / "zones.gpkg"
    zones_frame(geoms, district=[f"d{i}" for i in range(5)], pop=[1, 2, 3, 4, 5]).to_crs(
        4326
    ).to_file(zones)
    return mask, zones, data, geoms


@pytest.mark.parametrize("ext", [".csv", ".gpkg", ".parquet"])
def test_cli_writes_table_or_zones(files, tmp_path, ext, capsys):
    mask, zones, data, _ = files
    out = tmp_path / f"areas{ext}"
    code = run(
        [
            "zonal",
            str(mask),
            str(zones),
            "-o",
            str(out),
            "--zone-column",
            "district",
            "--scheduler",
            "threads",
            "--chunk-size",
            "16",
        ]
    )
    assert code == 0
    assert f"{out}: 5 zones" in capsys.readouterr().out
    if ext == ".csv":
        table = pd.read_csv(out)
        assert "geometry" not in table.columns and "pop" not in table.columns
    else:
        table = gpd.read_parquet(out) if ext == ".parquet" else gpd.read_file(out)
        assert table.crs == "EPSG:4326"  # the zones as given, joinable with the input
        assert list(table["pop"]) == [1, 2, 3, 4, 5]
        assert table.geometry.iloc[0].equals_exact(gpd.read_file(zones).geometry.iloc[0], 1e-12)
    assert list(table["district"]) == [f"d{i}" for i in range(5)]
    back = gpd.read_file(zones).segmentize(1e-5).to_crs(UTM33).geometry  # edges: curves
    for i in range(5):
        ref = exact_areas(data, TRANSFORM, back.iloc[i])
        assert table["urban_m2"][i] == pytest.approx(ref[2], rel=1e-7)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_bad_input_exit_2_one_line_nothing_left(files, tmp_path, capsys):
    mask, zones, _, _ = files
    scene = tmp_path / "scene.tif"
    from conftest import write_raster

    write_raster(scene, np.zeros((2, 5, 5), dtype=np.uint16))
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (
            ["zonal", mask, zones, "-o", tmp_path / "a.csv", "--zone-column", "nope"],
            "no column 'nope'",
        ),
        (["zonal", scene, zones, "-o", tmp_path / "a.csv"], "not a mask"),
        (["zonal", mask, tmp_path / "missing.gpkg", "-o", tmp_path / "a.csv"], "no such file"),
        (["zonal", mask, zones, "-o", zones, "--overwrite"], "would overwrite an input"),
        (["zonal", mask, zones, "-o", tmp_path / "a.txt"], "unknown output format"),
        (
            ["zonal", mask, zones, "-o", tmp_path / "a.csv", "--classes", "forest,nope"],
            "no class 'nope'",
        ),
    ]
    far = tmp_path / "far.gpkg"
    zones_frame([shapely.box(0, 0, 10, 10)]).to_file(far)
    before.append("far.gpkg")
    cases.append((["zonal", mask, far, "-o", tmp_path / "a.csv"], "no zone overlaps the mask"))
    for argv, needle in cases:
        capsys.readouterr()
        code = run([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert code == 2, (argv, err)
        assert needle in err and err.count("\n") == 1 and out == "", err
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_zones_layer_picked_or_named(files, tmp_path, capsys):
    mask, zones, _, _ = files
    want = landmask.zonal_stats(mask, zones, zone_column="district")
    two = tmp_path / "two.gpkg"
    frame = gpd.read_file(zones)
    frame.to_file(two, layer="districts")
    frame.iloc[:2].to_file(two, layer="other")
    capsys.readouterr()
    assert run(["zonal", str(mask), str(two), "-o", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err
    assert "pass --zones-layer" in err and err.count("\n") == 1
    got = landmask.zonal_stats(mask, two, zone_column="district", zones_layer="districts")
    assert got.drop(columns="geometry").equals(want.drop(columns="geometry"))
    with pytest.raises(InputError, match="no layer 'nope'"):
        landmask.zonal_stats(mask, two, zones_layer="nope")
