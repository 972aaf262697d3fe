"""Spectral indices, each defined once as data: a formula over band common names.

The formulas are parsed by :mod:`landmask.spectral.expressions` and evaluated in float32
on reflectance, so unsigned inputs never wrap and a zero denominator gives NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask._runtime.seams import map_halo
from landmask.bands import resolve_band, scene_bands
from landmask.errors import BandError, ConfigError
from landmask.io.write.styling import ramp
from landmask.spectral.expressions import Expr, parse

__all__ = [
    "INDICES",
    "BlockLookup",
    "SpectralIndex",
    "band_reads",
    "bands_needed",
    "compute_indices",
    "index_ramp",
    "map_planes",
]


@dataclass(frozen=True)
class SpectralIndex:
    """A spectral index: its name, formula over common names and reference.

    ``high`` is what high values show (``vegetation``, ``water``, ``built``,
    ``soil``): maps and QGIS styles colour them by it
    (:func:`index_ramp`).
    """

    name: str
    long_name: str
    formula: str
    reference: str
    high: str = "vegetation"

    @cached_property
    def expr(self) -> Expr:
        """The parsed formula."""
        return parse(self.formula)

    @property
    def bands(self) -> frozenset[str]:
        """Common names of the bands the formula reads."""
        return self.expr.names


INDICES: dict[str, SpectralIndex] = {
    i.name: i
    for i in (
        SpectralIndex(
            "ndvi",
            "Normalized Difference Vegetation Index",
            "(nir - red) / (nir + red)",
            "Rouse et al. (1974); Tucker (1979), Remote Sens. Environ. 8:127-150",
        ),
        SpectralIndex(
            "ndwi",
            "Normalized Difference Water Index (McFeeters)",
            "(green - nir) / (green + nir)",
            "McFeeters (1996), Int. J. Remote Sens. 17(7):1425-1432",
            high="water",
        ),
        SpectralIndex(
            "mndwi",
            "Modified Normalized Difference Water Index",
            "(green - swir16) / (green + swir16)",
            "Xu (2006), Int. J. Remote Sens. 27(14):3025-3033",
            high="water",
        ),
        SpectralIndex(
            "ndbi",
            "Normalized Difference Built-up Index",
            "(swir16 - nir) / (swir16 + nir)",
            "Zha, Gao & Ni (2003), Int. J. Remote Sens. 24(3):583-594",
            high="built",
        ),
        SpectralIndex(
            "evi",
            "Enhanced Vegetation Index",
            "2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)",
            "Huete et al. (2002), Remote Sens. Environ. 83:195-213",
        ),
        SpectralIndex(
            "savi",
            "Soil-Adjusted Vegetation Index (L = 0.5)",
            "1.5 * (nir - red) / (nir + red + 0.5)",
            "Huete (1988), Remote Sens. Environ. 25:295-309",
        ),
        SpectralIndex(
            "bsi",
            "Bare Soil Index",
            "((swir16 + red) - (nir + blue)) / ((swir16 + red) + (nir + blue))",
            "Rikimaru, Roy & Miyatake (2002), Tropical Ecology 43(1):39-47",
            high="soil",
        ),
        SpectralIndex(
            "nbr",
            "Normalized Burn Ratio",
            "(nir - swir22) / (nir + swir22)",
            "Key & Benson (2006), USDA Forest Service RMRS-GTR-164-CD",
        ),
        SpectralIndex(
            "awei_nsh",
            "Automated Water Extraction Index (no shadow)",
            "4 * (green - swir16) - (0.25 * nir + 2.75 * swir22)",
            "Feyisa et al. (2014), Remote Sens. Environ. 140:23-35",
            high="water",
        ),
        SpectralIndex(
            "awei_sh",
            "Automated Water Extraction Index (shadow)",
            "blue + 2.5 * green - 1.5 * (nir + swir16) - 0.25 * swir22",
            "Feyisa et al. (2014), Remote Sens. Environ. 140:23-35",
            high="water",
        ),
    )
}


def index_ramp(name: str) -> tuple[str, str, str]:
    """The colours of spectral index ``name`` at its low end, at 0 and at its high end,
    by what its high values show (:func:`landmask.io.write.styling.ramp`); an unknown
    name gets the vegetation ramp."""
    index = INDICES.get(name.lower())
    return ramp(index.high if index is not None else "vegetation")


def band_reads(names: Collection[str]) -> dict[str, frozenset[str]]:
    """Each index or band name -> the bands it reads (an index its formula's, a band itself)."""
    return {n: INDICES[n].bands if n in INDICES else frozenset([n]) for n in names}


def bands_needed(names: Collection[str], available: Sequence[str]) -> dict[str, str]:
    """Every band the given index/band names read: ``{name used: scene band}``.

    Raises :class:`BandError` naming what is missing.
    """
    return scene_bands(band_reads(names), available)


class BlockLookup:
    """Name -> array for one block: bands are views, indices are computed once."""

    def __init__(self, block: np.ndarray, band_names: Sequence[str]) -> None:
        self.block = block
        self.band_names = list(band_names)
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, name: str) -> np.ndarray:
        if name in self.cache:
            return self.cache[name]
        if name in INDICES:
            with np.errstate(all="ignore"):
                value = np.asarray(INDICES[name].expr.evaluate(self), dtype=np.float32)
        else:
            band = resolve_band(name, self.band_names)
            if band is None:
                raise BandError(f"band {name!r} is not in the scene")
            value = self.block[self.band_names.index(band)]
        self.cache[name] = value
        return value


def indices_block(
    block: np.ndarray, band_names: Sequence[str], index_names: Sequence[str]
) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(index, y, x)`` float32."""
    lookup = BlockLookup(block, band_names)
    out = np.empty((len(index_names), *block.shape[1:]), dtype=np.float32)
    for k, name in enumerate(index_names):
        out[k] = lookup(name)
        np.copyto(out[k], np.float32(np.nan), where=np.isinf(out[k]))  # x / 0
    return out


def check_index_names(names: Sequence[str]) -> list[str]:
    """Normalise index names; raise :class:`ConfigError` on unknown ones."""
    out = []
    for name in names:
        key = name.strip().lower()
        if key not in INDICES:
            raise ConfigError(f"unknown index {name!r} (known: {', '.join(INDICES)})")
        out.append(key)
    if not out:
        raise ConfigError("no index requested")
    return out


def compute_indices(scene: xr.DataArray, names: Sequence[str]) -> xr.Dataset:
    """Lazily compute spectral indices of a scene from :func:`~landmask.open_scene`.

    Parameters
    ----------
    scene
        ``(band, y, x)`` reflectance with a ``band`` coordinate of common names.
    names
        Index names, e.g. ``["ndvi", "mndwi"]`` (see :data:`INDICES`).

    Returns
    -------
    xarray.Dataset
        One float32 ``(y, x)`` variable per index, on the scene's grid and CRS,
        NaN where an input is nodata or a denominator is zero. Lazy: one task
        per chunk computes all requested indices from one read of the bands.
    """
    index_names = check_index_names(names)
    band_names = [str(b) for b in scene["band"].values]
    try:
        bands_needed(index_names, band_names)
    except BandError as exc:
        where = ", ".join(scene.attrs.get("sources", [])) or "scene"
        raise BandError(f"{where}: {exc}") from None
    data = as_dask(scene).rechunk({0: -1})
    stack = data.map_blocks(
        indices_block,
        band_names=band_names,
        index_names=index_names,
        dtype=np.float32,
        chunks=((len(index_names),), *data.chunks[1:]),
        meta=np.empty((0, 0, 0), dtype=np.float32),
    )
    spatial = scene.isel(band=0, drop=True)
    ds = xr.Dataset(
        {
            name: spatial.copy(data=stack[k])
            .rename(name)
            .assign_attrs(
                long_name=INDICES[name].long_name,
                formula=INDICES[name].formula,
                reference=INDICES[name].reference,
                high=INDICES[name].high,
            )
            for k, name in enumerate(index_names)
        }
    )
    return ds


def map_planes(
    data: da.Array, func: Callable[..., np.ndarray], dtype: Any, *, halo: int = 0, **kwargs: Any
) -> da.Array:
    """Map a block function ``(band, y, x) -> (y, x)`` over every chunk of ``data``.

    Each task gets its chunk of all bands as it is: dask's ``drop_axis`` would
    first copy every chunk through a concatenation (0.5 s of a 10240² scene).
    With ``halo``, for a function that looks at neighbouring pixels, the pixels
    near the chunks' seams are computed again from their neighbours' rims
    (:func:`~landmask._runtime.seams.map_halo`).
    """
    planes = map_halo(
        data, _leading_axis, halo, layers=1, dtype=dtype, name="planes", plane_func=func, **kwargs
    )
    return planes[0]


def _leading_axis(
    block: np.ndarray, plane_func: Callable[..., np.ndarray], **kwargs: Any
) -> np.ndarray:
    return plane_func(block, **kwargs)[None]
