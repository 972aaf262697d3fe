"""Registering the ``.landmask`` xarray accessor without importing xarray early.

Importing xarray costs 1-2 s, which the command line (``landmask --help``) and
every worker process of ``vectorize`` would pay if ``import landmask`` imported
it. Python has no post-import hooks, so a meta path finder stands in for one: it
lets the usual finders find xarray, wraps its loader, and registers the accessor
right after xarray's module body has run. It removes itself on first use.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

__all__ = ["register_accessor_with_xarray"]

log = logging.getLogger(__name__)


def _register() -> None:
    try:
        importlib.import_module("landmask.accessor")
    except Exception as exc:  # never let the accessor break importing xarray
        log.warning("xarray accessor not registered: %s", exc)


class _AfterXarrayImport:
    """A meta path finder that only watches for ``xarray``.

    It does not import ``importlib.abc``, which costs start-up time.
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
            _register()

        setattr(loader, "exec_module", exec_and_register)  # noqa: B010
        return spec


def register_accessor_with_xarray() -> None:
    """Register the accessor now if xarray is loaded, else right after it is."""
    if "xarray" in sys.modules:
        _register()
    elif not any(isinstance(f, _AfterXarrayImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterXarrayImport())
