"""Measuring subprocesses for the benchmarks: wall time, CPU time and own peak RSS.

Standard library only: the benchmark parents import nothing heavy, because on
Linux a child's peak RSS starts at its parent's high-water mark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    rss_mb: float


def run(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run ``cmd`` to completion: its wall time, CPU time and own peak RSS, and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.read().decode()[-3000:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return Run(seconds, cpu, usage.ru_maxrss / 1024), out.read().decode()


def others_busy(when: str) -> None:
    """Print how busy the CPUs are with other work while this process sleeps for a second."""

    def idle_total() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
        return fields[3] + fields[4], sum(fields)

    try:
        i0, t0 = idle_total()
        time.sleep(1)
        i1, t1 = idle_total()
    except OSError:
        return
    busy = 1 - (i1 - i0) / max(1, t1 - t0)
    warn = " -- other work is running, figures will be noisy" if busy > 0.1 else ""
    print(f"CPUs busy {when} the runs: {100 * busy:.0f}%{warn}", flush=True)
