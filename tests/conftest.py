"""Shared fixtures: small rasters with real CRS and transforms, made on the fly, and the
one in-process CLI runner with its "exit 2, one line, nothing changed on disk" check."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, settings
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from landmask.cli import run
from landmask.synthetic import BANDS, S2_BAND_IDS, make_scene, to_dn

# No per-example deadline and no "too slow" health check anywhere in the suite: on a busy
# machine both fail tests for the machine's load, not for the code's behaviour. On top of
# the profile hypothesis loads itself (its "ci" profile under CI=true: derandomized).
settings.register_profile(
    "landmask",
    settings(settings.default, deadline=None, suppress_health_check=[HealthCheck.too_slow]),
)
settings.load_profile("landmask")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run only when a ``-m`` expression is given (``-m slow``), as the
    marker's description in pyproject.toml says; ``make test`` and CI leave them out."""
    if config.option.markexpr:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


UTM33 = CRS.from_epsg(32633)
TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5400000.0)

WriteRaster = Callable[..., Path]


def write_raster(
    path: Path,
    data: np.ndarray,
    *,
    crs: CRS | None = UTM33,
    transform: Affine | None = TRANSFORM,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    blocksize: int | None = None,
    **extra: Any,
) -> Path:
    """Write ``data`` (``(band, y, x)`` or ``(y, x)``) as a GeoTIFF; tiled if ``blocksize``."""
    arr = data if data.ndim == 3 else data[None]
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "count": arr.shape[0],
        "height": arr.shape[1],
        "width": arr.shape[2],
        "dtype": arr.dtype,
        "nodata": nodata,
        **extra,
    }
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform
    if blocksize:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(arr)
            if descriptions:
                ds.descriptions = tuple(descriptions)
    return path


@pytest.fixture
def raster(tmp_path: Path) -> WriteRaster:
    """``raster(name, data, **kw)`` writes a GeoTIFF under tmp_path and returns its path."""

    def make(name: str, data: np.ndarray, **kw: Any) -> Path:
        return write_raster(tmp_path / name, data, **kw)

    return make


@pytest.fixture(scope="session")
def synthetic_small() -> Any:
    """A 300x340 synthetic scene (reflectance and truth) shared by the session."""
    return make_scene((300, 340), seed=3)


@pytest.fixture
def s2_file(tmp_path: Path, synthetic_small: Any) -> Path:
    """The small synthetic scene as a 6-band uint16 Sentinel-2 L2A-like GeoTIFF (striped)."""
    return write_raster(
        tmp_path / "s2.tif",
        to_dn(synthetic_small.reflectance),
        nodata=0,
        descriptions=S2_BAND_IDS,
    )


@pytest.fixture
def s2_band_files(tmp_path: Path, synthetic_small: Any) -> list[Path]:
    """The small synthetic scene as one file per band, named like Sentinel-2 L2A JP2s."""
    dn = to_dn(synthetic_small.reflectance)
    return [
        write_raster(tmp_path / f"T33UUP_20240601T100031_{bid}_10m.tif", dn[k], nodata=0)
        for k, bid in enumerate(S2_BAND_IDS)
    ]


def as_mask(
    data: Any,
    transform: Affine = TRANSFORM,
    crs: CRS = UTM33,
    chunks: int = 256,
    **attrs: Any,
) -> Any:
    """A ``(y, x)`` uint8 mask DataArray on a real grid (nodata 255), Dask-backed in ``chunks``."""
    import dask.array as da
    import xarray as xr

    from landmask.classification.quality import mask_like
    from landmask.io.read.scene import pixel_coords

    arr = da.from_array(data, chunks=chunks) if not isinstance(data, da.Array) else data
    h, w = arr.shape
    grid = xr.DataArray(
        np.empty((h, w), np.uint8), dims=("y", "x"), coords=pixel_coords(transform, h, w)
    )
    grid = grid.rio.write_crs(crs).rio.write_transform(transform)
    return mask_like(grid, arr, name="landcover").assign_attrs(attrs)


@pytest.fixture(autouse=True)
def _stac_documents_are_valid(request: pytest.FixtureRequest) -> Any:
    """After every test with a ``tmp_path``: each STAC item and catalog written there
    validates against the official JSON schemas (:mod:`stac_schemas`, offline)."""
    yield
    # pytest sets funcargs to None once an item is torn down (seen with -x across files)
    tmp = (getattr(request.node, "funcargs", None) or {}).get("tmp_path")
    if tmp is None and "tmp_path" in request.fixturenames:
        tmp = request.getfixturevalue("tmp_path")
    if tmp is not None and Path(tmp).is_dir():
        from stac_schemas import check_stac_folder

        check_stac_folder(Path(tmp))


@pytest.fixture(autouse=True)
def _no_input_file_kept_open() -> Iterator[None]:
    """After every test: no input file is left open by a run
    (:func:`landmask.io.read.datasets.kept_open` closes them all as it ends, also on an error
    or a signal), so no test sees a dataset another test opened."""
    from landmask.io.read.datasets import kept_count

    yield
    assert kept_count() == 0, f"{kept_count()} input files left open after the test"


@pytest.fixture
def worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polygons of the (tiny) test masks made where a large mask's are: in worker processes
    when the scheduler sends chunks there, not in the calling process as a small mask's
    (:data:`landmask.vector._pool.IN_PROCESS_PIXELS`)."""
    from landmask.vector import _pool

    monkeypatch.setattr(_pool, "IN_PROCESS_PIXELS", 0)


def as_scene(values: np.ndarray, bands: Sequence[str], chunks: tuple[int, int] | int = -1) -> Any:
    """A ``(band, y, x)`` reflectance DataArray on a real grid, Dask-backed in ``(y, x)`` chunks
    (``-1``: one chunk)."""
    import dask.array as da
    import xarray as xr

    from landmask.io.read.scene import pixel_coords

    _, h, w = values.shape
    ch = (len(bands), *chunks) if isinstance(chunks, tuple) else -1
    arr = xr.DataArray(
        da.from_array(values, chunks=ch),
        dims=("band", "y", "x"),
        coords={**pixel_coords(TRANSFORM, h, w), "band": list(bands)},
    )
    return arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM)


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(root: Path, *, folders: bool = False) -> dict[str, str]:
    """Every file under ``root``, hidden ones included -> its SHA-256 and modification time
    (a file rewritten with the same bytes shows too); with ``folders``, each folder ->
    ``"folder"`` as well (an empty folder made or removed shows too). FIFOs, sockets and
    symbolic links are not read (a FIFO would block): ``"not a regular file"``."""
    root = Path(root)
    found = {}
    for folder, dirs, names in os.walk(root):
        if folders:
            found.update({str(Path(folder, d).relative_to(root)): "folder" for d in dirs})
        for name in names:
            path = Path(folder, name)
            key = str(path.relative_to(root))
            if path.is_file() and not path.is_symlink():
                found[key] = f"{sha256(path)} {path.stat().st_mtime_ns}"
            else:
                found[key] = "not a regular file"
    return found


# Warnings Python hides by default: a real run would not print them either.
_HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
_TEMP_NAME = re.compile(r"(^\.|\.tmp$|\.part\.tif$)")


@dataclass
class Result:
    """What ``landmask ARGV`` gave: exit status, stdout, and stderr as a real run prints it
    (echoed text, then log records of WARNING and above, then warnings)."""

    code: int
    out: str
    err: str


def invoke(argv: Sequence[object], capsys: Any, caplog: pytest.LogCaptureFixture) -> Result:
    """Run ``landmask argv`` in this process (``capsys`` or ``capfd``); its :class:`Result`.

    In-process: no interpreter start-up and imports per call. A test whose subject is the
    process itself (signals, exit codes of the executable, imports) starts one instead.
    """
    capsys.readouterr()
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    extra = [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING
    ]
    extra += [
        f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, _HIDDEN_WARNINGS)
    ]
    return Result(code, out, err + "".join(f"{line}\n" for line in extra))


def assert_one_line(res: Result, *needles: str, pattern: str | None = None) -> str:
    """Status 2, one stderr line holding every needle (and ``pattern``), no traceback."""
    err = res.err
    assert res.code == 2, f"exit status {res.code}, stderr:\n{err}"
    assert "Traceback" not in err, err
    assert err.strip(), "nothing on stderr"
    assert err.strip().count("\n") == 0, f"more than one line on stderr:\n{err}"
    assert res.out == "", f"stdout: {res.out!r}"
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    if pattern is not None:
        assert re.search(pattern, err, re.IGNORECASE), f"/{pattern}/ not in {err!r}"
    return err


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty output folder under tmp_path."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[..., str]:
    """``cli(argv, *needles, pattern=...)``: expect bad input and a pristine tmp_path.

    Checks everything :func:`assert_one_line` does, then that nothing under tmp_path
    (inputs, an existing output, the output folder, folders) was created, removed or
    changed; returns the error line.
    """

    def check(argv: Sequence[object], *needles: str, pattern: str | None = None) -> str:
        before = snapshot(tmp_path, folders=True)
        err = assert_one_line(invoke(argv, capsys, caplog), *needles, pattern=pattern)
        after = snapshot(tmp_path, folders=True)
        made = sorted(set(after) - set(before))
        assert not [n for n in made if _TEMP_NAME.search(Path(n).name)], f"left behind: {made}"
        assert after == before, f"created {made}, removed {sorted(set(before) - set(after))}, " + (
            f"changed {sorted(k for k in before.keys() & after.keys() if before[k] != after[k])}"
        )
        return err

    return check


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount(options)``: a small tmpfs folder under tmp_path, unmounted afterwards.

    Skips (with the reason) unless the test runs as root on a system that lets it mount.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mounted: list[Path] = []

    def make(options: str) -> Path:
        folder = tmp_path / f"mnt{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        )
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def read_only_folder(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """An empty folder under tmp_path that this process cannot write to, whoever runs it
    and wherever the clone is: mode 0555 for an ordinary user; for root (who writes
    through any mode) a read-only tmpfs, skipped when the system lets no tmpfs be mounted.
    """
    if os.geteuid() == 0:
        folder = request.getfixturevalue("mount")("ro,size=64k")
        assert not os.access(folder, os.W_OK)
        yield folder
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user writes through a folder's mode (CAP_DAC_OVERRIDE)")
        yield folder
    finally:
        folder.chmod(stat.S_IRWXU)


def wait_for(
    condition: Callable[[], Any], what: str, limit: float = 300.0, step: float = 0.01
) -> Any:
    """Poll ``condition`` until it returns something true and return that; fail naming
    ``what`` after ``limit`` seconds. The limit only catches a hang: it is far above what
    any machine, however busy, needs, and nothing is asserted about the time taken."""
    deadline = time.monotonic() + limit
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {limit:.0f} s")
        time.sleep(step)


def run_in_fresh_process(argv: Sequence[str]) -> tuple[int, set[str]]:
    """Run the CLI with ``argv`` in a new interpreter: its exit status and the
    heavy optional packages it imported (``distributed``, ``geopandas``)."""
    import subprocess
    import sys

    code = (
        "import sys; from landmask.cli import run; "
        f"status = run({list(map(str, argv))!r}); "
        "print(status, *[m for m in ('distributed', 'geopandas') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    status, *imported = done.stdout.split()
    return int(status), set(imported)


__all__ = [
    "BANDS",
    "TRANSFORM",
    "UTM33",
    "Result",
    "as_mask",
    "assert_one_line",
    "invoke",
    "run_in_fresh_process",
    "sha256",
    "snapshot",
    "wait_for",
    "write_raster",
]
