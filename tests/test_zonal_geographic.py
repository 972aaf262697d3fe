"""Zones in longitude and latitude that cover the world, a pole or the antimeridian (issue 21).

Each result is checked against an independent computation: the exact shapely
intersection of the zone (reprojected by pyproj, densified far finer than
landmask does) with every pixel square, summed per class with numpy, on an
equal-area projection where a planar area is a ground area; or pyproj's
geodesic area of the zone.
"""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from conftest import as_mask, invoke, write_raster
from pyproj import Geod, Transformer
from rasterio.crs import CRS
from test_zonal import VALUES, exact_areas, random_mask

import landmask
from landmask.errors import InputError, ZoneWarning

WGS84 = CRS.from_epsg(4326)
NAMES = {0: "other", 1: "forest", 2: "urban", 3: "water", 254: "cloud", 255: "nodata"}


def zones(*geoms: shapely.Geometry, crs: object = WGS84) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"z{i}" for i in range(len(geoms))]}, geometry=list(geoms), crs=crs
    )


def stats(mask, frame) -> tuple[gpd.GeoDataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ZoneWarning)
        result = landmask.zonal_stats(mask, frame)
    return result, [str(w.message) for w in caught if issubclass(w.category, ZoneWarning)]


def by_class(result: gpd.GeoDataFrame, row: int) -> dict[int, float]:
    return {v: float(result[f"{n}_m2"][row]) for v, n in NAMES.items() if v != 255}


def in_crs(geom: shapely.Geometry, crs: object, step: float) -> shapely.Geometry:
    """``geom`` (EPSG:4326) in ``crs``: its edges cut every ``step`` degrees, then pyproj."""
    to = Transformer.from_crs(4326, crs, always_xy=True)
    fine = shapely.segmentize(geom, step)
    return shapely.transform(fine, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))


def test_a_whole_world_box_covers_all_of_a_utm_mask():
    """Issue 21: it reported zeros and "outside the mask" (its corners are no UTM points)."""
    data = random_mask(np.random.default_rng(1), 30, 40)
    world = shapely.box(-180, -90, 180, 90)
    band = shapely.box(-180, -60, 180, 60)  # edges 360° long, round the world
    far = shapely.box(100, -10, 110, 0)  # nowhere near UTM 33N
    result, notes = stats(as_mask(data, chunks=16), zones(world, band, far))
    expected = {int(v): 100.0 * np.count_nonzero(data == v) for v in VALUES}  # numpy, 10 m px
    for row in (0, 1):
        got = by_class(result, row)
        for v in (0, 1, 2, 3, 254):
            assert got[v] == pytest.approx(expected[v], rel=1e-12), (row, v)
        assert result["nodata_m2"][row] == pytest.approx(expected[255], rel=1e-12)
        assert result["inside_m2"][row] == pytest.approx(100.0 * data.size, rel=1e-12)
    assert result["inside_m2"][2] == 0
    assert notes == ["1 of 3 zones lie outside the mask and have zero areas: z2"]


def _polar_mask() -> tuple[np.ndarray, Affine, CRS]:
    """60 x 60 pixels of 40 km on the North Pole LAEA (an equal-area projection)."""
    data = random_mask(np.random.default_rng(7), 60, 60)
    return data, Affine(40_000.0, 0, -1_200_000.0, 0, -40_000.0, 1_200_000.0), CRS.from_epsg(3574)


def test_a_zone_covering_the_pole_against_a_polar_mask():
    data, transform, laea = _polar_mask()
    cap = shapely.box(-180, 80, 180, 90)
    result, notes = stats(as_mask(data, transform, laea, chunks=23), zones(cap))
    assert notes == []
    # independent: the parallel of 80°N drawn by pyproj (every 0.05°), cut from each pixel
    ref = exact_areas(data, transform, in_crs(cap, 3574, 0.05))
    got = by_class(result, 0)
    pixel = 40_000.0**2
    for v in (0, 1, 2, 3, 254):
        assert got[v] == pytest.approx(ref[v], abs=1e-3 * pixel), v
    # and the cap's area on the ellipsoid (pyproj's Geod), all of it inside the raster
    lons = np.arange(-180, 180.001, 0.02)
    geodesic, _ = Geod(ellps="WGS84").polygon_area_perimeter(lons, np.full(lons.size, 80.0))
    assert result["inside_m2"][0] == pytest.approx(abs(geodesic), rel=1e-5)


def test_a_zone_covering_the_pole_against_a_utm_mask_is_cut_to_the_mask():
    data = random_mask(np.random.default_rng(2), 30, 40)
    north = shapely.box(-180, 0, 180, 90)  # holds the pole; UTM 33N does not
    south = shapely.box(-180, -90, 180, 0)
    result, notes = stats(as_mask(data), zones(north, south))
    assert result["inside_m2"][0] == pytest.approx(100.0 * data.size, rel=1e-12)
    assert result["inside_m2"][1] == 0 and len(notes) == 1


#: UTM 60N: 30 x 30 pixels of 10 km from 700 to 1000 km east, across 180° near 10°N
UTM60 = CRS.from_epsg(32660)
ACROSS = Affine(10_000.0, 0, 700_000.0, 0, -10_000.0, 1_300_000.0)


def test_a_zone_split_at_the_antimeridian_meets_the_mask_on_both_sides():
    data = random_mask(np.random.default_rng(3), 30, 30)
    split = shapely.MultiPolygon(  # as GeoJSON asks (RFC 7946 §3.1.9)
        [shapely.box(179.0, 9.5, 180.0, 11.0), shapely.box(-180.0, 9.5, -179.0, 11.0)]
    )
    unwrapped = shapely.box(179.0, 9.5, 181.0, 11.0)  # the same ground in 0..360°
    result, notes = stats(as_mask(data, ACROSS, UTM60, chunks=7), zones(split, unwrapped))
    assert notes == []
    ref = exact_areas(data, ACROSS, in_crs(unwrapped, UTM60, 0.001))
    for row in (0, 1):
        got = by_class(result, row)
        for v in (0, 1, 2, 3, 254):
            assert got[v] == pytest.approx(ref[v], rel=1e-6, abs=1.0), (row, v)
    assert result["inside_m2"][0] == pytest.approx(result["inside_m2"][1], rel=1e-7)
    assert result["inside_m2"][0] > 2.5e10  # about 2° x 1.5° near the equator


def test_a_geographic_mask_in_0_to_360_meets_zones_written_west_of_180():
    data = random_mask(np.random.default_rng(4), 20, 40)
    grid = Affine(0.5, 0, 170.0, 0, -0.5, 10.0)  # 170°E .. 190°E, 0 .. 10°N
    west = shapely.box(-178.0, 2.0, -172.0, 8.0)  # 182..188 in the mask's longitudes
    result, notes = stats(as_mask(data, grid, WGS84), zones(west))
    assert notes == []
    lons = np.r_[np.arange(-178, -172, 0.01), np.full(600, -172.0), np.arange(-172, -178, -0.01)]
    lats = np.r_[np.full(600, 2.0), np.arange(2, 8, 0.01), np.full(600, 8.0)]
    lons, lats = np.r_[lons, np.full(600, -178.0)], np.r_[lats, np.arange(8, 2, -0.01)]
    geodesic, _ = Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)
    assert result["inside_m2"][0] == pytest.approx(abs(geodesic), rel=1e-6)


@pytest.mark.parametrize(
    "ring",
    [
        [(179.9, 0), (-179.9, 0), (-179.9, 1), (179.9, 1)],  # across 180°, as its complement
        [(-170, 0), (170, 0), (170, 1), (-170, 1)],  # 340° wide: ambiguous just the same
    ],
)
def test_an_edge_over_180_degrees_of_longitude_is_refused(ring):
    data = random_mask(np.random.default_rng(5), 30, 30)
    with pytest.raises(InputError, match=r"spanning (359\.8|340\.0)°") as caught:
        landmask.zonal_stats(as_mask(data, ACROSS, UTM60), zones(shapely.Polygon(ring)))
    assert "z0" in str(caught.value) and "antimeridian" in str(caught.value)


def test_cli_refuses_an_antimeridian_complement_in_one_line(tmp_path, capsys, caplog):
    mask = write_raster(
        tmp_path / "m.tif", np.ones((30, 30), np.uint8), crs=UTM60, transform=ACROSS, nodata=255
    )
    ring = [(179.9, 9), (-179.9, 9), (-179.9, 11), (179.9, 11)]
    zones(shapely.Polygon(ring)).to_file(tmp_path / "z.geojson")
    (tmp_path / "out").mkdir()
    res = invoke(
        ["zonal", mask, tmp_path / "z.geojson", "-o", tmp_path / "out" / "a.csv"], capsys, caplog
    )
    assert res.code == 2
    lines = [s for s in res.err.splitlines() if s.strip()]
    assert len(lines) == 1 and "antimeridian" in lines[0], res.err
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_whole_world_zone_against_a_utm_mask(tmp_path, capsys, caplog):
    data = random_mask(np.random.default_rng(6), 30, 40)
    mask = write_raster(tmp_path / "m.tif", data, nodata=255)
    zones(shapely.box(-180, -90, 180, 90)).to_file(tmp_path / "world.gpkg")
    out = tmp_path / "a.csv"
    res = invoke(["zonal", mask, tmp_path / "world.gpkg", "-o", out], capsys, caplog)
    assert res.code == 0, res.err
    assert "outside" not in res.err
    import pandas as pd

    table = pd.read_csv(out)
    assert table["forest_m2"][0] == pytest.approx(100.0 * np.count_nonzero(data == 1))


def test_change_on_a_grid_reaching_past_the_pole_writes_no_nan(tmp_path, capsys, caplog):
    """Issue 21: "changed_m2": NaN. The rows past 90°N cover no ground: 0 m², never NaN."""
    before = np.ones((8, 10), np.uint8)
    after = before.copy()
    after[:, :4] = 2  # 32 px forest -> urban, 8 of them in rows 0-1, past the pole
    grid = Affine(1.0, 0, 0.0, 0, -1.0, 91.5)  # top rows: 91.5..90.5 and 90.5..89.5
    b = write_raster(tmp_path / "b.tif", before, crs=WGS84, transform=grid, nodata=255)
    a = write_raster(tmp_path / "a.tif", after, crs=WGS84, transform=grid, nodata=255)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out"
    res = invoke(["change", b, a, "-o", out / "c.tif", "--json", out / "c.json"], capsys, caplog)
    assert res.code == 0, res.err

    def no_nan(text: str) -> float:
        raise AssertionError(f"{text} in the JSON")

    doc = json.loads((out / "c.json").read_text(), parse_constant=no_nan)
    # independent: pyproj's geodesic area of 4 pixels of each row up to the pole, along
    # the parallels (a vertex every 0.001°: a geodesic between them stays on the parallel)
    geod = Geod(ellps="WGS84")
    lons = np.linspace(0.0, 4.0, 4001)
    expected = 0.0
    for top in np.arange(91.5, 83.5, -1.0):
        north, south = min(top, 90.0), min(top - 1.0, 90.0)
        if north > south:
            lats = np.r_[np.full(lons.size, north), np.full(lons.size, south)]
            area, _ = geod.polygon_area_perimeter(np.r_[lons, lons[::-1]], lats)
            expected += abs(area)
    text = json.dumps(doc)
    assert "NaN" not in text
    changed = doc["changed_m2"]
    assert changed == pytest.approx(expected, rel=1e-9)
