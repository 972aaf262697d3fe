"""Acquisition times: ISO 8601 text read as UTC, written back, and the times a STAC item gives.

The one home for reading a time, for what the provider's names and metadata
say (:mod:`landmask.io.sensors.provider`), the STAC items beside outputs
(:mod:`landmask.io.stac.items`) and the dates of a period
(:mod:`landmask.temporal.dates`). A time without a zone is UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

__all__ = ["iso_utc", "item_times", "parse_utc"]


def parse_utc(text: Any) -> dt.datetime | None:
    """``2022-03-01T10:18:41.024Z`` (or ``+01:00``, or no zone: UTC) as a UTC datetime.

    None for an empty value or text that is not ISO 8601.
    """
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def iso_utc(t: dt.datetime) -> str:
    """``t`` as ISO 8601 UTC with a ``Z``: ``2024-06-01T10:10:31Z`` (a naive ``t`` is UTC)."""
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.isoformat().replace("+00:00", "Z")


def item_times(properties: Mapping[str, Any]) -> list[dt.datetime]:
    """The times a STAC item's properties give: its ``datetime``, else its
    ``start_datetime`` and ``end_datetime`` (those that parse)."""
    keys = ("datetime",) if properties.get("datetime") else ("start_datetime", "end_datetime")
    times = [parse_utc(properties.get(k)) for k in keys]
    return [t for t in times if t is not None]
