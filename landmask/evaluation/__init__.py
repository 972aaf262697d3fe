"""Masks against ground truth: truth readers, confusion matrices, area-adjusted accuracy."""

from __future__ import annotations

from landmask.evaluation.accuracy import AreaEstimate, area_adjusted, kappa
from landmask.evaluation.evaluate import Evaluation, evaluate

__all__ = ["AreaEstimate", "Evaluation", "area_adjusted", "evaluate", "kappa"]
