"""End to end: SciPy's optimizers on LinearObjective reproduce scikit-learn's LogisticRegression."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.optimize import minimize

import fastloss


@pytest.fixture(scope="module")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    C = 0.5
    clf = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    return X, y, C, np.r_[clf.coef_.ravel(), clf.intercept_]


@pytest.mark.parametrize("method", ["trust-ncg", "L-BFGS-B", "Newton-CG"])
def test_fit_matches_sklearn_logistic_regression(breast_cancer, method):
    X, y, C, sk_coef = breast_cancer
    obj = fastloss.LinearObjective(X, y, "logistic", l2=1.0 / (C * X.shape[0]))
    kwargs = {"jac": True}
    if method in ("trust-ncg", "Newton-CG"):
        kwargs["hessp"] = obj.hessp
        options = {"gtol": 1e-12} if method == "trust-ncg" else {"xtol": 1e-14}
    else:
        options = {"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000}
    res = minimize(obj.loss_gradient, np.zeros(obj.n_coef), method=method, options=options, **kwargs)
    assert np.linalg.norm(obj.gradient(res.x)) < 1e-6
    np.testing.assert_allclose(res.x, sk_coef, rtol=1e-4, atol=1e-5)


def test_float32_and_fortran_fit_to_the_same_coefficients(breast_cancer):
    X, y, C, sk_coef = breast_cancer
    obj = fastloss.LinearObjective(np.asfortranarray(X.astype(np.float32)), y, l2=1.0 / (C * X.shape[0]))
    res = minimize(obj.loss_gradient, np.zeros(obj.n_coef), jac=True, hessp=obj.hessp, method="trust-ncg",
                   options={"gtol": 1e-10})
    np.testing.assert_allclose(res.x, sk_coef, rtol=1e-3, atol=1e-4)  # X rounded to float32


@pytest.mark.slow
def test_bitwise_identical_for_1_to_4_threads():
    """Numba's thread pool is sized at start-up: run in a subprocess that has 4 threads."""
    code = textwrap.dedent("""
        import numpy as np, fastloss, scipy.sparse as sp
        rng = np.random.default_rng(0)
        X = rng.standard_normal((20_000, 7)); y = rng.random(20_000) < 0.5; sw = rng.random(20_000)
        out = []
        for t in (1, 2, 3, 4):
            r = []
            for XX in (X, np.asfortranarray(X)):
                obj = fastloss.LinearObjective(XX, y, "logistic", l2=0.1, sample_weight=sw, n_threads=t)
                c = rng.standard_normal(8) * 0 + 0.1 * np.arange(8)
                g, hp = obj.gradient_hessp(c)
                r += [obj.loss(c), obj.gradient(c), obj.hessp(c, c), g, hp(np.eye(8)), obj.hessian_diag(c)]
            L = fastloss.get_loss("logistic")
            r.append(L.mean_loss(y, X[:, 0], sw, n_threads=t))
            out.append(r)
        ok = all(np.array_equal(a, b) for rr in out[1:] for a, b in zip(out[0], rr))
        print("IDENTICAL" if ok else "DIFFERENT")
    """)
    env = dict(os.environ, NUMBA_NUM_THREADS="4")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("IDENTICAL"), proc.stdout + proc.stderr
