"""Validation of the NumPy oracle ``fastloss.reference`` against independent sources.

The oracle is what every kernel test compares against, so it is itself checked against
scikit-learn (``sklearn._loss`` and ``LinearModelLoss``), mpmath (values and derivatives in
50-digit arithmetic) and finite differences, never against itself.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import central_difference, exact_in_margin
from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
from sklearn.linear_model._linear_loss import LinearModelLoss

from fastloss import losses
from fastloss import reference as ref

mp = mpmath.mp
KINKS = (-1.0, 0.0, 1.0)  # every kink of every piecewise loss, in the margin m
SMOOTH_LOSSES = ("logistic", "exponential", "square", "savage", "tangent", "multinomial")


# --------------------------------------------------------------------------------------------
# mpmath: the exact formulas declared with each loss (fastloss.losses), not the oracle's code
# --------------------------------------------------------------------------------------------


def mp_phi(name: str, m):
    """Loss of margin ``m`` (an mpf): the exact formula declared with the loss."""
    return exact_in_margin(name, mpmath, m)[0]


def mp_multinomial(z_row, k):
    """Loss, gradient and hessian diagonal of one row, in 400 digits (1 - p needs them
    when p is within 1e-300 of 1)."""
    with mp.workdps(400):
        z = [mpmath.mpf(float(v)) for v in z_row]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z))
        p = [mpmath.exp(v - lse) for v in z]
        loss = lse - z[k]
        grad = [p[j] - (1 if j == k else 0) for j in range(len(z))]
        hess = [p[j] * (1 - p[j]) for j in range(len(z))]
        return loss, grad, hess


def assert_close_mp(actual, exact, rtol, atol=0.0):
    actual = np.asarray(actual, dtype=np.float64)
    exact_f = np.array([float(e) for e in exact])
    err = np.abs(actual - exact_f)
    bound = rtol * np.abs(exact_f) + atol
    bad = np.flatnonzero(~(err <= bound))
    assert bad.size == 0, f"at {bad[:5]}: got {actual[bad[:5]]}, exact {exact_f[bad[:5]]}"


def margin_grid():
    """Margins in [-30, 30]: a regular grid (kinks included) and irregular points."""
    rng = np.random.default_rng(0)
    grid = np.linspace(-30.0, 30.0, 121)
    return np.concatenate([grid, rng.uniform(-3.0, 3.0, 60), [-1.0, 0.0, 1.0, 0.5, 0.999]])


def signs_for(m):
    return np.where(np.arange(m.size) % 2 == 0, 1.0, -1.0)


# --------------------------------------------------------------------------------------------
# Names and labels
# --------------------------------------------------------------------------------------------


def test_names_and_aliases():
    assert len(ref.LOSSES) == 10 and len(set(ref.LOSSES)) == 10
    assert ref.LOSSES[:9] == ref.BINARY_LOSSES and ref.LOSSES[-1] == "multinomial"
    assert ref.LOSSES == losses.LOSSES  # the oracle has formulas for every declared loss
    assert ref.canonical("log_loss") == "logistic"
    for name in ref.LOSSES:
        assert ref.canonical(name) == name
    with pytest.raises(ValueError) as info:
        ref.canonical("huber")
    for name in ref.LOSSES:
        assert repr(name) in str(info.value)
    with pytest.raises(ValueError):
        ref.point_loss("nope", [0.0], [0.0])
    np.testing.assert_array_equal(
        ref.point_loss("log_loss", [1.0, 0.0], [0.3, -2.0]),
        ref.point_loss("logistic", [1.0, 0.0], [0.3, -2.0]),
    )


@pytest.mark.parametrize(
    "y, expected",
    [
        (np.array([0, 1, 1, 0], dtype=np.int8), [-1.0, 1.0, 1.0, -1.0]),
        (np.array([False, True, True]), [-1.0, 1.0, 1.0]),
        (np.array([-1, 1, 1], dtype=np.int64), [-1.0, 1.0, 1.0]),
        (np.array([-1.0, -1.0], dtype=np.float32), [-1.0, -1.0]),
        (np.array([1, 1, 1], dtype=np.uint8), [1.0, 1.0, 1.0]),  # class 1 in both conventions
        (np.array([0.0, 0.0]), [-1.0, -1.0]),
        ([1, 0], [1.0, -1.0]),
    ],
)
def test_margin_labels(y, expected):
    s = ref.margin_labels(y)
    assert s.dtype == np.float64
    np.testing.assert_array_equal(s, expected)


@pytest.mark.parametrize("name", ref.BINARY_LOSSES)
def test_label_conventions_agree(name):
    rng = np.random.default_rng(1)
    z = rng.normal(scale=3.0, size=50)
    s = np.where(rng.random(50) < 0.5, -1, 1)
    for which in (ref.point_loss, ref.point_gradient, ref.point_hessian):
        pm1 = which(name, s, z)
        np.testing.assert_array_equal(pm1, which(name, (s + 1) // 2, z))
        np.testing.assert_array_equal(pm1, which(name, s == 1, z))
        np.testing.assert_array_equal(pm1, which(name, s.astype(np.float32), z[:, None]))


# --------------------------------------------------------------------------------------------
# Pointwise: scikit-learn
# --------------------------------------------------------------------------------------------


def test_logistic_matches_sklearn():
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.normal(scale=5.0, size=200), np.linspace(-60, 60, 41)])
    y = (rng.random(z.size) < 0.5).astype(np.float64)
    soft = rng.random(z.size)
    skl = HalfBinomialLoss()
    # atol: sklearn computes the loss for z > 18 as (z + exp(-z)) - y z, which loses the
    # tail (exp(-30) comes out 1% off); the tails are checked against mpmath instead.
    for labels in (y, soft):
        g, h = skl.gradient_hessian(labels, z)
        np.testing.assert_allclose(ref.point_loss("logistic", labels, z), skl.loss(labels, z),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ref.point_gradient("logistic", labels, z), g,
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ref.point_hessian("logistic", labels, z), h,
                                   rtol=1e-12, atol=1e-14)
    # The same labels in the ±1 convention.
    np.testing.assert_allclose(ref.point_loss("logistic", 2 * y - 1, z), skl.loss(y, z),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_multinomial_matches_sklearn(n_classes):
    rng = np.random.default_rng(n_classes)
    raw = rng.normal(scale=4.0, size=(300, n_classes))
    raw[:5] *= 20.0  # some nearly saturated rows
    y = rng.integers(0, n_classes, size=300).astype(np.float64)
    skl = HalfMultinomialLoss(n_classes=n_classes)
    g, h = skl.gradient_hessian(y, raw)
    np.testing.assert_allclose(ref.point_loss("multinomial", y, raw), skl.loss(y, raw),
                               rtol=1e-12, atol=1e-15)
    # sklearn's multinomial "hessian" is the diagonal p(1 - p) of diag(p) - p p^T, as ours.
    np.testing.assert_allclose(ref.point_gradient("multinomial", y, raw), g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ref.point_hessian("multinomial", y, raw), h, rtol=1e-12, atol=1e-15)
    _, proba = skl.gradient_proba(y, raw)
    onehot = np.eye(n_classes)[y.astype(int)]
    np.testing.assert_allclose(ref.point_gradient("multinomial", y, raw), proba - onehot,
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ref.point_gradient("multinomial", y, raw).sum(axis=1), 0.0,
                               atol=1e-15)


def test_multinomial_two_classes_is_logistic():
    rng = np.random.default_rng(3)
    raw = rng.normal(scale=3.0, size=(100, 2))
    y = rng.integers(0, 2, size=100)
    z = raw[:, 1] - raw[:, 0]
    np.testing.assert_allclose(ref.point_loss("multinomial", y, raw),
                               ref.point_loss("logistic", y, z), rtol=1e-13)
    g = ref.point_gradient("multinomial", y, raw)
    np.testing.assert_allclose(g[:, 1], ref.point_gradient("logistic", y, z), rtol=1e-13)
    np.testing.assert_allclose(g[:, 0], -g[:, 1], rtol=1e-13)
    h = ref.point_hessian("multinomial", y, raw)
    np.testing.assert_allclose(h, np.column_stack([ref.point_hessian("logistic", y, z)] * 2),
                               rtol=1e-13)


def test_multinomial_bad_class_index():
    with pytest.raises(ValueError, match=r"y\[1\]"):
        ref.point_loss("multinomial", [0, 3], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"y\[0\]"):
        ref.point_loss("multinomial", [-1, 0], np.zeros((2, 3)))


# --------------------------------------------------------------------------------------------
# Pointwise: mpmath
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ref.BINARY_LOSSES)
def test_binary_value_matches_mpmath(name):
    m = margin_grid()
    s = signs_for(m)
    z = s * m
    with mp.workdps(50):
        exact = [mp_phi(name, mpmath.mpf(float(mi))) for mi in m]
    for y in (s, (s + 1) / 2):  # ±1 and 0/1 conventions
        # atol covers the cancellation of tangent's 2 atan(m) - 1 at its zero m = tan(1/2).
        assert_close_mp(ref.point_loss(name, y, z), exact, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ref.BINARY_LOSSES)
def test_binary_derivatives_match_mpmath(name):
    m = margin_grid()
    keep = np.min(np.abs(m[:, None] - np.array(KINKS)[None, :]), axis=1) > 1e-6
    m = m[keep]
    s = signs_for(m)
    z = s * m
    grads, hessians = [], []
    with mp.workdps(50):
        for zi, si in zip(z, s, strict=False):
            def loss_of_z(t, si=si):
                return mp_phi(name, si * t)

            zi = mpmath.mpf(float(zi))
            grads.append(mpmath.diff(loss_of_z, zi, 1))
            hessians.append(mpmath.diff(loss_of_z, zi, 2))
    for y in (s, (s + 1) / 2):
        assert_close_mp(ref.point_gradient(name, y, z), grads, rtol=1e-12, atol=1e-15)
        assert_close_mp(ref.point_hessian(name, y, z), hessians, rtol=1e-12, atol=1e-15)


def test_kink_conventions():
    s = np.array([1.0, -1.0])

    def at(name, which, m):
        return which(name, s, s * m)  # margin m for both signs

    # hinge: subgradient -s below 1, 0 at and above 1; hessian 0.
    np.testing.assert_array_equal(at("hinge", ref.point_gradient, 1.0), [0.0, 0.0])
    np.testing.assert_array_equal(at("hinge", ref.point_gradient, np.nextafter(1.0, 0)), -s)
    np.testing.assert_array_equal(at("hinge", ref.point_hessian, 0.5), [0.0, 0.0])
    # squared hinge: hessian 2 below 1, 0 at 1.
    np.testing.assert_array_equal(at("squared_hinge", ref.point_hessian, 1.0), [0.0, 0.0])
    np.testing.assert_array_equal(
        at("squared_hinge", ref.point_hessian, np.nextafter(1.0, 0)), [2.0, 2.0])
    # smooth hinge: hessian 0 at m = 0 (linear piece), 1 just above, 0 at m = 1.
    np.testing.assert_array_equal(at("smooth_hinge", ref.point_hessian, 0.0), [0.0, 0.0])
    np.testing.assert_array_equal(at("smooth_hinge", ref.point_hessian, 1e-300), [1.0, 1.0])
    np.testing.assert_array_equal(at("smooth_hinge", ref.point_hessian, 1.0), [0.0, 0.0])
    np.testing.assert_array_equal(at("smooth_hinge", ref.point_gradient, 0.0), -s)
    np.testing.assert_array_equal(at("smooth_hinge", ref.point_loss, 0.0), [0.5, 0.5])
    # modified Huber: hessian 2 at m = -1 (quadratic piece), 0 just below; gradient continuous.
    np.testing.assert_array_equal(at("modified_huber", ref.point_hessian, -1.0), [2.0, 2.0])
    np.testing.assert_array_equal(
        at("modified_huber", ref.point_hessian, np.nextafter(-1.0, -2)), [0.0, 0.0])
    np.testing.assert_array_equal(at("modified_huber", ref.point_gradient, -1.0), -4.0 * s)
    np.testing.assert_array_equal(at("modified_huber", ref.point_loss, -1.0), [4.0, 4.0])
    np.testing.assert_array_equal(at("modified_huber", ref.point_hessian, 1.0), [0.0, 0.0])


def test_stability_at_extreme_scores():
    z = np.array([-1e308, -1e300, -1e3, -40.0, 0.0, 40.0, 1e3, 1e300, 1e308])
    finite_everywhere = ("logistic", "hinge", "smooth_hinge", "savage", "tangent")
    for name in ref.BINARY_LOSSES:
        for y in (np.ones_like(z), np.zeros_like(z), -np.ones_like(z)):
            for which in (ref.point_loss, ref.point_gradient, ref.point_hessian):
                out = which(name, y, z)
                assert not np.any(np.isnan(out)), (name, which.__name__, out)
                if name in finite_everywhere:
                    assert np.all(np.isfinite(out)), (name, which.__name__, out)
    # Values whose exact result is a finite double.
    assert ref.point_loss("logistic", [1.0], [-1e308])[0] == 1e308
    assert ref.point_loss("logistic", [0.0], [1e308])[0] == 1e308
    assert ref.point_loss("logistic", [1.0], [1e308])[0] == 0.0
    assert ref.point_gradient("logistic", [1.0], [-1e308])[0] == -1.0
    assert ref.point_gradient("square", [1.0], [1e300])[0] == pytest.approx(2e300, rel=1e-15)
    assert ref.point_loss("hinge", [1.0], [-1e308])[0] == pytest.approx(1e308, rel=1e-15)
    # exp(1000) exceeds the largest double: inf is the exact answer.
    assert ref.point_loss("exponential", [1.0], [-1e3])[0] == np.inf
    raw = np.array([[1e300, -1e300, 0.0], [-1e300, 1e300, 5.0], [1e300, 1e300, -1e300]])
    y = np.array([0, 0, 2])
    loss = ref.point_loss("multinomial", y, raw)
    np.testing.assert_allclose(loss, [0.0, 2e300, 2e300 + np.log(2)], rtol=1e-15)
    assert np.all(np.isfinite(ref.point_gradient("multinomial", y, raw)))
    assert np.all(np.isfinite(ref.point_hessian("multinomial", y, raw)))
    np.testing.assert_array_equal(ref.point_gradient("multinomial", y, raw)[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(ref.point_gradient("multinomial", y, raw)[2], [0.5, 0.5, -1.0])


def test_tails_match_mpmath():
    """Where the exact value is tiny but normal, the reference returns it, not 0."""
    m = np.array([30.0, 100.0, 300.0, 700.0])
    with mp.workdps(60):
        for name in ("logistic", "exponential", "savage"):
            s = np.array([1.0, -1.0, 1.0, -1.0])
            z = s * m
            exact = [mp_phi(name, mpmath.mpf(mi)) for mi in m]
            if name == "savage":  # 1/(1+e^700)^2 underflows; keep normal results only
                z, s, exact = z[:3], s[:3], exact[:3]
            assert_close_mp(ref.point_loss(name, s, z), exact, rtol=1e-14)
            grads = [mpmath.diff(lambda t, si=si, name=name: mp_phi(name, si * t), zi)
                     for zi, si in zip(z, s, strict=False)]
            assert_close_mp(ref.point_gradient(name, s, z), grads, rtol=1e-13)
        # Soft labels: log1p(exp(z)) - y z.
        z = np.array([-35.0, -2.0, 0.5, 3.0, 40.0])
        y = np.array([0.0, 0.25, 0.5, 0.9, 1.0])
        exact = [mpmath.log1p(mpmath.exp(zi)) - mpmath.mpf(yi) * zi for zi, yi in zip(z, y, strict=False)]
        assert_close_mp(ref.point_loss("logistic", y, z), exact, rtol=1e-14)
        exact_g = [1 / (1 + mpmath.exp(-zi)) - mpmath.mpf(yi) for zi, yi in zip(z, y, strict=False)]
        assert_close_mp(ref.point_gradient("logistic", y, z), exact_g, rtol=1e-14)
        # Multinomial: a confidently right row and a mixed one.
        raw = np.array([[0.0, -700.0, -720.0], [2.0, -1.0, 0.5], [-40.0, 0.0, -45.0]])
        y_idx = np.array([0, 2, 1])
        for i in range(raw.shape[0]):
            loss, grad, hess = mp_multinomial(raw[i], y_idx[i])
            assert_close_mp(ref.point_loss("multinomial", y_idx, raw)[i:i + 1], [loss],
                            rtol=1e-14)
            assert_close_mp(ref.point_gradient("multinomial", y_idx, raw)[i], grad, rtol=1e-13)
            assert_close_mp(ref.point_hessian("multinomial", y_idx, raw)[i], hess, rtol=1e-13)


def test_mean_loss():
    rng = np.random.default_rng(4)
    z = rng.normal(size=30)
    y = rng.integers(0, 2, size=30)
    assert ref.mean_loss("square", y, z) == pytest.approx(np.mean((1 - (2 * y - 1) * z) ** 2))
    # Integer weights are the same as repeating samples.
    w = rng.integers(0, 4, size=30)
    w[0] = 2
    repeated = ref.mean_loss("logistic", np.repeat(y, w), np.repeat(z, w))
    assert ref.mean_loss("logistic", y, z, sample_weight=w) == pytest.approx(repeated, rel=1e-13)
    raw = rng.normal(size=(30, 4))
    c = rng.integers(0, 4, size=30)
    repeated = ref.mean_loss("multinomial", np.repeat(c, w), np.repeat(raw, w, axis=0))
    assert ref.mean_loss("multinomial", c, raw, w) == pytest.approx(repeated, rel=1e-13)


# --------------------------------------------------------------------------------------------
# Objective: scikit-learn's LinearModelLoss
# --------------------------------------------------------------------------------------------


def make_problem(name, n=40, d=3, n_classes=3, fit_intercept=True, seed=0, scale=0.7,
                 avoid_kinks=0.0):
    """Random data and coefficients; samples with a margin within ``avoid_kinks`` of a kink
    are dropped, so finite differences never straddle a kink."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    p = d + fit_intercept
    if name == "multinomial":
        y = rng.integers(0, n_classes, size=n).astype(np.float64)
        coef = rng.normal(scale=scale, size=(n_classes, p))
    else:
        y = rng.integers(0, 2, size=n).astype(np.float64)
        coef = rng.normal(scale=scale, size=p)
    sw = rng.uniform(0.2, 3.0, size=n)
    if avoid_kinks and name != "multinomial":
        z = X @ coef[:d] + (coef[-1] if fit_intercept else 0.0)
        m = (2 * y - 1) * z
        keep = np.min(np.abs(m[:, None] - np.array(KINKS)), axis=1) > avoid_kinks
        assert keep.sum() >= n // 2
        X, y, sw = X[keep], y[keep], sw[keep]
    return X, y, coef, sw


def to_sklearn_order(H_c, coef_shape):
    """Permute a Hessian from C-order (ours) to sklearn's F-order flattening of (K, p)."""
    idx = np.arange(int(np.prod(coef_shape))).reshape(coef_shape).ravel(order="F")
    return H_c[np.ix_(idx, idx)]


@pytest.mark.parametrize("name", ["logistic", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_matches_sklearn(name, fit_intercept, weighted, l2, sparse):
    X, y, coef, sw = make_problem(name, n=50, d=4, n_classes=4, fit_intercept=fit_intercept)
    sw = sw if weighted else None
    Xin = sp.csr_matrix(X) if sparse else X
    if name == "multinomial":
        base = HalfMultinomialLoss(n_classes=4)
        coef_sk = coef.ravel(order="F")  # sklearn: flat, classes contiguous
    else:
        base = HalfBinomialLoss()
        coef_sk = coef
    lml = LinearModelLoss(base, fit_intercept=fit_intercept)
    kw = {"l2": l2, "fit_intercept": fit_intercept, "sample_weight": sw}

    loss_sk = lml.loss(coef_sk, Xin, y, sample_weight=sw, l2_reg_strength=l2)
    assert ref.objective_loss(name, Xin, y, coef, **kw) == pytest.approx(loss_sk, rel=1e-13)

    grad_sk, hessp_sk = lml.gradient_hessian_product(coef_sk, Xin, y, sample_weight=sw,
                                                     l2_reg_strength=l2)
    _, hess_sk, warn = lml.gradient_hessian(coef_sk, X, y, sample_weight=sw,
                                            l2_reg_strength=l2)
    assert not warn
    grad = ref.objective_gradient(name, Xin, y, coef, **kw)
    assert grad.shape == coef.shape
    rng = np.random.default_rng(5)
    v = rng.normal(size=coef.shape)
    hv = ref.objective_hessp(name, Xin, y, coef, v, **kw)
    assert hv.shape == coef.shape
    H = ref.objective_hessian(name, Xin, y, coef, **kw)
    if name == "multinomial":
        grad_sk = grad_sk.reshape(coef.shape, order="F")
        hv_sk = hessp_sk(v.ravel(order="F")).reshape(coef.shape, order="F")
        H = to_sklearn_order(H, coef.shape)
    else:
        hv_sk = hessp_sk(v)
    np.testing.assert_allclose(grad, grad_sk, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hv, hv_sk, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H, hess_sk, rtol=1e-12, atol=1e-14)


def test_multinomial_n_classes_beyond_labels_matches_sklearn():
    X, y, _, sw = make_problem("multinomial", n=30, d=3, n_classes=3)  # labels 0..2
    coef = np.random.default_rng(6).normal(size=(5, 4))  # K = 5 via n_classes
    lml = LinearModelLoss(HalfMultinomialLoss(n_classes=5), fit_intercept=True)
    kw = {"l2": 0.3, "sample_weight": sw, "n_classes": 5}
    loss_sk, grad_sk = lml.loss_gradient(coef.ravel(order="F"), X, y, sw, l2_reg_strength=0.3)
    assert ref.objective_loss("multinomial", X, y, coef, **kw) == pytest.approx(loss_sk,
                                                                                rel=1e-13)
    grad = ref.objective_gradient("multinomial", X, y, coef.ravel(), **kw)
    assert grad.shape == (20,)  # shape of coef as passed: flat C order
    np.testing.assert_allclose(grad.reshape(5, 4), grad_sk.reshape((5, 4), order="F"),
                               rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError):
        ref.objective_loss("multinomial", X, y, coef)  # K = max(y) + 1 = 3 != 5 rows


# --------------------------------------------------------------------------------------------
# Objective: finite differences and internal consistency, every loss
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ref.LOSSES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_gradient_finite_differences(name, fit_intercept):
    h = 1e-4
    X, y, coef, sw = make_problem(name, fit_intercept=fit_intercept, avoid_kinks=0.05)
    kw = {"l2": 0.4, "fit_intercept": fit_intercept, "sample_weight": sw}

    def f(c):
        return ref.objective_loss(name, X, y, c.reshape(coef.shape), **kw)

    fd = central_difference(f, coef.ravel(), h)
    grad = ref.objective_gradient(name, X, y, coef, **kw)
    np.testing.assert_allclose(grad.ravel(), fd, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ref.LOSSES)
def test_objective_hessian_finite_differences(name):
    """H is symmetric and equals the derivative of the gradient (away from kinks the
    generalized second derivative of the piecewise losses is the true one)."""
    h = 1e-4
    X, y, coef, sw = make_problem(name, avoid_kinks=0.05)
    kw = {"l2": 0.4, "sample_weight": sw}

    def g(c):
        return ref.objective_gradient(name, X, y, c.reshape(coef.shape), **kw).ravel()

    fd = central_difference(g, coef.ravel(), h)  # fd[i, j] = d g_i / d c_j
    H = ref.objective_hessian(name, X, y, coef, **kw)
    assert H.shape == (coef.size, coef.size)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(H, fd, rtol=1e-8, atol=1e-9)
    if name in SMOOTH_LOSSES or name in ("squared_hinge", "modified_huber"):
        assert np.linalg.norm(H - 0.4 * np.eye(coef.size)) > 1e-3  # curvature is not trivial


@pytest.mark.parametrize("name", ref.LOSSES)
@pytest.mark.parametrize("sparse", [False, True])
def test_hessp_and_diag_agree_with_hessian(name, sparse):
    X, y, coef, sw = make_problem(name, fit_intercept=True)
    Xin = sp.csr_matrix(X) if sparse else X
    kw = {"l2": 0.25, "sample_weight": sw}
    H = ref.objective_hessian(name, Xin, y, coef, **kw)
    rng = np.random.default_rng(7)
    v = rng.normal(size=coef.shape)
    expected = (H @ v.ravel()).reshape(coef.shape)
    np.testing.assert_allclose(ref.objective_hessp(name, Xin, y, coef, v, **kw), expected,
                               rtol=1e-12, atol=1e-14)
    flat = ref.objective_hessp(name, Xin, y, coef, v.ravel(), **kw)
    assert flat.shape == coef.shape
    np.testing.assert_allclose(flat, expected, rtol=1e-12, atol=1e-14)
    V = rng.normal(size=(coef.size, 3))
    many = ref.objective_hessp(name, Xin, y, coef, V, **kw)
    assert many.shape == (coef.size, 3)
    np.testing.assert_allclose(many, H @ V, rtol=1e-12, atol=1e-14)
    one_col = ref.objective_hessp(name, Xin, y, coef, V[:, :1], **kw)
    assert one_col.shape == (coef.size, 1)
    np.testing.assert_allclose(one_col, H @ V[:, :1], rtol=1e-12, atol=1e-14)
    diag = ref.objective_hessian_diag(name, Xin, y, coef, **kw)
    assert diag.shape == coef.shape
    np.testing.assert_allclose(diag.ravel(), np.diag(H), rtol=1e-12, atol=1e-14)
    if name == "multinomial":  # flat C-order coef gives flat results, same values
        np.testing.assert_allclose(
            ref.objective_hessian_diag(name, Xin, y, coef.ravel(), **kw), diag.ravel(),
            rtol=1e-14)
        np.testing.assert_allclose(ref.objective_hessian(name, Xin, y, coef.ravel(), **kw), H,
                                   rtol=1e-14)


@pytest.mark.parametrize("name", ref.LOSSES)
def test_intercept_is_unpenalized_column_of_ones(name):
    l2 = 0.6
    X, y, coef, sw = make_problem(name, fit_intercept=True)
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    with_b = {"l2": l2, "fit_intercept": True, "sample_weight": sw}
    column = {"l2": l2, "fit_intercept": False, "sample_weight": sw}
    b = coef[..., -1]
    is_b = np.zeros(coef.shape)
    is_b[..., -1] = 1.0  # marks the intercept entries

    loss = ref.objective_loss(name, X, y, coef, **with_b)
    loss_col = ref.objective_loss(name, X1, y, coef, **column)
    assert loss == pytest.approx(loss_col - 0.5 * l2 * np.sum(b**2), rel=1e-13)
    np.testing.assert_allclose(ref.objective_gradient(name, X, y, coef, **with_b),
                               ref.objective_gradient(name, X1, y, coef, **column)
                               - l2 * coef * is_b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.objective_hessian(name, X, y, coef, **with_b),
                               ref.objective_hessian(name, X1, y, coef, **column)
                               - l2 * np.diag(is_b.ravel()), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.objective_hessian_diag(name, X, y, coef, **with_b),
                               ref.objective_hessian_diag(name, X1, y, coef, **column)
                               - l2 * is_b, rtol=1e-12, atol=1e-14)
    # The intercept's gradient does not depend on l2.
    g0 = ref.objective_gradient(name, X, y, coef, l2=0.0, sample_weight=sw)
    np.testing.assert_array_equal(ref.objective_gradient(name, X, y, coef, **with_b)[..., -1],
                                  g0[..., -1])


@pytest.mark.parametrize("name", ["logistic", "hinge", "tangent", "multinomial"])
def test_sparse_formats_and_dtypes_agree_with_dense(name):
    X, y, coef, sw = make_problem(name, n=30, d=5)
    X[X < 0.3] = 0.0  # make it actually sparse
    X32 = X.astype(np.float32)
    kw = {"l2": 0.2, "sample_weight": sw}
    v = np.random.default_rng(8).normal(size=coef.shape)
    funcs = [
        lambda A: ref.objective_loss(name, A, y, coef, **kw),
        lambda A: ref.objective_gradient(name, A, y, coef, **kw),
        lambda A: ref.objective_hessian(name, A, y, coef, **kw),
        lambda A: ref.objective_hessp(name, A, y, coef, v, **kw),
        lambda A: ref.objective_hessian_diag(name, A, y, coef, **kw),
    ]
    for fn in funcs:
        dense = fn(X)
        for A in (sp.csr_matrix(X), sp.csr_array(X), sp.csc_matrix(X), sp.coo_matrix(X),
                  np.asfortranarray(X)):
            np.testing.assert_allclose(fn(A), dense, rtol=1e-13, atol=1e-15)
        # float32 X is read exactly and computed in float64.
        np.testing.assert_allclose(fn(X32), fn(X32.astype(np.float64)), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(fn(sp.csr_matrix(X32)), fn(X32.astype(np.float64)),
                                   rtol=1e-13, atol=1e-15)
    assert np.asarray(funcs[1](X32)).dtype == np.float64


def test_objective_value_by_hand():
    """A tiny case computed from the definition, with the ±1 label convention."""
    X = np.array([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0]])
    y = np.array([1, -1, 1])
    coef = np.array([0.3, -0.2, 0.1])
    sw = np.array([1.0, 2.0, 0.5])
    z = X @ coef[:2] + coef[2]
    m = y * z
    expected = np.sum(sw * np.maximum(0, 1 - m) ** 2) / sw.sum() + 0.5 * 1.5 * (0.09 + 0.04)
    got = ref.objective_loss("squared_hinge", X, y, coef, l2=1.5, sample_weight=sw)
    assert got == pytest.approx(expected, rel=1e-14)
    g = ref.objective_gradient("squared_hinge", X, y, coef, l2=1.5, sample_weight=sw)
    pointwise = sw * y * (-2.0) * np.maximum(0, 1 - m) / sw.sum()
    expected_g = np.append(X.T @ pointwise + 1.5 * coef[:2], pointwise.sum())
    np.testing.assert_allclose(g, expected_g, rtol=1e-14)
