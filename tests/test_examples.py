"""Every script in ``examples/`` runs, on small data, and does what its docstring says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss.datasets import make_logistic_problem

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"fastloss_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Registered as an import would: Numba's cache names the module of a cached function's
    # globals, and a function of an unregistered module cannot be loaded in another process.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_test():
    tested = {"scipy_solvers", "njit_newton_cg", "early_stopping", "boosting", "sklearn_estimator"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_scipy_solvers_reach_sklearn_coefficients(capsys):
    out = load("scipy_solvers").main(["--n", "20000", "--d", "20"])
    rows = out["rows"]
    assert set(rows) == {"scipy L-BFGS-B + fastloss", "scipy trust-ncg + fastloss", "scipy Newton-CG + fastloss",
                         "sklearn LogisticRegression(lbfgs)", "sklearn LogisticRegression(newton-cg)"}
    for name, row in rows.items():
        assert row["coef_error"] < 5e-3, name  # every fit stopped at tol=1e-4 near the tight solution
    for name in ("scipy L-BFGS-B + fastloss", "scipy trust-ncg + fastloss"):
        assert rows[name]["max_grad"] <= 1e-4, name  # gtol = tol bounds the gradient's max norm
    # Same algorithm (SciPy's L-BFGS-B with LogisticRegression's options) on the same objective:
    # the same iterations to the same point.
    ours, sk = rows["scipy L-BFGS-B + fastloss"], rows["sklearn LogisticRegression(lbfgs)"]
    assert ours["iterations"] == sk["iterations"]
    np.testing.assert_allclose(ours["coef"], sk["coef"], atol=1e-6)
    assert "speed-up" in capsys.readouterr().out


@pytest.mark.parametrize("loss", ["logistic", "modified_huber"])
def test_njit_newton_cg_matches_scipy(loss):
    out = load("njit_newton_cg").main(["--n", "5000", "--d", "12", "--loss", loss, "--tol", "1e-9"])
    assert out["max_grad"] <= 1e-9
    assert out["n_iter"] >= 2
    np.testing.assert_allclose(out["coef"], out["scipy_coef"], atol=1e-6)


def test_early_stopping_keeps_the_best_held_out_model():
    module = load("early_stopping")
    out = module.main(["--n", "4000", "--d", "500"])
    losses = [loss for _, loss in out["history"]]
    best = int(np.argmin(losses))
    assert out["best_val_loss"] == losses[best]
    assert out["best_iter"] == out["history"][best][0]
    assert out["best_iter"] < out["stopped_at"]  # it did stop early ...
    assert losses[-1] > out["best_val_loss"]  # ... because the held-out loss went up
    assert out["best_val_loss"] < np.log(2.0)  # and the kept model beats predicting 1/2
    # fastloss.log_loss of the model's probabilities is the objective's mean log loss (no L2).
    X, y = make_logistic_problem(4000, 500, seed=3)
    held_out = fastloss.LinearObjective(X[3000:], y[3000:])
    assert out["best_val_loss"] == pytest.approx(held_out.loss(out["coef"]), rel=1e-12)


def test_boosting_objectives_train_the_built_in_boosters():
    pytest.importorskip("xgboost")
    pytest.importorskip("lightgbm")
    # One thread: the suite runs on 2 workers, and two OpenMP threads each would spin against each other.
    out = load("boosting").main(["--n", "3000", "--rounds", "10", "--classes", "3", "--threads", "1"])
    assert out["skipped"] == []
    rows = out["rows"]
    assert set(rows) == {f"{lib} {loss}" for lib in ("xgboost", "lightgbm") for loss in ("logistic", "multinomial")}
    for lib in ("xgboost", "lightgbm"):
        logistic, multinomial = rows[f"{lib} logistic"], rows[f"{lib} multinomial"]
        assert logistic["max_score_difference"] < 1e-5  # the same booster, to float32 rounding
        assert logistic["fastloss_log_loss"] == pytest.approx(logistic["builtin_log_loss"], rel=1e-5)
        assert logistic["fastloss_log_loss"] < np.log(2) - 0.1
        assert multinomial["max_score_difference"] > 0.1  # the exact Hessian changes the leaf values ...
        assert multinomial["fastloss_log_loss"] < np.log(3) - 0.1  # ... and the booster still learns


@pytest.mark.parametrize("classes", [2, 3])
def test_sklearn_estimator_solvers_reach_logistic_regressions_optimum(classes, capsys):
    out = load("sklearn_estimator").main(["--n", "3000", "--d", "8", "--classes", str(classes), "--tol", "1e-8"])
    rows = out["rows"]
    solvers = ("lbfgs", "newton-cg", "trust-ncg", "newton", "auto")
    assert set(rows) == {f"LinearClassifier({s})" for s in solvers} | {
        "LogisticRegression(lbfgs)", "LogisticRegression(newton-cholesky)"}
    newton = rows["LogisticRegression(newton-cholesky)"]
    for name, row in rows.items():
        assert row["objective"] == pytest.approx(newton["objective"], rel=1e-9), name
    for s in ("trust-ncg", "newton", "auto"):  # the solvers whose only stopping test is the gradient's
        assert rows[f"LinearClassifier({s})"]["max_grad"] <= 1e-8
        np.testing.assert_allclose(rows[f"LinearClassifier({s})"]["coef"], newton["coef"], atol=1e-6)
    # SciPy's L-BFGS-B on the same objective, but on diagonally scaled coefficients with 20 pairs
    # instead of 10: no more iterations than LogisticRegression's.
    assert rows["LinearClassifier(lbfgs)"]["iterations"] <= rows["LogisticRegression(lbfgs)"]["iterations"]
    assert out["search"].best_params_["linearclassifier__l2"] in (1e-4, 1e-2, 1.0)
    assert "speed-up" in capsys.readouterr().out
