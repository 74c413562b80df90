"""Parallel pointwise kernels over raw predictions (section 2 of the contract).

Each output element depends on one sample only, so the outputs are trivially deterministic;
the weighted loss sum of :func:`binary_pointwise` is reduced per chunk (boundaries from ``n``
only) and combined in chunk order, so ``mean_loss`` is bitwise the same for any thread count.

Assumes validated input: ``y`` float64 ``(n,)`` in ``[0, 1]``, ``raw`` float32/float64 ``(n,)``,
``sw`` float64 ``(n,)`` or size 0, outputs of size ``n`` (or 0 to skip) in ``raw``'s dtype.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .. import _config
from .._jit import jit
from ..losses import VALUE, VALUE_GRADIENT, VALUE_GRADIENT_HESSIAN, pointwise_rows
from ._matrix import _dense_chunk_bounds


@jit()
def binary_pointwise_chunk(y, raw, sw, loss_id, start, stop, loss_out, grad_out, hess_out):
    """Rows ``start:stop`` of :func:`binary_pointwise`; returns (sum s_i loss_i, sum s_i)."""
    want_loss = loss_out.size > 0
    want_grad = grad_out.size > 0
    want_hess = hess_out.size > 0
    if want_hess:
        mode = VALUE_GRADIENT_HESSIAN
    elif want_grad:
        mode = VALUE_GRADIENT
    else:
        mode = VALUE
    block = _config.MAX_BLOCK_ROWS
    z = np.empty(block)
    L = np.empty(block)
    G = np.empty(block)
    H = np.empty(block)
    acc_loss = 0.0
    for a in range(start, stop, block):
        m = min(stop, a + block) - a
        for r in range(m):
            z[r] = raw[a + r]
        acc_loss += pointwise_rows(loss_id, mode, y, sw, a, m, z, L, G, H)
        if want_loss:
            for r in range(m):
                loss_out[a + r] = L[r]
        if want_grad:
            for r in range(m):
                grad_out[a + r] = G[r]
        if want_hess:
            for r in range(m):
                hess_out[a + r] = H[r]
    if sw.size > 0:
        acc_weight = 0.0
        for i in range(start, stop):
            acc_weight += sw[i]
    else:
        acc_weight = float(stop - start)
    return acc_loss, acc_weight


@jit(parallel=True)
def binary_pointwise(y, raw, sw, loss_id, loss_out, grad_out, hess_out):
    """Weighted per-sample loss / gradient / hessian of a binary loss, and their sums.

    Writes ``loss_out[i] = s_i loss_i``, ``grad_out[i] = s_i dloss_i/dz``,
    ``hess_out[i] = s_i d2loss_i/dz2`` for each output of size n (size 0: skipped).

    Returns
    -------
    (float, float) : ``sum_i s_i loss_i`` and ``sum_i s_i``, each in chunk order.
    """
    # A constant loss id from a caller's @njit code arrives as a Literal type: re-typed here, so
    # that the chunk function (and pointwise_rows) compile once, not once more per constant.
    loss_id = np.int64(loss_id)
    bounds = _dense_chunk_bounds(raw.size)
    n_chunks = bounds.size - 1
    part = np.zeros((n_chunks, 2))
    for c in prange(n_chunks):
        part[c, 0], part[c, 1] = binary_pointwise_chunk(
            y, raw, sw, loss_id, bounds[c], bounds[c + 1], loss_out, grad_out, hess_out)
    loss_sum = 0.0
    weight_sum = 0.0
    for c in range(n_chunks):
        loss_sum += part[c, 0]
        weight_sum += part[c, 1]
    return loss_sum, weight_sum
