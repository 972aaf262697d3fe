"""Masks against ground truth: truth readers, confusion matrices, area-adjusted accuracy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.evaluation.accuracy import AreaEstimate, area_adjusted, kappa
    from landmask.evaluation.evaluate import Evaluation, evaluate

__all__ = ["AreaEstimate", "Evaluation", "area_adjusted", "evaluate", "kappa"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "AreaEstimate": "landmask.evaluation.accuracy",
        "Evaluation": "landmask.evaluation.evaluate",
        "area_adjusted": "landmask.evaluation.accuracy",
        "evaluate": "landmask.evaluation.evaluate",
        "kappa": "landmask.evaluation.accuracy",
    },
)
