"""``LinearObjective``: the objective of a linear classifier, for optimizers (contract section 3).

One objective, two executors. :class:`Objective` holds everything every ``LinearObjective``
shares: the options and their checks, the properties, and the seven methods, each written once
as "check the coefficients, fold the chunks' partial sums (:mod:`fastloss._partials`) in chunk
order, normalize (:mod:`fastloss._normalize`)". An executor says where the chunks live:

* :class:`LinearObjective` (this module): ``X`` is checked and converted once, at construction
  (:mod:`fastloss._validation`), into one chunk in this process, whose kernels run on fastloss's
  thread pool.
* :class:`fastloss.dask.LinearObjective`: one chunk per row chunk of a ``dask.array``, on the
  workers.

An executor has ``fold(func, kwargs, combine, curvature=None, stream=False)``: the result of
``func(state_i[, curvature_i], **kwargs)`` for every chunk ``i``, combined in chunk order; and
``keep(func, kwargs)``: per-chunk results left where the chunks are, as a callable that returns
them (the curvature of :meth:`Objective.gradient_hessp`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _normalize as norm
from . import _partials as chunks
from . import _validation as val
from ._parallel import check_n_threads
from .losses import LOSS_IDS


class Objective:
    """The methods and properties of every ``LinearObjective`` (see the module docstring)."""

    _executor = None  # set by the subclass's constructor

    def _check_options(self, loss, l2, fit_intercept, n_classes) -> None:
        self.loss_name, self._loss_id = val.check_loss(loss)
        self.l2 = val.check_scalar(l2, "l2", low=0.0)
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise TypeError(f"`fit_intercept` must be a bool, got {type(fit_intercept).__name__}")
        self.fit_intercept = bool(fit_intercept)
        self._multinomial = self.loss_name == "multinomial"
        if n_classes is not None and not self._multinomial:
            raise ValueError(f"`n_classes` applies only to loss='multinomial', not {self.loss_name!r}")

    def _set_shape(self, n: int, d: int, K: int, weight_sum: float, dtype, n_threads) -> None:
        if not weight_sum > 0:
            raise ValueError("`sample_weight` sums to zero: at least one sample needs a positive weight")
        self._n, self._d, self._K, self.dtype, self._weight_sum = n, d, K, dtype, weight_sum
        p = d + int(self.fit_intercept)
        self._coef_shape = (K, p) if self._multinomial else (p,)
        self._mask = norm.penalty_mask(self._coef_shape, self.fit_intercept)
        self._spec = chunks.KernelSpec(self._multinomial, K if self._multinomial else self._loss_id,
                                       self.fit_intercept, n_threads)

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

    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        return (f"{self._repr_name}(n_samples={self._n}, n_features={self._d}, loss={self.loss_name!r}, "
                f"n_classes={self._K}, l2={self.l2}, fit_intercept={self.fit_intercept}, "
                f"dtype={np.dtype(self.dtype).name}{self._repr_extra()})")

    # --- the chunks' partial sums, normalized -------------------------------------------------------
    def _loss_grad(self, c: np.ndarray, want_gradient: bool):
        total, grad = self._executor.fold(chunks.loss_gradient, dict(coef=c, spec=self._spec,
                                                                     want_gradient=want_gradient),
                                          chunks.add_loss_grad)
        return norm.finish_loss_gradient(total, grad, c, self._weight_sum, self.l2, self._mask, want_gradient)

    def _hessp(self, c: np.ndarray, v, curvature: Callable | None):
        V, single = val.check_directions(v, self._coef_shape)
        kwargs = dict(coef=c, spec=self._spec, V=V)
        if curvature is None:
            out = self._executor.fold(chunks.hessp, kwargs, chunks.add)
        else:
            out = self._executor.fold(chunks.hessp_cached, kwargs, chunks.add, curvature=curvature)
        out = norm.finish_hessp(out, V, self._weight_sum, self.l2, self._mask)
        return norm.directions_out(out, single, np.shape(v) if single else None)

    # --- public methods -------------------------------------------------------------------------
    def loss(self, coef) -> float:
        """Objective value at ``coef`` (one pass over X)."""
        c = val.check_coef(coef, self._coef_shape)
        return float(self._loss_grad(c, False)[0])

    def gradient(self, coef) -> np.ndarray:
        """Gradient at ``coef``, shaped like ``coef`` (one pass over X)."""
        return self.loss_gradient(coef)[1]

    def loss_gradient(self, coef) -> tuple[float, np.ndarray]:
        """``(loss, gradient)`` at ``coef`` in one pass over X; the gradient is shaped like ``coef``."""
        c = val.check_coef(coef, self._coef_shape)
        loss, grad = self._loss_grad(c, True)
        return float(loss), grad.reshape(np.shape(coef))

    def hessp(self, coef, v) -> np.ndarray:
        """Hessian at ``coef`` times ``v`` (one direction shaped like coef, or (n_coef, k)); one pass."""
        c = val.check_coef(coef, self._coef_shape)
        return self._hessp(c, v, None)

    def gradient_hessp(self, coef) -> tuple[np.ndarray, Callable]:
        """``(gradient, hessp)``: one pass computes the gradient and keeps each sample's curvature
        (with its chunk); each call of the returned ``hessp(v)`` is then one pass over X. ``coef``
        is copied, so changing it afterwards does not change ``hessp``."""
        c = val.check_coef(coef, self._coef_shape)
        curvature = self._executor.keep(chunks.curvature, dict(coef=c, spec=self._spec))
        total, grad = self._executor.fold(chunks.curvature_partials, {}, chunks.add_loss_grad, curvature=curvature)
        _, grad = norm.finish_loss_gradient(total, grad, c, self._weight_sum, self.l2, self._mask, True)

        def hessp(v):
            return self._hessp(c, v, curvature)

        return grad.reshape(np.shape(coef)), hessp

    def hessian_diag(self, coef) -> np.ndarray:
        """Diagonal of the Hessian at ``coef``, shaped like ``coef`` (one pass over X)."""
        c = val.check_coef(coef, self._coef_shape)
        out = self._executor.fold(chunks.hessian_diag, dict(coef=c, spec=self._spec), chunks.add)
        return norm.finish_hessian_diag(out, self._weight_sum, self.l2, self._mask).reshape(np.shape(coef))

    def hessian(self, coef) -> np.ndarray:
        """Full Hessian ``(n_coef, n_coef)`` at ``coef`` (C-order flattening of coef).

        Raises ValueError when ``n_coef`` exceeds ``fastloss._config.HESSIAN_MAX_COEF`` (20,000)."""
        val.check_hessian_size(self.n_coef)
        c = val.check_coef(coef, self._coef_shape)
        H = self._executor.fold(chunks.hessian, dict(coef=c, spec=self._spec), chunks.add, stream=True)
        return norm.finish_hessian(H, self._weight_sum, self.l2, self._mask)


class InProcess:
    """The executor of chunks held in this process, run one after the other (each kernel is
    itself parallel)."""

    def __init__(self, states: list):
        self.states = states

    def fold(self, func, kwargs: dict, combine: Callable, *, curvature: Callable | None = None, stream=False):
        per_chunk = [self.states] if curvature is None else [self.states, curvature()]
        acc = None
        for chunk_args in zip(*per_chunk, strict=True):
            acc = combine(acc, func(*chunk_args, **kwargs))
        return acc

    def keep(self, func, kwargs: dict) -> Callable:
        kept = [func(state, **kwargs) for state in self.states]
        return lambda: kept


class LinearObjective(Objective):
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

    _repr_name = "LinearObjective"

    def __init__(self, X, y, loss="logistic", *, l2=0.0, fit_intercept=True, sample_weight=None,
                 n_classes=None, n_threads=None):
        self._check_options(loss, l2, fit_intercept, n_classes)
        n_threads = check_n_threads(n_threads)
        Xk, n, d, dtype = val.check_X(X)
        if self._multinomial:
            yk, K = val.check_class_labels(y, n, n_classes, name="y")
        else:
            yk, K = val.check_binary_labels(y, n, self.loss_name, name="y"), 1
        sw = val.check_sample_weight(sample_weight, n)
        weight_sum = float(sw.sum()) if sw.size else float(n)
        self._executor = InProcess([chunks.ChunkState(Xk, yk, sw, n, weight_sum)])
        self._set_shape(n, d, K, weight_sum, dtype, n_threads)

    @property
    def _X(self):
        """``X`` as the kernels read it (the caller's array itself where it could be used in place)."""
        return self._executor.states[0].X


__all__ = ["LOSS_IDS", "LinearObjective"]
