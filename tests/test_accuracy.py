import numpy as np
import pytest

from landmask.evaluation.accuracy import area_adjusted, kappa

# Olofsson et al. (2014), section 5 example: strata deforestation, forest gain,
# stable forest, stable non-forest; Landsat pixels of 30 m.
SAMPLE = np.array(  # rows: map class, columns: reference class
    [
        [66, 0, 5, 4],
        [0, 55, 8, 12],
        [1, 0, 153, 11],
        [2, 1, 9, 313],
    ]
)
MAP_PIXELS = [200_000, 150_000, 3_200_000, 6_450_000]


def test_reproduces_olofsson_2014_table_8():
    est = area_adjusted(SAMPLE, MAP_PIXELS, pixel_area=30 * 30 / 10_000)  # hectares
    # area estimates and 95% CI half-widths (ha), as printed in the paper
    np.testing.assert_allclose(est.area, [21_158, 11_686, 285_770, 581_386], rtol=5e-5)
    np.testing.assert_allclose(est.area_ci, [6_158, 3_756, 15_510, 16_281], rtol=2e-4)
    np.testing.assert_allclose(est.users_accuracy, [0.88, 0.73, 0.93, 0.96], atol=0.005)
    np.testing.assert_allclose(est.users_accuracy_ci, [0.07, 0.10, 0.04, 0.02], atol=0.005)
    np.testing.assert_allclose(est.producers_accuracy, [0.75, 0.85, 0.93, 0.96], atol=0.005)
    np.testing.assert_allclose(est.producers_accuracy_ci, [0.21, 0.25, 0.03, 0.02], atol=0.005)
    assert est.overall_accuracy == pytest.approx(0.95, abs=0.005)
    assert est.overall_accuracy_ci == pytest.approx(0.02, abs=0.005)
    # the proportions sum to one and the map total is preserved
    assert est.proportions.sum() == pytest.approx(1.0)
    assert est.area.sum() == pytest.approx(sum(MAP_PIXELS) * 0.09)


def test_more_digits_of_the_worked_example():
    est = area_adjusted(SAMPLE, MAP_PIXELS, pixel_area=0.09)
    assert est.area[0] == pytest.approx(21_157.76, abs=0.5)
    assert est.area_ci[0] == pytest.approx(6_157.5, rel=1e-4)
    assert est.producers_accuracy[0] == pytest.approx(0.7486614, rel=1e-6)
    assert est.producers_accuracy_ci[0] == pytest.approx(0.2133059, rel=1e-4)
    assert est.overall_accuracy == pytest.approx(0.9465119, rel=1e-6)


def test_perfect_sample_gives_map_areas_and_zero_width():
    sample = np.diag([50, 60, 70])
    est = area_adjusted(sample, [100, 200, 700])
    np.testing.assert_allclose(est.area, [100, 200, 700])
    np.testing.assert_allclose(est.area_ci, 0, atol=1e-12)
    assert est.overall_accuracy == 1.0


def test_kappa_by_hand():
    m = np.array([[20, 5], [10, 15]])
    po = 35 / 50
    pe = (25 * 30 + 25 * 20) / 50**2
    assert kappa(m) == pytest.approx((po - pe) / (1 - pe))
    assert kappa(np.diag([3, 4])) == 1.0
    assert np.isnan(kappa(np.zeros((2, 2))))
