"""Fused, parallel, deterministic kernels of the multinomial (softmax cross-entropy) loss.

The linear model has ``K`` rows of coefficients, ``coef`` of shape ``(K, p)`` flattened in C order,
``p = d + fit_intercept`` (intercept in the last column). A sample's raw scores are
``z_k = x~ . coef[k]`` with ``x~ = [x, 1]`` (with intercept), its loss is
``logsumexp(z) - z[y]``, its gradient in ``z`` is ``p - onehot(y)`` (``p = softmax(z)``) and its
Hessian in ``z`` is ``diag(p) - p p^T``.

Guarantees
    * One pass over ``X`` per call (:func:`loss_gradient`, :func:`hessp`, :func:`hessian_diag`):
      each cache block of rows is scored against all ``K`` (or ``K * (k + 1)``) coefficient rows
      in one read, the per-row softmax is evaluated, and the block's contribution is added while
      the block is still in cache.
    * Deterministic: rows are split into chunks whose boundaries depend on the data only
      (:func:`fastloss.kernels._matrix.chunk_bounds`); every chunk writes its own partial sums,
      combined serially in chunk order. Results are bitwise the same for any number of threads.
    * float64 accumulation whatever the dtype of ``X``.
    * Stable per-row math (:mod:`fastloss.losses`, "multinomial" section): softmax shifted by the
      row maximum, ``loss = (max - z_y) + log1p(others)``, ``1 - p_k`` from the complementary sum.
    * Scratch is allocated once per chunk (``K`` up to thousands costs no allocation per row).
    * Generic over the matrix format: every access to ``X`` goes through :mod:`._matrix`.

Assumptions (the Python layer checks them; these kernels check nothing)
    * ``X`` is a dense C/F array or a :class:`CSR` (see :mod:`._matrix`) with finite values.
    * ``y`` is int64 ``(n,)`` with class indices in ``[0, n_classes)``.
    * ``sw`` is float64 ``(n,)`` of non-negative weights, or an empty array for unit weights.
    * ``coef`` is float64 C-contiguous ``(n_classes * p,)``, finite.

Every kernel returns *unnormalized* sums ``sum_i s_i (...)`` without the L2 term; the objective
divides by ``sum_i s_i`` and adds the penalty.

Each kernel is a serial ``*_chunks`` function over a range of row chunks (the protocol of
:mod:`._chunks`; the Python API runs it on its thread pool) and a ``prange`` driver of the same
name for callers in compiled code. :func:`hessian` is a serial driver
around the binary Hessian's parallel Gram kernel, which only sees packed float64 blocks, so it
compiles once for all matrix formats and both objectives.
"""

from __future__ import annotations

import numpy as np

from .. import _config
from .._jit import jit
from ..losses import (
    multinomial_block_gradient,
    multinomial_block_softmax,
    multinomial_complement,
    multinomial_gradient,
    multinomial_hessian,
    multinomial_loss_of,
    multinomial_row_loss,
    multinomial_row_softmax,
)
from ._chunks import combine, parallel_chunks, total_of
from ._matrix import (
    block_rows,
    chunk_bounds,
    n_cols,
    n_rows,
    rows_axpy,
    rows_dot,
    rows_sq_axpy,
    whole_tiles,
)
from .linear import gram_block_add, gram_mirror, gram_plan


@jit()
def _intercepts(W, d, fit_intercept):
    """Column ``d`` of ``W`` (the intercepts) when ``fit_intercept``, else zeros."""
    out = np.zeros(W.shape[0])
    if fit_intercept:
        for k in range(W.shape[0]):
            out[k] = W[k, d]
    return out


@jit()
def _rows_per_block(X, n_scores):
    """Rows per cache block when each row has ``n_scores`` scores to keep."""
    by_scratch = max(_config.SCORE_SCRATCH_MIN_ROWS, _config.SCORE_SCRATCH_VALUES // max(n_scores, 1))
    return whole_tiles(max(1, min(block_rows(X), by_scratch)))


# --- loss and gradient ---------------------------------------------------------------------------

@jit()
def loss_gradient_chunks(X, y, sw, coef, fit_intercept, n_classes, want_gradient, curvature_out,
                         bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`loss_gradient`: ``totals[c, 0]`` gets chunk ``c``'s loss sum,
    ``vectors[c]`` its gradient sum (when ``want_gradient``), ``curvature_out`` its rows' probabilities.

    Per cache block: scores ``Z`` (K, m) by :func:`rows_dot`, the scores of the labels, then the
    softmax of every row at once (:func:`multinomial_block_softmax`, loops over the rows of the
    block with the class fixed, so they vectorize), then the loss, the gradient in place of the
    exponentials (:func:`multinomial_block_gradient`), and :func:`rows_axpy`. No loop runs over
    the K classes of one row.
    """
    K = n_classes
    d = n_cols(X)
    p = coef.size // K
    block = _rows_per_block(X, K)
    W = coef.reshape((K, p))
    intercept = _intercepts(W, d, fit_intercept)
    has_sw = sw.size > 0
    want_curvature = curvature_out.size > 0
    Z = np.empty((K, block))  # scores, then exponentials, then gradients
    zmax = np.empty(block)
    top = np.empty(block, dtype=np.int64)
    others = np.empty(block)
    zy = np.empty(block)
    scale = np.empty(block)  # 1 / sum(e), then s_i / sum(e)
    acc_intercept = np.empty(K)
    for c in range(first, last):
        G_out = vectors[c].reshape((K, vectors.shape[1] // K))  # (K, 0) when no gradient is wanted
        acc_intercept[:] = 0.0
        acc_loss = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            row0 = np.uintp(a)
            rows_dot(X, a, b, W, Z)
            for r in range(m):
                yi = y[row0 + np.uintp(r)]
                zy[r] = Z[yi, r] + intercept[yi]
            multinomial_block_softmax(Z, intercept, m, zmax, top, others)
            block_loss = 0.0
            for r in range(m):
                s = sw[row0 + np.uintp(r)] if has_sw else 1.0
                block_loss += s * multinomial_loss_of(zmax[r], zy[r], others[r])
            acc_loss += block_loss
            for r in range(m):
                scale[r] = 1.0 / (1.0 + others[r])
            if want_curvature:
                for r in range(m):
                    i = a + r
                    for k in range(K):
                        curvature_out[i * K + k] = Z[k, r] * scale[r]
            if want_gradient:
                if has_sw:
                    for r in range(m):
                        scale[r] *= sw[row0 + np.uintp(r)]
                # s_i (p_k - [k == y_i]) in place of the exponentials (zy is free again as scratch)
                multinomial_block_gradient(Z, y, row0, m, top, others, scale, zy)
                for k in range(K):
                    acc = 0.0
                    for r in range(m):
                        acc += Z[k, r]
                    acc_intercept[k] += acc
                rows_axpy(X, a, b, Z, G_out)
        if want_gradient and fit_intercept:
            for k in range(K):
                G_out[k, d] += acc_intercept[k]
        totals[c, 0] = acc_loss


_loss_gradient_driver = parallel_chunks(loss_gradient_chunks)


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
    fit_intercept, n_classes, want_gradient = np.bool_(fit_intercept), np.int64(n_classes), np.bool_(want_gradient)
    args = (y, sw, coef, fit_intercept, n_classes, want_gradient, curvature_out)
    totals, vectors = _loss_gradient_driver(X, args, chunk_bounds(X, coef.size), 1, coef.size if want_gradient else 0)
    return total_of(totals, vectors, grad_out)


# --- Hessian-vector products ---------------------------------------------------------------------

@jit()
def hessp_chunks(X, y, sw, coef, fit_intercept, n_classes, curvature, V, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`hessp`: ``vectors[c]`` gets chunk ``c``'s products, the
    ``(k, K * p)`` array flattened (``totals`` is not used).

    Per cache block: all scores by one :func:`rows_dot`, the probabilities of every row at once
    (:func:`multinomial_block_softmax`, or the cached ones), then for each direction
    ``s (p o u - p (p . u))`` with every loop over the rows of the block and the class fixed
    (they vectorize; no loop runs over the K classes of one row), then :func:`rows_axpy`.
    """
    K = n_classes
    d = n_cols(X)
    n_dir, n_coef = V.shape
    p = n_coef // K
    cached = curvature.size > 0
    has_sw = sw.size > 0
    # Rows 0..K-1 of W score coef (unless the probabilities are cached), the next n_dir * K rows
    # are the directions, so that one read of each block serves every dot product.
    lead = 0 if cached else K
    n_scores = lead + n_dir * K
    W = np.empty((n_scores, p))
    W_flat = W.reshape(n_scores * p)
    V_flat = V.reshape(n_dir * n_coef)
    for j in range(p * lead):
        W_flat[j] = coef[j]
    for j in range(n_dir * n_coef):
        W_flat[p * lead + j] = V_flat[j]
    intercept = _intercepts(W, d, fit_intercept)
    block = _rows_per_block(X, n_scores + K)
    Z = np.empty((n_scores, block))
    P = np.empty((K, block))  # probabilities (exponentials first when not cached)
    T = np.empty((n_dir * K, block))
    zmax = np.empty(block)
    top = np.empty(block, dtype=np.int64)
    others = np.empty(block)
    scale = np.empty(block)  # s_i
    pu = np.empty(block)
    acc_intercept = np.empty(n_dir * K)
    for c in range(first, last):
        OUT = vectors[c].reshape((n_dir * K, p))
        acc_intercept[:] = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            first_row = np.uintp(a)
            rows_dot(X, a, b, W, Z)
            for r in range(m):
                scale[r] = sw[first_row + np.uintp(r)] if has_sw else 1.0
            if cached:
                for k in range(K):
                    for r in range(m):
                        P[k, r] = curvature[(a + r) * K + k]
            else:
                # Every loop runs over the rows of the block with the class fixed (vectorizes).
                for k in range(K):
                    for r in range(m):
                        P[k, r] = Z[k, r]
                multinomial_block_softmax(P, intercept, m, zmax, top, others)
                for r in range(m):
                    others[r] = 1.0 / (1.0 + others[r])  # now 1 / sum(e) of the row
                for k in range(K):
                    for r in range(m):
                        P[k, r] *= others[r]  # p_k = e[k] / sum(e), as multinomial_row_softmax's callers
            for j in range(n_dir):
                # u = V_j x~ (the directional change of the K scores); the row's contribution
                # is s (p o u - p (p . u)) = s p_k (u_k - p . u).
                base = lead + j * K
                for r in range(m):
                    pu[r] = 0.0
                for k in range(K):
                    shift = intercept[base + k]
                    for r in range(m):
                        pu[r] += P[k, r] * (Z[base + k, r] + shift)
                for k in range(K):
                    shift = intercept[base + k]
                    acc = 0.0
                    for r in range(m):
                        t = scale[r] * P[k, r] * ((Z[base + k, r] + shift) - pu[r])
                        T[j * K + k, r] = t
                        acc += t
                    acc_intercept[j * K + k] += acc
            rows_axpy(X, a, b, T, OUT)
        if fit_intercept:
            for q in range(n_dir * K):
                OUT[q, d] += acc_intercept[q]


_hessp_driver = parallel_chunks(hessp_chunks)


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
    fit_intercept, n_classes = np.bool_(fit_intercept), np.int64(n_classes)  # see loss_gradient
    args = (y, sw, coef, fit_intercept, n_classes, curvature, V)
    total_of(*_hessp_driver(X, args, chunk_bounds(X, V.size), 1, V.size), out.reshape(out.size))


# --- diagonal of the Hessian ---------------------------------------------------------------------

@jit()
def hessian_diag_chunks(X, y, sw, coef, fit_intercept, n_classes, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`hessian_diag`: ``vectors[c]`` gets chunk ``c``'s diagonal
    (``(K, p)`` flattened)."""
    K = n_classes
    d = n_cols(X)
    p = coef.size // K
    block = _rows_per_block(X, K)
    W = coef.reshape((K, p))
    intercept = _intercepts(W, d, fit_intercept)
    has_sw = sw.size > 0
    Z = np.empty((K, block))
    H = np.empty((K, block))
    z = np.empty(K)
    e = np.empty(K)
    acc_intercept = np.empty(K)
    for c in range(first, last):
        OUT = vectors[c].reshape((K, p))
        acc_intercept[:] = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            rows_dot(X, a, b, W, Z)
            for r in range(b - a):
                s = sw[a + r] if has_sw else 1.0
                for k in range(K):
                    z[k] = Z[k, r] + intercept[k]
                _, top, others = multinomial_row_softmax(z, e)
                inv_total = 1.0 / (1.0 + others)
                for k in range(K):
                    h = s * multinomial_hessian(e, k, top, others, inv_total)
                    H[k, r] = h
                    acc_intercept[k] += h
            for k in range(K):
                rows_sq_axpy(X, a, b, H[k], OUT[k])  # the block is still in cache for each class
        if fit_intercept:
            for k in range(K):
                OUT[k, d] += acc_intercept[k]


_hessian_diag_driver = parallel_chunks(hessian_diag_chunks)


@jit()
def hessian_diag(X, y, sw, coef, fit_intercept, n_classes, out):
    """``out[k, j] = sum_i s_i p_ik (1 - p_ik) x~_ij^2`` (flat, unnormalized), one pass over ``X``."""
    fit_intercept, n_classes = np.bool_(fit_intercept), np.int64(n_classes)  # see loss_gradient
    args = (y, sw, coef, fit_intercept, n_classes)
    total_of(*_hessian_diag_driver(X, args, chunk_bounds(X, coef.size), 1, coef.size), out)


# --- full Hessian --------------------------------------------------------------------------------

@jit()
def hessian(X, y, sw, coef, fit_intercept, n_classes, out):
    """Full unnormalized Hessian into ``out`` (K * p, K * p), rows/cols in C order of ``(K, p)``.

    Block ``(k, l)`` is ``sum_i s_i p_ik (delta_kl - p_il) x~_i x~_i^T``. A block of rows at a
    time (never ``n x d``) is scored and turned into per-row weights serially, then added to the
    upper triangle by the binary Hessian's Gram kernels
    (:func:`~fastloss.kernels.linear.gram_block_add`, with a weight per row and class pair:
    ``s p_k (1 - p_k)`` on the diagonal blocks, ``-s p_k p_l`` off them); the
    lower triangle is mirrored at the end, so ``out`` is exactly symmetric and the same for any
    thread count. Cost ``n (K p)^2 / 2`` multiply-adds.
    """
    fit_intercept, n_classes = np.bool_(fit_intercept), np.int64(n_classes)  # see loss_gradient
    K = n_classes
    n = n_rows(X)
    d = n_cols(X)
    p = coef.size // K
    has_sw = sw.size > 0
    out[:, :] = 0.0
    block, sparse = gram_plan(X, p, K)
    W = coef.reshape((K, p))
    intercept = _intercepts(W, d, fit_intercept)
    XT = np.empty((p, 0 if sparse else block))
    Z = np.empty((K, block))
    Q = np.empty((K, block))
    P = np.empty((K, block))
    Hd = np.empty((K, block))
    z = np.empty(K)
    e = np.empty(K)
    for a in range(0, n, block):
        b = min(n, a + block)
        m = b - a
        rows_dot(X, a, b, W, Z)
        for r in range(m):
            s = sw[a + r] if has_sw else 1.0
            for k in range(K):
                z[k] = Z[k, r] + intercept[k]
            _, top, others = multinomial_row_softmax(z, e)
            inv_total = 1.0 / (1.0 + others)
            for k in range(K):
                prob = e[k] * inv_total
                P[k, r] = prob
                Q[k, r] = s * prob
                Hd[k, r] = s * prob * (multinomial_complement(e, k, top, others) * inv_total)
        gram_block_add(X, a, b, fit_intercept, sparse, XT, Hd, Q, P, out)
    gram_mirror(out)


# --- pointwise (section 2 of the contract) -------------------------------------------------------

@jit()
def pointwise_chunks(y, raw, sw, loss_out, grad_out, hess_out, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`pointwise`: ``totals[c]`` gets chunk ``c``'s
    ``(sum s_i loss_i, sum s_i)`` (``vectors`` is not used)."""
    K = raw.shape[1]
    has_sw = sw.size > 0
    want_loss = loss_out.size > 0
    want_grad = grad_out.size > 0
    want_hess = hess_out.size > 0
    # (n, K) outputs, or (0, K) views of skipped (empty, possibly 1-D) ones.
    G = grad_out.reshape((grad_out.size // K, K))
    H = hess_out.reshape((hess_out.size // K, K))
    z = np.empty(K)
    e = np.empty(K)
    for c in range(first, last):
        acc_loss = 0.0
        acc_weight = 0.0
        for i in range(bounds[c], bounds[c + 1]):
            s = sw[i] if has_sw else 1.0
            yi = np.int64(y[i])  # class labels may arrive as float64 / float32 / int64, read in place
            for k in range(K):
                z[k] = raw[i, k]
            zmax, top, others = multinomial_row_softmax(z, e)
            loss = s * multinomial_row_loss(z, yi, zmax, others)
            acc_loss += loss
            acc_weight += s
            if want_loss:
                loss_out[i] = loss
            inv_total = 1.0 / (1.0 + others)
            if want_grad:
                for k in range(K):
                    G[i, k] = s * multinomial_gradient(e, k, yi, top, others, inv_total)
            if want_hess:
                for k in range(K):
                    H[i, k] = s * multinomial_hessian(e, k, top, others, inv_total)
        totals[c, 0] = acc_loss
        totals[c, 1] = acc_weight


_pointwise_driver = parallel_chunks(pointwise_chunks)


@jit()
def pointwise(y, raw, sw, loss_out, grad_out, hess_out):
    """Weighted per-sample multinomial loss / gradient / Hessian diagonal, and their sums.

    Parameters
    ----------
    y : int64 (n,), class indices in ``[0, K)`` (integer-valued float64 / float32 work too)
    raw : float32/float64 (n, K) C-contiguous raw scores
    sw : float64 (n,) sample weights, or size 0 for unit weights
    loss_out : (n,) receives ``s_i loss_i``, or size 0 to skip
    grad_out : (n, K) receives ``s_i (p_i - onehot(y_i))``, or size 0 to skip
    hess_out : (n, K) receives ``s_i p_i (1 - p_i)``, or size 0 to skip
        (outputs in any float dtype, normally ``raw``'s; values are computed in float64)

    Returns
    -------
    (float, float) : ``sum_i s_i loss_i`` and ``sum_i s_i``, reduced per chunk in chunk order.
    """
    totals, vectors = _pointwise_driver(y, (raw, sw, loss_out, grad_out, hess_out), chunk_bounds(raw, 2), 2, 0)
    sums = np.empty(2)
    combine(totals, vectors, sums, np.empty(0))
    return sums[0], sums[1]
