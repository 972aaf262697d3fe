"""``landmask zonal``: exact class areas per zone, as a table or as zones with attributes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from landmask.cli.options import (
    common_options,
    output_options,
    processing_options,
    scheme_option,
    split_classes,
    stac_option,
)

#: Output formats: a plain table, or the zones with their geometry (joinable in a GIS)
TABLE_FORMATS = (".csv",)


@click.command("zonal")
@click.argument("mask", metavar="MASK.tif")
@click.argument("zones", metavar="ZONES")
@output_options
@stac_option
@click.option(
    "--zone-column",
    metavar="C",
    help="Column naming the zones (unique values) [default: the first unique column, "
    "else the row number].",
)
@click.option(
    "--zones-layer",
    metavar="NAME",
    help="Layer of ZONES to read [default: the only layer with geometry].",
)
@click.option(
    "--classes",
    metavar="NAME,...",
    help="Classes to report (names or ids, comma-separated) [default: all; cloud and nodata "
    "are always reported].",
)
@scheme_option(help="Class scheme of MASK (default: the one MASK records).")
@processing_options
@common_options
def zonal_cmd(
    mask: str,
    zones: str,
    output: str,
    overwrite: bool,
    stac: bool,
    zone_column: str | None,
    zones_layer: str | None,
    classes: str | None,
    scheme: Any,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Exact area of each class of MASK.tif inside each polygon of ZONES.

    One row per zone: <class>_m2 (pixels weighted by the share of their area
    inside the zone; on the ellipsoid for a geographic mask), cloud_m2,
    nodata_m2, inside_m2 (the zone's area inside the raster) and
    <class>_fraction (of inside_m2). ZONES may be any vector format in any CRS.
    -o OUT.csv writes the table alone (key and figures); .gpkg, .parquet, .fgb and .geojson keep
    the zones' geometries and attributes. The mask is read chunk by chunk
    (numpy work that releases the GIL, so the default scheduler is threads);
    the result does not depend on --chunk-size.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.analysis.zonal import zonal_stats
    from landmask.errors import ConfigError
    from landmask.io.companions import Output
    from landmask.io.outputs import plan_outputs
    from landmask.io.stac.items import Lineage
    from landmask.io.write.tables import write_csv
    from landmask.vector.formats import VECTOR_FORMATS, write_vector

    start = time.perf_counter()
    out = Path(output)
    ext = out.suffix.lower()
    if ext not in TABLE_FORMATS and ext not in VECTOR_FORMATS:
        known = ", ".join((*TABLE_FORMATS, *VECTOR_FORMATS))
        raise ConfigError(f"{out}: unknown output format {out.suffix!r} (use {known})")
    vector = ext in VECTOR_FORMATS
    planned = Output(out, "vector" if vector else "table", stac=stac and vector)
    plan_outputs({"-o": planned}, [mask, zones], overwrite=overwrite)
    with use_scheduler(scheduler), progress(False if quiet else None):
        frame = zonal_stats(
            mask,
            zones,
            zone_column=zone_column,
            zones_layer=zones_layer,
            classes=split_classes(classes),
            scheme=scheme,
            chunk_size=chunk_size,
        )
    if ext in TABLE_FORMATS:
        key = frame.attrs["key"]
        stats = [c for c in frame.columns if c.endswith(("_m2", "_fraction"))]
        table = frame[[key, *(c for c in stats if c != key)]]
        write_csv(table, out, overwrite=overwrite)
    else:
        write_vector(frame, out, overwrite=overwrite, stac=stac, lineage=Lineage((mask, zones)))
    if not quiet:
        _summary(frame, output, time.perf_counter() - start)


def _summary(frame: Any, out: str | Path, seconds: float) -> None:
    """Zones and the total area per class over all zones (km²); notes came as warnings."""
    click.echo(f"{out}: {len(frame):,} zones in {seconds:.1f} s")
    areas = [c for c in frame.columns if c.endswith("_m2") and c != "inside_m2"]
    inside = float(frame["inside_m2"].sum())
    for col in areas:
        km2 = float(frame[col].sum()) / 1e6
        share = f"{100 * km2 * 1e6 / inside:6.1f}%" if inside else ""
        click.echo(f"  {col[:-3]:<24} {km2:>14,.4f} km2 {share}")
    click.echo(f"  {'inside the mask':<24} {inside / 1e6:>14,.4f} km2")
