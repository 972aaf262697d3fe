"""Sensor presets: how a sensor's file bands map to STAC ``eo`` common names.

A preset names bands from file-name suffixes (``T33UUP_..._B04_10m.jp2``,
``LC09_..._SR_B4.TIF``), from band descriptions (``B04``, ``SR_B4`` or a common
name), or, for a multi-band file with no descriptions, from a default band
order. It also carries the scale and offset that turn the sensor's digital
numbers into surface reflectance and its nodata value.

A preset may read several instruments: ``landsat-c2-l2`` has one band table for
Landsat 4/5 TM and 7 ETM+ and another for Landsat 8/9 OLI. :func:`sensor_for`
picks the variant (and, for Sentinel-2, the offset of the processing baseline)
from the product the files belong to (:mod:`landmask.io.provider`), and refuses
files of another sensor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from landmask.errors import ConfigError, SensorError
from landmask.io.provider import Product

__all__ = [
    "COMMON_NAMES",
    "QUALITY_BANDS",
    "SENSORS",
    "Sensor",
    "get_sensor",
    "preset_for_product",
    "sensor_for",
]

#: STAC ``eo`` common names landmask knows (eo extension v1.1).
COMMON_NAMES = (
    "coastal",
    "blue",
    "green",
    "red",
    "yellow",
    "pan",
    "rededge",
    "rededge071",
    "rededge075",
    "rededge078",
    "nir",
    "nir08",
    "nir09",
    "cirrus",
    "swir16",
    "swir22",
    "lwir",
    "lwir11",
    "lwir12",
)

#: Names of the per-pixel quality layers a scene may carry beside its reflectance:
#: Sentinel-2 L2A scene classification (``SCL``) and Landsat Collection 2
#: ``QA_PIXEL`` bit flags. They are read as raw values (no scale, offset or
#: nodata) and resampled by nearest neighbour; see :mod:`landmask.classification.quality`.
QUALITY_BANDS = ("scl", "qa_pixel")


#: Landsat Collection 2 Level-2 surface temperature: kelvin = DN * 0.00341802 + 149.0.
_LANDSAT_ST = (0.00341802, 149.0)

#: First sensing date of Sentinel-2 processing baseline 04.00 (BOA_ADD_OFFSET -1000).
S2_BASELINE_04_START = "20220125"


@dataclass(frozen=True)
class Sensor:
    """A sensor preset, or one variant of it for the product the files belong to.

    Attributes
    ----------
    name
        Preset name used on the command line (``--sensor``).
    band_ids
        Sensor band id (``B04``, ``SR_B4``) -> common name (``red``).
    suffix
        Regular expression with one group capturing the band id at the end of a
        file's stem.
    scale, offset
        reflectance = DN * scale + offset.
    nodata
        The sensor's fill value, used when a file declares none.
    order
        Common names of a multi-band file's bands in order, when the file has no
        band descriptions; empty if the sensor has no standard band order.
    variant
        Which band table and radiometry of the preset this is (``oli``,
        ``tm-etm``, ``msi``, ``naip``): a model trained on one variant
        refuses files of another.
    description
        The instrument in words (``Landsat 8/9 OLI``, ``Landsat 7 ETM+``).
    band_scaling
        Common name -> ``(scale, offset)`` for bands that differ from
        ``scale``/``offset`` (Landsat surface temperature in kelvin; a
        Sentinel-2 band whose ``BOA_ADD_OFFSET`` differs).
    missions
        Provider missions (:class:`~landmask.io.provider.Product`) whose files
        the preset reads; files of any other are refused.
    basis
        How the variant and offset were chosen (a file name, a metadata file, a
        STAC item), or ``""`` for the preset's defaults.
    assumed
        What had to be assumed for lack of names or metadata, as one sentence
        (shown as a :class:`~landmask.errors.PresetAssumedWarning`), or ``""``.
    radiometry
        What the preset's scale and offset make of the files' values:
        ``surface_reflectance`` (Level-2), ``toa_reflectance`` (Level-1,
        converted with the product's metadata) or ``dn`` (a stretch only, as
        NAIP's 1/255); see :mod:`landmask.io.radiometry`.
    """

    name: str
    band_ids: dict[str, str]
    suffix: str
    scale: float
    offset: float
    nodata: float | None
    order: tuple[str, ...] = field(default=())
    variant: str = ""
    description: str = ""
    band_scaling: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    missions: tuple[str, ...] = field(default=())
    basis: str = ""
    assumed: str = ""
    radiometry: str = "surface_reflectance"

    def name_from_filename(self, stem: str) -> str | None:
        """The common name of a single-band file, from its file-name suffix."""
        band_id = self.band_id_from_filename(stem)
        return None if band_id is None else self.band_ids.get(band_id)

    def band_id_from_filename(self, stem: str) -> str | None:
        """The sensor band id (``SR_B4``, ``B04``) a file-name suffix gives, or None."""
        m = re.search(self.suffix, stem, flags=re.IGNORECASE)
        if m is None:
            return None
        return next((g for g in m.groups() if g), "").upper() or None

    def name_from_description(self, description: str | None) -> str | None:
        """The common name of a band from its description (band id or common name)."""
        if not description:
            return None
        d = description.strip()
        if d.lower() in COMMON_NAMES:
            return d.lower()
        return self.band_ids.get(d.upper())

    def scaling(self, name: str) -> tuple[float, float]:
        """``(scale, offset)`` of the band with common name ``name``."""
        return self.band_scaling.get(name, (self.scale, self.offset))


SENTINEL2_L2A = Sensor(
    name="sentinel2-l2a",
    band_ids={
        "B01": "coastal",
        "B02": "blue",
        "B03": "green",
        "B04": "red",
        "B05": "rededge071",
        "B06": "rededge075",
        "B07": "rededge078",
        "B08": "nir",
        "B8A": "nir08",
        "B09": "nir09",
        "B11": "swir16",
        "B12": "swir22",
        "SCL": "scl",
    },
    # SAFE T33UUP_20220301T101839_B04_10m.jp2, Element 84 / STAC B04.tif
    suffix=r"(?:^|_)(B(?:0[1-9]|1[0-2]|8A)|SCL)(?:_\d+m)?$",
    # Processing baseline 04.00 and later (products from 2022-01-25):
    # reflectance = (DN + BOA_ADD_OFFSET) / 10000 with BOA_ADD_OFFSET = -1000;
    # earlier baselines have no offset (see sensor_for).
    scale=1e-4,
    offset=-0.1,
    nodata=0,
    variant="msi",
    description="Sentinel-2 MSI",
    missions=("sentinel-2",),
)

LANDSAT_OLI = Sensor(
    name="landsat-c2-l2",
    band_ids={
        "SR_B1": "coastal",
        "SR_B2": "blue",
        "SR_B3": "green",
        "SR_B4": "red",
        "SR_B5": "nir08",
        "SR_B6": "swir16",
        "SR_B7": "swir22",
        "ST_B10": "lwir11",
        "B1": "coastal",
        "B2": "blue",
        "B3": "green",
        "B4": "red",
        "B5": "nir08",
        "B6": "swir16",
        "B7": "swir22",
        "QA_PIXEL": "qa_pixel",
    },
    suffix=r"(?:^|_)(SR_B[1-7]|ST_B(?:6|10)|QA_PIXEL)$",
    # Landsat Collection 2 Level-2 surface reflectance (all instruments).
    scale=2.75e-5,
    offset=-0.2,
    nodata=0,
    variant="oli",
    description="Landsat 8/9 OLI",
    band_scaling={"lwir11": _LANDSAT_ST},
    missions=("landsat",),
)

#: Landsat 4/5 TM and 7 ETM+: band 4 is the near infrared, band 6 thermal.
LANDSAT_TM_ETM = replace(
    LANDSAT_OLI,
    band_ids={
        "SR_B1": "blue",
        "SR_B2": "green",
        "SR_B3": "red",
        "SR_B4": "nir",
        "SR_B5": "swir16",
        "SR_B7": "swir22",
        "ST_B6": "lwir",
        "B1": "blue",
        "B2": "green",
        "B3": "red",
        "B4": "nir",
        "B5": "swir16",
        "B7": "swir22",
        "QA_PIXEL": "qa_pixel",
    },
    variant="tm-etm",
    description="Landsat 4/5 TM, 7 ETM+",
    band_scaling={"lwir": _LANDSAT_ST},
)

NAIP = Sensor(
    name="naip",
    band_ids={"1": "red", "2": "green", "3": "blue", "4": "nir"},
    suffix=r"_(?:B|band)([1-4])$",
    # NAIP is 8-bit digital numbers, not calibrated reflectance: scaled to 0..1.
    scale=1 / 255,
    offset=0.0,
    nodata=None,
    order=("red", "green", "blue", "nir"),
    variant="naip",
    description="NAIP RGB+NIR",
    radiometry="dn",
)

SENSORS: dict[str, Sensor] = {s.name: s for s in (SENTINEL2_L2A, LANDSAT_OLI, NAIP)}


def get_sensor(name: str) -> Sensor:
    """A sensor preset by name."""
    try:
        return SENSORS[name.lower()]
    except KeyError:
        known = ", ".join(SENSORS)
        raise ConfigError(f"--sensor {name}: unknown sensor (known: {known})") from None


def sensor_for(preset: Sensor, product: Product | None) -> Sensor:
    """The variant of ``preset`` for files of ``product`` (None: the names do not say).

    ``landsat-c2-l2`` takes the TM/ETM+ band table for Landsat 4, 5 and 7 and
    the OLI one for Landsat 8 and 9 (OLI, with a note that it was assumed, when
    no product is known). ``sentinel2-l2a`` takes the offset of the processing
    baseline: the ``BOA_ADD_OFFSET`` values of ``MTD_MSIL2A.xml``, else -0.1
    from baseline 04.00 on and 0 before it, else -0.1 for products sensed from
    2022-01-25 on, else -0.1 with a note that it was assumed.

    Raises
    ------
    SensorError
        If the product is of another mission than the preset reads, or of a
        processing level it does not read (Landsat Level-1, Sentinel-2 L1C).
    """
    if preset.name not in SENSORS:  # a user-made Sensor: taken as it is
        return preset
    if product is None:
        if preset.variant == "oli":
            return replace(
                preset,
                assumed="no Landsat product id (LC08_L2SP_..., LE07_L2SP_...) in the file "
                "names and no *_MTL.txt beside them: SR_B<n> read as Landsat 8/9 OLI bands "
                "(SR_B5 = nir08); name Landsat 4-7 files as USGS does",
            )
        return preset
    if product.mission not in preset.missions:
        reads = _MISSION_FILES.get(preset.name, preset.description)
        raise SensorError(
            f"{product.source}: a {product.label} product; --sensor {preset.name} reads {reads}"
        )
    if product.mission == "landsat":
        return _landsat_variant(preset, product)
    return _sentinel2_radiometry(preset, product)


#: What each preset reads, in refusals of files of another mission.
_MISSION_FILES = {
    "sentinel2-l2a": "Sentinel-2 L2A files",
    "landsat-c2-l2": "Landsat 4-9 Collection 2 Level-2 files",
    "naip": "NAIP RGB+NIR images",
}


def _landsat_variant(preset: Sensor, product: Product) -> Sensor:
    level = (product.level or "").upper()
    if level.startswith("L1"):
        raise SensorError(
            f"{product.source}: a Level-1 product ({level}); --sensor {preset.name} reads "
            "Collection 2 Level-2 surface reflectance (L2SP)"
        )
    if product.instrument in ("tm", "etm+"):
        variant = LANDSAT_TM_ETM
    elif product.instrument == "oli":
        variant = LANDSAT_OLI
    else:
        raise SensorError(
            f"{product.source}: {product.label} has no Collection 2 surface reflectance "
            f"that --sensor {preset.name} reads"
        )
    return replace(variant, description=product.label, basis=product.source)


def _sentinel2_radiometry(preset: Sensor, product: Product) -> Sensor:
    if (product.level or "").upper() == "L1C":
        raise SensorError(
            f"{product.source}: a Level-1C product (top of atmosphere); --sensor "
            f"{preset.name} reads Level-2A surface reflectance"
        )
    described = replace(preset, description=product.label, basis=product.source)
    if product.boa_offsets:
        q = product.quantification or 1e4
        ids = preset.band_ids
        by_name = {ids[b]: v / q for b, v in product.boa_offsets.items() if b in ids}
        values = sorted(by_name.values(), key=list(by_name.values()).count, reverse=True)
        common = values[0] if values else 0.0
        special = {n: (1 / q, o) for n, o in by_name.items() if o != common}
        return replace(described, scale=1 / q, offset=common, band_scaling=special)
    if product.baseline is not None:
        try:
            number = float(product.baseline)
        except ValueError:
            number = None
        if number is not None:
            offset = -0.1 if number >= 4.0 else 0.0
            return replace(
                described,
                offset=offset,
                basis=f"processing baseline {product.baseline} ({product.source})",
            )
    date = product.sensing_date
    if date is not None and date >= S2_BASELINE_04_START:
        return replace(described, basis=f"sensed {_iso(date)}, baseline 04.00 or later")
    if date is not None:
        return replace(
            described,
            assumed=f"{product.source}: sensed {_iso(date)}, before processing baseline 04.00 "
            "(2022-01-25), and no baseline in the names or an MTD_MSIL2A.xml: offset -0.1 "
            "assumed (reprocessed products); pass --offset 0 for a product of baseline < 04.00",
        )
    return described


def _iso(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}"


def preset_for_product(product: Product) -> Sensor | None:
    """The preset variant that reads ``product``'s files, or None if no preset does."""
    for preset in SENSORS.values():
        if product.mission in preset.missions:
            try:
                return sensor_for(preset, product)
            except SensorError:
                return None
    return None
