"""Gradient-boosting objectives for XGBoost and LightGBM (contract section 8).

    import fastloss.boosting as fb
    xgboost.train(params, dtrain, obj=fb.xgboost_objective("logistic"))
    xgboost.train({"num_class": K, ...}, dtrain, obj=fb.xgboost_objective("multinomial"))
    lightgbm.LGBMClassifier(objective=fb.lightgbm_objective("logistic"))

Each factory returns a callable that hands the booster the gradient and Hessian of a fastloss loss
at the booster's raw scores. One function, :func:`_gradient_hessian`, computes them, in float64,
with the pointwise kernels of section 2 (``fastloss.get_loss(loss).gradient_hessian``); the two
adapters only take labels, raw scores and sample weights out of what each library passes.

What the libraries pass to a custom objective (XGBoost 3.x, LightGBM 4.x), all accepted here:

* ``xgboost.train(..., obj=f)`` calls ``f(predt, dtrain)``, ``predt`` float32;
* ``xgboost.XGBClassifier(objective=f)`` calls ``f(y_true, y_pred)``, or
  ``f(y_true, y_pred, sample_weight=w)`` when fitted with weights (XGBoost 2.1 and later; earlier
  versions do not pass them), ``y_pred`` float32;
* ``lightgbm.train({"objective": f, ...}, train_set)`` calls ``f(preds, train_set)``, ``preds``
  float64;
* ``lightgbm.LGBMClassifier(objective=f)`` calls ``f(y_true, y_pred, weight)`` (``weight`` None
  without weights), ``y_pred`` float64.

Raw scores are ``(n,)`` for a binary loss and ``(n, K)`` for ``multinomial`` (``num_class=K``)
in both libraries; the gradient and Hessian are returned in the same shape, which is the layout
each library reads back (LightGBM itself reorders an ``(n, K)`` result class by class). Labels are
read as the library stores them: float 0/1 (or soft labels in [0, 1] for ``logistic``), class
indices as floats for ``multinomial``.

Sample weights: neither library multiplies what a custom objective returns by the sample weights
(their built-in objectives multiply inside their own gradient code; LightGBM's scikit-learn
wrapper stopped doing it in 4.0), so these callables multiply by them, once, as
``gradient_hessian(..., sample_weight=w)`` does. That is why the LightGBM callable takes three
arguments: ``LGBMClassifier`` passes the weights only to an objective with three parameters.

Which losses: those whose second derivative is positive for every raw score, ``BOOSTING_LOSSES``.
A booster sets each leaf to ``-G / (H + lambda)``, the sums of the gradients and Hessians of the
leaf's rows, and refuses splits whose children have ``H`` below ``min_child_weight`` /
``min_sum_hessian_in_leaf``. Where a loss's Hessian is 0 on a region (``hinge`` everywhere,
``squared_hinge`` beyond the margin, ``smooth_hinge`` and ``modified_huber`` on their flat and
linear pieces) those rows carry a gradient but no curvature: the leaf value is set by ``lambda``
alone (LightGBM's default ``lambda_l2 = 0`` divides by about zero) and splits are refused for want
of Hessian. Where it is negative (``savage``, ``tangent``, which are not convex) the Newton step
points uphill. A floor on the Hessian would hide this behind a constant that, not the loss, then
sets the leaf values, so these losses are refused with a ``ValueError`` that says why.

``logistic`` gives the gradient ``p - y`` and Hessian ``p (1 - p)``, ``p = sigmoid(z)``, the
formulas of XGBoost's ``binary:logistic`` and LightGBM's ``binary``. XGBoost evaluates them in
float32, where the sigmoid rounds to 1 for ``z`` above about 17 and the Hessian is then held at a
floor of 1e-16; here they are exact. With soft labels (probabilities in [0, 1]) the same formulas
are those of ``binary:logistic`` and of LightGBM's ``cross_entropy``.

``multinomial`` gives the libraries' gradient ``p_k - [y = k]`` and the exact diagonal Hessian
``p_k (1 - p_k)``, where XGBoost's ``multi:softprob`` uses ``2 p_k (1 - p_k)`` and LightGBM's
``multiclass`` ``K / (K - 1) p_k (1 - p_k)``: a tree grown from the same scores gets leaf values up
to that factor larger than the built-in objective's (exactly that factor with ``lambda = 0``).
"""

from __future__ import annotations

import numpy as np

from . import losses
from ._parallel import check_n_threads
from ._validation import _as_real_array

__all__ = ["BOOSTING_LOSSES", "lightgbm_objective", "xgboost_objective"]

def _refusal(spec) -> str:
    """Why a booster cannot be trained on a loss ("" if it can), from its declaration."""
    if not spec.convex:
        return "it is not convex: its second derivative is negative on a range of margins"
    if not spec.has_curvature:
        return "its second derivative is 0 for every raw score"
    if spec.flat:
        return f"its second derivative is 0 where {spec.flat} (m: the margin)"
    return ""


#: The losses a booster can be trained on: their second derivative is positive for every raw score.
BOOSTING_LOSSES = tuple(name for name, spec in losses.REGISTRY.items() if not _refusal(spec))


def _check_boosting_loss(loss) -> str:
    """The canonical name of ``loss`` if a booster can be trained on it, else ``ValueError``."""
    spec = losses.spec(loss)  # an unknown name raises, listing every loss
    name, why = spec.name, _refusal(spec)
    if why:
        raise ValueError(
            f"loss {name!r} cannot drive a gradient booster: {why}. A booster sets each leaf "
            f"to -sum(gradient) / (sum(hessian) + lambda) over its rows, so rows without curvature get steps "
            f"set by lambda alone and a negative curvature steps uphill. Losses for boosting: "
            f"{', '.join(map(repr, BOOSTING_LOSSES))}")
    return name


def _gradient_hessian(loss: str, labels, raw_scores, weights, n_threads) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``(gradient, hessian)`` of ``loss`` at ``raw_scores`` ((n,), or (n, K) for multinomial),
    each sample's values multiplied by ``weights[i]`` unless ``weights`` is None.

    Every check of labels and weights is :meth:`fastloss.pointwise.Loss.gradient_hessian`'s; the
    shape checks here only say which booster parameter to change.
    """
    # XGBoost's float32 scores: the one conversion (LightGBM's are float64 already).
    raw = _as_real_array(raw_scores, "raw_scores").astype(np.float64, copy=False)
    if loss == "multinomial":
        if raw.ndim != 2 or raw.shape[1] < 2:
            raise ValueError(f"'multinomial' needs the booster's raw scores of shape (n_samples, n_classes >= 2), "
                             f"got shape {raw.shape}: train with num_class=K (K >= 2 classes)")
    elif raw.ndim == 2 and raw.shape[1] > 1:
        raise ValueError(f"{loss!r} is a binary loss but the booster passed raw scores of shape {raw.shape} "
                         f"(num_class > 1): use 'multinomial' for more than two classes")
    from .pointwise import get_loss

    return get_loss(loss).gradient_hessian(labels, raw, sample_weight=weights, n_threads=n_threads)


class _BoosterObjective:
    """The loss and thread count, checked once; subclasses only unpack a library's arguments."""

    _factory = ""

    def __init__(self, loss: str, n_threads: int | None = None):
        self.loss = _check_boosting_loss(loss)
        check_n_threads(n_threads)
        self.n_threads = n_threads

    def __repr__(self) -> str:
        threads = "" if self.n_threads is None else f", n_threads={self.n_threads!r}"
        return f"fastloss.boosting.{self._factory}({self.loss!r}{threads})"

    def _gradient_hessian(self, labels, raw_scores, weights):
        return _gradient_hessian(self.loss, labels, raw_scores, weights, self.n_threads)


class _XGBoostObjective(_BoosterObjective):
    _factory = "xgboost_objective"

    def __call__(self, first, second, sample_weight=None):
        """``(predt, dtrain)`` from ``xgboost.train``; ``(y_true, y_pred[, sample_weight=w])`` from
        ``XGBClassifier``, which looks for a parameter named ``sample_weight``."""
        if hasattr(second, "get_label"):  # a DMatrix: xgboost.train's call
            weights = second.get_weight()  # size 0 when the DMatrix has none
            return self._gradient_hessian(second.get_label(), first, weights if weights.size else None)
        return self._gradient_hessian(first, second, sample_weight)


class _LightGBMObjective(_BoosterObjective):
    _factory = "lightgbm_objective"

    def __call__(self, first, second, weight=None):
        """``(preds, train_set)`` from ``lightgbm.train``; ``(y_true, y_pred, weight)`` from
        ``LGBMClassifier``, which passes ``weight`` (None without weights) only to three-parameter
        callables."""
        if hasattr(second, "get_label"):  # a Dataset: lightgbm.train's call
            return self._gradient_hessian(second.get_label(), first, second.get_weight())
        return self._gradient_hessian(first, second, weight)


def xgboost_objective(loss: str, *, n_threads: int | None = None) -> _XGBoostObjective:
    """A custom objective for XGBoost: the gradient and Hessian of ``loss`` at the booster's raw scores.

    Parameters
    ----------
    loss : str
        One of ``BOOSTING_LOSSES`` (``"log_loss"`` is ``"logistic"``). The other losses of
        ``fastloss.LOSSES`` raise ``ValueError`` saying why (see the module docstring).
    n_threads : int or None
        Threads of the pointwise kernel (None: all Numba threads).

    Returns
    -------
    callable
        For ``xgboost.train(params, dtrain, obj=...)``: called as ``obj(predt, dtrain)`` with
        ``predt`` of shape (n,) (binary) or (n, K) (``num_class=K``), it returns float64 ``(grad,
        hess)`` of that shape, multiplied by ``dtrain``'s weights if it has any. Also accepted as
        ``xgboost.XGBClassifier(objective=...)``, which calls it as ``obj(y_true, y_pred,
        sample_weight=w)``.

    Notes
    -----
    With a custom objective ``xgboost.train`` leaves the booster's own objective at its default
    (``reg:squarederror``): training starts from ``base_score`` read as a raw score, 0.5 unless
    given, so pass ``base_score=0`` to start where ``binary:logistic`` with ``base_score=0.5`` (a
    probability) starts, and ``predict`` returns raw scores. ``XGBClassifier`` instead keeps
    ``binary:logistic`` (``multi:softprob`` for more classes) as the booster's objective, so
    ``predict_proba`` returns probabilities; with a callable objective it does not estimate
    ``base_score`` from the labels but starts from it as given (default 0.5: a probability for
    two classes, raw score 0; added to every class's raw score for more, which softmax ignores).
    """
    return _XGBoostObjective(loss, n_threads)


def lightgbm_objective(loss: str, *, n_threads: int | None = None) -> _LightGBMObjective:
    """A custom objective for LightGBM: the gradient and Hessian of ``loss`` at the booster's raw scores.

    Parameters
    ----------
    loss : str
        One of ``BOOSTING_LOSSES`` (``"log_loss"`` is ``"logistic"``). The other losses of
        ``fastloss.LOSSES`` raise ``ValueError`` saying why (see the module docstring).
    n_threads : int or None
        Threads of the pointwise kernel (None: all Numba threads).

    Returns
    -------
    callable
        For ``lightgbm.LGBMClassifier(objective=...)``: called as ``obj(y_true, y_pred, weight)``
        with ``y_pred`` of shape (n,) (two classes) or (n, K), it returns float64 ``(grad, hess)`` of
        that shape, multiplied by ``weight`` unless it is None. Also accepted as
        ``lightgbm.train({"objective": obj, ...}, train_set)``, which calls it as
        ``obj(preds, train_set)`` and whose weights are read from ``train_set``.

    Notes
    -----
    LightGBM starts a custom objective from raw score 0 (its built-in objectives start from the
    labels' average unless ``boost_from_average=False``), and ``LGBMClassifier.predict`` /
    ``predict_proba`` then return raw scores.
    """
    return _LightGBMObjective(loss, n_threads)
