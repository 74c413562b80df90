"""LinearObjective (contract section 3) on dense X: against the NumPy reference (the rows of the
table in ``_comparisons.py``), finite differences and itself."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _comparisons import CASES, check, check_methods_agree, rows
from conftest import TWO_THREADS, central_difference, coef_for, make_problem

import fastloss
from fastloss import reference as R

BINARY = fastloss.reference.BINARY_LOSSES


# --- against the reference: the table's objective rows (every method x binary loss x dense format)

@pytest.mark.parametrize("op, case", rows("objective"))
def test_matches_reference(op, case):
    check(op, case)


@pytest.mark.parametrize("case", [c for c in CASES["objective"] if c.loss == "logistic"], ids=lambda c: c.id)
def test_methods_agree_with_each_other(case):
    check_methods_agree(case)


@pytest.mark.parametrize("loss", ["logistic", "exponential", "square", "savage", "tangent"])
def test_gradient_and_hessp_against_finite_differences(loss):
    X, y, sw = make_problem(n=400, d=4)
    obj = fastloss.LinearObjective(X, y, loss, l2=0.1, sample_weight=sw)
    coef = coef_for(obj, scale=0.2)
    np.testing.assert_allclose(obj.gradient(coef), central_difference(obj.loss, coef, 1e-3), rtol=1e-6, atol=1e-8)
    v = np.random.default_rng(9).standard_normal(obj.n_coef)
    fd_hv = central_difference(lambda t: obj.gradient(coef + t[0] * v) @ v, np.zeros(1), 1e-3)[0]
    np.testing.assert_allclose(obj.hessp(coef, v) @ v, fd_hv, rtol=1e-6)


@pytest.mark.parametrize("loss", ["squared_hinge", "modified_huber", "smooth_hinge", "hinge"])
def test_piecewise_gradient_finite_differences_away_from_kinks(loss):
    # Few rows and a small step: no margin crosses a kink between the evaluation points.
    X, y, _ = make_problem(n=60, d=3)
    obj = fastloss.LinearObjective(X, y, loss, l2=0.05)
    coef = coef_for(obj, scale=0.4)
    np.testing.assert_allclose(obj.gradient(coef), central_difference(obj.loss, coef, 1e-6), rtol=1e-5, atol=1e-8)


def test_hessp_2d_equals_columns_and_hessian(problem):
    X, y, sw = problem
    obj = fastloss.LinearObjective(X, y, "logistic", l2=0.3, sample_weight=sw)
    coef = coef_for(obj)
    V = np.random.default_rng(2).standard_normal((obj.n_coef, 4))
    HV = obj.hessp(coef, V)
    assert HV.shape == (obj.n_coef, 4)
    H = obj.hessian(coef)
    np.testing.assert_allclose(HV, H @ V, rtol=1e-11, atol=1e-13)
    for j in range(4):
        np.testing.assert_allclose(HV[:, j], obj.hessp(coef, V[:, j]), rtol=1e-12, atol=1e-14)
    _, hessp = obj.gradient_hessp(coef)
    np.testing.assert_allclose(hessp(V), HV, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hessp(V[:, :1]), HV[:, :1], rtol=1e-12, atol=1e-14)


def test_gradient_hessp_captures_coef(problem):
    X, y, _ = problem
    obj = fastloss.LinearObjective(X, y)
    coef = coef_for(obj)
    v = np.ones(obj.n_coef)
    expected = obj.hessp(coef, v)
    _, hessp = obj.gradient_hessp(coef)
    coef += 5.0  # the caller's array changes after the call
    np.testing.assert_array_equal(hessp(v), expected)


def test_intercept_is_an_unpenalized_column_of_ones(problem):
    X, y, sw = problem
    Xo = np.c_[X, np.ones(len(X))]
    with_b = fastloss.LinearObjective(X, y, "logistic", l2=0.0, sample_weight=sw)
    ones = fastloss.LinearObjective(Xo, y, "logistic", l2=0.0, sample_weight=sw, fit_intercept=False)
    coef = coef_for(with_b)
    np.testing.assert_allclose(with_b.loss(coef), ones.loss(coef), rtol=1e-13)
    np.testing.assert_allclose(with_b.gradient(coef), ones.gradient(coef), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(with_b.hessian(coef), ones.hessian(coef), rtol=1e-12, atol=1e-15)
    # With l2, the intercept entry of the gradient carries no penalty.
    pen = fastloss.LinearObjective(X, y, "logistic", l2=2.0, sample_weight=sw)
    assert pen.gradient(coef)[-1] == with_b.gradient(coef)[-1]


def test_properties_and_shapes(problem):
    X, y, _ = problem
    obj = fastloss.LinearObjective(X, y, "log_loss", fit_intercept=False)
    assert (obj.n_samples, obj.n_features, obj.n_classes) == (X.shape[0], X.shape[1], 1)
    assert obj.coef_shape == (X.shape[1],) and obj.n_coef == X.shape[1]
    g = obj.gradient(np.zeros(obj.n_coef))
    assert g.shape == (obj.n_coef,) and g.dtype == np.float64
    assert isinstance(obj.loss(np.zeros(obj.n_coef)), float)
    np.testing.assert_allclose(obj.loss(np.zeros(obj.n_coef)), np.log(2.0), rtol=1e-13)


@TWO_THREADS
@pytest.mark.parametrize("order", ["C", "F"])
def test_determinism_across_thread_counts(order):
    X, y, sw = make_problem(n=5000, order=order)
    results = []
    for n_threads in (1, 2):
        obj = fastloss.LinearObjective(X, y, "logistic", l2=0.1, sample_weight=sw, n_threads=n_threads)
        coef = coef_for(obj)
        V = np.random.default_rng(4).standard_normal((obj.n_coef, 2))
        g, hessp = obj.gradient_hessp(coef)
        results.append([obj.loss(coef), obj.gradient(coef), obj.hessp(coef, V), g, hessp(V),
                        obj.hessian_diag(coef), obj.hessian(coef)])
    for a, b in zip(*results, strict=False):
        assert np.array_equal(a, b)


def test_uses_X_in_place_and_leaves_inputs_unchanged():
    X, y, sw = make_problem()
    for arr in (X, y, sw):
        arr.flags.writeable = False
    copies = [a.copy() for a in (X, y, sw)]
    obj = fastloss.LinearObjective(X, y, sample_weight=sw)
    assert obj._X is X or np.shares_memory(obj._X, X)  # no copy of a float C array
    coef = coef_for(obj)
    coef.flags.writeable = False
    coef_copy = coef.copy()
    obj.loss_gradient(coef)
    obj.hessp(coef, coef)
    obj.gradient_hessp(coef)[1](coef)
    for a, c in zip((X, y, sw, coef), copies + [coef_copy], strict=False):
        np.testing.assert_array_equal(a, c)
    Xf = np.asfortranarray(X)
    assert np.shares_memory(fastloss.LinearObjective(Xf, y)._X, Xf)


def test_memmap_is_used_in_place(tmp_path):
    X, y, _ = make_problem()
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    obj = fastloss.LinearObjective(ro, y)
    assert np.shares_memory(obj._X, ro)
    ref = fastloss.LinearObjective(X, y)
    coef = coef_for(ref)
    # A read-only array is a distinct Numba type, compiled separately: LLVM may vectorize it
    # differently, so the last bits can differ from the writeable copy (never across threads).
    np.testing.assert_allclose(obj.loss(coef), ref.loss(coef), rtol=1e-14)
    np.testing.assert_allclose(obj.gradient(coef), ref.gradient(coef), rtol=1e-13, atol=1e-16)


def test_conversions_of_other_inputs(problem):
    X, y, _ = problem
    ref = fastloss.LinearObjective(X, y)
    coef = coef_for(ref)
    strided = np.repeat(X, 2, axis=1)[:, ::2]  # not contiguous: copied to C order once
    assert ref.loss(coef) == fastloss.LinearObjective(strided, y).loss(coef)
    Xi = np.round(X * 10).astype(np.int32)
    np.testing.assert_allclose(fastloss.LinearObjective(Xi, y).loss(coef),
                               fastloss.LinearObjective(Xi.astype(np.float64), y).loss(coef), rtol=0)
    # labels as bool and as {-1, +1} are the same problem
    assert ref.loss(coef) == fastloss.LinearObjective(X, y.astype(bool)).loss(coef)
    assert ref.loss(coef) == fastloss.LinearObjective(X, 2 * y - 1).loss(coef)


def test_one_row_and_one_feature():
    X = np.array([[2.5]])
    for loss in BINARY:
        obj = fastloss.LinearObjective(X, [1], loss, l2=0.5)
        coef = np.array([0.3, -0.1])
        np.testing.assert_allclose(obj.loss(coef), R.objective_loss(loss, X, [1], coef, l2=0.5), rtol=1e-13)
        np.testing.assert_allclose(obj.gradient(coef), R.objective_gradient(loss, X, [1], coef, l2=0.5),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(obj.hessian(coef), R.objective_hessian(loss, X, [1], coef, l2=0.5),
                                   rtol=1e-12, atol=1e-15)


def test_tiny_weights_and_huge_scores():
    X, y, _ = make_problem(n=50, d=3)
    sw = np.full(50, 1e-300)
    obj = fastloss.LinearObjective(X, y, sample_weight=sw)
    coef = coef_for(obj)
    ref = fastloss.LinearObjective(X, y)
    np.testing.assert_allclose(obj.loss(coef), ref.loss(coef), rtol=1e-13)
    np.testing.assert_allclose(obj.gradient(coef), ref.gradient(coef), rtol=1e-12, atol=1e-15)
    # Scores of +-1e300: losses with bounded derivatives stay finite (no inf - inf in the sums);
    # the others may overflow to inf, but the loss value is never nan.
    big = np.array([1e300, -1e300, 1e300, 0.0])
    for loss in BINARY:
        o = fastloss.LinearObjective(X, y, loss)
        value, grad = o.loss_gradient(big)
        assert not np.isnan(value), loss
        if loss in ("logistic", "hinge", "smooth_hinge", "modified_huber", "savage", "tangent"):
            assert np.isfinite(value) and np.all(np.isfinite(grad)), loss
            np.testing.assert_allclose(value, R.objective_loss(loss, X, y, big), rtol=1e-12)


def test_precompile_returns_its_time_and_leaves_kernels_ready(problem):
    seconds = fastloss.precompile(dtypes=("float64",), layouts=("C",))
    assert seconds >= 0.0
    X, y, _ = problem
    obj = fastloss.LinearObjective(X, y)
    np.testing.assert_allclose(obj.loss(np.zeros(obj.n_coef)), np.log(2.0), rtol=1e-13)


def _csr_signatures(kernel, key, at, two):
    """(data dtype, index dtype) of the CSR signatures compiled for one copy of a kernel, with argument
    ``at`` of type ``two``."""
    from numba import types

    return {(str(s[0].types[0].dtype), str(s[0].types[1].dtype)) for s in kernel.compiled[key].signatures
            if isinstance(s[0], types.NamedTuple) and s[at] == two}


def test_precompile_covers_int64_indices_and_two_passes():
    from numba import types

    from fastloss.kernels import linear

    fastloss.precompile(dtypes=("float32",), layouts=("csr",), index_dtypes=("int32", "int64"))
    for kernel, at in ((linear.loss_gradient_chunks, 9), (linear.hessp_chunks, 8)):  # the argument two
        for two in (types.none, types.boolean):  # one pass; two passes
            assert {("float32", "int32"), ("float32", "int64")} <= _csr_signatures(kernel, "binary", at, two), kernel


@pytest.mark.parametrize("kwargs, match", [
    (dict(layouts=("C", "csc")), "layouts must hold names from 'C', 'F', 'csr'; got 'csc'"),
    (dict(dtypes=("int8",)), "dtypes must hold names from 'float64', 'float32'; got 'int8'"),
    (dict(dtypes=(None,)), "dtypes must hold names from 'float64', 'float32'; got None"),
    (dict(index_dtypes="int16"), "index_dtypes must hold names from 'int32', 'int64'; got 'int16'"),
])
def test_precompile_names_a_bad_argument_before_compiling(kwargs, match):
    with pytest.raises(ValueError, match=re.escape("precompile: " + match)):
        fastloss.precompile(**kwargs)
