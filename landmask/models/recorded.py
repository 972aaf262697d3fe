"""The scene options a model records, merged with the user's, refusing contradictions.

A model is only right on reflectance made the way its training scene's was.
``landmask train`` records that (:class:`SceneRecord`, from the attrs
:func:`~landmask.open_scene` sets): the sensor preset and its variant, the
explicit ``--band`` mapping, the scale and offset and where they came from, and
each band's nodata. :func:`scene_options` is the one place that turns a model's
record and the user's options into the options a scene is opened with, for
``landmask classify --model`` and ``landmask run`` alike:

* an option the user left out is taken from the record: the sensor, the
  ``--band`` mapping, and the scale/offset when they were options at training,
  one for every band or per band (``--scale nir=0.0001``: each band the user
  gives no value for gets the one it was trained with)
  (a preset's or STAC item's own values are left to the preset, which follows
  the files: a Sentinel-2 product of another processing baseline gets its own
  offset);
* an option the user gave that differs from the record (another sensor, band
  mapping, scale or offset) is refused with one line naming both values;
* files whose names or metadata say they are of another sensor variant than
  the model was trained on (Landsat 7 ETM+ files for a Landsat 8 OLI model) are
  refused.

The record also holds the training scene's radiometry (``surface_reflectance``,
``toa_reflectance`` or ``dn``; :mod:`landmask.io.read.radiometry`), and
:func:`check_radiometry`, once the scene is open, refuses a scene whose values
are of the other kind: digital numbers for a model trained on reflectance, or
reflectance for a model trained on digital numbers. Model files made before the
record existed keep working (a debug note).

Models that record nothing (rule sets, ONNX files without these keys,
plug-ins) leave the user's options as they are. A plug-in may record its own by
a ``scene_record`` attribute (a :class:`SceneRecord`) or plain ``sensor``,
``scale`` and ``offset`` attributes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from landmask.bands import resolve_band
from landmask.errors import ModelMismatchError, SensorError
from landmask.io.sensors.presets import get_sensor, sensor_for
from landmask.io.sensors.provider import product_of_files, product_of_item
from landmask.io.stac.read import is_stac_input, load_item

__all__ = [
    "CLI_LABELS",
    "SceneChoice",
    "SceneRecord",
    "check_radiometry",
    "recorded",
    "scene_options",
]

log = logging.getLogger(__name__)

#: The radiometries that are reflectance (:data:`landmask.io.read.radiometry.RADIOMETRIES`).
_REFLECTANCE = ("surface_reflectance", "toa_reflectance")

#: How messages name the scene options by default: as the command line spells them.
CLI_LABELS = {"sensor": "--sensor", "band": "--band", "scale": "--scale", "offset": "--offset"}


@dataclass(frozen=True)
class SceneRecord:
    """How a model's training scene was read.

    Attributes
    ----------
    sensor
        Sensor preset (``sentinel2-l2a``), or None for a generic ``--band`` mapping.
    variant
        The preset's variant (``oli``, ``tm-etm``, ``msi``, ``naip``), or None.
    instrument
        The instrument in words (``Landsat 8 OLI``), or None.
    bands
        The explicit ``--band`` mapping (``{"red": 3, ...}``), or None.
    scale, offset
        reflectance = DN * scale + offset of the reflectance bands, or None.
    scaling
        Where they came from: ``options``, ``sensor``, ``stac``, ``file``,
        ``none`` or ``mixed``; None when not recorded.
    nodata
        Band name -> the nodata value that became NaN (None: no nodata value).
    radiometry, radiometry_basis
        What the training scene's values were (``surface_reflectance``,
        ``toa_reflectance``, ``dn``, or ``unknown`` for a scene that did not
        say) and why; None in model files made before this was recorded.
    option_scaling
        Band name -> ``[scale, offset]`` of the bands whose values came from
        per-band options (``--scale nir=0.0001``) when not every band's did
        (``scaling`` is then ``mixed`` or names several sources); None
        otherwise.
    """

    sensor: str | None = None
    variant: str | None = None
    instrument: str | None = None
    bands: dict[str, int] | None = None
    scale: float | None = None
    offset: float | None = None
    scaling: str | None = None
    nodata: dict[str, float | None] | None = None
    radiometry: str | None = None
    radiometry_basis: str | None = None
    option_scaling: dict[str, list[float]] | None = None

    @classmethod
    def of_scene(cls, scene: Any) -> SceneRecord:
        """The record of a scene from :func:`~landmask.open_scene` (its attrs)."""
        attrs: Mapping[str, Any] = getattr(scene, "attrs", {})
        sensor = attrs.get("sensor")
        bands = attrs.get("band_options")
        nodata = attrs.get("source_nodata")
        given = attrs.get("option_scaling")
        return cls(
            sensor=None if sensor in (None, "generic") else str(sensor),
            variant=attrs.get("sensor_variant"),
            instrument=attrs.get("instrument"),
            bands={str(k): int(v) for k, v in bands.items()} if bands else None,
            scale=_float(attrs.get("scale")),
            offset=_float(attrs.get("offset")),
            scaling=attrs.get("scaling"),
            nodata=dict(nodata) if nodata else None,
            radiometry=str(attrs.get("radiometry") or "unknown"),
            radiometry_basis=attrs.get("radiometry_basis"),
            option_scaling=(
                {str(k): [float(v[0]), float(v[1])] for k, v in given.items()} if given else None
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SceneRecord:
        """A record from :meth:`to_dict` output (unknown keys are ignored)."""
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data (what a model file stores)."""
        return asdict(self)

    @property
    def empty(self) -> bool:
        """True if nothing is recorded."""
        return self == SceneRecord()

    def describe(self) -> list[str]:
        """``key: value`` lines for ``landmask models show``."""
        lines = [f"sensor: {self.sensor or 'generic (no preset)'}"]
        if self.instrument:
            lines[0] += f" ({self.instrument})"
        if self.bands:
            lines.append(f"band mapping: {_mapping(self.bands)}")
        if self.scale is not None or self.offset is not None:
            how = f" (from {self.scaling})" if self.scaling else ""
            lines.append(f"scale: {self.scale:g}, offset: {self.offset:g}{how}")
        elif self.scaling:
            lines.append(f"scale/offset: {self.scaling}")
        if self.option_scaling:
            given = ", ".join(f"{k}={s:g}/{o:g}" for k, (s, o) in self.option_scaling.items())
            lines.append(f"scale/offset per band (from options): {given}")
        if self.nodata:
            values = ", ".join(
                f"{k}={'none' if v is None else f'{v:g}'}" for k, v in self.nodata.items()
            )
            lines.append(f"nodata (became NaN, never sampled): {values}")
        if self.radiometry is None:
            lines.append("radiometry: not recorded (a model file made before it was)")
        else:
            basis = f" ({self.radiometry_basis})" if self.radiometry_basis else ""
            lines.append(f"radiometry: {_words(self.radiometry)}{basis}")
        return lines


def _words(radiometry: str) -> str:
    """``surface_reflectance`` -> ``surface reflectance``; ``dn`` -> ``digital numbers``."""
    return "digital numbers" if radiometry == "dn" else radiometry.replace("_", " ")


def check_radiometry(model: Any, scene: Any, *, spec: str | None = None) -> None:
    """Refuse a scene whose radiometry contradicts the one ``model`` was trained on.

    A model trained on digital numbers and a scene read as reflectance
    (surface or top of atmosphere), or the reverse, contradict each other:
    the model's thresholds are on another scale. Surface and top-of-atmosphere
    reflectance do not contradict each other. A model or scene that records no
    radiometry (model files made before it was recorded, plug-ins, scenes not
    from :func:`~landmask.open_scene`) is not checked.

    Raises
    ------
    ModelMismatchError
        One line naming the scene's radiometry and the model's.
    """
    where = spec or getattr(model, "name", None) or type(model).__name__
    trained = recorded(model).radiometry
    attrs: Mapping[str, Any] = getattr(scene, "attrs", {})
    now = attrs.get("radiometry")
    if trained is None or trained == "unknown":
        if isinstance(getattr(model, "scene_record", None), SceneRecord):
            log.debug("%s records no radiometry of its training scene: not checked", where)
        return
    if not now or now == "unknown" or (trained == "dn") == (now == "dn"):
        return
    sources = ", ".join(attrs.get("sources", [])) or "the scene"
    basis = attrs.get("radiometry_basis")
    seen = f"{_words(str(now))} ({basis})" if basis else _words(str(now))
    hint = (
        "give --sensor or --scale/--offset so that it reads as reflectance"
        if now == "dn"
        else "a model trained on digital numbers classifies digital numbers only"
    )
    raise ModelMismatchError(
        f"{sources}: {seen}, but {where} was trained on {_words(trained)}; {hint}"
    )


def _value(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _mapping(bands: Mapping[str, int]) -> str:
    return " ".join(f"--band {k}={v}" for k, v in sorted(bands.items(), key=lambda kv: kv[1]))


def recorded(model: Any) -> SceneRecord:
    """What ``model`` records of its training scene (empty if it records nothing)."""
    record = getattr(model, "scene_record", None)
    if isinstance(record, SceneRecord):
        return record
    sensor = getattr(model, "sensor", None)
    scale, offset = getattr(model, "scale", None), getattr(model, "offset", None)
    if not isinstance(sensor, str) or sensor == "generic":
        sensor = None
    given = scale is not None or offset is not None
    return SceneRecord(
        sensor=sensor,
        scale=_float(scale),
        offset=_float(offset),
        scaling="options" if given else None,
    )


@dataclass(frozen=True)
class SceneChoice:
    """The options to open a scene with, and which of them came from the model."""

    sensor: str | None
    bands: dict[str, int] | None
    scale: float | Mapping[str, float] | None
    offset: float | Mapping[str, float] | None
    from_model: tuple[str, ...] = ()


def scene_options(
    model: Any,
    inputs: Sequence[str | os.PathLike[str]] | Any,
    *,
    sensor: str | None,
    bands: Mapping[str, int] | None,
    scale: float | Mapping[str, float] | None,
    offset: float | Mapping[str, float] | None,
    spec: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> SceneChoice:
    """The user's scene options completed by what ``model`` records; contradictions refused.

    Parameters
    ----------
    model
        A loaded model (:func:`~landmask.models.registry.load_model`).
    inputs
        The scene's files (or STAC item): only their names and the metadata
        files beside them are read, to check the model's sensor variant.
    sensor, bands, scale, offset
        The user's options (None where not given).
    spec
        The model's name in messages (default: its ``name`` attribute).
    labels
        How messages name the user's options (``sensor``, ``band``, ``scale``,
        ``offset`` -> e.g. ``scale:`` for a workflow key); default the command
        line's ``--sensor``, ``--band``, ``--scale``, ``--offset``.

    Raises
    ------
    ModelMismatchError
        If an option contradicts the record, or the files are of another
        sensor variant than the model's.
    """

    where = spec or getattr(model, "name", None) or type(model).__name__
    label = {**CLI_LABELS, **(labels or {})}
    record = recorded(model)
    user_bands = dict(bands) if bands else None
    if record.empty:
        return SceneChoice(sensor, user_bands, scale, offset)
    taken: list[str] = []
    stac = is_stac_input(inputs)
    if sensor is not None and record.sensor is not None and sensor.lower() != record.sensor:
        raise ModelMismatchError(
            f"{label['sensor']} {sensor} contradicts the sensor {record.sensor} that {where} was "
            "trained with"
        )
    if sensor is None and record.sensor is not None:
        sensor = record.sensor
        taken.append("sensor")
    if user_bands and record.bands and user_bands != record.bands:
        conflict = _band_conflict(user_bands, record.bands, label["band"])
        raise ModelMismatchError(f"{conflict} ({where})")
    if user_bands is None and record.bands and not stac:
        user_bands = dict(record.bands)
        taken.append("band")
    for option, given, kept in (("scale", scale, record.scale), ("offset", offset, record.offset)):
        values = list(given.values()) if isinstance(given, Mapping) else [given]
        unscaled = record.scaling == "none" and record.radiometry == "dn"
        for value in values:
            if value is None or kept is None or math.isclose(value, kept, abs_tol=1e-12):
                continue
            if unscaled:
                raise ModelMismatchError(
                    f"{label[option]} {value:g} reads the scene as reflectance, but {where} was "
                    "trained on digital numbers (no scale or offset)"
                )
            how = f" (from {record.scaling})" if record.scaling else ""
            raise ModelMismatchError(
                f"{label[option]} {value:g} contradicts the {option} {kept:g}{how} that {where} "
                "was trained with"
            )
    if scale is None and record.scaling == "options" and record.scale is not None:
        scale = record.scale
        taken.append("scale")
    if offset is None and record.scaling == "options" and record.offset is not None:
        offset = record.offset
        taken.append("offset")
    if record.option_scaling:
        pairs = record.option_scaling
        scale, offset, per_band = _per_band_options(pairs, scale, offset, label, where)
        taken += per_band
    if sensor is not None and record.variant:
        _check_variant(record, sensor, inputs, stac, where)
    return SceneChoice(sensor, user_bands, scale, offset, tuple(taken))


def _per_band_options(
    pairs: Mapping[str, Sequence[float]],
    scale: float | Mapping[str, float] | None,
    offset: float | Mapping[str, float] | None,
    label: Mapping[str, str],
    where: str,
) -> tuple[Any, Any, list[str]]:
    """The user's scale and offset completed by a record's per-band ``[scale, offset]`` pairs.

    A band the user gives no value for gets the one it was trained with; a
    value that differs from it is refused. Returns the scale, the offset and
    which of the two took values from the record.
    """
    out: list[Any] = []
    taken: list[str] = []
    for k, (option, given) in enumerate((("scale", scale), ("offset", offset))):
        kept = {name: float(pair[k]) for name, pair in pairs.items()}
        missing: dict[str, float] = {}
        for name, value in kept.items():
            mine = _value_for(given, name)
            if mine is None:
                missing[name] = value
            elif not math.isclose(mine, value, rel_tol=1e-9, abs_tol=1e-12):
                shown = f"{mine:g}" if not isinstance(given, Mapping) else f"{name}={mine:g}"
                raise ModelMismatchError(
                    f"{label[option]} {shown} contradicts the {option} {name}={value:g} "
                    f"(from options) that {where} was trained with"
                )
        if missing:
            given = {**missing, **given} if isinstance(given, Mapping) else missing
            taken.append(option)
        out.append(given)
    return out[0], out[1], taken


def _value_for(given: float | Mapping[str, float] | None, name: str) -> float | None:
    """The value a user's ``--scale``/``--offset`` gives band ``name`` (None: none)."""

    if given is None or not isinstance(given, Mapping):
        return None if given is None else float(given)
    for key, value in given.items():
        if key != "*" and resolve_band(key, [name]) == name:
            return float(value)
    return float(given["*"]) if "*" in given else None


def _band_conflict(given: Mapping[str, int], kept: Mapping[str, int], label: str) -> str:
    for name, number in sorted(given.items(), key=lambda kv: kv[1]):
        if name in kept and kept[name] != number:
            return f"{label} {name}={number} contradicts the model's --band {name}={kept[name]}"
    shown = ", ".join(f"{k}={v}" for k, v in sorted(given.items(), key=lambda kv: kv[1]))
    return f"{label} {shown} contradicts the model's {_mapping(kept)}"


def _check_variant(record: SceneRecord, sensor: str, inputs: Any, stac: bool, where: str) -> None:
    """Refuse files whose product is of another variant than the model was trained on."""

    if stac:
        product = product_of_item(load_item(inputs))
    else:
        paths = [os.fspath(inputs)] if isinstance(inputs, str | os.PathLike) else inputs
        product = product_of_files([os.fspath(p) for p in paths])
    if product is None:
        return
    trained = record.instrument or record.variant
    try:
        variant = sensor_for(get_sensor(sensor), product)
    except SensorError:
        raise ModelMismatchError(
            f"{product.source}: {product.label} files; {where} was trained on {trained} "
            f"({record.sensor})"
        ) from None
    if variant.variant != record.variant:
        raise ModelMismatchError(
            f"{product.source}: {product.label} files; {where} was trained on {trained} "
            f"({record.sensor}, {record.variant} bands)"
        )
