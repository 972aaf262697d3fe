"""Shared fixtures: small rasters with real CRS and transforms, made on the fly."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from landmask.synthetic import BANDS, S2_BAND_IDS, make_scene, to_dn

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

    from landmask.classification.classify import mask_like
    from landmask.io.scene import pixel_coords

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
    tmp = request.node.funcargs.get("tmp_path")
    if tmp is None and "tmp_path" in request.fixturenames:
        tmp = request.getfixturevalue("tmp_path")
    if tmp is not None and Path(tmp).is_dir():
        from stac_schemas import check_stac_folder

        check_stac_folder(Path(tmp))


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


__all__ = ["BANDS", "TRANSFORM", "UTM33", "as_mask", "run_in_fresh_process", "write_raster"]
