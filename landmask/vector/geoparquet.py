"""GeoParquet 1.1 files from Arrow batches: the one GeoParquet writer of landmask.

Every ``.parquet`` output (a whole GeoDataFrame or a stream of batches) is
written here: WKB geometry, the CRS as PROJJSON, the geometry types present,
and a ``bbox`` covering column (``xmin, ymin, xmax, ymax`` per row, declared in
the ``geo`` metadata) that lets readers skip row groups outside a window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GEOPARQUET_VERSION", "write_geoparquet"]

GEOPARQUET_VERSION = "1.1.0"

_BBOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _bbox_column(wkb: Any) -> Any:
    """A struct array of the bounds of each WKB geometry (NaN for empty ones)."""
    import pyarrow as pa
    import shapely

    bounds = shapely.bounds(shapely.from_wkb(np.asarray(wkb.to_numpy(zero_copy_only=False))))
    return pa.StructArray.from_arrays(
        [pa.array(bounds[:, k], type=pa.float64()) for k in range(4)], names=list(_BBOX_KEYS)
    )


def _storage(kind: Any) -> Any:
    """The plain Arrow type of a (possibly extension) type: GeoArrow's WKB is binary."""
    import pyarrow as pa

    return kind.storage_type if isinstance(kind, pa.ExtensionType) else kind


def write_geoparquet(
    batches: Iterable[Any],
    schema: Any,
    path: Path,
    *,
    geometry: str,
    crs: Any,
    geometry_types: Iterable[str],
) -> None:
    """Write Arrow ``batches`` of ``schema`` (``geometry`` a WKB column) as GeoParquet 1.1.

    One row group per batch. The geometry column is named ``geometry``;
    ``crs`` is anything :meth:`pyproj.CRS.from_user_input` takes (None: no
    CRS, written as ``null`` as the specification asks); ``geometry_types``
    are the OGC names of the types present (sorted into the metadata).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyproj import CRS

    column = {
        "encoding": "WKB",
        "geometry_types": sorted(set(geometry_types)),
        "crs": CRS.from_user_input(crs).to_json_dict() if crs else None,
        "covering": {"bbox": {key: ["bbox", key] for key in _BBOX_KEYS}},
    }
    geo = {
        "version": GEOPARQUET_VERSION,
        "primary_column": "geometry",
        "columns": {"geometry": column},
    }
    index = schema.get_field_index(geometry)
    fields = [
        pa.field("geometry" if k == index else f.name, _storage(f.type), f.nullable)
        for k, f in enumerate(schema)
    ]
    bbox_type = pa.struct([pa.field(key, pa.float64()) for key in _BBOX_KEYS])
    target = pa.schema([*fields, pa.field("bbox", bbox_type)])
    with pq.ParquetWriter(path, target.with_metadata({b"geo": json.dumps(geo).encode()})) as out:
        for batch in batches:
            columns = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in batch.columns]
            arrays = [*columns, _bbox_column(columns[index])]
            out.write_batch(pa.RecordBatch.from_arrays(arrays, schema=target))
