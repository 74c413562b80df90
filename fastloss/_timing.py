"""Timing helpers shared by the demo, the profiler and the benchmarks."""

from __future__ import annotations

import contextlib
import time

import numpy as np

#: Seconds to wait before timing a new contender: longer than OpenBLAS's worker threads
#: busy-wait after a threaded BLAS call (2**28 TSC cycles, about 0.13 s at 2 GHz). Timed right
#: after scikit-learn (its matrix and dot products run on OpenBLAS threads), a fastloss kernel
#: shares its cores with those spinning threads (docs/performance.md, "Measured choices").
SETTLE_SECONDS = 0.25


def settle() -> None:
    """Let other libraries' busy-waiting worker threads (OpenBLAS) go to sleep."""
    time.sleep(SETTLE_SECONDS)


def median_time(fn, repeat: int = 5, warmup: int = 1) -> tuple[float, float, float]:
    """(median, min, max) seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs.

    Starts with :func:`settle`, so that what ran before (another library) does not slow ``fn``
    down; the repeats then measure ``fn`` called back to back, as a solver calls it."""
    settle()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(min(times)), float(max(times))


def as_2d_c(X) -> np.ndarray:
    """A C-contiguous 2-D view of the bytes a kernel streams for ``X`` (dense, F, or CSR data)."""
    if hasattr(X, "data") and hasattr(X, "indptr"):
        data = np.asarray(X.data)
        m = data.size - data.size % 64
        return data[:m].reshape(-1, 64)
    X = np.asarray(X)
    return X if X.flags.c_contiguous else X.T


def read_bandwidth(X, n_threads: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` GB/s of one parallel read of ``X`` (the machine's practical limit)."""
    from ._parallel import threads
    from .kernels.bandwidth import read_sum

    X2 = as_2d_c(X)
    settle()
    with threads(n_threads):
        read_sum(X2)
        best = min(_once(read_sum, X2) for _ in range(repeat))
    return X2.nbytes / best / 1e9


def _once(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


@contextlib.contextmanager
def blas_threads(n_threads: int):
    """Limit BLAS/OpenMP threads of NumPy and scikit-learn (when threadpoolctl is available)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(n_threads):
        yield
