"""scikit-learn pixel classifiers saved by ``landmask train``.

A model file is a joblib pickle of a dict: the fitted estimator and what it
needs from a scene (bands, features, class ids and their scheme, the sensor,
the scale/offset and the radiometry its training scene had) plus the training
report. A built-in scheme is stored by name; a scheme made from the labels'
own classes is stored whole (ids, names, colours), so that masks made with
the model carry it.

Loading a joblib or pickle file runs code stored in it: load only files you
made or trust. landmask loads only paths the user names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landmask.classes import SCHEMES, ClassScheme, get_scheme
from landmask.errors import ConfigError, ModelError
from landmask.models.recorded import SceneRecord
from landmask.spectral.indices import INDICES, BlockLookup

# Imports: landmask's at the top; joblib is imported when a model is loaded or saved (only
# scikit-learn models need it).

__all__ = ["FORMAT", "SklearnModel", "feature_block"]

#: Format tag stored in every model file.
FORMAT = "landmask-sklearn/1"


def feature_block(block: np.ndarray, bands: Sequence[str], features: Sequence[str]) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(feature, y, x)`` float32.

    Features are band names (copied) and index names (computed; a zero
    denominator gives NaN).
    """
    lookup = BlockLookup(block, bands)
    out = np.empty((len(features), *block.shape[1:]), dtype=np.float32)
    with np.errstate(all="ignore"):
        for k, name in enumerate(features):
            out[k] = lookup(name)
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass
class SklearnModel:
    """A fitted scikit-learn classifier over per-pixel features (model protocol).

    Attributes
    ----------
    estimator
        Fitted classifier with ``predict_proba``; its ``classes_`` are class ids.
    bands
        Band common names read, in block order.
    features
        Estimator columns: band names and index names (:data:`landmask.spectral.indices.INDICES`).
    class_scheme
        Class scheme of the ids: a built-in one's name, or the scheme itself
        (one ``landmask train`` made from the labels' own classes).
    scene_record
        How the training scene was read: sensor, band mapping, scale/offset,
        nodata (:class:`~landmask.models.recorded.SceneRecord`); ``classify
        --model`` opens scenes the same way (:func:`~landmask.models.recorded.scene_options`).
    report
        The training report (:class:`landmask.models.training.TrainingReport` as a dict).
    """

    estimator: Any
    bands: list[str]
    features: list[str]
    class_scheme: ClassScheme | str = "landcover"
    scene_record: SceneRecord = field(default_factory=SceneRecord)
    report: dict[str, Any] = field(default_factory=dict)
    halo: int = 0

    def __post_init__(self) -> None:
        self.class_scheme = get_scheme(self.class_scheme)
        self.classes = [int(c) for c in self.estimator.classes_]
        self.name = "sklearn"
        unknown = [f for f in self.features if f not in INDICES and f not in self.bands]
        if unknown:
            raise ModelError(f"features {unknown} are neither indices nor bands of the model")

    @property
    def sensor(self) -> str | None:
        """The sensor preset of the training scene (None: a generic band mapping)."""
        return self.scene_record.sensor

    @property
    def scheme(self) -> ClassScheme:
        """The class scheme of the model's ids."""
        return get_scheme(self.class_scheme)

    @property
    def scheme_name(self) -> str:
        """The name of the class scheme of the model's ids."""
        return self.scheme.name

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        """``(band, y, x)`` -> ``(class, y, x)`` probabilities; NaN where a feature is missing."""
        x = feature_block(block, self.bands, self.features)
        valid = np.isfinite(x).all(axis=0)
        out = np.full((len(self.classes), *block.shape[1:]), np.nan, dtype=np.float32)
        if valid.any():
            rows = x[:, valid].T
            out[:, valid] = np.asarray(self.estimator.predict_proba(rows), dtype=np.float32).T
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a joblib file (call through an atomic temporary path)."""
        import joblib

        builtin = SCHEMES.get(self.scheme.name) == self.scheme
        payload = {
            "format": FORMAT,
            "estimator": self.estimator,
            "bands": self.bands,
            "features": self.features,
            # a built-in scheme by name; one made from labels as data
            "scheme": self.scheme.name if builtin else self.scheme.to_dict(),
            "scene": self.scene_record.to_dict(),
            "report": self.report,
        }
        joblib.dump(payload, os.fspath(path), compress=3)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SklearnModel:
        """Load a model file written by :meth:`save`.

        This unpickles the file, which runs code stored in it: load only files
        you trust.
        """
        import joblib

        p = os.fspath(path)
        if not Path(p).is_file():
            raise ModelError(f"sklearn:{p}: no such file")
        try:
            payload = joblib.load(p)
        except Exception as exc:  # pickle raises many types on a corrupt file
            raise ModelError(f"sklearn:{p}: cannot load ({type(exc).__name__})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ModelError(
                f"sklearn:{p}: not a landmask model file (make one with landmask train)"
            )
        if isinstance(payload.get("scene"), dict):
            record = SceneRecord.from_dict(payload["scene"])
        else:  # files of landmask <= 0.x: sensor, scale and offset as given to train
            given = payload.get("scale") is not None or payload.get("offset") is not None
            record = SceneRecord(
                sensor=payload.get("sensor"),
                scale=payload.get("scale"),
                offset=payload.get("offset"),
                scaling="options" if given else None,
            )
        stored = payload.get("scheme", "landcover")
        try:
            scheme = ClassScheme.from_dict(stored) if isinstance(stored, dict) else stored
            model = cls(
                payload["estimator"],
                list(payload["bands"]),
                list(payload["features"]),
                scheme,
                record,
                dict(payload.get("report", {})),
            )
        except ConfigError as exc:
            raise ModelError(f"sklearn:{p}: {exc}") from None
        model.name = f"sklearn:{p}"
        return model
