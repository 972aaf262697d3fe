"""Vectorizing masks: chunked, stitched polygons against GDAL on the whole raster.

The reference is :func:`rasterio.features.shapes` (GDAL's polygonizer) run once
over the whole numpy array: landmask's chunked result must have the same
regions per class, each equal to one GDAL polygon (same area, same point set,
same holes), whatever the chunking, connectivity or Dask scheduler. GDAL
writes an 8-connected region whose parts touch at a corner as a self-touching
ring where landmask writes a MultiPolygon, so the 8-connectivity reference is
passed through :func:`shapely.make_valid` first (see landmask/vectorize.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
import xarray as xr
from affine import Affine
from conftest import TRANSFORM, UTM33, run_in_fresh_process
from pyproj import Geod
from rasterio.crs import CRS
from rasterio.features import rasterize, shapes
from scipy import ndimage

from landmask.classification.quality import mask_like
from landmask.cli import run
from landmask.errors import ConfigError, InputError, OutputExistsError
from landmask.io.read.masks import open_mask
from landmask.io.read.scene import pixel_coords
from landmask.vector.formats import write_vector
from landmask.vector.vectorize import vectorize

COLUMNS = ["class_id", "class_name", "area_m2", "perimeter_m", "geometry"]
NAMES = {0: "other", 1: "forest", 2: "urban", 3: "water"}
PIXEL_M2 = 100.0  # TRANSFORM: 10 m pixels


def as_mask(
    data: np.ndarray,
    chunks: int | tuple | str = -1,
    transform: Affine = TRANSFORM,
    crs: CRS = UTM33,
) -> xr.DataArray:
    """A lazy georeferenced mask of ``data`` with the given Dask chunks (as tests/test_write.py)."""
    arr = da.from_array(data, chunks=chunks)
    h, w = arr.shape
    scene = xr.DataArray(
        np.empty((h, w), np.uint8), dims=("y", "x"), coords=pixel_coords(transform, h, w)
    )
    scene = scene.rio.write_crs(crs).rio.write_transform(transform)
    return mask_like(scene, arr, name="landcover")


def gdal_regions(
    data: np.ndarray, classes: Sequence[int], connectivity: int, transform: Affine = TRANSFORM
) -> list[tuple[int, shapely.Geometry]]:
    """Whole-raster GDAL polygons of ``classes``: (class id, normalized geometry)."""
    out = []
    for geojson, value in shapes(
        data, mask=np.isin(data, classes), connectivity=connectivity, transform=transform
    ):
        geom = shapely.geometry.shape(geojson)
        if connectivity == 8:  # self-touching rings where parts meet at a corner
            geom = shapely.make_valid(geom)
        out.append((int(value), shapely.normalize(geom)))
    return out


def interior_rings(geom: shapely.Geometry) -> int:
    parts = shapely.get_parts(geom)
    return int(shapely.get_num_interior_rings(parts).sum())


def assert_matches_gdal(
    frame: gpd.GeoDataFrame, reference: list[tuple[int, shapely.Geometry]]
) -> None:
    """Same regions per class, matched one to one by equal area and equal geometry."""
    got = Counter(frame["class_id"].tolist())
    want = Counter(v for v, _ in reference)
    assert got == want, f"polygons per class: landmask {dict(got)}, GDAL {dict(want)}"
    assert frame.geometry.is_valid.all()
    for value in want:
        ref = [g for v, g in reference if v == value]
        mine = [shapely.normalize(g) for g in frame.geometry[frame["class_id"] == value]]
        tree = shapely.STRtree(ref)
        matched = []
        for geom in mine:
            hits = [k for k in tree.query(geom) if geom.equals(ref[k])]
            assert len(hits) == 1, f"class {value}: {geom.wkt} matches {len(hits)} GDAL polygons"
            assert geom.area == pytest.approx(ref[hits[0]].area, rel=1e-12)
            matched.append(hits[0])
        assert sorted(matched) == list(range(len(ref))), f"class {value}: not one to one"
        holes_mine = sum(interior_rings(g) for g in mine)
        holes_ref = sum(interior_rings(g) for g in ref)
        assert holes_mine == holes_ref, f"class {value}: {holes_mine} holes, GDAL {holes_ref}"


# --------------------------------------------------------------- stress masks
# Each builder lays its features out around the chunk borders of a chunk side
# ``s`` (borders at s, 2s, 3s) on a (3s+1, 3s+2) canvas, so the last chunks
# are partial.


@dataclass
class Case:
    data: np.ndarray
    classes: list[int]
    regions: dict[int, dict[int, int]] | None = None  # connectivity -> class -> count
    holes: dict[int, int] | None = None  # class -> interior rings


def _canvas(s: int) -> np.ndarray:
    return np.zeros((3 * s + 1, 3 * s + 2), np.uint8)


def border_pixels(s: int) -> Case:
    a = _canvas(s)
    a[s - 1 : s + 1, 0] = 1  # a 2-pixel region cut by a horizontal border
    a[0, s - 1 : s + 1] = 2  # ... and by a vertical one
    a[2 * s, 1] = 3  # single pixels on either side of a border
    a[2 * s - 1, s + 1] = 3
    a[s, s] = 1  # single pixels at chunk corners, each of the four around a corner point
    a[2 * s - 1, s - 1] = 1
    a[s - 1, 2 * s] = 3
    a[2 * s, 3 * s - 1] = 3
    a[2 * s - 1 : 2 * s + 1, 2 * s - 1 : 2 * s + 1] = 2  # 2x2 block cut into four chunks
    a[-1, -1] = 3  # the raster's last pixel, in a partial chunk
    counts = {1: 3, 2: 2, 3: 5}
    return Case(a, [1, 2, 3], regions={4: counts, 8: counts})


def diagonal_corner(s: int) -> Case:
    a = _canvas(s)
    a[s - 1, s - 1] = a[s, s] = 1  # forest on one diagonal of a chunk corner ...
    a[s - 1, s] = a[s, s - 1] = 2  # ... urban on the other: both connect for 8
    a[2 * s - 1, 2 * s] = a[2 * s, 2 * s - 1] = 1  # anti-diagonal across a corner
    a[s - 1, 2 * s - 1] = a[s, 2 * s] = 3
    for k in range(s + 1):  # a staircase of corner touches over several chunks
        a[2 * s + k, k] = 3
    return Case(
        a,
        [1, 2, 3],
        regions={4: {1: 4, 2: 2, 3: 2 + s + 1}, 8: {1: 2, 2: 1, 3: 2}},
    )


def ring_hole_corner(s: int) -> Case:
    a = _canvas(s)
    a[s - 3 : s + 3, s - 3 : s + 3] = 2  # urban ring around a forest ring around a hole,
    a[s - 2 : s + 2, s - 2 : s + 2] = 1  # all centred on a chunk corner
    a[s - 1 : s + 1, s - 1 : s + 1] = 0
    counts = {1: 1, 2: 1}
    return Case(a, [1, 2], regions={4: counts, 8: counts}, holes={1: 1, 2: 1})


def serpentine(s: int) -> Case:
    a = _canvas(s)
    h, w = a.shape
    for k, r in enumerate(range(0, h, 2)):
        a[r, : w - 1] = 1
        if r + 2 < h:
            a[r + 1, w - 2 if k % 2 == 0 else 0] = 1
    return Case(a, [1], regions={4: {1: 1}, 8: {1: 1}}, holes={1: 0})


def checkerboard(s: int) -> Case:
    a = _canvas(s)
    top = max(s - 6, 0)  # a 13x13 patch (smaller for s=3) around the chunk corner (s, s)
    rows, cols = np.indices((s + 7 - top, s + 7 - top))
    a[top : s + 7, top : s + 7] = 1 + (rows + cols) % 2
    a[s, s] = 3  # one different pixel at a chunk corner
    n1, n2 = int((a == 1).sum()), int((a == 2).sum())
    return Case(a, [1, 2, 3], regions={4: {1: n1, 2: n2, 3: 1}, 8: {1: 1, 2: 1, 3: 1}})


def diagonal_stripes(s: int) -> Case:
    """One-pixel diagonal stripes of 3 classes: with 8-connectivity each stripe is one region
    of single pixels meeting at corners, across every chunk border on its way."""
    rows, cols = np.indices((3 * s + 2, 3 * s + 1))
    a = ((rows + cols) % 3).astype(np.uint8)
    stripes = {v: sorted({int(k) for k in (rows + cols)[a == v].ravel()}) for v in (1, 2)}
    return Case(
        a,
        [1, 2],
        regions={
            4: {v: int((a == v).sum()) for v in (1, 2)},
            8: {v: len(stripes[v]) for v in (1, 2)},
        },
    )


def coarse_checkerboard(s: int) -> Case:
    """A checkerboard of 2-pixel squares: with 8-connectivity one region per class, a
    multipolygon of squares cut by chunk borders through the middle of some of them."""
    rows, cols = np.indices((3 * s + 3, 3 * s + 2))
    a = ((rows // 2 + cols // 2) % 2).astype(np.uint8) + 1
    squares = {v: len(np.unique((rows // 2 * 1000 + cols // 2)[a == v])) for v in (1, 2)}
    return Case(a, [1, 2], regions={4: squares, 8: {1: 1, 2: 1}})


def random_speckle(s: int) -> Case:
    rng = np.random.default_rng(42)
    smooth = ndimage.gaussian_filter(rng.normal(size=(45, 52)), 2.5)
    a = np.digitize(smooth, np.quantile(smooth, [0.35, 0.6, 0.8])).astype(np.uint8)
    speckle = rng.random(a.shape) < 0.05
    a[speckle] = rng.choice(np.array([0, 1, 2, 3, 255], np.uint8), int(speckle.sum()))
    a[np.add.outer(np.arange(45), np.arange(52)) < 6] = 255  # a nodata corner
    return Case(a, [0, 1, 2, 3])


CASES: dict[str, Callable[[int], Case]] = {
    f.__name__: f
    for f in (
        border_pixels,
        diagonal_corner,
        ring_hole_corner,
        serpentine,
        checkerboard,
        diagonal_stripes,
        coarse_checkerboard,
        random_speckle,
    )
}


def uneven(n: int, pattern: Sequence[int]) -> tuple[int, ...]:
    """Chunk sizes cycling through ``pattern`` (1-pixel chunks included) to cover ``n``."""
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(min(pattern[len(sizes) % len(pattern)], n - sum(sizes)))
    return tuple(sizes)


# chunking id -> layout step; chunks of that side, one chunk, or uneven chunks
CHUNKINGS = {"3": 3, "7": 7, "16": 16, "whole": 7, "uneven": 7}


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("case", list(CASES))
def test_chunked_equals_gdal_on_whole_raster(case, chunking, connectivity):
    c = CASES[case](CHUNKINGS[chunking])
    chunks: int | tuple[tuple[int, ...], ...] = CHUNKINGS[chunking]
    if chunking == "whole":
        chunks = -1
    elif chunking == "uneven":
        h, w = c.data.shape
        chunks = (uneven(h, (1, 2, 5, 1, 6, 7)), uneven(w, (4, 1, 3, 9, 6)))
    mask = as_mask(c.data, chunks)
    if chunking != "whole":
        assert mask.data.numblocks[0] > 1 and mask.data.numblocks[1] > 1
    frame = vectorize(mask, c.classes, connectivity=connectivity)
    reference = gdal_regions(c.data, c.classes, connectivity)
    assert_matches_gdal(frame, reference)
    if c.regions is not None:
        want = {k: v for k, v in c.regions[connectivity].items() if v}
        assert dict(Counter(frame["class_id"].tolist())) == want
    if c.holes is not None:
        for value, holes in c.holes.items():
            geoms = frame.geometry[frame["class_id"] == value]
            assert sum(interior_rings(g) for g in geoms) == holes, value
    # area_m2 from an independent pixel count
    for value in c.classes:
        area = frame.loc[frame["class_id"] == value, "area_m2"].sum()
        assert area == pytest.approx((c.data == value).sum() * PIXEL_M2, rel=1e-12)


def test_default_classes_leave_out_other_and_nodata():
    data = random_speckle(7).data
    frame = vectorize(as_mask(data, 7))
    assert set(frame["class_id"]) == {1, 2, 3}
    assert_matches_gdal(frame, gdal_regions(data, [1, 2, 3], 4))
    by_name = vectorize(as_mask(data, 7), ["water", "forest"], connectivity=8)
    assert_matches_gdal(by_name, gdal_regions(data, [1, 3], 8))


def test_numpy_backed_mask_equals_dask_backed():
    data = random_speckle(7).data
    eager = as_mask(data).copy(data=data)
    assert isinstance(eager.data, np.ndarray)
    a = vectorize(eager, [0, 1, 2, 3])
    b = vectorize(as_mask(data, 5), [0, 1, 2, 3])
    assert_same_frames(a, b)


def test_api_refuses_bad_arguments():
    mask = as_mask(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        vectorize(as_mask(np.zeros((4, 4), np.float32)))
    with pytest.raises(ConfigError, match="connectivity"):
        vectorize(mask, connectivity=6)
    with pytest.raises(ConfigError, match="lake"):
        vectorize(mask, ["forest", "lake"])
    with pytest.raises(ConfigError, match="nodata"):
        vectorize(mask, [1, 255])
    empty = vectorize(mask)
    assert len(empty) == 0 and list(empty.columns) == COLUMNS and empty.crs == UTM33


# ---------------------------------------------------------- exact coordinates


def test_pixel_corners_are_exact_no_half_pixel_shift():
    odd = Affine(0.3, 0.0, 499999.87, 0.0, -0.3, 5400000.13)
    data = np.zeros((12, 12), np.uint8)
    data[4, 7] = 1  # a single pixel inside chunk (0, 1)
    data[5:7, 5:7] = 2  # a 2x2 block cut by the chunk corner (6, 6)
    for connectivity in (4, 8):
        frame = vectorize(as_mask(data, 6, transform=odd), connectivity=connectivity)
        pixel = frame.geometry[frame["class_id"] == 1].item()
        x0, y1 = odd @ (7, 4)  # upper-left corner of column 7, row 4
        x1, y0 = odd @ (8, 5)
        assert pixel.bounds == (x0, y0, x1, y1)
        assert shapely.equals_exact(
            shapely.normalize(pixel), shapely.normalize(shapely.box(x0, y0, x1, y1)), 0
        )
        block = frame.geometry[frame["class_id"] == 2].item()
        x0, y1 = odd @ (5, 5)
        x1, y0 = odd @ (7, 7)
        assert block.bounds == (x0, y0, x1, y1)
        # stitched from four chunks: the old chunk borders leave no vertex behind
        assert shapely.equals_exact(
            shapely.normalize(block), shapely.normalize(shapely.box(x0, y0, x1, y1)), 0
        )
        # and GDAL's polygons sit on the same corners
        assert_matches_gdal(frame, gdal_regions(data, [1, 2], connectivity, odd))


# --------------------------------------------------------- coverage/round trip


def test_no_two_polygons_overlap():
    data = random_speckle(3).data
    for connectivity in (4, 8):
        frame = vectorize(as_mask(data, 7), [0, 1, 2, 3], connectivity=connectivity)
        geoms = np.asarray(frame.geometry.values)
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        pairs = left < right
        assert pairs.sum() > 0  # neighbours touch ...
        overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
        assert overlap.max() == 0  # ... but never overlap
        # together they cover exactly the vectorized pixels
        assert shapely.union_all(geoms).area == pytest.approx(
            (data != 255).sum() * PIXEL_M2, rel=1e-12
        )


@pytest.mark.parametrize("connectivity", [4, 8])
def test_rasterize_round_trip_reproduces_the_mask(connectivity):
    data = random_speckle(3).data
    h, w = data.shape
    frame = vectorize(as_mask(data, 7), [0, 1, 2, 3], connectivity=connectivity)
    burned = rasterize(
        zip(frame.geometry, frame["class_id"], strict=True),
        out_shape=(h, w),
        transform=TRANSFORM,
        fill=255,
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(burned, data)
    # default classes: other (0) and nodata (255) are both left as fill
    frame = vectorize(as_mask(data, 7), connectivity=connectivity)
    burned = rasterize(
        zip(frame.geometry, frame["class_id"], strict=True),
        out_shape=(h, w),
        transform=TRANSFORM,
        fill=0,
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(burned, np.where(data == 255, 0, data))


# ----------------------------------------------------------- columns, measures


def test_columns_names_areas_and_crs():
    data = random_speckle(7).data
    frame = vectorize(as_mask(data, 7), [0, 1, 2, 3])
    assert list(frame.columns) == COLUMNS
    assert frame.crs == UTM33
    assert frame["class_name"].tolist() == [NAMES[v] for v in frame["class_id"]]
    # every polygon's area is the number of pixel centres inside it times 100 m²
    x, y = TRANSFORM @ np.meshgrid(np.arange(52) + 0.5, np.arange(45) + 0.5)
    for geom, value, area in zip(frame.geometry, frame["class_id"], frame["area_m2"], strict=True):
        inside = shapely.contains_xy(geom, x, y)
        assert (data[inside] == value).all()
        assert area == inside.sum() * PIXEL_M2
    assert frame["perimeter_m"].to_numpy() == pytest.approx(frame.geometry.length.to_numpy())
    # sorted by class, then by position (top row, then left column)
    bounds = frame.geometry.bounds
    top = ((TRANSFORM.f - bounds["maxy"]) / 10).round().astype(int)
    left = ((bounds["minx"] - TRANSFORM.c) / 10).round().astype(int)
    keys = list(zip(frame["class_id"], top, left, strict=True))
    assert keys == sorted(keys)


def test_perimeter_of_hand_drawn_regions():
    data = np.zeros((9, 9), np.uint8)
    data[2:5, 2] = 1  # an L: 3 down, then 2 more to the right, across chunk borders
    data[4, 3:5] = 1
    data[5:9, 5:9] = 3  # a 4x4 square with a 2x2 hole
    data[6:8, 6:8] = 0
    data[0, 7] = data[1, 8] = 2  # two pixels touching at a corner
    for connectivity in (4, 8):
        frame = vectorize(as_mask(data, 3), connectivity=connectivity).set_index("class_id")
        assert frame.loc[1, "area_m2"] == 500.0
        assert frame.loc[1, "perimeter_m"] == 120.0  # 12 pixel edges of 10 m
        assert frame.loc[3, "area_m2"] == 1200.0
        assert frame.loc[3, "perimeter_m"] == 160.0 + 80.0  # outline and hole
        urban = frame.loc[[2]]
        assert len(urban) == (1 if connectivity == 8 else 2)
        assert urban["area_m2"].sum() == 200.0
        assert urban["perimeter_m"].sum() == 80.0


GEO = Affine(1e-4, 0.0, 10.0, 0.0, -1e-4, 50.0)  # ~7 x 11 m pixels at 50° N
WGS84 = CRS.from_epsg(4326)


def geodesic_measures(inside: np.ndarray, t: Affine) -> tuple[float, float]:
    """Area (m²) and boundary length (m) of the pixels ``inside``, pixel by pixel on WGS 84."""
    geod = Geod(ellps="WGS84")
    padded = np.pad(inside, 1)
    area = length = 0.0
    for r, c in zip(*np.nonzero(inside), strict=True):
        corners = [t @ (c, r), t @ (c + 1, r), t @ (c + 1, r + 1), t @ (c, r + 1)]
        xs, ys = zip(*corners, strict=True)
        area += abs(geod.polygon_area_perimeter(xs, ys)[0])
        # the pixel's edges that face a pixel outside: top, right, bottom, left
        for k, (dr, dc) in enumerate(((-1, 0), (0, 1), (1, 0), (0, -1))):
            if not padded[r + 1 + dr, c + 1 + dc]:
                (xa, ya), (xb, yb) = corners[k], corners[(k + 1) % 4]
                length += geod.line_length([xa, xb], [ya, yb])
    return area, length


@pytest.mark.parametrize("connectivity", [4, 8])
def test_geographic_mask_has_ellipsoidal_areas_in_m2(connectivity):
    data = np.zeros((12, 12), np.uint8)
    data[1:5, 1:5] = 1  # a ring inside one chunk
    data[2:4, 2:4] = 0
    data[5:9, 5:9] = 3  # a ring across the chunk corner (6, 6)
    data[6:8, 6:8] = 0
    data[2:5, 8] = 2  # an L across a chunk border
    data[4, 9:11] = 2
    data[10, 1] = data[11, 2] = 2  # a corner touch (one MultiPolygon for 8)
    frame = vectorize(as_mask(data, 6, transform=GEO, crs=WGS84), connectivity=connectivity)
    assert frame.crs == WGS84
    for value in (1, 2, 3):
        want, _ = geodesic_measures(data == value, GEO)
        got = frame.loc[frame["class_id"] == value, "area_m2"].sum()
        assert 40 < want / (data == value).sum() < 90  # m², not square degrees
        assert got == pytest.approx(want, rel=1e-6), value
    # hole-free regions: the perimeter is the outline on the ellipsoid
    for geom, perimeter in zip(frame.geometry, frame["perimeter_m"], strict=True):
        if interior_rings(geom) == 0:
            want = Geod(ellps="WGS84").geometry_length(geom)
            assert perimeter == pytest.approx(want, rel=1e-9)
    l_shape = np.zeros(data.shape, bool)
    l_shape[2:5, 8] = l_shape[4, 9:11] = True
    first_urban = frame.loc[frame["class_id"] == 2].iloc[0]  # sorted by top row
    assert first_urban["perimeter_m"] == pytest.approx(geodesic_measures(l_shape, GEO)[1], rel=1e-6)


def test_geographic_perimeter_counts_holes_as_a_projected_one_does():
    # a projected mask's perimeter_m includes the holes' outlines
    # (test_perimeter_of_hand_drawn_regions); a geographic one must too
    data = np.zeros((12, 12), np.uint8)
    data[1:5, 1:5] = 1  # a ring inside one chunk
    data[2:4, 2:4] = 0
    data[5:9, 5:9] = 3  # a ring across the chunk corner (6, 6)
    data[6:8, 6:8] = 0
    frame = vectorize(as_mask(data, 6, transform=GEO, crs=WGS84)).set_index("class_id")
    for value in (1, 3):
        area, length = geodesic_measures(data == value, GEO)
        assert frame.loc[value, "area_m2"] == pytest.approx(area, rel=1e-6)
        assert frame.loc[value, "perimeter_m"] == pytest.approx(length, rel=1e-6), (
            f"class {value}: perimeter_m {frame.loc[value, 'perimeter_m']:.3f} m, "
            f"outline + hole {length:.3f} m"
        )


# ------------------------------------------------------------------ schedulers


def assert_same_frames(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a["class_id"].tolist() == b["class_id"].tolist()
    assert a["class_name"].tolist() == b["class_name"].tolist()
    np.testing.assert_array_equal(a["area_m2"], b["area_m2"])
    np.testing.assert_allclose(a["perimeter_m"], b["perimeter_m"], rtol=1e-12)
    assert a.crs == b.crs
    for ga, gb in zip(a.geometry, b.geometry, strict=True):
        assert ga.equals(gb), (ga.wkt, gb.wkt)


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_result_does_not_depend_on_the_scheduler(scheduler, worker_processes):
    data = random_speckle(3).data
    results = {}
    for name in ("synchronous", scheduler):
        with dask.config.set(scheduler=name, num_workers=2):
            results[name] = vectorize(as_mask(data, 16), [0, 1, 2, 3], connectivity=8)
    assert_same_frames(results["synchronous"], results[scheduler])
    assert_matches_gdal(results[scheduler], gdal_regions(data, [0, 1, 2, 3], 8))


# --------------------------------------------------------------------- formats


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    """Polygons of the speckled mask, with holes and (8-connectivity) MultiPolygons."""
    out = vectorize(as_mask(random_speckle(3).data, 7), connectivity=8)
    types = set(out.geom_type)
    assert types == {"Polygon", "MultiPolygon"}
    assert sum(interior_rings(g) for g in out.geometry) > 0
    return out


def assert_read_back(back: gpd.GeoDataFrame, frame: gpd.GeoDataFrame) -> None:
    assert list(back.columns) == COLUMNS
    assert back.crs == frame.crs
    assert len(back) == len(frame)
    assert back["class_id"].tolist() == frame["class_id"].tolist()
    assert back["class_name"].tolist() == frame["class_name"].tolist()
    np.testing.assert_array_equal(back["area_m2"], frame["area_m2"])
    np.testing.assert_array_equal(back["perimeter_m"], frame["perimeter_m"])
    for a, b in zip(back.geometry, frame.geometry, strict=True):
        assert a.equals(b)


def in_frame_order(back: gpd.GeoDataFrame, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``back``'s rows in the order of ``frame``'s equal geometries."""
    tree = shapely.STRtree(np.asarray(back.geometry.values))
    order = []
    for geom in frame.geometry:
        (hit,) = [k for k in tree.query(geom) if back.geometry.iloc[k].equals(geom)]
        order.append(hit)
    return back.iloc[order].reset_index(drop=True)


def hidden(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".") or n.endswith(".tmp")]


def test_geopackage_layer_crs_and_spatial_index(tmp_path, frame):
    path = write_vector(frame, tmp_path / "forest_map.gpkg")
    assert path == tmp_path / "forest_map.gpkg"
    assert sorted(os.listdir(tmp_path)) == [
        "forest_map.gpkg",
        "forest_map.gpkg.stac.json",
    ]
    layers = pyogrio.list_layers(path)
    # the QGIS style table (landmask.styling) is the only other table
    assert [str(name) for name in layers[:, 0]] == ["forest_map", "layer_styles"]
    info = pyogrio.read_info(path, layer="forest_map")
    assert info["features"] == len(frame)
    assert info["capabilities"]["fast_spatial_filter"]
    assert CRS.from_user_input(info["crs"]) == UTM33
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (geom_column,) = db.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = 'forest_map'"
        ).fetchone()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert f"rtree_forest_map_{geom_column}" in tables
        (srs,) = db.execute(
            "SELECT srs_id FROM gpkg_contents WHERE table_name = 'forest_map'"
        ).fetchone()
        assert srs == 32633
    assert_read_back(gpd.read_file(path, engine="pyogrio", layer="forest_map"), frame)


def test_geoparquet_keeps_crs_and_values(tmp_path, frame):
    path = write_vector(frame, tmp_path / "regions.parquet")
    assert sorted(os.listdir(tmp_path)) == [
        "regions.parquet",
        "regions.parquet.stac.json",
        "regions.qml",
    ]
    back = gpd.read_parquet(path)
    assert_read_back(back, frame)
    for a, b in zip(back.geometry, frame.geometry, strict=True):
        assert shapely.equals_exact(a, b, 0)  # WKB: bit for bit


def test_flatgeobuf(tmp_path, frame):
    path = write_vector(frame, tmp_path / "regions.fgb")
    assert sorted(os.listdir(tmp_path)) == ["regions.fgb", "regions.fgb.stac.json", "regions.qml"]
    info = pyogrio.read_info(path)
    assert info["capabilities"]["fast_spatial_filter"]
    assert info["layer_name"] == "regions"
    back = gpd.read_file(path, engine="pyogrio")
    # FlatGeobuf's spatial index stores the features in its own (Hilbert) order
    assert_read_back(in_frame_order(back, frame), frame)


def test_geojson_is_lon_lat(tmp_path, frame):
    path = write_vector(frame, tmp_path / "regions.geojson")
    assert sorted(os.listdir(tmp_path)) == [
        "regions.geojson",
        "regions.geojson.stac.json",
        "regions.qml",
    ]
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == len(frame)
    coords = np.concatenate(
        [shapely.get_coordinates(shapely.geometry.shape(f["geometry"])) for f in doc["features"]]
    )
    # 500 km east, 5400 km north in UTM 33N is about 15° E, 48.7° N
    assert (np.abs(coords[:, 0] - 15.0) < 0.01).all()
    assert (np.abs(coords[:, 1] - 48.75) < 0.05).all()
    back = gpd.read_file(path, engine="pyogrio")
    assert back.crs == CRS.from_epsg(4326)
    assert back["class_id"].tolist() == frame["class_id"].tolist()
    lonlat = frame.to_crs(4326)
    for a, b in zip(back.geometry, lonlat.geometry, strict=True):
        assert a.hausdorff_distance(b) < 1e-6  # RFC 7946: 7 decimal places


def test_existing_vector_output_needs_overwrite(tmp_path, frame):
    path = tmp_path / "regions.gpkg"
    path.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_vector(frame, path)
    assert path.read_bytes() == b"old"
    write_vector(frame, path, overwrite=True)
    assert_read_back(gpd.read_file(path, engine="pyogrio", layer=path.stem), frame)
    assert hidden(tmp_path) == []


# ------------------------------------------------------------------------- CLI


def test_cli_vectorize_end_to_end(tmp_path, raster, capsys):
    data = random_speckle(3).data
    mask = raster("mask.tif", data, nodata=255, blocksize=16)
    assert open_mask(mask, 16).data.numblocks == (3, 4)
    out = tmp_path / "out" / "regions.gpkg"
    out.parent.mkdir()
    argv = ["vectorize", str(mask), "-o", str(out), "--classes", "forest,water"]
    code = run([*argv, "--connectivity", "8", "--chunk-size", "16"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "regions.gpkg" in captured.out and "polygons" in captured.out
    assert sorted(os.listdir(out.parent)) == ["regions.gpkg", "regions.gpkg.stac.json"]
    back = gpd.read_file(out, engine="pyogrio", layer="regions")
    assert list(back.columns) == COLUMNS
    assert back.crs == UTM33
    assert set(back["class_name"]) == {"forest", "water"}
    assert_matches_gdal(back, gdal_regions(data, [1, 3], 8))
    assert pyogrio.list_layers(out)[0][0] == "regions"

    # defaults: connectivity 4, every class but other; ids work as well as names
    out2 = tmp_path / "out" / "all.parquet"
    assert run(["vectorize", str(mask), "-o", str(out2), "-q", "--chunk-size", "16"]) == 0
    assert capsys.readouterr().out == ""
    assert_matches_gdal(gpd.read_parquet(out2), gdal_regions(data, [1, 2, 3], 4))
    out3 = tmp_path / "out" / "ids.fgb"
    assert run(["vectorize", str(mask), "-o", str(out3), "-q", "--classes", "0,urban"]) == 0
    assert_matches_gdal(gpd.read_file(out3, engine="pyogrio"), gdal_regions(data, [0, 2], 4))
    assert hidden(out.parent) == []


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_cli_vectorize_on_a_local_scheduler_never_imports_distributed(tmp_path, raster, scheduler):
    mask = raster("mask.tif", random_speckle(3).data, nodata=255, blocksize=16)
    out = tmp_path / "r.gpkg"
    argv = ["vectorize", mask, "-o", out, "-q", "--chunk-size", 16, "--scheduler", scheduler]
    status, imported = run_in_fresh_process(argv)
    assert status == 0 and "distributed" not in imported
    assert len(gpd.read_file(out, layer="r")) > 10


def test_cli_classify_vector_matches_vectorize_of_the_mask(s2_file, tmp_path):
    mask, vector, again = tmp_path / "mask.tif", tmp_path / "a.parquet", tmp_path / "b.parquet"
    argv = ["classify", str(s2_file), "--sensor", "sentinel2-l2a", "-o", str(mask)]
    options = ["--connectivity", "8", "--classes", "water,forest", "-q"]
    assert run([*argv, "--vector", str(vector), *options]) == 0
    assert run(["vectorize", str(mask), "-o", str(again), *options]) == 0
    a, b = gpd.read_parquet(vector), gpd.read_parquet(again)
    assert len(a) > 10
    assert set(a["class_name"]) == {"forest", "water"}
    assert_same_frames(a, b)
    with rasterio.open(mask) as ds:
        data = ds.read(1)
    assert_matches_gdal(a, gdal_regions(data, [1, 3], 8))
    styles = ["a.qml", "b.qml", "mask.qml", "mask.tif.aux.xml"]
    styles += ["a.parquet.stac.json", "b.parquet.stac.json", "mask.tif.stac.json"]  # STAC items
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["a.parquet", "b.parquet", "mask.tif", "s2.tif", *styles]
    )


# ----------------------------------------------------------------- bad input


@pytest.fixture
def good_mask(raster) -> Path:
    return raster("mask.tif", random_speckle(3).data, nodata=255, blocksize=16)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        pytest.param(np.ones((3, 20, 20), np.uint8), "3 bands of uint8", id="3-band"),
        pytest.param(np.ones((20, 20), np.float32), "float32", id="float32"),
    ],
)
def test_cli_not_a_mask(cli, raster, tmp_path, data, what):
    path = raster("scene.tif", data)
    cli(["vectorize", path, "-o", tmp_path / "out.gpkg"], str(path), "not a mask", what)


def test_cli_missing_mask(cli, tmp_path):
    missing = tmp_path / "nope.tif"
    cli(["vectorize", missing, "-o", tmp_path / "out.gpkg"], str(missing), "no such file")


def test_cli_unknown_class_name(cli, good_mask, tmp_path):
    cli(
        ["vectorize", good_mask, "-o", tmp_path / "out.gpkg", "--classes", "forest,lake"],
        "--classes",
        "lake",
    )


@pytest.mark.parametrize("ext", [".shp", ".txt", ""])
def test_cli_unknown_output_extension(cli, good_mask, tmp_path, ext):
    out = tmp_path / f"out{ext}"
    cli(["vectorize", good_mask, "-o", out], str(out), "unknown vector format")


def test_cli_existing_output_needs_overwrite(cli, good_mask, tmp_path, capsys):
    out = tmp_path / "out.gpkg"
    out.write_bytes(b"earlier polygons")
    cli(["vectorize", good_mask, "-o", out], str(out), "exists", "--overwrite")
    assert run(["vectorize", str(good_mask), "-o", str(out), "--overwrite", "-q"]) == 0
    assert len(gpd.read_file(out, engine="pyogrio", layer="out")) > 0
    assert hidden(tmp_path) == []


def test_cli_bad_connectivity(cli, good_mask, tmp_path):
    cli(["vectorize", good_mask, "-o", tmp_path / "out.gpkg", "--connectivity", "6"], "6")


def test_cli_classify_bad_vector_output_fails_before_any_work(cli, s2_file, tmp_path):
    argv = ["classify", s2_file, "--sensor", "sentinel2-l2a", "-o", tmp_path / "mask.tif"]
    cli([*argv, "--vector", tmp_path / "regions.shp"], "regions.shp", "unknown vector format")


def test_cli_classify_unknown_class_leaves_no_mask(cli, s2_file, tmp_path):
    argv = ["classify", s2_file, "--sensor", "sentinel2-l2a", "-o", tmp_path / "mask.tif"]
    cli([*argv, "--vector", tmp_path / "regions.gpkg", "--classes", "lake"], "lake")
