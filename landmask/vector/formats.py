"""Writing polygons to GIS formats, chosen by file extension, atomically.

``.gpkg`` (a layer named after the file, with a spatial index), ``.parquet``
(GeoParquet 1.1 with a bbox covering column, :mod:`landmask.vector.geoparquet`),
``.fgb`` (FlatGeobuf, with a spatial index) and ``.geojson`` (reprojected to
EPSG:4326, as RFC 7946 requires). Every layer is named after the output file's
stem, and its geometry type is declared as ``Polygon`` or, when any feature is a
MultiPolygon, ``MultiPolygon`` (FlatGeobuf's polygons are then promoted, as it
holds one type). Reading: :func:`data_layer` picks the layer of features in a
file that has others beside it (a GeoPackage's ``layer_styles`` table).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from landmask.classes import NODATA, ClassScheme
from landmask.errors import ConfigError
from landmask.io.companions import Output
from landmask.io.inputs import data_layer
from landmask.io.outputs import atomic_path, attach_sidecars, check_output, plan_outputs
from landmask.io.read.schemes import resolve_scheme
from landmask.io.stac.items import Lineage, attach_item
from landmask.io.write.styling import gpkg_add_style, vector_sidecars
from landmask.vector.geoparquet import write_geoparquet

if TYPE_CHECKING:
    import geopandas as gpd

    from landmask.vector._polygonize import Features

# Imports: geopandas (and pandas with it) in the function that makes a GeoDataFrame, so that
# the commands that only check a vector output's name (classify, run) do not load it.

__all__ = [
    "GPKG_VERSION",
    "VECTOR_FORMATS",
    "VectorWriter",
    "check_vector_output",
    "data_layer",
    "dataset_options",
    "declared_type",
    "transition_columns",
    "write_vector",
]

#: extension -> OGR driver (None: GeoParquet through geopandas/pyarrow)
VECTOR_FORMATS: dict[str, str | None] = {
    ".gpkg": "GPKG",
    ".parquet": None,
    ".fgb": "FlatGeobuf",
    ".geojson": "GeoJSON",
}


#: GeoPackage version written: 1.2, which GDAL >= 2.2 and every QGIS 3 open without
#: the "user_version ... may only be partially supported" warning that GDAL 3.6
#: (Debian 12, QGIS 3.22) prints for the 1.4 files newer GDAL makes by default
GPKG_VERSION = "1.2"


def dataset_options(driver: str | None) -> dict[str, str]:
    """Creation options of a new file of OGR ``driver`` (the GeoPackage version)."""
    return {"VERSION": GPKG_VERSION} if driver == "GPKG" else {}


def check_vector_output(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Validate a vector output path (folder, extension, existing file) before any work."""
    out = check_output(path, overwrite)
    if out.suffix.lower() not in VECTOR_FORMATS:
        known = ", ".join(VECTOR_FORMATS)
        raise ConfigError(f"{out}: unknown vector format {out.suffix!r} (use {known})")
    return out


def declared_type(types: Iterable[str]) -> str:
    """The layer geometry type to declare for features of OGC ``types`` (Polygon by default)."""
    return "MultiPolygon" if "MultiPolygon" in set(types) else "Polygon"


def write_vector(
    frame: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    scheme: ClassScheme | str | None = None,
    stac: bool = True,
    lineage: Lineage | None = None,
) -> Path:
    """Write ``frame`` in the format of ``path``'s extension; it appears only when complete.

    Polygons with a ``class_name`` column are styled by class
    (:mod:`landmask.io.write.styling`) after ``scheme`` (default: the one the frame
    records, as :func:`~landmask.vector.vectorize.vectorize` frames do, else
    ``landcover``; :func:`landmask.io.read.schemes.resolve_scheme`): a
    GeoPackage gets the style in its ``layer_styles`` table before it lands,
    and every format a ``.qml`` beside it once it has.

    With ``stac``, a STAC item (:mod:`landmask.io.stac.items`) follows the file,
    its lineage ``lineage`` (default: the frame's ``sources``/``rules``/``model``
    attributes), its classes the scheme's when the frame has class ids.
    """
    out = check_vector_output(path, overwrite)
    styled = "class_name" in frame.columns
    kind = "polygons" if styled else "vector"
    plan_outputs({"the output": Output(out, kind, stac=stac)}, overwrite=overwrite)
    scheme = resolve_scheme(scheme, frame)
    ext = out.suffix.lower()
    driver = VECTOR_FORMATS[ext]
    geometry_type = declared_type(frame.geom_type.dropna().unique())
    with atomic_path(out, overwrite=overwrite) as tmp:
        if driver is None:
            import pyarrow as pa

            table = pa.table(frame.to_arrow(index=False, geometry_encoding="WKB"))
            write_geoparquet(
                table.to_batches(),
                table.schema,
                tmp,
                geometry=frame.geometry.name,
                crs=frame.crs,
                geometry_types=frame.geom_type.dropna().unique(),
            )
        else:
            if driver == "GeoJSON":
                frame = frame.to_crs("EPSG:4326")
            options = {"RFC7946": "YES"} if driver == "GeoJSON" else None
            frame.to_file(
                tmp,
                driver=driver,
                engine="pyogrio",
                layer=out.stem,
                index=False,
                layer_options=options,
                dataset_options=dataset_options(driver),
                geometry_type=geometry_type,
                promote_to_multi=geometry_type == "MultiPolygon",
            )
            if styled and driver == "GPKG":
                gpkg_add_style(tmp, out.stem, scheme)
        styles = vector_sidecars(out, scheme) if styled else {}
        attach_sidecars(tmp, styles)
        if stac:
            lineage = lineage if lineage is not None else Lineage.of(frame.attrs)
            classes = scheme if styled else None
            attach_item(tmp, out, lineage, scheme=classes, sidecars=styles)
    return out


class VectorWriter:
    """Write polygons batch by batch into a file of any :data:`VECTOR_FORMATS` format.

    Polygons with a ``class_name`` column are styled after ``scheme`` as
    :func:`write_vector` styles them. GeoPackage and GeoJSON batches are
    appended to the output's temporary file as they come; FlatGeobuf and
    GeoParquet, which cannot be appended to, are gathered in a temporary
    GeoPackage and converted batch by batch at the end. Memory is one batch
    either way. The output appears only when :meth:`close` succeeds;
    :meth:`abort` (or an exception inside a ``with``) leaves nothing behind.
    ``lineage`` (None: no item) gives the STAC item written beside the file
    once it has landed (:mod:`landmask.io.stac.items`), checked here first.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        scheme: ClassScheme | str | None = None,
        lineage: Lineage | None = None,
    ) -> None:
        self.out = check_vector_output(path, overwrite)
        self.lineage = lineage
        self.overwrite = overwrite
        plan_outputs(
            {"the output": Output(self.out, "polygons", stac=lineage is not None)},
            overwrite=overwrite,
        )
        self.scheme = resolve_scheme(scheme)
        self.styled = False
        self.ext = self.out.suffix.lower()
        self.driver = VECTOR_FORMATS[self.ext]
        self._atomic = atomic_path(self.out, overwrite=overwrite)
        self.tmp = self._atomic.__enter__()
        direct = self.driver in ("GPKG", "GeoJSON")
        self.stage = self.tmp if direct else self.tmp.with_name(f"{self.tmp.name}.stage.gpkg")
        self.stage_driver = self.driver if direct else "GPKG"
        self.layer = self.out.stem
        self.count = 0
        self.crs: Any = None
        self.geometry_types: set[str] = set()

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append a batch of features (every batch has the same columns and CRS)."""
        if self.driver == "GeoJSON" and frame.crs is not None:
            frame = frame.to_crs("EPSG:4326")
        self.crs = frame.crs
        self.styled = "class_name" in frame.columns
        self.geometry_types.update(frame.geom_type.dropna().unique())
        options = {"RFC7946": "YES"} if self.driver == "GeoJSON" else {}
        frame.to_file(
            self.stage,
            driver=self.stage_driver,
            engine="pyogrio",
            layer=self.layer,
            index=False,
            append=self.count > 0,
            layer_options=options if self.count == 0 else None,
            dataset_options=dataset_options(self.stage_driver) if self.count == 0 else None,
            promote_to_multi=False,
        )
        self.count += len(frame)

    def write_features(self, batches: Iterable[Features], crs: Any, geometry_type: str) -> None:
        """Write a stream of :class:`~landmask.vector._polygonize.Features` (ids, measures, WKB).

        The columns and layer are those :meth:`write` makes from
        :func:`~landmask.vector.vectorize.vectorize`'s frames; ``geometry_type`` is the
        layer's (``Polygon`` or ``Unknown``). GeoPackages (and the staging
        GeoPackage of FlatGeobuf and GeoParquet) get the whole stream in one
        Arrow write: one open layer, no Python object per feature, and the
        spatial index built once at the end (appending batch by batch reopened
        the layer and updated the index row by row, 10x slower). Batches are
        pulled as GDAL writes, so memory holds one. GeoJSON, which must be
        reprojected, gets GeoDataFrames batch by batch. An error from
        ``batches`` is raised as it was.
        """
        if self.driver == "GeoJSON":
            for features in batches:
                if len(features):
                    self.write(features_frame(features, crs, self.scheme))
            return
        it = (f for f in batches if len(f))
        first = next(it, None)
        if first is None:
            return
        import pyarrow as pa
        from pyogrio.raw import write_arrow

        table = features_table(first, self.scheme)
        errors: list[BaseException] = []

        def tables() -> Iterator[Any]:
            try:
                yield from table.to_batches()
                self.count += len(first)
                self.geometry_types.update(wkb_types(first))
                for features in it:
                    yield from features_table(features, self.scheme).to_batches()
                    self.count += len(features)
                    self.geometry_types.update(wkb_types(features))
            except BaseException as exc:
                errors.append(exc)
                raise

        self.crs = crs
        self.styled = True
        stream = pa.RecordBatchReader.from_batches(table.schema, tables())
        try:
            write_arrow(
                stream,
                self.stage,
                layer=self.layer,
                driver=self.stage_driver,
                geometry_name="geometry",
                geometry_type=geometry_type,
                crs=crs.to_wkt() if crs is not None else None,
                append=self.count > 0,
                dataset_options=dataset_options(self.stage_driver) if self.count == 0 else None,
            )
        except Exception:
            if errors:
                raise errors[0] from None
            raise
        if errors:
            raise errors[0]

    def close(self) -> Path:
        """Finish the file and move it onto the output path."""
        try:
            if self.stage != self.tmp:
                self._convert()
            if self.styled and self.driver == "GPKG":
                gpkg_add_style(self.tmp, self.layer, self.scheme)
        except BaseException:
            self.abort()
            raise
        finally:
            if self.stage != self.tmp:
                self.stage.unlink(missing_ok=True)
        styles = vector_sidecars(self.out, self.scheme) if self.styled else {}
        attach_sidecars(self.tmp, styles)
        if self.lineage is not None:
            scheme = self.scheme if self.styled else None
            attach_item(self.tmp, self.out, self.lineage, scheme=scheme, sidecars=styles)
        self._atomic.__exit__(None, None, None)
        return self.out

    def abort(self) -> None:
        """Remove every temporary file; the output is left as it was."""
        if self.stage != self.tmp:
            self.stage.unlink(missing_ok=True)
        error = RuntimeError("vector output aborted")
        with contextlib.suppress(RuntimeError):
            self._atomic.__exit__(RuntimeError, error, None)

    def _convert(self) -> None:
        import pyarrow as pa
        from pyogrio.raw import open_arrow, write_arrow

        kind = declared_type(self.geometry_types)
        with open_arrow(self.stage, layer=self.layer, use_pyarrow=True) as (meta, reader):
            geometry = meta["geometry_name"] or "geometry"
            if self.driver is None:
                write_geoparquet(
                    reader,
                    reader.schema,
                    self.tmp,
                    geometry=geometry,
                    crs=meta["crs"],
                    geometry_types=self.geometry_types,
                )
                return
            batches = reader if kind == "Polygon" else _promoted(reader, geometry)
            write_arrow(
                pa.RecordBatchReader.from_batches(reader.schema, batches),
                self.tmp,
                layer=self.layer,
                driver=self.driver,
                geometry_name=geometry,
                geometry_type=kind,
                crs=meta["crs"],
                dataset_options=dataset_options(self.driver),
            )

    def __enter__(self) -> VectorWriter:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def transition_columns(values: Any, scheme: ClassScheme) -> dict[str, Any]:
    """For polygons of a change map: ``from_id``, ``from_class``, ``to_id``, ``to_class``.

    Numpy arrays for class ids ``values`` of a change scheme
    (:func:`landmask.classes.change_scheme`); empty for any other scheme.
    """

    if scheme.base is None:
        return {}
    table = [scheme.transition(k) for k in range(256)]
    ids = np.array([(p[0].id, p[1].id) if p else (NODATA, NODATA) for p in table], dtype=np.uint8)
    names = np.array([(p[0].name, p[1].name) if p else ("", "") for p in table], dtype=object)
    v = np.asarray(values, dtype=np.intp)
    return {
        "from_id": ids[v, 0],
        "from_class": names[v, 0],
        "to_id": ids[v, 1],
        "to_class": names[v, 1],
    }


def features_table(features: Features, scheme: ClassScheme) -> Any:
    """Features -> an Arrow table: class_id, class_name, area_m2, perimeter_m, WKB geometry.

    Polygons of a change map also get :func:`transition_columns`.
    """
    import pyarrow as pa

    names = np.array([scheme.name_of(k) for k in range(256)], dtype=object)
    n = len(features)
    geometry = pa.Array.from_buffers(
        pa.large_binary(),
        n,
        [None, pa.py_buffer(features.offsets.astype(np.int64)), pa.py_buffer(features.wkb)],
    )
    return pa.table(
        {
            "class_id": pa.array(features.values, type=pa.uint8()),
            "class_name": pa.array(names[features.values], type=pa.string()),
            **{
                k: pa.array(v, type=pa.uint8() if k.endswith("_id") else pa.string())
                for k, v in transition_columns(features.values, scheme).items()
            },
            "area_m2": pa.array(features.area_m2, type=pa.float64()),
            "perimeter_m": pa.array(features.perimeter_m, type=pa.float64()),
            "geometry": geometry,
        }
    )


def features_frame(features: Features, crs: Any, scheme: ClassScheme) -> gpd.GeoDataFrame:
    """Features -> the GeoDataFrame :func:`~landmask.vector.vectorize.vectorize` would make."""
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {
            "class_id": features.values,
            "class_name": [scheme.name_of(int(v)) for v in features.values],
            **transition_columns(features.values, scheme),
            "area_m2": features.area_m2,
            "perimeter_m": features.perimeter_m,
        },
        geometry=features.geometries(),
        crs=crs,
    )


def wkb_types(features: Features) -> set[str]:
    """The OGC geometry types among ``features``' WKB (read from each header, no parsing)."""

    starts = features.offsets[:-1]
    if not len(starts):
        return set()
    if not (features.wkb[starts] == 1).all():  # not all little-endian: let GEOS read them
        return {str(g.geom_type) for g in features.geometries()}
    codes = np.unique(features.wkb[starts + 1])
    return {_OGC_TYPES.get(int(c), "Unknown") for c in codes}


_OGC_TYPES = {3: "Polygon", 6: "MultiPolygon"}


def _promoted(reader: Any, geometry: str) -> Iterator[Any]:
    """``reader``'s batches with every Polygon made a one-part MultiPolygon."""
    import pyarrow as pa
    import shapely

    for batch in reader:
        index = batch.schema.get_field_index(geometry)
        column = batch.column(index)
        geoms = shapely.from_wkb(np.asarray(column.to_numpy(zero_copy_only=False)))
        polygons = shapely.get_type_id(geoms) == 3
        geoms[polygons] = shapely.multipolygons(
            geoms[polygons], indices=np.arange(int(polygons.sum()))
        )
        wkb = pa.array(shapely.to_wkb(geoms), type=column.type)
        yield batch.set_column(index, batch.schema.field(index), wkb)
