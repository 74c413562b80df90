"""The table of comparisons: every operation of fastloss against the NumPy reference, in one place.

``COMPARISONS`` maps an operation to a :class:`Comparison`: how to compute it with fastloss, how with
the reference (``fastloss.reference``, or a plain formula written here where the reference has
none), optionally how with scikit-learn, and how close they must be. An operation reads its inputs
from a :class:`Problem`, the data of one :class:`Case` (a loss, a data format, the intercept,
weights, L2, ...), built once per process and shared by every operation of that case.

``CASES`` lists, per test module, the cases it runs; :func:`rows` crosses them with the operations
that apply to them, so a test module's reference test is just::

    @pytest.mark.parametrize("op, case", rows("objective"))
    def test_matches_reference(op, case):
        check(op, case)

A new operation is one entry of ``COMPARISONS``; a new loss is in every row through the registry.

Compile budget: most of the suite's time is Numba compiling each (kernel, argument types) once per
process. Every case uses one of the formats the suite compiles anyway (``conftest.FORMATS``), and
each operation's ``applies`` keeps it off the formats whose kernel the suite does not compile
elsewhere (the multinomial Hessian-vector kernels on float32 CSR). The binary losses share every
kernel (they differ by a loop of their own, compiled once per loss and mode whatever the format),
so crossing losses with formats costs run time only.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import FORMATS, D, N, awkward_csr, canonical_f64, coef_for, directions, make_problem
from numba import njit

import fastloss
from fastloss import losses
from fastloss import reference as R

BINARY = losses.BINARY_LOSSES
MULTINOMIAL = "multinomial"
DENSE = ("C64", "F64", "C32", "F32")


# ==================================================================================================
# Cases: what one comparison runs on
# ==================================================================================================

@dataclass(frozen=True)
class Case:
    """One point of the cross-product: ``api`` says which kind of operation reads it.

    ``fmt``: a data format of ``conftest.FORMATS`` for the objective (CSR cases are awkward: empty
    rows, explicit zeros, unsorted and duplicate entries); the dtype of the raw scores (``"f64"``,
    ``"f32"``) for the pointwise API; for the metric, the layout and dtype of ``y_pred``.
    """

    api: str                          # "pointwise", "objective", "dask", "kernels", "metric"
    loss: str
    fmt: str = "C64"
    fit_intercept: bool = True
    weighted: bool = False
    l2: float = 0.0
    n_threads: int | None = None
    n_classes: int = 3                # multinomial only
    n_features: int = D
    labels: str = ""                  # binary: "01", "pm1" or "soft" ("" = 01 for logistic, else pm1)
    marks: tuple = field(default=(), compare=False)

    @property
    def multinomial(self) -> bool:
        return self.loss == MULTINOMIAL

    @property
    def float32(self) -> bool:
        return "32" in self.fmt

    @property
    def id(self) -> str:
        parts = [self.loss, self.fmt]
        if self.api in ("objective", "dask") or (self.api == "kernels" and self.fmt in ("C64", "CSR64")):
            parts.append("intercept" if self.fit_intercept else "no-intercept")
        parts.append("sw" if self.weighted else "plain")
        if self.l2:
            parts.append(f"l2={self.l2:g}")
        if self.n_threads:
            parts.append(f"{self.n_threads}thr")
        if self.multinomial and self.api != "metric":
            parts.append(f"K={self.n_classes}")
        if self.n_features != D:
            parts.append(f"d={self.n_features}")
        if self.labels:
            parts.append(self.labels)
        return "-".join(parts)


def _options(full: bool):
    """(fit_intercept, weighted, l2) triples: the full product, or intercept x (weights and L2 together)."""
    if full:
        return list(itertools.product([True, False], [False, True], [0.0, 0.7]))
    return [(True, True, 0.7), (False, False, 0.0), (True, False, 0.0), (False, True, 0.7)]


def _binary_dense_cases():
    """logistic: every dense format x intercept x weights x L2, on 1 or 2 threads (each format
    meets both thread counts with and without each option); every other binary loss: every dense
    format twice, so that it meets the intercept, weights and L2 and their absence on each dtype
    and layout; logistic with soft labels."""
    cases = []
    for fmt in DENSE:
        for fi, w, l2 in _options(full=True):
            cases.append(Case("objective", "logistic", fmt, fi, w, l2, n_threads=2 if fi == (l2 == 0) else 1))
    pairs = {"C64": (0, 1), "F32": (0, 1), "F64": (2, 3), "C32": (2, 3)}
    for loss in (name for name in BINARY if name != "logistic"):
        for fmt, picks in pairs.items():
            for j in picks:
                fi, w, l2 = _options(full=False)[j]
                cases.append(Case("objective", loss, fmt, fi, w, l2))
    cases.append(Case("objective", "logistic", "C64", True, True, 0.7, labels="soft"))
    return cases


def _sparse_cases():
    """Awkward CSR: float64 data with int32 indices (SciPy's default) and float32 data with int64
    indices (the other dtype of each; it compiles every binary kernel once more, hence ``slow``),
    for every binary loss x intercept x (weights and L2), logistic with the full product; the
    multinomial loss on the first."""
    cases = []
    for fmt, marks in (("CSR64", ()), ("CSR32-i64", (pytest.mark.slow,))):
        for loss in BINARY:
            for fi, w, l2 in _options(full=loss == "logistic"):
                cases.append(Case("objective", loss, fmt, fi, w, l2, marks=marks))
    for fi, w, l2 in _options(full=False):
        cases.append(Case("objective", MULTINOMIAL, "CSR64", fi, w, l2))
    return cases


def _multinomial_cases():
    """Every dense format and float32 CSR x intercept x weights x L2, with 2, 3 and 7 classes in
    turn; wide X (d = 19: the tiled dense kernels) with 2, 5 and 10 classes; the pointwise API and
    the pointwise kernel for both dtypes, with and without weights."""
    cases = []
    for fmt in DENSE + ("CSR32",):
        for i, (fi, w, l2) in enumerate(_options(full=True)):
            cases.append(Case("objective", MULTINOMIAL, fmt, fi, w, l2, n_classes=(3, 2, 7)[i % 3]))
    for fmt in ("C64", "C32", "F64"):
        for K in (2, 5, 10):
            cases.append(Case("objective", MULTINOMIAL, fmt, True, True, 0.2, n_classes=K, n_features=19))
    for dtype in ("f64", "f32"):
        for weighted in (False, True):
            cases.append(Case("pointwise", MULTINOMIAL, dtype, weighted=weighted, n_classes=4))
            cases.append(Case("kernels", MULTINOMIAL, dtype, weighted=weighted, n_classes=4))
    return cases


def _kernel_cases():
    """The @njit kernels called from a user's @njit code: per-sample functions of every binary
    loss; the binary pointwise kernel and the CSR objective kernel for every binary loss; the
    multinomial objective kernels on C-ordered float64 X and on CSR (whose partial sums are kept
    interleaved and turned back into rows by the compiled driver)."""
    cases = [Case("kernels", loss, "scalar") for loss in BINARY]
    cases += [Case("kernels", loss, "f64", weighted=w) for loss in BINARY for w in (False, True)]
    cases += [Case("kernels", loss, "CSR64", fit_intercept=fi, weighted=fi) for loss in BINARY for fi in (True, False)]
    cases += [Case("kernels", MULTINOMIAL, "C64", fi, w, n_classes=4)
              for fi, w in itertools.product([True, False], [False, True])]
    cases += [Case("kernels", MULTINOMIAL, "CSR64", fi, fi, n_classes=4) for fi in (True, False)]
    return cases


def _dask_cases():
    """The dask executor (local scheduler) on the single-machine data."""
    return [Case("dask", "logistic", "C64", True, True, 0.3),
            Case("dask", "modified_huber", "C64", False, False, 0.3),
            Case("dask", MULTINOMIAL, "C64", False, True, 0.5, n_classes=4)]


def _metric_cases():
    """log_loss: binary probabilities as (n,), (n, 1) and (n, 2); 7 classes; float64 and float32,
    with and without weights."""
    return [Case("metric", loss, f"{layout}-{dtype}", weighted=weighted)
            for loss, layouts in (("logistic", ("1d", "n_by_1", "n_by_2")), (MULTINOMIAL, ("n_by_K",)))
            for layout in layouts for dtype in ("f64", "f32") for weighted in (False, True)]


CASES: dict[str, list[Case]] = {
    "pointwise": [Case("pointwise", loss, dtype, weighted=w) for loss in BINARY
                  for dtype in ("f64", "f32") for w in (False, True)]
    + [Case("pointwise", "logistic", "f64", weighted=w, labels="soft") for w in (False, True)],
    "objective": _binary_dense_cases(),
    "sparse": _sparse_cases(),
    "multinomial": _multinomial_cases(),
    "kernels": _kernel_cases(),
    "dask": _dask_cases(),
    "metric": _metric_cases(),
}


# ==================================================================================================
# Problems: the data of a case, built once per process
# ==================================================================================================

class Problem:
    """The data of one case, as fastloss gets it (``X``, ``y``, ``sw``, ``raw``) and as the reference
    gets it (``Xr``), the coefficients ``coef``, one direction ``v`` shaped like ``coef`` and three
    directions ``V`` (``(n_coef, 3)``); copies of every input, to check that nothing changed them."""

    def __init__(self, case: Case, **arrays):
        self.case = case
        self.loss = case.loss
        self.__dict__.update(arrays)
        self._inputs = {k: _copy(v) for k, v in arrays.items()}

    @property
    def kw(self) -> dict:
        """Keyword arguments of the objective (and of the reference's objective functions)."""
        c = self.case
        return dict(l2=c.l2, fit_intercept=c.fit_intercept, sample_weight=self.sw)

    @functools.cached_property
    def obj(self):
        c = self.case
        if c.api == "dask":
            import dask
            import dask.array as da

            from fastloss.dask import LinearObjective as DaskObjective

            with dask.config.set(scheduler="sync"):  # wins over a distributed client that may be active
                return DaskObjective(da.from_array(self.X, chunks=(700, self.X.shape[1])), self.y, c.loss,
                                     **self.kw)
        return fastloss.LinearObjective(self.X, self.y, c.loss, n_threads=c.n_threads, **self.kw)

    @property
    def L(self):
        return fastloss.get_loss(self.loss)

    def weighted(self, values):
        """Per-sample (or per-score) ``values`` times the sample weights, if any."""
        if self.sw is None:
            return values
        return values * (self.sw[:, None] if np.ndim(values) == 2 else self.sw)

    def unchanged(self):
        for name, before in self._inputs.items():
            _assert_same(getattr(self, name), before, name)


def _copy(a):
    if sp.issparse(a):
        return (a.data.copy(), a.indices.copy(), a.indptr.copy())
    return np.copy(a) if isinstance(a, np.ndarray) else a


def _assert_same(a, before, name):
    if sp.issparse(a):
        for x, y in zip((a.data, a.indices, a.indptr), before, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"{name} was modified")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, before, err_msg=f"{name} was modified")


def _binary_labels(case, rng, n):
    kind = case.labels or ("01" if case.loss == "logistic" else "pm1")
    if kind == "soft":
        return rng.random(n)
    y = (rng.random(n) < 0.4).astype(np.float64)
    return 2 * y - 1 if kind == "pm1" else y


#: Rows of the CSR cases: a CSR X of a few thousand rows is one chunk all the same (CSR chunks
#: follow the stored entries), so a few hundred awkward rows cost the reference less.
CSR_ROWS = 300


@functools.cache
def _objective_X(fmt, n_features):
    """The objective's X in ``fmt``: dense from ``conftest.make_problem`` (N rows: several chunks);
    CSR awkward (``CSR_ROWS`` rows)."""
    dtype, layout = FORMATS[fmt]
    if fmt.startswith("CSR"):
        return awkward_csr(CSR_ROWS, n_features, dtype=dtype, index_dtype=layout, seed=n_features)
    return make_problem(n=N, d=n_features, dtype=dtype, order=layout)[0]


@functools.cache
def problem(case: Case) -> Problem:
    """The problem of ``case`` (cached: every operation of a case reads the same arrays)."""
    rng = np.random.default_rng(7)
    if case.api in ("objective", "dask") or (case.api == "kernels" and case.fmt in ("C64", "CSR64")):
        X = _objective_X(case.fmt, case.n_features)
        n = X.shape[0]
        y = rng.integers(0, case.n_classes, n) if case.multinomial else _binary_labels(case, rng, n)
        sw = rng.uniform(0.1, 2.0, n) if case.weighted else None
        K = case.n_classes if case.multinomial else 1
        p = case.n_features + case.fit_intercept
        shape = (K, p) if case.multinomial else (p,)
        coef = coef_for(shape, seed=1, scale=0.5)
        V = directions(coef.size, k=3, seed=3)
        v = np.random.default_rng(5).standard_normal(shape)
        return Problem(case, X=X, Xr=canonical_f64(X), y=y, sw=sw, coef=coef, v=v, V=V)
    if case.api == "metric":
        return _metric_problem(case)
    if case.fmt == "scalar":  # per-sample functions: ordinary scores, kinks and tails
        z = np.r_[rng.standard_normal(200) * 3, -40.0, -2.0, -1.0, 0.0, 1.0, 2.0, 40.0]
        return Problem(case, y=(rng.random(z.size) < 0.5).astype(np.float64), raw=z, sw=None)
    # pointwise scores: (n,) binary, (n, K) multinomial
    dtype = np.float32 if case.fmt == "f32" else np.float64
    n = 2500
    if case.multinomial:
        raw = rng.standard_normal((n, case.n_classes)) * 3
        y = rng.integers(0, case.n_classes, n)
    else:
        raw = rng.standard_normal(n) * 3
        y = rng.random(n) if case.labels == "soft" else (rng.random(n) < 0.5).astype(np.int64)
    sw = rng.uniform(0.1, 2.0, n) if case.weighted else None
    return Problem(case, y=y, raw=raw.astype(dtype), raw64=raw.astype(dtype).astype(np.float64), sw=sw)


# ==================================================================================================
# The table
# ==================================================================================================

@dataclass(frozen=True)
class Comparison:
    """How to compute one operation with fastloss, with the reference and (optionally) with
    scikit-learn, from a :class:`Problem`; how close fastloss must be to each (``rtol``, ``atol``,
    functions of the case); and which cases it applies to."""

    api: tuple[str, ...]
    fastloss: Callable[[Problem], Any]
    reference: Callable[[Problem], Any]
    tol: Callable[[Case], dict]
    applies: Callable[[Case], bool] = lambda case: True
    sklearn: Callable[[Problem], Any] | None = None
    sklearn_tol: Callable[[Case], dict] | None = None
    dtype: Callable[[Case], Any] = lambda case: np.float64   # of every array fastloss returns


# --- objective (LinearObjective and its dask executor) ---------------------------------------------

def _ref(function, p, *args):
    kw = dict(p.kw, n_classes=p.case.n_classes if p.case.multinomial else None)
    return function(p.loss, p.Xr, p.y, p.coef, *args, **kw)


def _gradient_hessp(p):
    grad, hessp = p.obj.gradient_hessp(p.coef)
    return grad, hessp(p.v), hessp(p.V)


#: The objective's methods: float64 whatever X's dtype (float32 X is read as float32 by both sides,
#: so only the order of the float64 additions differs).
OBJECTIVE_TOL = dict(rtol=1e-10, atol=1e-12)
_OBJECTIVE = ("objective", "dask")
# The multinomial Hessian-vector kernels are not compiled for float32 CSR anywhere in the suite.
_multinomial_hessp_compiled = lambda c: not (c.multinomial and c.fmt == "CSR32")  # noqa: E731

OBJECTIVE_COMPARISONS = {
    "objective.loss": Comparison(
        _OBJECTIVE, lambda p: p.obj.loss(p.coef), lambda p: _ref(R.objective_loss, p),
        tol=lambda c: OBJECTIVE_TOL),
    "objective.gradient": Comparison(
        _OBJECTIVE, lambda p: p.obj.gradient(p.coef), lambda p: _ref(R.objective_gradient, p),
        tol=lambda c: OBJECTIVE_TOL),
    "objective.loss_gradient": Comparison(
        _OBJECTIVE, lambda p: p.obj.loss_gradient(p.coef),
        lambda p: (_ref(R.objective_loss, p), _ref(R.objective_gradient, p)), tol=lambda c: OBJECTIVE_TOL),
    # one direction shaped like coef, and three at once (one pass over X)
    "objective.hessp": Comparison(
        _OBJECTIVE, lambda p: (p.obj.hessp(p.coef, p.v), p.obj.hessp(p.coef, p.V)),
        lambda p: (_ref(R.objective_hessp, p, p.v), _ref(R.objective_hessp, p, p.V)),
        tol=lambda c: OBJECTIVE_TOL, applies=_multinomial_hessp_compiled),
    "objective.gradient_hessp": Comparison(
        _OBJECTIVE, _gradient_hessp,
        lambda p: (_ref(R.objective_gradient, p), _ref(R.objective_hessp, p, p.v), _ref(R.objective_hessp, p, p.V)),
        tol=lambda c: OBJECTIVE_TOL, applies=_multinomial_hessp_compiled),
    "objective.hessian_diag": Comparison(
        _OBJECTIVE, lambda p: p.obj.hessian_diag(p.coef), lambda p: _ref(R.objective_hessian_diag, p),
        tol=lambda c: OBJECTIVE_TOL, applies=_multinomial_hessp_compiled),
    # (not on wide X: the reference's multinomial Hessian costs n K^2 p^2, and the Gram kernels
    # behind hessian() are checked at every tile size in test_kernels)
    "objective.hessian": Comparison(
        _OBJECTIVE, lambda p: p.obj.hessian(p.coef), lambda p: _ref(R.objective_hessian, p),
        tol=lambda c: OBJECTIVE_TOL, applies=lambda c: _multinomial_hessp_compiled(c) and c.n_features == D),
}


# --- pointwise API (get_loss) ----------------------------------------------------------------------

def _pointwise_tol(case):
    return dict(rtol=1e-6, atol=1e-6) if case.float32 else dict(rtol=1e-13, atol=1e-14)


def _mean_tol(case):
    return dict(rtol=1e-6 if case.float32 else 1e-12, atol=0.0)


def _sk_loss(p):
    """scikit-learn's loss object and the labels and weights in the dtype of the scores (its
    Cython loops take one floating dtype)."""
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss

    loss = HalfMultinomialLoss(n_classes=p.case.n_classes) if p.case.multinomial else HalfBinomialLoss()
    dtype = p.raw.dtype
    sw = None if p.sw is None else p.sw.astype(dtype)
    return loss, np.asarray(p.y, dtype=dtype), sw


def _sk(method):
    def compute(p):
        loss, y, sw = _sk_loss(p)
        return getattr(loss, method)(y_true=y, raw_prediction=p.raw, sample_weight=sw)
    return compute


def _sk_mean(p):
    loss, y, _ = _sk_loss(p)
    return float(np.average(loss.loss(y_true=y, raw_prediction=p.raw), weights=p.sw))


_with_sklearn = lambda c: c.loss in ("logistic", MULTINOMIAL) and c.labels != "soft"  # noqa: E731
_SK_TOL = lambda c: dict(rtol=1e-5, atol=1e-6) if c.float32 else dict(rtol=1e-12, atol=1e-13)  # noqa: E731
_raw_dtype = lambda c: np.float32 if c.float32 else np.float64  # noqa: E731


def _point(p, which):
    return p.weighted(which(p.loss, p.y, p.raw64))


POINTWISE_COMPARISONS = {
    "pointwise.loss": Comparison(
        ("pointwise",), lambda p: p.L.loss(p.y, p.raw, sample_weight=p.sw), lambda p: _point(p, R.point_loss),
        tol=_pointwise_tol, dtype=_raw_dtype, sklearn=_sk("loss"), sklearn_tol=_SK_TOL),
    "pointwise.gradient": Comparison(
        ("pointwise",), lambda p: p.L.gradient(p.y, p.raw, sample_weight=p.sw),
        lambda p: _point(p, R.point_gradient), tol=_pointwise_tol, dtype=_raw_dtype,
        sklearn=_sk("gradient"), sklearn_tol=_SK_TOL),
    "pointwise.loss_gradient": Comparison(
        ("pointwise",), lambda p: p.L.loss_gradient(p.y, p.raw, sample_weight=p.sw),
        lambda p: (_point(p, R.point_loss), _point(p, R.point_gradient)), tol=_pointwise_tol, dtype=_raw_dtype,
        sklearn=_sk("loss_gradient"), sklearn_tol=_SK_TOL),
    # binary scores may come as a column: the outputs are (n,) all the same
    "pointwise.loss_gradient(n,1)": Comparison(
        ("pointwise",), lambda p: p.L.loss_gradient(p.y, p.raw[:, None], sample_weight=p.sw),
        lambda p: (_point(p, R.point_loss), _point(p, R.point_gradient)), tol=_pointwise_tol, dtype=_raw_dtype,
        applies=lambda c: not c.multinomial),
    "pointwise.gradient_hessian": Comparison(
        ("pointwise",), lambda p: p.L.gradient_hessian(p.y, p.raw, sample_weight=p.sw),
        lambda p: (_point(p, R.point_gradient), _point(p, R.point_hessian)), tol=_pointwise_tol,
        dtype=_raw_dtype, sklearn=_sk("gradient_hessian"), sklearn_tol=_SK_TOL),
    "pointwise.mean_loss": Comparison(
        ("pointwise",), lambda p: p.L.mean_loss(p.y, p.raw, sample_weight=p.sw),
        lambda p: R.mean_loss(p.loss, p.y, p.raw64, p.sw), tol=_mean_tol, sklearn=_sk_mean, sklearn_tol=_SK_TOL),
}


# --- the @njit kernels, called from a user's @njit code ---------------------------------------------

@functools.cache
def _per_sample_njit(name):
    """A user's ``@njit`` loop over the three per-sample functions of binary loss ``name``."""
    value = getattr(losses, f"{name}_value")
    gradient = getattr(losses, f"{name}_gradient")
    hessian = getattr(losses, f"{name}_hessian")

    @njit
    def evaluate(y, z):
        out = np.empty((3, z.size))
        for i in range(z.size):
            out[0, i] = value(y[i], z[i])
            out[1, i] = gradient(y[i], z[i])
            out[2, i] = hessian(y[i], z[i])
        return out

    return evaluate


@functools.cache
def _user_kernels():
    """A user's ``@njit`` functions driving the kernels in their documented argument order (the
    loss id and the number of classes are run-time arguments: one compilation serves every loss).

    Nothing here starts Numba's threading layer: importing the kernels does (linking a parallel
    kernel loaded from the disk cache into new @njit code in a process where nothing had started
    it aborted the interpreter, "LLVM ERROR: Symbol not found: allocate_sched").
    """
    from fastloss.kernels import CSR, linear
    from fastloss.kernels import multinomial as MK
    from fastloss.kernels import pointwise as PK

    @njit
    def binary_pointwise(y, raw, sw, loss_id):
        loss_out = np.empty(raw.size)
        grad_out = np.empty(raw.size)
        total, weight = PK.binary_pointwise(y, raw, sw, loss_id, loss_out, grad_out, np.empty(0))
        return total, weight, loss_out, grad_out

    @njit
    def csr_loss_gradient(data, indices, indptr, n_cols, y, sw, coef, fit_intercept, loss_id):
        grad = np.empty(coef.size)
        value = linear.loss_gradient(CSR(data, indices, indptr, n_cols), y, sw, coef, fit_intercept, loss_id,
                                     True, grad, np.empty(0))
        return value, grad

    @njit
    def multinomial_loss_gradient_hessp(X, y, sw, coef, fit_intercept, n_classes, V):
        grad = np.empty(coef.size)
        proba = np.empty(y.size * n_classes)
        value = MK.loss_gradient(X, y, sw, coef, fit_intercept, n_classes, True, grad, proba)
        Hv = np.empty_like(V)
        MK.hessp(X, y, sw, coef, fit_intercept, n_classes, proba, V, Hv)
        return value, grad, Hv

    return binary_pointwise, csr_loss_gradient, multinomial_loss_gradient_hessp


def _empty_or(sw):
    return np.empty(0) if sw is None else sw


def _weight_sum(p):
    return float(p.y.shape[0]) if p.sw is None else float(np.sum(p.sw))


def _kernel_binary_pointwise(p):
    from fastloss.kernels import prepare

    prepare(p.loss, ("value_gradient",))
    y01 = (p.y > 0).astype(np.float64)
    total, weight, loss_out, grad_out = _user_kernels()[0](y01, p.raw, _empty_or(p.sw), losses.LOSS_IDS[p.loss])
    return total, weight, loss_out, grad_out


def _reference_binary_pointwise(p):
    loss = _point(p, R.point_loss)
    return float(np.sum(loss)), _weight_sum(p), loss, _point(p, R.point_gradient)


def _kernel_csr_loss_gradient(p):
    """The kernel's unnormalized sums, divided by the weight sum: the objective without L2."""
    from fastloss.kernels import prepare

    prepare(p.loss, ("value_gradient",))
    y01 = (p.y > 0).astype(np.float64)
    value, grad = _user_kernels()[1](p.X.data, p.X.indices, p.X.indptr, p.X.shape[1], y01, _empty_or(p.sw),
                                     p.coef, p.case.fit_intercept, losses.LOSS_IDS[p.loss])
    return value / _weight_sum(p), grad / _weight_sum(p)


def _kernel_multinomial(p):
    from fastloss.kernels import CSR

    W = p.coef.reshape(-1)
    V = p.V.T.copy()  # (k, n_coef): one direction per row
    X = p.X if isinstance(p.X, np.ndarray) else CSR(p.X.data, p.X.indices, p.X.indptr, p.X.shape[1])
    value, grad, Hv = _user_kernels()[2](X, p.y, _empty_or(p.sw), W, p.case.fit_intercept, p.case.n_classes, V)
    s = _weight_sum(p)
    return value / s, grad.reshape(p.coef.shape) / s, Hv.T / s


def _reference_without_l2(p, *functions):
    kw = dict(p.kw, l2=0.0, n_classes=p.case.n_classes if p.case.multinomial else None)
    out = []
    for function, *args in functions:
        out.append(function(p.loss, p.Xr, p.y, p.coef, *args, **kw))
    return tuple(out)


def _kernel_multinomial_pointwise(p):
    from fastloss.kernels import pointwise as PK

    n, K = p.raw.shape
    dtype = p.raw.dtype
    loss, grad, hess = np.empty(n, dtype), np.empty((n, K), dtype), np.empty((n, K), dtype)
    total, weight = PK.multinomial_pointwise(p.y, p.raw, _empty_or(p.sw), loss, grad, hess)
    return total, weight, loss, grad, hess


def _reference_multinomial_pointwise(p):
    loss = _point(p, R.point_loss)
    return (float(np.sum(loss)), _weight_sum(p), loss, _point(p, R.point_gradient), _point(p, R.point_hessian))


def _sk_multinomial_pointwise(p):
    sk, y, sw = _sk_loss(p)
    loss = sk.loss(y_true=y, raw_prediction=p.raw, sample_weight=sw)
    grad, hess = sk.gradient_hessian(y_true=y, raw_prediction=p.raw, sample_weight=sw)
    return float(np.sum(loss, dtype=np.float64)), _weight_sum(p), loss, grad, hess


def _per_sample(row):
    return lambda p: _per_sample_njit(p.loss)(p.y, p.raw)[row]


_TAIL = dict(atol=1e-300)  # values of ~1e-300 are compared relatively, not absorbed by an atol
_kernel_fmt = lambda *fmts: (lambda c: c.fmt in fmts)  # noqa: E731

KERNEL_COMPARISONS = {
    "kernels.per_sample.value": Comparison(
        ("kernels",), _per_sample(0), lambda p: R.point_loss(p.loss, p.y, p.raw),
        tol=lambda c: dict(rtol=1e-13, **_TAIL), applies=_kernel_fmt("scalar")),
    "kernels.per_sample.gradient": Comparison(
        ("kernels",), _per_sample(1), lambda p: R.point_gradient(p.loss, p.y, p.raw),
        tol=lambda c: dict(rtol=1e-13, **_TAIL), applies=_kernel_fmt("scalar")),
    "kernels.per_sample.hessian": Comparison(
        ("kernels",), _per_sample(2), lambda p: R.point_hessian(p.loss, p.y, p.raw),
        tol=lambda c: dict(rtol=1e-12, **_TAIL), applies=_kernel_fmt("scalar")),
    "kernels.pointwise.binary_pointwise": Comparison(
        ("kernels",), _kernel_binary_pointwise, _reference_binary_pointwise,
        tol=lambda c: dict(rtol=1e-13, **_TAIL), applies=lambda c: c.fmt == "f64" and not c.multinomial),
    "kernels.linear.loss_gradient": Comparison(
        ("kernels",), _kernel_csr_loss_gradient,
        lambda p: _reference_without_l2(p, (R.objective_loss,), (R.objective_gradient,)),
        tol=lambda c: OBJECTIVE_TOL, applies=lambda c: c.fmt == "CSR64" and not c.multinomial),
    "kernels.multinomial.loss_gradient_hessp": Comparison(
        ("kernels",), _kernel_multinomial,
        lambda p: _reference_without_l2(p, (R.objective_loss,), (R.objective_gradient,),
                                        (R.objective_hessp, p.V)),
        tol=lambda c: OBJECTIVE_TOL, applies=lambda c: c.multinomial and c.fmt in ("C64", "CSR64")),
    "kernels.pointwise.multinomial_pointwise": Comparison(
        ("kernels",), _kernel_multinomial_pointwise, _reference_multinomial_pointwise,
        tol=lambda c: dict(rtol=2e-7, atol=1e-300) if c.float32 else dict(rtol=1e-13, atol=1e-300),
        applies=lambda c: c.multinomial and c.fmt in ("f64", "f32"),
        dtype=_raw_dtype, sklearn=_sk_multinomial_pointwise, sklearn_tol=_SK_TOL),
}


# --- the metric ------------------------------------------------------------------------------------

def reference_log_loss(class_index, proba, weights=None, normalize=True):
    """Plain NumPy: clip with eps of the dtype, -log in the dtype, exact (fsum) float64 sum."""
    proba = np.asarray(proba)
    eps = np.finfo(proba.dtype).eps
    if proba.ndim == 1:
        proba = np.stack([1 - proba, proba], axis=1)
    p = np.clip(proba[np.arange(proba.shape[0]), class_index], eps, 1 - eps)
    losses_ = -np.log(p).astype(np.float64)
    w = np.ones_like(losses_) if weights is None else np.asarray(weights, dtype=np.float64)
    total = math.fsum(losses_ * w)
    return total / math.fsum(w) if normalize else total


def random_proba(rng, n, n_classes, dtype=np.float64):
    proba = rng.random((n, n_classes)) + 1e-3
    proba /= proba.sum(axis=1, keepdims=True)
    return proba.astype(dtype)


def _metric_problem(case):
    rng = np.random.default_rng(20260101)
    layout, dtype = case.fmt.split("-")
    dtype = np.float32 if dtype == "f32" else np.float64
    if case.multinomial:
        n = 5000
        y = rng.integers(0, 7, n)
        y_pred = random_proba(rng, n, 7, dtype)
        sw = rng.integers(0, 4, n) if case.weighted else None  # integer weights, zeros among them
        return Problem(case, y=y, y_pred=y_pred, proba=y_pred, sw=sw)
    n = 3001
    y = rng.integers(0, 2, n)
    positive = rng.random(n).astype(dtype)
    y_pred = {"1d": positive, "n_by_1": positive[:, None], "n_by_2": np.stack([1 - positive, positive], axis=1)}[layout]
    sw = rng.random(n) * 3 if case.weighted else None
    return Problem(case, y=y, y_pred=y_pred, proba=positive, sw=sw)


def _sklearn_log_loss(p, normalize):
    from sklearn.metrics import log_loss

    return log_loss(p.y, p.y_pred, normalize=normalize, sample_weight=p.sw)  # y_pred by position (1.9 renamed it)


_METRIC_TOL = lambda c: dict(rtol=1e-6 if c.float32 else 1e-13, atol=0.0)  # noqa: E731
# scikit-learn evaluates and sums float32 input in float32; fastloss sums in float64.
_SK_METRIC_TOL = lambda c: dict(rtol=1e-5 if c.float32 else 1e-12, atol=0.0)  # noqa: E731

METRIC_COMPARISONS = {
    f"metric.log_loss(normalize={normalize})": Comparison(
        ("metric",),
        lambda p, normalize=normalize: fastloss.log_loss(p.y, p.y_pred, normalize=normalize, sample_weight=p.sw),
        lambda p, normalize=normalize: reference_log_loss(p.y, p.proba, p.sw, normalize),
        tol=_METRIC_TOL, sklearn=lambda p, normalize=normalize: _sklearn_log_loss(p, normalize),
        sklearn_tol=_SK_METRIC_TOL)
    for normalize in (True, False)
}


#: Every operation: objective methods (in-process and dask), pointwise API, @njit kernels, metric.
COMPARISONS: dict[str, Comparison] = {
    **OBJECTIVE_COMPARISONS, **POINTWISE_COMPARISONS, **KERNEL_COMPARISONS, **METRIC_COMPARISONS,
}


# ==================================================================================================
# Running a row
# ==================================================================================================

def rows(module: str) -> list:
    """``pytest.param(op, case)`` for each case of ``module`` and each operation that applies to it.

    The cases come grouped by data format, in the order each format first appears: pytest-xdist
    hands each worker a run of consecutive tests, so a worker meets few formats at a time, and a
    format's kernels are compiled by one worker and loaded from the disk cache by the other
    instead of being compiled by both at once."""
    first_seen = {}
    for case in CASES[module]:
        first_seen.setdefault(case.fmt, len(first_seen))
    out = []
    for case in sorted(CASES[module], key=lambda case: first_seen[case.fmt]):
        for op, comparison in COMPARISONS.items():
            if case.api in comparison.api and comparison.applies(case):
                out.append(pytest.param(op, case, id=f"{op}:{case.id}", marks=case.marks))
    return out


def assert_matches(got, want, rtol, atol, dtype=None, what=""):
    """``got`` has the structure and shapes of ``want`` (tuples element by element), arrays in
    ``dtype``, and every value within ``atol + rtol * |want|``."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{what}: {type(got)} vs {len(want)}-tuple"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_matches(g, w, rtol, atol, dtype, f"{what}[{i}]")
        return
    if np.ndim(want) == 0:
        assert isinstance(got, float | np.floating), f"{what}: {type(got).__name__}, not a float"
    else:
        assert isinstance(got, np.ndarray), f"{what}: {type(got).__name__}, not an array"
        assert got.shape == np.shape(want), f"{what}: shape {got.shape}, expected {np.shape(want)}"
        if dtype is not None:
            assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {np.dtype(dtype)}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def check(op: str, case: Case) -> None:
    """Run row ``op`` on ``case``: fastloss against the reference (and scikit-learn where the row
    has it), and the inputs unchanged afterwards."""
    comparison = COMPARISONS[op]
    p = problem(case)
    got = comparison.fastloss(p)
    p.unchanged()
    dtype = comparison.dtype(case)
    assert_matches(got, comparison.reference(p), **comparison.tol(case), dtype=dtype, what=f"{op} vs reference")
    if comparison.sklearn is not None and _with_sklearn(case):
        want = comparison.sklearn(p)
        assert_matches(got, want, **comparison.sklearn_tol(case), what=f"{op} vs scikit-learn")


def check_methods_agree(case: Case) -> None:
    """The objective's properties describe its data, and its methods agree with each other (no
    reference involved): ``loss`` and ``gradient`` are ``loss_gradient``'s bits, ``gradient_hessp``
    gives ``gradient``'s bits and ``hessp``'s products, the Hessian is symmetric, and its products
    and diagonal are ``hessp``'s and ``hessian_diag``'s."""
    p = problem(case)
    obj, coef = p.obj, p.coef
    n_classes = case.n_classes if case.multinomial else 1
    assert (obj.n_samples, obj.n_features) == p.X.shape
    assert (obj.n_classes, obj.coef_shape, obj.n_coef) == (n_classes, coef.shape, coef.size)
    loss, grad = obj.loss_gradient(coef)
    assert obj.loss(coef) == loss
    np.testing.assert_array_equal(obj.gradient(coef), grad)
    g2, hessp = obj.gradient_hessp(coef)
    np.testing.assert_array_equal(g2, grad)
    HV = obj.hessp(coef, p.V)
    np.testing.assert_allclose(hessp(p.V), HV, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hessp(p.v), obj.hessp(coef, p.v), rtol=1e-12, atol=1e-14)
    H = obj.hessian(coef)
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_allclose(H @ p.V, HV, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(obj.hessian_diag(coef).reshape(-1), np.diag(H), rtol=1e-11, atol=1e-14)
