"""``landmask demo``: run the whole pipeline on a synthetic scene with known truth."""

from __future__ import annotations

import time

import click

from landmask.cli.options import common_options, processing_options


@click.command("demo")
@click.option(
    "-o",
    "--output",
    "folder",
    default="landmask-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the scene, truth, mask and preview.",
)
@click.option("--size", default=2048, show_default=True, help="Scene size in pixels a side.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the scene.")
@click.option("--overwrite", is_flag=True, help="Replace the demo files in the folder.")
@click.option(
    "--workflow",
    "workflows",
    multiple=True,
    metavar="WORKFLOW.yaml",
    type=click.Path(dir_okay=False, exists=True),
    help="Instead: copy WORKFLOW.yaml (e.g. workflows/landsat-water.yaml; repeatable) into "
    "FOLDER/workflows/, make the data it names in FOLDER/data/ (synthetic, named and encoded "
    "as the provider ships it; --size 256 unless given) and run it into FOLDER/output/.",
)
@processing_options
@common_options
@click.pass_context
def demo_cmd(
    ctx: click.Context,
    folder: str,
    size: int,
    seed: int,
    overwrite: bool,
    workflows: tuple[str, ...],
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Make a synthetic Sentinel-2-like scene with known land cover and classify it.

    Writes FOLDER/scene.tif (6 bands, 10 m, UTM 33N), truth.tif, mask.tif (a
    Cloud-Optimized GeoTIFF with a colour table) and mask.png, then prints the
    IoU of each class against the truth.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.analysis.areas import class_areas, format_areas
    from landmask.demo import run_demo

    start = time.perf_counter()
    if workflows:
        _run_examples(ctx, folder, workflows, size, scheduler, overwrite, quiet)
        return
    with use_scheduler(scheduler), progress(False if quiet else None):
        result = run_demo(folder, size=size, seed=seed, chunk_size=chunk_size, overwrite=overwrite)
    if quiet:
        return
    import rasterio

    with rasterio.open(result.written.path) as ds:
        rows = class_areas(result.written.counts, ds.transform, ds.crs)
    click.echo(f"demo scene {size}x{size} px -> {result.folder}/")
    click.echo(format_areas(rows))
    click.echo("\nagreement with the truth:")
    click.echo(result.evaluation.table())
    click.echo(
        f"\nwrote scene.tif truth.tif mask.tif mask.png in {time.perf_counter() - start:.1f} s"
    )


def _run_examples(
    ctx: click.Context,
    folder: str,
    workflows: tuple[str, ...],
    size: int,
    scheduler: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """``--workflow``: each example on data made for it (:mod:`landmask.batch.examples`)."""
    from click.core import ParameterSource

    from landmask.batch.examples import EXAMPLE_SIZE, run_example
    from landmask.errors import WriteError

    given = ctx.get_parameter_source  # the workflow's own scheduler unless one is given
    chosen = scheduler if given("scheduler") != ParameterSource.DEFAULT else None
    side = size if given("size") != ParameterSource.DEFAULT else EXAMPLE_SIZE
    failed = 0
    for workflow in workflows:
        start = time.perf_counter()
        summary = run_example(
            workflow, folder, size=side, scheduler=chosen, overwrite=overwrite, quiet=quiet
        )
        failed += len(summary.failed)
        if not quiet:
            done = len(summary.scenes) - len(summary.failed)
            click.echo(
                f"{workflow}: {done} of {len(summary.scenes)} scenes done in {folder}/ "
                f"in {time.perf_counter() - start:.1f} s"
            )
    if failed:
        raise WriteError(f"{failed} scene(s) of the example workflows failed (see above)")
