"""STAC items as scenes: which asset holds which band, and how to read it.

An item's assets are matched to STAC ``eo`` common names from their band
metadata, in either form the specification has had:

* STAC 1.0 extensions: ``eo:bands`` (``common_name``) and ``raster:bands``
  (``scale``, ``offset``, ``nodata``), one entry per band of the asset;
* STAC 1.1: ``bands``, each with ``eo:common_name``, ``raster:scale``,
  ``raster:offset`` and ``nodata`` (or those fields on the asset itself when it
  has one band).

Quality layers are picked by asset key or band name: Sentinel-2 ``SCL`` becomes
band ``scl`` and Landsat ``QA_PIXEL`` band ``qa_pixel`` (read as raw values,
see :mod:`landmask.classification.quality`). Relative asset hrefs are resolved against the
item's own location. Only local reading is involved: nothing is fetched.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from landmask.bands import COMMON_NAMES, QUALITY_BANDS
from landmask.errors import BandError, ConfigError, ReadError
from landmask.io.inputs import read_text

if TYPE_CHECKING:
    import pystac

# Imports: landmask's at the top; pystac is imported by the functions that read items (only STAC
# inputs need it).

__all__ = [
    "StacBand",
    "gdal_path",
    "is_stac_input",
    "item_bands",
    "item_id",
    "load_item",
    "read_items",
]

#: Asset roles that hold renderings, not measurements.
_SKIP_ROLES = frozenset({"thumbnail", "overview", "visual"})


@dataclass(frozen=True)
class StacBand:
    """One band of a STAC item: the file it is in and how to turn it into values.

    ``scale``, ``offset`` and ``nodata`` are ``None`` when the item does not say.
    """

    name: str
    asset: str
    href: str
    index: int
    scale: float | None
    offset: float | None
    nodata: float | None


def is_stac_input(paths: object) -> bool:
    """True for a :class:`pystac.Item` or a single path ending in ``.json``."""
    if type(paths).__name__ == "Item" and hasattr(paths, "assets"):
        return True
    if isinstance(paths, str | os.PathLike):
        return os.fspath(paths).lower().endswith(".json")
    if isinstance(paths, Sequence) and len(paths) == 1:
        return is_stac_input(paths[0])
    return False


def _read_json(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(read_text(path, "JSON document"))
    except ValueError as exc:
        raise ReadError(f"{path}: not a JSON document ({exc})") from None
    except RecursionError:
        raise ReadError(f"{path}: JSON nested too deeply to be a STAC document") from None
    if not isinstance(doc, dict):
        raise ReadError(f"{path}: not a STAC document (a JSON object is expected)")
    return doc


def load_item(item: Any) -> pystac.Item:
    """A :class:`pystac.Item` from an item, a path to item JSON or a one-element list of either."""
    import pystac

    if isinstance(item, pystac.Item):
        return item
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 1:
        return load_item(item[0])
    path = os.fspath(item)
    doc = _read_json(path)
    if doc.get("type") != "Feature":
        raise ReadError(f"{path}: not a STAC item (type {doc.get('type')!r}, expected 'Feature')")
    return _item_from_dict(doc, path)


def _item_from_dict(doc: Mapping[str, Any], href: str) -> pystac.Item:
    import pystac

    try:
        item = pystac.Item.from_dict(dict(doc), href=os.path.abspath(href), migrate=False)
    except Exception as exc:  # pystac raises KeyError, ValueError, STACError ...
        raise ReadError(f"{href}: invalid STAC item ({type(exc).__name__}: {exc})") from None
    item.set_self_href(os.path.abspath(href))
    return item


def read_items(path: str | os.PathLike[str]) -> list[pystac.Item]:
    """Every item of a local STAC item, ItemCollection or catalog/collection (recursively).

    Items of an ItemCollection are located at the collection's folder, so their
    relative asset hrefs resolve against it.
    """
    import pystac

    p = os.fspath(path)
    doc = _read_json(p)
    kind = doc.get("type")
    if kind == "Feature":
        return [_item_from_dict(doc, p)]
    if kind == "FeatureCollection":
        folder = os.path.dirname(os.path.abspath(p))
        features = doc.get("features")
        if not isinstance(features, list):
            raise ReadError(f"{p}: an ItemCollection needs a 'features' list")
        return [
            _item_from_dict(f, os.path.join(folder, f"{f.get('id', k)}.json"))
            for k, f in enumerate(features)
        ]
    if kind in ("Catalog", "Collection"):
        try:
            catalog = pystac.Catalog.from_file(os.path.abspath(p))
            items = list(catalog.get_items(recursive=True))
        except Exception as exc:
            raise ReadError(f"{p}: cannot read the STAC catalog ({exc})") from None
        if not items:
            raise ReadError(f"{p}: the STAC catalog has no items")
        return items
    raise ReadError(f"{p}: not a STAC item, ItemCollection or catalog (type {kind!r})")


def gdal_path(href: str) -> str:
    """An asset href as a path GDAL opens (``s3://`` and ``http(s)://`` via ``/vsi``)."""
    parsed = urlparse(href)
    if parsed.scheme in ("http", "https"):
        return f"/vsicurl/{href}"
    if parsed.scheme == "s3":
        return f"/vsis3/{parsed.netloc}{parsed.path}"
    if parsed.scheme == "file":
        return parsed.path
    return href


def _float(value: Any, where: str, field: str, finite: bool = True) -> float | None:
    """A number of the item, or None when absent; :class:`ReadError` for anything else.

    ``finite`` refuses NaN and infinities (a scale or offset; a nodata may be NaN).
    """
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):  # some catalogs write numbers as text: "0.0001"
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or (finite and not math.isfinite(number)):
        raise ReadError(f"{where}: {field} {value!r} is not a {'finite ' if finite else ''}number")
    return number


def _asset_bands(key: str, fields: Mapping[str, Any]) -> Iterator[tuple[int, str | None, dict]]:
    """``(index, common name or quality name, raster fields)`` of each band of an asset."""
    quality = {q.upper(): q for q in QUALITY_BANDS}
    bands = fields.get("bands")
    if isinstance(bands, list) and bands:  # STAC 1.1
        for i, band in enumerate(bands, start=1):
            band = band if isinstance(band, dict) else {}
            name = band.get("eo:common_name")
            if len(bands) == 1:
                name = name or fields.get("eo:common_name")
            raster = {
                "scale": band.get("raster:scale", fields.get("raster:scale")),
                "offset": band.get("raster:offset", fields.get("raster:offset")),
                "nodata": band.get("nodata", fields.get("nodata")),
            }
            if name is None:
                name = quality.get(str(band.get("name", "")).upper())
            yield i, name, raster
        return
    eo = fields.get("eo:bands")
    raster_bands = fields.get("raster:bands")
    n = max(
        len(eo) if isinstance(eo, list) else 0,
        len(raster_bands) if isinstance(raster_bands, list) else 0,
        1,
    )
    for i in range(1, n + 1):
        e = eo[i - 1] if isinstance(eo, list) and i <= len(eo) else {}
        r = raster_bands[i - 1] if isinstance(raster_bands, list) and i <= len(raster_bands) else {}
        e = e if isinstance(e, dict) else {}
        r = r if isinstance(r, dict) else {}
        name = e.get("common_name")
        if name is None:
            name = quality.get(str(e.get("name", "")).upper())
        if name is None and n == 1:
            name = quality.get(key.upper()) or fields.get("eo:common_name")
        yield i, name, {k: r.get(k) for k in ("scale", "offset", "nodata")}


def item_bands(item: pystac.Item) -> list[StacBand]:
    """The bands of ``item`` that have a common name (or are quality layers), in asset order.

    When two assets carry the same common name (a COG and a JP2 copy), the first
    one listed wins. Assets with a ``thumbnail``, ``overview`` or ``visual`` role
    are skipped.

    Raises
    ------
    BandError
        If no asset carries a known band.
    """
    where = item.get_self_href() or item.id
    out: list[StacBand] = []
    seen: set[str] = set()
    for key, asset in item.assets.items():
        if _SKIP_ROLES & set(asset.roles or ()):
            continue
        fields = asset.extra_fields
        for index, name, raster in _asset_bands(key, fields):
            if name is None:
                continue
            name = str(name).lower()
            if (name not in COMMON_NAMES and name not in QUALITY_BANDS) or name in seen:
                continue
            href = asset.get_absolute_href() or asset.href
            seen.add(name)
            at = f"{where}: asset {key!r} band {index}"
            out.append(
                StacBand(
                    name=name,
                    asset=key,
                    href=gdal_path(href),
                    index=index,
                    scale=_float(raster.get("scale"), at, "raster:scale"),
                    offset=_float(raster.get("offset"), at, "raster:offset"),
                    nodata=_float(raster.get("nodata"), at, "nodata", finite=False),
                )
            )
    if not out:
        raise BandError(
            f"{where}: no asset of the STAC item has eo:bands/bands common names "
            "(or is an SCL/QA_PIXEL layer)"
        )
    return out


def item_id(item: pystac.Item) -> str:
    """The item's id, usable in a file name."""
    text = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(item.id))
    if not text:
        raise ConfigError(f"{item.get_self_href()}: STAC item without an id")
    return text
