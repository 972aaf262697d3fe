"""``python signalled.py SIGNAL WHO[@WHEN] ARGS...``: ``landmask ARGS``, signalled.

The command sends ``SIGNAL`` to itself (``WHO`` = ``process``: ``kill PID``) or
to its whole process group (``group``: a terminal's Ctrl-C, which reaches the
worker processes too; start it in a session of its own), at the same point
every time: when it makes its first temporary file (``WHEN`` = ``temporary``,
the default: mid-write), or right after it spawned its first worker process,
before the worker has its start-up data (``spawn``: a pool starting).
Everything else is the real ``landmask`` process: its exit, its stderr, its
children; but the tiny test masks are polygonized where a large mask's are (in
worker processes when the scheduler has them), not in the command's own process
as a mask of up to ``IN_PROCESS_PIXELS`` is: worker processes are what these
signals are sent among.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from pathlib import Path


def main() -> None:
    name, where, *argv = sys.argv[1:]
    who, _, when = where.partition("@")
    # a hang shows where it hangs (the test's stderr) before the test gives up at 300 s
    faulthandler.dump_traceback_later(float(os.environ.get("LANDMASK_HANG_DUMP", 240)), exit=True)
    signum = signal.Signals[name]

    import multiprocessing.util

    import landmask.io.outputs
    from landmask.cli import main as landmask_main
    from landmask.vector import _pool

    _pool.IN_PROCESS_PIXELS = 0

    sent: list[bool] = []

    def send() -> None:
        if not sent:
            sent.append(True)
            if who == "group":
                os.killpg(os.getpgrp(), signum)
            else:
                os.kill(os.getpid(), signum)

    if when == "spawn":
        spawn = multiprocessing.util.spawnv_passfds

        def spawnv_passfds(path: str, args: list[str], fds: object) -> int:
            pid = spawn(path, args, fds)
            if "spawn_main" in " ".join(map(str, args)):  # a worker (not the resource tracker)
                send()  # the child runs, its start-up data not yet written to it
            return pid

        multiprocessing.util.spawnv_passfds = spawnv_passfds  # type: ignore[assignment]
    else:
        made = landmask.io.outputs.temp_path

        def temp_path(path: Path, suffix: str | None = None) -> Path:
            tmp = made(path, suffix)
            send()
            return tmp

        landmask.io.outputs.temp_path = temp_path  # type: ignore[assignment]
    sys.argv = ["landmask", *argv]
    landmask_main()


if __name__ == "__main__":
    main()
