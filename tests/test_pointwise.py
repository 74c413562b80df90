"""The pointwise API (contract section 2) against mpmath, the reference and scikit-learn (the
table's rows, ``_comparisons.py``), its documented ranges, and itself."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from _comparisons import check, rows
from conftest import TWO_THREADS, exact_in_score
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss
from fastloss import reference as R

BINARY = fastloss.reference.BINARY_LOSSES
mp.mp.prec = 300  # enough for exp(+-1e308)-sized arguments to be exact where it matters


TINY = np.finfo(np.float64).tiny
MAX = np.finfo(np.float64).max


def _assert_close_to_exact(got, exact, what, ulps=6):
    ex = float(exact) if abs(exact) <= MAX else (np.inf if exact > 0 else -np.inf)
    assert not np.isnan(got), what
    if np.isinf(ex):
        assert got == ex, f"{what}: got {got}, exact exceeds the double range"
    elif abs(exact) >= TINY:
        rel = abs(got - exact) / abs(exact)
        assert rel <= ulps * 2.0**-52, f"{what}: got {got!r}, exact {mp.nstr(exact, 17)}, rel err {float(rel):.3g}"
    else:  # subnormal or underflowing exact value: absolute error of a few subnormal steps
        assert abs(got - float(exact)) <= 4 * 5e-324 + 2**-52 * abs(float(exact)), f"{what}: {got} vs {exact}"


EXTREMES = [0.0, 1e-300, 1e-10, 0.3, 1.0, 2.5, 37.0, 100.0, 700.0, 745.0, 1e4, 1e150, 1e308]
Z_EXTREME = np.array(sorted({s * v for v in EXTREMES for s in (1, -1)}))


@pytest.mark.parametrize("loss", BINARY)
@pytest.mark.parametrize("label", [0, 1])
def test_binary_losses_exact_at_extreme_and_tail_values(loss, label):
    L = fastloss.get_loss(loss)
    y = np.full(Z_EXTREME.size, label)
    value, grad = L.loss_gradient(y, Z_EXTREME)
    g2, hess = L.gradient_hessian(y, Z_EXTREME)
    np.testing.assert_array_equal(g2, grad)
    s = 2 * label - 1
    for i, z in enumerate(Z_EXTREME):
        ev, eg, eh = exact_in_score(loss, mp, s, z)
        if loss == "tangent" and 0.4 < s * z < 0.7:
            continue  # the loss has a double root at m = tan(1/2): relative accuracy is not defined there
        _assert_close_to_exact(value[i], ev, f"{loss} value y={label} z={z}")
        _assert_close_to_exact(grad[i], eg, f"{loss} gradient y={label} z={z}")
        _assert_close_to_exact(hess[i], eh, f"{loss} hessian y={label} z={z}", ulps=16)


def test_named_extremes():
    L = fastloss.get_loss("logistic")
    y = np.array([1.0, 0.0, 1.0, 0.0])
    z = np.array([1e308, -1e308, -1e308, 1e308])
    loss = L.loss(y, z)
    assert loss[0] == 0.0 and loss[1] == 0.0 and loss[2] == 1e308 and loss[3] == 1e308
    assert L.loss([1.0], [700.0])[0] == pytest.approx(np.exp(-700.0), rel=1e-15)  # tail, not 0
    assert fastloss.get_loss("exponential").loss([1], [-1e3])[0] == np.inf  # exact value > max double


@pytest.mark.parametrize("loss,m,grad,hess", [
    ("hinge", 1.0, 0.0, 0.0), ("squared_hinge", 1.0, 0.0, 0.0), ("smooth_hinge", 0.0, -1.0, 0.0),
    ("modified_huber", -1.0, -4.0, 2.0), ("modified_huber", 1.0, 0.0, 0.0), ("smooth_hinge", 1.0, 0.0, 0.0),
])
def test_kink_conventions(loss, m, grad, hess):
    g, h = fastloss.get_loss(loss).gradient_hessian([1], [m])
    assert (g[0], h[0]) == (grad, hess)


@pytest.mark.parametrize("op, case", rows("pointwise"))
def test_matches_reference(op, case):
    """The table's pointwise rows: every method of every binary loss, float64 and float32 scores,
    with and without weights, soft labels; logistic also against scikit-learn's HalfBinomialLoss."""
    check(op, case)


def test_out_buffers_and_errors():
    L = fastloss.get_loss("logistic")
    y = np.array([0, 1, 1])
    raw = np.array([0.5, -1.0, 2.0])
    out = np.empty(3)
    res = L.loss(y, raw, out=out)
    assert res is out
    np.testing.assert_allclose(out, R.point_loss("logistic", y, raw), rtol=1e-15)
    gout = np.empty(3)
    assert L.gradient(y, raw, out=gout) is gout
    with pytest.raises(ValueError, match="shape"):
        L.loss(y, raw, out=np.empty(4))
    with pytest.raises(ValueError, match="dtype"):
        L.loss(y, raw, out=np.empty(3, dtype=np.float32))
    with pytest.raises(ValueError, match="overlap"):
        L.loss(y, raw, out=raw)
    with pytest.raises(ValueError, match=r"y_true\[1\] = 2"):
        L.loss([0, 2, 1], raw)
    with pytest.raises(ValueError, match=r"y_true\[2\] = 0"):
        fastloss.get_loss("hinge").loss([-1, 1, 0], raw)
    with pytest.raises(ValueError, match=r"y_true\[0\] = 0.5.*soft labels"):
        fastloss.get_loss("square").loss([0.5, 1, 0], raw)
    with pytest.raises(ValueError, match=r"y_true\[1\] = 1.5"):
        L.loss([0.5, 1.5, 0], raw)
    with pytest.raises(ValueError, match="3 entries but there are 2"):
        L.loss(y, raw[:2])
    with pytest.raises(ValueError, match="non-finite"):
        L.loss(y, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="unknown loss 'nope'.*'logistic'"):
        fastloss.get_loss("nope")


@TWO_THREADS
def test_mean_loss_is_deterministic_across_threads():
    rng = np.random.default_rng(2)
    n = 100_000
    y = rng.random(n) < 0.5
    raw = rng.standard_normal(n)
    sw = rng.random(n)
    for loss in ("logistic", "tangent"):
        L = fastloss.get_loss(loss)
        a = L.mean_loss(y, raw, sw, n_threads=1)
        b = L.mean_loss(y, raw, sw, n_threads=2)
        assert a == b
        assert np.array_equal(L.gradient(y, raw, n_threads=1), L.gradient(y, raw, n_threads=2))


def test_soft_labels_and_conventions_agree():
    L = fastloss.get_loss("logistic")
    raw = np.linspace(-5, 5, 11)
    y01 = (raw > 0).astype(int)
    np.testing.assert_array_equal(L.loss(y01, raw), L.loss(2 * y01 - 1, raw))
    np.testing.assert_array_equal(L.loss(y01, raw), L.loss(y01.astype(bool), raw))
    p = np.linspace(0, 1, 11)
    # logaddexp(0, z) - p z cancels where the loss is small: compare with an absolute tolerance.
    np.testing.assert_allclose(L.loss(p, raw), np.logaddexp(0, raw) - p * raw, rtol=1e-14, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    loss=st.sampled_from(BINARY),
    z=st.lists(st.floats(-1e308, 1e308, allow_nan=False), min_size=1, max_size=40),
    labels=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_hypothesis_never_nan_and_matches_reference(loss, z, labels):
    raw = np.array(z)
    y = np.array(labels[: raw.size], dtype=float)
    L = fastloss.get_loss(loss)
    value, grad = L.loss_gradient(y, raw)
    _, hess = L.gradient_hessian(y, raw)
    for a in (value, grad, hess):
        assert not np.any(np.isnan(a))
    moderate = np.abs(raw) < 1e3
    if moderate.any():
        ym, zm = y[moderate], raw[moderate]
        np.testing.assert_allclose(value[moderate], R.point_loss(loss, ym, zm), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(grad[moderate], R.point_gradient(loss, ym, zm), rtol=1e-12, atol=1e-300)


#: Each binary loss's documented ranges, per unit weight: (loss >= low, |gradient| <= bound,
#: hessian within [low, high]); None where the loss states none.
RANGES = {
    "logistic": (0.0, 1.0, (0.0, 0.25)),
    "exponential": (0.0, None, (0.0, None)),
    "square": (0.0, None, (2.0, 2.0)),
    "squared_hinge": (0.0, None, (0.0, 2.0)),
    "modified_huber": (0.0, 4.0, (0.0, 2.0)),
    "smooth_hinge": (0.0, 1.0, (0.0, 1.0)),
    "hinge": (0.0, 1.0, (0.0, 0.0)),
    "savage": (0.0, None, (None, None)),
    "tangent": (0.0, None, (None, None)),
}
_SCORES = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                    st.floats(min_value=-1e-12, max_value=1e-12, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(z=st.lists(_SCORES, min_size=1, max_size=64), labels=st.randoms())
def test_documented_ranges_hold_in_floating_point(z, labels):
    """Every documented bound holds for the rounded values, not only in exact arithmetic (the
    logistic hessian was 0.25000000000000006 at z = 3e-16)."""
    z = np.array(z + [2.981670960297493e-16, -2.981670960297493e-16])
    y = np.array([float(labels.random() < 0.5) for _ in z])
    for name, (low, g_bound, (h_low, h_high)) in RANGES.items():
        L = fastloss.get_loss(name)
        loss = L.loss(y, z)
        g, h = L.gradient_hessian(y, z)
        assert np.all(loss >= low) and not np.any(np.isnan(g)) and not np.any(np.isnan(h)), name
        if name == "savage":
            assert np.all(loss <= 1.0)
        if g_bound is not None:
            assert np.all(np.abs(g) <= g_bound), name
        if h_low is not None:
            assert np.all(h >= h_low), name
        if h_high is not None:
            assert np.all(h <= h_high), name
    K = 3
    Z = np.resize(z, (z.size, K)) * np.array([1.0, -1.0, 0.5])
    classes = np.array([labels.randrange(K) for _ in range(z.size)])
    M = fastloss.get_loss("multinomial")
    g, h = M.gradient_hessian(classes, Z)
    assert np.all(M.loss(classes, Z) >= 0.0)
    assert np.all(np.abs(g) <= 1.0) and np.all((h >= 0.0) & (h <= 0.25))


@pytest.mark.slow
@pytest.mark.parametrize("labels", ["float 0/1", "int 0/1", "float -1/+1", "class int", "class float"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_loss_allocates_nothing_of_the_size_of_the_data(labels, weighted):
    """The contract: mean_loss allocates no (n,) array, whatever the labels' dtype and convention
    (the labels used to be converted to float64 / int64 first: 16-20 MB at n = 2,000,000)."""
    import tracemalloc

    rng = np.random.default_rng(5)

    def data(n):
        multinomial = labels.startswith("class")
        raw = rng.standard_normal((n, 4) if multinomial else n)
        y = rng.integers(0, 4 if multinomial else 2, n)
        if labels.endswith("float") or labels == "float 0/1":
            y = y.astype(np.float64)
        if labels == "float -1/+1":
            y = 2.0 * y - 1.0
        sw = rng.uniform(0.5, 2.0, n) if weighted else None
        return fastloss.get_loss("multinomial" if multinomial else "logistic"), y, raw, sw

    L, y, raw, sw = data(70_000)  # long enough for the compiled checks: compiles outside the trace
    L.mean_loss(y, raw, sw)
    n = 1_000_000
    L, y, raw, sw = data(n)
    tracemalloc.start()
    value = L.mean_loss(y, raw, sw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.isfinite(value)
    assert peak < n * 8 / 8, f"peak {peak} bytes: an array of n = {n} float64 is {n * 8}"


@pytest.mark.parametrize("labels", ["int64 0/1", "float32 0/1", "float64 -1/+1", "int64 -1/+1"])
def test_long_labels_read_in_place_give_the_same_bits(labels):
    """Long labels reach the kernels as they are and are converted block by block (no copy of
    y): every dtype and convention gives the bits of float64 0/1 labels, and the reference."""
    from fastloss import _config

    rng = np.random.default_rng(9)
    n = _config.COUNTED_MIN_SIZE + 1000
    y01 = (rng.random(n) < 0.4).astype(np.float64)
    z = rng.standard_normal(n) * 3
    sw = rng.uniform(0.5, 2.0, n)
    dtype = {"int64": np.int64, "float32": np.float32, "float64": np.float64}[labels.split()[0]]
    y = (2 * y01 - 1 if labels.endswith("-1/+1") else y01).astype(dtype)
    for name in ("logistic", "hinge"):
        L = fastloss.get_loss(name)
        for got, want in zip(L.loss_gradient(y, z, sample_weight=sw), L.loss_gradient(y01, z, sample_weight=sw),
                             strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(L.loss(y, z), R.point_loss(name, y01, z), rtol=1e-13, atol=1e-300)
        assert L.mean_loss(y, z, sw) == L.mean_loss(y01, z, sw)
    K = 4
    classes = rng.integers(0, K, n)
    Z = rng.standard_normal((n, K))
    M = fastloss.get_loss("multinomial")
    for as_given in (classes.astype(np.float64), classes.astype(np.float32)):
        for got, want in zip(M.gradient_hessian(as_given, Z), M.gradient_hessian(classes, Z), strict=True):
            np.testing.assert_array_equal(got, want)
        assert M.mean_loss(as_given, Z) == M.mean_loss(classes, Z)


# --- one-pass validation: the kernel counts invalid values, the checks name them ------------------

def _error(call):
    try:
        call()
    except (ValueError, TypeError) as exc:
        return type(exc), str(exc)
    return None


def _binary_bad_inputs(n):
    """``(what, y, raw, sw)`` with one invalid value each (position ``n - 3``: past the first blocks)."""
    rng = np.random.default_rng(11)
    y = (rng.random(n) < 0.5).astype(np.float64)
    raw = rng.standard_normal(n)
    sw = rng.uniform(0.5, 2.0, n)
    cases = []
    for what, array, value in [
        ("label 2", "y", 2.0), ("label 0.5 (soft)", "y", 0.5), ("label 1.5", "y", 1.5), ("label -0.25", "y", -0.25),
        ("label -1 among 0/1", "y", -1.0), ("label nan", "y", np.nan), ("label inf", "y", np.inf),
        ("score nan", "raw", np.nan), ("score -inf", "raw", -np.inf),
        ("weight -1", "sw", -1.0), ("weight nan", "sw", np.nan), ("weight inf", "sw", np.inf),
    ]:
        arrays = {"y": y.copy(), "raw": raw.copy(), "sw": sw.copy()}
        arrays[array][n - 3] = value
        cases.append((what, arrays["y"], arrays["raw"], arrays["sw"]))
    cases.append(("weights all 0", y, raw, np.zeros(n)))
    cases.append(("nan score and a bad label: the score is named first", np.where(np.arange(n) == 5, 2.0, y),
                  np.where(np.arange(n) == 7, np.nan, raw), sw))
    return cases


@pytest.mark.parametrize("n", [50, 70_000])
@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_one_pass_validation_raises_what_the_separate_checks_raise(loss, n):
    """Without ``out=`` the kernel counts invalid values and the precise checks run only then; with
    ``out=`` the checks run first. Both raise the same error, every method alike, and ``out`` is
    left untouched (the fresh outputs of the one-pass path are dropped with the error)."""
    L = fastloss.get_loss(loss)
    for what, y, raw, sw in _binary_bad_inputs(n):
        originals = [a.copy() for a in (y, raw, sw)]
        out = np.full(n, 7.0)
        checked_first = _error(lambda: L.loss(y, raw, sample_weight=sw, out=out))  # noqa: B023
        if loss == "logistic" and what == "label 0.5 (soft)":
            assert checked_first is None and np.isfinite(L.mean_loss(y, raw, sample_weight=sw))
            continue
        assert checked_first is not None, what
        assert np.all(out == 7.0), f"{what}: out= was written before the error"
        assert _error(lambda: L.gradient(y, raw, sample_weight=sw, out=out)) == checked_first, what  # noqa: B023
        assert np.all(out == 7.0), what
        for method in (L.loss, L.gradient, L.loss_gradient, L.gradient_hessian, L.mean_loss):
            assert _error(lambda: method(y, raw, sample_weight=sw)) == checked_first, (what, method)  # noqa: B023
        for a, original in zip((y, raw, sw), originals, strict=True):
            np.testing.assert_array_equal(a, original)


def test_one_pass_validation_keeps_the_order_of_the_checks():
    """Shape errors are raised before any kernel runs; where a value check used to come first
    (the scores before the labels, the labels before the weights), its error still does."""
    L = fastloss.get_loss("logistic")
    n = 70_000
    raw = np.zeros(n)
    raw[3] = np.nan
    y = np.zeros(n)
    with pytest.raises(ValueError, match="raw_prediction.*non-finite"):
        L.loss(y[:-1], raw)  # the labels' length would be refused next
    y[4] = 3.0
    with pytest.raises(ValueError, match=r"y_true\[4\] = 3"):
        L.loss(y, np.zeros(n), sample_weight=np.ones(n - 1))
    with pytest.raises(ValueError, match="sample_weight. has 69999 entries"):
        L.loss(np.zeros(n), np.zeros(n), sample_weight=np.ones(n - 1))
    with pytest.raises(ValueError, match="raw_prediction.*non-finite"):
        L.loss_gradient(np.zeros(n), raw, n_threads=0)  # n_threads is checked after the values
    with pytest.raises((ValueError, TypeError), match="n_threads"):
        L.loss_gradient(np.zeros(n), np.zeros(n), n_threads=0)


@pytest.mark.parametrize("n,K", [(50, 4), (70_000, 4), (3000, 40)])  # K = 4: no whole tile; 40: 5 tiles a row
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_multinomial_one_pass_validation_never_indexes_with_a_bad_label(n, K, dtype):
    """Class labels are read in place and used as indices only once found to be in [0, K): huge,
    negative, fractional and non-finite ones raise the checks' error, with or without ``out=``."""
    M = fastloss.get_loss("multinomial")
    raw = np.random.default_rng(3).standard_normal((n, K))
    for bad in [K, 1e300, -1e300, -1.0, 2.5, np.nan, np.inf, 2.0**63, -(2.0**63)]:
        if dtype == np.int64 and not (np.isfinite(bad) and float(bad).is_integer() and abs(bad) < 2.0**63):
            continue
        if dtype == np.float32 and abs(bad) > 3e38 and np.isfinite(bad):
            continue
        y = (np.arange(n) % K).astype(dtype)
        y[n - 2] = bad
        y_copy = y.copy()
        out = np.full(n, 7.0)
        checked_first = _error(lambda: M.loss(y, raw, out=out))  # noqa: B023
        assert checked_first is not None and "y_true" in checked_first[1], bad
        assert np.all(out == 7.0)
        for method in (M.loss, M.gradient, M.loss_gradient, M.gradient_hessian, M.mean_loss):
            assert _error(lambda: method(y, raw)) == checked_first, (bad, method)  # noqa: B023
        np.testing.assert_array_equal(y, y_copy)
    y = np.arange(n) % K
    bad_raw = raw.copy()
    bad_raw[n - 1, 2] = np.nan
    assert _error(lambda: M.loss_gradient(y, bad_raw)) == _error(lambda: M.loss(y, bad_raw, out=np.empty(n)))
    assert "raw_prediction" in _error(lambda: M.loss_gradient(y, bad_raw))[1]
    sw = np.ones(n)
    sw[1] = -2.0
    assert _error(lambda: M.loss_gradient(y, raw, sw)) == _error(lambda: M.loss(y, raw, sw, out=np.empty(n)))


@TWO_THREADS
@pytest.mark.parametrize("K", [3, 10, 40])
def test_multinomial_pointwise_same_bits_for_any_thread_count_and_matches_reference(K):
    rng = np.random.default_rng(4)
    n = 50_000
    raw = rng.standard_normal((n, K)) * 5
    y = rng.integers(0, K, n)
    sw = rng.uniform(0.5, 2.0, n)
    M = fastloss.get_loss("multinomial")
    one = M.loss_gradient(y, raw, sw, n_threads=1) + M.gradient_hessian(y, raw, sw, n_threads=1)
    two = M.loss_gradient(y, raw, sw, n_threads=2) + M.gradient_hessian(y, raw, sw, n_threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    assert M.mean_loss(y, raw, sw, n_threads=1) == M.mean_loss(y, raw, sw, n_threads=2)
    np.testing.assert_allclose(one[0], sw * R.point_loss("multinomial", y, raw), rtol=1e-13)
    np.testing.assert_allclose(one[1], sw[:, None] * R.point_gradient("multinomial", y, raw), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(one[3], sw[:, None] * R.point_hessian("multinomial", y, raw), rtol=1e-12, atol=1e-15)


def test_plus_minus_labels_in_blocks_with_and_without_a_minus_one():
    """-1/+1 labels are converted per block, only where a block holds a -1: a vector whose first
    blocks hold only +1 gives the bits of its 0/1 twin."""
    rng = np.random.default_rng(6)
    n = 5000
    y01 = np.ones(n)
    y01[3000:] = rng.random(n - 3000) < 0.5
    z = rng.standard_normal(n) * 2
    for loss in ("logistic", "squared_hinge"):
        L = fastloss.get_loss(loss)
        for got, want in zip(L.loss_gradient(2 * y01 - 1, z), L.loss_gradient(y01, z), strict=True):
            np.testing.assert_array_equal(got, want)


def test_pointwise_kernels_from_njit_code_match_the_api():
    """``kernels.pointwise.binary_pointwise`` / ``multinomial_pointwise`` called from a user's
    ``@njit`` function give the API's bits (the prange drivers run the same chunk functions)."""
    from numba import njit

    from fastloss.kernels import pointwise as PK
    from fastloss.kernels import prepare

    @njit
    def both(y01, z, classes, Z, sw):
        n, K = Z.shape
        lo, gr = np.empty(n), np.empty(n)
        mlo, mgr, mhe = np.empty(n), np.empty((n, K)), np.empty((n, K))
        sums = PK.binary_pointwise(y01, z, sw, 0, lo, gr, np.empty(0))
        msums = PK.multinomial_pointwise(classes, Z, sw, mlo, mgr, mhe)
        return sums, lo, gr, msums, mlo, mgr, mhe

    prepare("logistic")
    rng = np.random.default_rng(8)
    n, K = 5000, 5
    y01 = (rng.random(n) < 0.5).astype(np.float64)
    z = rng.standard_normal(n)
    classes = rng.integers(0, K, n)
    Z = rng.standard_normal((n, K))
    sw = rng.uniform(0.5, 2.0, n)
    sums, lo, gr, msums, mlo, mgr, mhe = both(y01, z, classes, Z, sw)
    L, M = fastloss.get_loss("logistic"), fastloss.get_loss("multinomial")
    for got, want in zip((lo, gr, mlo, mgr, mhe), L.loss_gradient(y01, z, sw) + M.loss_gradient(classes, Z, sw)
                         + (M.gradient_hessian(classes, Z, sw)[1],), strict=True):
        np.testing.assert_array_equal(got, want)
    assert sums[0] / sums[1] == L.mean_loss(y01, z, sw)
    assert msums[0] / msums[1] == M.mean_loss(classes, Z, sw)
