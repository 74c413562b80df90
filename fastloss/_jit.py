"""The one decorator factory every compiled function of fastloss goes through."""

from __future__ import annotations

from numba import njit

from . import _cache, _config

#: Whether compiled code is cached on disk: under a hash of the package's sources (see _cache).
CACHE = _config.CACHE and _cache.install()

#: Only explicit ``prange`` loops become parallel: no implicit parallelization of NumPy
#: expressions, no fusion passes (they cost compile time and could reorder reductions).
_PRANGE_ONLY = dict(
    prange=True, comprehension=False, numpy=False, reduction=False,
    setitem=False, stencil=False, fusion=False,
)


def jit(*, parallel: bool = False, fastmath: bool = True, inline: bool = False):
    """Return ``numba.njit`` with fastloss's shared options.

    ``error_model="numpy"`` drops Python's division-by-zero checks from hot loops (a division by
    zero gives inf/nan as in NumPy). ``fastmath`` uses the flags of ``_config.FASTMATH`` (never
    ``nnan``/``ninf``); the scalar loss functions are compiled with ``fastmath=False`` so that the
    stable formulas keep their exact evaluation order.

    Literal types: a constant argument in compiled code (``f(x, 4)``, or a global such as
    ``HESSIAN``) is typed ``Literal[int](4)``, and Numba compiles the callee once more for that
    type (with everything it calls). Kernels therefore pass flags and ids on as ``np.int64(.)`` /
    ``np.bool_(.)``, and re-type their own scalar arguments at entry, so that a user's @njit
    code calling them with constants does not recompile the serial chunk functions.

    Parallel functions start Numba's threading layer when they are defined (that is, when a
    kernel module is imported): see :func:`_start_threading_layer`.
    """
    if parallel:
        _start_threading_layer()
    return njit(**_options(parallel, fastmath, inline))


def _start_threading_layer() -> None:
    """Start Numba's threading layer (once; ``numba.get_num_threads`` does).

    A user's ``@njit(cache=True)`` function that calls a parallel kernel links against the
    threading layer's symbols when it is loaded from its cache, and nothing else starts the layer
    first: the interpreter then died with "LLVM ERROR: Symbol not found: allocate_sched" or a
    segmentation fault (numba#8578). Kernel modules define their parallel functions at import,
    so the layer is up before any user code can call them.
    """
    import numba

    numba.get_num_threads()


def _options(parallel: bool, fastmath: bool, inline: bool) -> dict:
    options = dict(cache=CACHE, error_model="numpy", nogil=True)
    if parallel:
        options["parallel"] = _PRANGE_ONLY
    if fastmath:
        options["fastmath"] = set(_config.FASTMATH)
    if inline:
        options["inline"] = "always"
    return options
