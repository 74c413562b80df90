"""Same-process, interleaved A/B timing of CSR loss_gradient / hessp against scikit-learn.

    PYTHONPATH=$PWD python bench/ab_sparse.py [--base REV] [--reps 9] [--threads 2] [--n 1000000] [--d 100000]
    PYTHONPATH=$PWD python bench/ab_sparse.py --dense --d 100 --base REV   # dense no-regression check

Times, round-robin in one process on one matrix (``bench_sparse.make_csr``), each of:
scikit-learn's ``LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)`` (under
``threadpool_limits``), this checkout's ``fastloss`` and, with ``--base REV``, the package as of
git revision ``REV``, imported as ``fastloss_base`` (``_revision.import_revision``). The order of
the implementations is shuffled every round, and each call starts after ``fastloss._timing.settle``
(OpenBLAS threads that busy-wait after scikit-learn's calls would otherwise slow the next
contender). Prints, per operation, the median time of each and the median over rounds of
scikit-learn's time divided by it (a ratio taken within each round, so slow drifts of the
machine's load cancel): on a shared machine only ratios measured in the same run mean
anything. Wall time is what is reported; ``cpu`` (process CPU time, all threads) shows how much of
it was the machine's other load.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _revision import import_revision  # noqa: E402
from bench_sparse import make_csr  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", default=None, help="git revision to compare with (e.g. HEAD~2)")
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100_000)
    p.add_argument("--nnz", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dense", action="store_true", help="dense C-ordered X instead")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"), help="of X's values")
    p.add_argument("--ops", default="loss_gradient,hessp,cached_hessp,gradient_hessp+hessp")
    args = p.parse_args()

    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss
    from threadpoolctl import threadpool_limits

    from fastloss._timing import settle

    T, L2 = args.threads, 1e-4
    if args.dense:
        gen = np.random.default_rng(0)
        X = gen.standard_normal((args.n, args.d)).astype(args.dtype)
        z = X @ gen.standard_normal(args.d) / np.sqrt(args.d)
        y = (gen.random(args.n) < 1.0 / (1.0 + np.exp(-z))).astype(float)
    else:
        X, y = make_csr(args.n, args.d, args.nnz)
        X.data = X.data.astype(args.dtype)
    rng = np.random.default_rng(1)
    coef = rng.standard_normal(args.d + 1) * 0.05
    v = np.random.default_rng(2).standard_normal(args.d + 1)
    lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)
    # scikit-learn's LogisticRegression casts y and the coefficients to X's dtype
    y_sk, coef_sk, v_sk = (a.astype(args.dtype) for a in (y, coef, v))

    impls = {}
    packages = [("fastloss", importlib.import_module("fastloss"))]
    if args.base:
        packages.insert(0, ("base", import_revision(args.base)))
    ops = args.ops.split(",")
    for name, pkg in packages:
        obj = pkg.LinearObjective(X, y, l2=L2, n_threads=T)
        _, cached = obj.gradient_hessp(coef)
        impls[name] = {
            "loss_gradient": lambda obj=obj: obj.loss_gradient(coef),
            "hessp": lambda obj=obj: obj.hessp(coef, v),
            "cached_hessp": lambda cached=cached: cached(v),
            "gradient_hessp": lambda obj=obj: obj.gradient_hessp(coef),
            "gradient_hessp+hessp": lambda obj=obj: obj.gradient_hessp(coef)[1](v),
        }
    with threadpool_limits(T):
        _, sk_hessp = lml.gradient_hessian_product(coef_sk, X, y_sk, None, L2, T)
    impls["sklearn"] = {
        "loss_gradient": lambda: lml.loss_gradient(coef_sk, X, y_sk, None, L2, T),
        "hessp": lambda: sk_hessp(v_sk),
        "cached_hessp": lambda: sk_hessp(v_sk),
        "gradient_hessp": lambda: lml.gradient_hessian_product(coef_sk, X, y_sk, None, L2, T),
        "gradient_hessp+hessp": lambda: lml.gradient_hessian_product(coef_sk, X, y_sk, None, L2, T)[1](v_sk),
    }

    # Agreement first: every implementation computes the same numbers (scikit-learn's float32 paths
    # accumulate in float32).
    tight, loose = (1e-10, 1e-7) if args.dtype == "float64" else (1e-4, 1e-3)
    ref_l, ref_g = impls["sklearn"]["loss_gradient"]()
    ref_h = sk_hessp(v_sk)
    for name in impls:
        if name == "sklearn":
            continue
        lo, g = impls[name]["loss_gradient"]()
        np.testing.assert_allclose(lo, ref_l, rtol=tight)
        np.testing.assert_allclose(g, ref_g, rtol=loose, atol=tight * np.abs(ref_g).max())
        for op in ("hessp", "cached_hessp"):
            np.testing.assert_allclose(impls[name][op](), ref_h, rtol=loose, atol=tight * np.abs(ref_h).max())

    times = {(name, op): [] for name in impls for op in ops}
    cpu = {(name, op): [] for name in impls for op in ops}
    order = list(impls)
    shuffle = np.random.default_rng(0)
    with threadpool_limits(T):
        for _ in range(args.reps):
            for op in ops:
                shuffle.shuffle(order)
                for name in order:
                    settle()  # no OpenBLAS threads of the previous contender left spinning
                    t0, c0 = time.perf_counter(), time.process_time()
                    impls[name][op]()
                    times[name, op].append(time.perf_counter() - t0)
                    cpu[name, op].append(time.process_time() - c0)

    kind = "dense C" if args.dense else f"CSR {args.nnz}/row"
    print(f"{kind} {args.n}x{args.d}, {args.dtype}, {T} threads, {args.reps} interleaved rounds, "
          f"load average {os.getloadavg()[0]:.2f}")
    for op in ops:
        sk = np.array(times["sklearn", op])
        cells = []
        for name in impls:
            t = np.array(times[name, op])
            cells.append(f"{name} {1e3 * np.median(t):6.1f} ms (cpu {1e3 * np.median(cpu[name, op]):6.1f}, "
                         f"sk/x {np.median(sk / t):4.2f})")
        print(f"{op:20s} " + " | ".join(cells))


if __name__ == "__main__":
    main()
