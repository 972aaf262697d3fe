"""landmask: chunked land-cover masks (forest, urban, water) from satellite rasters.

The data flow, one module per stage::

    open_scene      (scene.py)     files -> lazy (band, y, x) reflectance
    compute_indices (indices.py)   reflectance -> spectral indices
    classify        (classify.py)  reflectance -> uint8 class ids, by rules.py or a
                                   model (models.py, run by inference.py)
    train           (train.py)     reflectance + labels -> a pixel classifier
    write_mask      (write.py)     mask -> Cloud-Optimized GeoTIFF
    evaluate        (evaluate.py)  mask vs truth -> confusion matrix, IoU

Names are imported lazily so that ``landmask --help`` starts fast.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landmask.classes import LANDCOVER, ClassScheme
    from landmask.classify import classify
    from landmask.errors import LandmaskError
    from landmask.evaluate import evaluate
    from landmask.indices import INDICES, compute_indices
    from landmask.models import Model, load_model
    from landmask.rules import load_rules
    from landmask.scene import open_scene
    from landmask.train import train
    from landmask.write import write_indices, write_mask

__all__ = [
    "INDICES",
    "LANDCOVER",
    "ClassScheme",
    "LandmaskError",
    "Model",
    "classify",
    "compute_indices",
    "evaluate",
    "load_model",
    "load_rules",
    "open_scene",
    "train",
    "write_indices",
    "write_mask",
]
__version__ = "0.1.0"

_HOME = {
    "INDICES": "indices",
    "LANDCOVER": "classes",
    "ClassScheme": "classes",
    "LandmaskError": "errors",
    "classify": "classify",
    "compute_indices": "indices",
    "evaluate": "evaluate",
    "Model": "models",
    "load_model": "models",
    "load_rules": "rules",
    "open_scene": "scene",
    "train": "train",
    "write_indices": "write",
    "write_mask": "write",
}

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"landmask.{_HOME[name]}"), name)
    raise AttributeError(f"module 'landmask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
