"""Accuracy statistics of a map against reference data.

Pure numpy, no I/O: confusion-matrix scores and the stratified estimators of
Olofsson et al. (2014), "Good practices for estimating area and assessing
accuracy of land change", Remote Sens. Environ. 148:42-57, for a sample drawn
stratified by map class (equations 2-10 there):

* ``W_i = A_i / A`` the share of the map in stratum (map class) ``i``;
* ``p_ij = W_i n_ij / n_i.`` the estimated area proportion of map ``i``, reference ``j``;
* area of reference class ``j``: ``A p_.j``, standard error
  ``A sqrt(sum_i W_i^2 (n_ij/n_i.)(1 - n_ij/n_i.) / (n_i. - 1))``;
* user's accuracy ``U_i = n_ii / n_i.``, ``V = U_i (1 - U_i) / (n_i. - 1)``;
* producer's accuracy ``P_j = p_jj / p_.j`` with the variance of their eq. 7;
* overall accuracy ``O = sum_j p_jj``, ``V = sum_i W_i^2 U_i (1 - U_i) / (n_i. - 1)``.

Confidence intervals are ``estimate +- z * SE`` with ``z = 1.96`` (95%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Z95", "AreaEstimate", "area_adjusted", "kappa"]

Z95 = 1.96


def kappa(matrix: np.ndarray) -> float:
    """Cohen's kappa of a square confusion matrix of counts (NaN if undefined)."""
    m = np.asarray(matrix, dtype=float)
    total = m.sum()
    if total == 0:
        return float("nan")
    observed = np.trace(m) / total
    expected = float((m.sum(0) * m.sum(1)).sum()) / total**2
    return float((observed - expected) / (1 - expected)) if expected < 1 else float("nan")


@dataclass(frozen=True)
class AreaEstimate:
    """Error-adjusted areas and accuracies with 95% confidence half-widths.

    Arrays are indexed like ``classes``; areas are in the unit of
    ``map_area`` (pixels times ``pixel_area``, e.g. m²).
    """

    classes: tuple[int, ...]
    sample: np.ndarray  # n_ij: rows map class, columns reference class
    map_area: np.ndarray  # A_i: mapped area of each class
    proportions: np.ndarray  # p_ij
    area: np.ndarray
    area_ci: np.ndarray
    users_accuracy: np.ndarray
    users_accuracy_ci: np.ndarray
    producers_accuracy: np.ndarray
    producers_accuracy_ci: np.ndarray
    overall_accuracy: float
    overall_accuracy_ci: float


def area_adjusted(
    sample: np.ndarray,
    map_pixels: Sequence[float] | np.ndarray,
    *,
    classes: Sequence[int] | None = None,
    pixel_area: float = 1.0,
    z: float = Z95,
) -> AreaEstimate:
    """Stratified estimates of area and accuracy (Olofsson et al. 2014).

    Parameters
    ----------
    sample
        ``n_ij``: sample counts, rows the map class (stratum), columns the
        reference class, in the order of ``classes``.
    map_pixels
        Pixels mapped as each class (stratum sizes).
    classes
        Class ids of the rows/columns (default ``0..k-1``).
    pixel_area
        Area of one pixel, to express areas in m² (or any unit).
    z
        Normal quantile of the confidence intervals.

    Strata with fewer than two samples give NaN variances for the terms that
    need ``n_i. - 1``.
    """
    n = np.asarray(sample, dtype=float)
    k = n.shape[0]
    if n.shape != (k, k):
        raise ValueError(f"sample must be a square matrix, got {n.shape}")
    mapped = np.asarray(map_pixels, dtype=float) * pixel_area
    if mapped.shape != (k,):
        raise ValueError(f"map_pixels must have {k} entries, got {mapped.shape}")
    total = mapped.sum()
    w = mapped / total
    n_i = n.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = n / n_i[:, None]  # n_ij / n_i.
        p = w[:, None] * frac
        p_col = p.sum(axis=0)
        var_p_col = (w[:, None] ** 2 * frac * (1 - frac) / (n_i[:, None] - 1)).sum(axis=0)
        users = np.diag(frac).copy()
        var_users = users * (1 - users) / (n_i - 1)
        producers = np.diag(p) / p_col
        overall = float(np.trace(p))
        var_overall = float((w**2 * users * (1 - users) / (n_i - 1)).sum())
        # eq. 7: N_j. mapped pixels of j; N_.j estimated reference pixels of j
        big_n_row = mapped / pixel_area
        big_n_col = (big_n_row[:, None] / n_i[:, None] * n).sum(axis=0)
        var_producers = np.empty(k)
        for j in range(k):
            others = [i for i in range(k) if i != j]
            spread = sum(
                big_n_row[i] ** 2 * frac[i, j] * (1 - frac[i, j]) / (n_i[i] - 1) for i in others
            )
            var_producers[j] = (
                big_n_row[j] ** 2
                * (1 - producers[j]) ** 2
                * users[j]
                * (1 - users[j])
                / (n_i[j] - 1)
                + producers[j] ** 2 * spread
            ) / big_n_col[j] ** 2
    return AreaEstimate(
        classes=tuple(classes) if classes is not None else tuple(range(k)),
        sample=n,
        map_area=mapped,
        proportions=p,
        area=total * p_col,
        area_ci=z * total * np.sqrt(var_p_col),
        users_accuracy=users,
        users_accuracy_ci=z * np.sqrt(var_users),
        producers_accuracy=producers,
        producers_accuracy_ci=z * np.sqrt(var_producers),
        overall_accuracy=overall,
        overall_accuracy_ci=z * float(np.sqrt(var_overall)),
    )
