"""fastloss.metrics.log_loss against sklearn.metrics.log_loss (scikit-learn 1.9) and a plain reference
(the metric's rows of the table in ``_comparisons.py``, which holds that reference).

Every comparison calls both functions on the same arguments: where scikit-learn raises
``ValueError``, fastloss must too; otherwise the values agree to ``rtol=1e-12`` (float64 input) or
to float32 rounding (scikit-learn evaluates and sums float32 input in float32; fastloss sums in
float64).
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
from _comparisons import check, random_proba, reference_log_loss, rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastloss import _config
from fastloss.kernels._chunks import bounds_of
from fastloss.metrics import _encode_small_integer_range, log_loss

sklearn_metrics = pytest.importorskip("sklearn.metrics")

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5, np.dtype(np.float16): 2e-3}


def sklearn_log_loss(y_true, y_pred, **kwargs):
    # scikit-learn 1.9 renamed its second argument to y_proba: pass it by position.
    return sklearn_metrics.log_loss(y_true, y_pred, **kwargs)


def rtol_for(y_pred) -> float:
    dtype = np.asarray(y_pred).dtype
    return RTOL.get(dtype.newbyteorder("="), 1e-12)


def assert_same_as_sklearn(y_true, y_pred, **kwargs):
    """Both raise ValueError, or both return the same value (and warn the same warnings)."""
    with warnings.catch_warnings(record=True) as sklearn_warnings:
        warnings.simplefilter("always")
        try:
            expected = sklearn_log_loss(y_true, y_pred, **kwargs)
        except ValueError as exc:
            with pytest.raises(ValueError):
                log_loss(y_true, y_pred, **kwargs)
            return exc
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        got = log_loss(y_true, y_pred, **kwargs)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, expected, rtol=rtol_for(y_pred), atol=0)
    # The warnings that are scikit-learn's own (rows not summing to one, unsorted labels).
    user = [w for w in sklearn_warnings if w.category is UserWarning]
    ours = [w for w in our_warnings if w.category is UserWarning]
    assert len(ours) == len(user), ([str(w.message) for w in user], [str(w.message) for w in ours])
    return got


@pytest.fixture
def rng():
    return np.random.default_rng(20260101)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op, case", rows("metric"))
def test_matches_reference_and_sklearn(op, case):
    """The table's metric rows: binary probabilities as (n,), (n, 1) and (n, 2), and 7 classes, in
    float64 and float32, with and without weights, normalized or summed; no warning on either side."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        check(op, case)


def test_sklearn_docstring_example():
    y_true = ["spam", "ham", "ham", "spam"]
    y_pred = [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]
    assert log_loss(y_true, y_pred) == sklearn_log_loss(y_true, y_pred)
    assert log_loss(y_true, y_pred=y_pred) == pytest.approx(0.21616, abs=1e-5)


@pytest.mark.parametrize(
    "y_true",
    [
        ["b", "a", "c", "a", "c", "b"],
        np.array(["b", "a", "c", "a", "c", "b"], dtype=object),
        [2.0, 0.0, 5.0, 0.0, 5.0, 2.0],
        [-3, 7, 11, 7, -3, 11],
        np.array([2, 0, 1, 0, 1, 2], dtype=np.uint8),
        np.array([[2], [0], [1], [0], [1], [2]]),  # a column vector
    ],
    ids=["str", "object-str", "integral-float", "negative-int", "uint8", "column"],
)
def test_label_types(rng, y_true):
    y_pred = random_proba(rng, 6, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's DataConversionWarning for the column
        assert_same_as_sklearn(y_true, y_pred)


def test_bool_labels(rng):
    y_true = np.array([True, False, False, True, True])
    assert_same_as_sklearn(y_true, random_proba(rng, 5, 2))
    assert_same_as_sklearn(y_true, rng.random(5))


@pytest.mark.parametrize(
    ("y_true", "labels", "n_columns"),
    [
        ([1, 1, 1], [0, 1], 2),  # single class in y_true, binary through labels
        ([1, 1, 1], [0, 1], 1),
        ([0, 2, 2, 0], [0, 1, 2, 3], 4),  # classes 1 and 3 absent from y_true
        (["x", "z", "x"], ["x", "y", "z"], 3),
        ([0.0, 2.0, 2.0], [0, 1, 2], 3),  # float labels, int classes
        ([0, 2, 2], [0.0, 1.0, 2.0], 3),
        ([3, 1, 2], [3, 1, 2], 3),  # unsorted labels: a warning, columns follow sorted labels
    ],
)
def test_labels_argument(rng, y_true, labels, n_columns):
    y_pred = random_proba(rng, len(y_true), n_columns)
    if n_columns == 1:
        y_pred = y_pred[:, 0]
    assert_same_as_sklearn(y_true, y_pred, labels=labels)
    assert_same_as_sklearn(y_true, y_pred, labels=np.asarray(labels), normalize=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_clipping_at_zero_and_one(dtype):
    """Probabilities of exactly 0 and 1 are clipped to [eps, 1 - eps], eps of y_pred's dtype."""
    y_true = [0, 1, 1, 0, 2, 2]
    y_pred = np.array(
        [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0], [0, 0, 1]], dtype=dtype
    )
    got = assert_same_as_sklearn(y_true, y_pred)
    # p = 0 is clipped to eps, p = 1 to 1 - eps (with eps of the dtype); no renormalisation.
    eps = np.finfo(dtype).eps
    clipped = np.clip(y_pred[np.arange(6), y_true], eps, 1 - eps)
    expected = float(np.mean(-np.log(clipped.astype(np.float64))))
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype != np.float64 else 1e-15)
    assert log_loss([0, 1], np.array([0.0, 1.0], dtype=dtype)) == pytest.approx(
        -float(np.log(np.asarray(1 - eps, dtype=dtype))), rel=RTOL[np.dtype(dtype)]
    )


def test_float16_is_evaluated_with_float16_eps(rng):
    y_true = rng.integers(0, 2, 200)
    y_pred = rng.random(200).astype(np.float16)
    assert_same_as_sklearn(y_true, y_pred)
    assert_same_as_sklearn(y_true, np.stack([1 - y_pred, y_pred], axis=1))


@pytest.mark.parametrize(
    "y_pred",
    [
        np.array([0, 1, 1, 0]),  # int probabilities -> float64 (and clipped)
        np.array([False, True, True, True]),
        [0.2, 0.7, 0.9, 0.4],
        np.array([0.2, 0.7, 0.9, 0.4], dtype=">f8"),  # non-native byte order
        np.array([0.2, 0.7, 0.9, 0.4], dtype=">f4"),
        np.array([0.2, 0.7, 0.9, 0.4], dtype=object),
    ],
    ids=["int", "bool", "list", "big-endian-f8", "big-endian-f4", "object"],
)
def test_y_pred_dtypes(y_pred):
    assert_same_as_sklearn([0, 1, 0, 1], y_pred)


def test_non_contiguous_y_pred(rng):
    y_true = rng.integers(0, 3, 400)
    base = random_proba(rng, 800, 6)
    assert_same_as_sklearn(y_true, np.asfortranarray(base[:400, :3] / base[:400, :3].sum(1, keepdims=True)))
    strided = random_proba(rng, 800, 3)[::2]
    assert_same_as_sklearn(y_true, strided)


def test_rows_not_summing_to_one_warn_and_are_not_renormalised(rng):
    y_true = rng.integers(0, 3, 50)
    y_pred = random_proba(rng, 50, 3) * 0.5
    with pytest.warns(UserWarning, match="do not sum to one"):
        got = log_loss(y_true, y_pred)
    assert_same_as_sklearn(y_true, y_pred)
    np.testing.assert_allclose(got, reference_log_loss(y_true, y_pred), rtol=1e-13)


@pytest.mark.parametrize(
    "y_true",
    [
        np.eye(3, dtype=int)[[0, 2, 1, 1, 0]],  # one-hot
        np.eye(3)[[0, 2, 1, 1, 0]],  # one-hot, floats
        np.eye(3, dtype=bool)[[0, 2, 1, 1, 0]],
        np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 1], [0, 1, 0]]),  # multi-label
        np.array([[2, 2, 0], [0, 0, 2], [0, 0, 0], [2, 0, 2], [0, 2, 0]]),  # any two values
    ],
    ids=["one-hot", "one-hot-float", "one-hot-bool", "multilabel", "two-values"],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_label_indicator_y_true(rng, y_true, weighted):
    y_pred = random_proba(rng, 5, 3)
    sample_weight = [1.0, 0.0, 2.0, 0.5, 3.0] if weighted else None
    assert_same_as_sklearn(y_true, y_pred, sample_weight=sample_weight)
    assert_same_as_sklearn(y_true, y_pred, sample_weight=sample_weight, normalize=False)


def test_label_indicator_with_binary_y_pred(rng):
    y_pred = rng.random(4)
    assert_same_as_sklearn(np.array([[1, 0], [0, 1], [1, 1], [0, 1]]), y_pred)
    assert_same_as_sklearn(np.array([[1, 0], [0, 1], [0, 1], [0, 1]]), y_pred)


def test_zero_weights_count_for_nothing(rng):
    y_true = rng.integers(0, 3, 100)
    y_pred = random_proba(rng, 100, 3)
    weights = rng.random(100)
    weights[::3] = 0
    keep = weights > 0
    got = log_loss(y_true, y_pred, sample_weight=weights)
    assert got == pytest.approx(
        log_loss(y_true[keep], y_pred[keep], sample_weight=weights[keep]), rel=1e-14
    )
    assert_same_as_sklearn(y_true, y_pred, sample_weight=weights)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 300),
    n_columns=st.integers(1, 6),
    dtype=st.sampled_from([np.float64, np.float32]),
    weighted=st.booleans(),
    normalize=st.booleans(),
    with_labels=st.booleans(),
    extremes=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_matches_sklearn(
    n, n_columns, dtype, weighted, normalize, with_labels, extremes, seed
):
    rng = np.random.default_rng(seed)
    n_classes = max(n_columns, 2)
    y_true = rng.integers(0, n_classes, n)
    if n_columns == 1:
        y_pred = rng.random(n)
    else:
        y_pred = random_proba(rng, n, n_columns)
    if extremes:  # exact zeros and ones, which are clipped
        y_pred = np.where(rng.random(y_pred.shape) < 0.2, np.round(y_pred), y_pred)
        if n_columns > 1:
            y_pred[:, -1] = 1 - y_pred[:, :-1].sum(axis=1).clip(0, 1)
    y_pred = y_pred.astype(dtype)
    sample_weight = rng.random(n) * 5 if weighted else None
    labels = np.arange(n_classes) if with_labels else None
    assert_same_as_sklearn(
        y_true, y_pred, normalize=normalize, sample_weight=sample_weight, labels=labels
    )


# --------------------------------------------------------------------------------------------
# Invalid input: ValueError where scikit-learn raises ValueError
# --------------------------------------------------------------------------------------------

P3 = [[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2]]
P2 = [[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]]

INVALID = {
    "nan-in-y_pred": ([0, 1, 2], [[0.2, 0.3, 0.5], [np.nan, 0.8, 0.1], [0.6, 0.2, 0.2]], {}),
    "inf-in-y_pred": ([0, 1, 1], [0.5, np.inf, 0.5], {}),
    "y_pred-above-1": ([0, 1, 2], [[0.2, 0.3, 0.5], [0.1, 1.2, 0.1], [0.6, 0.2, 0.2]], {}),
    "y_pred-below-0": ([0, 1, 1], [0.5, -0.1, 0.5], {}),
    "y_pred-3d": ([0, 1, 2], np.full((3, 3, 1), 1 / 3), {}),
    "y_pred-empty": ([], [], {}),
    "y_pred-no-columns": ([0, 1, 2], np.empty((3, 0)), {}),
    "y_pred-complex": ([0, 1, 1], np.array([0.5, 0.5, 0.5], dtype=complex), {}),
    "y_pred-strings": ([0, 1, 1], ["a", "b", "c"], {}),
    "y_pred-ragged": ([0, 1, 2], [[0.5, 0.5], [1.0], [0.5, 0.5]], {}),
    "y_pred-None": ([0, 1, 1], None, {}),
    "y_pred-scalar": ([0, 1, 1], 0.5, {}),
    "length-mismatch": ([0, 1, 2, 1], P3, {}),
    "classes-mismatch": ([0, 1, 1], P3, {}),
    "classes-mismatch-binary-y_pred": ([0, 1, 2], [0.2, 0.3, 0.4], {}),
    "classes-mismatch-with-labels": ([0, 1, 1], P3, {"labels": [0, 1]}),
    "single-label": ([1, 1, 1], [0.2, 0.3, 0.4], {}),
    "single-label-2d": (["a", "a", "a"], P2, {}),
    "labels-one-class": ([1, 1, 1], P2, {"labels": [1]}),
    "labels-one-class-repeated": ([1, 1, 1], P2, {"labels": [1, 1]}),
    "labels-missing-a-class": ([0, 1, 2], P3, {"labels": [0, 1, 3]}),
    "labels-of-other-type": ([0, 1, 2], P3, {"labels": ["0", "1", "2"]}),
    "labels-continuous": ([0.5, 1.5, 2.5], P3, {"labels": [0.5, 1.5, 2.5]}),
    "labels-duplicated": ([0, 1, 2], P3, {"labels": [0, 1, 1, 2]}),
    "labels-2d": ([0, 1, 2], P3, {"labels": [[0, 1, 2]]}),
    "continuous-y_true": ([0.5, 1.0, 0.0], P3, {}),
    "nan-in-y_true": ([0.0, np.nan, 1.0], P2, {}),
    "inf-in-y_true": ([0.0, np.inf, 1.0], P2, {}),
    "y_true-multioutput": ([[0, 1], [2, 0], [1, 2]], P3, {}),
    "y_true-string-2d": ([["a", "b"], ["b", "a"], ["a", "a"]], P2, {}),
    "y_true-3d": (np.zeros((3, 1, 1), dtype=int), P2, {}),
    "y_true-objects": (np.array([1, 2, 0], dtype=object), P3, {}),  # not strings
    "y_true-empty-objects": (np.array([], dtype=object), np.array([0], dtype=np.int8), {}),  # found by test_fuzz
    "y_true-sparse": ("sparse", P3, {}),
    "y_true-scalar": (1, P2, {}),
    "y_true-string": ("abc", P3, {}),
    "indicator-with-labels": (np.eye(3, dtype=int), P3, {"labels": [0, 1, 2]}),
    "weights-length": ([0, 1, 2], P3, {"sample_weight": [1.0, 2.0]}),
    "weights-2d": ([0, 1, 2], P3, {"sample_weight": [[1.0, 2.0, 3.0]]}),
    "weights-nan": ([0, 1, 2], P3, {"sample_weight": [1.0, np.nan, 3.0]}),
    "weights-inf": ([0, 1, 2], P3, {"sample_weight": [1.0, np.inf, 3.0]}),
    "weights-all-zero": ([0, 1, 2], P3, {"sample_weight": [0.0, 0.0, 0.0]}),
    "weights-all-zero-sum": ([0, 1, 2], P3, {"sample_weight": [0, 0, 0], "normalize": False}),
    "weights-scalar": ([0, 1, 2], P3, {"sample_weight": 2.0}),
    "weights-complex": ([0, 1, 2], P3, {"sample_weight": np.ones(3, dtype=complex)}),
    "normalize-int": ([0, 1, 2], P3, {"normalize": 1}),
    "normalize-str": ([0, 1, 2], P3, {"normalize": "yes"}),
}


@pytest.mark.parametrize(("y_true", "y_pred", "kwargs"), INVALID.values(), ids=INVALID.keys())
def test_invalid_input_raises_value_error_like_sklearn(y_true, y_pred, kwargs):
    if isinstance(y_true, str) and y_true == "sparse":  # scikit-learn rejects a sparse y_true
        y_true = pytest.importorskip("scipy.sparse").csr_matrix(np.eye(3, dtype=int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):
            sklearn_log_loss(y_true, y_pred, **kwargs)
        with pytest.raises(ValueError):
            log_loss(y_true, y_pred, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([0, 1, 2], [[0.2, 0.3, 0.5], [np.nan, 0.8, 0.1], [0.6, 0.2, 0.2]]), {}, "NaN"),
        (([0, 1, 1], [0.5, 1.5, 0.5]), {}, "greater than 1"),
        (([0, 1, 1], P3), {}, "different number of classes: 2 vs 3"),
        (([1, 1, 1], [0.2, 0.3, 0.4]), {}, "only one label"),
        (([0, 1, 2], P3), {"labels": [0, 1, 3]}, r"values \[2\] not belonging"),
        (([0, 1, 2], P3), {"sample_weight": [1.0, -1.0, 1.0]}, r"non-negative, but sample_weight\[1\] = -1"),
        (([0, 1, 2], P3), {"sample_weight": [1.0, np.nan, 1.0]}, "non-finite value nan at position 1"),
        (([0, 1, 2, 1], P3), {}, "inconsistent numbers of samples"),
    ],
)
def test_error_messages_say_what_and_where(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        log_loss(*args, **kwargs)


def test_negative_weights_are_rejected():
    """A deliberate difference: scikit-learn sums negative weights, fastloss rejects them."""
    weights = [1.0, -0.5, 2.0]
    sklearn_log_loss([0, 1, 2], P3, sample_weight=weights)  # scikit-learn accepts them
    with pytest.raises(ValueError, match="negative"):
        log_loss([0, 1, 2], P3, sample_weight=weights)


def test_sparse_y_pred_is_rejected():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="sparse"):
        log_loss([0, 1, 2], sparse.csr_matrix(np.array(P3)))


# --------------------------------------------------------------------------------------------
# Determinism, chunks, and inputs left alone
# --------------------------------------------------------------------------------------------


def test_chunk_bounds_depend_only_on_n():
    for n in [1, 2, _config.MIN_CHUNK_ROWS, _config.MIN_CHUNK_ROWS + 1, 10**6, 10**8]:
        bounds = bounds_of(np.empty((n, 0)), 3)  # the rows of y_pred, as log_loss splits them
        assert bounds[0] == 0
        assert bounds[-1] == n
        assert np.all(np.diff(bounds) > 0)
        assert len(bounds) - 1 <= _config.MAX_CHUNKS


def test_integer_label_encoding_matches_np_unique(rng):
    """The O(n) encoder of integer labels is np.unique(return_inverse=True), edge dtypes included."""
    cases = [np.array([True, False, True]), np.array([3, -2, 3, 7]), np.array([0, 10**9])]
    for dtype in [np.int8, np.int32, np.int64, np.uint8, np.uint64]:
        info = np.iinfo(dtype)
        cases.append(np.array([info.min, info.max, info.min], dtype=dtype))  # too wide: None
        cases.append(rng.integers(info.min, info.min + 40, 100, dtype=dtype))
        cases.append(rng.integers(info.max - 40, info.max, 100, endpoint=True, dtype=dtype))
    for y in cases:
        encoded = _encode_small_integer_range(y)
        classes, inverse = np.unique(y, return_inverse=True)
        if encoded is not None:
            assert encoded[0].dtype == classes.dtype
            np.testing.assert_array_equal(encoded[0], classes)
            np.testing.assert_array_equal(encoded[1], inverse)
    assert _encode_small_integer_range(np.array([0, 2**40])) is None


@pytest.mark.parametrize(
    "case", ["f64", "f32", "f64-weighted", "f32-binary-weighted", "indicator-weighted"]
)
def test_bitwise_identical_for_any_thread_count(rng, case):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 Numba threads")
    n = 40 * _config.MIN_CHUNK_ROWS + 17
    dtype = np.float32 if "f32" in case else np.float64
    if "binary" in case:
        y_true = rng.integers(0, 2, n)
        y_pred = rng.random(n).astype(dtype)
    elif "indicator" in case:
        y_true = (rng.random((n, 4)) < 0.4).astype(np.int8)
        y_pred = random_proba(rng, n, 4, dtype)
    else:
        y_true = rng.integers(0, 5, n)
        y_pred = random_proba(rng, n, 5, dtype)
    kwargs = {"sample_weight": rng.random(n)} if "weighted" in case else {}
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in [1, 2, 1, 2]:
            numba.set_num_threads(threads)
            results.append(
                (log_loss(y_true, y_pred, **kwargs), log_loss(y_true, y_pred, normalize=False, **kwargs))
            )
    finally:
        numba.set_num_threads(previous)
    assert all(result == results[0] for result in results)  # bitwise: == on floats, no tolerance


def test_inputs_are_not_modified_and_read_only_inputs_work(rng, tmp_path):
    n = 2500
    y_true = rng.integers(0, 3, n)
    y_pred = random_proba(rng, n, 3)
    weights = rng.random(n)
    labels = np.array([0, 1, 2])
    copies = [a.copy() for a in (y_true, y_pred, weights, labels)]
    expected = log_loss(y_true, y_pred, sample_weight=weights, labels=labels)
    for array in (y_true, y_pred, weights, labels):
        array.setflags(write=False)
    assert log_loss(y_true, y_pred, sample_weight=weights, labels=labels) == expected
    for array, copy in zip((y_true, y_pred, weights, labels), copies, strict=True):
        np.testing.assert_array_equal(array, copy)

    path = tmp_path / "y_pred.npy"
    np.save(path, copies[1])
    mapped = np.load(path, mmap_mode="r")
    assert log_loss(y_true, mapped, sample_weight=weights) == expected
    np.testing.assert_array_equal(mapped, copies[1])

    binary = rng.random(n)
    binary_copy = binary.copy()
    log_loss(rng.integers(0, 2, n), binary)
    np.testing.assert_array_equal(binary, binary_copy)
