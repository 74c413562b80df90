"""Time to a common objective: ``LinearClassifier`` against scikit-learn's ``LogisticRegression``.

Shared by ``bench/bench_fit.py`` (pytest-benchmark), ``python -m fastloss demo`` (its fit rows) and
the command line ``python -m fastloss._fitbench`` (the table of every solver on every data set).

What is measured. Every contender minimizes the same objective, ``LinearObjective(X, y, l2=l2)``
(``LogisticRegression(C=C)`` with ``C = 1 / (l2 * n)``). A reference solution is computed first
and certified (:func:`reference_solution`); its value is ``f*``. A contender is then fit from zero
with each tolerance of a short decreasing sequence (:data:`TOLS`, each library's own ``tol``), each
fit timed on its own, until a fit ends at ``f(coef) <= f* (1 + rel_tol)``; that fit's time and
tolerance are the result (the time a user pays who knows which ``tol`` suffices). ``f`` is
evaluated by ``LinearObjective.loss``, outside the timed region. A contender whose tries take more
than ``max_seconds`` of wall-clock time together (counted after an untimed warm-up fit on a few
rows, which loads compiled code) is reported as past the cap.

Where the fits run. With ``isolate=True`` each contender (and the reference) runs in a forked
child process that the parent kills at the cap, so no fit can overrun it; the parent must not have
run OpenMP code before (GNU OpenMP does not survive ``fork``; Numba's ``omp`` layer and
scikit-learn use it), which holds for the command line, whose parent only generates the data.
With ``isolate=False`` (the demo and the pytest benchmark, whose processes have run kernels
already) the fits run in the calling process and the cap is checked between tries: a try that
started before the cap runs to its end, and counts as past the cap if it ends after it.

Threads: ``n_threads`` for fastloss and, through ``threadpoolctl``, for scikit-learn's OpenMP and
BLAS; ``sag`` and ``saga`` run on one thread whatever the limit (the table says so).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import sys
import time
import warnings

import numpy as np

#: Tolerances tried in turn, each contender with its own meaning of ``tol``.
TOLS = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
#: A fit reaches the objective when ``f(coef) <= f* (1 + REL_TOL)``.
REL_TOL = 1e-10
SKLEARN_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")
FASTLOSS_SOLVERS = ("auto", "lbfgs", "newton-cg", "trust-ncg", "newton")
LIBRARIES = {"scikit-learn": SKLEARN_SOLVERS, "fastloss": FASTLOSS_SOLVERS}
#: scikit-learn solvers that ignore the thread limit and run on one thread.
SINGLE_THREADED = ("sag", "saga")
#: Iteration limit of every fit: high enough that the tolerance (or the cap) ends it.
MAX_ITER = 100_000
#: Rows of the untimed warm-up fit that loads each contender's compiled code (same dtype and format):
#: enough that ``LinearClassifier``'s "auto" samples them, as it does on the timed problem.
WARMUP_ROWS = 32768
#: Columns of the warm-up fit (a few, so that a full Hessian there stays small).
WARMUP_COLUMNS = 20
#: The reference must be this much closer to the optimum than the targets are (``rel_tol / 100``).
REFERENCE_MARGIN = 1e-2
#: Gradient tolerance of the reference fit (certified afterwards, whatever the solver reached).
REFERENCE_TOL = 1e-13
#: Seconds a forked child may take before its first try (imports, warm-up) or for the reference.
CHILD_SETUP_SECONDS = 1800.0


# --- data -------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Dataset:
    """One problem: ``X`` (dense or CSR), 0/1 labels ``y`` (float64) and the L2 strength."""

    name: str
    X: object
    y: np.ndarray
    l2: float

    @property
    def n_coef(self) -> int:
        return self.X.shape[1] + 1

    def describe(self) -> str:
        kind = "CSR" if hasattr(self.X, "indptr") else "dense"
        return f"{self.name}: {self.X.shape[0]:,} x {self.X.shape[1]:,} {kind} {self.X.dtype}, l2 = {self.l2:.3g}"


def make_ill_conditioned_problem(n: int, d: int, condition: float = 1e5, seed: int = 0):
    """Correlated features: ``X = Z diag(s) Q`` with ``Z ~ N(0, 1)`` of shape ``(n, d)``, ``Q`` a random
    rotation and ``s`` decaying geometrically from 1 to ``condition ** -0.5``, so that the features'
    covariance ``Qᵀ diag(s²) Q`` has condition number ``condition``. Not standardized: every feature
    mixes all directions, so their variances are alike while the directions' variances span
    ``condition``. Labels ``y ~ Bernoulli(sigmoid(Z u + 0.5))``, ``u ~ N(0, 4 / d)``: the true
    coefficients ``Qᵀ diag(1 / s) u`` lie mostly along the low-variance directions. Returns
    ``(X, y)``: ``X`` float64 in C order, ``y`` float64 0/1. Deterministic for a given ``seed``.
    """
    for name, value in (("n", n), ("d", d)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(condition, bool) or not isinstance(condition, (int, float)) or not 1 <= condition < math.inf:
        raise ValueError(f"condition must be a finite number >= 1, got {condition!r}")
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = float(condition) ** (-0.5 * np.arange(d) / max(d - 1, 1))
    mixing = s[:, None] * Q
    u = rng.standard_normal(d) * (2.0 / np.sqrt(d))
    X = np.empty((n, d))
    y = np.empty(n)
    block = max(1, (1 << 22) // d)  # rows per block: bounds Z to 32 MB
    for start in range(0, n, block):
        Z = rng.standard_normal((min(block, n - start), d))
        np.matmul(Z, mixing, out=X[start:start + Z.shape[0]])
        p = 1.0 / (1.0 + np.exp(-(Z @ u + 0.5)))
        y[start:start + Z.shape[0]] = rng.random(Z.shape[0]) < p
    return X, y


DATASETS = ("dense", "ill-conditioned", "csr")


def make_datasets(names=DATASETS, *, n: int, d: int, csr_n: int, csr_d: int, nnz_per_row: int = 50,
                  condition: float = 1e5, l2: float | None = None, seed: int = 0) -> list[Dataset]:
    """The named problems: ``"dense"`` (``make_logistic_problem(n, d)``), ``"ill-conditioned"``
    (:func:`make_ill_conditioned_problem`) and ``"csr"`` (``make_csr_problem(csr_n, csr_d,
    nnz_per_row)``, uniform columns). ``l2`` defaults to ``1 / rows`` (``C = 1``) for each."""
    from .datasets import make_csr_problem, make_logistic_problem

    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise ValueError(f"datasets must be among {', '.join(DATASETS)}; got {', '.join(map(repr, unknown))}")
    if l2 is not None and not (isinstance(l2, (int, float)) and 0 < l2 < math.inf):
        raise ValueError(f"l2 must be a finite number > 0 (or None for 1 / n), got {l2!r}")
    out = []
    for name in names:
        if name == "dense":
            X, y = make_logistic_problem(n, d, seed=seed)
        elif name == "ill-conditioned":
            X, y = make_ill_conditioned_problem(n, d, condition, seed=seed)
            name = f"ill-conditioned (cond {condition:.0e})"
        else:
            X, y = make_csr_problem(csr_n, csr_d, nnz_per_row, seed=seed)
        out.append(Dataset(name, X, y, 1.0 / X.shape[0] if l2 is None else float(l2)))
    return out


# --- fits ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Try:
    """One timed fit: its tolerance, seconds, and relative gap ``f(coef) / f* - 1``."""

    tol: float
    seconds: float
    gap: float


@dataclasses.dataclass(frozen=True)
class Reference:
    """The reference solution: coefficients (intercept last), ``f*``, the solver used, and the
    certificate ``g·H⁻¹g / (2 f*)`` at it (its relative distance to the optimum, to second order)."""

    coef: np.ndarray
    f_star: float
    solver: str
    certificate: float


@dataclasses.dataclass(frozen=True)
class Result:
    """A contender on a data set. ``status``: ``"reached"`` (``tol``/``seconds``/``gap`` of the first
    fit that reached the target), ``"not reached"`` (every tolerance tried; ``gap`` the best one),
    ``"> cap"`` (stopped at ``max_seconds``), ``"n/a"`` or ``"error"`` (``note`` says why)."""

    dataset: str
    library: str
    solver: str
    threads: int
    status: str
    tries: tuple = ()
    note: str = ""

    @property
    def reached(self) -> bool:
        return self.status == "reached"

    @property
    def seconds(self) -> float | None:
        return self.tries[-1].seconds if self.reached else None

    @property
    def tol(self) -> float | None:
        return self.tries[-1].tol if self.reached else None

    @property
    def gap(self) -> float | None:
        return min(t.gap for t in self.tries) if self.tries else None


def estimator(library: str, solver: str, l2: float, tol: float, n_samples: int, n_threads: int):
    """An unfitted ``LogisticRegression(C=1 / (l2 * n_samples))`` or ``LinearClassifier(l2=l2)``."""
    if library == "scikit-learn":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0 / (l2 * n_samples), solver=solver, tol=tol, max_iter=MAX_ITER)
    from .sklearn import LinearClassifier

    return LinearClassifier(l2=l2, solver=solver, tol=tol, max_iter=MAX_ITER, n_threads=n_threads)


@contextlib.contextmanager
def fitting(n_threads: int):
    """Where fits run: BLAS and OpenMP limited to ``n_threads``, warnings silenced (the gap tells
    whether a fit converged). Entered outside the timed region (threadpoolctl scans the loaded libraries)."""
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(n_threads):
        warnings.simplefilter("ignore")
        yield


def _timed_fit(library: str, solver: str, X, y, l2: float, tol: float, n_threads: int):
    """``(coef with intercept last, seconds of fit)``, timed after :func:`fastloss._timing.settle`."""
    from ._timing import settle

    model = estimator(library, solver, l2, tol, X.shape[0], n_threads)
    with fitting(n_threads):
        settle()
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
    return np.r_[model.coef_.ravel(), model.intercept_], seconds


def _objective(data: Dataset, n_threads: int):
    from .objective import LinearObjective

    return LinearObjective(data.X, data.y, "logistic", l2=data.l2, n_threads=n_threads)


def reference_solution(data: Dataset, n_threads: int, rel_tol: float = REL_TOL) -> Reference:
    """Fit ``LinearClassifier(solver="trust-ncg")`` tightly and certify the result: the Newton
    decrement ``g·H⁻¹g / 2`` (``H⁻¹g`` by conjugate gradients on ``hessp``, Jacobi-preconditioned)
    estimates ``f(coef) - min f``. Raises RuntimeError when that is not below
    ``rel_tol * REFERENCE_MARGIN`` relative: targets at ``rel_tol`` would then not be reliable."""
    from scipy.sparse.linalg import LinearOperator, cg

    solver = "trust-ncg"  # no full Hessian per iteration (see docs/performance.md); the certificate vouches for it
    coef, _ = _timed_fit("fastloss", solver, data.X, data.y, data.l2, REFERENCE_TOL, n_threads)
    obj = _objective(data, n_threads)
    f_star = obj.loss(coef)
    gradient, hessp = obj.gradient_hessp(coef)
    n = coef.size
    diagonal = obj.hessian_diag(coef)
    preconditioner = LinearOperator((n, n), matvec=lambda v: v.ravel() / diagonal, dtype=float)
    step, _ = cg(LinearOperator((n, n), matvec=hessp, dtype=float), gradient, rtol=1e-6, maxiter=min(10 * n, 1000),
                 M=preconditioner)
    certificate = float(gradient @ step) / (2.0 * f_star)
    if not certificate <= rel_tol * REFERENCE_MARGIN:
        raise RuntimeError(f"the reference solution of {data.name} ({solver}) is {certificate:.2e} (relative) from "
                           f"the optimum, not within {rel_tol * REFERENCE_MARGIN:.0e}")
    return Reference(coef, f_star, solver, certificate)


def _tries(data: Dataset, f_star: float, library: str, solver: str, tols, rel_tol: float, n_threads: int):
    """Yield ``None`` once warmed up, then a :class:`Try` per tolerance until one reaches the target."""
    X = data.X[:WARMUP_ROWS, :WARMUP_COLUMNS]
    _timed_fit(library, solver, X if hasattr(X, "indptr") else np.ascontiguousarray(X), data.y[:WARMUP_ROWS],
               data.l2, max(tols), n_threads)
    yield None
    obj = _objective(data, n_threads)
    for tol in tols:
        coef, seconds = _timed_fit(library, solver, data.X, data.y, data.l2, tol, n_threads)
        attempt = Try(tol, seconds, obj.loss(coef) / f_star - 1.0)
        yield attempt
        if attempt.gap <= rel_tol:
            return


def _not_applicable(data: Dataset, library: str, solver: str) -> str:
    from ._config import HESSIAN_MAX_COEF

    if solver in ("newton", "newton-cholesky") and data.n_coef > HESSIAN_MAX_COEF:
        return f"its full Hessian of {data.n_coef:,}² entries exceeds {HESSIAN_MAX_COEF:,}²"
    return ""


# --- running: in this process or in a forked child --------------------------------------------------

class _Capped(Exception):
    pass


def _child(generator, conn) -> None:
    try:
        for item in generator:
            conn.send(("item", item))
        conn.send(("done", None))
    except BaseException as error:  # reported to the parent, which owns the outcome
        conn.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


def _forked(make_generator, max_seconds: float | None):
    """Iterate the generator ``make_generator()`` in a forked child; the first item (the setup) may
    take ``CHILD_SETUP_SECONDS``, the rest ``max_seconds`` together (None: no limit), after which the
    child is killed and :class:`_Capped` raised."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(make_generator(), send), daemon=True)
    process.start()
    send.close()
    deadline = time.monotonic() + CHILD_SETUP_SECONDS
    started = False
    try:
        while True:
            if not receive.poll(None if deadline == math.inf else max(0.0, deadline - time.monotonic())):
                raise _Capped
            try:
                kind, item = receive.recv()
            except EOFError:
                raise RuntimeError(f"the child process ended without a result (exit code {process.exitcode})") from None
            if kind == "done":
                return
            if kind == "error":
                raise RuntimeError(item)
            yield item
            if not started:
                started = True
                deadline = time.monotonic() + (math.inf if max_seconds is None else max_seconds)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()


def _in_process(make_generator, max_seconds: float | None):
    """Iterate ``make_generator()`` here; raise :class:`_Capped` before an item that comes after
    ``max_seconds`` of wall-clock time past the first item (a try in progress is not interrupted)."""
    limit = math.inf if max_seconds is None else max_seconds
    started = None
    for item in make_generator():
        if started is not None and time.monotonic() - started > limit:
            raise _Capped
        yield item
        if started is None:
            started = time.monotonic()


def _single(make_value, isolate: bool):
    def generator():
        yield make_value()

    [value] = (_forked if isolate else _in_process)(generator, None)
    return value


def measure(data: Dataset, reference: Reference, library: str, solver: str, *, n_threads: int,
            max_seconds: float, tols=TOLS, rel_tol: float = REL_TOL, isolate: bool = False) -> Result:
    """Time ``library``'s ``solver`` on ``data`` to ``f <= f* (1 + rel_tol)``: see the module notes."""
    if library not in LIBRARIES or solver not in LIBRARIES[library]:
        choices = "; ".join(f"{lib}: {', '.join(solvers)}" for lib, solvers in LIBRARIES.items())
        raise ValueError(f"library and solver must be one of ({choices}); got {library!r}, {solver!r}")
    _check_positive("max_seconds", max_seconds)
    _check_positive("rel_tol", rel_tol)
    tols = tuple(tols)
    if not tols or not all(isinstance(t, (int, float)) and 0 < t < math.inf for t in tols):
        raise ValueError(f"tols must be a non-empty sequence of finite numbers > 0, got {tols!r}")
    threads = 1 if solver in SINGLE_THREADED else n_threads
    row = dict(dataset=data.name, library=library, solver=solver, threads=threads)
    reason = _not_applicable(data, library, solver)
    if reason:
        return Result(**row, status="n/a", note=reason)
    tries = []
    run = _forked if isolate else _in_process
    try:
        for attempt in run(lambda: _tries(data, reference.f_star, library, solver, tols, rel_tol, n_threads),
                           max_seconds):
            if attempt is not None:
                tries.append(attempt)
    except _Capped:
        return Result(**row, status="> cap", tries=tuple(tries), note=f"{max_seconds:g} s")
    except (RuntimeError, MemoryError, ValueError) as error:
        return Result(**row, status="error", tries=tuple(tries), note=str(error))
    reached = bool(tries) and tries[-1].gap <= rel_tol
    return Result(**row, status="reached" if reached else "not reached", tries=tuple(tries))


def run(datasets, contenders, *, n_threads: int, max_seconds: float, tols=TOLS, rel_tol: float = REL_TOL,
        isolate: bool = False, progress=None) -> list[Result]:
    """:func:`measure` every ``(library, solver)`` of ``contenders`` on every data set, after its
    reference solution; ``progress(text)`` (optional) is called after each."""
    if isolate:  # import once here, not in every child (imports start no threads)
        import scipy.optimize  # noqa: F401
        import sklearn.linear_model  # noqa: F401
        import threadpoolctl  # noqa: F401

        from . import sklearn as _  # noqa: F401
    results = []
    for data in datasets:
        reference = _single(lambda data=data: reference_solution(data, n_threads, rel_tol), isolate)
        if progress:
            progress(f"{data.describe()}: f* = {reference.f_star:.15g} ({reference.solver}, certified to "
                     f"{reference.certificate:.1e} relative)")
        for library, solver in contenders:
            results.append(measure(data, reference, library, solver, n_threads=n_threads, max_seconds=max_seconds,
                                   tols=tols, rel_tol=rel_tol, isolate=isolate))
            if progress:
                progress(format_table(results, header=False).splitlines()[-1])
    return results


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


# --- the table ------------------------------------------------------------------------------------------

def fastest_sklearn(results, dataset: str) -> Result | None:
    """The scikit-learn result on ``dataset`` that reached the target in the least time."""
    done = [r for r in results if r.dataset == dataset and r.library == "scikit-learn" and r.reached]
    return min(done, key=lambda r: r.seconds, default=None)


def speedup(result: Result, results) -> float | None:
    """The fastest scikit-learn time on the same data set over this result's time (None: not comparable)."""
    best = fastest_sklearn(results, result.dataset)
    return best.seconds / result.seconds if best is not None and result.reached else None


COLUMNS = ("data set", "contender", "solver", "threads", "tol", "seconds", "f / f* - 1", "× vs fastest sklearn")


def format_table(results, header: bool = True) -> str:
    """A markdown table, one row per result; ``seconds`` is the time of the fit that reached the target."""
    lines = []
    if header:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 3 + "---:|" * (len(COLUMNS) - 3)]
    for r in results:
        ratio = speedup(r, results)
        threads = f"{r.threads}" + (" (single-threaded)" if r.solver in SINGLE_THREADED else "")
        if r.reached:
            tol, seconds = f"{r.tol:.0e}", f"{r.seconds:.3f}"
        elif r.status == "> cap":
            tol, seconds = "-", f"> {r.note}"
        else:
            tol, seconds = "-", f"{r.status}" + (f": {r.note}" if r.note else "")
        gap = "-" if r.gap is None else f"{r.gap:.1e}"
        cells = (r.dataset, r.library, r.solver, threads, tol, seconds, gap, "-" if ratio is None else f"{ratio:.2f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- command line --------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastloss._fitbench",
                                description="Time to reach f* (1 + rel_tol) for LinearClassifier's solvers and every "
                                            "LogisticRegression solver, on the same objective and threads.")
    p.add_argument("--n", type=int, default=100_000, help="rows of the dense problems (default 100,000)")
    p.add_argument("--d", type=int, default=100, help="features of the dense problems (default 100)")
    p.add_argument("--csr-n", type=int, default=100_000, help="rows of the CSR problem (default 100,000)")
    p.add_argument("--csr-d", type=int, default=10_000, help="columns of the CSR problem (default 10,000)")
    p.add_argument("--nnz-per-row", type=int, default=50, help="stored entries per CSR row (default 50)")
    p.add_argument("--condition", type=float, default=1e5, help="condition number of the ill-conditioned "
                                                                "problem's feature covariance (default 1e5)")
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated, among {', '.join(DATASETS)}")
    p.add_argument("--contenders", default=None,
                   help="comma-separated library:solver (e.g. fastloss:auto,scikit-learn:lbfgs); default: all")
    p.add_argument("--threads", type=int, default=2, help="threads for every library (default 2)")
    p.add_argument("--max-seconds", type=float, default=20.0,
                   help="wall-clock cap of one contender's tries on one data set (default 20)")
    p.add_argument("--rel-tol", type=float, default=REL_TOL, help=f"target f <= f* (1 + rel_tol) (default {REL_TOL:g})")
    p.add_argument("--in-process", action="store_true",
                   help="run the fits in this process (the cap is then checked between tries only)")
    args = p.parse_args(argv)

    from ._parallel import check_n_threads

    if args.contenders is None:
        contenders = [(lib, s) for lib in ("fastloss", "scikit-learn") for s in LIBRARIES[lib]]
    else:
        contenders = [tuple(c.strip().split(":", 1)) for c in args.contenders.split(",")]
        bad = [c for c in contenders if len(c) != 2 or c[0] not in LIBRARIES or c[1] not in LIBRARIES[c[0]]]
        if bad:
            p.error(f"--contenders: {', '.join(':'.join(c) for c in bad)} not among "
                    + ", ".join(f"{lib}:{s}" for lib, solvers in LIBRARIES.items() for s in solvers))
    n_threads = check_n_threads(args.threads)
    try:
        datasets = make_datasets([s.strip() for s in args.datasets.split(",")], n=args.n, d=args.d, csr_n=args.csr_n,
                                 csr_d=args.csr_d, nnz_per_row=args.nnz_per_row, condition=args.condition)
    except ValueError as error:
        p.error(str(error))
    print(f"{n_threads} thread(s), target f <= f* (1 + {args.rel_tol:g}), tolerances {', '.join(map(str, TOLS))}, "
          f"cap {args.max_seconds:g} s per contender and data set", flush=True)
    results = run(datasets, contenders, n_threads=n_threads, max_seconds=args.max_seconds, rel_tol=args.rel_tol,
                  isolate=not args.in_process, progress=lambda text: print(text, flush=True))
    print()
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
