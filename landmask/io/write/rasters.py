"""Writing rasters: lazy masks, indices and images -> Cloud-Optimized GeoTIFFs, atomically.

The COG machinery (part files, overviews, the scheduler's lock) is in
:mod:`landmask.io.write._cog`; output paths are checked by :mod:`landmask.io.outputs`.

"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from landmask._runtime.chunks import as_dask
from landmask.classes import CLOUD, NODATA, PROBABILITY_SCALE, ClassScheme, check_mask, scheme_tags
from landmask.errors import ConfigError
from landmask.io.companions import style_path
from landmask.io.outputs import GEOTIFF, check_output
from landmask.io.read.radiometry import radiometry_tags
from landmask.io.read.schemes import resolve_scheme
from landmask.io.sensors.presets import LANDSAT_OLI, LANDSAT_TM_ETM, SENTINEL2_L2A
from landmask.io.stac.items import Lineage
from landmask.io.statistic_tags import ATTR_PREFIX
from landmask.io.write._cog import TILE, CogJob, store_cogs, tile_aligned
from landmask.io.write.styling import index_qml, mask_sidecars, probability_qml, rat_xml

__all__ = [
    "TILE",
    "CogJob",
    "WriteResult",
    "band_colours",
    "store_cogs",
    "tile_aligned",
    "write_image",
    "write_indices",
    "write_mask",
]


@dataclass(frozen=True)
class WriteResult:
    """What a write produced: the path and the per-class pixel counts (masks only)."""

    path: Path
    counts: dict[int, int] = field(default_factory=dict)


def _profile(arr: xr.DataArray, dtype: str, count: int, nodata: float) -> dict[str, Any]:
    return {
        "count": count,
        "dtype": dtype,
        "nodata": nodata,
        "crs": arr.rio.crs,
        "transform": arr.rio.transform(),
    }


def write_mask(
    mask: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    scheme: ClassScheme | str | None = None,
    colormap: bool = True,
    probabilities: xr.DataArray | None = None,
    probabilities_path: str | os.PathLike[str] | None = None,
    stac: bool = True,
) -> WriteResult:
    """Write a class-id mask as a Cloud-Optimized GeoTIFF.

    The file has 512-px DEFLATE tiles, internal overviews resampled by *mode*
    (so an overview pixel is the most frequent class, never an average), a
    colour table and class names (``CLASS_<id>`` metadata, the scheme's name
    in ``CLASS_SCHEME``) from ``scheme``, automatic thresholds from the mask's
    ``THRESHOLD_*`` attributes (e.g. ``THRESHOLD_otsu(mndwi)``), nodata 255
    and the mask's exact CRS and transform. Chunks are computed and written
    one at a time (memory is a few chunks, whatever the raster size); the file
    appears only when complete, with its GIS styling beside it
    (:func:`landmask.io.write.styling.mask_sidecars`: ``.qml`` and ``.aux.xml``
    with a raster attribute table), published right after it. The attribute
    table also goes inside the file's ``GDAL_METADATA`` tag, where GDAL 3.12
    and later read it from a mask copied alone (:mod:`landmask.io.write.gdal_metadata`).

    Parameters
    ----------
    mask
        ``(y, x)`` uint8 DataArray with CRS and transform (e.g. from
        :func:`~landmask.classify`).
    path
        Output ``.tif`` path; its folder must exist.
    overwrite
        Replace an existing file.
    scheme
        Class scheme (or its name) for colours and names; None: the one the
        mask records in its attributes, else ``landcover``
        (:func:`landmask.io.read.schemes.resolve_scheme`).
    colormap
        Write the colour table (False: a plain grayscale raster of class ids).
    probabilities, probabilities_path
        Also write ``(class, y, x)`` uint8 probabilities (from
        :func:`~landmask.classification.classify.classify_with_probabilities`) to this path,
        one band per class named after it, with scale 1/254 and nodata 255;
        both files come from one pass over the scene.
    stac
        Write a STAC item beside each file (``mask.tif.stac.json``; see
        :mod:`landmask.io.stac.items`), from the mask's ``sources``, ``rules`` and
        ``model`` attributes.

    Returns
    -------
    WriteResult
        The path and the number of pixels of each class id present.
    """
    check_mask(mask, "write_mask")
    out = check_output(path, overwrite, mask.attrs.get("sources", ()), fmt=GEOTIFF)
    scheme = resolve_scheme(scheme, mask)
    data = as_dask(mask)[None]
    counts = _value_counts(data[0], [c.id for c in scheme] + [CLOUD, NODATA])
    tags = scheme_tags(scheme)
    for key in ("rules", "model"):
        if key in mask.attrs:
            tags[key.upper()] = str(mask.attrs[key])
    tags |= radiometry_tags(mask.attrs)
    for key, value in mask.attrs.items():
        if key.startswith(ATTR_PREFIX):  # scene-wide statistics (landmask.spectral.thresholds)
            tags[key] = repr(float(value))
    jobs = [
        CogJob(
            data,
            out,
            _profile(mask, "uint8", 1, NODATA),
            overwrite=overwrite,
            categorical=True,
            colormap=scheme.colormap if colormap else None,
            tags=tags,
            descriptions=[str(mask.name or "class")],
            sidecars=mask_sidecars(out, scheme),
            rat=rat_xml(scheme),
            item=Lineage.of(mask.attrs) if stac else None,
            scheme=scheme,
            kind="mask",
        )
    ]
    if probabilities is not None:
        if probabilities_path is None:
            raise ConfigError("probabilities need a probabilities_path")
        job = _probability_job(probabilities, probabilities_path, overwrite, scheme)
        job.item = Lineage.of(probabilities.attrs) if stac else None
        jobs.append(job)
    (per_chunk,) = store_cogs(jobs, also=[counts])
    hist = np.asarray(per_chunk).reshape(-1, 256).sum(axis=0)
    return WriteResult(out, {int(i): int(n) for i, n in enumerate(hist) if n})


def _value_counts(data: da.Array, likely: Sequence[int]) -> da.Array:
    """Lazy pixel counts of each value of ``(y, x)`` uint8 data, per chunk.

    ``(rows of chunks, 256 * columns of chunks)``, to fold with
    ``reshape(-1, 256).sum(axis=0)`` once computed (2 KB a chunk). Unlike
    ``da.bincount(data.ravel())``, nothing is rechunked into rows first, and
    unlike a Dask ``sum``, building it runs nothing under ``catch_warnings()``.
    """
    chunks = ((1,) * len(data.chunks[0]), (256,) * len(data.chunks[1]))
    block_counts = da.map_blocks(
        _count_block,
        data,
        likely=tuple(likely),
        chunks=chunks,
        dtype=np.int64,
        meta=np.empty((0, 0), np.int64),  # else dask runs the block to guess it
    )
    return block_counts


def _count_block(block: np.ndarray, likely: Sequence[int]) -> np.ndarray:
    """Block function: ``(1, 256)`` counts of each value; 4x faster than ``bincount``
    (which converts every pixel to intp) when the block holds only ``likely`` values."""
    counts = np.zeros(256, dtype=np.int64)
    for value in likely:
        counts[value] = np.count_nonzero(block == value)
    if counts.sum() != block.size:
        counts = np.bincount(block.ravel(), minlength=256)
    return counts[None, :]


def _probability_job(
    proba: xr.DataArray, path: str | os.PathLike[str], overwrite: bool, scheme: ClassScheme
) -> CogJob:
    out = check_output(path, overwrite, proba.attrs.get("sources", ()), fmt=GEOTIFF)
    names = [scheme.name_of(int(c)) for c in proba["class"].values]
    tags = {f"BAND_{k + 1}_CLASS_ID": str(int(c)) for k, c in enumerate(proba["class"].values)}
    tags["PROBABILITY_SCALE"] = (
        f"1/{PROBABILITY_SCALE}: probability = value / {PROBABILITY_SCALE}; {NODATA} = nodata"
    )
    tags |= radiometry_tags(proba.attrs)
    colours = {c.id: c.color for c in scheme}
    ids = [int(c) for c in proba["class"].values]
    shown = next((k for k, c in enumerate(ids) if c != 0), 0)  # a class, not "other"
    return CogJob(
        as_dask(proba),
        out,
        _profile(proba, "uint8", len(names), NODATA),
        overwrite=overwrite,
        categorical=False,
        tags=tags,
        descriptions=names,
        scales=[1 / PROBABILITY_SCALE] * len(names),
        sidecars={
            style_path(out): probability_qml(
                names[shown], colours.get(ids[shown], "#000000"), shown + 1
            )
        },
        kind="probabilities",
    )


def write_indices(
    indices: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    stac: bool = True,
) -> WriteResult:
    """Write index variables as one float32 COG band each, described by name.

    NaN is the nodata value; overviews are averaged. ``stac``: a STAC item
    beside it (:mod:`landmask.io.stac.items`).
    """
    names = [str(n) for n in indices.data_vars]
    if not names:
        raise ConfigError("no index to write")
    first = indices[names[0]]
    out = check_output(path, overwrite, first.attrs.get("sources", ()), fmt=GEOTIFF)
    data = da.stack([as_dask(indices[n]) for n in names])
    tags = {f"INDEX_{n.upper()}": str(indices[n].attrs.get("formula") or n) for n in names}
    tags |= radiometry_tags(first.attrs)
    job = CogJob(
        data,
        out,
        _profile(first, "float32", len(names), float("nan")),
        overwrite=overwrite,
        categorical=False,
        tags=tags,
        descriptions=names,
        sidecars={style_path(out): index_qml(names, high=first.attrs.get("high", "vegetation"))},
        item=Lineage.of(first.attrs) if stac else None,
        kind="indices",
    )
    store_cogs([job])
    return WriteResult(out)


def _per_band(image: xr.DataArray, many: str, one: str, neutral: float) -> list[float] | None:
    """The per-band scales (or offsets) rioxarray read from the image's file, if any differ
    from ``neutral``: ``attrs[many]`` when they differ across bands, else ``attrs[one]``."""
    count = image.shape[0]
    values = image.attrs.get(many)
    if values is None and one in image.attrs:
        values = [image.attrs[one]] * count
    if values is None or len(values) != count:
        return None
    out = [float(v) for v in values]
    return out if any(v != neutral for v in out) else None


def band_colours(names: Sequence[str]) -> list[str] | None:
    """The colour interpretation of image bands from their names, as GIS clients show them.

    A band whose name is a colour (``red``), or a sensor band id that every
    preset reads as that colour (Sentinel-2 ``B04``), is red, green or blue,
    when the image has exactly one band of each; every other band is then
    ``undefined``. None when the bands do not name one of each colour (the
    writer's default: gray, then undefined). An id that means two colours
    (Landsat ``SR_B3``: green on Landsat 8, red on Landsat 5) names none, so
    QGIS never swaps red and blue.
    """

    sensors = (SENTINEL2_L2A, LANDSAT_OLI, LANDSAT_TM_ETM)
    colours: list[str | None] = []
    for name in names:
        said = {s.name_from_description(name) for s in sensors} - {None}
        colours.append(said.pop() if len(said) == 1 else None)
    rgb = ("red", "green", "blue")
    if all(colours.count(c) == 1 for c in rgb):
        return [c if c in rgb else "undefined" for c in colours]
    return None


def write_image(
    image: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    stac: bool = True,
) -> WriteResult:
    """Write a ``(band, y, x)`` image as a tiled DEFLATE GeoTIFF, chunk by chunk, atomically.

    Keeps the dtype, CRS, transform, nodata and band descriptions. A
    Cloud-Optimized GeoTIFF: 512-px DEFLATE tiles and overviews averaged by
    GDAL's COG driver (nodata left out). ``stac``: a STAC item beside it
    (:mod:`landmask.io.stac.items`), its lineage the image's ``sources`` attribute.
    """
    if image.ndim == 2:
        image = image.expand_dims("band")
    out = check_output(path, overwrite, image.attrs.get("sources", ()), fmt=GEOTIFF)
    data = as_dask(image)
    nodata = image.rio.nodata
    profile = {
        "count": image.shape[0],
        "dtype": str(image.dtype),
        "nodata": nodata,
        "crs": image.rio.crs,
        "transform": image.rio.transform(),
    }
    names = image.attrs.get("long_name")
    descriptions = [str(n) for n in names] if isinstance(names, list | tuple) else None
    scales, offsets = (
        _per_band(image, "scales", "scale_factor", 1.0),
        _per_band(image, "offsets", "add_offset", 0.0),
    )
    tags = (
        {"LANDMASK_APPLY": str(image.attrs["landmask_apply"])}
        if "landmask_apply" in image.attrs
        else None
    )
    job = CogJob(
        data,
        out,
        profile,
        overwrite=overwrite,
        categorical=False,
        tags=tags,
        descriptions=descriptions,
        scales=scales,
        offsets=offsets,
        colorinterp=band_colours(descriptions) if descriptions else None,
        levels=[],
        gdal_overviews="AVERAGE",
        item=Lineage.of(image.attrs) if stac else None,
    )
    store_cogs([job])
    return WriteResult(out)
