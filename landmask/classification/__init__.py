"""Reflectance to class ids: rules or a model, and quality (cloud) masking."""

from __future__ import annotations

from landmask.classification.classify import classify, classify_with_probabilities
from landmask.classification.quality import apply_quality, quality_mask

__all__ = ["apply_quality", "classify", "classify_with_probabilities", "quality_mask"]
