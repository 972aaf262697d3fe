"""STAC items beside outputs: what each raster and vector file is, read from the file itself.

Every raster and vector file landmask writes gets an item beside it
(``mask.tif.stac.json`` next to ``mask.tif``: the naming rule of every
companion is :mod:`landmask.io.companions`) once it has landed, made with pystac:

* one ``data`` asset (the file, by relative href) with ``file:size`` and
  ``file:checksum`` (sha2-256 multihash) of the bytes on disk;
* rasters: ``proj:code`` (or ``proj:wkt2``), ``proj:shape``,
  ``proj:transform`` and ``proj:bbox`` on the item, ``raster:bands`` (data
  type, nodata, spatial resolution, scale) on the asset;
  vectors: ``proj:code``/``proj:wkt2`` and ``proj:bbox``;
* class-id outputs (masks, polygons): ``classification:classes`` (extension
  v2) on the asset, every class of the scheme with its colour, cloud and
  nodata marked ``nodata: true``;
* lineage: ``processing:software`` (landmask's version), ``landmask:rules``
  or ``landmask:model``, ``landmask:inputs`` (input paths, STAC item ids) and
  a ``derived_from`` link to each input STAC item;
* what the input's values were: ``landmask:radiometry`` (``surface_reflectance``,
  ``toa_reflectance`` or ``dn``) and ``landmask:radiometry_basis`` (why), as
  :mod:`landmask.io.read.radiometry` decided;
* the scene-wide statistics the rules were bound to: ``landmask:statistics``,
  e.g. ``{"otsu(ndvi)": 0.41, "percentile(red, 1)": 0.03}`` (null for one with
  no valid pixel; :mod:`landmask.spectral.thresholds`);
* the WGS84 ``bbox`` and footprint ``geometry`` (the file's extent, edges
  densified before reprojection); both null for a grid without a CRS.

Items are written like outputs (:mod:`landmask.io.outputs`): planned with the
output before any work (:func:`~landmask.io.outputs.plan_outputs`), refused
when present without ``overwrite`` or not landmask's, and published as a
companion of the output's own
temporary (:func:`attach_item`, the one hook of the raster and vector
writers), so an item never appears without its file nor outlives a failure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from landmask import __version__
from landmask.classes import CLOUD, NODATA, ClassScheme
from landmask.errors import OutputExistsError
from landmask.io.companions import Output, is_own, item_path
from landmask.io.outputs import atomic_path, attach_sidecars, folder_lock, plan_outputs
from landmask.io.sensors.provider import product_of_file
from landmask.io.sensors.times import iso_utc, item_times, parse_utc
from landmask.io.statistic_tags import thresholds_of

if TYPE_CHECKING:
    import pystac

# Imports: landmask's at the top; pystac is imported by the functions that build items (only STAC
# outputs need it).

__all__ = [
    "CATALOG_NAME",
    "Lineage",
    "attach_item",
    "build_item",
    "item_path",
    "write_catalog",
    "write_item",
]

#: The file name of the catalog ``landmask run`` writes in its output folder.
CATALOG_NAME = "catalog.json"

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"

#: file extension -> asset media type
MEDIA_TYPES = {
    ".tif": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".tiff": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".gpkg": "application/geopackage+sqlite3",
    ".parquet": "application/vnd.apache.parquet",
    ".fgb": "application/vnd.flatgeobuf",
    ".geojson": "application/geo+json",
}


@dataclass(frozen=True)
class Lineage:
    """Where an output came from: its inputs, the rules or model, input STAC items.

    ``inputs`` are paths (or STAC item ids), ``derived_from`` the paths or hrefs
    of input STAC item files (linked as ``derived_from``).
    """

    inputs: tuple[str, ...] = ()
    rules: str | None = None
    model: str | None = None
    derived_from: tuple[str, ...] = ()
    radiometry: str | None = None
    radiometry_basis: str | None = None
    #: scene-wide statistics of the rules, ``(("otsu(ndvi)", 0.41),)``; None: no valid pixel
    statistics: tuple[tuple[str, float | None], ...] = ()

    @classmethod
    def of(cls, attrs: Mapping[str, Any], *more: Mapping[str, Any]) -> Lineage:
        """The lineage an array records in its attributes (``sources``, ``rules``, ...).

        Attributes of ``more`` arrays are added (their inputs after the first's).
        """
        inputs: list[str] = []
        derived: list[str] = []
        for a in (attrs, *more):
            inputs += [str(s) for s in a.get("stac_ids", a.get("sources", ()))]
            derived += [str(s) for s in a.get("derived_from", ())]
        return cls(
            tuple(dict.fromkeys(inputs)),
            _str_or_none(attrs.get("rules")),
            _str_or_none(attrs.get("model")),
            tuple(dict.fromkeys(derived)),
            _str_or_none(attrs.get("radiometry")),
            _str_or_none(attrs.get("radiometry_basis")),
            _statistics(attrs),
        )


def _statistics(attrs: Mapping[str, Any]) -> tuple[tuple[str, float | None], ...]:
    return tuple(
        (name, value if math.isfinite(value) else None)
        for name, value in thresholds_of(attrs).items()
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def write_item(
    path: str | os.PathLike[str],
    lineage: Lineage = Lineage(),
    *,
    scheme: ClassScheme | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the STAC item of the finished output ``path`` beside it, atomically.

    Parameters
    ----------
    path
        A raster (``.tif``) or vector file landmask wrote.
    lineage
        Its inputs, rules or model.
    scheme
        The class scheme of its class ids (masks, polygons); None for other
        outputs (indices, probabilities, images).
    overwrite
        Replace an existing item landmask wrote for ``path`` (one it did not
        write is never replaced: :func:`landmask.io.outputs.plan_outputs`).

    Returns
    -------
    Path
        The item's path (:func:`~landmask.io.companions.item_path`).
    """
    out = item_path(path)
    plan_outputs({"the output": Output(Path(path), stac=True)}, overwrite=True)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: exists; pass overwrite=True to replace it")
    item = build_item(path, lineage, scheme=scheme)
    item.set_self_href(str(out.resolve()))
    with atomic_path(out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(item.to_dict(include_self_link=False), indent=1) + "\n")
    return out


def attach_item(
    tmp: Path,
    path: Path,
    lineage: Lineage,
    *,
    scheme: ClassScheme | None = None,
    sidecars: Iterable[Path] = (),
) -> None:
    """Publish the STAC item of ``path`` with it, made from ``tmp``, its finished temporary.

    The one hook of every writer: called inside :func:`~landmask.io.outputs.atomic_path`
    once ``tmp`` is complete, so the item (checksum, size, extent of the bytes
    about to land) appears right after the output, is removed with it if
    publishing fails, and never replaces a file landmask did not write for ``path``.
    ``sidecars``: the files published with it (styles, attribute tables),
    listed as assets.
    """
    item = build_item(path, lineage, scheme=scheme, source=tmp, sidecars=sidecars)
    out = item_path(path)
    item.set_self_href(str(out.resolve()))
    text = json.dumps(item.to_dict(include_self_link=False), indent=1) + "\n"
    attach_sidecars(tmp, {out: text})


def build_item(
    path: str | os.PathLike[str],
    lineage: Lineage = Lineage(),
    *,
    scheme: ClassScheme | None = None,
    source: str | os.PathLike[str] | None = None,
    sidecars: Iterable[str | os.PathLike[str]] = (),
) -> pystac.Item:
    """The STAC item of ``path`` (see the module docstring), from the file itself.

    ``source``: the file to read instead (``path``'s finished temporary);
    ``sidecars``: files published with it, listed as ``metadata`` assets.
    """
    import pystac
    from pystac.extensions.file import FileExtension
    from pystac.extensions.projection import ProjectionExtension

    file = Path(path)
    src = Path(source) if source is not None else file
    checksum = _start_sha256(src)  # hashed while the rest of the item is read and built
    raster = file.suffix.lower() in (".tif", ".tiff")
    extent = _raster_extent(src) if raster else _vector_extent(src, file.stem)
    crs, bounds = extent["crs"], extent["bounds"]
    geometry, bbox = _footprint(crs, bounds)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    properties: dict[str, Any] = {
        "created": iso_utc(now),
        "processing:software": {"landmask": __version__},
        "landmask:inputs": list(lineage.inputs),
    }
    times = acquisition_times(lineage, beside=file)
    if len(times) > 1:
        properties["start_datetime"] = iso_utc(times[0])
        properties["end_datetime"] = iso_utc(times[-1])
    kind = output_kind(extent, scheme, raster)
    for key in ("rules", "model", "radiometry", "radiometry_basis"):
        if getattr(lineage, key) is not None:
            properties[f"landmask:{key}"] = getattr(lineage, key)
    if lineage.statistics:
        properties["landmask:statistics"] = dict(lineage.statistics)
    item = pystac.Item(
        id=item_id(file, kind),
        geometry=geometry,
        bbox=bbox,
        datetime=times[0] if len(times) == 1 else None if times else now,
        properties=properties,
        stac_extensions=[PROCESSING_SCHEMA],
    )
    asset = pystac.Asset(
        href=f"./{file.name}",
        media_type=MEDIA_TYPES.get(file.suffix.lower()),
        roles=["data"],
        title=file.name,
    )
    item.add_asset("data", asset)
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    if crs is not None:
        epsg = crs.to_epsg()
        if epsg is not None and type(crs).from_epsg(epsg) == crs:
            proj.code = f"EPSG:{epsg}"
        else:
            proj.code = None
            proj.wkt2 = crs.to_wkt(version="WKT2_2019")
    else:
        proj.code = None
    proj.bbox = [float(v) for v in bounds] if bounds is not None else None
    if raster:
        proj.shape = list(extent["shape"])
        proj.transform = [float(v) for v in list(extent["transform"])[:6]]
        _raster_bands(asset, extent)
        _band_names(asset, extent)
    if scheme is not None:
        _classes(asset, scheme, extent.get("colormap"))
    for side in sidecars:
        _sidecar_asset(item, Path(side))
    for href in lineage.derived_from:
        item.add_link(pystac.Link("derived_from", _relative(href, file), pystac.MediaType.JSON))
    ext = FileExtension.ext(asset, add_if_missing=True)
    ext.size = src.stat().st_size
    ext.checksum = "1220" + checksum.result()
    return item


def output_kind(extent: Mapping[str, Any], scheme: ClassScheme | None, raster: bool) -> str:
    """What an output is, for its item id: ``mask``, ``change``, ``probabilities``,
    ``indices``, ``rgb``, ``image`` (rasters); ``polygons``, ``table`` (vectors)."""
    if not raster:
        return "polygons" if scheme is not None else "table"
    tags = extent.get("tags", {})
    if scheme is not None:
        return "change" if scheme.base is not None else "mask"
    if "PROBABILITY_SCALE" in tags:
        return "probabilities"
    if any(key.startswith("INDEX_") for key in tags):
        return "indices"
    if "CLASS_SCHEME" in tags:
        return "rgb"
    return "image"


def item_id(path: str | os.PathLike[str], kind: str) -> str:
    """The id of an output's item: its stem and kind, and a vector's format
    (``scene-mask``, ``scene-polygons-gpkg``, ``scene-probabilities``), so the
    items of one run's folder never share an id."""
    file = Path(path)
    ext = file.suffix.lower().lstrip(".")
    return f"{file.stem}-{kind}" + ("" if ext in ("tif", "tiff") else f"-{ext}")


def acquisition_times(lineage: Lineage, *, beside: Path | None = None) -> list[dt.datetime]:
    """When the inputs of an output were acquired, sorted, without repeats.

    From the ``datetime`` (or ``start_datetime``/``end_datetime``) of each
    input STAC item (``derived_from``) and of the item beside each input file
    (a mask landmask wrote: so polygons, change maps and zonal tables keep
    the scene's dates), else from the provider's names and metadata of the
    input file (:attr:`landmask.io.sensors.provider.Product.acquired`: Sentinel-2 and
    Landsat product names, ``*_MTL``, ``MTD_MSIL2A.xml``). Empty when none says.
    """

    found: set[dt.datetime] = set()
    for href in lineage.derived_from:
        if "://" not in href:
            found.update(_item_times(Path(href)))
    for source in lineage.inputs:
        path = Path(source)
        if not path.is_file() or (beside is not None and path.resolve() == beside.resolve()):
            continue
        times: list[dt.datetime | None] = list(_item_times(item_path(path)))
        if not times:
            product = product_of_file(str(path))
            acquired = product.acquired if product is not None else None
            times = [parse_utc(acquired)]
        found.update(t for t in times if t is not None)
    return sorted(found)


def _item_times(path: Path) -> list[dt.datetime]:
    """``datetime`` or ``start_datetime``/``end_datetime`` of the STAC item ``path``, if one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # not an item: no time from it
        return []
    if not isinstance(doc, dict) or doc.get("type") != "Feature" or "stac_version" not in doc:
        return []
    props = doc.get("properties")
    return item_times(props) if isinstance(props, Mapping) else []


#: sidecar suffix -> (asset key, media type, title)
_SIDECARS = {
    ".qml": ("qgis-style", "application/xml", "QGIS layer style"),
    ".aux.xml": ("gdal-aux", "application/xml", "GDAL attribute table and category names"),
    ".csvt": ("csv-types", "text/plain", "OGR column types of the CSV"),
}


def _sidecar_asset(item: pystac.Item, side: Path) -> None:
    import pystac

    suffix = ".aux.xml" if side.name.lower().endswith(".aux.xml") else side.suffix.lower()
    key, media, title = _SIDECARS.get(suffix, (side.name, None, side.name))
    item.add_asset(
        key,
        pystac.Asset(href=f"./{side.name}", media_type=media, roles=["metadata"], title=title),
    )


def _relative(href: str, beside: Path) -> str:
    """``href`` relative to the folder of ``beside`` when it is a local path."""
    if "://" in href:
        return href
    return os.path.relpath(Path(href).resolve(), beside.resolve().parent)


def _start_sha256(path: Path) -> Future[str]:
    """The SHA2-256 of a file's bytes (hex), computed in a thread of its own.

    The file has just been written, so it is read from the page cache;
    hashlib releases the GIL while it hashes, so the checksum costs the item
    no wall time beside its imports, footprint and metadata reads.
    """
    pool = ThreadPoolExecutor(1, thread_name_prefix="landmask-sha256")
    try:
        return pool.submit(_sha256, path)
    finally:
        pool.shutdown(wait=False)  # the thread ends once the hash is done


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _raster_extent(path: Path) -> dict[str, Any]:
    import rasterio

    with rasterio.open(path) as ds:
        georeferenced = ds.crs is not None
        return {
            "crs": ds.crs,
            "bounds": tuple(ds.bounds) if georeferenced else None,
            "shape": (ds.height, ds.width),
            "transform": ds.transform,
            "dtypes": ds.dtypes,
            "nodata": ds.nodatavals,
            "res": ds.res,
            "scales": ds.scales,
            "offsets": ds.offsets,
            "descriptions": ds.descriptions,
            "tags": ds.tags(),
            "colormap": _colormap(ds),
        }


def _colormap(ds: Any) -> dict[int, tuple[int, ...]] | None:
    """The colour table of band 1, or None."""
    try:
        return dict(ds.colormap(1))
    except ValueError:  # no colour table
        return None


def _vector_extent(path: Path, layer_name: str) -> dict[str, Any]:
    """CRS and bounds of a vector file (GeoParquet through pyarrow, else OGR)."""
    from pyproj import CRS

    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq
        import shapely

        pf = pq.ParquetFile(path)
        geo = json.loads(pf.schema_arrow.metadata[b"geo"])
        column = geo["primary_column"]
        meta = geo["columns"][column]
        crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
        if "crs" not in meta:  # GeoParquet: an absent crs means OGC:CRS84
            crs = CRS.from_epsg(4326)
        bounds = None
        for batch in pf.iter_batches(columns=[column]):
            geoms = shapely.from_wkb(batch.column(0).to_numpy(zero_copy_only=False))
            b = shapely.total_bounds(geoms)
            if not _finite(b):
                continue
            bounds = tuple(b) if bounds is None else _union(bounds, tuple(b))
        return {"crs": crs, "bounds": bounds}
    import pyogrio

    layer = layer_name if path.suffix.lower() == ".gpkg" else None  # not layer_styles
    info = pyogrio.read_info(path, layer=layer, force_total_bounds=True)
    crs = CRS.from_user_input(info["crs"]) if info["crs"] else None
    total = info.get("total_bounds")  # None for an empty layer
    bounds = tuple(float(v) for v in total) if total is not None else None
    return {"crs": crs, "bounds": bounds if bounds and _finite(bounds) else None}


def _finite(bounds: Sequence[float]) -> bool:

    return all(math.isfinite(v) for v in bounds)


def _union(a: Sequence[float], b: Sequence[float]) -> tuple[float, ...]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _footprint(crs: Any, bounds: Sequence[float] | None) -> tuple[Any, list[float] | None]:
    """WGS84 footprint (the extent, densified) and bbox; ``(None, None)`` without a CRS."""
    if crs is None or bounds is None:
        return None, None
    import shapely
    from pyproj import CRS, Transformer

    box = shapely.box(*bounds)
    width = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
    if width > 0:
        box = shapely.segmentize(box, width / 20)
    transformer = Transformer.from_crs(CRS.from_user_input(crs), "EPSG:4326", always_xy=True)
    footprint = shapely.transform(box, lambda xy: _forward(transformer, xy))
    return shapely.geometry.mapping(footprint), [float(v) for v in footprint.bounds]


def _forward(transformer: Any, xy: Any) -> Any:

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _raster_bands(asset: pystac.Asset, extent: Mapping[str, Any]) -> None:

    from pystac.extensions.raster import NoDataStrings, RasterBand, RasterExtension

    bands = []
    for dtype, nodata, scale, offset in zip(
        extent["dtypes"], extent["nodata"], extent["scales"], extent["offsets"], strict=True
    ):
        band = RasterBand.create(data_type=dtype, spatial_resolution=float(extent["res"][0]))
        if nodata is not None:
            band.nodata = NoDataStrings.NAN if math.isnan(nodata) else nodata
        if scale != 1.0:
            band.scale = scale
        if offset != 0.0:
            band.offset = offset
        bands.append(band)
    RasterExtension.ext(asset, add_if_missing=True).bands = bands


def class_name(name: str) -> str:
    """A class name as the classification extension allows (``^[0-9A-Za-z-_]+$``):
    ``other -> forest`` -> ``other-to-forest``; the text itself goes in ``description``."""

    slug = re.sub(r"[^0-9A-Za-z_-]+", "-", name.replace("->", " to ")).strip("-")
    return slug or "class"


def _classes(
    asset: pystac.Asset,
    scheme: ClassScheme,
    colormap: Mapping[int, Sequence[int]] | None = None,
) -> None:
    """``classification:classes``: every class, colours as the file's colour table has them."""
    from pystac.extensions.classification import Classification, ClassificationExtension

    def hint(value: int, colour: str | None) -> str | None:
        if colormap is not None:
            rgb = colormap.get(value)
            return None if rgb is None else "".join(f"{int(v):02X}" for v in rgb[:3])
        return colour.lstrip("#").upper() if colour else None

    classes = list(scheme)
    ids = {c.id for c in classes}
    extra = [(CLOUD, "cloud", "Cloud"), (NODATA, "nodata", "No data")]
    entries = [
        Classification.create(
            value=c.id,
            name=class_name(c.name),
            description=c.title,
            title=c.title,
            color_hint=hint(c.id, c.color),
            nodata=True if c.id in (CLOUD, NODATA) else None,
        )
        for c in classes
    ] + [
        Classification.create(
            value=v, name=n, description=d, title=d, color_hint=hint(v, None), nodata=True
        )
        for v, n, d in extra
        if v not in ids
    ]
    ClassificationExtension.ext(asset, add_if_missing=True).classes = entries


def _band_names(asset: pystac.Asset, extent: Mapping[str, Any]) -> None:
    """``eo:bands`` names of a multi-band raster (the classes of probabilities, the
    indices, an image's bands), from the band descriptions."""
    names = [d for d in extent.get("descriptions") or () if d]
    if len(names) != len(extent.get("descriptions") or ()) or len(names) < 2:
        return
    from pystac.extensions.eo import Band, EOExtension

    probabilities = "PROBABILITY_SCALE" in extent.get("tags", {})
    bands = [
        Band.create(name=n, description=f"probability of {n}" if probabilities else None)
        for n in names
    ]
    EOExtension.ext(asset, add_if_missing=True).bands = bands


def write_catalog(
    folder: str | os.PathLike[str],
    outputs: Iterable[str | os.PathLike[str]],
    *,
    title: str = "landmask run",
) -> Path:
    """Link the STAC items of ``outputs`` in ``folder``'s ``catalog.json``, merged, atomically.

    Under the lock of the folder that a run's manifest uses
    (:func:`~landmask.io.outputs.folder_lock`), the catalog is read again, its
    links to items that still exist kept and those of ``outputs`` added: two
    runs sharing a folder each add their items. Outputs without an item beside
    them are left out. Each item of ``outputs`` gets ``root`` and ``parent``
    links to the catalog (relative, so the folder can move).

    Raises
    ------
    OutputExistsError
        ``catalog.json`` exists and is not a catalog landmask wrote.
    """
    import pystac

    outputs = list(outputs)
    out = Path(folder) / CATALOG_NAME
    with folder_lock(Path(folder)):
        plan_outputs({"the run's catalog": out}, overwrite=True)
        links: dict[str, None] = {}
        if out.exists():
            if not is_own(out, "catalog", out):
                raise OutputExistsError(
                    f"{out}: exists and was not written by landmask; move it away"
                )
            old = json.loads(out.read_text(encoding="utf-8"))
            for link in old.get("links", []):
                if link.get("rel") == "item" and (out.parent / link.get("href", "")).is_file():
                    links[str(link["href"])] = None
        for path in outputs:
            item = item_path(path)
            if item.is_file():
                links[_relative(str(item), out)] = None
        catalog = pystac.Catalog(id=Path(folder).resolve().name or "landmask", description=title)
        catalog.set_self_href(str(out.resolve()))
        for rel in links:
            catalog.add_link(pystac.Link("item", rel, pystac.MediaType.JSON))
        doc = catalog.to_dict(include_self_link=False)
        for link in doc["links"]:
            if link["rel"] == "root":  # the catalog itself: relative, so the folder can move
                link["href"] = f"./{out.name}"
        with atomic_path(out, overwrite=True) as tmp:
            tmp.write_text(json.dumps(doc, indent=1) + "\n")
        for path in outputs:
            item = item_path(path)
            if item.is_file():
                _link_to_catalog(item, out)
    return out


def _link_to_catalog(item: Path, catalog: Path) -> None:
    """Give the item file ``item`` ``root`` and ``parent`` links to ``catalog``, atomically."""
    doc = json.loads(item.read_text(encoding="utf-8"))
    href = _relative(str(catalog), item)
    links = [link for link in doc.get("links", []) if link.get("rel") not in ("root", "parent")]
    for rel in ("root", "parent"):
        links.append({"rel": rel, "href": href, "type": "application/json"})
    if links == doc.get("links"):  # linked by an earlier run: left as it is
        return
    doc["links"] = links
    with atomic_path(item, overwrite=True) as tmp:  # the run's own item
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
