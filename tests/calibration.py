"""Scripts of scripts/ imported as modules, for the tests of the real-spectra test set.

``scripts/accuracy_on_real_data.py`` prints the README's "Accuracy on real
data" tables; the tests import that same module, so what they assert is what
the README shows.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str = "accuracy_on_real_data") -> ModuleType:
    """``scripts/NAME.py`` as a module (imported once)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
