"""Scene-wide statistics in rules: percentile(x, P), dark(x), otsu(x) on float bins; an
all-nodata scene gives an all-nodata mask with one warning; implausible values warn.

Percentiles are checked against numpy's percentile of the same pixels (within one bin
width) and the chunked histogram against the whole array's, for random misaligned chunks.
"""

from __future__ import annotations

import json
import math
import warnings
from itertools import pairwise

import dask
import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml
from conftest import TRANSFORM, UTM33, as_scene, write_raster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_focal import reference

from landmask.classes import NODATA
from landmask.classification.classify import classify
from landmask.cli import run
from landmask.errors import RuleError, StatisticWarning
from landmask.io.stac.items import item_path
from landmask.io.statistic_tags import describe_statistic
from landmask.spectral.rules import load_rules
from landmask.spectral.thresholds import (
    DARK_PERCENTILE,
    bin_edges,
    compute_statistics,
    float_bin_edges,
    histogram,
    histogram_block,
    otsu,
    percentile,
    resolve_thresholds,
    statistic_reach,
)
from landmask.synthetic import S2_BAND_IDS

SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
#: whole classify graphs with 1-px chunks cost ~0.5 s an example: fewer of them
GRAPH_SETTINGS = settings(SETTINGS, max_examples=8)
BANDS = ["red", "nir"]


def bin_width_at(value: float) -> float:
    edges = float_bin_edges()
    b = int(np.clip(np.searchsorted(edges, value, side="right") - 1, 0, len(edges) - 2))
    return float(edges[b + 1] - edges[b])


@st.composite
def samples(draw: st.DrawFn) -> np.ndarray:
    """Values of very different scales and signs (reflectance, DN, indices), some NaN."""
    seed = draw(st.integers(0, 2**16))
    h, w = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["reflectance", "dn", "index", "signed-large"]))
    if kind == "reflectance":
        values = rng.gamma(2.0, 0.05, (h, w))
    elif kind == "dn":
        values = rng.integers(0, 256, (h, w)).astype(float)
    elif kind == "index":
        values = rng.uniform(-1, 1, (h, w))
    else:
        values = rng.normal(-200, 3000, (h, w))
    values = values.astype(np.float32)
    values[rng.random(values.shape) < draw(st.sampled_from([0.0, 0.1, 0.5]))] = np.nan
    return values


@SETTINGS
@given(data=st.data(), values=samples(), q=st.floats(0, 100))
def test_percentile_is_chunk_invariant_and_within_a_bin_of_numpy(data, values, q):
    h, w = values.shape
    chunks = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    whole = histogram_block(values)[0, 0]
    chunked = histogram(da.from_array(values, chunks=chunks)).compute()
    np.testing.assert_array_equal(chunked, whole)
    finite = values[np.isfinite(values)]
    assert whole.sum() == finite.size
    if not finite.size:
        with pytest.raises(ValueError, match="empty"):
            percentile(whole, float_bin_edges(), q)
        return
    got = percentile(whole, float_bin_edges(), q)
    want = float(np.percentile(finite.astype(np.float64), q))
    # the two ranks numpy interpolates between are each placed within their bin
    low, high = np.sort(finite)[[int(np.floor((finite.size - 1) * q / 100)), -1]]
    tolerance = max(bin_width_at(float(low)), bin_width_at(want), bin_width_at(float(high)))
    assert abs(got - want) <= tolerance * 1.0001


def _scene(values: np.ndarray, chunks: tuple[int, int] | int) -> xr.DataArray:
    return as_scene(values, BANDS, chunks)


DOS_RULES = {
    "name": "dos",
    "rules": [
        {"class": "water", "when": "nir - dark(nir) < 0.3 * (percentile(nir, 50) - dark(nir))"},
        {"class": "forest", "when": "ndvi > otsu(ndvi) and red < percentile(red, 75)"},
        {"class": "urban", "when": "focal_std(red - dark(red), 1) > percentile(red, 90) / 10"},
    ],
}


@pytest.mark.filterwarnings("ignore::landmask.errors.StatisticWarning")
@GRAPH_SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16), h=st.integers(2, 12), w=st.integers(2, 12))
def test_statistics_and_mask_are_the_same_for_any_chunking_and_scheduler(data, seed, h, w):
    rng = np.random.default_rng(seed)
    values = (rng.random((2, h, w)) * 200 + 20).astype(np.float32)  # DN-like, any scale
    values[rng.random(values.shape) < 0.1] = np.nan
    chunks = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    rules = load_rules(DOS_RULES)
    want = resolve_thresholds(_scene(values, -1), rules)
    with dask.config.set(scheduler=data.draw(st.sampled_from(["threads", "synchronous"]))):
        got = resolve_thresholds(_scene(values, chunks), rules)
        mask = classify(_scene(values, chunks), rules=DOS_RULES)
        assert mask.values.tolist() == classify(_scene(values, -1), rules=DOS_RULES).values.tolist()
    assert got.thresholds == want.thresholds
    found = dict(got.thresholds)
    assert set(found) == {
        "dark(nir)", "percentile(nir, 50)", "otsu(ndvi)", "percentile(red, 75)", "dark(red)",
        "percentile(red, 90)",
    }  # fmt: skip
    nir = values[1][np.isfinite(values[1])]
    assert found["dark(nir)"] == pytest.approx(np.percentile(nir, DARK_PERCENTILE), rel=2e-3)
    assert found["percentile(nir, 50)"] == pytest.approx(np.percentile(nir, 50), rel=2e-3)
    assert mask.attrs["THRESHOLD_dark(red)"] == found["dark(red)"]


def test_dark_object_subtraction_makes_a_rule_independent_of_path_radiance():
    rng = np.random.default_rng(5)
    red = rng.gamma(2.0, 0.04, (40, 50)).astype(np.float32)
    nir = (red * rng.uniform(0.5, 4.0, red.shape)).astype(np.float32)
    rules = {
        "name": "dos",
        "rules": [{"class": "forest", "when": "nir - dark(nir) > 2 * (red - dark(red))"}],
    }
    plain = classify(_scene(np.stack([red, nir]), (16, 16)), rules=rules).values
    hazy = classify(_scene(np.stack([red + 0.08, nir + 0.03]), (16, 16)), rules=rules)
    # haze shifts every pixel of a band alike: the dark object takes it away again
    assert (hazy.values == plain).mean() > 0.99
    assert hazy.attrs["THRESHOLD_dark(red)"] == pytest.approx(
        np.percentile(red + np.float32(0.08), 1), abs=bin_width_at(0.1)
    )


def test_an_all_nodata_scene_gives_an_all_nodata_mask_and_one_warning(tmp_path, capsys):
    empty = write_raster(tmp_path / "empty.tif", np.zeros((4, 20, 30), np.uint16), nodata=0)
    out = tmp_path / "mask.tif"
    code = run(["classify", str(empty), "--sensor", "naip", "--rules", "naip", "-o", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "valid pixel" in line]
    assert len(lines) == 1, err
    assert "otsu(ndvi) has no valid pixel" in lines[0] and "all nodata" in lines[0]
    with rasterio.open(out) as ds:
        assert (ds.read(1) == NODATA).all()
        assert np.isnan(float(ds.tags()["THRESHOLD_otsu(ndvi)"]))
    item = json.loads(item_path(out).read_text())
    assert item["properties"]["landmask:statistics"] == {"otsu(ndvi)": None}


def test_a_run_does_not_fail_a_scene_outside_the_swath(tmp_path, synthetic_small):
    from landmask.synthetic import to_dn

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    dn = to_dn(synthetic_small.reflectance)[:, :60, :70]
    write_raster(scenes / "a.tif", dn, nodata=0, descriptions=S2_BAND_IDS)
    write_raster(scenes / "b.tif", np.zeros_like(dn), nodata=0, descriptions=S2_BAND_IDS)
    doc = {
        "name": "swath",
        "inputs": "scenes/*.tif",
        "sensor": "sentinel2-l2a",
        "classifier": {"rules": str(tmp_path / "auto.yaml")},
        "outputs": {"dir": "out", "mask": "{stem}_mask.tif"},
    }
    (tmp_path / "auto.yaml").write_text(
        "rules:\n  - class: water\n    when: mndwi > otsu(mndwi) and nir < percentile(nir, 20)\n"
    )
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticWarning)
        assert run(["run", str(tmp_path / "job.yaml")]) == 0
    summary = json.loads((tmp_path / "out" / "run-summary.json").read_text())
    by_scene = {s["scene"]: s for s in summary["scenes"]}
    assert {s["status"] for s in by_scene.values()} == {"done"}
    assert by_scene["b"]["statistics"] == {"otsu(mndwi)": None, "percentile(nir, 20)": None}
    a = by_scene["a"]["statistics"]
    with rasterio.open(tmp_path / "out" / "a_mask.tif") as ds:
        assert float(ds.tags()["THRESHOLD_percentile(nir, 20)"]) == a["percentile(nir, 20)"]
    with rasterio.open(tmp_path / "out" / "b_mask.tif") as ds:
        assert (ds.read(1) == NODATA).all()


def _with_ndvi(ndvi: np.ndarray) -> np.ndarray:
    red = np.full(ndvi.shape, 0.1, np.float32)
    return np.stack([red, (red * (1 + ndvi) / (1 - ndvi)).astype(np.float32)])


def test_an_implausible_split_warns_with_its_value():
    rng = np.random.default_rng(2)
    # water (NDVI about -0.4) and bare soil (about 0.05), no vegetation: the split falls below 0
    bare = np.where(rng.random((30, 30)) < 0.5, -0.4, 0.05) + rng.normal(0, 0.03, (30, 30))
    rules = load_rules({"rules": [{"class": "forest", "when": "ndvi > otsu(ndvi)"}]})
    with pytest.warns(StatisticWarning, match=r"otsu\(ndvi\) = -0\.\d{4} is outside the plausible"):
        bound = resolve_thresholds(_scene(_with_ndvi(bare), (7, 11)), rules)
    assert -0.4 < dict(bound.thresholds)["otsu(ndvi)"] < 0
    green = np.where(rng.random((30, 30)) < 0.5, 0.7, 0.1) + rng.normal(0, 0.03, (30, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StatisticWarning)  # soil and vegetation: no warning
        bound = resolve_thresholds(_scene(_with_ndvi(green), (7, 11)), rules)
    assert 0.1 < dict(bound.thresholds)["otsu(ndvi)"] < 0.7


def test_a_normalized_difference_outside_its_range_warns():
    values = np.stack([np.full((8, 8), -0.05, np.float32), np.full((8, 8), 0.2, np.float32)])
    rules = load_rules({"rules": [{"class": "forest", "when": "ndvi > percentile(ndvi, 50)"}]})
    with pytest.warns(
        StatisticWarning, match=r"percentile\(ndvi, 50\) = 1\.6\d* is outside \[-1, 1\]"
    ):
        resolve_thresholds(_scene(values, (4, 4)), rules)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("red > percentile(red)", r"percentile\(\) at column 7 takes two arguments"),
        ("red > percentile(red, 101)", "P = 101 is out of range"),
        ("red > percentile(red, -1)", "P = -1 is out of range"),
        ("red > percentile(red, 10 * 2)", "P must be a number written out"),
        ("red > percentile(red, nir)", "P must be a number written out"),
        ("red > dark(red, 2)", r"dark\(\) at column 7 takes one argument: dark\(EXPR\)"),
        ("red > dark(3)", "needs an index or band, not a number"),
        ("red > percentile(dark(red), 5)", "needs an index or band, not a number"),
        ("red > percentile(red where nir, 5)", "'where' at column 22 needs a comparison"),
        ("red > focal_mean(red where nir > 0, 1)", "only a scene-wide statistic is taken over"),
        ("red where nir > 0 > 1", "'where' at column 5 is allowed only inside a scene-wide"),
        ("red > median(red)", "unknown function 'median'"),
    ],
)
def test_bad_statistic_calls_are_one_line_rule_errors(text, message):
    with pytest.raises(RuleError, match=message) as err:
        load_rules({"rules": [{"class": "urban", "when": text}]})
    assert "\n" not in str(err.value)


def test_statistics_are_printed_by_classify(s2_file, tmp_path, capsys):
    rules = tmp_path / "dos.yaml"
    rules.write_text("rules:\n  - class: water\n    when: nir - dark(nir) < percentile(nir, 5)\n")
    out = tmp_path / "mask.tif"
    assert run(["classify", str(s2_file), "--sensor", "sentinel2-l2a", "--rules", str(rules),
                "-o", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    with rasterio.open(out) as ds:
        tags = ds.tags()
    dark = float(tags["THRESHOLD_dark(nir)"])
    assert f"statistic dark(nir) = {dark:.4g} (from the scene's histogram)" in printed
    assert "statistic percentile(nir, 5) = " in printed
    item = json.loads(item_path(out).read_text())
    assert item["properties"]["landmask:statistics"]["dark(nir)"] == dark


@pytest.mark.filterwarnings("ignore::landmask.errors.StatisticWarning")
@GRAPH_SETTINGS
@given(
    data=st.data(),
    seed=st.integers(0, 2**16),
    h=st.integers(2, 10),
    w=st.integers(2, 10),
    radius=st.integers(1, 3),
)
def test_statistics_of_focal_values_are_the_same_for_any_chunking(data, seed, h, w, radius):
    rng = np.random.default_rng(seed)
    values = (rng.random((2, h, w)) * 0.5).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    texture = f"focal_std(nir, {radius})"
    rules = load_rules(
        {"rules": [{"class": "urban", "when": f"{texture} > percentile({texture}, 80)"},
                   {"class": "forest", "when": "focal_mean(ndvi, 1) > otsu(focal_mean(ndvi, 1))"}]}
    )  # fmt: skip
    chunks = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    want = resolve_thresholds(_scene(values, -1), rules)
    got = resolve_thresholds(_scene(values, chunks), rules)
    assert got.thresholds == want.thresholds
    assert got.reach == rules.reach == max(radius, 1)  # the statistics themselves reach nothing
    # the percentile is that of the whole array's focal values (scipy/numpy, see test_focal)
    stds = reference(values[1], radius, "focal_std")
    stds = stds[np.isfinite(stds)]
    found = dict(got.thresholds)[f"percentile({texture}, 80)"]
    if stds.size:
        want_p = float(np.percentile(stds, 80))
        assert abs(found - want_p) <= 2 * bin_width_at(want_p) + 1e-6
    mask = classify(_scene(values, chunks), rules=rules).values
    np.testing.assert_array_equal(mask, classify(_scene(values, -1), rules=rules).values)


def test_statistics_leave_out_what_the_quality_band_calls_cloud():
    rng = np.random.default_rng(8)
    h, w = 30, 40
    red = rng.gamma(2.0, 0.04, (h, w)).astype(np.float32)
    nir = (red * rng.uniform(0.8, 5.0, (h, w))).astype(np.float32)
    scl = np.full((h, w), 4, np.float32)  # vegetation: clear
    scl[:, :15] = 9  # cloud, high probability: bright and flat
    red[:, :15] += 0.5
    nir[:, :15] += 0.5
    values = np.stack([red, nir, scl])
    coords = {
        "y": TRANSFORM.f + TRANSFORM.e * (np.arange(h) + 0.5),
        "x": TRANSFORM.c + TRANSFORM.a * (np.arange(w) + 0.5),
        "band": ["red", "nir", "scl"],
    }
    scene = xr.DataArray(
        da.from_array(values, chunks=(3, 16, 16)), dims=("band", "y", "x"), coords=coords
    ).rio.write_crs(UTM33)
    rules = {"rules": [{"class": "forest", "when": "red < percentile(red, 50)"}]}
    mask = classify(scene, rules=rules)
    clear = red[:, 15:]
    assert mask.attrs["THRESHOLD_percentile(red, 50)"] == pytest.approx(
        np.percentile(clear, 50), abs=bin_width_at(float(np.percentile(clear, 50)))
    )
    # without the quality band the clouds count, and the median moves up
    unseen = classify(scene.sel(band=["red", "nir"]), rules=rules)
    assert unseen.attrs["THRESHOLD_percentile(red, 50)"] > np.percentile(clear, 75)


@SETTINGS
@given(values=samples(), bins=st.sampled_from([4, 2000, 777]), top=st.sampled_from([1.0, 3.7]))
def test_linear_bins_are_those_of_a_binary_search(values, bins, top):
    from landmask.spectral.thresholds import bin_edges

    edges = bin_edges(-1.0, top, bins)
    finite = values[np.isfinite(values)]
    # the edges themselves and their float32 neighbours are where rounding could miss
    probe = np.concatenate(
        [finite, edges.astype(np.float32), np.nextafter(edges.astype(np.float32), 9)]
    )
    want = np.clip(np.searchsorted(edges, probe, side="right") - 1, 0, bins - 1)
    got = histogram_block(probe, edges)[0, 0]
    np.testing.assert_array_equal(got, np.bincount(want, minlength=bins))


def _land(rng: np.random.Generator, n: int) -> np.ndarray:
    """NIR of land: a skewed distribution whose dark tail (shadow) thins out smoothly to 0."""
    return rng.gamma(3.0, 0.08, n)


def _below(values: np.ndarray, rules_text: str = "nir < valley(nir)") -> np.ndarray:
    """Pixels where ``rules_text`` holds, ``values`` being NIR of a one-row scene."""
    nir = values.astype(np.float32)[None, None, :]
    scene = as_scene(np.concatenate([np.full_like(nir, 0.05), nir]), BANDS, -1)
    mask = classify(scene, rules={"rules": [{"class": "water", "when": rules_text}]}).values[0]
    return mask == 3


@pytest.mark.parametrize("water_share", [0.004, 0.013, 0.15, 0.6])
def test_valley_finds_a_separate_dark_cluster(water_share):
    rng = np.random.default_rng(11)
    n = 40_000
    water = rng.random(n) < water_share
    nir = np.where(water, rng.normal(0.02, 0.004, n), 0.12 + _land(rng, n))
    below = _below(nir)
    # the water cluster (0.00-0.04) and land (0.12 and up) are apart: the cut is between
    np.testing.assert_array_equal(below, water)
    cut = classify(as_scene(np.stack([nir, nir]).astype(np.float32)[:, None, :], BANDS),
                   rules={"rules": [{"class": "water", "when": "nir < valley(nir)"}]}
                   ).attrs["THRESHOLD_valley(nir)"]  # fmt: skip
    assert nir[water].max() < cut < nir[~water].min()


@pytest.mark.parametrize("n", [120, 883, 40_000])
def test_valley_of_a_water_free_scene_is_below_every_pixel(n):
    """Shadow and dark forest thin out smoothly: no cluster apart, no pixel below the valley."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        assert not _below(_land(rng, n)).any(), seed
        # nor when the dark end is clipped (a pile-up on one value)
        assert not _below(np.maximum(_land(rng, n), 0.1)).any(), seed
        # nor when land has two modes (soil and vegetation) with a dip between
        soil = rng.random(n) < 0.4
        two = np.where(soil, rng.normal(0.2, 0.02, n), rng.normal(0.45, 0.05, n))
        assert not _below(two).any(), seed


def test_valley_leaves_out_a_fill_value_that_is_not_nodata():
    rng = np.random.default_rng(3)
    n = 30_000
    collar = rng.random(n) < 0.1  # zeros outside the swath, not declared nodata
    land = np.where(collar, 0.0, 0.12 + _land(rng, n))
    assert not _below(land).any()
    water = ~collar & (rng.random(n) < 0.05)
    both = np.where(water, rng.normal(0.02, 0.004, n), land)
    np.testing.assert_array_equal(_below(both) & ~collar, water)


def test_valley_moves_with_a_gain_and_offset_of_the_band():
    rng = np.random.default_rng(4)
    n = 20_000
    water = rng.random(n) < 0.05
    nir = np.where(water, rng.normal(0.02, 0.004, n), 0.12 + _land(rng, n))
    for gain, offset in [(1.0, 0.0), (0.7, 0.08), (1.3, -0.01)]:
        np.testing.assert_array_equal(_below((nir + offset) * gain), water)
        # 16-bit DN of an unknown gain and path radiance: the same pixels below the valley
        np.testing.assert_array_equal(_below(np.round((nir + offset) * gain / 1e-4)), water)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16), h=st.integers(2, 30), w=st.integers(2, 30))
def test_valley_is_the_same_for_any_chunking(data, seed, h, w):
    rng = np.random.default_rng(seed)
    water = rng.random((h, w)) < data.draw(st.sampled_from([0.0, 0.1, 0.4]))
    nir = np.where(water, rng.normal(0.02, 0.004, (h, w)), 0.12 + _land(rng, h * w).reshape(h, w))
    nir[rng.random((h, w)) < 0.1] = np.nan
    values = np.stack([np.full((h, w), 0.05), nir]).astype(np.float32)
    rules = load_rules({"rules": [{"class": "water", "when": "nir < valley(nir)"}]})
    chunks = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    want = resolve_thresholds(_scene(values, -1), rules)
    assert resolve_thresholds(_scene(values, chunks), rules).thresholds == want.thresholds
    mask = classify(_scene(values, chunks), rules=rules).values
    np.testing.assert_array_equal(mask, classify(_scene(values, -1), rules=rules).values)
    # an independent count: the pixels below the bound value
    cut = dict(want.thresholds)["valley(nir)"]
    valid = np.isfinite(nir)
    np.testing.assert_array_equal(mask[valid] == 3, nir[valid] < np.float32(cut))


# Bad input with the invocation a new user types (no --rules): issue 19's contract.

_S2_IDS = ("B02", "B03", "B04", "B08", "B11", "B12")
_BANDS = [
    f"--band={b}={k}"
    for k, b in enumerate(("blue", "green", "red", "nir", "swir16", "swir22", "scl"), 1)
]


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("landmask: warning:")]


def _s2_files(raster, values: np.ndarray, scl: np.ndarray | None = None) -> list[str]:
    files = [str(raster(f"T33UUP_{b}_10m.tif", values[k], nodata=0)) for k, b in enumerate(_S2_IDS)]
    if scl is not None:
        files.append(str(raster("T33UUP_SCL_10m.tif", scl)))
    return files


@pytest.mark.parametrize(
    ("options", "rules"),
    [
        (_BANDS, "adaptive"),  # uint16 with no scale: digital numbers
        (["--sensor", "sentinel2-l2a"], "default"),  # reflectance: rules without statistics
    ],
)
@pytest.mark.parametrize("cause", ["nodata", "cloud"])
def test_an_empty_scene_gives_an_empty_mask_exit_0_and_one_warning(
    raster, tmp_path, capsys, options, rules, cause
):
    rng = np.random.default_rng(0)
    values = rng.integers(200, 4000, (6, 20, 30)).astype(np.uint16)
    scl = None
    if cause == "nodata":
        values[:] = 0  # fill everywhere: a tile outside the swath
    else:
        scl = np.full((20, 30), 9, np.uint8)  # SCL 9: cloud, high probability, everywhere
    out = tmp_path / "mask.tif"
    files = _s2_files(raster, values, scl)
    options = options if scl is not None else [o for o in options if "scl" not in o]
    assert run(["classify", *files, *options, "-o", str(out)]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert f"rules {rules} (" in captured.out
    said = [w for w in _warnings(captured.err) if "digital numbers" not in w]
    assert len(said) == 1, captured.err
    assert "no valid pixel" in said[0]
    with rasterio.open(out) as ds:
        mask = ds.read(1)
    # nothing classified: nodata, or cloud where the quality band says so
    assert set(np.unique(mask)) <= {NODATA, 254}
    assert (mask == NODATA).all() if cause == "nodata" else (mask >= 254).all()


def test_digital_numbers_are_said_once_with_the_path_taken(raster, tmp_path, capsys):
    rng = np.random.default_rng(1)
    values = rng.integers(200, 4000, (6, 20, 30)).astype(np.uint16)
    out = tmp_path / "mask.tif"
    assert run(["classify", *_s2_files(raster, values), *_BANDS[:6], "-o", str(out)]) == 0
    captured = capsys.readouterr()
    dn = [w for w in _warnings(captured.err) if "digital numbers" in w]
    assert len(dn) == 1, captured.err  # the scene is opened twice: said once
    assert "give --scale and --offset" in dn[0]
    chosen = [line for line in captured.out.splitlines() if " rules " in line]
    assert len(chosen) == 1 and "rules adaptive (digital numbers (" in chosen[0], captured.out


def test_a_band_that_is_the_same_everywhere_is_named():
    rng = np.random.default_rng(2)
    red = rng.integers(100, 3000, (30, 40)).astype(np.float32)
    nir = np.full((30, 40), 1500, np.float32)  # a dead or saturated band
    rules = load_rules("adaptive-rgbn")
    scene = as_scene(np.stack([red, red * 0.9, red * 1.1, nir]), ["blue", "green", "red", "nir"])
    with pytest.warns(StatisticWarning) as caught:
        resolve_thresholds(scene, rules)
    said = [str(w.message) for w in caught if "same over" in str(w.message)]
    assert len(said) == 1
    assert "percentile(nir, 1) = 1500 and percentile(nir, 99) = 150" in said[0]
    # a band with a spread is not named
    with warnings.catch_warnings():
        warnings.simplefilter("error", StatisticWarning)
        spread = as_scene(np.stack([red, red, red, red * 2]), ["blue", "green", "red", "nir"])
        resolve_thresholds(spread, rules)


#: Statistics of statistics, over part of the scene: the inner ones first (one pass per level).
NESTED_RULES = {
    "rules": [
        {"class": "forest", "when": "red < percentile(red where nir > percentile(nir, 50), 25)"},
        {"class": "urban", "when": "red / percentile(red, 99) > otsu(red / percentile(red, 99))"},
    ]
}


@pytest.mark.filterwarnings("ignore::landmask.errors.StatisticWarning")
@GRAPH_SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16), h=st.integers(2, 14), w=st.integers(2, 14))
def test_statistics_of_statistics_over_part_of_the_scene_for_any_chunking(data, seed, h, w):
    rng = np.random.default_rng(seed)
    values = (rng.random((2, h, w)) * 200 + 20).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    chunks = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    rules = load_rules(NESTED_RULES)
    want = resolve_thresholds(_scene(values, -1), rules)
    with dask.config.set(scheduler=data.draw(st.sampled_from(["threads", "synchronous"]))):
        got = resolve_thresholds(_scene(values, chunks), rules)
        mask = classify(_scene(values, chunks), rules=NESTED_RULES).values
    assert got.thresholds == want.thresholds
    np.testing.assert_array_equal(mask, classify(_scene(values, -1), rules=NESTED_RULES).values)
    found = dict(got.thresholds)
    inner = "percentile(nir, 50)"
    outer = f"percentile(red where nir > {inner}, 25)"
    order = list(found)
    assert order.index(inner) < order.index(outer)  # inner statistics first
    # the outer statistic against numpy on the pixels its condition keeps, with the
    # inner value landmask found (each within one bin of numpy's)
    red, nir = values.astype(np.float64)
    keep = np.isfinite(red) & (nir > found[inner])
    if keep.any():
        want_p = float(np.percentile(red[keep], 25))
        assert abs(found[outer] - want_p) <= 2 * bin_width_at(want_p) + 1e-6
    else:
        assert np.isnan(found[outer])


def test_a_statistic_over_an_empty_part_matches_nothing_and_voids_nothing():
    """No pixel where the condition holds: its rule matches nothing, the rest classify."""
    values = np.stack([np.full((4, 5), 0.1), np.full((4, 5), 0.4)]).astype(np.float32)
    rules = {
        "rules": [
            {"class": "forest", "when": "red < percentile(red where nir > 0.9, 50)"},
            {"class": "urban", "when": "nir > 0.3"},
        ]
    }
    with warnings.catch_warnings():
        # expected (a tile with no vegetation for a split within the vegetation): no warning
        warnings.simplefilter("error", StatisticWarning)
        mask = classify(_scene(values, -1), rules=rules).values
        bound = resolve_thresholds(_scene(values, -1), load_rules(rules))
    assert (mask == 2).all()
    assert not bound.void
    name = "percentile(red where nir > 0.9, 50)"
    assert np.isnan(dict(bound.thresholds)[name])
    assert "no pixel where its condition holds" in describe_statistic(name, math.nan)


def test_statistics_are_named_with_the_rule_sets_defined_names():
    rng = np.random.default_rng(5)
    ndvi = np.where(rng.random((30, 30)) < 0.5, 0.7, 0.1) + rng.normal(0, 0.03, (30, 30))
    rules = load_rules(
        {
            "define": {
                "s_nir": "(nir - percentile(nir, 1)) / percentile(nir, 99)",
                "g": "s_nir * 2",
            },
            "rules": [{"class": "forest", "when": "g > otsu(g where ndvi > 0.2)"}],
        }
    )
    bound = resolve_thresholds(_scene(_with_ndvi(ndvi), (7, 11)), rules)
    names = [name for name, _ in bound.thresholds]
    assert names == ["percentile(nir, 1)", "percentile(nir, 99)", "otsu(g where ndvi > 0.2)"]
    # the name is a label only: the value is the statistic of the expanded expression
    nir = _with_ndvi(ndvi)[1]
    g = (
        (nir - dict(bound.thresholds)["percentile(nir, 1)"])
        / dict(bound.thresholds)["percentile(nir, 99)"]
        * 2
    )
    split = dict(bound.thresholds)["otsu(g where ndvi > 0.2)"]
    assert g[ndvi > 0.2].min() < split < g[ndvi > 0.2].max()
    assert rules.label(rules.rules[0].expr) == "g > otsu(g where ndvi > 0.2)"
    assert str(rules.rules[0].expr).count("percentile") == 4  # expanded underneath


def test_the_adaptive_rules_name_their_statistics_briefly():
    rules = load_rules("adaptive")
    calls = {c for r in rules.rules for c in r.expr.all_calls}
    labels = sorted(rules.label(c) for c in calls)
    assert max(map(len, labels)) < 80, labels
    assert "otsu(dark_s where (ndvi_s > 0.15) and (s_nir > 0.15))" in labels


def _cuts(data: st.DataObject, n: int) -> list[int]:
    """Random edges of parts of ``n`` pixels: 0, some cuts, n."""
    inner = data.draw(st.lists(st.integers(1, max(1, n - 1)), max_size=3, unique=True))
    return [0, *sorted(c for c in inner if 0 < c < n), n]


@pytest.mark.filterwarnings("ignore::landmask.errors.StatisticWarning")
@GRAPH_SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16), h=st.integers(2, 14), w=st.integers(2, 14))
def test_statistics_over_the_tiles_of_a_region_are_those_of_the_whole(data, seed, h, w):
    """A region's statistics (landmask.batch.region_statistics) are counted over its tiles,
    each with the context its statistics' focal values read around it: for any tiling and
    chunking they are the whole array's, and numpy's of the tiles' valid pixels together."""
    rng = np.random.default_rng(seed)
    values = (rng.random((2, h, w)) * 0.5 + 0.01).astype(np.float32)
    values[rng.random(values.shape) < 0.15] = np.nan
    radius = data.draw(st.integers(1, 2))
    rules = load_rules(
        {"rules": [
            {"class": "water", "when": "nir < percentile(nir, 30)"},
            {"class": "forest", "when": "ndvi > otsu(ndvi where nir > percentile(nir, 50))"},
            {"class": "urban", "when": f"red > percentile(focal_mean(red, {radius}), 70)"},
            {"class": "forest", "when": "ndvi > otsu(ndvi)"},
        ]}
    )  # fmt: skip
    assert statistic_reach(rules) == radius
    rows, cols = _cuts(data, h), _cuts(data, w)
    tiles_at = [(r0, r1, c0, c1) for r0, r1 in pairwise(rows) for c0, c1 in pairwise(cols)]
    parts = []
    for r0, r1, c0, c1 in tiles_at:
        # the tile grown by the reach, clipped to the region; the tile its window
        g0, g1 = max(0, r0 - radius), min(h, r1 + radius)
        k0, k1 = max(0, c0 - radius), min(w, c1 + radius)
        chunks = (data.draw(st.integers(1, g1 - g0)), data.draw(st.integers(1, k1 - k0)))
        part = _scene(np.ascontiguousarray(values[:, g0:g1, k0:k1]), chunks)
        parts.append((part, (r0 - g0, c0 - k0, r1 - r0, c1 - c0)))
    passes = []

    def tiles():
        passes.append(1)
        return iter(parts)

    scheduler = data.draw(st.sampled_from(["threads", "synchronous"]))
    with dask.config.set(scheduler=scheduler):
        got = {str(c): v for c, v in compute_statistics(rules, tiles).items()}
    assert len(passes) == 2  # the percentiles, then the Otsu split above one of them
    whole = compute_statistics(rules, lambda: [(_scene(values, -1), None)])
    assert got == pytest.approx({str(c): v for c, v in whole.items()}, rel=0, abs=0, nan_ok=True)
    # numpy on the tiles' valid pixels, concatenated
    red, nir = (
        np.concatenate([values[b, r0:r1, c0:c1].ravel() for r0, r1, c0, c1 in tiles_at])
        for b in (0, 1)
    )
    valid = nir[np.isfinite(nir)].astype(np.float64)
    for q in (30, 50):
        p = float(np.percentile(valid, q))
        assert abs(got[f"percentile(nir, {q})"] - p) <= 2 * bin_width_at(p)
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    keep = np.isfinite(ndvi) & (nir > np.float32(got["percentile(nir, 50)"]))
    split = "otsu(ndvi where nir > percentile(nir, 50))"
    plain = np.isfinite(ndvi)
    if plain.any():  # Otsu of a normalized difference: its linear bins over [-1, 1]
        counts, _ = np.histogram(ndvi[plain], bins=bin_edges(-1.0, 1.0))
        assert got["otsu(ndvi)"] == otsu(counts, bin_edges(-1.0, 1.0))
    if keep.any():  # the float bins: an index restricted by a condition is no plain index
        counts, _ = np.histogram(ndvi[keep], bins=float_bin_edges())
        assert got[split] == otsu(counts, float_bin_edges())
    else:
        assert math.isnan(got[split])
    means = reference(values[0], radius, "focal_mean")
    means = means[np.isfinite(means)].astype(np.float64)
    p = float(np.percentile(means, 70))
    assert abs(got[f"percentile(focal_mean(red, {radius}), 70)"] - p) <= 2 * bin_width_at(p) + 1e-6
