"""Every output kind opened by GDAL's own command-line tools, as a GIS user's machine has them.

``gdalinfo`` and ``ogrinfo`` come from the system (Debian's ``gdal-bin``: GDAL
3.6, the one QGIS 3.22 uses), not from the wheels landmask runs on; they are
older, so they show what a long-term distribution makes of the files. Any
``Warning`` or ``ERROR`` line fails. Skipped when the tools are not installed
(``apt-get install gdal-bin``; ``.ci/run`` tries to).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr
from conftest import TRANSFORM, UTM33, as_mask, write_raster

from landmask.cli import run
from landmask.io.write.rasters import write_indices, write_mask

pytestmark = pytest.mark.skipif(
    shutil.which("gdalinfo") is None or shutil.which("ogrinfo") is None,
    reason="GDAL's command-line tools are not installed (apt-get install gdal-bin)",
)

H = W = 48


def _tool(*argv: str | Path) -> str:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=60, check=False
    )
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    bad = [
        line for line in text.splitlines() if line.lstrip().lower().startswith(("warning", "error"))
    ]
    assert not bad, f"{argv[0]} {argv[-1]}: " + "\n".join(bad)
    return done.stdout


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of every kind landmask writes, in one folder."""
    d = tmp_path_factory.mktemp("clients")
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, (H, W)).astype(np.uint8)
    classes[:8, :8] = 3
    mask = as_mask(classes, chunks=16)
    values = rng.integers(0, 255, (4, H, W)).astype(np.uint8)
    proba = xr.DataArray(
        da.from_array(values, chunks=(4, 16, 16)),
        dims=("class", "y", "x"),
        coords={"class": [0, 1, 2, 3], "y": mask.y, "x": mask.x},
    ).rio.write_crs(UTM33)
    proba = proba.rio.write_transform(TRANSFORM)
    write_mask(mask, d / "mask.tif", probabilities=proba, probabilities_path=d / "proba.tif")
    ndvi = mask.astype("float32") / 4
    write_indices(xr.Dataset({"ndvi": ndvi, "mndwi": -ndvi}), d / "indices.tif")
    bands = ["B02", "B03", "B04", "B08", "B11", "B12"]
    scene = rng.integers(1, 5000, (6, H, W)).astype(np.uint16)
    write_raster(d / "scene.tif", scene, nodata=0, descriptions=bands)
    zones = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[
            shapely.box(500000, 5399760, 500240, 5400000),
            shapely.box(500240, 5399520, 500480, 5399760),
        ],
        crs=UTM33,
    )
    zones.to_file(d / "zones.gpkg", layer="zones", engine="pyogrio")
    mask2 = d / "mask2.tif"
    write_mask(as_mask(np.roll(classes, 5, axis=1), chunks=16), mask2)
    m = str(d / "mask.tif")
    for argv in (
        ["export", m, "-o", str(d / "rgb.tif"), "--rgb"],
        ["apply", str(d / "scene.tif"), m, "--keep", "water", "-o", str(d / "cut.tif")],
        ["vectorize", m, "-o", str(d / "poly.gpkg")],
        ["vectorize", m, "-o", str(d / "poly.fgb")],
        ["vectorize", m, "-o", str(d / "geo.geojson")],
        ["zonal", m, str(d / "zones.gpkg"), "--zone-column", "name", "-o", str(d / "areas.csv")],
        ["zonal", m, str(d / "zones.gpkg"), "--zone-column", "name", "-o", str(d / "areas.gpkg")],
        ["change", m, str(mask2), "-o", str(d / "change.tif"), "--vector", str(d / "loss.gpkg")],
    ):
        assert run([*argv, "-q"]) == 0, argv
    alone = d / "alone"
    alone.mkdir()
    shutil.copy(d / "mask.tif", alone / "mask.tif")  # without .aux.xml, .qml or item
    return {p.name: p for p in d.iterdir()} | {"alone": alone / "mask.tif"}


@pytest.mark.parametrize(
    "name", ["mask.tif", "proba.tif", "indices.tif", "rgb.tif", "cut.tif", "change.tif"]
)
def test_gdalinfo_opens_every_raster_without_a_warning(outputs, name):
    text = _tool("gdalinfo", outputs[name])
    interp = [line.split("ColorInterp=")[1] for line in text.splitlines() if "ColorInterp=" in line]
    expected = {
        "mask.tif": ["Palette"],
        "proba.tif": ["Gray", "Undefined", "Undefined", "Undefined"],
        "indices.tif": ["Gray", "Undefined"],
        "rgb.tif": ["Red", "Green", "Blue", "Alpha"],
        "cut.tif": ["Blue", "Green", "Red", "Undefined", "Undefined", "Undefined"],
        "change.tif": ["Palette"],
    }
    assert interp == expected[name]
    assert "LAYOUT=COG" in text


def test_a_mask_copied_alone_keeps_its_colours_and_class_names(outputs):
    text = _tool("gdalinfo", outputs["alone"])
    assert "Color Table (RGB with 256 entries)" in text
    assert "1: 0,100,0,255" in text  # forest, as the scheme colours it
    for line in ("CLASS_1=forest", "CLASS_3=water", "CLASS_SCHEME=landcover"):
        assert line in text


def _gdal_version() -> tuple[int, ...]:
    text = _tool("gdalinfo", "--version")  # "GDAL 3.6.2, released 2023/01/02"
    return tuple(int(p) for p in text.split()[1].rstrip(",").split(".")[:2])


def test_gdalinfo_json_reads_names_and_colours_from_a_mask_alone(outputs):
    alone = outputs["alone"]
    info = json.loads(_tool("gdalinfo", "-json", alone))
    assert info["files"] == [str(alone)]  # the file alone: no sidecar beside it
    band = info["bands"][0]
    assert band["colorInterpretation"] == "Palette"
    assert band["colorTable"]["entries"][1] == [0, 100, 0, 255]  # forest
    assert info["metadata"][""]["CLASS_1"] == "forest"
    if _gdal_version() < (3, 12):  # Debian's 3.6 skips the table inside the file, silently
        assert "rat" not in band
        return
    rows = {row["f"][0]: row["f"] for row in band["rat"]["row"]}  # GDAL >= 3.12: from the file
    assert rows[1][1:] == ["forest", "forest", 0, 100, 0, 255]
    assert rows[3][1] == "water"


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("poly.gpkg", "poly"),
        ("poly.fgb", "poly"),
        ("geo.geojson", "geo"),
        ("areas.gpkg", "areas"),
        ("loss.gpkg", "loss"),
        ("areas.csv", "areas"),
    ],
)
def test_ogrinfo_opens_every_vector_and_table_without_a_warning(outputs, name, layer):
    text = _tool("ogrinfo", "-so", "-ro", outputs[name], layer)
    if name.endswith(".csv"):  # typed by the .csvt
        assert "forest_m2: Real" in text and "name: String" in text
    else:
        assert "Feature Count:" in text


def test_every_item_of_every_kind_validates(outputs):
    from stac_schemas import check_stac_folder

    # mask, mask2, probabilities, indices, rgb, cut, change, 3 polygons, areas.gpkg, loss
    assert check_stac_folder(outputs["mask.tif"].parent) == 12


_QGIS_SCRIPT = """
import json, os, sys
from qgis.core import Qgis, QgsApplication, QgsRasterLayer
app = QgsApplication([], False)
app.initQgis()
out = {"version": Qgis.QGIS_VERSION}
for path in sys.argv[1:]:
    layer = QgsRasterLayer(path, "mask")
    renderer = layer.renderer()
    out[path] = {
        "valid": layer.isValid(),
        "renderer": renderer.type() if renderer else None,
        "classes": [
            [int(c.value), c.label, c.color.name()] for c in getattr(renderer, "classes", list)()
        ],
    }
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 may crash in its exit handlers; what it showed is printed
"""


def _qgis_python() -> str | None:
    """The system Python if it has QGIS's bindings (Debian's python3-qgis), else None."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    probe = subprocess.run(
        [python, "-c", "import qgis.core"], capture_output=True, timeout=60, check=False
    )
    return python if probe.returncode == 0 else None


def _system_env() -> dict[str, str]:
    """This environment less what points Python, GDAL or PROJ at the virtualenv's copies."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "GDAL_DATA", "PROJ_DATA", "PROJ_LIB")
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_qgis_shows_the_mask_coloured_and_labelled(outputs):
    """QGIS itself (Debian's python3-qgis, headless): names with the sidecars, colours alone."""
    python = _qgis_python()
    if python is None:
        pytest.skip("QGIS's Python bindings are not installed (apt-get install python3-qgis)")
    beside, alone = str(outputs["mask.tif"]), str(outputs["alone"])
    done = subprocess.run(
        [python, "-c", _QGIS_SCRIPT, beside, alone],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**_system_env(), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    for path in (beside, alone):
        assert shown[path]["valid"] and shown[path]["renderer"] == "paletted"
        colours = {value: colour for value, _, colour in shown[path]["classes"]}
        assert colours[1] == "#006400" and colours[3] == "#0064c8"  # forest, water
    labels = {value: label for value, label, _ in shown[beside]["classes"]}
    assert labels[1] == "forest" and labels[3] == "water"  # from mask.qml / the .aux.xml
    alone_labels = {value: label for value, label, _ in shown[alone]["classes"]}
    # alone: QGIS <= 3.28 labels the colour table's entries by id; QGIS >= 3.30 on GDAL >= 3.12
    # takes the names from the attribute table inside the file
    assert alone_labels[1] in ("1", "forest") and alone_labels[3] in ("3", "water")
