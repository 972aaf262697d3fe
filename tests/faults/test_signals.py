"""SIGINT, SIGTERM and SIGKILL sent to real ``landmask`` processes mid-write."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.faults.conftest import (
    error_lines,
    run_cli,
    snapshot,
    start_cli,
    wait_for_temporaries,
)

CLASSIFY = ("classify", "big.tif", "--sensor", "sentinel2-l2a", "--chunk-size", "256", "-q")


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_classify_cleanly(work: Path, signum: int, scheduler: str) -> None:
    before = snapshot(work)
    proc = start_cli(*CLASSIFY, "--scheduler", scheduler, "-o", "m.tif", cwd=work)
    wait_for_temporaries(work, proc)
    children = _children(proc.pid)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum
    lines = error_lines(stderr)
    assert lines == [
        f"landmask: interrupted by {signal.Signals(signum).name}; temporary files removed"
    ], stderr
    assert snapshot(work) == before  # no output, no temporary, inputs untouched
    assert not [pid for pid in children if _alive(pid)]


def test_sigkill_leftovers_removed_by_the_next_command(work: Path) -> None:
    before = snapshot(work)
    proc = start_cli(*CLASSIFY, "-o", "m.tif", cwd=work)
    wait_for_temporaries(work, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert [p for p in work.iterdir() if ".lmtmp-" in p.name]  # a crash leaves them
    result = run_cli(
        "classify", "small.tif", "--sensor", "sentinel2-l2a", "-q", "-o", "s.tif", cwd=work
    )
    assert result.returncode == 0, result.stderr
    assert not [p for p in work.iterdir() if ".lmtmp-" in p.name]
    after = snapshot(work)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {
        "s.tif",
        "s.qml",
        "s.tif.aux.xml",
        "s.tif.stac.json",
    }  # + STAC item


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


SIGNALLED = Path(__file__).with_name("signalled.py")


@pytest.mark.parametrize("command", ["classify", "vectorize"])
def test_sigterm_while_a_worker_process_starts(work: Path, command: str) -> None:
    """Issue 21: SIGTERM between starting a ``spawn`` worker and writing its start-up data
    to it (the window test_signal_stops_classify_cleanly[15-processes] hit now and then)
    closed the pipe under the child, which printed an EOFError traceback. Now the signal
    waits for the end of the start (a second one would not), every time."""
    import subprocess
    import sys

    if command == "vectorize":
        done = run_cli(
            "classify", "small.tif", "--sensor", "sentinel2-l2a", "-q", "-o", "m.tif", cwd=work
        )
        assert done.returncode == 0, done.stderr
        argv = ["vectorize", "m.tif", "-o", "v.gpkg", "--chunk-size", "64"]
    else:
        argv = [
            "classify",
            "small.tif",
            "--sensor",
            "sentinel2-l2a",
            "-o",
            "c.tif",
            "--chunk-size",
            "64",
        ]
    before = snapshot(work)
    done = subprocess.run(
        [
            sys.executable,
            SIGNALLED,
            "SIGTERM",
            "process@spawn",
            *argv,
            "--scheduler",
            "processes",
            "-q",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 143, done.stderr
    assert error_lines(done.stderr) == [
        "landmask: interrupted by SIGTERM; temporary files removed"
    ], done.stderr
    assert snapshot(work) == before
