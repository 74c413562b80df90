"""Shared data for the test suite.

Compiled kernels are cached under a hash of the package's sources (``fastloss._cache``), and the
tests reuse a few small data sets so that each kernel compiles once per dtype/layout combination.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import fastloss

#: Tests that compare results at 1 and 2 threads: with one thread they would compare a run with
#: itself (2 is clipped to 1), and could not fail.
TWO_THREADS = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")

N, D = 3000, 6  # 3000 rows: several reduction chunks (MIN_CHUNK_ROWS = 1024) and cache blocks


def make_problem(n=N, d=D, seed=0, dtype=np.float64, order="C", labels="01"):
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


def coef_for(obj, seed=1, scale=0.3):
    return np.random.default_rng(seed).standard_normal(obj.coef_shape) * scale


@pytest.fixture(scope="session")
def fl():
    return fastloss


def central_difference(f, x, h):
    """Fourth-order central differences of ``f`` (scalar or vector valued) at flat ``x``: one
    column per coordinate ``x_j`` (the gradient of a scalar function; ``[i, j] = d f_i / d x_j``)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((-f(x + 2 * e) + 8 * f(x + e) - 8 * f(x - e) + f(x - 2 * e)) / (12 * h))
    return np.stack(cols, axis=-1)
