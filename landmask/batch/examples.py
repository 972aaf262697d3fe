"""The example workflows (``workflows/*.yaml``) run end to end on data landmask makes.

:func:`run_example` copies a workflow file (and its ``rules/`` folder) into
``FOLDER/workflows/``, writes the inputs it names from the synthetic scene
(:mod:`landmask.synthetic`), named and encoded as the providers ship them, and
runs it: everything lands in ``FOLDER`` (the workflows' ``../data`` and
``../output`` are ``FOLDER/data`` and ``FOLDER/output``), nothing beside the
original file. The data:

* a list of Landsat Collection 2 Level-2 band files (``*_SR_B3.TIF``,
  ``*_QA_PIXEL.TIF``): uint16 DN = (reflectance + 0.2) / 0.0000275, 30 m, QA_PIXEL
  "clear" (bit 6) with fill (bit 0) on the swath margin;
* a glob of NAIP tiles (``../data/naip/*.tif``): two 4-band uint8 tiles, red,
  green, blue, nir = reflectance * 255;
* a STAC catalog (``inputs: {stac: ...}``): two Sentinel-2 L2A items of one
  band file per asset (``B02`` ... ``B12``, ``SCL`` from the truth), a year apart.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import yaml
from affine import Affine
from rasterio.crs import CRS

from landmask.batch.run import run_workflow
from landmask.batch.workflow import load_workflow
from landmask.errors import ConfigError, OutputExistsError, option
from landmask.synthetic import BANDS, make_scene, to_dn

__all__ = ["EXAMPLE_SIZE", "make_example_data", "run_example"]

#: pixels a side of the example scenes
EXAMPLE_SIZE = 256

_LANDSAT_BANDS = {
    "SR_B2": "blue",
    "SR_B3": "green",
    "SR_B4": "red",
    "SR_B5": "nir",
    "SR_B6": "swir16",
    "SR_B7": "swir22",
}
_S2_BANDS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16"}
_S2_BANDS["B12"] = "swir22"
#: truth class -> Sentinel-2 SCL class (4 vegetation, 5 not vegetated, 6 water, 0 no data)
_SCL = np.array([5, 4, 5, 6], dtype=np.uint8)
_UTM = CRS.from_epsg(32633)


def _write(path: Path, data: np.ndarray, res: float, nodata: float | None, **kw: Any) -> None:
    arr = data if data.ndim == 3 else data[None]
    transform = Affine(res, 0, 500000.0, 0, -res, 5400000.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        count=arr.shape[0],
        height=arr.shape[1],
        width=arr.shape[2],
        dtype=arr.dtype,
        crs=_UTM,
        transform=transform,
        nodata=nodata,
        tiled=True,
        compress="deflate",
        **kw,
    ) as ds:
        ds.write(arr)


def _landsat(paths: Sequence[Path], size: int, seed: int) -> None:
    scene = make_scene(size, seed)
    margin = np.isnan(scene.reflectance[0])
    for path in paths:
        name = path.stem.upper()
        if name.endswith("QA_PIXEL"):
            qa = np.where(margin, 1, 1 << 6).astype(np.uint16)  # fill, else clear
            _write(path, qa, 30.0, 1)
            continue
        band = next((b for suffix, b in _LANDSAT_BANDS.items() if name.endswith(suffix)), None)
        if band is None:
            raise ConfigError(f"{path.name}: not a Landsat band file landmask can make")
        refl = scene.reflectance[BANDS.index(band)]
        dn = np.round((np.nan_to_num(refl, nan=-0.2) + 0.2) / 2.75e-5)
        _write(path, np.clip(dn, 0, 65535).astype(np.uint16), 30.0, 0)


def _naip(folder: Path, size: int, seed: int) -> None:
    for k in range(2):
        scene = make_scene(size, seed + k)
        order = [BANDS.index(b) for b in ("red", "green", "blue", "nir")]
        rgbn = np.nan_to_num(scene.reflectance[order], nan=0.0)
        dn = np.clip(np.round(rgbn * 255), 0, 255).astype(np.uint8)
        _write(folder / f"m_4007501_ne_18_060_2022060{k + 1}.tif", dn, 1.0, None)


def _sentinel2(catalog: Path, size: int, seed: int) -> None:
    folder = catalog.parent
    links = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]
    for k, date in enumerate(("20230601T100031", "20240601T100031")):
        item_id = f"S2B_33UUP_{date[:8]}_0_L2A"
        scene = make_scene(size, seed + k)
        dn = to_dn(scene.reflectance)
        assets: dict[str, Any] = {}
        for band_id, common in _S2_BANDS.items():
            href = f"./{item_id}/{band_id}.tif"
            _write(folder / href, dn[BANDS.index(common)], 10.0, 0)
            assets[band_id] = {
                "href": href,
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
                "eo:bands": [{"name": band_id, "common_name": common}],
                "raster:bands": [{"scale": 1e-4, "offset": -0.1, "nodata": 0}],
            }
        scl = np.where(scene.truth == 255, 0, _SCL[np.minimum(scene.truth, 3)]).astype(np.uint8)
        _write(folder / f"{item_id}/SCL.tif", scl, 10.0, 0)
        assets["SCL"] = {"href": f"./{item_id}/SCL.tif", "roles": ["data"]}
        item: dict[str, Any] = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [],
            "id": item_id,
            "geometry": None,
            "properties": {
                "datetime": f"{date[:4]}-{date[4:6]}-{date[6:8]}T10:00:31Z",
                "platform": "sentinel-2b",
                "instruments": ["msi"],
                "s2:processing_baseline": "05.10",
            },
            "links": [],
            "assets": assets,
        }
        (folder / f"{item_id}.json").write_text(json.dumps(item, indent=1))
        links.append({"rel": "item", "href": f"./{item_id}.json", "type": "application/json"})
    doc = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "sentinel2-example",
        "description": "Synthetic Sentinel-2 L2A items made by landmask demo --workflow",
        "links": links,
    }
    catalog.write_text(json.dumps(doc, indent=1))


def _inside(path: Path, folder: Path, what: str) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise ConfigError(f"{what} {path}: outside {folder}; the example writes only there")
    return resolved


def make_example_data(workflow: str | os.PathLike[str], size: int = EXAMPLE_SIZE) -> list[Path]:
    """Write the inputs the workflow file ``workflow`` names, beside it (see the module).

    Every input must lie inside the folder above the workflow's own folder.

    Returns
    -------
    list of Path
        The files and folders made.
    """
    path = Path(workflow)
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    base = path.parent
    root = base.parent
    inputs = doc.get("inputs")
    made: list[Path] = []
    if isinstance(inputs, dict) and "stac" in inputs:
        catalog = _inside(base / str(inputs["stac"]), root, "inputs.stac")
        _sentinel2(catalog, size, 7)
        made.append(catalog)
    elif isinstance(inputs, str) and "*" in inputs:
        folder = _inside(base / os.path.dirname(inputs), root, "inputs")
        _naip(folder, size, 7)
        made.append(folder)
    elif isinstance(inputs, list):
        for k, scene in enumerate(inputs):
            files = [scene] if isinstance(scene, str) else list(scene)
            paths = [_inside(base / str(f), root, "inputs") for f in files]
            _landsat(paths, size, 7 + k)
            made += paths
    else:
        raise ConfigError(f"{path}: inputs of a form the example data cannot make")
    return made


def run_example(
    workflow: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    size: int = EXAMPLE_SIZE,
    scheduler: str | None = None,
    overwrite: bool = False,
    quiet: bool = True,
) -> Any:
    """Copy ``workflow`` into ``folder``, make its data there and run it (see the module).

    Returns
    -------
    landmask.batch.summary.RunSummary
        The run's summary (its outputs are under ``folder/output``).
    """

    src = Path(workflow)
    out = Path(folder)
    copy = out / "workflows" / src.name
    if copy.exists() and not overwrite:
        hint = option("--overwrite", "overwrite=True")
        raise OutputExistsError(f"{copy}: exists; pass {hint} to run the example again")
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, copy)
    rules = src.parent / "rules"
    if rules.is_dir():
        shutil.copytree(rules, copy.parent / "rules", dirs_exist_ok=True)
    doc = yaml.safe_load(copy.read_text(encoding="utf-8")) or {}
    target = (doc.get("outputs") or {}).get("dir", ".")
    _inside(copy.parent / str(target), out, "outputs.dir")
    make_example_data(copy, size)
    return run_workflow(load_workflow(copy), scheduler=scheduler, force=overwrite, quiet=quiet)
