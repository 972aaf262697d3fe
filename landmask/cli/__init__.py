"""The ``landmask`` command line: a click group with one module per subcommand.

Bad input (a :class:`~landmask.errors.InputError` or a usage error) prints one
line on stderr and exits with status 2; any other error exits with status 1.
``--debug`` adds the traceback. SIGINT and SIGTERM stop any command with status
130 or 143 (:mod:`landmask._runtime.signals`): the temporaries it holds are
removed, the worker processes it started ended.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

import click
from rasterio.errors import NotGeoreferencedWarning

from landmask import __version__
from landmask._runtime.malloc import tune_malloc
from landmask._runtime.signals import end_children, exit_status, handling_signals
from landmask.errors import InputError, LandmaskError, command_line

__all__ = ["cli", "main", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="landmask")
def cli() -> None:
    """Land-cover masks (forest, urban, water) from satellite rasters, chunk by chunk.

    Every command that processes rasters takes --chunk-size and --scheduler;
    every command takes --quiet and --debug. Bad input exits with status 2.
    """


def _register() -> None:
    from landmask.cli.apply import apply_cmd
    from landmask.cli.change import change_cmd
    from landmask.cli.classify import classify_cmd
    from landmask.cli.composite import composite_cmd
    from landmask.cli.demo import demo_cmd
    from landmask.cli.evaluate import evaluate_cmd
    from landmask.cli.export import export_cmd
    from landmask.cli.indices import indices_cmd
    from landmask.cli.models import models_cmd
    from landmask.cli.preview import preview_cmd
    from landmask.cli.run import run_cmd
    from landmask.cli.train import train_cmd
    from landmask.cli.vectorize import vectorize_cmd
    from landmask.cli.zonal import zonal_cmd

    for cmd in (
        classify_cmd,
        indices_cmd,
        vectorize_cmd,
        evaluate_cmd,
        zonal_cmd,
        change_cmd,
        composite_cmd,
        train_cmd,
        models_cmd,
        preview_cmd,
        export_cmd,
        apply_cmd,
        run_cmd,
        demo_cmd,
    ):
        cli.add_command(cmd)


_register()


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
