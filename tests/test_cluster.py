"""A real Dask cluster: `dask scheduler` and `dask worker` processes started elsewhere.

The workers run in another working directory than landmask, so every path they
get must be absolute; outputs must equal those of the local threaded run.
Every process started here is ended in the fixtures' teardown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import psutil
import pytest
import yaml
from conftest import invoke, sha256, wait_for, write_raster

from landmask.cli import run
from landmask.synthetic import S2_BAND_IDS, make_scene, to_dn

pytestmark = pytest.mark.cluster

BIN = Path(sys.executable).parent
SCHEDULER_ARGS = ["--port", "0", "--dashboard-address", ":0", "--host", "127.0.0.1"]
WORKER_ARGS = ["--nthreads", "1", "--nworkers", "2", "--no-dashboard", "--local-directory"]


@dataclass
class Cluster:
    address: str
    worker: subprocess.Popen  # the `dask worker` process; its children are the workers


def _end(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scene under scenes/ and a workflow, all named relative to tmp_path."""
    (tmp_path / "scenes").mkdir()
    dn = to_dn(make_scene((120, 140), seed=5).reflectance)
    write_raster(tmp_path / "scenes" / "s0.tif", dn, nodata=0, descriptions=S2_BAND_IDS)
    doc = {
        "name": "cluster",
        "inputs": ["scenes/s0.tif"],
        "classifier": {"rules": "default"},
        "sensor": "sentinel2-l2a",
        "outputs": {"dir": "out", "mask": "{stem}_mask.tif", "vector": "{stem}.gpkg"},
        "chunk_size": 64,
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler and two single-threaded workers (with nannies), started in tmp_path/elsewhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    info = elsewhere / "scheduler.json"
    procs: list[subprocess.Popen] = []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": elsewhere}
    try:
        procs.append(
            subprocess.Popen(
                [BIN / "dask", "scheduler", "--scheduler-file", info, *SCHEDULER_ARGS],
                **quiet,
            )
        )
        wait_for(lambda: info.exists() and info.stat().st_size, "the scheduler file", step=0.1)
        address = json.loads(info.read_text())["address"]
        procs.append(
            subprocess.Popen(
                [BIN / "dask", "worker", "--scheduler-file", info, *WORKER_ARGS, elsewhere],
                **quiet,
            )
        )
        from distributed import Client

        with Client(address, timeout=120) as client:
            client.wait_for_workers(2, timeout=120)
        yield Cluster(address, procs[-1])
    finally:
        _end(procs)


def _polygons(path: Path) -> list:
    frame = gpd.read_file(path, layer=path.stem)
    return sorted(zip(frame.class_id, frame.geometry.to_wkb(), strict=True))


def _dask_info(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("distributed") and r.levelno <= logging.INFO
    ]


def test_relative_paths_on_a_cluster_started_elsewhere(project, cluster, monkeypatch, caplog):
    """classify, vectorize and run with relative paths; workers in another directory."""
    monkeypatch.chdir(project)
    caplog.set_level(logging.INFO)
    for where in ("local", "remote"):
        (project / where).mkdir()
    common = ["--sensor", "sentinel2-l2a", "--chunk-size", "64", "-q"]
    for where, extra in (("local", []), ("remote", ["--scheduler", cluster.address])):
        assert run(["classify", "scenes/s0.tif", *common, "-o", f"{where}/m.tif", *extra]) == 0
        assert run(["vectorize", f"{where}/m.tif", "-o", f"{where}/v.gpkg", "-q", *extra]) == 0
    assert run(["run", "job.yaml", "--scheduler", cluster.address, "-q"]) == 0
    assert _dask_info(caplog) == []  # distributed's INFO lines kept out without --debug
    local = project / "local"
    assert sha256(local / "m.tif") == sha256(project / "remote" / "m.tif")
    assert sha256(local / "m.tif") == sha256(project / "out" / "s0_mask.tif")
    assert _polygons(local / "v.gpkg") == _polygons(project / "remote" / "v.gpkg")
    assert _polygons(local / "v.gpkg") == _polygons(project / "out" / "s0.gpkg")
    assert len(_polygons(local / "v.gpkg")) > 10


def test_a_worker_killed_mid_run_gives_the_same_mask(project, cluster, monkeypatch):
    """SIGKILL of a worker while classify runs: distributed recomputes its tasks."""
    monkeypatch.chdir(project)
    common = ["classify", "scenes/s0.tif", "--sensor", "sentinel2-l2a", "--chunk-size", "32"]
    (project / "local").mkdir()
    (project / "remote").mkdir()
    assert run([*common, "-q", "-o", "local/m.tif"]) == 0
    workers = psutil.Process(cluster.worker.pid).children(recursive=True)
    assert len(workers) >= 2
    proc = subprocess.Popen(
        [BIN / "landmask", *common, "-q", "-o", "remote/m.tif", "--scheduler", cluster.address],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(  # until the run writes its temporary: mid-run
            lambda: proc.poll() is not None or any(".lmtmp-" in p for p in os.listdir("remote")),
            "a temporary of the remote run",
        )
        killed = proc.poll() is None
        if killed:
            workers[0].kill()
        _, err = proc.communicate(timeout=240)
    finally:
        _end([proc])
    assert proc.returncode == 0, err
    assert sha256(project / "local" / "m.tif") == sha256(project / "remote" / "m.tif")
    assert killed, "the run ended before a worker could be killed"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_ctrl_c_under_local_cluster_ends_cleanly(project, signum):
    """SIGINT/SIGTERM once the workers run: 130/143, no worker process left, no INFO lines."""
    proc = subprocess.Popen(
        [BIN / "landmask", "run", "job.yaml", "--scheduler", "local:2", "--chunk-size", "16"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[psutil.Process] = []
    try:
        parent = psutil.Process(proc.pid)

        def workers_or_end() -> tuple[list[psutil.Process]] | None:
            found = parent.children(recursive=True)
            return (found,) if len(found) >= 2 or proc.poll() is not None else None

        (children,) = wait_for(workers_or_end, "both workers of local:2", step=0.05)
        assert proc.poll() is None, "the run ended before its workers started"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=300)  # hang guards, not timings
        assert proc.returncode == 128 + signum, err
        assert "INFO" not in err, err
        _, alive = psutil.wait_procs(children, timeout=120)
        assert alive == [], alive
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        _end([proc])
    out = project / "out"
    leftovers = [p for p in os.listdir(out) if ".lmtmp-" in p] if out.exists() else []
    assert leftovers == []


def test_ctrl_c_on_a_remote_cluster_leaves_no_work_behind(project, cluster):
    """SIGINT to classify on tcp://: 130, nothing left behind, the cluster forgets its tasks."""
    (project / "remote").mkdir()
    argv = ["classify", "scenes/s0.tif", "--sensor", "sentinel2-l2a", "--chunk-size", "16"]
    proc = subprocess.Popen(
        [BIN / "landmask", *argv, "-q", "-o", "remote/m.tif", "--scheduler", cluster.address],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(  # until the command writes its temporary: mid-run
            lambda: (
                proc.poll() is not None
                or any(".lmtmp-" in p for p in os.listdir(project / "remote"))
            ),
            "a temporary of classify",
        )
        assert proc.poll() is None, "classify ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        _end([proc])
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1, err
    assert os.listdir(project / "remote") == []
    from distributed import Client

    def _scheduler_tasks(dask_scheduler) -> int:  # runs on the scheduler (pickled by value)
        return len(dask_scheduler.tasks)

    with Client(cluster.address, timeout=120) as client:
        wait_for(  # the scheduler releases a departed client's tasks
            lambda: client.run_on_scheduler(_scheduler_tasks) == 0,
            "the scheduler forgetting the interrupted run's tasks",
            step=0.1,
        )


@contextlib.contextmanager
def _peer(reply: bytes, lasts: float = 120.0) -> Iterator[tuple[str, threading.Event]]:
    """A local TCP server that accepts and sends ``reply`` (b"": never speaks) for ``lasts`` s.

    Yields its address and an event set when it ends by itself: the server ends, so a client
    waiting on it forever ends too, and the event tells that this is what ended it (the
    tests assert on the order of events, not on the time taken).
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()
    ended = threading.Event()

    def serve() -> None:
        deadline = time.monotonic() + lasts
        while not stop.is_set():
            if time.monotonic() >= deadline:
                ended.set()  # before hanging up: a client that waited sees it set
                break
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)
            if reply:
                conn.sendall(reply)
        for conn in held:
            conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}", ended
    finally:
        stop.set()
        thread.join()


def test_a_scheduler_address_that_never_answers(project, capsys, caplog):
    """Issue 21: a socket that accepts and never speaks held the command until the peer went
    away (distributed waits for its handshake without a limit); now one line, exit 2, within
    the connect timeout (10 s) plus start-up."""
    (project / "out").mkdir()
    argv = ["classify", "scenes/s0.tif", "--sensor", "sentinel2-l2a", "-q"]
    with _peer(b"") as (address, hung_up):
        res = invoke(
            [*argv, "-o", project / "out" / "m.tif", "--scheduler", address], capsys, caplog
        )
        waited = hung_up.is_set()
    assert res.code == 2, res.err
    lines = [s for s in res.err.splitlines() if s.strip()]
    assert lines == [
        f"landmask: error: --scheduler {address}: not a Dask scheduler, or not answering "
        "(no answer within 10 s)"
    ]
    assert not waited  # refused before the peer hung up (at 120 s): not waited for
    assert os.listdir(project / "out") == []


def test_a_peer_that_speaks_something_else_is_refused_at_once():
    from landmask._runtime.schedulers import use_scheduler
    from landmask.errors import SchedulerError

    # the peer hangs up at 25 s, before the 30 s connect timeout: refused with the peer still
    # there is refused on its reply, not at the deadline
    with _peer(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4, lasts=25) as (address, hung_up):
        with (
            pytest.raises(SchedulerError, match="not a Dask scheduler"),
            use_scheduler(address, connect_timeout=30),
        ):
            pass
        assert not hung_up.is_set()
