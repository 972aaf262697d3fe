"""Masks to polygons: sieve, chunked vectorization and vector file formats."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.vector.formats import VECTOR_FORMATS, write_vector
    from landmask.vector.sieve import sieve
    from landmask.vector.vectorize import VectorSummary, vectorize, vectorize_to_file

__all__ = [
    "VECTOR_FORMATS",
    "VectorSummary",
    "sieve",
    "vectorize",
    "vectorize_to_file",
    "write_vector",
]

# polygonizing workers import landmask.vector._polygonize alone: not geopandas and Dask too
export_lazily(
    __name__,
    {
        "VECTOR_FORMATS": "landmask.vector.formats",
        "VectorSummary": "landmask.vector.vectorize",
        "sieve": "landmask.vector.sieve",
        "vectorize": "landmask.vector.vectorize",
        "vectorize_to_file": "landmask.vector.vectorize",
        "write_vector": "landmask.vector.formats",
    },
)
