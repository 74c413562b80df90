"""Generated classification problems, for the demo, the profiler, the benchmarks and ``examples/``."""

from __future__ import annotations

import numpy as np

#: A Zipf exponent typical of word frequencies in text and of clicks per item: the default of the
#: Zipf CSR cases of the profiler and the benchmarks.
ZIPF_EXPONENT = 1.1
#: Rows generated at a time by :func:`make_csr_problem` (bounds its temporary arrays).
_BLOCK_ROWS = 1 << 16
#: Rounds of redrawing repeated columns before the rows still short are completed exactly.
_REDRAW_ROUNDS = 32


def make_logistic_problem(n: int, d: int, dtype: str = "float64", seed: int = 0):
    """A synthetic logistic-regression problem drawn from the model itself.

    ``X ~ N(0, 1)`` of shape ``(n, d)`` in C order and the given dtype; ``y ~ Bernoulli(sigmoid(X w + 0.5))``
    with ``w ~ N(0, 4 / d)``, as float64 0/1 labels. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
    w = rng.standard_normal(d) * (2.0 / np.sqrt(d))
    z = X @ w.astype(X.dtype) + 0.5
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return X, y


def make_csr_problem(n: int, d: int, nnz_per_row: int = 50, zipf: float | None = None, dtype: str = "float64",
                     index_dtype: str = "int32", seed: int = 0):
    """A synthetic sparse logistic-regression problem: ``(X, y)`` with ``X`` an ``(n, d)`` CSR matrix.

    Every row stores exactly ``nnz_per_row`` entries at distinct, sorted columns (canonical CSR).
    The columns of a row are a sample without replacement, proportional to a weight per column:
    draws with replacement, repeats skipped, until the row has ``nnz_per_row`` distinct columns.
    With ``zipf=None`` every column has the same weight; with ``zipf=a`` column ``j`` has weight
    ``(j + 1) ** -a``, so column 0 is the most frequent and the number of rows holding column ``j``
    falls like ``(j + 1) ** -a`` (a Zipf law; ``a`` about 1.1 resembles word counts in text or
    click data), except that the head columns saturate at one entry per row. Draws go through the
    inverse of the weights' cumulative distribution (a guide table, then a short walk along
    it), so nothing of size ``n * d`` is built; a row still short after a few rounds of redraws
    (only when ``nnz_per_row`` is close to ``d``) is completed exactly with exponential keys.

    Values are ``N(0, 1 / nnz_per_row)`` in ``dtype``; ``indices`` and ``indptr`` have
    ``index_dtype``. Labels: ``y ~ Bernoulli(sigmoid(X w))`` with ``w ~ N(0, 1)``, float64 0/1.
    Deterministic for a given ``seed``.

    Parameters
    ----------
    n, d : int
        Rows and columns, at least 1.
    nnz_per_row : int
        Stored entries per row, from 1 to ``d``.
    zipf : float or None
        Zipf exponent of the column frequencies (finite, >= 0), or None for uniform columns.
    dtype : {"float64", "float32"}
    index_dtype : {"int32", "int64"}
        ``int32`` needs ``d`` and ``n * nnz_per_row`` below ``2**31``.
    seed : int

    Returns
    -------
    X : scipy.sparse.csr_matrix, shape (n, d)
    y : ndarray of float64, shape (n,)
    """
    import scipy.sparse as sp

    for name, value, low in (("n", n, 1), ("d", d, 1), ("nnz_per_row", nnz_per_row, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
    if nnz_per_row > d:
        raise ValueError(f"nnz_per_row must be at most d = {d} (distinct columns per row), got {nnz_per_row}")
    if zipf is not None and (isinstance(zipf, bool) or not isinstance(zipf, (int, float, np.integer, np.floating))
                             or not np.isfinite(zipf) or zipf < 0):
        raise ValueError(f"zipf must be None or a finite exponent >= 0, got {zipf!r}")
    dtype = _dtype_arg("dtype", dtype, ("float64", "float32"))
    index_dtype = _dtype_arg("index_dtype", index_dtype, ("int32", "int64"))
    if max(d, n * nnz_per_row) > np.iinfo(index_dtype).max:
        raise ValueError(f"index_dtype {index_dtype} cannot hold d = {d} and n * nnz_per_row = {n * nnz_per_row}; "
                         "use 'int64'")

    rng = np.random.default_rng(seed)
    weights = None if zipf is None else np.arange(1, d + 1, dtype=np.float64) ** -float(zipf)
    draw = _column_sampler(rng, d, weights)
    indices = np.empty(n * nnz_per_row, dtype=index_dtype)
    for start in range(0, n, _BLOCK_ROWS):
        rows = min(_BLOCK_ROWS, n - start)
        block = _distinct_sorted_rows(rng, draw, weights, rows, nnz_per_row, d)
        indices[start * nnz_per_row:(start + rows) * nnz_per_row] = block.reshape(-1)
    data = rng.standard_normal(n * nnz_per_row, dtype=dtype.type)
    data *= dtype.type(1.0 / np.sqrt(nnz_per_row))
    X = sp.csr_matrix((n, d), dtype=dtype)
    # Assigned, not passed to the constructor: SciPy would turn int64 indices that fit into int32.
    X.data, X.indices = data, indices
    X.indptr = np.arange(0, n * nnz_per_row + 1, nnz_per_row, dtype=index_dtype)
    X.has_sorted_indices = X.has_canonical_format = True
    w = rng.standard_normal(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(np.float64)
    return X, y


def _dtype_arg(name: str, value, allowed: tuple[str, ...]) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return dtype


def _column_sampler(rng, d: int, weights):
    """``draw(count)``: ``count`` column ids drawn with replacement, proportional to ``weights``
    (uniform when None); int32 where ``d`` allows (half the memory traffic of the redraw rounds)."""
    ids = np.int32 if d <= np.iinfo(np.int32).max else np.int64
    if weights is None:
        return lambda count: rng.integers(0, d, count, dtype=ids)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    # Indexed search: guide[b] is the first column whose cdf exceeds b / buckets. With a power of
    # two of buckets, b = floor(u * buckets) and b / buckets are exact, so the column of a draw u
    # (the first with cdf > u) is guide[b] or a few after it: about four buckets per column keep
    # that walk short (a step or two) where the cdf is flat, in the tail.
    buckets = 1 << int(4 * d - 1).bit_length()
    guide = np.searchsorted(cdf, np.arange(buckets) / buckets, side="right").astype(ids)

    def draw(count):
        u = rng.random(count)
        cols = guide[(u * buckets).astype(np.intp)]
        todo = np.flatnonzero(cdf[cols] <= u)
        while todo.size:
            cols[todo] += 1
            todo = todo[cdf[cols[todo]] <= u[todo]]
        return cols

    return draw


def _distinct_sorted_rows(rng, draw, weights, rows: int, k: int, d: int) -> np.ndarray:
    """``(rows, k)`` column ids, distinct and sorted in each row: a sample without replacement
    proportional to the weights (successive sampling: each repeat is replaced by a new draw, which
    yields the first ``k`` distinct columns of a sequence of draws with replacement)."""
    cols = draw(rows * k).reshape(rows, k)
    cols.sort(axis=1)
    todo = np.arange(rows)  # rows of cols that may hold a repeat; each sorted
    for _ in range(_REDRAW_ROUNDS):
        block = cols[todo]
        r, c = np.nonzero(block[:, 1:] == block[:, :-1])  # r ascending
        if not r.size:
            return cols
        block[r, c + 1] = draw(r.size)
        first = np.ones(r.size, dtype=bool)
        first[1:] = r[1:] != r[:-1]
        todo, block = todo[r[first]], block[r[first]]
        block.sort(axis=1)
        cols[todo] = block
    # Rows still short (a few rare columns left to find): the remaining columns of successive
    # sampling are the smallest keys E_j / w_j (E_j exponential) among the columns not yet drawn.
    w = np.ones(d) if weights is None else weights
    for i in todo:
        have = np.unique(cols[i])
        keys = rng.standard_exponential(d) / w
        keys[have] = np.inf
        more = k - have.size
        cols[i] = np.sort(np.concatenate([have, np.argpartition(keys, more - 1)[:more]]))
    return cols


__all__ = ["ZIPF_EXPONENT", "make_csr_problem", "make_logistic_problem"]
