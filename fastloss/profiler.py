"""``python -m fastloss bench``: the profiler.

Runs each operation on generated data, measures the machine's read bandwidth over an array as
large as ``X`` in the same run, and prints one row per (operation, threads): median time
(min-max), GB/s, percent of the bandwidth, and how many times faster than the NumPy reference
and scikit-learn on the same data and threads. ``--json`` writes the rows; ``--plot`` draws time
and GB/s against threads (matplotlib, the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import time

import numpy as np

from .datasets import ZIPF_EXPONENT

OPERATIONS = ("pointwise", "loss_gradient", "hessp", "gradient_hessp", "multinomial", "csr", "csr-zipf")
#: Not in the default list (about a minute of fresh processes): first calls with an empty cache.
COMPILE = "compile"


FORMATS = ("plain", "markdown")
#: Stored entries per row of the ``csr`` and ``csr-zipf`` matrices.
CSR_NNZ_PER_ROW = 50


def _progress(msg: str = "") -> None:
    """Show ``msg`` on the terminal's current line (``""`` clears it). Nothing when stderr is not a
    terminal: a log or a pipe would keep the carriage returns and escape sequences."""
    isatty = getattr(sys.stderr, "isatty", None)
    if isatty is None or not isatty():
        return
    sys.stderr.write(f"\r\033[K  ... {msg}" if msg else "\r\033[K")
    sys.stderr.flush()


class _Table:
    """Lines of a table, as aligned plain text or as a GitHub-markdown table, from the same cells.

    ``columns``: ``(title, width, align)`` with align ``"<"`` (text) or ``">"`` (numbers). The
    cells are strings formatted once by the caller; only the padding and separators differ."""

    def __init__(self, columns, markdown: bool):
        self.columns, self.markdown = columns, markdown

    def header(self) -> list[str]:
        titles = [title for title, _, _ in self.columns]
        if self.markdown:  # a blank line first: a table starts a new block after the line above it
            return ["", self.line(titles), self.line(["---:" if a == ">" else "---" for _, _, a in self.columns])]
        top = self.line(titles)
        return [top, "-" * len(top)]

    def line(self, cells) -> str:
        if self.markdown:
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
        return " ".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, self.columns, strict=True))


#: The timing table: one row per (operation, n, threads).
_TIMING_COLUMNS = [("operation", 46, "<"), ("shape", 16, ">"), ("thr", 3, ">"), ("median ms", 10, ">"),
                   ("min-max", 15, ">"), ("GB/s", 6, ">"), ("%bw", 4, ">"), ("x ref", 6, ">"),
                   ("x sklearn", 9, ">")]
_COMPILE_COLUMNS = [("first call, fresh process, empty cache", 52, "<"), ("seconds", 8, ">"),
                    ("x minimal kernel", 17, ">")]


def _ratio(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def _timing_cells(row: dict) -> list[str]:
    return [row["operation"], "x".join(map(str, row["shape"])), str(row["threads"]), f"{row['median_ms']:.1f}",
            f"{row['min_ms']:.1f}-{row['max_ms']:.1f}", f"{row['GBps']:.1f}",
            f"{100 * row['fraction_of_bandwidth']:.0f}", _ratio(row["x_reference"]), _ratio(row["x_sklearn"])]


def scaling_view(rows: list[dict], markdown: bool = True) -> list[str]:
    """Lines of a compact table from the profiler's timing rows: one row per operation (and n,
    where the rows hold several), one column per thread count, cells ``median ms (×sklearn)``.

    Made from the rows only (for example those ``--json`` wrote): nothing is measured again."""
    timed = [r for r in rows if "threads" in r]
    threads = sorted({r["threads"] for r in timed})
    several_n = len({r["n"] for r in timed}) > 1
    cells = {}
    for r in timed:
        key = (r["operation"], r["n"])
        ratio = "" if r["x_sklearn"] is None else f" (×{r['x_sklearn']:.1f})"
        cells.setdefault(key, {})[r["threads"]] = f"{r['median_ms']:.1f}{ratio}"
    first = ("operation" + (", n" if several_n else ""), _TIMING_COLUMNS[0][1], "<")
    columns = [first] + [(f"{t} thr", 16, ">") for t in threads]
    table = _Table(columns, markdown)
    lines = table.header()
    for (op, n), by_threads in cells.items():
        name = f"{op}, n={n}" if several_n else op
        lines.append(table.line([name] + [by_threads.get(t, "-") for t in threads]))
    return lines


def _sklearn():
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    return HalfBinomialLoss, HalfMultinomialLoss, LinearModelLoss


@functools.lru_cache(maxsize=1)
def _problem(kind: str, n: int, d: int, dtype: str, zipf: float, index_dtype: str = "int32"):
    """The data of one kind of operation, generated once for all its thread counts (and kept
    until another kind is asked for: one problem in memory at a time)."""
    from .datasets import make_csr_problem, make_logistic_problem

    if kind == "pointwise":
        rng = np.random.default_rng(0)
        m = n * 50
        return (rng.random(m) < 0.5).astype(np.float64), rng.standard_normal(m)
    if kind == "dense":
        return make_logistic_problem(n, d, dtype)
    return make_csr_problem(n, max(d * 1000, 1000), CSR_NNZ_PER_ROW, zipf=zipf if kind == "csr-zipf" else None,
                            dtype=dtype, index_dtype=index_dtype)


def _cases(op, n, d, dtype, threads, zipf, index_dtype="int32"):
    """Yield (label, shape, nbytes, fastloss_fn, reference_fn or None, sklearn_fn or None)."""
    import fastloss
    from fastloss import reference

    sk = _sklearn()
    rng = np.random.default_rng(1)
    if op == "pointwise":
        y, z = _problem("pointwise", n, d, dtype, zipf)
        L = fastloss.get_loss("logistic")
        sk_fn = None
        if sk:
            hb = sk[0]()
            sk_fn = lambda: hb.loss_gradient(y, z, n_threads=threads)  # noqa: E731
        return [("pointwise logistic loss_gradient", z.shape, z.nbytes,
                 lambda: L.loss_gradient(y, z, n_threads=threads),
                 lambda: (reference.point_loss("logistic", y, z), reference.point_gradient("logistic", y, z)),
                 sk_fn)]
    if op in ("loss_gradient", "hessp", "gradient_hessp"):
        X, y = _problem("dense", n, d, dtype, zipf)
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
        sk_fn = None
        if lml:  # scikit-learn's closure reuses its curvature too: like for like
            _, sk_hessp = lml.gradient_hessian_product(coef_sk, X, y_sk, None, 1e-4, threads)
            sk_fn = lambda: sk_hessp(v_sk)  # noqa: E731
        return [("objective gradient_hessp", X.shape, X.nbytes, lambda: obj.gradient_hessp(coef), None,
                 (lambda: lml.gradient_hessian_product(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None),
                ("objective hessp after gradient_hessp", X.shape, X.nbytes, lambda: hessp(v), None, sk_fn)]
    if op == "multinomial":
        K = 10
        X, _ = _problem("dense", n, d, dtype, zipf)
        y = rng.integers(0, K, n).astype(np.float64)
        obj = fastloss.LinearObjective(X, y, "multinomial", n_classes=K, l2=1e-4, n_threads=threads)
        coef = rng.standard_normal(obj.coef_shape) * 0.05
        lml = sk[2](sk[1](n_classes=K), fit_intercept=True) if sk else None
        y_sk, coef_sk = y.astype(X.dtype), coef.astype(X.dtype)
        return [(f"multinomial K={K} loss_gradient", X.shape, X.nbytes, lambda: obj.loss_gradient(coef), None,
                 (lambda: lml.loss_gradient(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None)]
    if op in ("csr", "csr-zipf"):
        X, y = _problem(op, n, d, dtype, zipf, index_dtype)
        obj = fastloss.LinearObjective(X, y, l2=1e-4, n_threads=threads)
        coef = rng.standard_normal(obj.n_coef) * 0.05
        v = rng.standard_normal(obj.n_coef)
        nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        lml = sk[2](sk[0](), fit_intercept=True) if sk else None
        # As for dense X: scikit-learn computes in X's dtype and wants y, coef and v in it too.
        y_sk, coef_sk, v_sk = (a.astype(X.dtype) for a in (y, coef, v))
        sk_hp = None
        if lml:
            _, sk_hessp = lml.gradient_hessian_product(coef_sk, X, y_sk, None, 1e-4, threads)
            sk_hp = lambda: sk_hessp(v_sk)  # noqa: E731
        kind = "csr" if op == "csr" else f"csr zipf {zipf:g}"
        indices = "" if index_dtype == "int32" else f", {index_dtype} indices"
        label = f"{kind} ({CSR_NNZ_PER_ROW}/row, d={X.shape[1]}{indices})"
        _, hessp = obj.gradient_hessp(coef)
        # "hessp" recomputes the curvature, scikit-learn's closure does not (the comparison);
        # the two rows after it compare like with like: the gradient with the curvature, then a
        # product that reuses it, as Newton-CG calls them.
        return [(f"{label} loss_gradient", X.shape, nbytes, lambda: obj.loss_gradient(coef),
                 None, (lambda: lml.loss_gradient(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None),
                (f"{label} hessp", X.shape, nbytes, lambda: obj.hessp(coef, v), None, sk_hp),
                (f"{label} gradient_hessp", X.shape, nbytes, lambda: obj.gradient_hessp(coef), None,
                 (lambda: lml.gradient_hessian_product(coef_sk, X, y_sk, None, 1e-4, threads)) if lml else None),
                (f"{label} hessp after gradient_hessp", X.shape, nbytes, lambda: hessp(v), None, sk_hp)]
    raise ValueError(f"unknown operation {op!r}; choose from {', '.join(OPERATIONS + (COMPILE,))}")


def bench(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastloss bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="1000000",
                   help="rows, or comma-separated row counts for a sweep, e.g. 100000,1000000 (pointwise: 50 x n)")
    p.add_argument("--d", type=int, default=100,
                   help=f"features (csr, csr-zipf: 1000 x d columns, {CSR_NNZ_PER_ROW} per row)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--index-dtype", default="int32", choices=["int32", "int64"],
                   help="the CSR matrices' indices and indptr (csr, csr-zipf)")
    p.add_argument("--threads", default=None, help="comma-separated thread counts, e.g. 1,2 (default: all)")
    p.add_argument("--ops", default=",".join(OPERATIONS),
                   help="comma-separated subset of " + ",".join(OPERATIONS + (COMPILE,))
                   + f"; {COMPILE!r}: first calls in fresh processes with an empty cache, against a minimal kernel")
    p.add_argument("--zipf", type=float, default=ZIPF_EXPONENT,
                   help=f"exponent of the column frequencies of csr-zipf (a Zipf law; default {ZIPF_EXPONENT})")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-reference", action="store_true", help="skip the (slow) NumPy reference")
    p.add_argument("--format", default="plain", choices=FORMATS,
                   help="plain aligned columns, or a GitHub-markdown table to paste into a README")
    p.add_argument("--json", default=None, help="write the rows to this file")
    p.add_argument("--plot", default=None, help="write a PNG of time and GB/s against threads")
    args = p.parse_args(argv)
    ops = args.ops.split(",")
    unknown = [op for op in ops if op not in OPERATIONS + (COMPILE,)]
    if unknown:
        p.error(f"--ops: unknown operation {unknown[0]!r}; choose from {', '.join(OPERATIONS + (COMPILE,))}")
    if not (np.isfinite(args.zipf) and args.zipf >= 0):
        p.error(f"--zipf must be a finite exponent >= 0, got {args.zipf}")

    import numba

    from .__main__ import _cpu_name
    from ._parallel import check_n_threads
    from ._timing import blas_threads, median_time, read_bandwidth

    threads_list = ([check_n_threads(None)] if args.threads is None
                    else list(dict.fromkeys(check_n_threads(int(t)) for t in args.threads.split(","))))
    n_list = [int(v) for v in str(args.n).split(",")]
    markdown = args.format == "markdown"
    rows = []
    print(f"fastloss profiler | {_cpu_name()} | numba {numba.__version__} | numpy {np.__version__} | "
          f"n={','.join(map(str, n_list))} d={args.d} {args.dtype} | threads {threads_list}")
    if COMPILE in ops:
        ops.remove(COMPILE)
        rows.extend(_compile_rows(markdown))
    if not ops:
        return _write(rows, args)
    table = _Table(_TIMING_COLUMNS, markdown)
    print("\n".join(table.header()))
    try:
        for op, n, t in itertools.product(ops, n_list, threads_list):
            _progress(f"{op}: generating data")
            cases = _cases(op, n, args.d, args.dtype, t, args.zipf, args.index_dtype)
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
                _progress()
                print(table.line(_timing_cells(row)), flush=True)
            del cases
    finally:
        _problem.cache_clear()
    print(("\n" if markdown else "")
          + "GB/s: bytes of X (CSR: data + indices + indptr; pointwise: raw predictions) over the median time; "
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


def _compile_rows(markdown: bool = False) -> list[dict]:
    """Print and return the first-call seconds of :mod:`fastloss._compile_times`."""
    from ._compile_times import measure

    steps = measure(progress=_progress)
    _progress()
    minimal = steps[0][1]
    table = _Table(_COMPILE_COLUMNS, markdown)
    print("\n".join(table.header()))
    rows = []
    for step, seconds in steps:
        print(table.line([step, f"{seconds:.2f}", f"{seconds / minimal:.1f}"]), flush=True)
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
