"""An output and its companions: one naming rule, and no user file ever replaced (issue 21 item 1).

Each case of issue 21 "Data lost or replaced" has its regression test here;
issue 23 item 4 (an item named so a user's ``--json x.json`` never clashes) is
in ``test_stac_items.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import yaml
from conftest import as_mask, sha256

from landmask.batch.run import run_workflow
from landmask.batch.workflow import load_workflow
from landmask.cli import run
from landmask.errors import OutputExistsError
from landmask.io.companions import Output, is_own, item_path
from landmask.io.outputs import plan_outputs
from landmask.io.write.rasters import write_mask

S2 = ("--sensor", "sentinel2-l2a")


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_the_naming_rule() -> None:
    """Written out by hand, not from the code: QGIS's, GDAL's and OGR's rules, ours for items."""
    names = {
        ("m.tif", "mask"): ["m.tif", "m.qml", "m.tif.aux.xml", "m.tif.stac.json"],
        ("p.tif", "probabilities"): ["p.tif", "p.qml", "p.tif.stac.json"],
        ("i.tif", "indices"): ["i.tif", "i.qml", "i.tif.stac.json"],
        ("a.tif", "image"): ["a.tif", "a.tif.stac.json"],
        ("v.fgb", "polygons"): ["v.fgb", "v.qml", "v.fgb.stac.json"],
        ("v.gpkg", "polygons"): ["v.gpkg", "v.gpkg.stac.json"],  # style inside
        ("z.gpkg", "vector"): ["z.gpkg", "z.gpkg.stac.json"],
        ("z.csv", "table"): ["z.csv", "z.csvt"],
        ("r.json", "file"): ["r.json"],
    }
    for (name, kind), files in names.items():
        output = Output(Path(name), kind, stac=kind not in ("table", "file"))
        assert [p.name for p in output.files()] == files
    assert [p.name for p in Output(Path("m.tif"), "mask").files()][-1] == "m.tif.aux.xml"


@pytest.mark.parametrize("name", ["m.qml", "m.tif.aux.xml", "m.tif.stac.json"])
def test_a_users_file_named_like_a_companion_is_never_replaced(s2_file, tmp_path, capsys, name):
    """Issue 21: a user's m.qml or m.tif.aux.xml and no m.tif; classify exited 0 replacing it."""
    mine = tmp_path / name
    mine.write_text("<mine/>\n")
    mask = tmp_path / "m.tif"
    for extra in ([], ["--overwrite"]):
        capsys.readouterr()
        assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q", *extra]) == 2
        err = one_error(capsys)
        assert f"{mine}: exists and was not written by landmask for {mask}" in err
        assert mine.read_text() == "<mine/>\n"
        assert sorted(os.listdir(tmp_path)) == sorted([name, "s2.tif"])


def test_landmasks_own_companions_are_replaced(s2_file, tmp_path):
    """Left behind by a mask since deleted: replaced without --overwrite; with it, as the mask."""
    mask = tmp_path / "m.tif"
    argv = ["classify", str(s2_file), *S2, "-o", str(mask), "-q"]
    assert run(argv) == 0
    mask.unlink()
    assert run(argv) == 0
    # GDAL rewrites the .aux.xml (statistics, as QGIS does): the mark survives
    with rasterio.open(mask) as ds:  # GDAL writes the PAM file when the dataset closes
        ds.stats(approx=False)
    aux = tmp_path / "m.tif.aux.xml"
    assert "STATISTICS_MEAN" in aux.read_text()
    assert is_own(aux, "attribute table", mask)
    assert run([*argv, "--overwrite"]) == 0
    for role, side in Output(mask, "mask", stac=True).companions().items():
        assert is_own(side, role, mask), side
        assert not is_own(side, role, tmp_path / "other.tif")


def test_a_qml_of_another_output_is_not_replaced(tmp_path):
    """m.qml written for m.tif is not m.fgb's: polygons named m.fgb are refused."""
    mask = write_mask(as_mask(np.zeros((8, 8), np.uint8)), tmp_path / "m.tif").path
    with pytest.raises(OutputExistsError, match=r"m\.qml: exists and was not written .*/m\.fgb"):
        plan_outputs({"-o": Output(tmp_path / "m.fgb", "polygons")}, overwrite=True)
    assert mask.exists()


def test_companion_over_an_input_refused(s2_file, tmp_path, capsys):
    """Issue 21: zonal wrote its item over the zones (``z.gpkg.json`` then, ``.stac.json`` now)."""
    mask = tmp_path / "m.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q"]) == 0
    with rasterio.open(mask) as ds:
        left, bottom, right, top = ds.bounds
        crs = ds.crs.to_string()
    zones = tmp_path / "z.gpkg.stac.json"  # GeoJSON zones named like the output's item
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": crs}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"zone": "a"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[left, bottom], [right, bottom], [right, top], [left, bottom]]
                            ],
                        },
                    }
                ],
            }
        )
    )
    before = sha256(zones)
    capsys.readouterr()
    out = tmp_path / "z.gpkg"
    assert run(["zonal", str(mask), str(zones), "-o", str(out), "--overwrite", "-q"]) == 2
    err = one_error(capsys)
    assert f"{zones}: the STAC item of -o ({out}) would overwrite an input ({zones})" in err
    assert sha256(zones) == before and not out.exists()
    # through a hard link and a symlink too
    link = tmp_path / "y.gpkg.stac.json"
    os.link(zones, link)
    sym = tmp_path / "x.gpkg.stac.json"
    sym.symlink_to(zones)
    for name in ("y.gpkg", "x.gpkg"):
        argv = ["zonal", str(mask), str(zones), "-o", str(tmp_path / name), "--overwrite"]
        assert run(argv) == 2
        assert "would overwrite an input" in one_error(capsys)
    assert sha256(zones) == before


@pytest.fixture
def workflow(tmp_path, s2_file):
    doc = {
        "name": "w",
        "inputs": [str(s2_file)],
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": {"dir": "out", "mask": "{stem}_mask.tif"},
        "chunk_size": 64,
    }
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(doc))
    (tmp_path / "out").mkdir()
    return path


def test_run_never_replaces_a_file_it_did_not_write(workflow, tmp_path, capsys):
    """Issue 21: ``echo mine > out/a_mask.tif``; run replaced it, exit 0, without --force."""
    mine = tmp_path / "out" / "s2_mask.tif"
    mine.write_text("mine\n")
    assert run(["run", str(workflow), "-q"]) == 2
    err = one_error(capsys)
    assert str(mine) in err and "--overwrite" in err
    assert mine.read_text() == "mine\n"
    assert sorted(os.listdir(tmp_path / "out")) == ["s2_mask.tif"]
    mine.unlink()
    assert run(["run", str(workflow), "-q"]) == 0
    assert run(["run", str(workflow), "-q", "--force"]) == 0  # its own: redone
    # SIGKILL after the mask landed, before the manifest recorded it: its item says it is ours
    (tmp_path / "out" / ".landmask-manifest.json").unlink()
    assert run(["run", str(workflow), "-q"]) == 0


def test_two_runs_sharing_a_folder_keep_both_in_the_catalog(workflow, tmp_path):
    """Issue 21: two runs sharing outputs.dir each rewrote catalog.json with their items only."""
    other = tmp_path / "v.yaml"
    doc = yaml.safe_load(workflow.read_text())
    doc["outputs"]["mask"] = "{stem}_second.tif"
    other.write_text(yaml.safe_dump(doc))
    for path in (workflow, other):
        assert not run_workflow(load_workflow(path), scheduler="synchronous").failed
    out = tmp_path / "out"
    catalog = pystac.Catalog.from_file(str(out / "catalog.json"))
    hrefs = sorted(Path(i.get_self_href() or "").name for i in catalog.get_items())
    assert hrefs == ["s2_mask.tif.stac.json", "s2_second.tif.stac.json"]
    assert hrefs == sorted(item_path(p).name for p in out.glob("*.tif"))
    # a catalog.json landmask did not write is never replaced
    (out / "catalog.json").write_text('{"mine": true}')
    with pytest.raises(OutputExistsError, match=r"catalog\.json"):
        run_workflow(load_workflow(workflow), scheduler="synchronous", force=True)
    assert json.loads((out / "catalog.json").read_text()) == {"mine": True}
