"""Plots with matplotlib: each takes an optional ``ax`` and returns matplotlib axes.

Lazy inputs are never computed whole. A DataArray read straight from a raster
file (:func:`landmask.io.read.masks.open_mask`, one band of
:func:`~landmask.io.read.masks.open_image`, or a window of either: see
:func:`landmask.io.read.masks.file_window`) is read from the file's internal
overviews by GDAL (:mod:`landmask.viz._decimate`); any other lazy array is decimated
by a strided selection (every n-th pixel, at most ``max_size`` a side), which
Dask fuses into the tasks that make each chunk, so only the kept pixels leave
those tasks. DataArrays are drawn in map coordinates (CRS units), so polygons
in the same CRS overlay exactly; plain numpy arrays in pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from landmask.bands import resolve_band
from landmask.classes import NODATA, PROBABILITY_SCALE, ClassScheme
from landmask.errors import BandError, ConfigError
from landmask.io.read.schemes import resolve_scheme
from landmask.spectral.indices import compute_indices, index_ramp
from landmask.viz._decimate import MAX_SIZE, decimate, decimated_values, map_extent

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr

    from landmask.evaluation.evaluate import Evaluation

# Imports: landmask's at the top; matplotlib is imported by the functions that draw (a heavy
# import only figures need).

__all__ = [
    "MAX_SIZE",
    "class_lut",
    "composite",
    "confusion_matrix",
    "decimate",
    "index_map",
    "mask_image",
    "polygons",
    "probability_map",
    "stretch",
]


def _axes(ax: Any, **subplots: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(**subplots)
    return ax


def _label_axes(ax: Any, crs: Any) -> None:
    """Name the axes after the CRS; projected coordinates are shown in km."""
    if crs is None:
        return
    if crs.is_projected:
        from matplotlib.ticker import FuncFormatter

        unit = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
        km = FuncFormatter(lambda value, _: f"{value * unit / 1000:g}")
        ax.xaxis.set_major_formatter(km)
        ax.yaxis.set_major_formatter(km)
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
    else:
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")


def class_lut(scheme: ClassScheme) -> np.ndarray:
    """A ``(256, 4)`` RGBA table in [0, 1]: class id -> colour, nodata transparent."""
    lut = np.zeros((256, 4), dtype=float)
    for c in scheme:
        lut[c.id] = np.array(c.rgba) / 255
    return lut


def _legend(ax: Any, handles: list[Any]) -> None:
    """A legend inside ``ax`` (never over a neighbouring subplot), half-transparent."""
    ax.legend(handles=handles, loc="best", frameon=True, framealpha=0.8, fontsize="small")


def mask_image(
    data: Any,
    scheme: ClassScheme | str | None = None,
    ax: Any = None,
    *,
    max_size: int = MAX_SIZE,
    legend: bool = True,
) -> Any:
    """Draw a class-id mask in the scheme's colours with a legend of the classes present.

    Parameters
    ----------
    data
        ``(y, x)`` uint8 class ids: a numpy array (drawn in pixel coordinates)
        or a DataArray, lazy or not (drawn in map coordinates, decimated to at
        most ``max_size`` pixels a side by :func:`decimate`).
    scheme
        Colours and names of the classes; default the scheme the mask names in
        its attributes (:func:`~landmask.io.read.schemes.resolve_scheme`), else ``landcover``.
    ax
        Axes to draw on; a new figure when None.
    max_size
        Largest side read from a lazy mask.
    legend
        Add a legend naming the classes present (nodata is transparent and left out).

    Returns
    -------
    matplotlib.axes.Axes
    """
    scheme = resolve_scheme(scheme, data)
    values, extent, crs = decimated_values(data, max_size)
    ax = _axes(ax)
    lut = class_lut(scheme)
    ax.imshow(lut[values], interpolation="nearest", extent=extent)
    if legend:
        from matplotlib.patches import Patch

        present = np.flatnonzero(np.bincount(values.ravel(), minlength=256))
        handles = [
            Patch(facecolor=lut[i], edgecolor="0.3", label=scheme.name_of(int(i)))
            for i in present
            if lut[i][3] > 0
        ]
        _legend(ax, handles)
    _label_axes(ax, crs)
    return ax


def stretch(rgb: np.ndarray, percentiles: tuple[float, float] = (2, 98)) -> np.ndarray:
    """Block function: ``(3, y, x)`` values -> ``(y, x, 4)`` RGBA in [0, 1].

    Each band is stretched linearly between its own low and high percentiles
    (of its finite values) and clipped; a pixel with any NaN band is transparent.
    """
    out = np.zeros((*rgb.shape[1:], 4), dtype=float)
    valid = np.all(np.isfinite(rgb), axis=0)
    for k in range(3):
        band = rgb[k]
        finite = band[valid]
        if finite.size == 0:
            continue
        lo, hi = np.percentile(finite, percentiles)
        scale = hi - lo if hi > lo else 1.0
        out[..., k] = np.clip((np.nan_to_num(band) - lo) / scale, 0, 1)
    out[..., 3] = valid
    return out


def composite(
    scene: xr.DataArray,
    bands: Sequence[str] = ("red", "green", "blue"),
    ax: Any = None,
    *,
    percentiles: tuple[float, float] = (2, 98),
    max_size: int = MAX_SIZE,
) -> Any:
    """Draw a true- or false-colour composite of a scene with a percentile stretch.

    Parameters
    ----------
    scene
        ``(band, y, x)`` reflectance with a ``band`` coordinate of common
        names (from :func:`~landmask.open_scene`), lazy or not.
    bands
        The bands shown as red, green and blue: ``("red", "green", "blue")`` is
        true colour, ``("nir", "red", "green")`` the classic false colour
        (vegetation red), ``("swir16", "nir", "red")`` a SWIR composite.
    percentiles
        Each band is stretched between these percentiles of its decimated values.
    max_size
        Largest side read from the scene (see :func:`decimate`).

    Returns
    -------
    matplotlib.axes.Axes
    """

    if len(bands) != 3:
        raise BandError(f"a composite needs 3 bands, got {len(bands)}")
    available = [str(b) for b in scene["band"].values]
    picked = []
    for name in bands:
        found = resolve_band(name, available)
        if found is None:
            raise BandError(f"band {name!r} is not in the scene (it has: {', '.join(available)})")
        picked.append(available.index(found))
    # decimate every band and pick after: each chunk is read once, and the read
    # task passes on only its kept pixels (a band selection first would not fuse)
    small = decimate(scene, max_size).isel(band=picked)
    rgba = stretch(np.asarray(small.values), percentiles)
    ax = _axes(ax)
    ax.imshow(rgba, interpolation="nearest", extent=map_extent(small))
    ax.set_title(" / ".join(bands))
    _label_axes(ax, small.rio.crs)
    return ax


def index_map(
    data: xr.DataArray,
    index: str | None = None,
    ax: Any = None,
    *,
    cmap: Any = None,
    vmax: float | None = None,
    max_size: int = MAX_SIZE,
    colorbar: bool = True,
) -> Any:
    """Draw a spectral index with a diverging colour map centred on 0.

    Parameters
    ----------
    data
        A ``(y, x)`` index (e.g. from :func:`~landmask.compute_indices`), or a
        ``(band, y, x)`` scene together with ``index``: then the scene is
        decimated first and the index computed on the kept pixels only, which
        is the cheap way to see an index of a large scene.
    index
        Index name, when ``data`` is a scene; else the colour bar's label
        (default: the DataArray's name).
    cmap
        A diverging matplotlib colour map; 0 is its centre colour. Default:
        the index's ramp (:func:`landmask.spectral.indices.index_ramp`, the one its
        QGIS style uses): vegetation indices brown to green, water indices
        brown to blue, NDBI green to red.
    vmax
        Colour limits are ``-vmax`` and ``vmax``; default the 98th percentile
        of the absolute finite values (so outliers do not wash the map out).
    max_size
        Largest side read (see :func:`decimate`).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import Normalize

    if "band" in data.dims:
        if index is None:
            raise ConfigError("index_map of a scene needs the index name, e.g. index='ndvi'")

        small = compute_indices(decimate(data, max_size), [index])[index].compute()
    else:
        small = decimate(data, max_size)
    values = np.asarray(small.values, dtype=float)
    finite = np.abs(values[np.isfinite(values)])
    if vmax is None:
        vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    ax = _axes(ax)
    label = index or str(data.name or "index")
    if cmap is None:
        from matplotlib.colors import LinearSegmentedColormap

        cmap = LinearSegmentedColormap.from_list(label, index_ramp(label))
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=cmap,
        norm=Normalize(-vmax, vmax),
        interpolation="nearest",
        extent=map_extent(small),
    )
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=label, shrink=0.8)
    ax.set_title(label)
    _label_axes(ax, small.rio.crs)
    return ax


def probability_map(
    proba: xr.DataArray,
    class_: int | str,
    ax: Any = None,
    *,
    cmap: str = "viridis",
    scheme: ClassScheme | str | None = None,
    max_size: int = MAX_SIZE,
    colorbar: bool = True,
) -> Any:
    """Draw one class's probability from 0 to 1, nodata left out.

    Parameters
    ----------
    proba
        ``(class, y, x)`` probabilities from
        :func:`~landmask.classification.classify.classify_with_probabilities` (uint8,
        ``value / 254``, 255 nodata) or the same as floats in [0, 1] (NaN
        nodata); lazy or not: only the band drawn is decimated and read.
    class_
        The class id or name (in ``scheme``, default the one ``proba`` names).
    cmap
        A sequential matplotlib colour map; 0 and 1 are its ends.
    max_size
        Largest side read (see :func:`decimate`).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import Normalize

    scheme = resolve_scheme(scheme, proba)
    class_id = scheme.id(class_, option="class_")
    ids = [int(c) for c in proba["class"].values]
    if class_id not in ids:
        raise ConfigError(f"no probability of class {class_!r} here (classes: {ids})")
    small = decimate(proba.isel({"class": ids.index(class_id)}, drop=True), max_size)
    values = np.asarray(small.values)
    if np.issubdtype(values.dtype, np.integer):
        p = np.ma.masked_equal(values, NODATA).astype(float) / PROBABILITY_SCALE
    else:
        p = np.ma.masked_invalid(values.astype(float))
    ax = _axes(ax)
    image = ax.imshow(
        p, cmap=cmap, norm=Normalize(0.0, 1.0), interpolation="nearest", extent=map_extent(small)
    )
    label = f"p({scheme.name_of(class_id)})"
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=label, shrink=0.8)
    ax.set_title(label)
    _label_axes(ax, small.rio.crs)
    return ax


def polygons(
    frame: gpd.GeoDataFrame,
    image: xr.DataArray | None = None,
    ax: Any = None,
    *,
    scheme: ClassScheme | str | None = None,
    linewidth: float = 1.0,
    max_size: int = MAX_SIZE,
) -> Any:
    """Draw polygons (e.g. from :func:`~landmask.vector.vectorize.vectorize`) over an image.

    Parameters
    ----------
    frame
        Polygons; with a ``class_id`` column their outlines take the class
        colours and a legend names the classes, else they are black.
    image
        Drawn underneath in map coordinates: a mask (2-D uint8, by
        :func:`mask_image`), a scene (``band`` dimension, true colour by
        :func:`composite`) or any 2-D array (grey). Polygons in another CRS
        are reprojected to the image's.
    scheme
        Class colours and names; default the image's
        (:func:`~landmask.io.read.schemes.resolve_scheme`).
    linewidth
        Width of the outlines in points.
    max_size
        Largest side read from the image.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    scheme = resolve_scheme(scheme, image)
    crs = None
    if image is not None:
        crs = image.rio.crs
        if "band" in image.dims:
            composite(image, ax=ax, max_size=max_size)
        elif image.dtype == np.uint8:
            mask_image(image, scheme, ax=ax, max_size=max_size, legend=False)
        else:
            small = decimate(image, max_size)
            ax.imshow(np.ma.masked_invalid(small.values), cmap="gray", extent=map_extent(small))
    if crs is not None and frame.crs is not None and frame.crs != crs:
        frame = frame.to_crs(crs)
    if "class_id" in frame.columns:
        from matplotlib.lines import Line2D

        lut = class_lut(scheme)
        handles = []
        for class_id, group in frame.groupby("class_id", sort=True):
            colour = lut[int(class_id)].copy()
            colour[3] = 1.0
            group.boundary.plot(ax=ax, color=colour, linewidth=linewidth)
            label = scheme.name_of(int(class_id))
            handles.append(Line2D([], [], color=colour, linewidth=2, label=label))
        _legend(ax, handles)
    else:
        frame.boundary.plot(ax=ax, color="black", linewidth=linewidth)
    _label_axes(ax, crs if crs is not None else frame.crs)
    return ax


def confusion_matrix(evaluation: Evaluation, ax: Any = None, *, normalize: bool = True) -> Any:
    """Heat map of a confusion matrix (rows truth, columns prediction).

    Cells are coloured by the share of their row (recall) when ``normalize``,
    and labelled with counts; axis ticks carry the class names.
    """
    n = len(evaluation.classes)
    ax = _axes(ax, figsize=(1.2 * n + 2.5, 1.0 * n + 2))
    m = evaluation.matrix.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shade = m / m.sum(axis=1, keepdims=True) if normalize else m
    image = ax.imshow(np.nan_to_num(shade), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    names = [evaluation.scheme.name_of(c) for c in evaluation.classes]
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    top = np.nanmax(shade) if shade.size and np.isfinite(shade).any() else 1.0
    for (i, j), count in np.ndenumerate(evaluation.matrix):
        cut = 0.6 if normalize else 0.6 * top
        dark = shade[i, j] > cut if np.isfinite(shade[i, j]) else False
        ax.text(
            j, i, f"{int(count):,}", ha="center", va="center", color="white" if dark else "black"
        )
    ax.set_title(f"mIoU {evaluation.miou:.3f}, overall accuracy {evaluation.overall_accuracy:.3f}")
    ax.figure.colorbar(image, ax=ax, label="share of truth row" if normalize else "count")
    return ax
