"""A subpackage's public names, imported on first use.

A subpackage exports its public functions (``from landmask.vector import vectorize``),
but the worker processes that polygonize, sieve or classify import the subpackage
only for one private module (``landmask.vector._polygonize``): importing every export
there would load geopandas, dask.array and rioxarray into each worker (0.6 s of CPU
apiece). :func:`export_lazily` makes the package look its exports up on first use.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any

__all__ = ["export_lazily"]


class _LazyPackage(types.ModuleType):
    """A package whose exports win over its submodules of the same name.

    The import system sets a submodule as an attribute of its package once it is
    loaded; ``landmask.vector.vectorize`` is a module and the function it exports.
    An eager ``from .vectorize import vectorize`` in ``__init__`` rebinds the name
    afterwards; here the submodule is simply not bound over an exported name.
    """

    _exports: Mapping[str, str] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self._exports:
            return
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        home = self._exports.get(name)
        if home is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        self.__dict__[name] = value
        return value

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self._exports})


def export_lazily(package: str, exports: Mapping[str, str]) -> None:
    """Make ``package`` import each of ``exports`` (name -> home module) on first use.

    Call it at the end of the package's ``__init__``, whose ``__all__`` lists the
    names and whose ``TYPE_CHECKING`` block imports them for type checkers.
    """
    module = sys.modules[package]
    module.__class__ = _LazyPackage
    object.__setattr__(module, "_exports", dict(exports))
