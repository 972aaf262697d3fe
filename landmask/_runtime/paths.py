"""Paths as Dask workers must see them: absolute, whatever their working directory.

A worker of a real cluster (``dask worker`` started elsewhere) resolves a
relative path against its own working directory, not the client's, so every
path that goes into a task — scene bands, STAC assets, masks, label rasters,
model files, outputs — is made absolute once, where the object carrying it is
made (:class:`landmask.io.read._bands.BandSource`, the mask and label readers, the
ONNX model, :func:`landmask.io.outputs.check_output`).
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

__all__ = ["worker_path"]


def worker_path(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute; GDAL virtual paths (``/vsi…``) and URLs are left as they are."""
    text = os.fspath(path)
    if text.startswith("/vsi") or len(urlparse(text).scheme) > 1:  # not a drive letter
        return text
    return os.path.abspath(text)
