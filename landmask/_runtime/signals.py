"""SIGINT and SIGTERM: stop every command within seconds, leaving nothing half-written.

:func:`handling_signals` (entered by the CLI) turns both signals into an
:class:`Interrupted` exception in the main thread and sets :data:`STOP`, which
every other thread sees: a Dask callback raises :class:`Interrupted` at the
next task of any local-scheduler computation, and new temporaries and final
renames are refused (:func:`check_stop`, called by :mod:`landmask.io.outputs`).
Worker processes the command started get :func:`die_with_parent` as their
initializer, so they end with it even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = [
    "STOP",
    "Interrupted",
    "check_stop",
    "die_with_parent",
    "end_children",
    "exit_status",
    "finishing",
    "handling_signals",
    "signals_deferred",
]

#: Set once SIGINT or SIGTERM arrived: every thread stops at its next check.
STOP = threading.Event()
_received: list[int] = []
_PR_SET_PDEATHSIG = 1


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the command stops (exit status 128 + signal)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Open :func:`signals_deferred` blocks of the main thread
_deferring: list[bool] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if STOP.is_set():
        if _deferring:  # a second signal while a process starts: the user insists
            raise Interrupted(signum)
        return  # a second signal while cleaning up: cleaning up goes on
    STOP.set()
    if _deferring:  # raised where the block ends
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM arriving in the block stop the command where the block ends.

    For starting child processes in the main thread: a ``spawn`` child reads
    its start-up data from a pipe the parent writes after starting it, and a
    signal raised in between closed the pipe half-written, so the child
    printed an ``EOFError`` traceback (issue 21). Inside the block the first
    signal only sets :data:`STOP`; a second one raises at once. Other threads
    are never interrupted by a signal, so there the block does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    if not _deferring:
        check_stop()


#: threads writing what a stopped command still owes (a run's summary)
_finishing = threading.local()


@contextlib.contextmanager
def finishing() -> Iterator[None]:
    """In this thread only, write despite :data:`STOP` (a run's summary after a signal).

    Every other thread still stops at its next check, so no scene publishes
    an output while the summary is written.
    """
    _finishing.on = True
    try:
        yield
    finally:
        _finishing.on = False


def check_stop() -> None:
    """Raise :class:`Interrupted` if a signal asked the running command to stop.

    Only while a :func:`handling_signals` block is open: the signal that
    stopped an earlier command in this process (a notebook, the test suite
    running commands in-process) must not stop library calls made after it.
    """
    if not _depth:
        return
    if STOP.is_set() and not getattr(_finishing, "on", False):
        raise Interrupted(_received[0] if _received else signal.SIGINT)


def exit_status() -> int:
    """128 + the first signal received (130 SIGINT, 143 SIGTERM); 130 if none was."""
    return 128 + (_received[0] if _received else signal.SIGINT)


#: The stopper of the outermost :func:`handling_signals` block (main thread
#: only); Dask keeps callbacks in a set, so a nested block must not register
#: the same one again.
_depth: list[Any] = []


def _stop_pretask(key: Any, dsk: Any, state: Any) -> None:
    check_stop()


def _stop_posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
    check_stop()


@contextlib.contextmanager
def handling_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or _depth:
        yield  # another thread's, or nested in a block that already handles them
        return
    STOP.clear()  # a new command: a signal that stopped an earlier one is spent
    _received.clear()
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_interrupts
    from dask.callbacks import Callback

    stopper = Callback(pretask=_stop_pretask, posttask=_stop_posttask)
    stopper.register()
    _depth.append(stopper)
    try:
        yield
    finally:
        _depth.pop()
        # not stopper.unregister(): dask's local scheduler swaps Callback.active
        # for an empty set while a compute runs, and `run` computes scenes in
        # several threads, so the set seen here may not hold it
        Callback.active.discard(stopper._callback)
        for s, old in previous.items():
            signal.signal(s, old)
        sys.unraisablehook = hook


def _quiet_interrupts(unraisable: Any) -> None:
    """The signal landed in a finalizer, which cannot raise it: STOP carries it on."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


def die_with_parent() -> None:
    """Initializer of worker processes: SIGTERM when the parent dies (Linux), any way it dies.

    Also ignores SIGINT, which a terminal sends to the whole process group: the
    parent decides when its workers end.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def end_children(timeout: float = 2.0) -> None:
    """Terminate the child processes this process started (pools, managers, clusters)."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(Exception):
            child.terminate()
    for child in children:
        with contextlib.suppress(Exception):
            child.join(timeout)
            if child.is_alive():
                child.kill()
