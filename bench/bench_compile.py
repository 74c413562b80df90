"""First calls with an empty cache, each in a fresh process, against a minimal Numba kernel.

Run with ``pytest bench/bench_compile.py --benchmark-enable`` (about a minute). Each scenario of
``fastloss._compile_times`` is one benchmark round (the compile cannot be repeated in one
process); every step's seconds and its ratio to the minimal parallel kernel compiled in the same
run are in ``extra_info``. ``python -m fastloss bench --ops compile`` prints the same table.
"""

from __future__ import annotations

import pytest

from fastloss._compile_times import SCENARIOS, measure


@pytest.fixture(scope="module")
def minimal_seconds():
    return measure(scenarios=("minimal",))[0][1]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "minimal"])
def test_first_call(benchmark, scenario, minimal_seconds):
    rows = benchmark.pedantic(lambda: measure(scenarios=(scenario,))[1:], rounds=1, iterations=1)
    benchmark.extra_info["minimal_kernel_s"] = minimal_seconds
    for step, seconds in rows:
        benchmark.extra_info[step] = {"seconds": seconds, "x_minimal": seconds / minimal_seconds}
