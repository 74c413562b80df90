"""``LinearClassifier``'s ``"auto"`` (Newton on a sampled Hessian) against ``"newton"`` and
``"lbfgs"`` on three 1,000,000 x 100 problems: well-conditioned, ill-conditioned (correlated
features), and one with rare binary features that no sampled row holds (where ``"auto"`` must
go on with the full Hessian). Prints each fit's seconds, iterations and objective, and with
``--verbose`` the per-iteration lines of ``"auto"``: the figures of docs/performance.md, "Three
times scikit-learn on every fit problem".

    python bench/sampled_newton.py [--n 1000000] [--d 100] [--threads 2] [--tol 1e-6,1e-8] [--verbose]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastloss
from fastloss._fitbench import make_ill_conditioned_problem
from fastloss.datasets import make_logistic_problem
from fastloss.sklearn import LinearClassifier


def rare_feature_problem(n: int, d: int, n_rare: int = 10, rows_each: int = 20, seed: int = 1):
    """``make_logistic_problem(n, d)`` whose last ``n_rare`` columns are binary features present in
    ``rows_each`` random rows each, with labels tied to them (1 for odd columns, 0 for even)."""
    rng = np.random.default_rng(seed)
    X, y = make_logistic_problem(n, d)
    X[:, d - n_rare:] = 0.0
    for j in range(d - n_rare, d):
        rows = rng.choice(n, rows_each, replace=False)
        X[rows, j] = 1.0
        y[rows] = 1.0 if j % 2 else 0.0
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tol", default="1e-6,1e-8")
    parser.add_argument("--solvers", default="auto,newton,lbfgs")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    problems = {
        "dense": lambda: make_logistic_problem(args.n, args.d),
        "ill-conditioned": lambda: make_ill_conditioned_problem(args.n, args.d),
        "rare features": lambda: rare_feature_problem(args.n, args.d),
    }
    l2 = 1.0 / args.n
    for name, make in problems.items():
        X, y = make()
        obj = fastloss.LinearObjective(X, y, l2=l2, n_threads=args.threads)
        LinearClassifier(l2=l2).fit(X[:3000], y[:3000])  # loads the compiled code
        for solver in args.solvers.split(","):
            for tol in (float(t) for t in args.tol.split(",")):
                clf = LinearClassifier(l2=l2, tol=tol, solver=solver, n_threads=args.threads, max_iter=10_000,
                                       verbose=int(args.verbose and solver == "auto"))
                start = time.perf_counter()
                clf.fit(X, y)
                seconds = time.perf_counter() - start
                value = obj.loss(np.r_[clf.coef_.ravel(), clf.intercept_])
                print(f"{name:16s} {solver:7s} tol {tol:g}: {seconds:.3f} s, {int(clf.n_iter_[0])} iterations, "
                      f"objective {value:.15g}", flush=True)


if __name__ == "__main__":
    main()
