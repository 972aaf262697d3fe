"""What users write today for a region's season: odc-stac (or stackstac) + xarray median + rules.

    python benchmarks/baseline_region.py {odc-stac|stackstac|rioxarray} OUT.tif \
        L,B,R,T ITEM.json...

Loads every date onto the grid (EPSG:32633, 10 m, the bounds given) in
1024-px dask chunks, blanks nodata and SCL clouds with ``where``, takes
``median("time", skipna=True)`` of the four bands, applies the rules of
bench_region.py (``forest: ndvi > 0.4``, ``urban: ndvi < 0.1``, else other;
255 where the NDVI is missing) with ``xr.where`` and writes the mask with
``rio.to_raster``. Run in a virtualenv of its own (odc-stac and stackstac pin
other pandas versions than landmask's).
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pystac
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

BANDS = ["blue", "green", "red", "nir"]
CLOUD = [1, 3, 8, 9, 10]
CHUNK = 1024


def load_odc(items: list[pystac.Item], bounds: tuple[float, ...]) -> xr.Dataset:
    import odc.stac
    from odc.geo.geobox import GeoBox

    box = GeoBox.from_bbox(bounds, crs="EPSG:32633", resolution=10)
    return odc.stac.load(
        items,
        bands=[*BANDS, "SCL"],
        geobox=box,
        chunks={"x": CHUNK, "y": CHUNK},
        groupby="time",
        resampling={"SCL": "nearest", "*": "bilinear"},
    )


def load_stackstac(items: list[pystac.Item], bounds: tuple[float, ...]) -> xr.Dataset:
    import stackstac

    arr = stackstac.stack(
        items,
        assets=[*BANDS, "SCL"],
        epsg=32633,
        resolution=10,
        bounds=bounds,
        chunksize=CHUNK,
        dtype="float64",
        fill_value=np.nan,
        rescale=False,
        resampling=Resampling.bilinear,
    )
    return arr.to_dataset("band")


def load_rioxarray(items: list[pystac.Item], bounds: tuple[float, ...]) -> xr.Dataset:
    """Same grid as the inputs (no warp): each date's bands opened and stacked by time."""
    dates = []
    for item in items:
        bands = {
            k: rioxarray.open_rasterio(item.assets[k].href, chunks={"x": CHUNK, "y": CHUNK})
            .squeeze("band", drop=True)
            .rio.clip_box(*bounds)
            for k in [*BANDS, "SCL"]
        }
        dates.append(xr.Dataset(bands))
    return xr.concat(dates, dim="time")


def main() -> None:
    kind, out, bounds_text, *paths = sys.argv[1:]
    bounds = tuple(float(v) for v in bounds_text.split(","))
    items = [pystac.Item.from_file(p) for p in paths]
    loader = {"odc-stac": load_odc, "stackstac": load_stackstac, "rioxarray": load_rioxarray}
    ds = loader[kind](items, bounds)
    clear = ~ds["SCL"].isin(CLOUD) & ds["SCL"].notnull()
    refl = xr.Dataset(
        {b: (ds[b].astype("float32") * np.float32(1e-4)).where(clear & (ds[b] != 0)) for b in BANDS}
    )
    # a date counts only where every band is clear (as landmask's composite)
    every = refl.to_array("band").notnull().all("band")
    median = refl.where(every).median("time", skipna=True)
    ndvi = (median["nir"] - median["red"]) / (median["nir"] + median["red"])
    mask = xr.where(ndvi > 0.4, 1, xr.where(ndvi < 0.1, 2, 0))
    mask = xr.where(ndvi.notnull(), mask, 255).astype("uint8")
    mask.rio.write_crs("EPSG:32633", inplace=True)
    mask.rio.write_nodata(255, inplace=True)
    mask.rio.to_raster(out, tiled=True, compress="deflate", lock=threading.Lock())


if __name__ == "__main__":
    main()
