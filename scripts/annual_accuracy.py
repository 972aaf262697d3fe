"""The ``annual`` rules on a real time series, next to single-date rules on the same pixels.

Reads eo-learn's TestEOPatch subset under ``tests/data/eolearn_testeopatch/``
(68 Sentinel-2 L1C NDVI dates 2015-2017 over 1 km², its cloud mask and a
per-pixel land-use map; see that folder's README) and classifies it with
landmask's own engine:

- annual: the clear dates reduced per pixel by
  :func:`landmask.temporal.statistics.reduce_block` (the block function of
  ``landmask composite``; cloudy pixels blanked), the composite classified by
  :func:`landmask.classify` with the built-in ``annual`` rules;
- single date: each clear date classified alone with the built-in ``default``
  rules' NDVI rule (``ndvi > 0.7`` -> forest; its water and urban rules read
  SWIR and blue bands this data set does not have), the per-class shares
  summarised by their median over the dates.

Calibration uses the top-left and bottom-right quadrants, the tables the two
held-out quadrants. Run from the repository root::

    python scripts/annual_accuracy.py              # the README's tables
    python scripts/annual_accuracy.py --calibrate  # the figures in annual.yaml

The subset was written from a checkout of eo-learn by ``--vendor DIR``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
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
#: eo-learn's land-use ids (the LULC enum of its land-cover example) present in the patch.
LULC = {1: "cultivated", 2: "forest", 3: "grassland", 4: "shrubland", 8: "artificial"}
_LULC_ID = {name: lulc_id for lulc_id, name in LULC.items()}
#: A date is clear when its cloud mask flags at most this share of the patch.
MAX_CLOUD = 0.05
FEATURES = (Output("ndvi", "p10", False), Output("ndvi", "p90", False))
LABELS = ("forest", "urban", "water", "other")


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


def _scene(planes: np.ndarray, bands: list[str]) -> xr.DataArray:
    height, width = planes.shape[-2:]
    return xr.DataArray(
        planes.astype(np.float32),
        dims=("band", "y", "x"),
        coords={"band": bands, "y": 10.0 * np.arange(height)[::-1], "x": 10.0 * np.arange(width)},
    )


def ndvi_scene(ndvi: np.ndarray) -> xr.DataArray:
    """A one-date ``(red, nir)`` scene whose NDVI is ``ndvi`` (the data hold NDVI, not bands).

    ``nir = (1 + v) / 4`` and ``red = (1 - v) / 4``: their sum is 1/2 and their
    difference ``v / 2``, so the engine's ``ndvi`` reads ``v`` back (to float32
    rounding). Only rules that read NDVI alone mean anything on it.
    """
    return _scene(np.stack([(1 - ndvi) / 4, (1 + ndvi) / 4]), ["red", "nir"])


def composite(ndvi: np.ndarray) -> xr.DataArray:
    """The dates' composite (``ndvi_p10``, ``ndvi_p90``, ``clear_count``): what ``annual`` reads."""
    planes = reduce_block(ndvi[:, None], ["ndvi"], FEATURES)
    return _scene(planes, [o.name for o in FEATURES] + ["clear_count"])


def _ndvi_part(expr: Expr) -> Expr | None:
    """The comparisons of ``expr`` (an ``and`` of them) that read NDVI alone, or None."""
    if expr.names <= {"ndvi"}:
        return expr
    if expr.kind != "and":
        return None
    kept = [e for e in (_ndvi_part(a) for a in expr.args) if e is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else replace(expr, args=tuple(kept))


def ndvi_part(ruleset: RuleSet) -> RuleSet:
    """``ruleset`` relaxed to its NDVI comparisons; a rule with none is dropped.

    Each kept rule is implied by the full one, so on the same pixels it calls
    at least as many pixels its class as the full rule could (first match wins:
    an upper bound for the first rule kept, an estimate for the next).
    """
    rules = []
    for rule in ruleset.rules:
        expr = _ndvi_part(rule.expr)
        if expr is not None:
            rules.append(replace(rule, expr=expr, text=str(expr)))
    return replace(ruleset, rules=tuple(rules))


def shares(
    mask: np.ndarray, lulc: np.ndarray, where: np.ndarray, names: dict[int, str]
) -> pd.DataFrame:
    """For each land-use class, the share of its pixels given each label (nodata left out)."""
    rows = {}
    for lulc_id, lulc_name in LULC.items():
        got = mask[where & (lulc == lulc_id) & (mask != 255)]
        if got.size:
            rows[lulc_name] = {label: float(np.mean(got == i)) for i, label in names.items()}
    return pd.DataFrame(rows).T.reindex(columns=list(LABELS)).fillna(0.0)


def annual_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """The ``annual`` rules' ``(y, x)`` class ids on the composite of the clear dates."""
    return np.asarray(landmask.classify(composite(data["ndvi"]), "annual").values)


def annual_table(data: dict[str, np.ndarray], mask: np.ndarray | None = None) -> pd.DataFrame:
    """Shares of each class on the held-out quadrants, ``annual`` rules on the composite."""
    rules = load_rules("annual")
    mask = annual_mask(data) if mask is None else mask
    where = held_out(data["lulc"].shape)
    return shares(mask, data["lulc"], where, _names(rules))


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
        tables.append(shares(mask, data["lulc"], where, _names(rules)))
    return pd.concat(tables).groupby(level=0, sort=False).median()


def _names(rules: RuleSet) -> dict[int, str]:
    return {rules.scheme.id_of(label): label for label in LABELS}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calibrate", action="store_true", help="print the calibration figures")
    parser.add_argument("--vendor", type=Path, help="write the subset from a TestEOPatch folder")
    args = parser.parse_args()
    if args.vendor:
        print(vendor(args.vendor))
        return
    data = load()
    if args.calibrate:
        print(calibration_figures(data))
        return
    print(f"{len(data['dates'])} clear dates; held-out quadrants; share of each class called\n")
    print(report(data))


def report(data: dict[str, np.ndarray]) -> str:
    """One markdown table: per land-use class, the shares each method calls forest/urban/other."""
    tables = {
        "annual": annual_table(data),
        "single date, default": single_date_table(data),
        "single date, best cut": best_cut_table(data),
    }
    heads = [f"{method}: {label}" for method in tables for label in ("forest", "urban", "other")]
    lines = ["| land use (pixels) | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for row in tables["annual"].index:
        cells = [
            f"{t.loc[row, label]:.2f}"
            for t in tables.values()
            for label in ("forest", "urban", "other")
        ]
        n = int(np.sum(held_out(data["lulc"].shape) & (data["lulc"] == _LULC_ID[row])))
        lines.append(f"| {row} ({n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
