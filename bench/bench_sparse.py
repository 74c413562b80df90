"""Sparse (CSR) X: fastloss vs scikit-learn's ``LinearModelLoss`` on the same matrix, same threads.

Run with ``pytest bench/bench_sparse.py --benchmark-enable`` (``--benchmark-group-by=group`` puts
each operation's implementations side by side). Compare medians within one run only: shared
machines are noisy.

Sizes: ``FASTLOSS_BENCH_N`` rows (default 1,000,000), ``FASTLOSS_BENCH_D`` features (default
100,000; note that ``bench_dense.py`` reads the same variable), ``FASTLOSS_BENCH_NNZ`` stored
entries per row (default 50). Matrices (``fastloss.datasets.make_csr_problem``, one parameter of
every benchmark): uniform columns with float64 data and int32 indices (SciPy's default), and
columns whose frequencies follow a Zipf law of exponent ``fastloss.datasets.ZIPF_EXPONENT`` (1.1,
as in text or click data: a few hot columns, a long tail) with float64 / int32, float32 / int32
and float64 / int64.
Threads: ``FASTLOSS_BENCH_THREADS`` (default 2) for fastloss and for scikit-learn's OpenMP /
BLAS parts (SciPy's sparse products are single-threaded).

``test_wide_memory`` builds the uniform float64 / int32 kind of matrix with ``FASTLOSS_BENCH_WIDE_D`` features
(default 2,000,000) and records in ``extra_info`` the peak resident memory that one
``loss_gradient`` / ``hessp`` call adds, next to the per-chunk partial buffers it allocates
(``n_chunks * n_coef * 8`` bytes, capped by ``fastloss._config.PARTIAL_BUDGET_BYTES``).
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

import fastloss
from fastloss._config import PARTIAL_BUDGET_BYTES
from fastloss.datasets import ZIPF_EXPONENT as ZIPF
from fastloss.datasets import make_csr_problem as make_csr

N = int(os.environ.get("FASTLOSS_BENCH_N", 1_000_000))
D = int(os.environ.get("FASTLOSS_BENCH_D", 100_000))
NNZ_PER_ROW = int(os.environ.get("FASTLOSS_BENCH_NNZ", 50))
WIDE_D = int(os.environ.get("FASTLOSS_BENCH_WIDE_D", 2_000_000))
THREADS = int(os.environ.get("FASTLOSS_BENCH_THREADS", 2))
L2 = 1e-4
MB = 2**20

#: (zipf exponent or None for uniform columns, data dtype, index dtype)
MATRICES = [(None, "float64", "int32"), (ZIPF, "float64", "int32"), (ZIPF, "float32", "int32"),
            (ZIPF, "float64", "int64")]


_PROBLEMS = {}


def problem(d, zipf=None, dtype="float64", index_dtype="int32"):
    key = (d, zipf, dtype, index_dtype)
    if key not in _PROBLEMS:
        _PROBLEMS.clear()  # one matrix in memory at a time
        _PROBLEMS[key] = make_csr(N, d, NNZ_PER_ROW, zipf=zipf, dtype=dtype, index_dtype=index_dtype)
    return _PROBLEMS[key]


def _matrix_id(matrix):
    zipf, dtype, index_dtype = matrix
    return f"{'uniform' if zipf is None else f'zipf{zipf:g}'}-{dtype}-{index_dtype}"


def _coef(d):
    return np.random.default_rng(1).standard_normal(d + 1) * 0.05


def _direction(d):
    return np.random.default_rng(2).standard_normal(d + 1)


def _sklearn():
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    return LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)


def _thread_limit():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(THREADS)


def _group(benchmark, operation, d=D, matrix=MATRICES[0]):
    zipf, dtype, index_dtype = matrix
    columns = "uniform columns" if zipf is None else f"Zipf {zipf:g} columns"
    benchmark.group = (f"{operation} CSR {N}x{d}, {NNZ_PER_ROW}/row, {columns}, {dtype}, {index_dtype} indices, "
                       f"{THREADS} threads")


@pytest.fixture(scope="module", params=MATRICES, ids=_matrix_id)
def checked(request):
    """Both libraries see the same problem: loss and gradient agree before anything is timed.
    Module scope: pytest runs every benchmark of one matrix before it builds the next."""
    X, y = problem(D, *request.param)
    coef = _coef(D)
    obj = fastloss.LinearObjective(X, y, l2=L2, n_threads=THREADS)
    loss, grad = obj.loss_gradient(coef)
    # scikit-learn computes in X's dtype (float32 here and there), fastloss accumulates in float64.
    rtol = 1e-10 if X.dtype == np.float64 else 1e-5
    with _thread_limit():
        loss_sk, grad_sk = _sklearn().loss_gradient(_like(coef, X), X, _like(y, X), None, L2, THREADS)
    np.testing.assert_allclose(loss, loss_sk, rtol=rtol)
    np.testing.assert_allclose(grad, grad_sk, rtol=100 * rtol, atol=100 * rtol * np.abs(grad_sk).max())
    return X, y, request.param


def _like(a, X):
    """``a`` in X's dtype: what scikit-learn wants next to a float32 X."""
    return a.astype(X.dtype, copy=False)


@pytest.mark.parametrize("impl", ["fastloss", "sklearn"])
def test_loss_gradient(benchmark, checked, impl):
    X, y, matrix = checked
    coef = _coef(D)
    _group(benchmark, "loss_gradient", matrix=matrix)
    if impl == "fastloss":
        obj = fastloss.LinearObjective(X, y, l2=L2, n_threads=THREADS)
        benchmark.pedantic(obj.loss_gradient, (coef,), rounds=7, warmup_rounds=1)
    else:
        lml = _sklearn()
        with _thread_limit():
            benchmark.pedantic(lml.loss_gradient, (_like(coef, X), X, _like(y, X), None, L2, THREADS), rounds=7,
                               warmup_rounds=1)


@pytest.mark.parametrize("impl", ["fastloss", "fastloss_cached", "sklearn"])
def test_hessp(benchmark, checked, impl):
    """One Hessian-vector product. ``fastloss`` recomputes the curvature in the same pass;
    ``fastloss_cached`` and ``sklearn`` use the ``hessp`` returned by ``gradient_hessp`` /
    ``gradient_hessian_product`` (computed once, outside the timing)."""
    X, y, matrix = checked
    coef, v = _coef(D), _direction(D)
    _group(benchmark, "hessp", matrix=matrix)
    if impl == "fastloss":
        obj = fastloss.LinearObjective(X, y, l2=L2, n_threads=THREADS)
        benchmark.pedantic(obj.hessp, (coef, v), rounds=7, warmup_rounds=1)
    elif impl == "fastloss_cached":
        obj = fastloss.LinearObjective(X, y, l2=L2, n_threads=THREADS)
        _, hessp = obj.gradient_hessp(coef)
        benchmark.pedantic(hessp, (v,), rounds=7, warmup_rounds=1)
    else:
        with _thread_limit():
            _, hessp = _sklearn().gradient_hessian_product(_like(coef, X), X, _like(y, X), None, L2, THREADS)
            benchmark.pedantic(hessp, (_like(v, X),), rounds=7, warmup_rounds=1)


@pytest.mark.parametrize("impl", ["fastloss", "sklearn"])
def test_gradient_hessp(benchmark, checked, impl):
    """The setup of the ``hessp`` above: gradient plus whatever each library keeps for hessp."""
    X, y, matrix = checked
    coef = _coef(D)
    _group(benchmark, "gradient_hessp", matrix=matrix)
    if impl == "fastloss":
        obj = fastloss.LinearObjective(X, y, l2=L2, n_threads=THREADS)
        benchmark.pedantic(obj.gradient_hessp, (coef,), rounds=5, warmup_rounds=1)
    else:
        lml = _sklearn()
        with _thread_limit():
            benchmark.pedantic(lml.gradient_hessian_product, (_like(coef, X), X, _like(y, X), None, L2, THREADS),
                               rounds=5, warmup_rounds=1)


# --- memory of a wide problem ----------------------------------------------------------------

def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def peak_rss_added(fn):
    """Bytes by which ``fn()`` raised the process's peak resident set above its current one."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to VmRSS (Linux >= 4.0)
        f.write("5")
    before = _status_kb("VmRSS")
    fn()
    return (_status_kb("VmHWM") - before) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("operation", ["loss_gradient", "hessp"])
def test_wide_memory(benchmark, operation):
    from fastloss.kernels._matrix import csr_n_chunks

    X, y = problem(WIDE_D)
    coef, v = _coef(WIDE_D), _direction(WIDE_D)
    obj = fastloss.LinearObjective(X, y, l2=L2, n_threads=THREADS)
    fn = (lambda: obj.loss_gradient(coef)) if operation == "loss_gradient" else (lambda: obj.hessp(coef, v))
    fn()  # compiled, and the allocator warmed
    added = max(peak_rss_added(fn) for _ in range(3))
    n_coef = WIDE_D + 1
    n_chunks = int(csr_n_chunks(N, X.nnz, n_coef))
    partials = n_chunks * n_coef * 8
    benchmark.extra_info.update({
        "peak_rss_added_MB": round(added / MB, 1),
        "partials_MB": round(partials / MB, 1),
        "n_chunks": n_chunks,
        "budget_MB": PARTIAL_BUDGET_BYTES / MB,
        "X_MB": round((X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / MB, 1),
        "coef_vector_MB": round(n_coef * 8 / MB, 1),
    })
    print(f"\n{operation} d={WIDE_D}: peak RSS +{added / MB:.0f} MB; partials {n_chunks} x {n_coef} float64 = "
          f"{partials / MB:.0f} MB (budget {PARTIAL_BUDGET_BYTES / MB:.0f} MB)")
    assert partials <= PARTIAL_BUDGET_BYTES
    _group(benchmark, operation + " (wide)", WIDE_D)
    benchmark.pedantic(fn, rounds=3, warmup_rounds=0)
