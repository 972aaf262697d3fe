"""Band names: STAC ``eo`` common names, aliases, quality layers and composite bands.

The one place that says what a band is called. :mod:`landmask.io` names the
bands of files with it, :mod:`landmask.spectral` resolves the names a formula
reads with it, and :mod:`landmask.temporal` names a composite's bands with it.
Nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from landmask.errors import BandError

__all__ = [
    "BAND_ALIASES",
    "CLEAR_COUNT",
    "COMMON_NAMES",
    "QUALITY_BANDS",
    "RAW_BANDS",
    "Needs",
    "common_name",
    "composite_band",
    "is_composite_band",
    "resolve_band",
    "same_band",
    "scene_bands",
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

#: A name a formula uses -> the band that stands in when the scene lacks it
#: (Landsat's near-infrared band is ``nir08``).
BAND_ALIASES = {"nir": "nir08"}

#: Names of the per-pixel quality layers a scene may carry beside its reflectance:
#: Sentinel-2 L2A scene classification (``SCL``) and Landsat Collection 2
#: ``QA_PIXEL`` bit flags. They are read as raw values (no scale, offset or
#: nodata) and resampled by nearest neighbour; see :mod:`landmask.classification.quality`.
QUALITY_BANDS = ("scl", "qa_pixel")

#: A composite's count of clear dates per pixel (:mod:`landmask.temporal`).
CLEAR_COUNT = "clear_count"

#: Bands read as raw values (no scale, offset or nodata; nearest resampling): the
#: quality layers and a composite's clear count.
RAW_BANDS = (*QUALITY_BANDS, CLEAR_COUNT)

#: What a scene must provide: names (an index, a band) -> the bands each reads, or
#: band names that read themselves.
Needs = Mapping[str, Collection[str]] | Collection[str]

_COMPOSITE_STAT = re.compile(r"^(median|min|max|p(100|[1-9]?[0-9]))$")


def common_name(text: str | None) -> str | None:
    """``text`` as a common name (``" Red "`` -> ``red``), or None if it is none."""
    if not text:
        return None
    name = text.strip().lower()
    return name if name in COMMON_NAMES else None


def composite_band(quantity: str, stat: str) -> str:
    """The name of a composite's band: a statistic of a band or index (``ndvi_p10``)."""
    return f"{quantity}_{stat}"


def is_composite_band(name: str) -> bool:
    """Whether ``name`` names a composite's band (``nir_median``, ``ndvi_p90``, ``clear_count``)."""
    if name == CLEAR_COUNT:
        return True
    quantity, _, stat = name.rpartition("_")
    return bool(quantity) and quantity.isidentifier() and bool(_COMPOSITE_STAT.match(stat))


def same_band(a: str | None, b: str | None) -> bool:
    """Whether two names name one band, directly or by alias (``nir`` and ``nir08``)."""
    if a is None or b is None:
        return False
    return a == b or BAND_ALIASES.get(a) == b or BAND_ALIASES.get(b) == a


def resolve_band(name: str, available: Sequence[str]) -> str | None:
    """The scene band that provides ``name`` (directly or by alias), or None.

    On a composite (:mod:`landmask.temporal`) a band's median stands for the
    band: ``nir`` reads ``nir_median``, so index formulas work on composites.
    """
    for candidate in (name, BAND_ALIASES.get(name)):
        if candidate is None:
            continue
        if candidate in available:
            return candidate
        if f"{candidate}_median" in available:
            return f"{candidate}_median"
    return None


def scene_bands(needs: Needs, available: Sequence[str]) -> dict[str, str]:
    """Every band the names in ``needs`` read: ``{band name: scene band}``.

    ``needs`` maps each name used (an index, a band) to the bands it reads; a
    plain collection names bands that read themselves.

    Raises
    ------
    BandError
        Naming the first band missing and, for an index, the index that reads it.
    """
    reads = needs if isinstance(needs, Mapping) else {n: (n,) for n in needs}
    found: dict[str, str] = {}
    for name in sorted(reads):
        for band in sorted(reads[name]):
            band_in_scene = resolve_band(band, available)
            if band_in_scene is None:
                why = "" if set(reads[name]) == {name} else f" (for {name})"
                raise BandError(
                    f"band {band!r}{why} is not in the scene (it has: {', '.join(available)})"
                )
            found[band] = band_in_scene
    return found
