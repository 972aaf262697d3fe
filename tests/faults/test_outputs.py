"""Output safety decided in one place: plans, no-replace publishing, stale temporaries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from landmask.errors import ConfigError, OutputExistsError, ReadError
from landmask.io import outputs
from landmask.io.outputs import atomic_path, plan_outputs, remove_stale, temp_path
from tests.faults.conftest import error_lines, run_cli, snapshot


def test_plan_refuses_outputs_naming_one_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mask of scene a and outputs\.indices"):
        plan_outputs(
            {
                "outputs.mask of scene a": tmp_path / "a.tif",
                "outputs.indices of scene a": tmp_path / "." / "a.tif",
            },
            overwrite=True,
        )


def test_plan_refuses_outputs_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(ConfigError, match=r"outputs.summary is outside"):
        plan_outputs({"outputs.summary": root / ".." / "s.json"}, overwrite=True, root=root)


def test_plan_refuses_an_input_and_its_hard_link(tmp_path: Path) -> None:
    src = tmp_path / "in.tif"
    src.write_bytes(b"x")
    os.link(src, tmp_path / "link.tif")
    for out in (src, tmp_path / "link.tif"):
        with pytest.raises(ConfigError, match="would overwrite an input"):
            plan_outputs({"-o": out}, [str(src)], overwrite=True)
    assert src.read_bytes() == b"x"


def test_fifo_input_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "scene.tif"
    os.mkfifo(fifo)
    with pytest.raises(ReadError, match="not a regular file"):
        plan_outputs({"-o": tmp_path / "m.tif"}, [str(fifo)], overwrite=False)


def test_publish_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    out = tmp_path / "m.tif"
    with (
        pytest.raises(OutputExistsError, match="appeared while"),
        atomic_path(out, overwrite=False) as tmp,
    ):
        tmp.write_bytes(b"second")
        out.write_bytes(b"first")  # another process got there first
    assert out.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["m.tif"]
    with atomic_path(out, overwrite=True) as tmp:
        tmp.write_bytes(b"replaced")
    assert out.read_bytes() == b"replaced"


def test_sidecars_land_with_their_output(tmp_path: Path) -> None:
    out = tmp_path / "m.tif"
    with atomic_path(out, overwrite=False) as tmp:
        tmp.write_bytes(b"raster")
        outputs.attach_sidecars(tmp, {tmp_path / "m.qml": "<qgis/>"})
        assert not (tmp_path / "m.qml").exists()
    # marked as m.tif's companion (landmask.io.companions)
    assert (tmp_path / "m.qml").read_text() == "<!-- landmask companion of m.tif -->\n<qgis/>"


def test_stale_temporaries_of_dead_processes_only(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = temp_path(tmp_path / "a.tif")  # this process's
    live.write_bytes(b"")
    host = outputs._HOST
    stale = tmp_path / f".b.tif.lmtmp-{host}-{dead.pid}-0123abcd.part0.tif"
    other_host = tmp_path / f".c.tif.lmtmp-elsewhere-{dead.pid}-0123abcd.tif"
    parent = tmp_path / f".d.tif.lmtmp-{host}-{os.getppid()}-0123abcd.tif"  # alive
    for p in (stale, other_host, parent):
        p.write_bytes(b"")
    assert remove_stale(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (live, other_host, parent)
    )
    outputs.discard_temp(live)


def test_concurrent_classify_never_replaces_silently(work: Path) -> None:
    args = ("classify", "small.tif", "--sensor", "sentinel2-l2a", "-q", "-o", "m.tif")
    procs = [
        subprocess.Popen([*_cli(), *args], cwd=work, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results  # never both: the second is refused, the first kept
    (err,) = [e for code, e in results if code == 2]
    assert len(error_lines(err)) == 1 and "m.tif" in err
    assert not [p for p in work.iterdir() if ".lmtmp-" in p.name]


def test_output_over_input_refused_on_the_command_line(work: Path) -> None:
    before = snapshot(work)
    result = run_cli(
        "classify",
        "small.tif",
        "--sensor",
        "sentinel2-l2a",
        "-o",
        "small.tif",
        "--overwrite",
        cwd=work,
    )
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "landmask: error: small.tif: -o would overwrite an input (small.tif)"
    ]
    assert snapshot(work) == before


def _cli() -> list[str]:
    from tests.faults.conftest import LANDMASK

    return [LANDMASK]
