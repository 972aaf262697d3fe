"""Plots with matplotlib: each takes and returns matplotlib axes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from landmask.classes import ClassScheme

if TYPE_CHECKING:
    from landmask.evaluate import Evaluation

__all__ = ["confusion_matrix", "mask_image"]


def mask_image(data: np.ndarray, scheme: ClassScheme, ax: Any = None) -> Any:
    """Draw a class-id array in the scheme's colours with a legend of the classes present.

    Nodata (255) is transparent and left out of the legend.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots()
    lut = np.zeros((256, 4), dtype=float)
    for c in scheme:
        lut[c.id] = np.array(c.rgba) / 255
    ax.imshow(lut[data], interpolation="nearest")
    present = np.flatnonzero(np.bincount(data.ravel(), minlength=256))
    handles = [
        Patch(facecolor=lut[i], edgecolor="0.3", label=scheme.name_of(int(i)))
        for i in present
        if lut[i][3] > 0
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax


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
