"""What a scene's values are: surface reflectance, top-of-atmosphere reflectance or raw numbers.

:func:`decide_radiometry` is the one place that decides it, for every reader
(files with or without a sensor preset, STAC items, ``--band`` mappings), from
where each band's scale and offset came (:class:`~landmask.io.read._bands.BandSource`
``scaling``), the preset and product, and, for floating-point bands with no
scale from anywhere, a small sample of their values:

* ``surface_reflectance``: a Level-2 preset (``sentinel2-l2a``,
  ``landsat-c2-l2``), a scale from the options, the STAC item or the file, or
  floating-point values already in the reflectance range;
* ``toa_reflectance``: a Level-1 product converted with its own metadata
  (Landsat ``REFLECTANCE_MULT/ADD_BAND_n`` and ``SUN_ELEVATION``, Sentinel-2
  ``RADIO_ADD_OFFSET`` and ``QUANTIFICATION_VALUE``);
* ``dn``: uncalibrated digital numbers: integers with no scale, floats whose
  values are far above any reflectance (``0-255``, ``0-10000``), or a preset
  that only stretches them (``naip``: 8-bit values / 255).

The sample reads as little as it can: the smallest overview when the file has
one, else a 64x64 corner of nine of its blocks (one decoded block each).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from landmask.errors import ReadError, UncalibratedWarning
from landmask.io.read._bands import BandSource
from landmask.io.read._grid import READ_ENV, FileInfo, gdal_message
from landmask.io.sensors.presets import Sensor, preset_for_product
from landmask.io.sensors.provider import Product

__all__ = [
    "DN_ABOVE",
    "RADIOMETRIES",
    "Radiometry",
    "attrs_from_tags",
    "decide_radiometry",
    "describe",
    "radiometry_tags",
    "reflectance_sources",
    "sample_values",
]

#: The radiometries a scene can have (``scene.attrs["radiometry"]``).
RADIOMETRIES = ("surface_reflectance", "toa_reflectance", "dn")

#: Floating-point values with no scale whose 99th percentile is above this are
#: digital numbers: reflectance (surface or top of atmosphere, bright snow and
#: cloud included) stays below ~1.6.
DN_ABOVE = 2.0

#: Side of the window read from each sampled block.
_SAMPLE_SIDE = 64


@dataclass(frozen=True)
class Radiometry:
    """What a scene's values are and why.

    Attributes
    ----------
    kind
        One of :data:`RADIOMETRIES`.
    basis
        One human-readable reason (the preset and scale, the metadata file, or
        the values seen).
    """

    kind: str
    basis: str

    def attrs(self) -> dict[str, str]:
        """As a scene's attributes: ``radiometry`` and ``radiometry_basis``."""
        return {"radiometry": self.kind, "radiometry_basis": self.basis}

    def line(self) -> str:
        """One line for the command line: what was decided and why."""
        return f"radiometry: {self.kind.replace('_', ' ')} ({self.basis})"


def reflectance_sources(sources: Sequence[BandSource]) -> list[BandSource]:
    """The bands that carry reflectance (not quality layers, not Landsat surface temperature)."""
    return [
        s
        for s in sources
        if s.scaling != "raw" and not (s.scaling == "sensor" and s.name.startswith("lwir"))
    ]


def _scale_text(sources: Sequence[BandSource]) -> str:
    pairs = {(s.scale, s.offset) for s in sources}
    if len(pairs) != 1:
        return "per-band scale and offset"
    scale, offset = next(iter(pairs))
    return f"scale {scale:.6g} offset {offset:.6g}"


def decide_radiometry(
    sources: Sequence[BandSource],
    infos: Mapping[str, FileInfo],
    sensor: Sensor | None,
    product: Product | None,
    *,
    warn: bool = True,
) -> Radiometry:
    """Decide what the values of a scene's bands are (see the module docstring).

    Parameters
    ----------
    sources
        The scene's bands and where their scale/offset came from.
    infos
        Each source file's metadata, by the sources' ``path``.
    sensor
        The preset variant used (None: no preset).
    product
        What the files' names and metadata say they are, if anything.
    warn
        Emit one :class:`~landmask.errors.UncalibratedWarning` when the values
        are digital numbers read with no scale from anywhere.

    Returns
    -------
    Radiometry
        Costs nothing for scaled bands; floating-point bands with no scale are
        sampled (:func:`sample_values`: an overview or nine small windows).
    """
    bands = reflectance_sources(sources)
    raw = [s for s in bands if s.scaling == "none"]
    if raw:
        found = _unscaled(raw, infos)
        if found.kind == "dn" and warn:
            _warn_uncalibrated(raw, infos, product, found)
        return found
    if not bands:
        return Radiometry("surface_reflectance", "no reflectance band read")
    hows = {s.scaling for s in bands}
    level1 = product is not None and product.level1
    if hows == {"sensor"} and sensor is not None:
        if sensor.radiometry == "dn":
            return Radiometry(
                "dn", f"preset {sensor.name}: digital numbers stretched by {_scale_text(bands)}"
            )
        if sensor.radiometry == "toa_reflectance":
            return Radiometry("toa_reflectance", sensor.basis or f"preset {sensor.name}")
        basis = f"preset {sensor.name} {_scale_text(bands)}"
        return Radiometry("surface_reflectance", basis)
    kind = "toa_reflectance" if level1 else "surface_reflectance"
    origin = {"options": "--scale/--offset", "stac": "the STAC item", "file": "the file"}
    said = ", ".join(origin.get(h, f"preset {sensor.name}" if sensor else h) for h in sorted(hows))
    what = f"{_scale_text(bands)} from {said}"
    if level1 and product is not None:
        what += f" on a Level-1 product ({product.source})"
    return Radiometry(kind, what)


def _unscaled(raw: Sequence[BandSource], infos: Mapping[str, FileInfo]) -> Radiometry:
    """Bands with no scale from anywhere: integers are DN; floats are DN if their values say so."""
    dtypes = [np.dtype(infos[s.path].dtypes[s.index - 1]) for s in raw]
    integer = [s for s, dt in zip(raw, dtypes, strict=True) if dt.kind in "ui"]
    if integer:
        dt = infos[integer[0].path].dtypes[integer[0].index - 1]
        return Radiometry(
            "dn", f"{dt} values with no scale from file, preset or options: digital numbers"
        )
    by_path: dict[str, list[BandSource]] = {}
    for s in raw:
        by_path.setdefault(s.path, []).append(s)
    highest = -np.inf
    seen = 0
    for path, group in by_path.items():
        nodata = [s.nodata for s in group]
        values = sample_values(path, [s.index for s in group], nodata)
        if values.size:
            seen += values.size
            highest = max(highest, float(np.percentile(values, 99)))
    dt = str(dtypes[0])
    if seen and highest > DN_ABOVE:
        return Radiometry(
            "dn",
            f"{dt} values up to {highest:.4g} (99th percentile of a sample) with no scale from "
            "file, preset or options: digital numbers",
        )
    if not seen:
        return Radiometry(
            "surface_reflectance",
            f"{dt} values with no scale and no valid value in the sample: read as reflectance",
        )
    return Radiometry(
        "surface_reflectance",
        f"{dt} values up to {highest:.3g} (99th percentile of a sample) with no scale: read as "
        "reflectance as they are (surface or top of atmosphere cannot be told)",
    )


def sample_values(path: str, indexes: Sequence[int], nodata: Sequence[float | None]) -> np.ndarray:
    """A small sample of the valid values of bands ``indexes`` of ``path`` (1-D float64).

    Reads the smallest overview when the file has one; else a corner of at
    most :data:`_SAMPLE_SIDE` pixels a side of nine blocks spread over the
    raster (3 x 3; fewer when the raster has fewer blocks), so at most nine
    blocks are decoded whatever the raster's size. Nodata values and NaN are
    left out.
    """
    try:
        chunks = _sample_blocks(path, indexes)
    except RasterioError as exc:
        raise ReadError(
            f"{path}: cannot read a sample of its values ({gdal_message(exc)})"
        ) from exc
    out = []
    for block in chunks:
        for k, nd in enumerate(nodata):
            band = block[k].astype(np.float64).ravel()
            keep = np.isfinite(band)
            if nd is not None and not np.isnan(nd):
                keep &= band != nd
            out.append(band[keep])
    return np.concatenate(out) if out else np.empty(0)


def _sample_blocks(path: str, indexes: Sequence[int]) -> list[np.ndarray]:
    """The smallest overview, or a corner of up to nine blocks, of bands ``indexes``."""
    chunks: list[np.ndarray] = []
    with rasterio.Env(**READ_ENV), rasterio.open(path) as ds:
        overviews = ds.overviews(indexes[0])
        if overviews:
            factor = overviews[-1]
            shape = (len(indexes), max(1, ds.height // factor), max(1, ds.width // factor))
            chunks.append(ds.read(list(indexes), out_shape=shape))
        else:
            bh, bw = ds.block_shapes[indexes[0] - 1]
            rows = dict.fromkeys((int(ds.height * f) // bh) * bh for f in (1 / 6, 1 / 2, 5 / 6))
            cols = dict.fromkeys((int(ds.width * f) // bw) * bw for f in (1 / 6, 1 / 2, 5 / 6))
            for row in rows:
                for col in cols:
                    h = min(bh, _SAMPLE_SIDE, ds.height - row)
                    w = min(bw, _SAMPLE_SIDE, ds.width - col)
                    chunks.append(ds.read(list(indexes), window=Window(col, row, w, h)))
    return chunks


def _warn_uncalibrated(
    raw: Sequence[BandSource],
    infos: Mapping[str, FileInfo],
    product: Product | None,
    found: Radiometry,
) -> None:
    """One warning: digital numbers are read with no scale, and how to give one."""
    files = list(dict.fromkeys(s.path for s in raw))
    where = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
    hint = ""
    if product is not None:
        preset = preset_for_product(product)
        if preset is not None:
            hint = f"; the names say {product.label}: --sensor {preset.name}"
    warnings.warn(
        f"{where}: {found.basis}, read unchanged; give --scale and --offset "
        f"(reflectance = DN * scale + offset) or --sensor{hint}",
        UncalibratedWarning,
        stacklevel=4,
    )


def describe(attrs: Mapping[str, Any]) -> str | None:
    """The one radiometry line of a scene's or mask's attributes, or None if not recorded."""
    kind = attrs.get("radiometry")
    if not kind:
        return None
    return Radiometry(str(kind), str(attrs.get("radiometry_basis", ""))).line()


def attrs_from_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """``radiometry``/``radiometry_basis`` attributes from a written file's tags, if it has them."""
    if not tags.get("RADIOMETRY"):
        return {}
    return {
        "radiometry": str(tags["RADIOMETRY"]),
        "radiometry_basis": str(tags.get("RADIOMETRY_BASIS", "")),
    }


def radiometry_tags(attrs: Mapping[str, Any]) -> dict[str, str]:
    """GeoTIFF tags ``RADIOMETRY`` and ``RADIOMETRY_BASIS`` of an output, from its attributes."""
    if not attrs.get("radiometry"):
        return {}
    return {
        "RADIOMETRY": str(attrs["radiometry"]),
        "RADIOMETRY_BASIS": str(attrs.get("radiometry_basis", "")),
    }
