"""Writing rasters: Cloud-Optimized GeoTIFFs, overviews, GIS styling sidecars, tables, mosaics."""
