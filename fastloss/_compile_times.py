"""First calls in fresh processes: what a new user waits for, against a minimal Numba kernel.

Each scenario runs in a new Python process with an empty cache (a new ``NUMBA_CACHE_DIR``), and
prints the seconds of each step it times; ``minimal`` compiles the yardstick: one parallel
Numba kernel (a ``prange`` over rows, a dot product, ``log1p``/``exp``, ``cache=True``). The
``warm`` scenario runs after ``loss_gradient`` in the same cache: imports plus first call of a
process that finds the kernels compiled. Used by ``python -m fastloss bench --ops compile`` and
``bench/bench_compile.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

_DATA = """
import time
t_start = time.perf_counter()
import numpy as np
rng = np.random.default_rng(0)
n, d = {n}, {d}
X = rng.standard_normal((n, d))
y = (X[:, 0] + rng.standard_normal(n) > 0).astype(float)
times = {{}}
def timed(name, fn):
    t = time.perf_counter()
    out = fn()
    times[name] = time.perf_counter() - t
    return out
"""

#: name -> (code run after _DATA; the steps it reports, in order)
SCENARIOS = {
    "minimal": ("""
import math
from numba import njit, prange
@njit(parallel=True, cache=True)
def kernel(X, w, y):
    out = np.empty(X.shape[0])
    for i in prange(X.shape[0]):
        z = 0.0
        for j in range(X.shape[1]):
            z += X[i, j] * w[j]
        out[i] = math.log1p(math.exp(-abs(z))) + max(-z, 0.0) - y[i] * z
    return out.sum()
timed("minimal kernel", lambda: kernel(X, np.ones(d), y))
"""),
    "objective": ("""
import fastloss
c = np.zeros(d + 1)
def first_call():
    global obj
    obj = fastloss.LinearObjective(X, y, l2=1e-4)
    return obj.loss_gradient(c)
timed("LinearObjective(...).loss_gradient, float64 C", first_call)
timed("hessp after it", lambda: obj.hessp(c, c + 1))
timed("gradient_hessp after it", lambda: obj.gradient_hessp(c)[1](c + 1))
"""),
    "pointwise": ("""
import fastloss
timed("get_loss('logistic').loss_gradient", lambda: fastloss.get_loss("logistic").loss_gradient(y, X[:, 0]))
"""),
    "formats": ("""
import fastloss, scipy.sparse as sp
c = np.zeros(d + 1)
fastloss.LinearObjective(X, y).loss_gradient(c)
XF = np.asfortranarray(X, dtype=np.float32)
timed("further format: float32 F", lambda: fastloss.LinearObjective(XF, y).loss_gradient(c))
XS = sp.random(n, d, density=0.2, format="csr", random_state=0)
timed("further format: CSR float64", lambda: fastloss.LinearObjective(XS, y).loss_gradient(c))
"""),
    "multinomial": ("""
import fastloss
yk = (np.abs(X[:, 0]) * 2).astype(int) % 3
timed("multinomial loss_gradient (K = 3)",
      lambda: fastloss.LinearObjective(X, yk, "multinomial").loss_gradient(np.zeros(3 * (d + 1))))
"""),
    "precompile": ("""
import fastloss
timed("precompile(float64, C)", lambda: fastloss.precompile(dtypes=("float64",), layouts=("C",)))
"""),
}

#: The warm scenario: the ``objective`` scenario's first call again, in a cache it filled.
WARM = ("warm cache: imports + first loss_gradient", """
import fastloss
fastloss.LinearObjective(X, y, l2=1e-4).loss_gradient(np.zeros(d + 1))
times["warm cache: imports + first loss_gradient"] = time.perf_counter() - t_start
""")


def _run(code: str, cache_dir: str, n: int, d: int) -> dict:
    source = (textwrap.dedent(_DATA.format(n=n, d=d)) + textwrap.dedent(code)
              + "\nimport json\nprint(json.dumps(times))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("FASTLOSS_NO_CACHE", None)
    # A file (Numba caches only functions that have one), beside the cache, not in it: the
    # cache holds a folder named fastloss, which the script's folder on sys.path would import.
    script = os.path.join(os.path.dirname(cache_dir), "scenario.py")
    with open(script, "w") as f:
        f.write(source)
    done = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"compile scenario failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(scenarios=tuple(SCENARIOS), n: int = 100_000, d: int = 20, progress=None) -> list[tuple[str, float]]:
    """``[(step, seconds), ...]`` for the scenarios, each in a fresh process and an empty cache,
    then the warm first call. The first row is the minimal kernel (always measured)."""
    rows = []
    names = ["minimal"] + [s for s in scenarios if s != "minimal"]
    for name in names:
        if progress:
            progress(f"compile: {name}")
        with tempfile.TemporaryDirectory(prefix="fastloss-compile-") as folder:
            cache = os.path.join(folder, "cache")
            times = _run(SCENARIOS[name], cache, n, d)
            if name == "objective":
                times.update(_run(WARM[1], cache, n, d))
        rows.extend(times.items())
    return rows
