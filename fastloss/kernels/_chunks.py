"""The chunk protocol every reduction kernel follows, and its one deterministic combine.

Rows are split into chunks whose boundaries depend on the data only
(:func:`fastloss.kernels._matrix.chunk_bounds`). Each kernel has a serial compiled function

    ``<kernel>_chunks(<inputs>, <per-sample outputs>, bounds, first, last, totals, vectors)``

that processes chunks ``first:last`` and writes chunk ``c``'s scalar partial sums into
``totals[c]`` and adds its vector partial sums into ``vectors[c]`` (both float64, zeroed by the
caller). Who runs which range of chunks does not change any partial, and :func:`combine` adds
them in chunk order, so results are the same bits for any number of threads and either driver:

* the Python API runs contiguous ranges of chunks on a thread pool
  (:func:`fastloss._parallel.run_chunks`): each kernel is then one serial compiled function;
* the ``@njit``-callable kernels of :mod:`.linear`, :mod:`.multinomial` and :mod:`.pointwise`
  ``prange`` over the same ranges (:func:`group_range`), for callers in compiled code.
"""

from __future__ import annotations

import numpy as np

from .. import _config
from .._jit import jit
from ._matrix import _dense_chunk_bounds, chunk_bounds


@jit()
def bounds_of(X, width):
    """:func:`~fastloss.kernels._matrix.chunk_bounds` of ``X`` for partial vectors of ``width``."""
    return chunk_bounds(X, width)


@jit()
def row_bounds(n, width):
    """The chunk bounds of any dense array of ``n`` rows (they depend on ``n`` only): one compiled
    function for every dtype and layout, where :func:`bounds_of` compiles once per array type."""
    return _dense_chunk_bounds(n, width)


def bounds_for(X, width: int):
    """Chunk bounds for a kernel's input from Python: :func:`row_bounds` for arrays, else
    :func:`bounds_of` (CSR, whose chunks balance stored entries)."""
    if isinstance(X, np.ndarray):
        return row_bounds(X.shape[0], width)
    return bounds_of(X, width)


@jit()
def sum_chunks(partial, out):
    """``out[:] = partial[0] + partial[1] + ...`` in chunk order (the deterministic combine)."""
    out[:] = 0.0
    for c in range(partial.shape[0]):
        for j in range(out.size):
            out[j] += partial[c, j]


@jit()
def combine(totals, vectors, totals_out, vector_out):
    """Sum the chunks' partials in chunk order: ``totals (n_chunks, t) -> totals_out (t,)`` and
    ``vectors (n_chunks, w) -> vector_out (w,)`` (``vector_out`` untouched when ``w == 0``)."""
    sum_chunks(totals, totals_out)
    if vectors.shape[1] > 0:
        sum_chunks(vectors, vector_out)


@jit()
def n_groups(n_chunks):
    """How many contiguous ranges of chunks the ``prange`` drivers split ``n_chunks`` into
    (``_config.PRANGE_GROUPS`` at most: per-range set-up, such as packing vectors, is paid once
    per range). Not the thread count: reading it makes a function uncacheable."""
    return max(1, min(_config.PRANGE_GROUPS, n_chunks))


@jit()
def group_range(n_chunks, groups, g):
    """Chunks ``first:last`` of range ``g`` of ``groups``."""
    return (g * n_chunks) // groups, ((g + 1) * n_chunks) // groups


@jit()
def partials(n_chunks, n_totals, width):
    """Zeroed ``(totals, vectors)`` for ``n_chunks`` chunks."""
    return np.zeros((n_chunks, n_totals)), np.zeros((n_chunks, width))
