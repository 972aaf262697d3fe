"""Training a scikit-learn pixel classifier from labels over a scene.

Labels (polygons or points in any vector format and CRS, or a label raster on
any grid) are put onto the scene's pixels (:func:`landmask.evaluation.evaluate.labels_on_grid`).
Samples are drawn chunk by chunk: every labelled pixel with all features
finite gets a pseudo-random key from its position, and each class keeps the
``max_per_class`` pixels with the smallest keys across all chunks. That is a
uniform sample without replacement, capped per class (stratified), which
depends neither on the chunk size nor on the scheduler, and holds at most
``max_per_class`` rows per class in memory at any time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import CLOUD, LANDCOVER, NODATA, ClassScheme
from landmask.errors import BandError, ConfigError, InputError
from landmask.evaluation.truth import labels_on_grid
from landmask.models.recorded import SceneRecord
from landmask.models.sklearn import SklearnModel, feature_block
from landmask.spectral.indices import INDICES, bands_needed

__all__ = ["ESTIMATORS", "TrainingReport", "sample_block", "train"]

#: Estimators ``landmask train --estimator`` knows.
ESTIMATORS = ("random-forest", "hist-gradient-boosting")

#: Indices used as features by default, where the scene has their bands.
DEFAULT_INDICES = ("ndvi", "mndwi", "ndbi", "ndwi")

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class TrainingReport:
    """What a training run did and how well the model does on held-out pixels."""

    features: list[str]
    estimator: str
    pixels_per_class: dict[str, int]
    train_pixels: int
    holdout_pixels: int
    holdout_accuracy: float | None
    f1: dict[str, float] = field(default_factory=dict)
    unmapped_labels: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return asdict(self)

    def table(self) -> str:
        """A short text report."""
        lines = [f"features: {', '.join(self.features)} ({self.estimator})"]
        lines.append(f"{'class':<12}{'pixels':>10}{'F1':>8}")
        for name, n in self.pixels_per_class.items():
            f1 = self.f1.get(name)
            lines.append(f"{name:<12}{n:>10,}{'' if f1 is None else f'{f1:8.3f}'}")
        acc = "n/a" if self.holdout_accuracy is None else f"{self.holdout_accuracy:.3f}"
        lines.append(
            f"trained on {self.train_pixels:,} px, hold-out {self.holdout_pixels:,} px, "
            f"hold-out accuracy {acc}"
        )
        if self.unmapped_labels:
            lines.append(f"{self.unmapped_labels} labels not in --label-map became 0 (other)")
        return "\n".join(lines)


def _keys(rows: np.ndarray, cols: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random uint64 per pixel position (splitmix64 of row, col and seed)."""
    with np.errstate(over="ignore"):
        z = (rows.astype(np.uint64) << np.uint64(32)) ^ cols.astype(np.uint64)
        z = (z + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sample_block(
    block: np.ndarray,
    labels: np.ndarray,
    bands: Sequence[str],
    features: Sequence[str],
    origin: tuple[int, int],
    cap: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block function: the capped sample of one chunk.

    Returns ``(x, y, keys)``: features ``(n, feature)`` float32, class ids and
    sampling keys of at most ``cap`` pixels per class, those with the smallest
    keys among the chunk's labelled pixels whose features are all finite.
    """
    labelled = (labels != NODATA) & (labels != CLOUD)
    if not labelled.any():
        return _empty(len(features))
    x = feature_block(block, bands, features)
    keep = labelled & np.isfinite(x).all(axis=0)
    rows, cols = np.nonzero(keep)
    ids = labels[rows, cols]
    keys = _keys(rows + origin[0], cols + origin[1], seed)
    picked = _smallest_per_class(ids, keys, cap)
    return x[:, rows[picked], cols[picked]].T.copy(), ids[picked], keys[picked]


def _empty(n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.empty((0, n_features), np.float32),
        np.empty(0, np.uint8),
        np.empty(0, np.uint64),
    )


def _smallest_per_class(ids: np.ndarray, keys: np.ndarray, cap: int) -> np.ndarray:
    """Indices of at most ``cap`` entries per class with the smallest keys, by (class, key)."""
    order = np.lexsort((keys, ids))
    sorted_ids = ids[order]
    starts = np.searchsorted(sorted_ids, sorted_ids, side="left")
    rank = np.arange(len(order)) - starts
    # ordered by (class, key), not by position in the concatenation: the sample,
    # its order and so the fitted model do not depend on the chunking
    return order[rank < cap]


def _merge(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    k = np.concatenate([p[2] for p in parts])
    picked = _smallest_per_class(y, k, cap)
    return x[picked], y[picked], k[picked]


def _choose_features(band_names: Sequence[str], indices: Sequence[str] | None) -> list[str]:
    if indices is None:
        chosen = [i for i in DEFAULT_INDICES if _has_bands(i, band_names)]
    else:
        chosen = []
        for name in indices:
            key = name.strip().lower()
            if key not in INDICES:
                raise ConfigError(f"unknown index {name!r} (known: {', '.join(INDICES)})")
            chosen.append(key)
    return [*band_names, *chosen]


def _has_bands(index: str, band_names: Sequence[str]) -> bool:
    try:
        bands_needed([index], band_names)
    except BandError:
        return False
    return True


def _check_overlap(labels: Any, scene: xr.DataArray, what: str, layer: str | None) -> None:
    """Refuse labels that do not overlap the scene, before any pixel is read."""
    import pyogrio
    import rasterio
    from rasterio.crs import CRS
    from rasterio.errors import RasterioError
    from rasterio.warp import transform_bounds

    from landmask.vector.formats import data_layer

    if isinstance(labels, str | os.PathLike):
        path = os.fspath(labels)
        try:
            with rasterio.open(path) as src:
                bounds, crs = tuple(src.bounds), src.crs
        except RasterioError:
            try:
                info = pyogrio.read_info(path, layer=data_layer(path, layer, "--labels-layer"))
            except Exception:  # unreadable files get their own error from the reader
                return
            if info.get("features") == 0:
                raise InputError(f"{what}: no labels (the file has no features)") from None
            if info.get("total_bounds") is None:  # a driver that does not tell
                return
            bounds = tuple(info["total_bounds"])
            crs = CRS.from_user_input(info["crs"]) if info.get("crs") else None
    else:
        if len(labels) == 0:
            raise InputError(f"{what}: no labels (the frame is empty)")
        bounds, crs = tuple(labels.total_bounds), labels.crs
    if not all(np.isfinite(bounds)):
        return
    if crs is not None and scene.rio.crs is not None and CRS.from_user_input(crs) != scene.rio.crs:
        bounds = transform_bounds(crs, scene.rio.crs, *bounds)
    left, bottom, right, top = scene.rio.bounds()
    if bounds[0] > right or bounds[2] < left or bounds[1] > top or bounds[3] < bottom:
        raise InputError(f"{what}: labels do not overlap the scene")


def train(
    scene: xr.DataArray,
    labels: str | os.PathLike[str] | Any,
    *,
    label_column: str | None = None,
    label_map: Mapping[str, str] | None = None,
    labels_layer: str | None = None,
    indices: Sequence[str] | None = None,
    estimator: str = "random-forest",
    max_per_class: int = 20_000,
    holdout: float = 0.2,
    seed: int = 0,
    scheme: ClassScheme = LANDCOVER,
) -> SklearnModel:
    """Fit a pixel classifier on a scene's bands and indices at labelled pixels.

    Parameters
    ----------
    scene
        ``(band, y, x)`` reflectance from :func:`~landmask.open_scene`.
    labels
        Polygons or points (path or GeoDataFrame, any CRS) with a label
        column, or a label raster path (any grid: warped by nearest neighbour).
    label_column
        Column holding the labels (class names or ids); guessed if omitted.
    label_map
        ``{label: class name}``; labels it does not name become 0 (other).
    labels_layer
        Layer of a vector labels file with several layers of features
        (default: its only one; a GeoPackage's ``layer_styles`` is no candidate).
    indices
        Index features besides the bands (default: those of ndvi, mndwi, ndbi,
        ndwi the scene can compute).
    estimator
        ``random-forest`` or ``hist-gradient-boosting``.
    max_per_class
        Cap on training pixels per class (a uniform sample of each class).
    holdout
        Share of the sample held out to report accuracy and F1 (0 for none).
    seed
        Seed of the sampling and of the estimator.
    scheme
        Class scheme of the label names and ids.

    Returns
    -------
    SklearnModel
        Fitted, with its training report in ``model.report``.
    """
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r} (known: {', '.join(ESTIMATORS)})")
    if not 0.0 <= holdout < 1.0:
        raise ConfigError(f"holdout must be within [0, 1), got {holdout}")
    if max_per_class < 1:
        raise ConfigError(f"max_per_class must be >= 1, got {max_per_class}")
    band_names = [str(b) for b in scene["band"].values]
    features = _choose_features(band_names, indices)
    where = ", ".join(scene.attrs.get("sources", [])) or "scene"
    try:
        bands_needed([f for f in features if f in INDICES], band_names)
    except BandError as exc:
        raise BandError(f"{where}: {exc}") from None
    source = "<GeoDataFrame>" if not isinstance(labels, str | os.PathLike) else os.fspath(labels)
    _check_overlap(labels, scene, source, labels_layer)
    grid = scene.isel(band=0, drop=True)
    on_grid = labels_on_grid(
        labels, grid, column=label_column, label_map=label_map, scheme=scheme, layer=labels_layer
    )
    data = as_dask(scene)
    data = data.rechunk({0: -1})
    if on_grid.raster is None:
        x, y = _sample_points(data, on_grid.rows, on_grid.cols, on_grid.ids, band_names, features)
        k = _keys(on_grid.rows, on_grid.cols, seed)
        keep = np.isfinite(x).all(axis=1) & (y != NODATA) & (y != CLOUD)
        x, y, _ = _merge([(x[keep], y[keep], k[keep])], max_per_class)
    else:
        x, y, _ = _sample_raster(data, on_grid.raster, band_names, features, max_per_class, seed)
    if len(y) == 0:
        raise InputError(f"{source}: no labelled pixel with valid data in the scene")
    present = np.unique(y)
    if len(present) < 2:
        raise InputError(
            f"{source}: labels cover only class {scheme.name_of(int(present[0]))}; "
            "a classifier needs at least two classes"
        )
    fitted, report = _fit(x, y, features, estimator, holdout, seed, scheme)
    report.unmapped_labels = on_grid.unmapped
    return SklearnModel(
        fitted,
        band_names,
        features,
        scheme.name,
        SceneRecord.of_scene(scene),
        report.to_dict(),
    )


def _sample_points(
    data: da.Array,
    rows: np.ndarray,
    cols: np.ndarray,
    ids: np.ndarray,
    bands: Sequence[str],
    features: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    values = da.stack([data[b].vindex[rows, cols] for b in range(data.shape[0])])
    (raw,) = dask.compute(values)
    x = feature_block(np.asarray(raw, np.float32)[:, None, :], bands, features)[:, 0, :].T
    return x, ids


def _sample_raster(
    data: da.Array,
    labels: xr.DataArray,
    bands: Sequence[str],
    features: Sequence[str],
    cap: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    label_data = labels.data.rechunk(data.chunks[1:])
    scene_blocks = data.to_delayed()[0]
    label_blocks = label_data.to_delayed()
    y_starts = np.cumsum((0, *data.chunks[1]))
    x_starts = np.cumsum((0, *data.chunks[2]))
    tasks = [
        dask.delayed(sample_block)(
            scene_blocks[i][j],
            label_blocks[i][j],
            list(bands),
            list(features),
            (int(y_starts[i]), int(x_starts[j])),
            cap,
            seed,
        )
        for i in range(len(data.chunks[1]))
        for j in range(len(data.chunks[2]))
    ]
    merged = _empty(len(features))
    step = 8  # chunks computed per round: memory stays at a few chunks plus the sample
    for start in range(0, len(tasks), step):
        parts = dask.compute(*tasks[start : start + step])
        merged = _merge([merged, *parts], cap)
    return merged


def _make_estimator(name: str, seed: int) -> Any:
    if name == "hist-gradient-boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=64, max_depth=18, min_samples_leaf=2, n_jobs=-1, random_state=seed
    )


def _fit(
    x: np.ndarray,
    y: np.ndarray,
    features: list[str],
    estimator: str,
    holdout: float,
    seed: int,
    scheme: ClassScheme,
) -> tuple[Any, TrainingReport]:
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    counts = {scheme.name_of(int(c)): int((y == c).sum()) for c in np.unique(y)}
    model = _make_estimator(estimator, seed)
    small = min(counts.values()) < 2
    if holdout > 0 and not small:
        x_fit, x_test, y_fit, y_test = train_test_split(
            x, y, test_size=holdout, stratify=y, random_state=seed
        )
    else:
        x_fit, y_fit, x_test, y_test = x, y, x[:0], y[:0]
    model.fit(x_fit, y_fit)
    if hasattr(model, "n_jobs"):
        model.n_jobs = 1  # prediction runs inside Dask tasks, one per core
    accuracy: float | None = None
    f1: dict[str, float] = {}
    if len(y_test):
        predicted = model.predict(x_test)
        accuracy = float(accuracy_score(y_test, predicted))
        classes = [int(c) for c in model.classes_]
        scores = f1_score(y_test, predicted, labels=classes, average=None, zero_division=0)
        f1 = {scheme.name_of(c): float(s) for c, s in zip(classes, scores, strict=True)}
    report = TrainingReport(features, estimator, counts, len(y_fit), len(y_test), accuracy, f1)
    return model, report
