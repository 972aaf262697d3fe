"""Flat polygon arrays of polygonizing (landmask.vector._ragged), against shapely's own objects.

Every operation is checked against the same operation done on shapely geometries built from
GDAL's polygons of random masks: taking polygons, adding holes, grouping parts into regions,
selecting regions and cutting them into batches give the very same coordinates, ring by ring.
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.features import shapes

from landmask.vector._ragged import PolygonArray, Regions, ranges

masks = arrays(
    np.uint8,
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    elements=st.sampled_from([0, 1, 2, 255]),
)


def gdal_rings(mask: np.ndarray) -> list[list[list[tuple[float, float]]]]:
    """GDAL's 4-connected polygons of ``mask`` as GeoJSON rings, in (col, -row) pixels."""
    found = shapes(mask, mask=mask != 255, connectivity=4, transform=Affine(1, 0, 0, 0, -1, 0))
    return [g["coordinates"] for g, _ in found]


def as_shapely(rings: list[list[list[tuple[float, float]]]]) -> np.ndarray:
    return np.asarray([shapely.Polygon(p[0], p[1:]) for p in rings], dtype=object)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same geometries, coordinate for coordinate (not just the same point sets)."""
    return len(a) == len(b) and bool(np.all(shapely.equals_identical(a, b)))


def test_ranges():
    starts, counts = np.array([5, 0, 9, 2]), np.array([2, 0, 3, 1])
    expected = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)])
    assert np.array_equal(ranges(starts, counts), expected)
    assert len(ranges(np.zeros(0), np.zeros(0))) == 0


def test_squares_are_shapely_boxes_and_gdal_holes_squares():
    x0, y1 = np.array([3, -2]), np.array([-7, 0])
    boxes = shapely.box(x0, y1 - 1, x0 + 1, y1)
    assert same(PolygonArray.squares(x0, y1).polygons(), np.asarray(boxes, dtype=object))
    # a hole: the square of pixel (row 1, col 1) inside a 3x3 region, as GDAL traces it
    mask = np.zeros((3, 3), np.uint8)
    mask[1, 1] = 1
    hole = shapely.LinearRing(next(p for p in gdal_rings(mask) if len(p) == 2)[1])
    square = PolygonArray.squares(np.array([1]), np.array([-1]), hole=True)
    ring = shapely.LinearRing(square.xy)
    assert ring.equals(hole)
    assert ring.coords[0] == (1, -1)  # from its top left corner


@settings(max_examples=60, deadline=None)
@given(masks, st.data())
def test_take_concat_and_holes_match_shapely(mask, data):
    rings = gdal_rings(mask)
    arr = PolygonArray.from_rings(rings)
    geoms = as_shapely(rings)
    assert same(arr.polygons(), geoms)
    n = len(geoms)
    index = np.array(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=2 * n if n else 0)))
    index = index.astype(np.int64)
    assert same(arr.take(index).polygons(), geoms[index])
    halves = [PolygonArray.from_rings(rings[: n // 2]), PolygonArray.from_rings(rings[n // 2 :])]
    assert same(PolygonArray.concat(halves).polygons(), geoms)
    # holes: one-pixel squares far outside, added to random owners after their own rings
    k = data.draw(st.integers(0, 5)) if n else 0
    owners = st.lists(st.integers(0, n - 1), min_size=k, max_size=k) if n else st.just([])
    owner = np.array(data.draw(owners), np.int64)
    x0 = 100 + np.arange(k)
    holes = PolygonArray.squares(x0, np.full(k, 50), hole=True)
    expected = geoms.copy()
    for h, p in enumerate(owner.tolist()):
        hole = shapely.get_coordinates(holes.take(np.array([h])).polygons()[0].exterior)
        g = expected[p]
        expected[p] = shapely.Polygon(g.exterior, [*g.interiors, hole])
    assert same(arr.with_holes(owner, holes).polygons(), expected)


@settings(max_examples=60, deadline=None)
@given(masks, st.data())
def test_regions_match_shapely_multipolygons(mask, data):
    rings = gdal_rings(mask)
    arr, geoms = PolygonArray.from_rings(rings), as_shapely(rings)
    n = len(geoms)
    if n == 0:
        return
    # parts grouped into regions as polygonizing groups them: sorted by region, stable
    region = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    order = np.argsort(region, kind="stable")
    ids, starts = np.unique(region[order], return_index=True)
    regions = Regions(arr, ids, order, np.append(starts, n).astype(np.int64))
    expected = np.asarray(
        [
            geoms[order[a:b]][0] if b - a == 1 else shapely.MultiPolygon(list(geoms[order[a:b]]))
            for a, b in zip(starts, [*starts[1:], n], strict=True)
        ],
        dtype=object,
    )
    assert same(regions.geometries(), expected)
    chosen = np.array(data.draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids))))
    picked = regions.select(chosen)
    assert np.array_equal(picked.labels, ids[chosen])
    assert same(picked.geometries(), expected[chosen])
    size = data.draw(st.integers(1, 4))
    cuts = picked.batches(size)
    if len(picked):  # consecutive, covering every region once
        assert cuts[0][0] == 0 and cuts[-1][1] == len(picked)
        ends = [b for _, b in cuts]
        assert all(a < b for a, b in cuts) and [a for a, _ in cuts[1:]] == ends[:-1]
    else:
        assert cuts == []
    pieces = [picked.geometries(a, b) for a, b in cuts]
    got = np.concatenate(pieces) if pieces else np.zeros(0, dtype=object)
    assert same(got, expected[chosen])
