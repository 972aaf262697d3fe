"""Running a model's own code (a plug-in, a ``package.module:factory``) as an error-bounded step.

A model spec names code, and landmask runs it, as ``make`` runs a Makefile:
nothing here makes untrusted code safe. What :func:`third_party` does make
sure of is that such code cannot pass for a successful command:

- ``sys.exit()`` or ``exit()`` in it (any :class:`BaseException` but
  :class:`KeyboardInterrupt`) is a :class:`~landmask.errors.ModelError`,
  not the end of the process with status 0;
- standard input is closed to it: reading ``sys.stdin`` (``input()``,
  ``code.interact()``) is a :class:`~landmask.errors.ModelError`, and file
  descriptor 0 reads from ``/dev/null``, so nothing waits on a terminal;
- what it prints is held back and printed only once it has succeeded, so a
  failure stays one line.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from landmask.errors import ModelError

__all__ = ["third_party"]

_LOCK = threading.RLock()


class _ClosedStdin(io.TextIOBase):
    """``sys.stdin`` while model code runs: any read is a :class:`ModelError`."""

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def readable(self) -> bool:
        return True

    def _refuse(self, *args: Any) -> Any:
        raise ModelError(f"{self.spec}: the model code reads standard input; it must not")

    read = readline = readlines = _refuse

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _devnull_fd0() -> Iterator[None]:
    """File descriptor 0 reading ``/dev/null`` (restored after)."""
    try:
        saved = os.dup(0)
    except OSError:  # no fd 0 at all: nothing to read from either
        yield
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        yield
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(null)


@contextlib.contextmanager
def third_party(spec: str, what: str) -> Iterator[None]:
    """Run the body (model code named by ``spec``) with the guards of this module.

    Parameters
    ----------
    spec
        The model spec, named in every error.
    what
        What the body does, for messages: ``"the model factory"``, ``"importing ..."``.

    Raises
    ------
    ModelError
        The body exited, read standard input, or raised anything but a
        :class:`ModelError` or :class:`KeyboardInterrupt`.
    """
    out, err = io.StringIO(), io.StringIO()
    with _LOCK:  # sys.stdin/stdout/stderr are process-wide
        streams = sys.stdin, sys.stdout, sys.stderr
        ok = False
        try:
            with _devnull_fd0():
                sys.stdin, sys.stdout, sys.stderr = _ClosedStdin(spec), out, err
                try:
                    yield
                finally:
                    sys.stdin, sys.stdout, sys.stderr = streams
            ok = True
        except (ModelError, KeyboardInterrupt):
            raise
        except SystemExit as exc:
            raise ModelError(f"{spec}: {what} called exit({exc.code!r})") from None
        except BaseException as exc:  # third-party code may raise anything
            raise ModelError(f"{spec}: {what} failed ({type(exc).__name__}: {exc})") from None
        finally:
            if ok:  # only code that succeeded gets its output shown
                sys.stdout.write(out.getvalue())
                sys.stderr.write(err.getvalue())
