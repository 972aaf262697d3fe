"""The class scheme a mask records: in its file's metadata, or in an array's attributes.

The one place a mask's scheme is decided (:func:`resolve_scheme`): what the
caller names wins, else what the mask records, else a default. Reading a
file's record opens its header only (tags and colour table); the values the
records hold are read by :mod:`landmask.classes` (:func:`~landmask.classes.scheme_in_tags`,
:func:`~landmask.classes.scheme_in_attrs`), which holds no I/O.
"""

from __future__ import annotations

import os
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from landmask.classes import (
    LANDCOVER,
    ClassScheme,
    get_scheme,
    scheme_in_attrs,
    scheme_in_tags,
)

__all__ = ["recorded_scheme", "resolve_scheme", "scheme_of"]


def recorded_scheme(mask: str | os.PathLike[str] | Any) -> ClassScheme | None:
    """The class scheme a mask file (path) or mask array records; None if it records none.

    A file records its scheme in the metadata :func:`landmask.write_mask`
    writes (see :func:`~landmask.classes.scheme_from_tags`; only the header is
    read); an array or polygon frame in its attributes
    (:func:`~landmask.classes.scheme_in_attrs`). A numpy array, None or an
    unreadable file record none (reading the mask itself reports the problem).
    """
    if mask is None:
        return None
    if isinstance(mask, str | os.PathLike):
        try:
            with rasterio.open(mask) as ds:
                tags = ds.tags()
                try:
                    colormap: dict[int, tuple[int, ...]] | None = ds.colormap(1)
                except ValueError:  # no colour table
                    colormap = None
        except RasterioError:
            return None
        return scheme_in_tags(tags, colormap)
    return scheme_in_attrs(getattr(mask, "attrs", None))


def scheme_of(mask: str | os.PathLike[str] | Any) -> ClassScheme:
    """The class scheme of a mask file (path) or of a mask DataArray opened from one.

    :func:`recorded_scheme`, ``landcover`` when the mask records none.
    """
    return recorded_scheme(mask) or LANDCOVER


def resolve_scheme(
    given: ClassScheme | str | None,
    source: str | os.PathLike[str] | Any = None,
    *,
    default: ClassScheme = LANDCOVER,
) -> ClassScheme:
    """The class scheme to use for a mask: the one place this is decided.

    Parameters
    ----------
    given
        A scheme or the name of a built-in one (:func:`~landmask.classes.get_scheme`),
        which wins; None means the scheme ``source`` records.
    source
        The mask: a file path, a DataArray or polygon frame (its attributes) or None.
    default
        The scheme when nothing is given and ``source`` records none.

    Raises
    ------
    ConfigError
        If ``given`` names no known scheme.
    """
    if given is not None:
        return get_scheme(given)
    return recorded_scheme(source) or default
