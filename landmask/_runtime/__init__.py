"""Process-wide runtime: Dask schedulers and the allocator."""
