"""One mask check with one error type for every function that takes a mask."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from conftest import TRANSFORM, UTM33, as_mask

from landmask.classes import check_mask, is_mask
from landmask.errors import ConfigError, InputError

NOT_A_MASK = r"not a mask \(expected (2-D uint8|1 band of uint8) class ids, got "


def test_is_mask_and_check_mask_on_arrays_and_datasets(tmp_path):
    import dask.array as da

    assert is_mask(np.zeros((2, 2), np.uint8)) and is_mask(da.zeros((2, 2), dtype=np.uint8))
    assert not is_mask(np.zeros((2, 2), np.uint16)) and not is_mask(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(InputError, match=r"^x: " + NOT_A_MASK + r"3-D uint8\)$") as info:
        check_mask(np.zeros((1, 2, 2), np.uint8), "x")
    assert not isinstance(info.value, ConfigError)  # an input error, not an option error
    path = tmp_path / "rgb.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=2,
        height=2,
        count=3,
        dtype="uint16",
        crs=UTM33,
        transform=TRANSFORM,
    ) as ds:
        ds.write(np.ones((3, 2, 2), np.uint16))
    with rasterio.open(path) as ds:
        assert not is_mask(ds)
        with pytest.raises(InputError, match=NOT_A_MASK + r"3 bands of uint16\)"):
            check_mask(ds, str(path))


def test_every_mask_taker_raises_the_same_error(tmp_path, s2_file):
    import rioxarray  # noqa: F401

    from landmask.evaluation.evaluate import evaluate
    from landmask.io.read.masks import open_image, open_mask
    from landmask.io.write.rasters import write_mask
    from landmask.products.apply import apply_mask
    from landmask.products.export import export_mask
    from landmask.vector.vectorize import vectorize, vectorize_to_file
    from landmask.viz.preview import read_decimated

    floats = as_mask(np.zeros((4, 4), np.uint8)).astype(np.float32)
    good = as_mask(np.zeros((4, 4), np.uint8))
    calls = [
        ("write_mask", lambda: write_mask(floats, tmp_path / "a.tif")),
        ("vectorize", lambda: vectorize(floats)),
        ("vectorize", lambda: vectorize_to_file(floats, tmp_path / "a.gpkg")),
        ("the prediction", lambda: evaluate(floats, good)),
        ("export_mask", lambda: export_mask(floats, tmp_path / "b.tif")),
        ("apply_mask", lambda: apply_mask(open_image(s2_file), floats, keep="water")),
        (".landmask.vectorize()", lambda: floats.landmask.vectorize()),
        (".landmask.evaluate()", lambda: floats.landmask.evaluate(good)),
        (str(s2_file), lambda: open_mask(s2_file)),
        (str(s2_file), lambda: read_decimated(s2_file)),
    ]
    for what, call in calls:
        with pytest.raises(InputError, match=NOT_A_MASK) as info:
            call()
        assert str(info.value).startswith(what + ": "), str(info.value)
        assert not isinstance(info.value, ConfigError)
    assert [p.name for p in tmp_path.iterdir()] == [s2_file.name]  # nothing half-written
