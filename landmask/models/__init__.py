"""Pixel classifiers: protocol and registry, chunked inference, scikit-learn, ONNX, training."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.models.registry import Model, available_models, describe_model, load_model
    from landmask.models.training import TrainingReport, train

__all__ = ["Model", "TrainingReport", "available_models", "describe_model", "load_model", "train"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "Model": "landmask.models.registry",
        "TrainingReport": "landmask.models.training",
        "available_models": "landmask.models.registry",
        "describe_model": "landmask.models.registry",
        "load_model": "landmask.models.registry",
        "train": "landmask.models.training",
    },
)
