"""Full Hessian: ``LinearObjective.hessian`` vs the same weighted Gram matrix on NumPy's threaded BLAS.

The BLAS contender is ``X.T @ (h[:, None] * X)`` (a full ``dgemm`` of ``2 n p^2`` flops plus the
scaled copy of ``X``), given the curvature ``h`` for free; for the multinomial Hessian it is one
such product per block ``(k, l >= k)``; for CSR input SciPy's sparse product
``(X.T @ X.multiply(h[:, None])).toarray()`` (single-threaded: SciPy has no threaded sparse
product). fastloss computes the curvature itself and only the upper triangle (``n p^2`` flops,
``p = d + 1`` with the intercept).

As a pytest-benchmark suite (``pytest bench/bench_hessian.py --benchmark-enable``, threads from
``FASTLOSS_BENCH_THREADS``, default all), or as a script that prints the table of
``docs/performance.md`` (both contenders at 1 and 2 threads, medians)::

    python bench/bench_hessian.py [--scale 0.1] [--repeat 3]

``--crossover`` instead times the two paths of the CSR Hessian (by stored entries, and by packed
dense blocks) on one thread at several densities, the figures behind
``_config.GRAM_SPARSE_MAX_DENSITY``.

``--compile`` times the first ``hessian()`` of a fresh process with ``FASTLOSS_NO_CACHE=1``
(CPU seconds, after a first ``loss_gradient`` that compiles what the two share), for the binary
and multinomial objectives on C-ordered and CSR input.

The table and ``--compile`` only use the public API, so running it on another checkout of fastloss
(``PYTHONPATH=<checkout> python bench/bench_hessian.py``) measures that version's kernel.
``--scale`` multiplies every ``n`` (for a quick look; the default sizes need ~2 GB).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pytest
import scipy.sparse as sp

#: name -> (kind, n, d, dtype, layout, classes, entries per row (CSR))
CASES = {
    "dense 200000x200 C": ("binary", 200_000, 200, "float64", "C", 2, 0),
    "dense 200000x200 F": ("binary", 200_000, 200, "float64", "F", 2, 0),
    "dense 1000000x100 C": ("binary", 1_000_000, 100, "float64", "C", 2, 0),
    "dense 1000000x100 F": ("binary", 1_000_000, 100, "float64", "F", 2, 0),
    "dense 200000x200 C float32": ("binary", 200_000, 200, "float32", "C", 2, 0),
    "csr 200000x1000 (10/row)": ("binary", 200_000, 1000, "float64", "csr", 2, 10),
    "csr 100000x1000 (200/row)": ("binary", 100_000, 1000, "float64", "csr", 2, 200),
    "multinomial K=10 100000x50": ("multinomial", 100_000, 50, "float64", "C", 10, 0),
}
SCALE = float(os.environ.get("FASTLOSS_BENCH_HESSIAN_SCALE", 1.0))


def make_case(name: str, scale: float = 1.0):
    """``(X, y, loss)`` of a case, ``n`` multiplied by ``scale``."""
    kind, n, d, dtype, layout, classes, per_row = CASES[name]
    n = max(1, int(n * scale))
    rng = np.random.default_rng(0)
    if layout == "csr":
        cols = rng.integers(0, d, size=(n, per_row)).astype(np.int32)
        cols.sort(axis=1)
        indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
        data = rng.standard_normal(n * per_row) / np.sqrt(per_row)
        X = sp.csr_matrix((data, cols.reshape(-1), indptr), shape=(n, d))
        X.sum_duplicates()
    else:
        X = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
        if layout == "F":
            X = np.asfortranarray(X)
    y = rng.integers(0, classes, size=n).astype(np.float64)
    return X, y, ("logistic" if kind == "binary" else "multinomial")


def _coef(obj):
    return np.random.default_rng(1).standard_normal(obj.coef_shape) * 0.05


def gram_flops(X, obj) -> float:
    """Flops of the symmetric half that fastloss computes: ``n p^2`` (``n p^2 / 2`` multiply-adds,
    two flops each), ``p = n_coef``."""
    return float(X.shape[0]) * obj.n_coef**2


def blas_contender(X, obj, coef):
    """A function computing the Gram part of ``obj.hessian(coef)`` the plain way (see the module doc)."""
    if obj.n_classes == 1:
        h = np.random.default_rng(2).random(X.shape[0]) + 0.1  # any positive curvature
        if sp.issparse(X):
            return lambda: (X.T @ X.multiply(h[:, None])).toarray(), 2.0 * X.shape[0] * X.shape[1] ** 2
        return lambda: X.T @ (h[:, None] * X), 2.0 * X.shape[0] * X.shape[1] ** 2
    K = obj.n_classes
    Z = np.asarray(X) @ coef[:, :-1].T + coef[:, -1]
    W = np.exp(Z - Z.max(axis=1, keepdims=True))
    W /= W.sum(axis=1, keepdims=True)

    def blocks():
        out = []
        for k in range(K):
            for q in range(k, K):
                w = W[:, k] * ((k == q) - W[:, q])
                out.append(X.T @ (w[:, None] * X))
        return out
    return blocks, 2.0 * X.shape[0] * X.shape[1] ** 2 * K * (K + 1) / 2


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return (request.param, *make_case(request.param, SCALE))


@pytest.mark.parametrize("impl", ["fastloss", "blas"])
def test_hessian(benchmark, case, impl, n_threads):
    import fastloss
    from fastloss._timing import blas_threads

    name, X, y, loss = case
    benchmark.group = f"hessian {name}" + (f" (n x {SCALE:g})" if SCALE != 1.0 else "")
    obj = fastloss.LinearObjective(X, y, loss, n_threads=n_threads)
    coef = _coef(obj)
    if impl == "fastloss":
        benchmark.pedantic(obj.hessian, (coef,), rounds=3, warmup_rounds=1)
        flops = gram_flops(X, obj)
    else:
        fn, flops = blas_contender(X, obj, coef)
        with blas_threads(n_threads):
            benchmark.pedantic(fn, rounds=3, warmup_rounds=1)
    benchmark.extra_info["GFLOP/s"] = round(flops / benchmark.stats.stats.median / 1e9, 1)


def crossover(n: int = 10_000, d: int = 1000, repeat: int = 3) -> None:
    """CPU seconds of the sparse and the dense path of the CSR Hessian, one thread."""
    import time

    import numba

    from fastloss.kernels import CSR
    from fastloss.kernels import linear as L

    @numba.njit
    def run(X, h, block, sparse, out):
        n, p = X[2].size - 1, X[3] + 1
        XT = np.empty((p, 0 if sparse else block))
        Hd = np.empty((1, block))
        unused = np.empty((1, 0))
        out[:, :] = 0.0
        for a in range(0, n, block):
            b = min(n, a + block)
            for r in range(b - a):
                Hd[0, r] = h[a + r]
            L.gram_block_add(X, a, b, True, sparse, XT, Hd, unused, unused, out)
        L.gram_mirror(out)

    def cpu_seconds(*args):
        run(*args)
        times = []
        for _ in range(repeat):
            t0 = time.process_time()
            run(*args)
            times.append(time.process_time() - t0)
        return min(times)

    numba.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"CSR {n} x {d}, one thread, best of {repeat} (CPU ms)")
    print("| density | by stored entries | packed dense blocks |\n|---:|---:|---:|")
    for per_row in (10, 25, 50, 100, 200):
        cols = np.sort(rng.integers(0, d, size=(n, per_row)), axis=1)
        S = sp.csr_matrix((rng.standard_normal(n * per_row), cols.ravel(), np.arange(0, n * per_row + 1, per_row)),
                          shape=(n, d))
        S.sum_duplicates()
        X = CSR(S.data, S.indices, S.indptr, d)
        h = rng.random(n)
        out, out_dense = np.empty((d + 1, d + 1)), np.empty((d + 1, d + 1))
        by_entries = cpu_seconds(X, h, 4096, True, out)
        by_blocks = cpu_seconds(X, h, L.gram_block_rows(d + 1, n), False, out_dense)
        np.testing.assert_allclose(out, out_dense, rtol=1e-10, atol=1e-10)
        print(f"| {S.nnz / (n * d):.3f} | {by_entries * 1e3:.0f} | {by_blocks * 1e3:.0f} |")


_FIRST_CALL = """
import sys, time
import numpy as np
import scipy.sparse as sp
import fastloss
loss, fmt = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = rng.standard_normal((300, 7))
X = sp.csr_matrix(X) if fmt == "csr" else X
y = rng.integers(0, 3 if loss == "multinomial" else 2, 300).astype(float)
obj = fastloss.LinearObjective(X, y, loss)
coef = np.zeros(obj.n_coef)
obj.loss_gradient(coef)
t0 = time.process_time()
obj.hessian(coef)
assert fastloss.__file__.startswith(sys.argv[3]), fastloss.__file__
print(time.process_time() - t0)
"""


def first_call_compile() -> None:
    """CPU seconds of the first ``hessian()`` in fresh processes without the on-disk cache."""
    import subprocess
    import sys
    import tempfile

    import fastloss

    env = dict(os.environ, FASTLOSS_NO_CACHE="1")
    print(f"fastloss from {os.path.dirname(fastloss.__file__)}: first hessian(), CPU s, no cache")
    for loss in ("logistic", "multinomial"):
        for fmt in ("C", "csr"):
            # from a neutral folder: ``python -c`` puts the working directory first on sys.path
            args = [sys.executable, "-c", _FIRST_CALL, loss, fmt, os.path.dirname(fastloss.__file__)]
            out = subprocess.run(args, env=env, check=True, capture_output=True, text=True,
                                 cwd=tempfile.gettempdir()).stdout
            print(f"| {loss} | {fmt} | {float(out):.2f} |", flush=True)


def main(argv=None) -> None:
    import fastloss
    from fastloss._timing import blas_threads, median_time

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--crossover", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)
    if args.crossover:
        crossover(repeat=args.repeat)
        return
    if args.compile:
        first_call_compile()
        return
    print(f"fastloss from {os.path.dirname(fastloss.__file__)}; median of {args.repeat}; "
          "GFLOP/s: fastloss n p^2 (its symmetric half), BLAS its own 2 n p^2")
    print("| case | threads | fastloss ms | GFLOP/s | BLAS ms | GFLOP/s | fastloss / BLAS time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.cases.split(","):
        X, y, loss = make_case(name, args.scale)
        for t in (int(s) for s in args.threads.split(",")):
            obj = fastloss.LinearObjective(X, y, loss, n_threads=t)
            coef = _coef(obj)
            ours = median_time(lambda obj=obj, coef=coef: obj.hessian(coef), repeat=args.repeat)[0]
            fn, flops = blas_contender(X, obj, coef)
            with blas_threads(t):
                theirs = median_time(fn, repeat=args.repeat)[0]
            print(f"| {name} | {t} | {ours * 1e3:.0f} | {gram_flops(X, obj) / ours / 1e9:.1f} "
                  f"| {theirs * 1e3:.0f} | {flops / theirs / 1e9:.1f} | {ours / theirs:.2f} |", flush=True)


if __name__ == "__main__":
    main()
