"""Pixel classifiers: protocol and registry, chunked inference, scikit-learn, ONNX, training."""

from __future__ import annotations

from landmask.models.registry import Model, available_models, describe_model, load_model
from landmask.models.training import TrainingReport, train

__all__ = ["Model", "TrainingReport", "available_models", "describe_model", "load_model", "train"]
