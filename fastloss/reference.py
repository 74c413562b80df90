"""Plain NumPy reference of every quantity of the public contract (docs/api.md sections 2 and 3).

This module is the oracle that the compiled kernels are tested and benchmarked against. It is
written to be read, not to be fast: every loss is a few lines of vectorized NumPy, and the
linear-model objective is computed from an explicitly augmented design matrix
``X~ = [X, 1]`` (the intercept really is a column of ones), which the package itself never
builds. Nothing here is imported from the rest of ``fastloss``.

Conventions
-----------
- Binary labels are given as ``{0, 1}`` or ``{-1, +1}``: if any label equals ``-1`` the
  labels are read as ``±1``, otherwise as ``0/1`` (so an all-ones vector is class 1 either
  way). ``s = 2y - 1`` (or ``s = y``) and the margin is ``m = s * z``.
- Derivatives are taken with respect to the raw score ``z``: for a margin loss ``phi(m)``
  the gradient is ``s * phi'(m)`` and the hessian ``phi''(m)`` (because ``s**2 == 1``).
- At a kink the value belongs to the piece that docs/api.md's table assigns the point to.
- Formulas avoid overflow (``np.logaddexp``, ``expit``, softmax shifted by the row maximum),
  so no ``nan`` appears for finite input and values that are finite doubles stay finite even
  for ``|z|`` up to ``1e308``. Tail accuracy is good (sums of non-negative terms rather
  than differences of nearly equal numbers) but is not promised to the last ulp.
- Validation is minimal: the package validates its inputs elsewhere; this module assumes
  valid labels, finite data and matching shapes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

__all__ = [
    "BINARY_LOSSES",
    "LOSSES",
    "MARGIN_LOSSES",
    "canonical",
    "margin_labels",
    "mean_loss",
    "objective_gradient",
    "objective_hessian",
    "objective_hessian_diag",
    "objective_hessp",
    "objective_loss",
    "point_gradient",
    "point_hessian",
    "point_loss",
]

_ALIASES = {"log_loss": "logistic"}


def canonical(name: str) -> str:
    """Return the canonical loss name (``"log_loss"`` -> ``"logistic"``).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`LOSSES` or an alias; the message lists the valid names.
    """
    if isinstance(name, str):
        name = _ALIASES.get(name, name)
        if name in LOSSES:
            return name
    valid = ", ".join(repr(n) for n in LOSSES + tuple(_ALIASES))
    raise ValueError(f"unknown loss {name!r}; valid names are {valid}")


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def _is_pm1(y: np.ndarray) -> bool:
    """True if the labels use the ±1 convention (some label equals -1)."""
    return bool(np.any(y == -1))


def margin_labels(y) -> np.ndarray:
    """Signs ``s`` in ``{-1, +1}`` of binary labels.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels in ``{0, 1}`` or ``{-1, +1}``, any numeric or bool dtype.

    Returns
    -------
    s : ndarray of shape (n,), float64
        ``y`` itself for ±1 labels (any ``-1`` present), else ``2 y - 1``.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    return y.copy() if _is_pm1(y) else 2.0 * y - 1.0


def _labels01(y) -> np.ndarray:
    """Labels (possibly soft) as probabilities of class 1, ``y01 = (s + 1) / 2``."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    return (y + 1.0) / 2.0 if _is_pm1(y) else y.copy()


# --------------------------------------------------------------------------------------------
# Binary margin losses: name -> (phi(m), phi'(m), phi''(m))
# --------------------------------------------------------------------------------------------


def _softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow."""
    return np.logaddexp(0.0, x)


def _inv_one_plus_sq(m: np.ndarray) -> np.ndarray:
    """``1 / (1 + m**2)``; ``m**2`` may overflow to ``inf``, giving the correct limit 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + m * m)


def _tangent_d2(m: np.ndarray) -> np.ndarray:
    # phi'' = 8 (1 - m t) / (1 + m^2)^2 with t = 2 atan(m) - 1, written as
    # 8 w (w - t (m w)), w = 1 / (1 + m^2), so that huge |m| gives 0 instead of inf / inf.
    w = _inv_one_plus_sq(m)
    t = 2.0 * np.arctan(m) - 1.0
    return 8.0 * w * (w - t * (m * w))


def _savage_d2(m: np.ndarray) -> np.ndarray:
    # With a = sigmoid(m), b = sigmoid(-m): phi = b^2, phi' = -2 a b^2, phi'' = 2 a b^2 (2a - b).
    a, b = expit(m), expit(-m)
    return 2.0 * a * b * b * (2.0 * a - b)


_MarginFn = Callable[[np.ndarray], np.ndarray]

#: Each binary loss as a function of the margin m = s z: (loss, first, second derivative in m).
#: Piecewise definitions follow docs/api.md's table, including which piece owns a kink.
MARGIN_LOSSES: dict[str, tuple[_MarginFn, _MarginFn, _MarginFn]] = {
    "logistic": (
        lambda m: _softplus(-m),
        lambda m: -expit(-m),
        lambda m: expit(m) * expit(-m),
    ),
    "exponential": (
        lambda m: np.exp(-m),
        lambda m: -np.exp(-m),
        lambda m: np.exp(-m),
    ),
    "square": (
        lambda m: (1.0 - m) ** 2,
        lambda m: -2.0 * (1.0 - m),
        lambda m: np.full_like(m, 2.0),
    ),
    "squared_hinge": (
        lambda m: np.maximum(0.0, 1.0 - m) ** 2,
        lambda m: -2.0 * np.maximum(0.0, 1.0 - m),
        lambda m: np.where(m < 1.0, 2.0, 0.0),
    ),
    "modified_huber": (
        lambda m: np.where(m < -1.0, -4.0 * m, np.maximum(0.0, 1.0 - m) ** 2),
        lambda m: np.where(m < -1.0, -4.0, -2.0 * np.maximum(0.0, 1.0 - m)),
        lambda m: np.where((m >= -1.0) & (m < 1.0), 2.0, 0.0),
    ),
    "smooth_hinge": (
        lambda m: np.where(m <= 0.0, 0.5 - m, 0.5 * np.clip(1.0 - m, 0.0, 1.0) ** 2),
        lambda m: np.where(m <= 0.0, -1.0, -np.clip(1.0 - m, 0.0, 1.0)),
        lambda m: np.where((m > 0.0) & (m < 1.0), 1.0, 0.0),
    ),
    "hinge": (
        lambda m: np.maximum(0.0, 1.0 - m),
        lambda m: np.where(m < 1.0, -1.0, 0.0),
        lambda m: np.zeros_like(m),
    ),
    "savage": (
        lambda m: expit(-m) ** 2,
        lambda m: -2.0 * expit(m) * expit(-m) ** 2,
        _savage_d2,
    ),
    "tangent": (
        lambda m: (2.0 * np.arctan(m) - 1.0) ** 2,
        lambda m: 4.0 * (2.0 * np.arctan(m) - 1.0) * _inv_one_plus_sq(m),
        _tangent_d2,
    ),
}
#: The binary losses this oracle knows, and all of them (the tests check that they are
#: ``fastloss.LOSSES``, in the same order).
BINARY_LOSSES = tuple(MARGIN_LOSSES)
LOSSES = BINARY_LOSSES + ("multinomial",)


# Logistic is evaluated in its cross-entropy form, which also takes soft labels y01 in [0, 1]:
#   loss = log1p(exp(z)) - y z = y softplus(-z) + (1 - y) softplus(z)
# The right-hand side is a sum of non-negative terms, so it is accurate in the tails too.
def _logistic_loss(y01: np.ndarray, z: np.ndarray) -> np.ndarray:
    return y01 * _softplus(-z) + (1.0 - y01) * _softplus(z)


def _logistic_gradient(y01: np.ndarray, z: np.ndarray) -> np.ndarray:
    # sigmoid(z) - y, split as (1 - y) sigmoid(z) - y sigmoid(-z) to avoid 1 - 1 cancellation.
    return (1.0 - y01) * expit(z) - y01 * expit(-z)


def _logistic_hessian(y01: np.ndarray, z: np.ndarray) -> np.ndarray:
    return expit(z) * expit(-z)


# --------------------------------------------------------------------------------------------
# Multinomial
# --------------------------------------------------------------------------------------------


def _class_indices(y, n_classes: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    idx = y.astype(np.intp)
    bad = np.flatnonzero((idx != y) | (idx < 0) | (idx >= n_classes))
    if bad.size:
        i = bad[0]
        raise ValueError(f"y[{i}] = {y[i]!r} is not a class index in 0..{n_classes - 1}")
    return idx


def _softmax_parts(raw: np.ndarray):
    """Shifted exponentials of each row and, per entry, the sum of the *other* entries.

    Returns ``e = exp(raw - rowmax)`` (so the largest entry of each row is exactly 1) and
    ``others[i, k] = sum_{l != k} e[i, l]``, summed directly rather than as ``total - e``, so
    ``1 - p_k = others_k / total`` keeps its relative accuracy when ``p_k`` is close to 1.
    """
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    n_classes = raw.shape[1]
    others = np.stack(
        [np.delete(e, k, axis=1).sum(axis=1) for k in range(n_classes)], axis=1
    )
    return e, others


def _multinomial_loss(y_idx: np.ndarray, raw: np.ndarray) -> np.ndarray:
    # logsumexp(z) - z_y = log1p(sum of the non-maximal shifted exps) + (max(z) - z_y).
    rows = np.arange(raw.shape[0])
    top = raw.argmax(axis=1)
    _, others = _softmax_parts(raw)
    log_sum = np.log1p(others[rows, top])  # e[rows, top] == 1
    return log_sum + (raw[rows, top] - raw[rows, y_idx])


def _multinomial_gradient(y_idx: np.ndarray, raw: np.ndarray) -> np.ndarray:
    # softmax(z) - onehot(y); at k = y, p_y - 1 = -(sum_{l != y} p_l).
    rows = np.arange(raw.shape[0])
    e, others = _softmax_parts(raw)
    total = e.sum(axis=1, keepdims=True)
    grad = e / total
    grad[rows, y_idx] = -others[rows, y_idx] / total[:, 0]
    return grad


def _multinomial_proba(raw: np.ndarray) -> np.ndarray:
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _multinomial_hessian(y_idx: np.ndarray, raw: np.ndarray) -> np.ndarray:
    # Diagonal of diag(p) - p p^T: p_k (1 - p_k), with 1 - p_k = (sum_{l != k} e_l) / total.
    e, others = _softmax_parts(raw)
    total = e.sum(axis=1, keepdims=True)
    return (e / total) * (others / total)


# --------------------------------------------------------------------------------------------
# Pointwise API (section 2)
# --------------------------------------------------------------------------------------------


def _binary_raw(raw) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise ValueError(f"binary raw predictions must have shape (n,) or (n, 1), got {raw.shape}")
    return raw


def _multinomial_raw(raw) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2:
        raise ValueError(f"multinomial raw predictions must have shape (n, K), got {raw.shape}")
    return raw


def _pointwise(name: str, y, raw, which: int) -> np.ndarray:
    """Value (which=0), gradient (1) or hessian (2) of loss ``name``, per sample."""
    name = canonical(name)
    with np.errstate(over="ignore"):  # overflow to inf only where the exact value does
        if name == "multinomial":
            raw = _multinomial_raw(raw)
            y_idx = _class_indices(y, raw.shape[1])
            fn = (_multinomial_loss, _multinomial_gradient, _multinomial_hessian)[which]
            return fn(y_idx, raw)
        z = _binary_raw(raw)
        if name == "logistic":
            fn = (_logistic_loss, _logistic_gradient, _logistic_hessian)[which]
            return fn(_labels01(y), z)
        s = margin_labels(y)
        m = s * z
        phi = MARGIN_LOSSES[name][which](m)
        return s * phi if which == 1 else phi


def point_loss(name: str, y, raw) -> np.ndarray:
    """Per-sample loss, unweighted.

    Parameters
    ----------
    name : str
        A name in :data:`LOSSES` (or ``"log_loss"``).
    y : array-like of shape (n,)
        Binary: labels in ``{0, 1}`` or ``{-1, +1}`` (soft labels in ``[0, 1]`` for
        ``logistic``). Multinomial: class indices ``0..K-1``.
    raw : array-like of shape (n,) or (n, 1) (binary) or (n, K) (multinomial)
        Raw scores ``z``.

    Returns
    -------
    ndarray of shape (n,), float64
    """
    return _pointwise(name, y, raw, 0)


def point_gradient(name: str, y, raw) -> np.ndarray:
    """Per-sample derivative of the loss with respect to the raw score ``z``.

    Returns
    -------
    ndarray of shape (n,) (binary) or (n, K) (multinomial: ``softmax(z) - onehot(y)``), float64
    """
    return _pointwise(name, y, raw, 1)


def point_hessian(name: str, y, raw) -> np.ndarray:
    """Per-sample second derivative of the loss with respect to ``z``.

    Returns
    -------
    ndarray of shape (n,) (binary) or (n, K) (multinomial: the diagonal ``p (1 - p)`` of
    ``diag(p) - p p^T``), float64
    """
    return _pointwise(name, y, raw, 2)


def mean_loss(name: str, y, raw, sample_weight=None) -> float:
    """``sum_i s_i loss_i / sum_i s_i`` (the plain mean without weights)."""
    loss = point_loss(name, y, raw)
    if sample_weight is None:
        return float(np.mean(loss))
    sw = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    return float(np.sum(sw * loss) / np.sum(sw))


# --------------------------------------------------------------------------------------------
# Linear-model objective (section 3)
# --------------------------------------------------------------------------------------------
#
# Everything is written for a coefficient matrix W of shape (K, p), p = d + fit_intercept,
# with K = 1 for binary losses; raw scores are R = X~ @ W.T of shape (n, K). The per-sample
# curvature is a (K, K) matrix C_i (binary: the scalar hessian; multinomial: diag(p) - p p^T),
# so with normalized weights w_i = s_i / sum(s):
#   f      = sum_i w_i loss_i + l2/2 ||W * mask||^2
#   grad   = G^T X~ + l2 W * mask,                 G[i, k] = w_i dloss_i/dz_k
#   H      = sum_i w_i (C_i kron x~_i x~_i^T) + l2 diag(mask), rows/cols in C order of W
# where mask is 1 on the feature columns and 0 on the intercept column.


class _Problem:
    """Data of one objective evaluation, in float64, with the intercept column appended."""

    def __init__(self, name, X, y, coef, l2, fit_intercept, sample_weight, n_classes):
        self.name = canonical(name)
        self.multinomial = self.name == "multinomial"
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=np.float64)
            if fit_intercept:
                X = sp.hstack([X, np.ones((X.shape[0], 1))], format="csr")
        else:
            X = np.asarray(X, dtype=np.float64)
            if fit_intercept:
                X = np.hstack([X, np.ones((X.shape[0], 1))])
        self.X = X
        n, p = X.shape
        self.y = np.asarray(y).reshape(-1)
        if self.multinomial:
            K = int(np.max(self.y)) + 1 if n_classes is None else int(n_classes)
        else:
            if n_classes not in (None, 1):
                raise ValueError("n_classes is only accepted for the multinomial loss")
            K = 1
        self.n_classes = K
        self.coef_shape = np.shape(coef)
        coef = np.asarray(coef, dtype=np.float64)
        if coef.size != K * p:
            raise ValueError(f"coef has {coef.size} entries, expected {K} * {p} = {K * p}")
        if not self.multinomial and coef.ndim != 1:
            raise ValueError(f"binary coef must be 1-D of shape ({p},), got {coef.shape}")
        self.W = coef.reshape(K, p)
        self.l2 = float(l2)
        self.mask = np.ones(p)
        if fit_intercept:
            self.mask[-1] = 0.0  # the intercept is not penalized
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.w = sw.reshape(-1) / np.sum(sw)

    @property
    def n_coef(self) -> int:
        return self.W.size

    def raw(self) -> np.ndarray:
        """Raw scores, (n,) for binary losses, (n, K) for multinomial."""
        R = np.asarray(self.X @ self.W.T)
        return R if self.multinomial else R[:, 0]

    def pointwise(self, which: int) -> np.ndarray:
        """Pointwise value/gradient/hessian as an (n, K) array ((n,) for the value)."""
        out = _pointwise(self.name, self.y, self.raw(), which)
        return out if which == 0 or out.ndim == 2 else out[:, None]

    def curvature(self) -> np.ndarray:
        """Per-sample (K, K) Hessians of the loss in z, shape (n, K, K)."""
        if not self.multinomial:
            return self.pointwise(2)[:, :, None]
        P = _multinomial_proba(self.raw())
        return np.einsum("ik,kl->ikl", P, np.eye(self.n_classes)) - P[:, :, None] * P[:, None, :]

    def dense_X(self) -> np.ndarray:
        return self.X.toarray() if sp.issparse(self.X) else self.X

    def X_squared(self):
        return self.X.multiply(self.X).tocsr() if sp.issparse(self.X) else self.X**2

    def penalty_gradient(self, V: np.ndarray) -> np.ndarray:
        return self.l2 * V * self.mask


def objective_loss(
    name: str,
    X,
    y,
    coef,
    *,
    l2: float = 0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    n_classes: int | None = None,
) -> float:
    """Objective ``f(coef) = sum_i s_i loss_i / sum_i s_i + (l2 / 2) ||w||^2``.

    Parameters
    ----------
    name : str
        Loss name (see :data:`LOSSES`).
    X : ndarray or scipy.sparse matrix/array of shape (n, d)
        Features; any real dtype (computations are in float64).
    y : array-like of shape (n,)
        Labels (binary conventions as in :func:`margin_labels`; class indices for multinomial).
    coef : ndarray
        Binary: shape ``(d + fit_intercept,)``, intercept last. Multinomial: shape
        ``(K, d + fit_intercept)`` (intercept in the last column) or that array flattened in
        C order.
    l2 : float
        L2 penalty strength; the intercept is not penalized.
    fit_intercept : bool
        Whether ``coef`` holds an intercept.
    sample_weight : array-like of shape (n,) or None
        Sample weights ``s_i`` (``1`` if None).
    n_classes : int or None
        Multinomial only: ``K`` (default ``max(y) + 1``).

    Returns
    -------
    float
    """
    pb = _Problem(name, X, y, coef, l2, fit_intercept, sample_weight, n_classes)
    data_term = np.sum(pb.w * pb.pointwise(0))
    # No penalty term at all when l2 == 0 (0 * inf would turn a huge but finite coef into nan).
    penalty = 0.5 * pb.l2 * np.sum((pb.W * pb.mask) ** 2) if pb.l2 else 0.0
    return float(data_term + penalty)


def objective_gradient(
    name: str,
    X,
    y,
    coef,
    *,
    l2: float = 0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    n_classes: int | None = None,
) -> np.ndarray:
    """Gradient of :func:`objective_loss` with respect to ``coef``.

    Returns
    -------
    ndarray, float64, with the shape of ``coef`` as passed
    """
    pb = _Problem(name, X, y, coef, l2, fit_intercept, sample_weight, n_classes)
    G = pb.w[:, None] * pb.pointwise(1)  # (n, K)
    grad = np.asarray(pb.X.T @ G).T + pb.penalty_gradient(pb.W)  # (K, p)
    return grad.reshape(pb.coef_shape)


def objective_hessian(
    name: str,
    X,
    y,
    coef,
    *,
    l2: float = 0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    n_classes: int | None = None,
) -> np.ndarray:
    """Full Hessian of :func:`objective_loss`.

    For multinomial this is the exact Hessian: block ``(k, l)`` is
    ``X~^T diag(w * p_k (delta_kl - p_l)) X~`` plus the penalty.

    Returns
    -------
    ndarray of shape (n_coef, n_coef), float64
        Rows and columns follow the C-order flattening of ``coef``.
    """
    pb = _Problem(name, X, y, coef, l2, fit_intercept, sample_weight, n_classes)
    Xd = pb.dense_X()
    C = pb.curvature()  # (n, K, K)
    H = np.einsum("i,ia,ikl,ib->kalb", pb.w, Xd, C, Xd).reshape(pb.n_coef, pb.n_coef)
    H += pb.l2 * np.diag(np.tile(pb.mask, pb.n_classes))
    return H


def objective_hessp(
    name: str,
    X,
    y,
    coef,
    v,
    *,
    l2: float = 0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    n_classes: int | None = None,
) -> np.ndarray:
    """Hessian-vector product ``H(coef) @ v``, computed without forming ``H``.

    Parameters
    ----------
    v : ndarray
        One direction, shaped like ``coef`` or flat (C order) of size ``n_coef``; or a 2-D
        array of shape ``(n_coef, k)`` holding ``k`` directions as columns.

    Returns
    -------
    ndarray, float64
        Shape of ``coef`` for one direction; ``(n_coef, k)`` for a 2-D ``v`` of that shape.
    """
    pb = _Problem(name, X, y, coef, l2, fit_intercept, sample_weight, n_classes)
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 2 and v.shape != pb.coef_shape:
        if v.shape[0] != pb.n_coef:
            raise ValueError(f"v has shape {v.shape}, expected ({pb.n_coef}, k)")
        columns = [_hessp_one(pb, v[:, j]) for j in range(v.shape[1])]
        return np.stack(columns, axis=1).reshape(pb.n_coef, v.shape[1])
    if v.size != pb.n_coef:
        raise ValueError(f"v has {v.size} entries, expected {pb.n_coef}")
    return _hessp_one(pb, v).reshape(pb.coef_shape)


def _hessp_one(pb: _Problem, v_flat: np.ndarray) -> np.ndarray:
    V = v_flat.reshape(pb.W.shape)  # (K, p)
    R = np.asarray(pb.X @ V.T)  # directional change of the raw scores, (n, K)
    T = np.einsum("ikl,il->ik", pb.curvature(), R) * pb.w[:, None]
    return (np.asarray(pb.X.T @ T).T + pb.penalty_gradient(V)).reshape(-1)


def objective_hessian_diag(
    name: str,
    X,
    y,
    coef,
    *,
    l2: float = 0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    n_classes: int | None = None,
) -> np.ndarray:
    """Diagonal of :func:`objective_hessian`.

    Returns
    -------
    ndarray, float64, with the shape of ``coef`` as passed
    """
    pb = _Problem(name, X, y, coef, l2, fit_intercept, sample_weight, n_classes)
    h = pb.w[:, None] * pb.pointwise(2)  # (n, K): the diagonal of each C_i, weighted
    diag = np.asarray(pb.X_squared().T @ h).T + pb.l2 * pb.mask  # (K, p)
    return diag.reshape(pb.coef_shape)
