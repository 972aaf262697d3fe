"""``landmask train``: fit a pixel classifier from labels over a scene."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from landmask.classes import SCHEMES
from landmask.cli.options import (
    common_options,
    output_options,
    processing_options,
    scene_options,
)

if TYPE_CHECKING:
    from landmask.io.read.scene import SceneOptions


@click.command("train")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--labels",
    required=True,
    metavar="LABELS",
    help="Polygons or points in any vector format and CRS, or a label raster on any grid.",
)
@click.option("--label-column", metavar="C", help="Column of vector labels holding the class.")
@click.option(
    "--labels-layer",
    metavar="LAYER",
    help="Layer of a vector labels file with several [default: its only layer of features].",
)
@click.option(
    "--label-map",
    metavar="LABEL=CLASS,...",
    help="Map labels onto the classes of a built-in scheme (--scheme, default landcover), e.g. "
    "developed=urban,woods=forest; a label it does not name keeps its class if it is a class "
    "name of that scheme, else becomes other (0) and is counted in the report. Without it, "
    "labels keep their own classes unless all are landcover's.",
)
@click.option(
    "--scheme",
    metavar="NAME",
    help="The model's classes: 'labels' for the labels' own (ids of integer labels; 0..n-1 "
    "for text labels in sorted order), or a built-in scheme "
    f"({', '.join(SCHEMES)}) whose class names or ids the labels are or --label-map maps them to "
    "[default: landcover if the labels are all its classes or --label-map is given, else "
    "the labels' own].",
)
@click.option(
    "--index",
    "indices",
    multiple=True,
    metavar="NAME",
    help="Index feature besides the bands (repeatable) [default: ndvi, mndwi, ndbi and ndwi, "
    "where the scene has their bands].",
)
@click.option(
    "--estimator",
    type=click.Choice(["random-forest", "hist-gradient-boosting"]),
    default="random-forest",
    show_default=True,
)
@click.option(
    "--max-per-class",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="Cap on training pixels per class (a uniform random sample of each class).",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0.0, 0.5),
    default=0.2,
    show_default=True,
    help="Share of whole polygons (vector labels) or blocks (label rasters, points) held out "
    "for the accuracy and F1 of the report: one fold of round(1/F); 0 for none. Needs 2 "
    "polygons or blocks of every class, else the report has no hold-out score (a warning).",
)
@click.option(
    "--holdout-block",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    metavar="N",
    help="Side in pixels of the blocks held out together for a label raster or points.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling and model seed.")
@output_options
@scene_options
@processing_options
@common_options
def train_cmd(
    inputs: tuple[str, ...],
    labels: str,
    label_column: str | None,
    labels_layer: str | None,
    label_map: str | None,
    scheme: str | None,
    indices: tuple[str, ...],
    estimator: str,
    max_per_class: int,
    holdout: float,
    holdout_block: int,
    seed: int,
    output: str,
    overwrite: bool,
    scene: SceneOptions,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Fit a pixel classifier on INPUT... at the pixels LABELS mark; save it to -o MODEL.joblib.

    The features are the scene's bands (reflectance after the sensor's
    scale/offset) and spectral indices. Pixels with a missing band are left
    out. The classes are the labels' own (names, ids and colours; they travel
    into the masks the model makes) unless the labels are landcover's or
    --label-map maps them onto a built-in scheme.

    The accuracy and F1 of the report come from whole polygons (or, for a
    label raster or points, whole blocks of --holdout-block px) held out from
    a first fit: never pixels of a polygon it trained on. The saved model is
    then fitted on all sampled pixels.

    The model file records its bands, features, classes, sensor, scale/offset
    and radiometry and the training report (printed too); use it with
    landmask classify --model sklearn:MODEL.joblib, which refuses scenes of
    another radiometry (digital numbers for a reflectance model, or the
    reverse).

    A .joblib file is a pickle: loading one runs code stored in it. Load only
    model files you made or trust.

    \b
    Example:
      landmask train S2_B*.tif --sensor sentinel2-l2a --labels parcels.gpkg \\
          --label-column landuse --label-map woods=forest,built=urban,lake=water \\
          -o model.joblib
    """
    from landmask._runtime.schedulers import use_scheduler
    from landmask.evaluation.evaluate import parse_label_map
    from landmask.io.outputs import atomic_path, plan_outputs
    from landmask.models.training import train

    start = time.perf_counter()
    out = Path(output)
    if out.suffix.lower() != ".joblib":
        raise click.BadParameter(f"{output}: a model file ends in .joblib", param_hint="-o")
    plan_outputs({"-o": out}, [*inputs, labels], overwrite=overwrite)
    mapping = parse_label_map(label_map, option="--label-map")
    with use_scheduler(scheduler):
        reflectance = scene.open(inputs, chunk_size, needs=None)
        model = train(
            reflectance,
            labels,
            label_column=label_column,
            labels_layer=labels_layer,
            label_map=mapping,
            indices=list(indices) or None,
            estimator=estimator,
            max_per_class=max_per_class,
            holdout=holdout,
            holdout_block=holdout_block,
            seed=seed,
            scheme=scheme,
        )
    with atomic_path(out, overwrite=overwrite) as tmp:
        model.save(tmp)
    if quiet:
        return
    from landmask.io.read.radiometry import describe
    from landmask.models.training import TrainingReport

    click.echo(TrainingReport(**model.report).table())
    click.echo(f"{output}: {estimator}, classes {model.classes}")
    said = describe(reflectance.attrs)
    if said:
        click.echo(said)
    click.echo(f"done in {time.perf_counter() - start:.1f} s")
    if debug:
        click.echo(json.dumps(model.report, indent=2))
