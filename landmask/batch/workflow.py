"""Workflow files: a batch job over many scenes, as YAML, validated before any work.

A workflow names its inputs (a glob, a list of paths, or a local STAC catalog /
ItemCollection), how to read them (``sensor`` or ``bands`` with ``scale`` and
``offset``), how to classify (``classifier: {rules: NAME|FILE}`` or
``{model: SPEC}``) and where outputs go (``outputs.dir`` and name patterns
such as ``"{stem}_mask.tif"``). :func:`load_workflow` checks every key and
raises :class:`~landmask.errors.ConfigError` with one line naming the file and
the key; relative paths are taken from the workflow file's folder.
:meth:`Workflow.scenes` expands the inputs into scenes.
"""

from __future__ import annotations

import difflib
import glob
import math
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from landmask._runtime.chunks import SCENE_CHUNK_SIZE
from landmask.errors import ConfigError, InputError, LandmaskError
from landmask.io.inputs import read_text
from landmask.io.sensors.presets import SENSORS
from landmask.io.stac.read import item_id, read_items
from landmask.io.yamldoc import load_yaml
from landmask.models.recorded import scene_options
from landmask.models.registry import load_model, model_scheme
from landmask.spectral.indices import INDICES
from landmask.spectral.rules import BUILTIN_RULESETS, load_rules
from landmask.temporal.dates import parse_period
from landmask.temporal.statistics import parse_features, parse_stats
from landmask.vector.formats import VECTOR_FORMATS
from landmask.vector.vectorize import resolve_classes

__all__ = [
    "CompositeSettings",
    "GridSettings",
    "ModelClassifier",
    "Outputs",
    "RegionSettings",
    "RulesClassifier",
    "SceneInput",
    "StacInputs",
    "VectorSettings",
    "Workflow",
    "load_workflow",
]

#: Fields a name pattern may use.
PATTERN_FIELDS = ("stem", "name")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RulesClassifier(_Strict):
    """``classifier: {rules: NAME|FILE}``: a built-in rule set or a rules YAML file."""

    rules: str


class ModelClassifier(_Strict):
    """``classifier: {model: SPEC, min_confidence: 0.5}``: a pixel model (see DESIGN.md)."""

    model: str
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class StacInputs(_Strict):
    """``inputs: {stac: PATH}``: every item of a local STAC catalog, ItemCollection or item."""

    stac: str


class RegionSettings(_Strict):
    """``region:`` of a region run: ``{bounds: [L, B, R, T], crs: CRS}`` or ``{file: AOI}``.

    ``crs`` is the CRS of ``bounds`` (default: the grid's); a vector ``file``
    gives the union of its features, and only tiles that touch it are made.
    """

    bounds: tuple[float, float, float, float] | None = None
    crs: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> RegionSettings:
        if (self.bounds is None) == (self.file is None):
            raise ValueError("give bounds: [LEFT, BOTTOM, RIGHT, TOP] (with crs) or file: AOI")
        if self.file is not None and self.crs is not None:
            raise ValueError("crs: a vector file carries its own CRS; leave crs out")
        if self.bounds is not None:
            left, bottom, right, top = self.bounds
            if not all(math.isfinite(v) for v in self.bounds):
                raise ValueError("bounds: not finite")
            if not (left < right and bottom < top):
                raise ValueError("bounds: need LEFT < RIGHT and BOTTOM < TOP")
        return self


class GridSettings(_Strict):
    """``grid:``: the target grid of a region run and its tiling.

    ``crs`` and ``resolution`` (pixels snap to whole multiples of the
    resolution from the CRS origin), or ``like: RASTER`` (its CRS, resolution
    and pixel lattice); ``tile_size`` pixels a side per tile (the run's unit).
    """

    crs: str | None = None
    resolution: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    like: str | None = None
    tile_size: int = Field(default=4096, ge=16)

    @model_validator(mode="after")
    def _one(self) -> GridSettings:
        if self.like is not None and (self.crs is not None or self.resolution is not None):
            raise ValueError(
                "like: takes the raster's CRS and resolution; leave crs and resolution out"
            )
        if self.like is None and (self.crs is None or self.resolution is None):
            raise ValueError("give crs and resolution, or like: RASTER")
        if self.crs is not None:
            from rasterio.crs import CRS
            from rasterio.errors import CRSError

            try:
                CRS.from_user_input(self.crs)
            except CRSError:
                raise ValueError(f"crs: {self.crs!r} is not a CRS (e.g. EPSG:32633)") from None
        return self


class CompositeSettings(_Strict):
    """``composite:``: what a region run composites per tile (``landmask composite``'s options)."""

    stats: list[str] = Field(default_factory=lambda: ["median"])
    features: list[str] = Field(default_factory=list)
    bands: list[str] | None = None
    resampling: Literal["bilinear", "average", "nearest"] = "bilinear"

    @field_validator("stats")
    @classmethod
    def _stats(cls, value: list[str]) -> list[str]:

        try:
            parse_stats(value)
        except LandmaskError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("features")
    @classmethod
    def _features(cls, value: list[str]) -> list[str]:

        try:
            parse_features(value)
        except LandmaskError as exc:
            raise ValueError(str(exc)) from None
        return value


class VectorSettings(_Strict):
    """How ``outputs.vector`` polygons are made (as ``landmask vectorize``)."""

    classes: list[str | int] | None = None
    connectivity: Literal[4, 8] = 4
    min_area: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    simplify: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class Outputs(_Strict):
    """Where a workflow writes: a folder and per-scene name patterns."""

    dir: str
    mask: str = "{stem}_mask.tif"
    vector: str | None = None
    indices: str | None = None
    probabilities: str | None = None
    summary: str = "run-summary.json"
    #: region runs: each tile's composite, the mosaic VRT and the tiles' STAC collection
    composite: str = "{stem}_composite.tif"
    mosaic: str = "mosaic.vrt"
    collection: str = "collection.json"
    #: a STAC item beside every output and a ``catalog.json`` linking them
    stac: bool = True

    @field_validator("mosaic", "collection")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or "{" in value:
            raise ValueError(f"{value!r}: a file name in outputs.dir, not a pattern or a path")
        return value

    @field_validator("mask", "vector", "indices", "probabilities", "composite")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            name = value.format(stem="s", name="n")
        except (KeyError, IndexError, ValueError) as exc:
            fields = ", ".join("{" + f + "}" for f in PATTERN_FIELDS)
            raise ValueError(f"{value!r}: bad name pattern ({exc}); use {fields}") from None
        if "{stem}" not in value:
            raise ValueError(f"{value!r}: a name pattern needs {{stem}} so scenes don't collide")
        if "/" in name or "\\" in name:
            raise ValueError(f"{value!r}: a name pattern is a file name, not a path")
        return value

    @field_validator("mask", "composite")
    @classmethod
    def _tif(cls, value: str) -> str:
        if not value.lower().endswith((".tif", ".tiff")):
            raise ValueError(f"{value!r}: a raster output is a GeoTIFF (.tif)")
        return value

    @field_validator("vector")
    @classmethod
    def _vector_format(cls, value: str | None) -> str | None:

        if value is not None and Path(value).suffix.lower() not in VECTOR_FORMATS:
            raise ValueError(f"{value!r}: unknown vector format (use {', '.join(VECTOR_FORMATS)})")
        return value


class Workflow(_Strict):
    """A validated workflow. Paths are absolute (resolved against the workflow's folder)."""

    name: str = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(unicodedata.category(c).startswith("C") for c in value):
            raise ValueError(f"{value!r}: a name holds no control character (newline, escape)")
        if "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"{value!r}: a name is not a path")
        return value

    inputs: str | list[str | list[str]] | StacInputs
    #: a region run: the region, its grid and tiles, the period and what is composited
    region: RegionSettings | None = None
    grid: GridSettings | None = None
    period: str | None = None
    composite: CompositeSettings | None = None
    sensor: str | None = None
    bands: dict[str, int] | None = None
    #: one number for every band, or band name -> number (``"*"``: every band not named)
    scale: float | dict[str, float] | None = None
    offset: float | dict[str, float] | None = None
    resolution: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    classifier: RulesClassifier | ModelClassifier
    quality: bool = True
    indices: list[str] = Field(default_factory=lambda: ["ndvi"])
    vector: VectorSettings = VectorSettings()
    outputs: Outputs
    chunk_size: int = Field(default=SCENE_CHUNK_SIZE, gt=0)
    scheduler: str = "threads"
    parallel_scenes: int = Field(default=2, ge=1)
    source: str = Field(default="<workflow>", exclude=True)

    @field_validator("scale", "offset", mode="before")
    @classmethod
    def _per_band(cls, value: Any) -> Any:
        """A finite number, or band name -> finite number (``"*"``: every band not named)."""
        if value is None:
            return value
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, number in items:
            # "KEY: message" names the sub-key (_format_error): scale.nir
            where = "" if key is None else f"{key}: "
            if key is not None and (not isinstance(key, str) or not key.strip()):
                raise ValueError(f"band name {key!r} is not text, e.g. {{nir: 0.0001}}")
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(
                    f"{where}{number!r} is not a number (give a number, or band: number pairs "
                    "such as {nir: 0.0001})"
                )
            if not math.isfinite(number):
                raise ValueError(f"{where}{number!r} is not a finite number")
        return value

    @field_validator("classifier", mode="before")
    @classmethod
    def _classifier(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("expected {rules: NAME|FILE} or {model: SPEC}")
        kinds = [k for k in ("rules", "model") if k in value]
        if len(kinds) != 1:
            keys = ", ".join(map(str, value)) or "nothing"
            raise ValueError(
                f"unknown classifier ({keys}); expected {{rules: NAME|FILE}} or {{model: SPEC}}"
            )
        target = RulesClassifier if kinds[0] == "rules" else ModelClassifier
        try:
            return target.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"]))
            what = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise ValueError(f"{where}: {what}") from None

    @field_validator("sensor")
    @classmethod
    def _sensor(cls, value: str | None) -> str | None:

        if value is not None and value.lower() not in SENSORS:
            raise ValueError(f"unknown sensor {value!r} (known: {', '.join(SENSORS)})")
        return value.lower() if value else value

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None:
            named: dict[int, str] = {}
            for name, number in value.items():
                if number < 1:
                    raise ValueError(f"{name}: {number}: bands are numbered from 1")
                if number in named:
                    raise ValueError(f"{name}: band {number} is {named[number]} already")
                named[number] = name
        return value

    @field_validator("indices")
    @classmethod
    def _indices(cls, value: list[str]) -> list[str]:

        for name in value:
            if name not in INDICES:
                raise ValueError(f"unknown index {name!r} (known: {', '.join(INDICES)})")
        return value

    @field_validator("period")
    @classmethod
    def _period(cls, value: str | None) -> str | None:

        if value is not None:
            try:
                parse_period(value)
            except ConfigError as exc:
                raise ValueError(str(exc).replace("--period ", "")) from None
        return value

    @property
    def is_region(self) -> bool:
        """Whether this is a region run (tiles of a grid) rather than a run over scenes."""
        return self.region is not None

    @model_validator(mode="after")
    def _region(self) -> Workflow:
        regional = {"grid": self.grid, "period": self.period, "composite": self.composite}
        if self.region is None:
            named = [k for k, v in regional.items() if v is not None]
            named += [
                f"outputs.{k}"
                for k in ("composite", "mosaic", "collection")
                if k in self.outputs.model_fields_set
            ]
            if named:
                raise ValueError(f"{named[0]}: only a region run (region: ...) takes {named[0]}")
            return self
        if self.grid is None:
            raise ValueError("grid: a region run needs a grid ({crs, resolution} or {like})")
        if self.bands is not None:
            raise ValueError("bands: a region run reads dated inputs (STAC items, provider files)")
        if self.outputs.indices or self.outputs.probabilities:
            key = "indices" if self.outputs.indices else "probabilities"
            raise ValueError(f"outputs.{key}: not made by a region run (outputs.composite is)")
        if self.resolution is not None:
            raise ValueError("resolution: a region run takes grid.resolution")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Workflow:
        if self.region is not None:
            return self
        stac = isinstance(self.inputs, StacInputs) or _all_json(self.inputs)
        if self.bands is not None and isinstance(self.inputs, StacInputs):
            raise ValueError("bands: STAC items name their bands; leave bands out")
        model = isinstance(self.classifier, ModelClassifier)  # may record them: see load
        if self.sensor is None and self.bands is None and not stac and not model:
            raise ValueError("sensor: give a sensor preset or a bands mapping to name the bands")
        if self.outputs.probabilities and not isinstance(self.classifier, ModelClassifier):
            raise ValueError("outputs.probabilities: needs a {model: SPEC} classifier")
        return self

    @property
    def base(self) -> Path:
        """The folder relative paths are resolved against."""
        return Path(self.source).parent if self.source != "<workflow>" else Path.cwd()

    @property
    def out_dir(self) -> Path:
        """The output folder (absolute)."""
        return self.base / self.outputs.dir

    def rules_spec(self) -> str:
        """The rule set: a built-in name, or the rules file's absolute path."""

        assert isinstance(self.classifier, RulesClassifier)
        spec = self.classifier.rules
        return spec if spec in BUILTIN_RULESETS else str(self.base / spec)

    def model_spec(self) -> str:
        """The model spec of a ``{model: SPEC}`` classifier, a relative file made absolute."""
        assert isinstance(self.classifier, ModelClassifier)
        spec = self.classifier.model
        kind, sep, arg = spec.partition(":")
        if sep and kind in ("sklearn", "onnx", "rules") and arg and not Path(arg).is_absolute():
            candidate = self.base / arg
            if kind != "rules" or candidate.is_file():
                return f"{kind}:{candidate}"
        return spec

    def classifier_spec(self) -> tuple[str, float]:
        """The one model spec and minimum confidence the classifier comes to.

        ``{rules: NAME|FILE}`` becomes ``rules:...`` (confidence 0.5, which rules
        always reach); ``{model: SPEC}`` its spec and ``min_confidence``.
        """
        if isinstance(self.classifier, RulesClassifier):
            return f"rules:{self.rules_spec()}", 0.5
        return self.model_spec(), self.classifier.min_confidence

    def output_paths(self, stem: str, kinds: Sequence[str]) -> dict[str, Path]:
        """The output of each of ``kinds`` the workflow asks for, for a scene or tile ``stem``."""
        out = {}
        for key in kinds:
            pattern = getattr(self.outputs, key)
            if pattern:
                out[key] = self.out_dir / pattern.format(stem=stem, name=self.name)
        return out

    def scenes(self) -> list[SceneInput]:
        """The scenes the inputs name, in order, each with a unique stem.

        A glob or a list names files, one scene each (a nested list is one scene
        of several files); a ``.json`` file is a STAC item, ItemCollection or
        catalog and gives one scene per item.

        Raises
        ------
        ConfigError
            For a glob that matches nothing or two scenes with one stem.
        """
        entries: list[str | list[str]]
        if isinstance(self.inputs, StacInputs):
            entries = [self.inputs.stac]
        elif isinstance(self.inputs, str):
            entries = [self.inputs]
        else:
            entries = list(self.inputs)
        scenes: list[SceneInput] = []
        for entry in entries:
            if isinstance(entry, list):
                files = [str(self.base / p) for p in entry]
                scenes.append(SceneInput(_group_stem(files), files=tuple(files)))
                continue
            for path in self._expand(entry):
                if path.lower().endswith(".json"):
                    try:
                        items = read_items(path)
                    except InputError as exc:
                        if isinstance(self.inputs, StacInputs):
                            raise ConfigError(f"{self.source}: key 'inputs.stac': {exc}") from None
                        # one unreadable item among many fails that scene, not the run
                        scenes.append(SceneInput(Path(path).stem, files=(path,), error=str(exc)))
                        continue
                    scenes.extend(SceneInput(item_id(i), item=i) for i in items)
                else:
                    scenes.append(SceneInput(Path(path).stem, files=(path,)))
        seen: dict[str, SceneInput] = {}
        for scene in scenes:
            if scene.stem in seen:
                raise ConfigError(
                    f"{self.source}: key 'inputs': two scenes are both named {scene.stem!r} "
                    f"({seen[scene.stem].where} and {scene.where}); outputs would collide"
                )
            seen[scene.stem] = scene
        if not scenes:
            raise ConfigError(f"{self.source}: key 'inputs': no scene")
        return scenes

    def input_paths(self) -> list[str]:
        """A region run's inputs as absolute paths, globs expanded, in order.

        Raises
        ------
        ConfigError
            For a glob that matches nothing, or no input.
        """
        if isinstance(self.inputs, StacInputs):
            entries: list[str | list[str]] = [self.inputs.stac]
        elif isinstance(self.inputs, str):
            entries = [self.inputs]
        else:
            entries = list(self.inputs)
        paths: list[str] = []
        for entry in entries:
            for one in entry if isinstance(entry, list) else [entry]:
                paths += self._expand(one)
        if not paths:
            raise ConfigError(f"{self.source}: key 'inputs': no input")
        return list(dict.fromkeys(paths))

    def _expand(self, entry: str) -> list[str]:
        pattern = str(self.base / entry)
        if glob.has_magic(entry):
            found = sorted(glob.glob(pattern))
            if not found:
                raise ConfigError(f"{self.source}: key 'inputs': {entry!r} matches no file")
            return found
        return [pattern]


@dataclass(frozen=True)
class SceneInput:
    """One scene of a workflow: raster files or a STAC item, and its output stem.

    ``error`` is set for an input that could not even be read as a scene (an
    unreadable STAC JSON); the run reports that scene as failed.
    """

    stem: str
    files: tuple[str, ...] = ()
    item: Any = None
    error: str | None = None

    @property
    def where(self) -> str:
        """The scene's source, for messages."""
        if self.item is not None:
            return self.item.get_self_href() or str(self.item.id)
        return ", ".join(self.files)


def _all_json(inputs: Any) -> bool:
    entries = [inputs] if isinstance(inputs, str) else inputs
    json_only = all(isinstance(e, str) and e.lower().endswith(".json") for e in entries)
    return bool(entries) and json_only


def _group_stem(files: Sequence[str]) -> str:
    """The common prefix of a band-file group's stems, cut at a separator (``_ - . space``)."""
    stems = [Path(f).stem for f in files]
    prefix = stems[0]
    for stem in stems[1:]:
        while not stem.startswith(prefix):
            prefix = prefix[:-1]
    if any(stem != prefix for stem in stems):  # cut back to a whole name part
        cut = max(prefix.rfind(c) for c in "_-. ")
        prefix = prefix[:cut] if cut > 0 else prefix
    prefix = prefix.rstrip("_-. ")
    return prefix or stems[0]


#: The settings models of each nested workflow key, for suggestions.
_SECTIONS: dict[str, tuple[type[BaseModel], ...]] = {
    "": (),  # Workflow, filled in below (defined after this table is read)
    "outputs": (Outputs,),
    "vector": (VectorSettings,),
    "inputs": (StacInputs,),
    "classifier": (RulesClassifier, ModelClassifier),
    "region": (RegionSettings,),
    "grid": (GridSettings,),
    "composite": (CompositeSettings,),
}


def _nearest_key(loc: str) -> str:
    """`` (did you mean 'KEY'?)`` for an unknown key at ``loc``, or nothing."""
    section, _, key = loc.rpartition(".")
    models = _SECTIONS.get(section, ()) if section else (Workflow,)
    valid = sorted({f for m in models for f in m.model_fields if f != "source"})
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _format_error(source: str, exc: ValidationError) -> str:
    # an unknown key first: a typo'd key is also reported as a missing one
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = ".".join(
        str(p) for p in first["loc"] if not str(p).startswith(("function-", "list[", "str"))
    )
    kind = first["type"]
    detail = first["msg"].removeprefix("Value error, ")
    named = re.match(r"^([A-Za-z_][\w.]*): (.*)$", detail)
    if kind == "value_error" and named:  # a check that names the key it is about
        loc, detail = ".".join(p for p in (loc, named.group(1)) if p), named.group(2)
    if kind == "missing":
        msg = "required key is missing"
    elif kind == "extra_forbidden" or (kind == "value_error" and detail == "unknown key"):
        msg = "unknown key" + _nearest_key(loc)
    else:
        msg = detail
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    if len(errors) == 1:
        more = ""
    return f"{source}: key '{_printable(loc or 'workflow')}': {_printable(msg)}{more}"


def _printable(text: str) -> str:
    """Keys and messages from the YAML on one line: control characters escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    """Read and validate a workflow YAML file.

    Raises
    ------
    ConfigError
        One line naming the file and the offending key: a missing key, a wrong
        type, an unknown key, sensor, index or classifier, a rules file that
        does not load.
    """
    source = os.fspath(path)
    text = read_text(source, "workflow file", ConfigError)
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a workflow is a YAML mapping of keys")
    if "source" in data:
        raise ConfigError(f"{source}: key 'source': unknown key")
    try:
        workflow = Workflow.model_validate({**data, "source": os.path.abspath(source)})
    except ValidationError as exc:
        raise ConfigError(_format_error(source, exc)) from None
    if isinstance(workflow.classifier, RulesClassifier):
        try:
            scheme = load_rules(workflow.rules_spec()).scheme
        except InputError as exc:
            raise ConfigError(f"{source}: key 'classifier.rules': {exc}") from None
    else:
        try:
            model = load_model(workflow.model_spec())
            scheme = model_scheme(model)
        except InputError as exc:
            raise ConfigError(f"{source}: key 'classifier.model': {exc}") from None
        try:  # the options alone, before any scene: the files are checked per scene
            choice = scene_options(
                model,
                [],
                sensor=workflow.sensor,
                bands=workflow.bands,
                scale=workflow.scale,
                offset=workflow.offset,
                spec=workflow.classifier.model,
                labels={
                    "sensor": "sensor:",
                    "band": "bands:",
                    "scale": "scale:",
                    "offset": "offset:",
                },
            )
        except InputError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        stac = isinstance(workflow.inputs, StacInputs) or _all_json(workflow.inputs)
        if choice.sensor is None and choice.bands is None and not stac:
            raise ConfigError(
                f"{source}: key 'sensor': give a sensor preset or a bands mapping to name "
                f"the bands ({workflow.classifier.model} records neither)"
            )

    try:  # every class name now, not after the first scene
        resolve_classes(workflow.vector.classes, scheme, option="")
    except InputError as exc:
        raise ConfigError(f"{source}: key 'vector.classes': {exc}") from None
    return workflow
