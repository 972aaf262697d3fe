"""Masks to polygons: sieve, chunked vectorization and vector file formats."""

from __future__ import annotations

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
