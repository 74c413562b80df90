"""Side-by-side A/B of the multinomial (and binary logistic) kernels against scikit-learn.

One process, one copy of X, the contenders called in interleaved rounds; medians and ratios.
The "old" contender is the package as of a git revision (``--old REV``, default ``HEAD``),
imported as ``fastloss_old`` by ``_revision.import_revision`` (side by side with the working copy,
with its own Numba cache).

    PYTHONPATH=$PWD python bench/ab_multinomial.py --old HEAD~1 \
        --n 1000000 --d 100 --K 10 --threads 2 --rounds 7 --layout C --dtype float64

``--layout csr``: ``X`` is ``fastloss.datasets.make_csr_problem(n, d, 50)`` (``d`` columns, 50
stored entries per row, uniform columns) instead of dense.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="HEAD")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--K", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--layout", default="C", choices=["C", "F", "csr"])
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--what", default="lg,hessp,binary",
                    help="comma list of: lg (multinomial loss_gradient), hessp, binary")
    ap.add_argument("--no-sklearn", action="store_true")
    args = ap.parse_args()
    what = set(args.what.split(","))

    import_revision(args.old, "fastloss_old")
    import fastloss
    from fastloss._parallel import threads
    from fastloss._timing import blas_threads, settle
    old_mn = importlib.import_module("fastloss_old.kernels.multinomial")
    old_lin = importlib.import_module("fastloss_old.kernels.linear")
    new_mn = importlib.import_module("fastloss.kernels.multinomial")
    new_lin = importlib.import_module("fastloss.kernels.linear")

    n, d, K, T = args.n, args.d, args.K, args.threads
    rng = np.random.default_rng(0)
    if args.layout == "csr":
        from fastloss.datasets import make_csr_problem

        X, _ = make_csr_problem(n, d, 50, dtype=args.dtype)
        X_new = importlib.import_module("fastloss.kernels").CSR(X.data, X.indices, X.indptr, d)
        X_old = importlib.import_module("fastloss_old.kernels").CSR(X.data, X.indices, X.indptr, d)
    else:
        X = rng.standard_normal((n, d), dtype=np.dtype(args.dtype).type)
        if args.layout == "F":
            X = np.asfortranarray(X)
        X_new = X_old = X
    y = rng.integers(0, K, n).astype(np.float64)
    yi = y.astype(np.int64)
    coef = rng.standard_normal((K, d + 1)) * 0.05
    v = rng.standard_normal((K, d + 1))
    l2 = 1e-4
    sw = np.empty(0)
    c = np.ascontiguousarray(coef).ravel()
    V = np.ascontiguousarray(v).reshape(1, -1)

    contenders = {}
    if "lg" in what:
        obj = fastloss.LinearObjective(X, y, "multinomial", n_classes=K, l2=l2, n_threads=T)
        g = np.empty(c.size)

        def k_old():
            with threads(T):
                return old_mn.loss_gradient(X_old, yi, sw, c, True, K, True, g, np.empty(0))

        def k_new():
            with threads(T):
                return new_mn.loss_gradient(X_new, yi, sw, c, True, K, True, g, np.empty(0))

        contenders["mn_lg old kernel"] = k_old
        contenders["mn_lg new kernel"] = k_new
        contenders["mn_lg new objective"] = lambda: obj.loss_gradient(coef)
        if not args.no_sklearn:
            from sklearn._loss.loss import HalfMultinomialLoss
            from sklearn.linear_model._linear_loss import LinearModelLoss

            lml = LinearModelLoss(HalfMultinomialLoss(n_classes=K), fit_intercept=True)

            def sk():
                with blas_threads(T):
                    return lml.loss_gradient(coef, X, y, None, l2, n_threads=T)
            contenders["mn_lg sklearn"] = sk
            # correctness against sklearn (same definition of the objective)
            l_sk, g_sk = sk()
            l_fl, g_fl = obj.loss_gradient(coef)
            print(f"check lg: loss rel {abs(l_fl - l_sk) / abs(l_sk):.2e}  grad max rel "
                  f"{np.max(np.abs(g_fl - g_sk)) / np.max(np.abs(g_sk)):.2e}")
    if "hessp" in what:
        obj = fastloss.LinearObjective(X, y, "multinomial", n_classes=K, l2=l2, n_threads=T)
        out = np.empty_like(V)

        def h_old():
            with threads(T):
                old_mn.hessp(X_old, yi, sw, c, True, K, np.empty(0), V, out)

        def h_new():
            with threads(T):
                new_mn.hessp(X_new, yi, sw, c, True, K, np.empty(0), V, out)

        contenders["mn_hessp old kernel"] = h_old
        contenders["mn_hessp new kernel"] = h_new
        contenders["mn_hessp new objective"] = lambda: obj.hessp(coef, v)
        _, hp = obj.gradient_hessp(coef)
        contenders["mn_hessp new cached"] = lambda: hp(v)
        if not args.no_sklearn:
            from sklearn._loss.loss import HalfMultinomialLoss
            from sklearn.linear_model._linear_loss import LinearModelLoss

            lml = LinearModelLoss(HalfMultinomialLoss(n_classes=K), fit_intercept=True)
            with blas_threads(T):
                _, sk_hp = lml.gradient_hessian_product(coef, X, y, None, l2, n_threads=T)

            def sk_h():
                with blas_threads(T):
                    return sk_hp(v)
            contenders["mn_hessp sklearn (cached)"] = sk_h
            h_sk = np.asarray(sk_h()).reshape(coef.shape)
            h_fl = obj.hessp(coef, v)
            print(f"check hessp: max rel {np.max(np.abs(h_fl - h_sk)) / np.max(np.abs(h_sk)):.2e}")
    if "binary" in what:
        yb = (y < K / 2).astype(np.float64)
        cb = rng.standard_normal(d + 1) * 0.05
        gb = np.empty(d + 1)
        objb = fastloss.LinearObjective(X, yb, "logistic", l2=l2, n_threads=T)
        ylid = yb
        lid = fastloss.losses.LOSS_IDS["logistic"]
        for package in ("fastloss", "fastloss_old"):  # each package has its own table of loss loops
            importlib.import_module(f"{package}.kernels").prepare("logistic")

        def b_old():
            with threads(T):
                return old_lin.loss_gradient(X_old, ylid, sw, cb, True, lid, True, gb, np.empty(0))

        def b_new():
            with threads(T):
                return new_lin.loss_gradient(X_new, ylid, sw, cb, True, lid, True, gb, np.empty(0))
        contenders["bin_lg old kernel"] = b_old
        contenders["bin_lg new kernel"] = b_new
        contenders["bin_lg new objective"] = lambda: objb.loss_gradient(cb)
        vb = rng.standard_normal(d + 1)
        Vb = vb.reshape(1, -1)
        hb = np.empty_like(Vb)

        def bh_old():  # uncached: W has 2 rows (coef and the direction)
            with threads(T):
                old_lin.hessp(X_old, ylid, sw, cb, True, lid, np.empty(0), Vb, hb)

        def bh_new():
            with threads(T):
                new_lin.hessp(X_new, ylid, sw, cb, True, lid, np.empty(0), Vb, hb)
        contenders["bin_hessp old kernel"] = bh_old
        contenders["bin_hessp new kernel"] = bh_new
        contenders["bin_hessp new objective"] = lambda: objb.hessp(cb, vb)

    # warm up (compile) every contender
    for name, fn in contenders.items():
        t0 = time.perf_counter()
        fn()
        print(f"warmup {name}: {time.perf_counter() - t0:.2f}s", flush=True)
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            settle()  # each contender starts with no other library's worker threads spinning
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: float(np.median(t)) for name, t in times.items()}
    print(f"\nn={n} d={d} K={K} threads={T} layout={args.layout} dtype={args.dtype} "
          f"rounds={args.rounds} old={args.old}")
    for name in contenders:
        print(f"  {name:28s} median {med[name] * 1e3:8.1f} ms   min {min(times[name]) * 1e3:8.1f} ms")
    for group in ("mn_lg", "mn_hessp"):
        sk = [k for k in med if k.startswith(group) and "sklearn" in k]
        if sk:
            for name in med:
                if name.startswith(group) and name != sk[0]:
                    print(f"  {sk[0]} / {name}: {med[sk[0]] / med[name]:.2f}x")
    for a, b in (("mn_lg old kernel", "mn_lg new kernel"), ("mn_hessp old kernel", "mn_hessp new kernel"),
                 ("bin_lg old kernel", "bin_lg new kernel"),
                 ("bin_hessp old kernel", "bin_hessp new kernel")):
        if a in med and b in med:
            print(f"  {a} / {b}: {med[a] / med[b]:.2f}x")


if __name__ == "__main__":
    main()
