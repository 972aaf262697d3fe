import dask
import dask.array as da
import numpy as np
import pytest
import rasterio

from landmask.classification.classify import classify
from landmask.cli import run
from landmask.errors import BandError, RuleError, StatisticWarning
from landmask.io.read.scene import open_scene
from landmask.io.write.rasters import write_mask
from landmask.spectral.expressions import Expr, parse
from landmask.spectral.indices import compute_indices
from landmask.spectral.rules import load_rules
from landmask.spectral.thresholds import (
    histogram,
    histogram_block,
    otsu,
    resolve_thresholds,
    thresholds_of,
)

OTSU_RULES = {
    "name": "auto-water",
    "rules": [
        {"class": "water", "when": "mndwi > otsu(mndwi)"},
        {"class": "forest", "when": "ndvi > 0.7"},
    ],
}


def brute_force_otsu(samples: np.ndarray, cuts: np.ndarray) -> float:
    """The cut maximising the between-class variance of the raw samples."""
    best, best_cut = -1.0, np.nan
    for cut in cuts:
        low, high = samples[samples < cut], samples[samples >= cut]
        if low.size and high.size:
            between = low.size * high.size * (low.mean() - high.mean()) ** 2
            if between > best:
                best, best_cut = between, cut
    return float(best_cut)


def test_otsu_on_a_bimodal_histogram_lands_between_the_modes():
    rng = np.random.default_rng(1)
    land = rng.normal(-0.4, 0.1, 6000)
    water = rng.normal(0.5, 0.15, 3000)
    samples = np.concatenate([land, water])
    edges = np.linspace(-1, 1, 2001)
    counts, _ = np.histogram(samples, edges)
    t = otsu(counts, edges)
    assert -0.4 + 2 * 0.1 < t < 0.5 - 2 * 0.15  # in the valley between the modes
    assert t == pytest.approx(brute_force_otsu(samples, edges[::10]), abs=0.011)


def test_otsu_degenerate_histograms():
    edges = np.linspace(0, 1, 11)
    one = np.zeros(10)
    one[3] = 50
    assert otsu(one, edges) == pytest.approx(0.35)  # one value: its bin centre
    two = np.zeros(10)
    two[[1, 8]] = 5
    assert 0.2 <= otsu(two, edges) <= 0.8  # any cut between separates; the middle one
    assert otsu(two, edges) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        otsu(np.zeros(10), edges)


def test_histogram_block_counts_finite_values_and_clamps_outliers():
    edges = np.linspace(-1, 1, 5)
    block = np.array([[-5, -1, -0.2, np.nan], [0.0, 0.49, 1.0, np.inf]], np.float32)
    counts = histogram_block(block, edges)
    assert counts.shape == (1, 1, 4) and counts.dtype == np.int64
    # -5 clamps into the first bin, 1.0 (the last edge) into the last
    np.testing.assert_array_equal(counts[0, 0], [2, 1, 2, 1])


def test_histogram_is_the_same_for_any_chunking():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 0.4, (301, 277)).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    edges = np.linspace(-1, 1, 201)
    expected = histogram_block(values, edges)[0, 0]
    for chunks in [(301, 277), (50, 64), (17, 300), (1, 277)]:
        got = histogram(da.from_array(values, chunks=chunks), edges).compute()
        np.testing.assert_array_equal(got, expected)
    assert expected.sum() == np.isfinite(values).sum()


def test_parse_function_calls():
    expr = parse("mndwi > otsu(mndwi) + 0.05")
    (call,) = expr.calls
    assert str(call) == "otsu(mndwi)" and call.kind == "call"
    assert expr.names == frozenset({"mndwi"})
    assert str(parse("ndvi < otsu((nir - red) / (nir + red))").calls[0]) == (
        "otsu((nir - red) / (nir + red))"
    )
    bound = expr.bind({call: 0.25})
    assert bound.calls == ()
    out = bound.evaluate(lambda name: np.array([0.2, 0.31, 0.29], np.float32))
    assert out.tolist() == [False, True, False]
    with pytest.raises(RuleError, match=r"otsu\(mndwi\) is a scene-wide value"):
        expr.evaluate(lambda name: np.zeros(3, np.float32))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("mndwi > otsuu(mndwi)", "unknown function 'otsuu' at column 9 (known: dark, focal_max"),
        ("mndwi > otsu()", "otsu() at column 9 needs an argument"),
        ("mndwi > otsu(0.3)", "needs an index or band, not a number"),
        ("mndwi > otsu(otsu(mndwi))", "needs an index or band, not a number"),
        ("mndwi > otsu(mndwi > 0)", "'otsu' needs numbers, not a comparison"),
        ("mndwi > otsu(mndwi ndvi)", "takes one argument"),
    ],
)
def test_bad_calls_are_rejected(text, fragment):
    with pytest.raises(RuleError) as info:
        parse(text)
    assert fragment in str(info.value)


def test_bad_function_name_in_a_rules_file_names_the_rule(tmp_path):
    path = tmp_path / "auto.yaml"
    path.write_text(
        "rules:\n  - class: forest\n    when: ndvi > 0.7\n"
        "  - class: water\n    when: mndwi > otsuu(mndwi)\n"
    )
    with pytest.raises(RuleError, match=r"auto.yaml: rule 2 \(water\): unknown function 'otsuu'"):
        load_rules(path)


@pytest.fixture
def reflectance(s2_file):
    return open_scene(s2_file, sensor="sentinel2-l2a").values


def test_threshold_is_independent_of_chunk_size_and_separates_water(s2_file, synthetic_small):
    rules = load_rules(
        {"rules": [{"class": "water", "when": "mndwi > otsu(mndwi) and nir < otsu(nir - red)"}]}
    )
    found = []
    for size in (37, 100, 1000):
        scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=size)
        found.append(resolve_thresholds(scene, rules).thresholds)
    assert found[0] == found[1] == found[2]
    values = dict(found[0])
    assert set(values) == {"otsu(mndwi)", "otsu(nir - red)"}
    # the same value as Otsu on the numpy histogram of the whole scene
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    mndwi = compute_indices(scene, ["mndwi"])["mndwi"].values
    edges = np.linspace(-1, 1, 2001)
    counts, _ = np.histogram(np.clip(mndwi[np.isfinite(mndwi)], -1, 1), edges)
    assert values["otsu(mndwi)"] == pytest.approx(otsu(counts, edges), abs=1e-12)
    assert values["otsu(mndwi)"] == round(values["otsu(mndwi)"], 3)  # an exact bin edge
    truth = synthetic_small.truth
    water, land = np.nanmean(mndwi[truth == 3]), np.nanmean(mndwi[truth < 3])
    assert land < values["otsu(mndwi)"] < water


def test_threshold_is_the_same_on_every_scheduler(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=100)
    rules = load_rules(OTSU_RULES)
    found = set()
    for scheduler in ("synchronous", "threads", "processes"):
        with dask.config.set(scheduler=scheduler):
            found.add(resolve_thresholds(scene, rules).thresholds)
    assert len(found) == 1


def test_classify_binds_the_threshold_and_writes_it_into_the_file(s2_file, tmp_path):
    scene = open_scene(s2_file, sensor="sentinel2-l2a", chunk_size=64)
    mask = classify(scene, OTSU_RULES)
    value = mask.attrs["THRESHOLD_otsu(mndwi)"]
    assert thresholds_of(mask) == {"otsu(mndwi)": value}
    assert isinstance(mask.data, da.Array)  # the map step stays lazy
    fixed = {
        "rules": [
            {"class": "water", "when": f"mndwi > {value!r}"},
            {"class": "forest", "when": "ndvi > 0.7"},
        ]
    }
    np.testing.assert_array_equal(mask.values, classify(scene, fixed).values)
    assert (mask.values == 3).sum() > 100
    write_mask(mask, tmp_path / "m.tif")
    with rasterio.open(tmp_path / "m.tif") as ds:
        tags = ds.tags()
    assert float(tags["THRESHOLD_otsu(mndwi)"]) == value
    assert thresholds_of(classify(scene, fixed)) == {}
    assert type(value) is float  # a flat number: any writer can store it


def test_threshold_of_a_band_the_scene_lacks_names_the_rule(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a").sel(band=["red", "nir", "green"])
    rules = load_rules({"rules": [{"class": "water", "when": "ndvi < otsu(swir22 - red)"}]})
    with pytest.raises(BandError, match=r"band 'swir22'.*rule 1 \(water\) needs it"):
        resolve_thresholds(scene, rules)


def test_a_quantity_with_no_valid_pixel_makes_the_mask_all_nodata(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a") * np.nan
    rules = load_rules({"rules": [{"class": "water", "when": "nir > otsu(nir)"}]})
    with pytest.warns(StatisticWarning, match=r"rule 1 \(water\): otsu\(nir\) has no valid pixel"):
        bound = resolve_thresholds(scene, rules)
    assert bound.void and np.isnan(dict(bound.thresholds)["otsu(nir)"])


def test_cli_reports_the_threshold(s2_file, tmp_path, capsys):
    rules = tmp_path / "auto.yaml"
    rules.write_text("rules:\n  - class: water\n    when: mndwi > otsu(mndwi)\n")
    out = tmp_path / "mask.tif"
    assert run(["classify", str(s2_file), "--sensor", "sentinel2-l2a", "--rules", str(rules),
                "-o", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    with rasterio.open(out) as ds:
        value = float(ds.tags()["THRESHOLD_otsu(mndwi)"])
    assert f"threshold otsu(mndwi) = {value:.4g} (from the scene's histogram)" in printed


def test_unbound_rules_are_returned_as_they_are(s2_file):
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    rules = load_rules("default")
    assert resolve_thresholds(scene, rules) is rules
    assert isinstance(parse("ndvi > 0.3"), Expr)
