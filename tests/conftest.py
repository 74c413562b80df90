"""Shared data and helpers of the test suite: data makers, coefficient makers, finite differences,
the exact (mpmath) formulas. The table of comparisons against the reference is ``_comparisons.py``.

Compiled kernels are cached under a hash of the package's sources (``fastloss._cache``), and the
tests reuse a few small data sets so that each kernel compiles once per dtype/layout combination.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import fastloss
from fastloss import losses

#: Tests that compare results at 1 and 2 threads: with one thread they would compare a run with
#: itself (2 is clipped to 1), and could not fail.
TWO_THREADS = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")

N, D = 3000, 6  # 3000 rows: several reduction chunks (MIN_CHUNK_ROWS = 1024) and cache blocks


# --- data ------------------------------------------------------------------------------------------

def make_problem(n=N, d=D, seed=0, dtype=np.float64, order="C", labels="01"):
    """Dense ``X`` (n, d) in ``dtype`` and ``order``, binary labels (``"01"`` or ``"pm1"``) and
    sample weights in [0.1, 2]."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    X = np.asfortranarray(X) if order == "F" else np.ascontiguousarray(X)
    y = (rng.random(n) < 0.4).astype(np.float64)
    if labels == "pm1":
        y = 2 * y - 1
    sw = rng.uniform(0.1, 2.0, n)
    return X, y, sw


@pytest.fixture(scope="session")
def problem():
    return make_problem()


def awkward_csr(n=61, d=7, dtype=np.float64, index_dtype=np.int32, seed=0, *, canonical=False):
    """A CSR matrix with empty rows (first, last, and some between), explicit zeros and, unless
    ``canonical``, unsorted column indices and duplicate entries; built from its arrays, so that
    SciPy neither sorts nor sums anything."""
    rng = np.random.default_rng(seed)
    rows_data, rows_cols = [], []
    for i in range(n):
        if i in (0, n - 1) or i % 9 == 4:
            length = 0
        else:
            length = int(rng.integers(1, d + 1))
        cols = np.sort(rng.choice(d, size=length, replace=False))
        vals = rng.normal(size=length)
        if length and i % 5 == 1:
            vals[0] = 0.0  # explicit zero
        if not canonical and length >= 2:
            if i % 3 == 0:
                cols, vals = cols[::-1], vals[::-1]  # unsorted
            if i % 4 == 2:  # a duplicate of the first entry, stored last
                cols = np.append(cols, cols[0])
                vals = np.append(vals, rng.normal())
        rows_cols.append(cols)
        rows_data.append(vals)
    indptr = np.concatenate([[0], np.cumsum([len(c) for c in rows_cols])]).astype(index_dtype)
    data = np.concatenate(rows_data).astype(dtype)
    indices = np.concatenate(rows_cols).astype(index_dtype)
    X = sp.csr_matrix((n, d), dtype=dtype)
    X.data, X.indices, X.indptr = data, indices, indptr  # SciPy's constructor would downcast int64
    # The empty matrix's cached flags say "canonical"; SciPy's conversions trust them.
    X.has_sorted_indices = X.has_canonical_format = all(np.all(np.diff(c) > 0) for c in rows_cols)
    return X


def dense_of(X) -> np.ndarray:
    """The dense float64 matrix that ``X`` (dense or sparse) stands for (duplicates summed in float64)."""
    return X.astype(np.float64).toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)


def canonical_f64(X):
    """What the reference is given for ``X``: its float64 values, a CSR ``X`` with its duplicates
    summed (the oracle is not what the sparse tests test)."""
    if not sp.issparse(X):
        return np.asarray(X, dtype=np.float64)
    Xr = X.astype(np.float64, copy=True)
    Xr.sum_duplicates()
    return Xr


#: Data formats by name: dense ``C``/``F`` in float64/float32, and CSR with its (data, index) dtypes.
FORMATS = {
    "C64": (np.float64, "C"), "F64": (np.float64, "F"), "C32": (np.float32, "C"), "F32": (np.float32, "F"),
    "CSR64": (np.float64, np.int32), "CSR32": (np.float32, np.int32), "CSR32-i64": (np.float32, np.int64),
}


def as_format(X0, fmt):
    """Dense ``X0`` in format ``fmt`` (a key of :data:`FORMATS`; CSR keeps the stored zeros out)."""
    dtype, layout = FORMATS[fmt]
    if fmt.startswith("CSR"):
        X = sp.csr_matrix(np.asarray(X0, dtype=dtype))
        X.indices, X.indptr = X.indices.astype(layout), X.indptr.astype(layout)
        return X
    return np.asfortranarray(X0, dtype=dtype) if layout == "F" else np.ascontiguousarray(X0, dtype=dtype)


# --- coefficients and directions -------------------------------------------------------------------

def coef_for(obj_or_shape, seed=1, scale=0.3):
    """Normal coefficients of ``obj.coef_shape`` (or of a shape), times ``scale``."""
    shape = getattr(obj_or_shape, "coef_shape", obj_or_shape)
    return np.random.default_rng(seed).standard_normal(shape) * scale


def directions(obj_or_size, k=3, seed=3):
    """``k`` normal directions as the columns of an ``(n_coef, k)`` array."""
    size = getattr(obj_or_size, "n_coef", obj_or_size)
    return np.random.default_rng(seed).normal(size=(size, k))


@pytest.fixture(scope="session")
def fl():
    return fastloss


# --- calculus and exact values ---------------------------------------------------------------------

def central_difference(f, x, h):
    """Fourth-order central differences of ``f`` (scalar or vector valued) at flat ``x``: one
    column per coordinate ``x_j`` (the gradient of a scalar function; ``[i, j] = d f_i / d x_j``)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((-f(x + 2 * e) + 8 * f(x + e) - 8 * f(x - e) + f(x - 2 * e)) / (12 * h))
    return np.stack(cols, axis=-1)


def exact_in_margin(name, mp, m):
    """``(phi, phi', phi'')`` of binary loss ``name`` at margin ``m`` (an mpf of context ``mp``),
    from the exact formula declared with the loss in the registry."""
    return losses.REGISTRY[name].mpmath(mp, m)


def exact_in_score(name, mp, s, z):
    """(value, d/dz, d2/dz2) of binary loss ``name`` for label sign ``s`` and raw score ``z``."""
    value, d1, d2 = exact_in_margin(name, mp, mp.mpf(s) * mp.mpf(z))
    return value, s * d1, d2
