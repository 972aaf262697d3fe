"""``landmask run``: a batch workflow over many scenes."""

from __future__ import annotations

import click

from landmask.cli.options import common_options

#: Exit status when the run finished but at least one scene failed.
EXIT_SCENES_FAILED = 3


@click.command("run")
@click.argument("workflow", metavar="WORKFLOW.yaml", type=click.Path(dir_okay=False))
@click.option(
    "--scheduler",
    default=None,
    metavar="SPEC",
    help="threads, processes, synchronous, local:N (a LocalCluster of N workers) or "
    "tcp://host:port (an existing dask.distributed scheduler). Default: the workflow's "
    "'scheduler' key, else threads.",
)
@click.option(
    "--chunk-size",
    type=int,
    default=None,
    metavar="N",
    help="Chunk side in pixels, rounded to whole blocks of the input. Default: the "
    "workflow's 'chunk_size' key, else 1024.",
)
@click.option(
    "--force", is_flag=True, help="Redo every scene, including those the manifest lists as done."
)
@common_options
def run_cmd(
    workflow: str,
    scheduler: str | None,
    chunk_size: int | None,
    force: bool,
    quiet: bool,
    debug: bool,
) -> int:
    """Run the batch job WORKFLOW.yaml: classify every scene it names.

    Several scenes are processed at once on the chosen Dask scheduler. A
    manifest in the output folder records finished scenes with a fingerprint of
    their inputs and settings: a rerun skips them and redoes changed ones. A
    scene that fails is reported and does not stop the others. Prints a table
    per scene (status, time, pixels per class) and writes it as JSON to the
    output folder (outputs.summary, default run-summary.json).

    Exit status: 0 every scene done or skipped, 2 a bad workflow or option,
    3 at least one scene failed.
    """
    from landmask._runtime.malloc import share_one_heap
    from landmask.batch.run import run_workflow
    from landmask.batch.workflow import load_workflow

    share_one_heap()  # before the run's threads: its peak must not grow with its tiles
    wf = load_workflow(workflow)
    summary = run_workflow(wf, scheduler=scheduler, force=force, chunk_size=chunk_size, quiet=quiet)
    if not quiet:
        click.echo(summary.table())
        click.echo(f"summary: {wf.out_dir / wf.outputs.summary}")
    for failed in summary.failed if quiet else []:
        click.echo(f"landmask run: {failed.scene}: {failed.error}", err=True)
    return EXIT_SCENES_FAILED if summary.failed else 0
