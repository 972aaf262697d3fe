"""Measuring subprocesses for the benchmarks: wall time, CPU time and peak RSS.

``rss_mb`` is the child's ``ru_maxrss``, which for a child with worker
processes of its own is the largest of them, not their sum; ``tree_rss_mb`` is
the peak of the summed RSS of the child and all its descendants, sampled every
50 ms (Linux; 0 elsewhere).

Standard library only: the benchmark parents import nothing heavy, because on
Linux a child's peak RSS starts at its parent's high-water mark.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    rss_mb: float
    tree_rss_mb: float = 0.0


def run(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run ``cmd`` to completion: its wall time, CPU time and own peak RSS, and its stdout."""
    r, text = run_limited(cmd, None, env)
    assert r is not None
    return r, text


def run_limited(
    cmd: Sequence[str],
    timeout: float | None,
    env: dict[str, str] | None = None,
    *,
    may_fail: bool = False,
) -> tuple[Run | None, str]:
    """Like :func:`run`, but the process group is killed after ``timeout`` seconds: ``None``.

    ``may_fail``: a command that exits with an error gives ``None`` and the end of its
    stderr, instead of ending this process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, env=env, start_new_session=timeout is not None
        )
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
            timer.start()
        tree_peak = [0]
        done = threading.Event()
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, done, tree_peak))
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        if timer is not None:
            timer.cancel()
            if seconds >= timeout:  # type: ignore[operator]
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # its workers too
                return None, ""
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode and may_fail:
            return None, err.read().decode()[-3000:]
        if proc.returncode:
            sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.read().decode()[-3000:]}")
        cpu = usage.ru_utime + usage.ru_stime
        rss = usage.ru_maxrss / 1024
        return Run(seconds, cpu, rss, tree_peak[0] / 1024), out.read().decode()


def _sample_tree(pid: int, done: threading.Event, peak: list[int]) -> None:
    """Keep the peak of the summed RSS (kB) of ``pid`` and its descendants in ``peak[0]``."""

    def tree(p: int) -> list[int]:
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            return [p]
        return [p, *(q for k in kids for q in tree(int(k)))]

    def rss_kb(p: int) -> int:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    while not done.wait(0.05):
        peak[0] = max(peak[0], sum(rss_kb(p) for p in tree(pid)))


def others_busy(when: str) -> float | None:
    """Print (and return) how busy the CPUs are with other work while this process sleeps."""

    def idle_total() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
        return fields[3] + fields[4], sum(fields)

    try:
        i0, t0 = idle_total()
        time.sleep(1)
        i1, t1 = idle_total()
    except OSError:
        return None
    busy = 1 - (i1 - i0) / max(1, t1 - t0)
    warn = " -- other work is running, figures will be noisy" if busy > 0.1 else ""
    print(f"CPUs busy {when} the runs: {100 * busy:.0f}%{warn}", flush=True)
    return busy
