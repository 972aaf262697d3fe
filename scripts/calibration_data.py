"""Regenerate the real-spectra test set under ``tests/data/calibration/``.

A script, not a test: it needs the optional ``calibration`` extra
(``pip install -e '.[calibration]'``: spyndex, earthlib, pyrsr), which
landmask itself does not use. Run it from the repository root::

    python scripts/calibration_data.py

and it rewrites three CSV files (reflectance rounded to 1e-4):

``landsat8_spyndex.csv``
    spyndex's ``spectral`` data set unchanged: 120 Landsat 8 Collection 2
    Level-2 surface-reflectance pixels labelled urban / vegetation / water,
    with SR_B2..SR_B7 under landmask's band common names.
``earthlib_spectra.csv``
    A stratified, seeded sample of earthlib's spectral library (built
    surfaces, bare soil / sand / gravel, green vegetation, non-photosynthetic
    vegetation) convolved to the bands of Sentinel-2A MSI, Landsat 8 OLI,
    Landsat 7 ETM+ (relative spectral responses shipped by pyrsr) and NAIP
    (Leica ADS100 band limits, boxcar responses: no measured NAIP response is
    available offline), one column per sensor band (``s2_red``, ``oli_nir`` ...).
``mixtures_oli.csv``
    Linear mixtures in Landsat 8 OLI bands, at fractions 0.1 ... 0.9 of the
    first member: real water pixels (spyndex) with earthlib vegetation, soil
    and built surfaces, and earthlib built surfaces with vegetation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import earthlib
import numpy as np
import pandas as pd
import pyrsr
import spectral.io.envi as envi
import spyndex

SEED = 12
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "calibration"

#: Common names of the six reflective bands landmask reads, per sensor, with
#: the pyrsr band file of each (Sentinel-2A MSI B02..B12; OLI B2..B7; ETM+ B1..B7).
SENSORS = {
    "s2": ("Sentinel-2A/MSI", ("band_2", "band_3", "band_4", "band_8", "band_11", "band_12")),
    "oli": ("Landsat-8/OLI_TIRS", ("band_2", "band_3", "band_4", "band_5", "band_6", "band_7")),
    "etm": ("Landsat-7/ETM+", ("band_1", "band_2", "band_3", "band_4", "band_5", "band_7")),
}
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: NAIP (Leica ADS100, the camera of NAIP since 2016): band limits in nm.
NAIP_BANDS = {"blue": (435, 495), "green": (525, 585), "red": (619, 651), "nir": (808, 882)}

#: Spectra kept per earthlib group (LEVEL_2), sampled evenly over its materials (LEVEL_3).
SAMPLE = {"built": 320, "bare": 260, "vegetation": 200, "npv": 104}
#: Pairs drawn per mixture kind; each pair is mixed at fractions 0.1 ... 0.9.
PAIRS = 24
FRACTIONS = np.round(np.arange(0.1, 0.91, 0.1), 1)


def _srf(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Wavelength (um) and response of one pyrsr band file (nm or um, header line first)."""
    rows = np.loadtxt(path, skiprows=1)
    wl, resp = rows[:, 0], rows[:, 1]
    if wl.max() > 100:  # Sentinel-2 files are in nm, Landsat files in um
        wl = wl / 1000.0
    return wl, np.clip(resp, 0, None)


def _convolve(wl_lib: np.ndarray, spectra: np.ndarray, wl: np.ndarray, resp: np.ndarray):
    """Band reflectance: the spectra interpolated onto the response grid, response-weighted."""
    on_grid = np.stack([np.interp(wl, wl_lib, s) for s in spectra])
    return on_grid @ resp / resp.sum()


def _earthlib() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    root = Path(earthlib.__file__).parent / "data"
    meta = pd.read_csv(root / "spectra.csv")
    lib = envi.open(str(root / "spectra.sli.hdr"), str(root / "spectra.sli"))
    wl = np.asarray(lib.bands.centers, dtype=np.float64)
    return meta, wl, np.asarray(lib.spectra, dtype=np.float64)


def _sample(meta: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Row numbers of a stratified sample: each group's quota spread evenly over its materials."""
    keep: list[int] = []
    for group, quota in SAMPLE.items():
        rows = meta.index[meta["LEVEL_2"] == group]
        materials = meta.loc[rows, "LEVEL_3"]
        per = max(1, quota // materials.nunique())
        chosen: list[int] = []
        for material in sorted(materials.unique()):
            pool = rows[materials == material].to_numpy()
            chosen += list(rng.choice(pool, size=min(per, len(pool)), replace=False))
        rest = np.setdiff1d(rows.to_numpy(), chosen)
        extra = min(len(rest), quota - len(chosen))
        if extra > 0:
            chosen += list(rng.choice(rest, size=extra, replace=False))
        keep += sorted(chosen)
    return np.array(keep)


def earthlib_table(rng: np.random.Generator) -> pd.DataFrame:
    """The sampled earthlib spectra in every sensor's bands."""
    meta, wl_lib, spectra = _earthlib()
    rows = _sample(meta, rng)
    table = pd.DataFrame(
        {
            "name": meta.loc[rows, "NAME"].to_numpy(),
            "group": meta.loc[rows, "LEVEL_2"].to_numpy(),
            "material": meta.loc[rows, "LEVEL_3"].to_numpy(),
            "source": meta.loc[rows, "SOURCE"].to_numpy(),
        }
    )
    data = Path(pyrsr.__file__).parent / "data"
    for prefix, (folder, files) in SENSORS.items():
        for band, fname in zip(BANDS, files, strict=True):
            wl, resp = _srf(data / folder / fname)
            table[f"{prefix}_{band}"] = _convolve(wl_lib, spectra[rows], wl, resp)
    for band, (lo, hi) in NAIP_BANDS.items():
        wl = np.arange(lo, hi + 1, 1.0) / 1000.0
        table[f"naip_{band}"] = _convolve(wl_lib, spectra[rows], wl, np.ones_like(wl))
    # a few NPV spectra are 0 over whole bands (measured as no signal): no index exists there
    values = table.filter(regex="_(blue|green|red|nir|swir16|swir22)$")
    return table[(values > 0).all(axis=1)].reset_index(drop=True)


def landsat8_table() -> pd.DataFrame:
    """spyndex's labelled Landsat 8 C2 L2 pixels under landmask's common names."""
    raw = spyndex.datasets.open("spectral")
    table = pd.DataFrame({"class": raw["class"].str.lower()})
    for band, sr in zip(BANDS, ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"), strict=True):
        table[band] = raw[sr].to_numpy()
    return table


def mixtures_table(l8: pd.DataFrame, lib: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Linear mixtures in OLI bands: ``fraction`` of member ``a`` plus the rest of ``b``."""
    oli = [f"oli_{b}" for b in BANDS]
    water = l8[l8["class"] == "water"][list(BANDS)].to_numpy()
    members = {
        "vegetation": lib[lib["group"] == "vegetation"][oli].to_numpy(),
        "soil": lib[lib["group"] == "bare"][oli].to_numpy(),
        "built": lib[lib["group"] == "built"][oli].to_numpy(),
    }
    kinds = [
        ("water", water, "vegetation"),
        ("water", water, "soil"),
        ("water", water, "built"),
        ("built", members["built"], "vegetation"),
    ]
    parts = []
    for a_name, a_pool, b_name in kinds:
        b_pool = members[b_name]
        ia = rng.integers(0, len(a_pool), size=PAIRS)
        ib = rng.integers(0, len(b_pool), size=PAIRS)
        for f in FRACTIONS:
            mixed = f * a_pool[ia] + (1 - f) * b_pool[ib]
            part = pd.DataFrame(mixed, columns=list(BANDS))
            part.insert(0, "fraction", f)
            part.insert(0, "b", b_name)
            part.insert(0, "a", a_name)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    l8 = landsat8_table()
    lib = earthlib_table(rng)
    mix = mixtures_table(l8, lib, rng)
    for name, table in (
        ("landsat8_spyndex.csv", l8),
        ("earthlib_spectra.csv", lib),
        ("mixtures_oli.csv", mix),
    ):
        path = args.out / name
        table.to_csv(path, index=False, float_format="%.4f", lineterminator="\n")
        print(f"{path}: {len(table)} rows, {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
