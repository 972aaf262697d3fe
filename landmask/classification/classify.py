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
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import NODATA, PROBABILITY_SCALE, scheme_attrs
from landmask.classification.quality import mask_like, quality_mask
from landmask.errors import BandError, ConfigError
from landmask.models.inference import run_model
from landmask.models.recorded import check_radiometry
from landmask.models.registry import ModelHandle, RulesModel, load_model, model_scheme
from landmask.spectral.indices import bands_needed
from landmask.spectral.rules import RuleSet, default_rules_for, load_rules
from landmask.spectral.thresholds import threshold_attrs

__all__ = ["classify", "classify_with_probabilities"]

#: Scene attributes a mask keeps: where the scene came from and what its values were.
_PASSED_ON = ("sources", "stac_ids", "derived_from", "radiometry", "radiometry_basis")


def classify(
    scene: xr.DataArray,
    rules: str | os.PathLike[str] | RuleSet | Mapping[str, Any] | None = None,
    *,
    model: Any = None,
    min_confidence: float = 0.5,
    statistics: Mapping[str, float] | None = None,
) -> xr.DataArray:
    """Classify a scene with a threshold rule set or a model.

    A rule set is a model too (:class:`~landmask.models.registry.RulesModel`):
    both go through the same tiled inference, and scene-wide statistics such
    as ``otsu(mndwi)`` are bound by the model's ``prepare(scene)`` hook first,
    over the pixels the scene's quality band (``scl``, ``qa_pixel``), if any,
    calls clear.

    Parameters
    ----------
    scene
        ``(band, y, x)`` float32 reflectance from :func:`~landmask.open_scene`
        (or any DataArray with a ``band`` coordinate of common names).
    rules
        A built-in rule set name (``default``, ``naip``), a YAML path, a mapping
        or a :class:`~landmask.spectral.rules.RuleSet`. Ignored when ``model`` is
        given. None: the built-in set for the scene's radiometry and bands
        (:func:`~landmask.spectral.rules.default_rules_for`; the mask's
        ``rules_basis`` attribute says why).
    model
        A model spec (``rules:NAME``, ``sklearn:PATH``, ``onnx:PATH``, a
        plug-in name, ``package.module:factory``) or an object following the
        model protocol (:mod:`landmask.models`). A spec is loaded once per
        worker process; an object is pickled into the tasks that need it.
    min_confidence
        A pixel whose highest class probability is below this becomes 0
        (other). Rules give probabilities of 0 or 1, so it never changes them.
    statistics
        The values of the rules' scene-wide statistics by label (``{"otsu(ndvi)":
        0.41}``, as the mask's ``THRESHOLD_`` attributes name them), bound as
        they are instead of computed from ``scene``: a region's, computed over
        all of its tiles (:mod:`landmask.batch.region_statistics`), so that
        every tile is classified alike. None: computed from the scene.

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
    choice = default_rules_for(scene) if model is None and rules is None else None
    if model is None:
        model = RulesModel(load_rules(choice.name if choice is not None else rules or "default"))
    mask, _ = _run(scene, model, min_confidence, with_proba=False, statistics=statistics)
    if choice is not None:
        mask.attrs["rules_basis"] = choice.reason
    return mask


def classify_with_probabilities(
    scene: xr.DataArray,
    model: Any,
    *,
    min_confidence: float = 0.5,
    statistics: Mapping[str, float] | None = None,
) -> tuple[xr.DataArray, xr.DataArray]:
    """Classify with a model and keep its class probabilities.

    Both outputs come from one Dask graph: computing or writing them together
    (e.g. :func:`~landmask.io.write.rasters.write_mask` with ``probabilities=``) runs the
    model once per chunk. ``statistics``: as :func:`classify`'s.

    Returns
    -------
    (mask, probabilities)
        The mask of :func:`classify`, and ``(class, y, x)`` uint8
        probabilities: ``round(p * 254)``, 255 where the mask is nodata
        (:data:`landmask.classes.PROBABILITY_SCALE`).
    """
    mask, proba = _run(scene, model, min_confidence, with_proba=True, statistics=statistics)
    assert proba is not None
    return mask, proba


def _dask(scene: xr.DataArray) -> da.Array:
    return as_dask(scene)


def _run(
    scene: xr.DataArray,
    model: Any,
    min_confidence: float,
    with_proba: bool,
    statistics: Mapping[str, float] | None = None,
) -> tuple[xr.DataArray, xr.DataArray | None]:

    if not 0.0 <= min_confidence <= 1.0:
        raise ConfigError(f"min_confidence must be within 0..1, got {min_confidence}")
    loaded = load_model(model)
    check_radiometry(loaded, scene, spec=model.strip() if isinstance(model, str) else None)
    handle = ModelHandle(model.strip()) if isinstance(model, str) else loaded
    name = (
        model.strip() if isinstance(model, str) else getattr(loaded, "name", type(loaded).__name__)
    )
    band_names = [str(b) for b in scene["band"].values]
    where = ", ".join(scene.attrs.get("sources", [])) or "scene"
    ruleset = getattr(loaded, "ruleset", None)
    for names, needer in _needers(loaded, name):
        try:
            bands_needed(names, band_names)
        except BandError as exc:
            raise BandError(f"{where}: {exc}; {needer} needs it") from None
    needed = bands_needed(list(loaded.bands), band_names)
    clear = _clear_pixels(scene)
    pick = [band_names.index(needed[b]) for b in loaded.bands]
    data = _dask(scene)  # every band: the model's are picked inside each task
    scene = scene.isel(band=pick)
    prepare = getattr(loaded, "prepare", None)
    if statistics is not None:  # scene-wide values computed elsewhere (a region's)
        if not isinstance(loaded, RulesModel):
            raise ConfigError(f"{name}: statistics are given, but it is no rule set")
        loaded = handle = loaded.bind(statistics)
        ruleset = loaded.ruleset
    elif callable(prepare):  # scene-wide values (automatic thresholds), bound once
        prepared = prepare(scene if clear is None else scene.where(clear))
        if prepared is not loaded:
            loaded = handle = prepared
            ruleset = getattr(loaded, "ruleset", ruleset)
    out = run_model(data, handle, min_confidence=min_confidence, with_proba=with_proba, pick=pick)
    scheme = model_scheme(loaded)
    attrs: dict[str, Any] = {
        "model": name,
        **scheme_attrs(scheme),
        "min_confidence": min_confidence,
        # where the scene came from, for the outputs' STAC items (landmask.io.stac.items)
        # and what its values were (landmask.io.read.radiometry), for the tags and items
        **{k: scene.attrs[k] for k in _PASSED_ON if k in scene.attrs},
    }
    if ruleset is not None:
        attrs |= {"rules": ruleset.name, **threshold_attrs(ruleset)}
    mask = mask_like(scene, out[0], name="landcover").assign_attrs(attrs)
    if not with_proba:
        return mask, None
    spatial = mask.drop_vars(["spatial_ref"], errors="ignore")
    proba = xr.DataArray(
        out[1:],
        dims=("class", "y", "x"),
        coords={"class": list(loaded.classes), **spatial.coords},
        name="probability",
        attrs={**attrs, "scale": 1 / PROBABILITY_SCALE},
    )
    proba = proba.rio.write_nodata(NODATA, encoded=False)
    if mask.rio.crs is not None:
        proba = proba.rio.write_crs(mask.rio.crs)
    return mask, proba.rio.write_transform(mask.rio.transform())


def _clear_pixels(scene: xr.DataArray) -> xr.DataArray | None:
    """Where a scene's quality band (``scl``, ``qa_pixel``) says the ground was seen, else None.

    Scene-wide statistics (``otsu(ndvi)``, ``dark(red)``) are computed over
    these pixels only, so clouds, their shadows and fill do not move them.
    """

    quality = quality_mask(scene)
    return None if quality is None else quality == 0


def _needers(model: Any, name: str) -> list[tuple[list[str], str]]:
    """What reads which names, for a band error: each rule of a rule set, else the model."""
    ruleset = getattr(model, "ruleset", None)
    if ruleset is None:
        return [(list(model.bands), f"model {name}")]
    return [
        (sorted(rule.expr.names), f"rule '{rule.class_name}' of {ruleset.source}")
        for rule in ruleset.rules
    ]
