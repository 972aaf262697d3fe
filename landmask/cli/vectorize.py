"""``landmask vectorize``: mask -> polygons in a GIS format."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from landmask.cli.options import (
    common_options,
    output_options,
    polygonizing_options,
    scheme_option,
    split_classes,
    stac_option,
    vector_options,
)


def write_polygons(
    mask: str,
    output: str,
    classes: list[str] | None,
    connectivity: int,
    min_area: float | None,
    simplify: float | None,
    chunk_size: int | None,
    overwrite: bool,
    scheme: Any = None,
    stac: bool = True,
) -> Any:
    """Vectorize the mask file ``mask`` into ``output``; return a :class:`VectorSummary`.

    Class names and styling follow ``scheme``, by default the one the mask records.
    """
    from landmask.io.read.masks import open_mask
    from landmask.io.read.schemes import resolve_scheme
    from landmask.vector.vectorize import vectorize_to_file

    return vectorize_to_file(
        open_mask(mask, chunk_size),
        output,
        classes,
        connectivity=connectivity,
        min_area=min_area,
        simplify=simplify,
        scheme=resolve_scheme(scheme, mask),
        overwrite=overwrite,
        stac=stac,
    )


@click.command("vectorize")
@click.argument("mask", metavar="MASK.tif")
@output_options
@stac_option
@vector_options
@scheme_option(help="Class scheme of MASK for names and styling (default: the one MASK records).")
@click.option(
    "--allow-ungeoreferenced",
    is_flag=True,
    help="Accept a mask without CRS: polygons in pixel coordinates, areas in pixels.",
)
@polygonizing_options
@common_options
def vectorize_cmd(
    mask: str,
    output: str,
    overwrite: bool,
    stac: bool,
    classes: str | None,
    connectivity: str,
    min_area: float | None,
    simplify: float | None,
    scheme: Any,
    allow_ungeoreferenced: bool,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Turn the regions of MASK.tif into polygons written to -o OUT.

    The format follows the extension: .gpkg (layer named after the file, spatial
    index), .parquet (GeoParquet), .fgb (FlatGeobuf) or .geojson (EPSG:4326, RFC
    7946). One feature per connected region with class_id, class_name, area_m2
    and perimeter_m. Chunks are polygonized in parallel (by default in one
    worker process per CPU: polygonizing holds Python's GIL, so threads cannot
    share it; a mask of up to 4096² pixels in this process, a chunk at a time)
    and regions crossing chunk borders are stitched, so the result
    equals polygonizing the whole raster at once, for any --chunk-size and
    --scheduler.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.errors import GridError
    from landmask.io.companions import Output
    from landmask.io.inputs import open_raster
    from landmask.io.outputs import plan_outputs
    from landmask.vector.formats import check_vector_output

    start = time.perf_counter()
    planned = {"-o": Output(Path(output), "polygons", stac=stac)}
    plan_outputs(planned, [mask], overwrite=overwrite, checks={"-o": check_vector_output})
    picked = split_classes(classes)
    with open_raster(mask, "a mask") as ds:
        if ds.crs is None and not allow_ungeoreferenced:
            raise GridError(
                f"{mask}: has no CRS; pass --allow-ungeoreferenced for polygons in pixel "
                "coordinates"
            )
    with use_scheduler(scheduler), progress(False if quiet else None):
        summary = write_polygons(
            mask,
            output,
            picked,
            int(connectivity),
            min_area,
            simplify,
            chunk_size,
            overwrite,
            scheme,
            stac,
        )
    if not quiet:
        from landmask.io.read.schemes import resolve_scheme

        names = resolve_scheme(scheme, mask).names
        seconds = time.perf_counter() - start
        click.echo(f"{output}: {summary.total:,} polygons in {seconds:.1f} s")
        for class_id, n in sorted(summary.polygons.items()):
            km2 = summary.area_m2[class_id] / 1e6
            name = names.get(class_id, f"class_{class_id}")
            click.echo(f"  {name:<10} {n:>10,} polygons {km2:>12,.3f} km2")
