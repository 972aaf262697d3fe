"""Products derived from a mask for other tools: plain/RGB exports and masked imagery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.products.apply import apply_mask
    from landmask.products.export import export_mask

__all__ = ["apply_mask", "export_mask"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "apply_mask": "landmask.products.apply",
        "export_mask": "landmask.products.export",
    },
)
