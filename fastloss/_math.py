"""Vectorizable ``exp``, ``log1p``, ``log1pexp`` and ``atan`` for float64, in plain Numba.

Why this module exists: Numba >= 0.62 has no SVML, so ``math.exp`` / ``math.log1p`` /
``math.atan`` inside a loop are scalar libm calls and the loop around them does not vectorize.
The functions below are straight-line code (range reduction, a polynomial, bit manipulation, and
selects instead of branches), so LLVM turns a simple loop over them into SIMD code
(``bench/bench_math.py`` times them against libm; docs/performance.md, "Measured choices").

Guarantees (checked against mpmath by ``tests/test_math.py``):

* at most 2 ulp error over the whole float64 range (measured on 10**6 random samples each:
  0.99 ulp for ``exp``, 0.80 for ``log1p``, 0.99 for ``log1pexp``; 0.76 for ``atan`` on 4 * 10**4);
* IEEE special values: ``exp`` overflows to ``inf`` exactly where the correctly rounded result
  does (``x > 709.782712893384``), goes gradually subnormal and reaches ``0`` below
  ``-745.1332191019412``; ``log1p(-1) = -inf``, ``log1p(x < -1) = nan``; ``nan`` propagates;
* the same bits whether a function is called from Python, from a scalar ``@njit`` function, or
  from a vectorized loop: every fused multiply-add is an explicit ``llvm.fma`` (never a
  contraction chosen by the compiler), and the functions are compiled without fast-math, since
  reassociation would void the error analysis.

Any real argument is converted to float64 first (so float32 data is computed in float64).

Calling them from compiled code: they are inlined into the caller at the Numba IR level
(``inline="always"``), so they are lowered with *the caller's* fast-math flags. Callers compiled
with ``fastmath=False`` or with ``_config.FASTMATH`` (``reassoc``, ``contract``) get the same
bits (a test checks it). Do not call them from code compiled with ``fastmath=True`` or with
``nnan``/``ninf``/``nsz``/``arcp``: the error-free transformations fold away, the special-value
selects may be deleted, and ``exp`` can overflow early (measured: ``inf`` at ``x = 709.46``,
2.2-2.5 ulp for ``log1p``/``log1pexp``). The caller's ``error_model`` does not matter: the
divisions are bare ``fdiv`` instructions (see ``_div``).

Implementation notes:

* ``exp``: ``k = rint(x / ln2)`` by the "shifter" trick (adding ``1.5 * 2**52`` leaves ``k`` in
  the low bits, which avoids float -> int64 conversions that AVX2 lacks), a two-part Cody-Waite
  reduction ``r = x - k ln2`` (exact first step), ``exp(r) = 1 + (r + r**2 g(r))`` with a
  degree-10 near-minimax ``g`` (Chebyshev fit, error below 2**-59), and the scaling by ``2**k``
  split into two exact powers of two, so that a subnormal result is rounded once and overflow
  happens in the last multiplication, exactly where it should. Its error is at most the rounding
  of ``r`` (1/4 ulp of the result), of ``r + r**2 g`` (1/4) and of the sum (1/2), so below 1.1
  ulp (1.6 for a subnormal result); measured 0.99. ``_exp_dd`` (for ``log1pexp``, and for the
  logistic gradient that must match it) also carries the roundings of ``r`` and of ``1 + r`` in
  double-double, so that ``p`` is rounded once: 0.77 ulp, and its error as a second word, for
  seven more operations (docs/performance.md, "Three times at one thread too").
* ``log1p``: ``u = 1 + x = 2**k m`` with ``m`` in ``[sqrt(2)/2, sqrt(2))`` (exponent and mantissa
  split on the integer bits), ``f = m - 1`` (``f = x`` exactly when ``k = 0``), then fdlibm's
  formula ``log(1 + f) = f - (f**2/2 - s (f**2/2 + R(s**2)))`` with ``s = f / (2 + f)`` and a
  degree-8 near-minimax ``R`` (error below 2**-58), plus the rounding error of ``1 + x`` as the
  first-order correction ``c = (x - (u - 1)) / u``.
* ``log1pexp(x) = max(x, 0) + log1p(exp(-|x|))``: no overflow, no cancellation, no cut-offs;
  ``exp(-|x|)`` reaches ``log1p`` as a double-double, so its rounding error is not amplified
  (without it, 1.4 ulp; with it, below 1).

* ``atan``: fdlibm's five-interval reduction to ``|t| <= 7/16`` (see :func:`atan`).

The polynomial coefficients were fitted with ``mpmath.chebyfit`` at 200 bits (``N = 11`` terms
for ``g(r) = (exp(r) - 1 - r) / r**2`` on ``|r| <= 1.0001 ln2 / 2``; ``N = 8`` terms for
``h(z) = (2 atanh(s) - 2 s) / (s z)``, ``z = s**2``, on ``s <= 1.0001 (sqrt2 - 1)/(sqrt2 + 1)``;
``N = 12`` terms for ``a(z) = (atan(t) - t) / (t z)``, ``z = t**2 <= 1.0001 (7/16)**2``, error
below 5e-18) and rounded to float64.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import jit

# ----------------------------------------------------------------------------------------------
# LLVM primitives that Numba does not expose and that must stay vectorizable.


@intrinsic
def _as_int64(typingctx, x):
    """The bits of a float64 as an int64 (an LLVM ``bitcast``: no instruction at all)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _as_float64(typingctx, i):
    """The float64 whose bits are the int64 ``i`` (an LLVM ``bitcast``)."""
    if i != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _shift_right_logical(typingctx, i, n):
    """``i >>> n`` on int64 (Numba's ``>>`` is arithmetic, which AVX2 has no instruction for)."""
    if i != types.int64 or not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        amount = context.cast(builder, args[1], signature.args[1], types.int64)
        return builder.lshr(args[0], amount)

    return types.int64(types.int64, n), codegen


@intrinsic
def _div(typingctx, a, b):
    """``a / b`` on float64 as a bare ``fdiv``: IEEE results (inf, nan) and no branch, even when
    inlined into a caller compiled with Numba's default ``error_model="python"``, whose division
    checks for zero and raises (and whose branch stops the loop from vectorizing)."""
    if not (a == b == types.float64):
        return None

    def codegen(context, builder, signature, args):
        return builder.fdiv(*args)

    return types.float64(types.float64, types.float64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (``llvm.fma.f64``; ``vfmadd`` on x86 with FMA)."""
    if not (a == b == c == types.float64):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(types.float64, types.float64, types.float64), codegen


# ----------------------------------------------------------------------------------------------
# Constants.

_INF = float("inf")
_NAN = float("nan")

#: 1.5 * 2**52: ``(y + _SHIFTER) - _SHIFTER`` is ``y`` rounded to an integer (|y| < 2**51), and
#: the integer sits in the low bits of ``y + _SHIFTER``.
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000
_LOG2_E = 1.4426950408889634
#: ln(2) in two parts; ``_LN2_HI`` has 32 significant bits, so ``k * _LN2_HI`` is exact for
#: ``|k| < 2**21`` (fdlibm's split).
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10

#: ``exp`` is evaluated on ``x`` clamped to this range: beyond it the result is inf or 0
#: anyway (and the clamp keeps the exponent arithmetic in range).
_EXP_X_MAX = 710.0
_EXP_X_MIN = -746.0

#: g(r) = (exp(r) - 1 - r) / r**2 = sum G[i] r**i on |r| <= ln2 / 2 (G0 = 1/2 exactly).
_G0 = 0.5
_G1 = 0.1666666666666667
_G2 = 0.04166666666666667
_G3 = 0.008333333333326136
_G4 = 0.0013888888888883748
_G5 = 0.00019841269874820627
_G6 = 2.4801587325547743e-05
_G7 = 2.7557255400206422e-06
_G8 = 2.75572736431103e-07
_G9 = 2.5105217004720745e-08
_G10 = 2.0914686968086876e-09

#: Subtracting this from the bits of ``u > 0`` moves the binade boundary to sqrt(2)/2, and
#: adding the bias 0x3ff << 52 keeps the sum non-negative: its top 12 bits are ``k + 1023``.
_LOG_OFFSET = 0x3FF0000000000000 - 0x3FE6A09E667F3BCD
#: ``asfloat(_TWO52_BITS | j) - _TWO52_PLUS_BIAS`` is ``j - 1023`` exactly, for 0 <= j < 2**52
#: (int64 -> float64 conversion does not vectorize on AVX2).
_TWO52_BITS = 0x4330000000000000
_TWO52_PLUS_BIAS = 4503599627371519.0

#: h(z) = (2 atanh(s) - 2 s) / (s z) = sum H[i] z**i, z = s**2 <= 0.0295 (H0 ~ 2/3).
_H0 = 0.6666666666666666
_H1 = 0.4000000000000088
_H2 = 0.2857142857080285
_H3 = 0.22222222391887064
_H4 = 0.18181795621632782
_H5 = 0.15386240708969665
_H6 = 0.13268746195596595
_H7 = 0.13086907887965027


#: atan(t) = t + t z a(z), z = t**2 <= (7/16)**2, a(z) = sum A[i] z**i (A0 ~ -1/3).
_A0 = -0.3333333333333333
_A1 = 0.1999999999999941
_A2 = -0.14285714285566672
_A3 = 0.1111111109663336
_A4 = -0.09090908355081977
_A5 = 0.07692285541401948
_A6 = -0.06666241706297325
_A7 = 0.05876944220330461
_A8 = -0.052166649790788854
_A9 = 0.044921989571273566
_A10 = -0.03312674367384146
_A11 = 0.014771803541259421
#: atan(1/2), atan(1), atan(3/2), atan(inf) = pi/2, each as hi + lo.
_ATAN_HALF_HI, _ATAN_HALF_LO = 0.4636476090008061, 2.2698777452961687e-17
_ATAN_ONE_HI, _ATAN_ONE_LO = 0.7853981633974483, 3.061616997868383e-17
_ATAN_THREE_HALVES_HI, _ATAN_THREE_HALVES_LO = 0.982793723247329, 1.3903311031230998e-17
_ATAN_INF_HI, _ATAN_INF_LO = 1.5707963267948966, 6.123233995736766e-17


# ----------------------------------------------------------------------------------------------
# The functions.


@jit(fastmath=False, inline=True)
def _exp_reduce(x):
    """The reduction that :func:`exp` and :func:`_exp_dd` share: ``(t, kf, r_hi)`` with
    ``k = rint(x / ln2)`` as a float (``kf``) and in the low bits of ``t``, and
    ``r_hi = x - k ln2_hi`` (exact); ``r = r_hi - k ln2_lo`` is left to the caller."""
    # Clamp with comparisons that are false for nan, so that nan flows through.
    xc = min(x, _EXP_X_MAX)
    xc = max(xc, _EXP_X_MIN)
    t = _fma(xc, _LOG2_E, _SHIFTER)
    kf = t - _SHIFTER
    return t, kf, _fma(-kf, _LN2_HI, xc)


@jit(fastmath=False, inline=True)
def _exp_g(r):
    """``(r**2, g(r))``, ``g(r) = (exp(r) - 1 - r) / r**2``, by Estrin's scheme: a short
    dependency chain (4 FMAs deep instead of 10) lets the out-of-order core overlap more
    iterations; g's own rounding errors are scaled by ``r**2``."""
    r2 = r * r
    r4 = r2 * r2
    g01 = _fma(_G1, r, _G0)
    g23 = _fma(_G3, r, _G2)
    g45 = _fma(_G5, r, _G4)
    g67 = _fma(_G7, r, _G6)
    g89 = _fma(_G9, r, _G8)
    g0_3 = _fma(g23, r2, g01)
    g4_7 = _fma(g67, r2, g45)
    g8_10 = _fma(_G10, r2, g89)
    return r2, _fma(_fma(g8_10, r4, g4_7), r4, g0_3)


@jit(fastmath=False, inline=True)
def _exp_scales(t):
    """``2**k`` as two factors ``(scale1, scale2)``, with ``k1 = floor((k + 1076) / 2) - 538``
    and ``k2 = k - k1``, both normal for ``-1076 <= k <= 1024``: ``p * scale1`` is exact,
    ``(p * scale1) * scale2`` rounds once (to a subnormal, or to inf beyond the largest float).
    All integer arithmetic stays in vector registers."""
    j = (_as_int64(t) - _SHIFTER_BITS) + 1076
    h = _shift_right_logical(j, 1)
    return _as_float64((h + 485) << 52), _as_float64((j - h + 485) << 52)


@jit(fastmath=False, inline=True)
def _exp_dd(x):
    """``exp(x)`` as ``(hi, lo)``: ``hi`` within 1 ulp (measured 0.77, :func:`exp` 0.99), and
    ``lo`` its rounding error, to within about 2**-55 relative where ``hi`` is normal (against
    ``hi``'s 2**-53.4). A caller that only uses ``hi`` still pays for the compensation (LLVM
    deletes only ``lo``)."""
    t, kf, r_hi = _exp_reduce(x)
    k_lo = -kf * _LN2_LO  # |k_lo| < 2.1e-7; its own rounding error is negligible
    r = r_hi + k_lo
    # The rounding error of r (Fast2Sum: |r_hi| >= |k_lo|, or else they nearly cancel and the
    # sum is exact by Sterbenz's lemma).
    r_err = (r_hi - r) + k_lo
    r2, g = _exp_g(r)
    # exp(r) = (1 + r) + r**2 g(r), with 1 + r in double-double, so that p is rounded once.
    one_plus_r = 1.0 + r
    one_plus_r_err = (1.0 - one_plus_r) + r  # Fast2Sum, |r| < 1
    tail = _fma(r2, g, one_plus_r_err + r_err)
    p = one_plus_r + tail  # exp(r), in [0.70, 1.42]
    p_lo = (one_plus_r - p) + tail  # Fast2Sum
    scale1, scale2 = _exp_scales(t)
    return (p * scale1) * scale2, (p_lo * scale1) * scale2


@jit(fastmath=False, inline=True)
def _log1p_dd(x, x_lo):
    """``log(1 + (x + x_lo))`` for float64, ``|x_lo| <= ulp(x)``; ``_log1p_dd(x, 0.0)`` is
    :func:`log1p`."""
    u = 1.0 + x
    # u = 2**k * m, m in [sqrt(2)/2, sqrt(2)); u >= 2**-53 when x > -1, so u is normal.
    ui = _as_int64(u)
    kb = _shift_right_logical(ui + _LOG_OFFSET, 52)  # k + 1023
    m = _as_float64(ui - ((kb - 1023) << 52))
    kf = _as_float64(_TWO52_BITS | kb) - _TWO52_PLUS_BIAS
    # When k = 0, 1 + x = 1 + f exactly with f = x; otherwise f = m - 1 is exact and the first
    # order term c = (1 + x - u) / u restores the rounding error of u (|c| <= 2**-53), which
    # is exact when it matters (1 <= |x| < 2**53, or |x| not small and u - 1 exact).
    k_is_zero = kb == 1023
    f = x if k_is_zero else m - 1.0
    c = _div((0.0 if k_is_zero else x - (u - 1.0)) + x_lo, u)
    s = _div(f, 2.0 + f)
    z = s * s
    z2 = z * z
    # Estrin's scheme, as in exp.
    q01 = _fma(_H1, z, _H0)
    q23 = _fma(_H3, z, _H2)
    q45 = _fma(_H5, z, _H4)
    q67 = _fma(_H7, z, _H6)
    q = _fma(_fma(q67, z2, q45), z2 * z2, _fma(q23, z2, q01))
    hfsq = 0.5 * f * f
    res = _fma(z, q, hfsq)  # R(z) + f**2 / 2
    res = hfsq - _fma(s, res, _fma(kf, _LN2_LO, c))
    res = _fma(kf, _LN2_HI, f - res)
    # Special values, as selects (the garbage computed above for them is discarded).
    res = res if (x < _INF and x != 0.0) else x  # inf -> inf, nan -> nan, -0 -> -0
    res = -_INF if x == -1.0 else res
    return _NAN if x < -1.0 else res


@jit(fastmath=False, inline=True)
def exp(x):
    """``e**x`` for float64, within 2 ulp (measured 0.99), vectorizable.

    Without :func:`_exp_dd`'s compensation (see the module docstring): seven operations fewer,
    which the multinomial softmax, mostly exponentials, feels.

    Parameters
    ----------
    x : float
        Any real; converted to float64.

    Returns
    -------
    float64
        ``inf`` for ``x > 709.782712893384`` and ``x = inf``; subnormal between about ``-708.4``
        and ``-745.13``, ``0.0`` below and for ``-inf``; ``nan`` for ``nan``.
    """
    t, kf, r_hi = _exp_reduce(float(x))
    r = _fma(-kf, _LN2_LO, r_hi)
    r2, g = _exp_g(r)
    scale1, scale2 = _exp_scales(t)
    return ((1.0 + _fma(r2, g, r)) * scale1) * scale2


@jit(fastmath=False, inline=True)
def log1p(x):
    """``log(1 + x)`` for float64, within 2 ulp (measured 0.8), vectorizable.

    Parameters
    ----------
    x : float
        Any real; converted to float64.

    Returns
    -------
    float64
        ``x`` itself for tiny ``|x|`` (subnormals and signed zeros included), ``-inf`` at
        ``x = -1``, ``nan`` for ``x < -1`` and ``nan``, ``inf`` for ``inf``.
    """
    return _log1p_dd(float(x), 0.0)


@jit(fastmath=False, inline=True)
def log1pexp(x):
    """``log(1 + exp(x))`` (softplus) for float64, never overflowing, within 2 ulp (measured 0.99),
    vectorizable.

    Computed as ``max(x, 0) + log1p(exp(-|x|))``, with ``exp(-|x|)`` passed to ``log1p`` in
    double-double so that its rounding error does not add to that of ``log1p``. Equal to
    ``exp(x)`` for very negative ``x`` (down to subnormals, and 0 at ``-inf``) and to ``x`` for
    large ``x`` (``inf`` at ``inf``); ``nan`` for ``nan``.

    Parameters
    ----------
    x : float
        Any real; converted to float64.

    Returns
    -------
    float64
    """
    x = float(x)
    positive_part = max(0.0, x)
    e_hi, e_lo = _exp_dd(-abs(x))
    return positive_part + _log1p_dd(e_hi, e_lo)


@jit(fastmath=False, inline=True)
def atan(x):
    """Arc tangent for float64, within 2 ulp, vectorizable.

    fdlibm's reduction, written with selects: ``|x|`` falls in one of five intervals, each with
    an anchor ``c`` (0, 1/2, 1, 3/2, inf) and ``atan|x| = atan(c) + atan(t)``, ``|t| <= 7/16``
    (``t = (2|x| - 1) / (2 + |x|)``, ``(|x| - 1) / (|x| + 1)``, ``(|x| - 3/2) / (1 + 3/2 |x|)``
    or ``-1 / |x|``; every numerator is exact). Then ``atan(t) = t + t z a(z)``, ``z = t**2``, with
    a degree-11 near-minimax ``a``, and ``atan(c)`` added in two parts. Odd: the sign of ``x``
    (``-0.0`` included) is copied to the result; ``+-pi/2`` at ``+-inf``; ``nan`` for ``nan``.

    Parameters
    ----------
    x : float
        Any real; converted to float64.

    Returns
    -------
    float64
    """
    v = np.float64(x)
    a = abs(v)
    # Numerator and denominator of t, and the anchor, for each interval (7/16, 11/16, 19/16, 39/16).
    if a < 0.4375:
        num, den, c_hi, c_lo = a, 1.0, 0.0, 0.0
    elif a < 0.6875:
        num, den, c_hi, c_lo = 2.0 * a - 1.0, 2.0 + a, _ATAN_HALF_HI, _ATAN_HALF_LO
    elif a < 1.1875:
        num, den, c_hi, c_lo = a - 1.0, a + 1.0, _ATAN_ONE_HI, _ATAN_ONE_LO
    elif a < 2.4375:
        num, den, c_hi, c_lo = a - 1.5, _fma(1.5, a, 1.0), _ATAN_THREE_HALVES_HI, _ATAN_THREE_HALVES_LO
    else:
        num, den, c_hi, c_lo = -1.0, a, _ATAN_INF_HI, _ATAN_INF_LO
    t = _div(num, den)
    z = t * t
    p = _fma(_A11, z, _A10)
    p = _fma(p, z, _A9)
    p = _fma(p, z, _A8)
    p = _fma(p, z, _A7)
    p = _fma(p, z, _A6)
    p = _fma(p, z, _A5)
    p = _fma(p, z, _A4)
    p = _fma(p, z, _A3)
    p = _fma(p, z, _A2)
    p = _fma(p, z, _A1)
    p = _fma(p, z, _A0)
    result = c_hi + (_fma(t * z, p, t) + c_lo)
    return -result if _as_int64(v) < 0 else result
