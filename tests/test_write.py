import dask.array as da
import numpy as np
import pytest
import rasterio
from conftest import TRANSFORM, UTM33, as_mask
from rasterio.crs import CRS

from landmask.classes import LANDCOVER
from landmask.errors import ConfigError, InputError, OutputExistsError
from landmask.io.read.scene import open_scene
from landmask.io.write.rasters import write_indices, write_mask
from landmask.spectral.indices import compute_indices

ODD_CRS = CRS.from_wkt(
    'PROJCS["custom LAEA",GEOGCS["WGS 84",'
    'DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Lambert_Azimuthal_Equal_Area"],'
    'PARAMETER["latitude_of_center",52.1],PARAMETER["longitude_of_center",10.3],'
    'PARAMETER["false_easting",4321000],PARAMETER["false_northing",3210000],UNIT["metre",1]]'
)


def test_mask_is_a_valid_cog_with_colours_names_and_exact_georeferencing(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.choice(np.array([0, 1, 2, 3, 255], np.uint8), size=(1300, 1100))
    odd = TRANSFORM @ rasterio.Affine.translation(0.123456789, -0.5)
    out = tmp_path / "m.tif"
    result = write_mask(as_mask(data, transform=odd, crs=ODD_CRS), out)
    assert result.path == out
    with rasterio.open(out) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.compression == rasterio.enums.Compression.deflate
        assert ds.block_shapes == [(512, 512)]
        assert ds.overviews(1) == [2, 4]
        assert ds.nodata == 255 and ds.dtypes == ("uint8",)
        assert ds.transform == odd
        assert ds.crs == ODD_CRS
        assert ds.colormap(1)[1] == (0, 100, 0, 255)
        assert ds.colormap(1)[2] == (250, 0, 0, 255)
        assert ds.colormap(1)[3] == (0, 100, 200, 255)
        assert ds.colormap(1)[255][3] == 0
        tags = ds.tags()
        assert {tags[f"CLASS_{c.id}"] for c in LANDCOVER} == {c.name for c in LANDCOVER}
        np.testing.assert_array_equal(ds.read(1), data)
    ids, counts = np.unique(data, return_counts=True)
    assert result.counts == dict(zip(ids.tolist(), counts.tolist(), strict=True))


@pytest.mark.parametrize("extra", [None, 77, 254])
def test_counts_include_values_outside_the_scheme(tmp_path, extra):
    rng = np.random.default_rng(1)
    data = rng.choice(np.array([0, 1, 3, 255], np.uint8), size=(700, 900))
    if extra is not None:
        data[333:340, 5:9] = extra  # in one chunk only
    result = write_mask(as_mask(data, chunks=256), tmp_path / "m.tif")
    ids, counts = np.unique(data, return_counts=True)
    assert result.counts == dict(zip(ids.tolist(), counts.tolist(), strict=True))


def test_overviews_take_the_most_frequent_class(tmp_path):
    # every 2x2 cell holds three 1s and one 3: mode is 1, an average would be 1.5
    cell = np.array([[1, 1], [1, 3]], np.uint8)
    data = np.tile(cell, (600, 600))
    out = tmp_path / "m.tif"
    write_mask(as_mask(data), out)
    with rasterio.open(out, overview_level=0) as ov:
        assert ov.shape == (600, 600)
        assert (ov.read(1) == 1).all()


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "m.tif"
    out.write_bytes(b"old")
    mask = as_mask(np.zeros((10, 10), np.uint8))
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_mask(mask, out)
    assert out.read_bytes() == b"old"
    write_mask(mask, out, overwrite=True)
    with rasterio.open(out) as ds:
        assert ds.read(1).sum() == 0


def test_missing_folder_and_non_mask(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        write_mask(as_mask(np.zeros((4, 4), np.uint8)), tmp_path / "nope" / "m.tif")
    with pytest.raises(InputError, match=r"write_mask: not a mask .*got 2-D float32"):
        write_mask(as_mask(np.zeros((4, 4), np.float32)), tmp_path / "m.tif")


def _fail_one_block(block, block_info=None):
    if block_info is not None and block_info[0]["chunk-location"] == (1, 1):
        raise RuntimeError("disk on fire")
    return block


def test_failed_write_leaves_nothing_and_keeps_the_old_output(tmp_path):
    good = np.zeros((1024, 1024), np.uint8)
    arr = da.from_array(good, chunks=512)
    failing = arr.map_blocks(_fail_one_block, dtype=np.uint8)
    out = tmp_path / "m.tif"
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_mask(as_mask(failing), out)
    assert list(tmp_path.iterdir()) == []
    out.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        write_mask(as_mask(failing), out, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["m.tif"]
    assert out.read_bytes() == b"previous"


def test_indices_written_as_float32_with_descriptions(s2_file, tmp_path):
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=128)
    ds_idx = compute_indices(scene, ["ndvi", "mndwi"])
    out = tmp_path / "idx.tif"
    write_indices(ds_idx, out)
    with rasterio.open(out) as ds:
        assert ds.count == 2 and ds.dtypes == ("float32", "float32")
        assert ds.descriptions == ("ndvi", "mndwi")
        assert np.isnan(ds.nodata)
        assert ds.crs == UTM33 and ds.transform == TRANSFORM
        np.testing.assert_array_equal(ds.read(1), ds_idx["ndvi"].values)
        np.testing.assert_array_equal(ds.read(2), ds_idx["mndwi"].values)
