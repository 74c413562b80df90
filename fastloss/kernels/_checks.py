"""Scans of the validation layer over arrays of the size of the data, with no temporaries.

Each is a serial compiled function in the chunk protocol of :mod:`._chunks`, run on the thread
pool by the Python function of the same name without ``_chunks``.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .._parallel import run_chunks
from ._chunks import row_bounds

#: Values a scan counts before it looks for the first bad one (a loop with no branch vectorizes).
_SCAN_BLOCK = 4096


@jit()
def first_nonfinite_chunks(flat, d, bounds, first, last, totals, vectors):
    """``totals[c, 0]``: index in ``flat`` of the first non-finite value among rows
    ``bounds[c]:bounds[c + 1]`` of the C-ordered ``(n, d)`` array whose values ``flat`` holds, or
    -1 (exact in float64 below 2**53 entries). Blocks of values are counted, and only a block
    with a non-finite value is searched."""
    for c in range(first, last):
        totals[c, 0] = -1.0
        stop = bounds[c + 1] * d
        for a in range(bounds[c] * d, stop, _SCAN_BLOCK):
            b = min(stop, a + _SCAN_BLOCK)
            bad = 0
            base = np.uintp(a)  # an unsigned index: no wraparound test, the loop vectorizes
            for r in range(b - a):
                bad += not np.isfinite(flat[base + np.uintp(r)])
            if bad:
                for i in range(a, b):
                    if not np.isfinite(flat[i]):
                        totals[c, 0] = i
                        break
                break


def first_nonfinite_2d(X) -> int:
    """Flat C-order index ``i * d + j`` of the first non-finite entry of C-contiguous 2-D ``X``, or -1."""
    totals, _ = run_chunks(first_nonfinite_chunks, (X.reshape(-1), X.shape[1]), row_bounds(X.shape[0], 1), 1, 0,
                           None, reduce=False)
    found = totals[totals[:, 0] >= 0, 0]
    return int(found[0]) if found.size else -1


@jit()
def out_of_range_chunks(values, n_cols, bounds, first, last, totals, vectors):
    """``totals[c, 0]``: how many of ``values[bounds[c]:bounds[c + 1]]`` are outside ``[0, n_cols)``."""
    for c in range(first, last):
        bad = 0
        base = np.uintp(bounds[c])  # an unsigned index: no wraparound test, the loop vectorizes
        for r in range(bounds[c + 1] - bounds[c]):
            v = values[base + np.uintp(r)]
            bad += (v < 0) | (v >= n_cols)
        totals[c, 0] = bad


@jit()
def _first_bad_structure(indices, indptr, n_cols, check_indices):
    for i in range(indptr.size - 1):
        if indptr[i + 1] < indptr[i]:
            return 1, i
    if check_indices:
        for p in range(indices.size):
            if indices[p] < 0 or indices[p] >= n_cols:
                return 2, p
    return 0, -1


def csr_first_bad_structure(indices, indptr, n_cols):
    """Check CSR structure; return (code, position): 0 ok, 1 indptr decreasing, 2 index out of range.
    The indices are counted in parallel first; only a matrix with a bad one is searched for it."""
    totals, _ = run_chunks(out_of_range_chunks, (indices, n_cols), row_bounds(indices.size, 1), 1, 0, None)
    return _first_bad_structure(indices, indptr, n_cols, totals[0] > 0)


#: What :func:`value_counts` counts, in this order.
COUNTED = ("nonfinite", "negative", "positive", "above_one", "not_pm1", "not_01")


@jit()
def value_counts_chunks(a, bounds, first, last, totals, vectors):
    """``totals[c]``: the counts of :data:`COUNTED` over chunk ``c`` of 1-D ``a``."""
    for c in range(first, last):
        nonfinite = 0
        negative = 0
        positive = 0
        above_one = 0
        not_pm1 = 0
        not_01 = 0
        base = np.uintp(bounds[c])  # an unsigned index: no wraparound test, the loop vectorizes
        for r in range(bounds[c + 1] - bounds[c]):
            v = a[base + np.uintp(r)]
            # Counts instead of first positions: the loop has no branch and vectorizes.
            nonfinite += not np.isfinite(v)
            negative += v < 0
            positive += v > 0
            above_one += v > 1
            not_pm1 += (v != 1) & (v != -1)
            not_01 += (v != 0) & (v != 1)
        totals[c, 0] = nonfinite
        totals[c, 1] = negative
        totals[c, 2] = positive
        totals[c, 3] = above_one
        totals[c, 4] = not_pm1
        totals[c, 5] = not_01


def value_counts(a) -> np.ndarray:
    """How many entries of 1-D ``a`` are non-finite, negative, positive, above 1, not -1/+1 and
    not 0/1 (:data:`COUNTED`), in one parallel pass with no temporaries (int64 ``(6,)``).

    The validation layer decides from these counts whether labels or weights are valid, and only
    when they are not does it look for the first bad position.
    """
    totals, _ = run_chunks(value_counts_chunks, (a,), row_bounds(a.shape[0], 1), len(COUNTED), 0, None)
    return totals.astype(np.int64)


@jit()
def class_labels_chunks(a, bounds, first, last, totals, vectors):
    """``totals[c]``: (non-finite, negative, not integer-valued, largest value) over chunk ``c``
    of 1-D ``a`` (the largest of the finite values; -1 when there is none)."""
    for c in range(first, last):
        nonfinite = 0
        negative = 0
        fractional = 0
        top = -1.0
        base = np.uintp(bounds[c])  # an unsigned index: no wraparound test
        for r in range(bounds[c + 1] - bounds[c]):
            v = np.float64(a[base + np.uintp(r)])
            finite = np.isfinite(v)
            nonfinite += not finite
            negative += v < 0
            fractional += finite and v != np.floor(v)
            top = max(top, v) if finite else top
        totals[c, 0] = nonfinite
        totals[c, 1] = negative
        totals[c, 2] = fractional
        totals[c, 3] = top


def class_labels_summary(a) -> tuple[int, int, int, float]:
    """``(non-finite, negative, not integer-valued, largest)`` over 1-D ``a``: what the validation
    layer needs of class labels, in one parallel pass with no temporaries."""
    totals, _ = run_chunks(class_labels_chunks, (a,), row_bounds(a.shape[0], 1), 4, 0, None, reduce=False)
    counts = totals[:, :3].sum(axis=0)
    return int(counts[0]), int(counts[1]), int(counts[2]), float(totals[:, 3].max())
