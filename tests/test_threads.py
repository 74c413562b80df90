"""Thread safety: LinearObjective methods called at once from a thread pool give the serial results
and never abort the process, under each Numba threading layer (workqueue aborts on concurrent
parallel calls unless fastloss serializes them)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np, fastloss, numba
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 5)); y = rng.random(6000) < 0.5
    obj = fastloss.LinearObjective(X, y, l2=0.1)
    coefs = [rng.standard_normal(6) for _ in range(16)]
    serial = [(obj.loss(c), obj.gradient(c), obj.hessp(c, c)) for c in coefs]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda c: (obj.loss(c), obj.gradient(c), obj.hessp(c, c)), coefs))
    same = all(a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
               for a, b in zip(serial, concurrent))
    print(numba.threading_layer(), "SAME" if same else "DIFFERENT")
""")


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["default", "workqueue", "omp"])
def test_concurrent_calls_match_serial_and_do_not_abort(layer):
    env = dict(os.environ)
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    if layer == "omp" and proc.returncode != 0 and "omp" in proc.stderr and "not available" in proc.stderr.lower():
        pytest.skip("the OpenMP threading layer is not available on this machine")
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    out = proc.stdout.split()
    assert out[-1] == "SAME", proc.stdout
    if layer != "default":
        assert out[-2] == layer
