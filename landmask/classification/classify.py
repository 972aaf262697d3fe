"""Classification: a reflectance scene -> a lazy uint8 class-id mask.

With rules, the numpy work is :func:`landmask.spectral.rules.classify_block`, wired over
the scene's chunks with :func:`dask.array.map_blocks`; with a model, it is the
model's ``predict_proba``, wired by :mod:`landmask.models.inference` (overlapping
blocks when the model needs context).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import NODATA
from landmask.errors import BandError, ConfigError
from landmask.spectral.indices import bands_needed, map_planes
from landmask.spectral.rules import RuleSet, classify_block, load_rules
from landmask.spectral.thresholds import resolve_thresholds, threshold_attrs

__all__ = ["classify", "classify_with_probabilities", "mask_like"]


def classify(
    scene: xr.DataArray,
    rules: str | os.PathLike[str] | RuleSet | Mapping[str, Any] | None = "default",
    *,
    model: Any = None,
    min_confidence: float = 0.5,
) -> xr.DataArray:
    """Classify a scene with a threshold rule set or a model.

    Parameters
    ----------
    scene
        ``(band, y, x)`` float32 reflectance from :func:`~landmask.open_scene`
        (or any DataArray with a ``band`` coordinate of common names).
    rules
        A built-in rule set name (``default``, ``naip``), a YAML path, a mapping
        or a :class:`~landmask.spectral.rules.RuleSet`. Ignored when ``model`` is given.
    model
        A model spec (``rules:NAME``, ``sklearn:PATH``, ``onnx:PATH``, a
        plug-in name, ``package.module:factory``) or an object following the
        model protocol (:mod:`landmask.models`). A spec is loaded once per
        worker process; an object is pickled into the tasks that need it.
    min_confidence
        With a model: a pixel whose highest class probability is below this
        becomes 0 (other).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint8 class ids on the scene's grid (same CRS, transform and
        chunks), ``255`` where any input the rules or model read is missing.
        Lazy: each chunk is classified by one task reading one scene chunk
        (plus the model's halo from its neighbours).

    Raises
    ------
    BandError
        If the rules or the model read a band the scene lacks.
    """
    if model is not None:
        mask, _ = _run(scene, model, min_confidence, with_proba=False)
        return mask
    ruleset = resolve_thresholds(scene, load_rules(rules if rules is not None else "default"))
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
    out = map_planes(_dask(scene), classify_block, np.uint8, band_names=band_names, ruleset=ruleset)
    mask = mask_like(scene, out, name="landcover")
    return mask.assign_attrs(
        rules=ruleset.name,
        class_scheme=ruleset.scheme.name,
        class_names=[f"{c.id}:{c.name}" for c in ruleset.scheme],
        **threshold_attrs(ruleset),
    )


def classify_with_probabilities(
    scene: xr.DataArray, model: Any, *, min_confidence: float = 0.5
) -> tuple[xr.DataArray, xr.DataArray]:
    """Classify with a model and keep its class probabilities.

    Both outputs come from one Dask graph: computing or writing them together
    (e.g. :func:`~landmask.io.write.write_mask` with ``probabilities=``) runs the
    model once per chunk.

    Returns
    -------
    (mask, probabilities)
        The mask of :func:`classify`, and ``(class, y, x)`` uint8
        probabilities: ``round(p * 254)``, 255 where the mask is nodata
        (:data:`landmask.models.inference.PROBABILITY_SCALE`).
    """
    mask, proba = _run(scene, model, min_confidence, with_proba=True)
    assert proba is not None
    return mask, proba


def _dask(scene: xr.DataArray) -> da.Array:
    return as_dask(scene)


def _run(
    scene: xr.DataArray, model: Any, min_confidence: float, with_proba: bool
) -> tuple[xr.DataArray, xr.DataArray | None]:
    from landmask.models.inference import run_model
    from landmask.models.registry import ModelHandle, load_model, model_scheme

    if not 0.0 <= min_confidence <= 1.0:
        raise ConfigError(f"min_confidence must be within 0..1, got {min_confidence}")
    loaded = load_model(model)
    handle = ModelHandle(model.strip()) if isinstance(model, str) else loaded
    name = (
        model.strip() if isinstance(model, str) else getattr(loaded, "name", type(loaded).__name__)
    )
    band_names = [str(b) for b in scene["band"].values]
    where = ", ".join(scene.attrs.get("sources", [])) or "scene"
    try:
        needed = bands_needed(list(loaded.bands), band_names)
    except BandError as exc:
        raise BandError(f"{where}: {exc}; model {name} needs it") from None
    scene = scene.sel(band=[needed[b] for b in loaded.bands])
    out = run_model(_dask(scene), handle, min_confidence=min_confidence, with_proba=with_proba)
    scheme = model_scheme(loaded)
    attrs = {
        "model": name,
        "class_scheme": scheme.name,
        "class_names": [f"{c.id}:{c.name}" for c in scheme],
        "min_confidence": min_confidence,
    }
    mask = mask_like(scene, out[0], name="landcover").assign_attrs(attrs)
    if not with_proba:
        return mask, None
    spatial = mask.drop_vars(["spatial_ref"], errors="ignore")
    proba = xr.DataArray(
        out[1:],
        dims=("class", "y", "x"),
        coords={"class": list(loaded.classes), **spatial.coords},
        name="probability",
        attrs={**attrs, "scale": 1 / 254},
    )
    proba = proba.rio.write_nodata(NODATA, encoded=False)
    if mask.rio.crs is not None:
        proba = proba.rio.write_crs(mask.rio.crs)
    return mask, proba.rio.write_transform(mask.rio.transform())


def mask_like(scene: xr.DataArray, data: da.Array, name: str) -> xr.DataArray:
    """Wrap a ``(y, x)`` uint8 array as a mask on ``scene``'s grid, nodata 255."""
    spatial = scene.isel(band=0, drop=True) if "band" in scene.dims else scene
    mask = xr.DataArray(data, dims=("y", "x"), coords=spatial.coords, name=name)
    mask = mask.rio.write_nodata(NODATA, encoded=False)
    if spatial.rio.crs is not None:
        mask = mask.rio.write_crs(spatial.rio.crs)
    return mask.rio.write_transform(spatial.rio.transform())
