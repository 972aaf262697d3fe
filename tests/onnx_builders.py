"""Small ONNX models built with :mod:`onnx.helper`, for the tests and benchmarks.

No download and no deep-learning framework: every model is a stack of
convolutions with fixed pseudo-random weights (a seed), NCHW float32 in,
``(N, class, H, W)`` logits or probabilities out. A ``kernel``-sized
convolution with "same" padding makes every output pixel depend on its
neighbours, so a wrong halo or a wrong trim shows in the mask.

:func:`conv_model` writes the model with landmask's metadata (``landmask.bands``,
``landmask.classes``, ``landmask.halo``, ``landmask.mean``, ``landmask.std``,
``landmask.output``), with chosen keys overridden or dropped, or with none
(for a YAML sidecar).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "OPSET",
    "conv_model",
    "default_metadata",
    "reference_proba",
    "unet_model",
    "write_bytes",
]

#: Opset and IR version: old enough for any onnxruntime the project supports.
OPSET = 17
IR_VERSION = 8

#: Per-band reflectance statistics of the synthetic scenes (blue ... swir22), roughly.
_MEAN = {"blue": 0.06, "green": 0.08, "red": 0.08, "nir": 0.24, "swir16": 0.2, "swir22": 0.14}
_STD = {"blue": 0.03, "green": 0.03, "red": 0.05, "nir": 0.09, "swir16": 0.09, "swir22": 0.08}


def default_metadata(
    bands: Sequence[str], classes: Sequence[int], halo: int, output: str
) -> dict[str, str]:
    """The ``landmask.*`` metadata of a model (lists as comma-separated text)."""
    return {
        "landmask.bands": ",".join(bands),
        "landmask.classes": ",".join(str(c) for c in classes),
        "landmask.halo": str(halo),
        "landmask.mean": ",".join(str(_MEAN.get(b, 0.1)) for b in bands),
        "landmask.std": ",".join(str(_STD.get(b, 0.05)) for b in bands),
        "landmask.output": output,
    }


def conv_model(
    path: str | os.PathLike[str],
    bands: Sequence[str] = ("green", "red", "nir", "swir16"),
    classes: Sequence[int] = (0, 1, 2, 3),
    *,
    kernel: int = 5,
    halo: int | None = None,
    metadata: bool | Mapping[str, str | None] = True,
    output: str = "logits",
    seed: int = 0,
    fixed_size: int | tuple[int, int] | None = None,
    hidden: int = 0,
    depth: int = 1,
    channels: int | None = None,
    gain: float = 1.0,
) -> Path:
    """Write a fully convolutional NCHW float32 model to ``path``; return the path.

    Parameters
    ----------
    bands, classes
        Input channels (band names) and output channels (class ids).
    kernel
        Side of every convolution (odd); each pads ``kernel // 2`` with zeros.
    halo
        Declared halo (metadata); default the true receptive-field radius,
        ``depth * (kernel // 2)``.
    metadata
        True: landmask metadata; False: none; a mapping: the defaults with
        these ``landmask.*`` keys replaced (a None value drops the key).
    output
        ``logits`` (raw), or ``probabilities`` (a Softmax over classes is
        part of the graph).
    seed
        Seed of the weights.
    fixed_size
        Make the input (and output) height and width fixed (``128`` or
        ``(h, w)``); default dynamic.
    hidden, depth
        ``depth`` convolutions; the ones before the last have ``hidden``
        channels (default ``4 * len(classes)``) and a ReLU after them.
    channels
        Input channels of the network, if not ``len(bands)`` (a broken model).
    gain
        Scale of the logits.
    """
    if kernel % 2 != 1 or depth < 1:
        raise ValueError("kernel must be odd and depth >= 1")
    rng = np.random.default_rng(seed)
    n_in = len(bands) if channels is None else channels
    n_out = len(classes)
    width = hidden or 4 * n_out
    pad = kernel // 2
    if fixed_size is None:
        h, w = "H", "W"
    else:
        h, w = (fixed_size, fixed_size) if isinstance(fixed_size, int) else fixed_size
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in, h, w])
    y_name = "probabilities" if output == "probabilities" else "logits"
    y = helper.make_tensor_value_info(y_name, TensorProto.FLOAT, ["N", n_out, h, w])
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    current, c_in = "x", n_in
    for layer in range(depth):
        last = layer == depth - 1
        c_out = n_out if last else width
        # weights centred on the kernel centre but spread over the whole window
        weight = rng.normal(0.0, 1.0, (c_out, c_in, kernel, kernel)).astype(np.float32)
        weight *= np.float32(gain * 2.0 / np.sqrt(c_in * kernel * kernel) * (1 if last else 0.7))
        bias = rng.normal(0.0, 0.3, c_out).astype(np.float32)
        inits += [
            numpy_helper.from_array(weight, f"w{layer}"),
            numpy_helper.from_array(bias, f"b{layer}"),
        ]
        conv_out = "logits" if last else f"c{layer}"
        nodes.append(
            helper.make_node(
                "Conv",
                [current, f"w{layer}", f"b{layer}"],
                [conv_out],
                kernel_shape=[kernel, kernel],
                pads=[pad, pad, pad, pad],
                name=f"conv{layer}",
            )
        )
        if not last:
            nodes.append(helper.make_node("Relu", [conv_out], [f"r{layer}"], name=f"relu{layer}"))
            current, c_in = f"r{layer}", width
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", ["logits"], [y_name], axis=1, name="softmax"))
    graph = helper.make_graph(nodes, "landmask_test_fcn", [x], [y], initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="landmask-tests"
    )
    model.ir_version = IR_VERSION
    if metadata is not False:
        props = default_metadata(bands, classes, depth * pad if halo is None else halo, output)
        if isinstance(metadata, Mapping):
            for key, value in metadata.items():
                full = key if key.startswith("landmask.") else f"landmask.{key}"
                if value is None:
                    props.pop(full, None)
                else:
                    props[full] = value
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    out = Path(path)
    onnx.save(model, out)
    return out


def unet_model(
    path: str | os.PathLike[str],
    bands: Sequence[str] = ("blue", "green", "red", "nir", "swir16", "swir22"),
    classes: Sequence[int] = (0, 1, 2, 3),
    *,
    width: int = 16,
    halo: int = 8,
    seed: int = 0,
    gain: float = 3.0,
    metadata: bool = True,
) -> Path:
    """Write a small one-level U-Net (encoder, 2x2 max-pool, decoder, skip connection).

    ``conv3x3 -> conv3x3 -> maxpool 2 -> conv3x3 -> upsample to the skip's size -> concat ->
    conv3x3 -> conv1x1``, ReLUs between, dynamic input size (odd sizes too: the pool rounds
    up and the nearest-neighbour upsampling maps output pixel ``i`` to ``i // 2``).

    ``gain`` scales the logits. Its receptive-field radius is 6 px; the default halo 8 is
    even, so every tile starts on an even pixel when chunk sizes are even and the pooling
    grid matches a whole-scene run exactly.
    """
    rng = np.random.default_rng(seed)
    n_in, n_out = len(bands), len(classes)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in, "H", "W"])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n_out, "H", "W"])
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def conv(name: str, src: str, c_in: int, c_out: int, k: int, relu: bool = True) -> str:
        w = rng.normal(0.0, np.sqrt(2.0 / (c_in * k * k)), (c_out, c_in, k, k))
        w *= 1.0 if relu else gain
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}_w"))
        inits.append(
            numpy_helper.from_array(rng.normal(0, 0.1, c_out).astype(np.float32), f"{name}_b")
        )
        p = k // 2
        out = f"{name}_conv"
        nodes.append(
            helper.make_node(
                "Conv", [src, f"{name}_w", f"{name}_b"], [out], kernel_shape=[k, k],
                pads=[p, p, p, p], name=name,
            )
        )  # fmt: skip
        if not relu:
            return out
        nodes.append(helper.make_node("Relu", [out], [f"{name}_relu"], name=f"{name}_relu"))
        return f"{name}_relu"

    e1 = conv("enc1", "x", n_in, width, 3)
    e2 = conv("enc2", e1, width, width, 3)
    nodes.append(
        helper.make_node(
            "MaxPool", [e2], ["pool"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1,
            name="pool",
        )
    )  # fmt: skip
    mid = conv("mid", "pool", width, 2 * width, 3)
    nodes += [
        helper.make_node("Shape", [mid], ["mid_nc"], start=0, end=2, name="shape_mid"),
        helper.make_node("Shape", [e2], ["skip_hw"], start=2, end=4, name="shape_skip"),
        helper.make_node("Concat", ["mid_nc", "skip_hw"], ["sizes"], axis=0, name="sizes"),
        helper.make_node(
            "Resize",
            [mid, "", "", "sizes"],
            ["up"],
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
            name="up",
        ),
        helper.make_node("Concat", [e2, "up"], ["cat"], axis=1, name="cat"),
    ]
    d1 = conv("dec1", "cat", 3 * width, width, 3)
    last = conv("head", d1, width, n_out, 1, relu=False)
    nodes.append(helper.make_node("Identity", [last], ["logits"], name="out"))
    graph = helper.make_graph(nodes, "landmask_test_unet", [x], [y], initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="landmask-tests"
    )
    model.ir_version = IR_VERSION
    if metadata:
        helper.set_model_props(model, default_metadata(bands, classes, halo, "logits"))
    onnx.checker.check_model(model)
    out = Path(path)
    onnx.save(model, out)
    return out


def reference_proba(
    path: str | os.PathLike[str],
    reflectance: np.ndarray,
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray,
    output: str = "logits",
) -> np.ndarray:
    """The network on a whole ``(band, y, x)`` array at once -> ``(class, y, x)`` probabilities.

    Normalised as landmask does (missing pixels fed as 0 after normalisation),
    with a plain onnxruntime session and no tiling: the reference that tiled
    inference must reproduce.
    """
    import onnxruntime as ort

    m = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    x = (reflectance.astype(np.float32) - m) / s
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    (raw,) = session.run(None, {session.get_inputs()[0].name: x[None]})[:1]
    raw = np.asarray(raw[0], dtype=np.float32)
    if output == "probabilities":
        return raw
    raw = raw - raw.max(axis=0, keepdims=True)
    e = np.exp(raw)
    return e / e.sum(axis=0, keepdims=True)


def write_bytes(path: str | os.PathLike[str], n: int = 4096, seed: int = 0) -> Path:
    """Write ``n`` random bytes (a corrupt model file); return the path."""
    out = Path(path)
    out.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return out
