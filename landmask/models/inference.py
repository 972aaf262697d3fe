"""Tiled inference: a model (:mod:`landmask.models`) over a scene's chunks.

Each chunk is one task. A model with ``halo > 0`` first sees its chunk alone;
the pixels within ``halo`` of a side with a neighbouring chunk are then
predicted again from strips put together from the chunk's and its neighbours'
rims (:func:`landmask._runtime.seams.map_halo`). A pixel's answer therefore
always comes from a block in which it has at least ``halo`` pixels of real
context, or the scene edge, exactly as when the model sees the whole scene at
once: the mask does not depend on the chunk size, no blending of overlapping
predictions is needed (a model whose receptive field exceeds its declared halo
is the model's bug), and no chunk waits in memory for its neighbours.

Probabilities become class ids by argmax; a pixel whose highest probability is
below ``min_confidence`` becomes the scheme's ``other`` class (0 in
``landcover``; a scheme without an ``other`` class, such as one made from
training labels, keeps the argmax), and a pixel with any missing input band
(NaN) or a non-finite probability becomes 255 (nodata).

Probability rasters are stored as uint8: ``round(p * 254)``, so 0 is 0 and
254 is 1, and 255 is nodata; the scale 1/254 is written into the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np

from landmask._runtime.seams import map_halo
from landmask.classes import NODATA, PROBABILITY_SCALE
from landmask.errors import ModelError
from landmask.models.registry import ModelHandle, model_scheme

__all__ = ["ids_from_proba", "predict_block", "run_model"]


def ids_from_proba(
    proba: np.ndarray,
    classes: Sequence[int],
    min_confidence: float,
    missing: np.ndarray,
    unsure: int | None = 0,
) -> np.ndarray:
    """Block function: ``(class, y, x)`` probabilities -> ``(y, x)`` uint8 class ids.

    Argmax over classes; ``unsure`` (the scheme's ``other`` class) where the
    best probability is below ``min_confidence`` (None: the argmax stands);
    255 where ``missing`` or any probability is not finite.
    """
    lut = np.asarray(classes, dtype=np.uint8)
    finite = np.isfinite(proba).all(axis=0)
    safe = np.where(finite, proba, -1.0) if not finite.all() else proba
    best = np.argmax(safe, axis=0)
    confidence = np.take_along_axis(safe, best[None], axis=0)[0]
    ids = lut[best]
    if unsure is not None:
        ids[confidence < min_confidence] = unsure
    ids[~finite | missing] = NODATA
    return ids


def _quantise(proba: np.ndarray, nodata: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        q = np.rint(np.clip(proba, 0.0, 1.0) * PROBABILITY_SCALE)
    out = np.where(np.isfinite(q), q, NODATA).astype(np.uint8)
    out[:, nodata] = NODATA
    return out


def predict_block(
    block: np.ndarray,
    model: Any,
    min_confidence: float,
    with_proba: bool,
    pick: Sequence[int] | None = None,
) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(1 [+ class], y, x)`` uint8.

    Layer 0 is the class ids; with ``with_proba`` the quantised probabilities
    follow. ``model`` is a model or a :class:`~landmask.models.registry.ModelHandle`.
    A model with a halo takes the block's edge for the scene's
    (:func:`landmask._runtime.seams.map_halo` redoes the pixels near the seams).
    ``pick``: the bands of ``block`` the model reads, in its order (None: all,
    as they are).
    """
    m = model.get() if isinstance(model, ModelHandle) else model
    reads = list(range(block.shape[0])) if pick is None else list(pick)
    if not with_proba and getattr(m, "certain", False) and getattr(m, "marks_missing", False):
        # the model's own ids are nodata wherever a band it reads is missing
        # (rules: every band is inside a quantity they hold finite): no mask here
        named = getattr(m, "predict_named", None)
        if named is not None:
            names = [f"#{k}" for k in range(block.shape[0])]
            for k, band in zip(reads, m.bands, strict=True):
                names[k] = band
            return np.asarray(named(block, names), dtype=np.uint8)[None]
    missing = np.isfinite(block[reads[0]])  # where every band read is finite, then negated
    finite = np.empty_like(missing)
    for k in reads[1:]:
        missing &= np.isfinite(block[k], out=finite)
    np.logical_not(missing, out=missing)
    n = len(m.classes)
    if missing.all():
        ids = np.full(block.shape[1:], NODATA, dtype=np.uint8)
        out = np.full((1 + n * with_proba, *block.shape[1:]), NODATA, dtype=np.uint8)
    else:
        # a model whose probabilities are all 0 or 1 (``certain``, e.g. rules) may
        # give its argmax directly; any other is thresholded by min_confidence
        certain = getattr(m, "certain", False) and not with_proba
        named = getattr(m, "predict_named", None) if certain else None
        predict = getattr(m, "predict", None) if certain else None
        if named is not None:  # reads bands by name: no copy of the picked bands
            names = [f"#{k}" for k in range(block.shape[0])]
            for k, band in zip(reads, m.bands, strict=True):
                names[k] = band
            ids = np.asarray(named(block, names), dtype=np.uint8)
            ids[missing] = NODATA
            out = ids[None]
        elif predict is not None:
            ids = np.asarray(predict(_picked(block, reads)), dtype=np.uint8)
            ids[missing] = NODATA
            out = ids[None]
        else:
            block = _picked(block, reads)
            proba = np.asarray(m.predict_proba(block), dtype=np.float32)
            if proba.shape != (n, *block.shape[1:]):
                raise ModelError(
                    f"{getattr(m, 'name', type(m).__name__)}: predict_proba returned shape "
                    f"{proba.shape}, expected {(n, *block.shape[1:])}"
                )
            unsure = model_scheme(m).other_id
            ids = ids_from_proba(proba, m.classes, min_confidence, missing, unsure)
            out = (
                np.concatenate([ids[None], _quantise(proba, ids == NODATA)])
                if with_proba
                else ids[None]
            )
    return out


def _picked(block: np.ndarray, reads: list[int]) -> np.ndarray:
    """Block function: bands ``reads`` of ``block`` in that order (``block`` itself if all)."""
    return block if reads == list(range(block.shape[0])) else block[reads]


def run_model(
    data: da.Array,
    model: Any,
    *,
    min_confidence: float = 0.5,
    with_proba: bool = False,
    pick: Sequence[int] | None = None,
) -> da.Array:
    """Dask wiring: ``(band, y, x)`` reflectance -> ``(1 [+ class], y, x)``.

    ``model`` is a model object or a :class:`~landmask.models.registry.ModelHandle`
    (which each worker process resolves once). ``pick``: the bands of ``data``
    the model reads, in its order (None: ``data`` holds them so), taken inside
    each task: a Dask selection would make each chunk's bands a task result of
    its own, held until the chunk is classified. Lazy: one task per chunk.
    """
    m = model.get() if isinstance(model, ModelHandle) else model
    return map_halo(
        data,
        predict_block,
        int(m.halo),
        layers=1 + len(m.classes) * with_proba,
        dtype=np.uint8,
        name="predict",
        model=model,
        min_confidence=min_confidence,
        with_proba=with_proba,
        pick=None if pick is None else tuple(pick),
    )
