"""Per-chunk costs of a region run: CPU seconds, file opens and bytes read per chunk and date.

The region workflow of bench_region.py (synthetic dates of bench_composite.py:
four uint16 bands and SCL in 512-px DEFLATE blocks, 20% clouds, on the grid's
own lattice; tiles of ``--tile`` px, median of four bands, two rules, masks and
the mosaic VRT written), run by ``landmask run`` in a child process that counts,
inside every composite chunk task (:func:`landmask.temporal.stack.composite_block`):

- the task's CPU seconds (its thread's CPU clock: reading, decoding, cloud
  masking, the median; unaffected by other processes' load except through
  caches);
- the files it opens (``rasterio.open``) and the bytes its thread reads from
  files (``rchar`` of ``/proc/self/task/TID/io``: decompression input, headers
  included);

and the whole process's CPU seconds (the rest: start-up, planning, classifying,
writing the masks). Per chunk-date figures are the task's totals over
chunks x dates; the rest per chunk is from the difference of two region sizes.

``--chunk`` sets the workflow's ``chunk_size`` (default: the tile's, as
bench_region.py; a composite halves it further while a chunk's stack of dates
exceeds 64 MiB, as a year of dates does down to 128 px).

    python benchmarks/bench_chunk_cost.py [--size 2048] [--dates 4,16] [--tile 512] \
        [--chunk 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys


def worker(path: str) -> None:
    """Run the workflow in this process with the counters; print them as JSON."""
    import importlib
    import threading
    import time

    import rasterio

    from landmask._runtime.malloc import tune_malloc
    from landmask.cli import run

    tune_malloc()
    # the module, not landmask.temporal.composite, the function of that name
    comp = importlib.import_module("landmask.temporal.composite")
    lock = threading.Lock()
    totals = {"chunks": 0, "chunk_dates": 0, "cpu": 0.0, "opens": 0, "bytes": 0}
    inside = threading.local()
    block = comp.composite_block
    opener = rasterio.open

    def rchar() -> int:
        with open(f"/proc/self/task/{threading.get_native_id()}/io") as f:
            return int(next(line for line in f if line.startswith("rchar")).split()[1])

    def counted_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(inside, "on", False):
            inside.opens += 1
        return opener(*args, **kwargs)

    def counted_block(dates, *args, **kwargs):  # type: ignore[no-untyped-def]
        inside.on, inside.opens = True, 0
        read0, cpu0 = rchar(), time.thread_time()
        try:
            return block(dates, *args, **kwargs)
        finally:
            cpu, read = time.thread_time() - cpu0, rchar() - read0
            inside.on = False
            with lock:
                totals["chunks"] += 1
                totals["chunk_dates"] += len(dates)
                totals["cpu"] += cpu
                totals["opens"] += inside.opens
                totals["bytes"] += read

    comp.composite_block = counted_block  # type: ignore[assignment]
    rasterio.open = counted_open
    start = time.perf_counter()
    status = run(["run", path, "--force", "-q"])
    if status:
        sys.exit(status)
    t = os.times()
    totals["process_cpu"] = t.user + t.system
    totals["wall"] = time.perf_counter() - start
    print(json.dumps(totals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--dates", default="4,16")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--chunk", type=int, help="chunk_size (default: the tile size)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    import yaml
    from bench_composite import DATA, make_dates
    from bench_region import with_proj, workflow
    from measure import others_busy

    others_busy("before")
    jobs = []
    for n in (int(v) for v in args.dates.split(",")):
        items = with_proj(make_dates(args.size, n), args.size)
        chunk = args.chunk or args.tile
        folder = DATA.parent / "chunk-cost" / f"{n}d-{args.size}-t{args.tile}-c{chunk}"
        path = workflow(folder, items, args.size, args.tile)
        doc = yaml.safe_load(path.read_text())
        doc["chunk_size"] = chunk
        path.write_text(yaml.safe_dump(doc))
        jobs.append((n, path))
    runs: dict[int, list[dict[str, float]]] = {n: [] for n, _ in jobs}
    for _ in range(args.repeat):  # interleaved
        for n, path in jobs:
            cmd = [sys.executable, __file__, "--worker", str(path)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            runs[n].append(json.loads(out.splitlines()[-1]))
    others_busy("after")
    print(
        f"\n{args.size}² px region, tiles of {args.tile} px, chunks of {args.chunk or args.tile} px"
        f" asked, medians of {args.repeat} runs\n"
        f"{'dates':>5} {'chunks':>6} {'side px':>7} {'process cpu s':>13} {'chunk cpu s':>11} "
        f"{'cpu ms/chunk-date':>17} {'opens/chunk-date':>16} {'KiB/chunk-date':>14}"
    )
    for n, _ in jobs:
        med = {k: statistics.median(r[k] for r in runs[n]) for k in runs[n][0]}
        cd = med["chunk_dates"]
        print(
            f"{n:5d} {med['chunks']:6.0f} {(args.size**2 / med['chunks']) ** 0.5:7.0f} "
            f"{med['process_cpu']:13.2f} {med['cpu']:11.2f} "
            f"{1000 * med['cpu'] / cd:17.1f} {med['opens'] / cd:16.2f} "
            f"{med['bytes'] / cd / 1024:14.0f}"
        )


if __name__ == "__main__":
    main()
