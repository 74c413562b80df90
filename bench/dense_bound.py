"""What bounds a dense ``loss_gradient`` / ``hessp``: its passes against the floors of their parts.

    PYTHONPATH=$PWD python bench/dense_bound.py [--n 1000000] [--d 100] [--dtype float64]
                                                [--threads 1,2] [--repeat 7]

One matrix, one process; per thread count, medians of:

* ``read``: the machine's read bandwidth on ``X`` itself (``fastloss._timing.read_bandwidth``, a
  parallel multi-accumulator sum), the floor of any pass over ``X``;
* ``score``: ``z = X w`` alone, block by block, with fastloss's own primitive
  (``rows_dot_packed``): one read of each row, what the first half of the fused pass does;
* ``score twice``: each block scored twice, the second time from cache (the second read of the
  fused pass without its stores);
* ``score + spread``: the fused pass without loss math (``g = 0.5 - 0.25 z`` stands in for the
  gradient): each block scored, then spread into the chunk's partial gradient
  (``rows_axpy_each``) while it is in cache. The floor of the kernel as it is designed; its time
  over ``score`` is the second read of each block (from cache) and its multiply-adds;
* fastloss's ``loss_gradient`` for ``logistic`` (an ``exp`` and a ``log1p`` per sample) and for
  ``square`` (a few multiply-adds): their difference is the per-sample math; and ``hessp``.

The floors use fastloss's chunks (``row_bounds``) and block size (``block_rows``), so only the loss
math and the bookkeeping of the real kernel (intercept, scratch, the partials' combine) are absent.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from numba import njit, prange

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastloss.kernels._matrix import block_rows, rows_axpy_each, rows_dot_packed  # noqa: E402


@njit(parallel=True, cache=False)
def score(X, bounds, W, z):
    block = block_rows(X)
    for c in prange(bounds.size - 1):
        Z = np.empty((1, block))
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            rows_dot_packed(X, a, b, W, Z)
            for r in range(b - a):
                z[a + r] = Z[0, r]


@njit(parallel=True, cache=False)
def score_twice(X, bounds, W, z, block):
    for c in prange(bounds.size - 1):
        Z = np.empty((1, block))
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            rows_dot_packed(X, a, b, W, Z)
            rows_dot_packed(X, a, b, W, Z)  # the second read from cache, without the spread's stores
            for r in range(b - a):
                z[a + r] = Z[0, r]


@njit(parallel=True, cache=False)
def score_spread(X, bounds, W, partial, block):
    for c in prange(bounds.size - 1):
        out = partial[c:c + 1]
        out[:] = 0.0
        Z = np.empty((1, block))
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            rows_dot_packed(X, a, b, W, Z)
            for r in range(b - a):
                Z[0, r] = 0.5 - 0.25 * Z[0, r]  # stands in for the loss's gradient: no exp, no log
            rows_axpy_each(X, a, b, Z, out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--blocks", default=None,
                   help="comma-separated rows per block: time only the score + spread floor at each "
                        "(default: every row at fastloss's block size)")
    args = p.parse_args()

    import numba

    import fastloss
    from fastloss._timing import median_time, read_bandwidth, settle
    from fastloss.kernels._chunks import row_bounds

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d)).astype(args.dtype)
    y = (rng.random(args.n) < 0.5).astype(np.float64)
    n, d = X.shape
    coef = rng.standard_normal(d + 1) * 0.1
    v = rng.standard_normal(d + 1)
    W = np.ascontiguousarray(coef[None, :d])
    bounds = row_bounds(n, d + 1)
    partial = np.empty((bounds.size - 1, d))
    z = np.empty(n)
    print(f"dense {n:,} x {d} {args.dtype}: {X.nbytes / 1e9:.2f} GB, {bounds.size - 1} chunks")
    block = njit(lambda X: block_rows(X))(X)
    for threads in (int(t) for t in args.threads.split(",")):
        numba.set_num_threads(threads)
        if args.blocks:
            for rows in (int(b) for b in args.blocks.split(",")):
                med, _, _ = median_time(lambda r=rows: score_spread(X, bounds, W, partial, r), repeat=args.repeat)
                print(f"{threads} thread(s): score + spread, {rows} rows per block: {med * 1e3:.1f} ms")
            continue
        square, logistic = (fastloss.LinearObjective(X, y, loss, l2=1e-4, n_threads=threads)
                            for loss in ("square", "logistic"))
        rows = {
            "score: z = X w": lambda: score(X, bounds, W, z),
            "score twice (second from cache)": lambda: score_twice(X, bounds, W, z, block),
            "score + spread, no loss math": lambda: score_spread(X, bounds, W, partial, block),
            "fastloss loss_gradient, square": square.loss_gradient,
            "fastloss loss_gradient, logistic": logistic.loss_gradient,
            "fastloss hessp, logistic": lambda obj=logistic: obj.hessp(coef, v),
        }
        bw = read_bandwidth(X, threads)
        print(f"\n{threads} thread(s); read bandwidth on X {bw:.1f} GB/s ({X.nbytes / bw / 1e6:.1f} ms a pass)")
        print(f"  {'':<36} {'ms':>8} {'GB/s':>7} {'% of bw':>8}")
        for name, fn in rows.items():
            settle()
            med, _, _ = median_time((lambda f=fn: f(coef)) if "loss_gradient" in name else fn, repeat=args.repeat)
            gbs = X.nbytes / med / 1e9
            print(f"  {name:<36} {med * 1e3:8.1f} {gbs:7.1f} {100 * gbs / bw:7.0f}%")


if __name__ == "__main__":
    main()
