"""landmask: chunked land-cover masks (forest, urban, water) from satellite rasters.

The data flow, one subpackage per stage::

    io/              files, STAC items -> lazy (band, y, x) reflectance (open_scene);
                     masks and images read and written (open_mask, write_mask, ...)
    temporal/        the scenes of a period -> one composite on a target grid
    spectral/        reflectance -> spectral indices; threshold rules and rule sets
    classification/  reflectance -> uint8 class ids (classify), cloud masking
    models/          pixel classifiers: protocol and registry, inference, training
    vector/          mask -> sieved, seamless polygons (vectorize)
    evaluation/      mask vs truth -> confusion matrix, IoU, area-adjusted accuracy
    analysis/        class areas, zonal statistics, change between dates
    products/        mask -> exports for other GIS, cut-out / blurred / cropped imagery
    batch/           workflow files -> many scenes (run)
    viz/             figures and PNG previews
    cli/             the ``landmask`` command

Names are imported lazily so that ``landmask --help`` starts fast. The xarray
accessor ``DataArray.landmask`` (:mod:`landmask.accessor`) is registered by
``import landmask``: at once if xarray is loaded, else as soon as it is
(:mod:`landmask._runtime.hooks`), so importing landmask does not import xarray.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from landmask._runtime.hooks import register_accessor_with_xarray

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.analysis.change import change as change
    from landmask.analysis.change import transitions as transitions
    from landmask.analysis.zonal import zonal_stats as zonal_stats
    from landmask.classes import LANDCOVER as LANDCOVER
    from landmask.classes import ClassScheme as ClassScheme
    from landmask.classification.classify import classify as classify
    from landmask.errors import LandmaskError as LandmaskError
    from landmask.evaluation.evaluate import evaluate as evaluate
    from landmask.io.read.masks import open_image as open_image
    from landmask.io.read.masks import open_mask as open_mask
    from landmask.io.read.scene import open_scene as open_scene
    from landmask.io.write.rasters import write_image as write_image
    from landmask.io.write.rasters import write_indices as write_indices
    from landmask.io.write.rasters import write_mask as write_mask
    from landmask.models.registry import Model as Model
    from landmask.models.registry import load_model as load_model
    from landmask.models.training import train as train
    from landmask.products.apply import apply_mask as apply_mask
    from landmask.products.export import export_mask as export_mask
    from landmask.spectral.indices import INDICES as INDICES
    from landmask.spectral.indices import compute_indices as compute_indices
    from landmask.spectral.rules import load_rules as load_rules
    from landmask.temporal.composite import composite as composite
    from landmask.vector.vectorize import vectorize as vectorize
    from landmask.viz import plot as plot

__version__ = "0.1.0"

#: Where each public name lives (imported on first use).
_HOME = {
    "composite": "landmask.temporal.composite",
    "INDICES": "landmask.spectral.indices",
    "LANDCOVER": "landmask.classes",
    "ClassScheme": "landmask.classes",
    "LandmaskError": "landmask.errors",
    "Model": "landmask.models.registry",
    "apply_mask": "landmask.products.apply",
    "change": "landmask.analysis.change",
    "classify": "landmask.classification.classify",
    "compute_indices": "landmask.spectral.indices",
    "evaluate": "landmask.evaluation.evaluate",
    "export_mask": "landmask.products.export",
    "load_model": "landmask.models.registry",
    "load_rules": "landmask.spectral.rules",
    "open_image": "landmask.io.read.masks",
    "open_mask": "landmask.io.read.masks",
    "open_scene": "landmask.io.read.scene",
    "train": "landmask.models.training",
    "transitions": "landmask.analysis.change",
    "vectorize": "landmask.vector.vectorize",
    "write_image": "landmask.io.write.rasters",
    "write_indices": "landmask.io.write.rasters",
    "write_mask": "landmask.io.write.rasters",
    "zonal_stats": "landmask.analysis.zonal",
}
#: Public modules reachable as attributes (``landmask.plot.mask_image``).
_MODULES = {"plot": "landmask.viz.plot"}

#: The public names: the one list, read from the two tables above.
__all__ = sorted([*_HOME, *_MODULES], key=lambda n: (not n[0].isupper(), n))

logging.getLogger(__name__).addHandler(logging.NullHandler())
register_accessor_with_xarray()


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    raise AttributeError(f"module 'landmask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
