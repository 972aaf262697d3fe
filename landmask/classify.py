"""Classification: a reflectance scene -> a lazy uint8 class-id mask.

The numpy work is :func:`landmask.rules.classify_block`; this module wires it
over the scene's chunks with :func:`dask.array.map_blocks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from landmask.classes import NODATA
from landmask.errors import BandError
from landmask.indices import bands_needed
from landmask.rules import RuleSet, classify_block, load_rules
from landmask.thresholds import resolve_thresholds, threshold_attrs

__all__ = ["classify", "mask_like"]


def classify(
    scene: xr.DataArray,
    rules: str | os.PathLike[str] | RuleSet | Mapping[str, Any] = "default",
) -> xr.DataArray:
    """Classify a scene with a threshold rule set.

    Parameters
    ----------
    scene
        ``(band, y, x)`` float32 reflectance from :func:`~landmask.open_scene`
        (or any DataArray with a ``band`` coordinate of common names).
    rules
        A built-in rule set name (``default``, ``naip``), a YAML path, a mapping
        or a :class:`~landmask.rules.RuleSet`.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint8 class ids on the scene's grid (same CRS, transform and
        chunks), ``255`` where any input the rules read is missing. Lazy: each
        chunk is classified by one task reading one scene chunk.

    Raises
    ------
    BandError
        If the rules read a band the scene lacks.
    """
    ruleset = resolve_thresholds(scene, load_rules(rules))
    band_names = [str(b) for b in scene["band"].values]
    needed: dict[str, str] = {}
    where = ", ".join(scene.attrs.get("sources", [])) or "scene"
    for rule in ruleset.rules:
        try:
            needed |= bands_needed(rule.expr.names, band_names)
        except BandError as exc:
            raise BandError(
                f"{where}: {exc}; rule '{rule.class_name}' of {ruleset.source} needs it"
            ) from None
    keep = [b for b in band_names if b in set(needed.values())]
    if keep != band_names:
        scene = scene.sel(band=keep)
        band_names = keep
    data = scene.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=(-1, "auto", "auto"))
    data = data.rechunk({0: -1})
    out = data.map_blocks(
        classify_block,
        band_names=band_names,
        ruleset=ruleset,
        drop_axis=0,
        dtype=np.uint8,
        meta=np.empty((0, 0), dtype=np.uint8),
    )
    mask = mask_like(scene, out, name="landcover")
    return mask.assign_attrs(
        rules=ruleset.name,
        class_scheme=ruleset.scheme.name,
        class_names=[f"{c.id}:{c.name}" for c in ruleset.scheme],
        **threshold_attrs(ruleset),
    )


def mask_like(scene: xr.DataArray, data: da.Array, name: str) -> xr.DataArray:
    """Wrap a ``(y, x)`` uint8 array as a mask on ``scene``'s grid, nodata 255."""
    spatial = scene.isel(band=0, drop=True) if "band" in scene.dims else scene
    mask = xr.DataArray(data, dims=("y", "x"), coords=spatial.coords, name=name)
    mask = mask.rio.write_nodata(NODATA, encoded=False)
    if spatial.rio.crs is not None:
        mask = mask.rio.write_crs(spatial.rio.crs)
    return mask.rio.write_transform(spatial.rio.transform())
