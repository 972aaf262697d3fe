"""Start-up: what each command imports, in CPU seconds and memory, vs ``import numpy, rasterio``.

On small inputs a command's imports are most of its run (zonal of 1,000 zones at 4096²: ~65%),
and every polygonizing worker process pays its own. For each command this script

1. runs the real command once on small inputs (512² scene and mask, 100 zones, a 512² region of
   one date; ``-X importtime``, threads, so no worker process) and takes the modules it imported,
   in order, from what ``-X importtime`` prints;
2. imports those modules, and nothing else, in fresh interpreters (``--repeat`` rounds,
   interleaved with the floor ``import numpy, rasterio``): CPU seconds (user + sys) and peak RSS
   of the whole process, and the heavy packages among them.

The polygonizing worker is what a spawned worker process imports before its first chunk is done:
the ``landmask`` script again (as ``__mp_main__``, which imports :mod:`landmask.cli`), the module
of its task, :mod:`landmask.vector._polygonize`, and :mod:`scipy.ndimage` to label the chunk.

    .venv/bin/python benchmarks/bench_imports.py [--repeat 3] [--commands classify zonal ...] \
        [--before DIR]

``--before DIR`` measures the landmask of another source tree (the parent of its ``landmask/``,
put first on ``PYTHONPATH``) in the same rounds, its modules found by running its commands.

``run_all.py`` runs the same as its ``imports-<command>`` jobs (baseline: the floor).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import bench_classify
import bench_composite
import bench_region
import bench_vectorize
import bench_zonal
from measure import others_busy, run

#: The floor every command pays: the array and raster libraries themselves
FLOOR = ("numpy", "rasterio")
#: What a spawned polygonizing worker imports: the entry script, its task's module, and the
#: labelling its first chunk needs
WORKER = ("landmask.cli", "landmask.vector._polygonize", "scipy.ndimage")
#: Heavy packages reported per command (present or not)
HEAVY = (
    "xarray",
    "pandas",
    "pyarrow",
    "dask.array",
    "scipy.sparse",
    "scipy.ndimage",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyproj",
    "pystac",
    "yaml",
    "sklearn",
    "matplotlib",
    "distributed",
)
SIZE = 512
ZONES = 100

#: The child that imports the names it is given, in order, then prints its own CPU seconds and
#: peak RSS (VmHWM starts afresh at exec; ru_maxrss would start at the parent's) and, with
#: ``report``, which heavy packages it holds
IMPORTER = (
    "import importlib, resource, sys\n"
    "for name in sys.argv[2:]:\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "    except Exception:\n"  # a module that only imports as part of its package
    "        pass\n"
    "r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
    "print(r.ru_utime + r.ru_stime, int(hwm) / 1024)\n"
    "if sys.argv[1] == 'report':\n"
    f"    print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
)


def _landmask(*args: object) -> list[str]:
    quiet = ["--force", "--quiet"] if args[0] == "run" else ["--overwrite", "--quiet"]
    threads = ["--scheduler", "threads"]  # no worker process: its imports are the job "worker"
    return [str(Path(sys.executable).with_name("landmask")), *map(str, args), *quiet, *threads]


def commands(out: Path) -> dict[str, Callable[[], list[str]]]:
    """Each command on small inputs (made on first use, cached in ``benchmarks/data``)."""

    def classify() -> list[str]:
        scene = bench_classify.scene_path(SIZE)
        return _landmask("classify", scene, "--sensor", "sentinel2-l2a", "-o", out / "c.tif")

    def vectorize() -> list[str]:
        return _landmask("vectorize", bench_vectorize.mask_path(SIZE), "-o", out / "v.gpkg")

    def zonal() -> list[str]:
        mask = bench_vectorize.mask_path(SIZE)
        zones = bench_zonal.zones_path(mask, SIZE, ZONES)
        return _landmask("zonal", mask, zones, "-o", out / "z.csv")

    def composite() -> list[str]:
        return _landmask("composite", *bench_composite.make_dates(SIZE, 2), "-o", out / "m.tif")

    def region() -> list[str]:
        items = bench_region.with_proj(bench_region.make_dates(SIZE, 1), SIZE)
        folder = bench_region.DATA.parent / "region" / f"1d-{SIZE}"
        return _landmask("run", bench_region.workflow(folder, items, SIZE, SIZE // 2))

    return {
        "classify": classify,
        "vectorize": vectorize,
        "zonal": zonal,
        "composite": composite,
        "run": region,
    }


def imported(cmd: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
    """The modules ``cmd`` imports (outermost first-time imports, in order), from a real run."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd], capture_output=True, text=True, env=env
    )
    if done.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    names = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1]
            if name[1:2] != " " and name.strip() != "cumulative":  # not nested in another import
                names.append(name.strip())
    return names


def importer(names: Sequence[str], report: bool = False) -> list[str]:
    """A fresh interpreter that imports ``names`` in order (and, with ``report``, says which
    heavy packages that loaded)."""
    return [sys.executable, "-P", "-c", IMPORTER, "report" if report else "-", *names]


def import_jobs(out: Path, env: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Each command's importer (the worker's too), its modules found by running it once."""
    jobs = {name: importer(imported(make(), env)) for name, make in commands(out).items()}
    return jobs | {"worker": importer(WORKER)}


def heavy(job: list[str], env: dict[str, str] | None = None) -> str:
    report = [*job[:4], "report", *job[5:]]
    return subprocess.run(report, capture_output=True, text=True, env=env).stdout.split("\n")[1]


def measured(job: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """CPU seconds and peak MB of one run of an importer, as it counts them itself."""
    cpu, mb = run(job, env)[1].split()[:2]
    return float(cpu), float(mb)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--commands", nargs="*", default=[], metavar="NAME")
    parser.add_argument("--before", metavar="DIR", help="a landmask source tree to run as well")
    args = parser.parse_args(argv)
    envs: dict[str, dict[str, str] | None] = {"": None}
    if args.before:
        envs["before "] = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
    bench_classify.DATA.mkdir(exist_ok=True)
    jobs: dict[str, tuple[list[str], dict[str, str] | None]] = {}
    with tempfile.TemporaryDirectory(prefix="run-", dir=bench_classify.DATA) as tmp:
        for prefix, env in envs.items():
            for name, job in import_jobs(Path(tmp), env).items():
                if not args.commands or name in args.commands:
                    jobs[prefix + name] = (job, env)
    others_busy("before")
    floor = importer(FLOOR)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in [*jobs, "floor"]}
    for _ in range(args.repeat):  # interleaved: the machine's drift hits all alike
        runs["floor"].append(measured(floor))
        for name, (job, env) in jobs.items():
            runs[name].append(measured(job, env))
    others_busy("after")

    def medians(name: str) -> tuple[float, float]:
        cpu = statistics.median(r[0] for r in runs[name])
        return cpu, statistics.median(r[1] for r in runs[name])

    base_cpu, base_mb = medians("floor")
    print(f"\nimports only, fresh interpreters, medians of {args.repeat}")
    print(f"{'command':<17} {'cpu s':>6} {'x floor':>8} {'peak MB':>8} {'x floor':>8}  heavy")
    print(f"{'floor':<17} {base_cpu:6.2f} {1:8.2f} {base_mb:8.0f} {1:8.2f}  {' '.join(FLOOR)}")
    for name, (job, env) in sorted(jobs.items(), key=lambda kv: kv[0].split()[-1]):
        cpu, mb = medians(name)
        print(
            f"{name:<17} {cpu:6.2f} {cpu / base_cpu:8.2f} {mb:8.0f} {mb / base_mb:8.2f}  "
            f"{heavy(job, env)}"
        )


if __name__ == "__main__":
    main()
