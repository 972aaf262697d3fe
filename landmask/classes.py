"""Class schemes: the ids, names and colours of a mask's classes.

A scheme is data. The default ``landcover`` scheme is the one of DESIGN.md:
0 other, 1 forest, 2 urban, 3 water, 254 cloud, 255 nodata, coloured after
ESA WorldCover.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from landmask.errors import ConfigError

__all__ = ["CLOUD", "LANDCOVER", "NODATA", "ClassScheme", "LandClass", "get_scheme"]

NODATA = 255
CLOUD = 254


@dataclass(frozen=True)
class LandClass:
    """One class of a scheme: its id, name and display colour (``#rrggbb``)."""

    id: int
    name: str
    color: str

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

    def __post_init__(self) -> None:
        ids = [c.id for c in self.classes]
        names = [c.name for c in self.classes]
        if len(set(ids)) != len(ids) or len(set(names)) != len(names):
            raise ConfigError(f"class scheme {self.name!r}: ids and names must be unique")
        if any(not 0 <= i <= 255 for i in ids):
            raise ConfigError(f"class scheme {self.name!r}: ids must be within 0..255")

    def __iter__(self) -> Iterator[LandClass]:
        return iter(self.classes)

    def id_of(self, name: str) -> int:
        """The id of the class called ``name``."""
        for c in self.classes:
            if c.name == name:
                return c.id
        known = ", ".join(c.name for c in self.classes)
        raise ConfigError(f"unknown class {name!r} in scheme {self.name!r} (known: {known})")

    def name_of(self, class_id: int) -> str:
        """The name of class ``class_id`` (``class_<id>`` when the scheme lacks it)."""
        for c in self.classes:
            if c.id == class_id:
                return c.name
        return f"class_{class_id}"

    @property
    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """A GDAL colour table: id -> RGBA."""
        return {c.id: c.rgba for c in self.classes}

    @property
    def names(self) -> dict[int, str]:
        """Class names by id."""
        return {c.id: c.name for c in self.classes}

    @classmethod
    def from_mapping(cls, name: str, spec: Mapping[str, Mapping[str, object]]) -> ClassScheme:
        """Build a scheme from ``{class_name: {"id": int, "color": "#rrggbb"}}``."""
        classes = tuple(
            LandClass(int(str(v["id"])), str(k), str(v.get("color", "#000000")))
            for k, v in spec.items()
        )
        return cls(name, classes)


LANDCOVER = ClassScheme(
    "landcover",
    (
        LandClass(0, "other", "#d9d9d9"),
        LandClass(1, "forest", "#006400"),
        LandClass(2, "urban", "#fa0000"),
        LandClass(3, "water", "#0064c8"),
        LandClass(CLOUD, "cloud", "#ffffff"),
        LandClass(NODATA, "nodata", "#000000"),
    ),
)

_SCHEMES = {LANDCOVER.name: LANDCOVER}


def get_scheme(name: str) -> ClassScheme:
    """A built-in class scheme by name."""
    try:
        return _SCHEMES[name]
    except KeyError:
        raise ConfigError(f"unknown class scheme {name!r} (known: {', '.join(_SCHEMES)})") from None
