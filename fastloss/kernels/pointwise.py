"""Parallel pointwise kernels over raw predictions (section 2 of the contract).

Each output element depends on one sample only, so the outputs are trivially deterministic;
the weighted loss sum is reduced per chunk (boundaries from ``n`` only) and combined in chunk
order, so ``mean_loss`` is bitwise the same for any thread count.

One pass does everything: while a block of samples is copied into float64 scratch, the chunk
functions also *count* what the validation layer would refuse (non-finite scores, labels the
loss does not take, bad weights) into the chunk's totals (columns :data:`TOTALS`). The Python API
(:mod:`fastloss.pointwise`) runs them on unchecked labels, scores and weights, and only when a
count is not zero runs the precise checks, which name the entry and raise. So the kernels must
be harmless on any input of the right shapes: a binary label is only used as a number, and a
class label is used as an index only after it was found to be an integer in ``[0, K)`` (class 0
stands in for a bad one). Inputs are never written.

Assumes (the caller guarantees): ``raw`` float32/float64 ``(n,)`` (binary) or C-contiguous
``(n, K)`` (multinomial); ``y`` ``(n,)`` of any real dtype, ``sw`` ``(n,)`` or size 0, outputs of
size ``n`` / ``n * K`` (or 0 to skip) in any float dtype, normally ``raw``'s. Valid labels are
binary: ``{0, 1}``, ``[0, 1]`` (soft) or ``{-1, +1}`` (a -1 is read as 0, any other label as it
is, so no convention needs to be known in advance); multinomial: class indices.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from .. import _config
from .._jit import jit
from ..losses import (
    multinomial_block_exp,
    multinomial_block_max,
    multinomial_gradient_of,
    multinomial_hessian_of,
    multinomial_loss_of,
)
from ._chunks import combine, parallel_chunks
from ._loops import check_loop, mode_of, pointwise_rows
from ._matrix import _prefetch, chunk_bounds
from ._transpose import TILE, columns_to_rows, line_aligned_empty, rows_to_columns

#: The columns of a chunk's totals, in this order: the sums, then the counts of invalid input.
#: ``y_*`` count binary labels (multinomial: ``y_bad`` counts labels that are no class index).
TOTALS = ("loss", "weight", "raw_nonfinite", "sw_nonfinite", "sw_negative", "sw_positive",
          "y_nonfinite", "y_negative", "y_not_pm1", "y_not_01", "y_above_one")
N_TOTALS = len(TOTALS)
_Y_BAD = TOTALS.index("y_nonfinite")


@jit()
def _weights_block(sw, a, m, totals, c):
    """Add the sum of ``sw[a:a + m]`` and its counts to ``totals[c]``."""
    total = 0.0
    nonfinite = 0
    negative = 0
    positive = 0
    here = sw[a:a + m]
    for r in range(m):
        w = here[r]
        total += w
        nonfinite += not np.isfinite(w)
        negative += w < 0.0
        positive += w > 0.0
    totals[c, 1] += total
    totals[c, 3] += nonfinite
    totals[c, 4] += negative
    totals[c, 5] += positive


def _block_of(a, start, m, scratch):
    """``a[start:start + m]`` as float64: a view of ``a`` when it is float64, else ``scratch[:m]``
    (which the caller fills, or flushes into ``a``, with :func:`_copy_in` / :func:`_copy_out`)."""


@overload(_block_of)
def _block_of_overload(a, start, m, scratch):
    if a.dtype == types.float64:
        return lambda a, start, m, scratch: a[start:start + m]
    return lambda a, start, m, scratch: scratch[:m]


def _copy_in(a, start, m, scratch):
    """``scratch[:m] = a[start:start + m]`` unless ``a`` is float64 (then :func:`_block_of` is a view)."""


@overload(_copy_in)
def _copy_in_overload(a, start, m, scratch):
    if a.dtype == types.float64:
        return lambda a, start, m, scratch: None

    def copy_in(a, start, m, scratch):
        here = a[start:start + m]
        for r in range(m):
            scratch[r] = here[r]

    return copy_in


def _copy_out(a, start, m, scratch):
    """``a[start:start + m] = scratch[:m]`` unless ``a`` is float64 (written in place)."""


@overload(_copy_out)
def _copy_out_overload(a, start, m, scratch):
    if a.dtype == types.float64:
        return lambda a, start, m, scratch: None

    def copy_out(a, start, m, scratch):
        here = a[start:start + m]
        for r in range(m):
            here[r] = scratch[r]

    return copy_out


def _labels_of(y, start, m, scratch, has_negative):
    """Labels ``y[start:start + m]`` in ``[0, 1]`` as float64: a view of float64 ``y`` without a
    negative label in the block, else ``scratch[:m]`` filled with ``max(y, 0)`` (-1 -> 0)."""


@jit()
def _labels_converted(y, start, m, scratch):
    here = y[start:start + m]
    for r in range(m):
        scratch[r] = max(np.float64(here[r]), 0.0)
    return scratch[:m]


@overload(_labels_of)
def _labels_of_overload(y, start, m, scratch, has_negative):
    if y.dtype == types.float64:
        def labels(y, start, m, scratch, has_negative):
            if has_negative:
                return _labels_converted(y, start, m, scratch)
            return y[start:start + m]

        return labels
    return lambda y, start, m, scratch, has_negative: _labels_converted(y, start, m, scratch)


@jit()
def binary_pointwise_chunks(y, raw, sw, loss_id, loss_out, grad_out, hess_out,
                            bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`binary_pointwise`: ``totals[c]`` gets chunk ``c``'s
    :data:`TOTALS` (``vectors`` is not used).

    Per block of samples, one loop counts invalid labels, scores and weights (it vectorizes),
    then the loss's loop runs on the block. float64 inputs
    and outputs are used in place; other dtypes, and blocks with -1 labels, go through float64
    scratch of the block's size (no array of the size of ``y`` is made).
    """
    want_loss = loss_out.size > 0
    want_grad = grad_out.size > 0
    want_hess = hess_out.size > 0
    mode = mode_of(want_grad, want_hess)
    block = _config.MAX_BLOCK_ROWS
    has_sw = sw.size > 0
    y_block = np.empty(block)
    z_block = np.empty(block)
    L_block = np.empty(block)
    G_block = np.empty(block)
    H_block = np.empty(block)
    for c in range(first, last):
        start, stop = bounds[c], bounds[c + 1]
        acc_loss = 0.0
        raw_nonfinite = 0
        nonfinite = 0
        negative = 0
        not_pm1 = 0
        not_01 = 0
        above_one = 0
        for a in range(start, stop, block):
            m = min(stop, a + block) - a
            negative_before = negative
            # Views, indexed from 0: ``y[a + r]`` compiled to gathers (the index could be negative).
            y_here = y[a:a + m]
            raw_here = raw[a:a + m]
            for r in range(m):
                v = np.float64(y_here[r])
                # Counts, not branches: the loop vectorizes.
                nonfinite += not np.isfinite(v)
                negative += v < 0.0
                not_pm1 += (v != 1.0) & (v != -1.0)
                not_01 += (v != 0.0) & (v != 1.0)
                above_one += v > 1.0
                raw_nonfinite += not np.isfinite(raw_here[r])
            if has_sw:
                _weights_block(sw, a, m, totals, c)
            _copy_in(raw, a, m, z_block)
            # The loop of a mode writes all of its outputs (the value too): skipped ones go to scratch.
            L = _block_of(loss_out, a, m, L_block) if want_loss else L_block[:m]
            G = _block_of(grad_out, a, m, G_block) if want_grad else G_block[:m]
            H = _block_of(hess_out, a, m, H_block) if want_hess else H_block[:m]
            acc_loss += pointwise_rows(loss_id, mode, _labels_of(y, a, m, y_block, negative > negative_before),
                                       sw[a:a + m] if has_sw else sw, 0, m, _block_of(raw, a, m, z_block),
                                       L, G, H)
            if want_loss:
                _copy_out(loss_out, a, m, L_block)
            if want_grad:
                _copy_out(grad_out, a, m, G_block)
            if want_hess:
                _copy_out(hess_out, a, m, H_block)
        totals[c, 0] = acc_loss
        if not has_sw:
            totals[c, 1] = stop - start
        totals[c, 2] = raw_nonfinite
        totals[c, 6] = nonfinite
        totals[c, 7] = negative
        totals[c, 8] = not_pm1
        totals[c, 9] = not_01
        totals[c, 10] = above_one


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
    args = (sw, loss_id, loss_out, grad_out, hess_out)
    totals, vectors = _driver(y, raw, args, chunk_bounds(raw, 2), N_TOTALS, 0)
    sums = np.empty(N_TOTALS)
    combine(totals, vectors, sums, np.empty(0))
    return sums[0], sums[1]


@jit()
def _class_index(v, n_classes):
    """``(ok, index)``: whether label ``v`` is a class index in ``[0, n_classes)``, and it (0 if not)."""
    v = np.float64(v)
    ok = (v >= 0.0) & (v < n_classes) & (v == np.floor(v))  # nan fails every comparison
    return ok, np.int64(v) if ok else 0


@jit()
def multinomial_block_rows(n_classes):
    """Rows per transposed block of :func:`multinomial_pointwise_chunks`:
    ``_config.MULTINOMIAL_BLOCK_ROWS``, fewer when that would pass
    ``_config.MULTINOMIAL_BLOCK_MAX_SCORES`` scores, a multiple of the transposition's tile (a
    function of ``K`` only, so the blocks, like the chunks, do not depend on the thread count)."""
    rows = min(_config.MULTINOMIAL_BLOCK_ROWS, _config.MULTINOMIAL_BLOCK_MAX_SCORES // max(n_classes, 1))
    return max(TILE, rows - rows % TILE)


@jit()
def _request_lines(flat, start, stop, for_writing):
    """Ask for the cache lines of ``flat[start:stop]`` (clipped to ``flat``), to be read or written."""
    step = max(1, 64 // flat.itemsize)
    for q in range(start, min(stop, flat.size), step):
        if for_writing:
            _prefetch(flat, q, 1)
        else:
            _prefetch(flat, q, 0)


@jit()
def multinomial_pointwise_chunks(y, raw, sw, loss_out, grad_out, hess_out, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`multinomial_pointwise`: ``totals[c]`` gets chunk ``c``'s
    :data:`TOTALS` (``y_nonfinite`` counts every label that is not a class index in ``[0, K)``).

    A block of rows (:func:`multinomial_block_rows`) is transposed into ``(K, rows)`` float64
    scratch (:func:`fastloss.kernels._transpose.rows_to_columns`, tiles of shuffles), so that
    every loop runs over the rows of the block with the class fixed: the softmax
    (:func:`fastloss.losses.multinomial_block_softmax`; its first step also counts the scores that
    are not finite), the loss, the Hessian diagonal. They
    vectorize for any ``K``, where a loop over the ``K = 10`` classes of one row hardly does. The
    gradient is scaled while it is transposed back into the output
    (:func:`~fastloss.kernels._transpose.columns_to_rows` with the rows' factors ``s / (1 + others)``),
    then each row's label entry is overwritten with ``-s (1 - p_y)`` from the complementary sum.
    """
    K = raw.shape[1]
    has_sw = sw.size > 0
    want_loss = loss_out.size > 0
    want_grad = grad_out.size > 0
    want_hess = hess_out.size > 0
    block = multinomial_block_rows(K)
    # Scratch rows start on cache lines (``block`` is a multiple of 8): whole lines for the tiles
    # and the vector loops.
    E = line_aligned_empty(K * block, np.float64).reshape((K, block))  # scores, then exponentials
    Q = line_aligned_empty(K * block if want_hess else 0, np.float64).reshape((K if want_hess else 0, block))
    zmax = line_aligned_empty(block, np.float64)
    top = line_aligned_empty(block, np.int64)
    others = line_aligned_empty(block, np.float64)
    label = line_aligned_empty(block, np.int64)
    zy = line_aligned_empty(block, np.float64)  # the label's score, the loss, the label's gradient
    weight = line_aligned_empty(block, np.float64)
    weight[:] = 1.0
    scale = line_aligned_empty(block, np.float64)
    inv_total = line_aligned_empty(block, np.float64)
    n_classes = np.float64(K)
    E_flat = E.reshape(E.size)
    Q_flat = Q.reshape(Q.size)
    raw_flat = raw.reshape(raw.size)
    grad_flat = grad_out.reshape(grad_out.size)
    hess_flat = hess_out.reshape(hess_out.size)
    for c in range(first, last):
        start, stop = bounds[c], bounds[c + 1]
        acc_loss = 0.0
        raw_nonfinite = 0
        bad = 0
        for a in range(start, stop, block):
            m = min(stop, a + block) - a
            rows_to_columns(raw_flat, a, m, K, E_flat, block)
            # Views indexed from 0 (``y[a + r]`` compiles to gathers: the index could be negative).
            y_here = y[a:a + m]
            for r in range(m):
                ok, label[r] = _class_index(y_here[r], n_classes)  # used as an index only when it is one
                bad += not ok
            for r in range(m):
                zy[r] = E[label[r], r]
            if has_sw:
                _weights_block(sw, a, m, totals, c)
                sw_here = sw[a:a + m]
                for r in range(m):
                    weight[r] = sw_here[r]
            # The softmax, with the next block's scores and output rows requested from memory a
            # few lines per class: the exponentials take long enough to hide the memory's latency
            # (requested all at once, the lines stalled the core; left to the hardware, the block's
            # memory traffic and its arithmetic did not overlap: docs/performance.md).
            # The raw scores that are not finite, counted on their float64 copies in E (converting
            # a float32 score keeps it finite or not).
            raw_nonfinite += multinomial_block_max(E, m, zmax, top, others)
            ahead = (a + block) * K  # the next block's first score; class k asks for m of its values
            _request_lines(y, a + block, a + 2 * block, False)
            _request_lines(loss_out, a + block, a + 2 * block, True)
            for k in range(K):
                q = ahead + k * m
                _request_lines(raw_flat, q, q + m, False)
                _request_lines(grad_flat, q, q + m, True)
                _request_lines(hess_flat, q, q + m, True)
                multinomial_block_exp(E, k, m, zmax, top, others)
            for r in range(m):
                w = weight[r]
                scale[r] = w / (1.0 + others[r])
                loss = w * multinomial_loss_of(zmax[r], zy[r], others[r])
                acc_loss += loss
                zy[r] = loss
            if want_loss:
                loss_here = loss_out[a:a + m]
                for r in range(m):
                    loss_here[r] = zy[r]
            if want_hess:
                for r in range(m):
                    inv_total[r] = 1.0 / (1.0 + others[r])
                for k in range(K):
                    for r in range(m):
                        Q[k, r] = weight[r] * multinomial_hessian_of(E[k, r], top[r] == k, others[r], inv_total[r])
                columns_to_rows(Q_flat, block, m, K, hess_flat, a, None)
            if want_grad:
                for r in range(m):  # the labels' entries first (a loop that vectorizes), written after
                    yi = label[r]
                    # s (p_y - 1) >= -s exactly; the product of two rounded factors could pass it by an ulp.
                    p_y = multinomial_gradient_of(E[yi, r], True, top[r] == yi, others[r], scale[r])
                    zy[r] = max(p_y, -weight[r])
                columns_to_rows(E_flat, block, m, K, grad_flat, a, scale)
                for r in range(m):
                    grad_flat[(a + r) * K + label[r]] = zy[r]
        totals[c, 0] = acc_loss
        if not has_sw:
            totals[c, 1] = stop - start
        totals[c, 2] = raw_nonfinite
        totals[c, _Y_BAD] = bad


_multinomial_driver = parallel_chunks(multinomial_pointwise_chunks)


@jit()
def multinomial_pointwise(y, raw, sw, loss_out, grad_out, hess_out):
    """Weighted per-sample multinomial loss / gradient / Hessian diagonal, and their sums.

    Parameters
    ----------
    y : (n,) class indices in ``[0, K)`` (int64, or integer-valued float64 / float32)
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
    totals, vectors = _multinomial_driver(y, raw, (sw, loss_out, grad_out, hess_out), chunk_bounds(raw, 2),
                                          N_TOTALS, 0)
    sums = np.empty(N_TOTALS)
    combine(totals, vectors, sums, np.empty(0))
    return sums[0], sums[1]
