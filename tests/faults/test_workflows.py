"""Workflows whose outputs would replace inputs, collide or escape outputs.dir: refused up front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import invoke

from tests.faults.conftest import error_lines, run_cli, snapshot


def _workflow(work: Path, outputs: dict[str, Any], **extra: Any) -> Path:
    scenes = work / "scenes"
    scenes.mkdir(exist_ok=True)
    for name in ("small.tif",):
        (scenes / name).write_bytes((work / name).read_bytes())
        (scenes / "other.tif").write_bytes((work / name).read_bytes())
    doc = {
        "name": "w",
        "inputs": "scenes/*.tif",
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": outputs,
        **extra,
    }
    path = work / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("outputs", "extra", "message"),
    [
        ({"dir": "scenes", "mask": "{stem}.tif"}, {}, "would overwrite an input"),
        ({"dir": "out", "mask": "{name}_{stem}.tif"}, {"name": "../../ESCAPED"}, "not a path"),
        ({"dir": "out", "mask": "{stem}_m.tif", "summary": "../s.json"}, {}, "is outside"),
        (
            {"dir": "out", "mask": "{stem}.tif", "indices": "{stem}.tif", "summary": "x.json"},
            {"indices": ["ndvi"]},
            "name the same file",
        ),
        (
            {"dir": "out", "mask": "{stem}_m.tif", "summary": "small_m.tif"},
            {},
            "name the same file",
        ),
        (
            {"dir": "out", "mask": "{stem}_m.tif", "summary": ".landmask-manifest.json"},
            {},
            "name the same file",
        ),
        # the STAC item and the style of small_m.tif (landmask.io.companions)
        ({"dir": "out", "mask": "{stem}_m.tif", "summary": "small_m.tif.stac.json"}, {}, "same"),
        ({"dir": "out", "mask": "{stem}_m.tif", "summary": "small_m.qml"}, {}, "same file"),
        ({"dir": "out", "mask": "{stem}_m.tif", "summary": "catalog.json"}, {}, "same file"),
    ],
)
def test_bad_outputs_refused_before_any_work(
    work: Path,
    outputs: dict[str, Any],
    extra: dict[str, Any],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # in-process (conftest.invoke): a refusal before any work needs no interpreter of its own
    job = _workflow(work, outputs, **extra)
    monkeypatch.chdir(work)
    before = snapshot(work)
    result = invoke(["run", job, "-q"], capsys, caplog)
    assert result.code == 2, result.err
    (line,) = error_lines(result.err)
    assert message in line
    after = snapshot(work)
    assert after == before  # nothing written, inputs untouched
    assert not (work.parent / "ESCAPED_small.tif").exists()


def test_resume_redoes_a_scene_whose_output_changed(work: Path) -> None:
    job = _workflow(work, {"dir": "out", "mask": "{stem}_m.tif"})
    assert run_cli("run", job, "-q", cwd=work).returncode == 0
    (work / "out" / "small_m.tif").write_bytes(b"")  # truncated since
    result = run_cli("run", job, "-q", cwd=work)
    assert result.returncode == 0, result.stderr
    summary = json.loads((work / "out" / "run-summary.json").read_text())
    status = {s["scene"]: s["status"] for s in summary["scenes"]}
    assert status == {"small": "done", "other": "skipped"}
    assert (work / "out" / "small_m.tif").stat().st_size > 0
