"""Inputs opened safely, in one place: every file a command reads comes through here first.

* :func:`check_input` / :func:`check_inputs`: before anything opens a file,
  a FIFO, a device (also through a symlink: ``/dev/zero``), a socket or
  another non-regular file is refused (reading one blocks forever or never
  ends), and so is a name GDAL cannot be given (not UTF-8).
* :func:`open_raster`: a raster's header, refused when it declares far more
  pixels than its file could hold (:func:`landmask._runtime.resources.check_declared_size`),
  before any sieve or read; GDAL's own warnings about such a header are not
  printed (the one line says it).
* :func:`read_vector`: a vector file's layer of features, as one
  :class:`~landmask.errors.ReadError` line when it cannot be read.
* :func:`read_text`: a text input (a workflow, a rules file, a STAC
  document): size-capped, UTF-8, no NUL byte.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landmask._runtime.resources import check_declared_size
from landmask.errors import InputError, ReadError

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio.io

__all__ = [
    "MAX_TEXT",
    "check_input",
    "check_inputs",
    "data_layer",
    "open_raster",
    "quiet_gdal",
    "read_text",
    "read_vector",
]

#: the largest text input read (workflows, rules files, STAC documents), bytes
MAX_TEXT = 16 << 20


def _local(path: str) -> bool:
    return not path.startswith("/vsi") and "://" not in path


def check_input(path: str | os.PathLike[str], *, folders: bool = True) -> str:
    """Refuse a local input that is not a regular file, or whose name GDAL cannot take.

    Missing files are left to the reader, which names them; folders are
    accepted with ``folders`` (a Zarr store, a SAFE folder). Returns the path
    as text.

    Raises
    ------
    ReadError
        One line naming the file: a FIFO, device, socket (also through a
        symlink), a folder where a file is needed, a name that is not UTF-8.
    """
    p = os.fspath(path)
    if not _local(p):
        return p
    try:
        os.fsencode(p).decode("utf-8")
    except UnicodeDecodeError:
        raise ReadError(
            f"{p!r}: the file name is not UTF-8, which GDAL cannot open; rename the file"
        ) from None
    try:
        mode = os.stat(p).st_mode
    except OSError:
        return p
    if stat.S_ISDIR(mode) and not folders:
        raise ReadError(f"{p}: is a folder; give a file")
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ReadError(f"{p}: not a regular file (a FIFO, device or socket); give a file")
    return p


def check_inputs(paths: Sequence[str | os.PathLike[str]]) -> None:
    """:func:`check_input` on each path."""
    for p in paths:
        check_input(p)


@contextlib.contextmanager
def quiet_gdal() -> Iterator[None]:
    """GDAL's warnings and errors not printed (landmask says what went wrong in one line)."""
    logger = logging.getLogger("rasterio")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def open_raster(path: str | os.PathLike[str], what: str = "a raster") -> Iterator[Any]:
    """A raster opened for its header: checked (:func:`check_input`, plausible size) first.

    Raises
    ------
    ReadError
        One line naming the file: not a regular file, no such file, an
        implausible header, not readable as ``what``.
    """
    import rasterio
    from rasterio.errors import RasterioError

    p = check_input(path, folders=False)
    with quiet_gdal():
        check_declared_size([p])
        try:
            ds: rasterio.io.DatasetReader = rasterio.open(p)
        except RasterioError:
            if _local(p) and not Path(p).exists():
                raise ReadError(f"{p}: no such file") from None
            raise ReadError(f"{p}: cannot open as {what}") from None
    with ds:
        yield ds


def read_vector(
    path: str | os.PathLike[str], layer: str | None, option: str, what: str = "vector data"
) -> gpd.GeoDataFrame:
    """The features of ``path``'s data layer (``layer``, else its only one; ``option`` names it).

    Raises
    ------
    ReadError, InputError
        One line naming the file: not a regular file, missing, unreadable,
        several layers and no ``layer``. GeoParquet (``.parquet``) is read with
        pyarrow, whatever the GDAL build.
    """
    import geopandas as gpd

    p = check_input(path, folders=False)
    with quiet_gdal():
        try:
            if p.lower().endswith(".parquet"):  # GeoParquet, as landmask writes it
                return gpd.read_parquet(p)
            return gpd.read_file(p, layer=data_layer(p, layer, option))
        except InputError:
            raise
        except Exception as exc:  # pyogrio raises its own DataSourceError types
            if not Path(p).exists():
                raise ReadError(f"{p}: no such file") from None
            raise ReadError(f"{p}: cannot read as {what} ({type(exc).__name__})") from None


def data_layer(path: str | os.PathLike[str], layer: str | None, option: str) -> str | None:
    """The layer of features to read from ``path``: ``layer`` if given, else the only one.

    Tables without geometry (a GeoPackage's ``layer_styles``) are not
    candidates. Raises :class:`InputError` naming ``option`` for a missing
    layer, or for several layers of features and no ``layer``. Returns None
    for a file pyogrio cannot list, which its reader then reports.
    """
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception:  # unreadable files get their own error from the reader
        return layer
    names = [str(name) for name, _ in layers]
    spatial = [str(name) for name, kind in layers if kind is not None]
    if layer is not None:
        if layer not in names:
            raise InputError(f"{path}: no layer {layer!r} ({option}; layers: {', '.join(names)})")
        return layer
    if len(spatial) > 1:
        raise InputError(f"{path}: layers {', '.join(spatial)}: pass {option} to choose one")
    return spatial[0] if spatial else None


def read_text(path: str | os.PathLike[str], what: str, error: type[InputError] = ReadError) -> str:
    """The text of a small input file (a workflow, a rules file, a STAC document).

    Raises
    ------
    InputError
        ``error``, one line naming the file and ``what`` it should be: not a
        regular file, missing, larger than :data:`MAX_TEXT`, not UTF-8, holding
        a NUL byte.
    """
    try:
        p = check_input(path, folders=False)
    except ReadError as exc:
        raise error(str(exc)) from None
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_TEXT + 1)
    except FileNotFoundError:
        raise error(f"{p}: no such {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_TEXT:
        raise error(f"{p}: larger than {MAX_TEXT >> 20} MB; not a {what}")
    if b"\0" in data:
        raise error(f"{p}: holds a NUL byte; not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not UTF-8 text (byte {exc.start}); not a {what}") from None
