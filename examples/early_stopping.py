"""A custom optimization loop with early stopping on a held-out ``fastloss.log_loss``.

    python examples/early_stopping.py
    python examples/early_stopping.py --n 200000 --d 5000 --every 5

An unregularized logistic regression with nearly as many features as training samples overfits:
run to convergence, its training loss goes to zero and its held-out loss grows. Here Nesterov's
accelerated gradient descent runs on ``LinearObjective.loss_gradient`` (one fused pass per step),
and every ``--every`` steps the held-out log loss of the current model is measured with
``fastloss.log_loss``; the loop keeps the best coefficients and stops after ``--patience``
evaluations without improvement.

The step is ``1 / L`` with ``L`` the largest eigenvalue of the Hessian at ``coef = 0``, found by a
power iteration on ``hessp``: the logistic loss has its largest curvature (1/4) at a zero score,
so that Hessian bounds every other one and ``1 / L`` is a safe step everywhere.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import expit

import fastloss
from fastloss.datasets import make_logistic_problem


def largest_curvature(obj, n_iter: int = 50, seed: int = 0) -> float:
    """Largest eigenvalue of the Hessian at zero, by power iteration on ``obj.hessp``."""
    zero = np.zeros(obj.n_coef)
    v = np.random.default_rng(seed).standard_normal(obj.n_coef)
    eigenvalue = 0.0
    for _ in range(n_iter):
        Hv = obj.hessp(zero, v)
        eigenvalue = float(np.linalg.norm(Hv))
        v = Hv / eigenvalue
    return eigenvalue


def predict_proba(X, coef):
    """Probability of class 1 under the model ``coef`` (intercept last)."""
    return expit(X @ coef[:-1] + coef[-1])


def fit_early_stopping(X_train, y_train, X_val, y_val, *, max_iter=5000, every=1, patience=5,
                       threads=None):
    """Accelerated gradient descent with early stopping; returns a dict with the best coefficients
    and the history of held-out losses ``[(iteration, log_loss), ...]``."""
    obj = fastloss.LinearObjective(X_train, y_train, "logistic", n_threads=threads)
    step = 1.0 / (1.01 * largest_curvature(obj))
    coef = previous = np.zeros(obj.n_coef)
    best_loss, best_coef, best_iter = np.inf, coef, 0
    history = []
    waited = 0
    it = 0
    for it in range(1, max_iter + 1):
        look_ahead = coef + (it - 1) / (it + 2) * (coef - previous)
        _, grad = obj.loss_gradient(look_ahead)
        previous, coef = coef, look_ahead - step * grad
        if it % every:
            continue
        val_loss = fastloss.log_loss(y_val, predict_proba(X_val, coef))
        history.append((it, val_loss))
        if val_loss < best_loss:
            best_loss, best_coef, best_iter, waited = val_loss, coef, it, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return {"coef": best_coef, "best_iter": best_iter, "best_val_loss": best_loss, "stopped_at": it,
            "history": history, "train_objective": obj}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=4000, help="samples, 3/4 for training (default 4,000)")
    p.add_argument("--d", type=int, default=500, help="features (default 500)")
    p.add_argument("--every", type=int, default=1, help="steps between held-out evaluations (default 1)")
    p.add_argument("--patience", type=int, default=5, help="evaluations without improvement (default 5)")
    p.add_argument("--max-iter", type=int, default=5000)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)

    X, y = make_logistic_problem(args.n, args.d, seed=3)
    n_train = 3 * args.n // 4
    X_train, y_train, X_val, y_val = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    t0 = time.perf_counter()
    out = fit_early_stopping(X_train, y_train, X_val, y_val, max_iter=args.max_iter, every=args.every,
                             patience=args.patience, threads=args.threads)
    seconds = time.perf_counter() - t0
    for it, loss in out["history"][:: max(1, len(out["history"]) // 10)]:
        print(f"  step {it:5d}  held-out log_loss {loss:.5f}")
    train_loss = fastloss.log_loss(y_train, predict_proba(X_train, out["coef"]))
    print(f"stopped at step {out['stopped_at']} ({seconds:.2f} s); best held-out log_loss "
          f"{out['best_val_loss']:.5f} at step {out['best_iter']} (training log_loss there {train_loss:.5f})")
    return out


if __name__ == "__main__":
    main()
