"""One scene from files to outputs: the pipeline behind ``landmask classify`` and ``landmask run``.

:func:`run_scene` opens the scene, classifies it (rules or a model, both as a
model: :func:`landmask.classify`), lays the quality layer over the mask, and
writes the mask COG, the probabilities from the same pass, the polygons
(streamed to disk by :func:`~landmask.vector.vectorize.vectorize_to_file`) and
the index rasters. Both commands describe their scene as a :class:`SceneJob`,
so the same settings give the same files whichever command ran them.

:func:`check_job` checks every output before any work; :func:`run_scene`
removes what it wrote if a later step fails.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landmask._runtime.resources import check_declared_size
from landmask.bands import QUALITY_BANDS
from landmask.classes import ClassScheme
from landmask.classification.classify import classify, classify_with_probabilities
from landmask.classification.quality import apply_quality, quality_mask
from landmask.errors import BandError, ConfigError, UncalibratedWarning
from landmask.io.companions import Output, remove_with_companions
from landmask.io.outputs import GEOTIFF, check_inputs, check_output, plan_outputs
from landmask.io.read.footprint import warn_empty_mask, warn_nodata_footprint
from landmask.io.read.masks import open_mask
from landmask.io.read.scene import SceneOptions
from landmask.io.stac.read import is_stac_input, load_item
from landmask.io.statistic_tags import thresholds_of
from landmask.io.write.rasters import write_indices, write_mask
from landmask.models.recorded import scene_options
from landmask.models.registry import load_model, model_scheme
from landmask.spectral.indices import band_reads, compute_indices
from landmask.spectral.rules import default_rules, default_rules_for
from landmask.vector.formats import check_vector_output
from landmask.vector.vectorize import VectorSummary, gil_bound, resolve_classes, vectorize_to_file

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "SceneJob",
    "SceneOutcome",
    "VectorOptions",
    "check_job",
    "job_inputs",
    "model_needs",
    "run_scene",
    "scene_options_for",
]


@dataclass(frozen=True)
class VectorOptions:
    """How to polygonize a mask (``vectorize``'s options)."""

    classes: Sequence[str | int] | None = None
    connectivity: int = 4
    min_area: float | None = None
    simplify: float | None = None


#: The options of ``landmask classify`` that name each output.
CLI_LABELS = {"mask": "-o", "probabilities": "--probabilities", "vector": "--vector"}


@dataclass(frozen=True)
class SceneJob:
    """One scene to classify and the outputs to write.

    ``model`` is a model spec: ``rules:NAME|FILE`` for a rule set (None: the
    default rules of the scene's sensor), ``sklearn:...``, ``onnx:...``, a
    plug-in or ``package.module:factory``.
    """

    inputs: Any  # paths (str) or a pystac.Item
    mask: Path
    scene: SceneOptions = field(default_factory=SceneOptions)
    model: str | None = None
    min_confidence: float = 0.5
    quality: bool = True
    probabilities: Path | None = None
    vector: Path | None = None
    vector_options: VectorOptions = field(default_factory=VectorOptions)
    indices: Path | None = None
    index_names: tuple[str, ...] = ()
    chunk_size: int | None = None
    overwrite: bool = False
    #: a STAC item beside every output (``mask.json`` next to ``mask.tif``)
    stac: bool = True
    #: how errors name each output: the command's options, or a workflow's keys
    labels: Mapping[str, str] = field(default_factory=lambda: dict(CLI_LABELS))
    #: ``(row_off, col_off, height, width)``: the input's pixels to write; the rest is
    #: context the classifier reads around them (a region tile's halo). None: all of it
    window: tuple[int, int, int, int] | None = None
    #: the scene as a lazy ``(band, y, x)`` DataArray, classified instead of opening
    #: ``inputs`` (a region tile's composite: classified from the chunks it is computed in,
    #: never written to be read back); its attributes give the outputs' lineage
    scene_array: Any = None
    #: more COGs written in the mask's pass (:func:`landmask.io.write.rasters.indices_job`:
    #: a region tile's composite, each chunk computed once for both files)
    also: tuple[Any, ...] = ()
    #: the rules' scene-wide statistics by label, bound as they are instead of computed
    #: from the scene (a region's, over all of its tiles; :func:`landmask.classify`)
    statistics: Mapping[str, float] | None = None

    def model_spec(self) -> str:
        """The model spec, the sensor's default rules when none was given."""

        return self.model or f"rules:{default_rules(self.scene.sensor)}"

    def outputs(self) -> dict[str, Path]:
        """Every output of the job by kind (mask, probabilities, vector, indices)."""
        named = {
            "mask": self.mask,
            "probabilities": self.probabilities,
            "vector": self.vector,
            "indices": self.indices,
        }
        return {k: v for k, v in named.items() if v is not None}

    def planned(self) -> dict[str, Output]:
        """Every output of the job by kind, with its companions (styles, STAC items)."""

        planned = {k: Output(p, _KINDS[k], stac=self.stac) for k, p in self.outputs().items()}
        for k, job in enumerate(self.also):
            planned[f"also{k}"] = job.output()
        return planned


#: output of a job -> its kind of output (:data:`landmask.io.companions.KINDS`)
_KINDS = {
    "mask": "mask",
    "probabilities": "probabilities",
    "vector": "polygons",
    "indices": "indices",
}


@dataclass
class SceneOutcome:
    """What :func:`run_scene` made: the (lazy) mask, its scheme, pixel counts, polygons."""

    mask: xr.DataArray
    scheme: ClassScheme
    counts: dict[int, int]
    model: Any
    polygons: VectorSummary | None = None
    written: list[Path] = field(default_factory=list)


def _input_paths(inputs: Any) -> list[str]:
    if isinstance(inputs, str | os.PathLike):
        return [os.fspath(inputs)]
    if isinstance(inputs, Sequence):
        return [os.fspath(p) for p in inputs]
    return []


def job_inputs(job: SceneJob) -> list[str]:
    """Every file a job reads: its rasters, STAC item and assets, model or rules file.

    Inputs that are FIFOs, devices or sockets are refused first
    (:func:`landmask.io.outputs.check_inputs`): reading one would block.
    """

    files = _input_paths(job.inputs)
    check_inputs(files)
    if is_stac_input(job.inputs):
        item = load_item(job.inputs)
        hrefs = [a.get_absolute_href() or a.href for a in item.assets.values()]
        assets = [h for h in hrefs if "://" not in h]
        check_inputs(assets)
        files += assets
    kind, _, rest = job.model_spec().partition(":")
    if kind in ("rules", "sklearn", "onnx") and os.path.isfile(rest):
        files.append(rest)
    return files


def check_job(job: SceneJob) -> Any:
    """Check a job before any work; return the loaded model.

    Every output and its companions are planned at once
    (:func:`landmask.io.outputs.plan_outputs`): writable, none an input, none
    existing unless ``overwrite`` (a companion only when landmask wrote it for
    that output), all distinct; the vector format known and the classes to
    polygonize known to the model's scheme.

    Raises
    ------
    ConfigError, OutputExistsError, InputError
        One line naming the output or option.
    """

    if job.probabilities is not None and job.model is None:
        raise ConfigError("probabilities need a model (--model), not rules")
    inputs = job_inputs(job)
    outputs = {job.labels.get(k, k): output for k, output in job.planned().items()}
    vector = job.labels.get("vector", "vector")
    geotiff = functools.partial(check_output, fmt=GEOTIFF)
    checks: dict[str, Any] = {label: geotiff for label in outputs}
    if job.vector is not None:  # geopandas only when polygons are asked for
        checks[vector] = check_vector_output
    plan_outputs(outputs, inputs, overwrite=job.overwrite, checks=checks)
    check_declared_size(inputs)
    model = load_model(job.model_spec())
    if job.vector is not None:
        option = job.labels.get("classes", "--classes")
        resolve_classes(job.vector_options.classes, model_scheme(model), option)
    return model


def model_needs(model: Any) -> frozenset[str]:
    """Names a scene must provide: a rule set's index and band names, else the model's bands."""
    ruleset = getattr(model, "ruleset", None)
    return ruleset.names if ruleset is not None else frozenset(model.bands)


def scene_options_for(
    model: Any, scene: SceneOptions, inputs: Any = (), spec: str | None = None
) -> SceneOptions:
    """The scene options completed by what the model records; contradictions refused.

    See :func:`landmask.models.recorded.scene_options`: options left out come
    from the model, an option or file that contradicts it raises
    :class:`~landmask.errors.ModelMismatchError`. ``inputs`` (paths or a STAC
    item) are checked by name and metadata only.
    """

    choice = scene_options(
        model,
        inputs,
        sensor=scene.sensor,
        bands=scene.bands,
        scale=scene.scale,
        offset=scene.offset,
        spec=spec,
    )
    return dataclasses.replace(
        scene, sensor=choice.sensor, bands=choice.bands, scale=choice.scale, offset=choice.offset
    )


def run_scene(job: SceneJob) -> SceneOutcome:
    """Open, classify and write one scene on the active Dask scheduler.

    Parameters
    ----------
    job
        The scene and its outputs (checked by :func:`check_job` first).
        Polygons are made where :func:`landmask.vector.vectorize.gil_bound`
        says: on local threads, in worker processes; the same either way.

    Returns
    -------
    SceneOutcome
        Every output is written atomically; if any step fails, the outputs
        this call wrote (and their styling sidecars) are removed again.
    """

    model = check_job(job)
    spec = job.model_spec()
    written: list[Path] = []
    planned = {o.path: o for o in job.planned().values()}
    given = job.scene_array
    try:
        # an opened scene is reflectance already: the model's record is only checked
        options = scene_options_for(model, job.scene, job.inputs if given is None else (), spec)
        choice = None
        if job.model is None:  # the built-in rules follow the scene's radiometry and bands
            with warnings.catch_warnings():
                # the scene is opened again below, which says what its values are once
                warnings.simplefilter("ignore", UncalibratedWarning)
                first = given
                if first is None:
                    first = options.open(job.inputs, job.chunk_size, needs=None)
            choice = default_rules_for(first)
            spec = f"rules:{choice.name}"
            model = load_model(spec)
        scheme = model_scheme(model)
        needs = set(model_needs(model))
        if job.quality:
            needs |= set(QUALITY_BANDS)
        if job.indices is not None:
            needs |= set(job.index_names)
        try:
            if given is not None:
                reflectance = given
            else:
                reflectance = options.open(job.inputs, job.chunk_size, needs=band_reads(needs))
        except BandError as exc:
            if job.model is None or getattr(model, "ruleset", None) is not None:
                raise
            raise BandError(f"{exc}; {spec} reads {', '.join(model.bands)}") from None
        proba = None
        if job.probabilities is not None:
            mask, proba = classify_with_probabilities(
                reflectance, spec, min_confidence=job.min_confidence, statistics=job.statistics
            )
        else:
            mask = classify(
                reflectance,
                model=spec,
                min_confidence=job.min_confidence,
                statistics=job.statistics,
            )
        if job.window is not None:  # classified with its context, written without
            r, c, h, w = job.window
            crop = {"y": slice(r, r + h), "x": slice(c, c + w)}
            mask, reflectance = mask.isel(crop), reflectance.isel(crop)
            proba = proba.isel(crop) if proba is not None else None
        if choice is not None:
            mask.attrs["rules_basis"] = choice.reason
        if job.quality:
            mask = apply_quality(mask, quality_mask(reflectance))
        result = write_mask(
            mask,
            job.mask,
            overwrite=job.overwrite,
            scheme=scheme,
            probabilities=proba,
            probabilities_path=job.probabilities,
            stac=job.stac,
            also=job.also,
        )
        written += [job.mask] + ([job.probabilities] if job.probabilities else [])
        written += [a.path for a in job.also]
        void = any(math.isnan(v) for v in thresholds_of(mask).values())
        # an opened scene (a composite: its bands are NaN together, where no date was clear)
        # is not computed again to find a band's smaller footprint
        if not warn_empty_mask(result.counts, said=void) and given is None:
            warn_nodata_footprint(reflectance, result.counts, skip=QUALITY_BANDS)
        polygons = None
        if job.vector is not None:
            # classifying runs best on threads, polygonizing holds the GIL: on
            # local threads the polygons are made in worker processes, for
            # classify and run alike (decided in landmask.vector's chunk_pool)
            with gil_bound():
                v = job.vector_options
                polygons = vectorize_to_file(
                    open_mask(job.mask, job.chunk_size),
                    job.vector,
                    v.classes,
                    connectivity=v.connectivity,
                    min_area=v.min_area,
                    simplify=v.simplify,
                    scheme=scheme,
                    overwrite=job.overwrite,
                    stac=job.stac,
                )
            written.append(job.vector)
        if job.indices is not None:
            indices = compute_indices(reflectance, list(job.index_names))
            write_indices(indices, job.indices, overwrite=job.overwrite, stac=job.stac)
            written.append(job.indices)
    except BaseException:
        remove_with_companions([planned[p] for p in written])
        raise
    return SceneOutcome(mask, scheme, dict(result.counts), model, polygons, written)
