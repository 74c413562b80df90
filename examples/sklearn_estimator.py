"""``fastloss.sklearn.LinearClassifier`` next to scikit-learn's ``LogisticRegression`` on the same objective.

    python examples/sklearn_estimator.py                          # 200,000 x 100, two classes
    python examples/sklearn_estimator.py --classes 5 --d 20
    python examples/sklearn_estimator.py --ill 1e3 --threads 2    # columns scaled over 3 decades

Fits ``LinearClassifier`` with every solver (and ``"auto"``) and ``LogisticRegression`` with
``lbfgs`` and ``newton-cholesky``, all at the same ``tol`` and thread count, with
``l2 = 1 / (C * n)`` so that both minimize the same objective, and prints for each fit the
seconds, iterations, the objective's value and the largest gradient entry (both from
``fastloss.LinearObjective``), and the distance to the tightest solution found. ``--ill`` scales the
columns of X geometrically from 1 to the given factor (an ill-conditioned problem).

Then it shows the estimator in scikit-learn's machinery: a ``Pipeline`` with ``StandardScaler``,
tuned by ``GridSearchCV`` over ``l2``, on the first 5,000 rows.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import fastloss
from fastloss.datasets import make_logistic_problem
from fastloss.sklearn import LinearClassifier

SOLVERS = ("lbfgs", "newton-cg", "trust-ncg", "newton", "auto")


def make_problem(n: int, d: int, n_classes: int, ill: float, seed: int = 0):
    """Binary: ``make_logistic_problem``. More classes: labels drawn from a softmax model."""
    if n_classes == 2:
        X, y = make_logistic_problem(n, d, seed=seed)
    else:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        logits = X @ (rng.standard_normal((d, n_classes)) * (2.0 / np.sqrt(d)))
        y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)  # a draw from softmax(logits)
    if ill != 1.0:
        X *= np.geomspace(1.0, ill, d)
    return X, y


def timed(fit):
    """Run ``fit()``; return ``(estimator, seconds, whether it warned of non-convergence)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        estimator = fit()
        seconds = time.perf_counter() - t0
    return estimator, seconds, any(issubclass(w.category, ConvergenceWarning) for w in caught)


def flat_coef(estimator) -> np.ndarray:
    """``coef_`` and ``intercept_`` in ``LinearObjective``'s layout (intercept last; multinomial
    intercepts shifted to sum to zero, which leaves the objective unchanged)."""
    coef, intercept = estimator.coef_, estimator.intercept_
    if coef.shape[0] > 1:
        return np.column_stack([coef, intercept - intercept.mean()])
    return np.r_[coef[0], intercept]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200_000, help="samples (default 200,000)")
    p.add_argument("--d", type=int, default=100, help="features (default 100)")
    p.add_argument("--classes", type=int, default=2, help="number of classes (default 2)")
    p.add_argument("--ill", type=float, default=1.0, help="scale of the last column (first: 1; default 1)")
    p.add_argument("--C", type=float, default=1.0, help="inverse regularization, as in LogisticRegression")
    p.add_argument("--tol", type=float, default=1e-6, help="tol of every fit (default 1e-6)")
    p.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: all)")
    p.add_argument("--no-sklearn", action="store_true", help="skip LogisticRegression")
    args = p.parse_args(argv)

    X, y = make_problem(args.n, args.d, args.classes, args.ill)
    l2 = 1.0 / (args.C * args.n)
    print(f"X {X.shape} {X.dtype}, {args.classes} classes, columns scaled 1..{args.ill:g}, C={args.C} "
          f"(l2={l2:.3g}), tol={args.tol}, threads={args.threads or 'all'}")

    # Compile (or load from the cache) outside the timings: a one-off cost.
    t0 = time.perf_counter()
    for solver in SOLVERS[:-1]:
        timed(lambda solver=solver: LinearClassifier(solver=solver, max_iter=2).fit(X[:500], y[:500]))
    print(f"first calls (compile or load from cache): {time.perf_counter() - t0:.2f} s")

    rows = {}
    for solver in SOLVERS:
        clf = LinearClassifier(l2=l2, solver=solver, tol=args.tol, max_iter=10_000, n_threads=args.threads)
        try:
            clf, seconds, warned = timed(lambda clf=clf: clf.fit(X, y))
        except ValueError as exc:  # "newton" past the Hessian's size limit
            print(f"LinearClassifier({solver}): {exc}")
            continue
        rows[f"LinearClassifier({solver})"] = {"estimator": clf, "seconds": seconds, "warned": warned}
    if not args.no_sklearn:
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        for solver in ("lbfgs", "newton-cholesky"):
            lr = LogisticRegression(C=args.C, solver=solver, tol=args.tol, max_iter=10_000)
            with threadpool_limits(args.threads):
                lr, seconds, warned = timed(lambda lr=lr: lr.fit(X, y))
            rows[f"LogisticRegression({solver})"] = {"estimator": lr, "seconds": seconds, "warned": warned}

    loss = "multinomial" if args.classes > 2 else "logistic"
    obj = fastloss.LinearObjective(X, y, loss, l2=l2, n_threads=args.threads)
    for row in rows.values():
        row["coef"] = flat_coef(row["estimator"])
        row["objective"], gradient = obj.loss_gradient(row["coef"])
        row["max_grad"] = float(np.max(np.abs(gradient)))
        row["iterations"] = int(row["estimator"].n_iter_[0])
    best = min(rows.values(), key=lambda row: row["max_grad"])["coef"]
    fastest_sklearn = min((row["seconds"] for name, row in rows.items() if name.startswith("Logistic")),
                          default=None)
    print(f"\n{'fit':<40} {'seconds':>8} {'iter':>6} {'objective':>20} {'max|grad|':>10} {'max|coef-best|':>15}"
          f"{'  speed-up' if fastest_sklearn else ''}")
    for name, row in rows.items():
        row["coef_error"] = float(np.max(np.abs(row["coef"] - best)))
        speedup = f"  {fastest_sklearn / row['seconds']:8.2f}x" if fastest_sklearn else ""
        print(f"{name:<40} {row['seconds']:8.3f} {row['iterations']:6d} {row['objective']:20.15g} "
              f"{row['max_grad']:10.1e} {row['coef_error']:15.1e}{speedup}{'  (warned)' if row['warned'] else ''}")
    if fastest_sklearn:
        print("speed-up: the fastest LogisticRegression's seconds over each fit's")

    # The estimator inside scikit-learn's machinery.
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LinearClassifier(n_threads=args.threads))
    search = GridSearchCV(pipeline, {"linearclassifier__l2": [1e-4, 1e-2, 1.0]}, cv=3)
    search.fit(X[:5000], y[:5000])
    print(f"\nGridSearchCV(StandardScaler + LinearClassifier) on 5,000 rows: best l2 = "
          f"{search.best_params_['linearclassifier__l2']}, cross-validated accuracy {search.best_score_:.3f}")
    return {"rows": rows, "search": search}


if __name__ == "__main__":
    main()
