"""Files in and out, split by what they do.

The floor every stage shares: :mod:`~landmask.io.inputs` (the one safe opener),
:mod:`~landmask.io.outputs` and :mod:`~landmask.io.companions` (the one output
plan: an output, its companions, atomic writes), :mod:`~landmask.io.yamldoc`
(the one bounded YAML loader) and :mod:`~landmask.io.statistic_tags`. Above it,
from the bottom up (a subpackage imports only those below it):

    sensors/   sensor presets, providers' products, acquisition times
    stac/      STAC: reading items (read) and writing them beside outputs (items)
    read/      scenes -> lazy reflectance; masks and images; band naming, grids
    write/     Cloud-Optimized GeoTIFFs, overviews, GIS styling, tables, mosaics
"""
