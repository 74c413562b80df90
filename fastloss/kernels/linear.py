"""Fused, parallel, deterministic kernels of a binary linear model's objective.

Guarantees
    * One pass over ``X`` per call: each block of rows is scored, its pointwise derivatives are
      evaluated, and its contribution to the gradient (or Hessian-vector product) is added while
      the block is still in cache.
    * Deterministic: rows are split into chunks whose boundaries depend on the data only
      (:func:`fastloss.kernels._matrix.chunk_bounds`); each chunk writes its own partial sums, and
      the partials are combined serially in chunk order. The result is bitwise the same for any
      number of threads.
    * float64 accumulation whatever the dtype of ``X``.

Assumptions (the Python layer checks them; these kernels check nothing)
    * ``X`` is a dense C/F array or a CSR tuple (see :mod:`._matrix`) with finite values and, for
      CSR, column indices in ``[0, n_cols)`` and a non-decreasing ``indptr``.
    * ``y`` is float64 ``(n,)`` with values in ``[0, 1]`` (soft labels only for logistic).
    * ``sw`` is float64 ``(n,)`` of non-negative weights, or an empty array for unit weights.
    * ``coef`` is float64 C-contiguous ``(d + fit_intercept,)``, intercept last.

Every kernel returns *unnormalized* sums over samples, ``sum_i s_i (...)``, without the L2
term: the objective divides by ``sum_i s_i`` and adds ``l2 * w``. That split is what lets the
distributed objective add partial sums from many workers.

Each parallel kernel is a thin ``prange`` over chunks around a serial ``*_chunk`` function (which
is also what a caller runs on one chunk of rows, e.g. a dask worker): keeping the parallel body
small keeps Numba's compile time down.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._jit import jit
from ..losses import HESSIAN, VALUE, VALUE_GRADIENT, VALUE_GRADIENT_HESSIAN, pointwise_rows
from ._matrix import (
    block_rows,
    chunk_bounds,
    n_cols,
    n_rows,
    rows_axpy,
    rows_densify,
    rows_dot,
    rows_dot_packed,
    rows_sq_axpy,
    vectors_empty,
    vectors_set,
)


@jit()
def sum_chunks(partial, out):
    """``out[:] = partial[0] + partial[1] + ...`` in chunk order (the deterministic combine)."""
    out[:] = 0.0
    for c in range(partial.shape[0]):
        for j in range(out.size):
            out[j] += partial[c, j]


@jit()
def loss_gradient_chunk(X, y, sw, coef, fit_intercept, loss_id, start, stop,
                        want_gradient, grad_out, curvature_out):
    """Rows ``start:stop`` of :func:`loss_gradient`; *adds* into ``grad_out``, returns the loss sum."""
    d = n_cols(X)
    block = block_rows(X)
    W = coef.reshape((1, coef.size))
    G_out = grad_out.reshape((1, grad_out.size))
    intercept = coef[d] if fit_intercept else 0.0
    want_curvature = curvature_out.size > 0
    Z = np.empty((1, block))
    L = np.empty(block)
    G = np.empty((1, block))
    H = np.empty(block)
    acc_loss = 0.0
    acc_intercept = 0.0
    for a in range(start, stop, block):
        b = min(stop, a + block)
        m = b - a
        rows_dot(X, a, b, W, Z)
        z = Z[0]
        for r in range(m):
            z[r] += intercept
        # A constant mode at each call: each links only its own mode's loops (see pointwise_rows).
        if want_curvature:
            acc_loss += pointwise_rows(loss_id, VALUE_GRADIENT_HESSIAN, y, sw, a, m, z, L, G[0], H)
        elif want_gradient:
            acc_loss += pointwise_rows(loss_id, VALUE_GRADIENT, y, sw, a, m, z, L, G[0], H)
        else:
            acc_loss += pointwise_rows(loss_id, VALUE, y, sw, a, m, z, L, G[0], H)
        if want_gradient:
            g = G[0]
            for r in range(m):
                acc_intercept += g[r]
            rows_axpy(X, a, b, G, G_out)
        if want_curvature:
            for r in range(m):
                curvature_out[a + r] = H[r]
    if want_gradient and fit_intercept:
        grad_out[d] += acc_intercept
    return acc_loss


@jit(parallel=True)
def loss_gradient(X, y, sw, coef, fit_intercept, loss_id, want_gradient, grad_out, curvature_out):
    """Weighted loss sum, and optionally gradient sum and per-sample curvature, in one pass.

    Parameters
    ----------
    X : matrix (dense ``(n, d)`` C/F float32/float64, or CSR tuple)
    y : float64 (n,), labels in [0, 1]
    sw : float64 (n,) sample weights, or size 0 for unit weights
    coef : float64 (d + fit_intercept,)
    fit_intercept : bool
    loss_id : int, a binary loss id of :mod:`fastloss.losses`
    want_gradient : bool; if False ``grad_out`` is not touched
    grad_out : float64 (d + fit_intercept,), overwritten with ``sum_i s_i g_i [x_i, 1]``
    curvature_out : float64 (n,) receives ``s_i * hessian_i``, or size 0 to skip

    Returns
    -------
    float : ``sum_i s_i * loss_i``
    """
    # Constants from a caller's @njit code arrive as Literal types: re-typed here, so that the
    # serial chunk function compiles once, not once more per constant (see _jit.py).
    fit_intercept, loss_id, want_gradient = np.bool_(fit_intercept), np.int64(loss_id), np.bool_(want_gradient)
    bounds = chunk_bounds(X, coef.size)
    n_chunks = bounds.size - 1
    loss_part = np.zeros(n_chunks)
    grad_part = np.zeros((n_chunks, coef.size if want_gradient else 0))
    for c in prange(n_chunks):
        loss_part[c] = loss_gradient_chunk(X, y, sw, coef, fit_intercept, loss_id,
                                           bounds[c], bounds[c + 1], want_gradient,
                                           grad_part[c], curvature_out)
    if want_gradient:
        sum_chunks(grad_part, grad_out)
    total = 0.0
    for c in range(n_chunks):
        total += loss_part[c]
    return total


@jit()
def _hessp_vectors(X, coef, V, cached):
    """The vectors every row is scored against, packed once per call (:func:`vectors_empty`):
    ``coef`` first unless the curvature is cached, then the k directions, so that one read of
    each stored entry serves all the dot products."""
    k, n_coef = V.shape
    first = 1 if cached else 0
    P = vectors_empty(X, k + 1 - first, n_coef)
    if not cached:
        vectors_set(X, P, 0, coef)
    for j in range(k):
        vectors_set(X, P, j + 1 - first, V[j])
    return P


@jit()
def _hessp_rows(X, y, sw, coef, fit_intercept, loss_id, curvature, V, P, start, stop, out):
    """Rows ``start:stop`` of :func:`hessp` with the vectors ``P`` of :func:`_hessp_vectors`;
    *adds* into ``out`` (k, n_coef)."""
    d = n_cols(X)
    block = block_rows(X)
    k = V.shape[0]
    cached = curvature.size > 0
    first = 1 if cached else 0
    intercept = coef[d] if (fit_intercept and not cached) else 0.0
    Z = np.empty((k + 1 - first, block))
    H = np.empty(block)
    T = np.empty((k, block))
    acc_intercept = np.zeros(k)
    for a in range(start, stop, block):
        b = min(stop, a + block)
        m = b - a
        rows_dot_packed(X, a, b, P, Z)
        if cached:
            for r in range(m):
                H[r] = curvature[a + r]
        else:
            z = Z[0]
            for r in range(m):
                z[r] += intercept
            pointwise_rows(loss_id, HESSIAN, y, sw, a, m, z, H, H, H)
        for j in range(k):
            u = Z[j + 1 - first]
            t = T[j]
            shift = V[j, d] if fit_intercept else 0.0
            acc = 0.0
            for r in range(m):
                t[r] = H[r] * (u[r] + shift)
                acc += t[r]
            acc_intercept[j] += acc
        rows_axpy(X, a, b, T, out)
    if fit_intercept:
        for j in range(k):
            out[j, d] += acc_intercept[j]


@jit()
def hessp_chunk(X, y, sw, coef, fit_intercept, loss_id, curvature, V, start, stop, out):
    """Rows ``start:stop`` of :func:`hessp`; *adds* into ``out`` (k, n_coef)."""
    P = _hessp_vectors(X, coef, V, curvature.size > 0)
    _hessp_rows(X, y, sw, coef, fit_intercept, loss_id, curvature, V, P, start, stop, out)


@jit(parallel=True)
def hessp(X, y, sw, coef, fit_intercept, loss_id, curvature, V, out):
    """Hessian-vector products ``out[k] = sum_i h_i (x~_i . V[k]) x~_i`` for k directions.

    ``x~_i = [x_i, 1]`` with intercept. ``h_i = curvature[i]`` when ``curvature`` has size n
    (as written by :func:`loss_gradient`); otherwise (size 0) ``h_i = s_i hessian(y_i, x~_i.coef)``
    is computed on the fly, from the same read of the row.

    V : float64 (k, n_coef) C-contiguous; out : float64 (k, n_coef), overwritten.
    """
    fit_intercept, loss_id = np.bool_(fit_intercept), np.int64(loss_id)  # see loss_gradient
    k, n_coef = V.shape
    bounds = chunk_bounds(X, k * n_coef)
    n_chunks = bounds.size - 1
    P = _hessp_vectors(X, coef, V, curvature.size > 0)  # once, shared read-only by all chunks
    part = np.zeros((n_chunks, k, n_coef))
    for c in prange(n_chunks):
        _hessp_rows(X, y, sw, coef, fit_intercept, loss_id, curvature, V, P,
                    bounds[c], bounds[c + 1], part[c])
    sum_chunks(part.reshape((n_chunks, k * n_coef)), out.reshape(k * n_coef))


@jit()
def hessian_diag_chunk(X, y, sw, coef, fit_intercept, loss_id, start, stop, out):
    """Rows ``start:stop`` of :func:`hessian_diag`; *adds* into ``out``."""
    d = n_cols(X)
    block = block_rows(X)
    W = coef.reshape((1, coef.size))
    intercept = coef[d] if fit_intercept else 0.0
    Z = np.empty((1, block))
    H = np.empty(block)
    acc_intercept = 0.0
    for a in range(start, stop, block):
        b = min(stop, a + block)
        m = b - a
        rows_dot(X, a, b, W, Z)
        z = Z[0]
        for r in range(m):
            z[r] += intercept
        pointwise_rows(loss_id, HESSIAN, y, sw, a, m, z, H, H, H)
        for r in range(m):
            acc_intercept += H[r]
        rows_sq_axpy(X, a, b, H, out)
    if fit_intercept:
        out[d] += acc_intercept


@jit(parallel=True)
def hessian_diag(X, y, sw, coef, fit_intercept, loss_id, out):
    """``out = sum_i s_i h_i x~_i ** 2`` (diagonal of the unnormalized Hessian), one pass."""
    fit_intercept, loss_id = np.bool_(fit_intercept), np.int64(loss_id)  # see loss_gradient
    bounds = chunk_bounds(X, coef.size)
    n_chunks = bounds.size - 1
    part = np.zeros((n_chunks, coef.size))
    for c in prange(n_chunks):
        hessian_diag_chunk(X, y, sw, coef, fit_intercept, loss_id, bounds[c], bounds[c + 1], part[c])
    sum_chunks(part, out)


@jit()
def _gram_rows(D, h, a, m, j, out_row):
    p = D.shape[1]
    for r in range(m):
        hx = h[a + r] * D[r, j]
        if hx != 0.0:
            for q in range(j, p):
                out_row[q] += hx * D[r, q]


@jit(parallel=True)
def weighted_gram(X, h, fit_intercept, out):
    """``out = X~^T diag(h) X~`` (``X~ = [X, 1]`` with intercept), deterministic.

    Blocks of rows are densified one after the other; within a block the rows of ``out`` are
    split among threads, each output element summed by one thread in row order. Cost
    ``n * n_coef^2 / 2``; memory ``n_coef^2`` plus one block of about 1 MiB.
    """
    n = n_rows(X)
    d = n_cols(X)
    p = d + (1 if fit_intercept else 0)
    out[:, :] = 0.0
    block = max(1, min(n, (1 << 17) // max(p, 1)))
    D = np.empty((block, p))
    for a in range(0, n, block):
        b = min(n, a + block)
        rows_densify(X, a, b, D)
        if fit_intercept:
            D[: b - a, d] = 1.0
        for j in prange(p):
            _gram_rows(D, h, a, b - a, j, out[j])
    for j in range(p):
        for q in range(j + 1, p):
            out[q, j] = out[j, q]


@jit()
def hessian(X, y, sw, coef, fit_intercept, loss_id, out):
    """Full unnormalized Hessian ``X~^T diag(s h) X~`` into ``out`` (n_coef, n_coef)."""
    fit_intercept, loss_id = np.bool_(fit_intercept), np.int64(loss_id)  # see loss_gradient
    curvature = np.empty(n_rows(X))
    loss_gradient(X, y, sw, coef, fit_intercept, loss_id, np.bool_(False), np.empty(0), curvature)
    weighted_gram(X, curvature, fit_intercept, out)
