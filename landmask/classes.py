"""Class schemes: the ids, names and colours of a mask's classes.

A scheme is data. The default ``landcover`` scheme is the one of DESIGN.md:
0 other, 1 forest, 2 urban, 3 water, 254 cloud, 255 nodata, coloured after
ESA WorldCover. Two presets follow published products:

* ``worldcover``: ESA WorldCover 2021 v200, ids 10..100 with the product's
  colours (Zanaga et al. 2022, product user manual v2.0);
* ``dynamic-world``: Google/WRI Dynamic World V1 labels, ids 0..8 with the
  product's palette (Brown et al. 2022).

Both keep landmask's 255 for nodata (ESA's own files use 0, which is no class
of the scheme); ``dynamic-world`` adds 254 for cloud, as Dynamic World has no
class for it. The ``annual`` scheme holds what a year's composite separates
(the ``annual`` rules): landcover's forest, urban and water (1-3; water is
permanent water) plus seasonal water (4), bare land (5) and crops and
grassland (6); seasonal water maps onto landcover's ``other``, as
WorldCover's does (only permanent water bodies are ``water``). Every scheme
maps its classes onto ``landcover`` (:attr:`ClassScheme.to_landcover`) so
that masks and truth in different schemes can be compared.
"""

from __future__ import annotations

import colorsys
import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from landmask.errors import ConfigError, InputError

__all__ = [
    "ANNUAL",
    "CHANGE_SUFFIX",
    "CLOUD",
    "DYNAMIC_WORLD",
    "LANDCOVER",
    "NODATA",
    "PROBABILITY_SCALE",
    "SCHEMES",
    "WORLDCOVER",
    "ClassScheme",
    "LandClass",
    "change_scheme",
    "change_states",
    "check_mask",
    "get_scheme",
    "is_mask",
    "label_text",
    "scheme_attrs",
    "scheme_from_labels",
    "scheme_from_tags",
    "scheme_in_attrs",
    "scheme_in_tags",
    "scheme_tags",
]

#: The mask value of pixels with no data (never a class of a scheme's lists).
NODATA = 255
#: The mask value of pixels the sensor saw only cloud (or its shadow) over.
CLOUD = 254
#: A probability ``p`` is stored in uint8 as ``round(p * PROBABILITY_SCALE)``;
#: :data:`NODATA` stays free for nodata.
PROBABILITY_SCALE = 254


@dataclass(frozen=True)
class LandClass:
    """One class of a scheme: its id, name, display colour (``#rrggbb``) and label.

    ``name`` is an identifier used on the command line and in attribute tables
    (``tree_cover``); ``label`` is the text shown to people (``Tree cover``),
    the name when not given.
    """

    id: int
    name: str
    color: str
    label: str = ""

    @property
    def title(self) -> str:
        """The label shown in legends and GIS styles."""
        return self.label or self.name

    @property
    def rgba(self) -> tuple[int, int, int, int]:
        """The colour as an RGBA tuple; nodata is fully transparent."""
        h = self.color.lstrip("#")
        alpha = 0 if self.id == NODATA else 255
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha)


@dataclass(frozen=True)
class ClassScheme:
    """An ordered set of classes with unique ids and names."""

    name: str
    classes: tuple[LandClass, ...]
    #: class name -> ``landcover`` class name; classes not named map to ``other``
    #: (``cloud`` and ``nodata`` to themselves). Empty for ``landcover`` itself.
    landcover_names: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    #: For a from-to change scheme (:func:`change_scheme`): the scheme of the two dates.
    base: ClassScheme | None = None

    def __post_init__(self) -> None:
        ids = [c.id for c in self.classes]
        names = [c.name for c in self.classes]
        if len(set(ids)) != len(ids) or len(set(names)) != len(names):
            raise ConfigError(f"class scheme {self.name!r}: ids and names must be unique")
        if any(not 0 <= i <= 255 for i in ids):
            raise ConfigError(f"class scheme {self.name!r}: ids must be within 0..255")
        unknown = set(self.landcover_names) - set(names)
        if unknown:
            raise ConfigError(f"class scheme {self.name!r}: no class {sorted(unknown)[0]!r}")

    def __iter__(self) -> Iterator[LandClass]:
        return iter(self.classes)

    def ids(self, items: Iterable[str | int] | str | None, *, option: str = "") -> frozenset[int]:
        """Class names or ids (or ``"water,forest"``) -> the set of class ids.

        The one reading of a list of classes (``--classes``, ``--keep``, a
        truth map's classes, a plot's class). An id is a mask value 0-254 (it
        need not be one of the scheme's classes); a name must be one of the
        scheme's; blanks are skipped, so an empty list gives an empty set.

        Parameters
        ----------
        items
            Names or ids, or one comma-separated string of them.
        option
            The setting's name, which errors start with (``--classes 300: ...``);
            empty for a caller that names it itself.

        Raises
        ------
        ConfigError
            One line naming the option and the item: an unknown name (with the
            scheme's names), an id over 254, or :data:`NODATA`.
        """
        if items is None:
            return frozenset()
        listed = items.split(",") if isinstance(items, str) else list(items)
        texts = [t for t in (str(item).strip() for item in listed) if t]
        return frozenset(self._class_id(t, f"{option} {t}".strip()) for t in texts)

    def id(self, item: str | int, *, option: str = "") -> int:
        """One class name or id -> its id, read as :meth:`ids` reads each item.

        ``option`` names the whole setting in errors (``--truth-map 3=lava``).
        """
        text = str(item).strip()
        where = option or text
        if not text:
            raise ConfigError(f"{where}: name a class")
        return self._class_id(text, where)

    def _class_id(self, text: str, where: str) -> int:
        """The id ``text`` names (an id 0-254 or a class name); errors start with ``where``."""
        if text.isdigit():
            value = int(text)
            if value == NODATA:
                raise ConfigError(f"{where}: nodata, not a class")
            if value > NODATA:
                raise ConfigError(f"{where}: not a class id (mask values are 0-254)")
            return value
        for c in self.classes:
            if c.name == text:
                return c.id
        known = ", ".join(c.name for c in self.classes)
        raise ConfigError(
            f"{where}: unknown class {text!r} in scheme {self.name!r} (known: {known})"
        )

    def name_of(self, class_id: int) -> str:
        """The name of class ``class_id`` (``class_<id>`` when the scheme lacks it)."""
        for c in self.classes:
            if c.id == class_id:
                return c.name
        return f"class_{class_id}"

    @property
    def other_id(self) -> int | None:
        """The id of the class called ``other``, None if the scheme has none.

        Where a model's pixels below its minimum confidence go
        (:func:`landmask.models.inference.ids_from_proba`).
        """
        return next((c.id for c in self.classes if c.name == "other"), None)

    @property
    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """A GDAL colour table: id -> RGBA."""
        return {c.id: c.rgba for c in self.classes}

    @property
    def names(self) -> dict[int, str]:
        """Class names by id."""
        return {c.id: c.name for c in self.classes}

    @property
    def to_landcover(self) -> dict[int, int]:
        """Class id of this scheme -> ``landcover`` class id.

        ``cloud`` and ``nodata`` keep their meaning; classes the scheme does
        not map explicitly become ``other`` (0). For ``landcover`` the identity.
        """
        out: dict[int, int] = {}
        for c in self.classes:
            if self.name == LANDCOVER_NAME:
                out[c.id] = c.id
            elif c.name in self.landcover_names:
                out[c.id] = _LANDCOVER_IDS[self.landcover_names[c.name]]
            elif c.id == NODATA or c.name == "nodata":
                out[c.id] = NODATA
            elif c.id == CLOUD or c.name == "cloud":
                out[c.id] = CLOUD
            else:
                out[c.id] = 0
        return out

    def landcover_lut(self) -> np.ndarray:
        """A 256-entry uint8 table: ``lut[mask]`` recodes a mask into ``landcover`` ids.

        Values that are no class of this scheme (e.g. ESA's 0 for no data)
        become nodata (255).
        """
        lut = np.full(256, NODATA, dtype=np.uint8)
        for src, dst in self.to_landcover.items():
            lut[src] = dst
        return lut

    def transition(self, code: int) -> tuple[LandClass, LandClass] | None:
        """``(before, after)`` classes of a code of a change scheme; None for any other code."""
        if self.base is None:
            return None
        states = change_states(self.base)
        n = len(states)
        return (states[code // n], states[code % n]) if 0 <= code < n * n else None

    def to_dict(self) -> dict[str, Any]:
        """The scheme as plain data (what a model file stores); :meth:`from_dict` reads it."""
        return {
            "name": self.name,
            "classes": [
                {"id": c.id, "name": c.name, "color": c.color, "label": c.label}
                for c in self.classes
            ],
            "landcover_names": dict(self.landcover_names),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassScheme:
        """A scheme from :meth:`to_dict` output."""
        try:
            classes = tuple(
                LandClass(int(c["id"]), str(c["name"]), str(c["color"]), str(c.get("label", "")))
                for c in data["classes"]
            )
            return cls(
                str(data["name"]),
                classes,
                dict(data.get("landcover_names", {})),
                str(data.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a class scheme ({type(exc).__name__}: {exc})") from None

    @classmethod
    def from_mapping(cls, name: str, spec: Mapping[str, Mapping[str, object]]) -> ClassScheme:
        """Build a scheme from ``{class_name: {"id": int, "color": "#rrggbb"}}``."""
        classes = tuple(
            LandClass(int(str(v["id"])), str(k), str(v.get("color", "#000000")))
            for k, v in spec.items()
        )
        return cls(name, classes)


LANDCOVER_NAME = "landcover"
_LANDCOVER_IDS = {"other": 0, "forest": 1, "urban": 2, "water": 3, "cloud": CLOUD, "nodata": NODATA}

LANDCOVER = ClassScheme(
    LANDCOVER_NAME,
    (
        LandClass(0, "other", "#d9d9d9"),
        LandClass(1, "forest", "#006400"),
        LandClass(2, "urban", "#fa0000"),
        LandClass(3, "water", "#0064c8"),
        LandClass(CLOUD, "cloud", "#ffffff"),
        LandClass(NODATA, "nodata", "#000000"),
    ),
    description="landmask's forest / urban / water classes",
)

WORLDCOVER = ClassScheme(
    "worldcover",
    (
        LandClass(10, "tree_cover", "#006400", "Tree cover"),
        LandClass(20, "shrubland", "#ffbb22", "Shrubland"),
        LandClass(30, "grassland", "#ffff4c", "Grassland"),
        LandClass(40, "cropland", "#f096ff", "Cropland"),
        LandClass(50, "built_up", "#fa0000", "Built-up"),
        LandClass(60, "bare_sparse_vegetation", "#b4b4b4", "Bare / sparse vegetation"),
        LandClass(70, "snow_and_ice", "#f0f0f0", "Snow and ice"),
        LandClass(80, "permanent_water_bodies", "#0064c8", "Permanent water bodies"),
        LandClass(90, "herbaceous_wetland", "#0096a0", "Herbaceous wetland"),
        LandClass(95, "mangroves", "#00cf75", "Mangroves"),
        LandClass(100, "moss_and_lichen", "#fae6a0", "Moss and lichen"),
        LandClass(NODATA, "nodata", "#000000", "No data"),
    ),
    landcover_names={
        "tree_cover": "forest",
        "mangroves": "forest",
        "built_up": "urban",
        "permanent_water_bodies": "water",
    },
    description="ESA WorldCover 2021 v200",
)

DYNAMIC_WORLD = ClassScheme(
    "dynamic-world",
    (
        LandClass(0, "water", "#419bdf", "Water"),
        LandClass(1, "trees", "#397d49", "Trees"),
        LandClass(2, "grass", "#88b053", "Grass"),
        LandClass(3, "flooded_vegetation", "#7a87c6", "Flooded vegetation"),
        LandClass(4, "crops", "#e49635", "Crops"),
        LandClass(5, "shrub_and_scrub", "#dfc35a", "Shrub and scrub"),
        LandClass(6, "built", "#c4281b", "Built area"),
        LandClass(7, "bare", "#a59b8f", "Bare ground"),
        LandClass(8, "snow_and_ice", "#b39fe1", "Snow and ice"),
        LandClass(CLOUD, "cloud", "#ffffff", "Cloud"),
        LandClass(NODATA, "nodata", "#000000", "No data"),
    ),
    landcover_names={"water": "water", "trees": "forest", "built": "urban"},
    description="Dynamic World V1 labels",
)

ANNUAL = ClassScheme(
    "annual",
    (
        LandClass(0, "other", "#d9d9d9", "Other"),
        LandClass(1, "forest", "#006400", "Forest (green in every season)"),
        LandClass(2, "urban", "#fa0000", "Urban (never green, never water)"),
        LandClass(3, "water", "#0064c8", "Permanent water"),
        LandClass(4, "seasonal_water", "#8cc8f0", "Seasonal water"),
        LandClass(5, "bare", "#b4b4b4", "Bare land (never green)"),
        LandClass(6, "crops_grassland", "#ffdc5a", "Crops and grassland (green part of the year)"),
        LandClass(CLOUD, "cloud", "#ffffff", "Cloud"),
        LandClass(NODATA, "nodata", "#000000", "No data"),
    ),
    landcover_names={"forest": "forest", "urban": "urban", "water": "water"},
    description="classes a year's composite separates by phenology (the annual rules)",
)

#: The built-in schemes by name.
SCHEMES: dict[str, ClassScheme] = {
    s.name: s for s in (LANDCOVER, WORLDCOVER, DYNAMIC_WORLD, ANNUAL)
}

#: A change scheme is named after the scheme of its dates plus this (``landcover-change``).
CHANGE_SUFFIX = "-change"

#: The metadata key (and, lower-case, the array attribute) that records the scheme of the
#: two dates of a change map whose scheme landmask does not know (one made from training
#: labels), as the JSON of :meth:`ClassScheme.to_dict`: without it the map's transitions
#: could not be read back.
BASE_TAG = "CLASS_SCHEME_BASE"


def _generated_color(k: int) -> str:
    """A distinct colour for the ``k``-th unnamed class: hues a golden angle apart."""

    hue = (0.11 + k * 0.618033988749895) % 1.0
    value = 0.85 if k % 2 == 0 else 0.65
    r, g, b = colorsys.hsv_to_rgb(hue, 0.7, value)
    return "#{:02x}{:02x}{:02x}".format(*(round(v * 255) for v in (r, g, b)))


def _known_color(name: str) -> str | None:
    """The colour of a class called ``name`` in a built-in scheme (``water``), or None."""
    for scheme in SCHEMES.values():
        for c in scheme.classes:
            if c.name == name and c.id not in (CLOUD, NODATA):
                return c.color
    return None


def scheme_from_labels(
    name: str,
    labels: Iterable[Any],
    *,
    colors: Mapping[int, str] | None = None,
    description: str = "",
) -> ClassScheme:
    """A class scheme made from a set of labels: the labels' own classes.

    Integer labels (``3``, ``"3"``, ``3.0``) keep their values as ids (named
    ``class_<id>``); otherwise the distinct labels, sorted, get ids ``0 .. n-1``
    and are their classes' names. Ids 254 (cloud) and 255 (nodata) are
    reserved and added as those classes; labels ``cloud`` and ``nodata`` (and
    integer labels 254 and 255) are those classes, not classes of their own.
    A class is coloured by ``colors`` (id -> ``#rrggbb``, e.g. a label
    raster's colour table), else like the class of that name in a built-in
    scheme (``water``), else by a deterministic colour of its position.
    Classes named ``forest``, ``urban`` or ``water`` map onto ``landcover``'s.

    Raises
    ------
    ConfigError
        If there are more than 254 distinct labels.
    """
    texts = {label_text(v) for v in labels} - {"", "cloud", "nodata"}
    if all(t.isdigit() for t in texts):
        ids = sorted(i for i in {int(t) for t in texts} if i < CLOUD)
        pairs = [(i, f"class_{i}") for i in ids]
    else:
        if len(texts) > CLOUD:
            raise ConfigError(f"{len(texts)} distinct labels: a mask holds at most {CLOUD} classes")
        pairs = list(enumerate(sorted(texts)))
    given = dict(colors or {})
    classes = [
        LandClass(i, n, given.get(i) or _known_color(n) or _generated_color(k))
        for k, (i, n) in enumerate(pairs)
    ]
    classes += [LandClass(CLOUD, "cloud", "#ffffff"), LandClass(NODATA, "nodata", "#000000")]
    mapped = {n: n for _, n in pairs if n in ("forest", "urban", "water")}
    return ClassScheme(name, tuple(classes), mapped, description)


def label_text(raw: Any) -> str:
    """A label as text: integral numbers without a fraction (``3.0`` -> ``"3"``)."""
    if isinstance(raw, float | np.floating) and float(raw).is_integer():
        return str(int(raw))
    if isinstance(raw, int | np.integer):
        return str(int(raw))
    return str(raw).strip()


def scheme_attrs(scheme: ClassScheme) -> dict[str, Any]:
    """The attributes that record ``scheme`` on a mask array or polygon frame.

    ``class_scheme`` (its name), ``class_names`` and ``class_colors``
    (``"<id>:<name>"``, ``"<id>:#rrggbb"``): enough for :func:`scheme_in_attrs`
    to rebuild a scheme landmask does not know (one made from training labels).
    """
    attrs: dict[str, Any] = {
        "class_scheme": scheme.name,
        "class_names": [f"{c.id}:{c.name}" for c in scheme],
        "class_colors": [f"{c.id}:{c.color}" for c in scheme],
    }
    attrs |= {k.lower(): v for k, v in _base_tag(scheme).items()}
    return attrs


def scheme_tags(scheme: ClassScheme) -> dict[str, str]:
    """The metadata that records ``scheme`` in a mask file; :func:`scheme_from_tags` reads it.

    ``CLASS_<id>`` names, ``CLASS_SCHEME`` (its name) and, for the change scheme of a
    scheme landmask does not know, that scheme in ``CLASS_SCHEME_BASE``.
    """
    tags = {f"CLASS_{c.id}": c.name for c in scheme}
    tags["CLASS_SCHEME"] = scheme.name
    return tags | _base_tag(scheme)


def _base_tag(scheme: ClassScheme) -> dict[str, str]:
    """``{BASE_TAG: json}`` for a change scheme whose base :func:`get_scheme` cannot name."""
    base = scheme.base
    if base is None or SCHEMES.get(base.name) == base:
        return {}

    return {BASE_TAG: json.dumps(base.to_dict(), separators=(",", ":"))}


def change_states(base: ClassScheme) -> tuple[LandClass, ...]:
    """The classes a change map tracks: every class of ``base`` but cloud and nodata."""
    return tuple(c for c in base if c.id not in (CLOUD, NODATA))


def change_scheme(base: ClassScheme | str) -> ClassScheme:
    """The from-to scheme of change between two masks in scheme ``base``.

    With ``n`` tracked classes (:func:`change_states`, in scheme order), a
    pixel of class index ``i`` before and ``j`` after has code
    ``i * n + j`` (``0 .. n² - 1``), named ``"<before> -> <after>"``
    (``"forest -> urban"``); 255 is nodata (either date nodata or cloud).
    Unchanged codes (``i == j``) are drawn in their class colour faded
    towards white, changes in a darkened 2:1 mix of the after and before
    colours, so that changes stand out.
    The scheme is called ``<base>-change`` (:func:`get_scheme` knows it) and
    needs ``n <= 15``, so that every code fits below 254.
    """
    base = get_scheme(base)
    if base.base is not None:
        raise ConfigError(f"scheme {base.name!r} is already a change scheme")
    states = change_states(base)
    n = len(states)
    if not 1 <= n <= 15:
        raise ConfigError(
            f"class scheme {base.name!r}: a change map tracks 1 to 15 classes, it has {n}"
        )
    classes = []
    for i, a in enumerate(states):
        for j, b in enumerate(states):
            ca, cb = np.array(a.rgba[:3], float), np.array(b.rgba[:3], float)
            rgb = ca + 0.75 * (255 - ca) if i == j else 0.8 * (2 * cb + ca) / 3
            color = "#{:02x}{:02x}{:02x}".format(*np.rint(rgb).astype(int))
            label = f"{a.title} -> {b.title}"
            classes.append(LandClass(i * n + j, f"{a.name} -> {b.name}", color, label))
    classes.append(LandClass(NODATA, "nodata", "#000000", "No data"))
    return ClassScheme(
        base.name + CHANGE_SUFFIX,
        tuple(classes),
        description=f"from-to change of {base.name}: code = before index * {n} + after index",
        base=base,
    )


def get_scheme(name: str | ClassScheme) -> ClassScheme:
    """A built-in class scheme by name (``landcover``, ``worldcover``, ``dynamic-world``).

    ``<name>-change`` is the from-to change scheme of a built-in one
    (:func:`change_scheme`).
    """
    if isinstance(name, ClassScheme):
        return name
    if name in SCHEMES:
        return SCHEMES[name]
    base = name[: -len(CHANGE_SUFFIX)] if name.endswith(CHANGE_SUFFIX) else ""
    if base in SCHEMES:
        return change_scheme(SCHEMES[base])
    raise ConfigError(f"unknown class scheme {name!r} (known: {', '.join(SCHEMES)})")


def scheme_from_tags(
    tags: Mapping[str, Any], colormap: Mapping[int, tuple[int, ...]] | None = None
) -> ClassScheme:
    """The scheme a mask file records: ``CLASS_SCHEME`` and ``CLASS_<id>`` metadata.

    A built-in scheme is found by name. A scheme landmask does not know is
    rebuilt from the ``CLASS_<id>`` names and the colour table; a file with
    neither is taken to be ``landcover``.
    """
    return scheme_in_tags(tags, colormap) or LANDCOVER


def scheme_in_tags(
    tags: Mapping[str, Any], colormap: Mapping[int, tuple[int, ...]] | None = None
) -> ClassScheme | None:
    """The scheme ``tags`` record (see :func:`scheme_from_tags`); None when they record none."""
    name = str(tags.get("CLASS_SCHEME", "") or "")
    with contextlib.suppress(ConfigError):
        return get_scheme(name)
    changed = _recorded_change_scheme(name, tags.get(BASE_TAG))
    if changed is not None:
        return changed
    classes = []
    for key, value in tags.items():
        suffix = str(key)[6:]
        if str(key).startswith("CLASS_") and suffix.isdigit() and int(suffix) < 256:
            rgba = (colormap or {}).get(int(suffix), (0, 0, 0, 255))
            color = "#{:02x}{:02x}{:02x}".format(*rgba[:3])
            classes.append(LandClass(int(suffix), str(value), color))
    if not classes:
        return None
    try:
        return ClassScheme(name or "custom", tuple(sorted(classes, key=lambda c: c.id)))
    except ConfigError:
        return None


def _recorded_change_scheme(name: str, base: Any) -> ClassScheme | None:
    """The change scheme ``name`` of the base scheme recorded as JSON in ``base``; or None."""
    if not base or not name.endswith(CHANGE_SUFFIX):
        return None

    try:
        scheme = change_scheme(ClassScheme.from_dict(json.loads(str(base))))
    except (ConfigError, ValueError):
        return None
    return scheme if scheme.name == name else None


def scheme_in_attrs(attrs: Mapping[str, Any] | None) -> ClassScheme | None:
    """The scheme the attributes of a mask array or polygon frame record; None if none.

    ``class_scheme``, ``class_names`` and ``class_colors`` (:func:`scheme_attrs`,
    set by :func:`landmask.classify`), or the ``CLASS_SCHEME`` and
    ``CLASS_<id>`` attributes rioxarray reads from a mask file.
    """
    attrs = dict(attrs or {})
    for key in ("class_scheme", BASE_TAG.lower()):
        if key in attrs and key.upper() not in attrs:
            attrs[key.upper()] = attrs[key]
    colors: dict[int, tuple[int, ...]] = {}
    for key, name in (("class_colors", "color"), ("class_names", "name")):
        entries = attrs.get(key)
        for entry in entries if isinstance(entries, list | tuple) else ():
            number, _, value = str(entry).partition(":")
            if not number.isdigit() or int(number) > 255:
                continue
            if name == "name":
                attrs.setdefault(f"CLASS_{int(number)}", value)
            elif len(value) == 7 and value.startswith("#"):
                colors[int(number)] = tuple(int(value[k : k + 2], 16) for k in (1, 3, 5))
    return scheme_in_tags(attrs, colors or None)


def _mask_shape(arr: Any) -> tuple[bool, str, str]:
    """Whether ``arr`` is a mask, what a mask is in its kind, and what ``arr`` is, in words."""
    if hasattr(arr, "ndim"):  # numpy, Dask, xarray
        dtype = np.dtype(arr.dtype)
        ok = arr.ndim == 2 and dtype == np.uint8
        return ok, "2-D uint8 class ids", f"{arr.ndim}-D {dtype}"
    count, dtype = arr.count, arr.dtypes[0]  # an open rasterio dataset
    bands = "1 band" if count == 1 else f"{count} bands"
    return count == 1 and dtype == "uint8", "1 band of uint8 class ids", f"{bands} of {dtype}"


def is_mask(arr: Any) -> bool:
    """Whether ``arr`` holds class ids: a 2-D uint8 array, or a raster of one uint8 band.

    ``arr`` is a numpy or Dask array, a DataArray or an open rasterio dataset.
    """
    return _mask_shape(arr)[0]


def check_mask(arr: Any, what: str = "the mask") -> None:
    """Raise :class:`~landmask.errors.InputError` unless ``arr`` is a mask (:func:`is_mask`).

    ``what`` names the input in the one-line message: a path, an argument or
    a method (``.landmask.vectorize()``).
    """
    ok, expected, got = _mask_shape(arr)
    if not ok:
        raise InputError(f"{what}: not a mask (expected {expected}, got {got})")
