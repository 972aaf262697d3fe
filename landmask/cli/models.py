"""``landmask models``: the models a spec can name, and what one model records."""

from __future__ import annotations

import click

from landmask.cli.options import common_options


@click.group("models", invoke_without_command=True)
@click.option(
    "--search",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False, exists=True),
    help="Also list .joblib and .onnx model files in DIR (repeatable).",
)
@common_options
@click.pass_context
def models_cmd(ctx: click.Context, search: tuple[str, ...], quiet: bool, debug: bool) -> None:
    """List the models --model SPEC can name; `landmask models show MODEL` describes one.

    Built-in rule sets (rules:NAME), models registered by installed packages
    under the entry-point group landmask.models (NAME or NAME:ARG), and model
    files found with --search (sklearn:PATH, onnx:PATH). Any module on the
    Python path can also provide one as package.module:factory.
    """
    if ctx.invoked_subcommand is not None:
        return
    from landmask.models.registry import available_models

    for info in available_models(search):
        click.echo(f"{info.spec:<32} {info.kind:<8} {info.description}")


@models_cmd.command("show")
@click.argument("model", metavar="MODEL")
@common_options
def show_cmd(model: str, quiet: bool, debug: bool) -> None:
    """Print what MODEL records: bands, features, sensor, scale/offset, nodata, classes, report.

    MODEL is a spec (sklearn:model.joblib, onnx:unet.onnx, rules:default, a
    plug-in name) or a .joblib/.onnx/.yaml file. A .joblib file is a pickle and
    runs code when loaded: show only files you trust.
    """
    from landmask.models.registry import describe_model, load_model, model_spec_of

    spec = model_spec_of(model)
    for line in describe_model(load_model(spec), spec):
        click.echo(line)
