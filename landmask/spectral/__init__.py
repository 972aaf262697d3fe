"""Band math: expressions, spectral indices, threshold rules and rule sets."""

from __future__ import annotations

from landmask.spectral.expressions import parse
from landmask.spectral.indices import INDICES, compute_indices
from landmask.spectral.rules import RuleSet, load_rules

__all__ = ["INDICES", "RuleSet", "compute_indices", "load_rules", "parse"]
