import dask.array as da
import numpy as np
import pytest
from conftest import TRANSFORM, UTM33

from landmask.errors import BandError, ConfigError
from landmask.io.read.scene import open_scene
from landmask.spectral.indices import INDICES, compute_indices, indices_block

NAMES = ["blue", "green", "red", "nir", "swir16", "swir22"]
# one pixel of each: (blue, green, red, nir, swir16, swir22)
PIXELS = np.array(
    [
        [0.05, 0.08, 0.06, 0.40, 0.20, 0.10],
        [0.06, 0.055, 0.035, 0.02, 0.01, 0.008],
        [0.10, 0.12, 0.14, 0.20, 0.24, 0.21],
    ],
    dtype=np.float32,
).T[:, None, :]  # (band, 1, 3)


def hand(name, b, g, r, n, s1, s2):
    return {
        "ndvi": (n - r) / (n + r),
        "ndwi": (g - n) / (g + n),
        "mndwi": (g - s1) / (g + s1),
        "ndbi": (s1 - n) / (s1 + n),
        "evi": 2.5 * (n - r) / (n + 6 * r - 7.5 * b + 1),
        "savi": 1.5 * (n - r) / (n + r + 0.5),
        "bsi": ((s1 + r) - (n + b)) / ((s1 + r) + (n + b)),
        "nbr": (n - s2) / (n + s2),
        "awei_nsh": 4 * (g - s1) - (0.25 * n + 2.75 * s2),
        "awei_sh": b + 2.5 * g - 1.5 * (n + s1) - 0.25 * s2,
    }[name]


@pytest.mark.parametrize("name", sorted(INDICES))
def test_index_block_matches_hand_computation(name):
    out = indices_block(PIXELS, NAMES, [name])
    assert out.dtype == np.float32 and out.shape == (1, 1, 3)
    expected = [hand(name, *map(float, PIXELS[:, 0, k])) for k in range(3)]
    np.testing.assert_allclose(out[0, 0], expected, rtol=2e-6, atol=1e-7)


def test_every_index_documents_bands_and_reference():
    for idx in INDICES.values():
        assert idx.bands <= set(NAMES)
        assert idx.reference and idx.long_name


def test_zero_denominator_and_nodata_give_nan():
    block = np.zeros((6, 1, 3), np.float32)
    block[:, 0, 1] = np.nan
    block[:, 0, 2] = 0.1
    out = indices_block(block, NAMES, ["ndvi", "mndwi", "awei_nsh"])
    assert np.isnan(out[0, 0, 0]) and np.isnan(out[1, 0, 0])
    assert out[2, 0, 0] == 0  # a linear index has no denominator
    assert np.isnan(out[:, 0, 1]).all()
    assert out[0, 0, 2] == 0
    opposite = np.zeros((6, 1, 1), np.float32)
    opposite[2], opposite[3] = -0.05, 0.05  # red = -nir: NDVI would be +inf
    assert np.isnan(indices_block(opposite, NAMES, ["ndvi"])).all()


def _ramp_scene(raster, red, nir):
    path = raster("rn.tif", np.stack([red, nir]).astype(np.uint16), descriptions=("red", "nir"))
    return open_scene(path, chunk_size=2)


def test_uint16_red_above_nir_gives_negative_ndvi(raster):
    red = np.array([[3000, 100], [65535, 0]], np.uint16)
    nir = np.array([[1000, 100], [1, 0]], np.uint16)
    ndvi = compute_indices(_ramp_scene(raster, red, nir), ["ndvi"])["ndvi"].values
    np.testing.assert_allclose(ndvi[0, 0], -0.5, rtol=1e-6)
    assert ndvi[0, 1] == 0
    np.testing.assert_allclose(ndvi[1, 0], (1 - 65535) / 65536, rtol=1e-6)
    assert np.isnan(ndvi[1, 1])


def test_compute_indices_is_lazy_float32_on_the_scene_grid(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)
    ds = compute_indices(scene, ["NDVI", "mndwi"])
    assert list(ds.data_vars) == ["ndvi", "mndwi"]
    for name in ("ndvi", "mndwi"):
        arr = ds[name]
        assert isinstance(arr.data, da.Array)
        assert arr.dtype == np.float32
        assert arr.dims == ("y", "x")
        assert arr.rio.crs == UTM33 and arr.rio.transform() == TRANSFORM
        assert arr.chunks == scene.chunks[1:]
        assert arr.attrs["formula"] == INDICES[name].formula
    block = scene.values
    np.testing.assert_allclose(
        ds["ndvi"].values, indices_block(block, list(scene["band"].values), ["ndvi"])[0]
    )


def test_unknown_index_and_missing_band(raster):
    scene = _ramp_scene(raster, np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ConfigError, match="unknown index 'ndxi'"):
        compute_indices(scene, ["ndxi"])
    with pytest.raises(BandError, match="'green' \\(for mndwi\\) is not in the scene"):
        compute_indices(scene, ["mndwi"])
