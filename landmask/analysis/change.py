"""Change between two dates: a from-to raster and its transition matrix, chunk by chunk.

``change(before, after)`` puts two masks of one class scheme on one grid and
codes every pixel by its pair of classes (:func:`landmask.classes.change_scheme`:
``code = before_index * n + after_index`` over the scheme's ``n`` classes
but cloud and nodata; 255 where either date is nodata, cloud or a value that
is no class of the scheme). The result is a lazy mask in the scheme
``<scheme>-change``, written like any mask (:func:`landmask.write_mask`) and
read back with its transition names by vectorize, evaluate and the plots.

``transitions(change)`` counts the codes chunk by chunk (one ``bincount``
per chunk, with every pixel weighted by its row's area on the ellipsoid for a
geographic mask, :meth:`landmask.grid.Grid.row_areas`), giving
the matrix of counts and m² (rows before, columns after), the pixels left
out, and per-class gains, losses and net change. Counts are exact and the
same for any chunk size; areas too (exactly for a projected mask, where
they are counts times the pixel area; to float rounding for a geographic one).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import (
    LANDCOVER,
    NODATA,
    ClassScheme,
    change_scheme,
    change_states,
    check_mask,
    get_scheme,
    scheme_attrs,
)
from landmask.errors import ConfigError, GridError, InputError, MaskWarpedWarning
from landmask.grid import Grid
from landmask.io.read.masks import open_mask, raster_on_grid
from landmask.io.read.schemes import resolve_scheme

__all__ = ["Transitions", "change", "change_block", "transitions"]


def change_block(
    before: np.ndarray, after: np.ndarray, before_lut: np.ndarray, after_lut: np.ndarray, n: int
) -> np.ndarray:
    """Block function: two masks -> uint8 from-to codes ``i * n + j``, 255 where either is out.

    ``before_lut`` and ``after_lut`` (256 entries each) give a class id's
    index among the ``n`` tracked classes, or ``n`` for nodata, cloud and
    unknown values.
    """
    i = before_lut[before].astype(np.uint16)
    j = after_lut[after].astype(np.uint16)
    codes = i * n + j
    codes[(i >= n) | (j >= n)] = NODATA
    return codes.astype(np.uint8)


def change(
    before: str | os.PathLike[str] | xr.DataArray,
    after: str | os.PathLike[str] | xr.DataArray,
    *,
    scheme: ClassScheme | str | None = None,
    chunk_size: int | None = None,
) -> xr.DataArray:
    """The from-to change of two masks, lazily: a ``(y, x)`` uint8 mask of transition codes.

    Parameters
    ----------
    before, after
        Masks (files or ``(y, x)`` uint8 DataArrays) of the two dates. A file
        ``after`` on another grid in the same CRS is warped onto ``before``'s
        grid by nearest neighbour, with a :class:`~landmask.errors.MaskWarpedWarning`.
    scheme
        The scheme to compare in. Default: the masks' common scheme; a mask
        in ``worldcover`` or ``dynamic-world`` and one in ``landcover`` are
        compared in ``landcover`` (through the scheme's mapping). Only
        ``landcover`` can be mapped onto.
    chunk_size
        Chunk side in pixels for mask files or masks held in memory; a lazy
        mask keeps its chunks.

    Returns
    -------
    xarray.DataArray
        Codes of :func:`landmask.classes.change_scheme` on ``before``'s grid,
        255 where either date is nodata or cloud; ``attrs["class_scheme"]``
        names the change scheme (``landcover-change``), which
        :func:`landmask.write_mask` records. Nothing is computed.

    Raises
    ------
    InputError
        A raster that is not a mask, masks of schemes that cannot be
        compared, a change map as input; :class:`GridError` for masks in
        different CRSs, of different grids held in memory, or not overlapping.
    """
    b, b_name = _opened(before, chunk_size, "before")
    b_scheme, a_scheme = resolve_scheme(None, before), resolve_scheme(None, after)
    for s, name in ((b_scheme, b_name), (a_scheme, _name(after, "after"))):
        if s.base is not None:
            raise InputError(f"{name}: is already a change map (scheme {s.name!r})")
    target = _common_scheme(scheme, b_scheme, a_scheme, b_name, _name(after, "after"))
    a = _on_grid(b, b_name, after, chunk_size)
    states = change_states(target)
    out_scheme = change_scheme(target)
    n = len(states)
    b_data = as_dask(b, chunk_size)
    a_data = as_dask(a, chunk_size).rechunk(b_data.chunks)
    codes = da.map_blocks(
        change_block,
        b_data,
        a_data,
        before_lut=_state_lut(b_scheme, target, states),
        after_lut=_state_lut(a_scheme, target, states),
        n=n,
        dtype=np.uint8,
        meta=np.empty((0, 0), np.uint8),
    )
    sources = [*b.attrs.get("sources", ()), *a.attrs.get("sources", ())]
    attrs = {**scheme_attrs(out_scheme), "sources": sources, "long_name": "change"}
    return xr.DataArray(codes, coords=b.coords, dims=b.dims, attrs=attrs, name="change")


def _name(mask: Any, what: str) -> str:
    return os.fspath(mask) if isinstance(mask, str | os.PathLike) else f"<{what}>"


def _opened(mask: Any, chunk_size: int | None, what: str) -> tuple[xr.DataArray, str]:
    if isinstance(mask, str | os.PathLike):
        return open_mask(mask, chunk_size), os.fspath(mask)
    check_mask(mask, f"<{what}>")
    return mask, f"<{what}>"


def _common_scheme(
    given: ClassScheme | str | None,
    b_scheme: ClassScheme,
    a_scheme: ClassScheme,
    b_name: str,
    a_name: str,
) -> ClassScheme:
    """The scheme both masks are compared in; the one place this is decided."""
    if given is not None:
        target = get_scheme(given)
    elif b_scheme.name == a_scheme.name:
        return b_scheme
    elif LANDCOVER.name in (b_scheme.name, a_scheme.name):
        target = LANDCOVER
    else:
        raise InputError(
            f"{b_name} is in class scheme {b_scheme.name!r}, {a_name} in {a_scheme.name!r}: "
            "pass --scheme landcover to compare both in landcover"
        )
    for s, name in ((b_scheme, b_name), (a_scheme, a_name)):
        if s.name != target.name and (target.name != LANDCOVER.name or not s.landcover_names):
            raise InputError(
                f"{name}: class scheme {s.name!r} cannot be compared in {target.name!r} "
                "(only a built-in scheme maps onto landcover)"
            )
    return target


def _state_lut(src: ClassScheme, target: ClassScheme, states: tuple[Any, ...]) -> np.ndarray:
    """256 entries: a class id of ``src`` -> its index among ``states`` of ``target``, else n."""
    n = len(states)
    index = np.full(256, n, dtype=np.uint8)
    for k, c in enumerate(states):
        index[c.id] = k
    if src.name == target.name:
        return index
    return index[src.landcover_lut()]  # src -> landcover ids -> indices


def _on_grid(grid: xr.DataArray, grid_name: str, mask: Any, chunk_size: int | None) -> xr.DataArray:
    """``mask`` on ``grid``'s pixels: as it is, or a file warped by nearest neighbour."""
    if not isinstance(mask, str | os.PathLike):
        check_mask(mask, "<after>")
        difference = Grid.of(grid).difference(mask)
        if difference:
            raise GridError(f"<after>: not on the grid of {grid_name} ({difference})")
        return mask
    arr = open_mask(mask, chunk_size)
    path = os.fspath(mask)
    if _crs_text(arr) != _crs_text(grid):
        raise GridError(
            f"{path}: CRS {_crs_text(arr)} differs from {grid_name}'s {_crs_text(grid)} "
            "(reproject one with gdalwarp -r near)"
        )
    if Grid.of(grid).same(arr):
        return arr
    with warnings.catch_warnings():
        warnings.simplefilter("always", MaskWarpedWarning)
        warped = raster_on_grid(
            path,
            grid,
            what="the after mask",
            onto=grid_name,
            warning=MaskWarpedWarning,
        )
    return warped.assign_attrs(sources=[os.path.abspath(path)])


def _crs_text(arr: xr.DataArray) -> str:
    crs = arr.rio.crs
    return "no CRS" if crs is None else str(crs.to_string())


# ---------------------------------------------------------------- transitions


@dataclass(frozen=True)
class Transitions:
    """The transition matrix of a change map.

    ``counts[i, j]`` and ``area_m2[i, j]`` are the pixels and m² of class
    ``class_ids[i]`` before and ``class_ids[j]`` after; ``ignored`` counts
    the pixels left out (nodata or cloud at either date, or any value that
    is no code of the scheme), ``ignored_m2`` their area.
    """

    scheme: ClassScheme  # the scheme of the two dates
    class_ids: tuple[int, ...]
    counts: np.ndarray
    area_m2: np.ndarray
    ignored: int
    ignored_m2: float

    @property
    def names(self) -> list[str]:
        """Class names, in matrix order."""
        return [self.scheme.name_of(c) for c in self.class_ids]

    @property
    def gains_m2(self) -> np.ndarray:
        """Per class: area that became the class (column sums off the diagonal)."""
        return np.asarray(self.area_m2.sum(axis=0) - np.diag(self.area_m2))

    @property
    def losses_m2(self) -> np.ndarray:
        """Per class: area that was the class and became another (row sums off the diagonal)."""
        return np.asarray(self.area_m2.sum(axis=1) - np.diag(self.area_m2))

    @property
    def net_m2(self) -> np.ndarray:
        """Per class: gains minus losses (after minus before)."""
        return self.gains_m2 - self.losses_m2

    def frame(self, unit: str = "m2") -> Any:
        """The area matrix as a pandas DataFrame (index: before, columns: after).

        ``unit`` ``m2``, ``ha`` or ``km2``; ``pixels`` gives the counts.
        """
        import pandas as pd

        scale = {"m2": 1.0, "ha": 1e-4, "km2": 1e-6}
        if unit == "pixels":
            values = self.counts
        elif unit in scale:
            values = self.area_m2 * scale[unit]
        else:
            raise ConfigError(f"unit {unit!r}: use m2, ha, km2 or pixels")
        index = pd.Index(self.names, name="before")
        return pd.DataFrame(values, index=index, columns=pd.Index(self.names, name="after"))

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-ready; keys documented in the README (``landmask change``)."""
        before, after = self.area_m2.sum(axis=1), self.area_m2.sum(axis=0)
        gains, losses, net = self.gains_m2, self.losses_m2, self.net_m2
        n = len(self.class_ids)
        return {
            "scheme": self.scheme.name,
            "change_scheme": change_scheme(self.scheme).name,
            "encoding": f"code = before_index * {n} + after_index; 255 nodata",
            "matrix": {
                "rows": "before",
                "columns": "after",
                "class_ids": list(self.class_ids),
                "class_names": self.names,
                "counts": self.counts.astype(int).tolist(),
                "area_m2": self.area_m2.tolist(),
            },
            "ignored": int(self.ignored),
            "ignored_m2": float(self.ignored_m2),
            "changed_m2": float(self.area_m2.sum() - np.trace(self.area_m2)),
            "unchanged_m2": float(np.trace(self.area_m2)),
            "classes": {
                name: {
                    "id": c,
                    "before_m2": float(before[k]),
                    "after_m2": float(after[k]),
                    "gain_m2": float(gains[k]),
                    "loss_m2": float(losses[k]),
                    "net_m2": float(net[k]),
                }
                for k, (c, name) in enumerate(zip(self.class_ids, self.names, strict=True))
            },
        }

    def table(self, classes: list[int] | None = None) -> str:
        """A plain-text report: the matrix in km², then gains, losses and net per class.

        ``classes`` (ids) limits the per-class rows; the matrix is always whole.
        """
        names = [n[:11] for n in self.names]
        lines = ["transition matrix, km² (rows before, columns after):"]
        lines.append(" " * 12 + "".join(f"{n:>12}" for n in names))
        for k, n in enumerate(names):
            lines.append(f"{n:<12}" + "".join(f"{v / 1e6:>12,.4f}" for v in self.area_m2[k]))
        lines.append(
            f"\n{'class':<12} {'before':>12} {'after':>12} {'gain':>12} {'loss':>12}"
            f" {'net':>12}   (km²)"
        )
        before, after = self.area_m2.sum(axis=1), self.area_m2.sum(axis=0)
        gains, losses, net = self.gains_m2, self.losses_m2, self.net_m2
        for k, c in enumerate(self.class_ids):
            if classes is not None and c not in classes:
                continue
            lines.append(
                f"{names[k]:<12} {before[k] / 1e6:>12,.4f} {after[k] / 1e6:>12,.4f} "
                f"{gains[k] / 1e6:>12,.4f} {losses[k] / 1e6:>12,.4f} {net[k] / 1e6:>+12,.4f}"
            )
        changed = self.area_m2.sum() - np.trace(self.area_m2)
        lines.append(
            f"changed {changed / 1e6:,.4f} km² of {self.area_m2.sum() / 1e6:,.4f} km²; "
            f"left out (nodata or cloud) {self.ignored:,} pixels"
        )
        return "\n".join(lines)


def transitions(
    change_map: str | os.PathLike[str] | xr.DataArray, *, chunk_size: int | None = None
) -> Transitions:
    """The transition matrix of a change map (from :func:`change`, lazy or a file).

    One pass over the map, a ``bincount`` per chunk weighted by the pixel
    areas of the chunk's rows; memory is a few chunks.

    Raises
    ------
    InputError
        If the map is not a change map (its scheme is no ``<scheme>-change``).
    """
    arr, name = _opened(change_map, chunk_size, "change")
    scheme = resolve_scheme(None, change_map)
    if scheme.base is None:
        raise InputError(f"{name}: not a change map (scheme {scheme.name!r}; see landmask change)")
    states = change_states(scheme.base)
    n = len(states)
    data = as_dask(arr, chunk_size)
    rows = Grid.of(arr).row_areas()
    per_chunk = da.map_blocks(
        _weighted_counts,
        data,
        row_areas=rows,
        chunks=((1,) * data.numblocks[0], (1,) * data.numblocks[1], (2,), (256,)),
        new_axis=[2, 3],
        dtype=np.float64,
        meta=np.empty((0, 0, 0, 0), np.float64),
    )
    counts, areas = np.asarray(per_chunk.sum(axis=(0, 1)).compute())
    counts = np.rint(counts).astype(np.int64)
    if np.all(rows == rows[0]):  # a projected CRS: exact, whatever the chunks
        areas = counts * rows[0]
    size = n * n
    return Transitions(
        scheme.base,
        tuple(c.id for c in states),
        counts[:size].reshape(n, n),
        areas[:size].reshape(n, n),
        int(counts[size:].sum()),
        float(areas[size:].sum()),
    )


def _weighted_counts(
    block: np.ndarray, row_areas: np.ndarray, block_info: dict[Any, Any] | None = None
) -> np.ndarray:
    """Block function: ``(1, 1, 2, 256)``: counts of each code, and their area in m².

    ``row_areas`` holds the pixel area of every row of the map; the block's rows
    are picked by its location (``block_info``).
    """
    r0, r1 = block_info[0]["array-location"][0] if block_info else (0, block.shape[0])
    codes = block.astype(np.intp)
    counts = np.bincount(codes.ravel(), minlength=256)
    weights = np.broadcast_to(row_areas[r0:r1, None], block.shape)
    areas = np.bincount(codes.ravel(), weights=weights.ravel(), minlength=256)
    return np.stack([counts.astype(np.float64), areas])[None, None]
