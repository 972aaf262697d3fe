"""scikit-learn pixel classifiers saved by ``landmask train``.

A model file is a joblib pickle of a dict: the fitted estimator and what it
needs from a scene (bands, features, class ids and scheme, the sensor and the
scale/offset its reflectance was made with) plus the training report.

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

from landmask.classes import ClassScheme, get_scheme
from landmask.errors import ModelError
from landmask.spectral.indices import INDICES, BlockLookup

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
    scheme_name
        Class scheme of the ids.
    sensor, scale, offset
        How the training reflectance was made (``None`` where the preset's
        own values were used).
    report
        The training report (:class:`landmask.models.training.TrainingReport` as a dict).
    """

    estimator: Any
    bands: list[str]
    features: list[str]
    scheme_name: str = "landcover"
    sensor: str | None = None
    scale: float | None = None
    offset: float | None = None
    report: dict[str, Any] = field(default_factory=dict)
    halo: int = 0

    def __post_init__(self) -> None:
        self.classes = [int(c) for c in self.estimator.classes_]
        self.name = "sklearn"
        unknown = [f for f in self.features if f not in INDICES and f not in self.bands]
        if unknown:
            raise ModelError(f"features {unknown} are neither indices nor bands of the model")

    @property
    def scheme(self) -> ClassScheme:
        """The class scheme of the model's ids."""
        return get_scheme(self.scheme_name)

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

        payload = {
            "format": FORMAT,
            "estimator": self.estimator,
            "bands": self.bands,
            "features": self.features,
            "scheme": self.scheme_name,
            "sensor": self.sensor,
            "scale": self.scale,
            "offset": self.offset,
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
        model = cls(
            payload["estimator"],
            list(payload["bands"]),
            list(payload["features"]),
            payload.get("scheme", "landcover"),
            payload.get("sensor"),
            payload.get("scale"),
            payload.get("offset"),
            dict(payload.get("report", {})),
        )
        model.name = f"sklearn:{p}"
        return model
