"""Reflectance to class ids: rules or a model, and quality (cloud) masking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.classification.classify import classify, classify_with_probabilities
    from landmask.classification.quality import apply_quality, quality_mask

__all__ = ["apply_quality", "classify", "classify_with_probabilities", "quality_mask"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "apply_quality": "landmask.classification.quality",
        "classify": "landmask.classification.classify",
        "classify_with_probabilities": "landmask.classification.classify",
        "quality_mask": "landmask.classification.quality",
    },
)
