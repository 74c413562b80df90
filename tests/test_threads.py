"""Thread safety: every public entry point called at once from a thread pool gives the serial
results and never aborts the process, under each Numba threading layer (workqueue aborts on
concurrent parallel calls: fastloss's own thread pool runs the objective, pointwise, check and
metric kernels, and the remaining prange kernels, such as the full Hessian, are serialized there)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np, fastloss, numba, dask, dask.array as da
    import fastloss.dask
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 5)); y = rng.random(6000) < 0.5
    classes = rng.integers(0, 3, 6000); P = rng.dirichlet(np.ones(3), 6000)
    obj = fastloss.LinearObjective(X, y, l2=0.1)
    multi = fastloss.LinearObjective(X, classes, "multinomial", l2=0.1)
    L, M = fastloss.get_loss("logistic"), fastloss.get_loss("multinomial")
    coefs = [rng.standard_normal(6) for _ in range(12)]
    with dask.config.set(scheduler="threads"):  # the workers' code, itself run from dask's threads
        distributed = fastloss.dask.LinearObjective(da.from_array(X, chunks=(1500, 5)), y, l2=0.1)

    def every_door(c):
        return [obj.loss(c), obj.gradient(c), obj.hessp(c, c), obj.hessian_diag(c), obj.hessian(c),
                multi.loss_gradient(np.resize(c, 18))[1], L.loss_gradient(y, X @ c[:5])[1],
                L.mean_loss(y, X @ c[:5]), M.gradient_hessian(classes, np.outer(X[:, 0], c[:3]))[1],
                M.mean_loss(classes, np.outer(X[:, 1], c[:3])), fastloss.log_loss(classes, P),
                distributed.loss_gradient(c)[1], fastloss.precompile(("float64",), ("C",)) > 0]

    serial = [every_door(c) for c in coefs]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(every_door, coefs))
    same = all(np.array_equal(a, b) for s, t in zip(serial, concurrent) for a, b in zip(s, t))
    print(numba.threading_layer(), "SAME" if same else "DIFFERENT")
""")


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["default", "workqueue", "omp", "tbb"])
def test_concurrent_calls_match_serial_and_do_not_abort(layer):
    env = dict(os.environ)
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    if layer == "tbb":  # pip's tbb installs its library beside the interpreter's, off the loader path
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [sysconfig.get_config_var("LIBDIR"),
                                                               os.path.join(sys.prefix, "lib"),
                                                               env.get("LD_LIBRARY_PATH")]))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    if layer in ("omp", "tbb") and proc.returncode != 0 and "not available" in proc.stderr.lower():
        pytest.skip(f"the {layer} threading layer is not available on this machine")
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    out = proc.stdout.split()
    assert out[-1] == "SAME", proc.stdout
    if layer != "default":
        assert out[-2] == layer
