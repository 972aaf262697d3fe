"""Writing polygons to GIS formats, chosen by file extension, atomically.

``.gpkg`` (a layer named after the file, with a spatial index), ``.parquet``
(GeoParquet), ``.fgb`` (FlatGeobuf, with a spatial index) and ``.geojson``
(reprojected to EPSG:4326, as RFC 7946 requires).
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd

from landmask.classes import LANDCOVER, ClassScheme
from landmask.errors import ConfigError
from landmask.styling import gpkg_add_style, style_vector_file
from landmask.write import atomic_path, check_output

__all__ = ["VECTOR_FORMATS", "check_vector_output", "write_vector"]

#: extension -> OGR driver (None: GeoParquet through geopandas/pyarrow)
VECTOR_FORMATS: dict[str, str | None] = {
    ".gpkg": "GPKG",
    ".parquet": None,
    ".fgb": "FlatGeobuf",
    ".geojson": "GeoJSON",
}


def check_vector_output(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Validate a vector output path (folder, extension, existing file) before any work."""
    out = check_output(path, overwrite)
    if out.suffix.lower() not in VECTOR_FORMATS:
        known = ", ".join(VECTOR_FORMATS)
        raise ConfigError(f"{out}: unknown vector format {out.suffix!r} (use {known})")
    return out


def write_vector(
    frame: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    scheme: ClassScheme | None = None,
) -> Path:
    """Write ``frame`` in the format of ``path``'s extension; it appears only when complete.

    Polygons with a ``class_name`` column are styled by class
    (:mod:`landmask.styling`) after ``scheme`` (default ``landcover``): a
    GeoPackage gets the style in its ``layer_styles`` table before it lands,
    and every format a ``.qml`` beside it once it has.
    """
    out = check_vector_output(path, overwrite)
    styled = "class_name" in frame.columns
    scheme = scheme or LANDCOVER
    ext = out.suffix.lower()
    driver = VECTOR_FORMATS[ext]
    with atomic_path(out) as tmp:
        if driver is None:
            frame.to_parquet(tmp, index=False)
        elif driver == "GeoJSON":
            frame.to_crs("EPSG:4326").to_file(
                tmp, driver=driver, engine="pyogrio", layer_options={"RFC7946": "YES"}
            )
        else:
            frame.to_file(tmp, driver=driver, engine="pyogrio", layer=out.stem, index=False)
            if styled and driver == "GPKG":
                gpkg_add_style(tmp, out.stem, scheme)
    if styled:
        style_vector_file(out, scheme)
    return out
