"""Forest versus other vegetation: trees against crops, grass and shrubs, per class.

Issue 19's target is trees as forest >= 0.80 and crops and grass as forest <= 0.25.
This script measures the built-in rules on every labelled data set in the
repository that types its vegetation (sources and licences in each folder's README):

- ``enmap-potsdam`` (``tests/data/enmap_potsdam``): a real EnMAP L2A scene of Potsdam
  (2022-07-24, 30 m) in six Sentinel-2-like bands, with a land-cover map (tree, low
  vegetation, roof, pavement, soil, water) rasterised from reference polygons. The
  forest rule of ``default`` was tuned on its **tuning tiles** (32 x 32-pixel blocks in
  a chequerboard); the other tiles are **held out**. Figures are given for every
  labelled pixel and for stand interiors (pixels whose 3 x 3 neighbourhood has one
  label: a 30 m pixel on a polygon edge is a mixture, and a single street tree is
  not a forest);
- ``berlin-library`` (``tests/data/enmap_potsdam/berlin_library.csv``, held out): the
  Berlin-Urban-Gradient image spectral library (HyMap 2009, 3.6 m), 13 trees and 18
  grasses and crops (corn, sorghum, sunflower, sugar beet, potatoes, meadows, lawns);
- ``worldcereal-france`` (``tests/data/worldcereal_france2023``, a **tuning** set): 449
  crop, grassland and orchard parcels of western France's 2023 LPIS with WorldCereal's
  10-day Sentinel-2 L2A composites: tall dense crops and lush grass at their peak, the
  low vegetation the Potsdam tuning tiles lack (no trees: it says how much crops and
  grass a rule calls forest, and on which dates);
- ``presto-fuel-moisture`` (``tests/data/presto_dynamic_world/fuel_moisture.npz``, held
  out): presto's 2313 live-fuel sites of the western US, three monthly Sentinel-2 L1C
  (top of atmosphere) steps each, labelled by Dynamic World (trees, grass, crops, shrub
  and scrub); the check of a candidate cue written down before it was run is in that
  folder's README;
- ``nc-landsat7`` and ``rstoolbox-landsat5`` (held out), the DN scenes of
  ``scripts/real_scenes.py``, with ``adaptive``.

Run from the repository root::

    python scripts/forest_accuracy.py            # the README's forest table
    python scripts/forest_accuracy.py --rules X  # the same with a rule set of yours

``tests/test_forest_accuracy.py`` holds the figures. The data were written from files
of an EnMAP-Box checkout by ``--vendor DIR`` (see the data folder's README).
"""

from __future__ import annotations

import argparse
import importlib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from scipy import ndimage

import landmask
from landmask.classes import CLOUD, get_scheme
from landmask.classes import NODATA as MASK_NODATA
from landmask.errors import UncalibratedWarning
from landmask.spectral.rules import RuleSet, load_rules

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "enmap_potsdam"
SCENE = DATA / "enmap_potsdam_s2bands.tif"
LANDCOVER = DATA / "enmap_potsdam_landcover.tif"
LIBRARY = DATA / "berlin_library.csv"
FRANCE = ROOT / "tests" / "data" / "worldcereal_france2023" / "france2023.npz"
#: The France parcels' groups (WorldCereal LANDCOVER10) in table order, and the pooled
#: row issue 19's target reads (crops and grass: orchards and vines are left out).
FRANCE_GROUPS = ("grasslands", "temporary_grasses", "temporary_crops", "permanent_crops")
CROPS_AND_GRASS = ("grasslands", "temporary_grasses", "temporary_crops")
#: Peak season in France: the composites dated June to August.
PEAK_MONTHS = (6, 7, 8)
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Sentinel-2A band edges (nm) of B02 B03 B04 B08 B11 B12: the EnMAP bands whose centre
#: falls inside are averaged (a box filter, not the spectral response functions).
S2_EDGES = {
    "blue": (458, 523),
    "green": (543, 578),
    "red": (650, 680),
    "nir": (785, 900),
    "swir16": (1565, 1655),
    "swir22": (2100, 2280),
}
#: Land-cover ids of the EnMAP-Box Potsdam map (level 3).
LANDCOVER_IDS = {1: "roof", 2: "pavement", 3: "low vegetation", 4: "tree", 5: "soil", 6: "water"}
#: The tables' columns: the built-in scheme's classes by id (cloud and nodata left out).
CLASSES = {c.id: c.name for c in get_scheme("landcover").classes if c.id < CLOUD}
TILE = 32
NODATA = 65535


def _boxcar(cube: np.ndarray, wavelengths: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for band, (lo, hi) in S2_EDGES.items():
        sel = (wavelengths >= lo) & (wavelengths <= hi)
        with np.errstate(invalid="ignore"):
            out[band] = np.nanmean(cube[sel], axis=0)
    return out


def vendor(src: Path, out: Path = DATA) -> list[Path]:
    """Write the data folder from EnMAP-Box files gathered in ``src``.

    ``src/images/enmap_potsdam_tile_*.tif`` (EnMAP L2A tiles, reflectance x 10^4),
    ``src/enmap_landcover_unstyled.tif`` (the land-cover map on the EnMAP grid) and
    ``src/library_berlin.{sli,hdr,csv}``.
    """
    with rasterio.open(src / "enmap_landcover_unstyled.tif") as lc:
        landcover = lc.read(1).astype(np.uint8)
        grid, crs = lc.transform, lc.crs
    tiles = sorted((src / "images").glob("enmap_potsdam_tile_*.tif"))
    cube = None
    for path in tiles:
        with rasterio.open(path) as t:
            if cube is None:
                wl = np.array([float(t.tags(b)["wavelength"]) for b in range(1, t.count + 1)])
                cube = np.full((t.count, *landcover.shape), np.nan, np.float32)
            col, row = ~grid * (t.transform.c, t.transform.f)
            r, c = round(row), round(col)
            a = t.read().astype(np.float32)
            a[a == t.nodata] = np.nan
            cube[:, r : r + t.height, c : c + t.width] = a
    assert cube is not None
    s2 = _boxcar(cube, wl)
    rows, cols = np.nonzero(np.isfinite(s2["nir"]))
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    window = rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)
    transform = rasterio.windows.transform(window, grid)
    stack = np.stack([s2[b][r0:r1, c0:c1] for b in BANDS])
    dn = np.where(np.isfinite(stack), np.round(stack), NODATA).astype(np.uint16)
    profile = dict(
        driver="GTiff",
        width=c1 - c0,
        height=r1 - r0,
        crs=crs,
        transform=transform,
        compress="deflate",
        predictor=2,
        tiled=False,
    )
    out.mkdir(parents=True, exist_ok=True)
    with rasterio.open(SCENE, "w", count=6, dtype="uint16", nodata=NODATA, **profile) as dst:
        dst.write(dn)
        dst.descriptions = BANDS
    labels = np.where(np.isfinite(stack[3]), landcover[r0:r1, c0:c1], 0).astype(np.uint8)
    with rasterio.open(LANDCOVER, "w", count=1, dtype="uint8", nodata=0, **profile) as dst:
        dst.write(labels, 1)
        dst.update_tags(**{f"class_{k}": v for k, v in LANDCOVER_IDS.items()})
    # the Berlin library: ENVI spectral library of reflectance x 10^4, wavelengths in um
    header = (src / "library_berlin.hdr").read_text()
    wl_lib = np.array(
        [float(w) for w in re.search(r"wavelength\s*=\s*\{([^}]*)\}", header).group(1).split(",")]
    )
    meta = pd.read_csv(src / "library_berlin.csv")
    spectra = np.fromfile(src / "library_berlin.sli", "<f8").reshape(len(meta), len(wl_lib))
    lib = _boxcar(spectra.T[:, :, None], wl_lib * 1000)
    frame = pd.DataFrame(
        {
            "name": meta["spectra names"],
            "level_2": meta["level_2"],
            **{b: np.round(lib[b][:, 0] / 10000, 4) for b in BANDS},
        }
    )
    frame.to_csv(LIBRARY, index=False)
    return [SCENE, LANDCOVER, LIBRARY]


def open_potsdam(dn: bool = False) -> xr.DataArray:
    """The scene as a user opens it: six bands, ``--scale 0.0001``.

    ``dn=True``: without the scale, as uncalibrated digital numbers (landmask then
    picks ``adaptive``).
    """
    bands = {b: i + 1 for i, b in enumerate(BANDS)}
    if dn:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            return landmask.open_scene(str(SCENE), bands=bands)
    return landmask.open_scene(str(SCENE), bands=bands, scale=0.0001)


def landcover() -> np.ndarray:
    """Land-cover ids on the scene's grid (0 unlabelled)."""
    with rasterio.open(LANDCOVER) as src:
        return src.read(1)


def tuning_tiles(shape: tuple[int, int]) -> np.ndarray:
    """True on the tuning tiles (a chequerboard of 32 x 32 blocks); the rest is held out."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return ((rows // TILE) + (cols // TILE)) % 2 == 0


def interiors(lc: np.ndarray) -> np.ndarray:
    """True where the 3 x 3 neighbourhood holds one label (no polygon edge, no mixture)."""
    same = np.ones(lc.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = ndimage.shift(lc, (dy, dx), order=0, mode="constant", cval=0)
            same &= shifted == lc
    return same & (lc > 0)


def majority(lc: np.ndarray) -> np.ndarray:
    """True where at least 5 of the 9 pixels of the 3 x 3 window carry the pixel's own label.

    A 30 m pixel whose window is mostly its own class is mostly that class itself; a tree
    pixel with 0-3 tree neighbours is a crown's edge or a single street tree, a mixture
    with grass or roof that a fair reference might not call "tree".
    """
    same = np.zeros(lc.shape, int)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = ndimage.shift(lc, (dy, dx), order=0, mode="constant", cval=0)
            same += shifted == lc
    return (same >= 5) & (lc > 0)


def _row(mask: np.ndarray, where: np.ndarray) -> dict[str, float]:
    got = mask[where & (mask != MASK_NODATA)]
    row = {c: float((got == i).mean()) if got.size else float("nan") for i, c in CLASSES.items()}
    row["n"] = int(got.size)
    return row


#: The blue..NIR bands: the data as an RGB+NIR camera sees them (``bands=VNIR``).
VNIR = ("blue", "green", "red", "nir")


def potsdam_table(
    rules: str | Path | RuleSet | None = None, dn: bool = False, bands: Sequence[str] = BANDS
) -> pd.DataFrame:
    """Rows (part, pixels, class): the share of each class's pixels given each label.

    ``bands``: those of the scene to classify (``VNIR``: without SWIR, so as DN landmask
    picks ``adaptive-rgbn``).
    """
    mask = landmask.classify(open_potsdam(dn).sel(band=list(bands)), rules)
    rows = _potsdam_rows(np.asarray(mask.values))
    out = pd.DataFrame(rows).T
    out.attrs["rules"] = str(mask.attrs.get("rules", rules))
    return out


def _potsdam_rows(mask: np.ndarray) -> dict[tuple[str, str, str], dict[str, float]]:
    lc = landcover()
    tune, inner, most = tuning_tiles(lc.shape), interiors(lc), majority(lc)
    rows = {}
    for part, where in (("tuning", tune), ("held out", ~tune)):
        for pixels, sel in (("all", np.ones_like(inner)), ("majority", most), ("interior", inner)):
            for k in (4, 3, 1, 2, 5):
                rows[(part, pixels, LANDCOVER_IDS[k])] = _row(mask, where & sel & (lc == k))
    return rows


def by_tree_neighbours(rules: str | Path | RuleSet | None = None) -> pd.Series:
    """Share of tree pixels called forest, by how many of their 8 neighbours are trees too."""
    mask = np.asarray(landmask.classify(open_potsdam(), rules).values)
    lc = landcover()
    tree = lc == 4
    neighbours = ndimage.convolve(tree.astype(int), np.ones((3, 3), int), mode="constant") - 1
    out = {}
    for lo in (0, 2, 4, 6, 8):
        sel = tree & (neighbours >= lo) & (neighbours <= lo + 1) & (mask != MASK_NODATA)
        label = f"{lo}-{lo + 1}" if lo < 8 else "8"
        out[f"{label} ({int(sel.sum())})"] = float((mask[sel] == 1).mean())
    return pd.Series(out, name="forest")


def library_spectra() -> pd.DataFrame:
    """The Berlin library's spectra in the six bands, with name and level-2 class."""
    return pd.read_csv(LIBRARY)


#: Per-band gains and offsets of the library written as DN (``library_table(dn_seed=...)``):
#: those of ``scripts/accuracy_on_real_data.py``'s DN check (gain 1 +- 0.3, offset 0..0.08).
DN_GAIN, DN_OFFSET = 0.3, 0.08


def library_dn(seed: int) -> dict[str, np.ndarray]:
    """The library's six bands as 16-bit DN of random per-band gains and offsets (path radiance):
    ``round((reflectance + offset) * gain / 1e-4)``."""
    frame = library_spectra()
    rng = np.random.default_rng(seed)
    out = {}
    for b in BANDS:
        gain, offset = rng.uniform(1 - DN_GAIN, 1 + DN_GAIN), rng.uniform(0, DN_OFFSET)
        out[b] = np.round((frame[b].to_numpy(np.float64) + offset) * gain / 1e-4)
    return out


def library_table(
    rules: str | Path | RuleSet | None = "default",
    fields: bool = False,
    dn_seed: int | None = None,
    bands: Sequence[str] = BANDS,
) -> pd.DataFrame:
    """The Berlin library classified as one scene of one row (no neighbours: texture off).

    A rule's neighbourhood terms (``focal_*``) say nothing of a lone spectrum, so they are
    left out (:func:`_spectral_part`): a term that needs a neighbour is taken as met.
    ``fields=True`` instead classifies each spectrum as an even 3 x 3 field of itself (a
    pure surface, ``annual_accuracy.classify_fields``) with every term of the rules: a
    neighbourhood term then sees no texture and no darker neighbour. Only the forest
    column means something there (the urban rules' texture is zero in an even field).
    ``dn_seed``: the spectra written as DN of random per-band gains and offsets first
    (:func:`library_dn`), as an uncalibrated sensor would deliver them. ``bands``: those
    classified (``VNIR``: as an RGB+NIR camera).
    """
    frame = library_spectra()
    ruleset = load_rules(rules if rules is not None else "default")
    read = library_dn(dn_seed) if dn_seed is not None else {b: frame[b] for b in BANDS}
    values = np.stack([np.asarray(read[b], np.float32) for b in bands])[:, None, :]
    if fields:
        mask = importlib.import_module("annual_accuracy").classify_fields(
            values[:, 0], bands, ruleset
        )
    else:
        scene = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(bands)})
        mask = np.asarray(landmask.classify(scene, _spectral_part(ruleset)).values)[0]
    rows = {}
    for level in ("tree", "low vegetation", "impervious", "soil", "water"):
        rows[level] = _row(mask, (frame["level_2"] == level).to_numpy())
    out = pd.DataFrame(rows).T
    out.attrs["forest"] = list(frame["name"][mask == 1])
    return out


def france_forest(rules: str | Path | RuleSet | None = "default") -> pd.DataFrame:
    """Share of each France parcel group called forest: at peak season, per date.

    Each parcel's 10-day composite is classified as an even 3 x 3 field of itself
    (``annual_accuracy.classify_fields``: a parcel has no neighbours in the samples, so
    the forest rule's neighbourhood term finds no darker neighbour), composite by
    composite; a composite with a missing band (clouds all ten days) is left out.
    Columns: ``peak`` (every clear composite of June to August pooled), ``median
    date`` and ``worst date`` (the median and the highest of the per-date shares, over
    the dates on which at least half the group's parcels are clear) and ``parcels``. The last
    row pools crops and grass.
    """
    acc = importlib.import_module("annual_accuracy")
    data = acc.load_worldcereal(FRANCE)
    ruleset = load_rules(rules if rules is not None else "default")
    bands = list(data["bands"])
    ids = np.stack([acc.classify_fields(date, bands, ruleset) for date in data["reflectance"]])
    months = np.array([int(str(d)[5:7]) for d in data["months"]])
    peak = np.isin(months, PEAK_MONTHS)
    groups = np.asarray(data["group"])
    rows = {}
    for name, members in [(g, (g,)) for g in FRANCE_GROUPS] + [
        ("crops and grass", CROPS_AND_GRASS)
    ]:
        sel = np.isin(groups, members)
        clear = ids[:, sel] != MASK_NODATA
        forest = ids[:, sel] == 1
        counted = clear.sum(axis=1) >= sel.sum() / 2
        per_date = forest.sum(axis=1)[counted] / clear.sum(axis=1)[counted]
        rows[name] = {
            "peak": float(forest[peak].sum() / clear[peak].sum()),
            "median date": float(np.median(per_date)),
            "worst date": float(per_date.max()),
            "parcels": int(sel.sum()),
        }
    return pd.DataFrame(rows).T


#: Dynamic World classes of the fuel-moisture steps that type vegetation, and the pooled row
#: issue 19's target reads (crops and grass; shrubs are reported, not judged).
FUEL_CLASSES = {"trees": 1, "grass": 2, "crops": 4, "shrub and scrub": 5}
FUEL_CROPS_AND_GRASS = ("grass", "crops")
#: The cloud screen of the fuel-moisture check, fixed before it was run (top-of-atmosphere
#: blue over clear vegetation stays well below it).
FUEL_MAX_BLUE = 0.2


def fuel_forest(rules: str | Path | RuleSet | None = "default") -> pd.DataFrame:
    """Share of presto's fuel-moisture steps called forest, per Dynamic World class.

    The check written down before it was run (``tests/data/presto_dynamic_world/README.md``):
    every step of the 2313 live-fuel sites (western US, Sentinel-2 L1C top of atmosphere,
    three 30-day steps each) whose Dynamic World label is trees, grass, crops or shrub, whose
    six bands are present and whose blue is at most :data:`FUEL_MAX_BLUE`, each classified as
    an even 3 x 3 field of itself. Columns: the share called each class, ``n`` steps, and
    ``forest, presto test`` (forest among the steps of presto's held-out sites, for the
    record). The last row pools crops and grass.
    """
    acc = importlib.import_module("annual_accuracy")
    data = acc.load_presto("fuel_moisture")
    ruleset = load_rules(rules if rules is not None else "default")
    bands = list(data["bands"])
    refl = data["reflectance"]  # (step, band, site)
    ids = np.stack([acc.classify_fields(step, bands, ruleset) for step in refl])
    labels = data["dynamic_world"].T  # (step, site)
    clear = np.isfinite(refl).all(axis=1) & (refl[:, bands.index("blue")] <= FUEL_MAX_BLUE)
    test = np.broadcast_to(data["is_test"][None, :], labels.shape)
    rows = {}
    for name, members in [(k, (k,)) for k in FUEL_CLASSES] + [
        ("crops and grass", FUEL_CROPS_AND_GRASS)
    ]:
        sel = np.isin(labels, [FUEL_CLASSES[m] for m in members]) & clear & (ids != MASK_NODATA)
        got = ids[sel]
        row = {c: float((got == i).mean()) for i, c in CLASSES.items()}
        row["n"] = int(sel.sum())
        row["forest, presto test"] = float((ids[sel & test] == 1).mean())
        rows[name] = row
    return pd.DataFrame(rows).T


def corsica_monthly_forest(rules: str | Path | RuleSet | None = "default") -> pd.DataFrame:
    """Share of Corsica's held-out trees and grassland parcels called forest, month by month.

    Each parcel's monthly composite an even 3 x 3 field of itself, as in
    ``annual_accuracy.corsica_single_date_table`` (whose median over the months this is
    per month); held out: the southern half (``corsica_held_out``). Rows: the month (1-12);
    columns: ``trees``, ``grasslands`` (forest share) and ``trees n``, ``grasslands n``
    (parcels clear that month).
    """
    acc = importlib.import_module("annual_accuracy")
    data = acc.load_corsica()
    ruleset = load_rules(rules if rules is not None else "default")
    held = acc.corsica_held_out(data)
    groups = np.asarray(data["group"])
    rows = {}
    for date, month in zip(data["months"], data["reflectance"], strict=True):
        ids = acc.classify_fields(month, list(data["bands"]), ruleset)
        row: dict[str, float] = {}
        for group in ("trees", "grasslands"):
            sel = held & (groups == group) & (ids != MASK_NODATA)
            row[group] = float((ids[sel] == 1).mean()) if sel.any() else float("nan")
            row[f"{group} n"] = int(sel.sum())
        rows[int(str(date)[5:7])] = row
    return pd.DataFrame(rows).T


#: The NIR cut in both terms of ``default``'s forest rule since session 10 (confirmed on
#: ``bigearthnet-examples`` by a check written before it was run).
NIR_CUT = "nir < 0.47"


def forest_with(extra: str | None, *, nir_cut: bool = True) -> RuleSet:
    """``default`` with ``extra`` added to both terms of its forest rule (a candidate cue).

    ``nir_cut=False``: on ``default`` as it was before it took :data:`NIR_CUT`, the rule the
    earlier rounds' cues were measured against (``extra=None``: that rule itself).
    """
    import yaml

    text = (ROOT / "landmask" / "spectral" / "rulesets" / "default.yaml").read_text()
    core = f"ndvi > 0.5 and canopy_dark < 0.08 and {NIR_CUT}\n"
    edge = f"focal_min(canopy_dark, 1) < 0.08 and {NIR_CUT}\n"
    if text.count(core) != 1 or text.count(edge) != 1:
        raise ValueError("default's forest rule no longer has the two terms a cue is added to")
    cut = f" and {NIR_CUT}" if nir_cut else ""
    more = f" and {extra}" if extra else ""
    text = text.replace(core, f"ndvi > 0.5 and canopy_dark < 0.08{cut}{more}\n")
    text = text.replace(edge, f"focal_min(canopy_dark, 1) < 0.08{cut}{more}\n")
    return load_rules(yaml.safe_load(text))


def _spectral_part(ruleset: RuleSet) -> RuleSet:
    accuracy = importlib.import_module("accuracy_on_real_data")
    return accuracy.spectral_part(ruleset)


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for idx, row in frame.iterrows():
        name = ", ".join(idx) if isinstance(idx, tuple) else idx
        cells = [f"{int(v)}" if c in ("n", "parcels") else f"{v:.2f}" for c, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rules: str | None = None) -> str:
    """Markdown: the Potsdam table, the Berlin library table, the DN scenes' tables."""
    spec = load_rules(rules) if rules else None
    out = []
    for dn in (False, True):
        table = potsdam_table(spec, dn=dn).dropna()
        how = "as DN, no scale" if dn else "--scale 0.0001"
        out.append(
            f"**enmap-potsdam** ({how}, rules {table.attrs['rules']})\n\n" + _markdown(table)
        )
    near = by_tree_neighbours(spec)
    out.append(
        "**enmap-potsdam**, tree pixels called forest by tree neighbours (of 8): "
        + ", ".join(f"{k} {v:.2f}" for k, v in near.items())
    )
    for fields in (False, True):
        lib = library_table(spec if spec is not None else "default", fields=fields)
        how = "each spectrum a 3 x 3 field of itself" if fields else "neighbourhood terms met"
        out.append(
            f"**berlin-library** (held out; {how})\n\n"
            + _markdown(lib)
            + "\n\nlow vegetation called forest: "
            + ", ".join(n for n in lib.attrs["forest"] if not re.search("tree", n))
        )
    france = france_forest(spec if spec is not None else "default")
    out.append(
        "**worldcereal-france** (tuning; forest share, each parcel an even field)\n\n"
        + _markdown(france)
    )
    fuel = fuel_forest(spec if spec is not None else "default")
    out.append(
        "**presto-fuel-moisture** (held out; Dynamic World labels, Sentinel-2 L1C top of "
        "atmosphere, each step an even field)\n\n" + _markdown(fuel)
    )
    for name, bands in (("adaptive", BANDS), ("adaptive-rgbn", VNIR)):
        for seed in range(3):
            dn = library_table(name, dn_seed=seed, bands=bands)
            out.append(
                f"**berlin-library** (held out) as DN of random gains, seed {seed}, rules {name}"
                "\n\n" + _markdown(dn)
            )
    table = potsdam_table(dn=True, bands=VNIR).dropna()
    out.append(
        f"**enmap-potsdam** (blue..NIR as DN, rules {table.attrs['rules']})\n\n" + _markdown(table)
    )
    real = importlib.import_module("real_scenes")
    for name in ("nc-landsat7", "rstoolbox-landsat5"):
        scene = real.SCENES[name]
        mask, used = real.classify_real(scene, spec)
        out.append(f"**{name}** (rules {used})\n\n" + _markdown(real.label_table(scene, mask)))
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", help="rule set name or YAML")
    parser.add_argument("--vendor", type=Path, help="write the data folder from EnMAP-Box files")
    args = parser.parse_args()
    if args.vendor:
        for path in vendor(args.vendor):
            print(path, path.stat().st_size)
        return
    print(report(args.rules))


if __name__ == "__main__":
    main()
