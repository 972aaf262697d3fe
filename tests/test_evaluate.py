import numpy as np
import pytest
import xarray as xr

from landmask.errors import GridError
from landmask.evaluate import confusion_block, evaluate


def arr(values, chunks=None):
    a = xr.DataArray(np.array(values, np.uint8), dims=("y", "x"))
    return a.chunk(dict(zip(("y", "x"), chunks, strict=True))) if chunks else a


PRED = [[0, 1, 1, 3], [2, 2, 255, 1], [0, 0, 3, 3]]
TRUTH = [[0, 1, 2, 3], [2, 1, 1, 255], [0, 3, 3, 3]]


def test_hand_computed_confusion_and_scores():
    ev = evaluate(arr(PRED), arr(TRUTH))
    assert ev.classes == (0, 1, 2, 3)
    # rows: truth, columns: prediction; pixels with 255 on either side left out
    expected = np.array(
        [
            [2, 0, 0, 0],
            [0, 1, 1, 0],
            [0, 1, 1, 0],
            [1, 0, 0, 3],
        ]
    )
    np.testing.assert_array_equal(ev.matrix, expected)
    assert ev.ignored == 2
    assert ev.iou[0] == pytest.approx(2 / 3)
    assert ev.iou[1] == pytest.approx(1 / 3)
    assert ev.iou[3] == pytest.approx(3 / 4)
    assert ev.precision[1] == pytest.approx(1 / 2)
    assert ev.recall[3] == pytest.approx(3 / 4)
    assert ev.f1[3] == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert ev.overall_accuracy == pytest.approx(7 / 10)
    assert ev.miou == pytest.approx(np.mean([2 / 3, 1 / 3, 1 / 3, 3 / 4]))


def test_chunked_equals_in_memory():
    rng = np.random.default_rng(1)
    p = rng.integers(0, 4, size=(97, 61)).astype(np.uint8)
    t = rng.integers(0, 4, size=(97, 61)).astype(np.uint8)
    t[:5] = 255
    whole = evaluate(arr(p), arr(t))
    chunked = evaluate(arr(p, chunks=(10, 7)), arr(t, chunks=(13, 50)))
    np.testing.assert_array_equal(whole.matrix, chunked.matrix)
    assert whole.ignored == chunked.ignored == 5 * 61
    direct = confusion_block(p, t)
    assert direct[1, 2] == ((t == 1) & (p == 2)).sum()


def test_perfect_match_and_absent_class():
    ev = evaluate(arr([[0, 1], [1, 0]]), arr([[0, 1], [1, 0]]))
    assert ev.miou == 1.0 and ev.overall_accuracy == 1.0
    ev = evaluate(arr([[0, 2]]), arr([[0, 0]]))
    assert ev.iou[2] == 0.0 and ev.recall[0] == 0.5
    assert np.isnan(ev.recall[2])


def test_all_nodata_gives_nan_scores():
    ev = evaluate(arr([[255, 255]]), arr([[1, 2]]))
    assert ev.classes == (1, 2) and ev.ignored == 2
    assert np.isnan(ev.overall_accuracy)


def test_shape_mismatch():
    with pytest.raises(GridError):
        evaluate(arr([[0, 1]]), arr([[0], [1]]))
