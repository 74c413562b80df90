"""The one decorator factory every compiled function of fastloss goes through."""

from __future__ import annotations

from numba import njit

from . import _config

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
    code calling them with constants does not recompile the serial chunk functions. The one
    constant passed on purpose is the ``mode`` of ``losses.pointwise_rows`` (see there).
    """
    return njit(**_options(parallel, fastmath, inline))


def _options(parallel: bool, fastmath: bool, inline: bool) -> dict:
    options = dict(cache=_config.CACHE, error_model="numpy", nogil=True)
    if parallel:
        options["parallel"] = _PRANGE_ONLY
    if fastmath:
        options["fastmath"] = set(_config.FASTMATH)
    if inline:
        options["inline"] = "always"
    return options


def jit_closure(function, name: str, *, fastmath: bool = True):
    """Compile a closure made by a factory, under its own ``name``, and without caching it.

    All closures of one factory share a ``__qualname__``, and Numba's symbol names (qualname, a
    per-process counter, argument types) do not tell them apart across processes. Numba links a
    callee into each caller as a ``linkonce_odr`` copy, so that one copy of a symbol serves all:
    a caller compiled in another process and loaded from the cache could then call a different
    closure that happens to carry the same symbol here. A clean-clone run of ``.ci/run`` saw
    exactly that (one loss's loop called for another: garbage outputs), hence a unique name per
    closure. The closure is not cached on its own: its cache key pickles its free variables,
    whose dispatchers get a new uuid in every process, so it would never hit. Its callers are
    cached, with its code in them.
    """
    function.__name__ = function.__qualname__ = name
    return njit(**{**_options(False, fastmath, False), "cache": False})(function)
