"""Per-class area summaries (pixel areas: :meth:`landmask.grid.Grid.pixel_area`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS

from landmask.classes import LANDCOVER, ClassScheme
from landmask.grid import Grid

__all__ = ["ClassArea", "class_areas", "format_areas"]


@dataclass(frozen=True)
class ClassArea:
    """Pixels and area of one class."""

    class_id: int
    name: str
    pixels: int
    km2: float
    share: float


def class_areas(
    counts: Mapping[int, int], transform: Affine, crs: CRS | None, scheme: ClassScheme = LANDCOVER
) -> list[ClassArea]:
    """Per-class pixels, km² and share of valid (non-nodata) pixels, by class id."""
    area, _ = Grid(crs, transform, 1, 1).pixel_area()
    valid = sum(n for c, n in counts.items() if c != 255) or 1
    return [
        ClassArea(c, scheme.name_of(c), n, n * area / 1e6, n / valid if c != 255 else float("nan"))
        for c, n in sorted(counts.items())
    ]


def format_areas(rows: list[ClassArea], exact: bool = True) -> str:
    """A plain-text table of :func:`class_areas` rows."""
    unit = "km2" if exact else "~km2"
    lines = [f"{'class':<10} {'id':>3} {'pixels':>12} {unit:>12} {'share':>7}"]
    for r in rows:
        share = "" if r.class_id == 255 else f"{100 * r.share:6.1f}%"
        lines.append(f"{r.name:<10} {r.class_id:>3} {r.pixels:>12,} {r.km2:>12,.3f} {share:>7}")
    return "\n".join(lines)
