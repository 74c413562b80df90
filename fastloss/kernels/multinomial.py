"""The multinomial (softmax cross-entropy) kernels of contract section 4.

The linear model has ``K`` rows of coefficients, ``coef`` of shape ``(K, p)`` flattened in C order,
``p = d + fit_intercept`` (intercept in the last column). A sample's raw scores are
``z_k = x~ . coef[k]`` with ``x~ = [x, 1]`` (with intercept), its loss is
``logsumexp(z) - z[y]``, its gradient in ``z`` is ``p - onehot(y)`` (``p = softmax(z)``) and its
Hessian in ``z`` is ``diag(p) - p p^T``.

The objective kernels are those of every loss (:mod:`.linear`) with the loss
``Softmax(n_classes)`` (:mod:`._scores`): multinomial is a loss with ``K`` scores per sample in
the same block pipeline, with the same guarantees (one pass over ``X``, deterministic chunks,
float64 accumulation). Per block its derivatives come from one block softmax
(:func:`fastloss.losses.multinomial_block_softmax`: every loop over the rows of the block with
the class fixed, so they vectorize; stable, see the "multinomial" section of
:mod:`fastloss.losses`). Its curvature, what :func:`loss_gradient` keeps per sample for
:func:`hessp`, is the ``K`` probabilities of each row.

Assumptions (the Python layer checks them; these kernels check nothing): those of
:mod:`.linear`, with ``y`` int64 ``(n,)`` class indices in ``[0, n_classes)`` and ``coef`` float64
C-contiguous ``(n_classes * p,)``, finite.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from ._scores import Softmax
from .linear import softmax
from .pointwise import multinomial_pointwise as pointwise  # noqa: F401 (its name here before it moved)


@jit()
def loss_gradient(X, y, sw, coef, fit_intercept, n_classes, want_gradient, grad_out, curvature_out):
    """Weighted loss sum, and optionally the gradient sum and the probabilities, in one pass.

    Parameters
    ----------
    X : matrix (dense ``(n, d)`` C/F float32/float64, or :class:`CSR`)
    y : int64 (n,), class indices in ``[0, n_classes)``
    sw : float64 (n,) sample weights, or size 0 for unit weights
    coef : float64 (n_classes * p,), C-order flattening of ``(n_classes, p)``, ``p = d + fit_intercept``
    fit_intercept : bool
    n_classes : int, K >= 2
    want_gradient : bool; if False ``grad_out`` is not touched (pass an empty array)
    grad_out : float64 (K * p,), overwritten with ``sum_i s_i (p_i - onehot(y_i)) (x) x~_i``
    curvature_out : float64 (n * K,) receives the probabilities ``p_i`` row after row (what
        :func:`hessp` takes as ``curvature``), or size 0 to skip

    Returns
    -------
    float : ``sum_i s_i * loss_i``
    """
    # Constants from a caller's @njit code arrive as Literal types: re-typed here, so that the
    # serial chunk function compiles once, not once more per constant (see _jit.py).
    return softmax.loss_gradient_of(X, y, sw, coef, np.bool_(fit_intercept), Softmax(np.int64(n_classes)),
                            np.bool_(want_gradient), grad_out, curvature_out)


@jit()
def hessp(X, y, sw, coef, fit_intercept, n_classes, curvature, V, out):
    """Exact Hessian-vector products for ``k`` directions at once, one pass over ``X``.

    ``out[j] = sum_i s_i (p_i o u_ij - p_i (p_i . u_ij)) (x) x~_i`` with ``u_ij = V_j x~_i``
    (``V_j`` read as ``(K, p)``), i.e. ``(sum_i s_i (diag(p_i) - p_i p_i^T) (x) x~_i x~_i^T) V_j``.

    Parameters
    ----------
    curvature : float64 (n * K,) probabilities written by :func:`loss_gradient`, or size 0 to
        compute them from ``coef`` in the same read of each row
    V : float64 (k, K * p) C-contiguous, the directions
    out : float64 (k, K * p) C-contiguous, overwritten (unnormalized, no L2 term)
    """
    softmax.hessp_of(X, y, sw, coef, np.bool_(fit_intercept), Softmax(np.int64(n_classes)), curvature, V, out)


@jit()
def hessian_diag(X, y, sw, coef, fit_intercept, n_classes, out):
    """``out[k, j] = sum_i s_i p_ik (1 - p_ik) x~_ij^2`` (flat, unnormalized), one pass over ``X``."""
    softmax.hessian_diag_of(X, y, sw, coef, np.bool_(fit_intercept), Softmax(np.int64(n_classes)), out)


@jit()
def hessian(X, y, sw, coef, fit_intercept, n_classes, out):
    """Full unnormalized Hessian into ``out`` (K * p, K * p), rows/cols in C order of ``(K, p)``.

    Block ``(k, l)`` is ``sum_i s_i p_ik (delta_kl - p_il) x~_i x~_i^T``: the probabilities of
    every row in one parallel pass, then the binary Hessian's Gram kernels with a weight per row
    and class pair (:func:`~fastloss.kernels.linear.gram_of_curvature`); ``out`` is exactly
    symmetric and the same for any thread count. Cost ``n (K p)^2 / 2`` multiply-adds.
    """
    softmax.hessian_of(X, y, sw, coef, np.bool_(fit_intercept), Softmax(np.int64(n_classes)), out)
