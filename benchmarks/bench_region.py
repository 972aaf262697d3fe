"""Region runs: landmask run (tiles, composite, rules, mosaic) against odc-stac/stackstac + xarray.

Synthetic dates (bench_composite.make_dates: uint16 DN, scale 1e-4, 20% SCL
clouds, 512-px DEFLATE tiles, EPSG:32633), as STAC items with the ``proj``
fields odc-stac and stackstac need. Times whole processes (medians of
``--repeat`` interleaved runs) and reports peak memory of the process tree:

- ``landmask run`` of a region workflow: the dates' extent, EPSG:32633 at 10 m,
  tiles of ``--size``/2 px, ``median`` of four bands, rules ``forest: ndvi >
  0.4``, ``urban: ndvi < 0.1``; writes each tile's mask and the mosaic VRT
  (no STAC items and, unless ``--keep-composite``, no composite: the baseline
  writes neither); ``--before DIR`` also runs the landmask of another source
  tree (``PYTHONPATH=DIR``) in the same rounds, for before/after ratios;
- the baselines (benchmarks/baseline_region.py, run with ``--baseline-python``,
  a virtualenv holding odc-stac and stackstac): load onto the same grid in
  1024-px chunks, ``where`` clouds, ``median("time")``, the same rules with
  ``xr.where``, ``rio.to_raster`` of the mask only;
- memory flatness: landmask at 1x, at 4x the region and at 4x the dates.

The masks are compared pixel by pixel (a benchmark of different results would
mean nothing).

    python benchmarks/bench_region.py [--size 1024] [--dates 1,4,8] [--repeat 3] \
        [--baseline-python /path/to/venv/bin/python] [--baselines odc-stac,stackstac] \
        [--before /path/of/an/older/checkout] [--keep-composite]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench_composite import DATA, make_dates, median_of, peak
from measure import Run, others_busy, run

RULES = (
    "name: bench\nscheme: landcover\nrules:\n"
    "  - class: forest\n    when: ndvi > 0.4\n"
    "  - class: urban\n    when: ndvi < 0.1\n"
)


def with_proj(items: list[str], size: int) -> list[str]:
    """Copies of the items with ``proj:`` fields, a WGS84 bbox and geometry."""
    from rasterio.warp import transform_geom

    out = []
    for path in items:
        target = Path(path).with_name("stac-" + Path(path).name)
        out.append(str(target))
        if target.exists():
            continue
        doc = json.loads(Path(path).read_text())
        box = {
            "type": "Polygon",
            "coordinates": [
                [
                    [500000, 5400000],
                    [500000 + 10 * size, 5400000],
                    [500000 + 10 * size, 5400000 - 10 * size],
                    [500000, 5400000 - 10 * size],
                    [500000, 5400000],
                ]
            ],
        }
        geom = transform_geom("EPSG:32633", "EPSG:4326", box)
        xs = [p[0] for p in geom["coordinates"][0]]
        ys = [p[1] for p in geom["coordinates"][0]]
        doc["geometry"], doc["bbox"] = geom, [min(xs), min(ys), max(xs), max(ys)]
        doc["stac_extensions"] = [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        ]
        doc["properties"]["proj:epsg"] = 32633
        for asset in doc["assets"].values():
            asset["proj:shape"] = [size, size]
            asset["proj:transform"] = [10, 0, 500000, 0, -10, 5400000]
            asset["type"] = "image/tiff; application=geotiff"
        doc["assets"]["SCL"]["raster:bands"] = [{"data_type": "uint8", "nodata": 0}]
        for band in ("blue", "green", "red", "nir"):
            doc["assets"][band]["raster:bands"][0]["data_type"] = "uint16"
        target.write_text(json.dumps(doc))
    return out


def bounds_of(size: int) -> tuple[float, float, float, float]:
    return (500000.0, 5400000.0 - 10 * size, 500000.0 + 10 * size, 5400000.0)


def workflow(folder: Path, items: list[str], size: int, tile: int, keep: bool = False) -> Path:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(RULES)
    doc = {
        "name": "bench",
        "inputs": items,
        "region": {"bounds": list(bounds_of(size))},
        "grid": {"crs": "EPSG:32633", "resolution": 10, "tile_size": tile},
        "composite": {"stats": ["median"]},
        "classifier": {"rules": "rules.yaml"},
        # the baseline writes the mask only; --keep-composite writes each tile's composite too
        "outputs": {
            "dir": "out",
            "stac": False,
            "composite": "{stem}_composite.tif" if keep else None,
        },
        "chunk_size": min(tile, 1024),
        "parallel_scenes": 2,
    }
    path = folder / "region.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def landmask_cmd(path: Path) -> list[str]:
    landmask = str(Path(sys.executable).with_name("landmask"))
    return [landmask, "run", str(path), "--force", "-q"]


def compare(mosaic: Path, baseline: Path) -> str:
    import numpy as np
    import rasterio

    with rasterio.open(mosaic) as a, rasterio.open(baseline) as b:
        x, y = a.read(1), b.read(1)
        same_grid = a.transform == b.transform and a.shape == b.shape
    if not same_grid:
        return "other grids"
    diff = int(np.count_nonzero(x != y))
    return f"{diff} of {x.size} px differ ({100 * diff / x.size:.3f}%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--dates", default="4", help="date counts, comma-separated: 1,4,8")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-python", default=sys.executable)
    parser.add_argument("--baselines", default="odc-stac,stackstac")
    parser.add_argument(
        "--before", help="a landmask source tree (its parent of landmask/) to run as well"
    )
    parser.add_argument("--keep-composite", action="store_true")
    parser.add_argument("--skip-growth", action="store_true")
    args = parser.parse_args()
    root = DATA.parent / "region"
    tile = args.size // 2
    counts = [int(n) for n in args.dates.split(",")]
    baselines = [b for b in args.baselines.split(",") if b]
    script = Path(__file__).with_name("baseline_region.py")
    bounds = ",".join(str(v) for v in bounds_of(args.size))
    others_busy("before")
    for n in counts:
        items = with_proj(make_dates(args.size, n), args.size)
        folder = root / f"{n}d-{args.size}"
        wf = workflow(folder, items, args.size, tile, args.keep_composite)
        # an older landmask writes every tile's composite: compared with this one keeping it
        kept = workflow(folder / "kept", items, args.size, tile, keep=True)
        compared = ["kept", "before"] if args.before and not args.keep_composite else ["before"]
        jobs = ["landmask", *(compared if args.before else []), *baselines]
        runs: dict[str, list[Run]] = {j: [] for j in jobs}
        for _ in range(args.repeat):  # interleaved: the machine's drift hits all alike
            runs["landmask"].append(run(landmask_cmd(wf))[0])
            if "kept" in runs:
                runs["kept"].append(run(landmask_cmd(kept))[0])
            if args.before:
                env = {**os.environ, "PYTHONPATH": args.before}
                runs["before"].append(run(landmask_cmd(kept), env=env)[0])
            for b in baselines:
                out = folder / f"{b}.tif"
                cmd = [args.baseline_python, str(script), b, str(out), bounds, *items]
                runs[b].append(run(cmd, env={**os.environ, "GDAL_CACHEMAX": "64"})[0])
        lm = median_of(runs["landmask"])
        print(
            f"\n{n} dates of {args.size}² px, 4 bands + SCL, tiles of {tile} px, "
            f"composite {'kept' if args.keep_composite else 'not kept'}, medians of {args.repeat}"
        )
        print(f"{'job':<44} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}")
        for j in jobs:
            r = median_of(runs[j])
            label = {
                "landmask": "landmask run (region)",
                "kept": "landmask run, composites kept",
                "before": "--before, composites kept",
            }.get(j, j + " + median + rules")
            print(f"{label:<44} {r.seconds:7.2f} {r.cpu:7.2f} {peak(r):8.0f}")
        for b in baselines:
            r = median_of(runs[b])
            print(
                f"  {b} / landmask: wall {r.seconds / lm.seconds:.2f}x, cpu {r.cpu / lm.cpu:.2f}x, "
                f"memory {peak(r) / peak(lm):.2f}x; masks: "
                f"{compare(folder / 'out' / 'mosaic.vrt', folder / f'{b}.tif')}"
            )
    others_busy("after")
    if args.skip_growth:
        return
    print("\nmemory as the inputs grow (landmask run, one run each, tiles of", tile, "px)")
    for label, size, n in (
        ("1x", args.size, counts[0]),
        ("4x region", args.size * 2, counts[0]),
        ("4x dates", args.size, counts[0] * 4),
    ):
        grown = with_proj(make_dates(size, n), size)
        path = workflow(root / label.replace(" ", "-"), grown, size, tile, args.keep_composite)
        r, _ = run(landmask_cmd(path))
        print(
            f"  {label:<10} {n:>3} dates {size}²: {r.seconds:6.2f} s, cpu {r.cpu:6.2f} s, "
            f"peak {peak(r):6.0f} MB"
        )


if __name__ == "__main__":
    main()
