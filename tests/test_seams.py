"""Neighbourhood functions over chunks (landmask._runtime.seams): exact at every seam.

A local function (here a window statistic with the block's edge taken as the array's) is
mapped over random misaligned chunkings with :func:`map_halo` and compared, bit for bit,
with the function over the whole array; the graph is checked to hold no chunk of the
input for its neighbours (two tasks per chunk, reading nothing but its own chunk).
"""

from __future__ import annotations

import itertools

import dask
import dask.array as da
import numpy as np
from dask.core import get_dependencies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from landmask._runtime.seams import map_halo

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def window_max_and_count(block: np.ndarray, radius: int) -> np.ndarray:
    """Block function: per band, the max over each (2R+1)² window inside the block, and
    per pixel the number of window pixels inside the block (sees where the block ends)."""
    size = 2 * radius + 1
    out = np.empty((block.shape[0] + 1, *block.shape[1:]), dtype=np.float64)
    for k, plane in enumerate(block):
        out[k] = ndimage.maximum_filter(plane, size=size, mode="constant", cval=-np.inf)
    ones = np.ones(block.shape[1:])
    out[-1] = ndimage.uniform_filter(ones, size=size, mode="constant") * size * size
    return np.rint(out * 1e6) / 1e6


def random_chunks(draw: st.DrawFn, n: int) -> tuple[int, ...]:
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=6))) if n > 1 else []
    edges = [0, *cuts, n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, int, tuple[tuple[int, ...], ...]]:
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    radius = draw(st.integers(0, 4))
    values = np.random.default_rng(draw(st.integers(0, 2**16))).random((2, h, w))
    return values, radius, ((2,), random_chunks(draw, h), random_chunks(draw, w))


@SETTINGS
@given(cases())
def test_map_halo_equals_the_function_over_the_whole_array(case):
    values, radius, chunks = case
    whole = window_max_and_count(values, radius)
    data = da.from_array(values, chunks=chunks)
    out = map_halo(data, window_max_and_count, radius, layers=3, dtype=np.float64, radius=radius)
    with dask.config.set(scheduler="synchronous"):
        got = out.compute()
    np.testing.assert_array_equal(got, whole)
    # with a halo, every chunk is at least 2R long (or the whole axis)
    for axis in (1, 2):
        sizes = out.chunks[axis]
        assert len(sizes) == 1 or min(sizes) >= 2 * radius


def test_each_chunk_is_read_by_its_own_first_pass_only():
    values = np.random.default_rng(0).random((2, 30, 30))
    data = da.from_array(values, chunks=(2, 10, 10))
    out = map_halo(data, window_max_and_count, 1, layers=3, dtype=np.float64, radius=1)
    graph = dict(out.__dask_graph__())
    readers: dict[object, list[object]] = {}
    for key in graph:
        for dep in get_dependencies(graph, key):
            readers.setdefault(dep, []).append(key)
    chunk_keys = [k for k in graph if isinstance(k, tuple) and k[0] == data.name]
    assert len(chunk_keys) == 9
    for key in chunk_keys:
        assert len(readers[key]) == 1, readers[key]  # its first pass: no neighbour waits on it
