"""The built-in demo: a synthetic scene with known truth, run through the whole pipeline."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import rioxarray
import xarray as xr

from landmask._runtime.chunks import SCENE_CHUNK_SIZE
from landmask.classification.classify import classify
from landmask.errors import ConfigError, OutputExistsError, option
from landmask.evaluation.evaluate import Evaluation, evaluate
from landmask.io.read.scene import open_scene
from landmask.io.write.rasters import WriteResult, write_mask
from landmask.synthetic import write_scene
from landmask.viz.preview import write_preview

__all__ = ["DemoResult", "run_demo"]

DEMO_FILES = ("scene.tif", "truth.tif", "mask.tif", "mask.png")


@dataclass(frozen=True)
class DemoResult:
    """Paths the demo wrote and the mask's agreement with the truth."""

    folder: Path
    written: WriteResult
    evaluation: Evaluation


def run_demo(
    folder: str | os.PathLike[str] = "landmask-demo",
    *,
    size: int = 2048,
    seed: int = 7,
    chunk_size: int | None = None,
    overwrite: bool = False,
) -> DemoResult:
    """Make a synthetic Sentinel-2-like scene in ``folder`` and classify it.

    Writes ``scene.tif`` (6 bands, uint16, L2A encoding), ``truth.tif``,
    ``mask.tif`` (the COG mask) and ``mask.png`` (a preview), and evaluates the
    mask against the truth. Runs on the active Dask scheduler.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    existing = [f for f in DEMO_FILES if (out / f).exists()]
    if existing and not overwrite:
        hint = option("--overwrite", "overwrite=True")
        raise OutputExistsError(f"{out / existing[0]}: exists; pass {hint} to replace it")
    if size < 64:
        raise ConfigError(f"--size {size}: the demo needs at least 64 pixels a side")
    out.mkdir(parents=True, exist_ok=True)
    for f in existing:
        (out / f).unlink()
    write_scene(out / "scene.tif", size, seed, truth_path=out / "truth.tif")
    scene = open_scene(out / "scene.tif", sensor="sentinel2-l2a", chunk_size=chunk_size)
    mask = classify(scene, "default")
    written = write_mask(mask, out / "mask.tif", overwrite=True)
    evaluation = evaluate(_open_mask(out / "mask.tif"), _open_mask(out / "truth.tif"))
    write_preview(out / "mask.tif", out / "mask.png")
    return DemoResult(out, written, evaluation)


def _open_mask(path: Path) -> xr.DataArray:
    arr = rioxarray.open_rasterio(
        path, chunks={"band": 1, "y": SCENE_CHUNK_SIZE, "x": SCENE_CHUNK_SIZE}
    )
    assert isinstance(arr, xr.DataArray)
    return arr.squeeze("band", drop=True)
