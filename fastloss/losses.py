"""Each loss declared once: its value, first and second derivative of one sample, and its facts.

A loss is one :func:`register` call right after its scalar functions: its name (and aliases), its
functions, its label rules (soft labels or not), whether it gives probabilities, is convex or has
a flat second derivative somewhere, and its exact mpmath formula for the tests. The kernel ids,
the loop each kernel calls, the label checks of every public door, ``fastloss.LOSSES`` and the
tests' parametrization all come from :data:`REGISTRY`. Its NumPy formulas, the independent oracle,
are in :mod:`fastloss.reference`: a new binary loss touches these two files (README: "Adding a
loss").

Every binary loss is three small scalar functions of ``(y, z)``: ``y`` is the label as a float
in ``[0, 1]`` (hard labels are 0.0 / 1.0; soft labels only reach ``logistic``) and ``z`` the raw
score. Derivatives are taken with respect to ``z``. The margin losses are written in the margin
``m = s z`` with ``s = 2 y - 1``, and their derivative picks up the factor ``s``.

How the kernels use them. The kernels never name a loss: per block of samples they call
:func:`fastloss.kernels._loops.pointwise_rows` with a loss id and a mode, which runs that loss's
loop, compiled from the loss's :class:`LossSpec` once per (loss, mode). The scalar functions are
inlined into that loop and use the branch-free ``exp`` / ``log1p`` / ``atan`` of
:mod:`fastloss._math`, so the loop vectorizes (Numba >= 0.62 has no SVML: with ``math.exp``
every element would be a scalar library call).

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

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import _math
from ._jit import jit

#: Per-sample scalar functions: inlined (Numba IR level) into the loops that call them.
scalar = jit(fastmath=False, inline=True)

# --- the registry: each loss declared once -----------------------------------------------------


@dataclass(frozen=True)
class LossSpec:
    """One loss as declared by :func:`register`; everything else reads it from :data:`REGISTRY`.

    ``id`` is its kernel id (the order of declaration). A binary loss has ``functions``: its
    (value, gradient, hessian) of one sample ``(y, z)``, ``y`` in [0, 1] and derivatives in ``z``,
    which :mod:`fastloss.kernels._loops` compiles into one loop per mode. ``mpmath`` is the exact
    formula the tests check the kernels and the reference against: ``(mp, m) -> (phi, phi', phi'')``
    in the margin ``m`` (derivatives in ``m``; the piece that owns a kink as in docs/api.md).
    """

    name: str
    id: int
    functions: tuple | None = None
    soft_labels: bool = False      # also takes probabilities in [0, 1] as labels
    probabilities: bool = False    # sigmoid / softmax of the raw score is a class probability
    convex: bool = True
    flat: str = ""                 # where the second derivative is 0 on an interval ("" if nowhere)
    mpmath: Callable | None = field(default=None, repr=False)
    aliases: tuple[str, ...] = ()
    value_gradient: Callable | None = field(default=None, repr=False)  # optional fused (value, gradient)
    cache: bool = True             # its loops go to the on-disk cache (losses declared in this file)

    @property
    def binary(self) -> bool:
        return self.functions is not None

    @property
    def has_curvature(self) -> bool:
        """False where the second derivative is 0 for every margin (``flat=EVERYWHERE``)."""
        return self.flat != EVERYWHERE


#: The ``flat`` of a loss whose second derivative is 0 for every margin (hinge).
EVERYWHERE = "every m"


#: Every loss by name, in the order of declaration (= kernel ids).
REGISTRY: dict[str, LossSpec] = {}
#: Names and aliases of every loss, and binary losses by kernel id: kept in step by :func:`register`.
LOSSES: tuple[str, ...] = ()
BINARY_LOSSES: tuple[str, ...] = ()
SOFT_LABEL_LOSSES: tuple[str, ...] = ()
LOSS_IDS: dict[str, int] = {}
ALIASES: dict[str, str] = {}


def register(name: str, *, value=None, gradient=None, hessian=None, **properties) -> LossSpec:
    """Declare a loss: a binary one with its three scalar functions (compiled with :data:`scalar`),
    or a multiclass one with its kernels of its own; ``properties`` are :class:`LossSpec` fields.

    A binary loss may also give ``value_gradient``: ``(y, z) -> (value, gradient)``, the same bits
    as its two functions, sharing their work (logistic: one ``exp``); the loops that need both use it.

    This is the one place a loss is named: ids, kernel dispatch, label rules, the pointwise and
    objective doors and the tests' parametrization all come from it. Losses declared outside this
    module (a user's own, or the tests' toy loss) work everywhere in that process; their loops are
    not cached on disk, as the cache only knows this package's sources.
    """
    global LOSSES, BINARY_LOSSES, SOFT_LABEL_LOSSES
    functions = (value, gradient, hessian)
    if any(f is None for f in functions) and any(f is not None for f in functions):
        raise ValueError(f"loss {name!r}: give all three of value, gradient and hessian, or none")
    binary = value is not None
    if name in LOSS_IDS or name in ALIASES:
        raise ValueError(f"loss {name!r} is already declared")
    own = functions + ((properties["value_gradient"],) if properties.get("value_gradient") else ())
    cache = all(_module_of(f).split(".")[0] == __name__.split(".")[0] for f in own) if binary else True
    spec = LossSpec(name, len(REGISTRY), functions if binary else None, cache=cache, **properties)
    REGISTRY[name] = spec
    LOSS_IDS[name] = spec.id
    ALIASES.update({alias: name for alias in spec.aliases})
    LOSSES = tuple(REGISTRY)
    BINARY_LOSSES = tuple(n for n, s in REGISTRY.items() if s.binary)
    SOFT_LABEL_LOSSES = tuple(n for n, s in REGISTRY.items() if s.soft_labels)
    return spec


def _module_of(function) -> str:
    return getattr(getattr(function, "py_func", function), "__module__", None) or ""


def canonical_name(loss) -> str:
    """Return the canonical loss name for ``loss`` (an alias or a name), or raise ValueError."""
    if isinstance(loss, str):
        name = ALIASES.get(loss, loss)
        if name in REGISTRY:
            return name
    valid = ", ".join(repr(n) for n in LOSSES + tuple(ALIASES))
    raise ValueError(f"unknown loss {loss!r}; valid names are {valid}")


def spec(loss) -> LossSpec:
    """The :class:`LossSpec` of a loss name or alias (ValueError listing the names otherwise)."""
    return REGISTRY[canonical_name(loss)]



# --- logistic (binomial deviance / cross-entropy; accepts soft labels) ------------------------

@scalar
def logistic_value(y, z):
    a = _math.log1pexp(-abs(z))  # log1p(exp(-|z|)), accurate to 1 ulp
    return a + y * max(-z, 0.0) + (1.0 - y) * max(z, 0.0)


@scalar
def logistic_gradient(y, z):
    # sigmoid(z) - y over the denominator 1 + exp(-|z|): no cancellation for hard labels.
    # exp(-|z|) as logistic_value_gradient takes it (the compensated one), for the same bits.
    e = _math._exp_dd(-abs(z))[0]
    numerator = ((1.0 - y) - y * e) if z >= 0.0 else ((1.0 - y) * e - y)
    return numerator / (1.0 + e)


@scalar
def logistic_value_gradient(y, z):
    """``(logistic_value(y, z), logistic_gradient(y, z))``, the same bits, from one ``exp(-|z|)``
    (LLVM does not merge the two inlined copies; docs/performance.md, "Pointwise API")."""
    e, e_lo = _math._exp_dd(-abs(z))
    value = _math._log1p_dd(e, e_lo) + y * max(-z, 0.0) + (1.0 - y) * max(z, 0.0)
    numerator = ((1.0 - y) - y * e) if z >= 0.0 else ((1.0 - y) * e - y)
    return value, numerator / (1.0 + e)


@scalar
def logistic_hessian(y, z):
    e = _math.exp(-abs(z))
    # Exactly at most 1/4; near z = 0 the rounded quotient can exceed it (0.25000000000000006
    # at z = 3e-16), so the bound is applied, as every documented range must hold in floating point.
    return min(e / ((1.0 + e) * (1.0 + e)), 0.25)


def _logistic_mp(mp, m):
    e = mp.exp(m)
    return (mp.log1p(1 / e) if m > 0 else mp.log1p(mp.exp(-m))), -1 / (1 + e), e / (1 + e) ** 2


register("logistic", value=logistic_value, gradient=logistic_gradient, hessian=logistic_hessian,
         value_gradient=logistic_value_gradient, soft_labels=True, probabilities=True, aliases=("log_loss",),
         mpmath=_logistic_mp)


# --- exponential: exp(-m) ----------------------------------------------------------------------

@scalar
def exponential_value(y, z):
    return _math.exp(-(2.0 * y - 1.0) * z)


@scalar
def exponential_gradient(y, z):
    s = 2.0 * y - 1.0
    return -s * _math.exp(-s * z)


@scalar
def exponential_hessian(y, z):
    return _math.exp(-(2.0 * y - 1.0) * z)


register("exponential", value=exponential_value, gradient=exponential_gradient, hessian=exponential_hessian,
         mpmath=lambda mp, m: (mp.exp(-m), -mp.exp(-m), mp.exp(-m)))


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


register("square", value=square_value, gradient=square_gradient, hessian=square_hessian,
         mpmath=lambda mp, m: ((1 - m) ** 2, -2 * (1 - m), mp.mpf(2)))


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


register("squared_hinge", value=squared_hinge_value, gradient=squared_hinge_gradient,
         hessian=squared_hinge_hessian, flat="m >= 1",
         mpmath=lambda mp, m: (max(0, 1 - m) ** 2, -2 * max(0, 1 - m), mp.mpf(2 if m < 1 else 0)))


# --- modified Huber: -4 m for m < -1, else max(0, 1 - m)^2 -------------------------------------

@scalar
def modified_huber_value(y, z):
    m = (2.0 * y - 1.0) * z
    r = max(0.0, 1.0 - m)
    return -4.0 * m if m < -1.0 else r * r


@scalar
def modified_huber_gradient(y, z):
    s = 2.0 * y - 1.0
    m = s * z
    return -4.0 * s if m < -1.0 else -2.0 * s * max(0.0, 1.0 - m)


@scalar
def modified_huber_hessian(y, z):
    m = (2.0 * y - 1.0) * z
    return 2.0 if (m >= -1.0 and m < 1.0) else 0.0


def _modified_huber_mp(mp, m):
    if m < -1:
        return -4 * m, mp.mpf(-4), mp.mpf(0)
    return max(0, 1 - m) ** 2, -2 * max(0, 1 - m), mp.mpf(2 if m < 1 else 0)


register("modified_huber", value=modified_huber_value, gradient=modified_huber_gradient,
         hessian=modified_huber_hessian, flat="m < -1 or m >= 1", mpmath=_modified_huber_mp)


# --- smooth hinge: 1/2 - m | (1 - m)^2 / 2 | 0 -------------------------------------------------

@scalar
def smooth_hinge_value(y, z):
    m = (2.0 * y - 1.0) * z
    r = max(0.0, 1.0 - m)
    return 0.5 - m if m <= 0.0 else 0.5 * r * r


@scalar
def smooth_hinge_gradient(y, z):
    s = 2.0 * y - 1.0
    m = s * z
    return -s if m <= 0.0 else -s * max(0.0, 1.0 - m)


@scalar
def smooth_hinge_hessian(y, z):
    m = (2.0 * y - 1.0) * z
    return 1.0 if (m > 0.0 and m < 1.0) else 0.0


def _smooth_hinge_mp(mp, m):
    if m <= 0:
        return mp.mpf(0.5) - m, mp.mpf(-1), mp.mpf(0)
    if m < 1:
        return (1 - m) ** 2 / 2, -(1 - m), mp.mpf(1)
    return mp.mpf(0), mp.mpf(0), mp.mpf(0)


register("smooth_hinge", value=smooth_hinge_value, gradient=smooth_hinge_gradient,
         hessian=smooth_hinge_hessian, flat="m <= 0 or m >= 1", mpmath=_smooth_hinge_mp)


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


register("hinge", value=hinge_value, gradient=hinge_gradient, hessian=hinge_hessian, flat=EVERYWHERE,
         mpmath=lambda mp, m: (max(0, 1 - m), mp.mpf(-1 if m < 1 else 0), mp.mpf(0)))


# --- savage: 1 / (1 + exp(m))^2 = sigmoid(-m)^2 ------------------------------------------------

@scalar
def _sigmoid_pair(m):
    """(sigmoid(m), sigmoid(-m)), each to full relative accuracy."""
    e = _math.exp(-abs(m))
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    return (big, small) if m >= 0.0 else (small, big)


@scalar
def savage_value(y, z):
    q = _sigmoid_pair((2.0 * y - 1.0) * z)[1]
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


def _savage_mp(mp, m):
    e = mp.exp(m)
    return 1 / (1 + e) ** 2, -2 * e / (1 + e) ** 3, 2 * e * (2 * e - 1) / (1 + e) ** 4


register("savage", value=savage_value, gradient=savage_gradient, hessian=savage_hessian, convex=False,
         mpmath=_savage_mp)


# --- tangent: (2 arctan(m) - 1)^2 --------------------------------------------------------------

@scalar
def _inv_one_plus_square(m):
    """1 / (1 + m^2) without overflowing m^2."""
    r = 1.0 / m if abs(m) > 1.0 else m
    t = 1.0 / (1.0 + r * r)
    return t if abs(m) <= 1.0 else (r * r) * t


@scalar
def tangent_value(y, z):
    t = 2.0 * _math.atan((2.0 * y - 1.0) * z) - 1.0
    return t * t


@scalar
def tangent_gradient(y, z):
    s = 2.0 * y - 1.0
    m = s * z
    return s * 4.0 * (2.0 * _math.atan(m) - 1.0) * _inv_one_plus_square(m)


@scalar
def tangent_hessian(y, z):
    m = (2.0 * y - 1.0) * z
    t = _inv_one_plus_square(m)
    # d/dm [4 (2 atan m - 1) t] = 8 t^2 - 8 m (2 atan m - 1) t^2, with m t kept finite.
    return 8.0 * (t - (2.0 * _math.atan(m) - 1.0) * (m * t)) * t


def _tangent_mp(mp, m):
    t = 2 * mp.atan(m) - 1
    return t**2, 4 * t / (1 + m**2), (8 - 8 * m * t) / (1 + m**2) ** 2


register("tangent", value=tangent_value, gradient=tangent_gradient, hessian=tangent_hessian, convex=False,
         mpmath=_tangent_mp)


# --- multinomial: softmax cross-entropy over a row z of K raw scores ----------------------------
#
# The kernels hold a block of rows transposed, ``Z[k, r]`` = score ``k`` of row ``r`` (float64
# scratch), and every helper below works on one class of one row or on all rows of a block with
# the class fixed. Stability: the exponentials are shifted by the row maximum, so
# ``e[top] == 1`` exactly and every other ``e[k]`` is in [0, 1]; the sum of the *other* terms,
# ``others = sum_{k != top} e[k]``, is accumulated on its own (never as ``sum(e) - 1``). Then
#
#   loss      = logsumexp(z) - z[y] = (zmax - z[y]) + log1p(others)
#   p_k       = e[k] / (1 + others)             (as e[k] * inv_total, one division per row)
#   1 - p_k   = (sum_{l != k} e[l]) / (1 + others)
#
# Both terms of the loss are non-negative (no cancellation), and when ``y`` is the argmax the loss
# is ``log1p(others)`` alone, accurate to the last bits when it is ~1e-300. ``1 - p_k`` is taken
# from the complementary sum, so ``p_y - 1`` and ``p_k (1 - p_k)`` keep their relative accuracy
# when ``p_k`` is within 1e-300 of 1. Scores of +-1e300 give finite values, never nan (a shifted
# score that overflows to -inf gives e = 0). ``exp`` and ``log1p`` are the branch-free ones of
# :mod:`fastloss._math`, so the loops over the rows of a block vectorize.
#
# These helpers are compiled once (float64), with the project's fast-math flags (reassoc lets
# the loops vectorize; no formula here depends on the association of a sum: each row's ``others``
# is summed in class order whatever the block), and are not inlined at the Numba IR level: every
# multinomial kernel, for every matrix format, links the same compiled helpers instead of
# re-typing them (LLVM still inlines them into the kernels).

row = jit()


@row
def multinomial_block_max(Z, m, zmax, top, others):
    """The first step of :func:`multinomial_block_softmax`: ``zmax[r]`` and ``top[r]`` of the
    ``m`` first columns of ``Z``; ``others[r] = 0``. Returns how many of the ``m K`` scores are
    not finite (kernels that take the scores unchecked count them here, in the pass that reads
    them anyway; the others ignore it and LLVM drops the count).

    The classes are compared three at a time (``zmax`` and ``top`` read and written once per
    three), in class order; the last group repeats the last class where ``K - 1`` is not a
    multiple of three, which changes nothing (a class seen again is never larger than the
    maximum that included it) and is not counted twice.
    """
    K = Z.shape[0]
    nonfinite = 0
    for r in range(m):
        v = Z[0, r]
        nonfinite += not np.isfinite(v)
        zmax[r] = v
        top[r] = 0
        others[r] = 0.0
    last = K - 1
    for k in range(1, K, 3):
        k1 = min(k + 1, last)
        k2 = min(k + 2, last)
        new1 = k + 1 <= last
        new2 = k + 2 <= last
        for r in range(m):
            best = zmax[r]
            at = top[r]
            v0 = Z[k, r]
            bigger = v0 > best
            best = v0 if bigger else best
            at = k if bigger else at
            v1 = Z[k1, r]
            bigger = v1 > best
            best = v1 if bigger else best
            at = k1 if bigger else at
            v2 = Z[k2, r]
            bigger = v2 > best
            best = v2 if bigger else best
            at = k2 if bigger else at
            zmax[r] = best
            top[r] = at
            nonfinite += (not np.isfinite(v0)) + (new1 and not np.isfinite(v1)) + (new2 and not np.isfinite(v2))
    return nonfinite


@row
def multinomial_block_exp(Z, k, m, zmax, top, others):
    """The second step of :func:`multinomial_block_softmax` for class ``k`` (after the classes
    before it): ``Z[k, r] = exp(Z[k, r] - zmax[r])``, added to ``others[r]`` unless ``k`` is the
    row's argmax."""
    for r in range(m):
        v = _math.exp(Z[k, r] - zmax[r])
        Z[k, r] = v
        others[r] += 0.0 if top[r] == k else v


@row
def multinomial_block_softmax(Z, m, zmax, top, others):
    """Shifted exponentials of the ``m`` first columns of a block of scores, in place.

    Column ``r`` of ``Z[:, :m]`` is one sample's row ``z``; on return ``Z[k, r]`` holds
    ``e[k] = exp(z[k] - max(z))`` (``e[top] == 1`` exactly), ``zmax[r]`` the row's maximum,
    ``top[r]`` its argmax (the first index among ties) and ``others[r]`` the sum
    ``sum_{k != top} e[k]`` in class order, so that ``sum(e) = 1 + others`` and
    ``logsumexp(z) = zmax + log1p(others)``. Every loop runs over the samples of the block with
    the class fixed, so it vectorizes whatever ``K``; a row's results do not depend on the block
    it is in. The two steps are functions of their own, :func:`multinomial_block_max` and
    :func:`multinomial_block_exp` (one class), for kernels that do other work between classes.
    """
    multinomial_block_max(Z, m, zmax, top, others)
    for k in range(Z.shape[0]):
        multinomial_block_exp(Z, k, m, zmax, top, others)


@row
def multinomial_loss_of(zmax, zy, others):
    """``logsumexp(z) - z[y]`` from the row's ``max(z)``, ``z[y]`` and ``others``."""
    return (zmax - zy) + _math.log1p(others)


@row
def multinomial_complement_of(ek, is_top, others):
    """``sum_{l != k} e[l]``, i.e. ``(1 - p_k) * sum(e)`` without cancellation, from ``e[k]``,
    whether ``k`` is the row's argmax, and ``others``.

    For ``k == top`` it is ``others``; otherwise ``1 + (others - e[k])``, where ``others``
    includes ``e[k] <= 1``: the result is at least half of ``sum(e)``, so the subtraction costs at
    most one bit, however the sum is associated.
    """
    return others if is_top else 1.0 + (others - ek)


@row
def multinomial_gradient_of(ek, is_y, is_top, others, inv_total):
    """``p_k - [k == y]`` (the derivative of the loss in ``z[k]``) from one class's ``e[k]``;
    ``inv_total = 1 / (1 + others)``, or that times a sample weight.

    A multiplication by the row's ``inv_total`` instead of a division per class: one more
    rounding (relative error at most about 1.5 ulp). ``p_y - 1 >= -1`` exactly, but the product
    of two rounded factors can pass it by an ulp: callers that need the bound clip it.
    """
    if is_y:
        return -multinomial_complement_of(ek, is_top, others) * inv_total
    return ek * inv_total


@row
def multinomial_block_gradient(E, y, first, m, top, others, scale, label_term, G):
    """:func:`multinomial_gradient_of` times ``scale`` for the ``m`` columns of a block.

    ``E[k, r]`` holds ``e[k]`` of row ``r`` (from :func:`multinomial_block_softmax`),
    ``y[first + r]`` its label and ``scale[r]`` its ``s / (1 + others)``; ``G[k, r]`` receives
    ``s (p_k - [k == y])`` (``G`` may be ``E``): bit for bit what :func:`multinomial_gradient_of`
    gives with ``inv_total = scale[r]``. Every class is first scaled in one loop over the rows
    (it vectorizes), then the label's entry of each row is replaced by ``-complement * scale``;
    ``label_term`` (``m``) is scratch. Testing ``k == y`` for every entry instead took 2.5x
    longer (K = 10, one thread).
    """
    for r in range(m):
        yi = y[first + np.uintp(r)]
        label_term[r] = -multinomial_complement_of(E[yi, r], top[r] == yi, others[r]) * scale[r]
    for k in range(E.shape[0]):
        for r in range(m):
            G[k, r] = E[k, r] * scale[r]
    for r in range(m):
        G[y[first + np.uintp(r)], r] = label_term[r]


@row
def multinomial_hessian_of(ek, is_top, others, inv_total):
    """``p_k (1 - p_k)``, the diagonal of ``diag(p) - p p^T``, from one class's ``e[k]``;
    ``inv_total = 1 / (1 + others)``. At most 1/4 as it is exactly (rounded factors near
    p = 1/2 could give one ulp more)."""
    return min((ek * inv_total) * (multinomial_complement_of(ek, is_top, others) * inv_total), 0.25)


# The multinomial loss has kernels of its own (:mod:`fastloss.kernels.multinomial`,
# :mod:`fastloss.kernels.pointwise`) over the helpers above; its exact formula for the tests is a
# row's (tests/test_reference.py).
register("multinomial", probabilities=True)
