"""Band math: expressions, spectral indices, threshold rules and rule sets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.spectral.expressions import parse
    from landmask.spectral.indices import INDICES, compute_indices
    from landmask.spectral.rules import RuleSet, load_rules

__all__ = ["INDICES", "RuleSet", "compute_indices", "load_rules", "parse"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "INDICES": "landmask.spectral.indices",
        "RuleSet": "landmask.spectral.rules",
        "compute_indices": "landmask.spectral.indices",
        "load_rules": "landmask.spectral.rules",
        "parse": "landmask.spectral.expressions",
    },
)
