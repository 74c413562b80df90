"""Shared data for the pytest-benchmark suites (run with ``make bench`` or
``pytest bench --benchmark-enable``). Sizes: ``FASTLOSS_BENCH_N`` (default 1,000,000),
``FASTLOSS_BENCH_D`` (default 100); threads: ``FASTLOSS_BENCH_THREADS`` (default: all)."""

from __future__ import annotations

import os

import pytest

N = int(os.environ.get("FASTLOSS_BENCH_N", 1_000_000))
D = int(os.environ.get("FASTLOSS_BENCH_D", 100))
THREADS = os.environ.get("FASTLOSS_BENCH_THREADS")


@pytest.fixture(scope="session")
def n_threads():
    from fastloss._parallel import check_n_threads

    return check_n_threads(None if THREADS is None else int(THREADS))


@pytest.fixture(autouse=True)
def _settle():
    """Each benchmark starts once the previous one's OpenBLAS threads stopped busy-waiting
    (scikit-learn's would otherwise share the cores with the next fastloss benchmark)."""
    from fastloss._timing import settle

    settle()


_PROBLEMS = {}


def dense_problem(dtype):
    if dtype not in _PROBLEMS:
        from fastloss.datasets import make_logistic_problem

        _PROBLEMS.clear()  # keep one problem in memory at a time
        _PROBLEMS[dtype] = make_logistic_problem(N, D, dtype)
    return _PROBLEMS[dtype]


def gbs(benchmark, nbytes):
    """Record GB/s (bytes of X over the median time) in the benchmark's extra_info."""
    med = benchmark.stats.stats.median
    benchmark.extra_info["GB/s"] = round(nbytes / med / 1e9, 2)
