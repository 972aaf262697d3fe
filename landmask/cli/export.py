"""``landmask export``: a mask as a grayscale GeoTIFF of class ids or an RGB colour GeoTIFF."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import click

from landmask.cli.options import (
    common_options,
    output_options,
    processing_options,
    scheme_option,
    stac_option,
)


@click.command("export")
@click.argument("mask", metavar="MASK.tif")
@output_options
@stac_option
@click.option(
    "--rgb",
    is_flag=True,
    help="Paint class colours: red, green, blue and alpha bands, nodata transparent "
    "(default: one grayscale band of class ids, nodata 255).",
)
@scheme_option(help="Class scheme for names and colours (default: the one MASK records).")
@processing_options
@common_options
def export_cmd(
    mask: str,
    output: str,
    overwrite: bool,
    stac: bool,
    rgb: bool,
    scheme: Any,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Export MASK.tif as a GeoTIFF (-o OUT.tif) for tools that need plain pixels.

    Without --rgb: one uint8 band of class ids, nodata 255, no colour table,
    with the class names in its metadata and a QGIS style beside it. With
    --rgb: four uint8 bands (red, green, blue, alpha) in the class colours,
    alpha 0 on nodata. Both are Cloud-Optimized GeoTIFFs (512-px DEFLATE
    tiles, overviews) with MASK's exact CRS and transform, written chunk by
    chunk; the file appears only when complete.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.io.companions import Output
    from landmask.io.outputs import GEOTIFF, check_output, plan_outputs
    from landmask.products.export import export_mask

    start = time.perf_counter()
    geotiff = functools.partial(check_output, fmt=GEOTIFF)
    planned = {"-o": Output(Path(output), "image" if rgb else "mask", stac=stac)}
    plan_outputs(planned, [mask], overwrite=overwrite, checks={"-o": geotiff})
    with use_scheduler(scheduler), progress(False if quiet else None):
        export_mask(
            mask,
            output,
            rgb=rgb,
            scheme=scheme,
            overwrite=overwrite,
            chunk_size=chunk_size,
            stac=stac,
        )
    if not quiet:
        kind = "RGBA colours" if rgb else "grayscale class ids"
        click.echo(f"{output}: {kind} of {mask} in {time.perf_counter() - start:.1f} s")
