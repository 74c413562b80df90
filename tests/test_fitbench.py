"""The fit benchmark's harness (``fastloss._fitbench``) on tiny problems: what it measures and
reports, never how fast anything is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("threadpoolctl")

from fastloss import _fitbench as fb  # noqa: E402
from fastloss._config import HESSIAN_MAX_COEF  # noqa: E402


@pytest.fixture(scope="module")
def small():
    [data] = fb.make_datasets(["dense"], n=3000, d=5, csr_n=1, csr_d=1)
    return data, fb.reference_solution(data, n_threads=2)


def test_ill_conditioned_covariance_has_the_condition_number_asked():
    X, y = fb.make_ill_conditioned_problem(40_000, 6, condition=1e4, seed=3)
    assert X.shape == (40_000, 6) and X.dtype == np.float64 and X.flags.c_contiguous
    assert set(np.unique(y)) == {0.0, 1.0}
    assert 0.7e4 < np.linalg.cond(np.cov(X.T)) < 1.4e4
    X2, y2 = fb.make_ill_conditioned_problem(40_000, 6, condition=1e4, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


@pytest.mark.parametrize("kwargs, match", [({"n": 0}, "n must"), ({"d": 2.5}, "d must"),
                                           ({"condition": 0.5}, "condition must"),
                                           ({"condition": float("inf")}, "condition must")])
def test_ill_conditioned_rejects_bad_arguments(kwargs, match):
    args = {"n": 10, "d": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        fb.make_ill_conditioned_problem(**args)


def test_datasets_default_l2_is_one_over_rows_and_names_are_checked():
    dense, csr = fb.make_datasets(["dense", "csr"], n=500, d=4, csr_n=300, csr_d=40, nnz_per_row=5)
    assert dense.l2 == 1 / 500 and csr.l2 == 1 / 300
    assert hasattr(csr.X, "indptr") and csr.X.shape == (300, 40) and csr.n_coef == 41
    with pytest.raises(ValueError, match="datasets must be among"):
        fb.make_datasets(["dense", "sparse"], n=10, d=2, csr_n=10, csr_d=2)
    with pytest.raises(ValueError, match="l2 must"):
        fb.make_datasets(["dense"], n=10, d=2, csr_n=10, csr_d=2, l2=-1.0)


def test_reference_is_certified_at_the_optimum(small):
    data, ref = small
    obj = fb._objective(data, 2)
    assert ref.f_star == obj.loss(ref.coef)
    assert 0 <= ref.certificate <= fb.REL_TOL * fb.REFERENCE_MARGIN
    assert np.max(np.abs(obj.gradient(ref.coef))) < 1e-9


@pytest.mark.parametrize("library, solver", [("fastloss", "lbfgs"), ("scikit-learn", "newton-cholesky")])
def test_measure_reports_the_first_tolerance_that_reaches_the_target(small, library, solver):
    data, ref = small
    X, y = data.X.copy(), data.y.copy()
    result = fb.measure(data, ref, library, solver, n_threads=2, max_seconds=60)
    assert result.status == "reached" and result.reached
    assert result.gap <= fb.REL_TOL and result.tries[-1].gap <= fb.REL_TOL
    assert all(t.gap > fb.REL_TOL for t in result.tries[:-1])
    assert [t.tol for t in result.tries] == list(fb.TOLS[:len(result.tries)])
    assert result.tol == result.tries[-1].tol and result.seconds == result.tries[-1].seconds > 0
    assert np.array_equal(data.X, X) and np.array_equal(data.y, y)


def test_measure_without_a_tight_enough_tolerance_is_not_reached(small):
    data, ref = small
    result = fb.measure(data, ref, "scikit-learn", "lbfgs", n_threads=2, max_seconds=60, tols=[0.5])
    assert result.status == "not reached" and result.seconds is None and result.tol is None
    assert result.gap > fb.REL_TOL


def test_single_threaded_solvers_are_reported_on_one_thread(small):
    data, ref = small
    result = fb.measure(data, ref, "scikit-learn", "sag", n_threads=2, max_seconds=60, tols=[1e-2])
    assert result.threads == 1


def test_in_process_cap_stops_between_tries(small):
    data, ref = small
    result = fb.measure(data, ref, "fastloss", "lbfgs", n_threads=2, max_seconds=1e-9)
    assert result.status == "> cap" and result.tries == () and result.seconds is None


def test_forked_cap_kills_a_running_child():
    def sleeper():
        yield None
        time.sleep(60)
        yield "late"

    t0 = time.monotonic()
    with pytest.raises(fb._Capped):
        list(fb._forked(sleeper, max_seconds=0.5))
    assert time.monotonic() - t0 < 30


def test_forked_child_errors_reach_the_parent():
    def failing():
        yield 1
        raise ValueError("bad thing")

    items = []
    with pytest.raises(RuntimeError, match="ValueError: bad thing"):
        for item in fb._forked(failing, max_seconds=None):
            items.append(item)
    assert items == [1]


@pytest.mark.parametrize("library, solver", [("fastloss", "newton"), ("scikit-learn", "newton-cholesky")])
def test_full_hessian_solvers_past_the_limit_are_not_applicable(library, solver):
    [data] = fb.make_datasets(["csr"], n=1, d=1, csr_n=20, csr_d=HESSIAN_MAX_COEF, nnz_per_row=2)
    dummy = fb.Reference(np.zeros(data.n_coef), 1.0, "none", 0.0)
    result = fb.measure(data, dummy, library, solver, n_threads=2, max_seconds=1)
    assert result.status == "n/a" and "Hessian" in result.note and result.tries == ()


@pytest.mark.parametrize("kwargs, match", [
    ({"library": "fastloss", "solver": "sag"}, "library and solver"),
    ({"library": "numpy", "solver": "lbfgs"}, "library and solver"),
    ({"max_seconds": 0}, "max_seconds"),
    ({"rel_tol": float("nan")}, "rel_tol"),
    ({"tols": []}, "tols"),
    ({"tols": [1e-4, -1.0]}, "tols"),
])
def test_measure_rejects_bad_arguments(small, kwargs, match):
    data, ref = small
    args = {"library": "fastloss", "solver": "lbfgs", "n_threads": 2, "max_seconds": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        fb.measure(data, ref, **args)


def test_table_ratios_are_against_the_fastest_sklearn_solver_of_the_same_data_set():
    def result(dataset, library, solver, seconds=None, status="reached"):
        tries = (fb.Try(1e-6, seconds, 1e-12),) if seconds else ()
        return fb.Result(dataset, library, solver, 2, status, tries, note="5 s" if status == "> cap" else "")

    results = [result("a", "scikit-learn", "lbfgs", 2.0), result("a", "scikit-learn", "newton-cg", 1.0),
               result("a", "fastloss", "auto", 0.25), result("a", "fastloss", "lbfgs", status="> cap"),
               result("b", "scikit-learn", "lbfgs", 3.0), result("b", "fastloss", "auto", 1.0)]
    assert fb.fastest_sklearn(results, "a") is results[1]
    assert [fb.speedup(r, results) for r in results] == [0.5, 1.0, 4.0, None, 1.0, 3.0]
    lines = fb.format_table(results).splitlines()
    assert len(lines) == 2 + len(results) and lines[0].startswith("| data set")
    assert lines[4].endswith("| 4.00× |") and "> 5 s" in lines[5]


@pytest.mark.slow
def test_command_line_runs_forked_contenders_and_prints_the_table():
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(fb.__file__))}
    out = subprocess.run([sys.executable, "-m", "fastloss._fitbench", "--n", "3000", "--d", "5", "--datasets", "dense",
                          "--contenders", "fastloss:trust-ncg,scikit-learn:lbfgs", "--max-seconds", "60"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.split("\n\n")[-1].splitlines() if line.startswith("| dense")]
    assert len(rows) == 2 and all("not reached" not in row and "> " not in row for row in rows)
    assert rows[1].endswith("| 1.00× |")


def test_command_line_rejects_unknown_contenders(capsys):
    with pytest.raises(SystemExit):
        fb.main(["--contenders", "fastloss:sag"])
    assert "fastloss:sag not among" in capsys.readouterr().err


def test_demo_fit_rows_put_each_contender_in_the_speed_table(small):
    from fastloss.__main__ import DEMO_FIT_CONTENDERS, _fit_rows

    data, _ = small
    rows = _fit_rows(data.X, data.y, data.l2, threads=2, max_seconds=60)
    assert len(rows) == len(DEMO_FIT_CONTENDERS)
    assert rows[0].split()[:3] == ["fit:", "LinearClassifier", "auto"] and not rows[0].endswith("x")
    for row, (_, solver) in zip(rows[1:], DEMO_FIT_CONTENDERS[1:], strict=True):
        assert row.split()[:3] == ["fit:", "LogisticRegression", solver]
        # the last cell is its time over LinearClassifier's ("0.0x" when it is 20 times faster on
        # this tiny problem, which a loaded machine can make happen)
        assert "tol 1e-" in row and re.fullmatch(r"\d+\.\dx", row.split()[-1])
