"""Pools of worker processes that a signal never catches half-started.

:class:`ProcessPool` is the one process pool landmask starts: Dask's
``processes`` scheduler computes on it (:func:`landmask._runtime.schedulers.use_scheduler`)
and ``vectorize`` polygonizes on one. A pool starts its worker processes as
tasks arrive, each in ``submit``; there a signal is deferred to the end of the
call (:func:`~landmask._runtime.signals.signals_deferred`), so every worker has
its start-up data whole and ends quietly when the command ends it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, TypeVar

import dask

from landmask._runtime.signals import signals_deferred

__all__ = ["ProcessPool", "cancelling", "process_context", "run_now"]

_E = TypeVar("_E", bound=Executor)


def process_context() -> Any:
    """The multiprocessing context Dask is configured with (``spawn`` by default)."""
    return multiprocessing.get_context(dask.config.get("multiprocessing.context", "spawn"))


class ProcessPool(ProcessPoolExecutor):
    """A :class:`~concurrent.futures.ProcessPoolExecutor` whose ``submit`` defers signals.

    Parameters
    ----------
    workers
        Processes at most (started one per task while none is idle).
    initializer
        Run first in every worker process.
    """

    def __init__(self, workers: int, initializer: Callable[[], Any] | None = None) -> None:
        # the executor itself is made at the first submit: its queues start multiprocessing's
        # resource tracker, a process of its own (~13 MB), which a command whose work all
        # stays in its own process (a small mask's polygons) does not need
        self._initializer = initializer
        self._made = False
        self._making = threading.Lock()
        #: processes at most
        self.workers = self._max_workers = workers

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with signals_deferred():
            with self._making:
                if not self._made:
                    super().__init__(
                        self.workers, mp_context=process_context(), initializer=self._initializer
                    )
                    self._made = True
            return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._made:
            super().shutdown(wait, cancel_futures=cancel_futures)


@contextlib.contextmanager
def cancelling(executor: _E) -> Iterator[_E]:
    """``executor`` for the block; on an error its queued tasks are dropped, not run.

    On SIGINT/SIGTERM the running ones are not waited for either: the command
    ends the pool's processes (:func:`~landmask._runtime.signals.end_children`).
    """
    try:
        yield executor
    except KeyboardInterrupt:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def run_now(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    """``fn(*args, **kwargs)`` run in this thread now, as a finished future.

    For a pool's caller that must not hand the task to another thread (a task
    of a pool submitting to that pool, a chunk kept in the command's process).

    Parameters
    ----------
    fn : callable
        The task.
    *args, **kwargs
        Its arguments.

    Returns
    -------
    concurrent.futures.Future
        Done: ``fn``'s result, or the exception it raised (``BaseException``
        too, as an executor's future holds it).
    """
    done: Future[Any] = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except BaseException as exc:
        done.set_exception(exc)
    return done
