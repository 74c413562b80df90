"""A loss as the linear-model kernels see it: ``n`` scores per sample and their derivatives.

The kernels of :mod:`.linear` are one block pipeline for every loss: score a block of rows
against the coefficient rows, turn the scores into per-row derivatives *in score space*, and
spread them back over the same rows while the block is in cache. What differs between losses is
only the middle step and how many scores a sample has; the functions below are that step,
picked at compile time by the type of the ``loss`` argument:

* a **binary** loss is its loss id (an integer, ``fastloss.losses.LOSS_IDS``): one score per
  sample, the loss's prepared loop (:mod:`._loops`) gives the derivatives;
* **multinomial** is :class:`Softmax` ``(n_classes)``: ``K`` scores per sample, one block softmax
  (:func:`fastloss.losses.multinomial_block_softmax`).

Per block of ``m`` rows the pipeline holds ``Z`` (scores, ``(n_scores, >= m)``, intercepts
added), ``G`` (gradients) and ``C`` (curvature), each ``(n_scores, >= m)``. The *curvature* of a
row is what a Hessian-vector product needs of it, ``n_scores`` values that :func:`loss_gradient`
can keep per sample (``curvature_out``, row after row) and :func:`hessp` read back:

* binary: ``s_i h_i`` (the weighted second derivative);
* multinomial: the probabilities ``p_i`` (the weight is applied where they are used).

The *diagonal* (:func:`diagonal`) is the diagonal of the per-row Hessian in score space,
weighted: ``s_i h_i``, or ``s_i p_ik (1 - p_ik)`` with ``1 - p_ik`` from the complementary sum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import overload

from .. import _config
from ..losses import (
    multinomial_block_gradient,
    multinomial_block_softmax,
    multinomial_hessian_of,
    multinomial_loss_of,
)
from ._loops import HESSIAN, VALUE, check_loop, pointwise_rows
from ._matrix import (
    _INLINE,
    block_rows,
    rows_axpy,
    rows_axpy_each,
    rows_dot,
    rows_dot_packed,
    whole_tiles,
)

#: The gradient's bit of a mode (:data:`._loops.MODES`; ``HESSIAN`` asks for the curvature).
GRADIENT = 2


class Softmax(NamedTuple):
    """The multinomial loss over ``n_classes`` scores, as the ``loss`` argument of the kernels."""

    n_classes: int


def _is_softmax(loss):
    return isinstance(loss, types.BaseNamedTuple) and loss.instance_class is Softmax


def n_scores(loss):
    """Scores per sample: 1 for a binary loss, ``K`` for :class:`Softmax`."""


def rows_per_block(X, n_values):
    """Rows per cache block when each row keeps ``n_values`` float64 of scratch: :func:`block_rows`,
    capped so that the scratch stays near ``_config.SCORE_SCRATCH_VALUES`` (whole tiles)."""


def score_rows(loss, X, a, b, P, shift, Z):
    """``Z[j, i - a] = X[i, :d] @ w_j[:d] + shift[j]`` for rows ``a:b``, the vectors of ``P``
    (:func:`~._matrix.vectors_empty`'s layout) and their intercepts ``shift``: one vector at a time
    for binary losses (no register tile is compiled), tiles of classes for multinomial on dense C
    input."""


def spread_rows(loss, X, a, b, G, OUT):
    """``OUT[k, :d] += sum_i G[k, i - a] * X[i, :d]``, the loss kind's choice of primitive."""


def new_scratch(loss, block):
    """The per-row scratch :func:`derivatives` needs for blocks of ``block`` rows (a tuple)."""


def check_ready(loss, mode):
    """Raise ``ValueError`` if a binary loss's loop for ``mode`` is not prepared (:mod:`._loops`)."""


def derivatives(loss, mode, y, sw, a, m, Z, G, C, S):
    """Per-row derivatives of the block's ``m`` rows (samples ``a + r``) from their scores ``Z``.

    ``mode`` (of :data:`._loops.MODES`) bits: :data:`VALUE` returns ``sum_r s_r loss_r`` (else
    0), :data:`GRADIENT` writes ``G[k, r] = s_r dloss/dz_k``, :data:`HESSIAN` writes the
    curvature into ``C``. ``Z`` is scratch afterwards; ``S`` is :func:`new_scratch`'s.
    """


def diagonal(loss, y, sw, a, m, Z, C, S):
    """``C[k, r]``: the weighted diagonal of row ``a + r``'s Hessian in score space, ``s h`` or
    ``s p_k (1 - p_k)`` (``1 - p_k`` from the complementary sum), from its scores ``Z`` (scratch
    afterwards)."""


def apply_curvature(loss, sw, a, m, C, U, T, S):
    """``T = H_r U``: the per-row Hessian in score space (from the curvature ``C``) times the
    directional scores ``U`` (``(k * n_scores, >= m)``, direction after direction, intercept
    included), for the block's ``m`` rows; ``T`` like ``U``, ``S`` :func:`new_scratch`'s."""


def gram_weights(loss, sw, a, m, curvature, Hd, Q, P):
    """The weights of rows ``a:a + m`` in the full Hessian's Gram kernels
    (:func:`fastloss.kernels.linear.gram_add`: ``Hd[k, r]`` in diagonal blocks, ``-Q[k, r] P[l, r]``
    off them) from the rows' cached curvature (``n_scores`` values per row)."""


@overload(n_scores, inline="always", **_INLINE)
def _n_scores(loss):
    if isinstance(loss, types.Integer):
        return lambda loss: 1
    if _is_softmax(loss):
        return lambda loss: np.int64(loss[0])


@overload(rows_per_block, **_INLINE)
def _rows_per_block(X, n_values):
    def impl(X, n_values):
        by_scratch = max(_config.SCORE_SCRATCH_MIN_ROWS, _config.SCORE_SCRATCH_VALUES // max(n_values, 1))
        return whole_tiles(max(1, min(block_rows(X), by_scratch)))
    return impl


@overload(score_rows, **_INLINE)
def _score_rows(loss, X, a, b, P, shift, Z):
    if isinstance(loss, types.Integer):
        dot = rows_dot_packed
    elif _is_softmax(loss):
        dot = rows_dot if isinstance(X, types.Array) else rows_dot_packed  # as vectors_empty lays them
    else:
        return None

    def impl(loss, X, a, b, P, shift, Z):
        dot(X, a, b, P, Z)
        for q in range(shift.size):
            sq = shift[q]
            for r in range(b - a):
                Z[q, r] += sq
    return impl


@overload(spread_rows, **_INLINE)
def _spread_rows(loss, X, a, b, G, OUT):
    if isinstance(loss, types.Integer):
        return lambda loss, X, a, b, G, OUT: rows_axpy_each(X, a, b, G, OUT)
    if _is_softmax(loss):
        return lambda loss, X, a, b, G, OUT: rows_axpy(X, a, b, G, OUT)


@overload(new_scratch, **_INLINE)
def _new_scratch(loss, block):
    if isinstance(loss, types.Integer):
        return lambda loss, block: (np.empty(block),)  # the per-row losses
    if _is_softmax(loss):
        # zmax, top, others, the label's score (then the label's gradient), the row's scale
        return lambda loss, block: (np.empty(block), np.empty(block, dtype=np.int64), np.empty(block),
                                    np.empty(block), np.empty(block))


@overload(check_ready, **_INLINE)
def _check_ready(loss, mode):
    if isinstance(loss, types.Integer):
        def impl(loss, mode):
            check_loop(loss, mode)
        return impl
    if _is_softmax(loss):
        return lambda loss, mode: None


@overload(derivatives, **_INLINE)
def _derivatives(loss, mode, y, sw, a, m, Z, G, C, S):
    if isinstance(loss, types.Integer):
        def binary(loss, mode, y, sw, a, m, Z, G, C, S):
            return pointwise_rows(loss, mode, y, sw, a, m, Z[0], S[0], G[0], C[0])
        return binary
    if _is_softmax(loss):
        def softmax(loss, mode, y, sw, a, m, Z, G, C, S):
            zmax, top, others, label, scale = S
            K = Z.shape[0]
            has_sw = sw.size > 0
            first = np.uintp(a)
            total = 0.0
            if mode & VALUE:
                for r in range(m):
                    label[r] = Z[y[first + np.uintp(r)], r]
            multinomial_block_softmax(Z, m, zmax, top, others)  # Z holds the exponentials e
            if mode & VALUE:
                for r in range(m):
                    s = sw[first + np.uintp(r)] if has_sw else 1.0
                    total += s * multinomial_loss_of(zmax[r], label[r], others[r])
            for r in range(m):
                scale[r] = 1.0 / (1.0 + others[r])
            if mode & HESSIAN:
                for k in range(K):
                    for r in range(m):
                        C[k, r] = Z[k, r] * scale[r]  # p_k = e[k] / sum(e)
            if mode & GRADIENT:
                if has_sw:
                    for r in range(m):
                        scale[r] *= sw[first + np.uintp(r)]
                multinomial_block_gradient(Z, y, first, m, top, others, scale, label, G)
            return total
        return softmax


@overload(diagonal, **_INLINE)
def _diagonal(loss, y, sw, a, m, Z, C, S):
    if isinstance(loss, types.Integer):
        def binary(loss, y, sw, a, m, Z, C, S):
            # For one score the diagonal is the curvature, s h.
            pointwise_rows(loss, np.int64(HESSIAN), y, sw, a, m, Z[0], S[0], C[0], C[0])
        return binary
    if _is_softmax(loss):
        def softmax(loss, y, sw, a, m, Z, C, S):
            zmax, top, others, label, scale = S
            has_sw = sw.size > 0
            first = np.uintp(a)
            multinomial_block_softmax(Z, m, zmax, top, others)  # Z holds the exponentials e
            for r in range(m):
                scale[r] = 1.0 / (1.0 + others[r])
            for k in range(Z.shape[0]):
                for r in range(m):
                    s = sw[first + np.uintp(r)] if has_sw else 1.0
                    C[k, r] = s * multinomial_hessian_of(Z[k, r], top[r] == k, others[r], scale[r])
        return softmax


@overload(apply_curvature, **_INLINE)
def _apply_curvature(loss, sw, a, m, C, U, T, S):
    if isinstance(loss, types.Integer):
        def binary(loss, sw, a, m, C, U, T, S):
            h = C[0]
            for j in range(U.shape[0]):
                u = U[j]
                t = T[j]
                for r in range(m):
                    t[r] = h[r] * u[r]
        return binary
    if _is_softmax(loss):
        def softmax(loss, sw, a, m, C, U, T, S):
            # s (p o u - p (p . u)) = s p_k (u_k - p . u) for each direction's K scores u; every
            # loop runs over the rows of the block with the class fixed (they vectorize).
            K = C.shape[0]
            has_sw = sw.size > 0
            first = np.uintp(a)
            pu = S[3]
            for j in range(U.shape[0] // K):
                base = j * K
                for r in range(m):
                    pu[r] = 0.0
                for k in range(K):
                    for r in range(m):
                        pu[r] += C[k, r] * U[base + k, r]
                for k in range(K):
                    t = T[base + k]
                    for r in range(m):
                        s = sw[first + np.uintp(r)] if has_sw else 1.0
                        t[r] = s * C[k, r] * (U[base + k, r] - pu[r])
        return softmax


@overload(gram_weights, **_INLINE)
def _gram_weights(loss, sw, a, m, curvature, Hd, Q, P):
    if isinstance(loss, types.Integer):
        def binary(loss, sw, a, m, curvature, Hd, Q, P):
            for r in range(m):
                Hd[0, r] = curvature[a + r]  # s h: Q and P are not read for one score
        return binary
    if _is_softmax(loss):
        def softmax(loss, sw, a, m, curvature, Hd, Q, P):
            # s p_k (1 - p_k) on the diagonal blocks, -s p_k p_l off them. 1 - p_k is taken as
            # the sum of the other probabilities for the row's largest p_k (no cancellation
            # when it is near 1), as 1 - p_k for the others (each at most 1/2).
            K = Hd.shape[0]
            has_sw = sw.size > 0
            for r in range(m):
                i = a + r
                row = curvature[i * K:(i + 1) * K]
                top = 0
                for k in range(1, K):
                    if row[k] > row[top]:
                        top = k
                rest = 0.0
                for k in range(K):
                    rest += 0.0 if k == top else row[k]
                s = sw[i] if has_sw else 1.0
                for k in range(K):
                    pk = row[k]
                    Hd[k, r] = s * pk * (rest if k == top else 1.0 - pk)
                    Q[k, r] = s * pk
                    P[k, r] = pk
        return softmax
