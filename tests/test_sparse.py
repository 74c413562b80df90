"""Sparse ``X``: a SciPy sparse matrix or array works wherever a dense one does (contract section 3).

Every ``LinearObjective`` method on an awkward CSR ``X`` (empty rows, first and last among them,
explicit zeros, unsorted column indices, duplicate entries that count as their sum) is compared
with the NumPy oracle ``fastloss.reference`` by the table's rows (``_comparisons.py``), for every
loss, and with scikit-learn's ``LinearModelLoss`` (same CSR input). Then: the same methods on the
dense copy of awkward structures (sorted or not, long rows with repeats, entries past
``indptr[-1]``), other formats, shapes and dtypes; finite differences; bitwise determinism across
thread counts, on a balanced-by-non-zeros chunk split and on a 2,000,000-feature matrix whose chunk
count the memory budget lowers; invalid structures (``ValueError`` naming the problem, never a
crash); and the caller's matrix is neither copied nor modified.

Compile time: each (data dtype, index dtype) pair compiles every kernel once, so only two
pairs are used (float64/int32, SciPy's default, and float32/int64, marked ``slow``). Read-only
CSR arrays are a further Numba type: that case is ``slow`` too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import conftest
import numpy as np
import pytest
import scipy.sparse as sp
from _comparisons import CASES, check, check_methods_agree, rows
from conftest import TWO_THREADS, awkward_csr, central_difference, dense_of, directions
from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
from sklearn.linear_model._linear_loss import LinearModelLoss

from fastloss import LinearObjective
from fastloss import reference as ref
from fastloss._config import PARTIAL_BUDGET_BYTES

#: (data dtype, index dtype): SciPy's default, and the other dtype of each. The second pair
#: compiles every binary kernel once more (about a minute cold), hence ``slow``.
COMBOS = (
    pytest.param(np.float64, np.int32, id="f64-i32"),
    pytest.param(np.float32, np.int64, id="f32-i64", marks=pytest.mark.slow),
)
K = 3  # classes of the multinomial cases


# --------------------------------------------------------------------------------------------
# Data (``awkward_csr`` and ``dense_of`` are in conftest: the table's CSR cases use them too)
# --------------------------------------------------------------------------------------------

def labels(name, n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, K if name == "multinomial" else 2, size=n).astype(np.float64)


def coef_for(obj, seed=2, scale=0.8):
    return conftest.coef_for(obj, seed=seed, scale=scale)


def close(actual, expected, rtol=1e-12):
    expected = np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def snapshot(X):
    return X, X.data, X.indices, X.indptr, X.data.copy(), X.indices.copy(), X.indptr.copy()


def assert_untouched(snap):
    X, data, indices, indptr, data0, indices0, indptr0 = snap
    assert X.data is data and X.indices is indices and X.indptr is indptr
    np.testing.assert_array_equal(X.data, data0)
    np.testing.assert_array_equal(X.indices, indices0)
    np.testing.assert_array_equal(X.indptr, indptr0)
    assert X.indices.dtype == indices0.dtype and X.indptr.dtype == indptr0.dtype


def all_methods(obj, coef, V):
    """Every method's result, in a dict (hessp for one and for several directions)."""
    loss, grad = obj.loss_gradient(coef)
    g2, hessp = obj.gradient_hessp(coef)
    out = {
        "loss": obj.loss(coef),
        "gradient": obj.gradient(coef),
        "loss_gradient.loss": loss,
        "loss_gradient.grad": grad,
        "hessp": obj.hessp(coef, V[:, 0].reshape(obj.coef_shape)),
        "hessp.flat": obj.hessp(coef, V[:, 1]),
        "hessp.2d": obj.hessp(coef, V),
        "gradient_hessp.grad": g2,
        "gradient_hessp.hessp": hessp(V[:, 0].reshape(obj.coef_shape)),
        "gradient_hessp.hessp.2d": hessp(V),
        "hessian_diag": obj.hessian_diag(coef),
        "hessian": obj.hessian(coef),
    }
    return out


# --------------------------------------------------------------------------------------------
# Sparse == dense == reference == scikit-learn
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, case", rows("sparse"))
def test_matches_reference(op, case):
    """The table's objective rows on awkward CSR matrices (every binary loss, both (data, index)
    dtype pairs, the multinomial loss on the first); the dense formats' rows are the same
    comparisons, so CSR agrees with dense through the reference."""
    check(op, case)


@pytest.mark.parametrize("case", [c for c in CASES["sparse"] if c.loss in ("logistic", "multinomial")],
                         ids=lambda c: c.id)
def test_methods_agree_with_each_other(case):
    check_methods_agree(case)


@pytest.mark.parametrize("name", ["logistic", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
def test_matches_sklearn_linear_model_loss_on_the_same_csr(name, fit_intercept):
    X = awkward_csr(n=80, d=6, seed=5)  # duplicates and unsorted rows: SciPy's products sum them too
    n = X.shape[0]
    y = labels(name, n, seed=6)
    sw = np.random.default_rng(7).uniform(0.2, 2.0, size=n)
    l2 = 0.25
    obj = LinearObjective(X, y, name, l2=l2, fit_intercept=fit_intercept, sample_weight=sw)
    coef = coef_for(obj, seed=8)
    v = np.random.default_rng(9).normal(size=obj.coef_shape)
    if name == "multinomial":
        lml = LinearModelLoss(HalfMultinomialLoss(n_classes=K), fit_intercept=fit_intercept)
        to_sk = lambda a: a.ravel(order="F")  # noqa: E731  sklearn: classes contiguous
        from_sk = lambda a: a.reshape(obj.coef_shape, order="F")  # noqa: E731
    else:
        lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=fit_intercept)
        to_sk = from_sk = lambda a: a  # noqa: E731
    loss_sk, grad_sk = lml.loss_gradient(to_sk(coef), X, y, sample_weight=sw, l2_reg_strength=l2)
    _, hessp_sk = lml.gradient_hessian_product(to_sk(coef), X, y, sample_weight=sw, l2_reg_strength=l2)
    loss, grad = obj.loss_gradient(coef)
    assert loss == pytest.approx(loss_sk, rel=1e-12)
    close(grad, from_sk(grad_sk))
    close(obj.hessp(coef, v), from_sk(hessp_sk(to_sk(v))))
    _, hessp = obj.gradient_hessp(coef)
    close(hessp(v), from_sk(hessp_sk(to_sk(v))))


# --------------------------------------------------------------------------------------------
# Structure: duplicates, order, empty rows, formats, shapes, dtypes
# --------------------------------------------------------------------------------------------

def test_duplicates_count_as_their_sum_in_every_method():
    # Row 0 stores column 1 three times (2 + 3 - 1 = 4) unsorted with column 0; hessian_diag
    # must see 4**2, not 2**2 + 3**2 + 1**2.
    data = np.array([2.0, 0.5, 3.0, -1.0, 1.5, 1.5])
    indices = np.array([1, 0, 1, 1, 2, 2], dtype=np.int32)
    indptr = np.array([0, 4, 4, 6], dtype=np.int32)
    X = sp.csr_matrix((data, indices, indptr), shape=(3, 3))
    D = np.array([[0.5, 4.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(dense_of(X), D)
    y = np.array([1.0, 0.0, 1.0])
    obj, dense = LinearObjective(X, y, l2=0.1), LinearObjective(D, y, l2=0.1)
    coef = np.array([0.3, -0.2, 0.1, 0.05])
    V = directions(obj, k=2)
    got, want = all_methods(obj, coef, V), all_methods(dense, coef, V)
    for key in want:
        close(got[key], want[key])


def test_sorted_and_unsorted_storage_of_one_matrix_agree():
    X = awkward_csr(n=90, d=9, seed=11, canonical=True)
    assert X.has_sorted_indices
    shuffled = X.copy()
    rng = np.random.default_rng(12)
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        perm = rng.permutation(hi - lo)
        shuffled.indices[lo:hi] = X.indices[lo:hi][perm]
        shuffled.data[lo:hi] = X.data[lo:hi][perm]
    shuffled.has_sorted_indices = False
    y = labels("logistic", X.shape[0])
    a, b = LinearObjective(X, y, "modified_huber"), LinearObjective(shuffled, y, "modified_huber")
    coef = coef_for(a)
    V = directions(a)
    got, want = all_methods(b, coef, V), all_methods(a, coef, V)
    for key in want:
        close(got[key], want[key])


def long_rows_with_repeats(n=40, d=23, seed=14):
    """Rows of 0..30 entries whose repeated or out-of-order columns fall at every position of
    the 4-entry groups that the CSR scatter handles at once (and in its remainder)."""
    rng = np.random.default_rng(seed)
    rows_cols, rows_data = [], []
    for i in range(n):
        length = int(rng.integers(0, 31)) if i % 7 else 0
        cols = np.sort(rng.integers(0, d, size=length))  # sorted, with repeats
        if i % 3 == 1 and length >= 2:
            q = int(rng.integers(0, length - 1))
            cols[q], cols[q + 1] = cols[q + 1], cols[q]  # one swap: out of order there
        if i % 5 == 2 and length >= 3:
            q = int(rng.integers(1, length))
            cols[q] = cols[q - 1]  # a repeat of the previous column at a random position
        rows_cols.append(cols)
        rows_data.append(rng.normal(size=length))
    indptr = np.concatenate([[0], np.cumsum([len(c) for c in rows_cols])]).astype(np.int32)
    X = sp.csr_matrix((n, d))
    X.data, X.indices, X.indptr = np.concatenate(rows_data), np.concatenate(rows_cols).astype(np.int32), indptr
    X.has_sorted_indices = X.has_canonical_format = False
    return X


@pytest.mark.parametrize("name", ["logistic", "squared_hinge"])
def test_long_rows_with_repeats_match_dense(name):
    """The CSR scatter (four entries at a time when their columns increase) and the packed
    dot products of ``hessp`` (coef and 1, 2 or 3 directions read in one gather) agree with
    the dense kernels, duplicates counting as their sum wherever they fall in a row."""
    X = long_rows_with_repeats()
    assert any(np.any(np.diff(X.indices[X.indptr[i]:X.indptr[i + 1]]) == 0) for i in range(X.shape[0]))
    y = labels(name, X.shape[0])
    obj, dense = LinearObjective(X, y, name, l2=0.1), LinearObjective(dense_of(X), y, name, l2=0.1)
    coef = coef_for(obj, scale=0.3)
    for k in (1, 2, 3):
        V = directions(obj, k=k, seed=k)
        close(obj.hessp(coef, V), dense.hessp(coef, V))
        close(obj.gradient_hessp(coef)[1](V), dense.gradient_hessp(coef)[1](V))
    got, want = all_methods(obj, coef, directions(obj)), all_methods(dense, coef, directions(obj))
    for key in want:
        close(got[key], want[key])


OTHER_FORMATS = {
    "csr_array": sp.csr_array,
    "csc_matrix": sp.csc_matrix,
    "csc_array": sp.csc_array,
    "coo_matrix": sp.coo_matrix,
    "coo_array": sp.coo_array,
    "lil": sp.lil_matrix,
    "dok": sp.dok_matrix,
    "bsr": sp.bsr_matrix,
}


def test_other_formats_are_converted_once_and_agree():
    X = awkward_csr(n=50, d=6, seed=13)
    y = labels("logistic", X.shape[0])
    base = LinearObjective(X, y, "tangent", l2=0.2)
    coef = coef_for(base)
    V = directions(base)
    want = all_methods(base, coef, V)
    for fmt, to_format in OTHER_FORMATS.items():
        # From a fresh copy each time: SciPy's tolil() sums the *source's* duplicates in place,
        # which would corrupt conversions made earlier that share its arrays.
        Xf = to_format(awkward_csr(n=50, d=6, seed=13))
        obj = LinearObjective(Xf, y, "tangent", l2=0.2)
        got = all_methods(obj, coef, V)
        for key in want:
            close(got[key], want[key])
        assert obj._X[2].dtype == obj._X[1].dtype, fmt


def test_coo_with_duplicate_coordinates():
    row = np.array([0, 2, 0, 1, 2, 0])
    col = np.array([1, 0, 1, 2, 0, 1])
    data = np.array([1.0, 2.0, -0.5, 4.0, 0.25, 3.0])
    X = sp.coo_matrix((data, (row, col)), shape=(3, 3))
    snap = (X.row.copy(), X.col.copy(), X.data.copy())
    y = np.array([0.0, 1.0, 1.0])
    obj, dense = LinearObjective(X, y), LinearObjective(X.toarray(), y)
    coef = np.array([0.4, -0.3, 0.2, 0.1])
    V = directions(obj, k=2)
    got, want = all_methods(obj, coef, V), all_methods(dense, coef, V)
    for key in want:
        close(got[key], want[key])
    for a, b in zip(snap, (X.row, X.col, X.data), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 9), (40, 1)], ids=["1xd", "nx1"])
def test_single_row_and_single_column(shape):
    rng = np.random.default_rng(14)
    D = rng.normal(size=shape) * (rng.random(shape) < 0.6)
    X = sp.csr_matrix(D)
    y = (np.arange(shape[0]) % 2).astype(float)
    obj, dense = LinearObjective(X, y, l2=0.1), LinearObjective(D, y, l2=0.1)
    coef = coef_for(obj)
    V = directions(obj, k=2)
    got, want = all_methods(obj, coef, V), all_methods(dense, coef, V)
    for key in want:
        close(got[key], want[key])


@pytest.mark.parametrize("name", ["logistic", "multinomial"])
def test_all_zero_matrix_is_valid(name):
    X = sp.csr_matrix((25, 4))
    assert X.nnz == 0
    y = labels(name, 25)
    obj, dense = LinearObjective(X, y, name, l2=0.5), LinearObjective(np.zeros((25, 4)), y, name, l2=0.5)
    coef = coef_for(obj)
    V = directions(obj, k=2)
    got, want = all_methods(obj, coef, V), all_methods(dense, coef, V)
    for key in want:
        close(got[key], want[key])


def test_entries_past_indptr_end_are_ignored():
    X = awkward_csr(n=30, d=5, seed=15)
    nnz = X.nnz
    # Storage longer than the matrix, its tail garbage (non-finite, out of range): SciPy ignores it.
    data = np.concatenate([X.data, [np.nan, np.inf, 7.0]])
    indices = np.concatenate([X.indices, np.array([99, -4, 2], dtype=X.indices.dtype)])
    padded = sp.csr_matrix((X.shape), dtype=np.float64)
    padded.data, padded.indices, padded.indptr = data, indices, X.indptr.copy()
    assert padded.indptr[-1] == nnz < padded.data.size
    y = labels("logistic", 30)
    a, b = LinearObjective(padded, y, l2=0.1), LinearObjective(X, y, l2=0.1)
    coef = coef_for(a)
    V = directions(a)
    got, want = all_methods(a, coef, V), all_methods(b, coef, V)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.parametrize("dtype, index_dtype", COMBOS)
def test_csr_is_used_in_place(dtype, index_dtype):
    X = awkward_csr(n=20, d=4, dtype=dtype, index_dtype=index_dtype)
    snap = snapshot(X)
    obj = LinearObjective(X, labels("logistic", 20))
    data, indices, indptr, n_cols = obj._X
    assert n_cols == 4 and obj.dtype == dtype
    assert np.shares_memory(data, X.data) and np.shares_memory(indices, X.indices)
    assert indptr is X.indptr or np.shares_memory(indptr, X.indptr)
    obj.loss_gradient(coef_for(obj))
    assert_untouched(snap)


@pytest.mark.slow
def test_read_only_csr_is_used_in_place():
    X = awkward_csr(n=20, d=4)
    for a in (X.data, X.indices, X.indptr):
        a.flags.writeable = False
    y = labels("logistic", 20)
    obj = LinearObjective(X, y)
    assert np.shares_memory(obj._X[0], X.data)
    coef = coef_for(obj)
    close(obj.loss(coef), LinearObjective(dense_of(X), y).loss(coef))


def test_other_dtypes_are_converted():
    # Mismatched index dtypes (indices int32, indptr int64), integer and bool data.
    X = awkward_csr(n=20, d=4)
    X.indptr = X.indptr.astype(np.int64)
    for data in (X.data, np.round(3 * X.data).astype(np.int16), X.data != 0):
        Xd = sp.csr_matrix(X.shape)
        Xd.data, Xd.indices, Xd.indptr = data, X.indices, X.indptr
        obj = LinearObjective(Xd, labels("logistic", 20))
        assert obj._X[1].dtype == obj._X[2].dtype and obj.dtype == np.float64
        dense = LinearObjective(dense_of(Xd), labels("logistic", 20))
        close(obj.gradient(coef_for(obj)), dense.gradient(coef_for(obj)))


# --------------------------------------------------------------------------------------------
# Calculus
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["logistic", "tangent", "multinomial"])
def test_finite_differences(name):
    X = awkward_csr(n=70, d=5, seed=16)
    y = labels(name, X.shape[0], seed=17)
    obj = LinearObjective(X, y, name, l2=0.05, sample_weight=np.linspace(0.5, 2.0, X.shape[0]))
    coef = coef_for(obj, seed=18, scale=0.5).ravel()
    v = np.random.default_rng(19).normal(size=coef.size)
    v /= np.linalg.norm(v)
    # 4th-order central differences of the loss along v, and of the gradient along v.
    df = central_difference(lambda t: obj.loss(coef + t[0] * v), np.zeros(1), 1e-3)[0]
    dg = central_difference(lambda t: obj.gradient(coef + t[0] * v), np.zeros(1), 1e-3)[:, 0]
    assert obj.gradient(coef) @ v == pytest.approx(df, rel=1e-7, abs=1e-9)
    close(obj.hessp(coef, v), dg, rtol=1e-7)


# --------------------------------------------------------------------------------------------
# Determinism and the chunk split
# --------------------------------------------------------------------------------------------

def skewed_csr(n, d, seed=20, index_dtype=np.int32):
    """Row lengths from 0 to ~20 * mean, many empty rows; built straight from arrays (cheap)."""
    rng = np.random.default_rng(seed)
    lengths = rng.geometric(0.08, size=n) - 1
    lengths[rng.random(n) < 0.3] = 0
    lengths[rng.integers(0, n, size=5)] = 400  # a few long rows
    lengths = np.minimum(lengths, d)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(index_dtype)
    indices = rng.integers(0, d, size=int(indptr[-1])).astype(index_dtype)
    data = rng.normal(size=int(indptr[-1]))
    return sp.csr_matrix((data, indices, indptr), shape=(n, d))


def test_chunk_bounds_balance_stored_entries():
    from fastloss.kernels._matrix import _csr_chunk_bounds, csr_n_chunks

    X = skewed_csr(200_000, 60)
    indptr = X.indptr
    n, nnz = X.shape[0], X.nnz
    for width in (61, 10_000, 3_000_000):
        b = _csr_chunk_bounds(indptr, width)
        n_chunks = csr_n_chunks(n, nnz, width)
        assert b[0] == 0 and b[-1] == n and np.all(np.diff(b) > 0)
        assert len(b) - 1 <= n_chunks and (len(b) - 1) * width * 8 <= PARTIAL_BUDGET_BYTES
        work = np.diff(indptr.astype(np.int64)[b]) + np.diff(b)  # stored entries + rows per chunk
        longest_row = int(np.max(np.diff(indptr))) + 1
        assert work.max() < (nnz + n) / n_chunks + longest_row + 1
        np.testing.assert_array_equal(b, _csr_chunk_bounds(indptr.astype(np.int64), width))
    assert len(_csr_chunk_bounds(indptr, 61)) - 1 > 4  # the split this test is about
    # One row holding almost everything: no empty chunk.
    one = np.array([0, 0, 5_000_000, 5_000_001, 5_000_001], dtype=np.int64)
    b = _csr_chunk_bounds(one, 10)
    assert b[0] == 0 and b[-1] == 4 and np.all(np.diff(b) > 0)


@TWO_THREADS
@pytest.mark.parametrize("name", ["logistic", "multinomial"])
def test_bitwise_identical_across_thread_counts(name):
    X = skewed_csr(60_000, 40)
    y = labels(name, X.shape[0])
    sw = np.random.default_rng(21).uniform(0.5, 1.5, size=X.shape[0])
    objs = [LinearObjective(X, y, name, l2=0.01, sample_weight=sw, n_threads=t) for t in (1, 2)]
    coef = coef_for(objs[0], scale=0.2)
    V = directions(objs[0], k=2)
    runs = [all_methods(o, coef, V) for o in objs]
    for key in runs[0]:
        assert np.array_equal(runs[0][key], runs[1][key]), key
    assert np.array_equal(objs[1].loss_gradient(coef)[1], runs[1]["gradient"])  # run to run


@TWO_THREADS
def test_two_million_features_stay_within_the_partial_budget():
    """d = 2,000,000 with 40,000 rows: a chunk's partial gradient is 16 MB, so the budget, not
    the data, sets the chunk count; results are still bitwise thread-count independent and
    match the reference."""
    from fastloss.kernels._matrix import _csr_chunk_bounds, csr_n_chunks

    n, d, per_row = 40_000, 2_000_000, 30
    rng = np.random.default_rng(22)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    indices = rng.integers(0, d, size=n * per_row, dtype=np.int32)
    X = sp.csr_matrix((rng.normal(size=n * per_row), indices, indptr), shape=(n, d))
    y = labels("logistic", n)
    p = d + 1
    by_work = (X.nnz + n) // 65_536
    for width in (p, 2 * p):  # gradient; hessp with 2 directions
        n_chunks = len(_csr_chunk_bounds(X.indptr, width)) - 1
        assert n_chunks * width * 8 <= PARTIAL_BUDGET_BYTES
        assert n_chunks == csr_n_chunks(n, X.nnz, width) == PARTIAL_BUDGET_BYTES // (8 * width)
    assert PARTIAL_BUDGET_BYTES // (8 * 2 * p) < min(by_work, 16)  # the budget binds

    objs = [LinearObjective(X, y, "squared_hinge", l2=1e-3, n_threads=t) for t in (1, 2)]
    coef = rng.normal(scale=0.1, size=p)
    V = rng.normal(size=(p, 2))
    l1, g1 = objs[0].loss_gradient(coef)
    l2_, g2 = objs[1].loss_gradient(coef)
    assert l1 == l2_ and np.array_equal(g1, g2)
    h1, h2 = objs[0].hessp(coef, V), objs[1].hessp(coef, V)
    assert np.array_equal(h1, h2)
    d1, d2 = objs[0].hessian_diag(coef), objs[1].hessian_diag(coef)
    assert np.array_equal(d1, d2)
    kw = dict(l2=1e-3)
    close(l1, ref.objective_loss("squared_hinge", X, y, coef, **kw))
    close(g1, ref.objective_gradient("squared_hinge", X, y, coef, **kw))
    close(h1, ref.objective_hessp("squared_hinge", X, y, coef, V, **kw))
    close(d1, ref.objective_hessian_diag("squared_hinge", X, y, coef, **kw))


@TWO_THREADS
def test_two_passes_give_the_bits_of_one(tmp_path):
    """Wide CSR scores a run of blocks, keeps their derivatives and spreads them in a second
    pass (what ``kernels.linear.two_passes`` picks for the kernels' argument ``two``): every partial gets the
    same terms in the same order as when each block is spread right after it is scored, so every
    method gives the same bits. A fresh process without the cache lowers ``CSR_TWO_PASS_BYTES`` to
    0 (every CSR ``loss_gradient`` and ``hessp`` takes two passes) and ``CSR_KEPT_VALUES`` below
    a chunk's rows (several second passes per range of chunks, a block at a time for
    multinomial), at 1 and 2 threads; this process computes the same with one pass. Float64
    data with int32 indices for both kinds of loss, float32 with int64 for logistic; one process
    for all: it compiles without the cache."""
    X = skewed_csr(60_000, 40)
    X32 = sp.csr_matrix((X.data.astype(np.float32), X.indices.astype(np.int64), X.indptr.astype(np.int64)),
                        shape=X.shape)
    sw = np.random.default_rng(21).uniform(0.5, 1.5, size=X.shape[0])
    np.savez(tmp_path / "X.npz", data=X.data, indices=X.indices, indptr=X.indptr, sw=sw)
    one_pass = {}
    for name, loss, matrix in (("logistic", "logistic", X), ("multinomial", "multinomial", X),
                               ("logistic32", "logistic", X32)):
        y = labels(loss, X.shape[0])
        obj = LinearObjective(matrix, y, loss, l2=0.01, sample_weight=sw)
        coef, V = coef_for(obj, scale=0.2), directions(obj, k=2)
        np.savez(tmp_path / f"{name}.npz", y=y, coef=coef, V=V)
        one_pass[name] = all_methods(obj, coef, V)
    code = f"""
        import sys
        import numpy as np
        import scipy.sparse as sp
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import fastloss._config as config
        config.CSR_TWO_PASS_BYTES = 0
        config.CSR_KEPT_VALUES = 600
        from fastloss import LinearObjective
        from test_sparse import all_methods
        folder = {str(tmp_path)!r}
        p = np.load(folder + "/X.npz")
        X = sp.csr_matrix((p["data"], p["indices"], p["indptr"]), shape={X.shape!r})
        X32 = sp.csr_matrix((p["data"].astype(np.float32), p["indices"].astype(np.int64),
                             p["indptr"].astype(np.int64)), shape=X.shape)
        for name, loss, matrix in (("logistic", "logistic", X), ("multinomial", "multinomial", X),
                                   ("logistic32", "logistic", X32)):
            q = np.load(folder + f"/{{name}}.npz")
            for t in (1, 2):
                obj = LinearObjective(matrix, q["y"], loss, l2=0.01, sample_weight=p["sw"], n_threads=t)
                np.savez(folder + f"/{{name}}_two_pass_{{t}}.npz", **all_methods(obj, q["coef"], q["V"]))
        """
    env = dict(os.environ, FASTLOSS_NO_CACHE="1")  # the lowered thresholds must not reach the cache
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, expected in one_pass.items():
        for t in (1, 2):
            two_pass = np.load(tmp_path / f"{name}_two_pass_{t}.npz")
            assert set(two_pass.files) == set(expected)
            for key, value in expected.items():
                assert np.array_equal(two_pass[key], value), (name, t, key)


def _compiled_sums(X, loss, y, sw, coef, V, n_threads):
    """The compiled kernels' unnormalized sums (``loss_gradient`` keeping the curvature, ``hessp``
    recomputing it and from the cached one) on ``n_threads`` Numba threads."""
    import numba

    from fastloss import losses
    from fastloss.kernels import linear, multinomial

    K = coef.size // (X[3] + 1)
    grad, curvature, fresh, cached = (np.empty(coef.size), np.empty(y.size * K), np.empty(V.shape),
                                      np.empty(V.shape))
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        if loss == "multinomial":
            total = multinomial.loss_gradient(X, y, sw, coef, True, K, True, grad, curvature)
            multinomial.hessp(X, y, sw, coef, True, K, np.empty(0), V, fresh)
            multinomial.hessp(X, y, sw, coef, True, K, curvature, V, cached)
        else:
            loss_id = losses.LOSS_IDS[loss]
            total = linear.loss_gradient(X, y, sw, coef, True, loss_id, True, grad, curvature)
            linear.hessp(X, y, sw, coef, True, loss_id, np.empty(0), V, fresh)
            linear.hessp(X, y, sw, coef, True, loss_id, curvature, V, cached)
    finally:
        numba.set_num_threads(previous)
    return dict(loss=np.array([total]), gradient=grad, curvature=curvature, hessp=fresh, cached_hessp=cached)


def _python_sums(X, loss, y, sw, coef, V, n_threads):
    """:func:`_compiled_sums` through the Python API's drivers (chunks on its thread pool)."""
    from fastloss import _run
    from fastloss.kernels import kernel_loss

    K = coef.size // (X[3] + 1)
    kloss = kernel_loss(loss, K, "value_gradient_hessian")
    curvature = np.empty(y.size * K)
    total, grad = _run.loss_gradient(X, y, sw, coef, True, kloss, True, curvature, n_threads)
    return dict(loss=np.array([total]), gradient=grad, curvature=curvature,
                hessp=_run.hessp(X, y, sw, coef, True, kloss, np.empty(0), V, n_threads),
                cached_hessp=_run.hessp(X, y, sw, coef, True, kloss, curvature, V, n_threads))


@TWO_THREADS
@pytest.mark.parametrize("loss", ["logistic", "multinomial"])
@pytest.mark.parametrize("shape", ["many chunks", "wide"])
def test_compiled_kernels_give_the_bits_of_the_python_api_at_1_and_2_threads(loss, shape):
    """The compiled kernels run the Python API's chunk functions through their ``prange`` drivers,
    one range of chunks per thread: the same bits as the Python API's drivers, at 1 and 2 threads.
    ``many chunks``: one pass, several ranges. ``wide`` (2,097,152 columns): the partial sums and
    packed coefficients exceed ``CSR_TWO_PASS_BYTES`` at any thread count, so both take two passes."""
    from fastloss.kernels import CSR, linear, prepare
    from fastloss.kernels._chunks import bounds_for

    rng = np.random.default_rng(31)
    if shape == "wide":
        A = sp.random(6, 1 << 21, density=2e-5, format="csr", random_state=3)
    else:
        A = skewed_csr(60_000, 40)
    X = CSR(A.data, A.indices, A.indptr, A.shape[1])
    K = 3 if loss == "multinomial" else 1
    y = rng.integers(0, K, A.shape[0]) if K > 1 else labels(loss, A.shape[0]).astype(np.float64)
    sw = rng.uniform(0.5, 1.5, A.shape[0])
    coef = rng.standard_normal(K * (A.shape[1] + 1)) * 0.2
    V = rng.standard_normal((2, coef.size))
    wide = linear.two_passes(X, coef.size, coef.size, 1, K)
    assert wide == (shape == "wide") and (wide or bounds_for(X, V.size).size - 1 >= 4)
    if K == 1:
        prepare(loss)
    compiled = [_compiled_sums(X, loss, y, sw, coef, V, t) for t in (1, 2)]
    for t in (1, 2):
        python = _python_sums(X, loss, y, sw, coef, V, t)
        for key, value in python.items():
            assert np.array_equal(compiled[t - 1][key], value), (t, key)


# --------------------------------------------------------------------------------------------
# Invalid input: ValueError (or TypeError for a wrong kind of data) naming the problem
# --------------------------------------------------------------------------------------------

def _raw(data, indices, indptr, shape, cls=sp.csr_matrix):
    """A sparse object carrying exactly these arrays (SciPy's constructor would refuse some)."""
    X = cls(shape)
    X.data, X.indices, X.indptr = np.asarray(data), np.asarray(indices), np.asarray(indptr)
    return X


GOOD = dict(data=[1.0, 2.0, 3.0], indices=[0, 2, 1], indptr=[0, 2, 2, 3], shape=(3, 3))


def _bad(**changes):
    spec = dict(GOOD, **changes)
    dt = np.int32
    return _raw(np.asarray(spec["data"]), np.asarray(spec["indices"], dtype=dt),
                np.asarray(spec["indptr"], dtype=dt), spec["shape"])


BAD_CSR = {
    "index >= d": (_bad(indices=[0, 3, 1]), r"column index 3 out of range \[0, 3\) at stored entry 1 \(row 0\)"),
    "negative index": (_bad(indices=[0, 2, -1]), r"column index -1 out of range .* \(row 2\)"),
    "indptr decreases": (_bad(indptr=[0, 2, 1, 3]), r"indptr decreases at row 1"),
    "indptr too short": (_bad(indptr=[0, 2, 3]), r"indptr has 3 entries, expected n_rows \+ 1 = 4"),
    "indptr[0] != 0": (_bad(indptr=[1, 2, 2, 3]), r"indptr\[0\] must be 0"),
    "indptr past the data": (_bad(indptr=[0, 2, 2, 4]), r"indptr\[3\] = 4 is outside \[0, 3\]"),
    "negative indptr": (_bad(indptr=[0, -2, 2, 3]), r"indptr\[1\] = -2 is outside"),
    "lengths differ": (_bad(data=[1.0, 2.0]), r"indices has 3 entries but .*data has 2"),
    "nan": (_bad(data=[1.0, np.nan, 3.0]), r"non-finite value nan at row 0, column 2"),
    "inf": (_bad(data=[1.0, 2.0, -np.inf]), r"non-finite value -inf at row 2, column 1"),
    "2-d data": (_bad(data=[[1.0, 2.0, 3.0]]), r"data must be 1-dimensional"),
}


@pytest.mark.parametrize("case", list(BAD_CSR), ids=list(BAD_CSR))
def test_bad_csr_raises_value_error_before_any_kernel(case):
    X, message = BAD_CSR[case]
    snap = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    with pytest.raises(ValueError, match=message):
        LinearObjective(X, np.array([0.0, 1.0, 1.0]))
    for a, b in zip(snap, (X.data, X.indices, X.indptr), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_other_formats_and_kinds():
    y = np.array([0.0, 1.0, 1.0])
    # CSC: its own index arrays are checked before SciPy converts it.
    csc = _raw([1.0, 2.0], np.array([0, 5], dtype=np.int32), np.array([0, 1, 2, 2], dtype=np.int32),
               (3, 3), sp.csc_matrix)
    with pytest.raises(ValueError, match=r"row index 5 out of range \[0, 3\) at stored entry 1 \(column 1\)"):
        LinearObjective(csc, y)
    csc = _raw([1.0, 2.0], np.array([0, 1], dtype=np.int32), np.array([0, 2, 1, 2], dtype=np.int32),
               (3, 3), sp.csc_matrix)
    with pytest.raises(ValueError, match=r"indptr decreases at column 1"):
        LinearObjective(csc, y)
    coo = sp.coo_matrix(([1.0, 2.0], ([0, 2], [1, 1])), shape=(3, 3))
    coo.col = np.array([1, 7])
    with pytest.raises(ValueError, match=r"col\[1\] = 7 is out of range \[0, 3\)"):
        LinearObjective(coo, y)
    with pytest.raises(ValueError, match="non-finite"):
        LinearObjective(sp.coo_matrix(([1.0, np.inf], ([0, 2], [1, 1])), shape=(3, 3)), y)
    with pytest.raises(ValueError, match="empty"):
        LinearObjective(sp.csr_matrix((0, 3)), np.array([]))
    with pytest.raises(ValueError, match="empty"):
        LinearObjective(sp.csr_matrix((3, 0)), y)
    with pytest.raises(ValueError, match="3 entries but there are 2 samples|samples"):
        LinearObjective(sp.csr_matrix(np.eye(2)), y)
    with pytest.raises(TypeError, match="complex"):
        LinearObjective(sp.csr_matrix(np.eye(3) * 1j), y)
    with pytest.raises(TypeError, match="integers"):
        LinearObjective(_raw([1.0], np.array([0.0]), np.array([0, 1, 1, 1], dtype=np.int32), (3, 3)), y)
    with pytest.raises(ValueError, match="2-dimensional"):
        LinearObjective(sp.csr_array(np.array([1.0, 0.0, 2.0])), y)
