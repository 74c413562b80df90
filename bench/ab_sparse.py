"""Same-process, interleaved A/B timing of CSR loss_gradient / hessp against scikit-learn.

    PYTHONPATH=$PWD python bench/ab_sparse.py [--base DIR] [--reps 9] [--n 1000000] [--d 100000]

Times, round-robin in one process on one matrix (``bench_sparse.make_csr``), each of:
scikit-learn's ``LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)`` (under
``threadpool_limits``), this checkout's ``fastloss`` and, with ``--base DIR``, a second copy of
the package imported as ``fastloss_base`` from ``DIR`` (e.g. ``git archive HEAD~3 fastloss``
unpacked and renamed there). Prints medians and ratios to scikit-learn's median: on a shared
machine only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sparse import make_csr  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", default=None, help="folder holding a package fastloss_base")
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100_000)
    p.add_argument("--nnz", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ops", default="loss_gradient,hessp,cached_hessp,gradient_hessp")
    args = p.parse_args()

    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss
    from threadpoolctl import threadpool_limits

    T, L2 = args.threads, 1e-4
    X, y = make_csr(args.n, args.d, args.nnz)
    rng = np.random.default_rng(1)
    coef = rng.standard_normal(args.d + 1) * 0.05
    v = np.random.default_rng(2).standard_normal(args.d + 1)
    lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)

    impls = {}
    packages = [("fastloss", importlib.import_module("fastloss"))]
    if args.base:
        sys.path.insert(0, args.base)
        packages.insert(0, ("base", importlib.import_module("fastloss_base")))
    ops = args.ops.split(",")
    for name, pkg in packages:
        obj = pkg.LinearObjective(X, y, l2=L2, n_threads=T)
        _, cached = obj.gradient_hessp(coef)
        impls[name] = {
            "loss_gradient": lambda obj=obj: obj.loss_gradient(coef),
            "hessp": lambda obj=obj: obj.hessp(coef, v),
            "cached_hessp": lambda cached=cached: cached(v),
            "gradient_hessp": lambda obj=obj: obj.gradient_hessp(coef),
        }
    with threadpool_limits(T):
        _, sk_hessp = lml.gradient_hessian_product(coef, X, y, None, L2, T)
    impls["sklearn"] = {
        "loss_gradient": lambda: lml.loss_gradient(coef, X, y, None, L2, T),
        "hessp": lambda: sk_hessp(v),
        "cached_hessp": lambda: sk_hessp(v),
        "gradient_hessp": lambda: lml.gradient_hessian_product(coef, X, y, None, L2, T),
    }

    # Agreement first: every implementation computes the same numbers.
    ref_l, ref_g = impls["sklearn"]["loss_gradient"]()
    ref_h = sk_hessp(v)
    for name in impls:
        if name == "sklearn":
            continue
        lo, g = impls[name]["loss_gradient"]()
        np.testing.assert_allclose(lo, ref_l, rtol=1e-10)
        np.testing.assert_allclose(g, ref_g, rtol=1e-7, atol=1e-10 * np.abs(ref_g).max())
        for op in ("hessp", "cached_hessp"):
            np.testing.assert_allclose(impls[name][op](), ref_h, rtol=1e-7, atol=1e-10 * np.abs(ref_h).max())

    times = {(name, op): [] for name in impls for op in ops}
    with threadpool_limits(T):
        for _ in range(args.reps):
            for op in ops:
                for name in impls:
                    t0 = time.perf_counter()
                    impls[name][op]()
                    times[name, op].append(time.perf_counter() - t0)

    print(f"CSR {args.n}x{args.d}, {args.nnz}/row, float64, {T} threads, {args.reps} interleaved reps")
    for op in ops:
        sk = np.median(times["sklearn", op])
        cells = []
        for name in impls:
            med = np.median(times[name, op])
            cells.append(f"{name} {1e3 * med:7.1f} ms (sk/x {sk / med:4.2f})")
        print(f"{op:15s} " + " | ".join(cells))


if __name__ == "__main__":
    main()
