"""Class names inside a GeoTIFF: a raster attribute table in its ``GDAL_METADATA`` tag.

GDAL keeps a band's raster attribute table (RAT) of a GeoTIFF inside the file
from GDAL 3.12 on: in the ``GDAL_METADATA`` TIFF tag (42112), as an ``Item``
named ``DEFAULT_RASTER_ATTRIBUTE_TABLE`` with ``role="rat"`` that holds the
table's XML (the ``GDALRasterAttributeTable`` element of a PAM ``.aux.xml``)::

    <GDALMetadata>
      <Item name="CLASS_1">forest</Item>
      <Item name="DEFAULT_RASTER_ATTRIBUTE_TABLE" sample="0" role="rat">
        <GDALRasterAttributeTable tableType="thematic">...</GDALRasterAttributeTable>
      </Item>
    </GDALMetadata>

GDAL 3.12 reads it back from the file alone (``gdalinfo -json`` lists it under
``rat``; QGIS 3.30 and later style a raster from it); older GDAL (3.6, 3.10)
skips the item without a word. The GDAL that rasterio's wheels bundle for
Python 3.11 (3.10) cannot write it, so landmask writes it itself, without
moving a byte of the Cloud-Optimized layout:

1. :func:`reserve_rat` gives a band metadata item of exactly the right length,
   which GDAL writes into the tag with the rest of the metadata;
2. once the COG is written, :func:`embed_rat` overwrites that item, in place
   and byte for byte, with the table's item (padded with spaces between
   elements). The tag keeps its length and offset, so the IFDs, tiles and
   overviews stay where the COG driver put them.

Category names, which QGIS 3.28 and older take for legend labels, have no
place inside a GeoTIFF in any GDAL version: they stay in the ``.aux.xml``
(:func:`landmask.io.write.styling.rat_aux_xml`).
"""

from __future__ import annotations

import os
import re
import struct

from landmask.errors import WriteError

__all__ = ["GDAL_METADATA_TAG", "RAT_ITEM", "embed_rat", "gdal_metadata", "rat_item", "reserve_rat"]

#: The TIFF tag GDAL keeps its metadata in.
GDAL_METADATA_TAG = 42112
#: The item name GDAL 3.12 gives a band's raster attribute table in that tag.
RAT_ITEM = "DEFAULT_RASTER_ATTRIBUTE_TABLE"
#: The band metadata item that holds the table's place until :func:`embed_rat`.
_RESERVED = "LANDMASK_RAT_RESERVED"
_FILLER = "x"


def rat_item(rat_xml: str, band: int = 1) -> bytes:
    """The ``GDAL_METADATA`` item of band ``band``'s table ``rat_xml``, as GDAL 3.12 writes it.

    ``rat_xml`` is a ``GDALRasterAttributeTable`` element
    (:func:`landmask.io.write.styling.rat_element`); UTF-8 bytes.
    """
    head = f'<Item name="{RAT_ITEM}" sample="{band - 1}" role="rat">'
    return (head + rat_xml.strip() + "</Item>").encode("utf-8")


def reserve_rat(rat_xml: str, band: int = 1) -> dict[str, str]:
    """The band metadata item to set on band ``band`` of the source of a GeoTIFF copy.

    Its value is as long as the table's item, so that the tag GDAL writes
    has room for :func:`embed_rat` to put the table in its place.
    """
    return {_RESERVED: _FILLER * len(rat_item(rat_xml, band))}


def embed_rat(path: str | os.PathLike[str], rat_xml: str, band: int = 1) -> None:
    """Put band ``band``'s raster attribute table into the ``GDAL_METADATA`` tag of ``path``.

    ``path`` is a GeoTIFF written from a source whose band carried
    :func:`reserve_rat`; the reserved item is overwritten in place (the
    file's size and every offset in it stay as they are). Reads the first
    IFD and writes a few kilobytes.

    Raises
    ------
    WriteError
        If the file has no reserved item of that size (a writer that did not
        carry it into the tag).
    """
    start, data = _tag_bytes(path)
    found = re.search(
        rb'<Item name="' + _RESERVED.encode() + rb'"[^>]*>(' + _FILLER.encode() + rb"+)</Item>",
        data,
    )
    new = rat_item(rat_xml, band)
    if found is None or found.end() - found.start() < len(new):
        raise WriteError(f"{path}: the GDAL_METADATA tag has no room kept for the attribute table")
    span = found.end() - found.start()
    with open(path, "r+b") as f:
        f.seek(start + found.start())
        f.write(new + b" " * (span - len(new)))


def gdal_metadata(path: str | os.PathLike[str]) -> str | None:
    """The text of the ``GDAL_METADATA`` tag of a GeoTIFF's first image, or None.

    Read from the file's bytes (classic TIFF or BigTIFF), without GDAL.
    """
    try:
        _, data = _tag_bytes(path)
    except WriteError:
        return None
    return data.rstrip(b"\0").decode("utf-8", errors="replace")


def _tag_bytes(path: str | os.PathLike[str]) -> tuple[int, bytes]:
    """Where the ``GDAL_METADATA`` value of the first IFD starts, and its bytes."""
    with open(path, "rb") as f:
        head = f.read(16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 16:
            raise WriteError(f"{path}: not a TIFF file")
        (version,) = struct.unpack(order + "H", head[2:4])
        big = version == 43
        if big:
            (ifd,) = struct.unpack(order + "Q", head[8:16])
            count_fmt, entry_fmt, entry_size, inline = "Q", "HHQQ", 20, 8
        else:
            (ifd,) = struct.unpack(order + "I", head[4:8])
            count_fmt, entry_fmt, entry_size, inline = "H", "HHII", 12, 4
        f.seek(ifd)
        count_size = struct.calcsize(count_fmt)
        (entries,) = struct.unpack(order + count_fmt, f.read(count_size))
        table = f.read(entries * entry_size)
        for k in range(entries):
            entry = table[k * entry_size : (k + 1) * entry_size]
            tag, _, count, value = struct.unpack(order + entry_fmt, entry)
            if tag != GDAL_METADATA_TAG:
                continue
            if count <= inline:  # the value is in the entry itself
                start = ifd + count_size + k * entry_size + entry_size - inline
            else:
                start = value
            f.seek(start)
            return start, f.read(count)
    raise WriteError(f"{path}: no GDAL_METADATA tag")
