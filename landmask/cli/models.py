"""``landmask models``: the models a spec can name."""

from __future__ import annotations

import click

from landmask.cli.options import common_options


@click.command("models")
@click.option(
    "--search",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False, exists=True),
    help="Also list .joblib and .onnx model files in DIR (repeatable).",
)
@common_options
def models_cmd(search: tuple[str, ...], quiet: bool, debug: bool) -> None:
    """List the models --model SPEC can name.

    Built-in rule sets (rules:NAME), models registered by installed packages
    under the entry-point group landmask.models (NAME or NAME:ARG), and model
    files found with --search (sklearn:PATH, onnx:PATH). Any module on the
    Python path can also provide one as package.module:factory.
    """
    from landmask.models.registry import available_models

    for info in available_models(search):
        click.echo(f"{info.spec:<32} {info.kind:<8} {info.description}")
