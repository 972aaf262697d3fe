"""GIS styling: QGIS opens landmask's masks and polygons coloured and labelled by class.

Three conventions, each produced from a :class:`~landmask.classes.ClassScheme`:

* a QGIS layer style (``.qml``) beside the file, with the file's stem and the
  ``.qml`` extension (``mask.tif`` -> ``mask.qml``), which QGIS loads as the
  layer's default style: a *paletted/unique values* renderer for a mask
  raster, a *categorized* renderer on ``class_name`` for polygons (not for a
  GeoPackage, which holds its style);
* for a GeoPackage, the same style stored in its ``layer_styles`` table (the
  QGIS/OGC convention), marked as the default style of the layer, with an SLD
  version for other clients;
* for a mask GeoTIFF, a GDAL raster attribute table and category names in the
  ``.aux.xml`` sidecar (``mask.tif.aux.xml``) that GDAL, QGIS and ArcGIS read;
  the same attribute table also goes inside the GeoTIFF
  (:mod:`landmask.io.write.gdal_metadata`), where GDAL 3.12 and later read it.

Every sidecar is written atomically (temporary name, then rename) and only
after the file it styles has landed; sidecars are named and marked as the
file's companions by :mod:`landmask.io.companions`.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from landmask.classes import NODATA, ClassScheme, LandClass
from landmask.io.companions import aux_path, mark, role_of, style_path
from landmask.io.outputs import atomic_path

__all__ = [
    "QGIS_VERSION",
    "gpkg_add_style",
    "index_qml",
    "mask_sidecars",
    "probability_qml",
    "ramp",
    "raster_qml",
    "rat_aux_xml",
    "rat_xml",
    "style_mask_file",
    "style_vector_file",
    "vector_qml",
    "vector_sidecars",
    "vector_sld",
]

#: QGIS version the styles are written for (read by every QGIS 3).
QGIS_VERSION = "3.28.0-Firenze"

_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"

# GDAL raster attribute table field types and usages (gdal.h)
_GFT_INTEGER, _GFT_STRING = 0, 2
_GFU_GENERIC, _GFU_NAME, _GFU_MINMAX = 0, 2, 5
_GFU_RED, _GFU_GREEN, _GFU_BLUE, _GFU_ALPHA = 6, 7, 8, 9


def _shown(scheme: ClassScheme) -> list[LandClass]:
    """The classes a style draws: all but nodata (transparent through the file's nodata)."""
    return [c for c in scheme if c.id != NODATA]


def _rgb(c: LandClass) -> tuple[int, int, int]:
    r, g, b, _ = c.rgba
    return r, g, b


def _xml(root: ET.Element, doctype: str = "") -> str:
    ET.indent(root)
    return doctype + ET.tostring(root, encoding="unicode") + "\n"


def raster_qml(scheme: ClassScheme) -> str:
    """A QGIS style for a mask raster: a paletted renderer, one entry per class.

    Each entry has the class id as value, its colour and its label; nodata
    (255) has no entry and stays transparent. Resampling is nearest, so
    zooming never blends class colours.
    """
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    provider = ET.SubElement(pipe, "provider")
    ET.SubElement(
        provider,
        "resampling",
        enabled="false",
        maxOversampling="2",
        zoomedInResamplingMethod="nearestNeighbour",
        zoomedOutResamplingMethod="nearestNeighbour",
    )
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        type="paletted",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
    )
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated")):
        ET.SubElement(origin, tag).text = text
    palette = ET.SubElement(renderer, "colorPalette")
    for c in _shown(scheme):
        ET.SubElement(
            palette, "paletteEntry", value=str(c.id), color=c.color, alpha="255", label=c.title
        )
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(
        pipe, "huesaturation", saturation="0", grayscaleMode="0", colorizeOn="0", invertColors="0"
    )
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    return _xml(root, _DOCTYPE)


#: what high index values show -> colours at the low end, at 0 and at the high end
_RAMPS = {
    "vegetation": ("#a6611a", "#f7f7f7", "#1a9641"),  # brown, pale, green
    "water": ("#a6611a", "#f7f7f7", "#2166ac"),  # brown, pale, blue
    "built": ("#1a9641", "#f7f7f7", "#b2182b"),  # green, pale, red
    "soil": ("#1a9641", "#f7f7f7", "#a6611a"),  # green, pale, brown
}


def ramp(high: str) -> tuple[str, str, str]:
    """The colours at the low end, at 0 and at the high end of an index whose high values
    show ``high`` (:attr:`~landmask.spectral.indices.SpectralIndex.high`).

    ``vegetation`` runs from brown to green, ``water`` from brown to blue,
    ``built`` from green to red, ``soil`` from green to brown; anything else
    gets the vegetation ramp. Maps (:func:`landmask.spectral.indices.index_ramp`)
    and QGIS styles (:func:`index_qml`) both use it.
    """
    return _RAMPS.get(high, _RAMPS["vegetation"])


def _pseudocolor(
    band: int, stops: list[tuple[float, str, str]], *, interpolated: bool = True
) -> ET.Element:
    """A QGIS style drawing ``band`` through a colour ramp: ``(value, colour, label)`` stops."""
    low, high = stops[0][0], stops[-1][0]
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        type="singlebandpseudocolor",
        band=str(band),
        opacity="1",
        alphaBand="-1",
        classificationMin=repr(low),
        classificationMax=repr(high),
        nodataColor="",
    )
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated")):
        ET.SubElement(origin, tag).text = text
    shader = ET.SubElement(renderer, "rastershader")
    ramp = ET.SubElement(
        shader,
        "colorrampshader",
        colorRampType="INTERPOLATED" if interpolated else "DISCRETE",
        classificationMode="1",
        clip="0",
        minimumValue=repr(low),
        maximumValue=repr(high),
        labelPrecision="2",
    )
    for value, colour, label in stops:
        ET.SubElement(ramp, "item", alpha="255", value=repr(value), label=label, color=colour)
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(
        pipe, "huesaturation", saturation="0", grayscaleMode="0", colorizeOn="0", invertColors="0"
    )
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    return root


def index_qml(names: list[str], band: int = 1, *, high: str = "vegetation") -> str:
    """A QGIS style for an indices raster: band ``band`` through its index's ramp, -1 to 1.

    ``high`` is what the band's high values show (the ramp, :func:`ramp`).
    Without it QGIS draws two or three index bands as an RGB composite.
    """
    name = names[band - 1]
    low, mid, high_colour = ramp(high)
    stops = [(-1.0, low, f"{name} -1"), (0.0, mid, "0"), (1.0, high_colour, f"{name} 1")]
    return _xml(_pseudocolor(band, stops), _DOCTYPE)


def probability_qml(name: str, colour: str, band: int = 1) -> str:
    """A QGIS style for probabilities: band ``band`` (class ``name``), white (0) to ``colour`` (1).

    Values are read scaled (``value / 254``), as GDAL declares them.
    """
    stops = [(0.0, "#ffffff", f"{name} 0"), (1.0, colour, f"{name} 1")]
    return _xml(_pseudocolor(band, stops), _DOCTYPE)


def _fill_symbol(parent: ET.Element, name: str, c: LandClass) -> None:
    r, g, b = _rgb(c)
    symbol = ET.SubElement(
        parent, "symbol", type="fill", name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    layer = ET.SubElement(
        symbol, "layer", {"class": "SimpleFill", "enabled": "1", "pass": "0", "locked": "0"}
    )
    props = {
        "color": f"{r},{g},{b},255",
        "outline_color": "35,35,35,255",
        "outline_style": "solid",
        "outline_width": "0.1",
        "outline_width_unit": "MM",
        "style": "solid",
        "joinstyle": "bevel",
    }
    options = ET.SubElement(layer, "Option", type="Map")
    for key, value in props.items():  # QGIS >= 3.26 reads these
        ET.SubElement(options, "Option", type="QString", name=key, value=value)
    for key, value in props.items():  # older QGIS 3 reads these
        ET.SubElement(layer, "prop", k=key, v=value)


def vector_qml(scheme: ClassScheme, field: str = "class_name") -> str:
    """A QGIS style for polygons: a categorized renderer on ``field``.

    ``field`` is ``class_name`` (categories are the class names, labelled
    with the class labels) or ``class_id``.
    """
    if field not in ("class_name", "class_id"):
        raise ValueError(f"field must be class_name or class_id, not {field!r}")
    classes = _shown(scheme)
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        type="categorizedSymbol",
        attr=field,
        symbollevels="0",
        forceraster="0",
        enableorderby="0",
        referencescale="-1",
    )
    categories = ET.SubElement(renderer, "categories")
    for k, c in enumerate(classes):
        value = c.name if field == "class_name" else str(c.id)
        ET.SubElement(
            categories, "category", value=value, label=c.title, symbol=str(k), render="true"
        )
    symbols = ET.SubElement(renderer, "symbols")
    for k, c in enumerate(classes):
        _fill_symbol(symbols, str(k), c)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerGeometryType").text = "2"  # polygons
    return _xml(root, _DOCTYPE)


_SLD = "http://www.opengis.net/sld"
_OGC = "http://www.opengis.net/ogc"
_SE = "http://www.opengis.net/se"


def vector_sld(scheme: ClassScheme, layer: str, field: str = "class_name") -> str:
    """An OGC SLD 1.1 style for polygons: one rule per class on ``field``."""
    ET.register_namespace("", _SLD)
    ET.register_namespace("ogc", _OGC)
    ET.register_namespace("se", _SE)
    root = ET.Element(f"{{{_SLD}}}StyledLayerDescriptor", version="1.1.0")
    named = ET.SubElement(root, f"{{{_SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{_SE}}}Name").text = layer
    user = ET.SubElement(named, f"{{{_SLD}}}UserStyle")
    ET.SubElement(user, f"{{{_SE}}}Name").text = scheme.name
    fts = ET.SubElement(user, f"{{{_SE}}}FeatureTypeStyle")
    for c in _shown(scheme):
        rule = ET.SubElement(fts, f"{{{_SE}}}Rule")
        ET.SubElement(rule, f"{{{_SE}}}Name").text = c.title
        flt = ET.SubElement(rule, f"{{{_OGC}}}Filter")
        eq = ET.SubElement(flt, f"{{{_OGC}}}PropertyIsEqualTo")
        ET.SubElement(eq, f"{{{_OGC}}}PropertyName").text = field
        value = c.name if field == "class_name" else str(c.id)
        ET.SubElement(eq, f"{{{_OGC}}}Literal").text = value
        sym = ET.SubElement(rule, f"{{{_SE}}}PolygonSymbolizer")
        fill = ET.SubElement(sym, f"{{{_SE}}}Fill")
        ET.SubElement(fill, f"{{{_SE}}}SvgParameter", name="fill").text = c.color
        stroke = ET.SubElement(sym, f"{{{_SE}}}Stroke")
        ET.SubElement(stroke, f"{{{_SE}}}SvgParameter", name="stroke").text = "#232323"
        ET.SubElement(stroke, f"{{{_SE}}}SvgParameter", name="stroke-width").text = "0.5"
    return _xml(root)


def _rat(scheme: ClassScheme) -> ET.Element:
    """The thematic ``GDALRasterAttributeTable`` element of ``scheme`` (see :func:`rat_xml`)."""
    rat = ET.Element("GDALRasterAttributeTable", tableType="thematic")
    fields = [
        ("Value", _GFT_INTEGER, _GFU_MINMAX),
        ("Class", _GFT_STRING, _GFU_NAME),
        ("Label", _GFT_STRING, _GFU_GENERIC),
        ("Red", _GFT_INTEGER, _GFU_RED),
        ("Green", _GFT_INTEGER, _GFU_GREEN),
        ("Blue", _GFT_INTEGER, _GFU_BLUE),
        ("Alpha", _GFT_INTEGER, _GFU_ALPHA),
    ]
    for k, (name, kind, usage) in enumerate(fields):
        defn = ET.SubElement(rat, "FieldDefn", index=str(k))
        ET.SubElement(defn, "Name").text = name
        ET.SubElement(defn, "Type").text = str(kind)
        ET.SubElement(defn, "Usage").text = str(usage)
    for k, c in enumerate(_shown(scheme)):
        row = ET.SubElement(rat, "Row", index=str(k))
        for text in (str(c.id), c.name, c.title, *map(str, c.rgba)):
            ET.SubElement(row, "F").text = text
    return rat


def rat_xml(scheme: ClassScheme) -> str:
    """A GDAL raster attribute table of ``scheme``: a ``GDALRasterAttributeTable`` element.

    Thematic, one row per class but nodata, with the fields ``Value`` (class
    id), ``Class`` (name), ``Label`` and ``Red``, ``Green``, ``Blue``,
    ``Alpha``. The same table goes into the ``.aux.xml`` (:func:`rat_aux_xml`)
    and inside the GeoTIFF (:func:`landmask.io.write.gdal_metadata.embed_rat`).
    """
    return _xml(_rat(scheme))


def rat_aux_xml(scheme: ClassScheme) -> str:
    """A GDAL PAM sidecar (``.aux.xml``) for band 1: category names and a raster attribute table.

    The attribute table is :func:`rat_xml`. Category names list a name for
    every value from 0 to the largest class id (empty where the scheme has no
    class): QGIS takes them for the labels of a paletted layer, and no GDAL
    keeps them inside a GeoTIFF.
    """
    root = ET.Element("PAMDataset")
    band = ET.SubElement(root, "PAMRasterBand", band="1")
    names = ET.SubElement(band, "CategoryNames")
    by_id = {c.id: c.name for c in _shown(scheme)}
    for value in range(max(by_id, default=-1) + 1):
        ET.SubElement(names, "Category").text = by_id.get(value, "")
    band.append(_rat(scheme))
    return _xml(root)


def _write_text(path: Path, text: str, output: str | os.PathLike[str]) -> Path:

    with atomic_path(path, overwrite=True) as tmp:  # a raster's own sidecar
        tmp.write_text(mark(text, role_of(path), output), encoding="utf-8")
    return path


def style_mask_file(path: str | os.PathLike[str], scheme: ClassScheme) -> list[Path]:
    """Write the QGIS style and the GDAL attribute table beside a mask GeoTIFF.

    ``mask.tif`` gets ``mask.qml`` and ``mask.tif.aux.xml``, replacing any
    earlier ones. Call it once the mask itself is in place.

    Returns
    -------
    list of Path
        The files written.
    """
    return [_write_text(side, text, path) for side, text in mask_sidecars(path, scheme).items()]


def mask_sidecars(path: str | os.PathLike[str], scheme: ClassScheme) -> dict[Path, str]:
    """The QGIS style and GDAL attribute table of a mask GeoTIFF: path -> text.

    Named as companions of ``path`` (:mod:`landmask.io.companions`);
    :func:`landmask.io.outputs.attach_sidecars` publishes them with the mask,
    marked as its own.
    """
    out = Path(path)
    return {
        style_path(out): raster_qml(scheme),
        aux_path(out): rat_aux_xml(scheme),
    }


def gpkg_add_style(
    gpkg: str | os.PathLike[str],
    layer: str,
    scheme: ClassScheme,
    *,
    field: str = "class_name",
    style_name: str | None = None,
) -> None:
    """Store the polygon style of ``scheme`` in a GeoPackage's ``layer_styles`` table.

    Creates the table as QGIS does when it is missing (and registers it in
    ``gpkg_contents`` as an attributes table), replaces an earlier row of the
    same layer and style name, and marks the row as the layer's default style,
    which QGIS loads when it opens the layer.
    """
    qml = vector_qml(scheme, field)
    sld = vector_sld(scheme, layer, field)
    name = style_name or f"landmask {scheme.name}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    con = sqlite3.connect(os.fspath(gpkg))
    try:
        with con:
            row = con.execute(
                "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
            ).fetchone()
            geometry = row[0] if row else "geom"
            con.execute(
                "CREATE TABLE IF NOT EXISTS layer_styles ("
                "id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), "
                "f_table_schema TEXT(256), f_table_name TEXT(256), "
                "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, "
                "styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), "
                "ui TEXT(30), update_time DATETIME DEFAULT "
                "(strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
            )
            con.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
                "description, last_change) VALUES ('layer_styles', 'attributes', "
                "'layer_styles', 'QGIS layer styles', ?)",
                (now,),
            )
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
            con.execute(
                "DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?", (layer, name)
            )
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL, ?)",
                (
                    layer,
                    geometry,
                    name,
                    qml,
                    sld,
                    f"{scheme.name} classes: " + ", ".join(c.title for c in _shown(scheme)),
                    now,
                ),
            )
    finally:
        con.close()


def style_vector_file(
    path: str | os.PathLike[str], scheme: ClassScheme, *, field: str = "class_name"
) -> list[Path]:
    """Write the QGIS style beside a polygon file (``polygons.fgb`` -> ``polygons.qml``).

    A GeoPackage carries its style in ``layer_styles`` (:func:`gpkg_add_style`)
    and gets no ``.qml``.

    Returns
    -------
    list of Path
        The files written.
    """
    files = vector_sidecars(path, scheme, field=field)
    return [_write_text(side, text, path) for side, text in files.items()]


def vector_sidecars(
    path: str | os.PathLike[str], scheme: ClassScheme, *, field: str = "class_name"
) -> dict[Path, str]:
    """The QGIS style of a polygon file, path -> text; none for a GeoPackage.

    A GeoPackage holds its style in its ``layer_styles`` table
    (:func:`gpkg_add_style`), so ``mask.tif`` and ``mask.gpkg`` side by side
    never contend for ``mask.qml``. :func:`landmask.io.outputs.attach_sidecars`
    publishes it with the polygons.
    """
    out = Path(path)
    if out.suffix.lower() == ".gpkg":
        return {}
    return {style_path(out): vector_qml(scheme, field)}
