"""A mosaic of tiles: one VRT over the tile rasters of a region, and its STAC collection.

:func:`write_vrt` writes a GDAL VRT whose sources are the tile files placed
at their offsets in the region's grid (each tile a window of it: no
resampling). The VRT carries the first tile's band metadata (class names,
colour table, nodata), so it opens as one mask: ``landmask vectorize
mosaic.vrt`` and QGIS read it as they read a tile. Overviews come from the
tiles' own internal overviews (GDAL's implicit VRT overviews), so zooming out
reads the tiles' overviews, never their full resolution. Tiles that are
missing (a failed tile) read as nodata.

:func:`write_collection` writes a STAC collection (pystac) linking the tiles'
items, its extent the region's (WGS84 bounding box) and period, the VRT as an
asset.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from landmask.grid import Grid
from landmask.io.outputs import atomic_path

# Imports: landmask's at the top; pystac is imported by the function that writes a collection
# (only STAC outputs need it).

__all__ = ["MOSAIC_MARK", "MosaicTile", "write_collection", "write_vrt"]

#: How a VRT landmask wrote begins (a run may replace it without --force).
MOSAIC_MARK = "<!-- landmask mosaic -->"


@dataclass(frozen=True)
class MosaicTile:
    """A tile file and where its pixels go in the region's grid."""

    path: Path
    row_off: int
    col_off: int
    width: int
    height: int


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def write_vrt(path: str | os.PathLike[str], grid: Grid, tiles: Sequence[MosaicTile]) -> Path:
    """Write the VRT of ``tiles`` on ``grid`` atomically; band metadata from the first tile.

    The tiles must all be on windows of ``grid`` (same CRS and resolution,
    whole-pixel offsets), with one dtype and band count. Reads each tile's
    header; writes only the VRT (tile paths relative to it).
    """
    import rasterio

    out = Path(path)
    if not tiles:
        raise ValueError("a mosaic needs at least one tile")
    with rasterio.open(tiles[0].path) as first:
        count, dtypes, nodata = first.count, first.dtypes, first.nodata
        tags, band_tags = first.tags(), [first.tags(b) for b in range(1, first.count + 1)]
        descriptions = first.descriptions
        colormap = None
        with contextlib.suppress(ValueError):
            colormap = first.colormap(1)
        blocks = first.block_shapes
    assert grid.crs is not None
    t = grid.transform
    lines = [
        MOSAIC_MARK,
        f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">',
        f'  <SRS dataAxisToSRSAxisMapping="1,2">{_esc(grid.crs.to_wkt())}</SRS>',
        f"  <GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>",
    ]
    if tags:
        lines.append("  <Metadata>")
        lines += [f'    <MDI key="{_esc(k)}">{_esc(v)}</MDI>' for k, v in tags.items()]
        lines.append("  </Metadata>")
    gdal_types = {
        "uint8": "Byte",
        "uint16": "UInt16",
        "int16": "Int16",
        "uint32": "UInt32",
        "int32": "Int32",
        "float32": "Float32",
        "float64": "Float64",
    }
    for b in range(1, count + 1):
        kind = gdal_types[dtypes[b - 1]]
        lines.append(f'  <VRTRasterBand dataType="{kind}" band="{b}">')
        if descriptions[b - 1]:
            lines.append(f"    <Description>{_esc(descriptions[b - 1])}</Description>")
        if nodata is not None:
            lines.append(f"    <NoDataValue>{nodata!r}</NoDataValue>")
        if band_tags[b - 1]:
            lines.append("    <Metadata>")
            lines += [
                f'      <MDI key="{_esc(k)}">{_esc(v)}</MDI>' for k, v in band_tags[b - 1].items()
            ]
            lines.append("    </Metadata>")
        if b == 1 and colormap:
            lines.append("    <ColorInterp>Palette</ColorInterp>")
            lines.append("    <ColorTable>")
            for i in range(max(colormap) + 1):
                r, g, bl, a = colormap.get(i, (0, 0, 0, 0))
                lines.append(f'      <Entry c1="{r}" c2="{g}" c3="{bl}" c4="{a}"/>')
            lines.append("    </ColorTable>")
        by, bx = blocks[b - 1]
        for tile in tiles:
            rel = os.path.relpath(tile.path, out.parent)
            lines += [
                "    <SimpleSource>",
                f'      <SourceFilename relativeToVRT="1">{_esc(rel)}</SourceFilename>',
                f"      <SourceBand>{b}</SourceBand>",
                f'      <SourceProperties RasterXSize="{tile.width}" '
                f'RasterYSize="{tile.height}" DataType="{kind}" BlockXSize="{bx}" '
                f'BlockYSize="{by}"/>',
                f'      <SrcRect xOff="0" yOff="0" xSize="{tile.width}" ySize="{tile.height}"/>',
                f'      <DstRect xOff="{tile.col_off}" yOff="{tile.row_off}" '
                f'xSize="{tile.width}" ySize="{tile.height}"/>',
                "    </SimpleSource>",
            ]
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    with atomic_path(out, overwrite=True) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_collection(
    path: str | os.PathLike[str],
    *,
    name: str,
    grid: Grid,
    items: Sequence[str | os.PathLike[str]],
    period: tuple[dt.datetime | None, dt.datetime | None],
    mosaic: str | os.PathLike[str] | None = None,
    description: str = "",
    statistics: Mapping[str, float] | None = None,
) -> Path:
    """Write a STAC collection linking the item files ``items``, atomically.

    Its spatial extent is ``grid``'s bounds in WGS84 (edges densified), its
    temporal extent ``period``; ``mosaic`` (the VRT) is its ``mosaic`` asset.
    Links are relative, so the folder can move. ``statistics``: the
    region-wide statistics every tile's rules were bound to, recorded as
    ``landmask:statistics`` (as in each item; null: no valid pixel).
    """
    import pystac
    from rasterio.warp import transform_bounds

    out = Path(path)
    assert grid.crs is not None
    bbox = list(transform_bounds(grid.crs, "EPSG:4326", *grid.bounds, densify_pts=21))
    collection = pystac.Collection(
        id=name,
        description=description or f"landmask region run {name}",
        extent=pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([list(period)])),
        license="other",
        extra_fields={"landmask:region": {"tiles": len(items)}},
    )
    if statistics:
        collection.extra_fields["landmask:statistics"] = {
            name: value if math.isfinite(value) else None for name, value in statistics.items()
        }
    collection.set_self_href(str(out.resolve()))
    for item in items:
        rel = os.path.relpath(item, out.parent)
        collection.add_link(pystac.Link("item", f"./{rel}", pystac.MediaType.JSON))
    if mosaic is not None:
        rel = os.path.relpath(mosaic, out.parent)
        collection.add_asset(
            "mosaic",
            pystac.Asset(f"./{rel}", media_type="application/xml", roles=["data"], title="mosaic"),
        )
    doc = collection.to_dict(include_self_link=False)
    for link in doc["links"]:
        if link["rel"] == "root":
            link["href"] = f"./{out.name}"
    with atomic_path(out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return out
