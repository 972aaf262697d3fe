"""Polygons as flat integer arrays, and the regions made of them, until they are written.

Behind :mod:`landmask.vector._polygonize`. A chunk of a speckled mask has
hundreds of thousands of regions; as shapely objects (a GEOS geometry, its
rings and a Python object each) they took ~400 bytes a polygon and, grouped
into 8-connected regions, twice that while the multipolygons were made. Here
they are held in the GeoArrow layout instead, as integer pixel corners
``(col, -row)`` with ring and polygon offsets (~60 bytes a small polygon), and
become shapely geometries a batch of regions at a time, when they are
transformed, measured and encoded (:meth:`Regions.geometries`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import shapely

__all__ = ["PolygonArray", "Regions", "Transform", "ranges"]

_OFFSET = np.int64

#: A function of ``(n, 2)`` float64 coordinates, as :func:`shapely.transform` takes
Transform = Callable[[np.ndarray], np.ndarray]


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, without the loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - counts), counts)
    return np.arange(total, dtype=np.int64) + shift


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=_OFFSET)
    np.cumsum(counts, out=out[1:])
    return out


@dataclass
class PolygonArray:
    """Polygons whose vertices are integers: GeoArrow's polygon layout.

    ``xy`` holds every vertex, ``(n, 2)`` int32 ``(col, -row)``; ring ``k`` is
    ``xy[rings[k]:rings[k + 1]]`` (closed) and polygon ``p`` has rings
    ``polys[p]:polys[p + 1]``, its shell first.
    """

    xy: np.ndarray
    rings: np.ndarray
    polys: np.ndarray

    def __len__(self) -> int:
        return len(self.polys) - 1

    @classmethod
    def empty(cls) -> PolygonArray:
        """No polygons."""
        zero = np.zeros(1, dtype=_OFFSET)
        return cls(np.zeros((0, 2), dtype=np.int32), zero, zero.copy())

    @classmethod
    def squares(cls, x0: np.ndarray, y1: np.ndarray, *, hole: bool = False) -> PolygonArray:
        """One-pixel squares of left ``x0`` and top ``y1``: the rings :func:`shapely.box` makes,
        or (``hole``) the same squares from their top left corner, as one-pixel holes
        were always given (output rings are normalized anyway)."""
        x0 = np.asarray(x0, dtype=np.int32)
        y1 = np.asarray(y1, dtype=np.int32)
        if hole:
            x = np.stack([x0, x0, x0 + 1, x0 + 1, x0], axis=1)
            y = np.stack([y1, y1 - 1, y1 - 1, y1, y1], axis=1)
        else:
            x = np.stack([x0 + 1, x0 + 1, x0, x0, x0 + 1], axis=1)
            y = np.stack([y1 - 1, y1, y1, y1 - 1, y1 - 1], axis=1)
        n = len(x0)
        rings = np.arange(0, 5 * n + 1, 5, dtype=_OFFSET)
        return cls(np.stack([x.ravel(), y.ravel()], axis=1), rings, np.arange(n + 1, dtype=_OFFSET))

    @classmethod
    def from_rings(
        cls, polygons: Sequence[Sequence[Sequence[tuple[float, float]]]]
    ) -> PolygonArray:
        """Polygons given as lists of rings of ``(x, y)`` (GeoJSON's), their vertices integers."""
        if not polygons:
            return cls.empty()
        rings = [ring for polygon in polygons for ring in polygon]
        lengths = np.fromiter(map(len, rings), dtype=_OFFSET, count=len(rings))
        count = 2 * int(lengths.sum())
        flat = chain.from_iterable(chain.from_iterable(rings))  # x0, y0, x1, y1, ...
        xy = np.fromiter(flat, dtype=np.float64, count=count).astype(np.int32).reshape(-1, 2)
        per_polygon = np.fromiter(map(len, polygons), dtype=_OFFSET, count=len(polygons))
        return cls(xy, _offsets(lengths), _offsets(per_polygon))

    @classmethod
    def concat(cls, arrays: Sequence[PolygonArray]) -> PolygonArray:
        """The polygons of ``arrays``, one after the other."""
        arrays = [a for a in arrays if len(a)]
        if not arrays:
            return cls.empty()
        if len(arrays) == 1:
            return arrays[0]
        xy = np.concatenate([a.xy for a in arrays])
        ring_base = np.cumsum([0] + [len(a.xy) for a in arrays[:-1]])
        poly_base = np.cumsum([0] + [len(a.rings) - 1 for a in arrays[:-1]])
        rings = np.concatenate(
            [[0]] + [a.rings[1:] + b for a, b in zip(arrays, ring_base, strict=True)]
        ).astype(_OFFSET)
        polys = np.concatenate(
            [[0]] + [a.polys[1:] + b for a, b in zip(arrays, poly_base, strict=True)]
        ).astype(_OFFSET)
        return cls(xy, rings, polys)

    def take(self, index: np.ndarray) -> PolygonArray:
        """The polygons ``index``, in that order."""
        index = np.asarray(index, dtype=np.int64)
        ring_counts = self.polys[index + 1] - self.polys[index]
        ring_index = ranges(self.polys[index], ring_counts)
        return self._with_rings(ring_index, _offsets(ring_counts))

    def _with_rings(self, ring_index: np.ndarray, polys: np.ndarray) -> PolygonArray:
        lengths = self.rings[ring_index + 1] - self.rings[ring_index]
        xy = self.xy[ranges(self.rings[ring_index], lengths)]
        return PolygonArray(xy, _offsets(lengths), polys)

    def with_holes(self, owner: np.ndarray, holes: PolygonArray) -> PolygonArray:
        """Each ring of one-ring ``holes`` added to polygon ``owner[k]``, after its own rings
        (in the order of ``holes``): inserted in one pass, no gather of every vertex."""
        if not len(holes):
            return self
        owner = np.asarray(owner, dtype=np.int64)
        after = self.polys[owner + 1]  # the ring each hole goes before
        lengths = np.insert(np.diff(self.rings), after, np.diff(holes.rings))
        # np.insert keeps the order of values inserted at one place: a polygon's holes
        # follow each other as in ``holes``, and each hole's vertices stay in order
        at = np.repeat(self.rings[after], np.diff(holes.rings))
        xy = np.insert(self.xy, at, holes.xy, axis=0)
        counts = np.diff(self.polys) + np.bincount(owner, minlength=len(self))
        return PolygonArray(xy, _offsets(lengths), _offsets(counts))

    def coordinates(self, transform: Transform | None = None) -> np.ndarray:
        """The vertices as float64 ``(n, 2)``, as shapely takes them, through ``transform``
        (as :func:`shapely.transform` would apply it to the polygons)."""
        xy = self.xy.astype(np.float64)
        return xy if transform is None else transform(xy)

    def polygons(self, transform: Transform | None = None) -> np.ndarray:
        """Shapely polygons (their coordinates through ``transform``)."""
        if not len(self):
            return np.zeros(0, dtype=object)
        return np.asarray(
            shapely.from_ragged_array(
                shapely.GeometryType.POLYGON, self.coordinates(transform), (self.rings, self.polys)
            ),
            dtype=object,
        )

    def multipolygons(self, parts: np.ndarray, transform: Transform | None = None) -> np.ndarray:
        """Shapely multipolygons of ``parts[k]`` consecutive polygons each."""
        if not len(parts):
            return np.zeros(0, dtype=object)
        return np.asarray(
            shapely.from_ragged_array(
                shapely.GeometryType.MULTIPOLYGON,
                self.coordinates(transform),
                (self.rings, self.polys, _offsets(parts)),
            ),
            dtype=object,
        )


@dataclass
class Regions:
    """Regions of one chunk, each one polygon or a multipolygon of several (its parts).

    Region ``k`` is made of polygons ``order[parts[k]:parts[k + 1]]`` of
    ``polygons``, in that order; ``labels[k]`` is its label in the chunk.
    """

    polygons: PolygonArray
    labels: np.ndarray
    order: np.ndarray
    parts: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def of_polygons(cls, polygons: PolygonArray, labels: np.ndarray) -> Regions:
        """One region per polygon."""
        n = len(polygons)
        return cls(polygons, labels, np.arange(n), np.arange(n + 1, dtype=_OFFSET))

    def select(self, chosen: np.ndarray) -> Regions:
        """The regions ``chosen`` (a boolean mask), in their order, over the same polygons."""
        index = np.flatnonzero(chosen)
        counts = self.parts[index + 1] - self.parts[index]
        order = self.order[ranges(self.parts[index], counts)]
        return Regions(self.polygons, self.labels[index], order, _offsets(counts))

    def batches(self, size: int) -> list[tuple[int, int]]:
        """``(first, end)`` regions of consecutive batches of about ``size`` polygons each."""
        n = len(self)
        if n == 0:
            return []
        at = np.searchsorted(self.parts, np.arange(0, int(self.parts[-1]), size), side="right")
        cuts = np.unique(np.r_[0, at - 1, n]).tolist()
        return list(itertools.pairwise(cuts))

    def geometries(
        self, first: int = 0, end: int | None = None, transform: Transform | None = None
    ) -> np.ndarray:
        """Regions ``first:end`` as shapely geometries: a Polygon for one part, else a
        MultiPolygon of the parts; their coordinates through ``transform``."""
        end = len(self) if end is None else end
        counts = np.diff(self.parts[first : end + 1])
        out = np.empty(len(counts), dtype=object)
        starts = self.parts[first:end]
        single = counts == 1
        if single.any():
            out[single] = self.polygons.take(self.order[starts[single]]).polygons(transform)
        if not single.all():
            many = ~single
            index = self.order[ranges(starts[many], counts[many])]
            out[many] = self.polygons.take(index).multipolygons(counts[many], transform)
        return out
