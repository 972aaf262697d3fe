"""Evaluating a mask against ground truth: confusion matrix and scores, chunk by chunk.

The confusion matrix is a bincount of (truth, prediction) pairs per chunk,
summed by Dask; pixels where either side is nodata (255) are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

from landmask.classes import LANDCOVER, NODATA, ClassScheme
from landmask.errors import GridError

__all__ = ["Evaluation", "confusion_block", "evaluate"]


def confusion_block(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Block function: ``(256, 256)`` counts of (truth, prediction) class-id pairs."""
    pairs = truth.astype(np.int64).ravel() * 256 + pred.astype(np.int64).ravel()
    return np.bincount(pairs, minlength=256 * 256).reshape(256, 256)


@dataclass(frozen=True)
class Evaluation:
    """Agreement of a prediction with the truth.

    ``matrix[i, j]`` counts pixels of true class ``classes[i]`` predicted as
    ``classes[j]``; ``ignored`` counts pixels left out because either side is
    nodata.
    """

    classes: tuple[int, ...]
    matrix: np.ndarray
    ignored: int
    scheme: ClassScheme = LANDCOVER

    def _diag(self) -> np.ndarray:
        return np.diag(self.matrix).astype(float)

    @property
    def iou(self) -> dict[int, float]:
        """Intersection over union per class (NaN for a class absent on both sides)."""
        tp = self._diag()
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return dict(zip(self.classes, (tp / union).tolist(), strict=True))

    @property
    def precision(self) -> dict[int, float]:
        """Per class: correct / predicted (user's accuracy)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            values = self._diag() / self.matrix.sum(0)
        return dict(zip(self.classes, values.tolist(), strict=True))

    @property
    def recall(self) -> dict[int, float]:
        """Per class: correct / true (producer's accuracy)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            values = self._diag() / self.matrix.sum(1)
        return dict(zip(self.classes, values.tolist(), strict=True))

    @property
    def f1(self) -> dict[int, float]:
        """Per class harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return {
            c: (2 * p[c] * r[c] / (p[c] + r[c]) if p[c] + r[c] > 0 else float("nan"))
            for c in self.classes
        }

    @property
    def overall_accuracy(self) -> float:
        """Share of compared pixels that agree."""
        total = self.matrix.sum()
        return float(self._diag().sum() / total) if total else float("nan")

    @property
    def miou(self) -> float:
        """Mean IoU over the classes present on either side."""
        values = [v for v in self.iou.values() if not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")

    def table(self) -> str:
        """A plain-text table of per-class scores."""
        lines = [f"{'class':<10} {'IoU':>6} {'prec':>6} {'recall':>6} {'F1':>6}"]
        iou, p, r, f1 = self.iou, self.precision, self.recall, self.f1
        for c in self.classes:
            lines.append(
                f"{self.scheme.name_of(c):<10} {iou[c]:6.3f} {p[c]:6.3f} {r[c]:6.3f} {f1[c]:6.3f}"
            )
        lines.append(f"mIoU {self.miou:.3f}   overall accuracy {self.overall_accuracy:.3f}")
        return "\n".join(lines)


def evaluate(
    pred: xr.DataArray, truth: xr.DataArray, scheme: ClassScheme = LANDCOVER
) -> Evaluation:
    """Compare two masks on the same grid, chunk by chunk.

    Parameters
    ----------
    pred, truth
        ``(y, x)`` uint8 class-id masks with identical shape and transform;
        255 is nodata on either side.

    Returns
    -------
    Evaluation
        Confusion matrix over the classes present on either side and scores.
    """
    if pred.shape != truth.shape:
        raise GridError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
    both = pred.rio.crs is not None and truth.rio.crs is not None
    if both and (
        pred.rio.crs != truth.rio.crs
        or not pred.rio.transform().almost_equals(truth.rio.transform())
    ):
        raise GridError("prediction and truth are not on the same grid")
    p = _dask(pred)
    t = _dask(truth).rechunk(p.chunks)
    full = _confusions(p, t).compute()
    present = [c for c in range(256) if c != NODATA and (full[c, :].sum() or full[:, c].sum())]
    ignored = int(full[NODATA, :].sum() + full[:, NODATA].sum() - full[NODATA, NODATA])
    matrix = full[np.ix_(present, present)]
    return Evaluation(tuple(present), matrix, ignored, scheme)


def _confusions(p: da.Array, t: da.Array) -> da.Array:
    """Sum of per-chunk confusion matrices, as a lazy ``(256, 256)`` array."""
    per_chunk = da.map_blocks(
        _confusion_4d,
        p,
        t,
        new_axis=[2, 3],
        chunks=((1,) * p.numblocks[0], (1,) * p.numblocks[1], (256,), (256,)),
        dtype=np.int64,
        meta=np.empty((0, 0, 0, 0), dtype=np.int64),
    )
    return per_chunk.sum(axis=(0, 1))


def _confusion_4d(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return confusion_block(pred, truth).reshape(1, 1, 256, 256)


def _dask(arr: xr.DataArray) -> da.Array:
    data = arr.data
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks=2048)
