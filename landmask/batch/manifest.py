"""The manifest of a workflow's output folder: what finished, with what, and its files.

``.landmask-manifest.json`` records each finished scene with the fingerprint of
its inputs and settings and the size and modification time of every output. A
rerun skips a scene only when the fingerprint is unchanged and every output is
still the file that scene wrote (same size and mtime, and it opens). Changes are
made under a lock of the folder, so runs sharing it keep each other's entries.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any

from landmask.io.outputs import atomic_path, folder_lock

__all__ = ["MANIFEST_NAME", "Manifest", "output_stamp"]

log = logging.getLogger(__name__)

#: File name of the manifest in a workflow's output folder.
MANIFEST_NAME = ".landmask-manifest.json"


def output_stamp(path: str | os.PathLike[str]) -> list[int] | None:
    """``[size, mtime_ns]`` of an output file, None if it is missing or not a file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns] if stat.S_ISREG(st.st_mode) else None


def _opens(path: str) -> bool:
    if not path.lower().endswith((".tif", ".tiff")):
        return True
    import rasterio

    try:
        with rasterio.open(path):
            return True
    except Exception:
        return False


class Manifest:
    """The finished scenes of an output folder, shared by every run writing there.

    Each change is made under an exclusive lock of the folder
    (:func:`landmask.io.outputs.folder_lock`): the manifest is read again, the
    one scene changed and the whole saved atomically, so two runs sharing a
    folder keep each other's entries.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.scenes: dict[str, dict[str, Any]] = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            return dict(doc.get("scenes", {}))
        except (OSError, ValueError, AttributeError):
            log.warning("%s: unreadable manifest, every scene will be redone", self.path)
            return {}

    def finished(self, stem: str, fp: str) -> dict[str, Any] | None:
        """The entry of a scene done before with these inputs and settings, if its
        outputs are still those it wrote: same size and modification time, and open."""
        entry = self.scenes.get(stem)
        if entry is None or entry.get("fingerprint") != fp:
            return None
        stamps = entry.get("stamps", {})
        for key, path in entry.get("outputs", {}).items():
            stamp = output_stamp(path)
            if stamp is None or stamp != stamps.get(key) or not _opens(path):
                return None
        return entry

    def record(self, stem: str, entry: dict[str, Any] | None) -> None:

        with self.lock, folder_lock(self.path.parent):
            self.scenes = self._read()
            if entry is None:
                if self.scenes.pop(stem, None) is None:
                    return
            else:
                self.scenes[stem] = entry
            with atomic_path(self.path, overwrite=True) as tmp:
                tmp.write_text(json.dumps({"version": 1, "scenes": self.scenes}, indent=1))
