"""The command line's allocator tuning (landmask._runtime.malloc), in fresh processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Four threads, alive together, each in turn allocating, touching and freeing a 24 MiB
# array (a chunk's stack of dates); then the bytes glibc holds from the system, summed
# over its arenas (mallinfo2), less those held before the threads started.
SCRIPT = textwrap.dedent(
    """
    import ctypes, sys, threading
    import numpy as np
    from landmask._runtime.malloc import share_one_heap, tune_malloc

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Info
    tune_malloc()
    share_one_heap()  # as landmask run does
    held = libc.mallinfo2().arena
    turn = threading.Lock()
    done = threading.Barrier(4)

    def work():
        with turn:
            a = np.ones(24 * 2**20, np.uint8)
            del a
        done.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print((libc.mallinfo2().arena - held) / 2**20)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_threads_share_one_heap_so_the_process_keeps_one_high_water_mark():
    """Memory a thread freed is reused by the next thread's chunk: four threads that each
    held 24 MiB in turn leave ~24 MiB on the heap, not ~96 MiB (one arena per thread kept
    each thread's high-water mark: a region run's peak grew with its tile count)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018 - glibc >= 2.33
    except (OSError, AttributeError):
        pytest.skip("not glibc >= 2.33")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    held = float(out.stdout)
    assert held < 40, held  # 96 MiB before (one arena per thread)


def test_landmask_run_shares_one_heap_before_its_threads(monkeypatch, tmp_path):
    import landmask._runtime.malloc
    from landmask.cli import run

    calls = []
    monkeypatch.setattr(landmask._runtime.malloc, "share_one_heap", lambda: calls.append(1))
    assert run(["run", str(tmp_path / "missing.yaml")]) == 2  # before the workflow is read
    assert calls == [1]
