"""Speed and memory of ``landmask vectorize`` against the usual whole-raster recipe, in one run.

For each mask size it runs, in fresh subprocesses and interleaved over the rounds:

- (a) the baseline, as a typical user writes it: read the whole mask into memory,
  ``rasterio.features.shapes`` over it with ``mask=(m != 0) & (m != 255)`` (the classes landmask
  vectorizes by default), a shapely geometry per feature, a GeoDataFrame with ``class_id`` and
  the CRS, and a GeoPackage written by pyogrio;
- (b) the real CLI: ``landmask vectorize MASK -o OUT.gpkg --overwrite --quiet`` (default chunks),
  and (b') once more per ``--chunk-sizes`` value with ``--chunk-size N``.

Wall-clock seconds, CPU seconds (user + sys) and peak RSS are those of the whole subprocess
(interpreter start and imports included), CPU and peak RSS from ``os.wait4`` of that child (CPU
includes its worker processes; ``ru_maxrss`` is only the largest of them), and the peak of the
summed RSS of the child and its workers, sampled; the memory targets are checked on the latter.
Medians are printed with the targets: (b) at least 2x faster than (a), at most half its peak RSS
at 16384², and peak RSS growing sub-linearly with the number of pixels. The polygons of every
output are counted per class from the GeoPackages; (a) and (b) must agree exactly.

The parent imports only the standard library: on Linux a child's peak RSS starts at its parent's
high-water mark (``exec`` keeps it), so every heavy job runs in a worker subprocess too.

Masks come from the synthetic scenes (``landmask.synthetic.write_scene``, seed 0; larger than
2048² they mosaic mirrored 2048² tiles) classified per pixel by ``landmask classify --sensor
sentinel2-l2a``. They are cached in ``benchmarks/data/`` (git-ignored; delete
``mask-*.tif`` after a rule change); scenes cached there by ``bench_classify.py`` are reused, any
other is made in a temporary file and deleted. The baseline at 16384² needs several GB of RAM.
Run::

    .venv/bin/python benchmarks/bench_vectorize.py                       # 4096² and 16384²
    .venv/bin/python benchmarks/bench_vectorize.py --sizes 2048          # a quick check
    .venv/bin/python benchmarks/bench_vectorize.py --sizes 4096 --repeat 5 --chunk-sizes 1024

``--repeat N`` sets the rounds for every size; by default 3 up to 8192² and 1 above (a round at
16384² takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from measure import Run, others_busy, run

DATA = Path(__file__).resolve().parent / "data"
SEED = 0
TARGET_SPEEDUP, TARGET_RSS_SHARE, TARGET_RSS_AT = 2.0, 0.5, 16384


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    chunk: int | None = None  # landmask --chunk-size; None: the baseline or the CLI default


# --------------------------------------------------------------------------- workers (children)


def work_make_scene(size: int, path: str) -> None:
    from landmask.synthetic import write_scene

    write_scene(path, size, SEED)


def work_baseline(mask: str, out: str) -> None:
    """Whole-raster polygonize + shapely + GeoDataFrame + GeoPackage, as users usually do it."""
    import geopandas as gpd
    import rasterio
    from rasterio.features import shapes
    from shapely.geometry import shape

    with rasterio.open(mask) as src:
        m = src.read(1)
        transform, crs = src.transform, src.crs
    geoms, values = [], []
    for geojson, value in shapes(m, mask=(m != 0) & (m != 255), transform=transform):
        geoms.append(shape(geojson))
        values.append(int(value))
    frame = gpd.GeoDataFrame({"class_id": values}, geometry=geoms, crs=crs)
    frame.to_file(out, driver="GPKG", engine="pyogrio")


def work_count(path: str) -> None:
    """Print the number of features of each class_id of a vector file, as JSON."""
    import pyogrio

    frame = pyogrio.read_dataframe(path, columns=["class_id"], read_geometry=False)
    print(json.dumps({str(k): int(v) for k, v in frame["class_id"].value_counts().items()}))


# --------------------------------------------------------------------------- parent


def worker(*args: object) -> list[str]:
    return [sys.executable, __file__, "--worker", *map(str, args)]


def landmask(*args: object) -> list[str]:
    return [str(Path(sys.executable).with_name("landmask")), *map(str, args)]


def command(m: Method, mask: Path, out: Path) -> list[str]:
    if m.key == "a":
        return worker("baseline", mask, out)
    chunk = ["--chunk-size", m.chunk] if m.chunk else []
    return landmask("vectorize", mask, "-o", out, "--overwrite", "--quiet", *chunk)


def mask_path(size: int) -> Path:
    """The cached mask of ``size``², made (once) from the synthetic scene by ``classify``."""
    path = DATA / f"mask-{size}-seed{SEED}.tif"
    if not path.exists():
        print(f"making {path.name} (once) ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="make-", dir=DATA) as tmp:
            scene = DATA / f"s2like-{size}-seed{SEED}.tif"  # bench_classify.py's cache
            if not scene.exists():
                scene = Path(tmp, "scene.tif")
                run(worker("make-scene", size, scene))
            part = Path(tmp, "mask.tif")
            run(landmask("classify", scene, "--sensor", "sentinel2-l2a", "-o", part, "--quiet"))
            os.replace(part, path)
    with path.open("rb") as f:  # warm the page cache
        buf = bytearray(1 << 22)
        while f.readinto(buf):
            pass
    return path


Counts = dict[str, int]


def bench(sizes: Sequence[int], repeat: int | None, chunk_sizes: Sequence[int]) -> None:
    methods = [
        Method("a", "(a)  whole raster: shapes+shapely+gpd+GPKG"),
        Method("b", "(b)  landmask vectorize"),
        *(Method(f"b{c}", f"(b') landmask vectorize --chunk-size {c}", c) for c in chunk_sizes),
    ]
    runs: dict[tuple[int, str], list[Run]] = {}
    counts: dict[tuple[int, str], Counts] = {}
    DATA.mkdir(exist_ok=True)
    masks = {size: mask_path(size) for size in sizes}
    others_busy("before")
    with tempfile.TemporaryDirectory(prefix="run-", dir=DATA) as tmp:
        for size in sizes:
            rounds = repeat or (3 if size <= 8192 else 1)
            for rnd in range(rounds):
                for m in methods:
                    out = Path(tmp, f"{m.key}.gpkg")
                    out.unlink(missing_ok=True)
                    r, _ = run(command(m, masks[size], out))
                    runs.setdefault((size, m.key), []).append(r)
                    print(f"  {size} round {rnd + 1}: {m.label:<44} {r.seconds:7.2f} s", flush=True)
                    if rnd == rounds - 1:
                        counts[(size, m.key)] = json.loads(run(worker("count", out))[1])
            for f in Path(tmp).iterdir():
                f.unlink()
    others_busy("after")
    report(sizes, methods, runs, counts)


def peak(r: Run) -> float:
    """Peak memory of a run: the summed RSS of its processes where it was sampled."""
    return max(r.rss_mb, r.tree_rss_mb)


def report(
    sizes: Sequence[int],
    methods: Sequence[Method],
    runs: dict[tuple[int, str], list[Run]],
    counts: dict[tuple[int, str], Counts],
) -> None:
    def med(size: int, key: str) -> Run:
        rs = runs[(size, key)]
        return Run(
            *(
                statistics.median(getattr(r, f) for r in rs)
                for f in ("seconds", "cpu", "rss_mb", "tree_rss_mb")
            )
        )

    def check(what: str, value: str, target: str, ok: bool | None) -> None:
        verdict = "OK" if ok else "MISSED" if ok is not None else "(info)"
        print(f"  {what:<32} {value:>9}   target {target:<24} {verdict}")

    print(f"\nmedians of interleaved rounds on {os.cpu_count()} CPUs; wall seconds, CPU seconds")
    print("(user + sys) and peak RSS of whole subprocesses, start-up and imports included")
    print("(RSS MB: the child's own peak, ru_maxrss; sum MB: the peak of the summed RSS of the")
    print("child and its worker processes, which the RSS targets below are checked on)")
    head = f"{'method':<44} {'size':>6} {'rounds':>6} {'seconds':>8} {'polys/s':>8}"
    print(f"{head} {'RSS MB':>7} {'sum MB':>7} {'CPU s':>6} {'polygons':>9}")
    for size in sizes:
        for m in methods:
            r, n = med(size, m.key), sum(counts[(size, m.key)].values())
            rounds = len(runs[(size, m.key)])
            row = f"{m.label:<44} {size:>6} {rounds:>6} {r.seconds:8.2f} {n / r.seconds:8.0f}"
            print(f"{row} {r.rss_mb:7.0f} {peak(r):7.0f} {r.cpu:6.1f} {n:9d}")
    for size in sizes:
        a, b = med(size, "a"), med(size, "b")
        print(f"{size}x{size}:")
        speedup, fast = a.seconds / b.seconds, a.seconds / b.seconds >= TARGET_SPEEDUP
        check("(a)/(b) speed-up", f"{speedup:.2f}x", f">= {TARGET_SPEEDUP}x", fast)
        share, at = peak(b) / peak(a), size >= TARGET_RSS_AT
        check(
            "(b)/(a) peak RSS",
            f"{share:.2f}",
            f"<= {TARGET_RSS_SHARE} at {TARGET_RSS_AT}²",
            share <= TARGET_RSS_SHARE if at else None,
        )
        base = counts[(size, "a")]
        for m in methods[1:]:
            same = counts[(size, m.key)] == base
            check(f"polygons {m.key} == a, per class", "equal" if same else "DIFFER", "equal", same)
            if not same:
                print(f"    a: {base}\n    {m.key}: {counts[(size, m.key)]}")
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        pixels = (hi / lo) ** 2
        print(f"growth {lo}² -> {hi}² ({pixels:.0f}x the pixels):")
        for m in methods[:2]:
            rss_lo, rss_hi = peak(med(lo, m.key)), peak(med(hi, m.key))
            target = f"< {pixels:.0f}x (sub-linear)"
            ratio = rss_hi / rss_lo
            check(f"{m.key} RSS({hi})/RSS({lo})", f"{ratio:.2f}x", target, ratio < pixels)
            more = sum(counts[(hi, m.key)].values()) - sum(counts[(lo, m.key)].values())
            if more > 0:  # the slope once start-up is paid: linear in polygons?
                per = f"{1024 * (rss_hi - rss_lo) / more:.1f} KB"
                check(f"{m.key} RSS per extra polygon", per, "-", None)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384], metavar="N")
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="rounds per size (default: 3 up to 8192², 1 above)",
    )
    parser.add_argument(
        "--chunk-sizes",
        type=int,
        nargs="*",
        default=[],
        metavar="N",
        help="also run landmask vectorize with --chunk-size N for each N",
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, *rest = args.worker
        if job == "make-scene":
            work_make_scene(int(rest[0]), rest[1])
        elif job == "baseline":
            work_baseline(*rest)
        else:
            work_count(*rest)
        return
    if min(args.sizes) < 1 or (args.repeat is not None and args.repeat < 1):
        parser.error("--sizes and --repeat must be positive")
    bench(args.sizes, args.repeat, args.chunk_sizes)


if __name__ == "__main__":
    main()
