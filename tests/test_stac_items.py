"""STAC items beside every output, read back with pystac and checked against the files.

Everything offline: the items are read with ``pystac.Item.from_file`` and its
extension helpers, and every field is compared with what rasterio, pyogrio,
pyarrow and hashlib read from the file the item describes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pystac
import pytest
import rasterio
import shapely
import yaml
from conftest import as_mask, sha256, write_raster
from pyproj import CRS
from pystac.extensions.classification import ClassificationExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension
from rasterio.warp import transform_bounds

import landmask
from landmask.batch.run import run_workflow
from landmask.batch.workflow import load_workflow
from landmask.classes import CLOUD, NODATA, get_scheme
from landmask.cli import run
from landmask.errors import ConfigError
from landmask.io.read.scene import SceneOptions
from landmask.pipeline import SceneJob, check_job
from landmask.synthetic import BANDS, S2_BAND_IDS, to_dn

S2 = ("--sensor", "sentinel2-l2a")


def _item_path(output: Path) -> Path:
    """mask.tif -> mask.tif.stac.json; polygons.gpkg -> polygons.gpkg.stac.json."""
    return output.with_name(output.name + ".stac.json")


def _item(output: Path) -> pystac.Item:
    path = _item_path(output)
    assert path.is_file(), f"no STAC item beside {output.name}"
    item = pystac.Item.from_file(str(path))
    asset = item.assets["data"]
    assert Path(asset.get_absolute_href() or "") == output.resolve()
    assert "data" in (asset.roles or [])
    return item


def _check_file(item: pystac.Item, output: Path) -> None:
    """file:size and file:checksum (sha2-256 multihash) against the bytes on disk."""
    ext = FileExtension.ext(item.assets["data"])
    assert ext.size == output.stat().st_size
    assert ext.checksum == "1220" + sha256(output)


def _check_wgs84(item: pystac.Item, crs: CRS, bounds: tuple[float, ...]) -> None:
    """WGS84 bbox and footprint: the file's extent, reprojected (GDAL, densified)."""
    expected = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=101)
    assert item.bbox is not None
    np.testing.assert_allclose(item.bbox, expected, atol=1e-7)
    footprint = shapely.geometry.shape(item.geometry)
    assert footprint.is_valid
    np.testing.assert_allclose(footprint.bounds, item.bbox, atol=1e-12)
    corners = shapely.points(
        *rasterio.warp.transform(
            crs,
            "EPSG:4326",
            [bounds[0], bounds[2], bounds[2], bounds[0]],
            [bounds[1]] * 2 + [bounds[3]] * 2,
        )
    )
    assert all(footprint.buffer(1e-9).covers(p) for p in corners)


def _check_raster(item: pystac.Item, output: Path) -> None:
    """proj:*, raster:bands, file:*, bbox and geometry against the raster itself."""
    proj = ProjectionExtension.ext(item)
    bands = RasterExtension.ext(item.assets["data"]).bands
    with rasterio.open(output) as ds:
        assert proj.code == f"EPSG:{ds.crs.to_epsg()}"
        assert proj.shape == [ds.height, ds.width]
        assert proj.transform == list(ds.transform)[:6]
        assert proj.bbox == list(ds.bounds)
        assert bands is not None and len(bands) == ds.count
        for k, band in enumerate(bands):
            assert band.data_type == ds.dtypes[k]
            nodata = ds.nodatavals[k]
            if nodata is not None and math.isnan(nodata):
                assert band.nodata == "nan"
            else:
                assert band.nodata == nodata
            assert band.spatial_resolution == ds.res[0]
            assert (band.scale or 1.0) == pytest.approx(ds.scales[k])
        crs, bounds = ds.crs, tuple(ds.bounds)
    _check_file(item, output)
    _check_wgs84(item, crs, bounds)


def _check_classes(
    item: pystac.Item, scheme_name: str, values: set[int], path: Path | None = None
) -> None:
    """classification:classes: every class of the scheme, cloud and nodata marked nodata;
    names as the extension allows them, the class text in description and title, colour
    hints equal to the colour table of the file ``path`` (when it has one)."""
    classes = ClassificationExtension.ext(item.assets["data"]).classes
    assert classes is not None
    by_value = {c.value: c for c in classes}
    scheme = get_scheme(scheme_name)
    table = None
    if path is not None and path.suffix == ".tif":
        with rasterio.open(path) as ds:
            table = ds.colormap(1)
    for c in scheme:
        entry = by_value[c.id]
        assert re.fullmatch(r"[0-9A-Za-z-_]+", entry.name), entry.name
        assert entry.name == c.name.replace(" -> ", "-to-")
        assert entry.description == c.title and entry.title == c.title
        assert entry.color_hint == c.color.lstrip("#").upper()
        assert bool(entry.nodata) == (c.id in (CLOUD, NODATA))
    if table is not None:
        for entry in classes:
            rgb = table[entry.value][:3]
            assert entry.color_hint == "".join(f"{v:02X}" for v in rgb), entry.value
    assert by_value[CLOUD].nodata is True and by_value[NODATA].nodata is True
    assert values <= set(by_value), "a value in the file has no class in the item"


def _mask_values(path: Path) -> set[int]:
    with rasterio.open(path) as ds:
        return set(np.unique(ds.read(1)).tolist())


def test_classify_mask_item_matches_the_file(s2_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mask = out / "mask.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q"]) == 0
    item = _item(mask)
    assert item.id == "mask-mask"
    _check_raster(item, mask)
    _check_classes(item, "landcover", _mask_values(mask), mask)
    assets = {key: a.href for key, a in item.assets.items()}
    assert assets == {
        "data": "./mask.tif",
        "qgis-style": "./mask.qml",
        "gdal-aux": "./mask.tif.aux.xml",
    }
    for key in ("qgis-style", "gdal-aux"):
        assert (out / assets[key]).is_file() and item.assets[key].roles == ["metadata"]
    props = item.properties
    assert props["processing:software"] == {"landmask": landmask.__version__}
    assert props["landmask:rules"] == "default"
    assert props["landmask:inputs"] == [str(s2_file)]
    assert item.datetime is not None  # no acquisition time in the inputs: the time of writing
    assert props["created"].endswith("Z")


def test_vector_items_gpkg_and_parquet(s2_file, tmp_path):
    mask = tmp_path / "mask.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q", "--no-stac"]) == 0
    assert not _item_path(mask).exists()
    for name in ("polygons.gpkg", "polygons.parquet"):
        output = tmp_path / name
        assert run(["vectorize", str(mask), "-o", str(output), "-q", "--chunk-size", "128"]) == 0
        item = _item(output)
        _check_file(item, output)
        if output.suffix == ".gpkg":
            info = pyogrio.read_info(output, layer="polygons", force_total_bounds=True)
            crs, bounds = CRS.from_user_input(info["crs"]), tuple(info["total_bounds"])
        else:
            frame = gpd.read_parquet(output)
            crs, bounds = frame.crs, tuple(frame.total_bounds)
        proj = ProjectionExtension.ext(item)
        assert proj.code == f"EPSG:{crs.to_epsg()}"
        np.testing.assert_allclose(proj.bbox, bounds)
        _check_wgs84(item, crs, bounds)
        frame = (
            gpd.read_parquet(output)
            if output.suffix == ".parquet"
            else gpd.read_file(output, layer="polygons")
        )
        ids = set(frame.class_id.tolist())
        _check_classes(item, "landcover", ids)
        assert item.properties["landmask:inputs"] == [str(mask)]


def test_indices_export_apply_items(s2_file, tmp_path):
    ind = tmp_path / "ind.tif"
    assert run(["indices", str(s2_file), *S2, "--index", "ndvi", "-o", str(ind), "-q"]) == 0
    item = _item(ind)
    _check_raster(item, ind)  # float32, nodata nan
    assert RasterExtension.ext(item.assets["data"]).bands[0].data_type == "float32"
    assert "classification:classes" not in item.assets["data"].extra_fields

    mask = tmp_path / "mask.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q"]) == 0
    gray = tmp_path / "gray.tif"
    assert run(["export", str(mask), "-o", str(gray), "-q"]) == 0
    item = _item(gray)
    _check_raster(item, gray)
    _check_classes(item, "landcover", _mask_values(gray))
    assert item.properties["landmask:inputs"] == [str(mask)]

    rgb = tmp_path / "rgb.tif"
    assert run(["export", str(mask), "--rgb", "-o", str(rgb), "-q"]) == 0
    item = _item(rgb)
    _check_raster(item, rgb)
    assert "classification:classes" not in item.assets["data"].extra_fields  # pixels are colours

    kept = tmp_path / "kept.tif"
    assert run(["apply", str(s2_file), str(mask), "--keep", "forest", "-o", str(kept), "-q"]) == 0
    item = _item(kept)
    _check_raster(item, kept)
    assert item.properties["landmask:inputs"] == [str(s2_file), str(mask)]


def test_zonal_gpkg_has_an_item_csv_none(s2_file, tmp_path):
    mask = tmp_path / "mask.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q"]) == 0
    with rasterio.open(mask) as ds:
        left, bottom, right, top = ds.bounds
        crs = ds.crs
    zones = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[
            shapely.box(left, bottom, (left + right) / 2, top),
            shapely.box((left + right) / 2, bottom, right, top),
        ],
        crs=crs,
    )
    zones_path = tmp_path / "zones.gpkg"
    zones.to_file(zones_path)
    table = tmp_path / "areas.csv"
    assert run(["zonal", str(mask), str(zones_path), "-o", str(table), "-q"]) == 0
    assert not _item_path(table).exists()
    out = tmp_path / "areas.gpkg"
    assert run(["zonal", str(mask), str(zones_path), "-o", str(out), "-q"]) == 0
    item = _item(out)
    _check_file(item, out)
    assert item.properties["landmask:inputs"] == [str(mask), str(zones_path)]
    np.testing.assert_allclose(ProjectionExtension.ext(item).bbox, [left, bottom, right, top])


def test_item_landmask_did_not_write_is_never_replaced(s2_file, tmp_path, capsys):
    mask = tmp_path / "mask.tif"
    item = tmp_path / "mask.tif.stac.json"
    item.write_text("{}")
    argv = ["classify", str(s2_file), *S2, "-o", str(mask), "-q"]
    for extra in ([], ["--overwrite"]):  # not landmask's: refused even with --overwrite
        capsys.readouterr()
        assert run([*argv, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert str(item) in err and str(mask) in err and "not written by landmask" in err
        assert not mask.exists() and item.read_text() == "{}"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.tif.stac.json", "s2.tif"]
    item.unlink()
    assert run(argv) == 0
    first = _item(mask)
    assert run([*argv, "--overwrite"]) == 0  # its own item: replaced with the mask
    _check_raster(_item(mask), mask)
    assert _item(mask).properties["created"] >= first.properties["created"]


def test_mask_and_polygons_of_one_stem_get_two_items(s2_file, tmp_path):
    mask, vector = tmp_path / "a.tif", tmp_path / "a.gpkg"
    argv = ["classify", str(s2_file), *S2, "-o", str(mask), "--vector", str(vector), "-q"]
    assert run([*argv, "--no-stac"]) == 0
    assert not list(tmp_path.glob("*.json"))
    assert run([*argv, "--overwrite"]) == 0
    assert {p.name for p in tmp_path.glob("*.json")} == {"a.tif.stac.json", "a.gpkg.stac.json"}
    _check_raster(_item(mask), mask)
    _check_file(_item(vector), vector)


def test_outputs_sharing_an_item_refused(s2_file, tmp_path):
    job = SceneJob(
        inputs=[str(s2_file)],
        mask=tmp_path / "a.tif",
        scene=SceneOptions(sensor="sentinel2-l2a"),
        indices=tmp_path / "a.tiff",
        index_names=("ndvi",),
    )
    # their items differ (the whole file name), their QGIS styles do not
    with pytest.raises(ConfigError, match=r"a\.qml: the QGIS style of -o and the QGIS style"):
        check_job(job)
    check_job(dataclasses.replace(job, indices=tmp_path / "b.tif"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s2.tif"]


def test_python_api_stac_false(s2_file, tmp_path):
    scene = landmask.open_scene(str(s2_file), sensor="sentinel2-l2a")
    mask = landmask.classify(scene)
    landmask.write_mask(mask, tmp_path / "m.tif", stac=False)
    assert not list(tmp_path.glob("m.*json"))
    landmask.write_mask(mask, tmp_path / "n.tif")
    _check_raster(_item(tmp_path / "n.tif"), tmp_path / "n.tif")


@pytest.fixture
def stac_workflow(tmp_path, synthetic_small):
    """A workflow over one band-file scene and one STAC item, masks and polygons."""
    dn = to_dn(synthetic_small.reflectance)
    write_raster(tmp_path / "a.tif", dn[:, :150, :170], nodata=0, descriptions=S2_BAND_IDS)
    item_dir = tmp_path / "item"
    item_dir.mkdir()
    assets = {}
    for k, (name, bid) in enumerate(zip(BANDS, S2_BAND_IDS, strict=True)):
        write_raster(item_dir / f"{bid}.tif", dn[k, 100:, 100:])
        assets[bid] = {
            "href": f"{bid}.tif",
            "roles": ["data"],
            "eo:bands": [{"name": bid, "common_name": name}],
            "raster:bands": [{"scale": 1e-4, "offset": -0.1, "nodata": 0}],
        }
    doc = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2_ITEM",
        "geometry": None,
        "properties": {"datetime": "2024-06-01T10:00:31Z"},
        "links": [],
        "assets": assets,
    }
    (item_dir / "item.json").write_text(json.dumps(doc))
    workflow = {
        "name": "stac",
        "inputs": ["a.tif", "item/item.json"],
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": "default"},
        "outputs": {"dir": "out", "vector": "{stem}_polygons.gpkg"},
        "chunk_size": 64,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(workflow))
    return path


def test_run_writes_a_catalog_of_every_item(stac_workflow, tmp_path):
    summary = run_workflow(load_workflow(stac_workflow), scheduler="synchronous")
    assert not summary.failed
    out = tmp_path / "out"
    catalog = pystac.Catalog.from_file(str(out / "catalog.json"))
    items = {i.id: i for i in catalog.get_items()}
    outputs = [Path(p) for s in summary.scenes for p in s.outputs.values()]
    assert len(outputs) == 4

    def kind(p: Path) -> str:
        return f"{p.stem}-mask" if p.suffix == ".tif" else f"{p.stem}-polygons-gpkg"

    assert set(items) == {kind(p) for p in outputs}  # ids unique in the catalog
    for path in outputs:
        doc = json.loads(_item_path(path).read_text())
        links = {link["rel"]: link["href"] for link in doc["links"]}
        assert links["root"] == links["parent"] == "catalog.json"
        item = items[kind(path)]
        assert Path(item.assets["data"].get_absolute_href() or "") == path.resolve()
        _check_file(item, path)
        if path.suffix == ".tif":
            _check_raster(item, path)
            _check_classes(item, "landcover", _mask_values(path), path)
    from_item = [i for i in items.values() if i.properties["landmask:inputs"] == ["S2_ITEM"]]
    assert len(from_item) == 1  # the mask of the item's scene (its polygons: of the mask)
    acquired = dt.datetime(2024, 6, 1, 10, 0, 31, tzinfo=dt.UTC)
    assert from_item[0].datetime == acquired  # the input item's, not the time of writing
    polygons = next(i for i in items.values() if i.id.startswith("S2_ITEM_polygons-"))
    assert polygons.datetime == acquired  # from the mask's item
    assert from_item[0].properties["created"] != "2024-06-01T10:00:31Z"
    (link,) = from_item[0].get_links("derived_from")
    assert Path(link.get_absolute_href() or "") == (tmp_path / "item" / "item.json").resolve()
    assert pystac.Item.from_file(link.get_absolute_href()).id == "S2_ITEM"


def test_run_outputs_stac_false(stac_workflow, tmp_path):
    doc = yaml.safe_load(stac_workflow.read_text())
    doc["outputs"]["stac"] = False
    stac_workflow.write_text(yaml.safe_dump(doc))
    summary = run_workflow(load_workflow(stac_workflow), scheduler="synchronous")
    assert not summary.failed
    assert [p.name for p in (tmp_path / "out").glob("[!.]*.json")] == ["run-summary.json"]


def test_change_raster_and_polygons_items(s2_file, tmp_path, capsys):
    before = tmp_path / "before.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(before), "-q"]) == 0
    with rasterio.open(before) as ds:
        data, profile = ds.read(1), ds.profile
    data[:40, :60] = np.where(data[:40, :60] == 1, 2, data[:40, :60])  # some forest -> urban
    after = tmp_path / "after.tif"
    landmask.write_mask(as_mask(data, profile["transform"], profile["crs"]), after, stac=False)
    out, vec = tmp_path / "change.tif", tmp_path / "loss.gpkg"
    argv = ["change", str(before), str(after), "-o", str(out), "--vector", str(vec), "-q"]
    assert run(argv) == 0
    item = _item(out)
    _check_raster(item, out)
    _check_classes(item, "landcover-change", _mask_values(out), out)
    names = [c.name for c in ClassificationExtension.ext(item.assets["data"]).classes or []]
    assert "forest-to-urban" in names and "other-to-forest" in names
    assert item.properties["landmask:inputs"] == [str(before), str(after)]
    _check_file(_item(vec), vec)
    # issue 23 item 4: --json named as a user would (change.json beside change.tif) works
    matrix = tmp_path / "change.json"
    assert run([*argv, "--json", str(matrix), "--overwrite"]) == 0
    assert json.loads(matrix.read_text())["matrix"]["class_names"]
    _check_raster(_item(out), out)


def test_evaluate_json_named_after_the_mask(s2_file, tmp_path):
    """``evaluate m.tif t.gpkg --json m.json``: m.json is free, the mask's item is not touched."""
    mask = tmp_path / "m.tif"
    assert run(["classify", str(s2_file), *S2, "-o", str(mask), "-q"]) == 0
    item = _item_path(mask).read_bytes()
    report = tmp_path / "m.json"
    assert run(["evaluate", str(mask), str(mask), "--json", str(report), "-q"]) == 0
    assert json.loads(report.read_text())["overall_accuracy"] == 1.0
    assert _item_path(mask).read_bytes() == item
