"""Validate STAC documents offline against the official JSON schemas in tests/data/stac-schemas.

The core item, catalog and collection schemas (STAC 1.1.0, the version pystac
writes), the GeoJSON schemas they refer to and every extension schema
landmask's items declare are vendored there (sources in its README). A
document is checked against its core schema and against the schema of each
extension it lists in ``stac_extensions``; an extension without a vendored
schema is an error, so an item can never declare something unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parent / "data" / "stac-schemas"
STAC_VERSION = "1.1.0"
CORE = f"https://schemas.stacspec.org/v{STAC_VERSION}"
CORE_SCHEMAS = {
    "Feature": f"{CORE}/item-spec/json-schema/item.json",
    "Catalog": f"{CORE}/catalog-spec/json-schema/catalog.json",
    "Collection": f"{CORE}/collection-spec/json-schema/collection.json",
}


def _uri(schema: dict[str, Any]) -> str:
    return str(schema["$id"]).rstrip("#")


@cache
def _registry() -> tuple[Registry, frozenset[str]]:
    resources = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(schema)
        resources.append((_uri(schema), resource))
        if path.parent.name == "v1.1.0":  # where the spec publishes it (common.json's
            # own $id is misspelt "commonjson" upstream; item.json refers to common.json)
            spec = {"catalog.json": "catalog-spec", "collection.json": "collection-spec"}
            folder = spec.get(path.name, "item-spec")
            resources.append((f"{CORE}/{folder}/json-schema/{path.name}", resource))
    registry: Registry = Registry().with_resources(resources)
    return registry, frozenset(uri for uri, _ in resources)


def stac_errors(doc: dict[str, Any]) -> list[str]:
    """Every schema violation of the STAC document ``doc``, as lines (empty: valid)."""
    registry, known = _registry()
    kind = doc.get("type")
    if kind not in CORE_SCHEMAS:
        return [f"not a STAC item, catalog or collection: type {kind!r}"]
    errors = []
    for uri in [CORE_SCHEMAS[kind], *doc.get("stac_extensions", [])]:
        if uri not in known:
            errors.append(f"{uri}: no vendored schema (add it to {SCHEMAS})")
            continue
        schema = registry.contents(uri)
        validator = jsonschema.Draft7Validator(schema, registry=registry)
        for error in validator.iter_errors(doc):
            best = _deepest(error)
            where = "/".join(str(p) for p in best.absolute_path)
            errors.append(f"{uri.rsplit('/', 3)[-3]}: {where}: {best.message[:300]}")
    return errors


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The cause deepest in the document (a ``oneOf`` failure names its branches' errors)."""
    causes = [_deepest(c) for c in error.context or ()]
    return max([error, *causes], key=lambda e: len(e.absolute_path))


def stac_documents(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every STAC document of the version pystac writes under ``folder``.

    Items of older versions are inputs that tests write by hand, not outputs.
    """
    for path in sorted(folder.rglob("*.json")):
        if not path.is_file() or path.is_symlink():  # FIFOs (hazard cells) would block
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # not STAC (tests write hostile JSON)
            continue
        if isinstance(doc, dict) and doc.get("stac_version") == STAC_VERSION:
            yield path, doc


def check_stac_folder(folder: Path) -> int:
    """Assert every STAC document under ``folder`` is valid; return how many there were."""
    count = 0
    problems = []
    for path, doc in stac_documents(folder):
        count += 1
        problems += [f"{path.name}: {e}" for e in stac_errors(doc)]
    assert not problems, "STAC documents invalid against the official schemas:\n" + "\n".join(
        problems[:20]
    )
    return count
