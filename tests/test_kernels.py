"""``fastloss.kernels`` and the per-sample loss functions called from a user's own ``@njit`` code.

The Newton-CG example (``tests/test_examples.py``) drives the binary objective kernels from one
``@njit`` function; here the table's kernel rows (``_comparisons.py``) call the per-sample functions
of every binary loss and the pointwise, CSR and multinomial kernels from ``@njit`` code and check
them against the NumPy reference; then the loops, the chunk and block sizes, and the Gram kernels
of the full Hessian at every tile size.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _comparisons import check, rows
from conftest import TWO_THREADS, as_format, dense_of
from numba import njit

from fastloss import losses, reference
from fastloss.kernels import CSR, prepare
from fastloss.kernels import multinomial as MK

BINARY = losses.BINARY_LOSSES


@pytest.mark.parametrize("op, case", rows("kernels"))
def test_matches_reference(op, case):
    """The table's kernel rows: each binary loss's per-sample functions, the binary pointwise
    kernel, the CSR objective kernel (its ``CSR`` built inside @njit code) and the multinomial
    objective kernels, each driven from a user's @njit code in its documented argument order."""
    check(op, case)


def test_each_loss_and_mode_has_a_loop_of_its_own():
    """Every (loss, mode) loop is compiled under a name of its own: Numba's symbol names do not
    tell apart functions that share one, and a kernel loaded from the cache could then call
    another loss's loop. Each is prepared once; a second prepare compiles nothing."""
    from fastloss.kernels import _loops

    assert all(losses.REGISTRY[name].binary for name in BINARY) and not losses.REGISTRY["multinomial"].binary
    for name in BINARY:
        prepare(name)
    loops = dict(_loops._compiled)
    assert len(loops) == len(BINARY) * len(_loops.MODES)
    names = [loop._pyfunc.__qualname__ for loop in loops.values()]
    assert len(set(names)) == len(names), sorted(names)
    for name in BINARY:
        prepare(name)
    assert dict(_loops._compiled) == loops


def test_chunk_counts_split_evenly_over_power_of_two_threads():
    """Above ``CHUNK_MULTIPLE`` every chunk count (dense, CSR, log_loss) is a multiple of it, so
    prange's equal shares leave no thread idle at 2, 4, 8 or 16 threads; it depends on sizes only."""
    from fastloss import _config
    from fastloss.kernels._chunks import bounds_of
    from fastloss.kernels._matrix import csr_n_chunks, n_chunks_for

    step = _config.CHUNK_MULTIPLE
    counts = []
    for n in (1, 1000, 17 * 1024, 33 * 1024 + 5, 97 * 1024, 10**6, 10**8):
        counts.append(len(bounds_of(np.empty((n, 0)), 3)) - 1)
        for width in (1, 101, 1010, 100_001, 2_000_001):
            counts += [n_chunks_for(n, width), csr_n_chunks(n, 50 * n, width)]
    assert all(c >= 1 and (c <= step or c % step == 0) for c in counts)


def test_dense_blocks_are_whole_register_tiles():
    """A dense cache block of ``BLOCK_ROW_MULTIPLE`` rows or more is a multiple of it, so no block
    ends in a partly filled 4-row score tile or a one-row gradient update (81 rows before, at
    d = 100 float64); the multinomial blocks, capped by their scratch, follow the same rule."""
    from numba import njit

    from fastloss import _config
    from fastloss.kernels._matrix import block_rows
    from fastloss.kernels._scores import rows_per_block

    @njit
    def rows_of(X, n_scores):
        return block_rows(X), rows_per_block(X, n_scores)

    step = _config.BLOCK_ROW_MULTIPLE
    seen = []
    for dtype in (np.float32, np.float64):
        for d in (1, 3, 100, 101, 999, 5000, 10_000, 100_000):
            for n_scores in (2, 10, 1000, 5000):
                seen += rows_of(np.zeros((1, d), dtype=dtype), n_scores)
    assert all(r >= 1 and (r < step or r % step == 0) for r in seen)


@pytest.mark.parametrize("src_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K, m", [(8, 8), (10, 64), (13, 21), (3, 40), (1000, 5), (9, 7), (16, 33),
                                  (2, 16), (4, 8), (5, 9), (6, 31), (7, 24), (12, 17), (11, 8), (1, 10)])
def test_block_transposition_between_rows_and_columns(K, m, src_dtype):
    """``kernels._transpose``: rows of a C-ordered (n, K) array to the columns of (K, width)
    scratch and back, with and without a factor per row, in tiles where the block has at least 8
    rows and 2 classes (8 x 8, 8 x 4 and 8 x 2, the edge tiles overlapping: every combination of
    a wide tile and a narrow last one is in the list), value by value otherwise; nothing outside
    the block is written, on either side."""
    from fastloss.kernels._transpose import columns_to_rows, rows_to_columns

    rng = np.random.default_rng(K * m)
    n, width, first = m + 11, m + 3, 5
    A = rng.standard_normal((n, K)).astype(src_dtype)
    C = np.full((K, width), np.nan)
    rows_to_columns(A.reshape(-1), first, m, K, C.reshape(-1), width)
    np.testing.assert_array_equal(C[:, :m], A[first:first + m].T.astype(np.float64))
    assert np.isnan(C[:, m:]).all()
    scale = rng.uniform(0.5, 2.0, width)
    for factor in (None, scale):
        B = np.full((n, K), -7.0, dtype=src_dtype)
        columns_to_rows(C.reshape(-1), width, m, K, B.reshape(-1), first, factor)
        expected = A[first:first + m].astype(np.float64)
        if factor is not None:
            expected = expected * scale[:m, None]
        np.testing.assert_array_equal(B[first:first + m], expected.astype(src_dtype))
        assert (B[:first] == -7.0).all() and (B[first + m:] == -7.0).all()


# --- the full Hessian's weighted Gram (kernels.linear.weighted_gram, multinomial.hessian) ----

def _as_kernel_matrix(X0, fmt):
    """``X0`` (float64, dense) in one of the formats a kernel takes (``conftest.FORMATS``: ``C64``,
    ``F32``, ``CSR32`` ...), and the float64 dense matrix of its values."""
    X = as_format(X0, fmt)
    if sp.issparse(X):
        return CSR(X.data, X.indices, X.indptr, X.shape[1]), dense_of(X)
    return X, dense_of(X)


def _random_matrix(rng, n, d, zeros, fmt):
    """``(X0, X, Xd)``: a standard normal ``(n, d)`` matrix with a fraction ``zeros`` of its entries
    set to 0, in kernel format ``fmt``, and the float64 dense matrix of its values."""
    X0 = rng.standard_normal((n, d))
    X0[rng.random((n, d)) < zeros] = 0.0
    return (X0, *_as_kernel_matrix(X0, fmt))


def _gram_reference(Xd, h, fit_intercept):
    Xt = np.hstack([Xd, np.ones((Xd.shape[0], 1))]) if fit_intercept else Xd
    return Xt.T @ (h[:, None] * Xt)


@pytest.mark.parametrize("fmt", ["C64", "F64", "C32", "F32", "CSR64", "CSR32"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_gram_matches_numpy_for_every_format_and_size(fmt, fit_intercept):
    """Sizes around the 4 x 4 register tile and the row blocks: p = 1, 2, 7, 13, 33 (with the
    intercept one more), n from 1 row to more than one packed block (2048 rows at p <= 32)."""
    from fastloss.kernels.linear import gram_block_rows, weighted_gram

    rng = np.random.default_rng(3)
    for n, d in [(1, 1), (3, 2), (5, 7), (40, 13), (257, 33), (2100, 4)]:
        X0 = rng.standard_normal((n, d))
        X0[rng.random((n, d)) < 0.3] = 0.0
        X, Xd = _as_kernel_matrix(X0, fmt)
        h = rng.uniform(0.0, 2.0, n)
        h[::7] = 0.0  # rows with no curvature count for nothing
        p = d + fit_intercept
        out = np.full((p, p), np.nan)
        h_before = h.copy()
        weighted_gram(X, h, fit_intercept, out)
        want = _gram_reference(Xd, h, fit_intercept)
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
        np.testing.assert_array_equal(out, out.T)
        np.testing.assert_array_equal(h, h_before)
    assert gram_block_rows(5, 2100) < 2100  # the last size spans several packed blocks


def test_weighted_gram_sums_repeated_and_unsorted_csr_columns():
    """A CSR row storing one column twice counts as the sum of its entries (as in SciPy)."""
    from fastloss.kernels.linear import weighted_gram

    data = np.array([1.0, 2.0, -1.5, 0.5, 3.0])
    indices = np.array([2, 0, 2, 1, 0], dtype=np.int64)
    indptr = np.array([0, 3, 5], dtype=np.int64)
    h = np.array([0.7, 1.3])
    Xd = np.zeros((2, 3))
    for i in range(2):
        for q in range(indptr[i], indptr[i + 1]):
            Xd[i, indices[q]] += data[q]
    out = np.empty((4, 4))
    weighted_gram(CSR(data, indices, indptr, 3), h, True, out)
    np.testing.assert_allclose(out, _gram_reference(Xd, h, True), rtol=1e-14)


def _threads_1_and_2(fn):
    """``fn()`` run with 1 and with 2 Numba threads."""
    import numba

    previous = numba.get_num_threads()
    try:
        results = []
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            results.append(fn())
        return results
    finally:
        numba.set_num_threads(previous)


def _check_weighted_gram_at_1_and_2_threads(X, Xd, h):
    """``weighted_gram(X, h)`` with an intercept: the same bits at 1 and 2 threads, numpy's values."""
    from fastloss.kernels.linear import weighted_gram

    def gram():
        out = np.empty((Xd.shape[1] + 1, Xd.shape[1] + 1))
        weighted_gram(X, h, True, out)
        return out

    a, b = _threads_1_and_2(gram)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, _gram_reference(Xd, h, True), rtol=1e-12, atol=1e-12 * np.abs(a).max())


@TWO_THREADS
@pytest.mark.parametrize("fmt", ["C64", "F32", "CSR64"])
def test_weighted_gram_and_multinomial_hessian_bitwise_same_at_1_and_2_threads(fmt):
    """Every output strip is summed by one thread in row order: the same bits for any thread
    count (p = 38 and 4 x 13 coefficients: strips of several sizes, two packed blocks)."""

    rng = np.random.default_rng(4)
    n, d, K = 3500, 37, 4
    X0, X, Xd = _random_matrix(rng, n, d, 0.5, fmt)
    _check_weighted_gram_at_1_and_2_threads(X, Xd, rng.uniform(0.0, 2.0, n))

    Xm, _ = _as_kernel_matrix(X0[:, :12], fmt)
    y = rng.integers(0, K, n)
    sw = rng.uniform(0.1, 2.0, n)
    coef = rng.standard_normal(K * 13) * 0.5

    def multinomial():
        out = np.empty((K * 13, K * 13))
        MK.hessian(Xm, y, sw, coef, True, K, out)
        return out

    a, b = _threads_1_and_2(multinomial)
    np.testing.assert_array_equal(a, b)
    want = reference.objective_hessian("multinomial", X0[:, :12].astype(Xm[0].dtype if fmt.startswith("CSR")
                                                                         else Xm.dtype).astype(np.float64),
                                       y, coef.reshape(K, 13), sample_weight=sw) * sw.sum()
    np.testing.assert_allclose(a, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


@TWO_THREADS
@pytest.mark.parametrize("fmt", ["C64", "F32"])
def test_wide_gram_shares_packed_blocks_among_threads_same_bits(fmt):
    """Too wide for a partial matrix per chunk (``gram_by_chunks`` is False): each packed block is
    added by all threads, strip by strip; the same bits at 1 and 2 threads, numpy's values."""
    from fastloss.kernels.linear import gram_by_chunks

    rng = np.random.default_rng(9)
    n, d = 300, 1500
    _, X, Xd = _random_matrix(rng, n, d, 0.5, fmt)
    assert not gram_by_chunks(X, d + 1, 1)
    _check_weighted_gram_at_1_and_2_threads(X, Xd, rng.uniform(0.0, 2.0, n))


@pytest.mark.parametrize("fmt", ["C64", "F32", "CSR32"])
def test_full_hessian_by_row_chunks_matches_numpy_same_bits_in_python_and_compiled_code(fmt):
    """Long and narrow: the Gram goes by row chunks (each chunk its own packed blocks and partial,
    combined in chunk order). The Python API (chunks on its thread pool) and the compiled kernel
    (their ``prange`` driver) give the same bits, at 1 and 2 threads, binary and multinomial."""
    from fastloss import _run
    from fastloss.kernels import kernel_loss
    from fastloss.kernels import linear as L
    from fastloss.kernels._chunks import bounds_for

    rng = np.random.default_rng(8)
    n, d, K = 32_000, 50, 3
    _, X, Xd = _random_matrix(rng, n, d, 0.3, fmt)
    sw = rng.uniform(0.1, 2.0, n)
    for loss, y, coef in [("logistic", (rng.random(n) < 0.5).astype(np.float64), rng.standard_normal(d + 1) * 0.2),
                          ("multinomial", rng.integers(0, K, n), rng.standard_normal(K * (d + 1)) * 0.2)]:
        k = K if loss == "multinomial" else 1
        assert L.gram_by_chunks(X, d + 1, k) and bounds_for(X, coef.size ** 2).size - 1 >= 16
        kloss = kernel_loss(loss, K, "value_gradient_hessian")

        def compiled(loss=loss, y=y, coef=coef):
            out = np.empty((coef.size, coef.size))
            if loss == "multinomial":
                MK.hessian(X, y, sw, coef, True, K, out)
            else:
                L.hessian(X, y, sw, coef, True, losses.LOSS_IDS[loss], out)
            return out

        a, b = _threads_1_and_2(compiled)
        np.testing.assert_array_equal(a, b)
        for n_threads in (1, 2):
            np.testing.assert_array_equal(_run.hessian(X, y, sw, coef, True, kloss, n_threads), a)
        if k == 1:  # the oracle's per-sample curvature in numpy's Gram
            want = _gram_reference(Xd, sw * reference.point_hessian(loss, y, Xd @ coef[:d] + coef[d]), True)
        elif fmt == "C64":  # the oracle's multinomial Hessian takes seconds: one format
            want = reference.objective_hessian(loss, Xd, y, coef.reshape(K, d + 1), sample_weight=sw) * sw.sum()
        else:
            continue
        np.testing.assert_allclose(a, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("fmt", ["C64", "F32", "CSR64"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multinomial_hessian_kernel_for_odd_sizes(fmt, fit_intercept):
    """Class blocks whose size is no multiple of the 4 x 4 tile (p = 1, 2, 7, 13), 2 and 3 classes."""
    rng = np.random.default_rng(5)
    for n, d, K in [(1, 1, 2), (6, 1, 3), (50, 6, 3), (300, 13, 2)]:
        X0 = rng.standard_normal((n, d))
        X, Xd = _as_kernel_matrix(X0, fmt)
        y = rng.integers(0, K, n)
        p = d + fit_intercept
        coef = rng.standard_normal(K * p) * 0.5
        out = np.full((K * p, K * p), np.nan)
        MK.hessian(X, y, np.empty(0), coef, fit_intercept, K, out)
        want = reference.objective_hessian("multinomial", Xd, y, coef.reshape(K, p), fit_intercept=fit_intercept,
                                           n_classes=K) * n
        np.testing.assert_allclose(out, want, rtol=1e-11, atol=1e-13 * np.abs(want).max())
        np.testing.assert_array_equal(out, out.T)


def _sparse_gram_case(index_dtype):
    """A CSR matrix at ~3 % density (the Gram path by stored entries) with a column stored twice
    in some rows and columns out of order; its dense twin; per-row weights."""
    rng = np.random.default_rng(6)
    n, d, per_row = 700, 61, 2
    cols = rng.integers(0, d, size=(n, per_row))
    cols[::5, 1] = cols[::5, 0]  # a repeated column
    data = rng.standard_normal(n * per_row)
    indptr = np.arange(0, n * per_row + 1, per_row)
    Xd = np.zeros((n, d))
    np.add.at(Xd, (np.repeat(np.arange(n), per_row), cols.ravel()), data)
    X = CSR(data, cols.ravel().astype(index_dtype), indptr.astype(index_dtype), d)
    return X, Xd, rng.uniform(0.0, 2.0, n), rng


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_sparse_gram_path_matches_numpy_with_repeated_and_unsorted_columns(index_dtype):
    """CSR at ~3 % density takes the path by stored entries (``gram_add_sparse``); rows with a
    column stored twice and out of order count as the sum of their entries, for the binary and
    the multinomial Hessian."""
    from fastloss import _config
    from fastloss.kernels.linear import gram_plan, weighted_gram

    X, Xd, h, rng = _sparse_gram_case(index_dtype)
    n, d = Xd.shape
    K = 3
    assert (X[2][1] - X[2][0]) / d <= _config.GRAM_SPARSE_MAX_DENSITY
    assert njit(lambda X: gram_plan(X, d + 1, 1))(X)[1]
    for fit_intercept in (True, False):
        out = np.empty((d + fit_intercept, d + fit_intercept))
        weighted_gram(X, h, fit_intercept, out)
        want = _gram_reference(Xd, h, fit_intercept)
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    y = rng.integers(0, K, n)
    coef = rng.standard_normal(K * (d + 1)) * 0.5
    out = np.empty((K * (d + 1), K * (d + 1)))
    MK.hessian(X, y, np.empty(0), coef, True, K, out)
    want = reference.objective_hessian("multinomial", Xd, y, coef.reshape(K, d + 1)) * n
    np.testing.assert_allclose(out, want, rtol=1e-11, atol=1e-13 * np.abs(want).max())
    np.testing.assert_array_equal(out, out.T)


@TWO_THREADS
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_sparse_gram_path_bitwise_same_at_1_and_2_threads(index_dtype):
    """Each output row of the path by stored entries is one task, summed in row order."""
    from fastloss.kernels.linear import weighted_gram

    X, Xd, h, _ = _sparse_gram_case(index_dtype)
    d = Xd.shape[1]

    def binary():
        out = np.empty((d + 1, d + 1))
        weighted_gram(X, h, True, out)
        return out

    a, b = _threads_1_and_2(binary)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("features, paired", [("+64bit,+avx,+avx2,+fma", False),
                                              ("+64bit,+avx,+avx2,+fma,+avx512f", True),
                                              ("+64bit,+avx,+avx2,+fma,-avx512f", False)])
def test_classes_are_paired_only_for_targets_with_avx512(features, paired):
    """The multinomial update pairs classes (16 broadcast weights in registers) only where Numba
    compiles for AVX-512, read from the features it compiles for (``NUMBA_CPU_FEATURES`` here)."""
    import os
    import subprocess
    import sys

    code = "from fastloss.kernels import _matrix; print(_matrix._PAIR_CLASSES)"
    env = dict(os.environ, NUMBA_CPU_FEATURES=features)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(paired)
