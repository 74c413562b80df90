"""Thread count, the thread pool that runs the kernels' chunks, and thread safety.

The Python API runs a kernel's chunks on a pool of Python threads (:func:`run_chunks`): each
thread calls the kernel's serial compiled ``*_chunks`` function (``nogil``) on a contiguous range
of chunks. A kernel is then one serial function to compile (Numba's ``prange`` compiles the body
again into a gufunc and links and re-optimizes it twice), and these calls do not go through
Numba's threading layer at all.

The remaining ``prange`` kernels (the full Hessian, the input checks, the metric) go through
:func:`threads`.

``numba.set_num_threads`` is thread-local, so each call sets it for its own thread and restores
it afterwards. Numba's ``workqueue`` threading layer aborts the process when two threads run
parallel kernels at once (numba #8563, #9288); the ``omp`` and ``tbb`` layers are safe. Until the
first parallel call reveals which layer is active, and forever if it is ``workqueue``, calls are
serialized by a process-wide lock instead.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

_lock = threading.RLock()
_layer_is_safe = False
_pool = None
_pool_lock = threading.Lock()
_in_pool = threading.local()


def max_threads() -> int:
    import numba

    return numba.config.NUMBA_NUM_THREADS


def check_n_threads(n_threads) -> int:
    """``None`` or ``-1``: all threads Numba has; otherwise an int in ``[1, max]`` (larger is clipped)."""
    limit = max_threads()
    if n_threads is None or (isinstance(n_threads, int) and n_threads == -1):
        return limit
    if isinstance(n_threads, bool) or not hasattr(n_threads, "__index__"):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    n_threads = int(n_threads)
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1 (or None / -1 for all), got {n_threads}")
    return min(n_threads, limit)


@contextmanager
def threads(n_threads: int):
    """Run the body with ``n_threads`` Numba threads, safely under any threading layer."""
    global _layer_is_safe
    import numba

    if _layer_is_safe:
        previous = numba.get_num_threads()
        numba.set_num_threads(n_threads)
        try:
            yield
        finally:
            numba.set_num_threads(previous)
        return
    with _lock:
        previous = numba.get_num_threads()
        numba.set_num_threads(n_threads)
        try:
            yield
        finally:
            numba.set_num_threads(previous)
            try:
                _layer_is_safe = numba.threading_layer() in ("omp", "tbb")
            except ValueError:  # no parallel region has run yet
                pass


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, max_threads() - 1), thread_name_prefix="fastloss",
                                       initializer=_mark_pool_thread)
        return _pool


def _mark_pool_thread():
    _in_pool.active = True


def _forget_pool():  # a forked child has none of the parent's threads
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def thread_count(n_threads: int | None) -> int:
    """The threads :func:`run_chunks` runs on for ``n_threads`` (None: Numba's current count)."""
    if n_threads is None:
        import numba

        return numba.get_num_threads()
    return n_threads


def run_chunks(chunks, args: tuple, bounds: np.ndarray, n_totals: int, width: int, n_threads: int | None,
               *, reduce: bool = True):
    """Run a kernel's ``chunks(*args, bounds, first, last, totals, vectors)`` over every chunk on
    ``n_threads`` threads (the calling one and ``n_threads - 1`` of the pool; None: Numba's
    current thread count), one contiguous range of chunks each, and combine the partials in
    chunk order (:mod:`fastloss.kernels._chunks`).

    Returns ``(totals (n_totals,), vector (width,))``, the same bits for any ``n_threads``; with
    ``reduce=False`` the per-chunk ``(totals, vectors)`` instead.
    """
    from .kernels._chunks import combine

    n_threads = thread_count(n_threads)
    n_chunks = bounds.size - 1
    totals = np.zeros((n_chunks, n_totals))
    vectors = np.zeros((n_chunks, width))
    groups = max(1, min(n_threads, n_chunks))
    if getattr(_in_pool, "active", False):
        groups = 1  # called from a pool thread: no waiting on the pool from inside it
    ranges = [((g * n_chunks) // groups, ((g + 1) * n_chunks) // groups) for g in range(groups)]
    futures = [_get_pool().submit(chunks, *args, bounds, first, last, totals, vectors)
               for first, last in ranges[1:]]
    try:
        chunks(*args, bounds, *ranges[0], totals, vectors)
    finally:
        errors = [f.exception() for f in futures]  # waits for every range before returning
    for error in errors:
        if error is not None:
            raise error
    if not reduce:
        return totals, vectors
    totals_out = np.empty(n_totals)
    vector_out = np.empty(width)
    combine(totals, vectors, totals_out, vector_out)
    return totals_out, vector_out
