"""Fault suite: real subprocesses, signals, full disks, hostile files (issue 14).

Every case asserts the exit status, the one error line, and that the inputs and
every unrelated file are byte-identical afterwards (:func:`conftest.snapshot`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import snapshot as snapshot  # the suite's one; the fault tests import it here

from landmask.synthetic import write_scene

LANDMASK = str(Path(sys.executable).with_name("landmask"))


def error_lines(stderr: str) -> list[str]:
    """The non-blank lines of stderr (click closes a terminal's ^C echo with a blank one)."""
    return [line for line in stderr.splitlines() if line.strip()]


def run_cli(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``landmask ARGS`` in a subprocess; its exit status and output."""
    return subprocess.run(
        [LANDMASK, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def start_cli(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [LANDMASK, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def wait_for_temporaries(folder: Path, proc: subprocess.Popen, limit: float = 300) -> list[Path]:
    """Block until ``proc`` has temporaries in ``folder`` (it is mid-write); return them."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = [p for p in folder.iterdir() if ".lmtmp-" in p.name]
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"finished before it was signalled: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no temporary file appeared")


@pytest.fixture(scope="session")
def scene_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny scene (256 px) and one large enough to be signalled mid-write (2048 px)."""
    folder = tmp_path_factory.mktemp("scenes")
    small, big = folder / "small.tif", folder / "big.tif"
    write_scene(small, 256)
    write_scene(big, 2048, tile=1024)
    return {"small": small, "big": big}


@pytest.fixture
def work(tmp_path: Path, scene_files: dict[str, Path]) -> Iterator[Path]:
    """A folder with copies of the scenes and an unrelated file, checked unchanged after."""
    for _name, path in scene_files.items():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "notes.txt").write_text("unrelated\n")
    yield tmp_path


Signaller = Callable[[subprocess.Popen, int], None]
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
