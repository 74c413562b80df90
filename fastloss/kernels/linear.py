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
    * ``X`` is a dense C/F array or a :class:`CSR` (see :mod:`._matrix`) with finite values and, for
      CSR, column indices in ``[0, n_cols)`` and a non-decreasing ``indptr``.
    * ``y`` is float64 ``(n,)`` with values in ``[0, 1]`` (soft labels only for logistic).
    * ``sw`` is float64 ``(n,)`` of non-negative weights, or an empty array for unit weights.
    * ``coef`` is float64 C-contiguous ``(d + fit_intercept,)``, intercept last.

Every kernel returns *unnormalized* sums over samples, ``sum_i s_i (...)``, without the L2
term: the objective divides by ``sum_i s_i`` and adds ``l2 * w``. That split is what lets the
distributed objective add partial sums from many workers.

Each kernel is a serial ``*_chunks`` function that processes a range of row chunks (the
protocol of :mod:`._chunks`), which the Python API runs on its thread pool, and a ``prange``
driver of the same name for callers in compiled code. No kernel links a loss: the
loss's loop for a block is called through :mod:`._loops` (``loss_id`` is a run-time value), so
each kernel compiles once per matrix type for every binary loss, and a loss must be prepared
(:func:`fastloss.kernels.prepare`) before a kernel runs it.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._jit import jit
from ._chunks import parallel_chunks, total_of
from ._loops import HESSIAN, check_loop, mode_of, pointwise_rows
from ._matrix import (
    block_rows,
    chunk_bounds,
    n_cols,
    n_rows,
    rows_axpy_each,
    rows_densify,
    rows_dot_each,
    rows_dot_packed,
    rows_sq_axpy,
    vectors_empty,
    vectors_set,
)


@jit()
def loss_gradient_chunks(X, y, sw, coef, fit_intercept, loss_id, want_gradient, curvature_out,
                         bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`loss_gradient`: ``totals[c, 0]`` gets chunk ``c``'s loss
    sum, ``vectors[c]`` its gradient sum (when ``want_gradient``), ``curvature_out`` its rows'
    curvature (when not empty)."""
    d = n_cols(X)
    block = block_rows(X)
    intercept = coef[d] if fit_intercept else 0.0
    want_curvature = curvature_out.size > 0
    z = np.empty(block)
    L = np.empty(block)
    g = np.empty(block)
    H = np.empty(block)
    mode = mode_of(want_gradient, want_curvature)
    for c in range(first, last):
        grad_out = vectors[c]
        acc_loss = 0.0
        acc_intercept = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            rows_dot_each(X, a, b, coef, z)
            for r in range(m):
                z[r] += intercept
            acc_loss += pointwise_rows(loss_id, mode, y, sw, a, m, z, L, g, H)
            if want_gradient:
                for r in range(m):
                    acc_intercept += g[r]
                rows_axpy_each(X, a, b, g, grad_out)
            if want_curvature:
                for r in range(m):
                    curvature_out[a + r] = H[r]
        if want_gradient and fit_intercept:
            grad_out[d] += acc_intercept
        totals[c, 0] = acc_loss


_loss_gradient_driver = parallel_chunks(loss_gradient_chunks)


@jit()
def loss_gradient(X, y, sw, coef, fit_intercept, loss_id, want_gradient, grad_out, curvature_out):
    """Weighted loss sum, and optionally gradient sum and per-sample curvature, in one pass.

    Parameters
    ----------
    X : matrix (dense ``(n, d)`` C/F float32/float64, or :class:`CSR`)
    y : float64 (n,), labels in [0, 1]
    sw : float64 (n,) sample weights, or size 0 for unit weights
    coef : float64 (d + fit_intercept,)
    fit_intercept : bool
    loss_id : int, a binary loss id of :mod:`fastloss.losses` (prepared: see the package doc)
    want_gradient : bool; if False ``grad_out`` is not touched
    grad_out : float64 (d + fit_intercept,), overwritten with ``sum_i s_i g_i [x_i, 1]``
    curvature_out : float64 (n,) receives ``s_i * hessian_i``, or size 0 to skip

    Returns
    -------
    float : ``sum_i s_i * loss_i``
    """
    # Constants from a caller's @njit code arrive as Literal types: re-typed here, so that the
    # serial chunks function compiles once, not once more per constant (see _jit.py).
    fit_intercept, loss_id, want_gradient = np.bool_(fit_intercept), np.int64(loss_id), np.bool_(want_gradient)
    check_loop(loss_id, mode_of(want_gradient, curvature_out.size > 0))
    args = (y, sw, coef, fit_intercept, loss_id, want_gradient, curvature_out)
    totals, vectors = _loss_gradient_driver(X, args, chunk_bounds(X, coef.size), 1, coef.size if want_gradient else 0)
    return total_of(totals, vectors, grad_out)


@jit()
def _hessp_vectors(X, coef, V, cached):
    """The vectors every row is scored against, packed (:func:`vectors_empty`): ``coef`` first
    unless the curvature is cached, then the k directions, so that one read of each stored
    entry serves all the dot products."""
    k, n_coef = V.shape
    first = 1 if cached else 0
    P = vectors_empty(X, k + 1 - first, n_coef)
    if not cached:
        vectors_set(X, P, 0, coef)
    for j in range(k):
        vectors_set(X, P, j + 1 - first, V[j])
    return P


@jit()
def hessp_chunks(X, y, sw, coef, fit_intercept, loss_id, curvature, V, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`hessp`: ``vectors[c]`` gets chunk ``c``'s products, the
    ``(k, n_coef)`` array flattened (``totals`` is not used)."""
    d = n_cols(X)
    block = block_rows(X)
    k, n_coef = V.shape
    cached = curvature.size > 0
    lead = 1 if cached else 0
    intercept = coef[d] if (fit_intercept and not cached) else 0.0
    P = _hessp_vectors(X, coef, V, cached)  # once per range of chunks
    Z = np.empty((k + 1 - lead, block))
    H = np.empty(block)
    T = np.empty((k, block))
    acc_intercept = np.empty(k)
    for c in range(first, last):
        out = vectors[c].reshape((k, n_coef))
        acc_intercept[:] = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            rows_dot_packed(X, a, b, P, Z)
            if cached:
                for r in range(m):
                    H[r] = curvature[a + r]
            else:
                z = Z[0]
                for r in range(m):
                    z[r] += intercept
                pointwise_rows(loss_id, np.int64(HESSIAN), y, sw, a, m, z, H, H, H)
            for j in range(k):
                u = Z[j + 1 - lead]
                t = T[j]
                shift = V[j, d] if fit_intercept else 0.0
                acc = 0.0
                for r in range(m):
                    t[r] = H[r] * (u[r] + shift)
                    acc += t[r]
                acc_intercept[j] += acc
            rows_axpy_each(X, a, b, T, out)
        if fit_intercept:
            for j in range(k):
                out[j, d] += acc_intercept[j]


_hessp_driver = parallel_chunks(hessp_chunks)


@jit()
def hessp(X, y, sw, coef, fit_intercept, loss_id, curvature, V, out):
    """Hessian-vector products ``out[k] = sum_i h_i (x~_i . V[k]) x~_i`` for k directions.

    ``x~_i = [x_i, 1]`` with intercept. ``h_i = curvature[i]`` when ``curvature`` has size n
    (as written by :func:`loss_gradient`); otherwise (size 0) ``h_i = s_i hessian(y_i, x~_i.coef)``
    is computed on the fly, from the same read of the row.

    V : float64 (k, n_coef) C-contiguous; out : float64 (k, n_coef), overwritten.
    """
    fit_intercept, loss_id = np.bool_(fit_intercept), np.int64(loss_id)  # see loss_gradient
    if curvature.size == 0:
        check_loop(loss_id, HESSIAN)
    args = (y, sw, coef, fit_intercept, loss_id, curvature, V)
    total_of(*_hessp_driver(X, args, chunk_bounds(X, V.size), 1, V.size), out.reshape(out.size))


@jit()
def hessian_diag_chunks(X, y, sw, coef, fit_intercept, loss_id, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`hessian_diag`: ``vectors[c]`` gets chunk ``c``'s diagonal."""
    d = n_cols(X)
    block = block_rows(X)
    intercept = coef[d] if fit_intercept else 0.0
    z = np.empty(block)
    H = np.empty(block)
    for c in range(first, last):
        out = vectors[c]
        acc_intercept = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            rows_dot_each(X, a, b, coef, z)
            for r in range(m):
                z[r] += intercept
            pointwise_rows(loss_id, np.int64(HESSIAN), y, sw, a, m, z, H, H, H)
            for r in range(m):
                acc_intercept += H[r]
            rows_sq_axpy(X, a, b, H, out)
        if fit_intercept:
            out[d] += acc_intercept


_hessian_diag_driver = parallel_chunks(hessian_diag_chunks)


@jit()
def hessian_diag(X, y, sw, coef, fit_intercept, loss_id, out):
    """``out = sum_i s_i h_i x~_i ** 2`` (diagonal of the unnormalized Hessian), one pass."""
    fit_intercept, loss_id = np.bool_(fit_intercept), np.int64(loss_id)  # see loss_gradient
    check_loop(loss_id, HESSIAN)
    args = (y, sw, coef, fit_intercept, loss_id)
    total_of(*_hessian_diag_driver(X, args, chunk_bounds(X, coef.size), 1, coef.size), out)


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
