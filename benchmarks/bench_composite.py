"""Composites: landmask composite against what users write today, and memory as inputs grow.

Makes synthetic dates (uint16 DN, scale 1e-4, an SCL layer with clouds) as STAC
items in benchmarks/data/composite/, then times whole processes (medians of
``--repeat`` runs, interleaved) and reports peak memory:

- ``landmask composite`` (median of 4 bands and clear_count);
- the baseline users write today: rioxarray opens every date lazily, clouds
  masked with ``where``, ``xr.concat`` over time and ``median(skipna=True)``
  with dask, ``rio.to_raster`` (the same dates and grid, no warp needed);
- memory flatness: landmask at 1x, 4x the region and 4x the dates.

    python benchmarks/bench_composite.py [--size 1024] [--dates 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from measure import Run, run

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "composite"
BANDS = ("blue", "green", "red", "nir")


def make_dates(size: int, n: int) -> list[str]:
    """``n`` dates of ``size``² px (made once, kept), as STAC item paths."""
    import numpy as np
    import rasterio
    from affine import Affine

    folder = DATA / f"{size}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    transform = Affine(10, 0, 500000, 0, -10, 5400000)
    for d in range(n):
        item_path = folder / f"D{d:02d}.json"
        paths.append(str(item_path))
        if item_path.exists():
            continue
        rng = np.random.default_rng(d)
        assets = {}
        profile = dict(
            driver="GTiff",
            width=size,
            height=size,
            count=1,
            crs="EPSG:32633",
            transform=transform,
            tiled=True,
            blockxsize=512,
            blockysize=512,
            compress="deflate",
        )
        for k, band in enumerate(BANDS):
            href = folder / f"D{d:02d}_{band}.tif"
            with rasterio.open(href, "w", dtype="uint16", nodata=0, **profile) as ds:
                for _, window in ds.block_windows(1):
                    shape = (window.height, window.width)
                    ds.write(
                        rng.integers(200, 5000 + 500 * k, shape, dtype=np.uint16), 1, window=window
                    )
            assets[band] = {
                "href": str(href),
                "roles": ["data"],
                "eo:bands": [{"name": band, "common_name": band}],
                "raster:bands": [{"scale": 1e-4, "offset": 0.0, "nodata": 0}],
            }
        href = folder / f"D{d:02d}_scl.tif"
        with rasterio.open(href, "w", dtype="uint8", **profile) as ds:
            for _, window in ds.block_windows(1):
                shape = (window.height, window.width)
                ds.write(np.where(rng.random(shape) < 0.2, 9, 4).astype(np.uint8), 1, window=window)
        assets["SCL"] = {"href": str(href), "roles": ["data"]}
        item_path.write_text(
            json.dumps(
                {
                    "type": "Feature",
                    "stac_version": "1.0.0",
                    "id": f"D{d:02d}",
                    "geometry": None,
                    "properties": {
                        "datetime": f"2024-{1 + d % 12:02d}-{1 + d // 12:02d}T10:00:00Z",
                        "platform": "sentinel-2a",
                    },
                    "links": [],
                    "assets": assets,
                }
            )
        )
    return paths


def landmask_cmd(items: list[str], out: Path) -> list[str]:
    landmask = str(Path(sys.executable).with_name("landmask"))
    flags = ["--stat", "median", "--quiet", "--no-stac", "--overwrite"]
    return [landmask, "composite", *items, "-o", str(out), *flags]


def median_of(runs: list[Run]) -> Run:
    return Run(
        *(
            statistics.median(getattr(r, f) for r in runs)
            for f in ("seconds", "cpu", "rss_mb", "tree_rss_mb")
        )
    )


def peak(r: Run) -> float:
    """Peak memory of the process tree (its own when the tree was not sampled)."""
    return r.tree_rss_mb or r.rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--dates", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out = DATA / "out"
    out.mkdir(parents=True, exist_ok=True)
    base_items = make_dates(args.size, args.dates)
    baseline = out / "baseline.tif"
    script = HERE / "baseline_composite.py"
    pairs: dict[str, list[Run]] = {"landmask": [], "baseline": []}
    for _ in range(args.repeat):
        pairs["landmask"].append(run(landmask_cmd(base_items, out / "lm.tif"))[0])
        pairs["baseline"].append(run([sys.executable, str(script), str(baseline), *base_items])[0])
    lm, bl = median_of(pairs["landmask"]), median_of(pairs["baseline"])
    print(f"{args.dates} dates of {args.size}² px, 4 bands, medians of {args.repeat}")
    print(f"{'job':<34} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}")
    for name, r in (("landmask composite", lm), ("rioxarray + concat + median", bl)):
        print(f"{name:<34} {r.seconds:7.2f} {r.cpu:7.2f} {peak(r):8.0f}")
    print(
        f"baseline / landmask: wall {bl.seconds / lm.seconds:.2f}x, "
        f"memory {peak(bl) / peak(lm):.2f}x"
    )
    print("\nmemory as the inputs grow (landmask composite, one run each)")
    for label, size, n in (
        ("1x", args.size, args.dates),
        ("4x region", args.size * 2, args.dates),
        ("4x dates", args.size, args.dates * 4),
    ):
        r, _ = run(landmask_cmd(make_dates(size, n), out / "grow.tif"))
        print(f"  {label:<10} {n:>3} dates {size}²: {r.seconds:6.2f} s, peak {peak(r):6.0f} MB")


if __name__ == "__main__":
    main()
