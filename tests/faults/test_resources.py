"""Full disks, read-only folders and implausible raster headers: one line, nothing left."""

from __future__ import annotations

import os
from pathlib import Path

import rasterio

from tests.faults.conftest import error_lines, run_cli, snapshot


def test_short_disk_refused_up_front(work: Path, mount: callable) -> None:
    small = mount("size=64k")
    before = snapshot(work)
    result = run_cli(
        "classify", "big.tif", "--sensor", "sentinel2-l2a", "-q", "-o", small / "m.tif", cwd=work
    )
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "m.tif: needs up to" in line and "MB free" in line
    assert os.listdir(small) == []
    assert snapshot(work) == before


def test_disk_full_mid_write_one_line_nothing_left(work: Path, mount: callable) -> None:
    # room for the compressed temporaries of the mask but not for the polygons
    folder = mount("size=6m")
    before = snapshot(work)
    result = run_cli(
        "classify",
        "big.tif",
        "--sensor",
        "sentinel2-l2a",
        "-q",
        "--chunk-size",
        "512",
        "-o",
        folder / "m.tif",
        "--vector",
        folder / "p.geojson",
        cwd=work,
    )
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "disk full" in lines[0], result.stderr
    assert os.listdir(folder) == []  # the mask written first is removed again
    assert snapshot(work) == before


def test_read_only_folder(work: Path, mount: callable) -> None:
    folder = mount("ro,size=1m")
    result = run_cli(
        "classify", "small.tif", "--sensor", "sentinel2-l2a", "-q", "-o", folder / "m.tif", cwd=work
    )
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "not writable" in line and "m.tif" in line


def test_implausible_header_refused(work: Path) -> None:
    huge = work / "huge.tif"
    with rasterio.open(
        huge,
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=2,
        dtype="uint16",
        tiled=True,
        compress="deflate",
        sparse_ok=True,
        crs="EPSG:32633",
        transform=rasterio.Affine(10, 0, 0, 0, -10, 0),
    ):
        pass
    assert huge.stat().st_size < 6_000_000  # the tile index only
    before = snapshot(work)
    result = run_cli(
        "classify", huge, "--band", "red=1", "--band", "nir=2", "-q", "-o", "m.tif", cwd=work
    )
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "implausible" in line and "huge.tif" in line
    assert snapshot(work) == before
