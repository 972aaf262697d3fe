"""Noding pixel polygons before a coverage simplification (landmask.vector._noding).

Checked against a brute-force reading of what noding means: every vertex of any polygon that
lies on another polygon's boundary must be a vertex of that polygon, and nothing else may change.
"""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.features import shapes
from shapely.geometry import shape

from landmask.vector._noding import noded


def traced(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """GDAL's polygons of every region of ``mask`` (255 left out), in (col, row) pixels."""
    found = shapes(mask, mask=mask != 255, connectivity=connectivity)
    geoms = [shapely.make_valid(shape(g)) for g, _ in found]  # 8: self-touching rings
    return np.asarray([g for g in geoms if not g.is_empty], dtype=object)


def vertices(geom: shapely.Geometry) -> set[tuple[float, float]]:
    return {tuple(xy) for xy in shapely.get_coordinates(geom).tolist()}


masks = arrays(
    np.uint8,
    st.tuples(st.integers(1, 9), st.integers(1, 9)),
    elements=st.sampled_from([0, 1, 2, 255]),
)


@settings(max_examples=60)
@given(masks, st.sampled_from([4, 8]))
def test_noded_adds_exactly_the_vertices_neighbours_need(mask, connectivity):
    geoms = traced(mask, connectivity)
    got = noded(geoms)
    assert len(got) == len(geoms)
    every = set().union(*(vertices(g) for g in geoms)) if len(geoms) else set()
    for before, after in zip(geoms, got, strict=True):
        assert shapely.get_type_id(after) == shapely.get_type_id(before)
        assert after.is_valid and after.equals(before)  # the same point set
        assert shapely.get_num_interior_rings(after) == shapely.get_num_interior_rings(before)
        on_boundary = {v for v in every if before.boundary.distance(shapely.Point(v)) == 0}
        assert vertices(after) == vertices(before) | on_boundary  # needed ones, no others
    if len(got):
        simple = shapely.coverage_simplify(got, 1.5, simplify_boundary=True)
        assert shapely.coverage_is_valid(simple)  # neighbours still share their edges


def test_noded_on_hand_made_polygons():
    below = shapely.box(0, 0, 4, 1)
    left, right = shapely.box(1, 1, 2, 2), shapely.box(2, 1, 3, 3)
    holed = shapely.Polygon(
        shapely.box(10, 0, 20, 10).exterior, [shapely.box(12, 2, 14, 4).exterior]
    )
    inside = shapely.box(13, 4, 14, 5)  # sits on the hole's edge at its corner (13, 4)
    got = noded(np.array([below, left, right, holed, inside], dtype=object))
    assert shapely.get_coordinates(got[0]).tolist() == [
        [4, 0], [4, 1], [3, 1], [2, 1], [1, 1], [0, 1], [0, 0], [4, 0],
    ]  # fmt: skip
    assert (2.0, 2.0) in vertices(got[2])  # the corner of ``left`` on ``right``'s edge
    assert (13.0, 4.0) in {tuple(c) for c in got[3].interiors[0].coords}
    assert got[1].equals_exact(left, 0) and got[4].equals_exact(inside, 0)
    assert noded(np.zeros(0, dtype=object)).shape == (0,)
