"""A complete Newton-CG solver written as one ``@njit`` function on ``fastloss.kernels``: no Python
between the passes over X.

    python examples/njit_newton_cg.py                 # 200,000 x 100 float64
    python examples/njit_newton_cg.py --loss modified_huber --n 1000000

Each Newton iteration makes one fused pass for the loss, the gradient and every sample's curvature
(``kernels.linear.loss_gradient`` with a ``curvature_out`` buffer), then solves ``H p = -g`` by
conjugate gradients, one ``kernels.linear.hessp`` pass per CG step reusing that curvature, then
backtracks along ``p`` (Armijo) with loss-only passes. The kernels return unnormalized sums
``sum_i s_i (...)``: the solver divides by the weight sum and adds the L2 term itself, as
``LinearObjective`` does. The kernels do no validation; here the inputs are built to what
``fastloss.kernels`` documents (float64 ``y`` in {0, 1}, C-contiguous float64 ``coef``, ...).

The script checks the result against SciPy's ``trust-ncg`` on ``fastloss.LinearObjective``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit
from scipy.optimize import minimize

import fastloss
from fastloss.datasets import make_logistic_problem
from fastloss.kernels import linear as K
from fastloss.losses import LOSS_IDS


@njit(cache=True)
def _objective(X, y, sw, coef, fit_intercept, loss_id, l2, weight_sum, grad, curvature):
    """Normalized loss (+ gradient into ``grad`` and curvature when they have size > 0)."""
    want_gradient = grad.size > 0
    total = K.loss_gradient(X, y, sw, coef, fit_intercept, loss_id, want_gradient, grad, curvature)
    n_penalized = coef.size - (1 if fit_intercept else 0)
    penalty = 0.0
    for j in range(n_penalized):
        penalty += coef[j] * coef[j]
    if want_gradient:
        for j in range(coef.size):
            grad[j] /= weight_sum
        for j in range(n_penalized):
            grad[j] += l2 * coef[j]
    return total / weight_sum + 0.5 * l2 * penalty


@njit(cache=True)
def _hessp(X, y, sw, coef, fit_intercept, loss_id, l2, weight_sum, curvature, v, out):
    """``out = H v`` from the cached curvature: one pass over X."""
    n_coef = coef.size
    K.hessp(X, y, sw, coef, fit_intercept, loss_id, curvature, v.reshape((1, n_coef)), out.reshape((1, n_coef)))
    n_penalized = n_coef - (1 if fit_intercept else 0)
    for j in range(n_coef):
        out[j] /= weight_sum
    for j in range(n_penalized):
        out[j] += l2 * v[j]


@njit(cache=True)
def newton_cg(X, n_features, y, sw, fit_intercept, loss_id, l2, tol, max_iter, max_cg):
    """Minimize the regularized mean loss; returns ``(coef, n_iter, n_passes)``.

    ``X`` is a dense ``(n, n_features)`` array or a ``fastloss.kernels.CSR(data, indices, indptr, n_features)``
    (see :mod:`fastloss.kernels`); the same function compiles for either.

    Stops when ``max |gradient| <= tol`` (scikit-learn's rule for ``solver="newton-cg"``).
    ``sw`` is empty for unit weights. The CG tolerance is ``min(0.5, sqrt(|g|)) |g|``, the
    classic forcing sequence that makes the outer iteration converge superlinearly.
    """
    n = y.size
    n_coef = n_features + (1 if fit_intercept else 0)
    weight_sum = sw.sum() if sw.size > 0 else float(n)
    coef = np.zeros(n_coef)
    grad = np.empty(n_coef)
    curvature = np.empty(n)
    no_grad = np.empty(0)
    no_curvature = np.empty(0)
    p = np.empty(n_coef)
    r = np.empty(n_coef)
    direction = np.empty(n_coef)
    Hd = np.empty(n_coef)
    trial = np.empty(n_coef)
    n_passes = 0
    n_iter = 0
    f = _objective(X, y, sw, coef, fit_intercept, loss_id, l2, weight_sum, grad, curvature)
    n_passes += 1
    while n_iter < max_iter and np.max(np.abs(grad)) > tol:
        n_iter += 1
        # Inner CG on H p = -g, started at p = 0.
        g_norm = np.sqrt(np.dot(grad, grad))
        cg_tol = min(0.5, np.sqrt(g_norm)) * g_norm
        p[:] = 0.0
        r[:] = -grad
        direction[:] = r
        rs = np.dot(r, r)
        for _ in range(max_cg):
            _hessp(X, y, sw, coef, fit_intercept, loss_id, l2, weight_sum, curvature, direction, Hd)
            n_passes += 1
            dHd = np.dot(direction, Hd)
            if dHd <= 0.0:  # not positive definite along this direction (cannot happen with l2 > 0)
                break
            alpha = rs / dHd
            p += alpha * direction
            r -= alpha * Hd
            rs_new = np.dot(r, r)
            if np.sqrt(rs_new) <= cg_tol:
                break
            direction[:] = r + (rs_new / rs) * direction
            rs = rs_new
        if not np.any(p):
            p[:] = -grad  # steepest descent if CG made no progress
        # Armijo backtracking on the loss alone (loss-only passes: no gradient, no curvature).
        slope = np.dot(grad, p)
        step = 1.0
        while True:
            trial[:] = coef + step * p
            f_trial = _objective(X, y, sw, trial, fit_intercept, loss_id, l2, weight_sum, no_grad, no_curvature)
            n_passes += 1
            if f_trial <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        coef[:] = trial
        f = _objective(X, y, sw, coef, fit_intercept, loss_id, l2, weight_sum, grad, curvature)
        n_passes += 1
    return coef, n_iter, n_passes


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200_000, help="samples (default 200,000)")
    p.add_argument("--d", type=int, default=100, help="features (default 100)")
    p.add_argument("--loss", default="logistic", choices=[k for k in LOSS_IDS if k not in ("hinge", "multinomial")],
                   help="a twice-differentiable binary loss (default logistic)")
    p.add_argument("--l2", type=float, default=1e-3, help="L2 strength (default 1e-3)")
    p.add_argument("--tol", type=float, default=1e-8, help="stop at max |gradient| <= tol (default 1e-8)")
    p.add_argument("--threads", type=int, default=None, help="Numba threads (default: all)")
    args = p.parse_args(argv)

    import numba

    if args.threads:
        numba.set_num_threads(args.threads)
    X, y = make_logistic_problem(args.n, args.d)
    sw = np.empty(0)  # unit weights
    loss_id = LOSS_IDS[args.loss]

    t0 = time.perf_counter()
    fastloss.kernels.prepare(args.loss)  # the loss's per-sample loops, which the kernels call by id
    newton_cg(X[:100], X.shape[1], y[:100], sw, True, loss_id, args.l2, args.tol, 1, 1)
    print(f"compile or load from cache: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    coef, n_iter, n_passes = newton_cg(X, X.shape[1], y, sw, True, loss_id, args.l2, args.tol, 100, 200)
    seconds = time.perf_counter() - t0
    print(f"@njit Newton-CG ({args.loss}, {X.shape[0]} x {X.shape[1]}): {n_iter} iterations, "
          f"{n_passes} passes over X, {seconds:.2f} s ({seconds / n_passes * 1e3:.1f} ms per pass)")

    obj = fastloss.LinearObjective(X, y, args.loss, l2=args.l2)
    t0 = time.perf_counter()
    res = minimize(obj.loss_gradient, np.zeros(obj.n_coef), jac=True, hessp=obj.hessp, method="trust-ncg",
                   options={"gtol": args.tol})
    scipy_seconds = time.perf_counter() - t0
    diff = float(np.max(np.abs(coef - res.x)))
    grad = float(np.max(np.abs(obj.gradient(coef))))
    print(f"SciPy trust-ncg on LinearObjective: {res.nit} iterations, {scipy_seconds:.2f} s; "
          f"max |coef - scipy| = {diff:.1e}, max |gradient| at the @njit solution = {grad:.1e}")
    return {"coef": coef, "scipy_coef": res.x, "n_iter": n_iter, "max_grad": grad, "objective": obj}


if __name__ == "__main__":
    main()
