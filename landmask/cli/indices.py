"""``landmask indices``: scene -> float32 spectral-index rasters."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from landmask.cli.options import (
    common_options,
    output_options,
    processing_options,
    scene_options,
    stac_option,
)

if TYPE_CHECKING:
    from landmask.io.read.scene import SceneOptions


@click.command("indices")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@output_options
@stac_option
@scene_options
@click.option(
    "--index",
    "names",
    multiple=True,
    required=True,
    metavar="NAME",
    help="Index to compute (repeatable): ndvi, ndwi, mndwi, ndbi, evi, savi, bsi, nbr, "
    "awei_nsh, awei_sh.",
)
@processing_options
@common_options
def indices_cmd(
    inputs: tuple[str, ...],
    output: str,
    overwrite: bool,
    stac: bool,
    scene: SceneOptions,
    names: tuple[str, ...],
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Compute spectral indices of INPUT... into a float32 GeoTIFF (-o OUT.tif).

    One band per --index, in the order given, described by the index name; NaN
    where an input is nodata or a denominator is zero. Formulas (float32 on
    reflectance):

    \b
    ndvi     (nir - red) / (nir + red)                       Rouse 1974
    ndwi     (green - nir) / (green + nir)                   McFeeters 1996
    mndwi    (green - swir16) / (green + swir16)             Xu 2006
    ndbi     (swir16 - nir) / (swir16 + nir)                 Zha 2003
    evi      2.5 (nir - red) / (nir + 6 red - 7.5 blue + 1)  Huete 2002
    savi     1.5 (nir - red) / (nir + red + 0.5)             Huete 1988
    bsi      ((swir16+red) - (nir+blue)) / ((swir16+red) + (nir+blue))
    nbr      (nir - swir22) / (nir + swir22)                 Key & Benson 2006
    awei_nsh 4 (green - swir16) - (0.25 nir + 2.75 swir22)   Feyisa 2014
    awei_sh  blue + 2.5 green - 1.5 (nir + swir16) - 0.25 swir22
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.io.companions import Output
    from landmask.io.outputs import GEOTIFF, check_output, plan_outputs
    from landmask.io.read.radiometry import describe
    from landmask.io.write.rasters import write_indices
    from landmask.spectral.indices import band_reads, check_index_names, compute_indices

    start = time.perf_counter()
    geotiff = functools.partial(check_output, fmt=GEOTIFF)
    planned = {"-o": Output(Path(output), "indices", stac=stac)}
    plan_outputs(planned, inputs, overwrite=overwrite, checks={"-o": geotiff})
    index_names = check_index_names(names)
    with use_scheduler(scheduler):
        reflectance = scene.open(inputs, chunk_size, needs=band_reads(index_names))
        indices = compute_indices(reflectance, index_names)
        with progress(False if quiet else None):
            write_indices(indices, output, overwrite=overwrite, stac=stac)
    if not quiet:
        size = f"{reflectance.sizes['x']}x{reflectance.sizes['y']} px"
        elapsed = time.perf_counter() - start
        click.echo(f"{output}: {', '.join(index_names)} ({size}) in {elapsed:.1f} s")
        said = describe(reflectance.attrs)
        if said:
            click.echo(said)
