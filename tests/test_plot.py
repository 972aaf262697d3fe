import matplotlib

matplotlib.use("Agg")

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
import xarray as xr
from conftest import TRANSFORM, UTM33
from dask.callbacks import Callback
from matplotlib.colors import to_rgba
from test_write import as_mask

from landmask.classes import LANDCOVER, ClassScheme, LandClass
from landmask.errors import ConfigError
from landmask.evaluation.evaluate import evaluate
from landmask.io.read.masks import open_mask
from landmask.io.read.reflectance import ReflectanceReader
from landmask.io.read.scene import open_scene, pixel_coords
from landmask.io.write.rasters import write_mask
from landmask.spectral.indices import compute_indices
from landmask.vector.vectorize import vectorize
from landmask.viz.plot import (
    composite,
    confusion_matrix,
    decimate,
    index_map,
    mask_image,
    polygons,
    probability_map,
    stretch,
)


class Computed(Callback):
    """Counts the tasks Dask runs and the bytes of every array they return."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks = 0
        self.sizes: list[int] = []

    def _posttask(self, key, result, dsk, state, id):
        self.tasks += 1
        if isinstance(result, np.ndarray):
            self.sizes.append(result.nbytes)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def pattern(size: int) -> np.ndarray:
    """Forest left half, water right quarter, other between, a nodata band on top."""
    data = np.zeros((size, size), np.uint8)
    data[:, : size // 2] = 1
    data[:, 3 * size // 4 :] = 3
    data[: size // 8] = 255
    return data


def legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_mask_image_of_a_lazy_mask_computes_only_the_kept_pixels():
    size, chunk = 4096, 512
    mask = as_mask(da.from_array(pattern(size), chunks=chunk))
    with Computed() as seen:
        ax = mask_image(mask, max_size=512)
    kept = 512 * 512  # uint8: one byte a pixel; step 8
    *per_chunk, whole = sorted(seen.sizes)
    assert whole == kept  # the assembled image
    assert len(per_chunk) >= (size // chunk) ** 2
    assert max(per_chunk) <= (chunk // 8) ** 2  # each chunk's task passed on its kept pixels
    assert sum(seen.sizes) <= 3 * kept
    assert legend_labels(ax) == ["other", "forest", "water"]  # nodata left out
    rgba = ax.get_images()[0].get_array()
    assert rgba.shape == (512, 512, 4)
    np.testing.assert_allclose(rgba[-1, 0], to_rgba("#006400"))  # forest, bottom left
    np.testing.assert_allclose(rgba[-1, -1], to_rgba("#0064c8"))  # water, bottom right
    np.testing.assert_allclose(rgba[-1, 300], to_rgba("#d9d9d9"))  # other
    assert rgba[0, 0][3] == 0  # nodata transparent
    # drawn in map coordinates over the mask's exact bounds
    left, top = TRANSFORM.c, TRANSFORM.f
    assert ax.get_images()[0].get_extent() == pytest.approx(
        [left, left + 10 * size, top - 10 * size, top]
    )
    assert ax.get_xlabel() == "x (km)" and ax.xaxis.get_major_formatter()(500000.0, 0) == "500"


def test_mask_image_of_a_mask_file_reads_an_overview_without_dask(tmp_path):
    path = tmp_path / "m.tif"
    write_mask(as_mask(da.from_array(pattern(2048), chunks=512)), path)
    mask = open_mask(path, chunk_size=512)
    with Computed() as seen:
        ax = mask_image(mask, max_size=512)
    assert seen.tasks == 0  # GDAL served it from the file
    shown = ax.get_images()[0].get_array()
    with rasterio.open(path, overview_level=1) as ov:  # the 4x overview
        expected = ov.read(1)
    assert shown.shape[:2] == expected.shape == (512, 512)
    lut = np.zeros((256, 4))
    for c in LANDCOVER:
        lut[c.id] = np.array(c.rgba) / 255
    np.testing.assert_allclose(shown, lut[expected])
    assert legend_labels(ax) == ["other", "forest", "water"]


def test_decimate_keeps_georeferencing_and_a_window_of_a_file(tmp_path):
    path = tmp_path / "m.tif"
    data = pattern(2048)
    write_mask(as_mask(da.from_array(data, chunks=512)), path)
    window = open_mask(path).isel(y=slice(256, 1280), x=slice(1024, 2048))
    with Computed() as seen:
        small = decimate(window, max_size=256)
    assert seen.tasks == 0
    assert small.shape == (256, 256)
    np.testing.assert_array_equal(small.values, data[256:1280:4, 1024:2048:4])
    t = small.rio.transform()
    assert (t.a, t.e) == (40.0, -40.0)
    assert (t.c, t.f) == (TRANSFORM.c + 10 * 1024, TRANSFORM.f - 10 * 256)
    assert small.rio.crs == UTM33
    np.testing.assert_array_equal(small.x.values, pixel_coords(t, 256, 256)["x"])
    # a derived array is no longer a plain read: strided selection, same pixels picked
    derived = decimate(window + 0, max_size=256)
    assert derived.rio.transform() == t


@pytest.fixture
def scene(s2_file):
    return open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=64)


def test_composite_stretches_each_band_between_percentiles(scene, monkeypatch):
    reads = []
    read = ReflectanceReader.__getitem__
    monkeypatch.setattr(
        ReflectanceReader, "__getitem__", lambda s, k: reads.append(k) or read(s, k)
    )
    with Computed() as seen:
        ax = composite(scene, ("nir", "red", "green"), percentiles=(2, 98), max_size=100)
    n_reads = len(reads)
    rgba = ax.get_images()[0].get_array()
    step = 4  # 340 px wide -> every 4th
    assert rgba.shape == (300 // step, 340 // step, 4)
    picked = scene.sel(band=["nir", "red", "green"]).values[:, 2::step, 2::step]
    np.testing.assert_allclose(rgba, stretch(picked, (2, 98)))
    valid = np.isfinite(picked).all(axis=0)
    assert rgba[0, 0, 3] == 0 and not valid[0, 0]  # the swath margin is transparent
    for k in range(3):
        band = rgba[..., k][valid]
        assert band.min() == 0 and band.max() == 1
        assert 0.01 < np.mean(band == 0) < 0.04  # 2% clipped at the bottom
    assert ax.get_title() == "nir / red / green"
    # each chunk was read once, by a task that passed on only its kept pixels
    assert n_reads == scene.data.npartitions
    kept = 6 * rgba.shape[0] * rgba.shape[1] * 4  # all six bands, decimated
    assert max(seen.sizes) <= kept
    assert sum(seen.sizes) <= 4 * kept < scene.nbytes


def test_composite_names_a_missing_band(scene):
    from landmask.errors import BandError

    with pytest.raises(BandError, match="band 'rededge' is not in the scene"):
        composite(scene.sel(band=["red", "green", "blue"]), ("rededge", "red", "green"))


def _index(values: np.ndarray) -> xr.DataArray:
    h, w = values.shape
    arr = xr.DataArray(
        da.from_array(values, chunks=32), dims=("y", "x"), coords=pixel_coords(TRANSFORM, h, w)
    )
    return arr.rio.write_crs(UTM33).rio.write_transform(TRANSFORM).rename("mndwi")


def test_index_map_is_diverging_and_centred_on_zero():
    values = np.tile(np.linspace(-0.5, 1.0, 100, dtype=np.float32), (80, 1))
    values[:5] = np.nan
    ax = index_map(_index(values), max_size=200)
    image = ax.get_images()[0]
    low, high = image.norm.vmin, image.norm.vmax
    assert low == -high and high == pytest.approx(np.percentile(np.abs(values[5:]), 98))
    assert image.cmap.name == "mndwi"  # its ramp: brown, pale, blue (water high)
    r, g, b, _ = image.cmap(1.0)
    assert b > r and b > g
    assert image.norm(0.0) == pytest.approx(0.5)  # 0 sits at the centre colour
    assert image.get_array().mask[0].all()  # NaN is not drawn
    assert ax.get_title() == "mndwi"
    assert len(ax.figure.axes) == 2  # with a colour bar
    assert index_map(_index(values), vmax=2).get_images()[0].norm.vmin == -2


def test_index_map_of_a_scene_computes_the_index_on_the_kept_pixels_only(scene):
    with Computed() as seen:
        ax = index_map(scene, "ndvi", max_size=100)
    shown = ax.get_images()[0].get_array()
    full = compute_indices(scene, ["ndvi"])["ndvi"].values
    np.testing.assert_allclose(shown.filled(np.nan), full[2::4, 2::4], equal_nan=True)
    kept = scene.shape[0] * shown.size * 4  # the decimated scene, float32
    assert max(seen.sizes) <= kept
    assert sum(seen.sizes) <= 4 * kept < scene.nbytes
    assert ax.get_title() == "ndvi"


def _probabilities(size: int, chunk: int) -> xr.DataArray:
    """(class, y, x) uint8 probabilities of classes 1, 3, 0: water's rises left to right."""
    water = np.tile(np.linspace(0, 254, size).round().astype(np.uint8), (size, 1))
    water[: size // 8] = 255  # nodata rows on top
    stack = np.stack([254 - np.minimum(water, 254), water, np.zeros_like(water)])
    stack[:, : size // 8] = 255
    grid = as_mask(np.zeros((size, size), np.uint8))
    return (
        xr.DataArray(
            da.from_array(stack, chunks=(1, chunk, chunk)),
            dims=("class", "y", "x"),
            coords={"class": [1, 3, 0], "y": grid.y, "x": grid.x},
            attrs={"class_scheme": "landcover"},
        )
        .rio.write_crs(UTM33)
        .rio.write_transform(TRANSFORM)
    )


def test_probability_map_draws_one_class_from_zero_to_one_on_lazy_input():
    size, chunk = 2048, 256
    proba = _probabilities(size, chunk)
    with Computed() as seen:
        ax = probability_map(proba, "water", max_size=256)
    kept = 256 * 256  # step 8, one band, one byte a pixel
    assert max(seen.sizes) == kept  # never more than the kept pixels of the band drawn
    assert sum(seen.sizes) <= 3 * kept
    image = ax.get_images()[0]
    assert (image.norm.vmin, image.norm.vmax) == (0.0, 1.0)
    drawn = image.get_array()
    assert drawn.mask[: 256 // 8].all() and not drawn.mask[256 // 8 :].any()  # nodata left out
    expected = proba.sel({"class": 3}).values[4::8, 4::8][256 // 8 :] / 254
    np.testing.assert_allclose(drawn[256 // 8 :], expected)
    assert drawn.min() == pytest.approx(0.0, abs=0.01) and drawn.max() == pytest.approx(
        1.0, abs=0.01
    )
    assert ax.get_title() == "p(water)" and len(ax.figure.axes) == 2  # with a colour bar
    assert image.get_extent() == pytest.approx(
        [TRANSFORM.c, TRANSFORM.c + 10 * size, TRANSFORM.f - 10 * size, TRANSFORM.f]
    )
    # a class id works as well as a name; floats in [0, 1] with NaN nodata too
    by_id = probability_map(proba, 3, max_size=256).get_images()[0].get_array()
    np.testing.assert_array_equal(by_id, drawn)
    floats = proba.astype(np.float32).where(proba != 255) / 254
    as_float = probability_map(floats, 3, max_size=256).get_images()[0].get_array()
    np.testing.assert_allclose(as_float, drawn)
    assert as_float.mask[: 256 // 8].all()
    with pytest.raises(ConfigError, match="no probability of class 'urban'"):
        probability_map(proba, "urban")


def test_polygons_over_a_mask_in_class_colours_reprojected():
    data = np.zeros((60, 80), np.uint8)
    data[10:20, 10:30] = 1
    data[30:50, 40:70] = 3
    mask = as_mask(data)
    frame = vectorize(mask).to_crs("EPSG:4326")  # drawn back in the mask's CRS
    ax = polygons(frame, mask)
    assert legend_labels(ax) == ["forest", "water"]
    lines = ax.collections
    assert [to_rgba(c.get_edgecolor()[0]) for c in lines] == [
        to_rgba("#006400"),
        to_rgba("#0064c8"),
    ]
    forest = np.concatenate([p.vertices for p in lines[0].get_paths()])
    assert forest[:, 0].min() == pytest.approx(TRANSFORM.c + 100, abs=1e-3)
    assert forest[:, 1].max() == pytest.approx(TRANSFORM.f - 100, abs=1e-3)
    assert len(ax.get_images()) == 1  # the mask underneath


def test_confusion_matrix_heat_map():
    pred = np.array([[1, 1, 3, 3], [1, 3, 3, 0]], np.uint8)
    truth = np.array([[1, 1, 3, 3], [1, 1, 3, 0]], np.uint8)
    result = evaluate(as_mask(pred), as_mask(truth))
    ax = confusion_matrix(result)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["other", "forest", "water"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1", "0", "0", "0", "3", "1", "0", "0", "3"]
    shade = ax.get_images()[0].get_array()
    np.testing.assert_allclose(shade[1], [0, 0.75, 0.25])  # share of the truth row


def test_mask_image_takes_the_scheme_the_mask_names(tmp_path, monkeypatch):
    from landmask import classes

    vivid = ClassScheme(
        "vivid",
        (LandClass(0, "ground", "#ffff00"), LandClass(7, "lake", "#00ffff"), LANDCOVER.classes[-1]),
    )
    monkeypatch.setitem(classes.SCHEMES, "vivid", vivid)
    data = np.zeros((40, 40), np.uint8)
    data[:, 20:] = 7
    mask = as_mask(data).assign_attrs(class_scheme="vivid")
    ax = mask_image(mask)
    assert legend_labels(ax) == ["ground", "lake"]
    np.testing.assert_allclose(ax.get_images()[0].get_array()[0, -1], to_rgba("#00ffff"))
    # a mask file names its scheme in a tag, which rioxarray reads into the attributes
    write_mask(mask, tmp_path / "v.tif", scheme=vivid)
    ax = mask_image(open_mask(tmp_path / "v.tif"))
    assert legend_labels(ax) == ["ground", "lake"]
    assert legend_labels(mask_image(as_mask(data))) == ["other"]  # landcover lacks 7


def test_overviews_read_for_a_renamed_or_relabelled_window_never_for_a_derived_one(tmp_path):
    from landmask.io.read.masks import file_window, open_image

    path = tmp_path / "m.tif"
    data = pattern(2048)
    write_mask(as_mask(da.from_array(data, chunks=512)), path)
    window = open_mask(path).isel(y=slice(256, 1280), x=slice(1024, 2048))
    for plain in (window.rename("classes"), window.assign_attrs(note="x"), window.copy()):
        assert file_window(plain) is not None
        with Computed() as seen:
            small = decimate(plain, max_size=256)
        assert seen.tasks == 0
        np.testing.assert_array_equal(small.values, data[256:1280:4, 1024:2048:4])
    # one band of an image, then a window of it
    band = open_image(path).isel(band=0)
    assert file_window(band)[1:] == (1, rasterio.windows.Window(0, 0, 2048, 2048))
    assert file_window(band.isel(y=slice(0, 512)))[2] == rasterio.windows.Window(0, 0, 2048, 512)
    # computed from the read: values differ from the file's, so Dask decimates it
    derived = [
        window + 1,
        window.copy(data=window.data + 1),
        xr.where(window == 1, np.uint8(3), window),
        window.astype(np.uint16),
    ]
    for arr in derived:
        assert file_window(arr) is None
        with Computed() as seen:
            small = decimate(arr, max_size=256)
        assert seen.tasks > 0
    np.testing.assert_array_equal(
        decimate(derived[1], max_size=256).values, data[256:1280:4, 1024:2048:4] + 1
    )
    # a file rewritten since it was opened is no longer what the array reads
    stale = open_mask(path)
    write_mask(as_mask(da.from_array(pattern(2048)[::-1].copy(), chunks=512)), path, overwrite=True)
    assert file_window(stale) is None
