"""Sensor presets: how a sensor's file bands map to STAC ``eo`` common names.

A preset names bands from file-name suffixes (``T33UUP_..._B04_10m.jp2``,
``LC09_..._SR_B4.TIF``), from band descriptions (``B04``, ``SR_B4`` or a common
name), or, for a multi-band file with no descriptions, from a default band
order. It also carries the scale and offset that turn the sensor's digital
numbers into surface reflectance and its nodata value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from landmask.errors import ConfigError

__all__ = ["COMMON_NAMES", "QUALITY_BANDS", "SENSORS", "Sensor", "get_sensor"]

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


@dataclass(frozen=True)
class Sensor:
    """A sensor preset.

    Attributes
    ----------
    name
        Preset name used on the command line (``--sensor``).
    band_ids
        Sensor band id (``B04``) -> common name (``red``).
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
    """

    name: str
    band_ids: dict[str, str]
    suffix: str
    scale: float
    offset: float
    nodata: float | None
    order: tuple[str, ...] = field(default=())

    def name_from_filename(self, stem: str) -> str | None:
        """The common name of a single-band file, from its file-name suffix."""
        m = re.search(self.suffix, stem, flags=re.IGNORECASE)
        if m is None:
            return None
        band_id = next((g for g in m.groups() if g), "")
        return self.band_ids.get(band_id.upper())

    def name_from_description(self, description: str | None) -> str | None:
        """The common name of a band from its description (band id or common name)."""
        if not description:
            return None
        d = description.strip()
        if d.lower() in COMMON_NAMES:
            return d.lower()
        return self.band_ids.get(d.upper())


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
    suffix=r"_(B(?:0[1-9]|1[0-2]|8A)|SCL)(?:_\d+m)?$",
    # Processing baseline 04.00 and later (products from 2022-01-25):
    # reflectance = (DN + BOA_ADD_OFFSET) / 10000 with BOA_ADD_OFFSET = -1000.
    # For older products pass --offset 0.
    scale=1e-4,
    offset=-0.1,
    nodata=0,
)

LANDSAT_C2_L2 = Sensor(
    name="landsat-c2-l2",
    band_ids={
        "SR_B1": "coastal",
        "SR_B2": "blue",
        "SR_B3": "green",
        "SR_B4": "red",
        "SR_B5": "nir08",
        "SR_B6": "swir16",
        "SR_B7": "swir22",
        "B1": "coastal",
        "B2": "blue",
        "B3": "green",
        "B4": "red",
        "B5": "nir08",
        "B6": "swir16",
        "B7": "swir22",
        "QA_PIXEL": "qa_pixel",
    },
    suffix=r"_(?:SR_(B[1-7])|(QA_PIXEL))$",
    # Landsat Collection 2 Level-2 surface reflectance (Landsat 8/9 OLI).
    scale=2.75e-5,
    offset=-0.2,
    nodata=0,
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
)

SENSORS: dict[str, Sensor] = {s.name: s for s in (SENTINEL2_L2A, LANDSAT_C2_L2, NAIP)}


def get_sensor(name: str) -> Sensor:
    """A sensor preset by name."""
    try:
        return SENSORS[name.lower()]
    except KeyError:
        known = ", ".join(SENSORS)
        raise ConfigError(f"--sensor {name}: unknown sensor (known: {known})") from None
