"""Read-bandwidth probe: how fast can this machine stream ``X`` at all?

Every benchmark reports its GB/s as a fraction of this figure, measured in the same run on an
array of the same size. A single-accumulator sum is latency-bound on server cores (one add in
flight per cycle) and understates the limit; eight independent accumulators per row keep
enough loads in flight.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._jit import jit
from ._matrix import _dense_chunk_bounds


@jit()
def _sum_rows(X2, start, stop):
    acc = np.zeros(8)
    m = X2.shape[1]
    m8 = m - m % 8
    for i in range(start, stop):
        for j in range(0, m8, 8):
            for t in range(8):
                acc[t] += X2[i, j + t]
        for j in range(m8, m):
            acc[0] += X2[i, j]
    return acc.sum()


@jit(parallel=True)
def read_sum(X2):
    """Sum of a C-contiguous 2-D array, read once in parallel (the bandwidth probe)."""
    bounds = _dense_chunk_bounds(X2.shape[0], 1)
    n_chunks = bounds.size - 1
    part = np.zeros(n_chunks)
    for c in prange(n_chunks):
        part[c] = _sum_rows(X2, bounds[c], bounds[c + 1])
    return part.sum()
