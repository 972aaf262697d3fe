"""Output paths: checked before any work, written atomically, never replacing by surprise.

Every command and run resolves its outputs here before it reads a pixel
(:func:`plan_outputs`, :func:`check_output`): an output that is an input, two
outputs that are one file, an output outside the folder it must stay in, a
non-regular input (a FIFO would block forever) are refused with one line. Each
file is written through a temporary name beside it (:func:`temp_path`:
``.mask.tif.lmtmp-HOST-PID-XXXXXXXX.tif``) that is published only on success
(:func:`atomic_path`), without replacing a file that appeared meanwhile unless
``overwrite`` (a hard link, then the temporary unlinked). Temporaries of a
process that died (SIGKILL) are removed by the next command writing to that
folder (:func:`remove_stale`); those of a live process are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from landmask._runtime.paths import worker_path
from landmask._runtime.signals import check_stop
from landmask.errors import ConfigError, OutputExistsError, WriteError, option
from landmask.io.companions import ROLE_NAMES, Output, is_own, mark, role_of
from landmask.io.inputs import check_inputs

__all__ = [
    "GEOTIFF",
    "PNG",
    "atomic_path",
    "attach_sidecars",
    "check_inputs",
    "check_output",
    "discard_temp",
    "disk_full",
    "folder_lock",
    "plan_outputs",
    "publish",
    "remove_live",
    "remove_stale",
    "temp_path",
    "write_json",
]

#: (format name, the extensions a file of it may have), for check_output's ``fmt``
GEOTIFF = ("GeoTIFF", (".tif", ".tiff"))
PNG = ("PNG", (".png",))

#: the longest file name (bytes) the file systems landmask writes to take
NAME_MAX = 255
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"
#: every temporary's name: ``.{name}.lmtmp-{host}-{pid}-{8 hex}`` and any ending
_TEMP = re.compile(r"^\..+\.lmtmp-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]{8}")
_live: set[Path] = set()
_live_lock = threading.Lock()
_swept: set[Path] = set()
#: temporary -> the sidecar files (path -> text) published right after it
_sidecars: dict[Path, dict[Path, str]] = {}
#: what GDAL and OGR say when a disk is full
_FULL_MESSAGES = ("no space left on device", "free disk space available", "disk full")


def temp_path(path: Path, suffix: str | None = None) -> Path:
    """A temporary name beside ``path`` tagged with this host and process.

    It ends in ``suffix`` (default: ``path``'s extension, which some drivers
    insist on). Registered until removed or published, so that a signal's
    clean-up (:func:`remove_live`) finds it.
    """
    check_stop()
    end = path.suffix if suffix is None else suffix
    tag = f".lmtmp-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}{end}"
    tmp = path.with_name(f".{_fitted(path.name, NAME_MAX - len(tag) - _MARGIN)}{tag}")
    with _live_lock:
        _live.add(tmp)
    return tmp


#: bytes kept free in a temporary's name for what writers append (``.stage.gpkg``)
_MARGIN = 24


def _fitted(name: str, room: int) -> str:
    """``name`` cut to ``room`` bytes (1 + the output's name), a hash of it kept for uniqueness."""
    if len(os.fsencode(name)) + 1 <= room:
        return name
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    cut = name
    while len(os.fsencode(cut)) + 10 > room:
        cut = cut[:-1]
    return f"{cut}~{digest}"


def discard_temp(tmp: Path) -> None:
    """Remove a temporary of :func:`temp_path` (if it exists) and forget it."""
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    with _live_lock:
        _live.discard(tmp)
        _sidecars.pop(tmp, None)


def attach_sidecars(tmp: Path, files: Mapping[Path, str]) -> None:
    """Have :func:`atomic_path` publish companions (``.qml``, ``.aux.xml``, item) with ``tmp``.

    They are written right after the output lands; if one cannot be, the
    output and the companions already written are removed again, so a file
    never appears without its companions. Each is marked as landmask's
    companion of that output (:func:`~landmask.io.companions.mark`), and never replaces a file
    that is not landmask's own companion of that output
    (:func:`~landmask.io.companions.is_own`), even one that appeared meanwhile.
    """
    with _live_lock:
        _sidecars.setdefault(tmp, {}).update(files)


def _publish_sidecars(path: Path, files: Mapping[Path, str]) -> None:
    written: list[Path] = []
    try:
        for side, text in files.items():
            tmp = temp_path(side)
            try:
                tmp.write_text(mark(text, role_of(side), path), encoding="utf-8")
                try:
                    publish(tmp, side, overwrite=False)
                except OutputExistsError:
                    if not is_own(side, role_of(side), path):
                        raise OutputExistsError(
                            f"{side}: appeared while landmask was writing {path.name} and is "
                            "not landmask's; kept it"
                        ) from None
                    os.replace(tmp, side)
            finally:
                discard_temp(tmp)
            written.append(side)
    except BaseException as exc:
        for done in [*written, path]:
            with contextlib.suppress(FileNotFoundError):
                done.unlink()
        full = disk_full(exc, path) if isinstance(exc, Exception) else None
        if full is not None:
            raise full from None
        raise


def remove_live() -> list[Path]:
    """Remove every temporary this process still holds (and the files named after them)."""
    with _live_lock:
        paths = list(_live)
        _live.clear()
    removed = []
    for tmp in paths:
        with contextlib.suppress(OSError):
            for entry in tmp.parent.iterdir():
                if entry.name.startswith(tmp.name) and entry.is_file():
                    entry.unlink()
                    removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporaries in ``folder`` of landmask processes of this host that died.

    Only files whose name carries this host and the id of a process that no
    longer runs are removed; each folder is swept once per process.
    """
    folder = Path(folder)
    key = folder.resolve()
    if key in _swept:
        return []
    _swept.add(key)
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            m = _TEMP.match(entry.name)
            if m is None or m["host"] != _HOST or int(m["pid"]) == os.getpid():
                continue
            if not _alive(int(m["pid"])) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _local(path: str) -> bool:
    return not path.startswith("/vsi") and "://" not in path


def _same_file(out: Path, resolved: Path, p: str) -> bool:
    if not _local(p):
        return False
    if Path(p).resolve() == resolved:
        return True
    with contextlib.suppress(OSError):  # a hard link to the input
        return out.exists() and os.path.samefile(out, p)
    return False


def _input_of(out: Path, inputs: Sequence[str | os.PathLike[str]]) -> str | None:
    """The input ``out`` is (by path, symlink target or hard link), if any."""
    resolved = out.resolve()
    for p in inputs:
        if _same_file(out, resolved, os.fspath(p)):
            return os.fspath(p)
    return None


def check_output(
    path: str | os.PathLike[str],
    overwrite: bool,
    inputs: Sequence[str] = (),
    *,
    fmt: tuple[str, tuple[str, ...]] | None = None,
) -> Path:
    """Validate an output path before any work starts.

    Raises :class:`ConfigError` for a missing or read-only folder, an output
    that is one of the inputs (the same path, a link to it) or not a regular
    file, a name longer than the file system takes, or, with ``fmt``
    (:data:`GEOTIFF`, :data:`PNG`), an extension that is not the format's
    (``-o mask.png`` for a GeoTIFF); :class:`OutputExistsError` for an existing
    file without ``overwrite``. Removes the folder's stale temporaries
    (:func:`remove_stale`). Returns the path made absolute
    (:func:`landmask._runtime.paths.worker_path`): workers of a cluster write it.
    """
    out = Path(path)
    if fmt is not None and out.suffix.lower() not in fmt[1]:
        name, suffixes = fmt
        raise ConfigError(f"{out}: a {name} output must end in {' or '.join(suffixes)}")
    _check_folder(out)
    _check_name(out, "output")
    same = _input_of(out, inputs)
    if same is not None:
        raise ConfigError(f"{out}: output would overwrite an input ({same})")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder")
    if out.exists() and not out.is_file():
        raise ConfigError(f"{out}: exists and is not a regular file")
    if out.exists() and not overwrite:
        hint = option("--overwrite", "overwrite=True")
        raise OutputExistsError(f"{out}: exists; pass {hint} to replace it")
    remove_stale(out.parent)
    return Path(worker_path(out))


def _check_folder(out: Path) -> None:
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: output folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{out}: output folder {out.parent} is not writable")


def _check_name(out: Path, what: str) -> None:
    try:
        os.fsencode(out.name).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{str(out)!r}: the name of the {what} is not UTF-8, which GDAL cannot write; "
            "name it in UTF-8"
        ) from None
    size = len(os.fsencode(out.name))
    if size > NAME_MAX:
        raise ConfigError(
            f"{out}: the name of the {what} is {size} bytes, longer than the {NAME_MAX} "
            "the file system takes; name it shorter"
        )


def _check_companion(
    side: Path, role: str, output: Output, label: str, overwrite: bool, inputs: Sequence[str]
) -> None:
    what = f"{ROLE_NAMES[role]} of {label}"
    _check_name(side, what)
    same = _input_of(side, inputs)
    if same is not None:
        raise ConfigError(f"{side}: the {what} ({output.path}) would overwrite an input ({same})")
    if not os.path.lexists(side):
        return
    if side.is_dir() or not side.is_file():
        raise ConfigError(
            f"{side}: the {what} ({output.path}) exists and is not a regular file; move it away"
        )
    if not is_own(side, role, output.path):
        raise OutputExistsError(
            f"{side}: exists and was not written by landmask for {output.path} (the {what}); "
            "move it away or name the output otherwise"
        )
    if output.path.exists() and not overwrite:  # refused with the output, named first
        hint = option("--overwrite", "overwrite=True")
        raise OutputExistsError(f"{side}: exists; pass {hint} to replace it")


def plan_outputs(
    outputs: Mapping[str, str | os.PathLike[str] | Output],
    inputs: Sequence[str] = (),
    *,
    overwrite: bool,
    root: Path | None = None,
    root_label: str = "the output folder",
    checks: Mapping[str, Callable[[Path, bool], object]] | None = None,
    own: Callable[[Path], bool] | None = None,
) -> dict[str, Path]:
    """Check every output of a command or run, with its companions, at once, before any work.

    Parameters
    ----------
    outputs
        Label (how errors name it: ``-o``, ``outputs.mask of scene s1``) -> an
        :class:`~landmask.io.companions.Output` (a path: a file without companions).
    inputs
        Every file read (rasters, STAC items and assets, models, labels).
    overwrite
        Existing outputs may be replaced; companions only when landmask wrote
        them for that output (:func:`~landmask.io.companions.is_own`).
    root
        A folder every output must resolve into (a workflow's ``outputs.dir``).
    checks
        Label -> a check of its own instead of :func:`check_output` (vector formats).
    own
        Whether an existing output is landmask's own (a run's manifest): replaced
        then even without ``overwrite``.

    Raises
    ------
    ConfigError, OutputExistsError, ReadError
        One line naming the file and what it clashes with: two planned files
        (outputs or companions) naming one file, a file outside ``root`` or
        over an input, an existing file not landmask's (a user's ``mask.qml``
        beside ``-o mask.tif``), a non-regular input.
    """
    check_inputs(inputs)
    top = root.resolve() if root is not None else None
    seen: dict[Path, str] = {}
    planned: dict[str, Path] = {}
    values = {k: v if isinstance(v, Output) else Output(Path(v)) for k, v in outputs.items()}
    for label, output in values.items():
        files = {label: output.path} | {
            f"the {ROLE_NAMES[r]} of {label}": p for r, p in output.companions().items()
        }
        for name, file in files.items():
            resolved = file.resolve()
            if top is not None and not resolved.is_relative_to(top):
                raise ConfigError(f"{file}: {name} is outside {root_label} {root}")
            if resolved in seen:
                raise ConfigError(f"{file}: {seen[resolved]} and {name} name the same file")
            seen[resolved] = name
    for label, output in values.items():
        out = output.path
        replace = overwrite or (own is not None and out.is_file() and own(out))
        try:
            check_output(out, replace, inputs)
        except ConfigError as exc:
            raise type(exc)(str(exc).replace(": output would", f": {label} would", 1)) from None
        check = (checks or {}).get(label)
        if check is not None:
            check(out, replace)
        for role, side in output.companions().items():
            _check_companion(side, role, output, label, replace, inputs)
        planned[label] = out
    return planned


def publish(tmp: Path, path: Path, overwrite: bool) -> None:
    """Move a finished temporary onto ``path``; without ``overwrite`` never replace a file.

    Without ``overwrite`` the temporary is hard-linked to ``path`` (which fails
    if a file appeared there since the check) and then unlinked; on a file
    system without hard links, renamed if ``path`` is still free.

    Raises
    ------
    OutputExistsError
        A file appeared at ``path`` while the output was being written; it is kept.
    """
    check_stop()
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(
            f"{path}: appeared while landmask was writing it (another process?); kept it, "
            f"pass {option('--overwrite', 'overwrite=True')} to replace it"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(path):
            raise OutputExistsError(f"{path}: appeared while landmask was writing it") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def disk_full(exc: BaseException, path: Path) -> WriteError | None:
    """A one-line :class:`WriteError` naming ``path`` if the disk filled up.

    Either ``exc`` says so (ENOSPC, GDAL's messages) or the folder has less
    than 1 MiB left: some drivers report a short write as corrupt data.
    """
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    full = full or any(m in str(exc).lower() for m in _FULL_MESSAGES)
    try:
        st = os.statvfs(path.parent)
        free = st.f_bavail * st.f_frsize
    except OSError:
        free = None
    if not full and (free is None or free >= 1 << 20):
        return None
    left = f"; {free / 1e6:.1f} MB free in {path.parent}" if free is not None else ""
    return WriteError(f"{path}: disk full while writing it (nothing written{left})")


@contextlib.contextmanager
def atomic_path(path: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; publish it on ``path`` on success.

    With ``overwrite=False`` a file that appeared at ``path`` after the check
    is never replaced (:func:`publish`). On any failure the temporary is
    removed; a full disk is reported as one :class:`WriteError` naming ``path``.
    """
    tmp = temp_path(path)
    try:
        try:
            yield tmp
        except Exception as exc:
            full = disk_full(exc, path)
            if full is not None:
                raise full from None
            raise
        with _live_lock:
            sidecars = _sidecars.pop(tmp, {})
        publish(tmp, path, overwrite)
        _publish_sidecars(path, sidecars)
    finally:
        discard_temp(tmp)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, doc: Any, *, overwrite: bool, indent: int = 2) -> Path:
    """Write ``doc`` as JSON at ``path``, atomically; NaN and infinities become null.

    JSON has no NaN (Python's ``json`` would write a bare ``NaN`` no other
    reader takes): a figure that cannot be computed (an area on a grid past
    the poles) is ``null``.
    """
    text = json.dumps(_finite(doc), indent=indent, allow_nan=False) + "\n"
    with atomic_path(Path(path), overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock of ``folder`` (``fcntl.flock``) for files shared by several runs.

    A run's manifest and its ``catalog.json`` are read again and changed under it.
    """
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
