"""Speed and memory of ``landmask classify`` against baselines, in one run.

For each scene size it runs, in fresh subprocesses and interleaved over ``--repeat`` rounds:

- (0) start-up alone: the interpreter importing rasterio, rioxarray, xarray and dask.array,
  which (b) and (c) pay before they read a pixel;
- (a) the floor: read and decode every block with plain rasterio, 2 threads, one dataset handle
  per thread, ``GDAL_CACHEMAX=64`` (and once more with GDAL's default block cache);
- (b) a naive pipeline as a user writes it: ``rioxarray.open_rasterio`` in 2048² chunks,
  xarray arithmetic for the indices, ``scipy.ndimage`` filters over the whole array for the
  urban rule's texture terms, a chain of ``xr.where`` for the default rules and
  ``rio.to_raster`` (tiled DEFLATE, with a lock); default GDAL cache, and again with 64 MB;
- (c) the real CLI: ``landmask classify SCENE --sensor sentinel2-l2a -o OUT.tif``.

Wall-clock seconds, CPU seconds (user + sys) and peak RSS are those of the whole subprocess
(interpreter start and imports included), CPU and peak RSS from ``os.wait4`` of that child alone.
Medians are printed with the targets. (b) computes the same map as (c): the masks are compared
pixel by pixel after each size and the run stops if they differ (a rule change in
``landmask/spectral/rulesets/default.yaml`` that (b) does not mirror), so the comparison is
between two pipelines that do the same work.

The parent imports only the standard library: on Linux a child's peak RSS starts at its parent's
high-water mark (``exec`` keeps it), so every heavy job (making scenes, comparing masks) runs in
a worker subprocess too.

Scenes are cached in ``benchmarks/data/`` (git-ignored); outputs are deleted. Run::

    .venv/bin/python benchmarks/bench_classify.py                  # 4096² and 10240², 3 rounds
    .venv/bin/python benchmarks/bench_classify.py --sizes 2048 --repeat 1   # a quick check
"""

from __future__ import annotations

import argparse
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
NAIVE_CHUNK = 2048


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    job: str  # a worker job below, or "cli" for the landmask CLI
    cachemax: int | None = None  # GDAL_CACHEMAX in MB; None: GDAL's default (5% of RAM)


METHODS = (
    Method("0", "(0)  start-up: python + xarray/dask imports", "imports"),
    Method("a", "(a)  rasterio read, 2 threads, cache 64 MB", "read", 64),
    Method("a'", "(a') rasterio read, default cache", "read"),
    Method("b", "(b)  naive rioxarray + xr.where", "naive"),
    Method("b'", "(b') naive, cache 64 MB", "naive", 64),
    Method("c", "(c)  landmask classify", "cli"),
)
#: issue 25: (c) at least 1.4x faster than (b), its CPU at most 1.25x that of (a) + (0), peak
#: memory under 400 MB and flat with size
TARGET_SPEEDUP, TARGET_OVERHEAD, TARGET_RSS_MB, TARGET_RSS_SPREAD = 1.4, 1.25, 400, 1.25


# --------------------------------------------------------------------------- workers (children)


def work_make_scene(size: int, path: str) -> None:
    from landmask.synthetic import write_scene

    part = f"{path}.part.tif"
    write_scene(part, size, SEED)
    os.replace(part, path)


def work_imports() -> None:
    """What (b) and (c) pay before they read a pixel."""
    import dask.array
    import rasterio
    import rioxarray
    import xarray

    assert dask.array and rasterio and rioxarray and xarray


def work_read(scene: str) -> None:
    """Read and decode every block: 2 threads, each with its own handle and a share of blocks."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import rasterio

    with rasterio.open(scene) as ds:
        windows = [w for _, w in ds.block_windows(1)]
        count, dtype, (bh, bw) = ds.count, ds.dtypes[0], ds.block_shapes[0]

    def read_share(k: int) -> int:
        buf = np.empty((count, bh, bw), dtype=dtype)
        with rasterio.open(scene) as ds:
            for w in windows[k::2]:
                ds.read(window=w, out=buf[:, : w.height, : w.width])
        return len(windows[k::2])

    with ThreadPoolExecutor(2) as pool:
        assert sum(pool.map(read_share, range(2))) == len(windows)


def work_naive(scene: str, out: str) -> None:
    """Classify with plain rioxarray/xarray/scipy, as a typical user writes it (default rules).

    The per-pixel terms are xarray arithmetic over Dask chunks; the neighbourhood terms (the
    urban rule's ``focal_std`` of the mean visible reflectance over 3x3 pixels and the smallest
    of those within 3x3, the forest rule's darkest canopy within 3x3) are ``scipy.ndimage``
    filters over the whole array, as a user without a chunked focal tool computes them: the
    window's valid pixels only, NaN where the pixel is missing.
    """
    import threading

    import numpy as np
    import rioxarray
    import xarray as xr
    from scipy import ndimage

    dn = rioxarray.open_rasterio(scene, chunks={"band": -1, "y": NAIVE_CHUNK, "x": NAIVE_CHUNK})
    assert isinstance(dn, xr.DataArray)
    refl = (dn.astype("float32") * 0.0001 - 0.1).where(dn != 0)  # S2 L2A, nodata 0
    blue, green, red, nir, swir16, swir22 = (refl.sel(band=b) for b in (1, 2, 3, 4, 5, 6))
    ndvi = (nir - red) / (nir + red)
    ndwi = (green - nir) / (green + nir)
    mndwi = (green - swir16) / (green + swir16)
    ndbi = (swir16 - nir) / (swir16 + nir)
    red_blue = (red - blue) / (red + blue)
    vis = (blue + green + red) / 3
    dark = (vis + swir22) / 2

    # texture: focal_std(vis, 1) and focal_min(focal_std(vis, 1), 1), whole array in memory
    v = vis.values
    seen = np.isfinite(v)
    v64 = np.where(seen, v, 0).astype(np.float64)
    count = ndimage.uniform_filter(seen.astype(np.float64), 3, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):  # windows without a valid pixel
        mean = ndimage.uniform_filter(v64, 3, mode="constant") / count
        var = ndimage.uniform_filter(v64 * v64, 3, mode="constant") / count - mean * mean
        std = np.sqrt(np.maximum(var, 0)).astype(np.float32)
    std[~seen] = np.nan
    low = ndimage.minimum_filter(np.where(seen, std, np.inf), 3, mode="constant", cval=np.inf)
    low[~seen] = np.nan
    texture = vis.copy(data=std)
    smallest = vis.copy(data=low)
    # forest at stand edges: the darkest canopy within 3x3, whole array too
    d = dark.values
    lit = np.isfinite(d)
    darkest = ndimage.minimum_filter(np.where(lit, d, np.inf), 3, mode="constant", cval=np.inf)
    darkest[~lit] = np.nan
    darkest_near = dark.copy(data=darkest)

    # landmask/spectral/rulesets/default.yaml, first match wins; nodata where any band or
    # compared quantity is missing or not finite (bench() asserts the masks are identical)
    quantities = (ndvi, ndwi, mndwi, ndbi, red_blue, dark, darkest_near, texture, smallest)
    valid = refl.notnull().all("band")
    for q in quantities:
        valid = valid & np.isfinite(q)
    water = (mndwi > 0) & ((ndwi > 0) | (ndvi > 0.2))
    core = (ndvi > 0.5) & (dark < 0.08)
    forest = (core | ((ndvi > 0.6) & (dark < 0.1) & (darkest_near < 0.08))) & (nir < 0.47)
    urban = (
        (ndbi > -0.13)
        & (ndvi < 0.44)
        & (red_blue < 0.4)
        & (texture > 0.0075)
        & (smallest > 0.00375)
    )
    mask = xr.where(
        ~valid, 255, xr.where(water, 3, xr.where(forest, 1, xr.where(urban, 2, 0)))
    ).astype("uint8")
    mask = mask.rio.write_crs(dn.rio.crs).rio.write_transform(dn.rio.transform())
    mask.rio.write_nodata(255, inplace=True)
    mask.rio.to_raster(
        out, tiled=True, blockxsize=512, blockysize=512, compress="deflate", lock=threading.Lock()
    )


def same_masks(a: str | Path, b: str | Path) -> float:
    """The share of pixels on which two masks agree; the run stops unless it is all of them."""
    share = float(run(worker("agree", a, b))[1])
    if share != 1:
        sys.exit(
            f"the naive pipeline's mask {a} and landmask's {b} differ on {100 * (1 - share):.4f}% "
            "of the pixels: update work_naive() to the default rules"
        )
    return share


def work_agree(a: str, b: str) -> None:
    """Print the share of pixels on which two masks agree."""
    import numpy as np
    import rasterio

    with rasterio.open(a) as da, rasterio.open(b) as db:
        same = sum(
            int(np.count_nonzero(da.read(1, window=w) == db.read(1, window=w)))
            for _, w in da.block_windows(1)
        )
        print(same / (da.width * da.height))


# --------------------------------------------------------------------------- parent


def worker(*args: object) -> list[str]:
    return [sys.executable, __file__, "--worker", *map(str, args)]


def command(m: Method, scene: str, out: Path) -> list[str]:
    if m.job == "cli":
        args = ["--sensor", "sentinel2-l2a", "-o", str(out), "--overwrite", "--quiet"]
        return [str(Path(sys.executable).with_name("landmask")), "classify", scene, *args]
    return worker(m.job, *{"imports": [], "read": [scene]}.get(m.job, [scene, out]))


def env_with_cache(cachemax: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    if cachemax is not None:
        env["GDAL_CACHEMAX"] = str(cachemax)
    return env


def scene_path(size: int) -> Path:
    path = DATA / f"s2like-{size}-seed{SEED}.tif"
    if not path.exists():
        print(f"making {path.name} (once) ...", flush=True)
        run(worker("make-scene", size, path))
    with path.open("rb") as f:  # warm the page cache, as in PERFORMANCE.md
        buf = bytearray(1 << 22)
        while f.readinto(buf):
            pass
    return path


def bench(sizes: Sequence[int], repeat: int) -> None:
    runs: dict[tuple[int, str], list[Run]] = {}
    agreement: dict[int, float] = {}
    DATA.mkdir(exist_ok=True)
    others_busy("before")
    with tempfile.TemporaryDirectory(prefix="run-", dir=DATA) as tmp:
        for size in sizes:
            scene = str(scene_path(size))
            for rnd in range(repeat):
                for m in METHODS:
                    out = Path(tmp, f"{m.job}-{m.cachemax}.tif")
                    r, _ = run(command(m, scene, out), env_with_cache(m.cachemax))
                    runs.setdefault((size, m.key), []).append(r)
                    print(f"  {size} round {rnd + 1}: {m.label:<44} {r.seconds:6.2f} s", flush=True)
            naive, cli = Path(tmp, "naive-None.tif"), Path(tmp, "cli-None.tif")
            agreement[size] = same_masks(naive, cli)
            for f in Path(tmp).iterdir():
                f.unlink()
    others_busy("after")
    report(sizes, repeat, runs, agreement)


def report(
    sizes: Sequence[int],
    repeat: int,
    runs: dict[tuple[int, str], list[Run]],
    agreement: dict[int, float],
) -> None:
    def med(size: int, key: str) -> Run:
        rs = runs[(size, key)]
        return Run(
            *(statistics.median(getattr(r, f) for r in rs) for f in ("seconds", "cpu", "rss_mb"))
        )

    def check(what: str, value: str, target: str, ok: bool) -> None:
        print(f"  {what:<22} {value:>9}   target {target:<18} {'OK' if ok else 'MISSED'}")

    print(f"\nmedians of {repeat} interleaved rounds on {os.cpu_count()} CPUs; wall seconds, CPU")
    print("seconds (user + sys) and peak RSS of whole subprocesses, start-up and imports included")
    print(f"{'method':<44} {'size':>6} {'seconds':>8} {'Mpx/s':>6} {'RSS MB':>7} {'CPU s':>6}")
    for size in sizes:
        for m in METHODS:
            r = med(size, m.key)
            mpx = f"{size * size / 1e6 / r.seconds:6.1f}" if m.job != "imports" else f"{'-':>6}"
            print(f"{m.label:<44} {size:>6} {r.seconds:8.2f} {mpx} {r.rss_mb:7.0f} {r.cpu:6.1f}")
    for size in sizes:
        a, b, c, imports = med(size, "a"), med(size, "b"), med(size, "c"), med(size, "0")
        speedup, agree = b.seconds / c.seconds, agreement[size]
        overhead = c.cpu / (a.cpu + imports.cpu)
        print(f"{size}x{size}:")
        check(
            "(b)/(c) speed-up",
            f"{speedup:.2f}x",
            f">= {TARGET_SPEEDUP}x",
            speedup >= TARGET_SPEEDUP,
        )
        check(
            "(c)/((a)+(0)) CPU",
            f"{overhead:.2f}x",
            f"<= {TARGET_OVERHEAD}x",
            overhead <= TARGET_OVERHEAD,
        )
        check(
            "(c) peak RSS", f"{c.rss_mb:.0f} MB", f"< {TARGET_RSS_MB} MB", c.rss_mb < TARGET_RSS_MB
        )
        check("(b), (c) masks agree", f"{100 * agree:.3f}%", "100% (same rules)", agree == 1)
    if len(sizes) > 1:
        rss = [med(size, "c").rss_mb for size in sizes]
        spread = max(rss) / min(rss)
        print("all sizes:")
        check(
            "(c) peak RSS max/min",
            f"{spread:.2f}x",
            f"<= {TARGET_RSS_SPREAD}x",
            spread <= TARGET_RSS_SPREAD,
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 10240], metavar="N")
    parser.add_argument("--repeat", type=int, default=3, metavar="N")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, *rest = args.worker
        if job == "make-scene":
            work_make_scene(int(rest[0]), rest[1])
        elif job == "imports":
            work_imports()
        elif job == "read":
            work_read(*rest)
        elif job == "naive":
            work_naive(*rest)
        else:
            work_agree(*rest)
        return
    if args.repeat < 1 or min(args.sizes) < 1:
        parser.error("--sizes and --repeat must be positive")
    bench(args.sizes, args.repeat)


if __name__ == "__main__":
    main()
