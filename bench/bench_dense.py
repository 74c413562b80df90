"""Dense X: fastloss vs its NumPy reference vs scikit-learn, same data, same threads, one run.

Each group also holds ``read_bandwidth``: a parallel multi-accumulator sum over the same X, the
practical limit of any one-pass kernel. GB/s of every entry is in ``extra_info``; compare medians
within one run only (shared machines are noisy).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import D, N, dense_problem, gbs

import fastloss
from fastloss import reference
from fastloss._timing import blas_threads

DTYPES = ["float64", "float32"]


def _coef(d):
    return np.random.default_rng(1).standard_normal(d + 1) * 0.05


@pytest.mark.parametrize("dtype", DTYPES)
def test_read_bandwidth(benchmark, dtype, n_threads):
    from fastloss._parallel import threads
    from fastloss.kernels.bandwidth import read_sum

    X, _ = dense_problem(dtype)
    benchmark.group = f"loss_gradient {N}x{D} {dtype}"
    with threads(n_threads):
        benchmark(read_sum, X)
    gbs(benchmark, X.nbytes)


@pytest.mark.parametrize("impl", ["fastloss", "reference", "sklearn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_gradient(benchmark, impl, dtype, n_threads):
    X, y = dense_problem(dtype)
    coef = _coef(D)
    benchmark.group = f"loss_gradient {N}x{D} {dtype}"
    if impl == "fastloss":
        obj = fastloss.LinearObjective(X, y, l2=1e-4, n_threads=n_threads)
        benchmark(obj.loss_gradient, coef)
    elif impl == "reference":
        with blas_threads(n_threads):
            benchmark.pedantic(lambda: (reference.objective_loss("logistic", X, y, coef, l2=1e-4),
                                        reference.objective_gradient("logistic", X, y, coef, l2=1e-4)), rounds=3)
    else:
        pytest.importorskip("sklearn")
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss

        lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)
        with blas_threads(n_threads):
            benchmark(lml.loss_gradient, coef, X, y, None, 1e-4, n_threads)
    gbs(benchmark, X.nbytes)


@pytest.mark.parametrize("impl", ["fastloss", "fastloss_cached", "reference", "sklearn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_hessp(benchmark, impl, dtype, n_threads):
    X, y = dense_problem(dtype)
    coef = _coef(D)
    v = np.random.default_rng(2).standard_normal(D + 1)
    benchmark.group = f"hessp {N}x{D} {dtype}"
    if impl.startswith("fastloss"):
        obj = fastloss.LinearObjective(X, y, l2=1e-4, n_threads=n_threads)
        if impl == "fastloss":
            benchmark(obj.hessp, coef, v)
        else:
            _, hessp = obj.gradient_hessp(coef)
            benchmark(hessp, v)
    elif impl == "reference":
        with blas_threads(n_threads):
            benchmark.pedantic(reference.objective_hessp, ("logistic", X, y, coef, v), {"l2": 1e-4}, rounds=3)
    else:
        pytest.importorskip("sklearn")
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss

        lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)
        with blas_threads(n_threads):
            _, hessp = lml.gradient_hessian_product(coef, X, y, None, 1e-4, n_threads)
            benchmark(hessp, v)
    gbs(benchmark, X.nbytes)


@pytest.mark.parametrize("loss", fastloss.LOSSES[:-1])
def test_loss_gradient_per_margin_loss(benchmark, loss, n_threads):
    """One row per binary loss: the fused kernel is the same, only the pointwise step differs."""
    X, y = dense_problem("float64")
    coef = _coef(D)
    benchmark.group = f"loss_gradient per loss {N}x{D} float64"
    obj = fastloss.LinearObjective(X, y, loss, l2=1e-4, n_threads=n_threads)
    benchmark(obj.loss_gradient, coef)
    gbs(benchmark, X.nbytes)


@pytest.mark.parametrize("impl", ["fastloss", "sklearn"])
def test_multinomial_loss_gradient(benchmark, impl, n_threads):
    K = 10
    X, _ = dense_problem("float64")
    y = np.random.default_rng(3).integers(0, K, X.shape[0]).astype(np.float64)
    coef = np.random.default_rng(4).standard_normal((K, D + 1)) * 0.05
    benchmark.group = f"multinomial K={K} loss_gradient {N}x{D} float64"
    if impl == "fastloss":
        obj = fastloss.LinearObjective(X, y, "multinomial", n_classes=K, l2=1e-4, n_threads=n_threads)
        benchmark(obj.loss_gradient, coef)
    else:
        pytest.importorskip("sklearn")
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss

        lml = LinearModelLoss(HalfMultinomialLoss(n_classes=K), fit_intercept=True)
        with blas_threads(n_threads):
            benchmark(lml.loss_gradient, coef, X, y, None, 1e-4, n_threads)
    gbs(benchmark, X.nbytes)
