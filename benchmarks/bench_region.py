"""Region runs: landmask run (tiles, composite, rules, mosaic) against odc-stac/stackstac + xarray.

Synthetic dates (bench_composite.make_dates: uint16 DN, scale 1e-4, 20% SCL
clouds, 512-px DEFLATE tiles, EPSG:32633), as STAC items with the ``proj``
fields odc-stac and stackstac need. Times whole processes (medians of
``--repeat`` interleaved runs) and reports peak memory of the process tree:

- ``landmask run`` of a region workflow: the dates' extent, EPSG:32633 at 10 m,
  tiles of ``--size``/2 px, ``median`` of four bands, rules ``forest: ndvi >
  0.4``, ``urban: ndvi < 0.1``; writes each tile's composite and mask and the
  mosaic VRT (no STAC items, as the baseline writes none);
- the baselines (benchmarks/baseline_region.py, run with ``--baseline-python``,
  a virtualenv holding odc-stac and stackstac): load onto the same grid in
  1024-px chunks, ``where`` clouds, ``median("time")``, the same rules with
  ``xr.where``, ``rio.to_raster`` of the mask only;
- memory flatness: landmask at 1x, at 4x the region and at 4x the dates.

The masks are compared pixel by pixel (a benchmark of different results would
mean nothing).

    python benchmarks/bench_region.py [--size 1024] [--dates 4] [--repeat 3] \
        [--baseline-python /path/to/venv/bin/python] [--baselines odc-stac,stackstac]
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


def workflow(folder: Path, items: list[str], size: int, tile: int) -> Path:
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
        "outputs": {"dir": "out", "stac": False},
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
    parser.add_argument("--dates", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-python", default=sys.executable)
    parser.add_argument("--baselines", default="odc-stac,stackstac")
    parser.add_argument("--skip-growth", action="store_true")
    args = parser.parse_args()
    root = DATA.parent / "region"
    tile = args.size // 2
    items = with_proj(make_dates(args.size, args.dates), args.size)
    wf = workflow(root / "1x", items, args.size, tile)
    baselines = [b for b in args.baselines.split(",") if b]
    script = Path(__file__).with_name("baseline_region.py")
    bounds = ",".join(str(v) for v in bounds_of(args.size))
    others_busy("before")
    runs: dict[str, list[Run]] = {"landmask": [], **{b: [] for b in baselines}}
    for _ in range(args.repeat):
        runs["landmask"].append(run(landmask_cmd(wf))[0])
        for b in baselines:
            out = root / f"{b}.tif"
            cmd = [args.baseline_python, str(script), b, str(out), bounds, *items]
            runs[b].append(run(cmd, env={**os.environ, "GDAL_CACHEMAX": "64"})[0])
    others_busy("after")
    lm = median_of(runs["landmask"])
    print(
        f"\n{args.dates} dates of {args.size}² px, 4 bands + SCL, tiles of {tile} px, "
        f"medians of {args.repeat}"
    )
    print(f"{'job':<44} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}")
    print(f"{'landmask run (region)':<44} {lm.seconds:7.2f} {lm.cpu:7.2f} {peak(lm):8.0f}")
    for b in baselines:
        r = median_of(runs[b])
        print(f"{b + ' + median + rules':<44} {r.seconds:7.2f} {r.cpu:7.2f} {peak(r):8.0f}")
        print(
            f"  {b} / landmask: wall {r.seconds / lm.seconds:.2f}x, "
            f"memory {peak(r) / peak(lm):.2f}x; masks: "
            f"{compare(root / '1x' / 'out' / 'mosaic.vrt', root / f'{b}.tif')}"
        )
    if args.skip_growth:
        return
    print("\nmemory as the inputs grow (landmask run, one run each, tiles of", tile, "px)")
    for label, size, n in (
        ("1x", args.size, args.dates),
        ("4x region", args.size * 2, args.dates),
        ("4x dates", args.size, args.dates * 4),
    ):
        grown = with_proj(make_dates(size, n), size)
        path = workflow(root / label.replace(" ", "-"), grown, size, tile)
        r, _ = run(landmask_cmd(path))
        print(
            f"  {label:<10} {n:>3} dates {size}²: {r.seconds:6.2f} s, cpu {r.cpu:6.2f} s, "
            f"peak {peak(r):6.0f} MB"
        )


if __name__ == "__main__":
    main()
