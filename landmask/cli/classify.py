"""``landmask classify``: scene -> land-cover mask."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

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
          --band swir16=5 --band blue=1 --scale 0.0001 -o mask.tif
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.analysis.areas import class_areas, format_areas, pixel_area_m2
    from landmask.classification.classify import classify, classify_with_probabilities
    from landmask.classification.quality import apply_quality, quality_mask
    from landmask.io.outputs import check_output
    from landmask.io.sensors import QUALITY_BANDS
    from landmask.io.write import write_mask
    from landmask.models.registry import load_model, model_scheme
    from landmask.spectral.thresholds import thresholds_of

    start = time.perf_counter()
    if model and rules:
        raise click.UsageError("give --rules or --model, not both")
    if probabilities and not model:
        raise click.UsageError("--probabilities needs --model")
    check_output(output, overwrite, inputs)
    if probabilities:
        if Path(probabilities).resolve() == Path(output).resolve():
            raise click.UsageError("--probabilities and -o name the same file")
        check_output(probabilities, overwrite, inputs)
    if vector:
        from landmask.vector.formats import check_vector_output
        from landmask.vector.vectorize import resolve_classes

        check_vector_output(vector, overwrite)
    default_rules = "naip" if (scene.sensor or "").lower() == "naip" else "default"
    loaded = load_model(model or f"rules:{rules or default_rules}")
    scheme = model_scheme(loaded)
    scene = _scene_from_model(scene, loaded)
    wanted = split_classes(classes)
    if vector:
        resolve_classes(wanted, scheme)  # bad names fail before any work
    with use_scheduler(scheduler):
        needs = _needs(loaded) | set(QUALITY_BANDS) if quality else _needs(loaded)
        reflectance = scene.open(inputs, chunk_size, needs=needs)
        proba = None
        if model and probabilities:
            mask, proba = classify_with_probabilities(
                reflectance, model, min_confidence=min_confidence
            )
        elif model:
            mask = classify(reflectance, model=model, min_confidence=min_confidence)
        else:
            mask = classify(reflectance, loaded.ruleset)
        if quality:
            mask = apply_quality(mask, quality_mask(reflectance))
        with progress(False if quiet else None):
            result = write_mask(
                mask,
                output,
                overwrite=overwrite,
                scheme=scheme,
                probabilities=proba,
                probabilities_path=probabilities,
            )
        if vector:
            # polygonizing holds the GIL: local threads hand it to worker
            # processes, as `landmask vectorize` does by default
            local_threads = scheduler.strip() == "threads"
            pool = use_scheduler("processes") if local_threads else contextlib.nullcontext()
            with pool, progress(False if quiet else None):
                polygons = write_polygons(
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
    how = f"model {model}" if model else f"rules {loaded.ruleset.name}"
    masked = f", quality {mask.attrs['quality']}" if mask.attrs.get("quality") else ""
    click.echo(f"{output}: {width}x{height} px, {how}{masked}")
    for name, value in thresholds_of(mask).items():
        click.echo(f"threshold {name} = {value:.4f} (from the scene's histogram)")
    click.echo(format_areas(class_areas(result.counts, transform, crs, scheme), exact))
    if probabilities:
        click.echo(f"{probabilities}: probabilities of {len(loaded.classes)} classes")
    if vector:
        click.echo(f"{vector}: {polygons.total:,} polygons")
    elapsed = time.perf_counter() - start
    click.echo(f"done in {elapsed:.1f} s ({width * height / elapsed / 1e6:.1f} Mpx/s)")


def _needs(model: Any) -> frozenset[str]:
    """Names the scene must provide: a rule set's index and band names, else the model's bands."""
    ruleset = getattr(model, "ruleset", None)
    return ruleset.names if ruleset is not None else frozenset(model.bands)


def _scene_from_model(scene: SceneOptions, model: Any) -> SceneOptions:
    """Default the sensor, scale and offset to those a trained model was made with."""
    sensor = getattr(model, "sensor", None)
    if scene.sensor or scene.bands or not sensor or sensor == "generic":
        return scene
    return dataclasses.replace(
        scene,
        sensor=sensor,
        scale=scene.scale if scene.scale is not None else getattr(model, "scale", None),
        offset=scene.offset if scene.offset is not None else getattr(model, "offset", None),
    )
