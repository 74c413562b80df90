"""The profiler command (``python -m fastloss bench``), its scaling view and ``bench/scaling.py``, the
generated CSR problems, and the demo: end to end on tiny data."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss import profiler
from fastloss.__main__ import main
from fastloss.datasets import make_csr_problem

ROOT = Path(fastloss.__file__).resolve().parents[1]
TINY = ["--n", "600", "--d", "3", "--threads", "1", "--repeat", "1", "--no-reference"]


def test_bench_table_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "rows.json", tmp_path / "plot.png"
    rc = main(["bench", "--n", "2000,4000", "--d", "5", "--threads", "1,2", "--ops", "pointwise,loss_gradient,csr",
               "--repeat", "1", "--json", str(out_json), "--plot", str(out_png)])
    assert rc == 0
    rows = json.loads(out_json.read_text())["rows"]
    # 3 operations (csr gives four rows) x 2 sizes x 2 thread counts
    assert len(rows) == 6 * 2 * 2
    assert {r["n"] for r in rows} == {2000, 4000} and {r["threads"] for r in rows} == {1, 2}
    for r in rows:
        assert r["median_ms"] > 0 and r["min_ms"] <= r["median_ms"] <= r["max_ms"]
        assert r["GBps"] > 0 and r["bandwidth_GBps"] > 0
        assert r["fraction_of_bandwidth"] == pytest.approx(r["GBps"] / r["bandwidth_GBps"])
        assert r["x_sklearn"] is not None and r["x_sklearn"] > 0  # scikit-learn is in the test extra
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "objective loss_gradient" in table and "x sklearn" in table


@pytest.mark.parametrize("dtype, index_dtype", [("float32", "int32"), ("float64", "int64"), ("float32", "int64")])
def test_csr_rows_for_every_dtype_pair_against_sklearn(tmp_path, dtype, index_dtype):
    """The csr rows run for float32 data and int64 indices too, scikit-learn included (it wants y,
    coef and the direction in X's dtype: float64 ones made its float32 calls raise)."""
    out_json = tmp_path / "rows.json"
    assert main(["bench", *TINY, "--ops", "csr", "--dtype", dtype, "--index-dtype", index_dtype,
                 "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert len(rows) == 4 and {r["dtype"] for r in rows} == {dtype}
    for r in rows:
        assert (f"{index_dtype} indices" in r["operation"]) == (index_dtype == "int64")
        assert r["x_sklearn"] is not None and r["x_sklearn"] > 0


# --- progress only on a terminal ----------------------------------------------------------------

def _has_control(text: str) -> bool:
    return "\x1b" in text or "\r" in text


def test_captured_run_writes_no_escape_sequences():
    """Through pipes (a CI log, ``> file``, ``| tee``): no progress, no carriage return, no escape."""
    done = subprocess.run([sys.executable, "-m", "fastloss", "bench", *TINY, "--ops", "loss_gradient,csr-zipf"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert not _has_control(done.stdout) and not _has_control(done.stderr)
    assert "... " not in done.stderr  # the progress lines
    assert "objective loss_gradient" in done.stdout and "csr zipf 1.1" in done.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_on_a_terminal_only(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    profiler._progress("csr: fastloss")
    profiler._progress()
    assert terminal.getvalue() == "\r\033[K  ... csr: fastloss\r\033[K"
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    profiler._progress("csr: fastloss")
    profiler._progress()
    assert piped.getvalue() == ""


# --- markdown ---------------------------------------------------------------------------------

def _markdown_tables(text: str) -> list[list[list[str]]]:
    """The tables of ``text``: each a list of rows, each a list of cells (separator row included)."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith(" |"), line
            if current is None:
                current = []
                tables.append(current)
            current.append([c.strip() for c in line[2:-2].split(" | ")])
        else:
            current = None
    return tables


def _assert_table(table: list[list[str]], header: list[str]) -> None:
    assert table[0] == header
    assert all(re.fullmatch(r"-{3,}:?", cell) for cell in table[1]), table[1]
    assert len(table) > 2 and all(len(row) == len(header) for row in table)


def test_markdown_table_parses_and_matches_the_rows(tmp_path, capsys):
    out_json = tmp_path / "rows.json"
    assert main(["bench", *TINY, "--ops", "loss_gradient,csr", "--format", "markdown", "--json", str(out_json)]) == 0
    out = capsys.readouterr()
    assert not _has_control(out.out) and not _has_control(out.err)
    lines = out.out.splitlines()
    assert lines[0].startswith("fastloss profiler |") and "numba" in lines[0] and "float64" in lines[0]
    assert lines[1] == "" and lines[2].startswith("| operation |")  # a paragraph, then the table
    (table,) = _markdown_tables(out.out)
    _assert_table(table, [title for title, _, _ in profiler._TIMING_COLUMNS])
    rows = json.loads(out_json.read_text())["rows"]
    assert len(table) == 2 + len(rows) == 2 + 5  # loss_gradient, and csr's four rows
    for cells, row in zip(table[2:], rows, strict=True):
        assert cells == profiler._timing_cells(row)  # the same cells as the plain table
        assert cells[3] == f"{row['median_ms']:.1f}"


def test_plain_and_markdown_share_the_cells(capsys):
    """The plain table's rows are the same cells, padded to the column widths."""
    assert main(["bench", *TINY, "--ops", "csr"]) == 0
    plain = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(plain) if line.startswith("operation"))
    assert set(plain[header + 1]) == {"-"}
    for line in plain[header + 2:header + 4]:
        assert line.startswith("csr (50/row, d=3000) ")
        assert line.split()[-2:] == ["-", line.split()[-1]] and float(line.split()[-1]) > 0


def test_compile_rows_in_markdown(monkeypatch, capsys):
    """``--ops compile`` prints its own table in the chosen format; its progress follows the same rule."""
    from fastloss import _compile_times

    def measure(progress=None):
        progress("compile: minimal")
        return [("minimal kernel", 2.0), ("LinearObjective(...).loss_gradient, float64 C", 5.0)]

    monkeypatch.setattr(_compile_times, "measure", measure)
    assert main(["bench", "--ops", "compile", "--format", "markdown"]) == 0
    out = capsys.readouterr()
    assert not _has_control(out.out) and not _has_control(out.err)
    (table,) = _markdown_tables(out.out)
    _assert_table(table, [title for title, _, _ in profiler._COMPILE_COLUMNS])
    assert table[3] == ["LinearObjective(...).loss_gradient, float64 C", "5.00", "2.5"]


# --- the scaling view and bench/scaling.py ----------------------------------------------------

def _row(op, threads, ms, x_sklearn, n=1000):
    return {"operation": op, "n": n, "threads": threads, "median_ms": ms, "x_sklearn": x_sklearn}


def test_scaling_view_one_row_per_operation():
    rows = [_row("objective loss_gradient", 1, 92.04, 2.08), _row("objective loss_gradient", 2, 46.5, 3.71),
            _row("objective hessp after gradient_hessp", 2, 39.7, None), {"operation": "compile: x", "seconds": 1.0}]
    (table,) = _markdown_tables("\n".join(profiler.scaling_view(rows)))
    _assert_table(table, ["operation", "1 thr", "2 thr"])
    assert table[2:] == [["objective loss_gradient", "92.0 (×2.1)", "46.5 (×3.7)"],
                         ["objective hessp after gradient_hessp", "-", "39.7"]]
    plain = profiler.scaling_view(rows, markdown=False)
    assert plain[0].split() == ["operation", "1", "thr", "2", "thr"] and "92.0 (×2.1)" in plain[2]


def test_scaling_view_names_n_when_the_rows_sweep_it():
    rows = [_row("csr hessp", 1, 3.0, 2.0, n=10), _row("csr hessp", 1, 30.0, 2.5, n=100)]
    (table,) = _markdown_tables("\n".join(profiler.scaling_view(rows)))
    assert [r[0] for r in table[2:]] == ["csr hessp, n=10", "csr hessp, n=100"]


def test_scaling_script_drops_thread_counts_above_the_cpus(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("scaling", ROOT / "bench" / "scaling.py")
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    too_many = (os.cpu_count() or 1) + 1
    out_json = tmp_path / "rows.json"
    assert scaling.main(["--n", "600", "--d", "3", "--threads", f"1,{too_many}", "--ops", "loss_gradient,csr",
                         "--repeat", "1", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert f"thread counts {too_many} dropped" in out
    rows = json.loads(out_json.read_text())["rows"]
    assert {r["threads"] for r in rows} == {1} and len(rows) == 5  # loss_gradient, and csr's four rows
    main_table, view = _markdown_tables(out)
    assert len(main_table) == 2 + 5
    _assert_table(view, ["operation", "1 thr"])
    assert [r[0] for r in view[2:]] == [r["operation"] for r in rows]
    assert view[2][1] == f"{rows[0]['median_ms']:.1f} (×{rows[0]['x_sklearn']:.1f})"  # from the rows, not re-timed


# --- generated CSR problems -------------------------------------------------------------------

def _rows_of(X):
    return X.indices.reshape(X.shape[0], -1)


@pytest.mark.parametrize("zipf", [None, 1.1])
@pytest.mark.parametrize("dtype, index_dtype", [("float64", "int32"), ("float32", "int64")])
def test_csr_problem_structure_and_dtypes(zipf, dtype, index_dtype):
    X, y = make_csr_problem(300, 400, nnz_per_row=20, zipf=zipf, dtype=dtype, index_dtype=index_dtype, seed=3)
    assert X.shape == (300, 400) and X.format == "csr" and X.nnz == 300 * 20
    assert X.dtype == dtype and X.indices.dtype == index_dtype and X.indptr.dtype == index_dtype
    assert np.array_equal(X.indptr, np.arange(0, 300 * 20 + 1, 20))
    cols = _rows_of(X)
    assert np.all(np.diff(cols, axis=1) > 0)  # sorted and distinct in every row
    assert cols.min() >= 0 and cols.max() < 400
    assert np.all(np.isfinite(X.data)) and np.std(X.data) == pytest.approx(1 / np.sqrt(20), rel=0.1)
    assert y.dtype == np.float64 and set(np.unique(y)) == {0.0, 1.0}
    X2, y2 = make_csr_problem(300, 400, nnz_per_row=20, zipf=zipf, dtype=dtype, index_dtype=index_dtype, seed=3)
    assert np.array_equal(X2.indices, X.indices) and np.array_equal(X2.data, X.data) and np.array_equal(y2, y)
    obj = fastloss.LinearObjective(X, y)
    assert np.isfinite(obj.loss(np.zeros(obj.n_coef)))


def _rank_frequency_slope(X, ranks):
    """Least-squares slope of log(rows holding column j) against log(j + 1) over ``ranks``."""
    counts = np.bincount(X.indices, minlength=X.shape[1])[ranks]
    return np.polyfit(np.log(ranks + 1.0), np.log(counts + 0.5), 1)[0]


def test_zipf_columns_follow_the_rank_frequency_law():
    a, k = 1.1, 20
    X, _ = make_csr_problem(3000, 2000, nnz_per_row=k, zipf=a, seed=1)
    counts = np.bincount(X.indices, minlength=2000)
    # The head saturates (a column is at most once per row): column 0 is in almost every row ...
    assert 0.9 * 3000 < counts[0] <= 3000
    # ... and past it the number of rows holding column j falls like (j + 1) ** -a.
    ranks = np.arange(10, 300)
    assert -a - 0.3 < _rank_frequency_slope(X, ranks) < -a + 0.3
    octaves = [counts[2**i:2 ** (i + 1)].mean() for i in range(11)]  # columns 1, 2-3, 4-7, ..., 1024-2047
    assert np.all(np.diff(octaves) < 0)
    Xu, _ = make_csr_problem(3000, 2000, nnz_per_row=k, seed=1)
    assert abs(_rank_frequency_slope(Xu, ranks)) < 0.2  # uniform columns: flat


def test_rows_short_of_rare_columns_are_completed():
    """nnz_per_row = d: every row holds every column, however rare (the redraws alone would take
    about 30 ** 4 draws to find the last one)."""
    X, _ = make_csr_problem(40, 30, nnz_per_row=30, zipf=4.0, seed=0)
    assert np.array_equal(_rows_of(X), np.tile(np.arange(30), (40, 1)))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n=0), ValueError, "n must be at least 1"),
    (dict(d=2.5), TypeError, "d must be an int"),
    (dict(nnz_per_row=11), ValueError, "nnz_per_row must be at most d = 10"),
    (dict(zipf=-1.0), ValueError, "zipf must be None or a finite exponent"),
    (dict(zipf=float("nan")), ValueError, "zipf must be None or a finite exponent"),
    (dict(dtype="int8"), ValueError, "dtype must be one of 'float64', 'float32'"),
    (dict(index_dtype="uint32"), ValueError, "index_dtype must be one of 'int32', 'int64'"),
    (dict(d=2**31, nnz_per_row=1), ValueError, "cannot hold d = 2147483648"),
])
def test_csr_problem_refuses_bad_arguments(kwargs, error, match):
    args = dict(n=5, d=10, nnz_per_row=3) | kwargs
    with pytest.raises(error, match=match):
        make_csr_problem(**args)


# --- other commands ----------------------------------------------------------------------------

def test_unknown_command_prints_usage(capsys):
    assert main(["nope"]) == 2
    assert "usage" in capsys.readouterr().out


def test_unknown_operation_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--ops", "loss_gradient,nope"])
    assert "unknown operation 'nope'" in capsys.readouterr().err


def test_demo_fits_and_prints_the_speed_table(capsys):
    assert main(["demo", "--n", "5000", "--d", "5", "--repeat", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "done:" in out and "fastloss loss_gradient" in out
    assert "scikit-learn" in out and "gradient agreement with scikit-learn" in out
