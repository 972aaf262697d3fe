"""The example workflows of workflows/ run to the end on data landmask makes, outside the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio

from landmask.batch.examples import run_example
from landmask.cli import run
from landmask.errors import ConfigError
from landmask.io.companions import item_path

WORKFLOWS = Path(__file__).parents[1] / "workflows"


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    ("name", "scenes", "acquired"),
    [
        ("landsat-water.yaml", 1, {"2024-06-01T00:00:00Z"}),  # the product id's day
        ("naip-rgbn.yaml", 2, None),  # NAIP tiles say no time: the time of writing
        ("sentinel2-landcover.yaml", 2, {"2023-06-01T10:00:31Z", "2024-06-01T10:00:31Z"}),
    ],
)
def test_each_example_workflow_runs_to_the_end_in_its_own_folder(tmp_path, name, scenes, acquired):
    before = _listing(WORKFLOWS)
    summary = run_example(WORKFLOWS / name, tmp_path / "ex", size=64, scheduler="synchronous")
    assert not summary.failed and len(summary.scenes) == scenes
    assert _listing(WORKFLOWS) == before  # nothing written beside the original
    masks = sorted((tmp_path / "ex" / "output").rglob("*_mask.tif")) or sorted(
        (tmp_path / "ex" / "output").rglob("*_water.tif")
    )
    assert len(masks) == scenes
    for mask in masks:
        with rasterio.open(mask) as ds:
            assert ds.count == 1 and ds.dtypes[0] == "uint8" and ds.crs.to_epsg() == 32633
            assert (ds.read(1) != 255).mean() > 0.5  # classified, not blank
    catalog = json.loads(next((tmp_path / "ex" / "output").rglob("catalog.json")).read_text())
    assert sum(link["rel"] == "item" for link in catalog["links"]) >= scenes
    if acquired is not None:
        times = {json.loads(item_path(m).read_text())["properties"]["datetime"] for m in masks}
        assert times == acquired


def test_the_cli_runs_an_example_and_refuses_to_write_outside_its_folder(tmp_path, capsys):
    folder = tmp_path / "ex"
    argv = ["demo", "--workflow", str(WORKFLOWS / "naip-rgbn.yaml"), "-o", str(folder)]
    assert run([*argv, "--size", "64", "--scheduler", "synchronous"]) == 0
    assert "2 of 2 scenes done" in capsys.readouterr().out
    assert run([*argv, "--size", "64", "-q"]) == 2  # ran before: --overwrite
    assert "pass --overwrite" in capsys.readouterr().err
    rogue = tmp_path / "rogue.yaml"
    rogue.write_text(
        "name: x\ninputs: ../data/*.tif\nclassifier: {rules: naip}\noutputs: {dir: /tmp}\n"
    )
    with pytest.raises(ConfigError, match="outside"):
        run_example(rogue, tmp_path / "ex2")
    assert not (tmp_path / "ex2" / "data").exists()
