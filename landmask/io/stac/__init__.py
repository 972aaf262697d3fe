"""STAC: reading items and collections (read) and writing an item beside every output (items)."""

from __future__ import annotations

from landmask.io.stac.items import build_item, write_item
from landmask.io.stac.read import load_item, read_items

__all__ = ["build_item", "load_item", "read_items", "write_item"]
