"""``fastloss._math`` against libm, in the loop the kernels run: one thread, 10,000,000 float64.

Run with ``pytest bench/bench_math.py --benchmark-enable`` (add ``--benchmark-group-by=group``
to compare each function's two implementations side by side). Each benchmark records
``ns_per_element`` in its ``extra_info``.

The libm loops call ``math.exp`` / ``math.log1p`` / ``math.atan`` once per element and do not vectorize (Numba
>= 0.62 has no SVML); the fastloss loops are compiled to SIMD code (AVX2 here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from fastloss._math import atan, exp, log1p, log1pexp

N_ELEMENTS = 10_000_000


def _loop(function):
    @njit(error_model="numpy", nogil=True)
    def loop(x, out):
        for i in range(x.size):
            out[i] = function(x[i])

    return loop


@njit(error_model="numpy", inline="always")
def _log1pexp_libm(x):
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


LOOPS = {
    ("exp", "libm"): _loop(math.exp),
    ("exp", "fastloss"): _loop(exp),
    ("log1p", "libm"): _loop(math.log1p),
    ("log1p", "fastloss"): _loop(log1p),
    ("log1pexp", "libm"): _loop(_log1pexp_libm),
    ("log1pexp", "fastloss"): _loop(log1pexp),
    ("atan", "libm"): _loop(math.atan),
    ("atan", "fastloss"): _loop(atan),
}

#: NumPy's value of each function, for a sanity check of the timed output.
REFERENCE = {
    "exp": np.exp,
    "log1p": np.log1p,
    "log1pexp": lambda x: np.logaddexp(0.0, x),
    "atan": np.arctan,
}


@pytest.fixture(scope="module")
def inputs():
    """Typical arguments: scores of a loss for exp / log1pexp, (-1, 5e8) for log1p."""
    rng = np.random.default_rng(0)
    return {
        "exp": rng.uniform(-50.0, 50.0, N_ELEMENTS),
        "log1p": np.expm1(rng.uniform(-20.0, 20.0, N_ELEMENTS)),
        "log1pexp": rng.uniform(-50.0, 50.0, N_ELEMENTS),
        "atan": rng.uniform(-5.0, 5.0, N_ELEMENTS),
    }


@pytest.mark.parametrize("implementation", ["libm", "fastloss"])
@pytest.mark.parametrize("function", ["exp", "log1p", "log1pexp", "atan"])
def test_pointwise_loop(benchmark, inputs, function, implementation):
    loop = LOOPS[function, implementation]
    x = inputs[function]
    out = np.empty_like(x)
    loop(x[:16], out[:16])  # compile outside the timing
    benchmark.group = function
    benchmark.extra_info["n_elements"] = N_ELEMENTS
    benchmark(loop, x, out)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ns_per_element"] = benchmark.stats.stats.min / N_ELEMENTS * 1e9
    np.testing.assert_allclose(out, REFERENCE[function](x), rtol=1e-15, atol=0.0)
