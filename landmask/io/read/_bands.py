"""Naming the bands of a scene and where each one's values come from.

Private to :mod:`landmask.io`: band numbers -> STAC common names (from the
sensor's file names or band descriptions, or ``--band``), the bands a rule set
needs, and each band's scale/offset/nodata as a :class:`BandSource`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from landmask._runtime.paths import worker_path
from landmask.bands import (
    BAND_ALIASES,
    COMMON_NAMES,
    RAW_BANDS,
    Needs,
    is_composite_band,
    same_band,
    scene_bands,
)
from landmask.errors import BandError, ConfigError, SensorError
from landmask.grid import Grid
from landmask.io.read._grid import FileInfo
from landmask.io.read.resample import Method, Resample
from landmask.io.sensors.presets import Sensor
from landmask.io.stac.read import item_bands

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

#: ``--scale``/``--offset``: one number for every band, or band name -> number, where
#: the key ``"*"`` stands for every band the mapping does not name.
PerBand = float | Mapping[str, float]

#: The key of a per-band mapping that stands for every other band.
EVERY_BAND = "*"


def _resolve(key: str, names: Collection[str]) -> str | None:
    """The scene band a per-band key names (``nir`` names ``nir08`` where only that exists)."""
    if key in names:
        return key
    alias = BAND_ALIASES.get(key)
    return alias if alias in names else None


def check_per_band(option: str, value: PerBand | None, names: Collection[str]) -> None:
    """Refuse a per-band ``--scale``/``--offset`` naming no band of the scene, or a NaN.

    ``names`` are every band the inputs have (before the ones a rule set needs
    are picked), quality layers left out: they are read raw.
    """
    if value is None:
        return
    items = value.items() if isinstance(value, Mapping) else [(EVERY_BAND, value)]
    for key, number in items:
        shown = f"{option} {number}" if key == EVERY_BAND else f"{option} {key}={number}"
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(f"{shown}: not a number")
        if not math.isfinite(number):
            raise ConfigError(f"{shown}: not a finite number")
        if key != EVERY_BAND and _resolve(key, names) is None:
            known = ", ".join(n for n in names) or "none"
            raise ConfigError(f"{shown}: the scene has no band {key!r} (bands: {known})")


def per_band(value: PerBand | None, names: Collection[str]) -> dict[str, float]:
    """``{band name: number}`` for the bands of ``names`` that ``value`` gives a number for."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return dict.fromkeys(names, float(value))
    out: dict[str, float] = {}
    for key, number in value.items():
        target = None if key == EVERY_BAND else _resolve(key, names)
        if target is not None:
            out[target] = float(number)
    if EVERY_BAND in value:
        for name in names:
            out.setdefault(name, float(value[EVERY_BAND]))
    return out


@dataclass(frozen=True)
class BandSource:
    """Where one scene band comes from and how its values become reflectance.

    ``resample`` is set when the band's file is on another grid than the scene
    (e.g. a 20 m Sentinel-2 band in a 10 m scene). ``scaling`` says where
    ``scale`` and ``offset`` came from: ``options``, ``stac``, ``sensor``,
    ``file`` (the file's own scale/offset) or ``none`` (none of them: 1 and 0).
    """

    path: str
    index: int
    name: str
    nodata: float | None
    scale: float
    offset: float
    resample: Resample | None = None
    scaling: str = "none"

    def __post_init__(self) -> None:
        # workers of a real cluster have their own working directory
        object.__setattr__(self, "path", worker_path(self.path))


def _check_mapping(infos: Sequence[FileInfo], bands: Mapping[str, int], provider: Sensor) -> None:
    """Refuse ``--band NAME=N`` where the provider's file name or band id says another band.

    ``provider`` is the sensor variant whose band table the files' names follow
    (the ``--sensor`` preset, or the one the files' product id points to).
    """
    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    for name, number in bands.items():
        if not 1 <= number <= len(numbered):
            continue  # reported by name_bands
        info, i = numbered[number - 1]
        desc = info.descriptions[i - 1]
        said = provider.name_from_description(desc)
        how = f"its band description is {desc!r}"
        if said is None and info.count == 1:
            band_id = provider.band_id_from_filename(Path(info.path).stem)
            said = provider.band_ids.get(band_id or "")
            how = f"{band_id} of {provider.description} is {said}"
        if said is not None and not same_band(said, name):
            raise SensorError(f"--band {name}={number}: {info.path} is not {name} ({how})")


def name_bands(
    infos: Sequence[FileInfo],
    sensor: Sensor | None,
    bands: Mapping[str, int] | None,
    provider: Sensor | None = None,
) -> dict[int, str]:
    """Global band number (1-based across files) -> common name.

    ``provider`` is the band table the files' names follow, if known; an
    explicit mapping that contradicts it is refused (:func:`_check_mapping`).
    """
    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    if bands and provider is not None:
        _check_mapping(infos, bands, provider)
    names: dict[int, str] = {}
    for number, (info, i) in enumerate(numbered, start=1):
        desc = info.descriptions[i - 1]
        if sensor is not None:
            name = sensor.name_from_description(desc)
            if name is None and info.count == 1:
                name = sensor.name_from_filename(Path(info.path).stem)
            if (
                name is None
                and info.count > 1
                and len(sensor.order) >= i
                and not any(info.descriptions)
            ):
                name = sensor.order[i - 1]
        else:
            key = desc.strip().lower() if desc else ""
            name = key if key in COMMON_NAMES or is_composite_band(key) else None
            if bands is not None:
                name = None  # an explicit mapping alone decides
        if name is not None:
            names[number] = name
    if bands:
        names = {n: v for n, v in names.items() if v not in bands}
        given: dict[int, str] = {}
        for name, number in bands.items():
            if number in given:
                raise BandError(
                    f"--band {given[number]}={number} and --band {name}={number}: "
                    "one band cannot have two names"
                )
            given[number] = name
            if not _NAME_RE.match(name):
                raise BandError(f"--band {name}={number}: band names are lowercase identifiers")
            if not 1 <= number <= len(numbered):
                raise BandError(
                    f"--band {name}={number}: out of range, the inputs have "
                    f"{len(numbered)} band{'s' if len(numbered) != 1 else ''}"
                )
            names[number] = name
    if not names:
        what = ", ".join(info.path for info in infos)
        if sensor is not None:
            raise BandError(
                f"{what}: no band matches sensor {sensor.name!r} by file name or band "
                "description; name them with --band NAME=N"
            )
        raise BandError(f"{what}: cannot tell which band is which; give --sensor or --band NAME=N")
    seen: dict[str, int] = {}
    for number, name in sorted(names.items()):
        if name in seen:
            raise BandError(f"bands {seen[name]} and {number} are both named {name!r}")
        seen[name] = number
    return dict(sorted(names.items()))


def keep_needed(names: Mapping[int, str], needs: Needs, paths: Sequence[str]) -> dict[int, str]:
    """Keep the bands ``needs`` reads; quality layers in ``needs`` are kept if present."""
    wanted = frozenset(needs)
    reads = needs if isinstance(needs, Mapping) else {n: (n,) for n in needs}
    reflectance = {n: r for n, r in reads.items() if n not in RAW_BANDS}
    try:
        used = set(scene_bands(reflectance, list(names.values())).values())
    except BandError as exc:
        raise BandError(f"{', '.join(paths)}: {exc}") from None
    used |= wanted & set(RAW_BANDS)
    return {n: v for n, v in names.items() if v in used}


def band_sources(
    infos: Sequence[FileInfo],
    names: Mapping[int, str],
    sensor: Sensor | None,
    scale: PerBand | None,
    offset: PerBand | None,
) -> list[BandSource]:
    """A :class:`BandSource` per named band: options beat the sensor, the sensor beats the file.

    ``scale``/``offset`` give every band one number, or each band named in
    their mapping its own (:data:`PerBand`); bands they leave out keep the
    sensor's or the file's.
    """
    numbered = [(info, i) for info in infos for i in range(1, info.count + 1)]
    reflectance = [n for n in names.values() if n not in RAW_BANDS]
    scales, offsets = per_band(scale, reflectance), per_band(offset, reflectance)
    sources = []
    for number, name in names.items():
        info, i = numbered[number - 1]
        nodata = info.nodatavals[i - 1]
        if nodata is None and sensor is not None:
            nodata = sensor.nodata
        if name in RAW_BANDS:  # raw values: classes, bit flags, counts
            sources.append(BandSource(info.path, i, name, None, 1.0, 0.0, scaling="raw"))
            continue
        file_scale, file_offset = info.scales[i - 1], info.offsets[i - 1]
        sensor_scale, sensor_offset = sensor.scaling(name) if sensor else (None, None)
        s = _first(scales.get(name), sensor_scale)
        s = file_scale if s is None else s
        o = _first(offsets.get(name), sensor_offset)
        o = file_offset if o is None else o
        how = _how(scales.get(name), offsets.get(name), sensor is not None)
        if how == "file" and (file_scale, file_offset) == (1.0, 0.0):
            how = "none"
        sources.append(BandSource(info.path, i, name, nodata, float(s), float(o), scaling=how))
    return sources


def _how(scale: float | None, offset: float | None, sensor: bool) -> str:
    """Where a band's scale/offset came from: ``options``, ``sensor`` or ``file``."""
    if scale is not None or offset is not None:
        return "options"
    return "sensor" if sensor else "file"


def stac_sources(
    item: Any,
    infos: Mapping[str, FileInfo],
    sensor: Sensor | None,
    scale: PerBand | None,
    offset: PerBand | None,
    needs: Needs | None,
) -> list[BandSource]:
    """Band sources of a STAC item: options beat ``raster:bands``, which beat the sensor's and
    the file's."""

    picked = item_bands(item)
    reflectance = [b.name for b in picked if b.name not in RAW_BANDS]
    check_per_band("--scale", scale, reflectance)
    check_per_band("--offset", offset, reflectance)
    scales, offsets = per_band(scale, reflectance), per_band(offset, reflectance)
    if needs is not None:
        names = {k: b.name for k, b in enumerate(picked, start=1)}
        where = [item.get_self_href() or str(item.id)]
        keep = set(keep_needed(names, needs, where).values())
        picked = [b for b in picked if b.name in keep]
    sources = []
    for band in picked:
        info = infos[worker_path(band.href)]
        if not 1 <= band.index <= info.count:
            raise BandError(
                f"{band.href}: asset {band.asset!r} has {info.count} band(s), "
                f"the item describes band {band.index}"
            )
        if band.name in RAW_BANDS:
            sources.append(
                BandSource(band.href, band.index, band.name, None, 1.0, 0.0, scaling="raw")
            )
            continue
        nodata = band.nodata
        if nodata is None:
            nodata = info.nodatavals[band.index - 1]
        if nodata is None and sensor is not None:
            nodata = sensor.nodata
        sensor_scale, sensor_offset = sensor.scaling(band.name) if sensor else (None, None)
        given_scale, given_offset = scales.get(band.name), offsets.get(band.name)
        s = _first(given_scale, band.scale, sensor_scale)
        o = _first(given_offset, band.offset, sensor_offset)
        if given_scale is not None or given_offset is not None:
            how = "options"
        elif band.scale is not None or band.offset is not None:
            how = "stac"
        else:
            how = "sensor" if sensor is not None else "file"
        file_scale, file_offset = info.scales[band.index - 1], info.offsets[band.index - 1]
        s = s if s is not None else file_scale
        o = o if o is not None else file_offset
        if how == "file" and (file_scale, file_offset) == (1.0, 0.0):
            how = "none"
        sources.append(
            BandSource(band.href, band.index, band.name, nodata, float(s), float(o), scaling=how)
        )
    return sources


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def on_grid(
    sources: Sequence[BandSource], infos: Mapping[str, FileInfo], grid: Grid
) -> list[BandSource]:
    """Attach a :class:`Resample` to each source whose file is not on ``grid``."""
    out = []
    for src in sources:
        info = infos[src.path]
        if grid.same(info.grid):  # the inputs share the grid's CRS (check_grid)
            out.append(src)
            continue
        method: Method = "nearest" if src.name in RAW_BANDS else "bilinear"
        plan = Resample(info.transform, info.height, info.width, grid.transform, method)
        out.append(replace(src, resample=plan))
    return out
