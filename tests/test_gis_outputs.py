"""GIS outputs as other tools read them: layer names, geometry types, GeoParquet metadata.

Every file is read back with pyogrio (what GDAL declares) or pyarrow (the raw
GeoParquet metadata), not with landmask.
"""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from conftest import UTM33
from conftest import as_mask as grid_mask
from pyproj import CRS
from test_vectorize import as_mask, random_speckle

from landmask.cli import run
from landmask.errors import HoldoutWarning
from landmask.vector.formats import write_vector
from landmask.vector.vectorize import vectorize, vectorize_to_file


@pytest.fixture(scope="module")
def speckle() -> np.ndarray:
    return np.tile(random_speckle(0).data, (2, 2))


def _written(tmp_path, speckle, ext, connectivity, simplify):
    mask = as_mask(speckle, chunks=23)
    path = tmp_path / f"mask{ext}"
    vectorize_to_file(mask, path, connectivity=connectivity, simplify=simplify)
    return path, vectorize(mask, connectivity=connectivity, simplify=simplify)


@pytest.mark.parametrize("ext", [".gpkg", ".fgb", ".geojson"])
@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("simplify", [None, 10.0])
def test_ogr_layer_named_after_the_file_with_its_geometry_type(
    tmp_path, speckle, ext, connectivity, simplify
):
    path, frame = _written(tmp_path, speckle, ext, connectivity, simplify)
    types = set(frame.geom_type)
    layers = pyogrio.list_layers(path)
    features = [(str(name), kind) for name, kind in layers if kind is not None]
    assert [name for name, _ in features] == ["mask"]
    declared = pyogrio.read_info(path, layer="mask")["geometry_type"]
    if ext == ".fgb":  # one type per file: Polygon, or MultiPolygon when any is one
        assert declared == ("MultiPolygon" if "MultiPolygon" in types else "Polygon")
        back = set(pyogrio.read_dataframe(path).geom_type)
        assert back == ({"MultiPolygon"} if "MultiPolygon" in types else {"Polygon"})
    elif connectivity == 4 and ext == ".gpkg":
        assert declared == "Polygon"
    assert declared != "Unknown" or ext != ".fgb"


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("simplify", [None, 10.0])
def test_geoparquet_is_1_1_with_a_bbox_covering_on_both_paths(
    tmp_path, speckle, connectivity, simplify
):
    path, frame = _written(tmp_path, speckle, ".parquet", connectivity, simplify)
    schema = pq.read_schema(path)
    geo = json.loads(schema.metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["geometry_types"] == sorted(set(frame.geom_type))
    assert column["covering"]["bbox"] == {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 32633}
    table = pq.read_table(path)
    geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    bbox = table.column("bbox").combine_chunks()
    got = np.column_stack([bbox.field(k).to_numpy() for k in ("xmin", "ymin", "xmax", "ymax")])
    np.testing.assert_array_equal(got, shapely.bounds(geoms))
    assert len(geoms) == len(frame)


def test_write_vector_and_the_stream_write_the_same_parquet_metadata(tmp_path, speckle):
    mask = as_mask(speckle, chunks=23)
    frame = vectorize(mask)
    write_vector(frame, tmp_path / "whole.parquet")
    vectorize_to_file(mask, tmp_path / "stream.parquet")
    whole, stream = (pq.read_schema(tmp_path / f"{n}.parquet") for n in ("whole", "stream"))
    a, b = (json.loads(s.metadata[b"geo"]) for s in (whole, stream))
    crs_a, crs_b = (g["columns"]["geometry"].pop("crs") for g in (a, b))
    assert a == b
    assert CRS.from_json_dict(crs_a) == CRS.from_json_dict(crs_b) == UTM33
    assert whole.names == stream.names == [*frame.columns.drop("geometry"), "geometry", "bbox"]
    back = gpd.read_parquet(tmp_path / "whole.parquet", bbox=frame.total_bounds)
    assert len(back) == len(frame)


# ------------------------------------------------------------ reading layers back


@pytest.fixture
def truth_gpkg(tmp_path, synthetic_small):
    """The synthetic truth as polygons in a GeoPackage written (and styled) by landmask."""
    truth = tmp_path / "truth.tif"
    from landmask.io.write.rasters import write_mask

    write_mask(grid_mask(synthetic_small.truth.astype(np.uint8)), truth)
    assert run(["vectorize", str(truth), "-o", str(tmp_path / "truth.gpkg"), "-q"]) == 0
    assert "layer_styles" in {str(n) for n, _ in pyogrio.list_layers(tmp_path / "truth.gpkg")}
    return tmp_path / "truth.gpkg"


def test_evaluate_and_train_read_a_landmask_geopackage_without_warnings(
    tmp_path, truth_gpkg, s2_file, capsys
):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # the few polygons allow no hold-out of whole polygons: that warning is train's own
        warnings.filterwarnings("ignore", category=HoldoutWarning)
        code = run(["evaluate", str(tmp_path / "truth.tif"), str(truth_gpkg), "-q"])
        assert code == 0
        model = tmp_path / "m.joblib"
        argv = ["train", str(s2_file), "--sensor", "sentinel2-l2a", "--labels", str(truth_gpkg)]
        assert run([*argv, "--label-column", "class_name", "-o", str(model), "-q"]) == 0


def test_several_feature_layers_need_the_layer_option(tmp_path, truth_gpkg, s2_file, capsys):
    frame = gpd.read_file(truth_gpkg, layer="truth")
    frame.to_file(truth_gpkg, layer="other", engine="pyogrio")
    capsys.readouterr()
    assert run(["evaluate", str(tmp_path / "truth.tif"), str(truth_gpkg), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--truth-layer" in err[0] and "other" in err[0], err
    argv = ["evaluate", str(tmp_path / "truth.tif"), str(truth_gpkg), "--truth-layer"]
    assert run([*argv, "nope", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'nope'" in err[0], err
    assert run([*argv, "other", "--json", str(tmp_path / "r.json"), "-q"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["overall_accuracy"] == 1.0
    model = tmp_path / "m.joblib"
    train = ["train", str(s2_file), "--sensor", "sentinel2-l2a", "--labels", str(truth_gpkg)]
    train += ["--label-column", "class_name", "-o", str(model), "-q"]
    assert run(train) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--labels-layer" in err[0], err
    assert run([*train, "--labels-layer", "truth"]) == 0
    assert model.is_file()


# ------------------------------------------------------------ extensions


S2 = ["--sensor", "sentinel2-l2a"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["classify", "{scene}", *S2, "-o", "{out}/mask.png"], "GeoTIFF"),
        (["classify", "{scene}", *S2, "-o", "{out}/m.tif", "--vector", "{out}/x.shp"], "x.shp"),
        (["indices", "{scene}", *S2, "--index", "ndvi", "-o", "{out}/i.jpg"], "GeoTIFF"),
        (["vectorize", "{scene}", "-o", "{out}/v.kml"], "v.kml"),
    ],
)
def test_an_extension_of_another_format_is_refused(tmp_path, s2_file, capsys, argv, needle):
    out = tmp_path / "out"
    out.mkdir()
    capsys.readouterr()
    code = run([a.format(scene=s2_file, out=out) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and needle in err[0], err
    assert list(out.iterdir()) == []


def test_preview_must_be_png(tmp_path, synthetic_small, capsys):
    from landmask.io.write.rasters import write_mask

    write_mask(grid_mask(synthetic_small.truth.astype(np.uint8)), tmp_path / "m.tif")
    capsys.readouterr()
    assert run(["preview", str(tmp_path / "m.tif"), "-o", str(tmp_path / "p.tif")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PNG" in err[0], err
    assert not (tmp_path / "p.tif").exists()
