"""What a call compiles, and what the cache may serve.

* One compiled kernel serves every binary loss and read-only inputs (no second compile);
* a call prepares only its own loss's loops, for the modes it uses;
* a kernel run from compiled code with a loss that was not prepared raises instead of calling it;
* an edit of a helper in another file than the kernel is never hidden by a stale cache;
* a user's cached ``@njit`` function that calls a parallel kernel runs again from its cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import make_problem

import fastloss
from fastloss.kernels import linear, pointwise

PACKAGE = os.path.dirname(fastloss.__file__)


def _run(code: str, env_extra: dict | None = None, cwd=None) -> str:
    env = dict(os.environ, **(env_extra or {}))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _n_signatures(*dispatchers) -> int:
    return sum(len(d.signatures) for d in dispatchers)


def test_one_compiled_kernel_serves_every_binary_loss():
    X, y, sw = make_problem()
    coef = np.zeros(X.shape[1] + 1)
    fastloss.LinearObjective(X, y, "logistic").loss_gradient(coef)
    before = _n_signatures(linear.binary.loss_gradient_chunks)
    for loss in fastloss.LOSSES[:-1]:
        fastloss.LinearObjective(X, y, loss, sample_weight=sw).loss_gradient(coef)
    assert _n_signatures(linear.binary.loss_gradient_chunks) == before


@pytest.mark.parametrize("order", ["C", "F"])
def test_read_only_inputs_share_the_compiled_kernel_and_give_the_same_bits(order, tmp_path):
    X, y, sw = make_problem(order=order)
    coef = np.random.default_rng(3).standard_normal(X.shape[1] + 1) * 0.3
    expected = fastloss.LinearObjective(X, y, sample_weight=sw).loss_gradient(coef)
    L = fastloss.get_loss("logistic")
    expected_pointwise = L.loss_gradient(y, X[:, 0].copy(), sample_weight=sw)
    kernels = (linear.binary.loss_gradient_chunks, pointwise.binary_pointwise_chunks)
    before = _n_signatures(*kernels)

    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    frozen = [a.copy(order="K") for a in (X, y, sw)]
    for a in frozen:
        a.setflags(write=False)
    for X_ro, y_ro, sw_ro in ((mapped, y, sw), tuple(frozen)):
        loss, grad = fastloss.LinearObjective(X_ro, y_ro, sample_weight=sw_ro).loss_gradient(coef)
        assert loss == expected[0]
        np.testing.assert_array_equal(grad, expected[1])
    raw = X[:, 0].copy()
    raw.setflags(write=False)
    got = L.loss_gradient(frozen[1], raw, sample_weight=frozen[2])
    for a, b in zip(got, expected_pointwise, strict=True):
        np.testing.assert_array_equal(a, b)
    assert _n_signatures(*kernels) == before
    assert not any(a.flags.writeable for a in frozen) and not mapped.flags.writeable


@pytest.mark.slow
def test_a_call_prepares_only_its_loss_and_modes_and_unprepared_losses_raise():
    out = _run("""
        import numpy as np, fastloss
        from fastloss.kernels import _loops, linear
        from fastloss.losses import LOSS_IDS
        X = np.random.default_rng(0).standard_normal((500, 4)); y = (X[:, 0] > 0).astype(float)
        obj = fastloss.LinearObjective(X, y, "savage")
        c = np.zeros(5)
        prepared = []
        obj.loss_gradient(c); prepared.append(sorted(_loops._compiled))
        obj.hessp(c, c); prepared.append(sorted(_loops._compiled))
        try:
            linear.loss_gradient(X, y, np.empty(0), c, True, LOSS_IDS["tangent"], True, np.empty(5), np.empty(0))
            raised = False
        except ValueError as e:
            raised = "prepare" in str(e)
        print(repr((prepared, raised)))
    """)
    prepared, raised = eval(out)
    slot = 8 * fastloss.LOSSES.index("savage")
    assert prepared == [[slot + 3], [slot + 3, slot + 4]]  # value_gradient, then hessian
    assert raised


@pytest.mark.slow
def test_a_call_compiles_only_its_kind_of_loss():
    """The kernels are compiled per kind of loss (binary, softmax): a binary objective compiles
    (or loads) no softmax copy, a multinomial one no binary copy."""
    out = _run("""
        import numpy as np, fastloss
        from fastloss.kernels import _scores, linear
        kernels = [k for k in vars(linear).values() if isinstance(k, _scores.PerKind)]
        def compiled():
            return {kind: sum(len(k.compiled[kind].signatures) for k in kernels) for kind in _scores.KINDS}
        X = np.random.default_rng(0).standard_normal((500, 4)); y = (X[:, 0] > 0).astype(float)
        obj = fastloss.LinearObjective(X, y)
        obj.hessp(np.zeros(5), np.ones(5))
        seen = [compiled()]
        obj = fastloss.LinearObjective(X, (X[:, 1] > 0).astype(int) + (X[:, 2] > 0), "multinomial")
        obj.hessp(np.zeros(15), np.ones(15))
        seen.append(compiled())
        print(repr((len(kernels), seen)))
    """)
    n_kernels, (after_binary, after_multinomial) = eval(out)
    assert n_kernels >= 8
    assert after_binary["binary"] > 0 and after_binary["softmax"] == 0
    assert after_multinomial["binary"] == after_binary["binary"] and after_multinomial["softmax"] > 0


def test_a_narrow_hessian_from_python_compiles_no_parallel_gram_kernel():
    """``hessian()`` of a problem whose partial matrices fit the budget runs the serial row-chunk
    kernel on the thread pool: neither parallel Gram kernel (the shared-block strips, the compiled
    callers' chunk driver) is compiled or loaded."""
    out = _run("""
        import numpy as np, fastloss
        from fastloss.kernels import linear
        X = np.random.default_rng(0).standard_normal((500, 4)); y = (X[:, 0] > 0).astype(float)
        fastloss.LinearObjective(X, y).hessian(np.zeros(5))
        print(repr((len(linear.gram_chunks.compiled["binary"].signatures),
                    len(linear.gram_of_curvature.compiled["binary"].signatures), len(linear.gram_add.signatures))))
    """)
    assert eval(out) == (1, 0, 0)


@pytest.mark.slow
def test_an_edited_helper_is_never_served_from_a_stale_cache(tmp_path):
    copy = tmp_path / "site" / "fastloss"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(tmp_path / "site"), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = """
        import numpy as np, fastloss
        from fastloss.kernels import pointwise
        assert fastloss.__file__.startswith({root!r}), fastloss.__file__
        value = fastloss.get_loss("logistic").loss(np.array([1.0, 0.0]), np.array([0.5, -2.0]))
        print(repr((value.tolist(), sum(pointwise.binary_pointwise_chunks.stats.cache_hits.values()))))
    """.format(root=str(tmp_path / "site"))
    first, hits_first = eval(_run(code, env, cwd=tmp_path))
    again, hits_again = eval(_run(code, env, cwd=tmp_path))
    assert again == first and hits_first == 0 and hits_again > 0  # the cache works ...

    losses_py = copy / "losses.py"  # ... and a helper outside the kernels' files changes:
    source = losses_py.read_text()
    old = "    return a + y * max(-z, 0.0) + (1.0 - y) * max(z, 0.0)\n"
    assert source.count(old) == 1
    losses_py.write_text(source.replace(old, "    return 1.0 + a + y * max(-z, 0.0) + (1.0 - y) * max(z, 0.0)\n"))
    edited, _ = eval(_run(code, env, cwd=tmp_path))
    np.testing.assert_allclose(edited, np.add(first, 1.0), rtol=1e-15)


@pytest.mark.slow
def test_processes_starting_together_on_an_empty_cache(tmp_path):
    """Four processes compile into one empty cache at the same moment (a dask LocalCluster, a
    multiprocessing pool): each returns the right values, and a fifth process finds everything
    they compiled in the cache (numba #4807: concurrent writers have corrupted shared caches)."""
    code = textwrap.dedent("""
        import sys, numpy as np, fastloss
        from fastloss.kernels import linear
        X = np.random.default_rng(0).standard_normal((3000, 5)); y = (X[:, 0] > 0).astype(float)
        loss, grad = fastloss.LinearObjective(X, y).loss_gradient(np.full(6, 0.1))
        hits = sum(linear.binary.loss_gradient_chunks.stats.cache_hits.values())
        print(repr((loss, grad.tolist(), hits)))
    """)
    script = tmp_path / "worker.py"
    script.write_text(code)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("FASTLOSS_NO_CACHE", None)

    def start():
        return subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    workers = [start() for _ in range(4)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]
        results.append(eval(out.strip().splitlines()[-1]))
    X = np.random.default_rng(0).standard_normal((3000, 5))
    y = (X[:, 0] > 0).astype(float)
    expected = fastloss.LinearObjective(X, y).loss_gradient(np.full(6, 0.1))
    for loss, grad, _ in results:
        assert loss == expected[0] and grad == expected[1].tolist()
    fifth = start()
    out, err = fifth.communicate(timeout=600)
    assert fifth.returncode == 0, err[-3000:]
    loss, grad, hits = eval(out.strip().splitlines()[-1])
    assert (loss, grad) == (expected[0], expected[1].tolist()) and hits > 0


@pytest.mark.slow
def test_a_cached_user_function_calling_a_parallel_kernel_loads_again(tmp_path):
    """A user's ``@njit(cache=True)`` function around a parallel kernel, loaded from its cache in a
    fresh process, links against Numba's threading layer: importing the kernels starts it (without
    that the second run died with "Symbol not found: allocate_sched" or a segmentation fault,
    numba#8578)."""
    script = tmp_path / "user_code.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        from numba import njit
        from fastloss.kernels import linear, prepare
        from fastloss.losses import LOSS_IDS

        @njit(cache=True)
        def loss_sum(X, y, coef, loss_id):
            grad = np.empty(coef.size)
            return linear.loss_gradient(X, y, np.empty(0), coef, True, loss_id, True, grad, np.empty(0))

        prepare("logistic")
        X = np.random.default_rng(0).standard_normal((3000, 4))
        y = (X[:, 0] > 0).astype(float)
        print(repr((loss_sum(X, y, np.full(5, 0.1), LOSS_IDS["logistic"]), loss_sum.stats.cache_hits.get(
            loss_sum.signatures[0], 0))))
    """))
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)  # the user's cache beside the script, fastloss's as configured
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(eval(done.stdout.strip().splitlines()[-1]))
    (first, hits_first), (again, hits_again) = runs
    assert again == first and hits_first == 0 and hits_again == 1
