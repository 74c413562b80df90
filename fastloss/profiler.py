"""``python -m fastloss bench``: the profiler.

Runs each operation on generated data, measures the machine's read bandwidth over an array as
large as ``X`` in the same run, and prints one row per (operation, threads): median time
(min-max), GB/s, percent of the bandwidth, and how many times faster than the NumPy reference
and scikit-learn on the same data and threads. ``--json`` writes the rows; ``--plot`` draws time
and GB/s against threads (matplotlib, the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np

OPERATIONS = ("pointwise", "loss_gradient", "hessp", "gradient_hessp", "multinomial", "csr")
#: Not in the default list (about a minute of fresh processes): first calls with an empty cache.
COMPILE = "compile"


def _progress(msg: str) -> None:
    sys.stderr.write(f"\r\033[K  ... {msg}")
    sys.stderr.flush()


def _sklearn():
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    return HalfBinomialLoss, HalfMultinomialLoss, LinearModelLoss


def _cases(op, n, d, dtype, threads, rng):
    """Yield (label, shape, nbytes, fastloss_fn, reference_fn or None, sklearn_fn or None)."""
    import fastloss
    from fastloss import reference

    from .datasets import make_logistic_problem

    sk = _sklearn()
    if op == "pointwise":
        m = n * 50
        z = rng.standard_normal(m)
        y = (rng.random(m) < 0.5).astype(np.float64)
        L = fastloss.get_loss("logistic")
        sk_fn = None
        if sk:
            hb = sk[0]()
            sk_fn = lambda: hb.loss_gradient(y, z, n_threads=threads)  # noqa: E731
        return [("pointwise logistic loss_gradient", (m,), z.nbytes,
                 lambda: L.loss_gradient(y, z, n_threads=threads),
                 lambda: (reference.point_loss("logistic", y, z), reference.point_gradient("logistic", y, z)),
                 sk_fn)]
    if op in ("loss_gradient", "hessp", "gradient_hessp"):
        X, y = make_logistic_problem(n, d, dtype)
        obj = fastloss.LinearObjective(X, y, l2=1e-4, n_threads=threads)
        coef = rng.standard_normal(obj.n_coef) * 0.05
        v = rng.standard_normal(obj.n_coef)
        lml = sk[2](sk[0](), fit_intercept=True) if sk else None
        # scikit-learn computes in X's dtype and wants y, coef and v in it too.
        y_sk, coef_sk, v_sk = (a.astype(X.dtype) for a in (y, coef, v))
        if op == "loss_gradient":
            return [("objective loss_gradient", X.shape, X.nbytes, lambda: obj.loss_gradient(coef),
                     lambda: (reference.objective_loss("logistic", X, y, coef, l2=1e-4),
                              reference.objective_gradient("logistic", X, y, coef, l2=1e-4)),
                     (lambda: lml.loss_gradient(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None)]
        if op == "hessp":
            sk_fn = None
            if lml:
                _, sk_hessp = lml.gradient_hessian_product(coef_sk, X, y_sk, None, 1e-4, threads)
                sk_fn = lambda: sk_hessp(v_sk)  # noqa: E731
            return [("objective hessp", X.shape, X.nbytes, lambda: obj.hessp(coef, v),
                     lambda: reference.objective_hessp("logistic", X, y, coef, v, l2=1e-4), sk_fn)]
        _, hessp = obj.gradient_hessp(coef)
        return [("objective gradient_hessp", X.shape, X.nbytes, lambda: obj.gradient_hessp(coef), None,
                 (lambda: lml.gradient_hessian_product(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None),
                ("objective hessp after gradient_hessp", X.shape, X.nbytes, lambda: hessp(v), None, None)]
    if op == "multinomial":
        K = 10
        X, _ = make_logistic_problem(n, d, dtype)
        y = rng.integers(0, K, n).astype(np.float64)
        obj = fastloss.LinearObjective(X, y, "multinomial", n_classes=K, l2=1e-4, n_threads=threads)
        coef = rng.standard_normal(obj.coef_shape) * 0.05
        lml = sk[2](sk[1](n_classes=K), fit_intercept=True) if sk else None
        y_sk, coef_sk = y.astype(X.dtype), coef.astype(X.dtype)
        return [(f"multinomial K={K} loss_gradient", X.shape, X.nbytes, lambda: obj.loss_gradient(coef), None,
                 (lambda: lml.loss_gradient(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None)]
    if op == "csr":
        import scipy.sparse as sp

        nnz_row = 50
        d_sp = max(d * 1000, 1000)
        indptr = np.arange(0, n * nnz_row + 1, nnz_row, dtype=np.int64)
        indices = rng.integers(0, d_sp, n * nnz_row)
        data = rng.standard_normal(n * nnz_row).astype(dtype)
        X = sp.csr_matrix((data, indices, indptr), shape=(n, d_sp))
        y = (rng.random(n) < 0.5).astype(np.float64)
        obj = fastloss.LinearObjective(X, y, l2=1e-4, n_threads=threads)
        coef = rng.standard_normal(obj.n_coef) * 0.05
        v = rng.standard_normal(obj.n_coef)
        nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        lml = sk[2](sk[0](), fit_intercept=True) if sk else None
        sk_hp = None
        if lml:
            _, sk_hessp = lml.gradient_hessian_product(coef, X, y, None, 1e-4, threads)
            sk_hp = lambda: sk_hessp(v)  # noqa: E731
        return [(f"csr ({nnz_row}/row, d={d_sp}) loss_gradient", X.shape, nbytes, lambda: obj.loss_gradient(coef),
                 None, (lambda: lml.loss_gradient(coef, X, y, None, 1e-4, threads)) if lml else None),
                (f"csr ({nnz_row}/row, d={d_sp}) hessp", X.shape, nbytes, lambda: obj.hessp(coef, v), None, sk_hp)]
    raise ValueError(f"unknown operation {op!r}; choose from {', '.join(OPERATIONS)}")


def bench(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastloss bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="1000000",
                   help="rows, or comma-separated row counts for a sweep, e.g. 100000,1000000 (pointwise: 50 x n)")
    p.add_argument("--d", type=int, default=100, help="features (csr: 1000 x d columns, 50 per row)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--threads", default=None, help="comma-separated thread counts, e.g. 1,2 (default: all)")
    p.add_argument("--ops", default=",".join(OPERATIONS),
                   help="comma-separated subset of " + ",".join(OPERATIONS + (COMPILE,))
                   + f"; {COMPILE!r}: first calls in fresh processes with an empty cache, against a minimal kernel")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-reference", action="store_true", help="skip the (slow) NumPy reference")
    p.add_argument("--json", default=None, help="write the rows to this file")
    p.add_argument("--plot", default=None, help="write a PNG of time and GB/s against threads")
    args = p.parse_args(argv)

    import numba

    from .__main__ import _cpu_name
    from ._parallel import check_n_threads
    from ._timing import blas_threads, median_time, read_bandwidth

    threads_list = ([check_n_threads(None)] if args.threads is None
                    else [check_n_threads(int(t)) for t in args.threads.split(",")])
    n_list = [int(v) for v in str(args.n).split(",")]
    rng = np.random.default_rng(0)
    rows = []
    print(f"fastloss profiler | {_cpu_name()} | numba {numba.__version__} | numpy {np.__version__} | "
          f"n={','.join(map(str, n_list))} d={args.d} {args.dtype} | threads {threads_list}")
    ops = args.ops.split(",")
    if COMPILE in ops:
        ops.remove(COMPILE)
        rows.extend(_compile_rows())
    if not ops:
        return _write(rows, args)
    header = (f"{'operation':<40} {'shape':>16} {'thr':>3} {'median ms':>10} {'min-max':>15} {'GB/s':>6} "
              f"{'%bw':>4} {'x ref':>6} {'x sklearn':>9}")
    print(header)
    print("-" * len(header))
    for op, n, t in itertools.product(ops, n_list, threads_list):
        _progress(f"{op}: generating data")
        cases = _cases(op, n, args.d, args.dtype, t, rng)
        for label, shape, nbytes, fl, ref, sk in cases:
            _progress(f"{label}: bandwidth probe ({t} threads)")
            probe = np.ones((max(1, nbytes // (8 * 64)), 64))  # as many bytes as the operation streams
            bw = read_bandwidth(probe, t)
            del probe
            _progress(f"{label}: fastloss ({t} threads)")
            fl_t = median_time(fl, args.repeat)
            ref_t = sk_t = None
            with blas_threads(t):
                if ref is not None and not args.no_reference:
                    _progress(f"{label}: NumPy reference")
                    ref_t = median_time(ref, max(1, args.repeat // 2))
                if sk is not None:
                    _progress(f"{label}: scikit-learn")
                    sk_t = median_time(sk, args.repeat)
            gbs = nbytes / fl_t[0] / 1e9
            row = {"operation": label, "n": n, "shape": list(shape), "dtype": args.dtype, "threads": t,
                   "median_ms": fl_t[0] * 1e3, "min_ms": fl_t[1] * 1e3, "max_ms": fl_t[2] * 1e3,
                   "GBps": gbs, "bandwidth_GBps": bw, "fraction_of_bandwidth": gbs / bw,
                   "x_reference": ref_t[0] / fl_t[0] if ref_t else None,
                   "x_sklearn": sk_t[0] / fl_t[0] if sk_t else None,
                   "sklearn_ms": sk_t[0] * 1e3 if sk_t else None}
            rows.append(row)
            sys.stderr.write("\r\033[K")
            xr = f"{row['x_reference']:6.1f}" if ref_t else f"{'-':>6}"
            xs = f"{row['x_sklearn']:9.1f}" if sk_t else f"{'-':>9}"
            print(f"{label:<40} {'x'.join(map(str, shape)):>16} {t:>3} {row['median_ms']:10.1f} "
                  f"{row['min_ms']:7.1f}-{row['max_ms']:<7.1f} {gbs:6.1f} {100 * gbs / bw:4.0f} {xr} {xs}",
                  flush=True)
        del cases
    print("GB/s: bytes of X (CSR: data + indices + indptr; pointwise: raw predictions) over the median time; "
          "%bw: of the read bandwidth measured just before; x: other time / fastloss time, same run.")
    return _write(rows, args)


def _write(rows, args) -> int:
    from .__main__ import _cpu_name

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": _cpu_name(), "rows": rows}, f, indent=1)
    timed = [r for r in rows if "n" in r]
    if args.plot and timed:
        _plot(timed, args.plot)
    return 0


def _compile_rows() -> list[dict]:
    """Print and return the first-call seconds of :mod:`fastloss._compile_times`."""
    from ._compile_times import measure

    steps = measure(progress=_progress)
    sys.stderr.write("\r\033[K")
    minimal = steps[0][1]
    print(f"{'first call, fresh process, empty cache':<52} {'seconds':>8} {'x minimal kernel':>17}")
    rows = []
    for step, seconds in steps:
        print(f"{step:<52} {seconds:8.2f} {seconds / minimal:17.1f}", flush=True)
        rows.append({"operation": f"compile: {step}", "seconds": seconds, "x_minimal": seconds / minimal})
    print()
    return rows


def _plot(rows, path):
    """Time and GB/s against threads (at the largest n) and, for a sweep of n, against n (at the
    most threads); the measured read bandwidth as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_max = max(r["n"] for r in rows)
    t_max = max(r["threads"] for r in rows)
    sweeps = [("threads", [r for r in rows if r["n"] == n_max], f"n = {n_max:,}")]
    if len({r["n"] for r in rows}) > 1:
        sweeps.append(("n", [r for r in rows if r["threads"] == t_max], f"{t_max} thread(s)"))
    fig, axes = plt.subplots(len(sweeps), 2, figsize=(11, 4 * len(sweeps)), squeeze=False)
    for (key, subset, where), (ax_t, ax_b) in zip(sweeps, axes, strict=True):
        for label in dict.fromkeys(r["operation"] for r in subset):
            rs = sorted((r for r in subset if r["operation"] == label), key=lambda r: r[key])
            ax_t.plot([r[key] for r in rs], [r["median_ms"] for r in rs], "o-", label=label)
            ax_b.plot([r[key] for r in rs], [r["GBps"] for r in rs], "o-", label=label)
        first = sorted((r for r in subset if r["operation"] == subset[0]["operation"]), key=lambda r: r[key])
        ax_b.plot([r[key] for r in first], [r["bandwidth_GBps"] for r in first], "k--", label="read bandwidth")
        scale = "log" if key == "n" else "linear"
        ax_t.set(xlabel=key, ylabel="median ms", xscale=scale, yscale="log", title=f"time, {where}")
        ax_b.set(xlabel=key, ylabel="GB/s", xscale=scale, title=f"throughput, {where}")
        ax_b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
