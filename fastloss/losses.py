"""Each loss written once: value, first and second derivative of one sample.

Every binary loss is three small scalar functions of ``(y, z)``: ``y`` is the label as a float
in ``[0, 1]`` (hard labels are 0.0 / 1.0; soft labels only reach ``logistic``) and ``z`` the raw
score. Derivatives are taken with respect to ``z``. The margin losses are written in the margin
``m = s z`` with ``s = 2 y - 1``, and their derivative picks up the factor ``s``.

The functions are compiled without fast-math (their evaluation order is what makes them stable)
and are inlined into the fused kernels of :mod:`fastloss.kernels`. The kernels never name a loss:
they receive a small integer ``loss_id`` and call :func:`pointwise`, the one place that maps ids to
functions.

Stability notes (the contract asks for no nan for finite input, finite values wherever the exact
value is a finite double, and full relative accuracy in the tails):

* logistic: with ``a = log1p(exp(-|z|))`` the loss is ``a + y max(-z, 0) + (1 - y) max(z, 0)``,
  so a hard label never subtracts two large numbers (``log1pexp(z) - y z`` would give 0 instead
  of 1e-300 in the right tail); the gradient ``sigmoid(z) - y`` is written over a common
  denominator for the same reason.
* savage: ``p = sigmoid(m)`` and ``q = sigmoid(-m)`` are both evaluated from ``exp(-|m|)``, never
  as ``1 - p``.
* tangent: ``1 / (1 + m^2)`` is evaluated as ``r^2 / (1 + r^2)`` with ``r = 1 / m`` for ``|m| > 1``
  so that it underflows gracefully instead of overflowing ``m^2``.
"""

from __future__ import annotations

import math

from ._jit import jit
from ._names import (  # noqa: F401  (re-exported: the loss ids live with the losses)
    ALIASES,
    BINARY_LOSSES,
    EXPONENTIAL,
    HINGE,
    LOGISTIC,
    LOSS_IDS,
    LOSSES,
    MODIFIED_HUBER,
    MULTINOMIAL,
    SAVAGE,
    SMOOTH_HINGE,
    SQUARE,
    SQUARED_HINGE,
    TANGENT,
    canonical_name,
)

scalar = jit(fastmath=False)


# --- logistic (binomial deviance / cross-entropy; accepts soft labels) ------------------------

@scalar
def logistic_value(y, z):
    a = math.log1p(math.exp(-abs(z)))
    return a + y * max(-z, 0.0) + (1.0 - y) * max(z, 0.0)


@scalar
def logistic_gradient(y, z):
    # sigmoid(z) - y over the denominator 1 + exp(-|z|): no cancellation for hard labels.
    e = math.exp(-abs(z))
    if z >= 0.0:
        return ((1.0 - y) - y * e) / (1.0 + e)
    return ((1.0 - y) * e - y) / (1.0 + e)


@scalar
def logistic_hessian(y, z):
    e = math.exp(-abs(z))
    return e / ((1.0 + e) * (1.0 + e))


# --- exponential: exp(-m) ----------------------------------------------------------------------

@scalar
def exponential_value(y, z):
    return math.exp(-(2.0 * y - 1.0) * z)


@scalar
def exponential_gradient(y, z):
    s = 2.0 * y - 1.0
    return -s * math.exp(-s * z)


@scalar
def exponential_hessian(y, z):
    return math.exp(-(2.0 * y - 1.0) * z)


# --- square: (1 - m)^2 -------------------------------------------------------------------------

@scalar
def square_value(y, z):
    r = 1.0 - (2.0 * y - 1.0) * z
    return r * r


@scalar
def square_gradient(y, z):
    s = 2.0 * y - 1.0
    return -2.0 * s * (1.0 - s * z)


@scalar
def square_hessian(y, z):
    return 2.0


# --- squared hinge: max(0, 1 - m)^2 ------------------------------------------------------------

@scalar
def squared_hinge_value(y, z):
    r = max(0.0, 1.0 - (2.0 * y - 1.0) * z)
    return r * r


@scalar
def squared_hinge_gradient(y, z):
    s = 2.0 * y - 1.0
    return -2.0 * s * max(0.0, 1.0 - s * z)


@scalar
def squared_hinge_hessian(y, z):
    return 2.0 if (2.0 * y - 1.0) * z < 1.0 else 0.0


# --- modified Huber: -4 m for m < -1, else max(0, 1 - m)^2 -------------------------------------

@scalar
def modified_huber_value(y, z):
    m = (2.0 * y - 1.0) * z
    if m < -1.0:
        return -4.0 * m
    r = max(0.0, 1.0 - m)
    return r * r


@scalar
def modified_huber_gradient(y, z):
    s = 2.0 * y - 1.0
    m = s * z
    if m < -1.0:
        return -4.0 * s
    return -2.0 * s * max(0.0, 1.0 - m)


@scalar
def modified_huber_hessian(y, z):
    m = (2.0 * y - 1.0) * z
    return 2.0 if (m >= -1.0 and m < 1.0) else 0.0


# --- smooth hinge: 1/2 - m | (1 - m)^2 / 2 | 0 -------------------------------------------------

@scalar
def smooth_hinge_value(y, z):
    m = (2.0 * y - 1.0) * z
    if m <= 0.0:
        return 0.5 - m
    r = max(0.0, 1.0 - m)
    return 0.5 * r * r


@scalar
def smooth_hinge_gradient(y, z):
    s = 2.0 * y - 1.0
    m = s * z
    if m <= 0.0:
        return -s
    return -s * max(0.0, 1.0 - m)


@scalar
def smooth_hinge_hessian(y, z):
    m = (2.0 * y - 1.0) * z
    return 1.0 if (m > 0.0 and m < 1.0) else 0.0


# --- hinge: max(0, 1 - m) ----------------------------------------------------------------------

@scalar
def hinge_value(y, z):
    return max(0.0, 1.0 - (2.0 * y - 1.0) * z)


@scalar
def hinge_gradient(y, z):
    s = 2.0 * y - 1.0
    return -s if s * z < 1.0 else 0.0


@scalar
def hinge_hessian(y, z):
    return 0.0


# --- savage: 1 / (1 + exp(m))^2 = sigmoid(-m)^2 ------------------------------------------------

@scalar
def _sigmoid_pair(m):
    """(sigmoid(m), sigmoid(-m)), each to full relative accuracy."""
    e = math.exp(-abs(m))
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    if m >= 0.0:
        return big, small
    return small, big


@scalar
def savage_value(y, z):
    p, q = _sigmoid_pair((2.0 * y - 1.0) * z)
    return q * q


@scalar
def savage_gradient(y, z):
    s = 2.0 * y - 1.0
    p, q = _sigmoid_pair(s * z)
    return s * (-2.0 * p * q * q)


@scalar
def savage_hessian(y, z):
    p, q = _sigmoid_pair((2.0 * y - 1.0) * z)
    return -2.0 * p * q * q * (q - 2.0 * p)


# --- tangent: (2 arctan(m) - 1)^2 --------------------------------------------------------------

@scalar
def _inv_one_plus_square(m):
    """1 / (1 + m^2) without overflowing m^2."""
    if abs(m) <= 1.0:
        return 1.0 / (1.0 + m * m)
    r = 1.0 / m
    return (r * r) / (1.0 + r * r)


@scalar
def tangent_value(y, z):
    t = 2.0 * math.atan((2.0 * y - 1.0) * z) - 1.0
    return t * t


@scalar
def tangent_gradient(y, z):
    s = 2.0 * y - 1.0
    m = s * z
    return s * 4.0 * (2.0 * math.atan(m) - 1.0) * _inv_one_plus_square(m)


@scalar
def tangent_hessian(y, z):
    m = (2.0 * y - 1.0) * z
    t = _inv_one_plus_square(m)
    # d/dm [4 (2 atan m - 1) t] = 8 t^2 - 8 m (2 atan m - 1) t^2, with m t kept finite.
    return 8.0 * (t - (2.0 * math.atan(m) - 1.0) * (m * t)) * t


# --- the one dispatch: loss id -> (value, gradient, hessian) -----------------------------------

@scalar
def value(loss_id, y, z):
    """Loss of one sample for binary loss ``loss_id`` (label ``y`` in [0, 1], raw score ``z``)."""
    if loss_id == LOGISTIC:
        return logistic_value(y, z)
    if loss_id == EXPONENTIAL:
        return exponential_value(y, z)
    if loss_id == SQUARE:
        return square_value(y, z)
    if loss_id == SQUARED_HINGE:
        return squared_hinge_value(y, z)
    if loss_id == MODIFIED_HUBER:
        return modified_huber_value(y, z)
    if loss_id == SMOOTH_HINGE:
        return smooth_hinge_value(y, z)
    if loss_id == HINGE:
        return hinge_value(y, z)
    if loss_id == SAVAGE:
        return savage_value(y, z)
    return tangent_value(y, z)


@scalar
def gradient(loss_id, y, z):
    """d loss / d z of one sample."""
    if loss_id == LOGISTIC:
        return logistic_gradient(y, z)
    if loss_id == EXPONENTIAL:
        return exponential_gradient(y, z)
    if loss_id == SQUARE:
        return square_gradient(y, z)
    if loss_id == SQUARED_HINGE:
        return squared_hinge_gradient(y, z)
    if loss_id == MODIFIED_HUBER:
        return modified_huber_gradient(y, z)
    if loss_id == SMOOTH_HINGE:
        return smooth_hinge_gradient(y, z)
    if loss_id == HINGE:
        return hinge_gradient(y, z)
    if loss_id == SAVAGE:
        return savage_gradient(y, z)
    return tangent_gradient(y, z)


@scalar
def hessian(loss_id, y, z):
    """d^2 loss / d z^2 of one sample (the generalized one at kinks, see the contract)."""
    if loss_id == LOGISTIC:
        return logistic_hessian(y, z)
    if loss_id == EXPONENTIAL:
        return exponential_hessian(y, z)
    if loss_id == SQUARE:
        return square_hessian(y, z)
    if loss_id == SQUARED_HINGE:
        return squared_hinge_hessian(y, z)
    if loss_id == MODIFIED_HUBER:
        return modified_huber_hessian(y, z)
    if loss_id == SMOOTH_HINGE:
        return smooth_hinge_hessian(y, z)
    if loss_id == HINGE:
        return hinge_hessian(y, z)
    if loss_id == SAVAGE:
        return savage_hessian(y, z)
    return tangent_hessian(y, z)
