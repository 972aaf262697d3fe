"""The manifest of a workflow's output folder: what finished, with what, and its files.

``.landmask-manifest.json`` records each finished scene with the fingerprint of
its inputs and settings and the size and modification time of every output. A
rerun skips a scene only when the fingerprint is unchanged and every output is
still the file that scene wrote (same size and mtime, and it opens). Changes are
made under a lock of the folder, so runs sharing it keep each other's entries.

A region run also records there the region-wide statistics its rules were bound
to (:mod:`landmask.batch.region_statistics`), with the fingerprint of what they
were computed from: a resumed run binds the same values without computing them.
"""

from __future__ import annotations

import json
import logging
import math
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
        self.scenes: dict[str, dict[str, Any]] = {}
        self.recorded_statistics: dict[str, Any] | None = None
        self._read()

    def _read(self) -> None:
        """Read the scenes and the statistics from the file (none if it is missing)."""
        self.scenes, self.recorded_statistics = {}, None
        if not self.path.exists():
            return
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            self.scenes = dict(doc.get("scenes", {}))
            statistics = doc.get("statistics")
            self.recorded_statistics = dict(statistics) if statistics else None
        except (OSError, ValueError, AttributeError, TypeError):
            log.warning("%s: unreadable manifest, every scene will be redone", self.path)
            self.scenes, self.recorded_statistics = {}, None

    def statistics(self, fp: str) -> dict[str, float] | None:
        """The statistics recorded with fingerprint ``fp`` by label (NaN: no valid pixel),
        or None when none were, or from other inputs or settings."""
        entry = self.recorded_statistics
        if entry is None or entry.get("fingerprint") != fp:
            return None
        try:
            return {
                str(k): math.nan if v is None else float(v)
                for k, v in dict(entry["values"]).items()
            }
        except (KeyError, TypeError, ValueError):
            return None

    def record_statistics(self, fp: str, values: dict[str, float]) -> None:
        """Record the statistics computed with fingerprint ``fp`` (NaN is written as null)."""
        entry = {
            "fingerprint": fp,
            "values": {k: v if math.isfinite(v) else None for k, v in values.items()},
        }
        with self.lock, folder_lock(self.path.parent):
            self._read()
            self.recorded_statistics = entry
            self._save()

    def _save(self) -> None:
        doc: dict[str, Any] = {"version": 1, "scenes": self.scenes}
        if self.recorded_statistics is not None:
            doc["statistics"] = self.recorded_statistics
        with atomic_path(self.path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(doc, indent=1))

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
            self._read()
            if entry is None:
                if self.scenes.pop(stem, None) is None:
                    return
            else:
                self.scenes[stem] = entry
            self._save()
