"""``--scale``/``--offset`` per band: ``--scale nir=0.0001`` (repeatable), a bare number for all.

The same in Python (``open_scene(scale={"nir": 1e-4})``) and in workflow YAML
(``scale: {nir: 0.0001}``). Expected reflectance is computed here with numpy
from the values written.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import yaml
from conftest import assert_one_line, invoke, write_raster
from test_radiometry import stac_item

from landmask.batch.workflow import load_workflow
from landmask.cli import run
from landmask.errors import ConfigError, UncalibratedWarning
from landmask.io.read.scene import open_scene

SHAPE = (5, 6)
NAMES = ("red", "green", "blue", "nir")


def rgbn(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.integers(100, 4000, (4, *SHAPE)).astype(np.uint16)
    return write_raster(tmp_path / "rgbn.tif", data), data.astype(np.float64)


def named():
    return [f"--band={n}={k}" for k, n in enumerate(NAMES, 1)]


def test_cli_bare_number_for_all_and_named_values_for_some(tmp_path, capsys, caplog):
    path, dn = rgbn(tmp_path)
    out = tmp_path / "ndvi.tif"
    argv = ["indices", path, *named(), "--index", "ndvi", "-o", out]
    options = ["--scale", "0.0001", "--scale", "nir=0.0002", "--offset", "red=-0.01"]
    res = invoke([*argv, *options], capsys, caplog)
    assert res.code == 0, res.err
    red, nir = dn[0] * 1e-4 - 0.01, dn[3] * 2e-4
    with rasterio.open(out) as ds:
        np.testing.assert_allclose(ds.read(1), (nir - red) / (nir + red), rtol=1e-5)
    assert "radiometry: surface reflectance (per-band scale and offset from --scale" in res.out


def test_python_mapping_scales_only_the_bands_it_names(tmp_path):
    path, dn = rgbn(tmp_path)
    bands = dict(zip(NAMES, range(1, 5), strict=True))
    scene = open_scene(path, bands=bands, scale={"nir": 1e-4, "*": 2e-4}, offset={"red": 0.05})
    np.testing.assert_allclose(scene.sel(band="nir").values, dn[3] * 1e-4, rtol=1e-6)
    np.testing.assert_allclose(scene.sel(band="red").values, dn[0] * 2e-4 + 0.05, rtol=1e-6)
    np.testing.assert_allclose(scene.sel(band="blue").values, dn[2] * 2e-4, rtol=1e-6)
    assert scene.attrs["scaling"] == "mixed"
    assert scene.attrs["band_scaling"]["nir"] == pytest.approx([1e-4, 0.0])
    # a band the mapping leaves out (and no "*") keeps no scale: digital numbers, said so
    with pytest.warns(UncalibratedWarning):
        partial = open_scene(path, bands=bands, scale={"nir": 1e-4})
    np.testing.assert_allclose(partial.sel(band="red").values, dn[0], rtol=1e-6)
    assert partial.attrs["radiometry"] == "dn"


def test_nir_names_the_nir08_band_of_oli(tmp_path):
    pid = "LC09_L2SP_044034_20220302_20220304_02_T1"
    files = [
        write_raster(tmp_path / f"{pid}_SR_B{k}.TIF", np.full(SHAPE, 10000 * k, np.uint16))
        for k in (4, 5)
    ]
    scene = open_scene(files, sensor="landsat-c2-l2", scale={"nir": 1e-5}, offset={"nir": 0.0})
    assert list(scene["band"].values) == ["red", "nir08"]
    np.testing.assert_allclose(scene.sel(band="nir08").values, 0.5, rtol=1e-6)
    np.testing.assert_allclose(scene.sel(band="red").values, 40000 * 2.75e-5 - 0.2, rtol=1e-6)


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (["--scale", "foo=0.1"], ["--scale foo=0.1", "no band 'foo'", "red, green, blue, nir"]),
        (["--scale", "nir=nan"], ["--scale", "nir=nan", "not a finite number"]),
        (["--offset", "red=-0.1", "--offset", "red=0"], ["--offset", "'red' is given twice"]),
        (["--scale", "0.1", "--scale", "0.2"], ["--scale", "every band is given twice"]),
        (["--scale", "nir=abc"], ["--scale", "expected F or NAME=F"]),
        (["--scale", "=0.1"], ["expected F or NAME=F"]),
    ],
)
def test_bad_per_band_values_are_one_line_naming_the_option(
    tmp_path, capsys, caplog, options, needles
):
    path, _ = rgbn(tmp_path)
    out = tmp_path / "ndvi.tif"
    res = invoke(
        ["indices", path, *named(), "--index", "ndvi", *options, "-o", out], capsys, caplog
    )
    assert_one_line(res, *needles)
    assert not out.exists()


def test_python_errors_name_the_band(tmp_path):
    path, _ = rgbn(tmp_path)
    bands = dict(zip(NAMES, range(1, 5), strict=True))
    with pytest.raises(ConfigError, match=r"--scale swir16=0\.1: the scene has no band 'swir16'"):
        open_scene(path, bands=bands, scale={"swir16": 0.1})
    with pytest.raises(ConfigError, match="--offset red=nan: not a finite number"):
        open_scene(path, bands=bands, offset={"red": float("nan")})


def test_stac_item_options_beat_raster_bands_for_the_named_band_only(tmp_path):
    red = write_raster(tmp_path / "B04.tif", np.full(SHAPE, 2000, np.uint16))
    nir = write_raster(tmp_path / "B08.tif", np.full(SHAPE, 3000, np.uint16))
    bands = {"B04": ("red", red), "B08": ("nir", nir)}
    item = stac_item(bands, {"scale": 1e-4, "offset": -0.1})
    (tmp_path / "item.json").write_text(json.dumps(item))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        scene = open_scene(tmp_path / "item.json", scale={"nir": 2e-4}, offset={"nir": 0.0})
    np.testing.assert_allclose(scene.values[:, 0, 0], [0.1, 0.6], rtol=1e-6)
    assert scene.attrs["band_scaling"] == {"red": [1e-4, -0.1], "nir": [2e-4, 0.0]}
    with pytest.raises(ConfigError, match=r"--scale swir16=0\.1: the scene has no band"):
        open_scene(tmp_path / "item.json", scale={"swir16": 0.1})


def test_workflow_takes_per_band_values_and_refuses_nan(tmp_path, capsys):
    doc = {
        "name": "t",
        "inputs": "scenes/*.tif",
        "bands": {"red": 1, "nir": 2},
        "scale": {"nir": 0.0001, "*": 0.0002},
        "offset": -0.1,
        "classifier": {"rules": "naip"},
        "outputs": {"dir": "out"},
    }
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(doc))
    wf = load_workflow(path)
    assert wf.scale == {"nir": 0.0001, "*": 0.0002} and wf.offset == -0.1
    path.write_text(yaml.safe_dump({**doc, "scale": {"nir": float("nan")}}))
    assert run(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]
    assert "key 'scale.nir': nan is not a finite number" in err[0]
