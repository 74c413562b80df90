# Everything the project needs is installed by these targets into .venv (Python >= 3.10 with pip).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Compiled kernels are cached in ~/.cache/fastloss (or $$NUMBA_CACHE_DIR/fastloss), in a folder
# named after a hash of the package's sources: the demo, the tests and your own scripts share it.

.PHONY: demo test test-fast bench profile lint clean

$(VENV)/.ok-%: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

## demo: install, generate 1,000,000 x 100, fit with SciPy + fastloss, print the speed table
demo: $(VENV)/.ok-demo
	$(PY) -m fastloss demo $(ARGS)

## test: install the test extra and run the whole suite (what CI runs), on TEST_WORKERS processes
## (most of a cold run is compiling, one core per process; they share the kernel cache safely)
TEST_WORKERS ?= 2
test: $(VENV)/.ok-test
	$(PY) -m pytest -q -n $(TEST_WORKERS) --durations=15 $(ARGS)

## test-fast: the suite without the heavy cases
test-fast: $(VENV)/.ok-test
	$(PY) -m pytest -q -m "not slow" $(ARGS)

## bench: pytest-benchmark suites (1,000,000 x 100 by default; FASTLOSS_BENCH_N / _D to change)
bench: $(VENV)/.ok-bench
	$(PY) -m pytest bench --benchmark-enable --benchmark-columns=median,min,max,rounds -q $(ARGS)

lint: $(VENV)/.ok-dev
	$(VENV)/bin/ruff check fastloss tests bench examples

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
