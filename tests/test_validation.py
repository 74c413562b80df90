"""Bad input: every case of the contract raises ValueError/TypeError saying what and where,
before any kernel runs, and the caller's arrays are never modified."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_problem

import fastloss
from fastloss import _config


@pytest.fixture()
def data():
    X, y, sw = make_problem(n=50, d=3)
    return X, y, sw


def _raises(match, fn, *args, exc=ValueError, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_scans_of_large_input_report_the_first_bad_entry_of_many():
    """The scans count blocks of values in parallel chunks and search only a block with a bad one:
    with bad entries in several chunks and blocks, the message names the first, in storage order."""
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    n, d = 40_000, 7
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    X[30_000, 1] = np.inf
    X[9_000, 5] = np.nan
    X[9_000, 6] = np.inf
    before = X.copy()
    _raises(r"non-finite value nan at row 9000, column 5", fastloss.LinearObjective, X, y)
    _raises(r"non-finite value inf at row 30000, column 1", fastloss.LinearObjective, np.asfortranarray(X), y)
    np.testing.assert_array_equal(X, before)
    Xs = sp.csr_matrix(np.where(np.isfinite(X), X, 0.0))
    Xs.data[[Xs.indptr[20_000], Xs.indptr[35_000] + 2]] = [np.nan, np.inf]
    _raises(r"non-finite value nan at row 20000", fastloss.LinearObjective, Xs, y)
    Xs.data[:] = 1.0
    Xs.indices[[Xs.indptr[25_000] + 1, Xs.indptr[39_000]]] = [d, -1]
    _raises(rf"column index {d} out of range \[0, {d}\) at stored entry {Xs.indptr[25_000] + 1} \(row 25000\)",
            fastloss.LinearObjective, Xs, y)


def test_construction_errors(data):
    X, y, sw = data
    LO = fastloss.LinearObjective
    Xbad = X.copy()
    Xbad[7, 2] = np.nan
    _raises(r"`X` contains a non-finite value nan at row 7, column 2", LO, Xbad, y)
    Xbad = np.asfortranarray(X)
    Xbad[3, 1] = np.inf
    _raises(r"non-finite value inf at row 3, column 1", LO, Xbad, y)
    ybad = y.copy()
    ybad[4] = np.nan
    _raises(r"`y` contains a non-finite value nan at position 4", LO, X, ybad)
    _raises(r"y\[0\] = 2 is not a valid label for 'logistic'", LO, X, np.r_[2, y[1:]])
    _raises(r"mixes conventions: labels contain -1, so all must be -1 or \+1, but y\[3\] = 0",
            LO, X, np.r_[-1, 1, 1, 0, np.ones(46)])
    _raises(r"y\[1\] = 0.5 is not a valid label for 'hinge'", LO, X, np.r_[1, 0.5, y[2:]], "hinge")
    _raises(r"`y` has 49 entries but there are 50 samples", LO, X, y[:49])
    swbad = sw.copy()
    swbad[5] = -1
    _raises(r"sample_weight\[5\] = -1", LO, X, y, sample_weight=swbad)
    swbad[5] = np.inf
    _raises(r"`sample_weight` contains a non-finite value inf at position 5", LO, X, y, sample_weight=swbad)
    _raises(r"sums to zero", LO, X, y, sample_weight=np.zeros(50))
    _raises(r"`sample_weight` has 3 entries", LO, X, y, sample_weight=[1, 2, 3])
    _raises(r"`l2` must be >= 0", LO, X, y, l2=-1.0)
    _raises(r"`l2` must be finite", LO, X, y, l2=np.nan)
    _raises(r"`l2` must be a real number", LO, X, y, l2="big", exc=TypeError)
    _raises(r"`X` is empty", LO, np.empty((0, 3)), [])
    _raises(r"`X` is empty", LO, np.empty((3, 0)), [0, 1, 0])
    _raises(r"`X` must be 2-dimensional", LO, np.ones(5), np.ones(5))
    _raises(r"`X` must be real", LO, X.astype(complex), y, exc=TypeError)
    _raises(r"`X` must hold real numbers", LO, np.array([["a", "b"]], dtype=object), [1], exc=TypeError)
    _raises(r"unknown loss 'logit'.*'logistic'.*'log_loss'", LO, X, y, "logit")
    _raises(r"`n_classes` applies only to loss='multinomial'", LO, X, y, n_classes=3)
    _raises(r"n_threads must be >= 1", LO, X, y, n_threads=0)
    _raises(r"n_threads must be an int", LO, X, y, n_threads=1.5, exc=TypeError)
    _raises(r"`fit_intercept` must be a bool", LO, X, y, fit_intercept="yes", exc=TypeError)


def test_method_errors(data):
    X, y, _ = data
    obj = fastloss.LinearObjective(X, y)
    good = np.zeros(4)
    _raises(r"`coef` has shape \(3,\); expected \(4,\)", obj.loss, np.zeros(3))
    _raises(r"`coef` has shape \(5,\)", obj.gradient, np.zeros(5))
    _raises(r"`coef` has shape \(2, 2\)", obj.loss_gradient, np.zeros((2, 2)))
    _raises(r"`coef` contains a non-finite value nan at flat position 1", obj.loss, [0, np.nan, 0, 0])
    _raises(r"`coef` contains a non-finite value inf", obj.hessp, [0, np.inf, 0, 0], good)
    _raises(r"`v` has shape \(3,\)", obj.hessp, good, np.zeros(3))
    _raises(r"`v` has shape \(3, 2\)", obj.hessp, good, np.zeros((3, 2)))
    _raises(r"`v` contains a non-finite value nan", obj.hessp, good, [np.nan, 0, 0, 0])
    _, hessp = obj.gradient_hessp(good)
    _raises(r"`v` has shape \(5,\)", hessp, np.zeros(5))
    _raises(r"`coef` must be real", obj.loss, np.zeros(4, dtype=complex), exc=TypeError)


def test_hessian_size_limit():
    n_features = _config.HESSIAN_MAX_COEF  # + intercept = one past the limit
    import scipy.sparse as sp

    X = sp.csr_matrix((np.ones(1), np.zeros(1, dtype=np.int32), np.array([0, 1])), shape=(1, n_features))
    obj = fastloss.LinearObjective(X, [1])
    _raises(r"hessian\(\) is limited to n_coef <= 20000", obj.hessian, np.zeros(obj.n_coef))


def test_inputs_unchanged_after_errors_and_calls(data):
    X, y, sw = data
    originals = [a.copy() for a in (X, y, sw)]
    ybad = np.r_[y[:-1], 3.0]
    ybad_copy = ybad.copy()
    with pytest.raises(ValueError):
        fastloss.LinearObjective(X, ybad, sample_weight=sw)
    np.testing.assert_array_equal(ybad, ybad_copy)
    ypm = 2 * y - 1
    ypm_copy = ypm.copy()
    obj = fastloss.LinearObjective(X, ypm, "hinge", sample_weight=sw)
    obj.loss_gradient(np.ones(4))
    np.testing.assert_array_equal(ypm, ypm_copy)
    for a, o in zip((X, y, sw), originals, strict=False):
        np.testing.assert_array_equal(a, o)
    raw = np.linspace(-1, 1, 50)
    raw_copy = raw.copy()
    fastloss.get_loss("logistic").gradient_hessian(ypm, raw, sample_weight=sw)
    np.testing.assert_array_equal(raw, raw_copy)
    np.testing.assert_array_equal(ypm, ypm_copy)


def test_weird_inputs_never_crash():
    LO = fastloss.LinearObjective
    for X, y in [
        ([[1.0, 2.0], [3.0, 4.0]], [0, 1]),     # lists work
        (np.ones((2, 2), dtype=np.int8), [True, False]),
        (np.ones((2, 2), dtype=np.float16), [1, 0]),
    ]:
        obj = LO(X, y)
        assert np.isfinite(obj.loss(np.zeros(3)))
    with pytest.raises((ValueError, TypeError)):
        LO([[1.0, 2.0], [3.0]], [0, 1])  # ragged
    with pytest.raises((ValueError, TypeError)):
        LO(None, [0, 1])
    with pytest.raises((ValueError, TypeError)):
        LO(np.ones((2, 2)), None)


def test_chunk_labels_use_the_global_convention_and_positions():
    from fastloss._validation import check_binary_labels

    # A chunk of a -1/+1 vector that holds only +1s is still read as -1/+1 ...
    np.testing.assert_array_equal(check_binary_labels([1, 1], 2, "hinge", name="y", plus_minus=True), [1.0, 1.0])
    # ... and a 0 in it is named at its position in the whole vector.
    with pytest.raises(ValueError, match=r"mixes conventions.*but y\[103\] = 0"):
        check_binary_labels([1, 1, 1, 0], 4, "hinge", name="y", plus_minus=True, offset=100)
    with pytest.raises(ValueError, match=r"y\[101\] = 2 is not a valid label"):
        check_binary_labels([1, 2], 2, "hinge", name="y", plus_minus=False, offset=100)


LABEL_CASES = [
    [0, 1, 1, 0],
    [-1, 1, 1, -1],
    [1, 1, 1, 1],
    [0.0, 0.25, 1.0, 0.5],      # soft: logistic only
    [-1, 1, 0, 1],              # mixes conventions
    [0, 1, 2, 1],               # not a label
    [0, 1, -0.5, 1],            # negative soft label
    [0, 1, np.nan, 1],
    [0, np.inf, 1, 1],
]


def _labels_or_error(y, loss, **kw):
    from fastloss._validation import check_binary_labels

    try:
        return check_binary_labels(y, len(y), loss, name="y", **kw)
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_counted_label_check_agrees_with_the_numpy_path(monkeypatch, dtype, loss):
    """The one-pass compiled label check returns what the NumPy path returns, and for invalid
    labels leaves the first bad position and the message to it."""
    from fastloss import _validation

    for case in LABEL_CASES:
        if dtype == np.int64 and not np.all(np.isfinite(case) & (np.asarray(case) == np.round(case))):
            continue
        y = np.asarray(case, dtype=dtype)
        for kw in ({}, {"plus_minus": True}, {"plus_minus": False, "offset": 10}, {"copy": False}):
            with monkeypatch.context() as m:
                m.setattr(_config, "COUNTED_MIN_SIZE", 0)  # the compiled pass, at any size
                fast = _labels_or_error(y, loss, **kw)
            with monkeypatch.context() as m:
                m.setattr(_validation, "_COUNTED_DTYPES", ())
                slow = _labels_or_error(y, loss, **kw)
            if isinstance(slow, str):
                assert fast == slow, (case, dtype, kw)
            else:
                np.testing.assert_array_equal(fast, slow)
                assert fast.dtype == np.float64
                assert np.shares_memory(fast, y) == np.shares_memory(slow, y)


def test_label_copy_only_when_asked():
    from fastloss._validation import check_binary_labels

    y = np.array([0.0, 1.0, 1.0])
    assert not np.shares_memory(check_binary_labels(y, 3, "logistic"), y)
    assert check_binary_labels(y, 3, "logistic", copy=False) is y
    # A conversion is a new array either way.
    assert not np.shares_memory(check_binary_labels(y.astype(np.float32), 3, "hinge", copy=False), y)
    assert not np.shares_memory(check_binary_labels(2 * y - 1, 3, "hinge", copy=False), y)


def test_value_counts():
    from fastloss.kernels._checks import COUNTED, value_counts

    y = np.array([0.0, 1.0, -1.0, 2.0, 0.5, np.nan, -np.inf] * 3000)
    expected = {
        "nonfinite": 2,   # nan, -inf
        "negative": 2,    # -1, -inf
        "positive": 3,    # 1, 2, 0.5
        "above_one": 1,   # 2
        "not_pm1": 5,     # 0, 2, 0.5, nan, -inf
        "not_01": 5,      # -1, 2, 0.5, nan, -inf
    }
    np.testing.assert_array_equal(value_counts(y), [3000 * expected[name] for name in COUNTED])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_counted_weight_check_agrees_with_the_numpy_path(monkeypatch, dtype):
    from fastloss import _validation
    from fastloss._validation import check_sample_weight

    cases = [[1, 2, 0, 3], [0, 0, 0, 0], [1, -1, 2, 3], [0.5, 1e-300, 0.0, 2.5], [1, np.nan, 1, 1],
             [1, 1, np.inf, -1]]
    for case in cases:
        if dtype == np.int64 and not np.all(np.isfinite(case) & (np.asarray(case) == np.round(case))):
            continue
        w = np.asarray(case, dtype=dtype)
        for kw in ({}, {"require_positive_sum": False, "offset": 7}, {"copy": False}):
            results = []
            for counted in (_validation._COUNTED_DTYPES, ()):
                with monkeypatch.context() as m:
                    m.setattr(_config, "COUNTED_MIN_SIZE", 0)
                    m.setattr(_validation, "_COUNTED_DTYPES", counted)
                    try:
                        results.append(check_sample_weight(w, 4, name="sw", **kw))
                    except ValueError as exc:
                        results.append(str(exc))
            fast, slow = results
            if isinstance(slow, str):
                assert fast == slow, (case, dtype, kw)
            else:
                np.testing.assert_array_equal(fast, slow)
                assert fast.dtype == np.float64
                assert np.shares_memory(fast, w) == (kw.get("copy") is False and dtype == np.float64)
                assert np.shares_memory(slow, w) == np.shares_memory(fast, w)


def test_long_labels_and_weights_take_the_compiled_pass(monkeypatch):
    """From ``_config.COUNTED_MIN_SIZE`` entries on, labels and weights are checked by the compiled
    counting passes; shorter arrays stay on NumPy (no compiled code to load at start-up). (The
    pointwise API takes these checks only with ``out=``: see ``fastloss.pointwise``.)"""
    from fastloss.kernels import _checks

    calls = []
    original = _checks.value_counts
    monkeypatch.setattr(_checks, "value_counts", lambda a: calls.append(a.size) or original(a))
    n = _config.COUNTED_MIN_SIZE
    y = np.tile([0.0, 1.0], n // 2)
    w = np.ones(n)
    loss = fastloss.get_loss("logistic")
    loss.loss(y, np.zeros(n), sample_weight=w, out=np.empty(n))
    assert calls == [n, n]  # the labels, then the weights
    calls.clear()
    loss.loss(y[:100], np.zeros(100), sample_weight=w[:100], out=np.empty(100))
    assert calls == []
    # Without out=, the pointwise kernel counts invalid values in its own pass: no check pass.
    loss.loss(y, np.zeros(n), sample_weight=w)
    assert calls == []


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_a_negative_label_that_is_not_minus_one_is_named_itself(loss):
    """0/1 labels with one -0.25: the message names y[28] and what is allowed, not a 0 that only
    seems to clash with a -1/+1 convention nothing in y uses."""
    y = (np.arange(60) % 2).astype(float)
    y[28] = -0.25
    X = np.ones((60, 2))
    allowed = r"0/1, -1/\+1, or probabilities in \[0, 1\]" if loss == "logistic" else r"0/1 or -1/\+1"
    message = rf"y\[28\] = -0.25 is not a valid label for '{loss}': labels must be {allowed}"
    with pytest.raises(ValueError, match=message):
        fastloss.LinearObjective(X, y, loss)
    with pytest.raises(ValueError, match=rf"y_true\[28\] = -0.25 .*{allowed}"):
        fastloss.get_loss(loss).loss(y, np.zeros(60))
    y[28] = 0.0
    y[[5, 7]] = -1.0  # a real mix of conventions keeps its own message
    with pytest.raises(ValueError, match="mixes conventions"):
        fastloss.LinearObjective(X, y, loss)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("bad", [2.5, -1.0, np.nan, 7.0])
def test_long_class_labels_with_one_bad_entry_are_refused_by_the_compiled_check(dtype, bad):
    """Long class labels are read in place by the pointwise kernels after one compiled pass:
    that pass must refuse what the NumPy path refuses (a fraction, a negative, NaN, a class >= K),
    and the message still names the entry."""
    if dtype == np.int64 and not float(bad).is_integer():
        return
    n, K = _config.COUNTED_MIN_SIZE + 10, 4
    y = (np.arange(n) % K).astype(dtype)
    y[n - 3] = bad
    raw = np.zeros((n, K))
    with pytest.raises(ValueError, match=rf"y_true`?(\[{n - 3}\]| contains a non-finite value .* {n - 3})"):
        fastloss.get_loss("multinomial").mean_loss(y, raw)
    y[n - 3] = 1
    assert np.isfinite(fastloss.get_loss("multinomial").mean_loss(y, raw))
