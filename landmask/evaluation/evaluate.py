"""Evaluating a mask against ground truth, chunk by chunk.

Truth comes as a raster (on the prediction's grid, or on any other grid/CRS,
then warped lazily onto the prediction's grid by nearest neighbour), as
polygons (rasterized chunk by chunk onto the prediction's grid, pixel centres
inside a polygon, all-touched off; where polygons overlap the later one wins)
or as points (the prediction is sampled at each point). Labels become class
ids directly (ids or class names) or through a label map. A mask or truth in
another class scheme (``worldcover``, ``dynamic-world``) is recoded into
``landcover`` through the scheme's ``to_landcover`` mapping; a mask file
names its scheme in its metadata, so this needs no option. A change map
(``landmask change``, scheme ``<scheme>-change``) is compared in its own
scheme, with truth labelled by transition (``forest -> urban``).

The confusion matrix is a bincount of (truth, prediction) pairs per chunk,
summed by Dask. Pixels where either side is nodata (255) or cloud (254) are
left out and counted. With point truth the points are also a sample
stratified by the mapped classes, so the error-adjusted areas and accuracies
of Olofsson et al. (2014) are reported too (:mod:`landmask.evaluation.accuracy`).
The truth readers are in :mod:`landmask.io.read.labels`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import CLOUD, LANDCOVER, NODATA, SCHEMES, ClassScheme, check_mask, get_scheme
from landmask.errors import ConfigError, GridError, InputError
from landmask.evaluation.accuracy import AreaEstimate, area_adjusted, kappa
from landmask.grid import Grid
from landmask.io.read.labels import (
    GridLabels,
    Labels,
    is_raster_path,
    labels_on_grid,
    parse_label_map,
    polygon_truth,
    raster_truth,
    vector_truth,
)
from landmask.io.read.masks import open_mask
from landmask.io.read.schemes import resolve_scheme

__all__ = [
    "ByClass",
    "Evaluation",
    "GridLabels",
    "confusion_block",
    "evaluate",
    "labels_on_grid",
    "parse_label_map",
]

_IGNORED = (CLOUD, NODATA)


def confusion_block(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Block function: ``(256, 256)`` counts of (truth, prediction) class-id pairs."""
    pairs = truth.astype(np.int64).ravel() * 256 + pred.astype(np.int64).ravel()
    return np.bincount(pairs, minlength=256 * 256).reshape(256, 256)


class ByClass(dict[str, float]):
    """Per-class scores keyed by class name, as :meth:`Evaluation.to_dict` keys them
    (``report.iou["water"]``); a class id works too (``report.iou[3]``)."""

    def __init__(self, values: dict[str, float], ids: dict[int, str]) -> None:
        super().__init__(values)
        self.ids = ids

    def __getitem__(self, key: str | int) -> float:
        if isinstance(key, int | np.integer) and key in self.ids:
            key = self.ids[int(key)]
        return super().__getitem__(key)  # type: ignore[index]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, int | np.integer) and int(key) in self.ids:
            return True
        return super().__contains__(key)

    def get(self, key: str | int, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


@dataclass(frozen=True)
class Evaluation:
    """Agreement of a prediction with the truth.

    ``matrix[i, j]`` counts pixels (or points) of true class ``classes[i]``
    predicted as ``classes[j]``. ``ignored`` counts those left out; ``notes``
    says why (``nodata``, ``outside``, ``unmapped_labels``, ...).
    """

    classes: tuple[int, ...]
    matrix: np.ndarray
    ignored: int
    scheme: ClassScheme = LANDCOVER
    kind: str = "pixels"
    pixel_area: float = float("nan")
    notes: dict[str, int] = field(default_factory=dict)
    area_estimate: AreaEstimate | None = None

    def _diag(self) -> np.ndarray:
        return np.diag(self.matrix).astype(float)

    def _per_class(self, values: np.ndarray) -> ByClass:
        ids = {c: self.scheme.name_of(c) for c in self.classes}
        scores = np.asarray(values, dtype=float).tolist()
        return ByClass({ids[c]: v for c, v in zip(self.classes, scores, strict=True)}, ids)

    @property
    def iou(self) -> ByClass:
        """Intersection over union per class name (NaN for a class absent on both sides)."""
        tp = self._diag()
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._per_class(tp / (self.matrix.sum(0) + self.matrix.sum(1) - tp))

    @property
    def precision(self) -> ByClass:
        """Per class: correct / predicted (user's accuracy)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._per_class(self._diag() / self.matrix.sum(0))

    @property
    def recall(self) -> ByClass:
        """Per class: correct / true (producer's accuracy)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._per_class(self._diag() / self.matrix.sum(1))

    @property
    def f1(self) -> ByClass:
        """Per class harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return self._per_class(
            np.array(
                [
                    2 * p[c] * r[c] / (p[c] + r[c]) if p[c] + r[c] > 0 else float("nan")
                    for c in self.classes
                ]
            )
        )

    @property
    def overall_accuracy(self) -> float:
        """Share of compared pixels that agree."""
        total = self.matrix.sum()
        return float(self._diag().sum() / total) if total else float("nan")

    @property
    def kappa(self) -> float:
        """Cohen's kappa."""
        return kappa(self.matrix)

    @property
    def miou(self) -> float:
        """Mean IoU over the classes present on either side."""
        values = [v for v in self.iou.values() if not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-ready (NaN becomes None); keys documented in the README."""
        iou, p, r, f1 = self.iou, self.precision, self.recall, self.f1
        area = self.matrix * self.pixel_area if self.kind == "pixels" else None
        out: dict[str, Any] = {
            "kind": self.kind,
            "compared": int(self.matrix.sum()),
            "ignored": self.ignored,
            "notes": dict(self.notes),
            "overall_accuracy": _num(self.overall_accuracy),
            "kappa": _num(self.kappa),
            "miou": _num(self.miou),
            "classes": {
                self.scheme.name_of(c): {
                    "id": c,
                    "iou": _num(iou[c]),
                    "precision": _num(p[c]),
                    "recall": _num(r[c]),
                    "f1": _num(f1[c]),
                    "truth": int(self.matrix[k].sum()),
                    "predicted": int(self.matrix[:, k].sum()),
                }
                for k, c in enumerate(self.classes)
            },
            "confusion_matrix": {
                "rows": "truth",
                "columns": "prediction",
                "class_ids": list(self.classes),
                "counts": self.matrix.astype(int).tolist(),
                "area_m2": None if area is None else [[_num(v) for v in row] for row in area],
            },
            "area_adjusted": None,
        }
        est = self.area_estimate
        if est is not None:
            out["area_adjusted"] = {
                "method": "Olofsson et al. 2014, stratified by map class, 95% CI",
                "classes": {
                    self.scheme.name_of(c): {
                        "id": c,
                        "map_area_m2": _num(est.map_area[k]),
                        "area_m2": _num(est.area[k]),
                        "area_ci95_m2": _num(est.area_ci[k]),
                        "users_accuracy": _num(est.users_accuracy[k]),
                        "users_accuracy_ci95": _num(est.users_accuracy_ci[k]),
                        "producers_accuracy": _num(est.producers_accuracy[k]),
                        "producers_accuracy_ci95": _num(est.producers_accuracy_ci[k]),
                    }
                    for k, c in enumerate(est.classes)
                },
                "overall_accuracy": _num(est.overall_accuracy),
                "overall_accuracy_ci95": _num(est.overall_accuracy_ci),
            }
        return out

    def table(self) -> str:
        """A plain-text report: per-class scores, then the confusion matrix."""
        unit = "points" if self.kind == "points" else "pixels"
        w = max([10, *(len(self.scheme.name_of(c)) for c in self.classes)])
        lines = [
            f"{'class':<{w}} {'IoU':>6} {'prec':>6} {'recall':>6} {'F1':>6} {'truth ' + unit:>14}"
        ]
        iou, p, r, f1 = self.iou, self.precision, self.recall, self.f1
        for k, c in enumerate(self.classes):
            lines.append(
                f"{self.scheme.name_of(c):<{w}} {iou[c]:6.3f} {p[c]:6.3f} {r[c]:6.3f} {f1[c]:6.3f}"
                f" {int(self.matrix[k].sum()):>14,}"
            )
        lines.append(
            f"mIoU {self.miou:.3f}   overall accuracy {self.overall_accuracy:.3f}"
            f"   kappa {self.kappa:.3f}   left out {self.ignored:,} {unit}"
        )
        names = [self.scheme.name_of(c) for c in self.classes]
        lines.append("\nconfusion matrix (rows truth, columns prediction):")
        lines.append(" " * w + "".join(f"{n[:10]:>11}" for n in names))
        for k, n in enumerate(names):
            lines.append(f"{n:<{w}}" + "".join(f"{int(v):>11,}" for v in self.matrix[k]))
        est = self.area_estimate
        if est is not None:
            lines.append("\nerror-adjusted area (Olofsson et al. 2014, 95% CI):")
            lines.append(
                f"{'class':<{w}} {'mapped km2':>11} {'adjusted km2':>20} {'UA':>12} {'PA':>12}"
            )
            for k, c in enumerate(est.classes):
                lines.append(
                    f"{self.scheme.name_of(c):<{w}} {est.map_area[k] / 1e6:>11.3f} "
                    f"{est.area[k] / 1e6:>9.3f} ± {est.area_ci[k] / 1e6:<8.3f} "
                    f"{est.users_accuracy[k]:.2f} ± {est.users_accuracy_ci[k]:.2f} "
                    f"{est.producers_accuracy[k]:.2f} ± {est.producers_accuracy_ci[k]:.2f}"
                )
            lines.append(
                f"overall accuracy {est.overall_accuracy:.3f} ± {est.overall_accuracy_ci:.3f}"
            )
        return "\n".join(lines)


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


# ------------------------------------------------------------------ evaluate


def evaluate(
    pred: xr.DataArray | str | os.PathLike[str],
    truth: xr.DataArray | str | os.PathLike[str] | Any,
    *,
    truth_column: str | None = None,
    truth_map: Mapping[str, str] | None = None,
    truth_layer: str | None = None,
    scheme: ClassScheme | str | None = None,
    chunk_size: int | None = None,
    pred_scheme: ClassScheme | str | None = None,
    truth_scheme: ClassScheme | str | None = None,
) -> Evaluation:
    """Compare a mask with ground truth.

    Parameters
    ----------
    pred
        ``(y, x)`` uint8 mask (DataArray or path).
    truth
        A mask on the same grid (DataArray), a raster path (any grid/CRS), a
        vector path or GeoDataFrame of polygons or points (any CRS).
    truth_column
        Column of the vector truth holding labels (default: ``class``,
        ``label``, ``class_name``, ``class_id`` or ``landcover``).
    truth_map
        ``{label: class name}``; labels it does not name become 0 (other) and
        are counted in ``notes["unmapped_labels"]``.
    truth_layer
        Layer of a vector truth file with several layers of features
        (default: its only one; a GeoPackage's ``layer_styles`` is no
        candidate).
    scheme
        Class scheme to compare in; default ``landcover``, or the scheme of a
        change map (:func:`landmask.change`) or of a mask made by a model
        with the classes of its training labels (``landmask train``).
    chunk_size
        Chunk side when ``pred`` is a path.
    pred_scheme, truth_scheme
        Class schemes of the prediction and of the truth labels when they
        differ from ``scheme``; both are then recoded into ``landcover``
        (which ``scheme`` must be) by :attr:`ClassScheme.to_landcover`.
        Default: the scheme the mask file (or raster truth file) records in
        its metadata, else ``scheme``. An explicit ``truth_map`` wins over
        ``truth_scheme``.

    Returns
    -------
    Evaluation
        Computed chunk by chunk: memory is a few chunks, whatever the size.
    """
    if not isinstance(pred, xr.DataArray):
        pred = open_mask(pred, chunk_size)
    check_mask(pred, "the prediction")
    given = get_scheme(scheme) if scheme is not None else None
    p_scheme = resolve_scheme(pred_scheme, pred, default=given or LANDCOVER)
    # a change map, or a mask in a scheme made from training labels (no built-in
    # one, nothing to recode it into), is compared in its own classes
    own = p_scheme.base is not None or SCHEMES.get(p_scheme.name) != p_scheme
    scheme = given or (p_scheme if own else LANDCOVER)
    pred = _recode(pred, p_scheme, scheme, "prediction")
    is_raster = isinstance(truth, xr.DataArray) or is_raster_path(truth)
    t_scheme = resolve_scheme(truth_scheme, truth if is_raster else None, default=scheme)
    if isinstance(truth, xr.DataArray):
        truth = _recode(truth, t_scheme, scheme, "truth")
    elif truth_map is None and t_scheme.name != scheme.name:
        _check_comparable(t_scheme, scheme, "truth")
        truth_map = _scheme_label_map(t_scheme, with_names=not is_raster)
    labels = Labels(scheme, truth_map)
    area, _ = Grid.of(pred).pixel_area()
    if isinstance(truth, xr.DataArray):
        return _compare_rasters(pred, _same_grid(pred, truth), labels, scheme, area)
    if is_raster_path(truth):
        truth_arr = raster_truth(os.fspath(truth), pred, labels)
        return _compare_rasters(pred, truth_arr, labels, scheme, area)
    gdf, path = vector_truth(truth, truth_column, pred, layer=truth_layer)
    ids = labels.ids(list(gdf["label"]), path)
    kinds = set(gdf.geometry.geom_type)
    if kinds <= {"Point"}:
        return _compare_points(pred, gdf, ids, labels, scheme, area, path)
    if kinds <= {"Polygon", "MultiPolygon"}:
        truth_arr = polygon_truth(gdf, pred, ids, path)
        return _compare_rasters(pred, truth_arr, labels, scheme, area)
    raise InputError(f"{path}: truth must be all polygons or all points, got {sorted(kinds)}")


def _check_comparable(src: ClassScheme, dst: ClassScheme, what: str) -> None:
    if src.base is not None or dst.base is not None:
        raise ConfigError(
            f"the {what} is in scheme {src.name!r}: a change map compares only with "
            "truth in its own change scheme (labels like 'forest -> urban')"
        )
    if dst.name != LANDCOVER.name:
        raise ConfigError(
            f"the {what} is in scheme {src.name!r}: it can be compared in 'landcover' only, "
            f"not {dst.name!r}"
        )


def _recode(arr: xr.DataArray, src: ClassScheme, dst: ClassScheme, what: str) -> xr.DataArray:
    """``arr`` in scheme ``src`` -> ids of ``dst`` (lazy; ``dst`` must be landcover)."""
    if src.name == dst.name:
        return arr
    _check_comparable(src, dst, what)
    lut = src.landcover_lut()
    data = arr.data
    if isinstance(data, da.Array):
        recoded = da.map_blocks(_lookup, data, lut=lut, dtype=np.uint8)
    else:
        recoded = _lookup(np.asarray(data), lut)
    return arr.copy(data=recoded)


def _lookup(block: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Block function: recode class ids through a 256-entry table."""
    return lut[block]


def _scheme_label_map(src: ClassScheme, *, with_names: bool) -> dict[str, str]:
    """A truth label map ``{id (and name): landcover class name}`` from ``src``'s mapping."""
    names = LANDCOVER.names
    out = {str(i): names[j] for i, j in src.to_landcover.items()}
    if with_names:
        out.update({c.name: names[src.to_landcover[c.id]] for c in src})
    return out


def _same_grid(pred: xr.DataArray, truth: xr.DataArray) -> xr.DataArray:
    if pred.shape != truth.shape:
        raise GridError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
    # arrays without georeferencing (made in memory) are taken as on the grid of the other
    if pred.rio.crs is not None and truth.rio.crs is not None:
        difference = Grid.of(pred).difference(truth)
        if difference:
            raise GridError(
                f"prediction and truth are not on the same grid: truth has {difference}"
            )
    return truth


def _compare_rasters(
    pred: xr.DataArray, truth: xr.DataArray, labels: Labels, scheme: ClassScheme, area: float
) -> Evaluation:
    p = as_dask(pred)
    t = as_dask(truth).rechunk(p.chunks)
    full = _confusions(p, t).compute()
    ignored_rows = full[list(_IGNORED), :].sum()
    ignored_cols = full[:, list(_IGNORED)].sum()
    both = full[np.ix_(list(_IGNORED), list(_IGNORED))].sum()
    ignored = int(ignored_rows + ignored_cols - both)
    present = [
        c for c in range(256) if c not in _IGNORED and (full[c, :].sum() or full[:, c].sum())
    ]
    matrix = full[np.ix_(present, present)]
    notes = {"nodata_or_cloud": ignored}
    return Evaluation(tuple(present), matrix, ignored, scheme, "pixels", area, notes)


def _compare_points(
    pred: xr.DataArray,
    gdf: Any,
    ids: np.ndarray,
    labels: Labels,
    scheme: ClassScheme,
    area: float,
    path: str,
) -> Evaluation:
    inverse = ~pred.rio.transform()
    xs, ys = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    cols, rows = inverse @ (xs, ys)
    cols, rows = np.floor(cols).astype(np.int64), np.floor(rows).astype(np.int64)
    h, w = pred.shape
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    if not inside.any():
        raise InputError(f"{path}: truth does not overlap the prediction (no point inside)")
    data = as_dask(pred)
    # one pass: the strata sizes and the samples share the reads of the mask
    sampled, map_counts = (
        np.asarray(x)
        for x in dask.compute(
            data.vindex[rows[inside], cols[inside]], da.bincount(data.ravel(), minlength=256)
        )
    )
    truth_ids = ids[inside]
    keep = ~np.isin(sampled, _IGNORED) & ~np.isin(truth_ids, _IGNORED)
    strata = [c for c in range(256) if c not in _IGNORED and map_counts[c]]
    present = sorted(set(strata) | set(truth_ids[keep].tolist()) | set(sampled[keep].tolist()))
    index = {c: k for k, c in enumerate(present)}
    matrix = np.zeros((len(present), len(present)), dtype=np.int64)
    np.add.at(
        matrix,
        (
            np.array([index[c] for c in truth_ids[keep]], dtype=np.int64),
            np.array([index[c] for c in sampled[keep]], dtype=np.int64),
        ),
        1,
    )
    notes = {
        "outside": int((~inside).sum()),
        "nodata_or_cloud": int((~keep).sum()),
        "unmapped_labels": labels.unmapped,
    }
    ignored = notes["outside"] + notes["nodata_or_cloud"]
    estimate = area_adjusted(
        matrix.T,  # rows: map class (strata)
        map_counts[present].astype(float),
        classes=present,
        pixel_area=area if np.isfinite(area) else 1.0,
    )
    return Evaluation(tuple(present), matrix, ignored, scheme, "points", area, notes, estimate)


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
