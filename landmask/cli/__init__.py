"""The ``landmask`` command line: a click group with one module per subcommand.

Bad input (a :class:`~landmask.errors.InputError` or a usage error) prints one
line on stderr and exits with status 2; any other error exits with status 1.
``--debug`` adds the traceback. SIGINT and SIGTERM stop any command with status
130 or 143 (:mod:`landmask._runtime.signals`): the temporaries it holds are
removed, the worker processes it started ended.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping, MutableMapping, Sequence

import click
from rasterio.errors import NotGeoreferencedWarning

from landmask import __version__
from landmask._runtime.malloc import tune_malloc
from landmask._runtime.signals import end_children, exit_status, handling_signals
from landmask.errors import InputError, LandmaskError, command_line

__all__ = ["cli", "main", "run"]


#: Subcommand name -> (module, command object, the first paragraph of its help); a module
#: is never named like a function of this package (``run``), which its import would hide. A
#: subcommand's module is imported only when the command runs or its help is
#: asked for, so ``landmask --help`` imports none of them (the help is from here;
#: tests/test_cli.py checks it against each command's own).
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "apply": (
        "landmask.cli.apply",
        "apply_cmd",
        "Apply MASK.tif to IMAGE, keeping the --keep classes, and write -o OUT.tif.",
    ),
    "change": (
        "landmask.cli.change",
        "change_cmd",
        "Change from BEFORE.tif to AFTER.tif: a from-to raster -o CHANGE.tif.",
    ),
    "classify": (
        "landmask.cli.classify",
        "classify_cmd",
        "Classify INPUT... into a land-cover mask written to -o MASK.tif.",
    ),
    "composite": (
        "landmask.cli.composite",
        "composite_cmd",
        "Composite the scenes INPUT... of a period into one float32 GeoTIFF (-o OUT.tif).",
    ),
    "demo": (
        "landmask.cli.demo",
        "demo_cmd",
        "Make a synthetic Sentinel-2-like scene with known land cover and classify it.",
    ),
    "evaluate": (
        "landmask.cli.evaluate",
        "evaluate_cmd",
        "Compare the mask PRED.tif with TRUTH and report agreement.",
    ),
    "export": (
        "landmask.cli.export",
        "export_cmd",
        "Export MASK.tif as a GeoTIFF (-o OUT.tif) for tools that need plain pixels.",
    ),
    "indices": (
        "landmask.cli.indices",
        "indices_cmd",
        "Compute spectral indices of INPUT... into a float32 GeoTIFF (-o OUT.tif).",
    ),
    "models": (
        "landmask.cli.models",
        "models_cmd",
        "List the models --model SPEC can name; `landmask models show MODEL` describes one.",
    ),
    "preview": (
        "landmask.cli.preview",
        "preview_cmd",
        "Write a colour-coded PNG of MASK.tif (-o OUT.png) with a legend of its classes.",
    ),
    "run": (
        "landmask.cli.batch",
        "run_cmd",
        "Run the batch job WORKFLOW.yaml: classify every scene it names.",
    ),
    "train": (
        "landmask.cli.train",
        "train_cmd",
        "Fit a pixel classifier on INPUT... at the pixels LABELS mark; save it to -o MODEL.joblib.",
    ),
    "vectorize": (
        "landmask.cli.vectorize",
        "vectorize_cmd",
        "Turn the regions of MASK.tif into polygons written to -o OUT.",
    ),
    "zonal": (
        "landmask.cli.zonal",
        "zonal_cmd",
        "Exact area of each class of MASK.tif inside each polygon of ZONES.",
    ),
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands: every name known at once, each module imported on first use."""

    def __init__(self, table: Mapping[str, tuple[str, str, str]]) -> None:
        self.table = dict(table)
        self.loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded:
            if name not in self.table:
                raise KeyError(name)
            module, attr, _ = self.table[name]
            self.loaded[name] = getattr(importlib.import_module(module), attr)
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self.loaded.pop(name, None)
        self.table.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self.table) | set(self.loaded)))

    def __len__(self) -> int:
        return len(set(self.table) | set(self.loaded))


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when used, not when listed."""

    commands: LazyCommands

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from :data:`SUBCOMMANDS`, importing none of them."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands.loaded or name not in self.commands.table:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                text = self.commands.table[name][2]
                rows.append((name, click.Command(name, help=text).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="landmask")
def cli() -> None:
    """Land-cover masks (forest, urban, water) from satellite rasters, chunk by chunk.

    Every command that processes rasters takes --chunk-size and --scheduler;
    every command takes --quiet and --debug. Bad input exits with status 2.
    """


cli.commands = LazyCommands(SUBCOMMANDS)


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    click.echo(f"landmask: warning: {message}", err=True)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit status (never raises SystemExit)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        # a raster without georeferencing is refused unless the user allows it,
        # so GDAL's notice about it carries nothing new
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        if not debug:  # library deprecation notices are for developers, not users
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
        with handling_signals(), command_line():
            try:
                return _run(args, debug)
            except KeyboardInterrupt:  # the signal came while an error was reported
                return _stopped()


def _stopped() -> int:
    """Clean up after SIGINT/SIGTERM: temporaries removed, children ended; the exit status."""
    import signal

    from landmask.io.outputs import remove_live

    remove_live()
    end_children()
    status = exit_status()
    name = signal.Signals(status - 128).name
    click.echo(f"landmask: interrupted by {name}; temporary files removed", err=True)
    return status


def _run(args: list[str], debug: bool) -> int:
    try:
        result = cli.main(args=args, prog_name="landmask", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        if debug:
            traceback.print_exc()
        return _stopped()
    except click.ClickException as exc:
        if debug:
            traceback.print_exc()
        ctx = getattr(exc, "ctx", None)
        sub = f" {ctx.command.name}" if ctx is not None and ctx.parent is not None else ""
        click.echo(f"landmask{sub}: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except (InputError, PermissionError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"landmask: error: {exc}", err=True)
        return 2
    except (LandmaskError, Exception) as exc:
        if debug:
            traceback.print_exc()
        click.echo(
            f"landmask: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            err=True,
        )
        return 1
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    tune_malloc()
    status = run()
    _exit_now(status)
    sys.exit(status)


def _exit_now(status: int) -> None:
    """End the process without tearing down the interpreter, when that is safe.

    After a run every output is written and closed; unloading numpy, pandas,
    xarray, dask and GDAL module by module only costs time (0.3-0.4 s, a tenth
    of a classify on a 4096² scene). Skipped while a child process lives (a
    multiprocessing manager or pool), whose shutdown the normal exit runs, and
    once this process made multiprocessing semaphores (a pool's queues, a
    cluster's nannies): the normal exit unlinks them, where ``os._exit`` left
    them to the resource tracker, which printed "leaked semaphore objects".
    """
    import multiprocessing

    if multiprocessing.active_children() or "multiprocessing.synchronize" in sys.modules:
        return
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let the normal exit report it
        return
    os._exit(status)
