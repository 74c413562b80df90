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

from .._jit import jit
from ..losses import gradient as point_gradient
from ..losses import hessian as point_hessian
from ..losses import value as point_value
from ._matrix import _dense_chunk_bounds


@jit()
def binary_pointwise_chunk(y, raw, sw, loss_id, start, stop, loss_out, grad_out, hess_out):
    """Rows ``start:stop`` of :func:`binary_pointwise`; returns (sum s_i loss_i, sum s_i)."""
    has_sw = sw.size > 0
    want_loss = loss_out.size > 0
    want_grad = grad_out.size > 0
    want_hess = hess_out.size > 0
    acc_loss = 0.0
    acc_weight = 0.0
    for i in range(start, stop):
        s = sw[i] if has_sw else 1.0
        z = np.float64(raw[i])
        loss = s * point_value(loss_id, y[i], z)
        acc_loss += loss
        acc_weight += s
        if want_loss:
            loss_out[i] = loss
        if want_grad:
            grad_out[i] = s * point_gradient(loss_id, y[i], z)
        if want_hess:
            hess_out[i] = s * point_hessian(loss_id, y[i], z)
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
