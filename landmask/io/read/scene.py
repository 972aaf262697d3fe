"""Reading scenes: files on disk -> a lazy ``(band, y, x)`` reflectance DataArray.

:func:`open_scene` opens each input once to read its metadata, names the bands
with STAC common names, and builds a Dask array whose every chunk is one task
that opens the files, reads one window of every band and converts it to float32
reflectance. Open datasets never enter the task graph (only paths do), so the
graph runs on threads, processes or a ``dask.distributed`` cluster alike.

Behind it: :mod:`landmask.io.read._grid` (file metadata, the grid the inputs share),
:mod:`landmask.io.read._bands` (band names and each band's scale/offset/nodata) and
:mod:`landmask.io.read.reflectance` (the block functions that read a window).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import tokenize

from landmask._runtime.chunks import SCENE_CHUNK_SIZE, aligned_chunks, spatial_chunks
from landmask._runtime.paths import worker_path
from landmask.bands import RAW_BANDS, Needs
from landmask.errors import ConfigError, PresetAssumedWarning
from landmask.io.read._bands import (
    BandSource,
    PerBand,
    band_sources,
    check_per_band,
    keep_needed,
    name_bands,
    on_grid,
    stac_sources,
)
from landmask.io.read._grid import READ_ENV, Grid, check_grid, open_info
from landmask.io.read.radiometry import decide_radiometry, reflectance_sources
from landmask.io.read.reflectance import ReflectanceReader, read_reflectance, to_reflectance
from landmask.io.sensors.presets import (
    Sensor,
    get_sensor,
    preset_for_product,
    sensor_for,
)
from landmask.io.sensors.provider import Product, product_of_files, product_of_item
from landmask.io.stac.read import is_stac_input, item_bands, load_item

__all__ = [
    "READ_ENV",
    "BandSource",
    "SceneHeader",
    "SceneOptions",
    "aligned_chunks",
    "open_scene",
    "pixel_coords",
    "radiometry_attrs",
    "read_header",
    "read_reflectance",
    "to_reflectance",
]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SceneOptions:
    """How to read a scene: :func:`landmask.open_scene`'s options, gathered into one value."""

    sensor: str | None = None
    bands: dict[str, int] | None = None
    #: one number for every band, or band name -> number (``"*"``: every other band)
    scale: float | Mapping[str, float] | None = None
    offset: float | Mapping[str, float] | None = None
    allow_ungeoreferenced: bool = False
    resolution: float | None = None

    def open(self, inputs: Any, chunk_size: int | None, needs: Needs | None) -> Any:
        """:func:`open_scene` with these options."""
        return open_scene(
            inputs if not isinstance(inputs, tuple) else list(inputs),
            sensor=self.sensor,
            bands=self.bands,
            scale=self.scale,
            offset=self.offset,
            chunk_size=chunk_size,
            allow_ungeoreferenced=self.allow_ungeoreferenced,
            needs=needs,
            resolution=self.resolution,
        )


def open_scene(
    paths: PathLike | Sequence[PathLike] | Any,
    *,
    sensor: str | Sensor | None = None,
    bands: Mapping[str, int] | None = None,
    scale: PerBand | None = None,
    offset: PerBand | None = None,
    chunk_size: int | None = None,
    allow_ungeoreferenced: bool = False,
    needs: Needs | None = None,
    resolution: float | None = None,
) -> xr.DataArray:
    """Open one or more rasters on one grid as a lazy reflectance DataArray.

    Parameters
    ----------
    paths
        One multi-band file or several files on the same grid; any path GDAL
        reads (GeoTIFF/COG, VRT, JP2, ``/vsicurl/`` URLs). Bands are numbered
        from 1 across the files in the order given. Files of a coarser
        resolution over the same extent (Sentinel-2 20 m bands) are resampled
        onto the finest grid. Or a STAC item: a :class:`pystac.Item` or the path
        of its JSON file, whose assets are picked by ``eo:bands`` (or STAC 1.1
        ``bands``) common names with ``raster:bands`` scale/offset/nodata
        (see :mod:`landmask.io.stac.read`).
    sensor
        A preset (``sentinel2-l2a``, ``landsat-c2-l2``, ``naip``,
        ``sentinel2-l1c``, ``landsat-c2-l1``) naming bands from file-name
        suffixes or band descriptions and giving scale/offset. Files of a
        Level-1 product (``LC08_L1TP_...`` with its MTL, ``S2A_MSIL1C_...``) are
        converted to top-of-atmosphere reflectance with their own metadata,
        also with no ``sensor``.
        Its band table (Landsat TM/ETM+ or OLI) and offset (Sentinel-2
        processing baseline) follow the product the files belong to, read from
        their names, the MTL/MTD metadata beside them or the STAC item
        (:mod:`landmask.io.sensors.provider`, :func:`landmask.io.sensors.presets.sensor_for`).
    bands
        Explicit ``{common_name: band_number}``; overrides the sensor's names.
        A number whose file the provider's name gives as another band
        (``--band red=4`` on ``LE07_..._SR_B4.TIF``) is refused.
        Without a sensor only these bands are used.
    scale, offset
        reflectance = DN * scale + offset; override the sensor's, the STAC
        item's and the file's. One number for every band, or a mapping of band
        name to number for those bands alone (``{"nir": 1e-4}``; the key
        ``"*"`` for every band the mapping does not name). A name that is no
        band of the scene, or a NaN, raises :class:`ConfigError`.
    chunk_size
        Chunk side in pixels, rounded to whole internal blocks of the file.
    allow_ungeoreferenced
        Accept rasters without CRS and transform (pixel coordinates).
    needs
        Band names the caller will use, or names (a rule set's indices and
        bands) -> the bands each reads (:func:`landmask.spectral.indices.band_reads`):
        only the bands they read are kept, so the others are never decoded.
        Raises :class:`BandError` naming the inputs if one is missing. Quality
        layers (``scl``, ``qa_pixel``) named in ``needs`` are kept when the
        inputs have them and are not required.
    resolution
        Pixel size of the scene grid in CRS units (e.g. ``20`` for Sentinel-2
        at 20 m); default: the finest input's. Bands on another grid are
        resampled chunk by chunk: bilinear for reflectance, nearest for the
        quality layers.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32, Dask-backed, ``band`` coordinate of common
        names, nodata as NaN, CRS and transform set the rioxarray way. Nothing is
        read until computed; each chunk costs ``bands * chunk**2 * 4`` bytes.
        Quality layers, when present, are bands ``scl``/``qa_pixel`` of raw
        values. ``attrs`` record what was applied (:func:`radiometry_attrs`)
        and what the values are: ``radiometry`` (``surface_reflectance``,
        ``toa_reflectance`` or ``dn``) and ``radiometry_basis`` (why, in words;
        :mod:`landmask.io.read.radiometry`).

    Raises
    ------
    ReadError, GridError, BandError, ConfigError
    SensorError
        Files of another sensor than ``sensor``, of two products, a Landsat
        Level-1 product without the MTL values that convert it (with
        ``sensor``), or a ``bands`` number the provider's names contradict.

    Warns
    -----
    UncalibratedWarning
        Once, if digital numbers are read with no scale or offset from the
        options, the preset, the STAC item or the file: integer bands, or
        floating-point bands whose sampled values are far above reflectance
        (:func:`landmask.io.read.radiometry.decide_radiometry`).
    PresetAssumedWarning
        If the preset had to assume the Landsat band table or the Sentinel-2
        baseline for lack of names or metadata.
    """
    header = read_header(
        paths,
        sensor=sensor,
        bands=bands,
        scale=scale,
        offset=offset,
        allow_ungeoreferenced=allow_ungeoreferenced,
        needs=needs,
        resolution=resolution,
    )
    return header.array(chunk_size)


def read_header(
    paths: PathLike | Sequence[PathLike] | Any,
    *,
    sensor: str | Sensor | None = None,
    bands: Mapping[str, int] | None = None,
    scale: PerBand | None = None,
    offset: PerBand | None = None,
    allow_ungeoreferenced: bool = False,
    needs: Needs | None = None,
    resolution: float | None = None,
) -> SceneHeader:
    """What :func:`open_scene` reads of a scene before any pixel, as a :class:`SceneHeader`.

    The same parameters (but ``chunk_size``), checks, errors and warnings as
    :func:`open_scene`; opens each file once for its metadata (and, for
    floating-point bands without a scale, a sample of values:
    :func:`landmask.io.read.radiometry.decide_radiometry`).

    Returns
    -------
    SceneHeader
        The bands' sources, the grid, the attributes and the files' modification
        times: plain, picklable values; :meth:`SceneHeader.array` is the lazy
        array :func:`open_scene` returns. Memory: the header (and that sample).
    """
    preset = get_sensor(sensor) if isinstance(sensor, str) else sensor
    lineage: dict[str, list[str]] = {}
    if is_stac_input(paths):
        if bands:
            raise ConfigError(
                "--band does not apply to a STAC item: its assets are named by their "
                "eo:bands common names"
            )
        item = load_item(paths)
        self_href = item.get_self_href()
        lineage = {"stac_ids": [item.id], "derived_from": [self_href] if self_href else []}
        path_list = list(dict.fromkeys(b.href for b in item_bands(item)))
        info_of = {worker_path(p): open_info(p) for p in path_list}
        grid = check_grid(list(info_of.values()), allow_ungeoreferenced, resolution)
        product = product_of_item(item)
        if preset is None and product is not None and product.level1:
            preset = preset_for_product(product)  # its metadata is its one calibration
        if preset is not None:  # the item's eo:bands name the bands: no band table assumed
            preset = replace(sensor_for(preset, product), assumed="")
        sources = stac_sources(item, info_of, preset, scale, offset, needs)
    else:
        path_list = (
            [os.fspath(paths)]
            if isinstance(paths, str | os.PathLike)
            else [os.fspath(p) for p in paths]
        )
        if not path_list:
            raise ConfigError("no input raster given")
        infos = [open_info(p) for p in path_list]
        grid = check_grid(infos, allow_ungeoreferenced, resolution)
        product = product_of_files(path_list)
        if preset is None and product is not None and product.level1:
            # a Level-1 product's metadata is its one calibration: read it with its preset
            preset = preset_for_product(product)
        if preset is not None:
            preset = sensor_for(preset, product)
            if preset.variant == "oli" and not any(
                info.count == 1 and preset.band_id_from_filename(Path(info.path).stem)
                for info in infos
            ):
                preset = replace(preset, assumed="")  # no band named by an SR_B<n> suffix
        provider = preset or (preset_for_product(product) if product is not None else None)
        names = name_bands(infos, preset, bands, provider)
        reflectance_names = [n for n in names.values() if n not in RAW_BANDS]
        check_per_band("--scale", scale, reflectance_names)
        check_per_band("--offset", offset, reflectance_names)
        if needs is not None:
            names = keep_needed(names, needs, path_list)
        sources = band_sources(infos, names, preset, scale, offset)
        info_of = {worker_path(info.path): info for info in infos}  # as BandSource
    sources = on_grid(sources, info_of, grid)
    _warn_assumed(preset, offset)
    radiometry = decide_radiometry(sources, info_of, preset, product)
    attrs = {
        "sensor": preset.name if preset else "generic",
        "sources": list(dict.fromkeys(s.path for s in sources)),
        "long_name": _LONG_NAMES[radiometry.kind],
        **radiometry_attrs(sources, preset, product, bands),
        **radiometry.attrs(),
        **lineage,  # the input item, for the outputs' STAC items
    }
    mtimes = tuple(os.path.getmtime(p) if os.path.exists(p) else None for p in path_list)
    return SceneHeader(tuple(sources), grid, attrs, mtimes)


@dataclass(frozen=True, eq=False)
class SceneHeader:
    """What :func:`read_header` reads of a scene: plain values, no open file.

    Picklable (paths absolute, :class:`BandSource` values), so a header read
    once, when a run is planned, serves every task that reads the scene's
    pixels, on any worker. :meth:`array` is :func:`open_scene`'s lazy array.
    """

    #: where each band comes from, in band order (quality layers included)
    sources: tuple[BandSource, ...]
    #: the scene's grid (CRS, transform, size, the files' block shape)
    grid: Grid
    #: the attributes of :func:`open_scene`'s DataArray (radiometry, lineage)
    attrs: dict[str, Any]
    #: the files' modification times, in the graph keys (a changed file is a new graph)
    mtimes: tuple[float | None, ...]

    @property
    def bands(self) -> list[str]:
        """The bands' common names, in order."""
        return [s.name for s in self.sources]

    def array(self, chunk_size: int | None = None) -> xr.DataArray:
        """The scene as :func:`open_scene` returns it, in ``chunk_size`` px chunks (no read)."""
        grid = self.grid
        size = chunk_size if chunk_size is not None else SCENE_CHUNK_SIZE
        chunks = ((len(self.sources),), *spatial_chunks(grid.shape, size, grid.block))
        token = tokenize(self.sources, list(self.mtimes), chunks)
        data = da.from_array(
            ReflectanceReader(self.sources, grid.height, grid.width),
            chunks=chunks,
            name=f"open_scene-{token}",
            lock=False,
            asarray=False,
            fancy=False,
            meta=np.empty((0, 0, 0), dtype=np.float32),
        )
        arr = xr.DataArray(
            data,
            dims=("band", "y", "x"),
            coords={
                "band": self.bands,
                **pixel_coords(grid.transform, grid.height, grid.width),
            },
            name="reflectance",
            attrs=dict(self.attrs),
        )
        if grid.crs is not None:
            arr = arr.rio.write_crs(grid.crs)
        arr = arr.rio.write_transform(grid.transform)
        return arr.rio.write_nodata(np.nan, encoded=False)


def _warn_assumed(sensor: Sensor | None, offset: PerBand | None) -> None:
    """One warning for what the preset assumed for lack of names or metadata."""
    overridden = sensor is not None and sensor.variant == "msi" and offset is not None
    if sensor is not None and sensor.assumed and not overridden:
        warnings.warn(f"{sensor.name}: {sensor.assumed}", PresetAssumedWarning, stacklevel=3)


def pixel_coords(transform: Affine, height: int, width: int) -> dict[str, np.ndarray]:
    """Pixel-centre ``y`` and ``x`` coordinates of a north-up grid."""
    x = transform.c + transform.a * (np.arange(width) + 0.5)
    y = transform.f + transform.e * (np.arange(height) + 0.5)
    return {"y": y, "x": x}


_LONG_NAMES = {
    "surface_reflectance": "surface reflectance",
    "toa_reflectance": "top-of-atmosphere reflectance",
    "dn": "digital numbers",
}


def radiometry_attrs(
    sources: Sequence[BandSource],
    sensor: Sensor | None,
    product: Product | None,
    bands: Mapping[str, int] | None,
) -> dict[str, Any]:
    """What :func:`open_scene` applied, as the scene's attrs (what a trained model records).

    ``scale``/``offset`` (reflectance = DN * scale + offset) and ``scaling``
    (where they came from: ``options``, ``stac``, ``sensor``, ``file``,
    ``none``) are those of the reflectance bands when all share them, else
    ``scaling`` is ``mixed`` and ``band_scaling`` lists each band's
    ``[scale, offset]``. Surface temperature read by a preset (Landsat
    ``lwir``, in kelvin) and quality layers are left out; ``band_scaling`` is
    also given when any band differs. ``option_scaling`` lists the
    ``[scale, offset]`` of the bands whose values came from per-band options
    (``--scale nir=0.0001``) when not every band's did, so a model trained on
    the scene can give them again (:mod:`landmask.models.recorded`). Also ``sensor_variant``
    (``oli``, ``tm-etm``, ``msi``, ``naip``), ``instrument`` (e.g.
    ``Landsat 7 ETM+``), ``sensor_basis`` (the file name, metadata file or STAC
    item that decided), ``band_options`` (the explicit ``--band`` mapping) and
    ``source_nodata`` (each band's nodata value, or None).
    """
    reflectance = reflectance_sources(sources)
    attrs: dict[str, Any] = {}
    pairs = {(s.scale, s.offset) for s in reflectance}
    hows = {s.scaling for s in reflectance}
    if len(pairs) == 1:
        (scale, offset), how = next(iter(pairs)), "/".join(sorted(hows))
        attrs.update(scale=float(scale), offset=float(offset), scaling=how)
    elif reflectance:
        attrs["scaling"] = "mixed"
    if attrs.get("scaling") != "options":  # some bands' values came from --scale NAME=F
        given = {
            s.name: [float(s.scale), float(s.offset)] for s in reflectance if s.scaling == "options"
        }
        if given:
            attrs["option_scaling"] = given
    scaled = [s for s in sources if s.scaling != "raw"]
    if len({(s.scale, s.offset) for s in scaled}) > 1:
        attrs["band_scaling"] = {s.name: [float(s.scale), float(s.offset)] for s in scaled}
    if sensor is not None:
        attrs["sensor_variant"] = sensor.variant
        attrs["instrument"] = product.label if product is not None else sensor.description
        if sensor.basis:
            attrs["sensor_basis"] = sensor.basis
    elif product is not None:
        attrs["instrument"] = product.label
    if bands:
        attrs["band_options"] = dict(bands)
    attrs["source_nodata"] = {s.name: s.nodata for s in sources}
    return attrs
