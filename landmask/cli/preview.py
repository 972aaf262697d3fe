"""``landmask preview``: a colour-coded PNG of a mask with a legend."""

from __future__ import annotations

import functools
from typing import Any

import click

from landmask.cli.options import common_options, output_options, scheme_option


@click.command("preview")
@click.argument("mask", metavar="MASK.tif")
@output_options
@click.option(
    "--max-size",
    default=1024,
    type=click.IntRange(min=1),
    show_default=True,
    metavar="N",
    help="Longest side of the map.",
)
@scheme_option(help="Class scheme for names and colours (default: the one MASK records).")
@common_options
def preview_cmd(
    mask: str,
    output: str,
    overwrite: bool,
    max_size: int,
    scheme: Any,
    quiet: bool,
    debug: bool,
) -> None:
    """Write a colour-coded PNG of MASK.tif (-o OUT.png) with a legend of its classes.

    Reads an internal overview of the mask, so it is fast on masks of any size;
    nodata is transparent. Colours and class names are those of the class
    scheme the file records (its CLASS_SCHEME tag: landcover, worldcover, ...),
    or of --scheme for files that record none (e.g. ESA WorldCover tiles).
    """
    from landmask.io.outputs import PNG, check_output, plan_outputs
    from landmask.viz.preview import write_preview

    png = functools.partial(check_output, fmt=PNG)
    plan_outputs({"-o": output}, [mask], overwrite=overwrite, checks={"-o": png})
    write_preview(mask, output, max_size=max_size, scheme=scheme, overwrite=overwrite)
    if not quiet:
        click.echo(f"{output}: preview of {mask}")
