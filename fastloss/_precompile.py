"""``fastloss.precompile()``: compile (or load from the cache) the kernels ahead of first use."""

from __future__ import annotations

import time

import numpy as np


def precompile(dtypes=("float64", "float32"), layouts=("C", "F", "csr"), losses=("logistic",),
               verbose: bool = False) -> float:
    """Compile the objective and pointwise kernels for the given dtypes and layouts, and the
    per-sample loops of the given binary losses.

    Each kernel compiles once per matrix type (dtype x layout), for every loss; each binary loss
    adds its own small loops (``fastloss.kernels.prepare``). With the cache (on by default) the
    compiled code is written to disk, so later processes only load it.

    Returns the seconds spent.
    """
    import scipy.sparse as sp

    from .kernels import prepare
    from .objective import LinearObjective
    from .pointwise import get_loss

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 1, 0])
    for dtype in dtypes:
        base = rng.standard_normal((4, 3)).astype(dtype)
        for layout in layouts:
            X = {"C": np.ascontiguousarray(base), "F": np.asfortranarray(base), "csr": sp.csr_matrix(base)}[layout]
            for loss in losses:
                t0 = time.perf_counter()
                if loss not in ("multinomial",):
                    prepare(loss)
                obj = LinearObjective(X, y, loss)
                c = np.zeros(obj.n_coef)
                obj.loss_gradient(c)
                obj.hessp(c, c)
                obj.gradient_hessp(c)[1](c)
                obj.hessian_diag(c)
                if verbose:
                    print(f"  {loss:>12} {dtype} {layout}: {time.perf_counter() - t0:6.2f} s")
        get_loss(losses[0]).loss_gradient(y, base[:, 0])
    return time.perf_counter() - start
