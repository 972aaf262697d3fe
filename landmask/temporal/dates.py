"""The acquisition time of each input, and the dates of a period.

An input is a local STAC item (its ``datetime``, else ``start_datetime``), an
ItemCollection or catalog (each item), or files named as a provider names them
(the sensing date of the product id, ``MTL`` or ``MTD`` metadata; files of one
product in one folder form one scene). Scenes of one acquisition (the same
platform on the same day: neighbouring tiles, or a tile given twice) form one
date and are merged, never counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from landmask.errors import ConfigError, InputError
from landmask.io.sensors.provider import product_of_file
from landmask.io.sensors.times import item_times
from landmask.io.stac.read import read_items

__all__ = ["Date", "Period", "Scene", "gather_dates", "parse_period"]


@dataclass(frozen=True)
class Scene:
    """One input scene: a STAC item or the files of one product, with its time."""

    when: datetime
    platform: str
    source: Any  # a pystac.Item or a tuple of absolute paths
    label: str


@dataclass(frozen=True)
class Date:
    """One acquisition: the scenes of one platform on one day (merged in input order)."""

    day: date
    platform: str
    scenes: tuple[Scene, ...]

    @property
    def when(self) -> datetime:
        """The earliest time among the scenes."""
        return min(s.when for s in self.scenes)


@dataclass(frozen=True)
class Period:
    """A closed interval of days, ``START/END`` (either side may be open: ``../END``)."""

    start: date | None
    end: date | None

    def __contains__(self, when: datetime) -> bool:
        d = when.date()
        return (self.start is None or d >= self.start) and (self.end is None or d <= self.end)

    def __str__(self) -> str:
        return f"{self.start or '..'}/{self.end or '..'}"


def parse_period(text: str) -> Period:
    """``2024-04-01/2024-09-30`` (ISO dates, ``..`` for an open side) -> :class:`Period`."""
    start_text, sep, end_text = text.strip().partition("/")
    if not sep:
        raise ConfigError(f"--period {text!r}: expected START/END, e.g. 2024-04-01/2024-09-30")
    try:
        start = None if start_text in ("", "..") else date.fromisoformat(start_text[:10])
        end = None if end_text in ("", "..") else date.fromisoformat(end_text[:10])
    except ValueError as exc:
        raise ConfigError(f"--period {text!r}: {exc}") from None
    if start and end and start > end:
        raise ConfigError(f"--period {text!r}: starts after it ends")
    return Period(start, end)


def gather_dates(
    inputs: Sequence[Any], period: Period | None = None
) -> tuple[list[Date], list[Scene]]:
    """The inputs' scenes grouped into dates, in time order, and the scenes outside ``period``.

    Raises
    ------
    InputError
        An item without a datetime, files with no date in their names or
        metadata, or no input at all.
    """
    scenes: list[Scene] = []
    files: list[str] = []
    for entry in inputs:
        if not isinstance(entry, str | os.PathLike):
            scenes.append(_item_scene(entry))
        elif os.fspath(entry).lower().endswith(".json"):
            scenes.extend(_item_scene(item) for item in read_items(entry))
        else:
            files.append(os.path.abspath(os.fspath(entry)))
    scenes.extend(_file_scenes(files))
    if not scenes:
        raise InputError("no input scene given")
    outside = [s for s in scenes if period is not None and s.when not in period]
    kept = [s for s in scenes if s not in outside]
    groups: dict[tuple[date, str], list[Scene]] = {}
    for scene in kept:
        groups.setdefault((scene.when.date(), scene.platform), []).append(scene)
    dates = [Date(day, platform, tuple(group)) for (day, platform), group in groups.items()]
    return sorted(dates, key=lambda d: (d.when, d.platform)), outside


def _item_scene(item: Any) -> Scene:

    times = item_times(item.properties)
    label = item.get_self_href() or item.id
    if not times:
        raise InputError(f"{label}: the STAC item has no datetime or start_datetime")
    platform = str(item.properties.get("platform", "")).lower()
    return Scene(times[0], platform, item, str(item.id))


def _file_scenes(paths: Sequence[str]) -> list[Scene]:

    groups: dict[tuple[str, str, str], list[str]] = {}
    for path in paths:
        product = product_of_file(path)
        if product is None or not product.sensing_date:
            raise InputError(
                f"{path}: no acquisition date in its name or metadata (name files as the "
                "provider does, e.g. LC08_L2SP_..._20240601_..._SR_B4.TIF, or give STAC items)"
            )
        platform = product.platform or product.mission
        key = (os.path.dirname(path), product.sensing_date, platform)
        groups.setdefault(key, []).append(path)
    out = []
    for (folder, day, platform), group in groups.items():
        when = datetime.strptime(day[:8], "%Y%m%d").replace(tzinfo=UTC)
        out.append(Scene(when, platform, tuple(group), f"{folder}/ ({day})"))
    return out
