"""The hazard matrix (issue 21 item 5): every writing command against every hazard.

A writing command joins by declaring itself in :data:`COMMANDS` (how to call it
with an output path, which inputs it reads); :func:`test_every_writing_command_is_declared`
fails when a command of the CLI is in neither :data:`COMMANDS` nor :data:`NOT_HERE`.
Each cell asserts the contract of README *Safety*: exit status 2 (bad input) or
130/143 (a signal) with one line on stderr and no traceback, every input
byte-identical, no file created or changed outside the output folder, nothing
half-written in it (no temporary, no output without its companions, nothing at
all after a refusal or a signal).

The cells run in this process (a signal is sent to it from inside the command's
first temporary file, so it always lands mid-write); only the process-pool
cells start a real ``landmask`` process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import invoke, sha256, snapshot

import landmask.io.outputs
from landmask.cli import cli
from landmask.io.companions import Output
from landmask.synthetic import write_scene

S2 = ["--sensor", "sentinel2-l2a"]


@dataclass(frozen=True)
class Inputs:
    """The files the commands read (made once per session)."""

    scene: Path
    mask: Path
    mask2: Path
    zones: Path
    #: a dated STAC item of the scene (composite's input)
    item: Path = Path()
    #: ``run``'s workflow file; the empty path: one is written per cell
    workflow: Path = Path()

    def replaced(self, role: str, path: Path) -> Inputs:
        return Inputs(**{**self.__dict__, role: path})


@dataclass(frozen=True)
class Command:
    """A writing command as the matrix calls it.

    ``argv(inputs, out, tmp)`` is its command line writing ``out``; ``roles``
    the inputs it reads (fields of :class:`Inputs`); ``kind`` its output's kind
    (:data:`landmask.io.companions.KINDS`) and ``suffix`` its extension.
    """

    argv: Callable[[Inputs, Path, Path], list[object]]
    roles: tuple[str, ...]
    suffix: str
    kind: str = "file"
    stac: bool = True
    overwrite: str = "--overwrite"


def _run_argv(inp: Inputs, out: Path, tmp: Path) -> list[object]:
    """``run``: a workflow file (an input too) whose one scene's mask is ``out``.

    The scene is a symlink named after ``out`` (``{stem}`` + the extension).
    """
    if inp.workflow != Path():
        return ["run", inp.workflow]
    scenes = tmp / "scenes"
    scenes.mkdir(exist_ok=True)
    for old in scenes.iterdir():
        old.unlink()
    scene = scenes / (out.name[: -len(out.suffix)] + inp.scene.suffix)
    scene.symlink_to(inp.scene)
    doc = {
        "name": "hazard",
        "inputs": [os.fsdecode(scene)],
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": {"dir": os.fsdecode(out.parent), "mask": "{stem}" + out.suffix},
        "chunk_size": 32,
    }
    workflow = tmp / "w.yaml"
    workflow.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return ["run", workflow, "--scheduler", "threads", "-q"]


def _region_argv(inp: Inputs, out: Path, tmp: Path) -> list[object]:
    """``run`` of a region (its mode for a region, a grid and a period): ``out`` is the mosaic.

    One tile over the dated item's scene, composited and classified with ``annual``.
    """
    import rasterio

    if inp.workflow != Path():
        return ["run", inp.workflow]
    with rasterio.open(inp.scene) as ds:
        bounds, crs = list(ds.bounds), ds.crs.to_string()
    doc = {
        "name": "hazard-region",
        "inputs": [os.fsdecode(inp.item)],
        "region": {"bounds": bounds},
        "grid": {"crs": crs, "resolution": 20, "tile_size": 64},
        "composite": {
            "stats": ["median", "p10", "p90"],
            "features": ["ndvi:p10,p90", "mndwi:p10,p90"],
        },
        "classifier": {"rules": "annual"},
        "outputs": {"dir": os.fsdecode(out.parent), "mosaic": out.name},
        "chunk_size": 32,
    }
    workflow = tmp / "w.yaml"
    workflow.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return ["run", workflow, "--scheduler", "threads", "-q"]


#: every command that writes files, as the matrix calls it
COMMANDS: dict[str, Command] = {
    "classify": Command(
        lambda i, o, t: ["classify", i.scene, *S2, "-o", o], ("scene",), ".tif", "mask"
    ),
    "indices": Command(
        lambda i, o, t: ["indices", i.scene, *S2, "--index", "ndvi", "-o", o],
        ("scene",),
        ".tif",
        "indices",
    ),
    "vectorize": Command(
        lambda i, o, t: ["vectorize", i.mask, "-o", o, "--scheduler", "threads"],
        ("mask",),
        ".fgb",
        "polygons",
    ),
    "evaluate": Command(
        lambda i, o, t: ["evaluate", i.mask, i.mask2, "--json", o],
        ("mask", "mask2"),
        ".json",
        stac=False,
    ),
    "zonal": Command(
        lambda i, o, t: ["zonal", i.mask, i.zones, "-o", o, "--scheduler", "threads"],
        ("mask", "zones"),
        ".gpkg",
        "vector",
    ),
    "change": Command(
        lambda i, o, t: ["change", i.mask, i.mask2, "-o", o, "--json", t / "out" / "m.json"],
        ("mask", "mask2"),
        ".tif",
        "mask",
    ),
    "train": Command(
        lambda i, o, t: ["train", i.scene, *S2, "--labels", i.mask, "-o", o, "--seed", "1"],
        ("scene", "mask"),
        ".joblib",
        stac=False,
    ),
    "export": Command(lambda i, o, t: ["export", i.mask, "-o", o], ("mask",), ".tif", "mask"),
    "apply": Command(
        lambda i, o, t: ["apply", i.scene, i.mask, "--keep", "water", "-o", o],
        ("scene", "mask"),
        ".tif",
        "image",
    ),
    "preview": Command(lambda i, o, t: ["preview", i.mask, "-o", o], ("mask",), ".png", stac=False),
    "run": Command(_run_argv, ("scene", "workflow"), ".tif", "mask", overwrite="--force"),
    "run-region": Command(
        _region_argv, ("item", "workflow"), ".vrt", stac=False, overwrite="--force"
    ),
    "composite": Command(
        lambda i, o, t: ["composite", i.item, "-o", o, "--chunk-size", "32"],
        ("item",),
        ".tif",
        "indices",
    ),
}

#: commands of the CLI that are not in the matrix, and why
NOT_HERE = {
    "models": "writes nothing",
    "demo": "writes a folder of its own making from no input (tests/test_cli.py)",
}


def test_every_writing_command_is_declared() -> None:
    missing = set(cli.commands) - set(COMMANDS) - set(NOT_HERE)
    assert not missing, f"declare {sorted(missing)} in COMMANDS (or say why not in NOT_HERE)"


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    """A 64-px scene, its mask, a second date, zones: read-only for every cell."""
    import geopandas as gpd
    import rasterio
    import shapely

    import landmask

    folder = tmp_path_factory.mktemp("hazard-inputs")
    scene = folder / "s2.tif"
    write_scene(scene, 64, blocksize=32, tile=64)
    mask = landmask.classify(landmask.open_scene(str(scene), sensor="sentinel2-l2a"))
    landmask.write_mask(mask, folder / "m.tif", stac=False)
    with rasterio.open(folder / "m.tif") as ds:
        data, bounds, crs = ds.read(1), ds.bounds, ds.crs
    later = mask.copy(data=np.where(data == 1, 2, data))
    landmask.write_mask(later, folder / "m2.tif", stac=False)
    zones = gpd.GeoDataFrame({"zone": ["a"]}, geometry=[shapely.box(*bounds)], crs=crs)
    zones.to_file(folder / "zones.gpkg")
    item = folder / "s2.json"  # the scene as a dated STAC item, for composite
    bands = [
        {"name": b, "common_name": b} for b in ("blue", "green", "red", "nir", "swir16", "swir22")
    ]
    asset = {
        "href": "s2.tif",
        "roles": ["data"],
        "eo:bands": bands,
        "raster:bands": [{"scale": 1e-4, "offset": -0.1, "nodata": 0}] * len(bands),
    }
    item.write_text(
        json.dumps(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": "s2",
                "geometry": None,
                "properties": {"datetime": "2024-06-01T10:00:00Z"},
                "links": [],
                "assets": {"data": asset},
            }
        )
    )
    return Inputs(scene, folder / "m.tif", folder / "m2.tif", folder / "zones.gpkg", item)


# ---------------------------------------------------------------------- the contract


@dataclass
class Case:
    """One cell: a command, its inputs and output, and the disk around it."""

    name: str
    command: Command
    inputs: Inputs
    tmp: Path
    out: Path

    def argv(self, *extra: object) -> list[object]:
        return [*self.command.argv(self.inputs, self.out, self.tmp), *extra]

    def input_files(self) -> list[Path]:
        files = [getattr(self.inputs, role) for role in self.command.roles]
        return [p for p in files if p != Path()] + list(self.tmp.glob("*.yaml"))


def _hashes(files: list[Path]) -> dict[str, str]:
    return {str(p): sha256(p) for p in files if p.is_file()}


def _contract(
    case: Case,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    argv: list[object],
    codes: tuple[int, ...] = (2,),
    allowed: frozenset[str] = frozenset(),
) -> str:
    """Run ``argv``; assert the contract; return the one stderr line.

    Warnings said before the end (``landmask: warning: ...``) are not errors;
    ``allowed``: names a cell may create (a run's summary after a signal).
    """
    before_inputs = _hashes(case.input_files())
    before = snapshot(case.tmp)
    res = invoke(argv, capsys, caplog)
    lines = [s for s in res.err.splitlines() if s.strip()]
    lines = [s for s in lines if not s.startswith("landmask: warning:")]
    assert res.code in codes, f"{case.name}: exit {res.code}, stderr:\n{res.err}"
    assert "Traceback" not in res.err, res.err
    assert len(lines) == 1, f"{case.name}: not one line:\n{res.err}"
    err = lines[0]
    assert _hashes(case.input_files()) == before_inputs, "an input changed"
    after = snapshot(case.tmp)
    after = {k: v for k, v in after.items() if Path(k).name not in allowed}
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    assert not changed and set(after) <= set(before), (
        f"{case.name}: created {sorted(set(after) - set(before))}, changed {sorted(changed)}"
    )
    return err


@pytest.fixture
def case(request: pytest.FixtureRequest, inputs: Inputs, tmp_path: Path) -> Case:
    name = request.param
    command = COMMANDS[name]
    (tmp_path / "out").mkdir()
    return Case(name, command, inputs, tmp_path, tmp_path / "out" / f"o{command.suffix}")


ALL = sorted(COMMANDS)


# ---------------------------------------------------------------------- hazards


@contextlib.contextmanager
def _never_blocks(fifo: Path) -> Iterator[list[bool]]:
    """Unblock a reader stuck on ``fifo`` (then the cell fails instead of hanging)."""
    blocked: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader: nobody blocked
                    continue
                return
            blocked.append(True)
            os.close(fd)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield blocked
    finally:
        done.set()
        thread.join()


@pytest.mark.parametrize(
    ("case", "role"),
    [(n, r) for n in ALL for r in COMMANDS[n].roles],
    indirect=["case"],
)
def test_fifo_input(case: Case, role: str, capsys, caplog) -> None:
    fifo = case.tmp / f"fifo{getattr(case.inputs, role).suffix or '.yaml'}"
    os.mkfifo(fifo)
    case.inputs = case.inputs.replaced(role, fifo)
    with _never_blocks(fifo) as blocked:
        err = _contract(case, capsys, caplog, case.argv())
    assert not blocked, f"{case.name} opened the FIFO {role}"
    assert "not a regular file" in err  # naming the FIFO (run: the scene link to it)


@pytest.mark.parametrize("case", ALL, indirect=True)
def test_companion_or_output_already_there(case: Case, capsys, caplog) -> None:
    """A user's file at a companion's name: never replaced, even with --overwrite."""
    output = Output(case.out, case.command.kind, stac=case.command.stac)
    sides = list(output.companions().values())
    if not sides:  # no companion: the output itself, without --overwrite
        case.out.write_text("mine\n")
        err = _contract(case, capsys, caplog, case.argv())
        assert str(case.out) in err and "--overwrite" in err
        return
    for side in sides:
        side.write_text("<mine/>\n")
        err = _contract(case, capsys, caplog, case.argv(case.command.overwrite))
        assert f"{side}: exists and was not written by landmask for {case.out}" in err
        side.unlink()


@pytest.mark.parametrize("how", ["hard link", "symlink"])
@pytest.mark.parametrize("case", ALL, indirect=True)
def test_output_is_an_input(case: Case, how: str, capsys, caplog) -> None:
    """The output path is the input's inode (hard link) or points at it (symlink)."""
    source = getattr(case.inputs, case.command.roles[0])
    if how == "hard link":
        os.link(source, case.out)
    else:
        case.out.symlink_to(source)
    err = _contract(case, capsys, caplog, case.argv(case.command.overwrite))
    if case.name.startswith("run"):  # a link resolves outside out/ (run: its scene's link)
        assert "would overwrite an input" in err or "is outside outputs.dir" in err
        return
    assert "would overwrite an input" in err and str(source) in err


@pytest.mark.parametrize("case", [n for n in ALL if COMMANDS[n].stac], indirect=True)
def test_companion_is_an_input(case: Case, capsys, caplog) -> None:
    """The output's STAC item named like an input (issue 21: zonal's item over the zones)."""
    source = getattr(case.inputs, case.command.roles[-1 if case.name != "run" else 0])
    item = Output(case.out, case.command.kind, stac=True).companions()["item"]
    os.link(source, item)
    err = _contract(case, capsys, caplog, case.argv(case.command.overwrite))
    assert "would overwrite an input" in err and str(item) in err


@pytest.mark.parametrize("case", ALL, indirect=True)
def test_read_only_folder(case: Case, read_only_folder: Path, capsys, caplog) -> None:
    case.out = read_only_folder / case.out.name
    err = _contract(case, capsys, caplog, case.argv())
    assert "not writable" in err


@pytest.mark.parametrize("case", ALL, indirect=True)
def test_disk_full(case: Case, mount, capsys, caplog) -> None:
    folder = mount("size=256k")
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):  # full: the first write of the command fails
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)
    case.out = folder / case.out.name
    if case.name == "change":
        case.tmp = folder.parent  # its --json goes to out/, on the full disk too
    before = snapshot(folder)
    _contract(case, capsys, caplog, case.argv())
    assert snapshot(folder) == before


@pytest.mark.parametrize("case", ALL, indirect=True)
def test_long_output_name(case: Case, capsys, caplog) -> None:
    """250 bytes: written (the temporaries' names cut to fit), or refused in one line."""
    case.out = case.out.with_name("n" * (250 - len(case.command.suffix)) + case.command.suffix)
    argv = case.argv()
    before = snapshot(case.tmp)
    res = invoke(argv, capsys, caplog)
    assert "Traceback" not in res.err
    if res.code == 2:
        assert res.err.strip().count("\n") == 0 and "longer than the 255" in res.err
        assert snapshot(case.tmp) == before
    else:
        assert res.code == 0, res.err
        assert case.out.is_file()
    assert not [p for p in case.out.parent.iterdir() if ".lmtmp-" in p.name]


@pytest.mark.parametrize("case", ALL, indirect=True)
def test_non_utf8_names(case: Case, capsys, caplog) -> None:
    """An input or an output whose name is not UTF-8: one line, nothing written."""
    case.out = Path(os.fsdecode(bytes(case.out.parent) + b"/\xff" + case.command.suffix.encode()))
    err = _contract(case, capsys, caplog, case.argv())
    assert "not UTF-8" in err
    if case.name == "run":  # its scene is read through a link named after the output
        return
    role = case.command.roles[0]
    source = getattr(case.inputs, role)
    odd = Path(os.fsdecode(bytes(case.tmp) + b"/\xfe" + source.suffix.encode()))
    shutil.copy(source, odd)
    case.inputs = case.inputs.replaced(role, odd)
    case.out = case.tmp / "out" / f"o{case.command.suffix}"
    err = _contract(case, capsys, caplog, case.argv())
    assert "not UTF-8" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("case", ALL, indirect=True)
def test_signal_mid_write(case: Case, signum: int, capsys, caplog, monkeypatch) -> None:
    """SIGINT/SIGTERM while the first temporary is being written: 130/143, nothing left."""
    made = landmask.io.outputs.temp_path
    sent: list[Path] = []

    def temp_path(path: Path, suffix: str | None = None) -> Path:
        tmp = made(path, suffix)
        if not sent:
            sent.append(tmp)
            os.kill(os.getpid(), signum)
        return tmp

    monkeypatch.setattr(landmask.io.outputs, "temp_path", temp_path)
    summary = frozenset({"run-summary.json", "catalog.json", ".landmask-manifest.json"})
    allowed = summary if case.name.startswith("run") else frozenset()
    err = _contract(case, capsys, caplog, case.argv(), codes=(128 + signum,), allowed=allowed)
    assert sent, "no temporary was made"
    assert err == f"landmask: interrupted by {signal.Signals(signum).name}; temporary files removed"


#: the signal cells on worker processes: every command on both schedulers, with SIGINT (a
#: terminal's Ctrl-C, to the whole process group) or SIGTERM (``kill PID``). Each cell is a
#: real process starting its workers (5-10 s on an idle machine), so the suite runs one per
#: command (marked ``cluster``): the scheduler alternates, and the signal every other
#: command, so each (scheduler, signal) pair meets three commands; the other half is marked
#: ``slow`` as well (``pytest -m slow`` runs it)
def _worker_cells() -> list[object]:
    cells = []
    commands = [n for n in ALL if n != "preview"]  # preview computes in its own process
    for k, name in enumerate(commands):
        pairs = [
            ("processes", signal.SIGTERM if k % 4 < 2 else signal.SIGINT),
            ("local:2", signal.SIGINT if k % 4 < 2 else signal.SIGTERM),
        ]
        for j, (scheduler, signum) in enumerate(pairs):
            marks = [pytest.mark.cluster] + ([pytest.mark.slow] if j != k % 2 else [])
            cells.append(
                pytest.param(
                    name, scheduler, signum, id=f"{name}-{scheduler}-{signum.name}", marks=marks
                )
            )
    return cells


WORKER_CELLS = _worker_cells()
SIGNALLED = Path(__file__).parent / "faults" / "signalled.py"


def _without_scheduler(argv: list[object]) -> list[object]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--scheduler":
            skip = True
        else:
            out.append(arg)
    return out


@pytest.mark.parametrize(("name", "scheduler", "signum"), WORKER_CELLS)
def test_signal_mid_write_on_worker_processes(name, scheduler, signum, inputs, tmp_path):
    """SIGINT/SIGTERM mid-write with worker processes (issue 21): a real ``landmask``
    process, so its exit, its whole stderr (the resource tracker's and Dask's lines
    included) and its children are what a user gets: 130/143, the one line, nothing
    left on disk, no process left."""
    import subprocess
    import sys

    from conftest import wait_for

    (tmp_path / "out").mkdir()
    command = COMMANDS[name]
    case = Case(name, command, inputs, tmp_path, tmp_path / "out" / f"o{command.suffix}")
    argv = [*_without_scheduler(case.argv()), "--scheduler", scheduler]
    before_inputs = _hashes(case.input_files())
    before = snapshot(tmp_path)
    who = "group" if signum == signal.SIGINT else "process"
    proc = subprocess.Popen(
        [sys.executable, SIGNALLED, signum.name, who, *map(os.fspath, argv)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=300)  # a hang guard, not a timing
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)

    def group_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(group_gone, f"{name}: the worker processes ending", limit=60, step=0.1)
    lines = [s for s in err.splitlines() if s.strip() and not s.startswith("landmask: warning:")]
    assert proc.returncode == 128 + signum, f"{name}: exit {proc.returncode}:\n{err}"
    assert lines == [f"landmask: interrupted by {signum.name}; temporary files removed"], (
        f"{name} on {scheduler}:\n{err}"
    )
    assert _hashes(case.input_files()) == before_inputs, "an input changed"
    summary = {"run-summary.json", "catalog.json", ".landmask-manifest.json"}
    after = {
        k: v
        for k, v in snapshot(tmp_path).items()
        if not name.startswith("run") or Path(k).name not in summary
    }
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    assert not changed and set(after) <= set(before), (
        f"{name}: created {sorted(set(after) - set(before))}, changed {sorted(changed)}"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("name", ["change", "classify"])
def test_signal_in_the_vector_phase(name, signum, inputs, tmp_path, capsys, caplog, monkeypatch):
    """Issue 21: a signal while the polygons of ``change --vector`` were written left the
    change map, its item and its sidecars; now every output of the command goes."""
    out = tmp_path / "out"
    out.mkdir()
    vector = out / "v.gpkg"
    if name == "change":
        argv = ["change", inputs.mask, inputs.mask2, "-o", out / "c.tif", "--vector", vector]
    else:
        argv = ["classify", inputs.scene, *S2, "-o", out / "c.tif", "--vector", vector]
    made = landmask.io.outputs.temp_path
    sent: list[Path] = []

    def temp_path(path: Path, suffix: str | None = None) -> Path:
        tmp = made(path, suffix)
        if Path(path).name == vector.name and not sent:
            sent.append(tmp)
            os.kill(os.getpid(), signum)
        return tmp

    monkeypatch.setattr(landmask.io.outputs, "temp_path", temp_path)
    before = _hashes([inputs.scene, inputs.mask, inputs.mask2])
    res = invoke([*argv, "--scheduler", "synchronous"], capsys, caplog)
    assert sent and res.code == 128 + signum, res.err
    assert "Traceback" not in res.err
    assert os.listdir(out) == []  # c.tif, its item and sidecars removed with the polygons
    assert _hashes([inputs.scene, inputs.mask, inputs.mask2]) == before
