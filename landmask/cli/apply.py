"""``landmask apply``: cut out, blur or crop an image by the classes of a mask."""

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


@click.command("apply")
@click.argument("image", metavar="IMAGE")
@click.argument("mask", metavar="MASK.tif")
@output_options
@stac_option
@click.option(
    "--keep",
    required=True,
    metavar="NAME,...",
    help="Classes to keep, names or ids, comma-separated (e.g. water,forest).",
)
@click.option(
    "--mode",
    type=click.Choice(["cutout", "blur", "crop"]),
    default="cutout",
    show_default=True,
    help="cutout: other pixels become nodata; blur: other pixels are blurred; "
    "crop: cut to the bounds of the kept pixels.",
)
@click.option(
    "--nodata",
    type=float,
    metavar="V",
    help="cutout: value of cut pixels [default: IMAGE's nodata, else NaN for floats, "
    "0 for unsigned, the minimum for signed integers].",
)
@click.option(
    "--sigma",
    type=float,
    default=5.0,
    show_default=True,
    metavar="PX",
    help="blur: standard deviation of the Gaussian, in pixels.",
)
@scheme_option(help="Class scheme of MASK for --keep names (default: the one MASK records).")
@processing_options
@common_options
def apply_cmd(
    image: str,
    mask: str,
    output: str,
    overwrite: bool,
    stac: bool,
    keep: str,
    mode: str,
    nodata: float | None,
    sigma: float,
    scheme: Any,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Apply MASK.tif to IMAGE, keeping the --keep classes, and write -o OUT.tif.

    IMAGE is any raster on MASK's grid (same CRS, transform and size), e.g. the
    scene the mask was classified from; it keeps its bands, dtype and values.
    The output is a Cloud-Optimized GeoTIFF (DEFLATE tiles, averaged
    overviews) written chunk by chunk; with --mode crop its transform is
    moved to the cropped window's corner.

    \b
    Examples:
      landmask apply scene.tif mask.tif --keep water -o water-only.tif
      landmask apply scene.tif mask.tif --keep forest,urban --mode blur -o focus.tif
      landmask apply scene.tif mask.tif --keep water --mode crop -o lakes.tif
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.io.companions import Output
    from landmask.io.outputs import GEOTIFF, check_output, plan_outputs
    from landmask.io.read.masks import open_image, open_mask
    from landmask.io.write.rasters import write_image
    from landmask.products.apply import apply_mask

    start = time.perf_counter()
    geotiff = functools.partial(check_output, fmt=GEOTIFF)
    planned = {"-o": Output(Path(output), "image", stac=stac)}
    plan_outputs(planned, [image, mask], overwrite=overwrite, checks={"-o": geotiff})
    with use_scheduler(scheduler):
        img = open_image(image, chunk_size)
        msk = open_mask(mask, chunk_size)
        out = apply_mask(
            img,
            msk,
            keep=keep,
            mode=mode,  # type: ignore[arg-type]
            scheme=scheme,
            nodata=nodata,
            sigma=sigma,
        )
        with progress(False if quiet else None):
            write_image(
                out.assign_attrs(sources=[image, mask]), output, overwrite=overwrite, stac=stac
            )
    if not quiet:
        h, w = out.shape[-2:]
        click.echo(f"{output}: {mode} of {image} keeping {keep}, {w}x{h} px")
        if mode == "crop":
            click.echo(f"  window origin {tuple(out.rio.transform())[2::3][:2]}")
        click.echo(f"done in {time.perf_counter() - start:.1f} s")
