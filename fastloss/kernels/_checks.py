"""Parallel scans used by the validation layer (no temporaries of the size of ``X``)."""

from __future__ import annotations

import numpy as np
from numba import prange

from .._jit import jit
from ._matrix import _dense_chunk_bounds


@jit()
def _first_nonfinite_rows(X, start, stop):
    for i in range(start, stop):
        for j in range(X.shape[1]):
            if not np.isfinite(X[i, j]):
                return i * X.shape[1] + j
    return -1


@jit(parallel=True)
def first_nonfinite_2d(X):
    """Flat C-order index ``i * d + j`` of the first non-finite entry of 2-D ``X``, or -1."""
    bounds = _dense_chunk_bounds(X.shape[0])
    n_chunks = bounds.size - 1
    found = np.full(n_chunks, -1, dtype=np.int64)
    for c in prange(n_chunks):
        found[c] = _first_nonfinite_rows(X, bounds[c], bounds[c + 1])
    for c in range(n_chunks):
        if found[c] >= 0:
            return found[c]
    return -1


@jit()
def csr_first_bad_structure(indices, indptr, n_cols):
    """Check CSR structure; return (code, position): 0 ok, 1 indptr decreasing, 2 index out of range."""
    for i in range(indptr.size - 1):
        if indptr[i + 1] < indptr[i]:
            return 1, i
    for p in range(indices.size):
        if indices[p] < 0 or indices[p] >= n_cols:
            return 2, p
    return 0, -1


#: What :func:`value_counts` counts, in this order.
COUNTED = ("nonfinite", "negative", "positive", "above_one", "not_pm1", "not_01")


@jit()
def _value_counts_rows(a, start, stop, out):
    nonfinite = 0
    negative = 0
    positive = 0
    above_one = 0
    not_pm1 = 0
    not_01 = 0
    for i in range(start, stop):
        v = a[i]
        # Counts instead of first positions: the loop has no branch and vectorizes.
        nonfinite += not np.isfinite(v)
        negative += v < 0
        positive += v > 0
        above_one += v > 1
        not_pm1 += (v != 1) & (v != -1)
        not_01 += (v != 0) & (v != 1)
    out[0] = nonfinite
    out[1] = negative
    out[2] = positive
    out[3] = above_one
    out[4] = not_pm1
    out[5] = not_01


@jit(parallel=True)
def value_counts(a):
    """How many entries of 1-D ``a`` are non-finite, negative, positive, above 1, not -1/+1 and
    not 0/1 (``COUNTED``), in one parallel pass with no temporaries.

    The validation layer decides from these counts whether labels or weights are valid, and only
    when they are not does it look for the first bad position.
    """
    bounds = _dense_chunk_bounds(a.shape[0])
    n_chunks = bounds.size - 1
    part = np.zeros((n_chunks, 6), dtype=np.int64)
    for c in prange(n_chunks):
        _value_counts_rows(a, bounds[c], bounds[c + 1], part[c])
    counts = np.zeros(6, dtype=np.int64)
    for c in range(n_chunks):
        for q in range(6):
            counts[q] += part[c, q]
    return counts
