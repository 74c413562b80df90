"""``fastloss.kernels`` and the per-sample loss functions called from a user's own ``@njit`` code.

The Newton-CG example (``tests/test_examples.py``) drives the binary objective kernels from one
``@njit`` function; here the per-sample functions of every binary loss and the pointwise and
multinomial kernels are called from ``@njit`` code and checked against the NumPy reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from fastloss import losses, reference
from fastloss.kernels import multinomial as MK
from fastloss.kernels import pointwise as PK
from fastloss.kernels import prepare

BINARY = list(losses.BINARY_LOSSES)
LOGISTIC = losses.LOSS_IDS["logistic"]  # a global int: compiled code reads it as a constant


def _njit_per_sample(name):
    """A user's ``@njit`` loop over the three per-sample functions of loss ``name``."""
    value = getattr(losses, f"{name}_value")
    gradient = getattr(losses, f"{name}_gradient")
    hessian = getattr(losses, f"{name}_hessian")

    @njit
    def evaluate(y, z):
        out = np.empty((3, z.size))
        for i in range(z.size):
            out[0, i] = value(y[i], z[i])
            out[1, i] = gradient(y[i], z[i])
            out[2, i] = hessian(y[i], z[i])
        return out

    return evaluate


@pytest.mark.parametrize("name", BINARY)
def test_per_sample_functions_from_njit_code_match_the_reference(name):
    rng = np.random.default_rng(0)
    z = np.r_[rng.standard_normal(200) * 3, -40.0, -2.0, -1.0, 0.0, 1.0, 2.0, 40.0]
    y = (rng.random(z.size) < 0.5).astype(np.float64)
    out = _njit_per_sample(name)(y, z)
    np.testing.assert_allclose(out[0], reference.point_loss(name, y, z), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(out[1], reference.point_gradient(name, y, z), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(out[2], reference.point_hessian(name, y, z), rtol=1e-12, atol=1e-300)


def test_pointwise_and_multinomial_kernels_from_njit_code():
    """The kernels' documented argument order, driven from compiled code with no Python between."""
    rng = np.random.default_rng(1)
    n, d, K = 3000, 6, 4
    X = rng.standard_normal((n, d))
    y_class = rng.integers(0, K, n)
    raw = rng.standard_normal(n)
    y01 = (rng.random(n) < 0.5).astype(np.float64)
    sw = np.empty(0)
    prepare("logistic", ("value_gradient",))  # the loss's loop, which the kernels call by id

    @njit
    def user_code(X, y_class, raw, y01, sw, coef):
        loss_out = np.empty(raw.size)
        grad_out = np.empty(raw.size)
        total, weight = PK.binary_pointwise(y01, raw, sw, LOGISTIC, loss_out, grad_out, np.empty(0))
        grad = np.empty(coef.size)
        proba = np.empty(y_class.size * K)
        mloss = MK.loss_gradient(X, y_class, sw, coef, True, K, True, grad, proba)
        Hv = np.empty((1, coef.size))
        direction = grad / y_class.size  # the mean gradient, as the reference's direction
        MK.hessp(X, y_class, sw, coef, True, K, proba, direction.reshape((1, coef.size)), Hv)
        return total, weight, loss_out, grad_out, mloss, grad, Hv[0]

    coef = rng.standard_normal(K * (d + 1)) * 0.3
    total, weight, loss_out, grad_out, mloss, grad, Hv = user_code(X, y_class, raw, y01, sw, coef)
    assert weight == n
    np.testing.assert_allclose(loss_out, reference.point_loss("logistic", y01, raw), rtol=1e-13)
    np.testing.assert_allclose(grad_out, reference.point_gradient("logistic", y01, raw), rtol=1e-13)
    np.testing.assert_allclose(total, loss_out.sum(), rtol=1e-13)
    # The kernels return unnormalized sums without the L2 term: n times the reference's mean.
    W = coef.reshape(K, d + 1)
    np.testing.assert_allclose(mloss / n, reference.objective_loss("multinomial", X, y_class, W), rtol=1e-12)
    g_ref = reference.objective_gradient("multinomial", X, y_class, W).ravel()
    np.testing.assert_allclose(grad / n, g_ref, rtol=1e-10, atol=1e-14)
    Hv_ref = reference.objective_hessp("multinomial", X, y_class, W, g_ref.reshape(K, d + 1)).ravel()
    np.testing.assert_allclose(Hv / n, Hv_ref, rtol=1e-10, atol=1e-14)


def test_each_loss_and_mode_has_a_loop_of_its_own():
    """Every (loss, mode) loop is compiled under a name of its own: Numba's symbol names do not
    tell apart functions that share one, and a kernel loaded from the cache could then call
    another loss's loop. Each is prepared once; a second prepare compiles nothing."""
    from fastloss.kernels import _loops, prepare

    assert all(losses.REGISTRY[name].binary for name in BINARY) and not losses.REGISTRY["multinomial"].binary
    for name in BINARY:
        prepare(name)
    loops = dict(_loops._compiled)
    assert len(loops) == len(BINARY) * len(_loops.MODES)
    names = [loop._pyfunc.__qualname__ for loop in loops.values()]
    assert len(set(names)) == len(names), sorted(names)
    for name in BINARY:
        prepare(name)
    assert dict(_loops._compiled) == loops


def test_chunk_counts_split_evenly_over_power_of_two_threads():
    """Above ``CHUNK_MULTIPLE`` every chunk count (dense, CSR, log_loss) is a multiple of it, so
    prange's equal shares leave no thread idle at 2, 4, 8 or 16 threads; it depends on sizes only."""
    from fastloss import _config
    from fastloss.kernels._chunks import bounds_of
    from fastloss.kernels._matrix import csr_n_chunks, n_chunks_for

    step = _config.CHUNK_MULTIPLE
    counts = []
    for n in (1, 1000, 17 * 1024, 33 * 1024 + 5, 97 * 1024, 10**6, 10**8):
        counts.append(len(bounds_of(np.empty((n, 0)), 3)) - 1)
        for width in (1, 101, 1010, 100_001, 2_000_001):
            counts += [n_chunks_for(n, width), csr_n_chunks(n, 50 * n, width)]
    assert all(c >= 1 and (c <= step or c % step == 0) for c in counts)


def test_dense_blocks_are_whole_register_tiles():
    """A dense cache block of ``BLOCK_ROW_MULTIPLE`` rows or more is a multiple of it, so no block
    ends in a partly filled 4-row score tile or a one-row gradient update (81 rows before, at
    d = 100 float64); the multinomial blocks, capped by their scratch, follow the same rule."""
    from numba import njit

    from fastloss import _config
    from fastloss.kernels._matrix import block_rows
    from fastloss.kernels.multinomial import _rows_per_block

    @njit
    def rows_of(X, n_scores):
        return block_rows(X), _rows_per_block(X, n_scores)

    step = _config.BLOCK_ROW_MULTIPLE
    seen = []
    for dtype in (np.float32, np.float64):
        for d in (1, 3, 100, 101, 999, 5000, 10_000, 100_000):
            for n_scores in (2, 10, 1000, 5000):
                seen += rows_of(np.zeros((1, d), dtype=dtype), n_scores)
    assert all(r >= 1 and (r < step or r % step == 0) for r in seen)


def test_csr_type_is_built_and_used_inside_njit_code():
    """``fastloss.kernels.CSR`` is the kernels' sparse format, also when a user's @njit code
    assembles it; a SciPy matrix's arrays give the Python API's value."""
    import scipy.sparse as sp

    import fastloss
    from fastloss.kernels import CSR, linear

    prepare("logistic", ("value_gradient",))
    X = sp.random(300, 12, density=0.3, format="csr", random_state=1)
    y = (np.arange(300) % 3 == 0).astype(np.float64)
    coef = np.linspace(-1, 1, 13)

    @njit
    def total(data, indices, indptr, n_cols, y, coef, grad):
        return linear.loss_gradient(CSR(data, indices, indptr, n_cols), y, np.empty(0), coef, True, LOGISTIC,
                                    True, grad, np.empty(0))

    grad = np.empty(13)
    value = total(X.data, X.indices, X.indptr, 12, y, coef, grad)
    obj = fastloss.LinearObjective(X, y)
    f, g = obj.loss_gradient(coef)
    assert value / 300 == pytest.approx(f, rel=1e-14)
    np.testing.assert_allclose(grad / 300, g, rtol=1e-13)
