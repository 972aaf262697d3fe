"""Tiled inference: a model (:mod:`landmask.models`) over a scene's chunks.

Each chunk is one task. A model with ``halo > 0`` receives its chunk grown by
``halo`` pixels of the neighbouring chunks on every side that has one
(:func:`dask.array.overlap.overlap` with no boundary padding), and the result
is trimmed back to the chunk. A pixel's answer therefore always comes from one
block in which it has at least ``halo`` pixels of real context, or the scene
edge, exactly as when the model sees the whole scene at once: the mask does not
depend on the chunk size, and no blending of overlapping predictions is needed
(a model whose receptive field exceeds its declared halo is the model's bug).

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

from landmask._runtime.chunks import grow_chunks, trim_halo
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
    halo: int = 0,
    block_id: tuple[int, ...] | None = None,
    numblocks: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(1 [+ class], y, x)`` uint8.

    Layer 0 is the class ids; with ``with_proba`` the quantised probabilities
    follow. ``model`` is a model or a :class:`~landmask.models.registry.ModelHandle`.
    With ``halo``, ``block`` carries that many extra pixels on each side that
    has a neighbouring chunk (known from ``block_id`` and ``numblocks``), and
    the output is trimmed to the chunk.
    """
    m = model.get() if isinstance(model, ModelHandle) else model
    missing = ~np.isfinite(block).all(axis=0)
    n = len(m.classes)
    if missing.all():
        ids = np.full(block.shape[1:], NODATA, dtype=np.uint8)
        out = np.full((1 + n * with_proba, *block.shape[1:]), NODATA, dtype=np.uint8)
    else:
        # a model whose probabilities are all 0 or 1 (``certain``, e.g. rules) may
        # give its argmax directly; any other is thresholded by min_confidence
        predict = getattr(m, "predict", None) if getattr(m, "certain", False) else None
        if predict is not None and not with_proba:
            ids = np.asarray(predict(block), dtype=np.uint8)
            ids[missing] = NODATA
            out = ids[None]
        else:
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
    if halo and block_id is not None and numblocks is not None:
        out = trim_halo(out, halo, block_id, numblocks)
    return out


def run_model(
    data: da.Array, model: Any, *, min_confidence: float = 0.5, with_proba: bool = False
) -> da.Array:
    """Dask wiring: ``(band, y, x)`` reflectance of the model's bands -> ``(1 [+ class], y, x)``.

    ``model`` is a model object or a :class:`~landmask.models.registry.ModelHandle`
    (which each worker process resolves once). Lazy: one task per chunk.
    """
    m = model.get() if isinstance(model, ModelHandle) else model
    halo = int(m.halo)
    n_out = 1 + len(m.classes) * with_proba
    data = data.rechunk({0: -1})
    data, chunks = grow_chunks(data, halo)
    out_chunks = ((n_out,), *chunks[1:])
    numblocks = tuple(len(c) for c in chunks)
    return da.map_blocks(
        _predict_task,
        data,
        model=model,
        min_confidence=min_confidence,
        with_proba=with_proba,
        halo=halo,
        grid=numblocks,
        chunks=out_chunks,
        dtype=np.uint8,
        meta=np.empty((0, 0, 0), dtype=np.uint8),
    )


def _predict_task(
    block: np.ndarray,
    grid: tuple[int, ...],
    block_id: tuple[int, ...] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    return predict_block(block, block_id=block_id, numblocks=grid, **kwargs)
