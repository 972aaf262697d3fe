"""Truth and reference labels on a mask's grid: rasters, polygons and points, any CRS.

Used by :func:`landmask.evaluation.evaluate.evaluate` (truth) and
:func:`landmask.models.training.train` (training labels). Every vector of
features a command reads (truth, training labels, zonal statistics' zones, a
workflow's region) comes through :func:`read_features`. Labels become class
ids directly (ids or class names of the scheme) or through a label map
(:class:`Labels`). A truth raster on the prediction's grid is read window by
window; on any other grid or CRS it is warped onto it lazily by nearest
neighbour (:func:`raster_truth`). Polygons are rasterized chunk by chunk onto
the grid, pixel centres inside a polygon, all-touched off, the later polygon
winning where they overlap (:func:`polygon_truth`); points become pixel
indices (:func:`labels_on_grid`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from affine import Affine

from landmask._runtime.chunks import as_dask
from landmask.classes import LANDCOVER, NODATA, ClassScheme, label_text
from landmask.errors import ConfigError, GridError, InputError, TruthReprojectedWarning
from landmask.io.inputs import open_raster, read_vector
from landmask.io.read.masks import raster_on_grid

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "RASTER_SUFFIXES",
    "GridLabels",
    "Labels",
    "frame_on_grid",
    "is_raster_path",
    "labels_on_grid",
    "parse_label_map",
    "polygon_groups",
    "polygon_truth",
    "raster_truth",
    "read_features",
    "vector_truth",
]

#: File extensions read as raster truth; anything else is read as vector data.
RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img", ".jp2", ".nc"}


# --------------------------------------------------------------------- labels


def parse_label_map(text: str | None, option: str = "--truth-map") -> dict[str, str] | None:
    """``"developed=urban,woods=forest"`` -> ``{"developed": "urban", "woods": "forest"}``.

    ``option`` is the command's option name, used in error messages.
    """
    if not text:
        return None
    out: dict[str, str] = {}
    for item in text.split(","):
        label, sep, name = item.partition("=")
        if not sep or not label.strip() or not name.strip():
            raise ConfigError(f"{option} {text}: expected LABEL=CLASS[,LABEL=CLASS...]")
        out[label.strip()] = name.strip()
    return out


class Labels:
    """Truth labels (ids, names or mapped labels) -> class ids of the scheme."""

    def __init__(
        self,
        scheme: ClassScheme,
        label_map: Mapping[str, str] | None,
        option: str = "--truth-map",
    ) -> None:
        self.scheme = scheme
        self.option = option
        self.map: dict[str, int] | None = None
        if label_map is not None:
            self.map = {}
            for label, name in label_map.items():
                self.map[str(label)] = scheme.id(name, option=f"{option} {label}={name}")
        self.unmapped = 0

    def ids(self, labels: Sequence[Any], source: str) -> np.ndarray:
        """Class ids for vector labels.

        A label the map names gets its class; a label that is a class name of
        the scheme (or, without a map, a class id) keeps it, so a partial map
        drops nothing it need not; any other label becomes 0 (other) with a
        map, and is refused without one. Labels that became 0 are counted in
        :attr:`unmapped`.
        """
        out = np.empty(len(labels), dtype=np.uint8)
        names = {c.name: c.id for c in self.scheme}
        unknown: set[str] = set()
        for k, raw in enumerate(labels):
            label = label_text(raw)
            if self.map is not None and label in self.map:
                out[k] = self.map[label]
            elif label in names:
                out[k] = names[label]
            elif self.map is not None:
                out[k] = 0
                self.unmapped += 1
            elif label.isdigit() and int(label) < 256:
                out[k] = int(label)
            else:
                unknown.add(label)
        if unknown:
            shown = ", ".join(sorted(unknown)[:5])
            raise InputError(
                f"{source}: labels {shown} are not classes of {self.scheme.name!r}; "
                f"map them with {self.option} LABEL=CLASS,..."
            )
        return out

    def lut(self) -> np.ndarray | None:
        """A 256-entry table for integer truth rasters, or None to use values as ids."""
        if self.map is None:
            return None
        table = np.zeros(256, dtype=np.uint8)
        table[NODATA] = NODATA
        for label, class_id in self.map.items():
            if not label.isdigit() or int(label) > 255:
                raise ConfigError(f"{self.option} {label}=...: a raster label is a value 0-255")
            table[int(label)] = class_id
        return table


# ---------------------------------------------------------------------- truth


def raster_truth(path: str, pred: xr.DataArray, labels: Labels) -> xr.DataArray:
    """Truth raster ``path`` as class ids on ``pred``'s grid, lazily (warped if on another)."""
    with open_raster(path, "a truth raster") as src:
        if src.count != 1:
            raise InputError(f"{path}: truth raster must have one band, it has {src.count}")
    return raster_on_grid(
        path,
        pred,
        lut=labels.lut(),
        what="truth",
        onto="the prediction",
        warning=TruthReprojectedWarning,
    )


def _chunks_of(arr: xr.DataArray) -> Any:
    return as_dask(arr).chunks


def read_features(
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    what: str,
    layer: str | None = None,
    layer_option: str = "--layer",
) -> tuple[gpd.GeoDataFrame, str]:
    """The one reader of label, truth, zone and region vectors: features with a CRS, and a name.

    Parameters
    ----------
    source
        A vector file in any format GDAL reads (or GeoParquet), or a
        GeoDataFrame, which is taken as it is.
    what
        What the features are, in words for messages (``"truth"``, ``"zones"``).
    layer, layer_option
        The layer of a file with several (:func:`landmask.io.inputs.data_layer`),
        and the option that names it in messages.

    Returns
    -------
    tuple
        The features in their own CRS, and the file's path (``<what>`` for a
        GeoDataFrame) to name them in messages.

    Raises
    ------
    InputError
        One line naming the source: unreadable (:func:`~landmask.io.inputs.read_vector`),
        no features; :class:`~landmask.errors.GridError` without a CRS.
    """
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        frame = read_vector(name, layer, layer_option, what)
    else:
        frame, name = source, f"<{what}>"
    if frame.empty:
        raise InputError(f"{name}: no {what} (no features)")
    if frame.crs is None:
        raise GridError(f"{name}: no CRS for the {what}")
    return frame, name


def _guess_column(gdf: Any, path: str) -> str:
    for name in ("class", "label", "class_name", "class_id", "landcover"):
        if name in gdf.columns:
            return name
    raise InputError(f"{path}: which column holds the labels? pass --truth-column")


def is_raster_path(source: Any) -> bool:
    """Whether ``source`` is the path of a raster (by its extension), not of vector data."""
    return (
        isinstance(source, str | os.PathLike)
        and Path(os.fspath(source)).suffix.lower() in RASTER_SUFFIXES
    )


def vector_truth(
    source: Any,
    column: str | None,
    grid: xr.DataArray,
    *,
    layer: str | None = None,
    layer_option: str = "--truth-layer",
) -> tuple[Any, str]:
    """Vector labels (a path or a GeoDataFrame) in ``grid``'s CRS, and what to call them.

    Read by :func:`read_features`; the result has the labels in a ``label``
    column (``column``, else the first of ``class``, ``label``,
    ``class_name``, ``class_id``, ``landcover``) and loses empty geometries.
    """
    gdf, path = read_features(source, what="truth", layer=layer, layer_option=layer_option)
    col = column or _guess_column(gdf, path)
    if col not in gdf.columns:
        cols = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        raise InputError(f"{path}: no column {col!r} (columns: {cols})")
    gdf = gdf[[col, gdf.geometry.name]].rename(columns={col: "label"})
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if grid.rio.crs is not None and gdf.crs != grid.rio.crs:
        gdf = gdf.to_crs(grid.rio.crs)
    return gdf, path


def polygon_truth(gdf: Any, pred: xr.DataArray, ids: np.ndarray, path: str) -> xr.DataArray:
    """Polygons with class ``ids`` rasterized onto ``pred``'s grid, lazily: uint8, 255 outside."""
    return _rasterize_frame(gdf, pred, ids, path, np.uint8, NODATA)


def polygon_groups(gdf: Any, grid: xr.DataArray, path: str) -> xr.DataArray:
    """Which polygon each pixel of ``grid`` belongs to, lazily: its position in ``gdf``, -1 outside.

    The same rasterization as :func:`polygon_truth` (pixel centres, the later
    polygon winning where they overlap), so a pixel's class and its polygon
    come from the same feature. int32.
    """
    positions = np.arange(len(gdf), dtype=np.int32)
    return _rasterize_frame(gdf, grid, positions, path, np.int32, -1)


def _rasterize_frame(
    gdf: Any, pred: xr.DataArray, values: np.ndarray, path: str, dtype: Any, fill: int
) -> xr.DataArray:
    from shapely import box, to_wkb

    transform = pred.rio.transform()
    chunks = _chunks_of(pred)
    geoms = gdf.geometry.values
    tree = gdf.sindex
    left, bottom, right, top = pred.rio.bounds()
    if not len(tree.query(box(left, bottom, right, top))):
        raise InputError(f"{path}: truth does not overlap the prediction")
    rows = []
    y0 = 0
    for h in chunks[0]:
        row = []
        x0 = 0
        for w in chunks[1]:
            t = transform @ Affine.translation(x0, y0)
            x_a, y_a = t @ (0, 0)
            x_b, y_b = t @ (w, h)
            hits = tree.query(box(min(x_a, x_b), min(y_a, y_b), max(x_a, x_b), max(y_a, y_b)))
            hits = np.sort(hits)  # file order: later polygons win where they overlap
            # coefficients, not the Affine: dask would unpack the namedtuple
            task = dask.delayed(_rasterize_chunk)(
                to_wkb(geoms[hits]), values[hits], t[:6], (h, w), dtype, fill
            )
            row.append(da.from_delayed(task, shape=(h, w), dtype=dtype))
            x0 += w
        rows.append(row)
        y0 += h
    out = pred.copy(data=da.block(rows))
    return out if dtype == np.uint8 else out.rio.write_nodata(fill, encoded=False)


def _rasterize_chunk(
    wkb: Sequence[bytes],
    values: np.ndarray,
    coefficients: Sequence[float],
    shape: tuple[int, int],
    dtype: Any = np.uint8,
    fill: int = NODATA,
) -> np.ndarray:
    """Block function: polygons (WKB) with values -> ``dtype`` values, ``fill`` outside."""
    from rasterio.features import rasterize
    from shapely import from_wkb

    if len(wkb) == 0:
        return np.full(shape, fill, dtype=dtype)
    shapes = zip(from_wkb(np.asarray(wkb, dtype=object)), values.tolist(), strict=True)
    return rasterize(
        shapes,
        out_shape=shape,
        transform=Affine(*coefficients),
        fill=fill,
        all_touched=False,
        dtype=dtype,
    )


# ------------------------------------------------------- labels for training


@dataclass
class GridLabels:
    """Reference labels on a grid: a lazy label raster, or points as pixel indices.

    ``raster`` is ``(y, x)`` uint8 class ids with 255 where there is no label;
    for point labels it is None and ``rows``, ``cols``, ``ids`` give each point
    inside the grid. ``groups`` is, for polygon labels, the ``(y, x)`` int32
    position of the polygon each pixel belongs to (-1 outside any;
    :func:`polygon_groups`), else None. ``unmapped`` counts labels a label map
    did not name.
    """

    raster: xr.DataArray | None
    rows: np.ndarray
    cols: np.ndarray
    ids: np.ndarray
    unmapped: int
    groups: xr.DataArray | None = None


def labels_on_grid(
    source: str | os.PathLike[str] | Any,
    grid: xr.DataArray,
    *,
    column: str | None = None,
    label_map: Mapping[str, str] | None = None,
    scheme: ClassScheme = LANDCOVER,
    layer: str | None = None,
) -> GridLabels:
    """Put labels (polygons, points or a raster, any CRS) onto ``grid``'s pixels.

    The same readers as :func:`evaluate` uses for truth: vectors are
    reprojected and rasterized chunk by chunk, a raster on another grid is
    warped by nearest neighbour, points become pixel indices. ``layer``: the
    layer of a vector file with several (``--labels-layer``).
    """
    labels = Labels(scheme, label_map, option="--label-map")
    if is_raster_path(source):
        empty = np.empty(0, dtype=np.int64)
        raster = raster_truth(os.fspath(source), grid, labels)
        return GridLabels(raster, empty, empty, empty.astype(np.uint8), 0)
    gdf, path = vector_truth(source, column, grid, layer=layer, layer_option="--labels-layer")
    return frame_on_grid(gdf, path, grid, labels)


def frame_on_grid(gdf: Any, path: str, grid: xr.DataArray, labels: Labels) -> GridLabels:
    """Vector labels (from :func:`vector_truth`, in ``grid``'s CRS) onto ``grid``'s pixels.

    Points become pixel indices; polygons a lazy label raster and the raster of
    which polygon each pixel belongs to (``groups``).
    """
    empty = np.empty(0, dtype=np.int64)
    ids = labels.ids(list(gdf["label"]), path)
    kinds = set(gdf.geometry.geom_type)
    if kinds <= {"Point"}:
        cols, rows = ~grid.rio.transform() @ (gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
        cols, rows = np.floor(cols).astype(np.int64), np.floor(rows).astype(np.int64)
        h, w = grid.shape[-2:]
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        if not inside.any():
            raise InputError(f"{path}: no label point lies on the scene")
        return GridLabels(None, rows[inside], cols[inside], ids[inside], labels.unmapped)
    if kinds <= {"Polygon", "MultiPolygon"}:
        raster = polygon_truth(gdf, grid, ids, path)
        groups = polygon_groups(gdf, grid, path)
        return GridLabels(raster, empty, empty, ids, labels.unmapped, groups)
    raise InputError(f"{path}: labels must be all polygons or all points, got {sorted(kinds)}")
