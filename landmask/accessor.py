"""The ``.landmask`` accessor on xarray DataArrays, in the style of rioxarray's ``.rio``.

Notebook users chain the pipeline's steps on the objects they hold::

    scene = landmask.open_scene("scene.tif", sensor="sentinel2-l2a")
    scene.landmask.plot(bands=("nir", "red", "green"))
    ndvi = scene.landmask.indices(["ndvi"])["ndvi"]
    mask = scene.landmask.classify(rules="default")
    mask.landmask.plot()
    polygons = mask.landmask.vectorize(min_area=1000)
    mask.landmask.write("mask.tif")
    report = mask.landmask.evaluate("truth.gpkg")
    areas = mask.landmask.zonal("districts.gpkg")
    change = mask.landmask.change(later_mask)        # from-to codes, lazy
    matrix = change.landmask.transitions()           # transition matrix, computed

Each method delegates to the function of the same stage (so the two spellings
give the same result, lazily where the function is lazy). ``import landmask``
registers the accessor (as soon as xarray is imported, so the command line
does not pay for xarray at start-up).

Each method imports its stage when called: this module is loaded by the hook
whenever xarray is, by every command, and it sits above every stage, so
importing them here at the top would load all of landmask (the classifiers,
vectorizing, evaluation, plotting) into a command that needs one of them.
The command line (:mod:`landmask.cli`) loads its subcommands lazily the same
way; library modules import at the top.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import xarray as xr

from landmask.classes import ClassScheme, check_mask, is_mask
from landmask.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from landmask.analysis.change import Transitions
    from landmask.evaluation.evaluate import Evaluation
    from landmask.io.write.rasters import WriteResult
    from landmask.spectral.rules import RuleSet

__all__ = ["LandmaskAccessor"]


@xr.register_dataarray_accessor("landmask")
class LandmaskAccessor:
    """``DataArray.landmask``: the landmask pipeline on a scene, an index or a mask.

    A *scene* is ``(band, y, x)`` reflectance with a ``band`` coordinate of
    common names (:func:`~landmask.open_scene`); a *mask* is ``(y, x)`` uint8
    class ids (:func:`~landmask.classify`); both carry rioxarray georeferencing.
    """

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def _scene(self, what: str) -> xr.DataArray:
        arr = self._obj
        if arr.ndim != 3 or "band" not in arr.dims or "band" not in arr.coords:
            raise InputError(
                f".landmask.{what}() needs a scene: a (band, y, x) DataArray with a band "
                f"coordinate of common names, got dims {arr.dims}"
            )
        return arr

    def _mask(self, what: str) -> xr.DataArray:
        check_mask(self._obj, f".landmask.{what}()")
        return self._obj

    def indices(self, names: Sequence[str]) -> xr.Dataset:
        """Spectral indices of a scene: :func:`landmask.spectral.indices.compute_indices`."""
        from landmask.spectral.indices import compute_indices

        return compute_indices(self._scene("indices"), names)

    def classify(
        self,
        rules: str | os.PathLike[str] | RuleSet | Mapping[str, Any] = "default",
        *,
        model: Any = None,
        min_confidence: float = 0.5,
    ) -> xr.DataArray:
        """A lazy class-id mask by rules or a model: :func:`landmask.classify`."""
        from landmask.classification.classify import classify

        return classify(self._scene("classify"), rules, model=model, min_confidence=min_confidence)

    def vectorize(
        self,
        classes: Sequence[str | int] | None = None,
        *,
        connectivity: int = 4,
        min_area: float | None = None,
        simplify: float | None = None,
        scheme: ClassScheme | str | None = None,
    ) -> gpd.GeoDataFrame:
        """Polygons of a mask's regions: :func:`landmask.vector.vectorize.vectorize`.

        ``scheme`` None: the scheme the mask records (``landcover`` if none).
        """
        from landmask.vector.vectorize import vectorize

        return vectorize(
            self._mask("vectorize"),
            classes,
            connectivity=connectivity,
            min_area=min_area,
            simplify=simplify,
            scheme=scheme,
        )

    def zonal(self, zones: Any, **kwargs: Any) -> gpd.GeoDataFrame:
        """Exact class areas per zone: :func:`landmask.analysis.zonal.zonal_stats`.

        ``zones`` is a vector path or a GeoDataFrame in any CRS; keyword
        arguments (``zone_column``, ``classes``, ``scheme``, ``chunk_size``)
        go to :func:`~landmask.zonal_stats`.
        """
        from landmask.analysis.zonal import zonal_stats

        return zonal_stats(self._mask("zonal"), zones, **kwargs)

    def change(self, other: Any, **kwargs: Any) -> xr.DataArray:
        """The from-to change from this mask to ``other``: :func:`landmask.change`.

        ``other`` is the later mask (a DataArray on the same grid or a file);
        keyword arguments (``scheme``, ``chunk_size``) go to :func:`~landmask.change`.
        """
        from landmask.analysis.change import change

        return change(self._mask("change"), other, **kwargs)

    def transitions(self) -> Transitions:
        """The transition matrix of a change map: :func:`landmask.transitions`."""
        from landmask.analysis.change import transitions

        return transitions(self._mask("transitions"))

    def evaluate(self, truth: Any, **kwargs: Any) -> Evaluation:
        """Compare a mask with ground truth: :func:`landmask.evaluation.evaluate.evaluate`.

        ``truth`` is a mask DataArray on the same grid, a raster or vector path,
        or a GeoDataFrame; keyword arguments go to :func:`~landmask.evaluate`.
        """
        from landmask.evaluation.evaluate import evaluate

        return evaluate(self._mask("evaluate"), truth, **kwargs)

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        scheme: ClassScheme | str | None = None,
        stac: bool = True,
    ) -> WriteResult:
        """Write a mask (:func:`~landmask.io.write.rasters.write_mask`) or a 2-D index
        (:func:`~landmask.io.write.rasters.write_indices`, one band named after the array)
        as a Cloud-Optimized GeoTIFF, chunk by chunk and atomically.

        A mask's classes are named after ``scheme``; None: the scheme the mask
        records (``landcover`` if none). ``stac``: a STAC item beside the file
        (:mod:`landmask.io.stac.items`).
        """
        from landmask.io.write.rasters import write_indices, write_mask

        arr = self._obj
        if is_mask(arr):
            return write_mask(arr, path, overwrite=overwrite, scheme=scheme, stac=stac)
        if arr.ndim == 2 and arr.dtype.kind == "f":
            name = str(arr.name or "index")
            data = arr.astype("float32").rename(name)
            return write_indices(data.to_dataset(), path, overwrite=overwrite, stac=stac)
        raise InputError(
            f".landmask.write() writes a mask (2-D uint8) or an index (2-D float), "
            f"got {arr.ndim}-D {arr.dtype}"
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the array with the plot that suits it and return the axes.

        A scene is drawn as a colour composite (:func:`~landmask.viz.plot.composite`,
        ``bands=`` picks them), a mask in its class colours with a legend
        (:func:`~landmask.viz.plot.mask_image`), anything else 2-D as an index map
        (:func:`~landmask.viz.plot.index_map`). Lazy arrays are read decimated.
        """
        from landmask.viz import plot

        arr = self._obj
        if arr.ndim == 3 and "band" in arr.dims:
            return plot.composite(arr, ax=ax, **kwargs)
        if is_mask(arr):
            return plot.mask_image(arr, kwargs.pop("scheme", None), ax, **kwargs)
        if arr.ndim == 2:
            return plot.index_map(arr, ax=ax, **kwargs)
        raise InputError(f".landmask.plot() draws 2-D arrays and scenes, got dims {arr.dims}")
