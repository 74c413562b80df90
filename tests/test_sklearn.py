"""``fastloss.sklearn.LinearClassifier``: scikit-learn's estimator checks, the optimum against
``LogisticRegression`` and against ``LinearObjective``'s gradient, and the estimator's behaviour."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_info, threadpool_limits

import fastloss
from fastloss.datasets import make_logistic_problem
from fastloss.sklearn import LinearClassifier

SOLVERS = ("lbfgs", "newton-cg", "trust-ncg", "newton")


# tol=1e-10: the sample-weight equivalence checks compare predict_proba to rtol=1e-7.
# modified_huber: a binary-only loss (multi_class tag False) without predict_proba.
@parametrize_with_checks([LinearClassifier(tol=1e-10), LinearClassifier(loss="modified_huber", tol=1e-10)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --- data -----------------------------------------------------------------------------------------
def scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def breast_cancer():
    return scaled(load_breast_cancer)


@pytest.fixture(scope="module")
def digits():
    return scaled(load_digits)


@pytest.fixture(scope="module")
def digits4():
    """Four of the ten digits: multinomial, with a Hessian 16 times cheaper than all ten's."""
    return scaled(lambda return_X_y: load_digits(n_class=4, return_X_y=return_X_y))


def objective_of(clf, X, y, sample_weight=None):
    """The LinearObjective ``clf`` minimized, and its coefficients in that objective's layout."""
    multinomial = clf.coef_.shape[0] > 1
    y_index = np.searchsorted(clf.classes_, y)
    loss = "multinomial" if multinomial else clf.loss
    obj = fastloss.LinearObjective(X, y_index, loss, l2=clf.l2, fit_intercept=clf.fit_intercept,
                                   sample_weight=sample_weight)
    parts = [clf.coef_, clf.intercept_[:, None]] if clf.fit_intercept else [clf.coef_]
    coef = np.hstack(parts)
    return obj, coef if multinomial else coef[0]


def max_gradient(clf, X, y, sample_weight=None) -> float:
    obj, coef = objective_of(clf, X, y, sample_weight)
    return float(np.max(np.abs(obj.gradient(coef))))


# --- the optimum ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["breast_cancer", "digits"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_coefficients_as_logistic_regression(dataset, fit_intercept, weighted, request):
    X, y = request.getfixturevalue(dataset)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, y.size) if weighted else None
    C = 0.5
    sk = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000, fit_intercept=fit_intercept)
    with threadpool_limits(1):  # OpenBLAS threads on a busy machine slow this fit down tenfold
        sk.fit(X, y, sample_weight=sw)
    l2 = 1.0 / (C * (sw.sum() if weighted else y.size))
    clf = LinearClassifier(l2=l2, tol=1e-9, fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    assert clf.coef_.shape == sk.coef_.shape
    np.testing.assert_allclose(clf.coef_, sk.coef_, rtol=0, atol=1e-6)
    if sk.intercept_.size > 1:  # the multinomial objective does not change when every intercept shifts
        sk.intercept_ -= sk.intercept_.mean()
    np.testing.assert_allclose(clf.intercept_, sk.intercept_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X), sk.predict_proba(X), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(clf.predict(X), sk.predict(X))


@pytest.mark.parametrize("dataset", ["breast_cancer", "digits4"])
def test_every_solver_reaches_the_same_optimum(dataset, request):
    X, y = request.getfixturevalue(dataset)
    with warnings.catch_warnings():
        # L-BFGS-B and Newton-CG stop on SciPy's own tests before a gradient of 1e-9 (and warn):
        # the relative decrease (ftol = 64 eps), and a curvature below 3 eps along the CG direction.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = {s: LinearClassifier(l2=1e-3, solver=s, tol=1e-9).fit(X, y) for s in SOLVERS}
    best, best_value = fits["newton"], objective_of(fits["newton"], X, y)[0].loss(objective_of(fits["newton"], X, y)[1])
    assert max_gradient(best, X, y) <= 1e-9
    for solver, clf in fits.items():
        obj, coef = objective_of(clf, X, y)
        tight = solver in ("newton", "trust-ncg")
        assert obj.loss(coef) == pytest.approx(best_value, rel=1e-12 if tight else 1e-9, abs=0), solver
        assert max_gradient(clf, X, y) <= (1e-9 if tight else 1e-6), solver
        if tight:  # the others' gradients leave their (unpenalized) intercepts up to 1e-4 off
            np.testing.assert_allclose(clf.coef_, best.coef_, rtol=0, atol=1e-7, err_msg=solver)
            np.testing.assert_allclose(clf.intercept_, best.intercept_, rtol=0, atol=1e-7, err_msg=solver)


@pytest.mark.parametrize("loss", fastloss.LOSSES)
def test_every_loss_fits_two_classes_to_its_minimum(loss):
    X, y = make_logistic_problem(400, 5, seed=1)
    # "auto" picks L-BFGS-B for the non-convex losses, which stops on SciPy's relative decrease:
    # Newton is asked for here to reach the gradient tolerance.
    clf = LinearClassifier(loss=loss, l2=1e-2, tol=1e-9, solver="lbfgs" if loss == "hinge" else "newton")
    if loss == "hinge":
        # No gradient at the kinks: check instead that no small move lowers the objective.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        obj, coef = objective_of(clf, X, y)
        best = obj.loss(coef)
        moves = np.random.default_rng(0).standard_normal((50, coef.size)) * 1e-3
        assert min(obj.loss(coef + m) for m in moves) >= best - 1e-9
        return
    clf.fit(X, y)
    assert clf.coef_.shape == ((2, 5) if loss == "multinomial" else (1, 5))
    assert max_gradient(clf, X, y) <= 1e-8
    assert clf.score(X, y) > 0.7


def test_multinomial_on_two_classes_is_binary_logistic_with_half_the_l2(breast_cancer):
    X, y = breast_cancer
    multi = LinearClassifier("multinomial", l2=2e-3, tol=1e-10).fit(X, y)
    binary = LinearClassifier("logistic", l2=1e-3, tol=1e-10).fit(X, y)
    assert multi.coef_.shape == (2, X.shape[1]) and multi.intercept_.shape == (2,)
    assert multi.decision_function(X).shape == (y.size,)
    np.testing.assert_allclose(multi.decision_function(X), binary.decision_function(X), rtol=0, atol=1e-6)
    np.testing.assert_allclose(multi.predict_proba(X), binary.predict_proba(X), rtol=0, atol=1e-7)


def test_auto_runs_newton_on_a_sampled_hessian_then_on_the_full_one_when_it_stalls(capsys):
    from fastloss.sklearn import AUTO_SAMPLE_MAX_FRACTION, AUTO_SAMPLE_ROWS_PER_COEF

    n_coef = 7
    stride = 12
    n = stride * AUTO_SAMPLE_ROWS_PER_COEF * n_coef
    assert stride >= 1 / AUTO_SAMPLE_MAX_FRACTION
    X, y = make_logistic_problem(n, n_coef - 1, seed=2)
    clf = LinearClassifier(verbose=1, tol=1e-8).fit(X, y)
    out = capsys.readouterr().out
    assert "[LinearClassifier sampled-newton]" in out and "lbfgs" not in out
    newton = LinearClassifier(solver="newton", tol=1e-8).fit(X, y)
    np.testing.assert_allclose(clf.coef_, newton.coef_, rtol=1e-6, atol=1e-9)
    # A rare feature that no sampled row (every stride-th one) has: the sample knows nothing of
    # its curvature, its steps along it stall, and the full Hessian finishes.
    X[:, -1] = 0.0
    rare = np.arange(5, n, n // 8)[:8]
    assert np.all(rare % stride != 0)
    X[rare, -1] = 1.0
    y[rare] = 1.0
    clf = LinearClassifier(verbose=1, tol=1e-11).fit(X, y)  # a weak curvature along it: a tight tol
    out = capsys.readouterr().out
    assert "[LinearClassifier sampled-newton]" in out and "[LinearClassifier newton]" in out
    newton = LinearClassifier(solver="newton", tol=1e-11).fit(X, y)
    np.testing.assert_allclose(clf.coef_, newton.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
def test_auto_sampled_newton_with_weights_and_classes_reaches_newtons_answer(sparse, capsys):
    """The sampled stage on the multinomial loss, with sample weights, dense or CSR: the sample keeps
    its rows' weights and every class, and the fit ends where the full Newton method does."""
    from fastloss.sklearn import AUTO_SAMPLE_ROWS_PER_COEF

    K, d = 3, 4
    n = 8 * AUTO_SAMPLE_ROWS_PER_COEF * K * (d + 1)
    rng = np.random.default_rng(6)
    X = rng.standard_normal((n, d))
    y = np.argmax(X[:, :K] + rng.gumbel(size=(n, K)), axis=1)
    sw = rng.uniform(0.2, 3.0, n)
    X = sp.csr_matrix(X) if sparse else X
    auto = LinearClassifier(tol=1e-9, verbose=1).fit(X, y, sample_weight=sw)
    assert "[LinearClassifier sampled-newton]" in capsys.readouterr().out
    newton = LinearClassifier(solver="newton", tol=1e-9).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(auto.coef_, newton.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(auto.intercept_, newton.intercept_, rtol=1e-6, atol=1e-8)


def test_lbfgs_is_preconditioned_by_the_hessian_diagonal_so_column_scales_do_not_matter():
    """Columns scaled from 1e-2 to 1e2 (curvatures 1e8 apart): on the diagonal-scaled variables
    L-BFGS-B reaches tol in a few dozen iterations (unscaled it runs into the thousands), at
    Newton's objective value."""
    X, y = make_logistic_problem(3000, 8, seed=4)
    X *= np.geomspace(1e-2, 1e2, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        lbfgs = LinearClassifier(solver="lbfgs", l2=1e-4, tol=1e-6, max_iter=60).fit(X, y)
    newton = LinearClassifier(solver="newton", l2=1e-4, tol=1e-10).fit(X, y)
    obj = fastloss.LinearObjective(X, y, l2=1e-4)

    def value(clf):
        return obj.loss(np.r_[clf.coef_.ravel(), clf.intercept_])

    assert value(lbfgs) - value(newton) <= 1e-9 * value(newton)


def test_auto_uses_the_full_hessian_on_short_data_and_lbfgs_where_newton_does_not_apply(capsys):
    from fastloss.sklearn import AUTO_LBFGS_ITER, AUTO_NEWTON_MAX_COEF

    X, y = make_logistic_problem(400, 6, seed=2)  # too short to sample: Newton from the start
    LinearClassifier(verbose=1, tol=1e-8).fit(X, y)
    out = capsys.readouterr().out
    assert "[LinearClassifier newton]" in out and "sampled" not in out and "lbfgs" not in out
    # Past the Newton limit (n_coef = d + 1): L-BFGS-B for its share, then trust-ncg.
    Xw, yw = make_logistic_problem(400, AUTO_NEWTON_MAX_COEF, seed=2)
    Xw *= np.r_[np.ones(AUTO_NEWTON_MAX_COEF - 1), 1e4]
    with pytest.warns(ConvergenceWarning):
        LinearClassifier(verbose=1, tol=1e-12, max_iter=AUTO_LBFGS_ITER + 3).fit(Xw, yw)
    out = capsys.readouterr().out
    assert out.count("[LinearClassifier lbfgs]") == AUTO_LBFGS_ITER and "[LinearClassifier trust-ncg]" in out
    # savage (non-convex) keeps L-BFGS-B.
    LinearClassifier("savage", verbose=1, tol=1e-3).fit(X, y)
    out = capsys.readouterr().out
    assert "[LinearClassifier lbfgs]" in out and "newton" not in out


# --- input ----------------------------------------------------------------------------------------
def test_string_labels_float32_and_sparse_give_the_same_model():
    X, y01 = make_logistic_problem(500, 6, seed=3)
    y = np.where(y01 > 0, "spam", "ham")
    dense = LinearClassifier(tol=1e-10).fit(X, y)
    assert list(dense.classes_) == ["ham", "spam"]
    np.testing.assert_array_equal(np.isin(dense.predict(X), ["ham", "spam"]), True)
    assert np.mean(dense.predict(X) == y) > 0.7
    # classes_[1] ("spam") is the positive class.
    np.testing.assert_array_equal(dense.predict(X) == "spam", dense.decision_function(X) > 0)
    for X_other in (sp.csr_matrix(X), sp.csc_matrix(X), np.asfortranarray(X)):
        other = LinearClassifier(tol=1e-10).fit(X_other, y)
        np.testing.assert_allclose(other.coef_, dense.coef_, rtol=0, atol=1e-9)
        np.testing.assert_allclose(other.decision_function(X_other), dense.decision_function(X), rtol=0, atol=1e-9)
    single = LinearClassifier(tol=1e-6).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(single.coef_, dense.coef_, rtol=0, atol=1e-4)
    assert single.decision_function(X.astype(np.float32)).dtype == np.float64


def test_fit_hands_float32_float64_and_csr_x_to_the_objective_uncopied(monkeypatch):
    seen = []

    class Spy(fastloss.LinearObjective):
        def __init__(self, X, *args, **kwargs):
            seen.append(X)
            super().__init__(X, *args, **kwargs)

    monkeypatch.setattr(fastloss, "LinearObjective", Spy)
    X, y = make_logistic_problem(300, 4)
    for X_in in (X, X.astype(np.float32), np.asfortranarray(X.astype(np.float32)), sp.csr_matrix(X)):
        LinearClassifier().fit(X_in, y)
        assert seen.pop() is X_in


def _blas_threads():
    return sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "trust-ncg", "newton"])
def test_solvers_run_blas_on_one_thread_and_restore_it(solver, monkeypatch):
    """BLAS's spinning threads would take cores from the kernels between the solver's calls: the
    fit limits BLAS to one thread while its solver runs (the Hessian of ``"newton"`` is small
    here), and puts the limit back afterwards."""
    import fastloss.sklearn as S

    seen = []  # BLAS's threads at every point the solvers evaluate the objective
    move_to = S._Oracle._move_to
    monkeypatch.setattr(S._Oracle, "_move_to", lambda self, x: (seen.append(_blas_threads()), move_to(self, x))[1])
    X, y = make_logistic_problem(500, 5)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        LinearClassifier(solver=solver).fit(X, y)
        assert _blas_threads() == before
    if before == [1]:
        pytest.skip("BLAS has one thread here whatever the limit")
    assert [1] in seen and all(threads == [1] for threads in seen[1:])


def test_multiclass_shapes_and_probabilities(digits):
    X, y = digits
    clf = LinearClassifier(l2=1e-2, tol=1e-8).fit(X, y)
    K, d = 10, X.shape[1]
    assert clf.coef_.shape == (K, d) and clf.intercept_.shape == (K,)
    assert clf.decision_function(X).shape == (y.size, K)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X))
    assert clf.intercept_.sum() == pytest.approx(0.0, abs=1e-12)


def test_log_proba_is_finite_where_the_probability_rounds_to_zero():
    X = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    clf = LinearClassifier(l2=1e-3).fit(X, [0, 1, 0, 1])
    far = np.array([[-1e4], [1e4]])
    log_proba = clf.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba))
    assert log_proba[0, 1] < -100 and log_proba[1, 0] < -100
    np.testing.assert_array_equal(clf.predict_proba(far).sum(axis=1), 1.0)


def test_predict_proba_is_missing_for_losses_without_probabilities():
    X, y = make_logistic_problem(100, 3)
    with pytest.warns(ConvergenceWarning):  # the hinge loss has no gradient at its kinks
        clf = LinearClassifier(loss="hinge").fit(X, y)
    assert not hasattr(clf, "predict_proba") and not hasattr(clf, "predict_log_proba")
    with pytest.raises(AttributeError):
        clf.predict_proba(X)
    assert hasattr(LinearClassifier(loss="log_loss"), "predict_proba")


# --- solver behaviour -----------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_starts_from_the_previous_fit(solver, breast_cancer):
    X, y = breast_cancer
    clf = LinearClassifier(l2=1e-3, solver=solver, tol=1e-6, warm_start=True).fit(X, y)
    first = clf.coef_.copy()
    clf.fit(X, y)
    assert clf.n_iter_[0] == 0
    np.testing.assert_array_equal(clf.coef_, first)
    cold = LinearClassifier(l2=1e-3, solver=solver, tol=1e-6).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_[0] > 1


def test_warm_start_ignores_coefficients_of_another_shape(breast_cancer, digits):
    clf = LinearClassifier(l2=1e-2, warm_start=True, tol=1e-8).fit(*breast_cancer)
    clf.fit(*digits)
    assert clf.coef_.shape == (10, digits[0].shape[1])
    assert max_gradient(clf, *digits) <= 1e-8


@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter_warns_and_n_iter_is_an_array(solver, digits4):
    X, y = digits4
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        clf = LinearClassifier(l2=1e-4, solver=solver, max_iter=2, tol=1e-12).fit(X, y)
    assert clf.n_iter_.shape == (1,) and clf.n_iter_[0] == 2


def test_verbose_prints_iteration_objective_and_gradient(capsys, breast_cancer):
    clf = LinearClassifier(l2=1e-3, solver="newton", verbose=1, tol=1e-10).fit(*breast_cancer)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[LinearClassifier newton]")]
    assert len(lines) == clf.n_iter_[0] >= 3
    assert "iteration    1" in lines[0] and "objective" in lines[0] and "max|gradient|" in lines[0]
    gradients = [float(line.split()[-1]) for line in lines]
    assert gradients[-1] <= 1e-10 < gradients[0]
    LinearClassifier(l2=1e-3, solver="newton").fit(*breast_cancer)
    assert capsys.readouterr().out == ""


def test_results_do_not_depend_on_n_threads(digits):
    X, y = digits
    one = LinearClassifier(l2=1e-3, solver="trust-ncg", n_threads=1).fit(X, y)
    two = LinearClassifier(l2=1e-3, solver="trust-ncg", n_threads=2).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)


# --- estimator conventions ------------------------------------------------------------------------
def test_pickle_holds_no_data_and_clone_keeps_parameters():
    sizes = []
    for n in (200, 20_000):
        X, y = make_logistic_problem(n, 8)
        clf = LinearClassifier(l2=1e-2).fit(X, y)
        restored = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
        sizes.append(len(pickle.dumps(clf)))
    assert sizes[0] == sizes[1]
    params = dict(loss="squared_hinge", l2=0.5, fit_intercept=False, solver="trust-ncg", tol=1e-3, max_iter=7,
                  warm_start=True, n_threads=1, verbose=0)
    copy = clone(LinearClassifier(**params))
    assert copy.get_params() == params
    assert not hasattr(copy, "coef_")


def test_does_not_modify_its_inputs():
    X, y = make_logistic_problem(200, 4)
    sw = np.linspace(0.5, 1.5, 200)
    X0, y0, sw0 = X.copy(), y.copy(), sw.copy()
    for arr in (X, y, sw):
        arr.flags.writeable = False  # a write would raise
    LinearClassifier(solver="newton").fit(X, y, sample_weight=sw).predict_proba(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(sw, sw0)


@pytest.mark.parametrize(("params", "error", "match"), [
    ({"loss": "hingee"}, ValueError, "unknown loss 'hingee'; valid names are"),
    ({"l2": -1.0}, ValueError, "`l2` must be a finite number >= 0"),
    ({"l2": "big"}, TypeError, "`l2` must be a real number, got str"),
    ({"fit_intercept": 1}, TypeError, "`fit_intercept` must be a bool"),
    ({"solver": "sag"}, ValueError, "`solver` must be one of 'auto', 'lbfgs', 'newton-cg', 'trust-ncg', 'newton'"),
    ({"tol": -1e-3}, ValueError, "`tol` must be a finite number >= 0"),
    ({"max_iter": 0}, ValueError, "`max_iter` must be >= 1, got 0"),
    ({"max_iter": 2.5}, TypeError, "`max_iter` must be an int"),
    ({"warm_start": "yes"}, TypeError, "`warm_start` must be a bool"),
    ({"verbose": -1}, ValueError, "`verbose` must be >= 0"),
    ({"n_threads": 0}, ValueError, "n_threads must be >= 1"),
])
def test_bad_parameters_are_refused_in_fit(params, error, match):
    X, y = make_logistic_problem(50, 3)
    clf = LinearClassifier(**params)  # no checks in __init__
    with pytest.raises(error, match=match):
        clf.fit(X, y)


def test_bad_data_is_refused_with_a_clear_message():
    X, y = make_logistic_problem(60, 3)
    y3 = np.arange(60) % 3
    with pytest.raises(ValueError, match="Only binary classification is supported by loss='square'.*3 classes"):
        LinearClassifier("square").fit(X, y3)
    with pytest.raises(ValueError, match="at least 2 classes in y; got only one class, 1"):
        LinearClassifier().fit(X, np.ones(60))
    with pytest.raises(ValueError, match="sample_weight.*non-negative"):
        LinearClassifier().fit(X, y, sample_weight=-np.ones(60))
    with pytest.raises(ValueError, match="Unknown label type"):
        LinearClassifier().fit(X, np.linspace(0, 1, 60))
    wide = sp.random(10, 20_000, density=0.001, format="csr", random_state=0)
    with pytest.raises(ValueError, match="solver='newton' builds the full Hessian and needs at most 20000"):
        LinearClassifier(solver="newton").fit(wide, np.arange(10) % 2)
