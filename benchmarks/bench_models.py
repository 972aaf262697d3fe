"""Speed of model inference (``--model sklearn:``, ``--model onnx:``) against the in-memory floor.

For each model it runs, in fresh subprocesses and interleaved over ``--repeat`` rounds:

- (a) the floor: read the whole scene into numpy with rasterio (timed apart), then call the
  same model on the whole array at once, with both cores: the random forest's
  ``predict_proba`` with ``n_jobs=2``; the ONNX network through an onnxruntime session with
  2 intra-op threads on the whole normalised ``(1, band, y, x)`` array; then argmax;
- (b) landmask's tiled inference: ``classify(open_scene(SCENE), model=SPEC).values`` on the
  default threaded scheduler (chunks of ``--chunk-size``; overlapping blocks for the ONNX
  model's halo, tiles of at most 512 px inside them), timed from after the imports;
- (c) the real CLI: ``landmask classify SCENE --sensor sentinel2-l2a --model SPEC -o OUT.tif``
  (whole subprocess: start-up, imports and writing the COG included).

Printed side by side with pixels per second and the ratios (b)/(a) and (c)/(a) against the
floor's model call alone and against read + call. Target (the issue): (b) within 1.5x of the
floor on 2 cores. The masks of (a) and (b) are compared pixel by pixel: the random forest must
agree exactly; the U-Net too (even chunk sizes and halo keep its pooling grid; see
``tests/onnx_builders.unet_model``).

The models: a random forest trained by :func:`landmask.models.training.train` on a separate 1024²
synthetic scene (seed 1, its truth as labels, 5000 pixels per class), and a small one-level
U-Net (3x3 convolutions, 2x2 max-pool, upsampling, skip connection; ``--unet-width``
channels, halo 8) built with ``tests/onnx_builders.py`` with fixed pseudo-random weights.
Both are rebuilt in a temporary folder each run.

Scenes are cached in ``benchmarks/data/`` (git-ignored; shared with ``bench_classify.py``);
outputs are deleted. The parent imports only the standard library (a child's peak RSS starts
at its parent's high-water mark). Run::

    .venv/bin/python benchmarks/bench_models.py                     # 4096², 1 round
    .venv/bin/python benchmarks/bench_models.py --size 2048         # a quick check
    .venv/bin/python benchmarks/bench_models.py --models onnx --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import Run, others_busy, run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
SEED = 0
TRAIN_SIZE, TRAIN_SEED, MAX_PER_CLASS = 1024, 1, 5000
CORES = 2
TARGET_RATIO = 1.5
SENSOR = ("--sensor", "sentinel2-l2a")


# --------------------------------------------------------------------------- workers (children)


def work_make_scene(size: int, path: str, truth: str | None = None, seed: int = SEED) -> None:
    from landmask.synthetic import write_scene

    part = f"{path}.part.tif"
    truth_part = f"{truth}.part.tif" if truth else None
    write_scene(part, size, seed, truth_path=truth_part)
    if truth and truth_part:
        os.replace(truth_part, truth)
    os.replace(part, path)


def work_train(scene: str, truth: str, out: str) -> None:
    from landmask.io.read.scene import open_scene
    from landmask.models.training import train

    start = time.perf_counter()
    model = train(open_scene(scene, sensor="sentinel2-l2a"), truth, max_per_class=MAX_PER_CLASS)
    model.save(out)
    report = model.report
    print(
        f"random forest: {report['train_pixels']} training pixels, hold-out accuracy "
        f"{report['holdout_accuracy']:.3f}, {time.perf_counter() - start:.1f} s"
    )


def work_build_onnx(out: str, width: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.onnx_builders import unet_model

    unet_model(out, width=width)


def _read_whole(scene: str, bands: Sequence[str]) -> Any:
    """The scene's ``bands`` as ``(band, y, x)`` float32 reflectance, as landmask reads it."""
    import numpy as np
    import rasterio

    from landmask.io.sensors.presets import get_sensor

    sensor = get_sensor("sentinel2-l2a")
    with rasterio.Env(GDAL_NUM_THREADS=str(CORES)), rasterio.open(scene) as ds:
        index = {sensor.name_from_description(d): k + 1 for k, d in enumerate(ds.descriptions)}
        dn = ds.read([index[b] for b in bands])
        nodata = ds.nodata
    out = dn.astype(np.float32) * np.float32(sensor.scale) + np.float32(sensor.offset)
    out[dn == nodata] = np.nan
    return out


def work_floor(kind: str, scene: str, model_path: str, mask_out: str) -> None:
    """(a): read everything, then one call of the model on the whole array, 2 cores."""
    import numpy as np

    from landmask.models.inference import ids_from_proba

    if kind == "rf":
        from landmask.models.sklearn import SklearnModel

        model = SklearnModel.load(model_path)
        model.estimator.n_jobs = CORES
        bands, classes = model.bands, model.classes
    else:
        import onnxruntime as ort

        from landmask.models.onnx import OnnxModel

        meta = OnnxModel(model_path)  # metadata only: bands, classes, mean, std
        bands, classes = meta.bands, meta.classes
        options = ort.SessionOptions()
        options.intra_op_num_threads = CORES
        session = ort.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
    t0, c0 = time.perf_counter(), time.process_time()
    block = _read_whole(scene, bands)
    t1, c1 = time.perf_counter(), time.process_time()
    if kind == "rf":
        proba = model.predict_proba(block)
    else:
        x = np.nan_to_num((block - meta.mean) / meta.std, nan=0.0)
        (logits,) = session.run(None, {session.get_inputs()[0].name: x[None]})
        logits = logits[0]
        logits -= logits.max(axis=0, keepdims=True)
        np.exp(logits, out=logits)
        proba = logits / logits.sum(axis=0, keepdims=True)
    ids = ids_from_proba(proba, classes, 0.5, ~np.isfinite(block).all(axis=0))
    t2, c2 = time.perf_counter(), time.process_time()
    np.save(mask_out, ids)
    print(json.dumps({"read": [t1 - t0, c1 - c0], "predict": [t2 - t1, c2 - c1]}))


def work_pipeline(scene: str, spec: str, chunk: int, mask_out: str) -> None:
    """(b): landmask's lazy tiled inference, computed into memory."""
    import numpy as np

    from landmask.classification.classify import classify
    from landmask.io.read.scene import open_scene
    from landmask.models.registry import load_model

    bands = load_model(spec).bands
    t0, c0 = time.perf_counter(), time.process_time()
    reflectance = open_scene(scene, sensor="sentinel2-l2a", chunk_size=chunk or None, needs=bands)
    mask = classify(reflectance, model=spec).values
    t1, c1 = time.perf_counter(), time.process_time()
    np.save(mask_out, mask)
    print(json.dumps({"seconds": [t1 - t0, c1 - c0]}))


def work_agree(a: str, b: str) -> None:
    import numpy as np

    x, y = np.load(a), np.load(b)
    print(float((x == y).mean()))


# --------------------------------------------------------------------------- parent


def worker(*args: object) -> list[str]:
    return [sys.executable, __file__, "--worker", *map(str, args)]


def cached_scene(size: int, seed: int = SEED, truth: bool = False) -> tuple[Path, Path | None]:
    name = f"s2like-{size}-seed{seed}" if not truth else f"train-{size}-seed{seed}"
    path = DATA / f"{name}.tif"
    truth_path = DATA / f"{name}-truth.tif" if truth else None
    if not path.exists() or (truth_path is not None and not truth_path.exists()):
        print(f"making {path.name} (once) ...", flush=True)
        run(worker("make-scene", size, path, truth_path or "", seed))
    with path.open("rb") as f:  # warm the page cache
        buf = bytearray(1 << 22)
        while f.readinto(buf):
            pass
    return path, truth_path


def bench(size: int, kinds: Sequence[str], repeat: int, chunk: int, width: int) -> None:
    DATA.mkdir(exist_ok=True)
    scene, _ = cached_scene(size)
    with tempfile.TemporaryDirectory(prefix="models-", dir=DATA) as tmp:
        specs: dict[str, tuple[str, Path]] = {}
        if "rf" in kinds:
            train_scene, train_truth = cached_scene(TRAIN_SIZE, TRAIN_SEED, truth=True)
            rf = Path(tmp, "rf.joblib")
            _, out = run(worker("train", train_scene, train_truth, rf))
            print(out.strip(), flush=True)
            specs["rf"] = (f"sklearn:{rf}", rf)
        if "onnx" in kinds:
            unet = Path(tmp, "unet.onnx")
            run(worker("build-onnx", unet, width))
            specs["onnx"] = (f"onnx:{unet}", unet)
        others_busy("before")
        results: dict[tuple[str, str], list[tuple[Run, float, float]]] = {}
        agreement: dict[str, float] = {}
        for rnd in range(repeat):
            for kind, (spec, path) in specs.items():
                floor_mask, lm_mask = Path(tmp, f"{kind}-floor.npy"), Path(tmp, f"{kind}-lm.npy")
                r, out = run(worker("floor", kind, scene, path, floor_mask))
                timing = json.loads(out.strip().splitlines()[-1])
                results.setdefault((kind, "read"), []).append((r, *timing["read"]))
                results.setdefault((kind, "a"), []).append((r, *timing["predict"]))
                r, out = run(worker("pipeline", scene, spec, chunk, lm_mask))
                seconds, cpu = json.loads(out.strip().splitlines()[-1])["seconds"]
                results.setdefault((kind, "b"), []).append((r, seconds, cpu))
                cli = [str(Path(sys.executable).with_name("landmask")), "classify", str(scene)]
                out_tif = Path(tmp, f"{kind}.tif")
                cli += [*SENSOR, "--model", spec, "-o", str(out_tif), "--overwrite", "--quiet"]
                if chunk:
                    cli += ["--chunk-size", str(chunk)]
                r, _ = run(cli)
                results.setdefault((kind, "c"), []).append((r, r.seconds, r.cpu))
                agreement[kind] = float(run(worker("agree", floor_mask, lm_mask))[1])
                print(
                    f"  round {rnd + 1} {kind:>4}: floor {timing['read'][0]:.1f} + "
                    f"{timing['predict'][0]:.1f} s, landmask {seconds:.1f} s, "
                    f"CLI {r.seconds:.1f} s",
                    flush=True,
                )
        others_busy("after")
    report(size, specs, results, agreement, repeat, chunk, width)


def report(
    size: int,
    specs: dict[str, tuple[str, Path]],
    results: dict[tuple[str, str], list[tuple[Run, float, float]]],
    agreement: dict[str, float],
    repeat: int,
    chunk: int,
    width: int,
) -> None:
    def med(kind: str, key: str) -> tuple[float, float, float]:
        """Median wall seconds, CPU seconds (user + sys, all threads) and peak RSS."""
        rs = results[(kind, key)]
        return (
            statistics.median(s for _, s, _ in rs),
            statistics.median(c for _, _, c in rs),
            statistics.median(r.rss_mb for r, _, _ in rs),
        )

    names = {
        "rf": "random forest (64 trees, depth 18, 10 features)",
        "onnx": f"U-Net ({width} ch, halo 8)",
    }
    px = size * size
    print(
        f"\n{size}x{size} px, medians of {repeat} round(s) on {os.cpu_count()} CPUs; "
        f"chunks {chunk or 'default'}.\nWall and CPU seconds (user + sys, all threads) of the "
        "work alone for (a0), (a), (b), of the whole subprocess for (c); peak RSS of the "
        "subprocess.\nCPU seconds do not suffer from other work on the machine; wall seconds do."
    )
    header = f"{'model':<6} {'method':<38} {'wall s':>7} {'Mpx/s':>6} {'x (a)':>6} {'x (a0+a)':>8}"
    print(f"{header} {'CPU s':>6} {'x (a)':>6} {'RSS MB':>7}")
    rows = (
        ("read", "(a0) rasterio read, whole scene"),
        ("a", "(a)  model on the whole array, 2 cores"),
        ("b", "(b)  landmask classify(), threads"),
        ("c", "(c)  landmask classify CLI (+COG)"),
    )
    for kind in specs:
        (floor, floor_cpu, _), (read, _, _) = med(kind, "a"), med(kind, "read")
        for key, label in rows:
            seconds, cpu, rss = med(kind, key)
            compared = key in ("b", "c")
            ratio = f"{seconds / floor:6.2f}" if compared else f"{'':>6}"
            ratio2 = f"{seconds / (floor + read):8.2f}" if compared else f"{'':>8}"
            cpu_ratio = f"{cpu / floor_cpu:6.2f}" if compared else f"{'':>6}"
            print(
                f"{kind:<6} {label:<38} {seconds:7.2f} {px / 1e6 / seconds:6.2f} {ratio} {ratio2} "
                f"{cpu:6.1f} {cpu_ratio} {rss:7.0f}"
            )
    print()
    for kind in specs:
        (floor, floor_cpu, _), (read, _, _) = med(kind, "a"), med(kind, "read")
        b, b_cpu, _ = med(kind, "b")
        ok = b / floor <= TARGET_RATIO
        print(
            f"{names[kind]}: (b)/(a) {b / floor:.2f}x wall (target <= {TARGET_RATIO}x: "
            f"{'OK' if ok else 'MISSED'}), {b_cpu / floor_cpu:.2f}x CPU; (b)/(a0+a) "
            f"{b / (floor + read):.2f}x wall; masks of (a) and (b) agree on "
            f"{100 * agreement[kind]:.4f}% of pixels"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, metavar="N", help="scene side in px")
    parser.add_argument("--models", nargs="+", choices=["rf", "onnx"], default=["rf", "onnx"])
    parser.add_argument("--repeat", type=int, default=1, metavar="N")
    parser.add_argument(
        "--chunk-size", type=int, default=0, metavar="N", help="landmask chunks [default: its own]"
    )
    parser.add_argument("--unet-width", type=int, default=8, metavar="C")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, *rest = args.worker
        if job == "make-scene":
            work_make_scene(int(rest[0]), rest[1], rest[2] or None, int(rest[3]))
        elif job == "train":
            work_train(*rest)
        elif job == "build-onnx":
            work_build_onnx(rest[0], int(rest[1]))
        elif job == "floor":
            work_floor(*rest)
        elif job == "pipeline":
            work_pipeline(rest[0], rest[1], int(rest[2]), rest[3])
        else:
            work_agree(*rest)
        return
    if args.repeat < 1 or args.size < 64 or args.chunk_size < 0:
        parser.error("--size must be >= 64, --repeat >= 1, --chunk-size >= 0")
    bench(args.size, args.models, args.repeat, args.chunk_size, args.unet_width)


if __name__ == "__main__":
    main()
