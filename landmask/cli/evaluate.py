"""``landmask evaluate``: a mask against ground truth."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from landmask.cli.options import common_options, processing_options, scheme_option


@click.command("evaluate")
@click.argument("pred", metavar="PRED.tif")
@click.argument("truth", metavar="TRUTH")
@click.option("--truth-column", metavar="C", help="Column of vector truth holding the labels.")
@click.option(
    "--truth-layer",
    metavar="LAYER",
    help="Layer of a vector truth file with several [default: its only layer of features].",
)
@click.option(
    "--truth-map",
    metavar="LABEL=CLASS,...",
    help="Map truth labels to classes, e.g. developed=urban,woods=forest or 10=forest,80=water; "
    "labels it does not name count as other (0).",
)
@scheme_option(
    "--truth-scheme",
    help="Class scheme of the truth labels, recoded into landcover for the comparison "
    "(default: the one a truth mask file records, else landcover).",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write every figure as JSON."
)
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False), help="Write a confusion-matrix PNG."
)
@click.option("--overwrite", is_flag=True, help="Replace existing --json/--plot files.")
@processing_options
@common_options
def evaluate_cmd(
    pred: str,
    truth: str,
    truth_column: str | None,
    truth_layer: str | None,
    truth_map: str | None,
    truth_scheme: Any,
    json_path: str | None,
    plot_path: str | None,
    overwrite: bool,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Compare the mask PRED.tif with TRUTH and report agreement.

    TRUTH is a mask raster (same grid, or any grid/CRS: warped onto PRED's grid
    by nearest neighbour, with a warning), polygons (rasterized onto PRED's
    grid, pixel centres inside) or points (PRED sampled at each point) in any
    vector format and CRS. Pixels that are nodata (255) or cloud (254) on
    either side are left out and counted. A mask or truth in another class
    scheme (worldcover, dynamic-world; a mask file records its own) is recoded
    into landcover first; a mask in the classes of a model's training labels
    (landmask train) is compared in those classes.

    Prints per-class IoU, precision (user's accuracy), recall (producer's
    accuracy), F1, mIoU, overall accuracy, kappa and the confusion matrix. With
    point truth, also the error-adjusted area of each class and accuracies with
    95% confidence intervals (Olofsson et al. 2014), the points taken as a
    sample stratified by the mapped classes.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.evaluation.evaluate import evaluate, parse_label_map
    from landmask.io.outputs import PNG, atomic_path, check_output, plan_outputs, write_json

    outputs = {k: p for k, p in (("--json", json_path), ("--plot", plot_path)) if p}
    png = functools.partial(check_output, fmt=PNG)
    plan_outputs(outputs, [pred, truth], overwrite=overwrite, checks={"--plot": png})
    label_map = parse_label_map(truth_map)
    with use_scheduler(scheduler), progress(False if quiet else None):
        result = evaluate(
            pred,
            truth,
            truth_column=truth_column,
            truth_layer=truth_layer,
            truth_map=label_map,
            chunk_size=chunk_size,
            truth_scheme=truth_scheme,
        )
    if json_path:
        write_json(Path(json_path), result.to_dict(), overwrite=overwrite)
    if plot_path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from landmask.viz.plot import confusion_matrix

        ax = confusion_matrix(result)
        with atomic_path(Path(plot_path), overwrite=overwrite) as tmp:
            ax.figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
    if not quiet:
        click.echo(result.table())
        if result.notes.get("unmapped_labels"):
            click.echo(
                f"{result.notes['unmapped_labels']} truth labels not in --truth-map "
                "were counted as other"
            )
