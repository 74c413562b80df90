"""Row-block primitives over a design matrix, one implementation per storage format.

A *matrix* reaching a kernel is either a 2-D NumPy array in C or F order (float32 or float64),
or a :class:`CSR` (the arrays of a SciPy CSR matrix and its number of columns). The kernels of
:mod:`fastloss.kernels.linear` are written once against the functions below; Numba picks the
implementation for the matrix type at compile time (``@overload``), so no kernel knows which
format it runs on, and no kernel is copied per format.

Conventions shared by every primitive (``a:b`` is a block of rows, ``r = i - a``):

* ``W`` has shape ``(k, >= d)``: only its first ``d`` columns are read (a coefficient row may
  carry the intercept in column ``d``).
* ``Z`` / ``G`` have shape ``(k, >= b - a)`` and hold one value per row of the block.
* ``OUT`` has shape ``(k, >= d)``; primitives *add* into its first ``d`` columns.

Accumulation is float64 whatever the dtype of ``X``. Nothing is validated here: the caller
guarantees ``0 <= a <= b <= n_rows(X)``, the shapes above, and (for CSR) indices in range.

CSR rows may be empty, and their column indices unsorted and repeated: a repeated column counts
as the sum of its entries (as in SciPy), in every primitive. CSR reduction chunks are balanced by
stored entries, not rows (:func:`_csr_chunk_bounds`).
"""

from __future__ import annotations

from typing import NamedTuple

import llvmlite.ir as llvm_ir
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .. import _config
from .._jit import jit


def _has_wide_registers() -> bool:
    """Whether Numba compiles for a target with AVX-512 (32 vector registers): the CPU features it
    compiles for (``NUMBA_CPU_FEATURES``, else the host's). Numba's cache keys each compiled
    function on the same features, so no cached copy is served to another target."""
    import llvmlite.binding as llvm
    from numba.core import config

    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else llvm.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


#: :func:`_axpy_c_rows8` updates two classes per load of the rows only with 32 vector registers (its
#: 16 broadcast weights); with AVX2's 16 it goes one class at a time (docs/performance.md).
_PAIR_CLASSES = _has_wide_registers()

def _is_dense(X, layout):
    return isinstance(X, types.Array) and X.ndim == 2 and X.layout == layout


class CSR(NamedTuple):
    """A compressed-sparse-row matrix as the kernels take it (also inside ``@njit`` code).

    ``data`` float32/float64 ``(nnz,)``; ``indices`` and ``indptr`` int32 or int64, the same
    dtype; ``indptr`` ``(n_rows + 1,)`` non-decreasing from 0 to ``nnz``; column indices in
    ``[0, n_cols)``, in any order, repeats counting as their sum (as in SciPy). From a SciPy
    matrix ``A``: ``CSR(A.data, A.indices, A.indptr, A.shape[1])``.
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_cols: int


def _is_csr(X):
    return isinstance(X, types.NamedTuple) and X.instance_class is CSR


def n_rows(X):
    """Number of rows of a matrix."""


def n_cols(X):
    """Number of columns of a matrix."""


def block_rows(X):
    """Rows per cache block: about ``BLOCK_BYTES`` of ``X``, between 1 and ``MAX_DENSE_BLOCK_ROWS``
    (dense; CSR: ``MAX_BLOCK_ROWS``), a multiple of ``BLOCK_ROW_MULTIPLE`` from that many rows on
    (:func:`whole_tiles`)."""


def chunk_bounds(X, width):
    """Row boundaries of the reduction chunks (int64, ``n_chunks + 1``), from the data only.

    ``width`` is the length of one chunk's partial-sum vector: the number of chunks is capped so
    that ``n_chunks * width`` float64 stay within ``_config.PARTIAL_BUDGET_BYTES``.
    """


def rows_dot(X, a, b, P, Z):
    """:func:`rows_dot_packed` for many vectors (dense C: a register tile of 4 rows x 2 vectors
    from ``_config.DOT_TILE_MIN_ROWS`` vectors on)."""


def _as_rows(A):
    """``A`` as a 2-D array of rows: a 1-D vector as one row, a 2-D array as it is."""


def vectors_empty(X, k, n):
    """Room for ``k`` float64 vectors of length ``n`` in the layout :func:`rows_dot_packed` reads.

    Dense: ``(k, n)``, one vector per row. CSR: ``(n, k)``, the
    vectors interleaved, so that the one gather of a stored entry's column serves all ``k``
    (they share a cache line for ``k <= 8``).
    """


def vectors_set(X, P, j, w):
    """Store ``w`` (``(n,)``) as vector ``j`` of ``P = vectors_empty(X, k, n)``."""


def rows_dot_packed(X, a, b, P, Z):
    """``Z[j, i - a] = X[i, :d] @ w_j[:d]`` for rows ``a <= i < b``, ``w_j`` the vectors of ``P``
    (:func:`vectors_empty`), two vectors per read of a row (dense C; the last of an odd count
    alone): for the few vectors of the binary kernels, which then compile no register tile."""


def rows_axpy(X, a, b, G, OUT):
    """``OUT[k, :d] += sum_i G[k, i - a] * X[i, :d]``; for many rows of ``G`` (dense C: eight rows
    of ``X`` per update of ``OUT[k]``, two rows of ``G`` per load of them, from 2 rows of ``G`` on)."""


def rows_axpy_each(X, a, b, G, OUT):
    """:func:`rows_axpy` one row of ``G`` at a time, four rows of ``X`` per update (what the binary
    kernels use). ``G`` and ``OUT`` may be 1-D (one row)."""


def partials_of(X, flat, n_vectors):
    """The partial sums of ``n_vectors`` vectors of length ``p = flat.size // n_vectors`` held in
    ``flat``, as :func:`rows_axpy` and :func:`rows_axpy_each` update them. Dense: ``(n_vectors, p)``,
    one vector per row. CSR: ``(p, n_vectors)``, the vectors interleaved, so that a stored entry's
    update of all of them touches one or two cache lines, not one per vector (as the gather's
    :func:`vectors_empty`). :func:`partials_to_rows` turns a combined ``flat`` back into rows."""


def partials_add(X, OUT, j, values):
    """``OUT[q, j] += values[q]`` for every vector ``q`` of ``OUT = partials_of(...)``."""


def partials_to_rows(X, flat, n_vectors, out):
    """``out[q * p + j]`` = entry ``j`` of vector ``q`` of ``flat`` (:func:`partials_of`'s layout):
    the vectors one after the other, as ``(n_vectors, p)`` in C order."""


def rows_sq_axpy(X, a, b, g, out):
    """``out[:d] += sum_i g[i - a] * X[i, :d] ** 2`` (diagonal of a weighted Gram matrix)."""


def rows_densify(X, a, b, D):
    """``D[i - a, :d] = X[i, :d]`` as float64 (zeros where CSR stores nothing)."""


_INLINE = dict(jit_options=dict(fastmath=set(_config.FASTMATH), error_model="numpy"))


@jit(inline=True)
def whole_tiles(rows):
    """``rows`` rounded down to a multiple of ``_config.BLOCK_ROW_MULTIPLE`` when at least that."""
    step = _config.BLOCK_ROW_MULTIPLE
    return rows - rows % step if rows >= step else rows


@jit(inline=True)
def thread_balanced(n_chunks):
    """``n_chunks`` rounded down to a multiple of ``_config.CHUNK_MULTIPLE`` when above it, so
    that the chunks split evenly over 1, 2, 4, 8 and 16 threads."""
    step = _config.CHUNK_MULTIPLE
    return n_chunks - n_chunks % step if n_chunks > step else n_chunks


@jit(inline=True)
def n_chunks_for(n, width):
    """How many chunks ``n`` rows are split into when each keeps ``width`` partial sums."""
    by_rows = (n + _config.MIN_CHUNK_ROWS - 1) // _config.MIN_CHUNK_ROWS
    by_memory = _config.PARTIAL_BUDGET_BYTES // (8 * max(width, 1))
    return thread_balanced(max(1, min(_config.MAX_CHUNKS, by_rows, by_memory)))


@jit(inline=True)
def _dense_chunk_bounds(n, width=0):
    n_chunks = n_chunks_for(n, width)
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks + 1):
        bounds[c] = (c * n) // n_chunks
    return bounds


@jit(inline=True)
def csr_n_chunks(n, nnz, width):
    """How many chunks a CSR matrix of ``n`` rows and ``nnz`` stored entries is split into.

    Work is counted as ``nnz + n``. Each chunk gets at least ``_config.MIN_CHUNK_WORK`` of it;
    up to ``_config.WIDE_CHUNKS`` chunks are always allowed (so that many threads get work
    even on a wide matrix), more only while each chunk holds ``WIDE_CHUNKS * width`` of work;
    and ``n_chunks * width`` float64 partials stay within ``_config.PARTIAL_BUDGET_BYTES``,
    the same budget as for dense input; a count above ``_config.CHUNK_MULTIPLE`` is rounded
    down to a multiple of it (:func:`thread_balanced`). Depends on the data's shape only, never
    on threads.
    """
    work = nnz + n
    by_work = work // _config.MIN_CHUNK_WORK
    by_width = max(_config.WIDE_CHUNKS, work // (_config.WIDE_CHUNKS * max(width, 1)))
    by_memory = _config.PARTIAL_BUDGET_BYTES // (8 * max(width, 1))
    return thread_balanced(max(1, min(_config.MAX_CHUNKS, n, by_work, by_width, by_memory)))


@jit()
def _csr_chunk_bounds(indptr, width):
    """Row boundaries that give each chunk about the same number of stored entries plus rows.

    Boundary ``c`` is the first row ``i`` whose cumulative work ``indptr[i] + i`` reaches
    ``c / n_chunks`` of the total (a binary search: ``indptr[i] + i`` strictly increases with
    ``i``). Boundaries depend on ``indptr`` only. A row with more entries than a chunk's share
    would leave empty chunks; those are dropped, so every chunk has at least one row.
    """
    n = indptr.size - 1
    nnz = np.int64(indptr[n])
    work = nnz + n
    n_chunks = csr_n_chunks(n, nnz, width)
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    bounds[0] = 0
    m = 1
    lo = 0
    for c in range(1, n_chunks):
        target = (c * work) // n_chunks
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if np.int64(indptr[mid]) + mid >= target:
                hi = mid
            else:
                lo = mid + 1
        if lo > bounds[m - 1] and lo < n:
            bounds[m] = lo
            m += 1
    bounds[m] = n
    return bounds[: m + 1]


# --- CSR row helpers -------------------------------------------------------------------------

@jit(inline=True)
def _csr_row(data, indices, indptr, i):
    """Stored values and column indices of row ``i``, as slices.

    The primitives loop over these slices from 0 and index with ``np.uint64(column)``: with
    indices known to be non-negative Numba emits no negative-index wraparound, which a loop over
    ``range(indptr[i], indptr[i + 1])`` pays on every entry (docs/performance.md, "Measured
    choices").
    """
    lo = indptr[i]
    hi = indptr[i + 1]
    return data[lo:hi], indices[lo:hi]


@jit()
def _strictly_increasing(cols):
    for q in range(1, cols.size):
        if cols[q] <= cols[q - 1]:
            return False
    return True


@jit()
def _sq_axpy_unsorted_row(row_data, row_cols, g, out):
    """``out[j] += g * s_j ** 2``, ``s_j`` the sum of the row's entries stored in column ``j``."""
    order = np.argsort(row_cols, kind="mergesort")  # stable: duplicates summed in storage order
    m = order.size
    q = 0
    while q < m:
        col = row_cols[order[q]]
        s = np.float64(row_data[order[q]])
        q += 1
        while q < m and row_cols[order[q]] == col:
            s += row_data[order[q]]
            q += 1
        out[col] += g * s * s


@jit(inline=True)
def _scatter_row(row_data, row_cols, g, out):
    """``out[col_q] += g * data_q`` over one stored row, in storage order (duplicates add up).

    Four entries at a time: when their columns are strictly increasing (so distinct), all
    four entries of ``out`` are loaded before any is stored. The plain loop stores each entry
    before the next load, which the compiler may not move past the store (it could be the
    same address), and ran slower (docs/performance.md, "Measured choices"). Every column still
    receives its terms in storage order, so the result is the same bit for bit; groups with a
    repeated or decreasing column take the plain loop.
    """
    m = row_data.size
    m4 = m - m % 4
    for q in range(0, m4, 4):
        c0 = row_cols[q]
        c1 = row_cols[q + 1]
        c2 = row_cols[q + 2]
        c3 = row_cols[q + 3]
        if c0 < c1 and c1 < c2 and c2 < c3:
            u0 = np.uint64(c0)
            u1 = np.uint64(c1)
            u2 = np.uint64(c2)
            u3 = np.uint64(c3)
            v0 = out[u0] + g * row_data[q]
            v1 = out[u1] + g * row_data[q + 1]
            v2 = out[u2] + g * row_data[q + 2]
            v3 = out[u3] + g * row_data[q + 3]
            out[u0] = v0
            out[u1] = v1
            out[u2] = v2
            out[u3] = v3
        else:
            for s in range(q, q + 4):
                out[np.uint64(row_cols[s])] += g * row_data[s]
    for q in range(m4, m):
        out[np.uint64(row_cols[q])] += g * row_data[q]


@overload(n_rows, inline="always", **_INLINE)
def _n_rows(X):
    if isinstance(X, types.Array):
        return lambda X: X.shape[0]
    if _is_csr(X):
        return lambda X: X[2].shape[0] - 1


@overload(n_cols, inline="always", **_INLINE)
def _n_cols(X):
    if isinstance(X, types.Array):
        return lambda X: X.shape[1]
    if _is_csr(X):
        return lambda X: X[3]


@overload(block_rows, **_INLINE)
def _block_rows(X):
    if isinstance(X, types.Array):
        itemsize = X.dtype.bitwidth // 8

        def impl(X):
            per_row = max(1, X.shape[1] * itemsize)
            return whole_tiles(max(1, min(_config.MAX_DENSE_BLOCK_ROWS, _config.BLOCK_BYTES // per_row)))
        return impl
    if _is_csr(X):
        return lambda X: _config.MAX_BLOCK_ROWS


@overload(chunk_bounds, inline="always", **_INLINE)
def _chunk_bounds(X, width):
    if isinstance(X, types.Array):
        return lambda X, width: _dense_chunk_bounds(X.shape[0], width)
    if _is_csr(X):
        return lambda X, width: _csr_chunk_bounds(X[2], width)


# --- dense register tiles --------------------------------------------------------------------

@intrinsic
def _prefetch(typingctx, flat, index, for_writing):
    """Ask for the cache line of ``flat[index]`` (a hint: never faults, no effect on results),
    to be read, or, with a literal ``for_writing`` of 1, written (no second request for ownership)."""
    sig = types.void(flat, index, for_writing)
    rw = getattr(for_writing, "literal_value", None)
    if rw not in (0, 1):
        return None

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        address = builder.bitcast(builder.gep(array.data, [args[1]]), cgutils.voidptr_t)
        i32 = llvm_ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, llvm_ir.FunctionType(llvm_ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(fn, [address, i32(rw), i32(3), i32(1)])  # highest locality, data cache
        return context.get_dummy_value()

    return sig, codegen


@jit(inline=True)
def _dot_c_tiled(X, a, b, W, Z):
    """C-order ``rows_dot`` for ``W.shape[0] >= _config.DOT_TILE_MIN_ROWS``: tiles of 4 rows x 2 classes.

    Each tile keeps 8 independent vector accumulators over ``j``: every load of ``X[i, j]``
    feeds two FMAs and every load of ``W[k, j]`` four (the one-row, one-class loop was bound by
    its two loads per FMA, and re-read each row from L1 once per class). At the edges the row
    and class indices are clipped (``min``): the last row or class is computed twice and written
    twice with the same value, which keeps one loop body (no remainder loops, which ran at
    latency-bound speed). Each ``Z[k, r]`` is the same sum, in the same order, wherever its row
    falls in the block, so results do not depend on block or chunk positions.

    Each class pair also requests a share of the cache lines of the 4 rows
    ``_config.PREFETCH_BYTES`` ahead, so that the next tiles are in cache when their first
    pass starts (see there for the figures).
    """
    d = X.shape[1]
    K = W.shape[0]
    m = b - a
    first = np.uintp(a)
    # Prefetch: the 4 rows PREFETCH_BYTES ahead of the tile, spread over its class pairs.
    flat = X.reshape(X.size)
    per_line = max(1, 64 // X.itemsize)
    ahead = max(4, _config.PREFETCH_BYTES // max(1, d * X.itemsize))
    n_pairs = (K + 1) // 2
    lines_per_pair = ((4 * d + per_line - 1) // per_line + n_pairs - 1) // n_pairs
    for r in range(0, m, 4):
        r0 = r
        r1 = min(r + 1, m - 1)
        r2 = min(r + 2, m - 1)
        r3 = min(r + 3, m - 1)
        i0 = first + np.uintp(r0)
        i1 = first + np.uintp(r1)
        i2 = first + np.uintp(r2)
        i3 = first + np.uintp(r3)
        ahead_start = (a + r + ahead) * d
        ahead_stop = min(ahead_start + 4 * d, flat.size)
        for k0 in range(0, K, 2):
            k1 = min(k0 + 1, K - 1)
            q0 = ahead_start + (k0 // 2) * lines_per_pair * per_line
            for q in range(q0, min(q0 + lines_per_pair * per_line, ahead_stop), per_line):
                _prefetch(flat, q, 0)
            a00 = 0.0
            a01 = 0.0
            a10 = 0.0
            a11 = 0.0
            a20 = 0.0
            a21 = 0.0
            a30 = 0.0
            a31 = 0.0
            for j in range(d):
                w0 = W[k0, j]
                w1 = W[k1, j]
                x0 = X[i0, j]
                x1 = X[i1, j]
                x2 = X[i2, j]
                x3 = X[i3, j]
                a00 += x0 * w0
                a01 += x0 * w1
                a10 += x1 * w0
                a11 += x1 * w1
                a20 += x2 * w0
                a21 += x2 * w1
                a30 += x3 * w0
                a31 += x3 * w1
            Z[k0, r0] = a00
            Z[k1, r0] = a01
            Z[k0, r1] = a10
            Z[k1, r1] = a11
            Z[k0, r2] = a20
            Z[k1, r2] = a21
            Z[k0, r3] = a30
            Z[k1, r3] = a31


@jit(inline=True)
def _axpy_c_rows4(X, a, r_start, r_stop, G, OUT):
    """C-order ``OUT[k, :d] += sum_r G[k, r] * X[a + r, :d]`` for block rows ``r_start <= r < r_stop``:
    four rows per update of ``OUT`` (a quarter of its loads and stores), the last ``< 4`` one by one."""
    d = X.shape[1]
    first = np.uintp(a)
    r4 = r_start + (r_stop - r_start) // 4 * 4
    for r in range(r_start, r4, 4):
        i = first + np.uintp(r)
        for k in range(G.shape[0]):
            g0 = G[k, r]
            g1 = G[k, r + 1]
            g2 = G[k, r + 2]
            g3 = G[k, r + 3]
            for j in range(d):
                OUT[k, j] += (g0 * X[i, j] + g1 * X[i + 1, j]) + (g2 * X[i + 2, j] + g3 * X[i + 3, j])
    for r in range(r4, r_stop):
        i = first + np.uintp(r)
        for k in range(G.shape[0]):
            g = G[k, r]
            for j in range(d):
                OUT[k, j] += g * X[i, j]


@jit(inline=True)
def _column8(A, k, r):
    """``A[k, r:r + 8]`` as a tuple (eight registers)."""
    return (A[k, r], A[k, r + 1], A[k, r + 2], A[k, r + 3], A[k, r + 4], A[k, r + 5], A[k, r + 6], A[k, r + 7])


@jit(inline=True)
def _rows8(X, i, j):
    """``X[i:i + 8, j]`` as a tuple (``i`` unsigned)."""
    one = np.uintp(1)
    return (X[i, j], X[i + one, j], X[i + 2 * one, j], X[i + 3 * one, j],
            X[i + 4 * one, j], X[i + 5 * one, j], X[i + 6 * one, j], X[i + 7 * one, j])


@jit(inline=True)
def _sum8(g, x):
    """``sum_q g[q] x[q]`` over eight terms, in one fixed tree."""
    return (((g[0] * x[0] + g[1] * x[1]) + (g[2] * x[2] + g[3] * x[3]))
            + ((g[4] * x[4] + g[5] * x[5]) + (g[6] * x[6] + g[7] * x[7])))


@jit(inline=True)
def _axpy_c_rows8(X, a, b, G, OUT):
    """C-order ``rows_axpy`` for ``G.shape[0] >= 2``: eight rows per update of ``OUT[k]``, two
    classes per load of the rows.

    The one-class update of ``OUT[k, :]`` is bound by its loads and stores: eight rows per
    update instead of four halve the loads and stores of ``OUT`` per FMA, and updating two
    classes from each load of the eight rows (16 broadcast ``G[k, r]`` in registers, which
    AVX-512's 32 vector registers hold: ``_PAIR_CLASSES``) cuts the loads per FMA from 9/8 to
    10/16; the last class of an odd count goes alone. Each class's sum is the same tree
    (:func:`_sum8`) either way.
    Numba leaves LLVM's SLP vectorizer off, so a tile of register sums over the rows would stay
    scalar: the loop runs over ``j`` (docs/performance.md, "Measured choices", has the
    comparisons). Rows past the last group of eight go by four, then one by one; the grouping
    depends only on the position in the block.
    """
    d = X.shape[1]
    K = G.shape[0]
    m = b - a
    first = np.uintp(a)
    m8 = m - m % 8
    alone = K - K % 2 if _PAIR_CLASSES else 0  # the classes from here on go one at a time
    for r in range(0, m8, 8):
        i = first + np.uintp(r)
        if _PAIR_CLASSES:
            for k in range(0, alone, 2):
                g0 = _column8(G, k, r)
                g1 = _column8(G, k + 1, r)
                for j in range(d):
                    x = _rows8(X, i, j)
                    OUT[k, j] += _sum8(g0, x)
                    OUT[k + 1, j] += _sum8(g1, x)
        for k in range(alone, K):
            g = _column8(G, k, r)
            for j in range(d):
                OUT[k, j] += _sum8(g, _rows8(X, i, j))
    _axpy_c_rows4(X, a, m8, m, G, OUT)


# --- rows_dot --------------------------------------------------------------------------------

@overload(_as_rows, inline="always", **_INLINE)
def _as_rows_impl(A):
    if A.ndim == 1:
        return lambda A: A.reshape((1, A.size))
    return lambda A: A


@jit(inline=True)
def _dot_c_each(X, a, b, W, Z):
    """C-order :func:`rows_dot_each` (2-D ``W``, ``Z``): the vectors two at a time, so that one load
    of ``X[i, j]`` feeds both (the last of an odd count alone)."""
    d = X.shape[1]
    K = W.shape[0]
    first = np.uintp(a)
    for r in range(b - a):
        i = first + np.uintp(r)
        for k in range(0, K - 1, 2):
            acc0 = 0.0
            acc1 = 0.0
            for j in range(d):
                x = X[i, j]
                acc0 += x * W[k, j]
                acc1 += x * W[k + 1, j]
            Z[k, r] = acc0
            Z[k + 1, r] = acc1
        if K % 2 == 1:
            acc = 0.0
            for j in range(d):
                acc += X[i, j] * W[K - 1, j]
            Z[K - 1, r] = acc


@jit(inline=True)
def _dot_f(X, a, b, W, Z):
    """F-order :func:`rows_dot` (2-D ``W``, ``Z``)."""
    d = X.shape[1]
    m = b - a
    for k in range(W.shape[0]):
        for r in range(m):
            Z[k, r] = 0.0
    first = np.uintp(a)  # unsigned: no wraparound check, so the r loop vectorizes
    for j in range(d):
        for k in range(W.shape[0]):
            wj = W[k, j]
            for r in range(m):
                Z[k, r] += X[first + np.uintp(r), j] * wj


@jit(inline=True)
def _dot_csr_packed(X, a, b, P, Z):
    """CSR :func:`rows_dot_packed` (the vectors interleaved, ``P`` ``(n, k)``)."""
    data, indices, indptr = X[0], X[1], X[2]
    k = P.shape[1]
    # One loop over the rows per case of k, reading the flat array at unsigned offsets
    # ``column * k + j``: with the test of k inside the row loop and the 2-D index
    # ``P[column, j]`` the gathers ran slower.
    flat = P.reshape(P.size)
    if k == 1:
        for r in range(b - a):
            row_data, row_cols = _csr_row(data, indices, indptr, a + r)
            acc = 0.0
            for q in range(row_data.size):
                acc += row_data[q] * flat[np.uint64(row_cols[q])]
            Z[0, r] = acc
    elif k <= _config.CSR_GATHER_PAIRS_MAX:
        # Two vectors per pass over the row, as many passes as pairs (coef and one direction: one
        # pass): each pass's loop over the entries keeps its two sums in registers and vectorizes.
        # An odd last vector is summed twice (index clipped) and written twice, with the same value.
        uk = np.uint64(k)
        for r in range(b - a):
            row_data, row_cols = _csr_row(data, indices, indptr, a + r)
            for j in range(0, k, 2):
                j1 = min(j + 1, k - 1)
                u0 = np.uint64(j)
                u1 = np.uint64(j1)
                acc0 = 0.0
                acc1 = 0.0
                for q in range(row_data.size):
                    x = row_data[q]
                    at = np.uint64(row_cols[q]) * uk
                    acc0 += x * flat[at + u0]
                    acc1 += x * flat[at + u1]
                Z[j, r] = acc0
                Z[j1, r] = acc1
    else:
        # The k sums of a row in contiguous scratch, not in Z[:, r] at a stride, so that the loop
        # over the vectors vectorizes (docs/performance.md, "Multinomial CSR"); each sum still
        # adds the row's terms in storage order.
        uk = np.uint64(k)
        acc = np.empty(k)
        for r in range(b - a):
            row_data, row_cols = _csr_row(data, indices, indptr, a + r)
            acc[:] = 0.0
            for q in range(row_data.size):
                x = row_data[q]
                at = np.uint64(row_cols[q]) * uk
                for j in range(k):
                    acc[j] += x * flat[at + np.uint64(j)]
            for j in range(k):
                Z[j, r] = acc[j]


# The format bodies above are IR-inlined into these thin overloads only: inlining into a large
# kernel makes Numba type the whole kernel again, and a further compiled layer would be linked
# and optimized once more in every caller.

@overload(rows_dot, **_INLINE)
def _rows_dot(X, a, b, P, Z):
    if _is_dense(X, "C"):
        def impl(X, a, b, P, Z):
            if P.shape[0] >= _config.DOT_TILE_MIN_ROWS:
                _dot_c_tiled(X, a, b, P, Z)
            else:
                _dot_c_each(X, a, b, P, Z)
        return impl
    if _is_dense(X, "F"):
        return lambda X, a, b, P, Z: _dot_f(X, a, b, P, Z)
    if _is_csr(X):
        return lambda X, a, b, P, Z: _dot_csr_packed(X, a, b, P, Z)


# --- packed vectors and rows_dot_packed -----------------------------------------------------

@overload(vectors_empty, inline="always", **_INLINE)
def _vectors_empty(X, k, n):
    if isinstance(X, types.Array):
        return lambda X, k, n: np.empty((k, n))
    if _is_csr(X):
        return lambda X, k, n: np.empty((n, k))


@overload(vectors_set, inline="always", **_INLINE)
def _vectors_set(X, P, j, w):
    # Explicit loops: an array-to-array slice assignment compiles Numba's shape check and its
    # error message formatting, which cost more than the rest of the hessp kernel.
    if isinstance(X, types.Array):
        def impl(X, P, j, w):
            for q in range(w.size):
                P[j, q] = w[q]
        return impl
    if _is_csr(X):
        def impl(X, P, j, w):
            for q in range(w.size):
                P[q, j] = w[q]
        return impl


@overload(rows_dot_packed, **_INLINE)
def _rows_dot_packed(X, a, b, P, Z):
    if _is_dense(X, "C"):
        return lambda X, a, b, P, Z: _dot_c_each(X, a, b, P, Z)
    if _is_dense(X, "F"):
        return lambda X, a, b, P, Z: _dot_f(X, a, b, P, Z)
    if _is_csr(X):
        return lambda X, a, b, P, Z: _dot_csr_packed(X, a, b, P, Z)


# --- rows_axpy -------------------------------------------------------------------------------

@jit(inline=True)
def _axpy_f(X, a, b, G, OUT):
    """F-order :func:`rows_axpy` (2-D ``G``, ``OUT``)."""
    d = X.shape[1]
    m = b - a
    first = np.uintp(a)
    for j in range(d):
        for k in range(G.shape[0]):
            acc = 0.0
            for r in range(m):
                acc += G[k, r] * X[first + np.uintp(r), j]
            OUT[k, j] += acc


@jit(inline=True)
def _axpy_csr(X, a, b, G, OUT):
    """CSR :func:`rows_axpy` (2-D ``G``; ``OUT`` ``(p, k)``, :func:`partials_of`'s interleaved layout).

    Duplicate column indices are added one after the other: they count as their sum, as in
    SciPy. Every vector's entry gets the row's terms in storage order, whatever ``k``.
    """
    data, indices, indptr = X[0], X[1], X[2]
    k = G.shape[0]
    flat = OUT.reshape(OUT.size)
    if k == 1:
        for r in range(b - a):
            g = G[0, r]
            if g != 0.0:
                row_data, row_cols = _csr_row(data, indices, indptr, a + r)
                _scatter_row(row_data, row_cols, g, flat)
    else:
        uk = np.uint64(k)
        g = np.empty(k)
        for r in range(b - a):
            row_data, row_cols = _csr_row(data, indices, indptr, a + r)
            for j in range(k):
                g[j] = G[j, r]
            for q in range(row_data.size):
                x = row_data[q]
                at = np.uint64(row_cols[q]) * uk
                for j in range(k):
                    flat[at + np.uint64(j)] += g[j] * x


@overload(rows_axpy, **_INLINE)
def _rows_axpy(X, a, b, G, OUT):
    if _is_dense(X, "C"):
        def impl(X, a, b, G, OUT):
            if G.shape[0] >= 2:
                _axpy_c_rows8(X, a, b, G, OUT)
            else:
                _axpy_c_rows4(X, a, 0, b - a, G, OUT)
        return impl
    if _is_dense(X, "F"):
        return lambda X, a, b, G, OUT: _axpy_f(X, a, b, G, OUT)
    if _is_csr(X):
        return lambda X, a, b, G, OUT: _axpy_csr(X, a, b, G, OUT)


@overload(rows_axpy_each, **_INLINE)
def _rows_axpy_each(X, a, b, G, OUT):
    if _is_dense(X, "C"):
        return lambda X, a, b, G, OUT: _axpy_c_rows4(X, a, 0, b - a, _as_rows(G), _as_rows(OUT))
    if _is_dense(X, "F"):
        return lambda X, a, b, G, OUT: _axpy_f(X, a, b, _as_rows(G), _as_rows(OUT))
    if _is_csr(X):
        return lambda X, a, b, G, OUT: _axpy_csr(X, a, b, _as_rows(G), _as_rows(OUT))


# --- the layout of the partial sums the spreads update -----------------------------------------

@overload(partials_of, inline="always", **_INLINE)
def _partials_of(X, flat, n_vectors):
    if isinstance(X, types.Array):
        return lambda X, flat, n_vectors: flat.reshape((n_vectors, flat.size // n_vectors))
    if _is_csr(X):
        return lambda X, flat, n_vectors: flat.reshape((flat.size // n_vectors, n_vectors))


@overload(partials_add, inline="always", **_INLINE)
def _partials_add(X, OUT, j, values):
    if isinstance(X, types.Array):
        def impl(X, OUT, j, values):
            for q in range(values.size):
                OUT[q, j] += values[q]
        return impl
    if _is_csr(X):
        def impl(X, OUT, j, values):
            for q in range(values.size):
                OUT[j, q] += values[q]
        return impl


@overload(partials_to_rows, **_INLINE)
def _partials_to_rows(X, flat, n_vectors, out):
    if isinstance(X, types.Array):
        def impl(X, flat, n_vectors, out):
            for i in range(out.size):
                out[i] = flat[i]
        return impl
    if _is_csr(X):
        def impl(X, flat, n_vectors, out):
            p = flat.size // max(n_vectors, 1)
            for q in range(n_vectors):
                for j in range(p):
                    out[q * p + j] = flat[j * n_vectors + q]
        return impl


@overload(rows_sq_axpy, **_INLINE)
def _rows_sq_axpy(X, a, b, g, out):
    if _is_dense(X, "C"):
        def impl(X, a, b, g, out):
            d = X.shape[1]
            for r in range(b - a):
                i = a + r
                gr = g[r]
                if gr != 0.0:
                    for j in range(d):
                        x = np.float64(X[i, j])
                        out[j] += gr * x * x
        return impl
    if _is_dense(X, "F"):
        def impl(X, a, b, g, out):
            d = X.shape[1]
            first = np.uintp(a)
            for j in range(d):
                acc = 0.0
                for r in range(b - a):
                    x = np.float64(X[first + np.uintp(r), j])
                    acc += g[r] * x * x
                out[j] += acc
        return impl
    if _is_csr(X):
        def impl(X, a, b, g, out):
            data, indices, indptr = X[0], X[1], X[2]
            for r in range(b - a):
                i = a + r
                gr = g[r]
                if gr == 0.0:
                    continue
                row_data, row_cols = _csr_row(data, indices, indptr, i)
                if not _strictly_increasing(row_cols):
                    # A repeated column must contribute the square of its entries' sum,
                    # (x1 + x2)^2, not x1^2 + x2^2. Rows whose columns are not strictly
                    # increasing (unsorted or duplicated: non-canonical input) take an exact,
                    # slower path that sorts the row.
                    _sq_axpy_unsorted_row(row_data, row_cols, gr, out)
                    continue
                for q in range(row_data.size):
                    x = np.float64(row_data[q])
                    out[np.uint64(row_cols[q])] += gr * x * x
        return impl


@overload(rows_densify, **_INLINE)
def _rows_densify(X, a, b, D):
    if isinstance(X, types.Array):
        def impl(X, a, b, D):
            for r in range(b - a):
                for j in range(X.shape[1]):
                    D[r, j] = X[a + r, j]
        return impl
    if _is_csr(X):
        def impl(X, a, b, D):
            data, indices, indptr = X[0], X[1], X[2]
            for r in range(b - a):
                i = a + r
                for j in range(X[3]):
                    D[r, j] = 0.0
                row_data, row_cols = _csr_row(data, indices, indptr, i)
                for q in range(row_data.size):
                    D[r, np.uint64(row_cols[q])] += row_data[q]
        return impl
