"""``LinearObjective``: the objective of a linear classifier, for optimizers (contract section 3).

A convenience wrapper around the compiled kernels of :mod:`fastloss.kernels.linear` (binary
losses) and :mod:`fastloss.kernels.multinomial`: every input is checked and converted once, at
construction or at the start of a call (:mod:`fastloss._validation`), then a kernel runs with
no further checks. The kernels return unnormalized sums; this layer divides by the total sample
weight and adds the L2 term.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _normalize as norm
from . import _run as run
from . import _validation as val
from ._parallel import check_n_threads
from .kernels import gradient_mode
from .losses import LOSS_IDS


class LinearObjective:
    """Loss, gradient and Hessian products of a linear classifier's regularized objective.

    ``f(coef) = (1 / sum_i s_i) * sum_i s_i * loss(y_i, x_i . w + b) + (l2 / 2) * ||w||^2``

    Parameters
    ----------
    X : ndarray (n, d) float32/float64 in C or F order, or scipy.sparse matrix/array
        Used in place when it is a float32/float64 C- or F-contiguous array or a CSR matrix with
        float data (read-only arrays and memory maps work). Other real dtypes are converted to
        float64, strided arrays to C order, CSC/COO to CSR, once, here.
    y : array-like (n,)
        Binary losses: labels in {0, 1} or {-1, +1} (``logistic`` also takes probabilities in
        [0, 1]). ``multinomial``: class indices 0..K-1.
    loss : str
        A name of ``fastloss.LOSSES`` (or the alias ``"log_loss"``).
    l2 : float >= 0
        L2 penalty strength (the intercept is not penalized).
    fit_intercept : bool
        Whether ``coef`` carries an intercept (last entry; last column for multinomial).
    sample_weight : array-like (n,), optional
        Non-negative weights with a positive sum.
    n_classes : int, optional
        ``multinomial`` only: number of classes K (default ``max(y) + 1``).
    n_threads : int, optional
        Threads used by the kernels (default: all Numba threads). Results do not depend on it.
    """

    def __init__(self, X, y, loss="logistic", *, l2=0.0, fit_intercept=True, sample_weight=None,
                 n_classes=None, n_threads=None):
        self.loss_name, self._loss_id = val.check_loss(loss)
        self.l2 = val.check_scalar(l2, "l2", low=0.0)
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise TypeError(f"`fit_intercept` must be a bool, got {type(fit_intercept).__name__}")
        self.fit_intercept = bool(fit_intercept)
        self._n_threads = check_n_threads(n_threads)
        self._X, n, d, self.dtype = val.check_X(X)
        self._multinomial = self.loss_name == "multinomial"
        if self._multinomial:
            self._y, K = val.check_class_labels(y, n, n_classes, name="y")
        else:
            if n_classes is not None:
                raise ValueError(f"`n_classes` applies only to loss='multinomial', not {self.loss_name!r}")
            self._y, K = val.check_binary_labels(y, n, self.loss_name, name="y"), 1
        self._sw = val.check_sample_weight(sample_weight, n)
        self._weight_sum = float(self._sw.sum()) if self._sw.size else float(n)
        self._n, self._d, self._K = n, d, K
        p = d + int(self.fit_intercept)
        self._coef_shape = (K, p) if self._multinomial else (p,)
        self._mask = norm.penalty_mask(self._coef_shape, self.fit_intercept)

    # --- properties -----------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def n_features(self) -> int:
        return self._d

    @property
    def n_classes(self) -> int:
        return self._K

    @property
    def coef_shape(self) -> tuple:
        return self._coef_shape

    @property
    def n_coef(self) -> int:
        return int(np.prod(self._coef_shape))

    def __repr__(self) -> str:
        return (f"LinearObjective(n_samples={self._n}, n_features={self._d}, loss={self.loss_name!r}, "
                f"n_classes={self._K}, l2={self.l2}, fit_intercept={self.fit_intercept}, "
                f"dtype={np.dtype(self.dtype).name})")

    # --- helpers --------------------------------------------------------------------------------
    def _kernels(self, mode: str | None):
        """The kernel module, with a binary loss's loop for ``mode`` prepared (see kernels)."""
        from .kernels import objective_kernels

        return objective_kernels(self.loss_name, mode)

    def _id(self):
        """The loss argument of the kernels: loss id (binary) or number of classes (multinomial)."""
        return self._K if self._multinomial else self._loss_id

    def _args(self, c: np.ndarray) -> tuple:
        return (self._X, self._y, self._sw, c, self.fit_intercept, self._id())

    def _loss_grad(self, c: np.ndarray, want_gradient: bool, curvature: np.ndarray):
        kernels = self._kernels(gradient_mode(want_gradient, curvature.size > 0))
        total, grad = run.loss_gradient(kernels, *self._args(c), want_gradient, curvature, self._n_threads)
        return norm.finish_loss_gradient(total, grad, c, self._weight_sum, self.l2, self._mask, want_gradient)

    def _curvature_buffer(self) -> np.ndarray:
        return np.empty(self._n * self._K if self._multinomial else self._n)

    def _hessp_flat(self, c: np.ndarray, curvature: np.ndarray, V: np.ndarray) -> np.ndarray:
        kernels = self._kernels(None if curvature.size else "hessian")
        out = run.hessp(kernels, *self._args(c), curvature, V, self._n_threads)
        return norm.finish_hessp(out, V, self._weight_sum, self.l2, self._mask)

    # --- public methods -------------------------------------------------------------------------
    def loss(self, coef) -> float:
        """Objective value at ``coef`` (one pass over X)."""
        c = val.check_coef(coef, self._coef_shape)
        return float(self._loss_grad(c, False, np.empty(0))[0])

    def gradient(self, coef) -> np.ndarray:
        """Gradient at ``coef``, shaped like ``coef`` (one pass over X)."""
        return self.loss_gradient(coef)[1]

    def loss_gradient(self, coef) -> tuple[float, np.ndarray]:
        """``(loss, gradient)`` at ``coef`` in one pass over X; the gradient is shaped like ``coef``."""
        c = val.check_coef(coef, self._coef_shape)
        loss, grad = self._loss_grad(c, True, np.empty(0))
        return float(loss), grad.reshape(np.shape(coef))

    def hessp(self, coef, v) -> np.ndarray:
        """Hessian at ``coef`` times ``v`` (one direction shaped like coef, or (n_coef, k)); one pass."""
        c = val.check_coef(coef, self._coef_shape)
        V, single = val.check_directions(v, self._coef_shape)
        out = self._hessp_flat(c, np.empty(0), V)
        return norm.directions_out(out, single, np.shape(v) if single else None)

    def gradient_hessp(self, coef) -> tuple[np.ndarray, Callable]:
        """``(gradient, hessp)``: one pass computes the gradient and keeps each sample's curvature;
        each call of the returned ``hessp(v)`` is then one pass over X. ``coef`` is copied, so
        changing it afterwards does not change ``hessp``."""
        c = val.check_coef(coef, self._coef_shape)
        curvature = self._curvature_buffer()
        _, grad = self._loss_grad(c, True, curvature)

        def hessp(v):
            V, single = val.check_directions(v, self._coef_shape)
            out = self._hessp_flat(c, curvature, V)
            return norm.directions_out(out, single, np.shape(v) if single else None)

        return grad.reshape(np.shape(coef)), hessp

    def hessian_diag(self, coef) -> np.ndarray:
        """Diagonal of the Hessian at ``coef``, shaped like ``coef`` (one pass over X)."""
        c = val.check_coef(coef, self._coef_shape)
        out = run.hessian_diag(self._kernels("hessian"), *self._args(c), self._n_threads)
        return norm.finish_hessian_diag(out, self._weight_sum, self.l2, self._mask).reshape(np.shape(coef))

    def hessian(self, coef) -> np.ndarray:
        """Full Hessian ``(n_coef, n_coef)`` at ``coef`` (C-order flattening of coef).

        Raises ValueError when ``n_coef`` exceeds ``fastloss._config.HESSIAN_MAX_COEF`` (20,000)."""
        val.check_hessian_size(self.n_coef)
        c = val.check_coef(coef, self._coef_shape)
        H = run.hessian(self._kernels("value_gradient_hessian"), *self._args(c), self._n_threads)
        return norm.finish_hessian(H, self._weight_sum, self.l2, self._mask)


__all__ = ["LOSS_IDS", "LinearObjective"]
