"""``fastloss.boosting``: the objectives give the built-in objectives' gradients and Hessians (with the
documented multinomial factor), apply sample weights once, and train the same boosters.

The references below are the formulas of the libraries' own C++ objectives as the installed
versions compute them (XGBoost 3.2 ``binary:logistic`` and ``multi:softprob``, LightGBM 4.7 ``binary``
and ``multiclass``), written in float64. The booster tests are the check that the formulas, the
layouts and the weighting are what the installed libraries do.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import fastloss
import fastloss.boosting as fb
from fastloss.boosting import BOOSTING_LOSSES

N, D, ROUNDS = 2000, 5, 10


@pytest.fixture(scope="module")
def xgb():
    return pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def lgb():
    return pytest.importorskip("lightgbm")


def binary_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    y = (rng.random(N) < 1 / (1 + np.exp(-(2 * X[:, 0] - X[:, 1] + X[:, 2] * X[:, 3])))).astype(np.float64)
    w = rng.uniform(0.2, 3.0, N)
    return X, y, w


def multiclass_data(K, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    scores = X @ rng.standard_normal((D, K)) + 0.5 * rng.standard_normal((N, K))
    y = scores.argmax(axis=1).astype(np.float64)
    w = rng.uniform(0.2, 3.0, N)
    return X, y, w


# The references' ``1 - p`` loses digits where p is near 1 (ours does not): 1e-10 leaves room for it
# at the scores drawn here (|z| up to about 12) and would catch any wrong factor or weighting.
FORMULA_TOL = dict(rtol=1e-10, atol=0)


def soft_labels(X):
    """Probabilities in [0, 1], a smooth function of the features."""
    return 1 / (1 + np.exp(-(2 * X[:, 0] - X[:, 1])))


def raw_scores(shape, seed=1, scale=3.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# --- the built-in objectives' formulas, float64 ------------------------------------------------------
def xgboost_binary_logistic(z, y, w):
    """``binary:logistic``: ``(p - y) w`` and ``max(p (1 - p), 1e-16) w``."""
    p = 1 / (1 + np.exp(-z))
    return (p - y) * w, np.maximum(p * (1 - p), 1e-16) * w


def lightgbm_binary(z, y, w):
    """LightGBM ``binary`` with ``sigmoid = 1``: labels mapped to -1/+1, response ``-s / (1 + exp(s z))``."""
    s = np.where(y > 0, 1.0, -1.0)
    response = -s / (1 + np.exp(s * z))
    return response * w, np.abs(response) * (1 - np.abs(response)) * w


def softmax_gradient_and_p(z, y, w):
    """The gradient ``(p_k - [y = k]) w`` both libraries use for multiclass, and ``p``."""
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.arange(z.shape[1]) == y[:, None]
    return (p - onehot) * w[:, None], p


def scale_hessian(objective, factor):
    """``objective`` with its Hessian times ``factor``: the built-in multiclass objectives' Hessian
    from the exact one. Three parameters, the third named ``sample_weight``, so that both
    LGBMClassifier and XGBClassifier pass it the weights."""

    def scaled(first, second, sample_weight=None):
        grad, hess = objective(first, second, sample_weight)
        return grad, factor * hess

    return scaled


def weights_or_none(w, weighted):
    return w if weighted else None


# --- gradients and Hessians against the formulas -----------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
def test_xgboost_logistic_is_binary_logistic(xgb, weighted):
    X, y, w = binary_data()
    z = raw_scores(N).astype(np.float32)  # what XGBoost passes: float32 margins
    dtrain = xgb.DMatrix(X, label=y, weight=weights_or_none(w, weighted))
    grad, hess = fb.xgboost_objective("logistic")(z, dtrain)
    # XGBoost stores weights in float32: the reference weighs with the same values.
    ref_grad, ref_hess = xgboost_binary_logistic(z.astype(np.float64), y, dtrain.get_weight() if weighted else 1.0)
    assert grad.dtype == hess.dtype == np.float64 and grad.shape == hess.shape == (N,)
    np.testing.assert_allclose(grad, ref_grad, **FORMULA_TOL)
    np.testing.assert_allclose(hess, ref_hess, **FORMULA_TOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_logistic_is_binary(lgb, weighted):
    X, y, w = binary_data()
    z = raw_scores(N)
    weight = weights_or_none(w.astype(np.float32), weighted)  # LGBMClassifier passes float32 weights
    grad, hess = fb.lightgbm_objective("logistic")(y.astype(np.float32), z, weight)
    ref_grad, ref_hess = lightgbm_binary(z, y, weight if weighted else 1.0)
    assert grad.dtype == hess.dtype == np.float64 and grad.shape == hess.shape == (N,)
    np.testing.assert_allclose(grad, ref_grad, **FORMULA_TOL)
    np.testing.assert_allclose(hess, ref_hess, **FORMULA_TOL)
    # lightgbm.train's call, (preds, train_set), reads labels and weights from the Dataset.
    train_set = lgb.Dataset(X, y, weight=weights_or_none(w, weighted)).construct()
    grad_train, hess_train = fb.lightgbm_objective("logistic")(z, train_set)
    np.testing.assert_array_equal(grad_train, grad)
    np.testing.assert_array_equal(hess_train, hess)


@pytest.mark.parametrize("K", [3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_xgboost_multinomial_is_softprob_with_exact_hessian(xgb, K, weighted):
    X, y, w = multiclass_data(K)
    z = raw_scores((N, K)).astype(np.float32)
    dtrain = xgb.DMatrix(X, label=y, weight=weights_or_none(w, weighted))
    grad, hess = fb.xgboost_objective("multinomial")(z, dtrain)
    wf = dtrain.get_weight() if weighted else np.ones(N)
    ref_grad, p = softmax_gradient_and_p(z.astype(np.float64), y, wf)
    assert grad.dtype == hess.dtype == np.float64 and grad.shape == hess.shape == (N, K)
    np.testing.assert_allclose(grad, ref_grad, **FORMULA_TOL)
    # multi:softprob's Hessian is 2 p (1 - p) w: exactly twice ours.
    np.testing.assert_allclose(2 * hess, 2 * p * (1 - p) * wf[:, None], **FORMULA_TOL)


@pytest.mark.parametrize("K", [3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_multinomial_is_multiclass_with_exact_hessian(lgb, K, weighted):
    X, y, w = multiclass_data(K)
    z = np.asfortranarray(raw_scores((N, K)))  # LightGBM passes (n, K) float64 in F order
    weight = weights_or_none(w.astype(np.float32), weighted)
    grad, hess = fb.lightgbm_objective("multinomial")(y.astype(np.float32), z, weight)
    wf = weight if weighted else np.ones(N)
    ref_grad, p = softmax_gradient_and_p(z, y, wf)
    assert grad.shape == hess.shape == (N, K)
    np.testing.assert_allclose(grad, ref_grad, **FORMULA_TOL)
    # LightGBM's multiclass Hessian is K / (K - 1) p (1 - p) w.
    np.testing.assert_allclose(K / (K - 1) * hess, K / (K - 1) * p * (1 - p) * wf[:, None], **FORMULA_TOL)


@pytest.mark.parametrize("name", ["exponential", "square"])
def test_other_binary_losses_are_the_pointwise_ones_times_the_weights(xgb, lgb, name):
    X, y, w = binary_data()
    z = raw_scores(N)
    expected = fastloss.get_loss(name).gradient_hessian(y, z, sample_weight=w.astype(np.float32))
    from_lgb = fb.lightgbm_objective(name)(y.astype(np.float32), z, w.astype(np.float32))
    from_xgb = fb.xgboost_objective(name)(z.astype(np.float32), xgb.DMatrix(X, label=y, weight=w))
    expected32 = fastloss.get_loss(name).gradient_hessian(y, z.astype(np.float32).astype(np.float64),
                                                          sample_weight=w.astype(np.float32))
    for ours, ref in ((from_lgb, expected), (from_xgb, expected32)):
        np.testing.assert_array_equal(ours[0], ref[0])
        np.testing.assert_array_equal(ours[1], ref[1])


@pytest.mark.parametrize("name", ["logistic", "multinomial"])
def test_inputs_are_not_modified(name):
    """Float64 scores reach the kernel in place (C order) or after a copy (LightGBM's F order): neither changes."""
    X, y, w = multiclass_data(3) if name == "multinomial" else binary_data()
    z = np.asfortranarray(raw_scores((N, 3))) if name == "multinomial" else raw_scores(N)
    y32, w32 = y.astype(np.float32), w.astype(np.float32)
    copies = [a.copy() for a in (z, y32, w32)]
    fb.lightgbm_objective(name)(y32, z, w32)
    for before, after in zip(copies, (z, y32, w32), strict=True):
        np.testing.assert_array_equal(before, after)


# --- boosters trained with them ------------------------------------------------------------------------
# Each pair trains from the same raw score 0, on the same data, weights and parameters; the built-in
# objective computes its gradients in float32 (XGBoost) or in double rounded to float (LightGBM),
# ours in float64 rounded to float32 by the library, so the raw predictions agree to float32
# rounding. For multinomial the exact Hessian differs from the built-in one by a constant factor,
# which changes split gains and leaf values; a test-side wrapper multiplies our Hessian by that factor,
# and then the boosters must agree. Without it they must not (the factor is real, and matters).
FLOAT32_TOL = dict(rtol=1e-6, atol=1e-6)  # a few float32 ulps of scores up to about 4
XGB_PARAMS = dict(max_depth=3, eta=0.3, nthread=2, tree_method="hist", seed=0)
LGB_PARAMS = dict(num_leaves=7, learning_rate=0.3, min_child_samples=10, n_jobs=2, verbose=-1, deterministic=True)


@pytest.mark.parametrize("weighted", [False, True])
def test_xgboost_binary_booster_matches_binary_logistic(xgb, weighted):
    X, y, w = binary_data()
    dtrain = xgb.DMatrix(X, label=y, weight=weights_or_none(w, weighted))
    # binary:logistic reads base_score as a probability (0.5: raw score 0); a custom objective
    # leaves the booster at reg:squarederror, which reads it as a raw score.
    builtin = xgb.train({**XGB_PARAMS, "objective": "binary:logistic", "base_score": 0.5}, dtrain, ROUNDS)
    ours = xgb.train({**XGB_PARAMS, "base_score": 0.0}, dtrain, ROUNDS, obj=fb.xgboost_objective("logistic"))
    expected = builtin.predict(dtrain, output_margin=True)
    np.testing.assert_allclose(ours.predict(dtrain, output_margin=True), expected, **FLOAT32_TOL)
    assert np.ptp(expected) > 1  # the boosters did learn something


@pytest.mark.parametrize("weighted", [False, True])
def test_xgboost_multiclass_booster_matches_softprob(xgb, weighted):
    K = 4
    X, y, w = multiclass_data(K)
    dtrain = xgb.DMatrix(X, label=y, weight=weights_or_none(w, weighted))
    params = {**XGB_PARAMS, "num_class": K, "base_score": 0.0}
    builtin = xgb.train({**params, "objective": "multi:softprob"}, dtrain, ROUNDS)
    objective = fb.xgboost_objective("multinomial")
    ours = xgb.train(params, dtrain, ROUNDS, obj=scale_hessian(objective, 2.0))
    expected = builtin.predict(dtrain, output_margin=True)
    assert expected.shape == (N, K)
    np.testing.assert_allclose(ours.predict(dtrain, output_margin=True), expected, **FLOAT32_TOL)
    exact = xgb.train(params, dtrain, ROUNDS, obj=objective)
    assert np.abs(exact.predict(dtrain, output_margin=True) - expected).max() > 0.1


@pytest.mark.parametrize("K", [2, 4])
def test_xgbclassifier_accepts_the_objective(xgb, K):
    X, y, w = binary_data() if K == 2 else multiclass_data(K)
    # XGBClassifier keeps binary:logistic / multi:softprob as the booster's objective (predict_proba
    # applies the sigmoid / softmax) and passes the weights to a callable with a `sample_weight`
    # parameter. With a callable it does not estimate base_score from the labels: both start at
    # base_score, a probability for binary:logistic (0.5: raw score 0), a raw score for softprob.
    kwargs = dict(n_estimators=ROUNDS, max_depth=3, learning_rate=0.3, n_jobs=2, tree_method="hist", random_state=0,
                  base_score=0.5 if K == 2 else 0.0)
    builtin = xgb.XGBClassifier(objective="binary:logistic" if K == 2 else "multi:softprob", **kwargs)
    objective = fb.xgboost_objective("logistic" if K == 2 else "multinomial")
    ours = xgb.XGBClassifier(objective=objective if K == 2 else scale_hessian(objective, 2.0), **kwargs)
    expected = builtin.fit(X, y, sample_weight=w).predict_proba(X)
    np.testing.assert_allclose(ours.fit(X, y, sample_weight=w).predict_proba(X), expected, **FLOAT32_TOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_lgbmclassifier_binary_matches_binary(lgb, weighted):
    X, y, w = binary_data()
    sw = weights_or_none(w, weighted)
    # A custom objective starts from raw score 0; the built-in one from the average unless told not to.
    builtin = lgb.LGBMClassifier(objective="binary", boost_from_average=False, n_estimators=ROUNDS, **LGB_PARAMS)
    ours = lgb.LGBMClassifier(objective=fb.lightgbm_objective("logistic"), n_estimators=ROUNDS, **LGB_PARAMS)
    expected = builtin.fit(X, y, sample_weight=sw).predict(X, raw_score=True)
    np.testing.assert_allclose(ours.fit(X, y, sample_weight=sw).predict(X, raw_score=True), expected, **FLOAT32_TOL)
    assert np.ptp(expected) > 1


@pytest.mark.parametrize("weighted", [False, True])
def test_lgbmclassifier_multiclass_matches_multiclass(lgb, weighted):
    K = 4
    X, y, w = multiclass_data(K)
    sw = weights_or_none(w, weighted)
    builtin = lgb.LGBMClassifier(objective="multiclass", boost_from_average=False, n_estimators=ROUNDS, **LGB_PARAMS)
    expected = builtin.fit(X, y, sample_weight=sw).predict(X, raw_score=True)
    objective = fb.lightgbm_objective("multinomial")
    ours = lgb.LGBMClassifier(objective=scale_hessian(objective, K / (K - 1)), n_estimators=ROUNDS, **LGB_PARAMS)
    np.testing.assert_allclose(ours.fit(X, y, sample_weight=sw).predict(X, raw_score=True), expected, **FLOAT32_TOL)
    exact = lgb.LGBMClassifier(objective=objective, n_estimators=ROUNDS, **LGB_PARAMS).fit(X, y, sample_weight=sw)
    assert np.abs(exact.predict(X, raw_score=True) - expected).max() > 0.1


@pytest.mark.parametrize("labels", ["01", "soft"])
def test_lightgbm_train_accepts_the_objective(lgb, labels):
    """Through lightgbm.train; soft labels (probabilities) make the logistic loss LightGBM's cross_entropy."""
    X, y, w = binary_data()
    if labels == "soft":
        y = soft_labels(X)
    params = {**LGB_PARAMS, "num_threads": LGB_PARAMS["n_jobs"]}
    del params["n_jobs"]
    builtin = lgb.train({**params, "objective": "binary" if labels == "01" else "cross_entropy",
                         "boost_from_average": False}, lgb.Dataset(X, y, weight=w), ROUNDS)
    ours = lgb.train({**params, "objective": fb.lightgbm_objective("logistic")}, lgb.Dataset(X, y, weight=w), ROUNDS)
    np.testing.assert_allclose(ours.predict(X, raw_score=True), builtin.predict(X, raw_score=True), **FLOAT32_TOL)


def test_xgboost_soft_labels_match_binary_logistic(xgb):
    """binary:logistic takes labels in [0, 1]; so does the logistic loss."""
    X, _, w = binary_data()
    dtrain = xgb.DMatrix(X, label=soft_labels(X), weight=w)
    builtin = xgb.train({**XGB_PARAMS, "objective": "binary:logistic", "base_score": 0.5}, dtrain, ROUNDS)
    ours = xgb.train({**XGB_PARAMS, "base_score": 0.0}, dtrain, ROUNDS, obj=fb.xgboost_objective("logistic"))
    expected = builtin.predict(dtrain, output_margin=True)
    np.testing.assert_allclose(ours.predict(dtrain, output_margin=True), expected, **FLOAT32_TOL)
    assert np.ptp(expected) > 1


# --- which losses, and bad calls -------------------------------------------------------------------------
#: Refused: what the registry declares non-convex or flat somewhere (fastloss.losses).
REFUSED = {"hinge": "0 for every raw score", "squared_hinge": "0 where m >= 1",
           "smooth_hinge": "0 where m <= 0 or m >= 1", "modified_huber": "0 where m < -1 or m >= 1",
           "savage": "not convex", "tangent": "not convex"}


def test_every_loss_is_either_for_boosting_or_refused():
    assert set(BOOSTING_LOSSES) | set(REFUSED) == set(fastloss.LOSSES)
    assert not set(BOOSTING_LOSSES) & set(REFUSED)


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("factory", [fb.xgboost_objective, fb.lightgbm_objective])
def test_refused_losses_say_why(factory, name):
    with pytest.raises(ValueError, match=rf"{name}.*{REFUSED[name]}.*'logistic'"):
        factory(name)


def test_the_refusals_are_true():
    """Refused losses have a Hessian <= 0 somewhere on a grid of scores, the others are positive on it."""
    z = np.linspace(-30.0, 30.0, 6001)
    for name in fastloss.LOSSES[:-1]:
        lowest = min(fastloss.get_loss(name).gradient_hessian(np.full(z.size, label), z)[1].min()
                     for label in (0.0, 1.0))
        assert (lowest <= 0) == (name in REFUSED), name
    _, hess = fastloss.get_loss("multinomial").gradient_hessian(np.arange(20) % 4, raw_scores((20, 4), scale=10))
    assert hess.min() > 0


def test_names():
    assert fb.xgboost_objective("log_loss").loss == "logistic"
    assert repr(fb.lightgbm_objective("multinomial", n_threads=1)) == \
        "fastloss.boosting.lightgbm_objective('multinomial', n_threads=1)"
    with pytest.raises(ValueError, match="unknown loss 'logit'; valid names are 'logistic'"):
        fb.xgboost_objective("logit")
    with pytest.raises(TypeError, match="n_threads"):
        fb.lightgbm_objective("logistic", n_threads=1.5)
    with pytest.raises(ValueError, match="n_threads"):
        fb.xgboost_objective("logistic", n_threads=0)


def test_layout_mistakes_name_the_parameter():
    y = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match=r"shape \(10,\): train with num_class=K"):
        fb.lightgbm_objective("multinomial")(y, np.zeros(10), None)
    with pytest.raises(ValueError, match=r"shape \(10, 3\) \(num_class > 1\): use 'multinomial'"):
        fb.lightgbm_objective("logistic")(y, np.zeros((10, 3)), None)
    # Labels and weights go through the pointwise checks.
    with pytest.raises(ValueError, match=r"y_true\[0\] = 2 is not a valid label for 'logistic'"):
        fb.lightgbm_objective("logistic")(np.full(10, 2.0), np.zeros(10), None)
    with pytest.raises(ValueError, match=r"y_true\[0\] = 3 is not a class index below n_classes = 3"):
        fb.lightgbm_objective("multinomial")(np.full(10, 3.0), np.zeros((10, 3)), None)
    with pytest.raises(ValueError, match="must be non-negative"):
        fb.lightgbm_objective("logistic")(y, np.zeros(10), -np.ones(10))
    with pytest.raises(TypeError, match="`raw_scores` must hold real numbers"):
        fb.xgboost_objective("logistic")(y, np.array(["a"] * 10))


def test_objectives_pickle(lgb):
    """LGBMClassifier / XGBClassifier are pickled and cloned with their objective."""
    objective = pickle.loads(pickle.dumps(fb.lightgbm_objective("logistic", n_threads=1)))
    assert (objective.loss, objective.n_threads) == ("logistic", 1)
    X, y, _ = binary_data()
    model = lgb.LGBMClassifier(objective=objective, n_estimators=2, **LGB_PARAMS).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X, raw_score=True), model.predict(X, raw_score=True))
