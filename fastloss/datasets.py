"""Generated classification problems, for the demo, the profiler, the benchmarks and ``examples/``."""

from __future__ import annotations

import numpy as np


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


__all__ = ["make_logistic_problem"]
