"""Fit benchmark (issue 18): time for ``LinearClassifier``'s solvers and every ``LogisticRegression``
solver to reach the same objective, ``f <= f* (1 + 1e-10)``, on the same data and threads.

Run with ``pytest bench/bench_fit.py --benchmark-enable`` (``-k "dense and fastloss"`` to select).
Each benchmark first runs :func:`fastloss._fitbench.measure` in this process: fits from zero at
tolerances 1e-4, 1e-6, ... until one reaches the target (a contender whose tries pass
``FASTLOSS_BENCH_MAX_SECONDS`` is skipped, as is a full-Hessian solver on the wide CSR problem),
then pytest-benchmark times one more fit at the tolerance found. ``extra_info`` holds that
tolerance, the gap ``f / f* - 1``, the first measurement and the threads used (``sag`` and
``saga`` run on one). The table of every contender with its ratio to the fastest scikit-learn
solver comes from the command line, ``python -m fastloss._fitbench`` (see ``docs/performance.md``).

Sizes: ``FASTLOSS_BENCH_N`` rows (default 1,000,000) and ``FASTLOSS_BENCH_D`` features (default
100) of the dense and the ill-conditioned problems (feature covariance of condition number
``FASTLOSS_BENCH_CONDITION``, default 1e5); the CSR problem has ``FASTLOSS_BENCH_N`` rows,
``FASTLOSS_BENCH_CSR_D`` columns (default 100,000) and ``FASTLOSS_BENCH_NNZ`` entries per row
(default 50). Threads: ``FASTLOSS_BENCH_THREADS`` (default 2) for every library.
"""

from __future__ import annotations

import os

import pytest
from conftest import D, N

from fastloss import _fitbench as fb
from fastloss._timing import settle

pytest.importorskip("sklearn")

CSR_D = int(os.environ.get("FASTLOSS_BENCH_CSR_D", 100_000))
NNZ_PER_ROW = int(os.environ.get("FASTLOSS_BENCH_NNZ", 50))
CONDITION = float(os.environ.get("FASTLOSS_BENCH_CONDITION", 1e5))
THREADS = int(os.environ.get("FASTLOSS_BENCH_THREADS", 2))
MAX_SECONDS = float(os.environ.get("FASTLOSS_BENCH_MAX_SECONDS", 60))
CONTENDERS = [(library, solver) for library in ("fastloss", "scikit-learn") for solver in fb.LIBRARIES[library]]

_PROBLEMS = {}


def _problem(name):
    """The data set and its reference solution, one data set in memory at a time."""
    if name not in _PROBLEMS:
        _PROBLEMS.clear()
        [data] = fb.make_datasets([name], n=N, d=D, csr_n=N, csr_d=CSR_D, nnz_per_row=NNZ_PER_ROW,
                                  condition=CONDITION)
        _PROBLEMS[name] = data, fb.reference_solution(data, THREADS)
    return _PROBLEMS[name]


@pytest.mark.parametrize("library, solver", CONTENDERS, ids=[f"{lib}-{s}" for lib, s in CONTENDERS])
@pytest.mark.parametrize("dataset", fb.DATASETS)
def test_fit_to_target(benchmark, dataset, library, solver):
    data, reference = _problem(dataset)
    result = fb.measure(data, reference, library, solver, n_threads=THREADS, max_seconds=MAX_SECONDS)
    benchmark.group = f"fit to f* (1 + {fb.REL_TOL:g}): {data.describe()}"
    benchmark.extra_info.update(status=result.status, tol=result.tol, gap=result.gap, first_seconds=result.seconds,
                                threads=result.threads, note=result.note)
    if not result.reached:
        pytest.skip(f"{library} {solver} on {data.name}: {result.status} {result.note}")
    model = fb.estimator(library, solver, data.l2, result.tol, data.X.shape[0], THREADS)
    with fb.fitting(THREADS):
        settle()
        benchmark.pedantic(model.fit, (data.X, data.y), rounds=1, iterations=1)
