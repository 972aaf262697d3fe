"""What users write today for a composite: rioxarray + xarray concat + median, then to_raster.

python benchmarks/baseline_composite.py OUT.tif ITEM.json...
"""

from __future__ import annotations

import json
import sys

import rioxarray
import xarray as xr

BANDS = ("blue", "green", "red", "nir")
CHUNKS = {"x": 1024, "y": 1024}


def open_band(href: str) -> xr.DataArray:
    arr = rioxarray.open_rasterio(href, chunks=CHUNKS)
    assert isinstance(arr, xr.DataArray)
    return arr.squeeze("band", drop=True)


def main() -> None:
    out, items = sys.argv[1], sys.argv[2:]
    dates = []
    for path in items:
        with open(path) as f:
            assets = json.load(f)["assets"]
        scl = open_band(assets["SCL"]["href"])
        stack = xr.concat([open_band(assets[b]["href"]) for b in BANDS], dim="band")
        clear = (stack != 0) & ~scl.isin([1, 3, 8, 9, 10])
        dates.append((stack.astype("float32") * 1e-4).where(clear))
    median = xr.concat(dates, dim="time").median("time", skipna=True)
    median.rio.to_raster(out, tiled=True, compress="deflate")


if __name__ == "__main__":
    main()
