"""What bounds a CSR ``loss_gradient`` / ``hessp``: its passes against the floors of their parts.

    PYTHONPATH=$PWD python bench/csr_bound.py [--n 1000000] [--d 100000] [--nnz 50] [--zipf 1.1]
                                              [--threads 1,2] [--repeat 7]

One matrix (``fastloss.datasets.make_csr_problem``), one process; per thread count, medians of:

* ``stream``: one sequential read of the CSR arrays (``data``, ``indices``, ``indptr``), the
  floor of any pass over ``X``; its GB/s next to the machine's read bandwidth measured on a
  dense array of the same size in the same run (``fastloss._timing.read_bandwidth``);
* ``gather``: ``z = X w`` alone (per row, ``sum data * w[col]``: one random read of ``w`` per
  stored entry), what the scoring half of a fused pass must do;
* ``scatter``: ``X^T g`` alone (per chunk of rows, ``grad[col] += g * data`` into a partial
  vector of the chunk: one random read-modify-write per stored entry), the other half;
* ``gather+scatter``: both in one pass over each block of rows, no loss math: the floor of the
  fused kernel as it is designed;
* fastloss's ``loss_gradient`` and ``hessp`` (``LinearObjective``, logistic), and SciPy's ``X @ w``
  and ``X.T @ g`` (single-threaded), with scikit-learn's ``LinearModelLoss`` for reference (both in
  ``X``'s dtype, as scikit-learn's estimators run them: ``w``, ``g``, ``y`` and the coefficients are
  converted once).

The three floors are written here in plain Numba with the same chunking as fastloss; ``gather`` and
``scatter`` read ``w`` / write ``grad`` of ``d`` float64 each, which at ``d = 100,000`` (800 KB each)
do not fit one core's L2 together.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from numba import njit, prange

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@njit(parallel=True, cache=False)
def stream(data, indices, indptr, bounds):
    n_chunks = bounds.size - 1
    part = np.zeros(n_chunks)
    for c in prange(n_chunks):
        acc = 0.0
        for q in range(indptr[bounds[c]], indptr[bounds[c + 1]]):
            acc += data[q] + indices[q]
        part[c] = acc
    return part.sum()


@njit(parallel=True, cache=False)
def gather(data, indices, indptr, bounds, w, z):
    for c in prange(bounds.size - 1):
        for i in range(bounds[c], bounds[c + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            row_data, row_cols = data[lo:hi], indices[lo:hi]
            acc = 0.0
            for q in range(row_data.size):
                acc += row_data[q] * w[np.uint64(row_cols[q])]
            z[i] = acc


@njit(parallel=True, cache=False)
def scatter(data, indices, indptr, bounds, g, partial):
    for c in prange(bounds.size - 1):
        out = partial[c]
        out[:] = 0.0
        for i in range(bounds[c], bounds[c + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            row_data, row_cols = data[lo:hi], indices[lo:hi]
            gi = g[i]
            for q in range(row_data.size):
                out[np.uint64(row_cols[q])] += gi * row_data[q]


@njit(parallel=True, cache=False)
def fused(data, indices, indptr, bounds, w, partial, block):
    for c in prange(bounds.size - 1):
        out = partial[c]
        out[:] = 0.0
        z = np.empty(block)
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            for i in range(a, b):
                lo, hi = indptr[i], indptr[i + 1]
                row_data, row_cols = data[lo:hi], indices[lo:hi]
                acc = 0.0
                for q in range(row_data.size):
                    acc += row_data[q] * w[np.uint64(row_cols[q])]
                z[i - a] = 0.5 - 0.25 * acc  # stands in for the loss's gradient: no exp, no log
            for i in range(a, b):
                lo, hi = indptr[i], indptr[i + 1]
                row_data, row_cols = data[lo:hi], indices[lo:hi]
                gi = z[i - a]
                for q in range(row_data.size):
                    out[np.uint64(row_cols[q])] += gi * row_data[q]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100_000)
    p.add_argument("--nnz", type=int, default=50)
    p.add_argument("--zipf", type=float, default=None)
    p.add_argument("--dtype", default="float64")
    p.add_argument("--index-dtype", default="int32")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--blocks", default=None,
                   help="comma-separated rows per block: time only the fused floor at each (default: "
                        "every row at fastloss's CSR block)")
    args = p.parse_args()

    import numba
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    import fastloss
    from fastloss import _config
    from fastloss._timing import median_time, read_bandwidth, settle
    from fastloss.datasets import make_csr_problem
    from fastloss.kernels._chunks import bounds_of
    from fastloss.kernels._matrix import CSR

    X, y = make_csr_problem(args.n, args.d, args.nnz, zipf=args.zipf, dtype=args.dtype,
                            index_dtype=args.index_dtype)
    n, d = X.shape
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    rng = np.random.default_rng(0)
    w = rng.standard_normal(d) * 0.1
    coef = np.append(w, 0.0)
    v = rng.standard_normal(d + 1)
    bounds = bounds_of(CSR(X.data, X.indices, X.indptr, d), d + 1)
    partial = np.empty((bounds.size - 1, d))
    z = np.empty(n)
    g = rng.standard_normal(n)
    sk = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    # SciPy and scikit-learn compute in X's dtype (float64 vectors would make SciPy convert a float32 X).
    sk_coef, sk_y, w_x, g_x = (a.astype(X.dtype) for a in (coef, y, w, g))
    dense = np.ones((csr_bytes // 8 // 64, 64))
    kind = "uniform" if args.zipf is None else f"Zipf {args.zipf}"
    print(f"CSR {n:,} x {d:,}, {args.nnz} per row ({kind} columns), {args.dtype} / {args.index_dtype}: "
          f"{csr_bytes / 1e9:.2f} GB of arrays, {bounds.size - 1} chunks")
    block = _config.MAX_BLOCK_ROWS
    for threads in (int(t) for t in args.threads.split(",")):
        numba.set_num_threads(threads)
        if args.blocks:
            for rows in (int(b) for b in args.blocks.split(",")):
                settle()
                med, _, _ = median_time(lambda r=rows: fused(X.data, X.indices, X.indptr, bounds, w, partial, r),
                                        repeat=args.repeat)
                print(f"{threads} thread(s): fused floor, {rows} rows per block: {med * 1e3:.1f} ms")
            continue
        obj = fastloss.LinearObjective(X, y, "logistic", l2=1e-4, n_threads=threads)
        bw = read_bandwidth(dense, threads)
        rows = {
            "stream (read the CSR arrays once)": lambda: stream(X.data, X.indices, X.indptr, bounds),
            "gather: z = X w": lambda: gather(X.data, X.indices, X.indptr, bounds, w, z),
            "scatter: X^T g (per-chunk partials)": lambda: scatter(X.data, X.indices, X.indptr, bounds, g, partial),
            "gather+scatter fused, no loss math": lambda: fused(X.data, X.indices, X.indptr, bounds, w, partial,
                                                                 block),
            "fastloss loss_gradient": lambda obj=obj: obj.loss_gradient(coef),
            "fastloss hessp": lambda obj=obj: obj.hessp(coef, v),
            "SciPy X @ w (1 thread)": lambda: X @ w_x,
            "SciPy X.T @ g (1 thread)": lambda: X.T @ g_x,
            "scikit-learn loss_gradient": lambda t=threads: sk.loss_gradient(sk_coef, X, sk_y, l2_reg_strength=1e-4,
                                                                             n_threads=t),
        }
        print(f"\n{threads} thread(s); read bandwidth {bw:.1f} GB/s")
        print(f"  {'':<40} {'ms':>8} {'CSR GB/s':>9} {'% of bw':>8}")
        for name, fn in rows.items():
            settle()
            med, _, _ = median_time(fn, repeat=args.repeat)
            gbs = csr_bytes / med / 1e9
            print(f"  {name:<40} {med * 1e3:8.1f} {gbs:9.1f} {100 * gbs / bw:7.0f}%")


if __name__ == "__main__":
    main()
