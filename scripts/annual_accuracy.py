"""The ``annual`` rules on real time series, next to single-date rules on the same pixels.

Three real data sets, classified with landmask's own engine:

- eo-learn's TestEOPatch (``tests/data/eolearn_testeopatch/``: 68 Sentinel-2
  L1C NDVI dates 2015-2017 over 1 km² near Ljubljana, its cloud mask and a
  per-pixel land-use map). It calibrated the forest and urban cuts (top-left
  and bottom-right quadrants; tables on the other two). It holds NDVI only,
  so the ``annual`` rules run relaxed to their NDVI comparisons
  (:func:`relaxed`: the water rules drop out, bare keeps ``ndvi_p90 < 0.2``);
- WorldCereal's Corsica 2022 samples (``tests/data/worldcereal_corsica/``:
  500 LPIS parcels, 12 monthly Sentinel-2 L2A composites of six bands, a
  land-cover label each). A second region. Every band the ``annual`` and
  ``default`` rules read is there, so both run whole. Its northern half tuned
  the forest rule's shade cut; the tables are the southern half;
- WorldCereal's Uganda and South Sudan 2017 samples
  (``tests/data/worldcereal_east_africa/``: 500 fields, the same bands and
  months from December 2016): a third region, all of it held out;
- presto's evaluation sets (``tests/data/presto_dynamic_world/``: Sentinel-2
  L1C series at 1122 water sampling sites, 12 steps, and 2313 live fuel
  moisture sites, 3 steps, each step labelled by Dynamic World). The water,
  seasonal-water and bare rules: tuned on presto's training sites
  (:func:`water_cuts`, :func:`bare_cuts`), reported on its test sites;
- LCMAP pyccd's test pixels (``tests/data/lcmap_pyccd/``: two Landsat
  pixels with CFmask's water and snow flags per date): year by year, a check
  of the water rules on snow and on a pixel that is water in some years.

annual: the clear dates reduced per pixel by
:func:`landmask.temporal.statistics.reduce_block` (the block function of
``landmask composite``; cloudy pixels blanked), the composite classified by
:func:`landmask.classify` with the built-in ``annual`` rules. Single date:
each date classified alone with the built-in ``default`` rules (on TestEOPatch
their NDVI comparisons only), the per-class shares summarised by their median
over the dates.

Run from the repository root::

    python scripts/annual_accuracy.py              # the README's tables
    python scripts/annual_accuracy.py --calibrate  # the figures in annual.yaml

The subsets were written by ``--vendor DIR`` (a TestEOPatch folder) and
``--vendor-worldcereal PARQUET MAPPINGS OUT`` (a WorldCereal extraction and
its class mappings) and ``--vendor-presto NPY_DIR OUT`` (one of presto's
``data/<set>/npy`` folders).
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import landmask
from landmask.spectral.expressions import Expr
from landmask.spectral.rules import RuleSet, load_rules
from landmask.temporal.statistics import Output, reduce_block

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "eolearn_testeopatch"
CORSICA = DATA.parent / "worldcereal_corsica"
EAST_AFRICA = DATA.parent / "worldcereal_east_africa"
PRESTO = DATA.parent / "presto_dynamic_world"
PYCCD = DATA.parent / "lcmap_pyccd"
CALIBRATION = DATA.parent / "calibration"
#: eo-learn's land-use ids (the LULC enum of its land-cover example) present in the patch.
LULC = {1: "cultivated", 2: "forest", 3: "grassland", 4: "shrubland", 8: "artificial"}
_LULC_ID = {name: lulc_id for lulc_id, name in LULC.items()}
#: A date is clear when its cloud mask flags at most this share of the patch.
MAX_CLOUD = 0.05
FEATURES = (Output("ndvi", "p10", False), Output("ndvi", "p90", False))
#: The ``annual`` scheme's classes, in table order.
ANNUAL_LABELS = ("forest", "crops_grassland", "urban", "bare", "water", "seasonal_water", "other")
#: The ``landcover`` classes a single date's ``default`` rules call.
DATE_LABELS = ("forest", "urban", "water", "other")
#: Corsica's bands (common names) in the vendored array's order, from WorldCereal's S2-L2A-B*.
CORSICA_BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11"}
CORSICA_BANDS |= {"swir22": "B12"}
#: What a year's composite holds for the ``annual`` rules (``composite --stat median
#: --stat p10 --stat p90 --feature ndvi:p10,p90 --feature mndwi:p10,p90``).
ANNUAL_OUTPUTS = tuple(
    [Output(band, stat, False) for band in CORSICA_BANDS for stat in ("median", "p10", "p90")]
    + [Output(index, stat, True) for index in ("ndvi", "mndwi") for stat in ("p10", "p90")]
)
#: Corsica's land-cover groups (WorldCereal's LANDCOVER10 names) in table order.
CORSICA_GROUPS = (
    "trees",
    "grasslands",
    "temporary_grasses",
    "temporary_crops",
    "permanent_crops",
    "wetlands",
    "built_up",
)


def vendor(eopatch: Path, out: Path = DATA) -> Path:
    """Write the subset from an eo-learn ``example_data/TestEOPatch`` folder (NDVI x 10^4)."""
    ndvi = np.load(eopatch / "data" / "NDVI.npy")[..., 0]
    path = out / "testeopatch.npz"
    np.savez_compressed(
        path,
        ndvi=np.round(ndvi * 10000).astype(np.int16),
        clm=np.load(eopatch / "mask" / "CLM.npy")[..., 0].astype(np.uint8),
        lulc=np.load(eopatch / "mask_timeless" / "LULC.npy")[..., 0].astype(np.uint8),
        timestamps=np.array(json.loads((eopatch / "timestamps.json").read_text())),
    )
    return path


def load(data: Path = DATA) -> dict[str, np.ndarray]:
    """NDVI ``(date, y, x)`` float32 of the clear dates (NaN under clouds), land use, dates."""
    with np.load(data / "testeopatch.npz") as npz:
        ndvi = npz["ndvi"].astype(np.float32) / np.float32(10000)
        clm = npz["clm"].astype(bool)
        lulc, dates = npz["lulc"], npz["timestamps"]
    clear = clm.reshape(len(clm), -1).mean(axis=1) <= MAX_CLOUD
    ndvi = np.where(clm, np.float32(np.nan), ndvi)[clear]
    return {"ndvi": ndvi, "lulc": lulc, "dates": dates[clear]}


def held_out(shape: tuple[int, int]) -> np.ndarray:
    """The top-right and bottom-left quadrants (calibration: the other two)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy < shape[0] // 2) != (xx < shape[1] // 2)


def planes_scene(planes: np.ndarray, bands: list[str]) -> xr.DataArray:
    """``(band, y, x)`` planes as a float32 scene named ``bands``, on a 10 m grid (no CRS)."""
    height, width = planes.shape[-2:]
    return xr.DataArray(
        planes.astype(np.float32),
        dims=("band", "y", "x"),
        coords={"band": bands, "y": 10.0 * np.arange(height)[::-1], "x": 10.0 * np.arange(width)},
    )


def classify_fields(values: np.ndarray, bands: Sequence[str], rules: RuleSet) -> np.ndarray:
    """Class ids of samples ``(band, n)``, each classified as the centre of an even field.

    A sample (a parcel's composite, a library spectrum) has no neighbours. Laid side by
    side in one row, a rule's neighbourhood terms would read the next sample, which is
    nothing to it; here each sample is a square field of itself, ``2R + 1`` pixels a side
    for rules that reach ``R`` pixels (at least 3 x 3; blocks side by side: the centre's
    window is its own block), so every term of the rules runs and a neighbourhood term
    sees an even field: no texture, no darker neighbour. That is what a pixel inside a
    parcel or a homogeneous patch sees; not a parcel's edge.
    """
    reach = max(rules.reach, 1)
    side = 2 * reach + 1
    blocks = np.repeat(np.repeat(np.asarray(values)[:, None, :], side, axis=1), side, axis=2)
    mask = landmask.classify(planes_scene(blocks, list(bands)), rules).values
    return np.asarray(mask)[reach, reach::side]


def ndvi_scene(ndvi: np.ndarray) -> xr.DataArray:
    """A one-date ``(red, nir)`` scene whose NDVI is ``ndvi`` (the data hold NDVI, not bands).

    ``nir = (1 + v) / 4`` and ``red = (1 - v) / 4``: their sum is 1/2 and their
    difference ``v / 2``, so the engine's ``ndvi`` reads ``v`` back (to float32
    rounding). Only rules that read NDVI alone mean anything on it.
    """
    return planes_scene(np.stack([(1 - ndvi) / 4, (1 + ndvi) / 4]), ["red", "nir"])


def composite(ndvi: np.ndarray) -> xr.DataArray:
    """The dates' composite (``ndvi_p10``, ``ndvi_p90``, ``clear_count``): what ``annual`` reads."""
    planes = reduce_block(ndvi[:, None], ["ndvi"], FEATURES)
    return planes_scene(planes, [o.name for o in FEATURES] + ["clear_count"])


def _relaxed_expr(expr: Expr, available: frozenset[str]) -> Expr | None:
    """The comparisons of ``expr`` that read ``available`` names, or None (no constraint left).

    In an ``and`` a comparison that reads other names is dropped (the condition widens);
    an ``or`` keeps each alternative relaxed, and is itself no constraint (None) if one
    of its alternatives is none.
    """
    if expr.names <= available:
        return expr
    if expr.kind not in ("and", "or"):
        return None
    relaxed_args = [_relaxed_expr(a, available) for a in expr.args]
    if expr.kind == "or":
        if any(e is None for e in relaxed_args):
            return None
        kept = [e for e in relaxed_args if e is not None]
    else:
        kept = [e for e in relaxed_args if e is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else replace(expr, args=tuple(kept))


def relaxed(ruleset: RuleSet, available: Collection[str]) -> RuleSet:
    """``ruleset`` relaxed to its comparisons that read ``available`` names; others dropped.

    Each kept rule is implied by the full one, so on the same pixels it calls
    at least as many pixels its class as the full rule could (first match wins:
    an upper bound for the first rule kept, an estimate for the next). A rule
    with no such comparison is dropped: its class is not called.
    """
    names = frozenset(available)
    rules = []
    for rule in ruleset.rules:
        expr = _relaxed_expr(rule.expr, names)
        if expr is not None:
            rules.append(replace(rule, expr=expr, text=str(expr)))
    return replace(ruleset, rules=tuple(rules))


def ndvi_part(ruleset: RuleSet) -> RuleSet:
    """``ruleset`` relaxed to its NDVI comparisons (:func:`relaxed`)."""
    return relaxed(ruleset, {"ndvi"})


def shares(
    mask: np.ndarray,
    truth: np.ndarray,
    where: np.ndarray,
    names: dict[int, str],
    classes: dict[int, str] = LULC,
) -> pd.DataFrame:
    """For each truth class, the share of its pixels given each label (nodata left out)."""
    rows = {}
    for truth_id, truth_name in classes.items():
        got = mask[where & (truth == truth_id) & (mask != 255)]
        if got.size:
            rows[truth_name] = {label: float(np.mean(got == i)) for i, label in names.items()}
    return pd.DataFrame(rows).T.reindex(columns=list(names.values())).fillna(0.0)


def _names(rules: RuleSet, labels: Sequence[str]) -> dict[int, str]:
    return {rules.scheme.id(label): label for label in labels}


def annual_rules_for(data: dict[str, np.ndarray]) -> RuleSet:
    """The ``annual`` rules as TestEOPatch can run them (NDVI only: :func:`relaxed`)."""
    return relaxed(load_rules("annual"), [o.name for o in FEATURES] + ["clear_count"])


def annual_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """The ``annual`` rules' ``(y, x)`` class ids on the composite of the clear dates."""
    return np.asarray(landmask.classify(composite(data["ndvi"]), annual_rules_for(data)).values)


def annual_table(data: dict[str, np.ndarray], mask: np.ndarray | None = None) -> pd.DataFrame:
    """Shares of each class on the held-out quadrants, ``annual`` rules on the composite."""
    mask = annual_mask(data) if mask is None else mask
    where = held_out(data["lulc"].shape)
    return shares(mask, data["lulc"], where, _names(load_rules("annual"), ANNUAL_LABELS))


def single_date_table(data: dict[str, np.ndarray]) -> pd.DataFrame:
    """Median over the clear dates of each date's shares, ``default`` NDVI clauses, held out."""
    rules = ndvi_part(load_rules("default"))
    return _per_date(data, lambda date: rules)


def best_cut_table(data: dict[str, np.ndarray]) -> pd.DataFrame:
    """As :func:`single_date_table` for ``forest: ndvi > t``, ``t`` the date's best cut.

    The cut of best balanced accuracy between forest and grassland plus
    cultivated on that date's calibration quadrants: the most one NDVI
    threshold on one date can do.
    """
    cal = ~held_out(data["lulc"].shape)
    forest, grass = cal & (data["lulc"] == 2), cal & np.isin(data["lulc"], (1, 3))

    def rules(date: np.ndarray) -> RuleSet:
        cut = best_cut(date[forest], date[grass])
        spec = {
            "name": "best-cut",
            "scheme": "landcover",
            "rules": [{"class": "forest", "when": f"ndvi > {cut}"}],
        }
        return load_rules(spec)

    return _per_date(data, rules)


def best_cut(above: np.ndarray, below: np.ndarray) -> float:
    """The cut of best balanced accuracy for ``above > cut >= below`` (NaN ignored), 0.01 steps."""
    above, below = above[np.isfinite(above)], below[np.isfinite(below)]
    cuts = np.round(np.arange(-0.2, 1.0, 0.01), 2)
    balanced = [(np.mean(above > t) + np.mean(below <= t)) / 2 for t in cuts]
    return float(cuts[int(np.argmax(balanced))])


def _per_date(
    data: dict[str, np.ndarray], rules_for: Callable[[np.ndarray], RuleSet]
) -> pd.DataFrame:
    where = held_out(data["lulc"].shape)
    tables = []
    for date in data["ndvi"]:
        rules = rules_for(date)
        mask = landmask.classify(ndvi_scene(date), rules).values
        tables.append(shares(mask, data["lulc"], where, _names(rules, DATE_LABELS)))
    return pd.concat(tables).groupby(level=0, sort=False).median()


# --- WorldCereal's Corsica 2022 samples ---------------------------------------------------


def vendor_worldcereal(parquet: Path, mappings: Path, out: Path, year: int = 2022) -> Path:
    """Write a WorldCereal subset (``out``, an ``.npz``) from an extraction and class mappings.

    The composites of six bands, reflectance x 10^4 as int16 (-1 where
    WorldCereal has no value, its 65535), each sample's ``ewoc_code`` and the
    LANDCOVER10 group it maps to. Two layouts: a long table (one row a sample
    and composite, ``timestamp``, ``S2-L2A-B02``: the composites dated in
    ``year`` are kept, monthly or 10-daily as the extraction has them; their
    dates go in ``months``) or a wide one (one row a sample,
    ``OPTICAL-B02-ts0-10m`` ... ``ts11``, 12 months from ``start_date``).
    """
    frame = pd.read_parquet(parquet)
    groups = json.loads(mappings.read_text())["LANDCOVER10"]
    if "timestamp" in frame.columns:
        first_day, next_year = f"{year}-01-01", f"{year + 1}-01-01"
        frame = frame[(frame["timestamp"] >= first_day) & (frame["timestamp"] < next_year)]
        ids = sorted(frame["sample_id"].unique())
        months = [pd.Timestamp(m) for m in sorted(frame["timestamp"].unique())]
        refl = np.full((len(ids), len(months), len(CORSICA_BANDS)), -1, np.int16)
        row = {sid: k for k, sid in enumerate(ids)}
        col = {m: k for k, m in enumerate(sorted(frame["timestamp"].unique()))}
        for b, band in enumerate(CORSICA_BANDS.values()):
            values = frame[f"S2-L2A-{band}"].to_numpy()
            values = np.where(values == 65535, -1, values).astype(np.int16)
            refl[frame["sample_id"].map(row), frame["timestamp"].map(col), b] = values
        first = frame.groupby("sample_id").first().loc[ids]
    else:
        first = frame.set_index("sample_id").sort_index()
        ids = list(first.index)
        (start,) = first["start_date"].unique()
        months = [pd.Timestamp(start) + pd.DateOffset(months=k) for k in range(12)]
        refl = np.full((len(ids), 12, len(CORSICA_BANDS)), -1, np.int16)
        for b, band in enumerate(CORSICA_BANDS.values()):
            for k in range(12):
                (column,) = [c for c in first.columns if c.startswith(f"OPTICAL-{band}-ts{k}-")]
                values = first[column].to_numpy()
                refl[:, k, b] = np.where(values == 65535, -1, values).astype(np.int16)
    codes = first["ewoc_code"].astype(np.int64).to_numpy()
    np.savez_compressed(
        out,
        reflectance=refl,
        bands=np.array(list(CORSICA_BANDS)),
        months=np.array([str(m.date()) for m in months]),
        sample_id=np.array(ids),
        ewoc_code=codes,
        group=np.array([groups.get(str(c), "ignore") for c in codes]),
        lon=first["lon"].to_numpy(np.float64).round(5),
        lat=first["lat"].to_numpy(np.float64).round(5),
    )
    return out


def load_worldcereal(path: Path) -> dict[str, np.ndarray]:
    """Reflectance ``(month, band, sample)`` float32 (NaN where missing), groups, months."""
    with np.load(path) as npz:
        refl = npz["reflectance"]
        keys = ("bands", "months", "group", "ewoc_code", "sample_id", "lat", "lon")
        out = {k: npz[k] for k in keys}
    values = np.where(refl < 0, np.nan, refl / np.float32(10000)).astype(np.float32)
    out["reflectance"] = values.transpose(1, 2, 0)  # (month, band, sample)
    out["held_out"] = np.ones(len(out["group"]), bool)
    return out


def load_corsica(data: Path = CORSICA) -> dict[str, np.ndarray]:
    """Corsica's parcels; held out: the southern half (by latitude), the northern calibrates."""
    out = load_worldcereal(data / "corsica2022.npz")
    out["held_out"] = np.asarray(out["lat"] < np.median(out["lat"]))
    return out


def load_east_africa(data: Path = EAST_AFRICA) -> dict[str, np.ndarray]:
    """The Uganda and South Sudan fields of 2017, every one held out (nothing tuned on them)."""
    return load_worldcereal(data / "eastafrica2017.npz")


def corsica_held_out(data: dict[str, np.ndarray]) -> np.ndarray:
    """The samples the tables report: those no threshold was tuned on."""
    return np.asarray(data["held_out"])


def corsica_composite(data: dict[str, np.ndarray]) -> xr.DataArray:
    """The year's composite of the parcels (``(band, 1, parcel)``): what ``annual`` reads."""
    stack = data["reflectance"][:, :, None, :]  # (date, band, y=1, x=parcel)
    planes = reduce_block(stack, list(data["bands"]), ANNUAL_OUTPUTS)
    return planes_scene(planes, [o.name for o in ANNUAL_OUTPUTS] + ["clear_count"])


def corsica_annual_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """The ``annual`` rules' class id of each parcel (all bands there: the rules run whole)."""
    return np.asarray(landmask.classify(corsica_composite(data), "annual").values)[0]


def corsica_truth(data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[int, str]]:
    groups = {k: name for k, name in enumerate(CORSICA_GROUPS)}
    lookup = {name: k for k, name in groups.items()}
    return np.array([lookup.get(g, -1) for g in data["group"]]), groups


def corsica_annual_table(
    data: dict[str, np.ndarray], mask: np.ndarray | None = None
) -> pd.DataFrame:
    """Shares of each ``annual`` class per Corsica land-cover group (every parcel held out)."""
    mask = corsica_annual_mask(data) if mask is None else mask
    truth, groups = corsica_truth(data)
    names = _names(load_rules("annual"), ANNUAL_LABELS)
    return shares(mask, truth, corsica_held_out(data), names, groups)


def corsica_single_date_table(
    data: dict[str, np.ndarray], rules: str | RuleSet = "default"
) -> pd.DataFrame:
    """Median over the 12 months of each month's shares, whole ``rules``, held out.

    Each parcel is an even field of its month's composite (:func:`classify_fields`): the
    rules' neighbourhood terms see no texture and no darker neighbour.
    """
    truth, groups = corsica_truth(data)
    where = corsica_held_out(data)
    rules = load_rules(rules)
    names = _names(rules, DATE_LABELS)
    tables = []
    for month in data["reflectance"]:
        mask = classify_fields(month, list(data["bands"]), rules)
        tables.append(shares(mask, truth, where, names, groups))
    return pd.concat(tables).groupby(level=0, sort=False).median()


def corsica_figures(data: dict[str, np.ndarray]) -> str:
    """Per group, the medians of the composite's bands the rules read (in annual.yaml)."""
    comp = corsica_composite(data)
    truth, groups = corsica_truth(data)
    bands = ("ndvi_p10", "ndvi_p90", "mndwi_p10", "mndwi_p90", "nir_p10", "nir_p90")
    bands += ("swir16_median", "clear_count")
    rows = {}
    for k, name in groups.items():
        pick = truth == k
        rows[f"{name} ({int(pick.sum())})"] = {
            b: float(np.nanmedian(comp.sel(band=b).values[0][pick])) for b in bands
        }
    lines = [pd.DataFrame(rows).T.round(2).to_string(), ""]
    cal = ~corsica_held_out(data)
    trees, low = cal & (truth == 0), cal & np.isin(truth, (1, 2, 3, 4))
    lines.append(f"northern half (calibration): {trees.sum()} trees, {low.sum()} crops/grass")
    cuts, rates = shade_cuts(data)
    for cut, (tree_rate, low_rate) in zip(cuts, rates, strict=True):
        lines.append(f"shade < {cut:.3f}: trees {tree_rate:.2f}, crops/grass {low_rate:.2f}")
    best, balanced = best_shade_cut(data)
    lines.append(f"best balanced accuracy {balanced:.2f} at shade < {best:.3f}")
    forest_p10 = comp.sel(band="ndvi_p10").values[0] > 0.14
    lines.append(f"without the shade clause: crops/grass {np.mean(forest_p10[low]):.2f} forest")
    return "\n".join(lines)


def shade_cuts(data: dict[str, np.ndarray]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """On Corsica's northern half: for each shade cut, the shares of trees and of crops and
    grass that ``ndvi_p10 > 0.14 and shade < cut`` calls forest."""
    comp = corsica_composite(data)
    truth, _ = corsica_truth(data)
    cal = ~corsica_held_out(data)
    trees, low = cal & (truth == 0), cal & np.isin(truth, (1, 2, 3, 4))
    cue = shade(comp)
    forest_p10 = comp.sel(band="ndvi_p10").values[0] > 0.14
    cuts = np.round(np.arange(0.05, 0.125, 0.005), 3)
    rates = []
    for cut in cuts:
        called = forest_p10 & (cue < cut)
        rates.append((float(np.mean(called[trees])), float(np.mean(called[low]))))
    return cuts, rates


def best_shade_cut(data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The shade cut of best balanced accuracy on Corsica's northern half, and that accuracy."""
    cuts, rates = shade_cuts(data)
    balanced = [(tree_rate + 1 - low_rate) / 2 for tree_rate, low_rate in rates]
    k = int(np.argmax(balanced))
    return float(cuts[k]), balanced[k]


def shade(comp: xr.DataArray) -> np.ndarray:
    """The ``annual`` forest rule's canopy-shade cue on a composite: visible and 2.2 um medians."""
    visible = sum(comp.sel(band=f"{b}_median").values for b in ("blue", "green", "red")) / 3
    return np.asarray((visible + comp.sel(band="swir22_median").values) / 2)[0]


# --- presto's Dynamic World-labelled series: water and bare land ---------------------------

#: presto's 18 channels (``s1_s2_era5_srtm.npy``): S1, S2 (B1, B10 removed), ERA5, SRTM, NDVI.
PRESTO_CHANNELS = ("VV", "VH", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11")
PRESTO_CHANNELS += ("B12", "temperature_2m", "total_precipitation", "elevation", "slope", "NDVI")
#: The common names kept, from presto's Sentinel-2 channels (the same six as WorldCereal's).
PRESTO_BANDS = {"blue": "B2", "green": "B3", "red": "B4", "nir": "B8", "swir16": "B11"}
PRESTO_BANDS |= {"swir22": "B12"}
#: Dynamic World's classes (its ``label`` band), 9 where presto found no image that month.
DYNAMIC_WORLD = ("water", "trees", "grass", "flooded_vegetation", "crops", "shrub_and_scrub")
DYNAMIC_WORLD += ("built", "bare", "snow_and_ice")
#: The vendored sets: in-situ water sampling sites (algal blooms, US Midwest) and live fuel
#: moisture sites (vegetation sampled, western US).
PRESTO_SETS = ("algae_blooms", "fuel_moisture")
#: The truth groups of the water and bare table, in table order (sites held out by presto).
WATER_GROUPS = (
    "permanent water",
    "seasonal water",
    "water site, DW never water",
    "fuel site, DW bare",
    "fuel site, DW vegetated",
)


def vendor_presto(npy: Path, out: Path) -> Path:
    """Write one of presto's evaluation sets (``npy``: its ``data/<set>/npy`` folder) as ``out``.

    Six of the Sentinel-2 channels, reflectance x 10^4 rounded to int16; the
    Dynamic World label of each step; the step's calendar month (1-12);
    presto's own train/test flag; the site's coordinates.
    """
    x = np.load(npy / "s1_s2_era5_srtm.npy")
    picks = [PRESTO_CHANNELS.index(band) for band in PRESTO_BANDS.values()]
    np.savez_compressed(
        out,
        reflectance=np.round(x[..., picks]).astype(np.int16),
        bands=np.array(list(PRESTO_BANDS)),
        month=(np.load(npy / "month.npy") + 1).astype(np.int8),
        dynamic_world=np.load(npy / "dynamic_world.npy").astype(np.uint8),
        is_test=np.load(npy / "is_test.npy").astype(bool),
        lat=np.load(npy / "latlon.npy")[:, 0].round(5),
        lon=np.load(npy / "latlon.npy")[:, 1].round(5),
    )
    return out


def load_presto(name: str, data: Path = PRESTO) -> dict[str, np.ndarray]:
    """One vendored presto set: reflectance ``(step, band, site)`` float32 and its labels.

    ``water_share``: the share of a site's steps Dynamic World calls water,
    over the steps it does not call snow and ice (as Pekel et al. count only
    observed water or land); ``bare_share`` likewise.
    """
    with np.load(data / f"{name}.npz") as npz:
        out = {k: npz[k] for k in ("bands", "month", "dynamic_world", "is_test", "lat", "lon")}
        out["reflectance"] = (npz["reflectance"] / np.float32(10000)).transpose(1, 2, 0)
    dw = out["dynamic_world"]
    observed = np.maximum(np.sum((dw != 8) & (dw != 9), axis=1), 1)
    out["water_share"] = np.sum(dw == 0, axis=1) / observed
    out["bare_share"] = np.sum(dw == 7, axis=1) / observed
    out["held_out"] = out["is_test"]
    return out


def water_truth(name: str, data: dict[str, np.ndarray]) -> np.ndarray:
    """Each site's index in :data:`WATER_GROUPS`.

    Water sampling sites: permanent where Dynamic World calls them water on at
    least 90% of the observed months (the rules' own definition), seasonal on
    10-90%, below that "never water". Fuel sites are land (a crew sampled live
    vegetation there): "bare" where Dynamic World calls them bare on at least
    half the observed steps.
    """
    if name == "algae_blooms":
        share = data["water_share"]
        return np.select([share >= 0.9, share >= 0.1], [0, 1], 2)
    return np.where(data["bare_share"] >= 0.5, 3, 4)


def presto_composite(data: dict[str, np.ndarray]) -> xr.DataArray:
    """The steps' composite (``(band, 1, site)``), as :func:`corsica_composite`."""
    return corsica_composite(data)


def presto_annual_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """The ``annual`` rules' class id of each site."""
    return np.asarray(landmask.classify(presto_composite(data), "annual").values)[0]


def water_table(sets: dict[str, dict[str, np.ndarray]]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Shares of each ``annual`` class per truth group, over the sites presto held out."""
    masks, truths, where = [], [], []
    for name, data in sets.items():
        masks.append(presto_annual_mask(data))
        truths.append(water_truth(name, data))
        where.append(data["held_out"])
    mask, truth, keep = (np.concatenate(a) for a in (masks, truths, where))
    groups = dict(enumerate(WATER_GROUPS))
    names = _names(load_rules("annual"), ANNUAL_LABELS)
    counts = {g: int(np.sum(keep & (truth == k))) for k, g in groups.items()}
    return shares(mask, truth, keep, names, groups), counts


def _features(comp: xr.DataArray) -> dict[str, np.ndarray]:
    return {str(b): comp.sel(band=b).values[0] for b in comp["band"].values}


def _spectra_features() -> dict[str, dict[str, np.ndarray]]:
    """The calibration spectra (``tests/data/calibration``) as a year of one unchanging date."""
    out = {}
    earthlib = pd.read_csv(CALIBRATION / "earthlib_spectra.csv")
    spyndex = pd.read_csv(CALIBRATION / "landsat8_spyndex.csv")
    for name, frame, prefix in (("earthlib", earthlib, "s2_"), ("spyndex", spyndex, "")):
        band = {b: frame[f"{prefix}{b}"].to_numpy() for b in ("green", "red", "nir", "swir16")}
        mndwi = (band["green"] - band["swir16"]) / (band["green"] + band["swir16"])
        ndvi = (band["nir"] - band["red"]) / (band["nir"] + band["red"])
        feats = {f"mndwi_{s}": mndwi for s in ("p10", "p90")} | {
            f"ndvi_{s}": ndvi for s in ("p10", "p90")
        }
        feats |= {f"nir_{s}": band["nir"] for s in ("p10", "median", "p90")}
        feats["swir16_median"] = band["swir16"]
        feats["group"] = frame["group" if name == "earthlib" else "class"].to_numpy()
        out[name] = feats
    return out


def water_cuts() -> pd.DataFrame:
    """The water and seasonal-water cuts tried on presto's training sites, best first.

    ``water: mndwi_p10 > a and nir_p10 < b``, ``seasonal_water: mndwi_p90 > c
    and nir_p10 < d``. Score: the mean of the shares of permanent water sites
    called water, seasonal ones called seasonal water, fuel sites called
    neither. Kept: cuts that call at most 1% of the fuel sites, of Corsica's
    northern parcels and of earthlib's spectra (bare, built, vegetation) water
    or seasonal water, none of spyndex's urban and vegetation pixels, and
    every spyndex water pixel water.
    """
    algae, fuel = load_presto("algae_blooms"), load_presto("fuel_moisture")
    corsica = load_corsica()
    sets = {
        "algae": (_features(presto_composite(algae)), ~algae["held_out"]),
        "fuel": (_features(presto_composite(fuel)), ~fuel["held_out"]),
        "corsica": (_features(corsica_composite(corsica)), ~corsica_held_out(corsica)),
    }
    truth = water_truth("algae_blooms", algae)[~algae["held_out"]]
    feats = {k: {b: v[b][keep] for b in v} for k, (v, keep) in sets.items()}
    spectra = _spectra_features()
    feats["earthlib"] = spectra["earthlib"]
    spy = spectra["spyndex"]
    water_px = spy["group"] == "water"
    feats["spyndex_land"] = {b: v[~water_px] for b, v in spy.items()}
    feats["spyndex_water"] = {b: v[water_px] for b, v in spy.items()}
    rows = []
    for a in np.round(np.arange(-0.2, 0.11, 0.05), 2):
        for b in np.round(np.arange(0.025, 0.21, 0.025), 3):
            water = {k: (f["mndwi_p10"] > a) & (f["nir_p10"] < b) for k, f in feats.items()}
            for c in np.round(np.arange(-0.1, 0.31, 0.05), 2):
                for d in np.round(np.arange(0.05, 0.21, 0.025), 3):
                    wet = {
                        k: (f["mndwi_p90"] > c) & (f["nir_p10"] < d) & ~water[k]
                        for k, f in feats.items()
                    }
                    row = {"a": a, "b": b, "c": c, "d": d}
                    row["permanent"] = float(np.mean(water["algae"][truth == 0]))
                    row["seasonal"] = float(np.mean(wet["algae"][truth == 1]))
                    for k in ("fuel", "corsica", "earthlib", "spyndex_land"):
                        row[f"land {k}"] = float(np.mean(water[k] | wet[k]))
                    row["spyndex water"] = float(np.mean(water["spyndex_water"]))
                    row["score"] = (row["permanent"] + row["seasonal"] + 1 - row["land fuel"]) / 3
                    rows.append(row)
    table = pd.DataFrame(rows)
    land = table[[c for c in table.columns if c.startswith("land ")]]
    kept = (land.drop(columns="land spyndex_land") <= 0.01).all(axis=1)
    kept &= (table["land spyndex_land"] == 0) & (table["spyndex water"] == 1)
    return table[kept].sort_values("score", ascending=False, kind="stable")


def bare_cuts() -> pd.DataFrame:
    """``bare: ndvi_p90 < t and swir16_median > s`` on real bare and vegetated land, best first.

    Score: the mean of the shares of presto's training fuel sites Dynamic World
    calls bare, and of earthlib's bare soil spectra, called bare, and of the
    vegetated training fuel sites not called bare. Kept: cuts that call no
    more real built surfaces bare than the uncalibrated rule did (earthlib's
    built spectra, Corsica's built-up parcel: bare and urban mix, and urban
    was measured first) and at most 1% of Corsica's northern parcels.
    """
    fuel, corsica = load_presto("fuel_moisture"), load_corsica()
    f = _features(presto_composite(fuel))
    train = ~fuel["held_out"]
    truth = water_truth("fuel_moisture", fuel)
    bare, veg = train & (truth == 3), train & (truth == 4)
    c = _features(corsica_composite(corsica))
    north = ~corsica_held_out(corsica)
    built = corsica["group"] == "built_up"
    e = _spectra_features()["earthlib"]
    rows = []
    for t in np.round(np.arange(0.1, 0.36, 0.025), 3):
        for s in np.round(np.arange(0.1, 0.41, 0.025), 3):
            called = (f["ndvi_p90"] < t) & (f["swir16_median"] > s)
            cor = (c["ndvi_p90"] < t) & (c["swir16_median"] > s)
            lib = (e["ndvi_p90"] < t) & (e["swir16_median"] > s)
            rows.append(
                {
                    "t": t,
                    "s": s,
                    "DW bare": float(np.mean(called[bare])),
                    "earthlib bare": float(np.mean(lib[e["group"] == "bare"])),
                    "vegetated": float(np.mean(called[veg])),
                    "corsica": float(np.mean(cor[north])),
                    "corsica built": float(np.mean(cor[built])),
                    "earthlib built": float(np.mean(lib[e["group"] == "built"])),
                }
            )
    table = pd.DataFrame(rows)
    table["score"] = (table["DW bare"] + table["earthlib bare"] + 1 - table["vegetated"]) / 3
    before = table[(table["t"] == 0.2) & (table["s"] == 0.3)].iloc[0]
    kept = (table["earthlib built"] <= before["earthlib built"]) & (table["corsica built"] == 0)
    kept &= table["corsica"] <= 0.01
    return table[kept].sort_values("score", ascending=False, kind="stable")


def water_report() -> str:
    """The water and bare table: presto's held-out sites, ``annual`` on their composites."""
    sets = {name: load_presto(name) for name in PRESTO_SETS}
    table, counts = water_table(sets)
    labels = ("water", "seasonal_water", "bare", "forest", "crops_grassland", "urban", "other")
    return _table({"annual": (table, labels)}, counts)


# --- LCMAP pyccd's Landsat pixels: snow, and water by CFmask --------------------------------

#: pyccd's test pixels: one under snow most of the year, one CFmask calls water on some dates.
PYCCD_PIXELS = {
    "snow": "sample_WA_grid08_row9_col2267_persistent_snow.csv",
    "water": "test_3657_3610_observations.csv",
}
#: pyccd's test QA codes (CFmask): 0 clear, 1 water, 2 cloud shadow, 3 snow, 4 cloud.
CFMASK_KEPT = (0, 1, 3)


def pyccd_years(name: str, rules: str | dict = "annual", data: Path = PYCCD) -> pd.DataFrame:
    """One pyccd pixel's years: clear dates, CFmask's water and snow shares, the ``annual`` class.

    Each year's composite is made of the dates CFmask calls clear, water or
    snow (cloud and shadow masked: landmask's quality masking keeps snow too),
    years with at least 5 such dates. Reflectance x 10^4; pyccd's saturated
    20000 reads as 1.0 (saturated over snow: at least that bright). ``rules``:
    a built-in name or a rule-set mapping in the ``annual`` scheme.
    """
    table = np.loadtxt(data / PYCCD_PIXELS[name], delimiter=",")
    years = np.array([datetime.date.fromordinal(int(d)).year for d in table[:, 0]])
    qa = table[:, 8]
    refl = np.minimum(table[:, 1:7] / 10000, 1.0).astype(np.float32)  # blue ... swir22
    names = _names(load_rules("annual"), ANNUAL_LABELS)
    rows = []
    for year in np.unique(years):
        pick = (years == year) & np.isin(qa, CFMASK_KEPT)
        if pick.sum() < 5:
            continue
        stack = {"reflectance": refl[pick][:, :, None], "bands": np.array(list(CORSICA_BANDS))}
        mask = np.asarray(landmask.classify(corsica_composite(stack), load_rules(rules)).values)[0]
        rows.append(
            {
                "year": int(year),
                "dates": int(pick.sum()),
                "cfmask water": float(np.mean(qa[pick] == 1)),
                "cfmask snow": float(np.mean(qa[pick] == 3)),
                "annual": names[int(mask[0])],
            }
        )
    return pd.DataFrame(rows)


# --- calibration and the README's tables -------------------------------------------------


def calibration_figures(data: dict[str, np.ndarray]) -> str:
    """The calibration quadrants' figures quoted in ``annual.yaml``."""
    comp = composite(data["ndvi"])
    p10, p90 = comp.sel(band="ndvi_p10").values, comp.sel(band="ndvi_p90").values
    cal = ~held_out(data["lulc"].shape)
    lulc = data["lulc"]
    forest, grass = cal & (lulc == 2), cal & np.isin(lulc, (1, 3))
    cuts = np.round(np.arange(0.0, 0.8, 0.01), 2)
    balanced = [(np.mean(p10[forest] > t) + np.mean(p10[grass] <= t)) / 2 for t in cuts]
    best = float(cuts[int(np.argmax(balanced))])
    lines = [
        f"ndvi_p10 {name} median {np.median(p10[m]):.2f} (5-95%: "
        f"{np.percentile(p10[m], 5):.2f}-{np.percentile(p10[m], 95):.2f})"
        for name, m in (("forest", forest), ("grassland+cultivated", grass))
    ]
    lines.append(f"best balanced accuracy forest/grassland: {max(balanced):.2f} at {best:.2f}")
    not_forest = cal & (p10 <= 0.14)
    for cut in (0.60, 0.65, 0.69):
        built = np.mean(p90[not_forest & (lulc == 8)] < cut)
        veg = np.mean(p90[not_forest & np.isin(lulc, (1, 3, 4))] < cut)
        lines.append(
            f"ndvi_p90 < {cut:.2f} (not forest): artificial {built:.2f}, vegetation {veg:.2f}"
        )
    lines.append(f"calibration pixels with ndvi_p90 < 0.30: {int(np.sum(cal & (p90 < 0.30)))}")
    rng = np.random.default_rng(0)
    for k in (8, 12):
        accs = []
        for _ in range(20):
            pick = rng.choice(len(data["ndvi"]), k, replace=False)
            sub = np.nanpercentile(data["ndvi"][pick], 10, axis=0)
            accs.append((np.mean(sub[forest] > 0.14) + np.mean(sub[grass] <= 0.14)) / 2)
        lines.append(f"{k} random clear dates: balanced accuracy median {np.median(accs):.2f}")
    return "\n".join(lines)


def _table(tables: dict[str, tuple[pd.DataFrame, Sequence[str]]], counts: dict[str, int]) -> str:
    """One markdown table: per truth class, for each method, the shares of its labels."""
    heads = [f"{method}: {' / '.join(labels)}" for method, (_, labels) in tables.items()]
    lines = ["| truth (pixels) | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    first = next(iter(tables.values()))[0]
    for row in first.index:
        cells = [
            " / ".join(f"{table.loc[row, label]:.2f}" for label in labels)
            if row in table.index
            else "-"
            for table, labels in tables.values()
        ]
        lines.append(f"| {row} ({counts[row]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(data: dict[str, np.ndarray]) -> str:
    """TestEOPatch's table: per land-use class, the shares each method calls each class."""
    annual = annual_table(data)
    others = ("water", "seasonal_water", "bare")
    assert float(annual.loc[:, list(others)].to_numpy().max()) == 0.0  # no such rule here
    tables = {
        "annual": (annual, ("forest", "crops_grassland", "urban", "other")),
        "single date, default": (single_date_table(data), ("forest", "urban", "other")),
        "single date, best cut": (best_cut_table(data), ("forest", "other")),
    }
    where = held_out(data["lulc"].shape)
    counts = {name: int(np.sum(where & (data["lulc"] == i))) for i, name in LULC.items()}
    return _table(tables, counts)


def corsica_report(data: dict[str, np.ndarray]) -> str:
    """Corsica's table: per land-cover group, the shares ``annual`` and ``default`` call."""
    truth, groups = corsica_truth(data)
    tables = {
        "annual": (corsica_annual_table(data), ANNUAL_LABELS),
        "single month, default": (corsica_single_date_table(data), DATE_LABELS),
    }
    where = corsica_held_out(data)
    counts = {name: int(np.sum(where & (truth == k))) for k, name in groups.items()}
    return _table(tables, counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calibrate", action="store_true", help="print the calibration figures")
    parser.add_argument("--vendor", type=Path, help="write the subset from a TestEOPatch folder")
    parser.add_argument(
        "--vendor-worldcereal",
        nargs=3,
        type=Path,
        metavar=("PARQUET", "MAPPINGS", "OUT"),
        help="write a WorldCereal subset (OUT.npz) from an extraction and its class mappings",
    )
    parser.add_argument(
        "--year", type=int, default=2022, help="with --vendor-worldcereal: the year kept"
    )
    parser.add_argument(
        "--vendor-presto",
        nargs=2,
        type=Path,
        metavar=("NPY_DIR", "OUT"),
        help="write one of presto's evaluation sets (its data/<set>/npy folder) as OUT.npz",
    )
    args = parser.parse_args()
    if args.vendor:
        print(vendor(args.vendor))
        return
    if args.vendor_worldcereal:
        print(vendor_worldcereal(*args.vendor_worldcereal, year=args.year))
        return
    if args.vendor_presto:
        print(vendor_presto(*args.vendor_presto))
        return
    data, corsica, east_africa = load(), load_corsica(), load_east_africa()
    if args.calibrate:
        print(calibration_figures(data))
        print("\nCorsica, medians over each group's parcels:")
        print(corsica_figures(corsica))
        print("\npresto's training sites: water cuts (best kept first)")
        print(water_cuts().head(10).round(3).to_string(index=False))
        print("\npresto's training fuel sites: bare cuts (best kept first)")
        print(bare_cuts().head(10).round(3).to_string(index=False))
        return
    print(f"TestEOPatch: {len(data['dates'])} clear dates; held-out quadrants\n")
    print(report(data))
    print(f"\nCorsica: {len(corsica['months'])} monthly composites; every parcel held out\n")
    print(corsica_report(corsica))
    print(f"\nUganda and South Sudan: {len(east_africa['months'])} monthly composites from ")
    print(f"{east_africa['months'][0]}; every field held out\n")
    print(corsica_report(east_africa))
    print("\npresto's water sampling and live fuel sites: the sites presto held out\n")
    print(water_report())
    for name in PYCCD_PIXELS:
        print(f"\npyccd's {name} pixel (Landsat, CFmask per date), by year\n")
        print(pyccd_years(name).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
