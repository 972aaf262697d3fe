import numpy as np
import pytest

from landmask.errors import RuleError
from landmask.spectral.expressions import parse


def lookup_from(**arrays):
    return lambda name: np.asarray(arrays[name], dtype=np.float32)


def test_arithmetic_precedence_matches_hand_computation():
    e = parse("a + b * c - d / 2 ** 2")
    out = e.evaluate(lookup_from(a=[1.0], b=[2.0], c=[3.0], d=[8.0]))
    assert out.dtype == np.float32
    assert out.tolist() == [1 + 2 * 3 - 8 / 4]


def test_unary_minus_and_parentheses():
    e = parse("-(a - b) * -2")
    assert e.evaluate(lookup_from(a=[5.0], b=[3.0])).tolist() == [4.0]


def test_boolean_logic_and_chained_comparison():
    e = parse("not (a > 1) or 0.2 < b <= 0.5 and a == 3")
    a = [0.0, 3.0, 3.0, 2.0]
    b = [0.9, 0.5, 0.6, 0.3]
    assert e.evaluate(lookup_from(a=a, b=b)).tolist() == [True, True, False, False]


def test_names_collects_every_variable():
    assert parse("(ndvi > 0.3 and red < nir) or not mndwi > 0").names == {
        "ndvi",
        "red",
        "nir",
        "mndwi",
    }


def test_zero_denominator_is_not_finite_without_warning():
    with np.errstate(all="raise"):
        out = parse("a / b").evaluate(lookup_from(a=[1.0, 0.0, 2.0], b=[0.0, 0.0, 4.0]))
    assert np.isinf(out[0]) and np.isnan(out[1]) and out[2] == 0.5


def test_quantities_are_the_compared_operands_and_memo_shares_them():
    e = parse("ndvi > 0.3 and (red - blue) / (red + blue) < 0.2 or not 1 < ndvi")
    assert [str(q.value) if q.kind == "name" else q.kind for q in e.quantities] == [
        "ndvi",
        "arith",
        "ndvi",
    ]
    calls = []

    def lookup(name):
        calls.append(name)
        return np.array([0.5], np.float32)

    memo = {}
    e.evaluate(lookup, memo)
    assert sum(1 for k in memo if k.kind == "arith") == 3
    calls.clear()
    e.evaluate(lookup, memo)  # the ratio comes from the memo: red and blue are not read again
    assert calls == ["ndvi", "ndvi"]


def test_comparison_with_nan_is_false():
    out = parse("a > 0 or a <= 0").evaluate(lookup_from(a=[np.nan, 1.0]))
    assert out.tolist() == [False, True]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("ndvi >", "end of expression"),
        ("ndvi > 0.3 and", "end of expression"),
        ("(ndvi > 0.3", "missing ')'"),
        ("ndvi > 0.3)", "unexpected ')'"),
        ("ndvi $ 3", "unexpected character '$'"),
        ("__import__('os')", "unexpected character"),
        ("open(ndvi)", "unknown function 'open'"),
        ("ndvi and mndwi > 0", "needs comparisons"),
        ("(a > 1) + 2", "needs numbers"),
        ("(a > 1) > 2", "cannot compare a comparison"),
        ("a.b > 1", "unexpected character '.'"),
    ],
)
def test_bad_expressions_are_rejected_with_a_reason(text, fragment):
    with pytest.raises(RuleError, match=None) as info:
        parse(text)
    assert fragment in str(info.value)


def test_numbers_in_scientific_notation():
    assert parse("a < 1e-3").evaluate(lookup_from(a=[0.0005, 0.002])).tolist() == [True, False]


def test_cached_hashes_and_properties_do_not_travel_in_pickles():
    # each node keeps its hash and derived properties once computed; a pickle (a
    # worker process, where text hashes differ) carries the fields only
    import pickle

    expr = parse("focal_min(focal_std((blue + green + red) / 3, 1), 1) > 0.003 and ndvi < 0.4")
    fresh = parse(str(expr))
    assert hash(expr) == hash(fresh) and expr == fresh
    assert expr.reach == 2 and expr.names == frozenset({"blue", "green", "red", "ndvi"})
    state = pickle.loads(pickle.dumps(expr)).__dict__
    assert set(state) == {"kind", "value", "args", "ops"}
    again = pickle.loads(pickle.dumps(expr))
    assert again == expr and hash(again) == hash(expr) and again.reach == 2
    assert {expr: 1}[again] == 1
