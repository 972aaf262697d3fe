"""Outputs as GIS clients draw them: band colour roles, QGIS styles, GeoPackage version, typed CSV.

Each file is read back with rasterio (the colour interpretation GDAL reports),
sqlite3 (the GeoPackage header) or pyogrio (the column types OGR declares),
never with landmask.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import dask.array as da
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
import xarray as xr
from conftest import TRANSFORM, UTM33, as_mask, write_raster

from landmask.cli import run
from landmask.io.read.masks import open_image
from landmask.io.write.rasters import band_colours, write_image, write_indices, write_mask
from landmask.products.export import export_mask
from landmask.spectral.indices import index_ramp
from landmask.vector.formats import write_vector
from landmask.vector.vectorize import vectorize_to_file

H = W = 32


def _classes(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (H, W)).astype(np.uint8)


def _interp(path: Path) -> list[str]:
    with rasterio.open(path) as ds:
        return [c.name for c in ds.colorinterp]


def _probabilities(mask: xr.DataArray, n: int) -> xr.DataArray:
    values = np.random.default_rng(1).integers(0, 255, (n, H, W)).astype(np.uint8)
    proba = xr.DataArray(
        da.from_array(values, chunks=(n, 16, 16)),
        dims=("class", "y", "x"),
        coords={"class": list(range(n)), "y": mask.y, "x": mask.x},
    )
    return proba.rio.write_crs(mask.rio.crs).rio.write_transform(TRANSFORM)


@pytest.mark.parametrize("n", [3, 4])
def test_probabilities_are_gray_bands_named_by_class_never_rgb_or_alpha(tmp_path, n):
    mask = as_mask(_classes(), chunks=16)
    out = tmp_path / "proba.tif"
    write_mask(
        mask, tmp_path / "m.tif", probabilities=_probabilities(mask, n), probabilities_path=out
    )
    assert _interp(out) == ["gray"] + ["undefined"] * (n - 1)
    with rasterio.open(out) as ds:
        assert list(ds.descriptions) == ["other", "forest", "urban", "water"][:n]
        assert ds.tags()["PROBABILITY_SCALE"].startswith("1/254")
    qml = ET.parse(out.with_suffix(".qml")).getroot()
    renderer = qml.find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    assert renderer.get("band") == "2"  # forest, the first class that is not "other"
    colours = [i.get("color") for i in qml.iter("item")]
    assert colours == ["#ffffff", "#006400"]  # white to the forest colour of the scheme


def test_mask_band_is_a_palette(tmp_path):
    out = write_mask(as_mask(_classes()), tmp_path / "m.tif").path
    assert _interp(out) == ["palette"]
    gray = export_mask(out, tmp_path / "ids.tif").path
    assert _interp(gray) == ["gray"]


def test_rgb_export_is_red_green_blue_alpha(tmp_path):
    out = export_mask(as_mask(_classes()), tmp_path / "rgb.tif", rgb=True).path
    assert _interp(out) == ["red", "green", "blue", "alpha"]


def _indices(names: list[str]) -> xr.Dataset:
    mask = as_mask(_classes())
    values = np.random.default_rng(2).uniform(-1, 1, (H, W)).astype(np.float32)
    return xr.Dataset(
        {
            n: mask.copy(data=da.from_array(values * (k + 1) / 3, chunks=16))
            for k, n in enumerate(names)
        }
    )


@pytest.mark.parametrize("names", [["ndvi", "mndwi"], ["ndvi", "mndwi", "ndbi"]])
def test_indices_are_described_gray_bands_styled_by_the_first_index(tmp_path, names):
    out = tmp_path / "idx.tif"
    write_indices(_indices(names), out)
    assert _interp(out) == ["gray"] + ["undefined"] * (len(names) - 1)
    with rasterio.open(out) as ds:
        assert list(ds.descriptions) == names
    root = ET.parse(out.with_suffix(".qml")).getroot()
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("band") == "1"
    items = {float(i.get("value")): i.get("color") for i in root.iter("item")}
    assert sorted(items) == [-1.0, 0.0, 1.0]
    r, g, b = (int(items[1.0][k : k + 2], 16) for k in (1, 3, 5))
    assert g > r and g > b  # NDVI: vegetation (high values) green


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


def test_index_ramps_colour_high_values_by_what_they_show():
    for name in ("ndvi", "evi", "savi", "nbr"):
        r, g, b = _rgb(index_ramp(name)[2])
        assert g > r and g > b, name
    for name in ("mndwi", "ndwi", "awei_sh"):
        r, g, b = _rgb(index_ramp(name)[2])
        assert b > r and b > g, name
    r, g, b = _rgb(index_ramp("ndbi")[2])
    assert r > g and r > b


def test_index_map_draws_vegetation_green(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landmask.viz.plot import index_map

    values = np.linspace(-1, 1, H * W, dtype=np.float32).reshape(H, W)
    ndvi = as_mask(_classes()).copy(data=values).rename("ndvi")
    fig, ax = plt.subplots()
    index_map(ndvi, ax=ax, vmax=1.0)
    image = ax.images[0]
    r, g, b, _ = image.cmap(image.norm(0.95))
    plt.close(fig)
    assert g > r and g > b


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["B02", "B03", "B04", "B08"], ["blue", "green", "red", "undefined"]),
        (["SR_B2", "SR_B3", "SR_B4", "SR_B5"], None),  # Landsat 8 vs Landsat 5 ids
        (["red", "green", "blue"], ["red", "green", "blue"]),
        (["B2", "B3", "B4"], None),  # Landsat 8 blue, green, red; Landsat 5 green, red, nir
        (["B04", "B08"], None),
        (["a", "b", "c"], None),
    ],
)
def test_band_colours_from_names(names, expected):
    assert band_colours(names) == expected


def test_apply_output_has_red_green_blue_bands_where_the_sentinel2_bands_are(tmp_path):
    bands = ["B02", "B03", "B04", "B08", "B11", "B12"]
    values = np.random.default_rng(3).integers(1, 5000, (6, H, W)).astype(np.uint16)
    image = write_raster(tmp_path / "s2.tif", values, nodata=0, descriptions=bands)
    mask = write_mask(as_mask(_classes()), tmp_path / "m.tif").path
    out = tmp_path / "cut.tif"
    assert run(["apply", str(image), str(mask), "-o", str(out), "--keep", "water", "-q"]) == 0
    assert _interp(out) == ["blue", "green", "red", "undefined", "undefined", "undefined"]
    # the plain image writer keeps unnamed bands gray, then undefined
    plain = write_image(open_image(image).assign_attrs(long_name=None), tmp_path / "p.tif").path
    assert _interp(plain) == ["gray"] + ["undefined"] * 5


def _user_version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA user_version").fetchone()[0])
    finally:
        con.close()


def test_every_geopackage_is_version_1_2(tmp_path):
    mask = as_mask(_classes(), chunks=16)
    streamed = vectorize_to_file(mask, tmp_path / "poly.gpkg").path
    frame = gpd.GeoDataFrame(
        {"class_id": [1], "class_name": ["forest"]},
        geometry=[shapely.box(500000, 5399700, 500100, 5399800)],
        crs=UTM33,
    )
    whole = write_vector(frame, tmp_path / "whole.gpkg")
    for path in (streamed, whole):
        assert _user_version(path) == 10200, path
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        con.close()


def _zones(tmp_path: Path) -> Path:
    zones = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[
            shapely.box(500000, 5399840, 500160, 5400000),
            shapely.box(500160, 5399680, 500320, 5399840),
        ],
        crs=UTM33,
    )
    zones.to_file(tmp_path / "zones.gpkg", layer="zones", engine="pyogrio")
    return tmp_path / "zones.gpkg"


def test_zonal_csv_has_a_csvt_so_ogr_reads_numbers_as_numbers(tmp_path, monkeypatch, capsys):
    mask = write_mask(as_mask(_classes()), tmp_path / "m.tif").path
    zones = _zones(tmp_path)
    monkeypatch.chdir(tmp_path)
    status = run(["zonal", "m.tif", "zones.gpkg", "--zone-column", "name", "-o", "areas.csv"])
    assert status == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("areas.csv: 2 zones")  # relative, as given
    assert str(tmp_path) not in out
    csvt = (tmp_path / "areas.csvt").read_text().strip().split(",")
    info = pyogrio.read_info(tmp_path / "areas.csv")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert len(csvt) == len(types) and csvt[0] == '"String"'
    assert types["name"] == "object"
    assert types["forest_m2"] == "float64" and types["inside_m2"] == "float64"
    frame = pyogrio.read_dataframe(tmp_path / "areas.csv")
    assert frame["inside_m2"].sum() == pytest.approx(2 * 160 * 160)
    assert mask.exists() and zones.exists()


def test_change_prints_the_paths_it_was_given(tmp_path, monkeypatch, capsys):
    write_mask(as_mask(_classes(0)), tmp_path / "a.tif")
    write_mask(as_mask(_classes(1)), tmp_path / "b.tif")
    monkeypatch.chdir(tmp_path)
    assert run(["change", "a.tif", "b.tif", "-o", "ch.tif", "--vector", "ch.gpkg"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ch.tif: change map")
    assert any(line.startswith("ch.gpkg: ") for line in lines)
    assert not any(str(tmp_path) in line for line in lines)
    assert _user_version(tmp_path / "ch.gpkg") == 10200
