"""Bad input on the command line: exit status 2 and one clear line on stderr.

Every case checks the whole contract of README "Command reference" and DESIGN
"Errors": status 2, exactly one line on stderr naming the file (or option) and
the problem, no traceback (``--debug`` shows one), nothing on stdout, no output
and no temporary file left behind (hidden ``.mask.tif.*.tmp`` / ``.part.tif``
included), and every input byte-for-byte untouched.

The CLI runs in-process through :func:`landmask.cli.run`. Under pytest, log
records and warnings do not reach ``capsys``, while in a real run they are
printed on stderr (``run`` installs a stderr logging handler, Python prints
warnings); conftest's :func:`invoke` therefore counts them as stderr lines too.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from conftest import TRANSFORM, UTM33, invoke, sha256
from conftest import assert_one_line as assert_one_line  # test files in flight import it here
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from landmask.synthetic import S2_BAND_IDS, to_dn

S2 = ("--sensor", "sentinel2-l2a")
NO_SWIR = ("--band", "blue=1", "--band", "green=2", "--band", "red=3", "--band", "nir=4")


#: a mask and its GIS styling (landmask.styling)
MASK_FILES = ["mask.qml", "mask.tif", "mask.tif.aux.xml", "mask.tif.stac.json"]


def listing(folder: Path) -> list[str]:
    """The names in ``folder``, hidden ones included."""
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------- input files


def test_missing_input_file(cli, tmp_path, out_dir):
    missing = tmp_path / "nope.tif"
    cli(["classify", missing, *S2, "-o", out_dir / "mask.tif"], str(missing), "no such file")


def test_corrupt_input_file(cli, tmp_path, out_dir):
    bogus = tmp_path / "x.tif"
    bogus.write_text("this is not a GeoTIFF\n")
    cli(
        ["classify", bogus, *S2, "-o", out_dir / "mask.tif"],
        str(bogus),
        pattern=r"cannot open|not a raster|corrupt|not recognized",
    )


@pytest.fixture
def truncated_tiff(tmp_path: Path, s2_file: Path) -> Path:
    """A tiled DEFLATE GeoTIFF (directory first) cut to 60 % of its size."""
    path = tmp_path / "truncated.tif"
    rasterio.shutil.copy(
        s2_file, path, driver="GTiff", TILED="YES", BLOCKXSIZE=64, BLOCKYSIZE=64, COMPRESS="DEFLATE"
    )
    with open(path, "r+b") as f:
        f.truncate(int(path.stat().st_size * 0.6))
    with rasterio.open(path) as ds:  # opening still works: the failure comes while reading
        assert ds.count == 6
    s2_file.unlink()
    return path


@pytest.mark.parametrize("command", ["classify", "indices"])
def test_truncated_tiff_fails_while_computing(cli, truncated_tiff, out_dir, command):
    extra = ["--index", "ndvi"] if command == "indices" else []
    err = cli(
        # small chunks: most blocks read fine; the temporary GeoTIFF already
        # exists when the read of a block past the cut fails
        [command, truncated_tiff, *S2, *extra, "--chunk-size", "64", "-o", out_dir / "out.tif"],
        str(truncated_tiff),
        pattern=r"read|corrupt|truncat",
    )
    # the line is all the user sees: it must not point to an exception that is not shown
    assert "previous exception" not in err, err


# --------------------------------------------------------------------- bands


def test_band_needed_by_rules_missing(cli, s2_file, out_dir):
    # without --rules a scene without SWIR gets the naip rules; default needs swir16
    cli(
        ["classify", s2_file, *NO_SWIR, "--rules", "default", "-o", out_dir / "mask.tif"],
        str(s2_file),
        "swir16",
    )


def test_band_number_out_of_range(cli, s2_file, out_dir):
    cli(
        ["classify", s2_file, *NO_SWIR, "--band", "swir16=9", "-o", out_dir / "mask.tif"],
        "--band swir16=9",
        "out of range",
    )


def test_band_option_malformed(cli, s2_file, out_dir):
    cli(
        ["classify", s2_file, "--band", "red", "-o", out_dir / "mask.tif"],
        "--band",
        "'red'",
        "NAME=N",
    )


# ---------------------------------------------------------------------- grids


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        pytest.param(
            {"transform": TRANSFORM @ Affine.translation(3, 0)}, "transform", id="transform"
        ),
        pytest.param({"shape": (290, 340)}, "size", id="size"),
        pytest.param({"crs": CRS.from_epsg(32634)}, "CRS", id="crs"),
    ],
)
def test_inputs_on_different_grids(cli, raster, s2_band_files, out_dir, kwargs, word):
    odd = s2_band_files[4]  # B11 (swir16)
    with rasterio.open(odd) as ds:
        data = ds.read(1)
    kwargs = dict(kwargs)
    height, width = kwargs.pop("shape", data.shape)
    raster(odd.name, data[:height, :width], nodata=0, **kwargs)
    cli(
        ["classify", *s2_band_files, *S2, "-o", out_dir / "mask.tif"],
        str(odd),
        str(s2_band_files[0]),
        word,
        pattern="grid",
    )


def test_unknown_sensor(cli, s2_file, out_dir):
    cli(
        ["classify", s2_file, "--sensor", "modis", "-o", out_dir / "mask.tif"],
        "--sensor modis",
        "unknown sensor",
    )


# ---------------------------------------------------------------------- rules

WATER = "  - class: water\n    when: mndwi > 0.2 and ndvi < 0.1\n"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param(
            "name: bad\nrules:\n" + WATER + "  - class: forest\n    when: 'ndvi > 0.7\n",
            ("YAML",),
            id="invalid-yaml",
        ),
        pytest.param(
            "rules:\n" + WATER + "  - class: forest\n    when: ndxi > 0.7\n",
            ("rule 2", "'ndxi'"),
            id="unknown-index",
        ),
        pytest.param(
            "rules:\n" + WATER + "  - class: lake\n    when: ndvi < 0\n",
            ("rule 2", "'lake'"),
            id="unknown-class",
        ),
    ],
)
def test_bad_rules_file(cli, tmp_path, s2_file, out_dir, text, needles):
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    cli(
        ["classify", s2_file, *S2, "--rules", rules, "-o", out_dir / "mask.tif"],
        str(rules),
        *needles,
    )


def test_unsafe_rule_expression_is_refused_not_run(cli, tmp_path, s2_file, out_dir):
    pwned = tmp_path / "pwned"
    rules = tmp_path / "rules.yaml"
    when = f"__import__('os').system('touch {pwned}') or ndvi > 0.7"
    rules.write_text("rules:\n" + WATER + f'  - class: forest\n    when: "{when}"\n')
    cli(
        ["classify", s2_file, *S2, "--rules", rules, "-o", out_dir / "mask.tif"],
        str(rules),
        "rule 2",
        pattern="__import__|unexpected|unknown function",
    )
    assert not pwned.exists()


def test_missing_rules_file(cli, tmp_path, s2_file, out_dir):
    rules = tmp_path / "missing.yaml"
    cli(
        ["classify", s2_file, *S2, "--rules", rules, "-o", out_dir / "mask.tif"],
        str(rules),
        "no such",
    )


# --------------------------------------------------------------------- output


def test_existing_output_needs_overwrite(cli, s2_file, out_dir, capsys, caplog):
    output = out_dir / "mask.tif"
    output.write_bytes(b"an earlier mask")
    cli(["classify", s2_file, *S2, "-o", output], str(output), "exists", "--overwrite")

    before = sha256(s2_file)
    res = invoke(["classify", s2_file, *S2, "-o", output, "--overwrite", "-q"], capsys, caplog)
    assert (res.code, res.err) == (0, ""), res.err
    assert listing(out_dir) == MASK_FILES
    assert sha256(s2_file) == before
    with rasterio.open(output) as ds, rasterio.open(s2_file) as src:
        assert ds.dtypes == ("uint8",)
        assert (ds.width, ds.height) == (src.width, src.height)
        assert (ds.crs, ds.transform) == (src.crs, src.transform)
        classes = set(np.unique(ds.read(1)).tolist())
    assert classes <= {0, 1, 2, 3, 255}
    assert classes & {1, 2, 3}  # a real classification replaced the old bytes


def test_missing_output_folder(cli, tmp_path, s2_file):
    folder = tmp_path / "no-such-folder"
    cli(["classify", s2_file, *S2, "-o", folder / "mask.tif"], str(folder), "does not exist")
    assert not folder.exists()


# ----------------------------------------------------------------- processing


def test_unreachable_scheduler(cli, s2_file, out_dir, monkeypatch):
    # a refused connection fails at once: the probe's "Connection refused", without ever
    # starting a distributed Client (which would wait out its 10 s connect timeout)
    import distributed

    def no_client(*args, **kwargs):
        raise AssertionError("a distributed Client was started for a refused address")

    monkeypatch.setattr(distributed, "Client", no_client)
    address = "tcp://127.0.0.1:1"
    cli(
        ["classify", s2_file, *S2, "--scheduler", address, "-o", out_dir / "mask.tif"],
        address,
        "refused",
        pattern="reach|connect",
    )


def test_invalid_scheduler_spec(cli, s2_file, out_dir):
    cli(
        ["classify", s2_file, *S2, "--scheduler", "bogus", "-o", out_dir / "mask.tif"],
        "--scheduler",
        "bogus",
    )


@pytest.mark.parametrize("size", ["0", "-5"])
def test_non_positive_chunk_size(cli, s2_file, out_dir, size):
    cli(
        ["classify", s2_file, *S2, "--chunk-size", size, "-o", out_dir / "mask.tif"],
        size,
        pattern=r"chunk[- ]size.*positive|positive.*chunk[- ]size",
    )


# ------------------------------------------------------------ georeferencing


@pytest.fixture
def ungeoreferenced(raster, synthetic_small) -> Path:
    dn = to_dn(synthetic_small.reflectance)
    return raster("plain.tif", dn, crs=None, transform=None, nodata=0, descriptions=S2_BAND_IDS)


def test_ungeoreferenced_refused(cli, ungeoreferenced, out_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(ungeoreferenced) as ds:
            assert (ds.crs, ds.transform) == (None, Affine.identity())
    cli(
        ["classify", ungeoreferenced, *S2, "-o", out_dir / "mask.tif"],
        str(ungeoreferenced),
        "--allow-ungeoreferenced",
        pattern="georeferenc",
    )


def test_ungeoreferenced_accepted_with_flag(ungeoreferenced, out_dir, capsys, caplog):
    before = sha256(ungeoreferenced)
    output = out_dir / "mask.tif"
    argv = ["classify", ungeoreferenced, *S2, "--allow-ungeoreferenced", "-q", "-o", output]
    res = invoke(argv, capsys, caplog)
    assert res.code == 0, res.err
    assert res.err == ""
    assert listing(out_dir) == MASK_FILES
    assert sha256(ungeoreferenced) == before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(output) as ds:
            assert ds.crs is None
            assert ds.read(1).shape == (300, 340)


# ------------------------------------------------------- not an error: nodata


def test_all_nodata_scene_gives_all_nodata_mask(raster, out_dir, capsys, caplog):
    scene = raster(
        "empty.tif", np.zeros((6, 64, 80), np.uint16), nodata=0, descriptions=S2_BAND_IDS
    )
    before = sha256(scene)
    output = out_dir / "mask.tif"
    res = invoke(["classify", scene, *S2, "-o", output], capsys, caplog)  # with the summary
    assert res.code == 0, res.err
    # issue 19's contract for an empty scene: exit 0 and exactly one warning line
    assert res.err.count("\n") == 1 and res.err.startswith("landmask: warning: no pixel")
    assert "all 5,120 are nodata" in res.err
    assert str(output) in res.out
    assert listing(out_dir) == MASK_FILES
    assert sha256(scene) == before
    with rasterio.open(output) as ds:
        mask = ds.read(1)
        assert ds.nodata == 255
        assert (ds.crs, ds.transform) == (UTM33, TRANSFORM)
    assert mask.shape == (64, 80)
    assert (mask == 255).all()


# ------------------------------------------------------------------- indices


def test_indices_unknown_index(cli, s2_file, out_dir):
    cli(
        ["indices", s2_file, *S2, "--index", "ndvi", "--index", "nbdi", "-o", out_dir / "i.tif"],
        "'nbdi'",
        pattern="unknown index|--index",
    )


def test_indices_index_needs_missing_band(cli, s2_file, out_dir):
    cli(
        ["indices", s2_file, *NO_SWIR, "--index", "mndwi", "-o", out_dir / "i.tif"],
        str(s2_file),
        "swir16",
        "mndwi",
    )


# ---------------------------------------------------------------------- demo


def test_demo_refuses_existing_files(cli, tmp_path, capsys, caplog):
    folder = tmp_path / "demo"
    res = invoke(["demo", "-o", folder, "--size", "64", "-q"], capsys, caplog)
    assert res.code == 0, res.err
    assert {"scene.tif", "truth.tif", "mask.tif", "mask.png"} <= set(listing(folder))
    cli(
        ["demo", "-o", folder, "--size", "64", "-q"],
        str(folder / "scene.tif"),
        "exists",
        "--overwrite",
    )


# ---------------------------------------------------------------------- debug


@pytest.mark.parametrize("case", ["missing-input", "malformed-band"])
def test_debug_shows_traceback(tmp_path, s2_file, out_dir, capsys, caplog, case):
    missing = tmp_path / "nope.tif"
    if case == "missing-input":
        argv, needle = ["classify", missing, *S2], str(missing)
    else:
        argv, needle = ["classify", s2_file, "--band", "red"], "--band"
    output = out_dir / "mask.tif"
    res = invoke([*argv, "-o", output, "--debug"], capsys, caplog)
    assert res.code == 2, res.err
    assert "Traceback (most recent call last)" in res.err
    last = res.err.strip().splitlines()[-1]
    assert last.startswith("landmask"), last
    assert needle in last
    assert listing(out_dir) == []
