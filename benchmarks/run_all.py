"""Every benchmark job against its baseline in one run: ratios printed, results kept.

``make bench`` (full sizes) and ``make bench-quick`` (2048², a few minutes) run this. For each
job it runs landmask's command and the job's baseline in fresh subprocesses, interleaved
(landmask, baseline, landmask, ...) over ``--repeat`` rounds, and prints the medians of wall
seconds, CPU seconds (user + sys) and peak RSS (the summed RSS of the process tree, sampled) of
both, and their ratios landmask / baseline (below 1: landmask is faster or smaller). Jobs:

- ``classify``: ``landmask classify`` vs the naive rioxarray + ``xr.where`` + ``rio.to_raster``
  pipeline of the same rules (texture terms by ``scipy.ndimage`` on the whole array; the two
  masks are checked identical), and vs the floor (reading and decoding every block with rasterio);
- ``vectorize``: ``landmask vectorize`` of a per-pixel rule mask vs whole-raster
  ``rasterio.features.shapes`` + shapely + GeoPackage;
- ``zonal-N``: ``landmask zonal`` (exact) vs whole-raster ``rasterize`` + ``bincount`` (centres),
  N Voronoi districts;
- ``fragmented-<mask>-<mode>``: ``landmask vectorize --connectivity 8`` of a random 4-class mask
  and of the worst cases of region tracing (diagonal 1-pixel stripes, a 2-pixel checkerboard,
  1-pixel lines, a raster one pixel high), as it is, with ``--min-area 500``, with
  ``--simplify 3`` and with both, vs whole-raster GDAL sieve + polygonize (+
  ``shapely.coverage_simplify``);
- ``imports-<command>``: the modules ``classify``, ``vectorize``, ``zonal``, ``composite``,
  ``run`` (a region) and a polygonizing worker import, imported alone in a fresh interpreter, vs
  ``import numpy, rasterio`` (``bench_imports.py``, which finds each command's modules by running
  it once on small inputs).

The scenes, masks and zones are those of ``bench_classify.py``, ``bench_vectorize.py``,
``bench_zonal.py`` and ``bench_fragmented.py`` (made once, cached in ``benchmarks/data/``).

The results are written to ``benchmarks/results/<date>-<host>[-quick].json`` and ``.md``, with the
machine (CPUs, memory, load before and after), the versions (Python, landmask and its git
commit, numpy, rasterio, GDAL, shapely, GEOS, dask) and the command. To compare two runs::

    .venv/bin/python benchmarks/run_all.py --compare benchmarks/results/A.json B.json

prints each job's ratio in both and how much it moved; a move of more than 10% is flagged.
Wall-clock figures are only comparable within one run on one machine; the ratios travel better.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bench_classify
import bench_fragmented
import bench_imports
import bench_vectorize
import bench_zonal
from measure import Run, others_busy, run_limited

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FLAG = 0.10  # a ratio that moves by more than this between runs is flagged


@dataclass(frozen=True)
class Job:
    name: str
    what: str
    landmask: list[str]
    baseline: list[str]
    #: the two outputs that must be identical (landmask's, the baseline's), checked after the job
    same: tuple[Path, Path] | None = None


def _landmask(*args: object) -> list[str]:
    return [str(Path(sys.executable).with_name("landmask")), *map(str, args)]


def jobs(quick: bool, out: Path) -> list[Job]:
    """The jobs and their inputs (made on first use)."""
    scene_size = 2048 if quick else 10240
    mask_size = 2048 if quick else 4096
    zone_counts = (1000, 10000) if quick else (1000, 100000)
    frag_size = 512 if quick else 1024
    scene = bench_classify.scene_path(scene_size)
    mask = bench_vectorize.mask_path(mask_size)
    sensor = ("--sensor", "sentinel2-l2a")
    done: list[Job] = [
        Job(
            "classify",
            f"classify {scene_size}² vs naive rioxarray",
            _landmask("classify", scene, *sensor, "-o", out / "c.tif", "--overwrite", "--quiet"),
            bench_classify.worker("naive", scene, out / "naive.tif"),
            same=(out / "c.tif", out / "naive.tif"),
        ),
        Job(
            "classify-floor",
            f"classify {scene_size}² vs rasterio read floor",
            _landmask("classify", scene, *sensor, "-o", out / "c.tif", "--overwrite", "--quiet"),
            bench_classify.worker("read", scene),
        ),
        Job(
            "vectorize",
            f"vectorize {mask_size}² rule mask vs GDAL shapes + GeoPackage",
            _landmask("vectorize", mask, "-o", out / "v.gpkg", "--overwrite", "--quiet"),
            bench_vectorize.worker("baseline", mask, out / "vb.gpkg"),
        ),
    ]
    for n in zone_counts:
        zones = bench_zonal.zones_path(mask, mask_size, n)
        done.append(
            Job(
                f"zonal-{n}",
                f"zonal {mask_size}², {n:,} zones vs rasterize + bincount",
                _landmask("zonal", mask, zones, "-o", out / "z.csv", "--overwrite", "--quiet"),
                bench_zonal.worker("baseline", mask, zones, out / "zb.csv"),
            )
        )
    for kind in bench_fragmented.MASKS:
        frag = bench_fragmented.mask_path(kind, frag_size)
        for mode in ("c8", "sieve", "simplify", "both"):
            done.append(
                Job(
                    f"fragmented-{kind}-{mode}",
                    f"vectorize {frag_size}² {kind} {' '.join(bench_fragmented.MODES[mode])} "
                    "vs GDAL",
                    bench_fragmented.command("b", mode, frag, out / "f.gpkg"),
                    bench_fragmented.command("a", mode, frag, out / "fb.gpkg"),
                )
            )
    floor = bench_imports.importer(bench_imports.FLOOR)
    for name, command in bench_imports.import_jobs(out).items():
        what = f"imports of {name} vs import {', '.join(bench_imports.FLOOR)}"
        done.append(Job(f"imports-{name}", what, command, floor))
    return done


def _median(runs: list[Run]) -> dict[str, float]:
    return {
        "seconds": statistics.median(r.seconds for r in runs),
        "cpu": statistics.median(r.cpu for r in runs),
        "peak_mb": statistics.median(max(r.rss_mb, r.tree_rss_mb) for r in runs),
    }


def versions() -> dict[str, str]:
    """Versions of what the jobs run, asked of a child (the parent imports nothing heavy)."""
    code = (
        "import json, numpy, rasterio, shapely, dask, landmask\n"
        "print(json.dumps({'numpy': numpy.__version__, 'rasterio': rasterio.__version__,"
        " 'gdal': rasterio.__gdal_version__, 'shapely': shapely.__version__,"
        " 'geos': shapely.geos_version_string, 'dask': dask.__version__,"
        " 'landmask': landmask.__version__}))"
    )
    out = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    commit = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(HERE), "status", "--porcelain", "--", "../landmask"],
        capture_output=True,
        text=True,
    )
    out["git"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    out["python"] = platform.python_version()
    return out


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024**2, 1),
        "platform": platform.platform(),
    }


def bench(quick: bool, repeat: int, only: Sequence[str], timeout: float) -> dict[str, object]:
    RESULTS.mkdir(exist_ok=True)
    bench_classify.DATA.mkdir(exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    busy_before = others_busy("before")
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="run-", dir=bench_classify.DATA) as tmp:
        todo = [j for j in jobs(quick, Path(tmp)) if not only or j.name in only]
        for job in todo:
            runs: dict[str, list[Run]] = {"landmask": [], "baseline": []}
            stopped = False
            for rnd in range(repeat):
                for side in ("landmask", "baseline"):
                    r, _ = run_limited(getattr(job, side), timeout)
                    if r is None:
                        stopped = True
                        print(f"  {job.name} round {rnd + 1}: {side} > {timeout:.0f} s", flush=True)
                        continue
                    runs[side].append(r)
                    print(f"  {job.name} round {rnd + 1}: {side:<8} {r.seconds:7.2f} s", flush=True)
            if job.same is not None and not stopped:
                bench_classify.same_masks(*job.same)  # stops the run if they differ
            entry: dict[str, object] = {"job": job.name, "what": job.what, "stopped": stopped}
            if runs["landmask"] and runs["baseline"]:
                lm, base = _median(runs["landmask"]), _median(runs["baseline"])
                entry |= {
                    "landmask": lm,
                    "baseline": base,
                    "ratio": {k: lm[k] / base[k] for k in lm if base[k]},
                }
            results.append(entry)
    busy_after = others_busy("after")
    return {
        "date": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "quick": quick,
        "repeat": repeat,
        "machine": machine() | {"busy_before": busy_before, "busy_after": busy_after},
        "versions": versions(),
        "jobs": results,
    }


def table(result: dict[str, object]) -> str:
    """The results as a Markdown table (also printed)."""
    m, v = result["machine"], result["versions"]
    assert isinstance(m, dict) and isinstance(v, dict)
    lines = [
        f"# landmask benchmarks, {result['date']}",
        "",
        f"`{result['command']}`; {m['host']}: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gb']} GB; CPUs busy with other work before/after: "
        f"{_share(m['busy_before'])} / {_share(m['busy_after'])}; medians of {result['repeat']} "
        "interleaved round(s), whole processes.",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "| job | landmask s | baseline s | wall ratio | CPU s landmask / baseline | CPU ratio "
        "| peak MB landmask / baseline | memory ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in result["jobs"]:  # type: ignore[union-attr]
        if "ratio" not in e:
            lines.append(f"| {e['what']} | stopped | | | | | | |")
            continue
        a, b, r = e["landmask"], e["baseline"], e["ratio"]
        lines.append(
            f"| {e['what']} | {a['seconds']:.2f} | {b['seconds']:.2f} | {r['seconds']:.2f} "
            f"| {a['cpu']:.1f} / {b['cpu']:.1f} | {r['cpu']:.2f} "
            f"| {a['peak_mb']:.0f} / {b['peak_mb']:.0f} | {r['peak_mb']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _share(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, float) else "?"


def compare(paths: Sequence[str]) -> None:
    """Each job's ratios in two result files and how much they moved (> 10% flagged)."""
    old, new = (json.loads(Path(p).read_text()) for p in paths)
    before = {e["job"]: e for e in old["jobs"] if "ratio" in e}
    print(f"{'job':<28} {'what':<8} {'before':>8} {'after':>8} {'moved':>8}")
    for e in new["jobs"]:
        if "ratio" not in e or e["job"] not in before:
            continue
        for what in ("seconds", "cpu", "peak_mb"):
            a, b = before[e["job"]]["ratio"][what], e["ratio"][what]
            moved = b / a - 1
            flag = "  <-- more than 10%" if abs(moved) > FLAG else ""
            print(f"{e['job']:<28} {what:<8} {a:8.2f} {b:8.2f} {moved:+8.0%}{flag}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048² inputs: a few minutes")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help="rounds per job (default 3, 1 with --quick)",
    )
    parser.add_argument("--jobs", nargs="*", default=[], metavar="NAME", help="only these jobs")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        metavar="S",
        help="stop a run after S seconds (default 600)",
    )
    parser.add_argument("--compare", nargs=2, metavar="JSON", help="compare two result files")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args.compare)
        return
    repeat = args.repeat or (1 if args.quick else 3)
    result = bench(args.quick, repeat, args.jobs, args.timeout)
    text = table(result)
    print("\n" + text)
    stem = f"{str(result['date'])[:10]}-{socket.gethostname()}{'-quick' if args.quick else ''}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"{stem}.md").write_text(text)
    print(f"written: benchmarks/results/{stem}.json and .md")


if __name__ == "__main__":
    main()
