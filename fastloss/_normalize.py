"""From the kernels' unnormalized sums to the objective's values: divide by the weight, add L2.

Every objective kernel returns ``sum_i s_i (...)`` without the penalty (see
:mod:`fastloss.kernels`). These functions finish such sums exactly as
:class:`fastloss.objective.LinearObjective` does (same operations, same order), so that an
objective assembled from partial sums (:mod:`fastloss.dask`, one partial per dask chunk) returns
the values of the single-machine objective. They work in place on the arrays they are given.
"""

from __future__ import annotations

import numpy as np


def penalty_mask(coef_shape: tuple, fit_intercept: bool) -> np.ndarray:
    """1.0 on penalized coefficients (the weights), 0.0 on the intercept(s); flat float64."""
    mask = np.ones(coef_shape)
    if fit_intercept:
        mask[..., -1] = 0.0
    return mask.reshape(-1)


def finish_loss_gradient(total: float, grad: np.ndarray, coef: np.ndarray, weight_sum: float,
                         l2: float, mask: np.ndarray, want_gradient: bool) -> tuple[float, np.ndarray]:
    """``(total / W + l2/2 ||w||^2, grad / W + l2 w)``; ``grad`` (flat) is modified in place."""
    loss = total / weight_sum
    if l2:
        w = coef * mask
        # Not ``w @ w``: that is a BLAS call, and OpenBLAS splits a long dot product over its own
        # threads, which then busy-wait for about 0.1 s and take cores from the next kernel call
        # (docs/performance.md, "Measured choices"). ``np.square(w).sum()`` stays on this thread (pairwise summation,
        # the same bits for any BLAS thread count).
        loss += 0.5 * l2 * float(np.square(w).sum())
    if want_gradient:
        grad /= weight_sum
        if l2:
            grad += l2 * w
    return loss, grad


def finish_hessp(out: np.ndarray, V: np.ndarray, weight_sum: float, l2: float, mask: np.ndarray) -> np.ndarray:
    """``out / W + l2 * V * mask`` for ``out``, ``V`` of shape ``(k, n_coef)``; in place."""
    out /= weight_sum
    if l2:
        out += l2 * V * mask
    return out


def finish_hessian_diag(out: np.ndarray, weight_sum: float, l2: float, mask: np.ndarray) -> np.ndarray:
    """``out / W + l2 * mask`` (flat); in place."""
    out /= weight_sum
    out += l2 * mask
    return out


def finish_hessian(H: np.ndarray, weight_sum: float, l2: float, mask: np.ndarray) -> np.ndarray:
    """``H / W + l2 * diag(mask)``; in place."""
    H /= weight_sum
    H[np.diag_indices_from(H)] += l2 * mask
    return H


def directions_out(out: np.ndarray, single: bool, like_shape: tuple | None) -> np.ndarray:
    """The ``(k, n_coef)`` kernel layout back to the caller's: ``like_shape`` for one direction,
    ``(n_coef, k)`` for several."""
    if single:
        return out[0].reshape(like_shape)
    return np.ascontiguousarray(out.T)
