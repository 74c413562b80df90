"""``fastloss._math`` against mpmath: at most 2 ulp over the whole float64 range.

The error of a result ``y`` for an exact value ``e`` (mpmath, 160 bits) is ``|y - e| / ulp(e)``,
with ``ulp(e) = 2**(max(floor(log2 |e|), -1022) - 52)`` (so subnormal results are measured in
units of the smallest subnormal) and the exponent range taken as unbounded (``inf`` counts as
``2**1024``); a result equal to the correctly rounded ``float(e)`` (``inf`` and ``0`` included)
has error 0.

Most samples go through a vectorized ``@njit`` loop, the way the kernels use these functions;
a test checks that scalar calls give the same bits.
"""

from __future__ import annotations

import math
import re

import llvmlite.binding as llvm
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fastloss import _config
from fastloss._math import atan, exp, log1p, log1pexp

MAX_ULP = 2.0

_MP = mpmath.MPContext()
_MP.prec = 160
_TWO_1024 = _MP.ldexp(1, 1024)
_DBL_MAX = float(np.finfo(np.float64).max)
_INF = math.inf
_NAN = math.nan

# ----------------------------------------------------------------------------------------------
# Exact values and the error measure.


def exact_exp(x: float):
    return _MP.exp(_MP.mpf(x))


def exact_log1p(x: float):
    return _MP.log1p(_MP.mpf(x))


def exact_log1pexp(x: float):
    if x > 1000.0:  # log1p(exp(-x)) < 2**-1440 x: far below half an ulp of x
        return _MP.mpf(x)
    if x < -1000.0:  # the result is below 1e-434: it rounds to 0
        return _MP.mpf(0)
    return _MP.log1p(_MP.exp(_MP.mpf(x)))


def exact_atan(x: float):
    return _MP.atan(_MP.mpf(x))


def ulp_error(got: float, exact) -> float:
    """Error of the float ``got`` in ulps of the real ``exact`` (see the module docstring)."""
    got = float(got)
    if got == float(exact):
        return 0.0
    if math.isnan(got) or exact == 0:
        return _INF
    got_mp = _MP.mpf(got) if math.isfinite(got) else math.copysign(1.0, got) * _TWO_1024
    _, e = _MP.frexp(exact)  # exact = m 2**e, 1/2 <= |m| < 1
    ulp = _MP.ldexp(1, max(int(e) - 1, -1022) - 52)
    return float(abs(got_mp - exact) / ulp)


def max_ulp_error(values: np.ndarray, x: np.ndarray, exact) -> tuple[float, float]:
    """Largest error over the samples, and the sample where it occurs."""
    errors = np.array([ulp_error(y, exact(float(v))) for y, v in zip(values, x, strict=True)])
    worst = int(np.argmax(errors))
    return float(errors[worst]), float(x[worst])


def _vectorized(function):
    @njit(error_model="numpy")
    def loop(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = function(x[i])
        return out

    return loop


exp_loop = _vectorized(exp)
log1p_loop = _vectorized(log1p)
log1pexp_loop = _vectorized(log1pexp)
atan_loop = _vectorized(atan)

CASES = {
    "exp": (exp, exp_loop, exact_exp),
    "log1p": (log1p, log1p_loop, exact_log1p),
    "log1pexp": (log1pexp, log1pexp_loop, exact_log1pexp),
    "atan": (atan, atan_loop, exact_atan),
}

# ----------------------------------------------------------------------------------------------
# (a) Dense random samples over each function's whole range.


def _log_uniform(rng, lo_exp10, hi_exp10, n, signed=False):
    x = 10.0 ** rng.uniform(lo_exp10, hi_exp10, n)
    return x * rng.choice([-1.0, 1.0], n) if signed else x


def _samples(name: str) -> np.ndarray:
    rng = np.random.default_rng(20240611)
    n = 6000
    if name == "exp":
        parts = [
            _log_uniform(rng, -323.5, 2.9, n, signed=True),  # subnormal x ... beyond overflow
            rng.uniform(-746.0, 710.0, n),
            rng.uniform(-1.0, 1.0, n),
            rng.uniform(-745.2, -700.0, n),  # subnormal and smallest normal results
            rng.uniform(700.0, 709.8, n),  # near overflow
        ]
    elif name == "log1p":
        parts = [
            _log_uniform(rng, -323.5, 308.25, n),  # subnormal x ... DBL_MAX
            -_log_uniform(rng, -323.5, 0.0, n),  # (-1, 0)
            -1.0 + _log_uniform(rng, -16.0, -1.0, n),  # close to -1
            rng.uniform(-1.0, 1.0, n),
            rng.uniform(-0.3, 0.5, n),  # around the switch of the mantissa split, k = 0 / +-1
        ]
    elif name == "atan":
        parts = [
            _log_uniform(rng, -323.5, 308.25, n, signed=True),
            rng.uniform(-3.0, 3.0, n),  # the five reduction intervals (switches at 7/16 ... 39/16)
            _log_uniform(rng, -1.0, 0.5, n, signed=True),
        ]
    else:
        parts = [
            _log_uniform(rng, -323.5, 308.25, n, signed=True),
            rng.uniform(-750.0, 50.0, n),
            rng.uniform(-40.0, 40.0, n),
        ]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", list(CASES))
def test_dense_samples_within_2_ulp(name):
    _, loop, exact = CASES[name]
    x = _samples(name)
    worst, at = max_ulp_error(loop(x), x, exact)
    print(f"{name}: max {worst:.3f} ulp at x = {at!r} over {x.size} samples")
    assert worst <= MAX_ULP, (name, worst, at)


def _around(center: float, n: int) -> np.ndarray:
    """``center`` and its ``n`` neighbouring floats on each side."""
    values = [np.float64(center)]
    lo = hi = np.float64(center)
    for _ in range(n):
        lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        values += [lo, hi]
    return np.array(values)


def test_exp_overflow_and_underflow_thresholds():
    # The largest x with a finite exp, the last x with a nonzero (subnormal) exp, the switch
    # from normal to subnormal results: 40 neighbours each side, all within the bound, and the
    # overflow exactly where the correctly rounded exp overflows.
    x = np.concatenate(
        [
            _around(709.782712893384, 40),
            _around(-745.1332191019412, 40),
            _around(-708.3964185322641, 40),
            _around(-744.4400719213812, 40),
        ]
    )
    worst, at = max_ulp_error(exp_loop(x), x, exact_exp)
    assert worst <= MAX_ULP, (worst, at)
    assert exp(709.782712893384) == float(exact_exp(709.782712893384)) < _INF
    assert exp(np.nextafter(709.782712893384, _INF)) == _INF


def test_near_powers_of_two():
    # exp(x) close to every power of two (k switches there), and log1p(x) where 1 + x crosses
    # 2**j and sqrt(2) 2**j (the exponent / mantissa split switches there); the same x for
    # log1pexp (its exp(-|x|) lands next to powers of two).
    x_exp = np.concatenate([_around(j * math.log(2.0), 1) for j in range(-1074, 1024, 7)])
    worst, at = max_ulp_error(exp_loop(x_exp), x_exp, exact_exp)
    assert worst <= MAX_ULP, ("exp", worst, at)
    worst, at = max_ulp_error(log1pexp_loop(x_exp), x_exp, exact_log1pexp)
    assert worst <= MAX_ULP, ("log1pexp", worst, at)
    switches = [2.0**j * s - 1.0 for j in range(-52, 1024, 5) for s in (1.0, math.sqrt(2.0))]
    x_log = np.concatenate([_around(v, 1) for v in switches])
    x_log = x_log[x_log > -1.0]
    worst, at = max_ulp_error(log1p_loop(x_log), x_log, exact_log1p)
    assert worst <= MAX_ULP, ("log1p", worst, at)


# ----------------------------------------------------------------------------------------------
# (b) Hypothesis over all floats.

_ALL_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_SETTINGS = settings(max_examples=400, deadline=None)


@_SETTINGS
@given(x=_ALL_FINITE | st.floats(-746.0, 710.0))
def test_exp_hypothesis(x):
    assert ulp_error(exp(x), exact_exp(x)) <= MAX_ULP


@_SETTINGS
@given(x=_ALL_FINITE | st.floats(-1.0, 10.0, exclude_min=True))
def test_log1p_hypothesis(x):
    if x < -1.0:
        assert math.isnan(log1p(x))
    elif x == -1.0:
        assert log1p(x) == -_INF
    else:
        assert ulp_error(log1p(x), exact_log1p(x)) <= MAX_ULP


@_SETTINGS
@given(x=_ALL_FINITE | st.floats(-750.0, 50.0))
def test_log1pexp_hypothesis(x):
    assert ulp_error(log1pexp(x), exact_log1pexp(x)) <= MAX_ULP


@_SETTINGS
@given(x=_ALL_FINITE | st.floats(-4.0, 4.0))
def test_atan_hypothesis(x):
    assert ulp_error(atan(x), exact_atan(x)) <= MAX_ULP


def test_atan_at_its_interval_switches():
    # The reduction changes formula at |x| = 7/16, 11/16, 19/16, 39/16: 40 neighbours each side.
    x = np.concatenate([_around(s * v, 40) for v in (0.4375, 0.6875, 1.1875, 2.4375) for s in (1.0, -1.0)])
    worst, at = max_ulp_error(atan_loop(x), x, exact_atan)
    assert worst <= MAX_ULP, (worst, at)


# ----------------------------------------------------------------------------------------------
# (c) Edge values.

_TINY = 5e-324
_EPS = 2.0**-52


@pytest.mark.parametrize(
    "x, expected",
    [
        (0.0, 1.0),
        (-0.0, 1.0),
        (_INF, _INF),
        (-_INF, 0.0),
        (_NAN, _NAN),
        (1e-320, 1.0),
        (-1e-320, 1.0),
        (_TINY, 1.0),
        (1e-300, 1.0),
        (709.79, _INF),
        (745.2, _INF),
        (_DBL_MAX, _INF),
        (-745.2, 0.0),
        (-1000.0, 0.0),
        (-_DBL_MAX, 0.0),
        (-745.1, _TINY),
        (-745.1332191019411, _TINY),
    ],
)
def test_exp_special_values(x, expected):
    got = exp(x)
    assert got == expected or (math.isnan(got) and math.isnan(expected))
    assert exp_loop(np.array([x]))[0] == got or math.isnan(got)


@pytest.mark.parametrize(
    "x, expected",
    [
        (0.0, 0.0),
        (-0.0, -0.0),
        (_INF, _INF),
        (-_INF, _NAN),
        (_NAN, _NAN),
        (-1.0, -_INF),
        (-1.0 - _EPS, _NAN),
        (-2.0, _NAN),
        (-_DBL_MAX, _NAN),
        (1e-320, 1e-320),
        (-1e-320, -1e-320),
        (_TINY, _TINY),
        (-_TINY, -_TINY),
        (1e-300, 1e-300),
        (-1e-300, -1e-300),
        (2.0**-60, float(exact_log1p(2.0**-60))),
    ],
)
def test_log1p_special_values(x, expected):
    got = log1p(x)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected
        assert math.copysign(1.0, got) == math.copysign(1.0, expected)
    assert log1p_loop(np.array([x]))[0] == got or math.isnan(got)


@pytest.mark.parametrize(
    "x, expected",
    [
        (_INF, _INF),
        (-_INF, 0.0),
        (_NAN, _NAN),
        (_DBL_MAX, _DBL_MAX),
        (1e300, 1e300),
        (40.0, 40.0),
        (-745.2, 0.0),
        (-_DBL_MAX, 0.0),
        (-745.1, _TINY),
        (-1e-320, math.log(2.0)),
        (0.0, math.log(2.0)),
    ],
)
def test_log1pexp_special_values(x, expected):
    got = log1pexp(x)
    assert got == expected or (math.isnan(got) and math.isnan(expected))
    assert log1pexp_loop(np.array([x]))[0] == got or math.isnan(got)


@pytest.mark.parametrize(
    "x, expected",
    [
        (0.0, 0.0),
        (-0.0, -0.0),
        (_INF, math.pi / 2),
        (-_INF, -math.pi / 2),
        (_NAN, _NAN),
        (_TINY, _TINY),
        (-_TINY, -_TINY),
        (1e-300, 1e-300),
        (_DBL_MAX, math.pi / 2),
        (-_DBL_MAX, -math.pi / 2),
        (1.0, math.pi / 4),
        (-1.0, -math.pi / 4),
    ],
)
def test_atan_special_values(x, expected):
    got = atan(x)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected
        assert math.copysign(1.0, got) == math.copysign(1.0, expected)
    assert atan_loop(np.array([x]))[0] == got or math.isnan(got)


_EDGE_X = [
    0.0, -0.0, 1e-320, -1e-320, _TINY, -_TINY, 2.0**-1022, 1e-300, -1e-300, 1e-17, -1e-17,
    2.0**-53, -(2.0**-53), 2.0**-54, _EPS, 1.0, -1.0 + 2.0**-53, -1.0 + _EPS, -0.5, 0.5,
    math.sqrt(2.0) - 1.0, math.sqrt(0.5) - 1.0, 1.0, 2.0, 18.0, 33.3, 36.0, 37.0, -18.0, -33.3,
    -37.0, -1.0, 700.0, 709.0, 709.78, 709.79, -708.0, -708.4, -709.0, -740.0, -745.0, -745.1,
    -745.13, -745.2, 2.0**53, 2.0**53 + 2.0, 2.0**54 + 4.0, 1e16, 1e20, 1e300, _DBL_MAX,
]  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_edge_values_within_2_ulp(name):
    function, _, exact = CASES[name]
    x = np.array(_EDGE_X)
    if name == "log1p":
        x = x[x > -1.0]
    if name == "atan":
        x = np.concatenate([x, -x])
    worst, at = max_ulp_error([function(v) for v in x], x, exact)
    assert worst <= MAX_ULP, (name, worst, at)


# ----------------------------------------------------------------------------------------------
# (d) The same bits everywhere; any real argument; and the loop is vectorized.


@pytest.mark.parametrize("name", list(CASES))
def test_scalar_calls_match_the_vectorized_loop(name):
    function, loop, _ = CASES[name]
    x = _samples(name)[::25]
    x = np.concatenate([x, [0.0, -0.0, _INF, -_INF, _NAN, -1.0, -2.0]])
    scalar = np.array([function(v) for v in x])
    np.testing.assert_array_equal(loop(x).view(np.int64), scalar.view(np.int64))


@pytest.mark.parametrize("name", list(CASES))
def test_float32_and_int_arguments_are_computed_in_float64(name):
    function, _, _ = CASES[name]
    for v in (np.float32(0.3), np.float32(-0.75), np.float32(87.5), np.float32(3e-38)):
        assert function(v) == function(float(v))
    assert function(np.int64(3)) == function(3) == function(3.0)


def _loop_compiled_with(function, **options):
    @njit(**options)
    def loop(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = function(x[i])
        return out

    return loop


@pytest.mark.parametrize("name", list(CASES))
def test_callers_fastmath_flags_and_error_model_do_not_change_the_bits(name):
    # The functions are inlined into their caller and lowered with its flags: the project's
    # fast-math flags must leave every bit alone, and Numba's default error model (division
    # checks) must neither raise nor change anything.
    function, loop, _ = CASES[name]
    x = np.concatenate([_samples(name)[::10], [0.0, -0.0, _INF, -_INF, _NAN, -1.0, -2.0]])
    expected = loop(x).view(np.int64)
    fast_loop = _loop_compiled_with(function, fastmath=set(_config.FASTMATH), error_model="numpy")
    np.testing.assert_array_equal(fast_loop(x).view(np.int64), expected)
    python_error_model_loop = _loop_compiled_with(function)
    np.testing.assert_array_equal(python_error_model_loop(x).view(np.int64), expected)


_HAS_AVX2_FMA = all(llvm.get_host_cpu_features().get(f, False) for f in ("avx2", "fma"))


@pytest.mark.skipif(not _HAS_AVX2_FMA, reason="the vector-instruction check is for x86 AVX2+FMA")
@pytest.mark.parametrize("name", list(CASES))
def test_loop_is_vectorized_without_libm_calls(name):
    _, loop, _ = CASES[name]
    asm = loop.inspect_asm(loop.signatures[0])
    vector_fma = re.findall(r"vfmadd\w*pd\s[^\n]*%[yz]mm", asm)
    assert len(vector_fma) >= 5, "the loop over the function did not vectorize"
    assert not re.search(r"\$(exp|log1p|log)\b", asm), "the loop calls libm"
