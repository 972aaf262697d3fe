"""The progress of a run: a line per finished scene and, on a terminal, a live bar."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from dask.callbacks import Callback

from landmask._runtime.schedulers import task_counts
from landmask.batch.summary import SceneResult

__all__ = ["RunProgress"]


class _TaskCounter(Callback):
    """Counts the tasks of every local-scheduler computation started while active."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.total = 0
        self.done = 0

    def _start_state(self, dsk: Any, state: Any) -> None:
        with self.lock:
            self.total += len(state["ready"]) + len(state["waiting"])

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        with self.lock:
            self.done += 1


class RunProgress:
    """Scene lines (unless quiet) and, on a terminal, a live bar over scenes and tasks."""

    def __init__(self, total: int, *, quiet: bool, bar: bool | None, out: TextIO) -> None:
        self.total = total
        self.quiet = quiet
        self.bar = (out.isatty() if bar is None else bar) and not quiet
        self.out = out
        self.lock = threading.Lock()
        self.finished: dict[str, int] = {"done": 0, "skipped": 0, "failed": 0}
        self.running = 0
        self._tasks = _TaskCounter()
        self._client: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def started(self) -> None:
        with self.lock:
            self.running += 1

    def ended(self, result: SceneResult) -> None:
        with self.lock:
            if result.status != "skipped":
                self.running -= 1
            self.finished[result.status] += 1
            if self.quiet:
                return
            n = sum(self.finished.values())
            what = f"{result.status} in {result.seconds:.1f} s"
            if result.radiometry:
                what += f", radiometry {result.radiometry} ({result.radiometry_basis})"
            if result.status == "skipped":
                what = "skipped (finished before, unchanged)"
            elif result.error:
                what = f"failed: {result.error}"
            self._clear()
            self.out.write(f"[{n}/{self.total}] {result.scene}: {what}\n")
            self.out.flush()

    def _clear(self) -> None:
        if self.bar:
            self.out.write("\r\x1b[2K")

    def _tasks_now(self) -> tuple[int, int]:
        if self._client is not None:
            try:
                result: tuple[int, int] = self._client.run_on_scheduler(task_counts)
                return result
            except Exception:  # the display never breaks a run
                return (0, 0)
        return self._tasks.done, self._tasks.total

    def _render(self) -> None:
        done, total = self._tasks_now()
        with self.lock:
            f = self.finished
            n = sum(f.values())
            share = done / total if total else 0.0
            self.out.write(
                f"\rscenes {n}/{self.total} ({f['failed']} failed, {self.running} running) "
                f"[{'#' * int(30 * share):<30}] tasks {done:,}/{total:,}"
            )
            self.out.flush()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._render()

    @contextlib.contextmanager
    def active(self, client: Any) -> Iterator[None]:
        """Count tasks (local callback or the distributed scheduler) and draw the bar."""
        self._client = client
        with self._tasks if client is None else contextlib.nullcontext():
            if self.bar:
                self._thread = threading.Thread(target=self._loop, daemon=True)
                self._thread.start()
            try:
                yield
            finally:
                self._stop.set()
                if self._thread is not None:
                    self._thread.join(timeout=2)
                    self._render()
                    self.out.write("\n")
                    self.out.flush()
