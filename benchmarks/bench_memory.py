"""Peak memory of ``landmask classify`` as the scene grows: is it flat?

For each scene size (the 6-band uint16 scenes of ``bench_classify.py``, cached in
``benchmarks/data/``) it runs, in fresh subprocesses:

- ``landmask classify SCENE --sensor sentinel2-l2a`` with the built-in rules, whose
  urban rule reads a neighbourhood (``focal_std(..., 1)``: chunks need their
  neighbours' pixels);
- the same rules with that term left out (per-pixel rules only), the reference
  for what the neighbourhood costs.

It prints each run's peak RSS (``ru_maxrss`` of the process) and, per rule set,
the ratio of the largest to the smallest size: memory bounded as the input grows
means a ratio near 1. Wall time is printed for information only: this is not a
timing benchmark (``bench_classify.py`` is). Run::

    .venv/bin/python benchmarks/bench_memory.py                      # 2048², 4096², 10240²
    .venv/bin/python benchmarks/bench_memory.py --sizes 2048 4096    # quicker
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench_classify import DATA, scene_path
from measure import others_busy, run

RULES = Path(__file__).resolve().parents[1] / "landmask" / "spectral" / "rulesets" / "default.yaml"
TARGET_MB, TARGET_SPREAD = 400, 1.25


def per_pixel_rules(folder: Path) -> Path:
    """The built-in ``default`` rules without their neighbourhood term, as a YAML file."""
    text = RULES.read_text()
    lines = [line for line in text.splitlines() if "focal_" not in line]
    if len(lines) == len(text.splitlines()):
        sys.exit(f"{RULES} has no focal term any more: update this benchmark")
    path = folder / "per-pixel.yaml"
    path.write_text("\n".join(lines).replace("name: default", "name: per-pixel") + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 10240])
    parser.add_argument("--repeat", type=int, default=1, metavar="N")
    args = parser.parse_args(argv)
    DATA.mkdir(exist_ok=True)
    cli = str(Path(sys.executable).with_name("landmask"))
    others_busy("before")
    peaks: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="mem-", dir=DATA) as tmp:
        rule_sets = {"default (focal_std)": "default", "per-pixel": str(per_pixel_rules(Path(tmp)))}
        for size in args.sizes:
            scene = str(scene_path(size))
            for _ in range(args.repeat):
                for label, rules in rule_sets.items():
                    out = Path(tmp, "mask.tif")
                    cmd = [cli, "classify", scene, "--sensor", "sentinel2-l2a", "--rules", rules]
                    r, _ = run([*cmd, "-o", str(out), "--overwrite", "--quiet", "--no-stac"])
                    peaks.setdefault((label, size), []).append(r.rss_mb)
                    print(f"  {size:>6}  {label:<20} {r.rss_mb:6.0f} MB  ({r.seconds:.1f} s)")
    others_busy("after")
    print(f"\npeak RSS (median of {args.repeat}), whole process, start-up included")
    print(f"{'rules':<20}" + "".join(f"{s:>9}²" for s in args.sizes) + "   max/min")
    for label in rule_sets:
        mb = [statistics.median(peaks[(label, s)]) for s in args.sizes]
        spread = max(mb) / min(mb)
        cells = "".join(f"{m:>7.0f} MB" for m in mb)
        print(f"{label:<20}{cells}   {spread:.2f}x")
    focal = [statistics.median(peaks[("default (focal_std)", s)]) for s in args.sizes]
    verdict = max(focal) < TARGET_MB and max(focal) / min(focal) <= TARGET_SPREAD
    print(
        f"targets: default < {TARGET_MB} MB at every size, max/min <= {TARGET_SPREAD}x: "
        f"{'OK' if verdict else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
