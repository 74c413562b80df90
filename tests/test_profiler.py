"""The profiler command (``python -m fastloss bench``) and the demo run end to end on tiny data."""

from __future__ import annotations

import json

import pytest

from fastloss.__main__ import main


def test_bench_table_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "rows.json", tmp_path / "plot.png"
    rc = main(["bench", "--n", "2000,4000", "--d", "5", "--threads", "1,2", "--ops", "pointwise,loss_gradient,csr",
               "--repeat", "1", "--json", str(out_json), "--plot", str(out_png)])
    assert rc == 0
    rows = json.loads(out_json.read_text())["rows"]
    # 3 operations (csr gives two rows) x 2 sizes x 2 thread counts
    assert len(rows) == 4 * 2 * 2
    assert {r["n"] for r in rows} == {2000, 4000} and {r["threads"] for r in rows} == {1, 2}
    for r in rows:
        assert r["median_ms"] > 0 and r["min_ms"] <= r["median_ms"] <= r["max_ms"]
        assert r["GBps"] > 0 and r["bandwidth_GBps"] > 0
        assert r["fraction_of_bandwidth"] == pytest.approx(r["GBps"] / r["bandwidth_GBps"])
        assert r["x_sklearn"] is not None and r["x_sklearn"] > 0  # scikit-learn is in the test extra
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "objective loss_gradient" in table and "x sklearn" in table


def test_unknown_command_prints_usage(capsys):
    assert main(["nope"]) == 2
    assert "usage" in capsys.readouterr().out


def test_demo_fits_and_prints_the_speed_table(capsys):
    assert main(["demo", "--n", "5000", "--d", "5", "--repeat", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "done:" in out and "fastloss loss_gradient" in out
    assert "scikit-learn" in out and "gradient agreement with scikit-learn" in out
