"""Speed and memory of ``landmask zonal`` against whole-raster rasterize + bincount, in one run.

For each number of zones it runs, in fresh subprocesses and interleaved over the rounds:

- (a) the baseline, as a typical user writes it: read the whole mask into memory, read the
  zones, ``rasterio.features.rasterize`` their row numbers over the whole raster (a pixel
  belongs to the zone its centre falls in), ``numpy.bincount`` of ``zone * 256 + class``, areas
  = counts x pixel area, a CSV;
- (b) the real CLI: ``landmask zonal MASK ZONES -o OUT.csv --overwrite --quiet`` (default
  chunks and scheduler, coverage-weighted: exact).

Wall-clock seconds, CPU seconds (user + sys), the child's peak RSS and the peak of the summed RSS
of the child and its worker processes (sampled), start-up and imports included; see
``measure.py``. Afterwards the two tables are compared: total area per class over all zones
(equal up to the raster's edge, since the zones tile the raster) and, per zone, how far the
centre count is from the exact area of each class (what counting centres gets wrong).

The mask is ``bench_vectorize.py``'s synthetic 10240² mask (cached in ``benchmarks/data/``,
made once from a synthetic scene by ``landmask classify``); the zones are Voronoi cells of
uniform random points over the raster (irregular "districts", seed 0), clipped to it, cached
there as GeoPackages. Run::

    nice .venv/bin/python benchmarks/bench_zonal.py                     # 1,000 and 100,000 zones
    nice .venv/bin/python benchmarks/bench_zonal.py --size 4096 --zones 1000 --repeat 3
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
from typing import Any

from bench_vectorize import DATA, mask_path
from measure import Run, others_busy, run

SEED = 0


# --------------------------------------------------------------------------- workers (children)


def work_zones(mask: str, n: int, out: str) -> None:
    """Voronoi cells of ``n`` random points over the mask's extent, clipped to it."""
    import geopandas as gpd
    import numpy as np
    import rasterio
    import shapely

    with rasterio.open(mask) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    rng = np.random.default_rng(SEED)
    points = shapely.points(rng.uniform(left, right, n), rng.uniform(bottom, top, n))
    extent = shapely.box(left, bottom, right, top)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent)
    )
    cells = shapely.intersection(cells, extent)
    frame = gpd.GeoDataFrame(
        {"district": [f"D{i:06d}" for i in range(len(cells))]}, geometry=cells, crs=crs
    )
    frame.to_file(out, driver="GPKG", engine="pyogrio")


def work_baseline(mask: str, zones: str, out: str) -> None:
    """Whole-raster rasterize + bincount: pixel centres, as users usually do it."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import rasterio
    from rasterio.features import rasterize

    with rasterio.open(mask) as src:
        m = src.read(1)
        transform, crs = src.transform, src.crs
    frame = gpd.read_file(zones).to_crs(crs)
    n = len(frame)
    ids = rasterize(
        zip(frame.geometry, range(1, n + 1), strict=True),
        out_shape=m.shape,
        transform=transform,
        dtype="uint32",
    )
    counts = np.bincount(ids.ravel().astype(np.int64) * 256 + m.ravel(), minlength=(n + 1) * 256)
    counts = counts.reshape(n + 1, 256)[1:]
    pixel = abs(transform.a * transform.e - transform.b * transform.d)
    names = {0: "other", 1: "forest", 2: "urban", 3: "water", 254: "cloud", 255: "nodata"}
    table = pd.DataFrame({"district": frame["district"]})
    for value, name in names.items():
        table[f"{name}_m2"] = counts[:, value] * pixel
    table.to_csv(out, index=False)


def work_compare(exact: str, centres: str) -> None:
    """Print, as JSON, class totals of both tables and the per-zone error of the centre count."""
    import numpy as np
    import pandas as pd

    a, b = pd.read_csv(exact), pd.read_csv(centres)
    assert list(a["district"]) == list(b["district"])
    out: dict[str, Any] = {}
    for name in ("other", "forest", "urban", "water", "nodata"):
        col = f"{name}_m2"
        out[f"{name}_km2"] = [float(a[col].sum()) / 1e6, float(b[col].sum()) / 1e6]
    zone = a[[c for c in a.columns if c.endswith("_m2") and c != "inside_m2"]].sum(axis=1)
    err = np.abs(b["forest_m2"] - a["forest_m2"]) / zone
    out["forest_error_of_zone_area_mean"] = float(err.mean())
    out["forest_error_of_zone_area_max"] = float(err.max())
    print(json.dumps(out))


# --------------------------------------------------------------------------- parent


def worker(*args: object) -> list[str]:
    return [sys.executable, __file__, "--worker", *map(str, args)]


def landmask(*args: object) -> list[str]:
    return [str(Path(sys.executable).with_name("landmask")), *map(str, args)]


def zones_path(mask: Path, size: int, n: int) -> Path:
    path = DATA / f"zones-{size}-{n}-seed{SEED}.gpkg"
    if not path.exists():
        print(f"making {path.name} (once) ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="make-", dir=DATA) as tmp:
            part = Path(tmp, "zones.gpkg")
            run(worker("zones", mask, n, part))
            os.replace(part, path)
    return path


def peak(r: Run) -> float:
    return max(r.rss_mb, r.tree_rss_mb)


def bench(size: int, zone_counts: Sequence[int], repeat: int) -> None:
    DATA.mkdir(exist_ok=True)
    mask = mask_path(size)
    zones = {n: zones_path(mask, size, n) for n in zone_counts}
    methods = {"a": "(a) whole raster: rasterize + bincount", "b": "(b) landmask zonal (exact)"}
    runs: dict[tuple[int, str], list[Run]] = {}
    compared: dict[int, dict[str, Any]] = {}
    others_busy("before")
    with tempfile.TemporaryDirectory(prefix="run-", dir=DATA) as tmp:
        for n in zone_counts:
            for rnd in range(repeat):
                for key, label in methods.items():
                    out = Path(tmp, f"{key}-{n}.csv")
                    out.unlink(missing_ok=True)
                    if key == "a":
                        cmd = worker("baseline", mask, zones[n], out)
                    else:
                        cmd = landmask("zonal", mask, zones[n], "-o", out, "--overwrite", "--quiet")
                    r, _ = run(cmd)
                    runs.setdefault((n, key), []).append(r)
                    print(
                        f"  {n:>7} zones round {rnd + 1}: {label:<40} {r.seconds:7.2f} s",
                        flush=True,
                    )
            compared[n] = json.loads(
                run(worker("compare", Path(tmp, f"b-{n}.csv"), Path(tmp, f"a-{n}.csv")))[1]
            )
    others_busy("after")

    print(f"\n{size}² mask, medians of {repeat} interleaved round(s) on {os.cpu_count()} CPUs;")
    print("wall and CPU seconds (user + sys) and peak RSS of whole subprocesses, start-up and")
    print("imports included (RSS MB: the child's own peak; sum MB: peak of the summed RSS of the")
    print("child and its worker processes)")
    print(f"{'method':<40} {'zones':>8} {'seconds':>8} {'CPU s':>7} {'RSS MB':>7} {'sum MB':>7}")
    for n in zone_counts:
        for key, label in methods.items():
            rs = runs[(n, key)]
            sec = statistics.median(r.seconds for r in rs)
            cpu = statistics.median(r.cpu for r in rs)
            rss = statistics.median(r.rss_mb for r in rs)
            tree = statistics.median(peak(r) for r in rs)
            print(f"{label:<40} {n:>8,} {sec:>8.2f} {cpu:>7.1f} {rss:>7.0f} {tree:>7.0f}")
    for n in zone_counts:
        c = compared[n]
        print(f"\n{n:,} zones: class totals over all zones, km² (exact / centres):")
        for name in ("other", "forest", "urban", "water", "nodata"):
            exact, centres = c[f"{name}_km2"]
            print(f"  {name:<8} {exact:>14.4f} {centres:>14.4f}")
        mean, worst = c["forest_error_of_zone_area_mean"], c["forest_error_of_zone_area_max"]
        print(
            "  |centre count - exact| of forest, share of the zone's area: "
            f"mean {100 * mean:.4f}%, max {100 * worst:.4f}%"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10240, metavar="N")
    parser.add_argument("--zones", type=int, nargs="+", default=[1000, 100000], metavar="N")
    parser.add_argument("--repeat", type=int, default=1, metavar="N")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, *rest = args.worker
        if job == "zones":
            work_zones(rest[0], int(rest[1]), rest[2])
        elif job == "baseline":
            work_baseline(*rest)
        else:
            work_compare(*rest)
        return
    if args.size < 1 or args.repeat < 1 or min(args.zones) < 1:
        parser.error("--size, --zones and --repeat must be positive")
    bench(args.size, args.zones, args.repeat)


if __name__ == "__main__":
    main()
