"""Fit a logistic regression with SciPy's optimizers on ``fastloss.LinearObjective``, and time the
fits against scikit-learn's ``LogisticRegression`` on the same data, with the same threads.

    python examples/scipy_solvers.py                     # 200,000 x 100 float64: seconds
    python examples/scipy_solvers.py --n 1000000         # the figure quoted in the README

The objective is scikit-learn's own: ``LogisticRegression(C=C)`` minimizes the mean log loss plus
``||w||^2 / (2 C n)``, which is ``LinearObjective(X, y, l2=1 / (C * n))``. Every fit stops at
scikit-learn's default tolerance ``tol=1e-4``:

* ``L-BFGS-B`` is run with the options ``LogisticRegression(solver="lbfgs")`` passes to SciPy
  (``gtol=tol``, ``ftol=64 * eps``, ``maxls=50``): the same algorithm on the same objective, so the
  two take the same steps and differ only in the cost of one ``loss_gradient``;
* ``trust-ncg`` and ``Newton-CG`` use ``hessp`` (``gtol=tol`` on the gradient norm, ``xtol=tol``),
  against ``solver="newton-cg"``.

Each result is compared to a tightly converged solution (trust-ncg, ``gtol=1e-10``): the column
``max |coef - ref|`` says that the faster fits reach the same coefficients.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize

import fastloss
from fastloss.datasets import make_logistic_problem

EPS = np.finfo(np.float64).eps


def scipy_options(method: str, tol: float) -> dict:
    """Stopping rules at scikit-learn's tolerance ``tol`` for each SciPy method."""
    if method == "L-BFGS-B":  # what LogisticRegression(solver="lbfgs") passes to SciPy
        return {"maxiter": 1000, "maxls": 50, "gtol": tol, "ftol": 64 * EPS}
    if method == "trust-ncg":
        return {"gtol": tol, "maxiter": 1000}
    if method == "Newton-CG":
        return {"xtol": tol, "maxiter": 1000}
    raise ValueError(f"unknown method {method!r}")


def fit_fastloss(X, y, C: float, method: str, tol: float, threads: int | None):
    """Fit with ``scipy.optimize.minimize`` on a LinearObjective; returns (coef, result, seconds)."""
    t0 = time.perf_counter()
    obj = fastloss.LinearObjective(X, y, "logistic", l2=1.0 / (C * X.shape[0]), n_threads=threads)
    hessp = None if method == "L-BFGS-B" else obj.hessp
    res = minimize(obj.loss_gradient, np.zeros(obj.n_coef), jac=True, hessp=hessp, method=method,
                   options=scipy_options(method, tol))
    return res.x, res, time.perf_counter() - t0


def fit_sklearn(X, y, C: float, solver: str, tol: float, threads: int | None):
    """``LogisticRegression(C, solver, tol)``; returns (coef with intercept last, n_iter, seconds)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        t0 = time.perf_counter()
        clf = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=1000).fit(X, y)
        seconds = time.perf_counter() - t0
    return np.r_[clf.coef_.ravel(), clf.intercept_], int(clf.n_iter_[0]), seconds


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200_000, help="samples (default 200,000)")
    p.add_argument("--d", type=int, default=100, help="features (default 100)")
    p.add_argument("--C", type=float, default=1.0, help="inverse regularization, as in LogisticRegression")
    p.add_argument("--tol", type=float, default=1e-4, help="scikit-learn's tol (its default 1e-4)")
    p.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: all)")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    args = p.parse_args(argv)

    from fastloss._parallel import check_n_threads

    threads = check_n_threads(args.threads)
    X, y = make_logistic_problem(args.n, args.d)
    print(f"X {X.shape} {X.dtype} ({X.nbytes / 1e9:.2f} GB), C={args.C}, tol={args.tol}, {threads} thread(s)")

    # Compile (or load from the cache) outside the timings: a one-off cost, reported on its own.
    t0 = time.perf_counter()
    warm = fastloss.LinearObjective(X[:1000], y[:1000], l2=1.0)
    warm.loss_gradient(np.zeros(warm.n_coef))
    warm.hessp(np.zeros(warm.n_coef), np.ones(warm.n_coef))
    print(f"first calls (compile or load from cache): {time.perf_counter() - t0:.2f} s")

    ref, _, _ = fit_fastloss(X, y, args.C, "trust-ncg", 1e-10, threads)
    obj = fastloss.LinearObjective(X, y, l2=1.0 / (args.C * X.shape[0]), n_threads=threads)

    rows = {}
    for method in ("L-BFGS-B", "trust-ncg", "Newton-CG"):
        coef, res, seconds = fit_fastloss(X, y, args.C, method, args.tol, threads)
        rows[f"scipy {method} + fastloss"] = {"seconds": seconds, "iterations": int(res.nit), "coef": coef}
    if not args.no_sklearn:
        for solver in ("lbfgs", "newton-cg"):
            coef, n_iter, seconds = fit_sklearn(X, y, args.C, solver, args.tol, threads)
            rows[f"sklearn LogisticRegression({solver})"] = {"seconds": seconds, "iterations": n_iter,
                                                             "coef": coef}

    print(f"\n{'fit':<40} {'seconds':>8} {'iter':>5} {'max|grad|':>10} {'max|coef-ref|':>14}")
    for name, row in rows.items():
        row["max_grad"] = float(np.max(np.abs(obj.gradient(row["coef"]))))
        row["coef_error"] = float(np.max(np.abs(row["coef"] - ref)))
        print(f"{name:<40} {row['seconds']:8.2f} {row['iterations']:5d} {row['max_grad']:10.1e} "
              f"{row['coef_error']:14.1e}")
    if not args.no_sklearn:
        sk = {s: rows[f"sklearn LogisticRegression({s})"]["seconds"] for s in ("lbfgs", "newton-cg")}
        ours = {m: rows[f"scipy {m} + fastloss"]["seconds"] for m in ("L-BFGS-B", "trust-ncg")}
        print(f"\nspeed-up, same data and threads, this run: L-BFGS-B {sk['lbfgs'] / ours['L-BFGS-B']:.1f}x vs "
              f"lbfgs, trust-ncg {sk['newton-cg'] / ours['trust-ncg']:.1f}x vs newton-cg "
              f"({sk['lbfgs'] / ours['trust-ncg']:.1f}x vs lbfgs)")
    return {"reference": ref, "rows": rows}


if __name__ == "__main__":
    main()
