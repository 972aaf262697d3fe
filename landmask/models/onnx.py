"""ONNX models: fully convolutional networks (U-Net style) run through onnxruntime.

The model takes NCHW float32 input of its bands and returns ``(N, class, H, W)``
logits or probabilities. What landmask needs to know about it comes from the
ONNX metadata (``metadata_props``) or from a YAML sidecar beside the file
(``unet.onnx.yaml`` or ``unet.yaml``), whose keys override the metadata:

================  ===========================================================
``bands``         band common names in input-channel order (``red,green,nir``)
``classes``       class ids of the output channels (``1,2,3``)
``halo``          context pixels the network needs on each side (its receptive
                  field radius); blocks overlap by this much (default 0)
``mean``/``std``  per-band normalisation: input = (reflectance - mean) / std
                  (defaults 0 and 1)
``output``        ``logits`` (softmax applied here) or ``probabilities``
``scheme``        class scheme of the ids (default ``landcover``)
``tile``          largest tile side fed to the network (default 512)
``batch``         tiles per call (default 4)
``sensor``        the sensor preset of the training scenes; with ``scale`` and
                  ``offset`` (reflectance = DN * scale + offset) what
                  ``classify --model`` applies when not given and refuses
                  when contradicted (:mod:`landmask.models.recorded`)
================  ===========================================================

In metadata, lists are comma-separated strings. Each block is cut into tiles
of at most ``tile`` pixels that overlap by ``halo`` and go to the network
``batch`` at a time; a missing input pixel is fed as the band mean (0 after
normalisation) and marked nodata in the mask. The session is created once per
process and never pickled.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from landmask._runtime.paths import worker_path
from landmask.classes import ClassScheme, get_scheme
from landmask.errors import ModelError
from landmask.io.yamldoc import load_yaml
from landmask.models.recorded import SceneRecord

# Imports: landmask's at the top; onnxruntime is imported when a model is loaded (a heavy import
# only ONNX models need).

__all__ = ["OnnxModel"]

_KEYS = {
    *("bands", "classes", "halo", "mean", "std", "output", "scheme", "tile", "batch"),
    *("sensor", "scale", "offset"),
}
_SESSIONS: dict[tuple[str, int], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(path: str) -> Any:
    """One onnxruntime session per file (and modification time) per process."""
    key = (path, os.stat(path).st_mtime_ns)
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            options = ort.SessionOptions()
            # Dask runs one task per core; one thread per session avoids oversubscription
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            try:
                _SESSIONS[key] = ort.InferenceSession(
                    path, sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own exception types
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelError(f"onnx:{path}: cannot load ({first})") from None
        return _SESSIONS[key]


def _listed(value: Any, key: str, path: str) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        raise ModelError(f"onnx:{path}: '{key}' must be a list or comma-separated text")
    if not items:
        raise ModelError(f"onnx:{path}: '{key}' is empty")
    return items


def _sidecar(path: Path) -> dict[str, Any]:
    for candidate in (Path(f"{path}.yaml"), path.with_suffix(".yaml")):
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ModelError(f"{candidate}: cannot read ({exc})") from None
            data = load_yaml(text, str(candidate), ModelError)
            if not isinstance(data, Mapping):
                raise ModelError(f"{candidate}: expected a mapping of model settings")
            unknown = set(data) - _KEYS
            if unknown:
                raise ModelError(f"{candidate}: unknown keys {', '.join(sorted(unknown))}")
            return dict(data)
    return {}


class OnnxModel:
    """A convolutional ONNX model following landmask's model protocol.

    Parameters
    ----------
    path
        The ``.onnx`` file.
    **settings
        Override the metadata and sidecar (same keys as the module docs).
    """

    def __init__(self, path: str | os.PathLike[str], **settings: Any) -> None:
        self.name = f"onnx:{os.fspath(path)}"
        self.path = worker_path(path)  # a worker opens its own session from it
        session = _session(self.path)
        meta: dict[str, Any] = {
            k.removeprefix("landmask."): v
            for k, v in session.get_modelmeta().custom_metadata_map.items()
            if k.removeprefix("landmask.") in _KEYS
        }
        meta |= _sidecar(Path(self.path)) | settings
        where = self.name
        if "bands" not in meta or "classes" not in meta:
            raise ModelError(
                f"{where}: bands and classes are not given; add them to the ONNX metadata "
                f"or a sidecar {Path(self.path).name}.yaml"
            )
        self.bands = [b.lower() for b in _listed(meta["bands"], "bands", self.path)]
        try:
            self.classes = [int(c) for c in _listed(meta["classes"], "classes", self.path)]
            self.halo = int(meta.get("halo", 0))
            self.tile = int(meta.get("tile", 512))
            self.batch = int(meta.get("batch", 4))
            n = len(self.bands)
            self.mean = self._per_band(meta.get("mean", 0.0), n)
            self.std = self._per_band(meta.get("std", 1.0), n)
        except ValueError as exc:
            raise ModelError(f"{where}: bad setting ({exc})") from None
        self.output = str(meta.get("output", "logits")).lower()
        if self.output not in ("logits", "probabilities"):
            raise ModelError(f"{where}: output must be logits or probabilities")
        self.scheme: ClassScheme = get_scheme(str(meta.get("scheme", "landcover")))
        try:
            scale = float(meta["scale"]) if meta.get("scale") is not None else None
            offset = float(meta["offset"]) if meta.get("offset") is not None else None
        except ValueError as exc:
            raise ModelError(f"{where}: bad scale/offset ({exc})") from None
        sensor = str(meta["sensor"]).lower() if meta.get("sensor") else None
        given = scale is not None or offset is not None
        self.scene_record = SceneRecord(
            sensor=sensor, scale=scale, offset=offset, scaling="options" if given else None
        )
        if self.halo < 0 or self.tile <= 2 * self.halo or self.batch < 1:
            raise ModelError(f"{where}: need halo >= 0, tile > 2 * halo and batch >= 1")
        if np.any(self.std == 0):
            raise ModelError(f"{where}: std must not be 0")
        self._check_io(session)

    def _per_band(self, value: Any, n: int) -> np.ndarray:
        items = (
            [float(v) for v in _listed(value, "mean/std", self.path)]
            if not isinstance(value, int | float)
            else [float(value)]
        )
        if len(items) == 1:
            items *= n
        if len(items) != n:
            raise ValueError(f"{len(items)} mean/std values for {n} bands")
        return np.asarray(items, dtype=np.float32)[:, None, None]

    def _check_io(self, session: Any) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"{self.name}: expected one NCHW input")
        channels = inputs[0].shape[1]
        if isinstance(channels, int) and channels != len(self.bands):
            raise ModelError(
                f"{self.name}: the network takes {channels} channels, "
                f"but {len(self.bands)} bands are named ({', '.join(self.bands)})"
            )
        out_channels = outputs[0].shape[1] if len(outputs[0].shape) == 4 else None
        if isinstance(out_channels, int) and out_channels != len(self.classes):
            raise ModelError(
                f"{self.name}: the network gives {out_channels} classes, "
                f"but {len(self.classes)} class ids are named"
            )
        h, w = inputs[0].shape[2], inputs[0].shape[3]
        self.fixed = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        if self.fixed:
            self.tile = min(self.fixed)
            if self.tile <= 2 * self.halo:
                raise ModelError(f"{self.name}: input {h}x{w} is too small for halo {self.halo}")

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()  # holds paths and numbers only; the session is global

    def __repr__(self) -> str:
        return f"OnnxModel({self.path!r}, bands={self.bands}, classes={self.classes})"

    def predict_proba(self, block: np.ndarray) -> np.ndarray:
        """``(band, y, x)`` reflectance -> ``(class, y, x)`` float32 probabilities."""
        x = (block.astype(np.float32, copy=False) - self.mean) / self.std
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        _, height, width = x.shape
        out = np.empty((len(self.classes), height, width), dtype=np.float32)
        windows = list(_tiles(height, width, self.tile, self.halo, self.fixed is None))
        # A dynamic network gets only windows of one shape per batch, unpadded: zeros fed
        # beyond a block edge are not the network's own per-layer padding (after a conv
        # with bias and a ReLU they are not zeros), so padding would change its answer
        # within the halo of the scene edge and make the mask depend on the chunk size.
        by_shape: dict[tuple[int, int], list[tuple[int, ...]]] = {}
        for w in windows:
            by_shape.setdefault((w[1] - w[0], w[3] - w[2]), []).append(w)
        groups = [
            same[start : start + self.batch]
            for same in ([windows] if self.fixed else by_shape.values())
            for start in range(0, len(same), self.batch)
        ]
        for group in groups:
            size = self.fixed or (group[0][1] - group[0][0], group[0][3] - group[0][2])
            batch = np.zeros((len(group), x.shape[0], *size), dtype=np.float32)
            for k, (y0, y1, x0, x1, *_core) in enumerate(group):
                batch[k, :, : y1 - y0, : x1 - x0] = x[:, y0:y1, x0:x1]
            result = self._run(batch)
            for k, (y0, _y1, x0, _x1, cy0, cy1, cx0, cx1) in enumerate(group):
                out[:, cy0:cy1, cx0:cx1] = result[k, :, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        return out

    def _run(self, batch: np.ndarray) -> np.ndarray:
        session = _session(self.path)
        name = session.get_inputs()[0].name
        (raw,) = session.run(None, {name: batch})[:1]
        raw = np.asarray(raw, dtype=np.float32)
        if raw.shape[1] != len(self.classes) or raw.shape[2:] != batch.shape[2:]:
            raise ModelError(
                f"{self.name}: output shape {raw.shape} does not match "
                f"{len(self.classes)} classes of {batch.shape[2:]} pixels"
            )
        if self.output == "probabilities":
            return raw
        raw -= raw.max(axis=1, keepdims=True)
        np.exp(raw, out=raw)
        raw /= raw.sum(axis=1, keepdims=True)
        return raw


def _tiles(
    height: int, width: int, tile: int, halo: int, dynamic: bool
) -> Iterator[tuple[int, int, int, int, int, int, int, int]]:
    """Tiles of at most ``tile`` px covering a block, overlapping by ``halo``.

    Yields ``(y0, y1, x0, x1, core_y0, core_y1, core_x0, core_x1)``: the window
    fed to the network and the part of it kept, which has ``halo`` pixels of
    context on every side inside the block. A block that fits in one tile is
    one window (for a network with a dynamic input size).
    """
    if dynamic and height <= tile and width <= tile:
        yield (0, height, 0, width, 0, height, 0, width)
        return
    core = tile - 2 * halo
    for cy0 in range(0, height, core):
        cy1 = min(cy0 + core, height)
        y0, y1 = max(cy0 - halo, 0), min(cy1 + halo, height)
        y1 = min(y0 + tile, height)
        for cx0 in range(0, width, core):
            cx1 = min(cx0 + core, width)
            x0 = max(cx0 - halo, 0)
            x1 = min(x0 + tile, width)
            yield (y0, y1, x0, x1, cy0, cy1, cx0, cx1)
