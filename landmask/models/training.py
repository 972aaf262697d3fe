"""Training a scikit-learn pixel classifier from labels over a scene.

Labels (polygons or points in any vector format and CRS, or a label raster on
any grid) are put onto the scene's pixels (:func:`landmask.evaluation.evaluate.labels_on_grid`).
Samples are drawn chunk by chunk: every labelled pixel with all features
finite gets a pseudo-random key from its position, and each class keeps the
``max_per_class`` pixels with the smallest keys across all chunks. That is a
uniform sample without replacement, capped per class (stratified), which
depends neither on the chunk size nor on the scheduler, and holds at most
``max_per_class`` rows per class in memory at any time.

Every sampled pixel belongs to a group: the polygon it lies in (polygon
labels), or the square block of ``holdout_block`` pixels it lies in (label
rasters and points). The hold-out that scores the model takes whole groups
(:func:`holdout_split`), never pixels of a polygon or block it trained on:
neighbouring pixels are alike, and a hold-out of single pixels scores the
model on pixels it has all but seen. The saved model is then fitted on the
whole sample.

The classes are the labels' own (:func:`landmask.classes.scheme_from_labels`)
unless the labels are ``landcover``'s classes, a ``label_map`` maps them onto
a built-in scheme, or ``scheme`` names one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.bands import QUALITY_BANDS
from landmask.classes import (
    CHANGE_SUFFIX,
    CLOUD,
    LANDCOVER,
    NODATA,
    SCHEMES,
    ClassScheme,
    get_scheme,
    label_text,
    scheme_from_labels,
)
from landmask.errors import BandError, ConfigError, HoldoutWarning, InputError
from landmask.io.inputs import data_layer
from landmask.io.read.footprint import warn_training_footprint
from landmask.io.read.labels import (
    Labels,
    frame_on_grid,
    is_raster_path,
    raster_truth,
    vector_truth,
)
from landmask.io.read.schemes import recorded_scheme
from landmask.models.recorded import SceneRecord
from landmask.models.sklearn import SklearnModel, feature_block
from landmask.spectral.indices import INDICES, bands_needed

# Imports: landmask's at the top; scikit-learn is imported by the functions that fit or split (a
# heavy import only training needs).

__all__ = [
    "ESTIMATORS",
    "HOLDOUT_BLOCK",
    "LABELS_SCHEME",
    "Sample",
    "Split",
    "TrainingReport",
    "draw_sample",
    "holdout_split",
    "sample_block",
    "train",
]

#: Estimators ``landmask train --estimator`` knows.
ESTIMATORS = ("random-forest", "hist-gradient-boosting")

#: Indices used as features by default, where the scene has their bands.
DEFAULT_INDICES = ("ndvi", "mndwi", "ndbi", "ndwi")

#: Side in pixels of the blocks held out together for label rasters and points.
HOLDOUT_BLOCK = 64

#: ``scheme=`` value for the labels' own classes whatever they are.
LABELS_SCHEME = "labels"

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class TrainingReport:
    """What a training run did and how well the model does on held-out groups.

    ``holdout`` says what was held out (``polygons``, ``blocks of 64 px`` or
    ``none``), ``groups_train`` and ``groups_holdout`` how many of them on each
    side, ``train_pixels`` and ``holdout_pixels`` their pixels;
    ``holdout_accuracy`` and ``f1`` score a model fitted without the held-out
    groups on their pixels. ``holdout_note`` says why there is no hold-out
    score. ``model_pixels`` is what the saved model was fitted on (the whole
    sample). Reports of older model files lack the hold-out fields.
    """

    features: list[str]
    estimator: str
    pixels_per_class: dict[str, int]
    train_pixels: int
    holdout_pixels: int
    holdout_accuracy: float | None
    f1: dict[str, float] = field(default_factory=dict)
    unmapped_labels: int = 0
    holdout: str = "pixels"
    groups_train: int | None = None
    groups_holdout: int | None = None
    holdout_note: str = ""
    model_pixels: int | None = None
    scheme: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return asdict(self)

    def table(self) -> str:
        """A short text report."""
        lines = [f"features: {', '.join(self.features)} ({self.estimator})"]
        if self.scheme:
            lines.append(f"classes: {self.scheme}")
        lines.append(f"{'class':<12}{'pixels':>10}{'F1':>8}")
        for name, n in self.pixels_per_class.items():
            f1 = self.f1.get(name)
            lines.append(f"{name:<12}{n:>10,}{'' if f1 is None else f'{f1:8.3f}'}")
        acc = "n/a" if self.holdout_accuracy is None else f"{self.holdout_accuracy:.3f}"
        if self.holdout == "none" or self.groups_train is None:
            what = "no hold-out" if self.holdout == "none" else f"hold-out of {self.holdout}"
            lines.append(
                f"{what}: trained on {self.train_pixels:,} px, hold-out {self.holdout_pixels:,} px,"
                f" hold-out accuracy {acc}"
            )
        else:
            lines.append(
                f"hold-out of whole {self.holdout}: {self.groups_train} for training "
                f"({self.train_pixels:,} px), {self.groups_holdout} held out "
                f"({self.holdout_pixels:,} px), hold-out accuracy {acc}"
            )
        if self.holdout_note:
            lines.append(self.holdout_note)
        unscored = [name for name in self.pixels_per_class if name not in self.f1]
        if self.holdout_accuracy is not None and unscored:
            lines.append(f"no held-out pixels (no F1) of: {', '.join(unscored)}")
        if self.model_pixels is not None:
            lines.append(f"the saved model is fitted on all {self.model_pixels:,} sampled px")
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


def block_groups(rows: np.ndarray, cols: np.ndarray, side: int) -> np.ndarray:
    """The hold-out group of pixels at ``rows``, ``cols``: their ``side`` px block, as int64."""
    return (rows // side).astype(np.int64) * (1 << 32) + (cols // side).astype(np.int64)


def sample_block(
    block: np.ndarray,
    labels: np.ndarray,
    bands: Sequence[str],
    features: Sequence[str],
    origin: tuple[int, int],
    cap: int,
    seed: int,
    groups: np.ndarray | None = None,
    side: int = HOLDOUT_BLOCK,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Block function: the capped sample of one chunk.

    Returns ``(x, y, keys, groups)``: features ``(n, feature)`` float32, class
    ids, sampling keys and hold-out groups of at most ``cap`` pixels per
    class, those with the smallest keys among the chunk's labelled pixels
    whose features are all finite. A pixel's group is its value in ``groups``
    (the polygon it lies in) or, without ``groups``, its block of ``side``
    pixels (:func:`block_groups`, in scene coordinates).
    """
    labelled = (labels != NODATA) & (labels != CLOUD)
    if groups is not None:
        labelled &= groups >= 0
    if not labelled.any():
        return _empty(len(features))
    x = feature_block(block, bands, features)
    keep = labelled & np.isfinite(x).all(axis=0)
    rows, cols = np.nonzero(keep)
    ids = labels[rows, cols]
    keys = _keys(rows + origin[0], cols + origin[1], seed)
    picked = _smallest_per_class(ids, keys, cap)
    rows, cols = rows[picked], cols[picked]
    if groups is None:
        group = block_groups(rows + origin[0], cols + origin[1], side)
    else:
        group = groups[rows, cols].astype(np.int64)
    return x[:, rows, cols].T.copy(), ids[picked], keys[picked], group


def _empty(n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.empty((0, n_features), np.float32),
        np.empty(0, np.uint8),
        np.empty(0, np.uint64),
        np.empty(0, np.int64),
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
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y, k, g = (np.concatenate([p[i] for p in parts]) for i in range(4))
    picked = _smallest_per_class(y, k, cap)
    return x[picked], y[picked], k[picked], g[picked]


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


@dataclass
class Sample:
    """The pixels a model is trained on: features, class ids, hold-out groups.

    ``holdout`` names the groups (``polygons`` or ``blocks of N px``);
    ``scheme`` is the class scheme of ``y``; ``unmapped`` counts labels a
    label map did not name.
    """

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    holdout: str
    scheme: ClassScheme
    unmapped: int = 0


@dataclass
class Split:
    """Sample rows to fit on and to score on; none to score on, and why, when impossible."""

    train: np.ndarray
    test: np.ndarray
    note: str = ""


def holdout_split(
    y: np.ndarray,
    groups: np.ndarray,
    holdout: float,
    seed: int,
    *,
    unit: str = "groups",
    scheme: ClassScheme = LANDCOVER,
) -> Split:
    """Split a sample into whole groups to fit on and whole groups to score on.

    The held-out groups are one fold of ``k = max(2, round(1 / holdout))``
    made by :class:`sklearn.model_selection.StratifiedGroupKFold` (shuffled
    with ``seed``): whole groups, their classes in about the sample's
    proportions. No group has pixels on both sides.

    A hold-out needs two groups of every class (one could go each way) and
    ``k`` groups in all; with fewer, or ``holdout`` 0, nothing is held out and
    ``note`` says why in one line (``unit`` names the groups, ``scheme`` the
    classes).
    """
    everything, nothing = np.arange(len(y)), np.empty(0, dtype=np.intp)
    if holdout <= 0:
        return Split(everything, nothing, "no hold-out (--holdout 0)")
    k = max(2, round(1 / holdout))
    pairs = np.unique(np.stack([y.astype(np.int64), groups.astype(np.int64)]), axis=1)
    for c in np.unique(y):
        n = int((pairs[0] == c).sum())
        if n < 2:
            return Split(
                everything,
                nothing,
                f"no hold-out score: class {scheme.name_of(int(c))} has {n} of the {unit} "
                "(a hold-out of whole groups needs 2 of every class)",
            )
    n_groups = len(np.unique(groups))
    if n_groups < k:
        return Split(
            everything,
            nothing,
            f"no hold-out score: {n_groups} {unit} in all, a hold-out of 1/{k} needs {k}",
        )
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    train_rows, test_rows = next(splitter.split(np.zeros((len(y), 1)), y, groups))
    return Split(train_rows, test_rows)


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
    holdout_block: int = HOLDOUT_BLOCK,
    seed: int = 0,
    scheme: ClassScheme | str | None = None,
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
        ``{label: class name}`` onto a built-in scheme (``scheme``, default
        ``landcover``); a label it does not name keeps its class if it is a
        class name of that scheme, else becomes 0 (other) and is counted.
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
        Share of the groups (polygons, or blocks of ``holdout_block`` px)
        held out to report accuracy and F1 (:func:`holdout_split`; 0 for none).
    holdout_block
        Side in pixels of the blocks held out together for a label raster or
        points.
    seed
        Seed of the sampling, the hold-out and the estimator.
    scheme
        The classes: None for the labels' own (see :func:`landmask.classes.scheme_from_labels`)
        unless they all are ``landcover`` classes or ``label_map`` is given
        (then ``landcover``); ``"labels"`` for the labels' own whatever they
        are; a built-in scheme (or its name) whose class names or ids the
        labels are, or ``label_map`` maps them to.

    Returns
    -------
    SklearnModel
        Fitted on the whole sample, with its training report in ``model.report``.
    """
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r} (known: {', '.join(ESTIMATORS)})")
    if not 0.0 <= holdout <= 0.5:
        raise ConfigError(f"holdout must be within [0, 0.5], got {holdout}")
    if max_per_class < 1:
        raise ConfigError(f"max_per_class must be >= 1, got {max_per_class}")
    if holdout_block < 1:
        raise ConfigError(f"holdout_block must be >= 1, got {holdout_block}")
    band_names = [str(b) for b in scene["band"].values]
    features = _choose_features(band_names, indices)
    where = ", ".join(scene.attrs.get("sources", [])) or "scene"
    try:
        bands_needed([f for f in features if f in INDICES], band_names)
    except BandError as exc:
        raise BandError(f"{where}: {exc}") from None
    sample = draw_sample(
        scene,
        labels,
        features,
        label_column=label_column,
        label_map=label_map,
        labels_layer=labels_layer,
        max_per_class=max_per_class,
        holdout_block=holdout_block,
        seed=seed,
        scheme=scheme,
    )
    warn_training_footprint(scene, skip=QUALITY_BANDS)
    fitted, report = _fit(sample, features, estimator, holdout, seed)
    report.unmapped_labels = sample.unmapped
    return SklearnModel(
        fitted,
        band_names,
        features,
        sample.scheme,
        SceneRecord.of_scene(scene),
        report.to_dict(),
    )


def draw_sample(
    scene: xr.DataArray,
    labels: str | os.PathLike[str] | Any,
    features: Sequence[str],
    *,
    label_column: str | None = None,
    label_map: Mapping[str, str] | None = None,
    labels_layer: str | None = None,
    max_per_class: int = 20_000,
    holdout_block: int = HOLDOUT_BLOCK,
    seed: int = 0,
    scheme: ClassScheme | str | None = None,
) -> Sample:
    """The training sample of :func:`train` (same parameters): labelled pixels, their groups.

    Raises
    ------
    InputError
        If the labels do not overlap the scene, or give fewer than two classes
        with valid pixels.
    """
    band_names = [str(b) for b in scene["band"].values]
    source = "<GeoDataFrame>" if not isinstance(labels, str | os.PathLike) else os.fspath(labels)
    if scheme == LABELS_SCHEME and label_map is not None:
        raise ConfigError("--label-map maps labels onto a built-in scheme, not the labels' own")
    if isinstance(scheme, str) and scheme != LABELS_SCHEME and scheme not in SCHEMES:
        known = ", ".join([LABELS_SCHEME, *SCHEMES])
        raise ConfigError(f"--scheme {scheme}: unknown (known: {known})")
    _check_overlap(labels, scene, source, labels_layer)
    grid = scene.isel(band=0, drop=True)
    data = as_dask(scene).rechunk({0: -1})
    name = _scheme_name(labels)
    blocks = f"blocks of {holdout_block} px"
    if is_raster_path(labels):
        target, colors = _raster_scheme(source, scheme, label_map)
        raster = raster_truth(source, grid, Labels(target or LANDCOVER, label_map, "--label-map"))
        x, y, _, g = _sample_raster(
            data, raster, None, band_names, features, max_per_class, seed, holdout_block
        )
        if target is None:  # the raster's own values: landcover's, or a scheme of their own
            own = scheme == LABELS_SCHEME or not set(np.unique(y).tolist()) <= _LANDCOVER_IDS
            target = scheme_from_labels(name, np.unique(y), colors=colors) if own else LANDCOVER
        found = Sample(x, y, g, blocks, target)
    else:
        gdf, path = vector_truth(
            labels, label_column, grid, layer=labels_layer, layer_option="--labels-layer"
        )
        target = _vector_scheme(gdf["label"], scheme, label_map, name)
        on_grid = frame_on_grid(gdf, path, grid, Labels(target, label_map, "--label-map"))
        if on_grid.raster is None:
            x, y = _sample_points(
                data, on_grid.rows, on_grid.cols, on_grid.ids, band_names, features
            )
            k = _keys(on_grid.rows, on_grid.cols, seed)
            g = block_groups(on_grid.rows, on_grid.cols, holdout_block)
            keep = np.isfinite(x).all(axis=1) & (y != NODATA) & (y != CLOUD)
            x, y, _, g = _merge([(x[keep], y[keep], k[keep], g[keep])], max_per_class)
            found = Sample(x, y, g, blocks, target, on_grid.unmapped)
        else:
            x, y, _, g = _sample_raster(
                data, on_grid.raster, on_grid.groups, band_names, features, max_per_class, seed
            )
            found = Sample(x, y, g, "polygons", target, on_grid.unmapped)
    if len(found.y) == 0:
        raise InputError(f"{source}: no labelled pixel with valid data in the scene")
    present = np.unique(found.y)
    if len(present) < 2:
        raise InputError(
            f"{source}: labels cover only class {found.scheme.name_of(int(present[0]))}; "
            "a classifier needs at least two classes"
        )
    return found


_LANDCOVER_IDS = {c.id for c in LANDCOVER}


def _scheme_name(labels: Any) -> str:
    """The name of a scheme made from ``labels``: the file's stem, never a built-in's."""
    name = Path(os.fspath(labels)).stem if isinstance(labels, str | os.PathLike) else "labels"
    taken = name in SCHEMES or name.endswith(CHANGE_SUFFIX) or not name
    return f"{name}-labels" if taken else name


def _vector_scheme(
    values: Any, scheme: ClassScheme | str | None, label_map: Mapping[str, str] | None, name: str
) -> ClassScheme:
    """The classes of vector labels ``values`` (see :func:`train`'s ``scheme``)."""
    if scheme == LABELS_SCHEME:
        return scheme_from_labels(name, values)
    if scheme is not None:
        return get_scheme(scheme)
    if label_map is not None:
        return LANDCOVER
    texts = {label_text(v) for v in values}
    known = {c.name for c in LANDCOVER} | {str(c.id) for c in LANDCOVER}
    return LANDCOVER if texts <= known else scheme_from_labels(name, values)


def _raster_scheme(
    path: str, scheme: ClassScheme | str | None, label_map: Mapping[str, str] | None
) -> tuple[ClassScheme | None, dict[int, str]]:
    """The classes of a label raster, None for the values it holds; and its colour table."""
    import rasterio
    from rasterio.errors import RasterioError

    if scheme not in (None, LABELS_SCHEME):
        return get_scheme(scheme), {}
    if label_map is not None:
        return LANDCOVER, {}
    own = recorded_scheme(path)
    if own is not None:
        return own, {}
    colors: dict[int, str] = {}
    try:
        with rasterio.open(path) as src:
            table = src.colormap(1)
        colors = {int(k): "#{:02x}{:02x}{:02x}".format(*v[:3]) for k, v in table.items()}
    except (ValueError, RasterioError):  # no colour table
        pass
    return None, colors


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
    groups: xr.DataArray | None,
    bands: Sequence[str],
    features: Sequence[str],
    cap: int,
    seed: int,
    side: int = HOLDOUT_BLOCK,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    label_blocks = labels.data.rechunk(data.chunks[1:]).to_delayed()
    group_blocks = None if groups is None else groups.data.rechunk(data.chunks[1:]).to_delayed()
    scene_blocks = data.to_delayed()[0]
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
            None if group_blocks is None else group_blocks[i][j],
            side,
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
    sample: Sample, features: list[str], estimator: str, holdout: float, seed: int
) -> tuple[Any, TrainingReport]:
    """Score a fit without the held-out groups on them, then fit the model on the whole sample."""
    from sklearn.metrics import accuracy_score, f1_score

    x, y, scheme = sample.x, sample.y, sample.scheme
    counts = {scheme.name_of(int(c)): int((y == c).sum()) for c in np.unique(y)}
    split = holdout_split(y, sample.groups, holdout, seed, unit=sample.holdout, scheme=scheme)
    note = split.note
    if note and holdout > 0:
        warnings.warn(note, HoldoutWarning, stacklevel=3)
    accuracy: float | None = None
    f1: dict[str, float] = {}
    if len(split.test):
        scorer = _make_estimator(estimator, seed)
        scorer.fit(x[split.train], y[split.train])
        predicted = scorer.predict(x[split.test])
        accuracy = float(accuracy_score(y[split.test], predicted))
        classes = [int(c) for c in np.unique(y[split.test])]  # F1 of classes held out
        scores = f1_score(y[split.test], predicted, labels=classes, average=None, zero_division=0)
        f1 = {scheme.name_of(c): float(s) for c, s in zip(classes, scores, strict=True)}
    model = _make_estimator(estimator, seed)
    model.fit(x, y)
    if hasattr(model, "n_jobs"):
        model.n_jobs = 1  # prediction runs inside Dask tasks, one per core
    held = bool(len(split.test))
    report = TrainingReport(
        features,
        estimator,
        counts,
        len(split.train),
        len(split.test),
        accuracy,
        f1,
        holdout=sample.holdout if held else "none",
        groups_train=len(np.unique(sample.groups[split.train])) if held else None,
        groups_holdout=len(np.unique(sample.groups[split.test])) if held else None,
        holdout_note=note,
        model_pixels=len(y),
        scheme=_describe_scheme(scheme, [int(c) for c in np.unique(y)]),
    )
    return model, report


def _describe_scheme(scheme: ClassScheme, ids: Sequence[int]) -> str:
    """``landcover (0 other, 1 forest, ...)``: the scheme and the classes the model has."""
    return f"{scheme.name} (" + ", ".join(f"{i} {scheme.name_of(i)}" for i in ids) + ")"
