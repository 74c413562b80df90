"""Parallel pointwise kernels over raw predictions (section 2 of the contract).

Each output element depends on one sample only, so the outputs are trivially deterministic;
the weighted loss sum of :func:`binary_pointwise` is reduced per chunk (boundaries from ``n``
only) and combined in chunk order, so ``mean_loss`` is bitwise the same for any thread count.

Assumes validated input: ``y`` float64 ``(n,)`` in ``[0, 1]``, ``raw`` float32/float64 ``(n,)``,
``sw`` float64 ``(n,)`` or size 0, outputs of size ``n`` (or 0 to skip) in ``raw``'s dtype.
"""

from __future__ import annotations

import numpy as np

from .. import _config
from .._jit import jit
from ._chunks import combine, parallel_chunks
from ._loops import check_loop, mode_of, pointwise_rows
from ._matrix import chunk_bounds


@jit()
def binary_pointwise_chunks(y, raw, sw, loss_id, loss_out, grad_out, hess_out, plus_minus,
                            bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`binary_pointwise`: ``totals[c]`` gets chunk ``c``'s
    ``(sum s_i loss_i, sum s_i)`` (``vectors`` is not used).

    ``y`` may be any real dtype (float64 in [0, 1] for the kernel; the Python API passes long
    float32 / int64 labels as they are), with ``plus_minus`` for -1/+1 labels: each block of labels
    (and of weights) is converted into float64 scratch as it is read, so no array of the size of
    ``y`` is made.
    """
    want_loss = loss_out.size > 0
    want_grad = grad_out.size > 0
    want_hess = hess_out.size > 0
    mode = mode_of(want_grad, want_hess)
    block = _config.MAX_BLOCK_ROWS
    has_sw = sw.size > 0
    y_block = np.empty(block)
    sw_block = np.empty(block if has_sw else 0)
    z = np.empty(block)
    L = np.empty(block)
    G = np.empty(block)
    H = np.empty(block)
    for c in range(first, last):
        start, stop = bounds[c], bounds[c + 1]
        acc_loss = 0.0
        for a in range(start, stop, block):
            m = min(stop, a + block) - a
            for r in range(m):
                z[r] = raw[a + r]
                label = np.float64(y[a + r])
                y_block[r] = (label + 1.0) * 0.5 if plus_minus else label
            if has_sw:
                for r in range(m):
                    sw_block[r] = sw[a + r]
            acc_loss += pointwise_rows(loss_id, mode, y_block, sw_block, 0, m, z, L, G, H)
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
        totals[c, 0] = acc_loss
        totals[c, 1] = acc_weight


_driver = parallel_chunks(binary_pointwise_chunks)


@jit()
def binary_pointwise(y, raw, sw, loss_id, loss_out, grad_out, hess_out):
    """Weighted per-sample loss / gradient / hessian of a binary loss, and their sums.

    Writes ``loss_out[i] = s_i loss_i``, ``grad_out[i] = s_i dloss_i/dz``,
    ``hess_out[i] = s_i d2loss_i/dz2`` for each output of size n (size 0: skipped).

    Returns
    -------
    (float, float) : ``sum_i s_i loss_i`` and ``sum_i s_i``, each in chunk order.
    """
    # A constant loss id from a caller's @njit code arrives as a Literal type: re-typed here, so
    # that the chunk function compiles once, not once more per constant.
    loss_id = np.int64(loss_id)
    check_loop(loss_id, mode_of(grad_out.size > 0, hess_out.size > 0))
    args = (sw, loss_id, loss_out, grad_out, hess_out, np.bool_(False))
    totals, vectors = _driver(y, raw, args, chunk_bounds(raw, 2), 2, 0)
    sums = np.empty(2)
    combine(totals, vectors, sums, np.empty(0))
    return sums[0], sums[1]
