"""``landmask composite``: the scenes of a period -> one cloud-free composite on one grid."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import click

from landmask.cli.options import common_options, output_options, processing_options, stac_option


def _bounds(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise click.BadParameter(f"{value!r}: expected LEFT,BOTTOM,RIGHT,TOP", param=param)
    return parts


@click.command("composite")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@output_options
@stac_option
@click.option(
    "--period", metavar="START/END", help="Keep scenes acquired in these ISO dates (.. for open)."
)
@click.option(
    "--like", metavar="RASTER", type=click.Path(dir_okay=False), help="Take this raster's grid."
)
@click.option(
    "--crs", metavar="CRS", help="Target CRS (EPSG:32633, WKT) [default: the first scene's]."
)
@click.option(
    "--resolution",
    type=float,
    metavar="RES",
    help="Pixel size in CRS units [default: the first scene's].",
)
@click.option(
    "--bounds",
    callback=_bounds,
    metavar="L,B,R,T",
    help="Region in the target CRS [default: the union of footprints].",
)
@click.option(
    "--stat",
    "stats",
    multiple=True,
    metavar="STAT",
    help="Band statistic (repeatable): median (default), min, max, pNN.",
)
@click.option(
    "--feature",
    "features",
    multiple=True,
    metavar="INDEX:STATS",
    help="Index statistics (repeatable), e.g. ndvi:p10,p50,p90.",
)
@click.option(
    "--bands",
    "band_names",
    metavar="NAMES",
    help="Comma-separated common names [default: every band all scenes share].",
)
@click.option(
    "--sensor",
    metavar="PRESET",
    help="Sensor preset for file inputs (sentinel2-l2a, landsat-c2-l2, ...).",
)
@click.option(
    "--resampling",
    type=click.Choice(["bilinear", "average", "nearest"]),
    default="bilinear",
    show_default=True,
    help="How reflectance is warped.",
)
@click.option(
    "--no-quality",
    "quality",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Keep pixels the quality band marks as cloud.",
)
@processing_options
@common_options
def composite_cmd(
    inputs: tuple[str, ...],
    output: str,
    overwrite: bool,
    stac: bool,
    period: str | None,
    like: str | None,
    crs: str | None,
    resolution: float | None,
    bounds: tuple[float, float, float, float] | None,
    stats: tuple[str, ...],
    features: tuple[str, ...],
    band_names: str | None,
    sensor: str | None,
    resampling: str,
    quality: bool,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Composite the scenes INPUT... of a period into one float32 GeoTIFF (-o OUT.tif).

    INPUT is a STAC item, ItemCollection or catalog (one item a date), or files
    named as the provider names them (the date from the product id or MTL/MTD;
    one scene per product and folder). Each date is cloud-masked with its
    quality band (SCL, QA_PIXEL), warped chunk by chunk onto the target grid
    and reduced per pixel over the clear dates: one band per statistic
    (blue_median, ndvi_p90) and a last band clear_count. Scenes of one
    acquisition (same platform and day) are merged, not counted twice.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.io.companions import Output
    from landmask.io.outputs import GEOTIFF, check_output, plan_outputs
    from landmask.io.write.rasters import write_indices
    from landmask.temporal.composite import as_dataset, composite

    start = time.perf_counter()
    geotiff = functools.partial(check_output, fmt=GEOTIFF)
    planned = {"-o": Output(Path(output), "indices", stac=stac)}
    read = [*inputs, *([like] if like else [])]
    plan_outputs(planned, read, overwrite=overwrite, checks={"-o": geotiff})
    with use_scheduler(scheduler):
        arr = composite(
            list(inputs),
            like=like,
            crs=crs,
            resolution=resolution,
            bounds=bounds,
            period=period,
            stats=list(stats) or ["median"],
            features=list(features),
            bands=[b.strip() for b in band_names.split(",")] if band_names else None,
            sensor=sensor,
            resampling=resampling,
            quality=quality,
            chunk_size=chunk_size,
        )
        with progress(False if quiet else None):
            write_indices(as_dataset(arr), output, overwrite=overwrite, stac=stac)
    if not quiet:
        size = f"{arr.sizes['x']}x{arr.sizes['y']} px"
        elapsed = time.perf_counter() - start
        click.echo(
            f"{output}: {arr.sizes['band'] - 1} statistics of {len(arr.attrs['dates'])} dates "
            f"({arr.attrs['start_datetime'][:10]} to {arr.attrs['end_datetime'][:10]}, {size}) "
            f"in {elapsed:.1f} s"
        )
