"""The package's stages import only the stages below them (function-local imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import landmask

PACKAGE = Path(landmask.__file__).parent

#: Bottom to top. A unit is a top-level module or subpackage, or a subpackage of io/.
LAYERS = [
    "errors",
    "_runtime",
    "grid",
    "bands",
    "classes",
    "synthetic",
    "io",  # the floor of io: inputs, outputs, companions, yamldoc, statistic tags
    "io.sensors",
    "io.stac",
    "io.read",
    "io.write",
    "spectral",
    "models",
    "classification",
    "vector",
    "evaluation",
    "analysis",
    "temporal",
    "products",
    "pipeline",
    "batch",
    "viz",
    "demo",
    "accessor",
    "cli",
    "landmask",  # the package's own __init__: public names
]


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "landmask"
    if parts[1] == "io" and len(parts) > 2 and (PACKAGE / "io" / parts[2]).is_dir():
        return f"io.{parts[2]}"
    return parts[1]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("landmask"):
            found.append((node.module or "", [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, [], node.lineno) for a in node.names if a.name.startswith("landmask")
            ]
    return found


def test_every_unit_has_a_layer():
    units = {
        _unit(".".join(("landmask", *p.relative_to(PACKAGE).with_suffix("").parts)))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py"
    }
    assert units <= set(LAYERS), sorted(units - set(LAYERS))


def test_no_import_runs_up_a_stage():
    rank = {name: k for k, name in enumerate(LAYERS)}
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue
        source = _unit(".".join(("landmask", *parts)).removesuffix(".__init__"))
        for module, names, line in _imports(path):
            if module == "landmask" and names == ["__version__"]:
                continue  # the version, not a stage
            target = _unit(module)
            if rank[target] > rank[source]:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} ({source}) -> {module}")
    assert not upward, "\n".join(upward)


def test_the_public_names_are_one_list():
    """``landmask.__all__`` comes from the table of homes; the type checkers' imports match it
    and every name resolves to the object of its home."""
    import importlib

    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for stmt in node.body
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
    }
    assert typed == set(landmask.__all__)
    for name in landmask.__all__:
        assert getattr(landmask, name) is not None
    assert landmask.open_scene is importlib.import_module("landmask.io.read.scene").open_scene


def test_class_and_band_values_open_no_files():
    """``classes.py`` and ``bands.py`` are values: what a file records is read in io/."""
    readers = ("rasterio", "pyogrio", "fiona", "geopandas", "rioxarray", "xarray")
    for name in ("classes.py", "bands.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        opened = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open"
        ]
        assert not imported & set(readers), (name, sorted(imported & set(readers)))
        assert not opened, (name, opened)


SUBPACKAGES = [
    "analysis",
    "batch",
    "classification",
    "evaluation",
    "io.read",
    "io.sensors",
    "io.stac",
    "io.write",
    "models",
    "products",
    "spectral",
    "temporal",
    "vector",
    "viz",
]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_subpackage_exports_its_public_surface(name):
    """``from landmask.vector import vectorize``: a subpackage's ``__all__`` lists what it exports,
    each name the object of its module; the package's public functions are among them."""
    import importlib

    package = importlib.import_module(f"landmask.{name}")
    assert package.__all__ == sorted(package.__all__, key=lambda n: (not n[0].isupper(), n))
    for exported in package.__all__:
        obj = getattr(package, exported)
        home = getattr(obj, "__module__", None)
        if home is not None and callable(obj):
            assert home.startswith(f"landmask.{name}."), (exported, home)
            assert getattr(importlib.import_module(home), exported) is obj
    for public in landmask.__all__:
        obj = getattr(landmask, public)
        home = getattr(obj, "__module__", "") or ""
        if callable(obj) and home.startswith(f"landmask.{name}."):
            assert public in package.__all__, f"landmask.{name} does not export {public}"


def test_a_worker_imports_one_private_module_without_the_packages_exports():
    """Polygonizing and sieving workers import ``landmask.vector._polygonize`` alone: the
    package's exports (vectorize -> geopandas, io.read -> dask.array, rioxarray) load on
    first use, not in every worker (0.6 s of CPU apiece when they did)."""
    import subprocess
    import sys

    code = (
        "import sys, landmask.vector._polygonize, landmask.vector._sieve_blocks, "
        "landmask.io.read.schemes\n"
        "print(sorted(m for m in ('geopandas', 'pandas', 'xarray', 'dask.array', 'rioxarray', "
        "'scipy.sparse', 'landmask.vector.vectorize', 'landmask.io.read.masks') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_an_export_named_like_its_module_stays_the_export():
    """``landmask.vector.vectorize`` is the function whether or not the submodule of that name
    was imported first (the import system binds a loaded submodule on its package)."""
    import subprocess
    import sys

    code = (
        "import landmask.vector.vectorize, landmask.vector.sieve\n"
        "from landmask.vector import sieve, vectorize\n"
        "import landmask.vector as v\n"
        "print(callable(vectorize) and callable(sieve) and v.vectorize is vectorize, "
        "'vectorize_to_file' in dir(v))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"], out.stdout


#: Heavy packages a command's modules must not import: those its path never uses (the
#: polygonizing stack, geopandas and pyogrio for commands that only name a vector output,
#: and the optional ones each function imports for itself). xarray brings pandas (and pandas
#: pyarrow), dask.array brings scipy.sparse: every raster command needs those two.
OPTIONAL = ("sklearn", "joblib", "onnxruntime", "matplotlib", "distributed")
NOT_IMPORTED_BY = {
    "classify": ("geopandas", "pyogrio", "scipy.ndimage", "scipy.sparse.csgraph", *OPTIONAL),
    "batch": ("geopandas", "pyogrio", "scipy.ndimage", "scipy.sparse.csgraph", *OPTIONAL),
    "composite": ("geopandas", "pyogrio", "scipy.ndimage", "scipy.sparse.csgraph", *OPTIONAL),
    "zonal": ("scipy.ndimage", "scipy.sparse.csgraph", "pystac", *OPTIONAL),
    "vectorize": OPTIONAL,
}


@pytest.mark.parametrize("command", sorted(NOT_IMPORTED_BY))
def test_a_command_imports_what_its_path_uses(command):
    """A fresh interpreter importing a command's module and every landmask module it names
    (function-local imports included: what the command imports before it reads a pixel)
    holds none of the heavy packages that command never uses."""
    import subprocess
    import sys

    tree = ast.parse((PACKAGE / "cli" / f"{command}.py").read_text())
    modules = sorted(
        {f"landmask.cli.{command}"}
        | {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("landmask")
        }
    )
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in {NOT_IMPORTED_BY[command]!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", (command, out.stdout)
