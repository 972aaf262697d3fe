"""Which provider product a scene's files come from, read from what ships beside the pixels.

Nothing here reads a pixel. The evidence, in the order it is looked for:

* a Landsat Collection 2 product id in the file or folder name
  (``LE07_L2SP_044034_20210508_20210603_02_T1_SR_B4.TIF``): its sensor letter and
  satellite number (``LT04``/``LT05`` TM, ``LE07`` ETM+, ``LC08``/``LC09`` OLI) and its
  processing level (``L2SP``);
* a Landsat ``*_MTL.txt``, ``*_MTL.json`` or ``*_MTL.xml`` beside the files
  (``SPACECRAFT_ID``, ``SENSOR_ID``, ``LANDSAT_PRODUCT_ID``; for a Level-1 product
  also ``REFLECTANCE_MULT_BAND_n``, ``REFLECTANCE_ADD_BAND_n`` and ``SUN_ELEVATION``);
* a Sentinel-2 SAFE product name in the path
  (``S2A_MSIL2A_20220301T101841_N0400_R065_T33UUP_20220301T132434.SAFE``: the processing
  baseline ``N0400``); an ``MTD_MSIL2A.xml`` or ``MTD_MSIL1C.xml`` in the files' folder or
  at the SAFE root (``PROCESSING_BASELINE``, ``BOA_ADD_OFFSET`` and
  ``BOA_QUANTIFICATION_VALUE`` of L2A, ``RADIO_ADD_OFFSET`` and ``QUANTIFICATION_VALUE``
  of L1C); a Sentinel-2
  tile file name (``T33UUP_20220301T101839_B04_10m.jp2``: the sensing date) or an
  Element 84 folder name (``S2A_33UUP_20220301_0_L2A``);
* for a STAC item, its properties ``platform``, ``instruments``,
  ``s2:processing_baseline`` and ``s2:product_uri``.

What a sensor preset makes of a product (band table, offset) is decided in
:mod:`landmask.io.sensors.presets`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

from landmask.errors import SensorError
from landmask.io.sensors.times import iso_utc, item_times, parse_utc

__all__ = ["Product", "product_of_files", "product_of_item"]

#: a Landsat Collection 2 product id (``LC09_L2SP_190026_20240601_...``): sensor letter,
#: satellite number, level and, in a whole id, the acquisition date
_LANDSAT_ID = re.compile(
    r"^L([COTEM])(0[1-9])_(L1TP|L1GT|L1GS|L2SP|L2SR)(?:_\d{6}_(\d{8})(?=_|$))?(?:_|$)",
    re.IGNORECASE,
)
#: a Sentinel-2 SAFE name: unit, level, datatake sensing start, baseline
_SAFE = re.compile(
    r"^S2([A-D])_MSI(L1C|L2A)_(\d{8})T(\d{6})_N(\d{2})(\d{2})_R\d{3}_T\w{5}_\d{8}T\d{6}",
    re.IGNORECASE,
)
#: a Sentinel-2 tile file (``T33UUP_20220301T101839_B04_10m.jp2``): sensing start
_S2_TILE_FILE = re.compile(r"^T\d{2}[A-Z]{3}_(\d{8})T(\d{6})_", re.IGNORECASE)
#: an Element 84 folder (``S2A_33UUP_20220301_0_L2A``): unit and day
_E84_FOLDER = re.compile(
    r"^S2([A-D])_T?\d{2}[A-Z]{3}_(\d{8})(?:T(\d{6}))?_(?:\d+_)?L2A$", re.IGNORECASE
)
_MTL = re.compile(r"^(.*)_MTL\.(txt|json|xml)$", re.IGNORECASE)
_MTL_PREFERENCE = (".json", ".txt", ".xml")
_REFLECTANCE_GAIN = re.compile(r"^REFLECTANCE_(MULT|ADD)_BAND_(\d+)$")
_MTL_LINE = re.compile(r'^\s*([A-Z0-9_]+)\s*=\s*"?([^"]*)"?\s*$')

#: Landsat sensor letter -> instrument (``T`` is TM on Landsat 4/5).
_LANDSAT_LETTER = {"C": "oli", "O": "oli", "E": "etm+", "T": "tm", "M": "mss"}
#: MTL ``SENSOR_ID`` -> instrument.
_MTL_SENSOR = {"OLI_TIRS": "oli", "OLI": "oli", "ETM": "etm+", "TM": "tm", "MSS": "mss"}
_INSTRUMENT_LABEL = {"oli": "OLI", "etm+": "ETM+", "tm": "TM", "mss": "MSS", "msi": "MSI"}
#: Sentinel-2 ``band_id`` order of the MTD files (0 = B01 ... 12 = B12) when they list no
#: Spectral_Information.
_S2_BAND_ORDER = (
    *("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A"),
    *("B09", "B10", "B11", "B12"),
)


@dataclass(frozen=True)
class Product:
    """What the provider's names and metadata say about a scene's files.

    Attributes
    ----------
    mission
        ``landsat`` or ``sentinel-2``.
    instrument
        ``tm``, ``etm+``, ``oli``, ``mss`` (Landsat) or ``msi`` (Sentinel-2).
    platform
        ``landsat-7``, ``sentinel-2a``, ... or ``""`` when not known.
    level
        Processing level: ``L2SP``, ``L1TP``, ... (Landsat), ``L2A``/``L1C``
        (Sentinel-2), or None.
    baseline
        Sentinel-2 processing baseline (``"04.00"``), or None.
    add_offsets
        Sentinel-2 band id (``B04``) -> ``BOA_ADD_OFFSET`` (L2A) or
        ``RADIO_ADD_OFFSET`` (L1C) in digital numbers, from ``MTD_MSIL2A.xml``
        or ``MTD_MSIL1C.xml``; None if not read.
    quantification
        Sentinel-2 ``BOA_QUANTIFICATION_VALUE`` (L2A) or ``QUANTIFICATION_VALUE``
        (L1C), 10000; or None.
    reflectance_gains
        Landsat Level-1 band number (``"4"``) -> ``(REFLECTANCE_MULT_BAND_n,
        REFLECTANCE_ADD_BAND_n)`` from the MTL; None if not read.
    sun_elevation
        Landsat ``SUN_ELEVATION`` of the scene centre in degrees, from the MTL.
    source
        Where this was read: a file name, a metadata file or a STAC item.
    """

    mission: str
    instrument: str
    platform: str = ""
    level: str | None = None
    baseline: str | None = None
    add_offsets: Mapping[str, float] | None = None
    quantification: float | None = None
    source: str = ""
    reflectance_gains: Mapping[str, tuple[float, float]] | None = None
    sun_elevation: float | None = None
    #: acquisition time, ISO 8601 UTC (``2024-06-01T10:10:31Z``; 00:00 when only
    #: the day is known), or None
    acquired: str | None = None

    @property
    def sensing_date(self) -> str | None:
        """The acquisition day, ``YYYYMMDD`` (of :attr:`acquired`), or None."""
        return self.acquired[:10].replace("-", "") if self.acquired else None

    @property
    def label(self) -> str:
        """A human name: ``Landsat 7 ETM+``, ``Sentinel-2A MSI``."""
        instrument = _INSTRUMENT_LABEL.get(self.instrument, self.instrument.upper())
        if self.mission == "landsat":
            number = self.platform.rpartition("-")[2]
            return f"Landsat {number} {instrument}" if number else f"Landsat {instrument}"
        platform = self.platform.rpartition("-")[2].upper()
        return f"Sentinel-{platform} {instrument}" if platform else f"Sentinel-2 {instrument}"

    @property
    def level1(self) -> bool:
        """True for a Level-1 product (Landsat ``L1TP``/``L1GT``/``L1GS``, Sentinel-2 ``L1C``)."""
        return (self.level or "").upper().startswith("L1")

    def same_sensor(self, other: Product) -> bool:
        """True if both are the same instrument, with the same Sentinel-2 baseline and
        processing level where both say."""
        if (self.mission, self.instrument) != (other.mission, other.instrument):
            return False
        if self.level and other.level and self.level1 != other.level1:
            return False
        return self.baseline is None or other.baseline is None or self.baseline == other.baseline


def _name_time(day: str | None, clock: str | None = None) -> str | None:
    """``20220301`` and ``101839`` of a provider name -> ``2022-03-01T10:18:39Z`` (00:00 without
    a clock)."""
    if not day:
        return None
    clock = clock or "000000"
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}T{clock[:2]}:{clock[2:4]}:{clock[4:6]}Z"


def _landsat_from_name(name: str, source: str) -> Product | None:
    """A Landsat product id (``LC09_L2SP_190026_20240601_...``, or its first fields)."""
    m = _LANDSAT_ID.match(name)
    if m is None:
        return None
    letter, number, level = m.group(1).upper(), int(m.group(2)), m.group(3).upper()
    instrument = _LANDSAT_LETTER[letter]
    if letter == "T" and number >= 8:
        instrument = "tirs"
    return Product(
        "landsat",
        instrument,
        f"landsat-{number}",
        level,
        source=source,
        acquired=_name_time(m.group(4)),
    )


def _sentinel2_from_name(name: str, source: str) -> Product | None:
    """A Sentinel-2 SAFE name, Element 84 folder or tile file name."""
    m = _SAFE.match(name)
    if m is not None:
        baseline = f"{m.group(5)}.{m.group(6)}"
        platform = f"sentinel-2{m.group(1).lower()}"
        level = m.group(2).upper()
        acquired = _name_time(m.group(3), m.group(4))
        return Product(
            "sentinel-2", "msi", platform, level, baseline, source=source, acquired=acquired
        )
    m = _E84_FOLDER.match(name)
    if m is not None:
        platform = f"sentinel-2{m.group(1).lower()}"
        acquired = _name_time(m.group(2), m.group(3))
        return Product("sentinel-2", "msi", platform, "L2A", source=source, acquired=acquired)
    m = _S2_TILE_FILE.match(name)
    if m is not None:
        acquired = _name_time(m.group(1), m.group(2))
        return Product("sentinel-2", "msi", source=source, acquired=acquired)
    return None


def _product_from_names(path: str) -> Product | None:
    """A product from the file name, else from the nearest folder name that says.

    A Sentinel-2 tile file name (no baseline) is completed by a SAFE folder
    name further up the path. Its acquisition time is the one of the name
    that named the product (a tile file's sensing time before its folder's).
    """
    p = PurePath(path)
    found: Product | None = None
    for name in [p.stem, *reversed(p.parent.parts)]:
        source = f"file name {p.name}" if name == p.stem else f"folder {name}"
        here = _landsat_from_name(name, source) or _sentinel2_from_name(name, source)
        if here is None:
            continue
        if found is None:
            found = here
            if found.mission != "sentinel-2" or found.baseline is not None:
                return found
        elif here.mission == "sentinel-2" and here.baseline is not None:
            return replace(
                found,
                platform=here.platform,
                level=here.level,
                baseline=here.baseline,
                acquired=found.acquired or here.acquired,
                source=f"{found.source} in {here.source}",
            )
    return found


# ------------------------------------------------------------------ sidecar metadata


class _Folders:
    """Directory listings, read once per folder for one scene."""

    def __init__(self) -> None:
        self.listed: dict[str, list[str]] = {}

    def names(self, folder: str) -> list[str]:
        if folder not in self.listed:
            try:
                self.listed[folder] = sorted(os.listdir(folder or "."))
            except OSError:
                self.listed[folder] = []
        return self.listed[folder]


def _landsat_from_mtl(path: str, folders: _Folders) -> Product | None:
    """The product of the ``*_MTL.txt``/``*_MTL.json`` beside ``path`` that belongs to it.

    An MTL belongs to a file whose name starts with the MTL's product id, or to
    any file without a product id of its own in a folder holding the MTL of
    only one product.
    """
    if path.startswith("/vsi"):
        return None
    folder, name = os.path.split(path)
    mtls: dict[str, list[str]] = {}
    for entry in folders.names(folder):
        m = _MTL.match(entry)
        if m:
            mtls.setdefault(m.group(1).upper(), []).append(entry)
    chosen = next((ids for pid, ids in mtls.items() if name.upper().startswith(pid + "_")), None)
    if chosen is None and len(mtls) == 1 and not _LANDSAT_ID.match(name):
        chosen = next(iter(mtls.values()))
    if chosen is None:
        return None
    rank = {ext: k for k, ext in enumerate(_MTL_PREFERENCE)}
    mtl = os.path.join(folder, min(chosen, key=lambda e: rank[os.path.splitext(e.lower())[1]]))
    fields = _read_mtl(mtl)
    spacecraft = fields.get("SPACECRAFT_ID", "")
    sensor = fields.get("SENSOR_ID", "")
    source = os.path.basename(mtl)
    product_id = fields.get("LANDSAT_PRODUCT_ID", "")
    from_id = _landsat_from_name(product_id, source) if product_id else None
    if not spacecraft.upper().startswith("LANDSAT_") or sensor.upper() not in _MTL_SENSOR:
        return from_id
    number = spacecraft.rpartition("_")[2].lstrip("0")
    level = fields.get("PROCESSING_LEVEL") or (from_id.level if from_id else None)
    product = Product(
        "landsat",
        _MTL_SENSOR[sensor.upper()],
        f"landsat-{number}",
        level,
        source=source,
        acquired=_mtl_time(fields),
    )
    if not product.level1:
        return product
    return replace(
        product,
        reflectance_gains=_reflectance_gains(fields) or None,
        sun_elevation=_number(fields.get("SUN_ELEVATION", "")),
    )


def _reflectance_gains(fields: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    """Band number -> ``(REFLECTANCE_MULT_BAND_n, REFLECTANCE_ADD_BAND_n)`` of a Level-1 MTL."""
    parts: dict[str, dict[str, float]] = {}
    for key, text in fields.items():
        m = _REFLECTANCE_GAIN.match(key)
        value = _number(text) if m else None
        if m and value is not None:
            parts.setdefault(m.group(2), {})[m.group(1)] = value
    return {n: (p["MULT"], p["ADD"]) for n, p in parts.items() if set(p) == {"MULT", "ADD"}}


def _mtl_time(fields: Mapping[str, str]) -> str | None:
    """``DATE_ACQUIRED`` and ``SCENE_CENTER_TIME`` of an MTL as ISO 8601 UTC."""
    date = fields.get("DATE_ACQUIRED", "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        return None
    clock = fields.get("SCENE_CENTER_TIME", "").strip().rstrip("Z")
    m = re.fullmatch(r"(\d{2}:\d{2}:\d{2})(\.\d+)?", clock)
    return f"{date}T{m.group(1)}Z" if m else f"{date}T00:00:00Z"


def _read_mtl(path: str) -> dict[str, str]:
    """``KEY: value`` of an MTL file (text ODL, JSON or XML), groups flattened.

    A key found in two groups keeps its first value (a Level-1 MTL has each
    ``REFLECTANCE_*_BAND_n`` once, in ``LEVEL1_RADIOMETRIC_RESCALING``).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(2_000_000)
    except OSError:
        return {}
    if path.lower().endswith(".xml"):
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            return {}
        out: dict[str, str] = {}
        for el in root.iter():
            if len(el) == 0 and el.text and el.text.strip():
                out.setdefault(_local(el.tag), el.text.strip())
        return out
    if path.lower().endswith(".json"):
        try:
            doc = json.loads(text)
        except ValueError:
            return {}
        flat: dict[str, str] = {}
        for key, value in _flatten(doc):
            flat.setdefault(key, value)
        return flat
    out = {}
    for line in text.splitlines():
        m = _MTL_LINE.match(line)
        if m and m.group(1) not in ("GROUP", "END_GROUP"):
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def _flatten(doc: Any) -> Iterable[tuple[str, str]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, dict | list):
                yield from _flatten(value)
            else:
                yield str(key), str(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _flatten(value)


def _sentinel2_metadata_files(path: str, folders: _Folders) -> list[str]:
    """``MTD_MSIL2A.xml``/``MTD_MSIL1C.xml`` in the file's folder or at its SAFE root."""
    if path.startswith("/vsi"):
        return []
    p = PurePath(path)
    candidates = [str(p.parent)]
    for k, part in enumerate(p.parts):
        if part.upper().endswith(".SAFE"):
            candidates.append(str(PurePath(*p.parts[: k + 1])))
    out = []
    for folder in dict.fromkeys(candidates):
        for entry in folders.names(folder):
            if entry.upper() in ("MTD_MSIL2A.XML", "MTD_MSIL1C.XML"):
                out.append(os.path.join(folder, entry))
    return out


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _sentinel2_from_mtd(path: str) -> Product | None:
    """Baseline, offsets and quantification from an ``MTD_MSIL2A.xml`` or ``MTD_MSIL1C.xml``.

    L2A products give ``BOA_ADD_OFFSET``/``BOA_QUANTIFICATION_VALUE``, L1C
    products ``RADIO_ADD_OFFSET``/``QUANTIFICATION_VALUE``; the pair of the
    product's level is kept.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    baseline = platform = level = start = None
    quantifications: dict[str, float | None] = {}
    all_offsets: dict[str, dict[str, float]] = {"BOA": {}, "RADIO": {}}
    band_ids: dict[str, str] = {}
    for el in root.iter():
        tag, text = _local(el.tag), (el.text or "").strip()
        if tag == "PRODUCT_START_TIME" and text and start is None:
            start = _whole_seconds(parse_utc(text))
        elif tag == "PROCESSING_BASELINE" and text:
            baseline = text
        elif tag == "SPACECRAFT_NAME" and text:
            platform = text.lower()  # Sentinel-2A -> sentinel-2a
        elif tag == "PRODUCT_TYPE" and text:
            level = "L2A" if "2A" in text.upper() else "L1C" if "1C" in text.upper() else None
        elif tag in ("BOA_QUANTIFICATION_VALUE", "QUANTIFICATION_VALUE") and text:
            quantifications["BOA" if tag.startswith("BOA") else "RADIO"] = _number(text)
        elif tag in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET") and text and el.get("band_id"):
            value = _number(text)
            if value is not None:
                all_offsets[tag.partition("_")[0]][str(el.get("band_id"))] = value
        elif tag == "Spectral_Information" and el.get("bandId") is not None:
            band_ids[str(el.get("bandId"))] = _s2_band_id(str(el.get("physicalBand", "")))
    kind = "RADIO" if level == "L1C" else "BOA"
    offsets, quantification = all_offsets[kind], quantifications.get(kind)
    by_band: dict[str, float] = {}
    for key, value in offsets.items():
        band = band_ids.get(key)
        if band is None and key.isdigit() and int(key) < len(_S2_BAND_ORDER):
            band = _S2_BAND_ORDER[int(key)]
        if band:
            by_band[band] = value
    if baseline is None and not by_band:
        return None
    return Product(
        "sentinel-2",
        "msi",
        platform or "",
        level,
        baseline,
        add_offsets=by_band or None,
        quantification=quantification,
        source=os.path.basename(path),
        acquired=start,
    )


def _whole_seconds(t: dt.datetime | None) -> str | None:
    """``t`` as :attr:`Product.acquired` text: ISO 8601 UTC in whole seconds, or None."""
    return iso_utc(t.replace(microsecond=0)) if t is not None else None


def _s2_band_id(physical: str) -> str:
    """``B1`` -> ``B01``, ``B8A`` -> ``B8A``."""
    p = physical.strip().upper()
    return f"B{int(p[1:]):02d}" if p[:1] == "B" and p[1:].isdigit() else p


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _merge(names: Product | None, metadata: Product | None) -> Product | None:
    """A product from names, completed (and overridden where both say) by metadata."""
    if metadata is None:
        return names
    if names is None or (names.mission, names.instrument) != (
        metadata.mission,
        metadata.instrument,
    ):
        return metadata if names is None else names
    return replace(
        names,
        platform=metadata.platform or names.platform,
        level=metadata.level or names.level,
        baseline=metadata.baseline or names.baseline,
        add_offsets=metadata.add_offsets,
        quantification=metadata.quantification,
        source=f"{names.source} and {metadata.source}",
        reflectance_gains=metadata.reflectance_gains,
        sun_elevation=metadata.sun_elevation,
        acquired=metadata.acquired or names.acquired,
    )


def product_of_file(path: str, folders: _Folders | None = None) -> Product | None:
    """The product one file belongs to, or None if its names and sidecars do not say."""
    folders = folders or _Folders()
    from_names = _product_from_names(path)
    if from_names is None or from_names.mission == "landsat":
        mtl = _landsat_from_mtl(path, folders)
        if mtl is not None and (from_names is None or from_names.instrument == mtl.instrument):
            return _merge(from_names, mtl)
    if from_names is None or from_names.mission == "sentinel-2":
        for mtd in _sentinel2_metadata_files(path, folders):
            found = _sentinel2_from_mtd(mtd)
            if found is not None:
                return _merge(from_names, found)
    return from_names


def product_of_files(paths: Sequence[str]) -> Product | None:
    """The one product all ``paths`` that say belong to, or None if none says.

    Raises
    ------
    SensorError
        If two files belong to products of different sensors (or Sentinel-2
        processing baselines).
    """
    folders = _Folders()
    found: list[tuple[str, Product]] = []
    for path in paths:
        product = product_of_file(path, folders)
        if product is not None:
            found.append((path, product))
    if not found:
        return None
    first_path, first = found[0]
    for path, product in found[1:]:
        if not first.same_sensor(product):
            raise SensorError(
                f"{path}: a {_describe(product)} file beside {first_path}, a "
                f"{_describe(first)} file: one scene is one product"
            )
    return first


def _level1_of_item(product: Product, item: Any, props: Mapping[str, Any]) -> Product:
    """A Landsat Level-1 item's gains (from its local MTL asset) and sun elevation."""
    fields: dict[str, str] = {}
    source = product.source
    for asset in getattr(item, "assets", {}).values():
        href = asset.get_absolute_href() or asset.href
        if _MTL.match(os.path.basename(href)) and "://" not in href and os.path.isfile(href):
            fields = _read_mtl(href)
            source = f"{product.source} and {os.path.basename(href)}"
            break
    elevation = _number(fields.get("SUN_ELEVATION", ""))
    if elevation is None and props.get("view:sun_elevation") is not None:
        elevation = _number(str(props["view:sun_elevation"]))
    return replace(
        product,
        reflectance_gains=_reflectance_gains(fields) or None,
        sun_elevation=elevation,
        source=source,
    )


def _describe(product: Product) -> str:
    if product.baseline:
        return f"{product.label} (processing baseline {product.baseline})"
    return product.label


def product_of_item(item: Any) -> Product | None:
    """The product a STAC item describes, from its ``platform``/``instruments`` properties.

    A Landsat Level-1 item (``landsat:correction`` ``L1TP``, ...) takes its
    reflectance gains and sun elevation from its MTL asset (a local
    ``*_MTL.txt``/``.json``/``.xml``, as USGS items list it), the sun
    elevation also from ``view:sun_elevation``.
    """
    props: Mapping[str, Any] = getattr(item, "properties", None) or {}
    where = f"STAC item {getattr(item, 'id', '?')}"
    times = item_times(props)
    acquired = _whole_seconds(times[0]) if times else None
    platform = str(props.get("platform") or "").strip().lower()
    raw = props.get("instruments") or []
    instruments = [str(i).strip().lower() for i in (raw if isinstance(raw, list) else [raw])]
    baseline = props.get("s2:processing_baseline")
    uri = str(props.get("s2:product_uri") or "")
    from_uri = _sentinel2_from_name(uri, where) if uri else None
    if platform.startswith("landsat"):
        instrument = next((i for i in ("oli", "etm+", "etm", "tm", "mss") if i in instruments), "")
        if not instrument:
            return None
        instrument = "etm+" if instrument == "etm" else instrument
        level = props.get("landsat:correction")
        product = Product(
            "landsat",
            instrument,
            platform,
            str(level) if level else None,
            source=where,
            acquired=acquired,
        )
        return _level1_of_item(product, item, props) if product.level1 else product
    if platform.startswith("sentinel-2") or "msi" in instruments or from_uri is not None:
        return Product(
            "sentinel-2",
            "msi",
            platform if platform.startswith("sentinel-2") else "",
            from_uri.level if from_uri else None,
            str(baseline) if baseline is not None else (from_uri.baseline if from_uri else None),
            source=where,
            acquired=acquired or (from_uri.acquired if from_uri else None),
        )
    return None
