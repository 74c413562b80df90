"""``LinearClassifier``: a scikit-learn estimator on :class:`fastloss.LinearObjective` (contract section 7).

``fit`` checks its parameters and data, encodes the labels through ``classes_``, builds a
``LinearObjective`` (which holds ``X`` only for the duration of ``fit``) and minimizes it with one of
four solvers:

* ``"lbfgs"``: SciPy's L-BFGS-B on ``loss_gradient`` (one pass over X per function evaluation);
* ``"newton-cg"`` and ``"trust-ncg"``: SciPy's methods of those names. Their function values come
  from ``loss`` (a lighter pass), their gradients from ``gradient_hessp``, whose pass also keeps
  every sample's curvature, so that the many Hessian products at the same point (the inner
  conjugate-gradient steps) are one pass each and never recompute the curvature;
* ``"newton"``: a damped Newton method written here: the full Hessian (``hessian``), a Cholesky
  solve (shifted by a growing multiple of the identity when the Hessian is not positive definite),
  and a backtracking line search with one ``loss_gradient`` pass per trial step, whose gradient is
  the next iteration's.

Every solver stops when the largest absolute entry of the objective's gradient is at most ``tol``
(tested after each iteration, and before the first one, so that a warm start at the minimum makes
none). A fit that stops with a larger gradient warns with ``ConvergenceWarning`` and says why:
``max_iter`` reached, or a SciPy method's own test (L-BFGS-B's relative decrease ``ftol = 64 * eps``,
as scikit-learn's ``LogisticRegression`` sets it; Newton-CG's absolute curvature test).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

import fastloss
from fastloss import _config
from fastloss import losses as _losses

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def validate_data(estimator, X="no_validation", y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)

SOLVERS = ("auto", "lbfgs", "newton-cg", "trust-ncg", "newton")
#: Losses whose decision function is a log-odds (binary) or a vector of logits (multinomial).
PROBABILISTIC_LOSSES = tuple(name for name, spec in _losses.REGISTRY.items() if spec.probabilities)
#: Losses for which "auto" never picks a Newton-type method: non-convex, or with no curvature.
_FIRST_ORDER_LOSSES = tuple(name for name, spec in _losses.REGISTRY.items()
                            if not spec.convex or not spec.has_curvature)
#: "auto" minimizes by Newton's method up to this many coefficients (see ``LinearClassifier``'s notes).
AUTO_NEWTON_MAX_COEF = 128
#: ... first with the Hessian of a sample of the rows (every ``stride``-th row: this many rows per
#: coefficient), which costs a small fraction of the full one ...
AUTO_SAMPLE_ROWS_PER_COEF = 256
#: ... when it is at most this fraction of the rows (else the full Hessian from the start) ...
AUTO_SAMPLE_MAX_FRACTION = 0.25
#: ... and with the full Hessian once a sampled step shrinks the largest gradient entry by less
#: than this factor: near the minimum, where Newton's steps converge fast, a step that does not is
#: the sample's error.
AUTO_SAMPLE_MIN_DECREASE = 0.4
#: Above ``AUTO_NEWTON_MAX_COEF``, "auto" first runs L-BFGS-B for this many iterations: enough on
#: well-conditioned data, where it is the fastest; a problem that needs more goes on with
#: "trust-ncg" from there.
AUTO_LBFGS_ITER = 20
#: Correction pairs L-BFGS-B keeps (SciPy's and ``LogisticRegression``'s default is 10). Its own
#: work per iteration is a few passes over ``n_coef``-vectors per pair, small next to one
#: ``loss_gradient``, and a longer memory saves evaluations (docs/performance.md, "Three times
#: scikit-learn on every fit problem").
LBFGS_MEMORY = 20
#: L-BFGS-B runs on coefficients scaled by the inverse square root of the Hessian's diagonal at
#: the start (convex losses with curvature), each diagonal entry floored at this fraction of the
#: largest one.
LBFGS_DIAGONAL_FLOOR = 1e-10
#: Rows per block when predicting on float32 or sparse X, so that the float64 temporary stays small.
_PREDICT_BLOCK_ROWS = 16384


def _is_bool(x) -> bool:
    return isinstance(x, (bool, np.bool_))


def _check_real(x, name: str, low: float) -> float:
    if _is_bool(x) or not isinstance(x, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {type(x).__name__}")
    if not np.isfinite(x) or x < low:
        raise ValueError(f"`{name}` must be a finite number >= {low}, got {x}")
    return float(x)


def _check_int(x, name: str, low: int) -> int:
    if _is_bool(x) or not isinstance(x, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {type(x).__name__}")
    if x < low:
        raise ValueError(f"`{name}` must be >= {low}, got {x}")
    return int(x)


def _check_bool(x, name: str) -> bool:
    if not _is_bool(x):
        raise TypeError(f"`{name}` must be a bool, got {type(x).__name__}")
    return bool(x)


def _max_abs(g: np.ndarray) -> float:
    return float(np.max(np.abs(g)))


class _Oracle:
    """The objective as the solvers call it.

    Keeps what is known at the last point evaluated: the value, the gradient, and, when the
    gradient came from ``gradient_hessp``, the Hessian product at that point (each product is then
    one pass over X, reusing the curvature). The stopping test, the progress line and a SciPy
    method asking again for the same point read them without another pass.
    """

    def __init__(self, obj):
        self.obj = obj
        self._x = None
        self._value = self._gradient = self._hessp = None

    def _at(self, x) -> bool:
        return self._x is not None and np.array_equal(x, self._x)

    def _move_to(self, x) -> None:
        if not self._at(x):
            self._x = np.array(x, dtype=np.float64)
            self._value = self._gradient = self._hessp = None

    def loss(self, x) -> float:
        self._move_to(x)
        if self._value is None:
            self._value = self.obj.loss(x)
        return self._value

    def loss_gradient(self, x):
        self._move_to(x)
        if self._value is None or self._gradient is None:
            self._value, self._gradient = self.obj.loss_gradient(x)
        return self._value, self._gradient

    def _gradient_hessp(self, x) -> None:
        self._move_to(x)
        self._gradient, self._hessp = self.obj.gradient_hessp(x)

    def gradient(self, x) -> np.ndarray:
        if not self._at(x) or self._gradient is None:
            self._gradient_hessp(x)
        return self._gradient

    def hessp(self, x, v) -> np.ndarray:
        if not self._at(x) or self._hessp is None:
            self._gradient_hessp(x)
        return self._hessp(v)


class _Progress:
    """Counts iterations, prints the progress line when verbose, and says when to stop."""

    def __init__(self, oracle: _Oracle, tol: float, verbose: int, solver: str):
        self.oracle, self.tol, self.verbose, self.solver = oracle, tol, verbose, solver
        self.n_iter = 0

    def step(self, x, value: float) -> bool:
        """Record iteration ``n_iter + 1`` ending at ``x``; return True when the gradient is small enough."""
        self.n_iter += 1
        gradient_max = _max_abs(self.oracle.gradient(x))
        if self.verbose:
            print(f"[LinearClassifier {self.solver}] iteration {self.n_iter:4d}  objective {value:.12g}  "
                  f"max|gradient| {gradient_max:.3e}")
        return gradient_max <= self.tol

    def scipy_callback(self, intermediate_result) -> None:
        if self.step(intermediate_result.x, float(intermediate_result.fun)):
            raise StopIteration


def _blas_threads(solver: str, n_coef: int) -> int | None:
    """BLAS threads while ``solver`` runs: 1, or no limit (None) for ``"newton"`` from
    ``_config.FIT_THREADED_BLAS_MIN_COEF`` coefficients.

    The solvers' own linear algebra works on vectors of ``n_coef`` values (SciPy's L-BFGS-B,
    Newton-CG, trust-ncg) or factors the ``n_coef x n_coef`` Hessian (``"newton"``). After a call
    on several threads, OpenBLAS's threads keep their cores busy-waiting for the next one, and
    fastloss's kernels, called right after, then share those cores: on 1,000,000 x 100 at 2 threads
    every ``loss_gradient`` of an L-BFGS-B fit after the third ran 1.5-1.8x slower
    (docs/performance.md, "BLAS threads during a fit"). Only a large Hessian's factorization is
    worth BLAS's threads."""
    if solver == "newton" and n_coef >= _config.FIT_THREADED_BLAS_MIN_COEF:
        return None
    return 1


def _diagonal_scale(obj, x0, precondition: bool) -> np.ndarray:
    """``D = |diag H(x0)|^(-1/2)``, each entry floored at ``LBFGS_DIAGONAL_FLOOR`` times the largest
    (ones when ``precondition`` is False, or the diagonal is zero): along every coordinate of
    ``u = (x - x0) / D`` the objective's curvature is then about 1."""
    if not precondition:
        return np.ones(x0.size)
    h = np.abs(np.ravel(obj.hessian_diag(x0)))
    top = float(np.max(h))
    if not top > 0:
        return np.ones(x0.size)
    return 1.0 / np.sqrt(np.maximum(h, LBFGS_DIAGONAL_FLOOR * top))


def _solve_scipy(oracle: _Oracle, progress: _Progress, x0, method: str, tol: float, max_iter: int,
                 precondition: bool = False):
    """Minimize with ``scipy.optimize.minimize``; return ``(coef, why it stopped)``.

    L-BFGS-B runs on ``u = (x - x0) / D``, ``D`` of :func:`_diagonal_scale` (``precondition``): its first
    step, a unit step along the steepest descent, is then of the right length for every
    coefficient (unscaled, an intercept of curvature 1/4 next to sparse features of curvature 1e-4
    made it overshoot the one and crawl on the others for several line-search trials). Its own
    gradient test is off (the gradient of ``u`` is not the objective's): the callback stops it at
    ``tol``.
    """
    from scipy.optimize import minimize

    if method == "L-BFGS-B":
        scale = _diagonal_scale(oracle.obj, x0, precondition)

        def coef(u):  # u = 0 is x0 itself, bit for bit (the oracle has its value and gradient)
            return x0 + scale * u

        def loss_gradient(u):
            value, gradient = oracle.loss_gradient(coef(u))
            return value, scale * gradient

        def callback(intermediate_result):
            if progress.step(coef(intermediate_result.x), float(intermediate_result.fun)):
                raise StopIteration

        options = {"maxiter": max_iter, "maxls": 50, "gtol": 0.0, "ftol": 64 * np.finfo(float).eps,
                   "maxcor": LBFGS_MEMORY}
        result = minimize(loss_gradient, np.zeros_like(x0), jac=True, method=method, callback=callback,
                          options=options)
        return coef(result.x), str(result.message)
    options = {"maxiter": max_iter}
    if method == "trust-ncg":
        options["gtol"] = tol  # SciPy's test is on the 2-norm; the callback's max-norm test comes first
    else:
        options["xtol"] = np.finfo(float).eps  # its own test is on the step: leave the stop to the callback
    result = minimize(oracle.loss, x0, jac=oracle.gradient, hessp=oracle.hessp, method=method,
                      callback=progress.scipy_callback, options=options)
    return result.x, str(result.message)


def _newton_direction(H: np.ndarray, gradient: np.ndarray, null_columns, n_rows: int) -> np.ndarray:
    """Solve ``H p = -gradient`` by Cholesky.

    ``null_columns`` are the columns of the multinomial coefficient matrix ``(n_rows, p)`` along
    which the objective is constant (the intercepts; every column without L2): adding the same
    number to a column in every class changes no probability. ``H`` is singular along those
    directions and the gradient has no component along them, so they are added to ``H`` with a
    positive weight: the solution is then the step orthogonal to them. If ``H`` is still not
    positive definite (a non-convex loss, or a loss without curvature and no L2), the identity is
    added with a growing weight until it is.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    scale = max(float(np.max(np.abs(np.diag(H)))), 1e-12)  # a zero Hessian: hinge without L2
    if null_columns:
        H4 = H.reshape(n_rows, -1, n_rows, H.shape[0] // n_rows)
        for j in null_columns:
            H4[:, j, :, j] += scale / n_rows
    shift = 0.0
    while True:
        try:
            factor = cho_factor(H + shift * np.eye(H.shape[0]) if shift else H, check_finite=False)
            return cho_solve(factor, -gradient, check_finite=False)
        except LinAlgError:
            shift = 1e-10 * scale if shift == 0.0 else 10.0 * shift


def _solve_newton(oracle: _Oracle, progress: _Progress, x0, null_columns, n_rows: int, max_iter: int,
                  hessian=None):
    """Damped Newton with an Armijo backtracking line search; return ``(coef, why it stopped)``.

    ``hessian(x)`` is the objective's (the default), or that of a sample of its rows: the sampled
    stage of ``"auto"``, which stops as soon as a step shrinks the largest gradient entry by less
    than ``AUTO_SAMPLE_MIN_DECREASE`` (the full Hessian then goes on from there)."""
    sampled = hessian is not None
    hessian = oracle.obj.hessian if hessian is None else hessian
    x = x0.copy()
    value, gradient = oracle.loss_gradient(x)
    rounding = 16 * np.finfo(float).eps
    while progress.n_iter < max_iter:
        direction = _newton_direction(hessian(x), gradient, null_columns, n_rows)
        slope = float(gradient @ direction)
        if not slope < 0.0:  # only by rounding, the matrix solved being positive definite
            return x, "the Newton direction is not a descent direction"
        step = 1.0
        while True:
            trial = x + step * direction
            trial_value, trial_gradient = oracle.loss_gradient(trial)
            if trial_value <= value + 1e-4 * step * slope:
                break
            # Near the minimum the decrease is below the rounding of the objective: take the step
            # if it does not raise the value beyond rounding and shrinks the gradient.
            if (trial_value - value <= rounding * abs(value)
                    and _max_abs(trial_gradient) < _max_abs(gradient)):
                break
            step *= 0.5
            if step < 1e-12:
                return x, "the line search found no decrease along the Newton direction"
        decrease = _max_abs(trial_gradient) / max(_max_abs(gradient), np.finfo(float).tiny)
        x, value, gradient = trial, trial_value, trial_gradient
        if progress.step(x, value):
            return x, "the gradient is below tol"
        if sampled and decrease > AUTO_SAMPLE_MIN_DECREASE:
            return x, "the sampled Hessian's step shrank the gradient too little"
    return x, "the iteration limit was reached"


def _sampled_hessian(obj, X, y, sample_weight, n_threads):
    """``hessian(x)`` of the objective ``obj`` restricted to every ``stride``-th row (a copy of
    those rows, ``AUTO_SAMPLE_ROWS_PER_COEF`` per coefficient), or None when the sample would be
    more than ``AUTO_SAMPLE_MAX_FRACTION`` of the rows. Both objectives are means over their
    rows, so the sample's Hessian estimates the full one."""
    n = X.shape[0]
    stride = n // (AUTO_SAMPLE_ROWS_PER_COEF * obj.n_coef)
    if stride < 1 / AUTO_SAMPLE_MAX_FRACTION:
        return None
    rows = slice(0, n, stride)
    Xs = X[rows] if sp.issparse(X) else np.ascontiguousarray(X[rows])
    sws = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[rows]
    if sws is not None and not np.any(sws > 0):
        return None
    multinomial = obj.loss_name == "multinomial"
    sample = fastloss.LinearObjective(Xs, y[rows], obj.loss_name, l2=obj.l2, fit_intercept=obj.fit_intercept,
                                      sample_weight=sws, n_classes=obj.n_classes if multinomial else None,
                                      n_threads=n_threads)
    return sample.hessian


class LinearClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier fit by minimizing a ``fastloss`` objective.

    Minimizes ``(1 / sum_i s_i) * sum_i s_i * loss(y_i, x_i . w + b) + (l2 / 2) * ||w||^2`` (the
    objective of :class:`fastloss.LinearObjective`); scikit-learn's ``LogisticRegression(C=C)`` is
    ``l2 = 1 / (C * sum_i s_i)``.

    Parameters
    ----------
    loss : str, default "logistic"
        A name of ``fastloss.LOSSES`` (or ``"log_loss"``). With two classes, a binary loss is fit
        on the labels ``classes_[1]`` (positive) vs ``classes_[0]``. With more classes,
        ``"logistic"`` and ``"multinomial"`` fit the multinomial loss; the other losses are binary
        only and raise ValueError. ``"multinomial"`` with two classes fits the multinomial loss
        with K = 2 (``coef_`` of shape (2, d), as scikit-learn's multinomial models): its
        decision function ``z_1 - z_0`` is the binary logistic model with half the ``l2``.
    l2 : float >= 0, default 1e-4
        L2 penalty strength (the intercept is not penalized).
    fit_intercept : bool, default True
    solver : {"auto", "lbfgs", "newton-cg", "trust-ncg", "newton"}, default "auto"
        ``"lbfgs"`` is SciPy's L-BFGS-B on the coefficients scaled by the inverse square root of
        the Hessian's diagonal at the start (convex losses with curvature), keeping 20 correction
        pairs. ``"newton"`` builds the full Hessian and needs ``n_coef <= 20,000``. ``"auto"`` runs
        ``"lbfgs"`` alone for ``hinge`` (no curvature) and the non-convex ``savage`` and ``tangent``.
        Otherwise, up to ``AUTO_NEWTON_MAX_COEF`` (128) coefficients, intercepts included, it runs
        Newton's method on the Hessian of a sample of the rows (every ``stride``-th row,
        ``AUTO_SAMPLE_ROWS_PER_COEF`` = 256 per coefficient; the gradient and the line search use
        every row), and the full Hessian from the first step that shrinks the gradient by less than
        ``AUTO_SAMPLE_MIN_DECREASE`` (or from the start when the sample would be more than a
        quarter of the rows). Above 128 coefficients, ``"lbfgs"`` for up to ``AUTO_LBFGS_ITER``
        (20) iterations, then ``"trust-ncg"`` from where it stopped (see ``docs/api.md``).
    tol : float >= 0, default 1e-6
        Stop when the largest absolute entry of the objective's gradient is at most ``tol``; stopping
        with a larger one (``max_iter``, or a SciPy method's own test) warns with
        ``sklearn.exceptions.ConvergenceWarning``.
    max_iter : int >= 1, default 1000
        Most solver iterations.
    warm_start : bool, default False
        Start from the previous fit's ``coef_`` and ``intercept_`` when their shapes fit.
    n_threads : int or None, default None
        Threads for the kernels (``None``: all). The result does not depend on it. While the
        solver runs, BLAS is limited to one thread (``threadpoolctl``; except for the Cholesky
        factorization of ``"newton"`` from ``_config.FIT_THREADED_BLAS_MIN_COEF`` coefficients):
        OpenBLAS's idle threads would otherwise busy-wait on the kernels' cores.
    verbose : int, default 0
        When > 0, print the iteration, objective value and largest absolute gradient entry at
        every iteration.

    Attributes
    ----------
    classes_ : ndarray (K,)
    coef_ : ndarray (1, d) for a binary loss, (K, d) for the multinomial loss
    intercept_ : ndarray (1,) or (K,) (zeros without ``fit_intercept``; for the multinomial loss
        the intercepts sum to zero, as the objective does not change when they all shift)
    n_iter_ : ndarray (1,) of int32, the solver's iterations
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when X has string column names
    """

    def __init__(self, loss="logistic", *, l2=1e-4, fit_intercept=True, solver="auto", tol=1e-6,
                 max_iter=1000, warm_start=False, n_threads=None, verbose=0):
        self.loss = loss
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose

    # --- parameters -------------------------------------------------------------------------------
    def _loss_name(self) -> str:
        return fastloss.get_loss(self.loss).name

    def _check_params(self) -> str:
        """Check every parameter (``n_threads`` is checked by ``LinearObjective``); return the loss name."""
        loss = self._loss_name()
        _check_real(self.l2, "l2", 0.0)
        _check_bool(self.fit_intercept, "fit_intercept")
        if not isinstance(self.solver, str) or self.solver not in SOLVERS:
            raise ValueError(f"`solver` must be one of {', '.join(map(repr, SOLVERS))}; got {self.solver!r}")
        _check_real(self.tol, "tol", 0.0)
        _check_int(self.max_iter, "max_iter", 1)
        _check_bool(self.warm_start, "warm_start")
        if not _is_bool(self.verbose):
            _check_int(self.verbose, "verbose", 0)
        return loss

    def _has_proba(self) -> bool:
        try:
            return self._loss_name() in PROBABILISTIC_LOSSES
        except ValueError:
            return False

    def _stages(self, loss: str, n_coef: int) -> list[tuple[str, int]]:
        """``(solver, most iterations)`` to run one after the other, each from where the last
        stopped, until the gradient is within ``tol``; ``"sampled-newton"`` is ``"newton"`` on a
        sampled Hessian (dropped by ``fit`` when the data is too short to sample)."""
        if self.solver != "auto":
            return [(self.solver, self.max_iter)]
        if loss in _FIRST_ORDER_LOSSES:
            return [("lbfgs", self.max_iter)]
        if n_coef <= AUTO_NEWTON_MAX_COEF:
            return [("sampled-newton", self.max_iter), ("newton", self.max_iter)]
        first = min(AUTO_LBFGS_ITER, self.max_iter)
        return [("lbfgs", first), ("trust-ncg", self.max_iter - first)] if self.max_iter > first else [("lbfgs", first)]

    # --- fit --------------------------------------------------------------------------------------
    def _initial_coef(self, obj) -> np.ndarray:
        """Zeros, or the previous fit's coefficients in the objective's layout (``warm_start``)."""
        x0 = np.zeros(obj.coef_shape)
        n_rows = obj.coef_shape[0] if len(obj.coef_shape) == 2 else 1
        previous = getattr(self, "coef_", None)
        if not self.warm_start or previous is None or previous.shape != (n_rows, obj.n_features):
            return x0.ravel()
        coef = x0.reshape(n_rows, -1)
        coef[:, :obj.n_features] = previous
        if obj.fit_intercept:
            coef[:, -1] = self.intercept_
        return x0.ravel()

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : ndarray or scipy.sparse matrix (n, d)
            float32 and float64 arrays and CSR matrices are used in place; other input is
            converted once (other dtypes to float64, CSC/COO to CSR).
        y : array-like (n,), labels of any type
        sample_weight : array-like (n,), optional
            Non-negative weights with a positive sum.

        Returns
        -------
        self
        """
        loss = self._check_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        n_classes = classes.size
        if n_classes < 2:
            raise ValueError(f"LinearClassifier needs samples of at least 2 classes in y; got only one class, "
                             f"{classes[0]!s}")
        if n_classes > 2 and loss not in PROBABILISTIC_LOSSES:
            raise ValueError(f"Only binary classification is supported by loss={self.loss!r}, and y has {n_classes} "
                             f"classes; use loss='logistic' or 'multinomial' for more than two classes")
        multinomial = loss == "multinomial" or n_classes > 2
        obj = fastloss.LinearObjective(X, y_index, "multinomial" if multinomial else loss, l2=self.l2,
                                       fit_intercept=self.fit_intercept, sample_weight=sample_weight,
                                       n_classes=n_classes if multinomial else None, n_threads=self.n_threads)
        stages = self._stages(loss, obj.n_coef)
        if self.solver == "newton":
            from fastloss._config import HESSIAN_MAX_COEF

            if obj.n_coef > HESSIAN_MAX_COEF:
                raise ValueError(f"solver='newton' builds the full Hessian and needs at most {HESSIAN_MAX_COEF} "
                                 f"coefficients; this problem has {obj.n_coef}: use 'lbfgs', 'newton-cg' or "
                                 f"'trust-ncg'")
        self.classes_ = classes  # set after the checks: warm start reads the previous coef_ below
        x0 = self._initial_coef(obj)

        oracle = _Oracle(obj)
        progress = _Progress(oracle, self.tol, self.verbose, stages[0][0])
        n_rows = obj.coef_shape[0] if multinomial else 1
        coef, why = x0, ""
        for solver, max_iter in stages:
            if _max_abs(oracle.loss_gradient(coef)[1]) <= self.tol:  # converged (or a warm start at the minimum)
                break
            hessian = None
            if solver == "sampled-newton":
                hessian = _sampled_hessian(obj, X, y_index, sample_weight, self.n_threads)
                if hessian is None:
                    continue
            progress.solver = solver
            # BLAS on one thread while the solver runs (see _blas_threads).
            with threadpool_limits(_blas_threads(solver, obj.n_coef), user_api="blas"):
                if solver in ("newton", "sampled-newton"):
                    free = range(obj.coef_shape[1]) if self.l2 == 0 else [obj.n_features] if self.fit_intercept else []
                    null_columns = list(free) if multinomial else []
                    coef, why = _solve_newton(oracle, progress, coef, null_columns, n_rows, max_iter, hessian)
                else:
                    method = {"lbfgs": "L-BFGS-B", "newton-cg": "Newton-CG", "trust-ncg": "trust-ncg"}[solver]
                    coef, why = _solve_scipy(oracle, progress, coef, method, self.tol, max_iter,
                                             precondition=loss not in _FIRST_ORDER_LOSSES)
        solver = progress.solver
        gradient_max = _max_abs(oracle.gradient(coef))
        if gradient_max > self.tol:
            warnings.warn(f"LinearClassifier (solver={solver!r}) did not converge: it stopped after "
                          f"{progress.n_iter} iterations with max|gradient| = {gradient_max:.3g} > tol = {self.tol} "
                          f"({why}). Raise max_iter, scale the data, or try another solver.",
                          ConvergenceWarning, stacklevel=2)

        coef = np.asarray(coef, dtype=np.float64).reshape(n_rows, -1)
        d = obj.n_features
        self.coef_ = np.ascontiguousarray(coef[:, :d])
        if self.fit_intercept:
            intercept = coef[:, d].copy()
            self.intercept_ = intercept - intercept.mean() if multinomial else intercept
        else:
            self.intercept_ = np.zeros(n_rows)
        self.n_iter_ = np.array([progress.n_iter], dtype=np.int32)
        return self

    # --- predict ----------------------------------------------------------------------------------
    def _scores(self, X) -> np.ndarray:
        """Raw scores ``X coef_.T + intercept_``, (n, 1) or (n, K), in float64."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        W = self.coef_.T
        if isinstance(X, np.ndarray) and X.dtype == np.float64:
            return X @ W + self.intercept_
        # float32 or sparse X: NumPy/SciPy would convert all of X to float64 for the product.
        out = np.empty((X.shape[0], W.shape[1]))
        for start in range(0, X.shape[0], _PREDICT_BLOCK_ROWS):
            block = X[start:start + _PREDICT_BLOCK_ROWS]
            out[start:start + block.shape[0]] = block.astype(np.float64) @ W
        return out + self.intercept_

    @staticmethod
    def _decision(scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] == 1:
            return scores[:, 0]
        if scores.shape[1] == 2:  # the multinomial loss on two classes: the log-odds of classes_[1]
            return scores[:, 1] - scores[:, 0]
        return scores

    def decision_function(self, X) -> np.ndarray:
        """Decision values: (n,) for two classes (positive means ``classes_[1]``), (n, K) for more."""
        return self._decision(self._scores(X))

    def predict(self, X) -> np.ndarray:
        """The class of each sample: the sign of the decision (two classes) or its largest score."""
        decision = self.decision_function(X)
        index = (decision > 0).astype(np.intp) if decision.ndim == 1 else np.argmax(decision, axis=1)
        return self.classes_[index]

    @available_if(_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, K), columns in the order of ``classes_``: the sigmoid of the
        decision (two classes) or the softmax of the scores (``logistic`` and ``multinomial`` only)."""
        from scipy.special import expit, softmax

        scores = self._scores(X)
        if scores.shape[1] > 2:
            return softmax(scores, axis=1)
        decision = self._decision(scores)
        return np.column_stack([expit(-decision), expit(decision)])

    @available_if(_has_proba)
    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of ``predict_proba``, computed stably (no ``log(0)`` for large scores)."""
        from scipy.special import log_expit, log_softmax

        scores = self._scores(X)
        if scores.shape[1] > 2:
            return log_softmax(scores, axis=1)
        decision = self._decision(scores)
        return np.column_stack([log_expit(-decision), log_expit(decision)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = self._has_proba()
        return tags
