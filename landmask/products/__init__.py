"""Products derived from a mask for other tools: plain/RGB exports and masked imagery."""

from __future__ import annotations

from landmask.products.apply import apply_mask
from landmask.products.export import export_mask

__all__ = ["apply_mask", "export_mask"]
