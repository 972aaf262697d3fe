"""An output and its companions: the files landmask writes beside it, and how they are named.

Every file a command writes is an :class:`Output`: its path, its kind and
whether a STAC item goes with it. The kind decides its companions, and this
module is the one place that names them:

=====================  ==========================  =====================================
companion              name (for ``mask.tif``)     rule
=====================  ==========================  =====================================
QGIS style             ``mask.qml``                the file's stem + ``.qml`` (QGIS loads
                                                   it as the layer's default style); none
                                                   for a GeoPackage, which holds its style
                                                   in its ``layer_styles`` table
GDAL attribute table   ``mask.tif.aux.xml``        the file's name + ``.aux.xml`` (GDAL's
                                                   PAM sidecar; class-id rasters only)
OGR column types       ``areas.csvt``              a CSV's stem + ``.csvt`` (OGR's rule)
STAC item              ``mask.tif.stac.json``      the file's name + ``.stac.json``
=====================  ==========================  =====================================

The STAC item keeps the whole file name, so it never takes a name a user gives
an output of their own (``change a.tif b.tif -o ch.tif --json ch.json``) and
the items of ``mask.tif`` and ``mask.gpkg`` differ.

Each companion landmask writes carries a mark naming the file it belongs to
(an XML comment in a style, a ``LANDMASK`` metadata item in an ``.aux.xml``,
which GDAL keeps when it rewrites the file, ``processing:software`` and the
asset's href in an item; a ``.csvt`` is a line of OGR types describing the
CSV beside it): :func:`is_own` recognises it, so the output plan
(:func:`landmask.io.outputs.plan_outputs`) replaces only companions landmask
wrote for that very output, never a user's file of the same name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "ITEM_SUFFIX",
    "KINDS",
    "ROLE_NAMES",
    "Output",
    "aux_path",
    "is_own",
    "item_path",
    "mark",
    "remove_with_companions",
    "role_of",
    "style_path",
    "types_path",
]

#: The ending of every STAC item landmask writes beside an output.
ITEM_SUFFIX = ".stac.json"

#: Kind of output -> the companions it has (besides its STAC item, when ``stac``).
KINDS: dict[str, tuple[str, ...]] = {
    "mask": ("style", "attribute table"),  # class ids: masks, change maps, exports
    "probabilities": ("style",),
    "indices": ("style",),
    "image": (),  # apply's output, export --rgb
    "polygons": ("style",),  # polygons with class names
    "vector": (),  # other vector files (zonal statistics)
    "table": ("column types",),  # CSV
    "file": (),  # tables, JSON reports, PNG images, models, summaries
}

#: companion role -> how errors name it
ROLE_NAMES = {
    "style": "QGIS style",
    "attribute table": "GDAL attribute table",
    "column types": "OGR column types",
    "item": "STAC item",
}

_MARK = "landmask companion of "


def item_path(path: str | os.PathLike[str]) -> Path:
    """The STAC item of an output: ``mask.tif`` -> ``mask.tif.stac.json``."""
    out = Path(path)
    return out.with_name(out.name + ITEM_SUFFIX)


def style_path(path: str | os.PathLike[str]) -> Path:
    """The QGIS style of an output: ``mask.tif`` -> ``mask.qml`` (QGIS's own rule)."""
    return Path(path).with_suffix(".qml")


def types_path(path: str | os.PathLike[str]) -> Path:
    """The column types of a CSV file, as OGR looks for them: ``areas.csv`` -> ``areas.csvt``."""
    return Path(path).with_suffix(".csvt")


def aux_path(path: str | os.PathLike[str]) -> Path:
    """The GDAL PAM sidecar of a raster: ``mask.tif`` -> ``mask.tif.aux.xml`` (GDAL's rule)."""
    out = Path(path)
    return out.with_name(out.name + ".aux.xml")


def role_of(path: str | os.PathLike[str]) -> str:
    """The role of a companion, from its name (``item``, ``attribute table``, ``style``)."""
    name = Path(path).name.lower()
    if name.endswith(ITEM_SUFFIX):
        return "item"
    if name.endswith(".csvt"):
        return "column types"
    return "attribute table" if name.endswith(".aux.xml") else "style"


_NAMERS = {
    "style": style_path,
    "attribute table": aux_path,
    "column types": types_path,
    "item": item_path,
}


@dataclass(frozen=True)
class Output:
    """A file a command writes, with the companions written beside it.

    Parameters
    ----------
    path
        The file.
    kind
        One of :data:`KINDS`: decides the companions.
    stac
        A STAC item goes with it.
    """

    path: Path
    kind: str = "file"
    stac: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of output {self.kind!r} (one of {', '.join(KINDS)})")
        object.__setattr__(self, "path", Path(self.path))

    def companions(self) -> dict[str, Path]:
        """Role (``style``, ``attribute table``, ``item``) -> the companion's path."""
        roles = list(KINDS[self.kind])
        if self.path.suffix.lower() == ".gpkg":  # its style is inside, in layer_styles
            roles = [r for r in roles if r != "style"]
        if self.path.suffix.lower() not in (".tif", ".tiff"):
            roles = [r for r in roles if r != "attribute table"]
        if self.stac:
            roles.append("item")
        return {role: _NAMERS[role](self.path) for role in roles}

    def files(self) -> list[Path]:
        """The output and every companion."""
        return [self.path, *self.companions().values()]


def _tag(output: Path) -> str:
    """The output's name as a mark: ASCII, no ``--`` (XML comments forbid it)."""
    return quote(os.fsencode(output.name), safe="").replace("-", "%2D")


def mark(text: str, role: str, output: str | os.PathLike[str]) -> str:
    """``text`` of a ``role`` companion of ``output`` with landmask's mark added.

    A style gets an XML comment before its root; an ``.aux.xml`` a metadata
    item of the ``LANDMASK`` domain (kept when GDAL rewrites the file, as QGIS
    does to store histograms). Items are recognised by their contents.
    """
    tag = _tag(Path(output))
    if role == "style":  # after the DOCTYPE: a comment there suits every XML reader
        doctype, sep, rest = (
            text.partition("\n") if text.startswith("<!DOCTYPE") else ("", "", text)
        )
        return f"{doctype}{sep}<!-- {_MARK}{tag} -->\n{rest}"
    if role == "attribute table":
        head, sep, rest = text.partition("<PAMDataset>")
        if not sep:
            raise ValueError("not a GDAL PAM document")
        entry = (
            '\n  <Metadata domain="LANDMASK">'
            f'\n    <MDI key="COMPANION_OF">{tag}</MDI>\n  </Metadata>'
        )
        return f"{head}{sep}{entry}{rest}"
    return text


def is_own(path: str | os.PathLike[str], role: str, output: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a ``role`` companion landmask wrote for ``output``.

    ``role``: ``style``, ``attribute table``, ``item``, or ``catalog`` (a
    run's ``catalog.json``, ``output`` unused).
    """
    name = Path(output).name
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    if role == "catalog":
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            doc = json.loads(head)
            return doc.get("type") == "Catalog" and str(doc.get("description")).startswith(
                "landmask"
            )
        return False
    if role == "item":
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            doc = json.loads(head)
            software = doc.get("properties", {}).get("processing:software", {})
            hrefs = {a.get("href") for a in doc.get("assets", {}).values()}
            return "landmask" in software and f"./{name}" in hrefs
        return False
    if role == "column types":  # one line of OGR types; it describes the CSV beside it
        types = head.decode("utf-8", "replace").strip().split(",")
        return Path(output).is_file() and all(re.fullmatch(r'"[A-Za-z0-9()]+"', t) for t in types)
    tag = _tag(Path(output)).encode()
    if role == "style":
        return (
            b"\n".join(head.split(b"\n", 2)[:2]).find(b"<!-- " + _MARK.encode() + tag + b" -->")
            >= 0
        )
    return b'<MDI key="COMPANION_OF">' + tag + b"</MDI>" in head


def remove_with_companions(outputs: list[Output]) -> None:
    """Remove outputs this command published and their companions (after a failure)."""
    for output in outputs:
        for file in output.files():
            with contextlib.suppress(FileNotFoundError):
                file.unlink()
