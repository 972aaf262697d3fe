"""Streaming polygons into files: the same features as vectorize(), in bounded batches."""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from conftest import UTM33
from pyproj import CRS
from test_vectorize import (
    PIXEL_M2,
    as_mask,
    assert_matches_gdal,
    gdal_regions,
    hidden,
    in_frame_order,
    random_speckle,
)

from landmask.classes import LANDCOVER
from landmask.vector import _polygonize as polygonize_module
from landmask.vector import formats as vector_formats
from landmask.vector.vectorize import iter_regions, resolve_classes, vectorize, vectorize_to_file


@pytest.fixture(scope="module")
def speckle() -> np.ndarray:
    return np.tile(random_speckle(0).data, (2, 2))  # 90 x 104, many regions


def read(path) -> gpd.GeoDataFrame:
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    return gpd.read_file(path, layer=path.stem)  # a GeoPackage also lists layer_styles


@pytest.mark.parametrize("connectivity", [4, 8])
def test_polygons_made_a_few_at_a_time_equal_gdal(tmp_path, speckle, connectivity, monkeypatch):
    """GDAL's features, the multipolygons of 8-connected regions and the encoded features are
    made in batches so that memory holds the polygons about once: with batches of 3, the file
    still holds GDAL's regions of the whole raster, with their pixel-counted areas."""
    monkeypatch.setattr(polygonize_module, "_GDAL_BATCH", 3)
    monkeypatch.setattr(polygonize_module, "_FEATURE_BATCH", 3)
    mask = as_mask(speckle)  # one chunk: every region made in one block call, here
    summary = vectorize_to_file(mask, tmp_path / "r.gpkg", connectivity=connectivity)
    back = read(summary.path)
    assert len(back) > 100
    assert_matches_gdal(back, gdal_regions(speckle, [1, 2, 3], connectivity))
    for value in (1, 2, 3):
        area = back.loc[back["class_id"] == value, "area_m2"].sum()
        assert area == pytest.approx((speckle == value).sum() * PIXEL_M2, rel=1e-12)


@pytest.mark.parametrize("ext", [".gpkg", ".parquet", ".fgb", ".geojson"])
@pytest.mark.parametrize("connectivity", [4, 8])
def test_streamed_file_holds_the_same_polygons(tmp_path, speckle, ext, connectivity):
    mask = as_mask(speckle, chunks=23)  # 4 x 5 chunks: several batches
    expected = vectorize(mask, connectivity=connectivity)
    summary = vectorize_to_file(mask, tmp_path / f"regions{ext}", connectivity=connectivity)
    # + its style (a GeoPackage holds its own) and STAC item
    style = [] if ext == ".gpkg" else ["regions.qml"]
    files = [f"regions{ext}", f"regions{ext}.stac.json", *style]
    assert sorted(os.listdir(tmp_path)) == sorted(files)
    back = read(summary.path)
    assert len(back) == len(expected) == summary.total
    assert list(back.columns) == list(expected.columns)
    if ext == ".geojson":
        assert back.crs == CRS.from_epsg(4326)
        expected = expected.to_crs(4326)
        back = back.set_geometry(shapely.set_precision(back.geometry.values, 0))
        order = in_frame_order_close(back, expected)
        back = back.iloc[order].reset_index(drop=True)
    else:
        assert back.crs == UTM33
        back = in_frame_order(back, expected)
        for a, b in zip(back.geometry, expected.geometry, strict=True):
            assert a.equals(b)
    assert back["class_id"].tolist() == expected["class_id"].tolist()
    np.testing.assert_allclose(back["area_m2"], expected["area_m2"])
    np.testing.assert_allclose(back["perimeter_m"], expected["perimeter_m"])
    counts = expected["class_id"].value_counts().to_dict()
    assert summary.polygons == {int(k): int(v) for k, v in counts.items()}


def in_frame_order_close(back: gpd.GeoDataFrame, frame: gpd.GeoDataFrame) -> list[int]:
    """Rows of ``back`` matching ``frame``'s rows, geometries equal to 1e-6 degrees."""
    tree = shapely.STRtree(np.asarray(back.geometry.values))
    order = []
    for geom in frame.geometry:
        hits = [
            k
            for k in tree.query(geom.buffer(1e-6))
            if back.geometry.iloc[k].hausdorff_distance(geom) < 1e-6
        ]
        assert len(hits) == 1
        order.append(hits[0])
    return order


def test_only_border_pieces_wait_for_the_end(speckle):
    """Regions inside a chunk are yielded with their batch; the last batch is the stitched rest."""
    mask = as_mask(speckle, chunks=30)  # 3 x 4 chunks
    wanted = resolve_classes(None, LANDCOVER)
    batches = list(iter_regions(mask, wanted))
    whole = vectorize(mask)
    assert sum(len(v) for v, _ in batches) == len(whole)
    *streamed, stitched = batches
    assert len(streamed) >= 2  # the chunks came in more than one batch
    # every stitched region touches an inner chunk border; no streamed one crosses one
    for _, geoms in streamed:
        for g in geoms:
            xmin, ymin, xmax, ymax = g.bounds  # (col, -row) pixels
            assert xmin // 30 == (xmax - 1) // 30 and (-ymax) // 30 == (-ymin - 1) // 30
    assert len(stitched[1]) < len(whole) / 2


@pytest.mark.parametrize("ext", [".fgb", ".gpkg", ".geojson"])
def test_a_failure_midway_leaves_no_file(tmp_path, speckle, monkeypatch, ext):
    out = tmp_path / f"regions{ext}"
    out.write_bytes(b"old")
    calls = {"n": 0}
    real = vector_formats.features_frame if ext == ".geojson" else vector_formats.features_table

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    name = "features_frame" if ext == ".geojson" else "features_table"
    monkeypatch.setattr(vector_formats, name, failing)
    with pytest.raises(RuntimeError, match="disk full"):
        vectorize_to_file(as_mask(speckle, chunks=17), out, overwrite=True)
    assert calls["n"] == 3
    assert out.read_bytes() == b"old"
    assert hidden(tmp_path) == []


def test_no_region_still_writes_an_empty_layer(tmp_path):
    mask = as_mask(np.zeros((40, 50), np.uint8), chunks=16)
    summary = vectorize_to_file(mask, tmp_path / "none.gpkg")
    back = gpd.read_file(summary.path, layer="none")
    assert len(back) == 0 and summary.total == 0
    assert back.crs == UTM33


@pytest.mark.parametrize(
    ("connectivity", "schedulers"), [(4, ["threads", "processes"]), (8, ["processes", "local:2"])]
)
def test_every_scheduler_writes_the_same_file(
    tmp_path, speckle, connectivity, schedulers, worker_processes
):
    """Worker processes, threads, a cluster and no workers: the same rows in the same order."""
    import dask

    from landmask._runtime.schedulers import use_scheduler

    mask = as_mask(speckle, chunks=(17, 23))  # 6 x 5 chunks: more than are in flight at once
    rows = {}
    for scheduler in ["synchronous", *schedulers]:
        with dask.config.set(num_workers=2), use_scheduler(scheduler):
            out = tmp_path / f"{scheduler.replace(':', '')}.gpkg"
            path = vectorize_to_file(mask, out, connectivity=connectivity).path
        back = read(path)
        rows[scheduler] = (
            back.drop(columns="geometry"),
            shapely.to_wkb(np.asarray(back.geometry.values)),
        )
    ref_columns, ref_wkb = rows["synchronous"]
    assert len(ref_columns) == len(vectorize(mask, connectivity=connectivity))
    for scheduler in schedulers:
        columns, wkb = rows[scheduler]
        assert columns.equals(ref_columns), scheduler
        assert (wkb == ref_wkb).all(), scheduler


def test_a_chunk_holds_its_labels_about_once(monkeypatch):
    """Polygonizing a chunk holds its int32 labels once: one-pixel holes are filled in them,
    not in a copy, and counting and looking up labels casts them to int64 a strip of rows at
    a time, not the whole chunk at once (twice the size of the labels). numpy's peak stays
    under 11 bytes a pixel (labels and ``scipy.ndimage.label``'s output, 8, and byte masks);
    whole-chunk int64 casts made it 12.2. The polygons are those GDAL traces."""
    import tracemalloc

    monkeypatch.setattr(polygonize_module, "STRIP_PIXELS", 1 << 16)

    rng = np.random.default_rng(3)
    side = 1024
    coarse = rng.integers(0, 4, size=(side // 64, side // 64), dtype=np.uint8)
    block = np.kron(coarse, np.ones((64, 64), dtype=np.uint8))
    speck = rng.random((side, side)) < 0.01  # one-pixel holes and one-pixel regions
    block[speck] = rng.integers(0, 4, size=int(speck.sum()), dtype=np.uint8)
    classes = frozenset({1, 2, 3})
    polygonize_module.polygonize_block(block, 0, 0, (False,) * 4, classes, 4)  # imports
    tracemalloc.start()
    try:
        part = polygonize_module.polygonize_block(block, 0, 0, (False,) * 4, classes, 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 11 * block.size, peak / block.size
    frame = gpd.GeoDataFrame({"class_id": part.interior_values}, geometry=part.interior)
    assert_matches_gdal(frame, gdal_regions(block, [1, 2, 3], 4, Affine(1, 0, 0, 0, -1, 0)))
