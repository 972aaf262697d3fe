"""Class names and colours inside the mask GeoTIFF: its attribute table in the GDAL_METADATA tag.

A mask copied alone to an empty folder (no ``.aux.xml``, ``.qml`` or item)
still carries its raster attribute table, in the item GDAL 3.12 and later read
(``DEFAULT_RASTER_ATTRIBUTE_TABLE``, ``role="rat"``). Checked here without GDAL:
the file's IFDs and tags are read with ``struct`` below (classic TIFF and
BigTIFF), the tag's XML with ElementTree, and the table compared with the
scheme and with the colour table GDAL reads from the same file. The layout
stays a COG: every IFD and the tag's value before the first tile.
"""

from __future__ import annotations

import shutil
import struct
import warnings
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import rasterio
from conftest import as_mask

from landmask.classes import LANDCOVER, NODATA, WORLDCOVER, ClassScheme
from landmask.errors import WriteError
from landmask.io.write.gdal_metadata import embed_rat, reserve_rat
from landmask.io.write.rasters import write_mask
from landmask.io.write.styling import rat_xml

GDAL_METADATA = 42112
TILE_OFFSETS = 324
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 16: 8}


def read_ifds(path: Path) -> list[dict[int, tuple[int, int, int]]]:
    """Every IFD of a TIFF: tag -> (type, count, where its value starts in the file)."""
    raw = path.read_bytes()
    order = {b"II": "<", b"MM": ">"}[raw[:2]]
    big = struct.unpack(order + "H", raw[2:4])[0] == 43
    fmt = ("Q", "HHQ", 20, 8) if big else ("H", "HHI", 12, 4)
    count_fmt, entry_fmt, size, inline = fmt
    nxt = struct.unpack(order + ("Q" if big else "I"), raw[8:16] if big else raw[4:8])[0]
    ifds = []
    while nxt:
        n = struct.unpack_from(order + count_fmt, raw, nxt)[0]
        at = nxt + struct.calcsize(count_fmt)
        entries = {}
        for k in range(n):
            pos = at + k * size
            tag, kind, count = struct.unpack_from(order + entry_fmt, raw, pos)
            nbytes = TYPE_SIZES.get(kind, 1) * count
            value_at = pos + size - inline
            if nbytes > inline:
                value_at = struct.unpack_from(order + ("Q" if big else "I"), raw, value_at)[0]
            entries[tag] = (kind, count, value_at)
        entries[-1] = (0, 0, nxt)  # where the IFD itself is
        ifds.append(entries)
        nxt = struct.unpack_from(order + ("Q" if big else "I"), raw, at + n * size)[0]
    return ifds


def tag_text(path: Path) -> str:
    kind, count, at = read_ifds(path)[0][GDAL_METADATA]
    assert kind == 2  # ASCII
    return path.read_bytes()[at : at + count].rstrip(b"\0").decode("utf-8")


def embedded_rows(path: Path) -> tuple[ET.Element, list[list[str]]]:
    """The attribute table item of band 1 in the file's tag, and its rows."""
    root = ET.fromstring(tag_text(path))
    items = [i for i in root.iter("Item") if i.get("role") == "rat"]
    assert len(items) == 1
    item = items[0]
    rat = item.find("GDALRasterAttributeTable")
    assert rat is not None and rat.get("tableType") == "thematic"
    rows = [[f.text or "" for f in row.findall("F")] for row in rat.findall("Row")]
    return item, rows


def shown(scheme: ClassScheme) -> list:
    return [c for c in scheme if c.id != NODATA]


@pytest.mark.parametrize("scheme", [LANDCOVER, WORLDCOVER], ids=lambda s: s.name)
def test_a_mask_copied_alone_carries_its_attribute_table(tmp_path, scheme):
    ids = [c.id for c in shown(scheme)]
    rng = np.random.default_rng(5)
    data = rng.choice(np.array([*ids, NODATA], np.uint8), size=(700, 600))
    write_mask(as_mask(data, chunks=256), tmp_path / "mask.tif", scheme=scheme)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(tmp_path / "mask.tif", alone / "mask.tif")

    item, rows = embedded_rows(alone / "mask.tif")
    assert item.get("name") == "DEFAULT_RASTER_ATTRIBUTE_TABLE" and item.get("sample") == "0"
    fields = [f.findtext("Name") for f in item.iter("FieldDefn")]
    assert fields == ["Value", "Class", "Label", "Red", "Green", "Blue", "Alpha"]
    assert rows == [[str(c.id), c.name, c.title, *map(str, c.rgba)] for c in shown(scheme)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with rasterio.open(alone / "mask.tif") as ds:
            colours = ds.colormap(1)
            tags, band_tags = ds.tags(), ds.tags(1)
            np.testing.assert_array_equal(ds.read(1), data)
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    # the table's colours are the colour table GDAL reads from the same file
    for value, *_, r, g, b, a in rows:
        assert colours[int(value)] == (int(r), int(g), int(b), int(a))
    assert {tags[f"CLASS_{v}"] for v, *_ in rows} == {name for _, name, *_ in rows}
    assert band_tags == {}  # nothing of the reservation is left


def test_the_table_keeps_the_cog_layout(tmp_path):
    rng = np.random.default_rng(6)
    data = rng.integers(0, 4, (1300, 1100)).astype(np.uint8)
    out = write_mask(as_mask(data), tmp_path / "m.tif").path
    ifds = read_ifds(out)
    assert len(ifds) == 3  # the image and two overviews
    first_tile = min(
        struct.unpack_from("<" + ("Q" if kind == 16 else "I"), out.read_bytes(), at)[0]
        for ifd in ifds
        for kind, _, at in [ifd[TILE_OFFSETS]]
    )
    assert all(ifd[-1][2] < first_tile for ifd in ifds)  # IFDs before the data
    _, count, at = ifds[0][GDAL_METADATA]
    assert at + count <= first_tile  # the tag's value too: one read of the head has it
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2, 4] and ds.block_shapes == [(512, 512)]
        np.testing.assert_array_equal(ds.read(1), data)


@pytest.mark.parametrize("bigtiff", ["NO", "YES"])
def test_embedding_overwrites_the_reserved_item_in_place(tmp_path, bigtiff):
    table = rat_xml(LANDCOVER)
    path = tmp_path / "t.tif"
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 1, "dtype": "uint8"}
    with rasterio.open(path, "w", BIGTIFF=bigtiff, **profile) as ds:
        ds.write(np.arange(64, dtype=np.uint8).reshape(1, 8, 8))
        ds.update_tags(KEEP="me")
        ds.update_tags(1, **reserve_rat(table))
    size = path.stat().st_size
    embed_rat(path, table)
    assert path.stat().st_size == size
    _, rows = embedded_rows(path)
    assert [r[1] for r in rows] == [c.name for c in shown(LANDCOVER)]
    with rasterio.open(path) as ds:
        assert ds.tags()["KEEP"] == "me" and ds.tags(1) == {}
        assert ds.read(1)[7, 7] == 63


def test_a_file_without_room_for_the_table_is_refused_unchanged(tmp_path):
    path = tmp_path / "t.tif"
    profile = {"driver": "GTiff", "width": 4, "height": 4, "count": 1, "dtype": "uint8"}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.zeros((1, 4, 4), np.uint8))
        ds.update_tags(1, LANDMASK_RAT_RESERVED="xxx")  # too short for any table
    before = path.read_bytes()
    with pytest.raises(WriteError, match="no room kept for the attribute table"):
        embed_rat(path, rat_xml(LANDCOVER))
    assert path.read_bytes() == before
