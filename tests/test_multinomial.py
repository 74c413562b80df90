"""The multinomial loss: LinearObjective and get_loss("multinomial") against the NumPy reference
and scikit-learn (the table's rows, ``_comparisons.py``), finite differences, closed forms at
extreme scores, and themselves.

Compile budget: every (kernel, dtype, layout) combination compiles once (a few seconds each on a
cold cache), so all tests share the same few data sets; the Hessian-vector kernels are not run on
float32 CSR (the table's ``applies``).
"""

from __future__ import annotations

import functools
import math

import conftest
import numpy as np
import pytest
from _comparisons import CASES, check, check_methods_agree, rows
from conftest import TWO_THREADS, as_format, central_difference

import fastloss
from fastloss import reference as R
from fastloss.kernels import pointwise as PK

N, D = 2500, 5  # 2500 rows: several reduction chunks (MIN_CHUNK_ROWS = 1024) and cache blocks
MN = "multinomial"


@functools.cache
def dataset(K, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    X[rng.random((N, D)) < 0.3] = 0.0  # some structure for CSR; dense formats get the same values
    y = rng.integers(0, K, N)
    sw = rng.uniform(0.1, 2.0, N)
    return X, y, sw


def coef_for(obj, seed=1, scale=0.5):
    return conftest.coef_for(obj, seed=seed, scale=scale)


TOL = dict(rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Against the reference: the table's multinomial rows
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, case", rows("multinomial"))
def test_matches_reference(op, case):
    """Every objective method on every dense format and float32 CSR (CSR64 is in test_sparse's
    rows) with and without intercept, weights and L2, with 2, 3 and 7 classes, and on wide X (the
    tiled dense kernels); the pointwise API and kernel, also against scikit-learn."""
    check(op, case)


@pytest.mark.parametrize("case", [c for c in CASES["multinomial"] if c.api == "objective" and c.fmt != "CSR32"],
                         ids=lambda c: c.id)
def test_methods_agree_with_each_other(case):
    check_methods_agree(case)


@pytest.mark.parametrize("flat", [False, True])
def test_coef_shapes_follow_the_input(flat):
    X, y, sw = dataset(3)
    obj = fastloss.LinearObjective(X, y, MN, l2=0.1)
    coef = coef_for(obj)
    c = coef.reshape(-1) if flat else coef
    shape = c.shape
    loss, grad = obj.loss_gradient(c)
    assert loss == obj.loss(coef)
    assert grad.shape == shape and obj.gradient(c).shape == shape
    np.testing.assert_array_equal(grad.reshape(-1), obj.gradient(coef).reshape(-1))
    v = np.random.default_rng(2).standard_normal(shape)
    assert obj.hessp(c, v).shape == shape
    np.testing.assert_array_equal(obj.hessp(c, v).reshape(-1), obj.hessp(coef, v.reshape(coef.shape)).reshape(-1))
    assert obj.hessian_diag(c).shape == shape
    g, hessp = obj.gradient_hessp(c)
    assert g.shape == shape and hessp(v).shape == shape
    # gradient_hessp captured coef: changing the caller's array does not change hessp
    before = hessp(v)
    c[...] = 0.0
    np.testing.assert_array_equal(hessp(v), before)
    assert obj.hessian(coef).shape == (obj.n_coef, obj.n_coef)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_and_hessian_match_finite_differences(fit_intercept):
    X, y, sw = (a[:300] for a in dataset(3))  # a few hundred rows are plenty (and fast)
    obj = fastloss.LinearObjective(X, y, MN, l2=0.2, fit_intercept=fit_intercept, sample_weight=sw)
    coef = coef_for(obj).reshape(-1)
    grad = obj.gradient(coef)
    np.testing.assert_allclose(grad, central_difference(obj.loss, coef, 1e-3), rtol=1e-7, atol=1e-9)
    H = obj.hessian(coef)
    np.testing.assert_allclose(H, central_difference(obj.gradient, coef, 1e-3), rtol=1e-7, atol=1e-9)


def test_n_classes_larger_than_the_labels():
    X, y, sw = dataset(3)
    obj = fastloss.LinearObjective(X, y, MN, n_classes=5, sample_weight=sw, l2=0.1)
    assert obj.n_classes == 5 and obj.coef_shape == (5, D + 1)
    coef = coef_for(obj)
    kw = dict(n_classes=5, sample_weight=sw, l2=0.1)
    loss, grad = obj.loss_gradient(coef)
    np.testing.assert_allclose(loss, R.objective_loss(MN, X, y, coef, **kw), **TOL)
    np.testing.assert_allclose(grad, R.objective_gradient(MN, X, y, coef, **kw), **TOL)
    np.testing.assert_allclose(obj.hessian(coef), R.objective_hessian(MN, X, y, coef, **kw), **TOL)
    np.testing.assert_allclose(obj.hessian_diag(coef), R.objective_hessian_diag(MN, X, y, coef, **kw), **TOL)
    # classes that never occur only push their probabilities down: their gradient rows are >= 0
    # on the intercept column
    assert np.all(grad[3:, -1] > 0)


def test_binary_multinomial_is_logistic_in_the_score_difference():
    """K = 2 with coef rows (0, w): p_1 = sigmoid(x~ . w), the logistic loss (closed form here)."""
    X, y, _ = dataset(2)
    obj = fastloss.LinearObjective(X, y, MN)
    w = np.random.default_rng(3).standard_normal(D + 1) * 0.5
    coef = np.vstack([np.zeros(D + 1), w])
    z = X @ w[:-1] + w[-1]
    expected = np.mean(np.logaddexp(0.0, z) - y * z)
    np.testing.assert_allclose(obj.loss(coef), expected, rtol=1e-13)
    sig = 1.0 / (1.0 + np.exp(-z))
    g1 = np.append(X.T @ (sig - y), np.sum(sig - y)) / N
    np.testing.assert_allclose(obj.gradient(coef), np.vstack([-g1, g1]), rtol=1e-11, atol=1e-14)


def test_many_classes():
    """K = 1000 (the per-row scratch is allocated once per chunk, not per row)."""
    K, n = 1000, 60
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, 3))
    y = rng.integers(0, K, n)
    obj = fastloss.LinearObjective(X, y, MN, n_classes=K, l2=0.5)
    coef = rng.standard_normal(obj.coef_shape)
    loss, grad = obj.loss_gradient(coef)
    kw = dict(n_classes=K, l2=0.5)
    np.testing.assert_allclose(loss, R.objective_loss(MN, X, y, coef, **kw), **TOL)
    np.testing.assert_allclose(grad, R.objective_gradient(MN, X, y, coef, **kw), **TOL)
    np.testing.assert_allclose(obj.hessian_diag(coef), R.objective_hessian_diag(MN, X, y, coef, **kw), **TOL)
    # Hessian-vector product written out directly (the reference would build n K x K matrices)
    v = rng.standard_normal(obj.coef_shape)
    Xt = np.hstack([X, np.ones((n, 1))])
    Z = Xt @ coef.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    U = Xt @ v.T
    T = P * (U - np.sum(P * U, axis=1, keepdims=True))
    expected = T.T @ Xt / n + 0.5 * np.hstack([v[:, :-1], np.zeros((K, 1))])
    np.testing.assert_allclose(obj.hessp(coef, v), expected, **TOL)


# --------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------

@TWO_THREADS
@pytest.mark.parametrize("fmt", ["C64", "CSR64"])
def test_bitwise_identical_for_any_thread_count(fmt):
    rng = np.random.default_rng(7)
    n = 150_000  # enough rows (and stored entries) for several chunks in every format
    X0 = rng.standard_normal((n, D))
    X0[rng.random((n, D)) < 0.3] = 0.0
    X = as_format(X0, fmt)
    y = rng.integers(0, 4, n)
    sw = rng.uniform(0.1, 2.0, n)
    results = []
    for n_threads in (1, 2):
        obj = fastloss.LinearObjective(X, y, MN, l2=0.1, sample_weight=sw, n_threads=n_threads)
        coef = coef_for(obj)
        V = np.random.default_rng(8).standard_normal((obj.n_coef, 2))
        g, hessp = obj.gradient_hessp(coef)
        results.append([np.asarray(obj.loss(coef)), g, obj.hessp(coef, V), hessp(V), obj.hessian_diag(coef),
                        obj.hessian(coef)])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    if fmt == "C64":
        from fastloss.kernels._matrix import _dense_chunk_bounds

        assert _dense_chunk_bounds(n, obj.n_coef).size > 3


# --------------------------------------------------------------------------------------------
# Pointwise API
# --------------------------------------------------------------------------------------------

def _raw(n=2000, K=4, seed=9, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, K)) * scale, rng.integers(0, K, n), rng.uniform(0.1, 2.0, n)


def test_pointwise_mean_loss_is_the_same_at_any_thread_count():
    raw, y, sw = _raw()
    L = fastloss.get_loss(MN)
    assert L.mean_loss(y, raw, sample_weight=sw, n_threads=1) == L.mean_loss(y, raw, sample_weight=sw)


def test_pointwise_extreme_scores():
    big = 1e300
    raw = np.array([
        [big, -big, 0.0],
        [big, -big, 0.0],
        [big, -big, 0.0],
        [-big, -big, -big],   # all equal: uniform probabilities
        [0.0, -700.0, -700.0],  # loss ~ 2e-304, p_0 within 2e-304 of 1
        [0.0, -700.0, -700.0],
        [1e-300, 0.0, -1e-300],
    ])
    y = np.array([0, 1, 2, 1, 0, 1, 2])
    n, K = raw.shape
    loss, grad, hess = np.empty(n), np.empty((n, K)), np.empty((n, K))
    PK.multinomial_pointwise(y, raw, np.empty(0), loss, grad, hess)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
    t = 2.0 * math.exp(-700.0)  # exact to a few ulp: log1p(t) = t (1 - t/2 + ...) and t ~ 2e-304
    third = 1.0 / 3.0
    expected_loss = [0.0, 2 * big, big, math.log(3.0), t, 700.0 + t]
    np.testing.assert_allclose(loss[:6], expected_loss, rtol=1e-15, atol=0)
    np.testing.assert_allclose(loss[6], math.log(3.0), rtol=1e-15)
    np.testing.assert_array_equal(grad[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad[1], [1.0, -1.0, 0.0])
    np.testing.assert_array_equal(grad[2], [1.0, 0.0, -1.0])
    np.testing.assert_allclose(grad[3], [third, -2 * third, third], rtol=1e-15)
    e = math.exp(-700.0)
    # p_0 - 1 = -(2e) / (1 + 2e): tiny, and exact to the last bits (not 0, not 1e-16)
    np.testing.assert_allclose(grad[4], [-t / (1 + t), e / (1 + t), e / (1 + t)], rtol=1e-15, atol=0)
    np.testing.assert_allclose(grad[5], [1 / (1 + t), e / (1 + t) - 1, e / (1 + t)], rtol=1e-15, atol=0)
    np.testing.assert_allclose(hess[4], [t, e, e], rtol=1e-14, atol=0)
    np.testing.assert_array_equal(hess[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(hess[3], [2 / 9] * 3, rtol=1e-15)
    # and the reference agrees wherever it is exact
    np.testing.assert_allclose(loss, R.point_loss(MN, y, raw), rtol=1e-14, atol=0)
    np.testing.assert_allclose(grad, R.point_gradient(MN, y, raw), rtol=1e-14, atol=0)
    np.testing.assert_allclose(hess, R.point_hessian(MN, y, raw), rtol=1e-14, atol=0)
    # wide-range scores: every exp of the softmax is exercised from 1 down to underflow
    wide = np.random.default_rng(11).uniform(-400.0, 400.0, (3000, 5))
    yw = np.random.default_rng(12).integers(0, 5, 3000)
    lw, gw, hw = np.empty(3000), np.empty((3000, 5)), np.empty((3000, 5))
    PK.multinomial_pointwise(yw, wide, np.empty(0), lw, gw, hw)
    np.testing.assert_allclose(lw, R.point_loss(MN, yw, wide), rtol=1e-14, atol=0)
    np.testing.assert_allclose(gw, R.point_gradient(MN, yw, wide), rtol=1e-13, atol=0)
    np.testing.assert_allclose(hw, R.point_hessian(MN, yw, wide), rtol=1e-13, atol=0)
    # the objective on extreme scores stays finite too
    X = np.array([[1.0], [-1.0], [0.5]])
    obj = fastloss.LinearObjective(X, np.array([0, 1, 2]), MN)
    coef = np.array([[big, 0.0], [-big, 0.0], [0.0, 0.0]])
    loss_value, g = obj.loss_gradient(coef)
    assert np.isfinite(loss_value) and np.all(np.isfinite(g))
    assert np.all(np.isfinite(obj.hessp(coef, np.ones_like(coef))))


@pytest.mark.parametrize("K, n", [(1000, 100), (5000, 53), (9, 1203), (8, 7), (5, 70), (2, 20), (3, 40),
                                  (7, 33), (10, 75), (12, 64)])
def test_pointwise_any_number_of_classes_against_the_reference(K, n):
    """One kernel for every K: many classes and few rows (blocks of fewer rows, a last block
    narrower than a transposition tile), a class count one past a tile (tiles that overlap), one
    tile exactly with fewer rows than a tile, fewer classes than a tile (tiles 2 and 4 wide), and
    8 x 8 tiles followed by a narrow one (K = 10, 12); float64 and float32, weighted, every output,
    with the labels at and away from the argmax."""
    rng = np.random.default_rng(K + n)
    raw = rng.standard_normal((n, K)) * 4
    raw[::7] *= 100.0  # some rows with one class dominating, some p within 1e-300 of 1
    y = rng.integers(0, K, n)
    y[::3] = raw[::3].argmax(axis=1)
    sw = rng.uniform(0.1, 2.0, n)
    M = fastloss.get_loss(MN)
    expected = (sw * R.point_loss(MN, y, raw), sw[:, None] * R.point_gradient(MN, y, raw),
                sw[:, None] * R.point_hessian(MN, y, raw))
    loss, grad = M.loss_gradient(y, raw, sw)
    grad2, hess = M.gradient_hessian(y, raw, sw)
    np.testing.assert_array_equal(grad, grad2)
    np.testing.assert_allclose(loss, expected[0], rtol=1e-13, atol=0)
    np.testing.assert_allclose(grad, expected[1], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(hess, expected[2], rtol=1e-12, atol=1e-300)
    assert M.mean_loss(y, raw, sw) == pytest.approx(np.sum(expected[0]) / np.sum(sw), rel=1e-13)
    raw32 = raw.astype(np.float32)
    loss32, grad32 = M.loss_gradient(y, raw32, sw)
    assert loss32.dtype == grad32.dtype == np.float32
    tiny32 = float(np.finfo(np.float32).tiny)  # values below it round to float32 subnormals or 0
    np.testing.assert_allclose(loss32, sw * R.point_loss(MN, y, raw32.astype(np.float64)), rtol=1e-6, atol=tiny32)
    np.testing.assert_allclose(grad32, sw[:, None] * R.point_gradient(MN, y, raw32.astype(np.float64)),
                               rtol=1e-6, atol=tiny32)


@TWO_THREADS
def test_pointwise_many_classes_same_bits_for_any_thread_count():
    """K = 1000 over several chunks: the same bits at 1 and 2 threads."""
    rng = np.random.default_rng(5)
    n, K = 2500, 1000
    raw = rng.standard_normal((n, K)) * 5
    y = rng.integers(0, K, n)
    sw = rng.uniform(0.5, 2.0, n)
    M = fastloss.get_loss(MN)
    one = M.loss_gradient(y, raw, sw, n_threads=1) + M.gradient_hessian(y, raw, sw, n_threads=1)
    two = M.loss_gradient(y, raw, sw, n_threads=2) + M.gradient_hessian(y, raw, sw, n_threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_block_gradient_is_the_per_class_gradient_bit_for_bit():
    """The objective's block gradient (scale every class, then replace the label's entry) gives
    exactly what the per-entry ``multinomial_gradient_of`` gives, on ordinary, tied, extreme and
    underflowing scores, with the label at, below and above the argmax."""
    from fastloss.losses import multinomial_block_gradient, multinomial_block_softmax, multinomial_gradient_of

    rng = np.random.default_rng(21)
    K, m = 5, 40
    Z = rng.standard_normal((K, m)) * rng.choice([1.0, 30.0, 800.0], size=m)
    shift = rng.standard_normal(K)
    Z[:, 0] = -shift                       # scores plus shift all exactly 0: a tie
    Z[:, 1] = [1e300, -1e300, 0.0, 5.0, -5.0]
    Z[:, 2] = [0.0, -700.0, -700.0, -745.5, -1e300]  # others ~ 1e-304, and exact underflow
    y = rng.integers(0, K, m)
    y[:3] = [2, 0, 0]
    s = rng.uniform(0.1, 3.0, m)
    E = Z + shift[:, None]
    zmax, top, others = np.empty(m), np.empty(m, dtype=np.int64), np.empty(m)
    multinomial_block_softmax(E, m, zmax, top, others)
    scale = s / (1.0 + others)
    expected = np.array([[multinomial_gradient_of(E[k, r], y[r] == k, top[r] == k, others[r], scale[r])
                          for r in range(m)] for k in range(K)])
    G = E.copy()
    multinomial_block_gradient(G, y, 0, m, top, others, scale, np.empty(m), G)  # in place
    np.testing.assert_array_equal(G, expected)
    G = np.empty_like(E)
    multinomial_block_gradient(E, y, 0, m, top, others, scale, np.empty(m), G)  # into another array
    np.testing.assert_array_equal(G, expected)
    assert (y == top).any() and (y != top).any()
    # a block that starts inside the label array reads the labels from ``first``
    G2 = np.ascontiguousarray(E[:, 7:])
    multinomial_block_gradient(G2, y, 7, m - 7, top[7:], others[7:], scale[7:], np.empty(m - 7), G2)
    np.testing.assert_array_equal(G2, expected[:, 7:])


# --------------------------------------------------------------------------------------------
# A fit, against scikit-learn
# --------------------------------------------------------------------------------------------

def test_digits_fit_matches_sklearn_logistic_regression():
    from scipy.optimize import minimize
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n, d = X.shape
    C = 0.05
    obj = fastloss.LinearObjective(X, y, MN, l2=1.0 / (C * n))
    res = minimize(obj.loss_gradient, np.zeros(obj.n_coef), jac=True, method="L-BFGS-B",
                   options=dict(maxiter=5000, gtol=1e-12, ftol=1e-15))
    coef = res.x.reshape(obj.coef_shape)
    assert np.linalg.norm(obj.gradient(coef)) < 1e-7

    with threadpool_limits(1):  # scikit-learn's OpenMP/BLAS threads crawl on a busy machine
        clf = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    sk = np.hstack([clf.coef_, clf.intercept_[:, None]])
    # the intercepts are unpenalized: the loss does not change if they all shift together
    coef[:, -1] -= coef[:, -1].mean()
    sk[:, -1] -= sk[:, -1].mean()
    assert np.linalg.norm(coef - sk) <= 1e-4 * np.linalg.norm(sk)
    np.testing.assert_allclose(obj.loss(coef), obj.loss(sk), rtol=1e-9)


def test_rows_dot_class_tiles_edges():
    """Dense C ``rows_dot`` with K >= 6 runs in 4-row x 2-class tiles with clipped edges: every
    block length, class count and width, including blocks that start mid-array, match NumPy."""
    from numba import njit

    from fastloss.kernels._matrix import rows_dot

    @njit
    def dot(X, a, b, W, Z):
        rows_dot(X, a, b, W, Z)

    rng = np.random.default_rng(11)
    for d in (1, 3, 8, 13):
        X = rng.standard_normal((23, d))
        for K in (1, 2, 3, 5, 6, 7, 10):
            W = rng.standard_normal((K, d + 1))
            for a, b in ((0, 1), (2, 9), (5, 10), (3, 23), (0, 4)):
                Z = np.full((K, 20), np.nan)
                dot(X, a, b, W, Z)
                np.testing.assert_allclose(Z[:, : b - a], W[:, :d] @ X[a:b].T, rtol=1e-13, atol=1e-13)
                assert np.isnan(Z[:, b - a:]).all()


def test_rows_axpy_row_groups_edges():
    """Dense C ``rows_axpy`` with K >= 2 runs in groups of 8 rows, then 4, then single rows:
    every block length, class count and width, blocks that start mid-array, and float32, match
    NumPy; ``OUT`` past column d is untouched."""
    from numba import njit

    from fastloss.kernels._matrix import rows_axpy

    @njit
    def axpy(X, a, b, G, OUT):
        rows_axpy(X, a, b, G, OUT)

    rng = np.random.default_rng(12)
    for dtype in (np.float64, np.float32):
        for d in (3, 8, 9, 13, 16, 17, 31):
            X = rng.standard_normal((23, d)).astype(dtype)
            for K in (1, 2, 3, 4, 5, 10):
                G = rng.standard_normal((K, 24))
                for a, b in ((0, 0), (0, 1), (2, 9), (5, 10), (3, 23), (0, 4), (0, 23), (1, 13), (4, 12)):
                    OUT = rng.standard_normal((K, d + 1))
                    expected = OUT.copy()
                    expected[:, :d] += G[:, : b - a] @ X[a:b].astype(np.float64)
                    axpy(X, a, b, G, OUT)
                    np.testing.assert_allclose(OUT[:, :d], expected[:, :d], rtol=1e-12, atol=1e-12)
                    np.testing.assert_array_equal(OUT[:, d], expected[:, d])


@pytest.mark.parametrize("K", [2, 3, 4, 5, 10, 11])  # groups of three classes: whole, and the last short by 1 or 2
def test_block_max_is_the_first_maximum_in_class_order_and_counts_nonfinite_scores(K):
    """``multinomial_block_max`` compares the classes three at a time: the same maximum and argmax
    as a scan in class order with ``>`` (the first index among ties; a nan never replaces the
    maximum, and a nan in class 0 stays), and it returns exactly how many of the block's scores
    are not finite, each counted once, whichever class holds them."""
    from fastloss.losses import multinomial_block_max

    rng = np.random.default_rng(K)
    m, width = 45, 48
    Z = np.round(rng.standard_normal((K, width)), 1)  # rounded: many ties
    for r, k in zip(rng.integers(0, m, 12), rng.integers(0, K, 12), strict=True):
        Z[k, r] = rng.choice([np.nan, np.inf, -np.inf])
    Z[:, m] = np.inf  # past the first m columns: neither scanned nor counted
    Z[K - 1, 0] = np.nan  # the last class, which a short last group repeats
    zmax, top, others = np.full(width, 7.0), np.full(width, -1, dtype=np.int64), np.full(width, 7.0)
    count = multinomial_block_max(Z, m, zmax, top, others)
    expected_max, expected_top = Z[0, :m].copy(), np.zeros(m, dtype=np.int64)
    for k in range(1, K):
        bigger = Z[k, :m] > expected_max
        expected_max[bigger], expected_top[bigger] = Z[k, :m][bigger], k
    np.testing.assert_array_equal(zmax[:m], expected_max)
    np.testing.assert_array_equal(top[:m], expected_top)
    assert (others[:m] == 0.0).all() and (others[m:] == 7.0).all() and (top[m:] == -1).all()
    assert count == np.count_nonzero(~np.isfinite(Z[:, :m])) > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pointwise_multinomial_refuses_every_nonfinite_score(dtype):
    """The kernel's count of scores that are not finite (taken while the row maximum is) sees a
    nan, inf or -inf in any class, in a whole block, in the last partial one and in its last
    rows, before the call returns anything."""
    L = fastloss.get_loss("multinomial")
    n, K = 75, 11  # a block of 64 rows and 11 left over; 11 classes: a short last group of three
    rng = np.random.default_rng(3)
    y = rng.integers(0, K, n).astype(np.float64)
    for r in (0, 40, 63, 64, 70, 74):
        for k in range(K):
            raw = rng.standard_normal((n, K)).astype(dtype)
            raw[r, k] = (np.nan, np.inf, -np.inf)[(r + k) % 3]
            with pytest.raises(ValueError, match="raw_prediction.*non-finite"):
                L.loss_gradient(y, raw)
