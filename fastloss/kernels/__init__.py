"""The compiled kernels behind ``fastloss`` (contract section 4), callable from your own ``@njit`` code.

They do **no validation**: the caller guarantees everything listed here (the Python API of
``fastloss`` checks it for you). A wrong shape or an out-of-range index is undefined behaviour
(Numba does not check bounds). Nothing here compiles at import; each kernel compiles on its
first call for a new combination of argument types and is cached on disk.

Conventions shared by every kernel
----------------------------------
``X``
    a dense ``(n, d)`` float32/float64 array in C or F order, or a :class:`CSR`
    ``CSR(data, indices, indptr, n_cols)`` (float32/float64 data; int32/int64 indices and indptr
    of the same dtype; ``indptr`` non-decreasing with ``indptr[0] == 0``; indices in
    ``[0, n_cols)``; it can be built inside ``@njit`` code too). All values finite.
``y``
    binary losses: float64 ``(n,)`` labels in ``[0, 1]`` (0/1; soft labels only for logistic;
    map -1/+1 labels with ``(y + 1) / 2``). Multinomial: int64 ``(n,)`` class indices ``< K``.
``sw``
    float64 ``(n,)`` non-negative sample weights, or an empty float64 array for unit weights.
``coef``
    float64 C-contiguous flat vector: ``(d + fit_intercept,)`` for binary losses (intercept last),
    ``(K * (d + fit_intercept),)`` for multinomial (C-order flattening of ``(K, d + fit_intercept)``).
``loss_id``
    ``fastloss.losses.LOSS_IDS[name]`` for a binary loss (multinomial kernels take ``n_classes``).
    Call :func:`prepare` with the loss once per process before a kernel runs it: it compiles (or
    loads from the cache) that loss's per-sample loops, which the kernels call by id. A kernel
    run with a loss that is not prepared raises ``ValueError``.

Every objective kernel returns **unnormalized** sums ``sum_i s_i (...)`` without the L2 term;
divide by ``sum_i s_i`` and add ``l2 * w`` yourself (see ``examples`` in the README).
All are parallel (``prange`` over row chunks) and deterministic: bitwise the same result for any
``numba.set_num_threads``.

Binary objective (:mod:`fastloss.kernels.linear`)
-------------------------------------------------
``loss_gradient(X, y, sw, coef, fit_intercept, loss_id, want_gradient, grad_out, curvature_out) -> float``
    one pass; returns ``sum s_i loss_i``; ``grad_out (n_coef,)`` overwritten when ``want_gradient``;
    ``curvature_out (n,)`` receives ``s_i * d2loss_i`` (size 0 to skip).
``hessp(X, y, sw, coef, fit_intercept, loss_id, curvature, V, out)``
    ``V (k, n_coef)``, ``out (k, n_coef)`` overwritten with ``sum_i h_i (x~_i . V[j]) x~_i``;
    ``curvature`` from ``loss_gradient`` (size n) or size 0 to compute it from ``coef`` in the same pass.
``hessian_diag(X, y, sw, coef, fit_intercept, loss_id, out)``, ``hessian(X, y, sw, coef, fit_intercept, loss_id, out)``
    the diagonal ``(n_coef,)`` / the full matrix ``(n_coef, n_coef)`` (unnormalized, no L2).

Multinomial objective (:mod:`fastloss.kernels.multinomial`)
-----------------------------------------------------------
The same four kernels with ``n_classes`` in place of ``loss_id`` (the same pipeline, compiled
for ``Softmax(n_classes)``: ``linear.softmax``); ``curvature`` holds the ``n * K`` softmax
probabilities. Its pointwise kernel is ``pointwise.multinomial_pointwise``.

Pointwise (:mod:`fastloss.kernels.pointwise`)
---------------------------------------------
``binary_pointwise(y, raw, sw, loss_id, loss_out, grad_out, hess_out) -> (loss_sum, weight_sum)``
    ``raw (n,)`` float32/float64; each output ``(n,)`` in ``raw``'s dtype, or size 0 to skip.

Per-sample functions (:mod:`fastloss.losses`)
---------------------------------------------
``<loss>_value(y, z)``, ``<loss>_gradient(y, z)``, ``<loss>_hessian(y, z)`` for each binary loss
(e.g. ``fastloss.losses.logistic_gradient``); ``fastloss.kernels._loops.pointwise_rows(loss_id,
mode, ...)`` runs a prepared loss over a block.
"""

from __future__ import annotations

import importlib

_SUBMODULES = {"linear", "multinomial", "pointwise", "bandwidth"}


def prepare(loss, modes=("value", "value_gradient", "hessian", "value_gradient_hessian")) -> None:
    """Make binary ``loss`` (a name or id) runnable by the kernels in this process: compile, or load
    from the cache, its per-sample loops for ``modes`` (see :func:`fastloss.kernels._loops.prepare`)."""
    from ._loops import prepare as _prepare

    _prepare(loss, modes)


def kernel_loss(loss: str, n_classes: int, mode: str | None):
    """The ``loss`` argument of :mod:`.linear`'s ``*_of`` kernels for ``loss``: ``Softmax(n_classes)``
    for multinomial, else the binary loss's id with its loop for ``mode`` (a name of
    :data:`._loops.MODES`, or None for none) prepared."""
    if loss == "multinomial":
        from ._scores import Softmax

        return Softmax(int(n_classes))
    if mode is not None:
        from ._loops import prepare

        prepare(loss, (mode,))
    from ..losses import LOSS_IDS

    return LOSS_IDS[loss]


def gradient_mode(want_gradient: bool, want_curvature: bool) -> str:
    """The mode (name) :func:`.linear.loss_gradient` runs for these outputs."""
    if want_curvature:
        return "value_gradient_hessian"
    return "value_gradient" if want_gradient else "value"


def __getattr__(name):
    if name == "CSR":
        from ._matrix import CSR

        return CSR
    if name in _SUBMODULES:
        return importlib.import_module(f"fastloss.kernels.{name}")
    raise AttributeError(f"module 'fastloss.kernels' has no attribute {name!r}")
