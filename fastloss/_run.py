"""What the Python API runs: a kernel's chunks on the thread pool, then the in-order combine.

One driver per operation, for binary and multinomial alike: ``kernels`` is
:mod:`fastloss.kernels.linear` or :mod:`fastloss.kernels.multinomial`, whose ``*_chunks``
functions take the same arguments (``loss_arg`` is the loss id, or the number of classes). The
objectives' per-chunk functions (:mod:`fastloss._partials`, in this process or on dask workers) call
these with validated input; every function returns unnormalized sums (see
:mod:`fastloss._normalize`).
"""

from __future__ import annotations

import numpy as np

from ._parallel import run_chunks, threads


def _bounds(X, width: int) -> np.ndarray:
    from .kernels._chunks import bounds_for

    return bounds_for(X, width)

def loss_gradient(kernels, X, y, sw, coef, fit_intercept, loss_arg, want_gradient: bool,
                  curvature_out: np.ndarray, n_threads: int):
    """``(sum_i s_i loss_i, gradient sum or an empty array)``; ``curvature_out`` (size 0: skipped)
    receives the per-sample curvature (binary) or probabilities (multinomial)."""
    width = coef.size if want_gradient else 0
    totals, grad = run_chunks(kernels.loss_gradient_chunks,
                              (X, y, sw, coef, fit_intercept, loss_arg, want_gradient, curvature_out),
                              _bounds(X, coef.size), 1, width, n_threads)
    return float(totals[0]), grad

def hessp(kernels, X, y, sw, coef, fit_intercept, loss_arg, curvature, V, n_threads: int) -> np.ndarray:
    """``(k, n_coef)`` products with the ``k`` directions ``V``; ``curvature`` from
    :func:`loss_gradient`, or size 0 to compute it in the same pass."""
    _, out = run_chunks(kernels.hessp_chunks, (X, y, sw, coef, fit_intercept, loss_arg, curvature, V),
                        _bounds(X, V.size), 0, V.size, n_threads)
    return out.reshape(V.shape)

def hessian_diag(kernels, X, y, sw, coef, fit_intercept, loss_arg, n_threads: int) -> np.ndarray:
    """``(n_coef,)`` diagonal of the Hessian."""
    _, out = run_chunks(kernels.hessian_diag_chunks, (X, y, sw, coef, fit_intercept, loss_arg),
                        _bounds(X, coef.size), 0, coef.size, n_threads)
    return out

def hessian(kernels, X, y, sw, coef, fit_intercept, loss_arg, n_threads: int) -> np.ndarray:
    """``(n_coef, n_coef)`` Hessian (its parallel Gram kernels run under :func:`threads`)."""
    H = np.empty((coef.size, coef.size))
    if kernels.__name__.endswith("multinomial"):
        with threads(n_threads):
            kernels.hessian(X, y, sw, coef, fit_intercept, loss_arg, H)
        return H
    curvature = np.empty(y.size)
    loss_gradient(kernels, X, y, sw, coef, fit_intercept, loss_arg, False, curvature, n_threads)
    with threads(n_threads):
        kernels.weighted_gram(X, curvature, fit_intercept, H)
    return H

def pointwise(chunks, args: tuple, raw: np.ndarray, n_threads: int) -> tuple[float, float]:
    """A pointwise kernel's ``chunks(*args, ...)`` over the samples of ``raw``:
    ``(sum_i s_i loss_i, sum_i s_i)``."""
    totals, _ = run_chunks(chunks, args, _bounds(raw, 2), 2, 0, n_threads)
    return float(totals[0]), float(totals[1])
