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
  ``prange`` over the same ranges, each through the one driver :func:`parallel_chunks` makes of
  its ``*_chunks`` function, for callers in compiled code.
"""

from __future__ import annotations

import sys
import types as pytypes

import llvmlite.ir as llvm_ir
import numpy as np
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

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


@intrinsic
def threads_now(typingctx):
    """The calling thread's Numba thread count (what ``numba.get_num_threads()`` returns), for
    compiled code that is cached: ``numba.get_num_threads()`` calls the threading layer through a
    ctypes pointer, which makes a function uncacheable; this calls the layer's linked symbol
    ``get_num_threads``, as Numba's own ``prange`` code does. The layer is started when a kernel
    module is imported (``fastloss._jit``), before any such function can be loaded."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, llvm_ir.FunctionType(llvm_ir.IntType(32), []), "get_num_threads")
        return builder.sext(builder.call(fn, []), cgutils.intp_t)

    return types.intp(), codegen


@jit()
def n_groups(n_chunks):
    """How many contiguous ranges of chunks the ``prange`` drivers split ``n_chunks`` into: one per
    thread (:func:`threads_now`), as the Python API's :func:`fastloss._parallel.run_chunks` does, so
    that per-range set-up is paid once per thread and a two-pass kernel keeps its runs long.
    Results do not depend on it."""
    return max(1, min(threads_now(), n_chunks))


@jit()
def group_range(n_chunks, groups, g):
    """Chunks ``first:last`` of range ``g`` of ``groups``."""
    return (g * n_chunks) // groups, ((g + 1) * n_chunks) // groups


def _advise_huge_pages(typingctx, address, length):
    """``madvise(address, length, MADV_HUGEPAGE)`` (Linux), through the C library's linked symbol."""
    sig = types.void(types.uintp, types.uintp)

    def codegen(context, builder, sig, args):
        int_t = llvm_ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, llvm_ir.FunctionType(int_t, [cgutils.voidptr_t, cgutils.intp_t, int_t]), "madvise")
        builder.call(fn, [builder.inttoptr(args[0], cgutils.voidptr_t), args[1], int_t(_MADV_HUGEPAGE)])
        return context.get_dummy_value()

    return sig, codegen


def _no_advice(typingctx, address, length):
    """Elsewhere than on Linux: nothing."""
    return types.void(types.uintp, types.uintp), lambda context, builder, sig, args: context.get_dummy_value()


_MADV_HUGEPAGE = 14
_advise = intrinsic(_advise_huge_pages if sys.platform.startswith("linux") else _no_advice)


@jit(inline=True)
def huge_pages(a):
    """Ask the kernel to back C-contiguous array ``a`` with huge pages (transparent huge pages in
    ``madvise`` mode, as NumPy asks for its own arrays of 4 MiB and more); before its pages are
    first touched. Numba allocates without that advice. The partial sums that a CSR kernel updates
    at random (megabytes per chunk) then miss the TLB far less often (docs/performance.md, "The
    compiled drivers")."""
    size = a.size * a.itemsize
    if size >= _config.HUGE_PAGE_MIN_BYTES:
        address = np.uintp(a.ctypes.data)
        skip = (np.uintp(4096) - address % np.uintp(4096)) % np.uintp(4096)
        _advise(address + skip, np.uintp(size) - skip)


@jit()
def partials(n_chunks, n_totals, width):
    """Zeroed ``(totals, vectors)`` for ``n_chunks`` chunks (``vectors`` in huge pages where large:
    :func:`huge_pages`)."""
    vectors = np.empty((n_chunks, width))
    huge_pages(vectors)
    flat = vectors.reshape(vectors.size)
    for q in range(flat.size):
        flat[q] = 0.0
    return np.zeros((n_chunks, n_totals)), vectors


def _driver_template(first_arg, second_arg, args, bounds, n_totals, width):
    """Every chunk of ``bounds`` through ``CHUNKS(first_arg, second_arg, *args, bounds, first,
    last, totals, vectors)``, ``prange`` over :func:`n_groups` ranges; returns the
    zero-initialized, filled partials. (The first two arguments are passed on their own: the
    parallel region takes a tuple apart one level only, so a :class:`CSR` matrix or a
    :class:`~._scores.Softmax` loss inside the tuple of arguments would reach it as a tuple
    nested in a tuple, which Numba's gufuncs refuse.)"""
    n_chunks = bounds.size - 1
    totals, vectors = partials(n_chunks, n_totals, width)
    groups = n_groups(n_chunks)
    for g in prange(groups):
        first, last = group_range(n_chunks, groups, g)
        CHUNKS(first_arg, second_arg, *args, bounds, first, last, totals, vectors)  # noqa: F821 (bound per copy)
    return totals, vectors


def copy_function(template, namespace: dict, name: str):
    """A copy of Python function ``template`` that reads its globals from ``namespace``, named
    ``name`` (its qualified name too: Numba's cache keys a function on it, so each copy is cached
    on its own)."""
    copy = pytypes.FunctionType(template.__code__, namespace, name, template.__defaults__)
    copy.__qualname__ = name
    copy.__doc__ = template.__doc__
    copy.__module__ = template.__module__
    return copy


def parallel_chunks(chunks):
    """The ``prange`` driver of a ``*_chunks`` function, written once: a cached
    ``@jit(parallel=True)`` function ``(first_arg, second_arg, args, bounds, n_totals, width) ->
    (totals, vectors)`` that runs ``chunks(first_arg, second_arg, *args, bounds, first, last,
    totals, vectors)`` over every chunk.

    Each driver is a copy of one template with ``chunks`` bound as a global (a direct call that
    the on-disk cache can hold) and a name of its own (``module.function``), as the loss loops of
    :mod:`._loops` are made. For a kernel written per kind of loss
    (:func:`fastloss.kernels._scores.per_kind`), one driver per kind.
    """
    if hasattr(chunks, "derived"):
        return chunks.derived(parallel_chunks)
    py = chunks.py_func
    name = f"parallel__{py.__module__.rsplit('.', 1)[-1]}__{py.__name__}"
    driver = copy_function(_driver_template, dict(_driver_template.__globals__, CHUNKS=chunks), name)
    driver.__doc__ = f"``prange`` driver of :func:`{py.__module__}.{py.__name__}` (see :func:`parallel_chunks`)."
    return jit(parallel=True)(driver)


@jit()
def total_of(totals, vectors, vector_out):
    """:func:`combine` the partials of a driver that sums one total, into ``vector_out``; the total."""
    total = np.empty(totals.shape[1])
    combine(totals, vectors, total, vector_out)
    return total[0]
