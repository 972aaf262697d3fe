import matplotlib

matplotlib.use("Agg")

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
from conftest import as_mask

from landmask.classes import LANDCOVER, WORLDCOVER
from landmask.cli import run
from landmask.io.write.rasters import write_mask
from landmask.viz.plot import mask_image
from landmask.viz.preview import read_decimated


def test_mask_image_colours_and_legend():
    data = np.array([[1, 1, 3], [255, 3, 3]], np.uint8)
    fig, ax = plt.subplots()
    mask_image(data, LANDCOVER, ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["forest", "water"]  # classes present, nodata left out
    rgba = ax.get_images()[0].get_array()
    np.testing.assert_allclose(rgba[0, 0], np.array((0, 100, 0, 255)) / 255)
    assert rgba[1, 0][3] == 0  # nodata transparent
    plt.close(fig)


def test_preview_reads_an_overview_not_the_whole_mask(tmp_path):
    data = np.zeros((2048, 2048), np.uint8)
    data[:, 1024:] = 3
    path = tmp_path / "m.tif"
    write_mask(as_mask(da.from_array(data, chunks=512)), path)
    small = read_decimated(path, max_size=512)
    assert small.shape == (512, 512)
    with rasterio.open(path, overview_level=1) as ov:  # the 4x overview
        np.testing.assert_array_equal(small, ov.read(1))


def test_preview_of_a_big_mask_reads_only_overviews(tmp_path):
    n = 4096  # four times the preview's 1024 px: read from an overview, never in full
    rows = da.arange(n, chunks=1024, dtype=np.uint16)[:, None] // 256
    cols = da.arange(n, chunks=1024, dtype=np.uint16)[None, :] // 256
    path = tmp_path / "big.tif"
    write_mask(as_mask(((rows + cols) % 4).astype(np.uint8), chunks=1024), path)
    # A COG stores its overviews before the full-resolution tiles: cut the file
    # where those begin, so that any full-resolution read fails
    with rasterio.open(path) as ds:
        assert ds.overviews(1) == [2, 4, 8]
        first = min(
            int(ds.get_tag_item(f"BLOCK_OFFSET_{i}_{j}", "TIFF", bidx=1))
            for i in range(n // 512)
            for j in range(n // 512)
        )
    with open(path, "r+b") as f:
        f.truncate(first)
    with rasterio.open(path) as ds, pytest.raises(rasterio.errors.RasterioError):
        ds.read(1, window=((0, 512), (0, 512)))
    out = tmp_path / "big.png"
    assert run(["preview", str(path), "-o", str(out), "-q"]) == 0
    small = read_decimated(path, max_size=1024)
    expected = (np.arange(1024)[:, None] // 64 + np.arange(1024)[None, :] // 64) % 4
    np.testing.assert_array_equal(small, expected)
    rgba = np.round(plt.imread(out) * 255).astype(int)
    colours = {tuple(int(v) for v in px) for px in rgba.reshape(-1, 4) if px[3] == 255}
    assert {LANDCOVER.colormap[c] for c in (1, 2, 3)} <= colours


def test_preview_command(tmp_path, capsys):
    data = np.ones((600, 700), np.uint8)
    path = tmp_path / "m.tif"
    write_mask(as_mask(data), path)
    out = tmp_path / "p.png"
    assert run(["preview", str(path), "-o", str(out), "--max-size", "200"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(["preview", str(path), "-o", str(out)]) == 2  # exists, no --overwrite
    assert run(["preview", str(tmp_path / "none.tif"), "-o", str(tmp_path / "q.png")]) == 2
    err = capsys.readouterr().err
    assert "none.tif: no such file" in err


def test_preview_command_uses_the_scheme_the_mask_records(tmp_path, monkeypatch):
    import landmask.viz.plot
    import landmask.viz.preview

    data = np.full((300, 400), 40, np.uint8)  # worldcover cropland; no class in landcover
    data[:, 200:] = 80  # permanent water
    data[:50, :50] = 255
    path = tmp_path / "wc.tif"
    write_mask(as_mask(data), path, scheme=WORLDCOVER)
    drawn = []
    real = landmask.viz.plot.mask_image

    def spy(values, scheme=None, ax=None, **kwargs):
        ax = real(values, scheme, ax, **kwargs)
        drawn.append((scheme, [t.get_text() for t in ax.get_legend().get_texts()]))
        return ax

    monkeypatch.setattr(landmask.viz.preview, "mask_image", spy)  # where preview calls it
    out = tmp_path / "wc.png"
    assert run(["preview", str(path), "-o", str(out), "-q"]) == 0
    assert drawn == [(WORLDCOVER, ["cropland", "permanent_water_bodies"])]
    rgba = np.round(plt.imread(out) * 255).astype(int)
    colours = {tuple(int(v) for v in px) for px in rgba.reshape(-1, 4) if px[3] == 255}
    assert (0xF0, 0x96, 0xFF, 255) in colours  # cropland, in the map and the legend
    assert (0x00, 0x64, 0xC8, 255) in colours  # water


def test_preview_scheme_option_overrides_the_scheme_the_file_records(tmp_path, monkeypatch):
    import landmask.viz.plot
    import landmask.viz.preview

    data = np.full((300, 400), 80, np.uint8)  # water in worldcover; no landcover class
    path = tmp_path / "esa.tif"
    write_mask(as_mask(data), path, colormap=False)
    drawn = []
    real = landmask.viz.plot.mask_image

    def spy(values, scheme=None, ax=None, **kwargs):
        drawn.append(scheme)
        return real(values, scheme, ax, **kwargs)

    monkeypatch.setattr(landmask.viz.preview, "mask_image", spy)  # where preview calls it
    args = ["preview", str(path), "-o", str(tmp_path / "a.png"), "-q"]
    assert run([*args, "--scheme", "worldcover"]) == 0
    assert drawn == [WORLDCOVER]
    assert run([*args, "--overwrite", "--scheme", "nonsense"]) == 2
