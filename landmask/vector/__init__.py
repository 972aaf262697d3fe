"""Masks to polygons: sieve, chunked vectorization and vector file formats."""
