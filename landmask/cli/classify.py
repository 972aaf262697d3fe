"""``landmask classify``: scene -> land-cover mask."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from landmask.cli.options import (
    common_options,
    output_options,
    processing_options,
    scene_options,
    split_classes,
    stac_option,
    vector_options,
)

if TYPE_CHECKING:
    from landmask.io.read.scene import SceneOptions


@click.command("classify")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@output_options
@stac_option
@scene_options
@click.option(
    "--rules",
    default=None,
    metavar="FILE|NAME",
    help="Rule set: a YAML file or a built-in name (default, naip, adaptive, adaptive-rgbn, "
    "annual for a year's composite made with --stat median --stat p10 --stat p90 --feature "
    "ndvi:p10,p90 --feature mndwi:p10,p90). Without it the set is chosen from "
    "the scene's radiometry and bands, and printed: adaptive(-rgbn) for digital numbers, "
    "naip for reflectance without both SWIR bands (1.6 and 2.2 um), else default.",
)
@click.option(
    "--model",
    metavar="SPEC",
    help="Classify with a model instead of rules: rules:NAME|FILE, sklearn:MODEL.joblib, "
    "onnx:MODEL.onnx, a plug-in name (see landmask models) or package.module:factory. "
    "A .joblib file is a pickle and runs code when loaded: use only files you trust.",
)
@click.option(
    "--min-confidence",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="With --model: a pixel whose best class probability is lower becomes 0 (other).",
)
@click.option(
    "--probabilities",
    metavar="OUT.tif",
    type=click.Path(dir_okay=False),
    help="With --model: also write per-class probabilities, one uint8 band per class "
    "(probability = value / 254, 255 = nodata), from the same pass over the scene.",
)
@click.option(
    "--quality/--no-quality",
    default=True,
    show_default=True,
    help="Mark pixels hidden by cloud, cloud shadow or cirrus as 254 (cloud) and pixels "
    "without data as 255 from the scene's SCL (Sentinel-2) or QA_PIXEL (Landsat) band, "
    "when the inputs include one.",
)
@click.option(
    "--vector",
    metavar="OUT",
    type=click.Path(dir_okay=False),
    help="Also write the mask's polygons (.gpkg, .parquet, .fgb, .geojson); see vectorize.",
)
@vector_options
@processing_options
@common_options
def classify_cmd(
    inputs: tuple[str, ...],
    output: str,
    overwrite: bool,
    stac: bool,
    scene: SceneOptions,
    rules: str | None,
    model: str | None,
    min_confidence: float,
    probabilities: str | None,
    quality: bool,
    vector: str | None,
    classes: str | None,
    connectivity: str,
    min_area: float | None,
    simplify: float | None,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Classify INPUT... into a land-cover mask written to -o MASK.tif.

    INPUT is one multi-band raster or several single-band rasters on one grid
    (any GDAL path: GeoTIFF/COG, VRT, JP2, /vsicurl/ URLs). The mask is a
    Cloud-Optimized GeoTIFF of class ids: 0 other, 1 forest, 2 urban, 3 water,
    254 cloud, 255 nodata, with a colour table and the input's CRS and transform.
    INPUT may also be a STAC item JSON file. Bands of a coarser resolution
    (Sentinel-2 20 m) are resampled onto the finest grid.

    \b
    Examples:
      landmask classify S2_B02.tif S2_B03.tif S2_B04.tif S2_B08.tif S2_B11.tif \\
          --sensor sentinel2-l2a -o mask.tif
      landmask classify naip.tif --sensor naip -o mask.tif
      landmask classify scene.tif --model sklearn:model.joblib -o mask.tif
      landmask classify scene.tif --band green=2 --band red=3 --band nir=4 \\
          --band swir16=5 --band blue=1 --scale 0.0001 --offset -0.1 -o mask.tif
    """
    from pathlib import Path

    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.analysis.areas import class_areas, format_areas
    from landmask.grid import Grid
    from landmask.io.read.radiometry import describe
    from landmask.io.statistic_tags import describe_statistic, thresholds_of
    from landmask.pipeline import SceneJob, VectorOptions, run_scene

    start = time.perf_counter()
    if model and rules:
        raise click.UsageError("give --rules or --model, not both")
    if probabilities and not model:
        raise click.UsageError("--probabilities needs --model")
    job = SceneJob(
        inputs=list(inputs),
        mask=Path(output),
        scene=scene,
        model=model or (f"rules:{rules}" if rules else None),
        min_confidence=min_confidence,
        quality=quality,
        probabilities=Path(probabilities) if probabilities else None,
        vector=Path(vector) if vector else None,
        vector_options=VectorOptions(split_classes(classes), int(connectivity), min_area, simplify),
        chunk_size=chunk_size,
        overwrite=overwrite,
        stac=stac,
    )
    with use_scheduler(scheduler), progress(False if quiet else None):
        outcome = run_scene(job)
    if quiet:
        return
    mask, scheme = outcome.mask, outcome.scheme
    transform, crs = mask.rio.transform(), mask.rio.crs
    _, exact = Grid(crs, transform, 1, 1).pixel_area()
    height, width = mask.shape
    how = f"model {model}" if model else f"rules {mask.attrs.get('rules')}"
    if mask.attrs.get("rules_basis"):
        how += f" ({mask.attrs['rules_basis']})"
    masked = f", quality {mask.attrs['quality']}" if mask.attrs.get("quality") else ""
    click.echo(f"{output}: {width}x{height} px, {how}{masked}")
    said = describe(mask.attrs)
    if said:
        click.echo(said)
    for name, value in thresholds_of(mask).items():
        click.echo(describe_statistic(name, value))
    click.echo(format_areas(class_areas(outcome.counts, transform, crs, scheme), exact))
    if probabilities:
        click.echo(f"{probabilities}: probabilities of {len(outcome.model.classes)} classes")
    if outcome.polygons is not None:
        click.echo(f"{vector}: {outcome.polygons.total:,} polygons")
    elapsed = time.perf_counter() - start
    click.echo(f"done in {elapsed:.1f} s ({_rate(width * height / elapsed)})")


def _rate(pixels_per_second: float) -> str:
    """``12.3 Mpx/s``, ``45 kpx/s``, ``800 px/s``: never ``0.0 Mpx/s`` for a small scene."""
    if pixels_per_second >= 1e6:
        return f"{pixels_per_second / 1e6:.1f} Mpx/s"
    if pixels_per_second >= 1e3:
        return f"{pixels_per_second / 1e3:.0f} kpx/s"
    return f"{pixels_per_second:.0f} px/s"
