"""landmask: chunked land-cover masks (forest, urban, water) from satellite rasters.

The data flow, one module per stage::

    open_scene      (scene.py)     files -> lazy (band, y, x) reflectance
    compute_indices (indices.py)   reflectance -> spectral indices
    classify        (classify.py)  reflectance -> uint8 class ids, by rules.py or a
                                   model (models.py, run by inference.py)
    train           (train.py)     reflectance + labels -> a pixel classifier
    write_mask      (write.py)     mask -> Cloud-Optimized GeoTIFF
    evaluate        (evaluate.py)  mask vs truth -> confusion matrix, IoU
    export_mask     (export.py)    mask -> class-id or RGB(A) GeoTIFF for other GIS
    apply_mask      (apply.py)     image + mask -> image cut out, blurred or cropped

Names are imported lazily so that ``landmask --help`` starts fast. The xarray
accessor ``DataArray.landmask`` (:mod:`landmask.accessor`) is registered by
``import landmask``: at once if xarray is loaded, else as soon as it is, so
importing landmask does not import xarray.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landmask.apply import apply_mask
    from landmask.classes import LANDCOVER, ClassScheme
    from landmask.classify import classify
    from landmask.errors import LandmaskError
    from landmask.evaluate import evaluate
    from landmask.export import export_mask
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
    "apply_mask",
    "classify",
    "compute_indices",
    "evaluate",
    "export_mask",
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
    "apply_mask": "apply",
    "classify": "classify",
    "compute_indices": "indices",
    "evaluate": "evaluate",
    "export_mask": "export",
    "Model": "models",
    "load_model": "models",
    "load_rules": "rules",
    "open_scene": "scene",
    "train": "train",
    "write_indices": "write",
    "write_mask": "write",
}

logging.getLogger(__name__).addHandler(logging.NullHandler())


def _register_accessor() -> None:
    try:
        importlib.import_module("landmask.accessor")
    except Exception as exc:  # never let the accessor break importing xarray
        logging.getLogger(__name__).warning("xarray accessor not registered: %s", exc)


class _AccessorOnXarrayImport:
    """Registers the accessor right after xarray is first imported (a post-import hook).

    A meta path finder (without importing ``importlib.abc``, which costs start-up
    time) that lets the usual finders find xarray and wraps its loader.
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "xarray":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None:
            return spec
        exec_module = loader.exec_module

        def exec_and_register(module: Any) -> None:
            exec_module(module)
            _register_accessor()

        setattr(loader, "exec_module", exec_and_register)  # noqa: B010
        return spec


if "xarray" in sys.modules:
    _register_accessor()
elif not any(isinstance(f, _AccessorOnXarrayImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AccessorOnXarrayImport())


class _Package(types.ModuleType):
    """The ``landmask`` module: ``landmask.classify`` and ``landmask.evaluate`` stay functions.

    Loading a submodule binds it to its package (``landmask.classify`` would
    become the module ``landmask/classify.py`` as soon as anything imported it,
    and ``landmask.classify(scene)`` would fail). For the functions named like
    their modules, the function is bound instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOME.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"landmask.{_HOME[name]}"), name)
    raise AttributeError(f"module 'landmask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
