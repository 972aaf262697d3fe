"""Forest on BigEarthNet's example patches: forest, pasture and arable land by their CORINE labels.

Issue 19's target is trees as forest >= 0.80 and crops and grass as forest <= 0.25. This
script measures the built-in rule sets on ``bigearthnet-examples``
(``tests/data/bigearthnet_examples``): the 14 real BigEarthNet-S2 patches that
``bigearthnet_common`` ships as its example data (Sentinel-2 **L2A**, surface reflectance,
2017-2018; Ireland, Portugal, Austria, Serbia, Lithuania, Finland), each 1.2 x 1.2 km, labelled
with the CORINE Land Cover 2018 classes found on it. The labels are the **patch's**, not a
pixel's: a patch labelled "Pastures" alone is pasture to CORINE's 25 ha minimum mapping
unit (its hedgerows and farmyards are not), a patch labelled "Broad-leaved forest, Mixed
forest" is forest to the same unit (its tracks and clearings are not). The figures are
therefore the share of each group's pixels called forest, and a share near, not at, 1 or
0 is what a correct map gives.

Each patch is classified as a scene of its own (120 x 120 pixels at 10 m; B11 and B12,
60 x 60 at 20 m, repeated 2 x 2 onto the 10 m grid, as BigEarthNet's users do): with
``default`` (six bands, reflectance), ``naip`` (blue..NIR, reflectance), and read as
digital numbers with ``adaptive`` (six bands) and ``adaptive-rgbn`` (blue..NIR). No
threshold of any rule set was chosen on these data.

Run from the repository root::

    python scripts/bigearthnet_forest.py            # the tables
    python scripts/bigearthnet_forest.py --vendor DIR ... # write the data from patch folders

``tests/test_bigearthnet_forest.py`` holds the figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr

import landmask
from landmask.classes import CLOUD, get_scheme
from landmask.classes import NODATA as MASK_NODATA
from landmask.errors import UncalibratedWarning
from landmask.spectral.rules import RuleSet

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "bigearthnet_examples"
PATCHES = DATA / "bigearthnet_s2.npz"
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
VNIR = BANDS[:4]
#: BigEarthNet's band files for :data:`BANDS` (10 m, then 20 m).
S2_10M = ("B02", "B03", "B04", "B08")
S2_20M = ("B11", "B12")
#: Patch groups by their CORINE labels (every label of a ``forest`` patch is a forest class).
FOREST = ("Broad-leaved forest", "Coniferous forest", "Mixed forest")
WOODLAND = (*FOREST, "Transitional woodland/shrub", "Peatbogs", "Water bodies")
CROPS_AND_GRASS = ("Non-irrigated arable land", "Pastures")
GROUPS = (
    "forest",
    "forest with shrub, bog or water",
    "crops and grass",
    "agriculture with natural vegetation",
    "agriculture with forest",
)
#: The rule sets measured: (name, bands, read as digital numbers).
RULE_SETS = (
    ("default", BANDS, False),
    ("naip", VNIR, False),
    ("adaptive", BANDS, True),
    ("adaptive-rgbn", VNIR, True),
)
CLASSES = {c.id: c.name for c in get_scheme("landcover").classes if c.id < CLOUD}


def group(labels: Sequence[str]) -> str:
    """The patch's group in :data:`GROUPS` from its CORINE labels."""
    if all(lab in FOREST for lab in labels):
        return "forest"
    if any(lab in FOREST for lab in labels):
        if all(lab in WOODLAND for lab in labels):
            return "forest with shrub, bog or water"
        return "agriculture with forest"
    if all(lab in CROPS_AND_GRASS for lab in labels):
        return "crops and grass"
    return "agriculture with natural vegetation"


def vendor(patch_dirs: Sequence[Path], snow_list: Path, out: Path = PATCHES) -> Path:
    """Write the data file from BigEarthNet-S2 patch folders.

    ``patch_dirs``: folders ``NAME/`` with ``NAME_B02.tif`` ... ``NAME_B12.tif`` and
    ``NAME_labels_metadata.json``; ``snow_list``: ``bigearthnet_common``'s
    ``patches_with_seasonal_snow.csv`` (one patch name a line), decompressed.
    """
    snowy = set(snow_list.read_text().split())
    rows = []
    for folder in sorted(patch_dirs, key=lambda p: p.name):
        name = folder.name
        meta = json.loads((folder / f"{name}_labels_metadata.json").read_text())
        ten, twenty = [], []
        for band, into in [(b, ten) for b in S2_10M] + [(b, twenty) for b in S2_20M]:
            with rasterio.open(folder / f"{name}_{band}.tif") as src:
                into.append(src.read(1).astype(np.uint16))
                if band == "B02":
                    epsg = src.crs.to_epsg()
        c = meta["coordinates"]
        rows.append(
            dict(
                patch=name,
                labels="; ".join(meta["labels"]),
                date=meta["acquisition_date"][:10],
                epsg=epsg,
                ulx=float(c["ulx"]),
                uly=float(c["uly"]),
                seasonal_snow=name in snowy,
                bands10=np.stack(ten),
                bands20=np.stack(twenty),
            )
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        patch=np.array([r["patch"] for r in rows]),
        labels=np.array([r["labels"] for r in rows]),
        date=np.array([r["date"] for r in rows]),
        epsg=np.array([r["epsg"] for r in rows], np.int32),
        ulx=np.array([r["ulx"] for r in rows]),
        uly=np.array([r["uly"] for r in rows]),
        seasonal_snow=np.array([r["seasonal_snow"] for r in rows]),
        bands10=np.stack([r["bands10"] for r in rows]),
        bands20=np.stack([r["bands20"] for r in rows]),
    )
    return out


def load() -> dict[str, np.ndarray]:
    """The data file's arrays (see the data folder's README)."""
    with np.load(PATCHES) as f:
        return {k: f[k] for k in f.files}


def patch_bands(data: dict[str, np.ndarray], i: int) -> np.ndarray:
    """Patch ``i``'s six bands (:data:`BANDS`) on the 10 m grid as uint16 (reflectance x 10^4):
    the 20 m bands repeated 2 x 2."""
    twenty = data["bands20"][i].repeat(2, axis=1).repeat(2, axis=2)
    return np.concatenate([data["bands10"][i], twenty])


def scene(
    data: dict[str, np.ndarray], i: int, bands: Sequence[str] = BANDS, dn: bool = False
) -> xr.DataArray:
    """Patch ``i`` as a scene: reflectance (scale 10^-4) or, ``dn=True``, the stored integers."""
    values = patch_bands(data, i)[[BANDS.index(b) for b in bands]]
    values = values.astype(np.float32) if dn else values.astype(np.float32) * np.float32(1e-4)
    return xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(bands)})


def masks(rules: str | RuleSet, bands: Sequence[str] = BANDS, dn: bool = False) -> np.ndarray:
    """Every patch classified with ``rules``, each as a scene of its own: (patch, y, x)."""
    data = load()
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        for i in range(len(data["patch"])):
            out.append(np.asarray(landmask.classify(scene(data, i, bands, dn), rules).values))
    return np.stack(out)


def patch_table(
    rules: str | RuleSet = "default", bands: Sequence[str] = BANDS, dn: bool = False
) -> pd.DataFrame:
    """One row a patch: its group, date, CORINE labels and the share given each class."""
    data = load()
    ids = masks(rules, bands, dn)
    rows = {}
    for i, name in enumerate(data["patch"]):
        labels = str(data["labels"][i]).split("; ")
        got = ids[i][ids[i] != MASK_NODATA]
        row: dict[str, object] = {
            "group": "seasonal snow" if data["seasonal_snow"][i] else group(labels),
            "date": str(data["date"][i]),
        }
        row.update({c: float((got == k).mean()) for k, c in CLASSES.items()})
        row["n"] = int(got.size)
        row["labels"] = "; ".join(labels)
        rows[str(name)] = row
    return pd.DataFrame(rows).T


def group_table() -> pd.DataFrame:
    """Share of each group's pixels called forest, by rule set (columns); ``patches`` counts them.

    Pooled over the valid pixels of the group's patches (14,400 a patch); patches BigEarthNet
    lists as seasonal snow are a row of their own.
    """
    out = {}
    for name, bands, dn in RULE_SETS:
        table = patch_table(name, bands, dn)
        forest = (table["forest"] * table["n"]).astype(float).groupby(table["group"]).sum()
        out[name] = forest / table.groupby("group")["n"].sum().astype(float)
        out["patches"] = table.groupby("group").size()
    frame = pd.DataFrame(out)
    order = [g for g in (*GROUPS, "seasonal snow") if g in frame.index]
    return frame.loc[order, ["patches"] + [n for n, _, _ in RULE_SETS]]


def cue_check(extra: str | None = None) -> pd.DataFrame:
    """Forest share per group with ``default`` as it was before its NIR cut and with ``extra``
    (None: the NIR cut, ``forest_accuracy.NIR_CUT``) added to that rule's forest terms
    (``forest_accuracy.forest_with``), the change, and the decision of the check written
    before it was run (the data folder's README): ``confirmed`` if the forest patch and the
    forest with shrub, bog or water each lose at most 0.02 (the forest patch staying at 0.80
    or more) and crops and grass fall by at least 0.10. With the NIR cut the candidate is
    ``default`` as it is."""
    fa = importlib.import_module("forest_accuracy")
    extra = fa.NIR_CUT if extra is None else extra
    before, candidate = fa.forest_with(None, nir_cut=False), fa.forest_with(extra, nir_cut=False)
    rows = {}
    for name, rules in (("before", before), (f"before and {extra}", candidate)):
        table = patch_table(rules)
        forest = (table["forest"] * table["n"]).astype(float).groupby(table["group"]).sum()
        rows[name] = forest / table.groupby("group")["n"].sum().astype(float)
    frame = pd.DataFrame(rows)
    frame["change"] = frame.iloc[:, 1] - frame.iloc[:, 0]
    frame = frame.loc[[g for g in (*GROUPS, "seasonal snow") if g in frame.index]]
    change = frame["change"]
    frame.attrs["confirmed"] = bool(
        change["forest"] >= -0.02
        and frame.iloc[:, 1]["forest"] >= 0.80
        and change["forest with shrub, bog or water"] >= -0.02
        and change["crops and grass"] <= -0.10
    )
    return frame


def cues(data: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """10th, 50th and 90th percentiles of the forest cues per group (reflectance, no rule set):
    NDVI, canopy darkness (``default``'s: mean of the visible and 2.2 um), NIR, NDMI."""
    data = load() if data is None else data
    per_group: dict[str, list[np.ndarray]] = {}
    for i in range(len(data["patch"])):
        labels = str(data["labels"][i]).split("; ")
        g = "seasonal snow" if data["seasonal_snow"][i] else group(labels)
        b = dict(zip(BANDS, patch_bands(data, i).astype(np.float64) * 1e-4, strict=True))
        ndvi = (b["nir"] - b["red"]) / (b["nir"] + b["red"])
        dark = ((b["blue"] + b["green"] + b["red"]) / 3 + b["swir22"]) / 2
        ndmi = (b["nir"] - b["swir16"]) / (b["nir"] + b["swir16"])
        per_group.setdefault(g, []).append(np.stack([ndvi, dark, b["nir"], ndmi]).reshape(4, -1))
    rows = {}
    for g, parts in per_group.items():
        values = np.concatenate(parts, axis=1)
        for cue, v in zip(("ndvi", "canopy darkness", "nir", "ndmi"), values, strict=True):
            p = np.percentile(v, [10, 50, 90])
            rows[(g, cue)] = {"p10": p[0], "p50": p[1], "p90": p[2]}
    return pd.DataFrame(rows).T


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for idx, row in frame.iterrows():
        name = ", ".join(idx) if isinstance(idx, tuple) else idx
        cells = [v if isinstance(v, str) else f"{v:.2f}" for v in row.tolist()]
        if "patches" in cols:
            cells[cols.index("patches")] = str(int(row["patches"]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report() -> str:
    """Markdown: forest share per group and rule set, the per-patch table of ``default``,
    the cues' percentiles."""
    out = ["**bigearthnet-examples**: forest share by patch group\n\n" + _markdown(group_table())]
    table = patch_table()[["group", "date", "forest", "other", "urban", "water", "labels"]]
    out.append("**bigearthnet-examples**, `default`, per patch\n\n" + _markdown(table))
    out.append("**bigearthnet-examples**: cues, percentiles\n\n" + _markdown(cues()))
    check = cue_check()
    verdict = "confirmed" if check.attrs["confirmed"] else "not confirmed"
    out.append(
        "**bigearthnet-examples**: the check written before it was run (`default`'s NIR cut, "
        f"{verdict})\n\n" + _markdown(check)
    )
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vendor", type=Path, nargs="+", help="BigEarthNet-S2 patch folders")
    parser.add_argument("--snow", type=Path, help="patches_with_seasonal_snow.csv")
    args = parser.parse_args()
    if args.vendor:
        if args.snow is None:
            parser.error("--vendor needs --snow")
        path = vendor(args.vendor, args.snow)
        print(path, path.stat().st_size)
        return
    print(report())


if __name__ == "__main__":
    main()
