"""Plots with matplotlib: each takes and returns matplotlib axes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from landmask.evaluate import Evaluation

__all__ = ["confusion_matrix"]


def confusion_matrix(evaluation: Evaluation, ax: Any = None, *, normalize: bool = True) -> Any:
    """Heat map of a confusion matrix (rows truth, columns prediction).

    Cells are coloured by the share of their row (recall) when ``normalize``,
    and labelled with counts; axis ticks carry the class names.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(
            figsize=(1.2 * len(evaluation.classes) + 2.5, 1.0 * len(evaluation.classes) + 2)
        )
    m = evaluation.matrix.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shade = m / m.sum(axis=1, keepdims=True) if normalize else m
    image = ax.imshow(np.nan_to_num(shade), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    names = [evaluation.scheme.name_of(c) for c in evaluation.classes]
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    for (i, j), count in np.ndenumerate(evaluation.matrix):
        dark = shade[i, j] > 0.6 if np.isfinite(shade[i, j]) else False
        ax.text(
            j, i, f"{int(count):,}", ha="center", va="center", color="white" if dark else "black"
        )
    ax.set_title(f"mIoU {evaluation.miou:.3f}, overall accuracy {evaluation.overall_accuracy:.3f}")
    ax.figure.colorbar(image, ax=ax, label="share of truth row" if normalize else "count")
    return ax
