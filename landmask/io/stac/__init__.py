"""STAC: reading items and collections (read) and writing an item beside every output (items)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.io.stac.items import build_item, write_item
    from landmask.io.stac.read import load_item, read_items

__all__ = ["build_item", "load_item", "read_items", "write_item"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "build_item": "landmask.io.stac.items",
        "load_item": "landmask.io.stac.read",
        "read_items": "landmask.io.stac.read",
        "write_item": "landmask.io.stac.items",
    },
)
