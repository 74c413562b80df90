"""Thread count and thread safety around parallel kernel calls.

``numba.set_num_threads`` is thread-local, so each call sets it for its own thread and restores
it afterwards. Numba's ``workqueue`` threading layer aborts the process when two threads run
parallel kernels at once (numba #8563, #9288); the ``omp`` and ``tbb`` layers are safe. Until the
first parallel call reveals which layer is active, and forever if it is ``workqueue``, calls are
serialized by a process-wide lock instead.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

_lock = threading.RLock()
_layer_is_safe = False


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
