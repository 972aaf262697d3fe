"""``landmask change``: the from-to change of two masks, its transition matrix and polygons."""

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
    split_classes,
    stac_option,
)


@click.command("change")
@click.argument("before", metavar="BEFORE.tif")
@click.argument("after", metavar="AFTER.tif")
@output_options
@stac_option
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write the matrix and figures."
)
@click.option(
    "--vector",
    "vector_path",
    type=click.Path(dir_okay=False),
    help="Also write polygons of the changed pixels (.gpkg, .parquet, .fgb, .geojson) with "
    "from/to classes and areas.",
)
@click.option(
    "--classes",
    metavar="NAME,...",
    help="Classes whose changes are drawn in --vector and listed in the summary (names or "
    "ids, comma-separated): transitions from or to one of them [default: all].",
)
@scheme_option(
    help="Class scheme to compare in (default: the masks' common scheme; landcover when one "
    "mask is in landcover and the other maps onto it)."
)
@processing_options
@common_options
def change_cmd(
    before: str,
    after: str,
    output: str,
    overwrite: bool,
    stac: bool,
    json_path: str | None,
    vector_path: str | None,
    classes: str | None,
    scheme: Any,
    chunk_size: int | None,
    scheduler: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Change from BEFORE.tif to AFTER.tif: a from-to raster -o CHANGE.tif.

    Both masks must be in one CRS; AFTER on another grid is warped onto
    BEFORE's by nearest neighbour, with a warning. Each pixel of CHANGE.tif is
    code = before_index * n + after_index over the n classes of the scheme
    but cloud and nodata (landcover: 0 other -> other, 1 other -> forest,
    ..., 6 forest -> urban, ..., 15 water -> water), 255 where either date
    is nodata or cloud; the file names every transition ("forest -> urban")
    and colours it. Prints the transition matrix (km², rows before, columns
    after) and the gains, losses and net change of each class; the result
    does not depend on --chunk-size.
    """
    from landmask._runtime.schedulers import progress, use_scheduler
    from landmask.analysis.change import change, transitions
    from landmask.errors import ConfigError
    from landmask.io.companions import Output, remove_with_companions
    from landmask.io.outputs import GEOTIFF, check_output, plan_outputs, write_json
    from landmask.io.read.masks import open_mask
    from landmask.io.read.schemes import resolve_scheme
    from landmask.io.write.rasters import write_mask
    from landmask.vector.formats import check_vector_output
    from landmask.vector.vectorize import vectorize_to_file

    start = time.perf_counter()
    out = Path(output)
    planned = {
        "-o": Output(out, "mask", stac=stac),
        "--json": Output(Path(json_path)) if json_path else None,
        "--vector": Output(Path(vector_path), "polygons", stac=stac) if vector_path else None,
    }
    outputs = {k: v for k, v in planned.items() if v is not None}
    geotiff = functools.partial(check_output, fmt=GEOTIFF)
    checks: dict[str, Any] = {"-o": geotiff, "--vector": check_vector_output}
    plan_outputs(outputs, [before, after], overwrite=overwrite, checks=checks)
    codes = change(before, after, scheme=scheme, chunk_size=chunk_size)
    ch_scheme = resolve_scheme(None, codes)
    picked = _picked(split_classes(classes), ch_scheme)
    changed = [
        c.id
        for c in ch_scheme
        if (pair := ch_scheme.transition(c.id))
        and pair[0].id != pair[1].id
        and (picked is None or pair[0].id in picked or pair[1].id in picked)
    ]
    if vector_path and not changed:
        raise ConfigError(f"--vector {vector_path}: the scheme has no transition to draw")
    done: list[Output] = []
    with use_scheduler(scheduler), progress(False if quiet else None):
        try:
            written = write_mask(codes, out, overwrite=overwrite, stac=stac)
            done.append(outputs["-o"])
            matrix = transitions(written.path, chunk_size=chunk_size)
            if json_path:
                write_json(Path(json_path), matrix.to_dict(), overwrite=overwrite)
                done.append(outputs["--json"])
            polygons = None
            if vector_path:
                polygons = vectorize_to_file(
                    open_mask(written.path, chunk_size),
                    vector_path,
                    changed,
                    scheme=ch_scheme,
                    overwrite=overwrite,
                    stac=stac,
                )
        except BaseException:  # nothing half-done: what this run published goes too
            remove_with_companions(done)
            raise
    if not quiet:
        click.echo(f"{output}: change map in {time.perf_counter() - start:.1f} s")
        click.echo(matrix.table(sorted(picked) if picked is not None else None))
        if polygons is not None:
            click.echo(f"{vector_path}: {polygons.total:,} polygons of changed pixels")


def _picked(names: list[str] | None, ch_scheme: Any) -> set[int] | None:
    """``--classes`` -> class ids of the dates' scheme; None for all."""
    from landmask.classes import change_states
    from landmask.errors import ConfigError

    if names is None:
        return None
    states = change_states(ch_scheme.base)
    out = set()
    for text in names:
        found = [c.id for c in states if c.name == text or str(c.id) == text]
        if not found:
            known = ", ".join(c.name for c in states)
            raise ConfigError(f"--classes {text}: no class of {ch_scheme.base.name!r} ({known})")
        out.update(found)
    return out
