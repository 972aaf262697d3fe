"""``landmask vectorize`` on fragmented masks against whole-raster GDAL, in one run.

Pixel classifiers make salt-and-pepper masks; stripes, checkerboards and one-pixel lines are
the worst cases of region tracing (8-connected regions that span the raster, a hole per pixel).
For each mask and each mode it runs, in fresh subprocesses and interleaved over the rounds:

- (a) the baseline, as a typical user writes it: read the whole mask into memory,
  ``rasterio.features.sieve`` (with ``--min-area``), ``rasterio.features.shapes`` with the same
  connectivity, a shapely geometry per feature, ``shapely.coverage_simplify`` over every region
  (with ``--simplify``), the classes landmask writes by default (all but 0 and 255), a
  GeoDataFrame and a GeoPackage written by pyogrio;
- (b) the real CLI: ``landmask vectorize MASK -o OUT.gpkg --connectivity C [--min-area M]
  [--simplify T] --overwrite --quiet``.

Masks (``--size``², 1 m pixels in EPSG:32631, so ``--min-area`` is in pixels; made once into
``benchmarks/data/``):

- ``random``: 4 classes, uniformly random per pixel (seed 0);
- ``stripes``: diagonal stripes one pixel wide, 3 classes (``(row + col) % 3``);
- ``checker``: a checkerboard of 2-pixel squares, 2 classes;
- ``lines``: horizontal lines one pixel wide, 2 classes (``row % 2``);
- ``row``: a raster one pixel high and ``100 * size`` wide (102,400 at 1024), 4 classes
  uniformly random (seed 0): every chunk is one row, every region touches a chunk border.

Modes: ``c4`` (4-connectivity; the ``random`` mask only), ``c8`` (8-connectivity), ``sieve``
(8-connectivity, ``--min-area 500``), ``simplify`` (8-connectivity, ``--simplify 3``) and
``both`` (``--min-area 500 --simplify 3``). Printed: wall and CPU seconds and the peak of the
summed RSS of each process tree, the ratio landmask / baseline per row (target <= 2x for
``random`` and ``row``) and landmask on each other mask / landmask on ``random`` in the same
mode (target <= 5x; not for ``row``, which is not of the same size). Polygons of (a) and (b)
are counted per class; without ``--simplify`` they must agree exactly (the sieve is GDAL's
rule, see :mod:`landmask.vector.sieve`).

A run that exceeds ``--timeout`` seconds is stopped and shown as ``> T``. Run::

    .venv/bin/python benchmarks/bench_fragmented.py                        # 1024², 1 round
    .venv/bin/python benchmarks/bench_fragmented.py --masks random --modes c8 --repeat 3

``--landmask EXE`` times another ``landmask`` command (say, a script that runs an older
checkout's) against the same baseline, for before/after figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from measure import Run, others_busy, run, run_limited

DATA = Path(__file__).resolve().parent / "data"
SEED = 0
MASKS = ("random", "stripes", "checker", "lines", "row")
MODES: dict[str, list[str]] = {
    "c4": ["--connectivity", "4"],
    "c8": ["--connectivity", "8"],
    "sieve": ["--connectivity", "8", "--min-area", "500"],
    "simplify": ["--connectivity", "8", "--simplify", "3"],
    "both": ["--connectivity", "8", "--min-area", "500", "--simplify", "3"],
}
TARGET_VS_GDAL, TARGET_VS_RANDOM = 2.0, 5.0


# --------------------------------------------------------------------------- workers (children)


def work_make_mask(kind: str, size: int, path: str) -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    shape = (1, 100 * size) if kind == "row" else (size, size)
    rows, cols = np.indices(shape)
    if kind in ("random", "row"):
        m = np.random.default_rng(SEED).integers(0, 4, shape, dtype=np.uint8)
    elif kind == "stripes":
        m = ((rows + cols) % 3).astype(np.uint8)
    elif kind == "checker":
        m = ((rows // 2 + cols // 2) % 2).astype(np.uint8) + 1
    else:
        m = (rows % 2).astype(np.uint8) + 1
    profile = {
        "driver": "GTiff",
        "width": shape[1],
        "height": shape[0],
        "count": 1,
        "dtype": "uint8",
        "nodata": 255,
        "crs": "EPSG:32631",
        "transform": Affine(1.0, 0.0, 500000.0, 0.0, -1.0, 5000000.0),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(m, 1)
        dst.update_tags(CLASS_SCHEME="landcover")


def work_baseline(mask: str, out: str, connectivity: str, min_area: str, tolerance: str) -> None:
    """Whole-raster sieve + polygonize (+ coverage simplify) + GeoPackage."""
    import geopandas as gpd
    import numpy as np
    import rasterio
    import shapely
    from rasterio.features import shapes, sieve
    from shapely.geometry import shape

    conn, size, tol = int(connectivity), int(float(min_area)), float(tolerance)
    with rasterio.open(mask) as src:
        m = src.read(1)
        transform, crs = src.transform, src.crs
    if size > 1:
        m = sieve(m, size, connectivity=conn, mask=m != 255)
    keep = (m != 0) & (m != 255)
    geoms, values = [], []
    for geojson, value in shapes(
        m, mask=(m != 255) if tol else keep, connectivity=conn, transform=transform
    ):
        geoms.append(shape(geojson))
        values.append(int(value))
    geom_arr, value_arr = np.asarray(geoms, dtype=object), np.asarray(values)
    if tol:
        geom_arr = shapely.coverage_simplify(geom_arr, tol, simplify_boundary=True)
        chosen = (value_arr != 0) & (value_arr != 255)
        geom_arr, value_arr = geom_arr[chosen], value_arr[chosen]
    frame = gpd.GeoDataFrame({"class_id": value_arr}, geometry=geom_arr, crs=crs)
    frame.to_file(out, driver="GPKG", engine="pyogrio")


def work_count(path: str) -> None:
    """Print the number of features of each class_id of a vector file, as JSON."""
    import pyogrio

    frame = pyogrio.read_dataframe(path, columns=["class_id"], read_geometry=False)
    print(json.dumps({str(k): int(v) for k, v in sorted(frame["class_id"].value_counts().items())}))


# --------------------------------------------------------------------------- parent


def worker(*args: object) -> list[str]:
    return [sys.executable, __file__, "--worker", *map(str, args)]


def mode_values(mode: str) -> tuple[str, str, str]:
    args = MODES[mode]
    get = {args[k]: args[k + 1] for k in range(0, len(args), 2)}
    return get["--connectivity"], get.get("--min-area", "0"), get.get("--simplify", "0")


def command(key: str, mode: str, mask: Path, out: Path, exe: str | None = None) -> list[str]:
    if key == "a":
        return worker("baseline", mask, out, *mode_values(mode))
    exe = exe or str(Path(sys.executable).with_name("landmask"))
    return [exe, "vectorize", str(mask), "-o", str(out), *MODES[mode], "--overwrite", "--quiet"]


def mask_path(kind: str, size: int) -> Path:
    path = DATA / f"fragmented-{kind}-{size}.tif"
    if not path.exists():
        part = path.with_suffix(".part.tif")
        run(worker("make-mask", kind, size, part))
        os.replace(part, path)
    return path


def peak(r: Run) -> float:
    return max(r.rss_mb, r.tree_rss_mb)


def bench(
    size: int,
    masks: Sequence[str],
    modes: Sequence[str],
    repeat: int,
    timeout: float,
    exe: str | None = None,
) -> None:
    DATA.mkdir(exist_ok=True)
    rows = [(k, m) for k in masks for m in modes if m != "c4" or k == "random"]
    runs: dict[tuple[str, str, str], list[Run | None]] = {}
    counts: dict[tuple[str, str, str], str] = {}
    failed: set[tuple[str, str, str]] = set()
    others_busy("before")
    with tempfile.TemporaryDirectory(prefix="run-", dir=DATA) as tmp:
        for rnd in range(repeat):
            for kind, mode in rows:
                mask = mask_path(kind, size)
                for key in ("a", "b"):
                    out = Path(tmp, f"{key}-{kind}-{mode}.gpkg")
                    out.unlink(missing_ok=True)
                    r, err = run_limited(
                        command(key, mode, mask, out, exe), timeout, may_fail=key == "a"
                    )
                    runs.setdefault((kind, mode, key), []).append(r)
                    if r is None and err:  # the baseline failed (GEOS refuses GDAL's rings)
                        failed.add((kind, mode, key))
                        print(f"  baseline failed: {err.strip().splitlines()[-1]}", flush=True)
                    shown = (
                        f"{r.seconds:7.2f} s" if r else ("failed" if err else f"> {timeout:.0f} s")
                    )
                    print(f"  round {rnd + 1}: {kind:<8} {mode:<9} {key}  {shown}", flush=True)
                    if r and rnd == 0:
                        counts[(kind, mode, key)] = run(worker("count", out))[1].strip()
    others_busy("after")
    report(size, rows, repeat, runs, counts, timeout, failed)


def report(
    size: int,
    rows: Sequence[tuple[str, str]],
    repeat: int,
    runs: dict[tuple[str, str, str], list[Run | None]],
    counts: dict[tuple[str, str, str], str],
    timeout: float,
    failed: set[tuple[str, str, str]],
) -> None:
    def med(kind: str, mode: str, key: str) -> Run | None:
        rs = runs[(kind, mode, key)]
        if any(r is None for r in rs):
            return None
        done = [r for r in rs if r is not None]
        return Run(
            statistics.median(r.seconds for r in done),
            statistics.median(r.cpu for r in done),
            statistics.median(peak(r) for r in done),
        )

    def secs(r: Run | None) -> str:
        return f"{r.seconds:7.2f}" if r else f"> {timeout:5.0f}"

    print(f"\n{size}² masks, medians of {repeat} interleaved round(s) on {os.cpu_count()} CPUs;")
    print("(a) whole-raster GDAL, (b) landmask vectorize; wall s, CPU s, peak RSS MB (tree)")
    head = f"{'mask':<8} {'mode':<9} {'a s':>7} {'b s':>7} {'b/a':>6} {'a CPU':>6} {'b CPU':>6}"
    print(f"{head} {'a MB':>6} {'b MB':>6} {'b/random':>8}  polygons a == b")
    ok = True
    for kind, mode in rows:
        a, b = med(kind, mode, "a"), med(kind, mode, "b")
        ratio = f"{b.seconds / a.seconds:6.2f}" if a and b else f"{'-':>6}"
        rnd = med("random", mode, "b") if ("random", mode) in rows else None
        vs_random = (
            f"{b.seconds / rnd.seconds:8.2f}" if b and rnd and kind != "row" else f"{'-':>8}"
        )
        same = counts.get((kind, mode, "a")) == counts.get((kind, mode, "b"))
        agree = "equal" if same else ("-" if MODES[mode].count("--simplify") else "DIFFER")
        a_secs = f"{'failed':>7}" if (kind, mode, "a") in failed else secs(a)
        print(
            f"{kind:<8} {mode:<9} {a_secs} {secs(b)} {ratio} "
            f"{a.cpu if a else float('nan'):6.1f} {b.cpu if b else float('nan'):6.1f} "
            f"{a.rss_mb if a else float('nan'):6.0f} {b.rss_mb if b else float('nan'):6.0f} "
            f"{vs_random}  {agree}"
        )
        if agree == "DIFFER":
            print(f"    a: {counts.get((kind, mode, 'a'))}\n    b: {counts.get((kind, mode, 'b'))}")
        if kind in ("random", "row") and (not a or not b or b.seconds > TARGET_VS_GDAL * a.seconds):
            ok = False
        if kind not in ("random", "row") and (
            not b or not rnd or b.seconds > TARGET_VS_RANDOM * rnd.seconds
        ):
            ok = False
    print(
        f"targets: random and row within {TARGET_VS_GDAL}x of GDAL, other masks within "
        f"{TARGET_VS_RANDOM}x of random: {'OK' if ok else 'MISSED'}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, metavar="N")
    parser.add_argument("--masks", nargs="+", default=list(MASKS), choices=MASKS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--repeat", type=int, default=1, metavar="N")
    parser.add_argument("--timeout", type=float, default=300, metavar="S")
    parser.add_argument(
        "--landmask",
        metavar="EXE",
        help="the landmask command to time (default: the one beside this Python); "
        "another checkout's, for before/after figures in one run",
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, *rest = args.worker
        if job == "make-mask":
            work_make_mask(rest[0], int(rest[1]), rest[2])
        elif job == "baseline":
            work_baseline(*rest)
        else:
            work_count(*rest)
        return
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be positive")
    bench(args.size, args.masks, args.modes, args.repeat, args.timeout, args.landmask)


if __name__ == "__main__":
    main()
