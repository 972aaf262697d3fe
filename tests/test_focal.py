"""Neighbourhood functions in rules: focal_mean/std/min/max/range of any quantity.

Checked against an independent whole-array computation (``scipy.ndimage.generic_filter``
with numpy's nan-statistics on a NaN-padded array), and the chunked classify graph
(blocks grown by the rules' reach) against the whole array, bit for bit, for random
misaligned chunk sizes from 1 px to the whole side.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from conftest import as_scene
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

import landmask.spectral.focal
from landmask.classes import NODATA
from landmask.classification.classify import classify
from landmask.cli import run
from landmask.errors import RuleError
from landmask.io.read.scene import open_scene
from landmask.models.registry import RulesModel
from landmask.spectral.expressions import parse
from landmask.spectral.focal import FOCAL, focal, window_sums
from landmask.spectral.rules import load_rules

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

BANDS = ["red", "nir"]

REFERENCE = {
    "focal_mean": np.nanmean,
    "focal_std": np.nanstd,
    "focal_min": np.nanmin,
    "focal_max": np.nanmax,
    "focal_range": lambda v: np.nanmax(v) - np.nanmin(v),
}


def reference(values: np.ndarray, radius: int, name: str) -> np.ndarray:
    """The statistic of each window's finite values, the array padded with NaN (scipy, numpy)."""
    padded = np.pad(values.astype(np.float64), radius, constant_values=np.nan)
    padded[~np.isfinite(padded)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        out = ndimage.generic_filter(padded, REFERENCE[name], size=2 * radius + 1, mode="nearest")
    out = out[radius:-radius, radius:-radius]
    out[~np.isfinite(values)] = np.nan
    return out


def random_values(seed: int, h: int, w: int, missing: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = (rng.random((h, w)) * 2 - 0.5).astype(np.float32)
    values[rng.random(values.shape) < missing] = np.nan
    values[rng.random(values.shape) < 0.02] = np.inf  # a zero denominator: missing too
    return values


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    radius=st.integers(1, 6),
    name=st.sampled_from(sorted(FOCAL)),
)
def test_focal_equals_nan_statistics_of_the_padded_window(seed, h, w, radius, name):
    values = random_values(seed, h, w)
    got = focal(name, values, radius)
    want = reference(values, radius, name)
    assert got.dtype == np.float32 and got.shape == values.shape
    np.testing.assert_array_equal(np.isnan(got), ~np.isfinite(values))  # NaN centre -> NaN
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_focal_edges_and_missing_neighbours_are_left_out():
    values = np.array([[1, 2, np.nan], [3, np.nan, 5], [7, 8, 9]], np.float32)
    mean = focal("focal_mean", values, 1)
    assert mean[0, 0] == pytest.approx((1 + 2 + 3) / 3)  # corner: 4 px inside, one NaN
    assert mean[2, 2] == pytest.approx((5 + 8 + 9) / 3)
    assert np.isnan(mean[1, 1]) and np.isnan(mean[0, 2])
    assert focal("focal_range", values, 1)[0, 0] == pytest.approx(2.0)
    assert focal("focal_std", np.full((5, 5), 0.3, np.float32), 2).max() == 0.0


def test_window_sums_do_not_depend_on_where_a_block_starts():
    # the same pixel in a block that starts elsewhere: bit-identical sums
    rng = np.random.default_rng(3)
    planes = rng.normal(0, 1e3, (2, 40, 50))
    whole = window_sums(planes, 7)
    part = window_sums(planes[:, 5:, 11:], 7)
    np.testing.assert_array_equal(part[:, 7:-7, 7:-7], whole[:, 12:-7, 18:-7])


def _scene(values: np.ndarray, chunks: tuple[int, int] | int) -> xr.DataArray:
    return as_scene(values, BANDS, chunks)


def _rules(when: str, *more: str) -> dict:
    rules = [{"class": "urban", "when": when}]
    rules += [{"class": c, "when": m} for c, m in zip(("forest", "water"), more, strict=False)]
    return {"name": "focal", "rules": rules}


@SETTINGS
@given(
    data=st.data(),
    seed=st.integers(0, 2**16),
    h=st.integers(2, 28),
    w=st.integers(2, 28),
    r1=st.integers(1, 4),
    r2=st.integers(1, 3),
    name=st.sampled_from(sorted(FOCAL)),
)
def test_focal_rules_are_the_same_for_any_chunking(data, seed, h, w, r1, r2, name):
    rng = np.random.default_rng(seed)
    values = (rng.random((2, h, w)) * 0.5).astype(np.float32)
    values[rng.random(values.shape) < 0.08] = np.nan
    # a focal of a focal needs r1 + r2 px of context; a plain rule none
    rules = _rules(
        f"{name}(ndvi, {r1}) > 0.05",
        f"focal_std(focal_mean(nir, {r2}), {r1}) < 0.03",
        "red < 0.1",
    )
    chunks = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    want = classify(_scene(values, -1), rules=rules).values
    got = classify(_scene(values, chunks), rules=rules).values
    np.testing.assert_array_equal(got, want)
    # and the whole-array mask is the rules applied to scipy/numpy's window statistics
    with np.errstate(all="ignore"):
        ndvi = (values[1] - values[0]) / (values[1] + values[0])
    texture = reference(ndvi, r1, name)
    smooth = reference(reference(values[1], r2, "focal_mean"), r1, "focal_std")
    expect = np.where(
        texture > 0.05, 2, np.where(smooth < 0.03, 1, np.where(values[0] < 0.1, 3, 0))
    )
    expect[~np.isfinite(values).all(axis=0) | ~np.isfinite(texture) | ~np.isfinite(smooth)] = NODATA
    clear = (np.abs(texture - 0.05) > 1e-5) & (np.abs(smooth - 0.03) > 1e-5)  # no float ties
    np.testing.assert_array_equal(want[clear], expect[clear])


def test_rules_model_halo_is_the_rules_reach():
    ruleset = load_rules(_rules("focal_std(ndvi, 3) > 0.1", "focal_mean(focal_max(nir, 2), 4) > 0"))
    assert RulesModel(ruleset).halo == 6
    assert RulesModel(load_rules(_rules("ndvi > 0.3"))).halo == 0


def test_focal_calls_print_and_parse_back():
    expr = parse("focal_std(nir - red, 3) > 0.05 and focal_mean(ndvi,1) < otsu(ndvi)")
    assert str(expr) == "(focal_std(nir - red, 3) > 0.05) and (focal_mean(ndvi, 1) < otsu(ndvi))"
    assert parse(str(expr)) == expr
    assert expr.reach == 3
    assert [str(c) for c in expr.focal_calls] == ["focal_std(nir - red, 3)", "focal_mean(ndvi, 1)"]
    assert [str(c) for c in expr.calls] == ["otsu(ndvi)"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "focal_mean(ndvi) > 0",
            r"focal_mean\(\) at column 1 takes two arguments: focal_mean\(EXPR, R\)",
        ),
        ("focal_mean(ndvi, 0) > 0", "R = 0 is out of range"),
        ("focal_mean(ndvi, 51) > 0", "R = 51 is out of range"),
        ("focal_mean(ndvi, 1.5) > 0", "R = 1.5 is out of range"),
        ("focal_mean(ndvi, -2) > 0", "R = -2 is out of range"),
        ("focal_mean(ndvi, 1 + 1) > 0", "R must be a whole number written out"),
        ("focal_mean(ndvi, nir) > 0", "R must be a whole number written out"),
        ("focal_mean(ndvi, ) > 0", "R must be a whole number written out"),
        ("focal_mean(ndvi, 2, 3) > 0", "takes two arguments, then"),
        ("focal_mean(2, 3) > 0", "needs an index or band, not a number"),
        ("focal_mean(otsu(ndvi), 3) > 0", "needs an index or band, not a number"),
        ("focal_mean(, 3) > 0", "needs an argument"),
        ("otsu(focal_mean(ndvi, otsu(ndvi)), 2) > 0", "R must be a whole number"),
        ("otsu(focal_mean(otsu(ndvi), 2)) > 0", "needs an index or band, not a number"),
        ("otsu(ndvi, 2) > 0", r"otsu\(\) at column 1 takes one argument: otsu\(EXPR\)"),
        ("focal_median(ndvi, 2) > 0", "unknown function 'focal_median'"),
        ("ndvi, nir > 0", "unexpected ','"),
        (
            "focal_std(focal_mean(focal_max(ndvi, 50), 50), 1) > 0",
            "nested neighbourhood functions reach 101 px; at most 100",
        ),
        ("otsu(focal_mean(focal_max(ndvi, 50), 51)) > 0", "R = 51 is out of range"),
        (
            "ndvi > otsu(focal_mean(focal_max(ndvi, 50), 50 + 1))",
            "R must be a whole number written out",
        ),
    ],
)
def test_bad_focal_calls_are_one_line_rule_errors(text, message):
    with pytest.raises(RuleError, match=message) as err:
        load_rules(_rules(text))
    assert "\n" not in str(err.value)


def test_a_yaml_rule_file_with_focal_functions_classifies_from_the_cli(s2_file, tmp_path):
    rules = tmp_path / "texture.yaml"
    rules.write_text(
        "rules:\n"
        "  - class: urban\n"
        "    when: focal_std(nir, 2) > 0.03 and ndvi < 0.4\n"
        "  - {class: water, when: 'focal_mean(mndwi, 1) > 0'}\n"
    )
    out = tmp_path / "mask.tif"
    assert run(["classify", str(s2_file), "--sensor", "sentinel2-l2a", "--rules", str(rules),
                "--chunk-size", "48", "-o", str(out), "-q"]) == 0  # fmt: skip
    scene = open_scene(s2_file, sensor="sentinel2-l2a")
    want = classify(scene.chunk({"y": -1, "x": -1}), rules=load_rules(str(rules))).values
    with rasterio.open(out) as ds:
        got = ds.read(1)
    np.testing.assert_array_equal(got, want)
    assert {2, 3} <= set(np.unique(got))  # both rules fire somewhere


@pytest.mark.parametrize("name", sorted(FOCAL))
def test_strips_do_not_change_the_result(monkeypatch, name):
    values = random_values(11, 70, 45, missing=0.05)
    whole = focal(name, values, 2)
    monkeypatch.setattr(landmask.spectral.focal, "STRIP_BYTES", 1)  # 16-row strips
    np.testing.assert_array_equal(focal(name, values, 2), whole)
    complete = np.nan_to_num(values, nan=0.25, posinf=0.25)  # no missing value: counts from edges
    np.testing.assert_allclose(
        focal(name, complete, 2), reference(complete, 2, name), rtol=1e-5, atol=1e-6
    )


def test_a_statistic_of_a_far_reaching_focal_value_is_bounded_too():
    with pytest.raises(RuleError, match="reach 101 px"):
        parse("ndvi > percentile(focal_mean(focal_mean(focal_mean(ndvi, 50), 50), 1), 5)")
    assert parse("ndvi > percentile(focal_mean(focal_mean(ndvi, 50), 50), 5)").reach == 0


def _ordered_line_sums(x: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Window sums along ``axis`` of ``x`` padded by ``radius``, in focal.py's documented order.

    Written from the documentation, not the code: the window of ``2R + 1`` is split into
    runs of ``2**k`` pixels, one for each bit of ``2R + 1`` from the lowest; a run of
    ``2s`` pixels is its two halves added; the runs are added from the first.
    """
    n = x.shape[axis] - 2 * radius

    def run(start: int, size: int) -> np.ndarray:
        if size == 1:
            return np.take(x, np.arange(start, start + n), axis=axis)
        return run(start, size // 2) + run(start + size // 2, size // 2)

    width, size, offset, total = 2 * radius + 1, 1, 0, None
    while size <= width:
        if width & size:
            piece = run(offset, size)
            total = piece if total is None else total + piece
            offset += size
        size *= 2
    assert total is not None
    return total


def _ordered_moments(values: np.ndarray, radius: int, squares: bool) -> np.ndarray:
    """focal_mean (or focal_std) from :func:`_ordered_line_sums`: x first, then y, float64."""
    valid = np.isfinite(values)
    v = np.pad(np.where(valid, values, 0).astype(np.float64), radius)
    n = np.pad(valid.astype(np.float64), radius)

    def sums(plane: np.ndarray) -> np.ndarray:
        return _ordered_line_sums(_ordered_line_sums(plane, radius, 1), radius, 0)

    with np.errstate(invalid="ignore", divide="ignore"):
        count = sums(n)
        mean = sums(v) / count
        out = np.sqrt(np.maximum(sums(v * v) / count - mean * mean, 0.0)) if squares else mean
    out = out.astype(np.float32)
    out[~valid] = np.nan
    return out


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    radius=st.integers(1, 6),
    missing=st.sampled_from([0.0, 0.2]),
    strip_bytes=st.sampled_from([1, 1 << 12, 1 << 19]),
    name=st.sampled_from(["focal_mean", "focal_std"]),
)
def test_focal_moments_are_the_documented_sums_bit_for_bit(
    seed, h, w, radius, missing, strip_bytes, name
):
    # the fast path (counts from the edges, quotients redone near them; runs added
    # without copies) must give the very bits of the documented order of additions
    values = random_values(seed, h, w, missing=missing)
    if not missing:
        values = np.nan_to_num(values, posinf=0.5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(landmask.spectral.focal, "STRIP_BYTES", strip_bytes)
        got = focal(name, values, radius)
    want = _ordered_moments(values, radius, squares=name == "focal_std")
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    h=st.integers(1, 40),
    w=st.integers(1, 30),
    strip_rows=st.integers(1, 12),
    r1=st.integers(1, 3),
    r2=st.integers(1, 3),
    name=st.sampled_from(sorted(FOCAL)),
)
def test_focal_terms_computed_strip_by_strip_equal_the_whole_block(
    seed, h, w, strip_rows, r1, r2, name
):
    # classify_block computes each strip's focal terms from its rows and the rules'
    # reach of rows around it: bit for bit the terms of the whole block at once
    import landmask.spectral.rules as rules_module

    values = random_values(seed, h, w, missing=0.1)
    block = np.stack([values, np.flipud(values)])
    rules = load_rules(
        _rules(
            f"{name}(ndvi, {r1}) > 0.05",
            f"focal_std(focal_mean(nir, {r2}), {r1}) < 0.03 and focal_min(red, {r2}) > 0.1",
            "red < 0.1",
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules_module, "STRIP_PIXELS", h * w)  # one strip: the whole block
        whole = rules_module.classify_block(block, BANDS, rules)
        patch.setattr(rules_module, "STRIP_PIXELS", strip_rows * w)
        assert rules_module.classify_block(block, BANDS, rules).tolist() == whole.tolist()


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    ruleset=st.sampled_from(["default", "focal"]),
)
def test_focal_checks_left_out_leave_the_mask_as_it_was(seed, h, w, ruleset):
    # a focal mean/std/min/max is finite exactly where its argument is: its check is
    # left out when another check implies it; all checks give the same mask
    rng = np.random.default_rng(seed)
    block = (rng.random((6, h, w)) * 0.6).astype(np.float32)
    for value, share in ((np.nan, 0.05), (np.inf, 0.02), (-np.inf, 0.01), (0, 0.05), (3e38, 0.02)):
        block[rng.random(block.shape) < share] = value
    bands = ["blue", "green", "red", "nir", "swir16", "swir22"]
    spec = (
        ruleset
        if ruleset != "focal"
        else _rules(
            "nir * red > 0.01 and focal_mean(nir * red, 2) > 0.05 and focal_max(-red, 1) < 0.2",
            "nir / red < 2 and focal_std(nir / red, 1) > 0.01 or focal_range(red, 1) < 0.1",
            "red - nir > 0.1 and focal_min(focal_mean(red, 1), 1) < 0.3",
        )
    )
    fewer = load_rules(spec)
    every = load_rules(spec)
    every.__dict__["finite_checks"] = every.checks  # the cached property, overridden
    assert len(fewer.finite_checks) < len(fewer.checks)
    np.testing.assert_array_equal(
        classify_block_of(block, bands, fewer), classify_block_of(block, bands, every)
    )


def classify_block_of(block: np.ndarray, bands: list[str], rules) -> np.ndarray:
    from landmask.spectral.rules import classify_block

    return classify_block(block, bands, rules)
