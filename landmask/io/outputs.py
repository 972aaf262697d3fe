"""Output paths: checked before any work, written atomically.

Every command and run resolves its outputs here before it reads a pixel, and
writes each through a temporary name beside it that is renamed into place only
on success.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from landmask._runtime.paths import worker_path
from landmask.errors import ConfigError, OutputExistsError

__all__ = ["GEOTIFF", "PNG", "atomic_path", "check_output"]

#: (format name, the extensions a file of it may have)
GEOTIFF = ("GeoTIFF", (".tif", ".tiff"))
PNG = ("PNG", (".png",))


def check_output(
    path: str | os.PathLike[str],
    overwrite: bool,
    inputs: Sequence[str] = (),
    *,
    fmt: tuple[str, tuple[str, ...]] | None = None,
) -> Path:
    """Validate an output path before any work starts.

    Raises :class:`ConfigError` for a missing folder, an output that is one of
    the inputs or, with ``fmt`` (:data:`GEOTIFF`, :data:`PNG`), an extension
    that is not the format's (``-o mask.png`` for a GeoTIFF);
    :class:`OutputExistsError` for an existing file without ``overwrite``.
    Returns the path made absolute (:func:`landmask._runtime.paths.worker_path`).
    """
    out = Path(path)
    if fmt is not None and out.suffix.lower() not in fmt[1]:
        name, suffixes = fmt
        raise ConfigError(f"{out}: a {name} output must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: output folder {out.parent} does not exist")
    resolved = out.resolve()
    for p in inputs:
        if not str(p).startswith("/vsi") and Path(p).resolve() == resolved:
            raise ConfigError(f"{out}: output would overwrite an input")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: exists; pass --overwrite to replace it")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder")
    return Path(worker_path(out))  # written by workers of a cluster too


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the extension, which some drivers insist on.
    """
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
