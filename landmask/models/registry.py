"""Models: the protocol every classifier follows, and finding one by its spec.

A model is any object with

``classes``
    the class ids (of its ``scheme``, by default ``landcover``) of the layers
    ``predict_proba`` returns, in order;
``bands``
    the band common names it reads, in the order its blocks hold them;
``halo``
    the context in pixels it needs on each side of a block (0 for a per-pixel
    model); blocks then overlap by that much and are trimmed back, so tiles
    leave no seams;
``predict_proba(block)``
    ``(band, y, x)`` float32 reflectance -> ``(class, y, x)`` float32
    probabilities. NaN marks a missing input; whatever the model returns
    there is replaced by nodata, but it must not fail on it.

and optionally ``scheme`` (a :class:`~landmask.classes.ClassScheme` or the name
of a built-in one, such as ``"worldcover"``),
``name``, and ``predict(block)`` -> ``(y, x)`` uint8 class ids, a shortcut for
models whose answer is a class rather than a probability (rules): it must
give what ``predict_proba`` would after the argmax.

Models are named by a spec string:

=========================  ==================================================
``rules:NAME|FILE``        a threshold rule set (:mod:`landmask.spectral.rules`)
``sklearn:PATH``           a pixel classifier saved by ``landmask train``
``onnx:PATH``              a fully convolutional ONNX model
``NAME[:ARG]``             a factory in the entry-point group
                           ``landmask.models`` of an installed package,
                           called with ``ARG`` if given
``package.module:factory`` a factory imported from a module on the path
=========================  ==================================================

``sklearn:`` and ``package.module:factory`` specs run code from the file or
module they name when loaded (a joblib file is a pickle): load only files you
trust. Loaded models are cached per process, so each worker loads a model once
however many chunks it classifies.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from landmask.classes import LANDCOVER, NODATA, ClassScheme, get_scheme
from landmask.errors import ConfigError, ModelError
from landmask.models.guard import third_party
from landmask.models.onnx import OnnxModel
from landmask.models.recorded import recorded
from landmask.models.sklearn import SklearnModel
from landmask.models.training import TrainingReport
from landmask.spectral.indices import INDICES
from landmask.spectral.rules import BUILTIN_RULESETS, RuleSet, classify_block, load_rules
from landmask.spectral.thresholds import bind_statistics, resolve_thresholds

__all__ = [
    "ENTRY_POINT_GROUP",
    "Model",
    "ModelHandle",
    "ModelInfo",
    "RulesModel",
    "available_models",
    "check_model",
    "describe_model",
    "load_model",
    "model_scheme",
    "model_spec_of",
]

#: Third-party packages register model factories under this entry-point group.
ENTRY_POINT_GROUP = "landmask.models"

_BUILTIN_KINDS = ("rules", "sklearn", "onnx")


@runtime_checkable
class Model(Protocol):
    """What :func:`~landmask.classify` needs of a model."""

    classes: Sequence[int]
    bands: Sequence[str]
    halo: int

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        """``(band, y, x)`` float32 -> ``(class, y, x)`` float32 probabilities."""
        ...


class RulesModel:
    """A threshold rule set seen as a model: each pixel's class has probability 1.

    ``predict`` is :func:`landmask.spectral.rules.classify_block`; ``predict_proba``
    one-hot encodes it (NaN where the rules see a missing input). Its ``halo``
    is the rules' reach: the largest radius of their neighbourhood functions
    (``focal_std(nir, 3)``), 0 for per-pixel rules.
    """

    halo = 0

    def __init__(self, ruleset: RuleSet) -> None:

        self.ruleset = ruleset
        self.halo = ruleset.reach
        self.name = f"rules:{ruleset.name}"
        self.scheme = ruleset.scheme
        ids = {ruleset.default_id, *(r.class_id for r in ruleset.rules)}
        self.classes = sorted(ids)
        reads = {b for n in ruleset.names for b in (INDICES[n].bands if n in INDICES else [n])}
        self.bands = sorted(reads)
        #: :meth:`predict` gives nodata wherever any of :attr:`bands` is missing, so
        #: :func:`~landmask.models.inference.predict_block` needs no mask of its own
        self.marks_missing = reads <= ruleset.guarded_bands

    #: every pixel's probabilities are 0 or 1, so :meth:`predict` is the argmax of
    #: :meth:`predict_proba` whatever the minimum confidence (see
    #: :func:`landmask.models.inference.predict_block`)
    certain = True

    def prepare(self, scene: Any) -> RulesModel:
        """This rule set with its scene-wide thresholds (``otsu(mndwi)``) bound to ``scene``.

        Each model may have a ``prepare(scene) -> model`` hook that
        :func:`~landmask.classify` calls once per scene before any block is
        classified; here it computes each automatic threshold from the scene's
        histogram (:func:`landmask.spectral.thresholds.resolve_thresholds`).
        """

        return self._bound(resolve_thresholds(scene, self.ruleset))

    def bind(self, values: Mapping[str, float]) -> RulesModel:
        """This rule set with its scene-wide statistics bound to ``values``, by label.

        Values computed elsewhere: a region run's, over all of its tiles
        (:func:`landmask.spectral.thresholds.bind_statistics`).

        Parameters
        ----------
        values
            ``{label: value}`` as :attr:`RuleSet.thresholds
            <landmask.spectral.rules.RuleSet>` names them (``"otsu(mndwi)"``); NaN
            for a statistic with no valid pixel. Labels the rules do not have are
            ignored.

        Returns
        -------
        RulesModel
            This model when the rules have no statistic, else a new one (the same
            bands picked) whose rules see only constants.

        Raises
        ------
        ConfigError
            A statistic of the rules has no value in ``values``.
        """
        return self._bound(bind_statistics(self.ruleset, values))

    def _bound(self, resolved: RuleSet) -> RulesModel:
        if resolved is self.ruleset:
            return self
        bound = RulesModel(resolved)
        # the bands picked for the scene are this model's: a band read only inside a
        # statistic (red < percentile(nir, 50)) is no name of the bound rules
        bound.bands = self.bands
        return bound

    def predict(self, block: np.ndarray) -> np.ndarray:
        """``(band, y, x)`` -> ``(y, x)`` uint8 class ids, 255 where inputs are missing."""
        return classify_block(block, self.bands, self.ruleset)

    def predict_named(self, block: np.ndarray, band_names: Sequence[str]) -> np.ndarray:
        """:meth:`predict` of a block whose bands are named ``band_names``, in any order.

        Bands the rules do not read may be there too: a scene's chunk is
        classified as it was read, without first copying out the rules' bands.
        """
        return classify_block(block, band_names, self.ruleset)

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        """One-hot probabilities of :meth:`predict`; NaN where it gives nodata."""
        ids = self.predict(block)
        proba = np.stack([(ids == c).astype(np.float32) for c in self.classes])
        proba[:, ids == NODATA] = np.nan
        return proba

    def __repr__(self) -> str:
        return f"RulesModel({self.ruleset.name!r}, {self.ruleset.source!r})"


def model_scheme(model: Any) -> ClassScheme:
    """The class scheme of a model's ids (``landcover`` unless it says otherwise).

    The model's ``scheme`` attribute is a :class:`~landmask.classes.ClassScheme`
    or the name of a built-in one (:func:`~landmask.classes.get_scheme`).

    Raises
    ------
    ModelError
        If ``scheme`` names no known scheme or is neither a scheme nor a name.
    """
    scheme = getattr(model, "scheme", None)
    if scheme is None:
        return LANDCOVER
    if isinstance(scheme, ClassScheme):
        return scheme
    name = getattr(model, "name", None) or type(model).__name__
    if not isinstance(scheme, str):
        raise ModelError(
            f"{name}: 'scheme' must be a ClassScheme or a scheme name, got {type(scheme).__name__}"
        )
    try:
        return get_scheme(scheme)
    except ConfigError as exc:
        raise ModelError(f"{name}: {exc}") from None


def check_model(model: Any, spec: str) -> Any:
    """Check that ``model`` follows the protocol; raise :class:`ModelError` naming ``spec``."""
    missing = [a for a in ("classes", "bands", "halo") if not hasattr(model, a)]
    if missing or not callable(getattr(model, "predict_proba", None)):
        what = ", ".join(missing + ([] if hasattr(model, "predict_proba") else ["predict_proba"]))
        raise ModelError(f"{spec}: not a model ({type(model).__name__} lacks {what})")
    classes = list(model.classes)
    if not classes or any(not isinstance(c, int | np.integer) for c in classes):
        raise ModelError(f"{spec}: 'classes' must be a non-empty list of class ids")
    if len(set(classes)) != len(classes) or any(not 0 <= int(c) < NODATA for c in classes):
        raise ModelError(f"{spec}: class ids must be unique and within 0..254, got {classes}")
    bands = list(model.bands)
    if not bands or any(not isinstance(b, str) for b in bands):
        raise ModelError(f"{spec}: 'bands' must be a non-empty list of band names")
    halo = model.halo
    if not isinstance(halo, int | np.integer) or halo < 0:
        raise ModelError(f"{spec}: 'halo' must be an integer >= 0, got {halo!r}")
    return model


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class ModelHandle:
    """A picklable reference to a model by spec: what travels in a Dask graph.

    Each process that unpickles it loads the model once (:func:`load_model`
    caches by spec and file modification time), so no model object, ONNX
    session or open file is ever pickled into the tasks.
    """

    spec: str

    def get(self) -> Any:
        """The model, loaded at most once per process."""
        return load_model(self.spec)


_LOCK = threading.Lock()


def load_model(spec: str | Any) -> Any:
    """The model a spec names (see the module docs), or ``spec`` itself if it is a model.

    Loaded models are cached per process: loading the same spec again (e.g.
    in each task of a worker) returns the same object until its file changes.

    Raises
    ------
    ModelError
        If the spec names nothing, the file cannot be loaded, or the object
        does not follow the model protocol.
    """
    if not isinstance(spec, str):
        return check_model(spec, type(spec).__name__)
    spec = spec.strip()
    kind, _sep, arg = spec.partition(":")
    is_file = kind in ("sklearn", "onnx") or (kind == "rules" and os.path.isfile(arg))
    path_key = arg if is_file else ""
    try:
        stamp = os.stat(path_key).st_mtime_ns if path_key else 0
    except OSError:
        stamp = -1
    with _LOCK:
        return _load_cached(spec, stamp)


@functools.lru_cache(maxsize=16)
def _load_cached(spec: str, stamp: int) -> Any:
    kind, sep, arg = spec.partition(":")
    if kind == "rules":
        return RulesModel(load_rules(arg or "default"))
    if kind in ("sklearn", "onnx"):
        if not arg:
            raise ModelError(f"{spec}: give a path, e.g. {kind}:model.{_SUFFIX[kind]}")
        if stamp < 0:
            raise ModelError(f"{spec}: no such file {arg}")
        if kind == "sklearn":
            with third_party(spec, "loading the model file"):  # unpickling runs code
                model = SklearnModel.load(arg)
            return check_model(model, spec)

        return check_model(OnnxModel(arg), spec)
    entry = _entry_points().get(kind)
    if entry is not None:
        factory = _load_entry(entry, spec)
        return check_model(_call(factory, (arg,) if sep else (), spec), spec)
    if sep and arg:
        return check_model(_call(_import_factory(kind, arg, spec), (), spec), spec)
    known = ", ".join([*(f"{k}:" for k in _BUILTIN_KINDS), *sorted(_entry_points())])
    raise ModelError(f"{spec}: unknown model (known: {known}, or package.module:factory)")


_SUFFIX = {"sklearn": "joblib", "onnx": "onnx"}


def _call(factory: Any, args: tuple[str, ...], spec: str) -> Any:
    with third_party(spec, "the model factory"):  # exit, stdin, anything raised: one line
        return factory(*args)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _load_entry(entry: importlib.metadata.EntryPoint, spec: str) -> Any:
    with third_party(spec, f"plug-in {entry.value}"):  # a broken plug-in: one line
        factory = entry.load()
    if not callable(factory):
        raise ModelError(f"{spec}: plug-in {entry.value} is not callable")
    return factory


def _import_factory(module: str, attr: str, spec: str) -> Any:
    with third_party(spec, f"importing {module}"):  # module code runs on import
        try:
            obj: Any = importlib.import_module(module)
        except ImportError as exc:
            raise ModelError(f"{spec}: cannot import {module} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"{spec}: {module} has no {attr}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"{spec}: {module}:{attr} is not callable")
    return obj


@dataclass(frozen=True)
class ModelInfo:
    """One line of ``landmask models``: a spec and what it is."""

    spec: str
    kind: str
    description: str


def available_models(search: Sequence[str | os.PathLike[str]] = ()) -> list[ModelInfo]:
    """Built-in rule sets, registered plug-ins, and model files in ``search`` folders."""
    out = [
        ModelInfo(f"rules:{n}", "rules", "built-in threshold rule set") for n in BUILTIN_RULESETS
    ]
    for name, entry in sorted(_entry_points().items()):
        dist = entry.dist.name if entry.dist is not None else "?"
        out.append(ModelInfo(name, "plug-in", f"{entry.value} (package {dist})"))
    for folder in search:
        for path in sorted(Path(folder).glob("*")):
            kind = {".joblib": "sklearn", ".onnx": "onnx"}.get(path.suffix.lower())
            if kind:
                out.append(ModelInfo(f"{kind}:{path}", kind, "model file"))
    return out


_FILE_KINDS = {".joblib": "sklearn", ".onnx": "onnx", ".yaml": "rules", ".yml": "rules"}


def model_spec_of(text: str) -> str:
    """A spec from a spec, a bare file path (``m.joblib`` -> ``sklearn:m.joblib``) or the
    bare name of a built-in rule set that no plug-in takes (``default`` -> ``rules:default``)."""
    kind = _FILE_KINDS.get(Path(text).suffix.lower())
    if kind is not None and not text.startswith(f"{kind}:") and os.path.isfile(text):
        return f"{kind}:{text}"
    if text in BUILTIN_RULESETS and text not in _entry_points() and not os.path.exists(text):
        return f"rules:{text}"
    return text


def describe_model(model: Any, spec: str) -> list[str]:
    """Lines saying what ``model`` is and records (``landmask models show``).

    Its kind, bands, features, halo, what it records of its training scene
    (:mod:`landmask.models.recorded`), its classes with their names, and the
    training report of a model made by ``landmask train``.
    """

    scheme = model_scheme(model)
    lines = [f"model: {spec} ({type(model).__name__})"]
    ruleset = getattr(model, "ruleset", None)
    if ruleset is not None:
        lines.append(f"rules: {len(ruleset.rules)} from {ruleset.source} (first match wins)")
    lines.append(f"bands: {', '.join(model.bands)}")
    features = getattr(model, "features", None)
    if features:
        lines.append(f"features: {', '.join(features)}")
    lines.append(f"halo: {model.halo} px")
    for key in ("mean", "std"):
        value = getattr(model, key, None)
        if value is not None:
            lines.append(f"{key}: {', '.join(f'{v:g}' for v in np.ravel(value))}")
    record = recorded(model)
    if record.empty:
        lines.append("scene: nothing recorded (give --sensor or --band, --scale, --offset)")
    else:
        lines += record.describe()
    names = ", ".join(f"{c} {scheme.name_of(int(c))}" for c in model.classes)
    lines.append(f"classes ({scheme.name}): {names}")
    report = getattr(model, "report", None)
    if report:
        try:
            table = TrainingReport(**report).table()
        except TypeError:  # a report of another shape: shown as it is
            table = "\n".join(f"{k}: {v}" for k, v in report.items())
        lines.append("training report:")
        lines += [f"  {line}" for line in table.splitlines()]
    return lines
