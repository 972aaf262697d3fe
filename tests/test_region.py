"""Region runs: tiles of a grid composited, classified and mosaicked, against the whole region.

The independent computation is the same region run as one tile (the whole
region's composite and mask in one file): the tiles' mosaic must equal it pixel
for pixel, across tile edges, with scenes in two UTM zones; the composite
itself is checked against numpy in tests/test_composite.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from rasterio.warp import transform as transform_points
from test_composite import UTM32, UTM33, make_date

import landmask.batch.region
from landmask.batch.region import plan_region
from landmask.batch.workflow import load_workflow
from landmask.cli import run
from landmask.errors import DateSkippedWarning
from landmask.io.read.datasets import kept_count

RULES = (
    "name: t\nscheme: landcover\nrules:\n"
    "  - class: forest\n    when: ndvi_p50 > 0.4 and clear_count >= 2\n"
    "  - class: urban\n    when: ndvi_p50 < 0.1\n"
)
#: 70 x 60 px of 10 m in UTM 33
REGION = [500000, 5399400, 500700, 5400000]


@pytest.fixture(scope="module")
def dates(tmp_path_factory) -> Path:
    """Four dates in UTM 33 and three in UTM 32 over one place (with clouds), and rules."""
    root = tmp_path_factory.mktemp("region")
    for k in range(4):
        make_date(
            root / "in" / f"a{k}", f"A{k}", f"2024-0{k + 4}-01T10:00:00Z", seed=k, shape=(60, 70)
        )
    (x,), (y,) = transform_points(UTM33, UTM32, [500000 + 120], [5400000 + 90])
    for k in range(3):
        make_date(
            root / "in" / f"b{k}",
            f"B{k}",
            f"2024-0{k + 4}-11T10:00:00Z",
            seed=10 + k,
            crs=UTM32,
            transform=Affine(10, 0, round(x), 0, -10, round(y)),
            shape=(60, 70),
        )
    (root / "r.yaml").write_text(RULES)
    return root


def _workflow(root: Path, name: str, tile: int, **more) -> Path:
    doc = {
        "name": name,
        "inputs": ["in/*/*.json"],
        "region": {"bounds": REGION, "crs": "EPSG:32633"},
        "grid": {"crs": "EPSG:32633", "resolution": 10, "tile_size": tile},
        "period": "2024-01-01/2024-12-31",
        "composite": {"features": ["ndvi:p50"]},
        "classifier": {"rules": "r.yaml"},
        "outputs": {"dir": f"out_{name}"},
        "chunk_size": 16,
        **more,
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _tiles(folder: Path, kind: str, size: int, shape: tuple[int, ...]) -> np.ndarray:
    """The tiles' ``kind`` rasters placed at their offsets (from their names ``rI_cJ``)."""
    out = None
    for path in sorted(folder.glob(f"r*_c*_{kind}.tif")):
        r, c = map(int, re.findall(r"r(\d+)_c(\d+)", path.name)[0])
        with rasterio.open(path) as ds:
            data = ds.read()
        if out is None:
            out = np.full((data.shape[0], *shape), -1, np.result_type(data.dtype, np.int16))
        out[:, r * size : r * size + data.shape[1], c * size : c * size + data.shape[2]] = data
    assert out is not None
    return out


@pytest.fixture(scope="module")
def runs(dates):
    """The region in 2 x 2 tiles of 36 px (chunks of 16: tile and chunk edges misaligned),
    and as one tile."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(_workflow(dates, "tiled", 36)), "-q"]) == 0
        assert run(["run", str(_workflow(dates, "whole", 4096)), "-q"]) == 0
    return dates / "out_tiled", dates / "out_whole"


def test_mosaic_of_tiles_equals_the_whole_region_across_two_utm_zones(runs):
    tiled, whole = runs
    with rasterio.open(whole / "r0_c0_mask.tif") as ds:
        want, profile = ds.read(1), ds.profile
    with rasterio.open(tiled / "mosaic.vrt") as ds:
        got = ds.read(1)
        assert ds.crs == UTM33 and ds.transform == profile["transform"]
        assert ds.nodata == 255 and ds.colormap(1)[1][:3] == (0, 100, 0)  # forest, WorldCover
        assert ds.tags()["CLASS_SCHEME"] == "landcover"
    assert got.shape == (60, 70)
    np.testing.assert_array_equal(got, want)  # no tile-edge difference
    assert {0, 1, 2} <= set(np.unique(got).tolist())
    # the composites: identical where only UTM 33 dates reach; across CRSs GDAL's warp of a
    # window differs from the whole raster's in the last bits (tests/test_composite.py)
    with rasterio.open(whole / "r0_c0_composite.tif") as ds:
        comp = ds.read()
        names = ds.descriptions
    tiles = _tiles(tiled, "composite", 36, (60, 70))
    np.testing.assert_allclose(tiles, comp, rtol=0, atol=1e-5, equal_nan=True)
    assert names[-1] == "clear_count"
    np.testing.assert_array_equal(tiles[-1], comp[-1])
    assert comp[-1].max() == 7  # both zones' dates reach the region
    from rasterio.warp import transform_bounds

    with rasterio.open(dates_file(whole)) as ds:
        west = transform_bounds(ds.crs, UTM33, *ds.bounds)
    utm33_only = int((west[0] - 500000) // 10)
    assert utm33_only > 3  # and the tiles' row edge (y = 36) crosses it
    np.testing.assert_array_equal(tiles[:, :, :utm33_only], comp[:, :, :utm33_only])


def dates_file(out: Path) -> Path:
    """One UTM 32 date's band (the fixture's folder is out's parent)."""
    return out.parent / "in" / "b0" / "B0_red.tif"


def test_vectorizing_the_mosaic_gives_polygons_across_tile_borders(runs, tmp_path):
    import geopandas as gpd
    import shapely

    tiled, whole = runs
    a, b = tmp_path / "tiled.gpkg", tmp_path / "whole.gpkg"
    assert (
        run(["vectorize", str(tiled / "mosaic.vrt"), "-o", str(a), "--chunk-size", "16", "-q"]) == 0
    )
    assert run(["vectorize", str(whole / "r0_c0_mask.tif"), "-o", str(b), "-q"]) == 0
    got = gpd.read_file(a, layer="tiled")
    want = gpd.read_file(b, layer="whole")

    def keyed(frame):
        return sorted(
            (int(c), shapely.normalize(g).wkb_hex)
            for c, g in zip(frame["class_id"], frame.geometry, strict=True)
        )

    assert keyed(got) == keyed(want)
    edge_x = 500000 + 36 * 10
    crossing = [g for g in got.geometry if g.bounds[0] < edge_x < g.bounds[2]]
    assert crossing, "no polygon crosses the tiles' border"


def test_the_collection_links_every_tile_and_the_summary_counts(runs):
    tiled, _ = runs
    collection = json.loads((tiled / "collection.json").read_text())
    assert collection["type"] == "Collection"
    items = [link["href"] for link in collection["links"] if link["rel"] == "item"]
    assert sorted(items) == [f"./r{r}_c{c}_mask.tif.stac.json" for r in (0, 1) for c in (0, 1)]
    assert all((tiled / h).is_file() for h in items)
    assert collection["assets"]["mosaic"]["href"] == "./mosaic.vrt"
    west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
    assert 14 < west < east < 16 and 48 < south < north < 49
    assert collection["extent"]["temporal"]["interval"][0][0].startswith("2024-01-01")
    summary = json.loads((tiled / "run-summary.json").read_text())
    assert summary["region"] == {
        "tiles": 4,
        "dates": 7,
        "scenes_outside_period": 0,
        "scenes_outside_region": 0,
    }
    assert summary["counts"]["done"] == 4


def test_resume_after_a_killed_tile(dates, runs, monkeypatch):
    _, whole = runs
    path = _workflow(dates, "resume", 36)
    real = landmask.batch.region.run_scene

    def dies(job):
        if job.mask.name.startswith("r1_c0"):
            raise KeyboardInterrupt  # what a signal does mid-tile
        return real(job)

    monkeypatch.setattr(landmask.batch.region, "run_scene", dies)  # where region calls it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "synchronous"]) == 130
    out = dates / "out_resume"
    assert not list(out.glob("r1_c0_*"))  # the killed tile left nothing
    manifest = json.loads((out / ".landmask-manifest.json").read_text())
    assert "r1_c0" not in manifest["scenes"]
    monkeypatch.setattr(landmask.batch.region, "run_scene", real)

    # a finished tile's files stay as they are; its STAC items may only gain the catalog's
    # links (a tile that finished while the interrupted run was ending was not linked yet)
    def kept() -> dict[str, object]:
        return {
            p.name: {k: v for k, v in json.loads(p.read_text()).items() if k != "links"}
            if p.name.endswith(".stac.json")
            else p.stat().st_mtime_ns
            for p in out.glob("r0_c0_*")
        }

    before = kept()
    assert run(["run", str(path), "-q"]) == 0
    summary = json.loads((out / "run-summary.json").read_text())
    status = {s["scene"]: s["status"] for s in summary["scenes"]}
    assert status["r1_c0"] == "done"
    assert {s for s, v in status.items() if v == "skipped"} >= {"r0_c0"} - {"r1_c0"}
    assert kept() == before
    with rasterio.open(out / "mosaic.vrt") as a, rasterio.open(whole / "r0_c0_mask.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_dates_outside_the_region_or_period_are_counted_and_an_empty_tile_is_nodata(
    dates, tmp_path
):
    # a date far away (another place in UTM 33) and one outside the period
    make_date(
        dates / "in" / "far",
        "FAR",
        "2024-05-03T10:00:00Z",
        seed=20,
        transform=Affine(10, 0, 600000, 0, -10, 5300000),
    )
    make_date(dates / "in" / "old", "OLD", "2023-05-03T10:00:00Z", seed=21)
    # the region reaches 1 km east of every date: its last tile sees none
    region = [500000, 5399400, 501700, 5400000]
    path = _workflow(dates, "edges", 60, region={"bounds": region}, outputs={"dir": "out_e"})
    with pytest.warns(DateSkippedWarning) as caught:
        plan = plan_region(load_workflow(path))
    said = " ".join(str(w.message) for w in caught)
    assert "FAR: its footprint misses the region" in said and "OLD" in said
    assert plan.counts() == {
        "tiles": 3,
        "dates": 7,
        "scenes_outside_period": 1,
        "scenes_outside_region": 1,
    }
    assert [len(t.scenes) for t in plan.tiles][-1] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == 0
    with rasterio.open(dates / "out_e" / "r0_c2_composite.tif") as ds:
        comp = ds.read()
    assert (comp[-1] == 0).all() and np.isnan(comp[:-1]).all()
    with rasterio.open(dates / "out_e" / "r0_c2_mask.tif") as ds:
        assert (ds.read(1) == 255).all()
    for p in (dates / "in" / "far", dates / "in" / "old"):
        for f in p.iterdir():
            f.unlink()
        p.rmdir()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": {"crs": "EPSG:32633", "resolution": 0.01, "tile_size": 16}}, "implausible"),
        ({"grid": {"crs": "EPSG:32633", "resolution": 1e-4, "tile_size": 60000}}, "a region of"),
        ({"grid": {"crs": "EPSG:32633", "resolution": 10, "tile_size": 100_000}}, "implausible"),
        ({"grid": {"crs": "EPSG:32633"}}, "give crs and resolution"),
        ({"grid": {"crs": "nowhere", "resolution": 10}}, "not a CRS"),
        ({"region": {"bounds": [1, 2, 0, 3]}}, "LEFT < RIGHT"),
        ({"period": "2030-01-01/2030-12-31"}, "no scene in the period"),
        ({"inputs": ["nothing*.json"]}, "matches no file"),
    ],
)
def test_bad_region_runs_exit_2_before_any_work(dates, change, message, capsys):
    path = _workflow(dates, "bad", 36, **change, outputs={"dir": "out_bad"})
    assert run(["run", str(path), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if not line.startswith("landmask: warning:")]
    assert len(errors) == 1 and message in errors[0], lines
    assert not (dates / "out_bad").exists()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (lambda g: g.set_crs(None, allow_override=True), "no CRS for the region"),
        (lambda g: g.iloc[:0], "no region (no features)"),
    ],
    ids=["no-crs", "empty"],
)
def test_a_region_file_is_read_as_every_vector_is(dates, frame, message, capsys):
    """``region.file`` comes through the one reader of vectors (io/read/labels.read_features):
    the same refusals as truth and zones, named after the workflow's key."""
    import geopandas as gpd
    import shapely

    aoi = gpd.GeoDataFrame(geometry=[shapely.box(*REGION)], crs="EPSG:32633")
    frame(aoi).to_file(dates / f"aoi-{message[:5]}.gpkg")
    change = {"region": {"file": f"aoi-{message[:5]}.gpkg"}}
    path = _workflow(dates, "aoi", 36, **change, outputs={"dir": "out_aoi"})
    assert run(["run", str(path), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if not line.startswith("landmask: warning:")]
    assert len(errors) == 1 and "region.file" in errors[0] and message in errors[0], lines
    assert not (dates / "out_aoi").exists()


#: rules that read 3 px around each pixel (a nested focal function and a wider one)
HALO_RULES = (
    "name: h\nscheme: landcover\nrules:\n"
    "  - class: urban\n    when: focal_min(focal_std(ndvi_p50, 1), 1) > {texture}\n"
    "  - class: forest\n    when: focal_mean(ndvi_p50, 3) > {mean}\n"
)


@pytest.fixture(scope="module")
def halo_runs(dates, runs):
    """The focal rules over the region in 2 x 2 tiles of 36 px, and as one tile; the
    thresholds are the medians of the focal statistics on the whole region's composite."""
    from landmask.spectral.focal import focal

    with rasterio.open(runs[1] / "r0_c0_composite.tif") as ds:
        ndvi = ds.read(list(ds.descriptions).index("ndvi_p50") + 1)
    texture = np.nanmedian(focal("focal_min", focal("focal_std", ndvi, 1), 1))
    mean = np.nanmedian(focal("focal_mean", ndvi, 3))
    (dates / "h.yaml").write_text(HALO_RULES.format(texture=texture, mean=mean))
    more = {"classifier": {"rules": "h.yaml"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        for name, tile in (("halo_tiled", 36), ("halo_whole", 4096)):
            assert run(["run", str(_workflow(dates, name, tile, **more)), "-q"]) == 0
    return dates / "out_halo_tiled", dates / "out_halo_whole"


def test_focal_rules_give_a_seamless_mosaic_across_two_utm_zones(halo_runs, tmp_path):
    tiled, whole = halo_runs
    plan = plan_region(load_workflow(tiled.parent / "halo_tiled.yaml"), warn=False)
    assert plan.halo == 3
    with rasterio.open(whole / "r0_c0_mask.tif") as ds:
        want = ds.read(1)
    with rasterio.open(tiled / "mosaic.vrt") as ds:
        got = ds.read(1)
    assert got.shape == (60, 70)
    np.testing.assert_array_equal(got, want)  # no tile-edge difference
    # textured pixels and the others meet along both tile edges (row 36, column 36)
    for edge in (want[33:39, :], want[:, 33:39]):
        assert {0, 1, 2} <= set(np.unique(edge).tolist())
    # the tiles' composites are the tiles, not their context (as in the first test: across
    # CRSs GDAL's warp of a window differs from the whole raster's in the last bits)
    with rasterio.open(whole / "r0_c0_composite.tif") as ds:
        comp = ds.read()
    tiles = _tiles(tiled, "composite", 36, (60, 70))
    np.testing.assert_allclose(tiles, comp, rtol=0, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(tiles[:, :, :3], comp[:, :, :3])  # UTM 33 dates only
    assert not list(tiled.glob(".*context*"))
    # each tile classified alone (what a region run without the halo would give) has seams
    alone = tmp_path / "alone"
    alone.mkdir()
    for comp in sorted(tiled.glob("r*_c*_composite.tif")):
        out = alone / comp.name.replace("composite", "mask")
        rules = str(tiled.parent / "h.yaml")
        assert run(["classify", str(comp), "--model", f"rules:{rules}", "-o", str(out), "-q"]) == 0
    seamed = _tiles(alone, "mask", 36, (60, 70))[0]
    differ = np.argwhere(seamed != want)
    assert len(differ)
    near_edge = np.minimum(abs(differ[:, 0] - 35.5), abs(differ[:, 1] - 35.5)) < 3
    assert near_edge.all()  # differences only within the halo of the tiles' edges


def _reduced_chunk_shapes(monkeypatch) -> list[tuple[int, int]]:
    """The (height, width) of every chunk the composite reduces from now on, in order."""
    import importlib

    stack = importlib.import_module("landmask.temporal.stack")
    real, shapes = stack.reduce_block, []

    def counted(values, names, outputs, **kwargs):
        shapes.append(values.shape[-2:])
        return real(values, names, outputs, **kwargs)

    monkeypatch.setattr(stack, "reduce_block", counted)
    return shapes


def test_each_chunk_of_a_tile_context_is_composited_once(dates, halo_runs, monkeypatch):
    """One pass: the composite is reduced once per chunk of each tile's context (the halo
    included), for the mask and the composite output alike; nothing is read back."""
    tiled, _ = halo_runs
    shapes = _reduced_chunk_shapes(monkeypatch)
    more = {"classifier": {"rules": "h.yaml"}, "outputs": {"dir": "out_once"}}
    path = _workflow(dates, "once", 36, **more)
    read = []
    real_open = rasterio.open

    def opened(fp, mode="r", *args, **kwargs):
        if mode == "r":
            read.append(Path(str(fp)).name)
        return real_open(fp, mode, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", opened)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "synchronous"]) == 0
    monkeypatch.setattr(rasterio, "open", real_open)
    plan = plan_region(load_workflow(path), warn=False)
    want = []
    for unit in plan.tiles:
        rows, cols = plan.context(unit.tile)[0].chunks(16)
        want += [(h, w) for h in rows for w in cols]
    assert sorted(shapes) == sorted(want)  # every chunk once, no chunk twice
    # no composite (nor a hidden context) was opened to be classified
    assert not [p for p in read if re.fullmatch(r"r\d_c\d_composite\.tif", p) or "context" in p]
    assert any("lmtmp" in p for p in read)  # the spy sees the writer check its own files
    out = dates / "out_once"
    for kind in ("mask", "composite"):
        for name in sorted(p.name for p in tiled.glob(f"r*_c*_{kind}.tif")):
            with rasterio.open(tiled / name) as a, rasterio.open(out / name) as b:
                np.testing.assert_array_equal(a.read(), b.read())


def test_a_region_run_without_the_composite_output_writes_the_same_masks(dates, runs):
    tiled, _ = runs
    path = _workflow(dates, "nocomp", 36, outputs={"dir": "out_nocomp", "composite": None})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == 0
    out = dates / "out_nocomp"
    assert not list(out.glob("*composite*"))
    names = sorted(p.name for p in tiled.glob("r*_c*_mask.tif"))
    assert names == sorted(p.name for p in out.glob("r*_c*_mask.tif"))
    for name in names:
        with rasterio.open(tiled / name) as a, rasterio.open(out / name) as b:
            np.testing.assert_array_equal(a.read(), b.read())


def test_tiles_in_flight_share_one_pool_of_chunk_threads(dates, runs, monkeypatch):
    """Two tiles in flight compute their chunks on one pool of ``num_workers`` threads: at
    most that many chunks (each with its stack of dates) at once. Dask made a pool per
    calling thread: two tiles held up to four. The masks are the same."""
    import importlib
    import threading
    import time

    import dask

    stack = importlib.import_module("landmask.temporal.stack")
    real, lock = stack.reduce_block, threading.Lock()
    live, most = [0], [0]

    def held(values, names, outputs, **kwargs):
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        time.sleep(0.02)  # a chunk's stack held: the other tile's chunks would overlap it
        try:
            return real(values, names, outputs, **kwargs)
        finally:
            with lock:
                live[0] -= 1

    monkeypatch.setattr(stack, "reduce_block", held)
    path = _workflow(dates, "shared", 36, outputs={"dir": "out_shared"}, parallel_scenes=2)
    with warnings.catch_warnings(), dask.config.set(num_workers=2):
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "threads"]) == 0
    assert most[0] == 2  # 3-4 before
    tiled, _ = runs
    names = sorted(p.name for p in tiled.glob("r*_c*_mask.tif"))
    assert len(names) == 4
    for name in names:
        with rasterio.open(tiled / name) as a, rasterio.open(dates / "out_shared" / name) as b:
            np.testing.assert_array_equal(a.read(), b.read())


def test_a_tile_context_is_its_grid_grown_by_the_halo_clipped_to_the_region(dates, halo_runs):
    # halo_runs writes the workflow this test plans
    plan = plan_region(load_workflow(dates / "halo_tiled.yaml"), warn=False)
    first, last = plan.tiles[0], plan.tiles[-1]
    grid, window = plan.context(first.tile)
    assert (grid.height, grid.width, window) == (39, 39, (0, 0, 36, 36))
    assert grid.transform == plan.grid.transform  # the region's edge: not grown
    grid, window = plan.context(last.tile)
    assert (grid.height, grid.width, window) == (27, 37, (3, 3, 24, 34))
    assert grid.transform == plan.grid.window(33, 33, 27, 37).transform
    # the scenes reaching the context: here every date reaches every tile
    assert all(len(t.scenes) == 7 for t in plan.tiles)


def test_each_files_header_is_read_once_a_run(dates, runs, monkeypatch):
    """The plan reads each input file's header once and the tiles use it; the pixel reads of
    the chunks' windows open each file far fewer times than they read it (the run keeps
    it open: :mod:`landmask.io.read.datasets`), and the run leaves no file open."""
    import sys

    import landmask.io.read.reflectance as reflectance

    _, whole = runs
    headers: dict[str, int] = {}
    pixels: dict[str, int] = {}
    windows: dict[str, int] = {}
    real_open, real_window = rasterio.open, reflectance.read_window

    def opened(fp, mode="r", *args, **kwargs):
        if mode == "r":
            kind = pixels if sys._getframe(1).f_code.co_name == "open_dataset" else headers
            kind[str(fp)] = kind.get(str(fp), 0) + 1
        return real_open(fp, mode, *args, **kwargs)

    def window_read(path, indexes, window):
        windows[path] = windows.get(path, 0) + 1
        return real_window(path, indexes, window)

    monkeypatch.setattr(rasterio, "open", opened)
    monkeypatch.setattr(reflectance, "read_window", window_read)
    path = _workflow(dates, "opened", 36, parallel_scenes=1, outputs={"dir": "out_opened"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == 0
    monkeypatch.setattr(rasterio, "open", real_open)
    inputs = sorted(str(p) for p in (dates / "in").glob("*/*.tif"))
    assert len(inputs) == 7 * 4  # 7 dates of 3 bands and an SCL layer
    assert all(windows.get(p, 0) >= 4 for p in inputs)  # every file is read by every tile
    assert {p: headers.get(p, 0) for p in inputs} == dict.fromkeys(inputs, 1)
    reads, opens = sum(windows[p] for p in inputs), sum(pixels.get(p, 0) for p in inputs)
    assert opens <= reads / 2, (opens, reads)
    assert not set(inputs) & _open_paths()
    mosaic = dates / "out_opened" / "mosaic.vrt"
    with rasterio.open(mosaic) as a, rasterio.open(whole / "r0_c0_mask.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def _open_paths() -> set[str]:
    """The files this process has open now."""
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # one closed meanwhile
            fds.add(os.readlink(f"/proc/self/fd/{fd}"))
    return fds


@pytest.mark.parametrize(
    ("stop", "status"),
    [(KeyboardInterrupt(), 130), (OSError("disk gone"), 3)],
    ids=["signal", "error"],
)
def test_a_run_stopped_by_a_signal_or_an_error_leaves_no_input_file_open(
    dates, stop, status, monkeypatch
):
    """The files a run keeps open (:mod:`landmask.io.read.datasets`) are closed when it ends
    early too: a signal (what SIGINT or SIGTERM raise: exit 130) or an error in a chunk's read
    (the tile fails: exit 3)."""
    import landmask.io.read.reflectance as reflectance

    real = reflectance.read_window
    reads: list[int] = []  # kept_count() at each read
    kept_then: list[int] = []  # ... at the one that stops the run

    def read(path, indexes, window):
        reads.append(kept_count())
        if len(reads) == 12:
            kept_then.append(reads[-1])
            raise stop
        return real(path, indexes, window)

    monkeypatch.setattr(reflectance, "read_window", read)
    name = f"stopped{status}"
    path = _workflow(dates, name, 36, parallel_scenes=1, outputs={"dir": f"out_{name}"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == status
    inputs = {str(p) for p in (dates / "in").glob("*/*.tif")}
    assert kept_then[0] > 0  # files were kept open when the run stopped
    assert kept_count() == 0 and not inputs & _open_paths()


def test_a_local_cluster_writes_the_same_tiles(dates, runs):
    tiled, _ = runs
    path = _workflow(dates, "cluster", 36, outputs={"dir": "out_cluster", "stac": False})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "local:2"]) == 0
    out = dates / "out_cluster"
    for kind in ("mask", "composite"):
        names = sorted(p.name for p in tiled.glob(f"r*_c*_{kind}.tif"))
        assert names == sorted(p.name for p in out.glob(f"r*_c*_{kind}.tif")) and names
        for name in names:
            with rasterio.open(tiled / name) as a, rasterio.open(out / name) as b:
                np.testing.assert_array_equal(a.read(), b.read())
    with rasterio.open(out / "mosaic.vrt") as a, rasterio.open(tiled / "mosaic.vrt") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_a_tcp_cluster_writes_the_same_bytes_as_threads(dates):
    """Results do not depend on the scheduler: a cluster reached by address, its workers
    other processes, writes every tile file byte for byte as local threads do."""
    from distributed import LocalCluster

    outs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        for name in ("bytes_threads", "bytes_tcp"):
            path = _workflow(dates, name, 36, outputs={"dir": f"out_{name}", "stac": False})
            outs[name] = dates / f"out_{name}"
            if name == "bytes_threads":
                assert run(["run", str(path), "-q", "--scheduler", "threads"]) == 0
                continue
            with LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                protocol="tcp",
                dashboard_address=None,
            ) as cluster:
                address = cluster.scheduler_address
                assert address.startswith("tcp://")
                assert run(["run", str(path), "-q", "--scheduler", address]) == 0
    summary = json.loads((outs["bytes_tcp"] / "run-summary.json").read_text())
    assert summary["scheduler"] == address
    names = sorted(p.name for p in outs["bytes_threads"].glob("r*_c*_*.tif"))
    assert len(names) == 8  # a mask and a composite per tile
    assert names == sorted(p.name for p in outs["bytes_tcp"].glob("r*_c*_*.tif"))
    for name in names:
        a = (outs["bytes_threads"] / name).read_bytes()
        assert a == (outs["bytes_tcp"] / name).read_bytes(), name
    with (
        rasterio.open(outs["bytes_tcp"] / "mosaic.vrt") as a,
        rasterio.open(outs["bytes_threads"] / "mosaic.vrt") as b,
    ):
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_region_keys_in_a_run_over_scenes_are_refused(tmp_path):
    from landmask.errors import ConfigError

    for extra in ({"period": "2024-01-01/.."}, {"outputs": {"dir": "o", "mosaic": "m.vrt"}}):
        doc = {
            "name": "scenes",
            "inputs": ["a.tif"],
            "sensor": "sentinel2-l2a",
            "classifier": {"rules": "default"},
            "outputs": {"dir": "o"},
            **extra,
        }
        path = tmp_path / "w.yaml"
        path.write_text(yaml.safe_dump(doc))
        with pytest.raises(ConfigError, match="only a region run"):
            load_workflow(path)


#: rules with scene-wide statistics (region-wide in a region run): percentiles, a focal
#: value's percentile (its argument reads 1 px of context) and a statistic nested in
#: another's condition (two passes: the percentiles, then the Otsu split)
STATS_RULES = (
    "name: s\nscheme: landcover\nrules:\n"
    "  - class: water\n    when: nir < percentile(nir, 15)\n"
    "  - class: forest\n    when: ndvi_p50 > otsu(ndvi_p50 where nir > percentile(nir, 50))\n"
    "  - class: urban\n"
    "    when: focal_std(ndvi_p50, 1) > percentile(focal_std(ndvi_p50, 1), 80)\n"
)
STATS = {
    "percentile(nir, 15)",
    "percentile(nir, 50)",
    "percentile(focal_std(ndvi_p50, 1), 80)",
    "otsu(ndvi_p50 where nir > percentile(nir, 50))",
}


def _thresholds(path: Path) -> dict[str, float]:
    with rasterio.open(path) as ds:
        tags = ds.tags()
    return {k[len("THRESHOLD_") :]: float(v) for k, v in tags.items() if k.startswith("THRESH")}


@pytest.fixture(scope="module")
def stats_runs(dates, runs):
    """The statistics rules over the region in 2 x 2 tiles of 36 px, and as one tile."""
    (dates / "s.yaml").write_text(STATS_RULES)
    more = {"classifier": {"rules": "s.yaml"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        for name, tile in (("stats_tiled", 36), ("stats_whole", 4096)):
            assert run(["run", str(_workflow(dates, name, tile, **more)), "-q"]) == 0
    return dates / "out_stats_tiled", dates / "out_stats_whole"


def test_statistics_of_a_region_run_are_region_wide_and_its_mosaic_seamless(
    dates, stats_runs, tmp_path, capsys
):
    tiled, whole = stats_runs
    with rasterio.open(whole / "r0_c0_mask.tif") as ds:
        want = ds.read(1)
    with rasterio.open(tiled / "mosaic.vrt") as ds:
        got = ds.read(1)
    assert {0, 1, 2, 3} <= set(np.unique(want).tolist())
    np.testing.assert_array_equal(got, want)  # one set of thresholds: no tile-edge difference
    region = _thresholds(whole / "r0_c0_mask.tif")
    assert set(region) == STATS
    for mask in sorted(tiled.glob("r*_c*_mask.tif")):  # every tile bound to the region's values
        assert _thresholds(mask) == region, mask.name
        item = json.loads((tiled / f"{mask.name}.stac.json").read_text())
        assert item["properties"]["landmask:statistics"] == region
    collection = json.loads((tiled / "collection.json").read_text())
    assert collection["landmask:statistics"] == region
    summary = json.loads((tiled / "run-summary.json").read_text())
    assert summary["statistics"] == region
    # independently: classify the whole region's composite as one scene (its statistics from
    # the scene's histogram), and numpy's percentiles of the composite's pixels
    comp = whole / "r0_c0_composite.tif"
    out = tmp_path / "scene_mask.tif"
    rules = str(dates / "s.yaml")
    assert run(["classify", str(comp), "--model", f"rules:{rules}", "-o", str(out), "-q"]) == 0
    assert _thresholds(out) == region
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), want)
    with rasterio.open(comp) as ds:
        nir = ds.read(list(ds.descriptions).index("nir_median") + 1)
    nir = nir[np.isfinite(nir)].astype(np.float64)
    for q in (15, 50):
        assert region[f"percentile(nir, {q})"] == pytest.approx(np.percentile(nir, q), rel=2e-3)
    # each tile alone (what the run did before statistics were region-wide) seams
    alone = {}
    for comp in sorted(tiled.glob("r*_c*_composite.tif")):
        out = tmp_path / comp.name.replace("composite", "mask")
        assert run(["classify", str(comp), "--model", f"rules:{rules}", "-o", str(out), "-q"]) == 0
        alone[comp.name] = _thresholds(out)
    assert any(values != region for values in alone.values())
    # the run prints them once, as the region's
    capsys.readouterr()
    path = tiled.parent / "stats_tiled.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path)]) == 0
    printed = capsys.readouterr().out
    for name in STATS:
        assert printed.count(f"{name} = ") == 1, printed
    assert "region's histogram" in printed


def test_region_statistics_cost_one_composite_pass_per_nesting_level(
    dates, stats_runs, monkeypatch
):
    """The statistics read each chunk of each tile's context once per level of nesting (two
    here: the percentiles, then the Otsu split of the pixels above one); classifying reads it
    once more, the composite output from the same chunks."""
    tiled, _ = stats_runs
    shapes = _reduced_chunk_shapes(monkeypatch)
    more = {"classifier": {"rules": "s.yaml"}, "outputs": {"dir": "out_stats_once"}}
    path = _workflow(dates, "stats_once", 36, **more)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "synchronous"]) == 0
    plan = plan_region(load_workflow(path), warn=False)
    assert plan.halo == 1
    want = []
    for unit in plan.tiles:
        rows, cols = plan.context(unit.tile)[0].chunks(16)  # the statistics' reach is 1 too
        want += [(h, w) for h in rows for w in cols]
    assert sorted(shapes) == sorted(want * 3)  # two statistics passes, one classifying pass
    out = dates / "out_stats_once"
    for name in sorted(p.name for p in tiled.glob("r*_c*_*.tif")):
        with rasterio.open(tiled / name) as a, rasterio.open(out / name) as b:
            np.testing.assert_array_equal(a.read(), b.read())


def test_a_resumed_region_run_reuses_the_recorded_statistics(dates, stats_runs, monkeypatch):
    import importlib

    statistics = importlib.import_module("landmask.batch.region_statistics")
    _, whole = stats_runs
    path = _workflow(dates, "stats_resume", 36, classifier={"rules": "s.yaml"})
    real = landmask.batch.region.run_scene

    def dies(job):
        if job.mask.name.startswith("r1_c0"):
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(landmask.batch.region, "run_scene", dies)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "synchronous"]) == 130
    out = dates / "out_stats_resume"
    manifest = json.loads((out / ".landmask-manifest.json").read_text())
    recorded = manifest["statistics"]["values"]
    assert recorded == _thresholds(whole / "r0_c0_mask.tif")
    monkeypatch.setattr(landmask.batch.region, "run_scene", real)
    computed = []
    real_compute = statistics.compute_statistics

    def spy(*args, **kwargs):
        computed.append(1)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(statistics, "compute_statistics", spy)
    # recorded values a resumed run must take as they are (a recomputation would differ)
    manifest["statistics"]["values"]["percentile(nir, 15)"] += 1e-3
    (out / ".landmask-manifest.json").write_text(json.dumps(manifest))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == 0
    assert not computed
    summary = json.loads((out / "run-summary.json").read_text())
    status = {s["scene"]: s["status"] for s in summary["scenes"]}
    # the tiles bound to other values than those recorded are redone, with the recorded ones
    assert set(status.values()) == {"done"}
    for mask in out.glob("r*_c*_mask.tif"):
        assert _thresholds(mask) == manifest["statistics"]["values"]
    # a forced run computes them again
    assert run(["run", str(path), "-q", "--force"]) == 0
    assert computed
    with rasterio.open(out / "mosaic.vrt") as a, rasterio.open(whole / "r0_c0_mask.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    # so does a change of any input (here a file's modification time), without --force
    computed.clear()
    assert run(["run", str(path), "-q"]) == 0
    assert not computed
    band = dates / "in" / "a2" / "A2_nir.tif"
    stat = band.stat()
    os.utime(band, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == 0
    assert computed


def test_region_statistics_are_the_same_on_a_local_cluster(dates, stats_runs):
    tiled, _ = stats_runs
    more = {"classifier": {"rules": "s.yaml"}, "outputs": {"dir": "out_stats_cluster"}}
    path = _workflow(dates, "stats_cluster", 36, **more)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q", "--scheduler", "local:2"]) == 0
    out = dates / "out_stats_cluster"
    names = sorted(p.name for p in tiled.glob("r*_c*_mask.tif"))
    assert names == sorted(p.name for p in out.glob("r*_c*_mask.tif"))
    for name in names:
        assert _thresholds(out / name) == _thresholds(tiled / name)
        with rasterio.open(tiled / name) as a, rasterio.open(out / name) as b:
            np.testing.assert_array_equal(a.read(), b.read())


def test_a_region_statistic_with_no_valid_pixel_gives_an_all_nodata_mosaic(tmp_path, capsys):
    """Every date all cloud: the statistics have no pixel anywhere in the region; one
    warning, every tile nodata, exit 0."""
    for k in range(2):
        make_date(
            tmp_path / "in" / f"c{k}", f"C{k}", f"2024-0{k + 4}-01T10:00:00Z", seed=k,
            shape=(60, 70), clouds=1.1,
        )  # fmt: skip
    (tmp_path / "s.yaml").write_text(STATS_RULES)
    path = _workflow(tmp_path, "cloudy", 36, classifier={"rules": "s.yaml"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DateSkippedWarning)
        assert run(["run", str(path), "-q"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "no valid pixel" in line]
    assert len(said) == 1, said
    with rasterio.open(tmp_path / "out_cloudy" / "mosaic.vrt") as ds:
        assert (ds.read(1) == 255).all()
    summary = json.loads((tmp_path / "out_cloudy" / "run-summary.json").read_text())
    assert summary["counts"]["done"] == 4
    assert summary["statistics"]["percentile(nir, 15)"] is None
