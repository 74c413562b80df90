"""fastloss: fused, parallel, deterministic Numba kernels for classification losses.

``import fastloss`` is light: NumPy only. Numba, SciPy and the kernels load on first use (``LOSSES``
too: it comes from the loss registry, :mod:`fastloss.losses`), and
compiled kernels come from Numba's on-disk cache after the first run.

Public names: ``LOSSES``, ``get_loss``, ``LinearObjective``, ``log_loss``, ``kernels``,
``reference``, ``precompile``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "LOSSES": ("fastloss.losses", "LOSSES"),
    "get_loss": ("fastloss.pointwise", "get_loss"),
    "Loss": ("fastloss.pointwise", "Loss"),
    "LinearObjective": ("fastloss.objective", "LinearObjective"),
    "log_loss": ("fastloss.metrics", "log_loss"),
    "precompile": ("fastloss._precompile", "precompile"),
}
_SUBMODULES = {"kernels", "reference", "dask", "metrics", "objective", "pointwise", "losses", "boosting", "sklearn"}

__all__ = [
    "LOSSES",
    "LinearObjective",
    "__version__",
    "get_loss",
    "kernels",
    "log_loss",
    "precompile",
    "reference",
]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        if name != "LOSSES":  # the registry's current tuple (a loss registered later joins it)
            globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"fastloss.{name}")
    raise AttributeError(f"module 'fastloss' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
