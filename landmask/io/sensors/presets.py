"""Sensor presets: how a sensor's file bands map to STAC ``eo`` common names.

A preset names bands from file-name suffixes (``T33UUP_..._B04_10m.jp2``,
``LC09_..._SR_B4.TIF``), from band descriptions (``B04``, ``SR_B4`` or a common
name), or, for a multi-band file with no descriptions, from a default band
order. It also carries the scale and offset that turn the sensor's digital
numbers into surface reflectance and its nodata value.

A preset may read several instruments: ``landsat-c2-l2`` has one band table for
Landsat 4/5 TM and 7 ETM+ and another for Landsat 8/9 OLI. :func:`sensor_for`
picks the variant (and, for Sentinel-2, the offset of the processing baseline)
from the product the files belong to (:mod:`landmask.io.sensors.provider`), and refuses
files of another sensor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from landmask.bands import common_name
from landmask.errors import ConfigError, SensorError
from landmask.io.sensors.provider import Product

__all__ = [
    "SENSORS",
    "Sensor",
    "get_sensor",
    "preset_for_product",
    "sensor_for",
]

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
        Provider missions (:class:`~landmask.io.sensors.provider.Product`) whose files
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
        NAIP's 1/255); see :mod:`landmask.io.read.radiometry`.
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
        return common_name(description) or self.band_ids.get(description.strip().upper())

    def scaling(self, name: str) -> tuple[float, float]:
        """``(scale, offset)`` of the band with common name ``name``.

        Raises :class:`SensorError` for a band a per-band-only preset (Landsat
        Level-1: one gain per band from the MTL) has no scale for.
        """
        if name in self.band_scaling:
            return self.band_scaling[name]
        if math.isnan(self.scale):
            raise SensorError(
                f"{self.basis or self.name}: no reflectance gain for band {name!r} "
                f"({self.description} has {', '.join(self.band_scaling) or 'none'})"
            )
        return (self.scale, self.offset)


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

#: Landsat reflective band numbers -> common names: 8/9 OLI, and 4/5 TM and 7 ETM+.
_OLI_BANDS = {
    "B1": "coastal",
    "B2": "blue",
    "B3": "green",
    "B4": "red",
    "B5": "nir08",
    "B6": "swir16",
    "B7": "swir22",
}
_TM_ETM_BANDS = {
    "B1": "blue",
    "B2": "green",
    "B3": "red",
    "B4": "nir",
    "B5": "swir16",
    "B7": "swir22",
}
_QA_PIXEL = {"QA_PIXEL": "qa_pixel"}


def _level2(bands: Mapping[str, str], thermal: Mapping[str, str]) -> dict[str, str]:
    """A Level-2 band table: ``SR_B<n>`` files, ``ST_B<n>`` temperature, ``B<n>`` descriptions."""
    return {**{f"SR_{k}": v for k, v in bands.items()}, **thermal, **bands, **_QA_PIXEL}


LANDSAT_OLI = Sensor(
    name="landsat-c2-l2",
    band_ids=_level2(_OLI_BANDS, {"ST_B10": "lwir11"}),
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
    band_ids=_level2(_TM_ETM_BANDS, {"ST_B6": "lwir"}),
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

#: Sentinel-2 MSI Level-1C: top-of-atmosphere reflectance = (DN + RADIO_ADD_OFFSET) /
#: QUANTIFICATION_VALUE, the offset -1000 from processing baseline 04.00 on, 0 before.
SENTINEL2_L1C = replace(
    SENTINEL2_L2A,
    name="sentinel2-l1c",
    band_ids={
        **{k: v for k, v in SENTINEL2_L2A.band_ids.items() if k != "SCL"},
        "B10": "cirrus",
    },
    # SAFE GRANULE/L1C_.../IMG_DATA/T33UUP_20220301T101841_B04.jp2, STAC B04.tif
    suffix=r"(?:^|_)(B(?:0[1-9]|1[0-2]|8A))(?:_\d+m)?$",
    description="Sentinel-2 MSI L1C",
    radiometry="toa_reflectance",
)

#: Landsat 8/9 OLI Collection 2 Level-1 (``LC08_L1TP_..._B4.TIF``): top-of-atmosphere
#: reflectance from the MTL's per-band gains and sun elevation (see _landsat_level1).
LANDSAT_L1_OLI = replace(
    LANDSAT_OLI,
    name="landsat-c2-l1",
    band_ids={**_OLI_BANDS, "B8": "pan", "B9": "cirrus", **_QA_PIXEL},
    suffix=r"(?:^|_)(B[1-9]|QA_PIXEL)$",
    # no scale for every band: each band's comes from the MTL (band_scaling)
    scale=float("nan"),
    offset=float("nan"),
    band_scaling={},
    radiometry="toa_reflectance",
)

#: Landsat 4/5 TM and 7 ETM+ Collection 2 Level-1 (``LE07_L1TP_..._B4.TIF``).
LANDSAT_L1_TM_ETM = replace(
    LANDSAT_L1_OLI,
    band_ids={**_TM_ETM_BANDS, "B8": "pan", **_QA_PIXEL},
    variant="tm-etm",
    description="Landsat 4/5 TM, 7 ETM+",
)

SENSORS: dict[str, Sensor] = {
    s.name: s for s in (SENTINEL2_L2A, LANDSAT_OLI, NAIP, SENTINEL2_L1C, LANDSAT_L1_OLI)
}


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

    The product's processing level decides between a mission's presets: a
    Level-1 product (``LC08_L1TP_...``, ``S2A_MSIL1C_...``) is read by the
    Level-1 preset (``landsat-c2-l1``, ``sentinel2-l1c``: top-of-atmosphere
    reflectance from the product's own metadata) whichever of the two was
    named, a Level-2 product by the Level-2 one. Landsat Level-1 takes one
    scale and offset per band: ``REFLECTANCE_MULT_BAND_n / sin(SUN_ELEVATION)``
    and ``REFLECTANCE_ADD_BAND_n / sin(SUN_ELEVATION)`` of its MTL (the sun
    elevation of the scene centre, one value per scene). Sentinel-2 L1C takes
    ``1 / QUANTIFICATION_VALUE`` and ``RADIO_ADD_OFFSET / QUANTIFICATION_VALUE``
    of ``MTD_MSIL1C.xml``, else the baseline's offset as for L2A.

    Raises
    ------
    SensorError
        If the product is of another mission than the preset reads; a Landsat
        Level-1 product without the MTL values that convert it (or with the sun
        below the horizon); ``landsat-c2-l1`` with no product known.
    """
    if preset.name not in SENSORS:  # a user-made Sensor: taken as it is
        return preset
    if product is None and preset.name == LANDSAT_L1_OLI.name:
        raise SensorError(
            f"--sensor {preset.name}: no Landsat Level-1 product id in the file names and no "
            "*_MTL.txt/json/xml beside them: its REFLECTANCE_MULT_BAND_n, "
            "REFLECTANCE_ADD_BAND_n and SUN_ELEVATION convert the files"
        )
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
    "sentinel2-l1c": "Sentinel-2 L1C files",
    "landsat-c2-l2": "Landsat 4-9 Collection 2 Level-2 files",
    "landsat-c2-l1": "Landsat 4-9 Collection 2 Level-1 files",
    "naip": "NAIP RGB+NIR images",
}


def _landsat_variant(preset: Sensor, product: Product) -> Sensor:
    level1 = product.level1 if product.level else preset.name == LANDSAT_L1_OLI.name
    if product.instrument in ("tm", "etm+"):
        variant = LANDSAT_L1_TM_ETM if level1 else LANDSAT_TM_ETM
    elif product.instrument == "oli":
        variant = LANDSAT_L1_OLI if level1 else LANDSAT_OLI
    else:
        what = (
            "Collection 2 Level-1 reflectance gains"
            if level1
            else "Collection 2 surface reflectance"
        )
        raise SensorError(
            f"{product.source}: {product.label} has no {what} that --sensor {preset.name} reads"
        )
    variant = replace(variant, description=product.label, basis=product.source)
    return _landsat_level1(variant, product) if level1 else variant


def _landsat_level1(variant: Sensor, product: Product) -> Sensor:
    """Top-of-atmosphere reflectance per band: (M * DN + A) / sin(sun elevation), from the MTL."""
    gains, elevation = product.reflectance_gains, product.sun_elevation
    if not gains or elevation is None:
        missing = "REFLECTANCE_MULT_BAND_n/REFLECTANCE_ADD_BAND_n" if not gains else "SUN_ELEVATION"
        raise SensorError(
            f"{product.source}: a Level-1 product ({product.level}) with no {missing} to convert "
            "it to top-of-atmosphere reflectance; put its *_MTL.txt (or .json, .xml) beside "
            "the files"
        )
    if not 0 < elevation <= 90:
        raise SensorError(
            f"{product.source}: SUN_ELEVATION {elevation:g}: the sun is below the horizon, "
            "there is no reflectance to compute"
        )
    sine = math.sin(math.radians(elevation))
    scaling = {
        name: (gains[band_id[1:]][0] / sine, gains[band_id[1:]][1] / sine)
        for band_id, name in variant.band_ids.items()
        if band_id[1:] in gains
    }
    basis = (
        f"Level-1 MTL {_mtl_name(product.source)} REFLECTANCE_MULT_BAND_n, "
        f"REFLECTANCE_ADD_BAND_n and SUN_ELEVATION {elevation:g} (one per scene)"
    )
    calibrated = {b: n for b, n in variant.band_ids.items() if n in scaling or n == "qa_pixel"}
    return replace(variant, band_ids=calibrated, band_scaling=scaling, basis=basis)


def _mtl_name(source: str) -> str:
    """The MTL file name in a product's ``source`` (``file name X and Y_MTL.txt`` -> Y_MTL.txt)."""
    return next((w for w in source.split() if "_MTL." in w.upper()), source)


def _sentinel2_radiometry(preset: Sensor, product: Product) -> Sensor:
    level = (product.level or "").upper()
    if level:
        preset = SENTINEL2_L1C if level == "L1C" else SENTINEL2_L2A
    found = _sentinel2_offsets(preset, product)
    if found.radiometry != "toa_reflectance":
        return found
    q = 1 / found.scale
    return replace(
        found,
        basis=f"Level-1C (DN + RADIO_ADD_OFFSET {found.offset * q:g}) / QUANTIFICATION_VALUE "
        f"{q:g} ({found.basis or 'processing baseline 04.00 or later assumed'})",
    )


def _sentinel2_offsets(preset: Sensor, product: Product) -> Sensor:
    """The offset (and scale) of the product's processing baseline, L2A and L1C alike."""
    described = replace(preset, description=product.label, basis=product.source)
    if product.add_offsets:
        q = product.quantification or 1e4
        ids = preset.band_ids
        by_name = {ids[b]: v / q for b, v in product.add_offsets.items() if b in ids}
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
