"""``landmask classify``: scene -> land-cover mask."""

from __future__ import annotations

import time

import click

from landmask.cli.options import (
    SceneOptions,
    common_options,
    output_options,
    processing_options,
    scene_options,
)
from landmask.cli.vectorize import split_classes, vector_options, write_polygons


@click.command("classify")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@output_options
@scene_options
@click.option(
    "--rules",
    default=None,
    metavar="FILE|NAME",
    help="Rule set: a YAML file or a built-in name (default; naip for RGB+NIR). "
    "Default: naip with --sensor naip, else default.",
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
    scene: SceneOptions,
    rules: str | None,
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
    255 nodata, with a colour table and the input's CRS and transform.

    \b
    Examples:
      landmask classify S2_B02.tif S2_B03.tif S2_B04.tif S2_B08.tif S2_B11.tif \\
          --sensor sentinel2-l2a -o mask.tif
      landmask classify naip.tif --sensor naip -o mask.tif
      landmask classify scene.tif --band green=2 --band red=3 --band nir=4 \\
          --band swir16=5 --band blue=1 --scale 0.0001 -o mask.tif
    """
    from landmask.areas import class_areas, format_areas, pixel_area_m2
    from landmask.classify import classify
    from landmask.rules import load_rules
    from landmask.schedulers import progress, use_scheduler
    from landmask.thresholds import thresholds_of
    from landmask.write import check_output, write_mask

    start = time.perf_counter()
    check_output(output, overwrite, inputs)
    if vector:
        from landmask.vector_formats import check_vector_output
        from landmask.vectorize import resolve_classes

        check_vector_output(vector, overwrite)
    ruleset = load_rules(rules or ("naip" if (scene.sensor or "").lower() == "naip" else "default"))
    wanted = split_classes(classes)
    if vector:
        resolve_classes(wanted, ruleset.scheme)  # bad names fail before any work
    with use_scheduler(scheduler):
        reflectance = scene.open(inputs, chunk_size, needs=ruleset.names)
        mask = classify(reflectance, ruleset)
        with progress(False if quiet else None):
            result = write_mask(mask, output, overwrite=overwrite, scheme=ruleset.scheme)
        if vector:
            with progress(False if quiet else None):
                frame = write_polygons(
                    output,
                    vector,
                    wanted,
                    int(connectivity),
                    min_area,
                    simplify,
                    chunk_size,
                    overwrite,
                )
    if quiet:
        return
    transform, crs = mask.rio.transform(), mask.rio.crs
    _, exact = pixel_area_m2(transform, crs)
    height, width = mask.shape
    click.echo(f"{output}: {width}x{height} px, rules {ruleset.name}")
    for name, value in thresholds_of(mask).items():
        click.echo(f"threshold {name} = {value:.4f} (from the scene's histogram)")
    click.echo(format_areas(class_areas(result.counts, transform, crs, ruleset.scheme), exact))
    if vector:
        click.echo(f"{vector}: {len(frame):,} polygons")
    elapsed = time.perf_counter() - start
    click.echo(f"done in {elapsed:.1f} s ({width * height / elapsed / 1e6:.1f} Mpx/s)")
