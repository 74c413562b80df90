"""``fastloss.precompile()``: compile (or load from the cache) the kernels ahead of first use."""

from __future__ import annotations

import time

import numpy as np

#: Columns of the CSR matrix on which precompile() runs the kernels in two passes (their
#: specialization for ``two`` a bool): enough that the objective takes them at one thread
#: (``kernels.linear.two_passes``); 12 stored entries.
_WIDE_COLUMNS = 1 << 21


def precompile(dtypes=("float64", "float32"), layouts=("C", "F", "csr"), losses=("logistic",),
               verbose: bool = False, index_dtypes=("int32",)) -> float:
    """Compile the objective and pointwise kernels for the given dtypes and layouts, and the
    per-sample loops of the given binary losses.

    Every method of :class:`~fastloss.LinearObjective` is run on a tiny problem of each matrix
    type (dtype x layout; for ``"csr"``, x ``index_dtypes``): ``loss_gradient``, ``hessp``,
    ``gradient_hessp`` and the product it returns, ``hessian_diag`` and ``hessian``. For CSR also
    on a matrix wide enough for the two passes the objective takes from about a million columns on
    (which compile the kernels' specialization for ``two`` a bool). Each kernel compiles once per
    matrix type, for every loss; each binary loss adds its own small loops
    (``fastloss.kernels.prepare``). With the cache (on by default) the compiled code is written to
    disk, so later processes only load it.

    ``index_dtypes``: the CSR index types to cover, of ``"int32"`` and ``"int64"``. SciPy gives
    int64 indices to matrices with 2**31 or more stored entries (or dimensions), and only to those
    unless asked; each index type compiles the CSR kernels again.

    Returns the seconds spent.
    """
    from .kernels import prepare
    from .objective import LinearObjective
    from .pointwise import get_loss

    dtypes, layouts, index_dtypes = (_names(name, value, allowed) for name, value, allowed in (
        ("dtypes", dtypes, ("float64", "float32")), ("layouts", layouts, ("C", "F", "csr")),
        ("index_dtypes", index_dtypes, ("int32", "int64"))))
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 1, 0])
    for dtype in dtypes:
        base = rng.standard_normal((4, 3)).astype(dtype)
        for layout in layouts:
            if layout == "csr":
                matrices = [m for t in index_dtypes for m in (_csr(base, t), _wide_csr(dtype, t))]
            else:
                matrices = [{"C": np.ascontiguousarray(base), "F": np.asfortranarray(base)}[layout]]
            for loss in losses:
                t0 = time.perf_counter()
                if loss not in ("multinomial",):
                    prepare(loss)
                for X in matrices:
                    obj = LinearObjective(X, y, loss)
                    c = np.zeros(obj.n_coef)
                    obj.loss_gradient(c)
                    obj.hessp(c, c)
                    obj.gradient_hessp(c)[1](c)
                    obj.hessian_diag(c)
                    if X.shape[1] < _WIDE_COLUMNS:  # not on the wide matrix: (2**21 + 1)**2 entries
                        obj.hessian(c)
                if verbose:
                    print(f"  {loss:>12} {dtype} {layout}: {time.perf_counter() - t0:6.2f} s")
        get_loss(losses[0]).loss_gradient(y, base[:, 0])
    return time.perf_counter() - start


def _names(name, value, allowed):
    """``value`` (one name or several; dtypes also as NumPy types) as a tuple of names, each one of
    ``allowed``."""
    names = (value,) if isinstance(value, (str, type, np.dtype)) else tuple(value)
    out = []
    for v in names:
        if name != "layouts" and v is not None:
            try:
                v = np.dtype(v).name
            except TypeError:
                pass
        if not isinstance(v, str) or v not in allowed:
            raise ValueError(f"precompile: {name} must hold names from {', '.join(map(repr, allowed))}; got {v!r}")
        out.append(v)
    return tuple(out)


def _csr(dense, index_dtype):
    """``dense`` as CSR with ``index_dtype`` indices and indptr."""
    import scipy.sparse as sp

    X = sp.csr_matrix(dense)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    return X


def _wide_csr(dtype, index_dtype):
    """A 4 x ``_WIDE_COLUMNS`` CSR matrix with three entries per row (first, middle, last column)."""
    import scipy.sparse as sp

    indices = np.tile(np.array([0, _WIDE_COLUMNS // 2, _WIDE_COLUMNS - 1], dtype=index_dtype), 4)
    indptr = np.arange(0, 13, 3, dtype=index_dtype)
    X = sp.csr_matrix((np.ones(12, dtype=dtype), indices, indptr), shape=(4, _WIDE_COLUMNS))
    X.indices, X.indptr = indices, indptr  # as given: SciPy may narrow int64 indices
    return X
