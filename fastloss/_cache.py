"""Where fastloss's compiled kernels are cached on disk, keyed so that stale code is never loaded.

Numba keys a cached function on its own source file only (numba #1833): a kernel compiled with
an older version of a helper in another file (``_matrix.py``, ``losses.py``) would be loaded
after that helper changed. fastloss's functions are therefore cached under a folder named after
a hash of *all* of the package's sources (and of the Python, Numba and llvmlite versions), with
that hash as their source stamp: any edit, upgrade or reinstall of fastloss starts a new folder.

The folder lives under ``$NUMBA_CACHE_DIR/fastloss`` when that is set, else under the user's
cache directory (``$XDG_CACHE_HOME/fastloss`` or ``~/.cache/fastloss``), so that every process of
one user (a demo, a script, the tests) shares the kernels compiled once. If neither is writable,
a fresh temporary folder is used (nothing is reused, nothing stale either).
``FASTLOSS_NO_CACHE=1`` turns caching off altogether (``fastloss._config.CACHE``).

The locator is put first in Numba's list of cache locators and answers only for files inside
this package; every other function is cached as Numba always does. (``NUMBA_CACHE_LOCATOR_CLASSES``
replaces Numba's list: setting it bypasses this module.)
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import tempfile

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@functools.cache
def source_hash() -> str:
    """Hash of every ``.py`` file of the installed package and of the toolchain's versions."""
    import llvmlite
    import numba

    digest = hashlib.sha256()
    digest.update(f"{sys.version} numba {numba.__version__} llvmlite {llvmlite.__version__}".encode())
    for root, dirs, files in os.walk(_PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                digest.update(os.path.relpath(path, _PACKAGE_DIR).encode())
                with open(path, "rb") as f:
                    digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()[:20]


def _roots():
    """Candidate parent folders of the cache, in order of preference."""
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        yield os.path.join(explicit, "fastloss")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        yield os.path.join(base, "fastloss")
    yield _temporary_root()


@functools.cache
def _temporary_root() -> str:
    return tempfile.mkdtemp(prefix="fastloss-cache-")


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


@functools.cache
def cache_dir() -> str:
    """The folder this process caches fastloss's kernels in (created on first use)."""
    for root in _roots():
        path = os.path.join(root, source_hash())
        if _writable(path):
            return path
    raise OSError("no writable folder for fastloss's kernel cache")


def _make_locator():
    from numba.core import caching

    class FastlossCacheLocator(caching._CacheLocator):
        """Numba cache locator for the functions of fastloss (see the module docstring)."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file  # Numba's cache warnings name it
            self._lineno = py_func.__code__.co_firstlineno
            sub = os.path.dirname(os.path.relpath(py_file, _PACKAGE_DIR))
            self._cache_path = os.path.join(cache_dir(), sub)

        def get_cache_path(self):
            return self._cache_path

        def get_source_stamp(self):
            return source_hash()

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            path = os.path.abspath(py_file)
            if os.path.commonpath([path, _PACKAGE_DIR]) != _PACKAGE_DIR or not os.path.exists(path):
                return None
            locator = cls(py_func, path)
            try:
                locator.ensure_cache_path()
            except OSError:
                return None
            return locator

    return FastlossCacheLocator


@functools.cache
def install() -> bool:
    """Put fastloss's locator first in Numba's list (once per process). False where this Numba
    has no such list: fastloss then compiles without a cache rather than risk stale code."""
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    locators = getattr(impl, "_locator_classes", None)
    if not isinstance(locators, list) or not hasattr(caching, "_CacheLocator"):
        return False
    locators.insert(0, _make_locator())
    return True
