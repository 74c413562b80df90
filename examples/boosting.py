"""Gradient boosting on fastloss objectives, in XGBoost and LightGBM, next to their built-in ones.

    python examples/boosting.py
    python examples/boosting.py --n 200000 --classes 5 --rounds 100 --threads 2

Each library trains twice on the same data from the same raw score 0: with its built-in objective
and with the one from ``fastloss.boosting``. For the logistic loss (``binary:logistic``, LightGBM's
``binary``) the two boosters are the same model: their held-out raw scores agree to float32
rounding. For the multinomial loss fastloss hands the booster the exact Hessian ``p (1 - p)``,
where XGBoost's ``multi:softprob`` uses ``2 p (1 - p)`` and LightGBM's ``multiclass``
``K / (K - 1) p (1 - p)``: its leaf values are larger (by up to that factor), and the two are
compared by their held-out ``fastloss.log_loss``. A library that is not installed is skipped
(``pip install 'fastloss[boosting]'`` installs both).
"""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np
from scipy.special import expit, softmax

import fastloss
import fastloss.boosting as fb
from fastloss.datasets import make_logistic_problem


def make_data(n: int, n_classes: int, d: int = 10, seed: int = 0):
    """``(X, y)``: the logistic problem of ``fastloss.datasets`` for two classes; for more, labels drawn
    from a softmax of a random nonlinear score, as floats (the way both libraries store them)."""
    if n_classes == 2:
        return make_logistic_problem(n, d, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    scores = X @ rng.standard_normal((d, n_classes)) + np.sin(2 * X[:, :n_classes])
    y = (rng.random((n, 1)) > np.cumsum(softmax(scores, axis=1), axis=1)).sum(axis=1)
    return X, np.minimum(y, n_classes - 1).astype(np.float64)


def xgboost_scores(X_train, y_train, X_test, n_classes, rounds, threads):
    """Held-out raw scores of XGBoost trained with its built-in and with the fastloss objective."""
    import xgboost as xgb

    params = {"max_depth": 4, "eta": 0.3, "tree_method": "hist", "nthread": threads}
    if n_classes == 2:
        # binary:logistic reads base_score as a probability (0.5: raw score 0); with a custom
        # objective XGBoost reads it as a raw score.
        builtin = {**params, "objective": "binary:logistic", "base_score": 0.5}
        ours, loss = {**params, "base_score": 0.0}, "logistic"
    else:
        builtin = {**params, "objective": "multi:softprob", "num_class": n_classes, "base_score": 0.0}
        ours, loss = {**params, "num_class": n_classes, "base_score": 0.0}, "multinomial"
    dtrain, dtest = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_test)
    objective = fb.xgboost_objective(loss, n_threads=threads)
    return {"builtin": xgb.train(builtin, dtrain, rounds).predict(dtest, output_margin=True),
            "fastloss": xgb.train(ours, dtrain, rounds, obj=objective).predict(dtest, output_margin=True)}


def lightgbm_scores(X_train, y_train, X_test, n_classes, rounds, threads):
    """Held-out raw scores of LightGBM trained with its built-in and with the fastloss objective."""
    import lightgbm as lgb

    params = {"num_leaves": 15, "learning_rate": 0.3, "n_estimators": rounds, "verbose": -1}
    if threads is not None:
        params["n_jobs"] = threads
    loss = "logistic" if n_classes == 2 else "multinomial"
    # A custom objective starts from raw score 0; the built-in one would start from the labels' average.
    models = {"builtin": lgb.LGBMClassifier(objective="binary" if n_classes == 2 else "multiclass",
                                            boost_from_average=False, **params),
              "fastloss": lgb.LGBMClassifier(objective=fb.lightgbm_objective(loss, n_threads=threads), **params)}
    return {name: model.fit(X_train, y_train).predict(X_test, raw_score=True) for name, model in models.items()}


def probabilities(raw):
    raw = np.asarray(raw, dtype=np.float64)
    return expit(raw) if raw.ndim == 1 else softmax(raw, axis=1)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20000, help="samples, 3/4 for training (default 20,000)")
    p.add_argument("--classes", type=int, default=4, help="classes of the multinomial problem (default 4)")
    p.add_argument("--rounds", type=int, default=30, help="boosting rounds (default 30)")
    p.add_argument("--threads", type=int, default=None, help="threads of the boosters and of fastloss")
    args = p.parse_args(argv)

    runs = {"xgboost": xgboost_scores, "lightgbm": lightgbm_scores}
    skipped = [library for library in runs if importlib.util.find_spec(library) is None]
    rows = {}
    for n_classes in (2, args.classes):
        X, y = make_data(args.n, n_classes)
        n_train = 3 * args.n // 4
        for library, run in runs.items():
            if library in skipped:
                continue
            scores = run(X[:n_train], y[:n_train], X[n_train:], n_classes, args.rounds, args.threads)
            rows[f"{library} {'logistic' if n_classes == 2 else 'multinomial'}"] = {
                "builtin_log_loss": fastloss.log_loss(y[n_train:], probabilities(scores["builtin"])),
                "fastloss_log_loss": fastloss.log_loss(y[n_train:], probabilities(scores["fastloss"])),
                "max_score_difference": float(np.abs(scores["fastloss"] - scores["builtin"]).max()),
            }
    print(f"{args.n} samples (3/4 training), {args.rounds} rounds; held-out log loss of each objective")
    print(f"{'library, loss':24s} {'built-in':>10s} {'fastloss':>10s} {'max |raw score difference|':>28s}")
    for name, row in rows.items():
        print(f"{name:24s} {row['builtin_log_loss']:10.5f} {row['fastloss_log_loss']:10.5f} "
              f"{row['max_score_difference']:28.3g}")
    for library in skipped:
        print(f"{library} is not installed: skipped")
    return {"rows": rows, "skipped": skipped}


if __name__ == "__main__":
    main()
