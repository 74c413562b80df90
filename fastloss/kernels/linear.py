"""Fused, parallel, deterministic kernels of a linear model's objective, for every loss.

One block pipeline serves the binary losses and multinomial alike: a loss is ``n`` scores per
sample and their derivatives in score space (:mod:`._scores`: a binary loss id, one score, or
:class:`~._scores.Softmax`, ``K`` scores). The ``@per_kind`` kernels below are written once, as
templates over the pipeline's steps, and compiled once per kind of loss at the end of this
module: :data:`binary` and :data:`softmax` hold the copies (``binary.loss_gradient_of``). The
binary entry points of contract section 4 (``loss_gradient``, ``hessp``, ``hessian_diag``,
``hessian``, with a ``loss_id``) are here, the multinomial ones (with ``n_classes``) in
:mod:`.multinomial`, both a line over the same kernels.

Guarantees
    * One pass over ``X`` per call: each block of rows is scored, its derivatives in score
      space are evaluated, and its contribution to the gradient (or Hessian-vector product, or
      Hessian diagonal) is added while the block is still in cache. Wide CSR input is the
      exception (:func:`two_passes`): when the vectors a pass reads at random and the partial
      sums it updates at random no longer fit in cache together, ``loss_gradient_chunks`` and
      ``hessp_chunks`` (argument ``two``) score a run of blocks, keep its derivatives and spread
      them in a second pass over those rows, with the same bits.
    * Deterministic: rows are split into chunks whose boundaries depend on the data only
      (:func:`fastloss.kernels._matrix.chunk_bounds`); each chunk writes its own partial sums, and
      the partials are combined serially in chunk order. The result is bitwise the same for any
      number of threads.
    * float64 accumulation whatever the dtype of ``X``.

Assumptions (the Python layer checks them; these kernels check nothing)
    * ``X`` is a dense C/F array or a :class:`CSR` (see :mod:`._matrix`) with finite values and, for
      CSR, column indices in ``[0, n_cols)`` and a non-decreasing ``indptr``.
    * ``y``: binary, float64 ``(n,)`` with values in ``[0, 1]`` (soft labels only for logistic);
      multinomial, int64 ``(n,)`` class indices in ``[0, K)``.
    * ``sw`` is float64 ``(n,)`` of non-negative weights, or an empty array for unit weights.
    * ``coef`` is float64 C-contiguous ``(n_scores * (d + fit_intercept),)``: the C-order
      flattening of ``(n_scores, d + fit_intercept)``, intercepts in the last column.

Every kernel returns *unnormalized* sums over samples, ``sum_i s_i (...)``, without the L2
term: the objective divides by ``sum_i s_i`` and adds ``l2 * w``. That split is what lets the
distributed objective add partial sums from many workers.

Each kernel is a serial ``*_chunks`` function that processes a range of row chunks (the
protocol of :mod:`._chunks`), which the Python API runs on its thread pool, and a ``prange``
driver for callers in compiled code. No kernel links a binary loss: the loss's loop for a
block is called through :mod:`._loops` (``loss_id`` is a run-time value), so each kernel
compiles once per matrix type for every binary loss (its ``softmax`` copy for multinomial), and a
binary loss must be prepared (:func:`fastloss.kernels.prepare`) before a kernel runs it.
"""

from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from .. import _config
from .._jit import jit
from ._chunks import parallel_chunks, sum_chunks, threads_now, total_of
from ._loops import HESSIAN, mode_of
from ._matrix import (
    _INLINE,
    CSR,
    _csr_row,
    _is_csr,
    _is_dense,
    chunk_bounds,
    n_cols,
    n_rows,
    partials_add,
    partials_of,
    partials_to_rows,
    rows_sq_axpy,
    vectors_empty,
    vectors_set,
)
from ._scores import (
    add_shift,
    apply_curvature,
    check_ready,
    compile_kinds,
    derivatives,
    diagonal,
    gram_weights,
    n_scores,
    new_scratch,
    per_kind,
    rows_per_block,
    score_rows,
    spread_rows,
)
from ._transpose import rows_to_columns


@per_kind
def score_vectors(X, loss, coef, V, with_coef):
    """``(W, shift)``: the vectors each row is scored against (:func:`vectors_empty`, one read of a
    row serves them all) and their intercepts (zeros without intercept): the ``n_scores`` rows of
    ``coef`` when ``with_coef``, then the ``n_scores`` rows of each direction of ``V``
    ``(k, n_coef)``. Made once per call, before the chunks run, and shared by all of them (the
    chunks only read it): the ``*_chunks`` kernels take ``W, shift`` where a call takes ``coef``."""
    K = n_scores(loss)
    p = coef.size // K
    d = n_cols(X)
    lead = K if with_coef else 0
    n_vectors = lead + V.shape[0] * K
    W = vectors_empty(X, n_vectors, p)
    shift = np.zeros(n_vectors)
    for q in range(n_vectors):
        j, k = divmod(q - lead, K)
        w = coef[q * p:(q + 1) * p] if q < lead else V[j, k * p:(k + 1) * p]
        vectors_set(X, W, q, w)
        if p > d:
            shift[q] = w[d]
    return W, shift


def two_passes(X, gathered: int, width: int, n_threads: int, n_scores: int = 1) -> bool:
    """Whether a kernel should run in two passes (its argument ``two``): for CSR ``X`` whose
    vectors read at random (``gathered`` float64) and the partial sums updated at random by
    ``n_threads`` threads at once (``width`` float64 each) hold more than
    ``_config.CSR_TWO_PASS_BYTES`` together (counted
    ``_config.CSR_TWO_PASS_MULTINOMIAL`` times for ``n_scores > 1``). The kernel then scores a run
    of blocks, keeps their derivatives and spreads them in a second pass, instead of spreading each
    block right after scoring it: the random reads of one vector and the random updates of the
    other then no longer evict each other block after block. The results are the same bits either
    way (the partials get the same terms in the same order), so the choice may depend on the thread
    count."""
    return isinstance(X, CSR) and wants_two_passes.py_func(gathered, width, n_threads, n_scores)


@jit(inline=True)
def wants_two_passes(gathered, width, n_threads, n_scores):
    """:func:`two_passes` for CSR input, also for compiled code."""
    weight = _config.CSR_TWO_PASS_MULTINOMIAL if n_scores > 1 else 1
    return 8 * weight * (gathered + n_threads * width) > _config.CSR_TWO_PASS_BYTES


def rows_of(X, flat, n_vectors: int):
    """A combined partial vector (:func:`~._matrix.partials_of`'s layout) with its vectors one after
    the other: ``flat`` itself where the two layouts agree (dense ``X``, or one vector)."""
    if n_vectors == 1 or not isinstance(X, CSR) or flat.size == 0:
        return flat
    return _rows_of(X, flat, n_vectors)


@jit()
def _rows_of(X, flat, n_vectors):
    out = np.empty(flat.size)
    partials_to_rows(X, flat, n_vectors, out)
    return out


# The kernels' argument ``two``: ``None``, one pass (each block spread right after it is scored);
# or a bool, True for two passes (a run of blocks scored, its derivatives kept in ``KEPT``, then
# spread when the room is full: :func:`_spread_kept`). Numba drops the code under ``if two is not
# None:`` from the specialization for ``None`` before typing it, so a dense or narrow call compiles
# none of it; a wide CSR call, and the compiled drivers on CSR (:func:`two_passes_for`), compile
# the specialization for a bool, which runs either way.

@jit(inline=True)
def _kept_room(bounds, first, last, block, n_kept):
    """Room for the derivatives a kernel keeps between its passes: ``(n_kept, rows)``, rows the
    whole range of chunks ``first:last`` or ``_config.CSR_KEPT_VALUES // n_kept`` (at least a
    block), whichever is less."""
    rows = min(bounds[last] - bounds[first], _config.CSR_KEPT_VALUES // n_kept)
    return np.empty((n_kept, max(block, rows)))


def two_passes_for(X, gathered, width, n_scores):
    """The kernels' argument ``two`` in compiled code: ``None`` for dense ``X`` (a constant: the
    two-pass code is not compiled), else :func:`wants_two_passes` at the current thread count."""


@overload(two_passes_for, inline="always", **_INLINE)
def _two_passes_for(X, gathered, width, n_scores):
    if isinstance(X, types.Array):
        return lambda X, gathered, width, n_scores: None
    return lambda X, gathered, width, n_scores: wants_two_passes(gathered, width, threads_now(), n_scores)


@jit(inline=True)
def _keep(KEPT, at, G, m):
    """``KEPT[:, at:at + m] = G[:, :m]``: a block's derivatives, kept until they are spread."""
    for q in range(KEPT.shape[0]):
        for r in range(m):
            KEPT[q, at + r] = G[q, r]


@per_kind(inline=True)
def _spread_kept(X, bounds, c_lo, last, block, lo, hi, KEPT, G, vectors):
    """Spread rows ``lo:hi`` (whole blocks, from chunk ``c_lo`` on, their derivatives in
    ``KEPT[:, i - lo]``) into their chunks' partials ``vectors[c]`` (:func:`partials_of`), block by
    block through the scratch ``G``: each chunk's blocks start at the chunk's first row, so every
    partial gets the same terms in the same order whatever the room kept."""
    nq = KEPT.shape[0]
    for c in range(c_lo, last):
        if bounds[c] >= hi:
            break
        OUT = partials_of(X, vectors[c], nq)
        for a in range(max(lo, bounds[c]), min(hi, bounds[c + 1]), block):
            b = min(bounds[c + 1], a + block)
            for q in range(nq):
                for r in range(b - a):
                    G[q, r] = KEPT[q, a - lo + r]
            spread_rows(X, a, b, G, OUT)


@per_kind
def loss_gradient_chunks(X, loss, y, sw, W, shift, fit_intercept, want_gradient, curvature_out, two,
                         bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`loss_gradient` (``W, shift`` the packed coefficients,
    :func:`score_vectors`): ``totals[c, 0]`` gets chunk ``c``'s loss sum, ``vectors[c]`` its
    gradient sum (when ``want_gradient``; the ``n_scores`` vectors in
    :func:`~._matrix.partials_of`'s layout, see :func:`rows_of`), ``curvature_out`` its rows'
    curvature (when not empty). ``two``: ``None`` for one pass, or whether in two passes
    (:func:`two_passes`).

    Per cache block: the scores of every row, intercepts included (:func:`score_rows`); the
    loss, gradient and curvature in score space (:func:`derivatives`); then the gradient spread
    over the same rows (:func:`spread_rows`) while they are in cache (with ``two``: after a run of
    blocks).
    """
    K = n_scores(loss)
    d = n_cols(X)
    block = rows_per_block(X, 3 * K)
    want_curvature = curvature_out.size > 0
    mode = mode_of(want_gradient, want_curvature)
    Z = np.empty((K, block))
    G = np.empty((K, block))
    C = np.empty((K, block))
    S = new_scratch(block)
    acc_intercept = np.empty(K)
    KEPT = np.empty((K, 0))  # with two passes, the gradient's rows since row kept_from
    if two is not None:
        if two and want_gradient:
            KEPT = _kept_room(bounds, first, last, block, K)
    kept_from = bounds[first]
    kept_chunk = first
    for c in range(first, last):
        G_out = partials_of(X, vectors[c], K)  # no values when no gradient is wanted
        acc_intercept[:] = 0.0
        acc_loss = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            if two is not None:
                if two and want_gradient and b - kept_from > KEPT.shape[1]:  # full: spread (G is free)
                    _spread_kept(X, bounds, kept_chunk, last, block, kept_from, a, KEPT, G, vectors)
                    kept_from = a
                    kept_chunk = c
            score_rows(X, a, b, W, Z)
            add_shift(shift, m, Z)
            acc_loss += derivatives(loss, mode, y, sw, a, m, Z, G, C, S)
            if want_gradient:
                for k in range(K):
                    acc = 0.0
                    for r in range(m):
                        acc += G[k, r]
                    acc_intercept[k] += acc
                if two is None:
                    spread_rows(X, a, b, G, G_out)
                elif two:
                    _keep(KEPT, a - kept_from, G, m)
                else:
                    spread_rows(X, a, b, G, G_out)
            if want_curvature:
                for r in range(m):
                    for k in range(K):
                        curvature_out[(a + r) * K + k] = C[k, r]
        if want_gradient and fit_intercept:
            partials_add(X, G_out, d, acc_intercept)
        totals[c, 0] = acc_loss
    if two is not None:
        if two and want_gradient:
            _spread_kept(X, bounds, kept_chunk, last, block, kept_from, bounds[last], KEPT, G, vectors)


_loss_gradient_driver = parallel_chunks(loss_gradient_chunks)


@per_kind
def loss_gradient_of(X, y, sw, coef, fit_intercept, loss, want_gradient, grad_out, curvature_out):
    """:func:`loss_gradient` for any ``loss`` of :mod:`._scores` (a binary loss id or a
    :class:`Softmax`): the one driver of the binary and multinomial kernels. The coefficients are
    packed once (:func:`score_vectors`); wide CSR takes two passes where :func:`two_passes` says so
    for the current thread count, as in the Python API."""
    check_ready(loss, mode_of(want_gradient, curvature_out.size > 0))
    W, shift = score_vectors(X, loss, coef, np.empty((np.int64(0), coef.size)), np.bool_(True))
    width = coef.size if want_gradient else 0
    two = two_passes_for(X, coef.size, width, n_scores(loss))
    args = (y, sw, W, shift, fit_intercept, want_gradient, curvature_out, two)
    totals, vectors = _loss_gradient_driver(X, loss, args, chunk_bounds(X, coef.size), 1, width)
    combined = np.empty(width)
    total = total_of(totals, vectors, combined)
    partials_to_rows(X, combined, n_scores(loss), grad_out[:width])
    return total


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
    return binary.loss_gradient_of(X, y, sw, coef, np.bool_(fit_intercept), np.int64(loss_id),
                                   np.bool_(want_gradient), grad_out, curvature_out)


@per_kind
def hessp_chunks(X, loss, y, sw, W, shift, fit_intercept, curvature, two, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`hessp` (``W, shift`` from :func:`score_vectors`: the
    coefficients unless the curvature is cached, then the ``k`` directions; ``two`` as for
    :func:`loss_gradient_chunks`): ``vectors[c]`` gets chunk ``c``'s products, the ``k * n_scores``
    vectors of ``(k, n_coef)`` in :func:`~._matrix.partials_of`'s layout (:func:`rows_of` turns the
    combined sum into rows; ``totals`` is not used).

    Per cache block: one read of the rows scores them against the coefficients (unless the
    curvature is cached) and all ``k`` directions (:func:`score_rows` of the packed vectors);
    the curvature (:func:`derivatives`, or the cached one) times the directional scores
    (:func:`apply_curvature`) is spread over the same rows.
    """
    K = n_scores(loss)
    d = n_cols(X)
    cached = curvature.size > 0
    # Unless the curvature is cached, vectors 0..K-1 score coef; then come the directions.
    lead = 0 if cached else K
    n_vectors = shift.size
    n_dir = (n_vectors - lead) // K
    block = rows_per_block(X, n_vectors + K + n_dir * K)
    Z = np.empty((n_vectors, block))
    C = np.empty((K, block))
    T = np.empty((n_dir * K, block))
    S = new_scratch(block)
    acc_intercept = np.empty(n_dir * K)
    mode = np.int64(HESSIAN)
    KEPT = np.empty((n_dir * K, 0))  # with two passes, the products' rows since row kept_from
    if two is not None:
        if two:
            KEPT = _kept_room(bounds, first, last, block, n_dir * K)
    kept_from = bounds[first]
    kept_chunk = first
    for c in range(first, last):
        OUT = partials_of(X, vectors[c], n_dir * K)
        acc_intercept[:] = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            if two is not None:
                if two and b - kept_from > KEPT.shape[1]:  # full: spread (T is free)
                    _spread_kept(X, bounds, kept_chunk, last, block, kept_from, a, KEPT, T, vectors)
                    kept_from = a
                    kept_chunk = c
            score_rows(X, a, b, W, Z)
            add_shift(shift, m, Z)
            if cached:
                for r in range(m):
                    for k in range(K):
                        C[k, r] = curvature[(a + r) * K + k]
            else:
                derivatives(loss, mode, y, sw, a, m, Z[:K], C, C, S)
            apply_curvature(loss, sw, a, m, C, Z[lead:], T, S)
            for q in range(n_dir * K):
                acc = 0.0
                for r in range(m):
                    acc += T[q, r]
                acc_intercept[q] += acc
            if two is None:
                spread_rows(X, a, b, T, OUT)
            elif two:
                _keep(KEPT, a - kept_from, T, m)
            else:
                spread_rows(X, a, b, T, OUT)
        if fit_intercept:
            partials_add(X, OUT, d, acc_intercept)
    if two is not None:
        if two:
            _spread_kept(X, bounds, kept_chunk, last, block, kept_from, bounds[last], KEPT, T, vectors)


_hessp_driver = parallel_chunks(hessp_chunks)


@per_kind
def hessp_of(X, y, sw, coef, fit_intercept, loss, curvature, V, out):
    """:func:`hessp` for any ``loss`` of :mod:`._scores` (see :func:`loss_gradient_of`)."""
    if curvature.size == 0:
        check_ready(loss, np.int64(HESSIAN))
    W, shift = score_vectors(X, loss, coef, V, curvature.size == 0)
    two = two_passes_for(X, W.size, V.size, n_scores(loss))
    args = (y, sw, W, shift, fit_intercept, curvature, two)
    combined = np.empty(V.size)
    total_of(*_hessp_driver(X, loss, args, chunk_bounds(X, V.size), 1, V.size), combined)
    partials_to_rows(X, combined, V.shape[0] * n_scores(loss), out.reshape(out.size))


@jit()
def hessp(X, y, sw, coef, fit_intercept, loss_id, curvature, V, out):
    """Hessian-vector products ``out[k] = sum_i h_i (x~_i . V[k]) x~_i`` for k directions.

    ``x~_i = [x_i, 1]`` with intercept. ``h_i = curvature[i]`` when ``curvature`` has size n
    (as written by :func:`loss_gradient`); otherwise (size 0) ``h_i = s_i hessian(y_i, x~_i.coef)``
    is computed on the fly, from the same read of the row.

    V : float64 (k, n_coef) C-contiguous; out : float64 (k, n_coef), overwritten.
    """
    binary.hessp_of(X, y, sw, coef, np.bool_(fit_intercept), np.int64(loss_id), curvature, V, out)  # see loss_gradient


@per_kind
def hessian_diag_chunks(X, loss, y, sw, W, shift, fit_intercept, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of :func:`hessian_diag` (``W, shift`` from :func:`score_vectors`):
    ``vectors[c]`` gets chunk ``c``'s diagonal (``(K, p)`` flattened)."""
    K = n_scores(loss)
    d = n_cols(X)
    p = vectors.shape[1] // K
    block = rows_per_block(X, 2 * K)
    Z = np.empty((K, block))
    C = np.empty((K, block))
    S = new_scratch(block)
    acc_intercept = np.empty(K)
    for c in range(first, last):
        OUT = vectors[c].reshape((K, p))
        acc_intercept[:] = 0.0
        for a in range(bounds[c], bounds[c + 1], block):
            b = min(bounds[c + 1], a + block)
            m = b - a
            score_rows(X, a, b, W, Z)
            add_shift(shift, m, Z)
            diagonal(loss, y, sw, a, m, Z, C, S)
            for k in range(K):
                acc = 0.0
                for r in range(m):
                    acc += C[k, r]
                acc_intercept[k] += acc
                rows_sq_axpy(X, a, b, C[k], OUT[k])  # the block is still in cache for each score
        if fit_intercept:
            for k in range(K):
                OUT[k, d] += acc_intercept[k]


_hessian_diag_driver = parallel_chunks(hessian_diag_chunks)


@per_kind
def hessian_diag_of(X, y, sw, coef, fit_intercept, loss, out):
    """:func:`hessian_diag` for any ``loss`` of :mod:`._scores` (see :func:`loss_gradient_of`)."""
    check_ready(loss, np.int64(HESSIAN))
    W, shift = score_vectors(X, loss, coef, np.empty((np.int64(0), coef.size)), np.bool_(True))
    args = (y, sw, W, shift, fit_intercept)
    total_of(*_hessian_diag_driver(X, loss, args, chunk_bounds(X, coef.size), 1, coef.size), out)


@jit()
def hessian_diag(X, y, sw, coef, fit_intercept, loss_id, out):
    """``out = sum_i s_i h_i x~_i ** 2`` (diagonal of the unnormalized Hessian), one pass."""
    binary.hessian_diag_of(X, y, sw, coef, np.bool_(fit_intercept), np.int64(loss_id), out)  # see loss_gradient


# --- full Hessian: the weighted Gram matrix ------------------------------------------------------
#
# ``out = X~^T diag(w) X~`` is computed like a GEMM. Rows of ``X`` are packed a block at a time
# (:func:`gram_pack`, serial, the only code that depends on the matrix format) into ``XT``, the
# block transposed to float64 ``(p, rows)``, so that every column of ``X~`` is a contiguous run.
# :func:`gram_add` (parallel, compiled once for every format and for the binary and multinomial
# objectives) then adds the block to the upper triangle of ``out`` by strips of 4 output rows:
# each strip is one ``prange`` task, weighs its 4 columns of ``XT`` once into a small scratch
# (``WA``, in L1) and sweeps the 4 x 4 register tiles of its row (:func:`_gram_tile`), whose
# inner loop is 16 independent dot products over the rows of the block (LLVM's loop vectorizer
# turns them into 16 SIMD accumulators). Every entry of ``out`` is owned by one strip, summed in
# the same order by whichever thread runs it, and the blocks are added in row order: the result
# has the same bits for any thread count. Sparse CSR input goes by its stored entries instead
# (:func:`gram_add_sparse`), with the same ownership; :func:`gram_plan` chooses.
#
# Where a partial ``n_coef x n_coef`` matrix per chunk of rows fits the partials' budget
# (:func:`gram_by_chunks`: up to ``n_coef`` ~1,400), the threads do not share blocks: each chunk
# packs its own blocks and adds all their strips into its own partial, on one thread
# (:func:`gram_chunks`, :func:`gram_strips`), and the partials are added in chunk order. No pack
# waits on another thread and there is no parallel region per block.

@jit()
def gram_block_rows(p, n):
    """Rows per packed block for ``p`` columns: ``_config.GRAM_PANEL_BYTES`` of float64, a
    multiple of ``_config.GRAM_ROW_MULTIPLE`` within ``[GRAM_MIN_ROWS, GRAM_MAX_ROWS]``, at most
    ``n`` (rounded up to the multiple)."""
    step = _config.GRAM_ROW_MULTIPLE
    rows = min(_config.GRAM_MAX_ROWS, max(_config.GRAM_MIN_ROWS, _config.GRAM_PANEL_BYTES // (8 * max(p, 1))))
    rows = min(rows, n + step - 1)
    return max(step, rows - rows % step)


def gram_pack(X, a, b, fit_intercept, XT):
    """``XT[j, r] = x~_{a + r, j}`` as float64 for ``r < b - a`` (``x~ = [x, 1]`` with intercept):
    the block transposed, one loop per format that reads ``X`` and writes ``XT`` in order."""


@jit(inline=True)
def _pack_c(X, a, b, XT):
    """C order: tiles transposed in registers (:func:`._transpose.rows_to_columns`: vector loads
    along rows, vector stores along ``XT``'s columns)."""
    rows_to_columns(X.reshape(X.size), a, b - a, X.shape[1], XT.reshape(XT.size), XT.shape[1])


@jit(inline=True)
def _pack_f(X, a, b, XT):
    """F order: each column of the block is a contiguous copy."""
    first = np.uintp(a)
    for j in range(X.shape[1]):
        for r in range(b - a):
            XT[j, r] = X[first + np.uintp(r), j]


@jit(inline=True)
def _pack_csr(X, a, b, XT):
    """CSR: zeros, then each stored entry added at its place (repeated columns add up)."""
    data, indices, indptr = X[0], X[1], X[2]
    for j in range(X[3]):
        for r in range(b - a):
            XT[j, r] = 0.0
    for r in range(b - a):
        row_data, row_cols = _csr_row(data, indices, indptr, a + r)
        for q in range(row_data.size):
            XT[np.uint64(row_cols[q]), r] += row_data[q]


@overload(gram_pack, **_INLINE)
def _gram_pack(X, a, b, fit_intercept, XT):
    if _is_dense(X, "C"):
        fill = _pack_c
    elif _is_dense(X, "F"):
        fill = _pack_f
    elif _is_csr(X):
        fill = _pack_csr
    else:
        return None

    def impl(X, a, b, fit_intercept, XT):
        fill(X, a, b, XT)
        if fit_intercept:
            d = n_cols(X)
            for r in range(b - a):
                XT[d, r] = 1.0
    return impl


@jit()
def _gram_tile(WA, XT, m, i0, ni, j0, out, row, col, T):
    """``out[row + a, col + b] += sum_r WA[a, r] XT[j0 + b, r]`` for ``a < ni``, ``b < 4`` columns
    that exist. A column past the last one is clipped to it (computed twice, added once)."""
    p = XT.shape[0]
    nj = min(4, p - j0)
    w0 = WA[0]
    w1 = WA[1]
    w2 = WA[2]
    w3 = WA[3]
    x0 = XT[j0]
    x1 = XT[min(j0 + 1, p - 1)]
    x2 = XT[min(j0 + 2, p - 1)]
    x3 = XT[min(j0 + 3, p - 1)]
    a00 = 0.0
    a01 = 0.0
    a02 = 0.0
    a03 = 0.0
    a10 = 0.0
    a11 = 0.0
    a12 = 0.0
    a13 = 0.0
    a20 = 0.0
    a21 = 0.0
    a22 = 0.0
    a23 = 0.0
    a30 = 0.0
    a31 = 0.0
    a32 = 0.0
    a33 = 0.0
    for r in range(m):
        u0 = w0[r]
        u1 = w1[r]
        u2 = w2[r]
        u3 = w3[r]
        v0 = x0[r]
        v1 = x1[r]
        v2 = x2[r]
        v3 = x3[r]
        a00 += u0 * v0
        a01 += u0 * v1
        a02 += u0 * v2
        a03 += u0 * v3
        a10 += u1 * v0
        a11 += u1 * v1
        a12 += u1 * v2
        a13 += u1 * v3
        a20 += u2 * v0
        a21 += u2 * v1
        a22 += u2 * v2
        a23 += u2 * v3
        a30 += u3 * v0
        a31 += u3 * v1
        a32 += u3 * v2
        a33 += u3 * v3
    T[0, 0] = a00
    T[0, 1] = a01
    T[0, 2] = a02
    T[0, 3] = a03
    T[1, 0] = a10
    T[1, 1] = a11
    T[1, 2] = a12
    T[1, 3] = a13
    T[2, 0] = a20
    T[2, 1] = a21
    T[2, 2] = a22
    T[2, 3] = a23
    T[3, 0] = a30
    T[3, 1] = a31
    T[3, 2] = a32
    T[3, 3] = a33
    for a in range(ni):
        for b in range(nj):
            out[row + a, col + b] += T[a, b]


@jit()
def _gram_strip(XT, m, Hd, Q, P, s, out):
    """Strip ``s`` of :func:`gram_add`: output rows ``k p + i0 ...`` (4 or fewer), from the diagonal
    of block ``(k, k)`` to the end of the row.

    The weight of row ``r`` in block ``(k, l)`` is ``Hd[k, r]`` on the diagonal (``l == k``) and
    ``-Q[k, r] P[l, r]`` off it; the strip's 4 columns of ``XT`` are weighted once per block into
    ``WA`` (in L1) and reused by every tile of the row.
    """
    p = XT.shape[0]
    K = Hd.shape[0]
    WA = np.empty((4, m))
    T = np.empty((4, 4))
    per_class = (p + 3) // 4
    k = s // per_class
    i0 = 4 * (s - k * per_class)
    ni = min(4, p - i0)
    for l in range(k, K):
        for a in range(4):
            x = XT[min(i0 + a, p - 1)]
            wa = WA[a]
            if l == k:
                h = Hd[k]
                for r in range(m):
                    wa[r] = h[r] * x[r]
            else:
                q = Q[k]
                pl = P[l]
                for r in range(m):
                    wa[r] = -(q[r] * pl[r]) * x[r]
        for j0 in range(i0 if l == k else 0, p, 4):
            _gram_tile(WA, XT, m, i0, ni, j0, out, k * p + i0, l * p + j0, T)


@jit(parallel=True)
def gram_add(XT, m, Hd, Q, P, out):
    """Add a packed block of ``m`` rows to the upper triangle of ``out`` ``(K p, K p)``.

    Block ``(k, l >= k)`` of ``out`` gets ``sum_r w_klr XT[:, r] XT[:, r]^T``, ``w_kkr = Hd[k, r]``,
    ``w_klr = -Q[k, r] P[l, r]`` (``K = Hd.shape[0]``; the binary Hessian is ``K = 1``,
    ``Hd = h``, and never reads ``Q`` or ``P``). Entries below the diagonal within the diagonal
    tiles receive partial sums too; the caller mirrors the upper triangle over them at the end.

    One ``prange`` task per pair of strips ``t`` and ``S - 1 - t`` (a strip's work falls linearly
    with its position, so every pair has the same), each entry owned by one strip: deterministic.
    """
    p = XT.shape[0]
    n_strips = Hd.shape[0] * ((p + 3) // 4)
    for t in prange((n_strips + 1) // 2):
        first = np.int64(t)  # one signature for both calls
        _gram_strip(XT, m, Hd, Q, P, first, out)
        if n_strips - 1 - first != first:
            _gram_strip(XT, m, Hd, Q, P, n_strips - 1 - first, out)


def gram_density(X):
    """Stored entries per entry of ``X``: 1.0 for dense arrays, ``nnz / (n d)`` for CSR."""


@overload(gram_density, **_INLINE)
def _gram_density(X):
    if isinstance(X, types.Array):
        return lambda X: 1.0
    if _is_csr(X):
        return lambda X: X[2][X[2].size - 1] / max(1.0, (X[2].size - 1) * float(X[3]))


def gram_entries(X, a, b, fit_intercept):
    """CSR: the stored entries of rows ``a:b`` as ``(row_ptr, cols, vals)``, int64 / int64 / float64,
    row after row in storage order, with ``(d, 1.0)`` last in each row when ``fit_intercept``."""


@overload(gram_entries, **_INLINE)
def _gram_entries(X, a, b, fit_intercept):
    if _is_csr(X):
        def impl(X, a, b, fit_intercept):
            data, indices, indptr, d = X[0], X[1], X[2], X[3]
            m = b - a
            extra = 1 if fit_intercept else 0
            row_ptr = np.empty(m + 1, dtype=np.int64)
            size = np.int64(indptr[b]) - np.int64(indptr[a]) + extra * m
            cols = np.empty(size, dtype=np.int64)
            vals = np.empty(size)
            e = 0
            for r in range(m):
                row_ptr[r] = e
                row_data, row_cols = _csr_row(data, indices, indptr, a + r)
                for q in range(row_data.size):
                    cols[e] = row_cols[q]
                    vals[e] = row_data[q]
                    e += 1
                if fit_intercept:
                    cols[e] = d
                    vals[e] = 1.0
                    e += 1
            row_ptr[m] = e
            return row_ptr, cols, vals
        return impl


@jit()
def _gram_by_column(row_ptr, cols, vals, p):
    """The same entries grouped by column (a stable counting sort: rows ascending in a column)."""
    col_ptr = np.zeros(p + 1, dtype=np.int64)
    for e in range(cols.size):
        col_ptr[cols[e] + 1] += 1
    for j in range(p):
        col_ptr[j + 1] += col_ptr[j]
    fill = col_ptr[:p].copy()
    rows = np.empty(cols.size, dtype=np.int64)
    col_vals = np.empty(cols.size)
    for r in range(row_ptr.size - 1):
        for e in range(row_ptr[r], row_ptr[r + 1]):
            q = fill[cols[e]]
            rows[q] = r
            col_vals[q] = vals[e]
            fill[cols[e]] = q + 1
    return col_ptr, rows, col_vals


@jit()
def _gram_sparse_row(row_ptr, cols, vals, col_ptr, rows, col_vals, Hd, Q, P, g, out):
    """Output row ``g = k p + j`` of :func:`gram_add_sparse`, from the diagonal to its end."""
    p = col_ptr.size - 1
    K = Hd.shape[0]
    k = g // p
    j = g - k * p
    out_row = out[g]
    for e in range(col_ptr[j], col_ptr[j + 1]):
        r = rows[e]
        x = col_vals[e]
        lo = row_ptr[r]
        hi = row_ptr[r + 1]
        for l in range(k, K):
            c = (Hd[k, r] if l == k else -(Q[k, r] * P[l, r])) * x
            if c == 0.0:
                continue
            base = l * p
            for f in range(lo, hi):
                q = cols[f]
                if l > k or q >= j:
                    out_row[base + q] += c * vals[f]


@jit(parallel=True)
def gram_add_sparse(row_ptr, cols, vals, Hd, Q, P, out):
    """:func:`gram_add` for a block given by its stored entries (:func:`gram_entries`): the
    work is ``sum_r (entries of row r)^2 / 2`` instead of ``rows * p^2 / 2``.

    Output row ``k p + j`` is one task: for every entry ``x_rj`` of column ``j`` (rows ascending),
    it adds ``w_klr x_rj x_rq`` for the entries of row ``r`` (``q >= j`` in block ``(k, k)``), so
    each entry of ``out`` is summed by one thread in a fixed order. Repeated columns add up.
    """
    p = out.shape[0] // Hd.shape[0]
    col_ptr, rows, col_vals = _gram_by_column(row_ptr, cols, vals, p)
    n_out = out.shape[0]
    for t in prange((n_out + 1) // 2):
        first = np.int64(t)  # one signature for both calls
        _gram_sparse_row(row_ptr, cols, vals, col_ptr, rows, col_vals, Hd, Q, P, first, out)
        if n_out - 1 - first != first:
            _gram_sparse_row(row_ptr, cols, vals, col_ptr, rows, col_vals, Hd, Q, P, n_out - 1 - first, out)


@jit()
def gram_plan(X, p, n_weights):
    """``(rows per block, sparse)``: CSR input at most ``_config.GRAM_SPARSE_MAX_DENSITY`` full
    goes by its stored entries (:func:`gram_add_sparse`), in blocks of about
    ``_config.GRAM_SPARSE_BLOCK_ENTRIES`` stored entries and as many per-row weights (the
    caller keeps ``n_weights`` per row: 1 binary, ``K`` multinomial); everything else by packed
    dense blocks of :func:`gram_block_rows`. Depends on the data's shape only."""
    n = n_rows(X)
    density = gram_density(X)
    if density > _config.GRAM_SPARSE_MAX_DENSITY:
        return gram_block_rows(p, n), False
    per_row = max(1.0, density * n_cols(X), float(n_weights))
    return max(1, min(n, np.int64(_config.GRAM_SPARSE_BLOCK_ENTRIES / per_row))), True


def gram_block_add(X, a, b, fit_intercept, sparse, XT, Hd, Q, P, out):
    """Add rows ``a:b`` (weights in ``Hd``, ``Q``, ``P``: see :func:`gram_add`) to the upper
    triangle of ``out``, by the path :func:`gram_plan` chose (dense arrays compile only the
    packed path)."""


@overload(gram_block_add, **_INLINE)
def _gram_block_add(X, a, b, fit_intercept, sparse, XT, Hd, Q, P, out):
    if isinstance(X, types.Array):
        def impl(X, a, b, fit_intercept, sparse, XT, Hd, Q, P, out):
            gram_pack(X, a, b, fit_intercept, XT)
            gram_add(XT, b - a, Hd, Q, P, out)
        return impl
    if _is_csr(X):
        def impl(X, a, b, fit_intercept, sparse, XT, Hd, Q, P, out):
            if sparse:
                row_ptr, cols, vals = gram_entries(X, a, b, fit_intercept)
                gram_add_sparse(row_ptr, cols, vals, Hd, Q, P, out)
            else:
                gram_pack(X, a, b, fit_intercept, XT)
                gram_add(XT, b - a, Hd, Q, P, out)
        return impl


@jit()
def gram_mirror(out):
    """Copy the upper triangle of ``out`` over its lower one (``out`` exactly symmetric)."""
    n = out.shape[0]
    for q in range(n):
        for j in range(q + 1, n):
            out[j, q] = out[q, j]


@jit()
def gram_strips(XT, m, Hd, Q, P, out):
    """:func:`gram_add` on one thread: every strip in order (the row-chunked path's per-chunk step)."""
    for s in range(Hd.shape[0] * ((XT.shape[0] + 3) // 4)):
        _gram_strip(XT, m, Hd, Q, P, s, out)


@jit()
def gram_by_chunks(X, p, K):
    """Whether the Gram of ``K`` blocks of ``p`` columns goes by row chunks (:func:`gram_chunks`,
    each chunk's partial ``(K p)^2`` matrix from its own packed blocks, one thread per chunk):
    when the input takes the packed path (:func:`gram_plan`) and the partials' budget
    (``_config.PARTIAL_BUDGET_BYTES``) holds at least ``_config.GRAM_MIN_CHUNKS`` of them, so that
    the chunks of a long matrix are not limited by memory. Otherwise (``K p`` above ~1,400) every
    block is packed once and shared by all threads (:func:`gram_add`). Short input has few chunks
    and takes the row-chunked path too: its Hessian is small. Depends on the data's shape only."""
    partial = 8 * (K * p) * (K * p)
    return _config.PARTIAL_BUDGET_BYTES // partial >= _config.GRAM_MIN_CHUNKS and not gram_plan(X, p, K)[1]


@per_kind
def gram_chunks(X, loss, sw, curvature, fit_intercept, bounds, first, last, totals, vectors):
    """Chunks ``first:last`` of the full Hessian by row chunks (the protocol of :mod:`._chunks`):
    ``vectors[c]`` gets the upper triangle of chunk ``c``'s ``X~^T W X~`` (``(K p, K p)`` flattened,
    the weights of :func:`gram_weights`), block after block: each block is packed
    (:func:`gram_pack`) and added by :func:`gram_strips` on this thread. A chunk's blocks are of
    equal length (multiples of ``_config.GRAM_ROW_MULTIPLE``, the last shorter)."""
    K = n_scores(loss)
    p = n_cols(X) + (1 if fit_intercept else 0)
    step = _config.GRAM_ROW_MULTIPLE
    block = gram_block_rows(p, bounds[bounds.size - 1])
    XT = np.empty((p, block))
    Hd = np.empty((K, block))
    Q = np.empty((K, block))
    P = np.empty((K, block))
    for c in range(first, last):
        out = vectors[c].reshape((K * p, K * p))
        start, stop = bounds[c], bounds[c + 1]
        n_blocks = max(1, (stop - start + block - 1) // block)
        length = min(block, ((stop - start + n_blocks - 1) // n_blocks + step - 1) // step * step)
        for a in range(start, stop, length):
            b = min(stop, a + length)
            gram_weights(loss, sw, a, b - a, curvature, Hd, Q, P)
            gram_pack(X, a, b, fit_intercept, XT)
            gram_strips(XT, b - a, Hd, Q, P, out)


_gram_driver = parallel_chunks(gram_chunks)


@per_kind
def gram_of_curvature(X, loss, sw, curvature, fit_intercept, out):
    """The full unnormalized Hessian from the per-sample ``curvature`` that :func:`loss_gradient_of`
    keeps (``n * n_scores`` values), for any ``loss`` of :mod:`._scores`; deterministic.

    By row chunks where :func:`gram_by_chunks` says so (:func:`gram_chunks`, the partials added
    in chunk order); otherwise blocks of rows are packed (:func:`gram_pack`) and added by the
    parallel :func:`gram_add`, or for sparse CSR taken by their stored entries
    (:func:`gram_add_sparse`), in row order, with the per-row weights of :func:`gram_weights`.
    Each entry is summed by one thread in a fixed order, so the result is the same for any
    thread count. Cost ``n * n_coef^2 / 2`` multiply-adds (sparse: ``sum_i nnz_i^2 / 2`` per
    class pair); memory ``n_coef^2`` plus one block (``_config.GRAM_PANEL_BYTES`` packed), or
    the chunks' partials (within ``_config.PARTIAL_BUDGET_BYTES``).
    """
    K = n_scores(loss)
    n = n_rows(X)
    p = n_cols(X) + (1 if fit_intercept else 0)
    if gram_by_chunks(X, p, K):
        width = K * p * K * p
        _, vectors = _gram_driver(X, loss, (sw, curvature, fit_intercept), chunk_bounds(X, width), 0, width)
        total = np.empty(width)
        sum_chunks(vectors, total)
        out[:, :] = total.reshape((K * p, K * p))
    else:
        out[:, :] = 0.0
        block, sparse = gram_plan(X, p, K)
        XT = np.empty((p, 0 if sparse else block))
        Hd = np.empty((K, block))
        Q = np.empty((K, block))
        P = np.empty((K, block))
        for a in range(0, n, block):
            b = min(n, a + block)
            gram_weights(loss, sw, a, b - a, curvature, Hd, Q, P)
            gram_block_add(X, a, b, fit_intercept, sparse, XT, Hd, Q, P, out)
    gram_mirror(out)


@jit()
def weighted_gram(X, h, fit_intercept, out):
    """``out = X~^T diag(h) X~`` (``X~ = [X, 1]`` with intercept): :func:`gram_of_curvature` with
    ``h`` as a binary loss's curvature (which is the weight of each row)."""
    binary.gram_of_curvature(X, np.int64(0), np.empty(0), h, np.bool_(fit_intercept), out)


@per_kind
def hessian_of(X, y, sw, coef, fit_intercept, loss, out):
    """Full unnormalized Hessian into ``out`` (n_coef, n_coef), for any ``loss`` of :mod:`._scores`:
    the curvature of every sample in one parallel pass, then :func:`gram_of_curvature`."""
    curvature = np.empty(n_rows(X) * n_scores(loss))
    loss_gradient_of(X, y, sw, coef, fit_intercept, loss, np.bool_(False), np.empty(0), curvature)
    gram_of_curvature(X, loss, sw, curvature, fit_intercept, out)


@jit()
def hessian(X, y, sw, coef, fit_intercept, loss_id, out):
    """Full unnormalized Hessian ``X~^T diag(s h) X~`` into ``out`` (n_coef, n_coef)."""
    binary.hessian_of(X, y, sw, coef, np.bool_(fit_intercept), np.int64(loss_id), out)  # see loss_gradient


#: The kernels above compiled for each kind of loss (:func:`._scores.compile_kinds`): modules
#: whose functions compiled code calls (``binary.loss_gradient_of``, ``softmax.hessp_of``).
_kinds = compile_kinds(globals(), __name__)
binary = _kinds["binary"]
softmax = _kinds["softmax"]
