"""What the Python API runs: a kernel's chunks on the thread pool, then the in-order combine.

One driver per operation, for binary and multinomial alike: the ``*_chunks`` functions of
:mod:`fastloss.kernels.linear` with ``loss``, the kernels' loss argument
(:func:`fastloss.kernels.kernel_loss`: a binary loss id, or ``Softmax(n_classes)``). The
objectives' per-chunk functions (:mod:`fastloss._partials`, in this process or on dask workers) call
these with validated input; every function returns unnormalized sums (see
:mod:`fastloss._normalize`).
"""

from __future__ import annotations

import numpy as np

from ._parallel import run_chunks, thread_count, threads


def _bounds(X, width: int) -> np.ndarray:
    from .kernels._chunks import bounds_for

    return bounds_for(X, width)


def _n_scores(loss) -> int:
    """Scores per sample of a kernels' ``loss`` argument (``Softmax`` is a named tuple)."""
    return loss.n_classes if isinstance(loss, tuple) else 1


def _linear():
    from .kernels import linear

    return linear


def loss_gradient(X, y, sw, coef, fit_intercept, loss, want_gradient: bool,
                  curvature_out: np.ndarray, n_threads: int):
    """``(sum_i s_i loss_i, gradient sum or an empty array)``; ``curvature_out`` (size 0: skipped)
    receives the per-sample curvature (binary) or probabilities (multinomial)."""
    linear = _linear()
    width = coef.size if want_gradient else 0
    wide = want_gradient and linear.two_passes(X, coef.size, width, thread_count(n_threads), _n_scores(loss))
    W, shift = linear.score_vectors.of(loss)(X, loss, coef, np.empty((0, coef.size)), True)
    totals, grad = run_chunks(linear.loss_gradient_chunks.of(loss),
                              (X, loss, y, sw, W, shift, fit_intercept, want_gradient, curvature_out,
                               True if wide else None),
                              _bounds(X, coef.size), 1, width, n_threads)
    return float(totals[0]), linear.rows_of(X, grad, _n_scores(loss))

def hessp(X, y, sw, coef, fit_intercept, loss, curvature, V, n_threads: int) -> np.ndarray:
    """``(k, n_coef)`` products with the ``k`` directions ``V``; ``curvature`` from
    :func:`loss_gradient`, or size 0 to compute it in the same pass."""
    linear = _linear()
    W, shift = linear.score_vectors.of(loss)(X, loss, coef, V, curvature.size == 0)  # coef unless cached, V
    wide = linear.two_passes(X, W.size, V.size, thread_count(n_threads), _n_scores(loss))
    _, out = run_chunks(linear.hessp_chunks.of(loss), (X, loss, y, sw, W, shift, fit_intercept, curvature,
                                                         True if wide else None),
                        _bounds(X, V.size), 0, V.size, n_threads)
    return linear.rows_of(X, out, V.shape[0] * _n_scores(loss)).reshape(V.shape)

def hessian_diag(X, y, sw, coef, fit_intercept, loss, n_threads: int) -> np.ndarray:
    """``(n_coef,)`` diagonal of the Hessian."""
    linear = _linear()
    W, shift = linear.score_vectors.of(loss)(X, loss, coef, np.empty((0, coef.size)), True)
    _, out = run_chunks(linear.hessian_diag_chunks.of(loss), (X, loss, y, sw, W, shift, fit_intercept),
                        _bounds(X, coef.size), 0, coef.size, n_threads)
    return out

def hessian(X, y, sw, coef, fit_intercept, loss, n_threads: int) -> np.ndarray:
    """``(n_coef, n_coef)`` Hessian: the per-sample curvature (one pass on the thread pool), then
    the Gram: by row chunks on the thread pool where ``gram_by_chunks`` says so (the same chunks
    and combine as the compiled ``gram_of_curvature``, so the same bits), else the parallel Gram
    kernels (under :func:`threads`)."""
    linear = _linear()
    K = _n_scores(loss)
    curvature = np.empty(y.size * K)
    loss_gradient(X, y, sw, coef, fit_intercept, loss, False, curvature, n_threads)
    if linear.gram_by_chunks(X, coef.size // K, K):
        width = coef.size * coef.size
        _, flat = run_chunks(linear.gram_chunks.of(loss), (X, loss, sw, curvature, fit_intercept),
                             _bounds(X, width), 0, width, n_threads)
        H = flat.reshape(coef.size, coef.size)
        linear.gram_mirror(H)
        return H
    H = np.empty((coef.size, coef.size))
    with threads(n_threads):
        linear.gram_of_curvature.of(loss)(X, loss, sw, curvature, fit_intercept, H)
    return H


def pointwise(chunks, args: tuple, raw: np.ndarray, n_threads: int) -> tuple[float, float]:
    """A pointwise kernel's ``chunks(*args, ...)`` over the samples of ``raw``:
    ``(sum_i s_i loss_i, sum_i s_i)``."""
    totals, _ = run_chunks(chunks, args, _bounds(raw, 2), 2, 0, n_threads)
    return float(totals[0]), float(totals[1])
