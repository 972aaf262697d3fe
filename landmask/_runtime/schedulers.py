"""Dask schedulers from a spec string, and progress display while computing.

Specs (``--scheduler``): ``threads`` (default), ``processes``, ``synchronous``,
``local:N`` (a :class:`distributed.LocalCluster` of N single-threaded worker
processes, started and closed here) or a scheduler address ``tcp://host:port``
(an existing cluster; the workers must see the input and output paths, which
landmask makes absolute: :mod:`landmask._runtime.paths`).

``dask.distributed`` logs at INFO level by default (33 to over 1,000 lines per
run, into the progress line); :func:`quiet_dask_logs` keeps its warnings and
errors only, unless the root logger is at DEBUG (``--debug``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dask

from landmask._runtime.malloc import tune_malloc
from landmask._runtime.pools import ProcessPool, cancelling, run_now
from landmask._runtime.signals import die_with_parent, end_children, signals_deferred
from landmask.errors import SchedulerError

# Imports: landmask's at the top; distributed is imported only for a cluster scheduler (a heavy
# import, and one that configures its loggers).

__all__ = [
    "SchedulerInfo",
    "is_processes",
    "local_get",
    "progress",
    "quiet_dask_logs",
    "task_counts",
    "use_scheduler",
]

log = logging.getLogger(__name__)

_LOCAL = re.compile(r"^local:(\d+)$")


@dataclass(frozen=True)
class SchedulerInfo:
    """The scheduler in use: its spec and, for ``dask.distributed``, the client."""

    spec: str
    client: Any = None

    @property
    def dashboard(self) -> str | None:
        """The dashboard address of a distributed scheduler."""
        return getattr(self.client, "dashboard_link", None) if self.client else None


@contextlib.contextmanager
def use_scheduler(
    spec: str = "threads", *, connect_timeout: float = 10.0
) -> Iterator[SchedulerInfo]:
    """Run the enclosed Dask computations on the scheduler named by ``spec``.

    Raises :class:`SchedulerError` for an unknown spec or an unreachable address.
    """
    spec = (spec or "threads").strip()
    if spec == "processes":
        with _process_pool() as pool, dask.config.set(scheduler=_on_pool(pool)):
            yield SchedulerInfo(spec)
        return
    if spec in ("threads", "synchronous"):
        # Dask's threads scheduler, called from a thread other than the main one (a batch
        # run's scenes and tiles), makes a pool per calling thread, of CPUs + 4 threads unless
        # told: 6 chunks in flight per tile on 2 CPUs, each holding its stack of dates. One
        # pool of CPUs threads serves every calling thread: CPUs chunks in flight in all
        from dask.system import CPU_COUNT

        workers = int(dask.config.get("num_workers", None) or CPU_COUNT or 1)
        if spec == "synchronous":
            with dask.config.set(scheduler=local_get(spec), num_workers=workers):
                yield SchedulerInfo(spec)
            return
        with (
            _SharedThreads(workers) as pool,
            dask.config.set(scheduler=local_get(spec), num_workers=workers, pool=pool),
        ):
            yield SchedulerInfo(spec)
        return
    m = _LOCAL.match(spec)
    if m or spec.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        quiet_dask_logs()
    if m:
        n = int(m.group(1))
        if n < 1:
            raise SchedulerError(f"--scheduler {spec}: need at least one worker")
        with _local_cluster(n) as client:
            yield SchedulerInfo(spec, client)
        return
    if spec.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        with _connect(spec, connect_timeout) as client:
            yield SchedulerInfo(spec, client)
        return
    raise SchedulerError(
        f"--scheduler {spec!r}: expected threads, processes, synchronous, local:N or tcp://host:port"
    )


def quiet_dask_logs() -> None:
    """Keep ``distributed``'s loggers (and those it configures) at WARNING, unless at DEBUG.

    The one place landmask sets Dask's log levels (:func:`_abandon_logs` silences them when a
    cluster closes); the workers of ``local:N`` get the same level through ``silence_logs``.
    """
    import distributed  # noqa: F401  (configures its loggers on import; set them after)

    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for name in ("distributed", "distributed.client", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("bokeh", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _GatherCancelled) for f in asyncio_log.filters):
        asyncio_log.addFilter(_GatherCancelled())


class _GatherCancelled(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for distributed's ``AllExit``.

    When Ctrl-C or SIGTERM stops a computation on a cluster, the client's
    pending gathers end with ``AllExit``; nobody awaits them any more, so
    asyncio logged each one with a traceback after landmask's one line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "AllExit")


class _SharedThreads(ThreadPoolExecutor):
    """The threads of Dask's ``threads`` scheduler, shared by every thread that computes.

    Dask gives each calling thread a pool of its own: a batch run's scenes or
    tiles in flight, each with a pool of CPUs threads, ran that many times the
    CPUs' chunks at once, each with its memory (a region run of 2048-px tiles,
    4096² px, 4 dates: live bytes 689 MB at the peak, 402 MB on one pool; the
    same CPU seconds). As Dask's own, it carries the submitter's context
    variables into the task. A computation started inside one of its tasks runs
    its tasks in that thread, one after another: waiting for the pool's other
    threads could wait for itself.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(workers, "landmask-dask", initializer=self._enter)
        self._local = threading.local()

    def _enter(self) -> None:
        self._local.inside = True

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a pool thread, or now if called from one."""
        if getattr(self._local, "inside", False):
            return run_now(fn, *args, **kwargs)
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def local_get(name: str) -> Any:
    """The ``get`` function of a local scheduler.

    Set as a function rather than by name: for a name, every ``compute`` first
    imports ``dask.distributed`` to look for a client (0.3-0.5 s of a run).
    """
    if name == "processes":
        import dask.multiprocessing

        return dask.multiprocessing.get
    if name == "synchronous":
        import dask.local

        return dask.local.get_sync
    import dask.threaded

    return dask.threaded.get


def is_processes(get: Any) -> bool:
    """Whether the scheduler ``get`` (``dask.base.get_scheduler()``) is Dask's ``processes``."""
    import dask.multiprocessing

    return get is dask.multiprocessing.get or (
        isinstance(get, functools.partial) and get.func is dask.multiprocessing.get
    )


def _on_pool(pool: Any) -> Any:
    """Dask's ``processes`` scheduler computing on ``pool``."""
    import dask.multiprocessing

    return functools.partial(dask.multiprocessing.get, pool=pool)


@contextlib.contextmanager
def _process_pool() -> Iterator[Any]:
    """The worker processes of ``--scheduler processes``: one pool for the whole block.

    Dask would start a pool per computation, inside which a signal could
    catch a worker half-started (a traceback from the child); this one
    starts its workers with signals deferred (:class:`~landmask._runtime.pools.ProcessPool`),
    and they end with this process even after a SIGKILL.
    """
    import dask.system
    from dask.multiprocessing import initialize_worker_process

    # as Dask does for its own pools: one string hash seed in every worker (inherited)
    if os.environ.get("PYTHONHASHSEED") in (None, "0"):
        os.environ["PYTHONHASHSEED"] = "6640"
    workers = int(dask.config.get("num_workers", None) or dask.system.CPU_COUNT or 1)
    init = functools.partial(initialize_worker_process, user_initializer=_worker_start)
    with cancelling(ProcessPool(workers, init)) as pool:
        yield pool


def _worker_start() -> None:
    """A pool worker's start: it ends with this process, and its heap is tuned as the
    command's is (it polygonizes too: :mod:`landmask.vector._pool` submits to this pool)."""
    die_with_parent()
    tune_malloc()


def _abandon_logs() -> None:
    """Silence ``distributed`` from here on (a cluster closed or abandoned), unless at DEBUG.

    :func:`quiet_dask_logs` sets its level again for the next cluster.
    """
    if not _debug():
        logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)


def _debug() -> bool:
    return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


@contextlib.contextmanager
def _local_cluster(n: int) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    try:
        # a signal while the workers start stops the command once they have (no
        # worker half-started); a second one at once
        with signals_deferred():
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # no dashboard, but the scheduler's HTTP server (health, metrics)
                # still starts: on a free port of this host, not on 8787, which
                # another cluster may hold ("Port 8787 is already in use")
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # workers ignore a terminal's Ctrl-C and end with this process
                preload=["landmask._runtime.cluster_worker"],
                silence_logs=logging.WARNING if _debug() else logging.ERROR,
            )
            client = Client(cluster)
    except KeyboardInterrupt:
        _abandon_logs()
        end_children(timeout=1.0)
        raise
    try:
        yield client
    except KeyboardInterrupt:
        # SIGINT/SIGTERM: no orderly close, which waits on workers a terminal's
        # Ctrl-C may have killed already; end the worker processes and go. What
        # distributed says of its abandoned workers from here on is no news
        # ("exit status was already read"): its loggers are silenced first
        _abandon_logs()
        end_children(timeout=1.0)
        raise
    except BaseException:
        _close(client, cluster)
        raise
    _close(client, cluster)


def _close(client: Any, cluster: Any) -> None:
    """Close a ``local:N`` cluster; what distributed says of it closing is no news.

    On a busy machine a worker may take longer to stop than the nanny waits
    ("Worker process still alive after 4.0 seconds, killing"): that is the
    end it was closing for anyway, not a warning for the user.
    """
    _abandon_logs()
    client.close()
    cluster.close()


@contextlib.contextmanager
def _connect(address: str, timeout: float) -> Iterator[Any]:
    from distributed import Client

    _probe(address, timeout)
    _handshake(address, timeout)
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"--scheduler {address}: cannot reach the scheduler ({exc})") from None
    with client:
        yield client


def _probe(address: str, timeout: float) -> None:
    """Fail fast when nothing listens at a ``tcp://host:port`` address."""
    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://") :].rpartition(":")
    if not port.isdigit():
        raise SchedulerError(f"--scheduler {address}: expected tcp://host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SchedulerError(
            f"--scheduler {address}: cannot reach the scheduler ({reason})"
        ) from None


def _handshake(address: str, timeout: float) -> None:
    """Fail within ``timeout`` when what listens at ``address`` does not answer as Dask does.

    ``distributed`` waits for the peer's half of its handshake without a time
    limit, so a socket that accepts and never speaks (a stalled scheduler,
    another service) held ``Client()`` until the peer went away. The handshake
    is done here first, on an event loop of its own in a daemon thread, with
    a deadline; a peer that speaks something else is refused as well.
    """
    import asyncio
    import threading

    from distributed.comm import connect

    failure: list[str] = []

    async def shake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    def run() -> None:
        try:
            asyncio.run(shake())
        except TimeoutError:
            failure.append(f"no answer within {timeout:g} s")
        except Exception as exc:  # garbage instead of a handshake, a reset, ...
            failure.append(f"{type(exc).__name__}: {exc}".splitlines()[0])

    thread = threading.Thread(target=run, name="landmask-handshake", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)  # the loop's own deadline ends it first
    if thread.is_alive():
        failure.append(f"no answer within {timeout:g} s")
    if failure:
        raise SchedulerError(
            f"--scheduler {address}: not a Dask scheduler, or not answering ({failure[0]})"
        )


@contextlib.contextmanager
def progress(enabled: bool | None = None) -> Iterator[None]:
    """Show a progress bar for Dask computations inside the block.

    ``enabled=None`` shows it only when stderr is a terminal. Works for the
    local schedulers (a callback) and for ``dask.distributed`` (a client-side
    bar over the tasks the scheduler reports).
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield
        return
    client = _current_client()
    if client is None:
        from dask.diagnostics import ProgressBar

        with ProgressBar(out=sys.stderr, dt=0.25):
            yield
        return
    with _DistributedBar(client):
        yield


def _current_client() -> Any:
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client

    try:
        client = get_client()
    except ValueError:
        return None
    return client if dask.base.get_scheduler() == client.get else None


class _DistributedBar:
    """Print the share of finished tasks of a distributed scheduler."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._stop: Any = None

    def __enter__(self) -> _DistributedBar:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                info = self.client.run_on_scheduler(task_counts)
            except Exception:  # the display must never break a run
                return
            done, total = info
            if total:
                sys.stderr.write(
                    f"\r[{'#' * int(40 * done / total):<40}] {100 * done / total:5.1f}%"
                )
                sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        sys.stderr.write("\n")


def task_counts(dask_scheduler: Any = None) -> tuple[int, int]:
    """(finished, all) tasks a ``dask.distributed`` scheduler knows (run on the scheduler)."""
    tasks = dask_scheduler.tasks.values() if dask_scheduler is not None else []
    states = [t.state for t in tasks]
    done = sum(s in ("memory", "released", "forgotten") for s in states)
    return done, len(states)
