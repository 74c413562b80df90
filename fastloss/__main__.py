"""Command line: ``python -m fastloss demo`` (fit + speed table) and ``python -m fastloss bench``.

Also installed as the ``fastloss`` console script.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _threads_arg(value):
    from ._parallel import check_n_threads

    return check_n_threads(None if value is None else int(value))


def _row(name, stats, nbytes, bw, extra=""):
    med, lo, hi = stats
    gbs = nbytes / med / 1e9
    return (f"  {name:<40} {med * 1e3:9.1f}  {lo * 1e3:8.1f}-{hi * 1e3:<8.1f} {gbs:6.1f}  {100 * gbs / bw:5.0f}%  "
            f"{extra:>8}")


#: The demo's fit rows: LinearClassifier's default against scikit-learn's two fastest solvers on
#: dense data (``python -m fastloss._fitbench`` runs every solver).
DEMO_FIT_CONTENDERS = (("fastloss", "auto"), ("scikit-learn", "lbfgs"), ("scikit-learn", "newton-cholesky"))


def _fit_rows(X, y, l2: float, threads: int, max_seconds: float) -> list[str]:
    """Rows of the speed table: seconds of one fit from zero to ``f <= f* (1 + 1e-10)`` per contender
    of ``DEMO_FIT_CONTENDERS``, at the first tolerance that reaches it (``fastloss._fitbench``)."""
    from ._fitbench import Dataset, measure, reference_solution

    data = Dataset("demo", X, y, l2)
    reference = reference_solution(data, threads)
    results = [measure(data, reference, library, solver, n_threads=threads, max_seconds=max_seconds)
               for library, solver in DEMO_FIT_CONTENDERS]
    ours = results[0]
    rows = []
    for r in results:
        name = f"fit: {'LinearClassifier' if r.library == 'fastloss' else 'LogisticRegression'} {r.solver}"
        if not r.reached:
            rows.append(f"  {name:<40} {r.status} {r.note}".rstrip())
            continue
        slower = f"{r.seconds / ours.seconds:.1f}x" if r is not ours and ours.reached else ""
        rows.append(f"  {name:<40} {r.seconds * 1e3:9.1f}  {f'tol {r.tol:.0e}':<17} {'':>6}  {'':>6}  {slower:>8}")
    return rows


def demo(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastloss demo",
                                description="Fit a generated logistic regression with SciPy + fastloss, then time "
                                            "fastloss against its NumPy reference and scikit-learn.")
    p.add_argument("--n", type=int, default=1_000_000, help="samples (default 1,000,000)")
    p.add_argument("--d", type=int, default=100, help="features (default 100)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--threads", type=int, default=None, help="threads for every library (default: all)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per operation (median reported)")
    p.add_argument("--l2", type=float, default=None, help="L2 strength (default 1/n)")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="cap on each fit row's tries (default 60; see python -m fastloss._fitbench --help)")
    args = p.parse_args(argv)

    import numba
    import scipy
    from scipy.optimize import minimize

    import fastloss
    from fastloss import reference
    from fastloss._timing import blas_threads, median_time, read_bandwidth
    from fastloss.datasets import make_logistic_problem

    threads = _threads_arg(args.threads)
    print(f"fastloss {fastloss.__version__} | numba {numba.__version__} | numpy {np.__version__} | "
          f"scipy {scipy.__version__} | {_cpu_name()} | {threads} thread(s)")
    t0 = time.perf_counter()
    X, y = make_logistic_problem(args.n, args.d, args.dtype)
    print(f"data: X {X.shape} {X.dtype} ({X.nbytes / 1e9:.2f} GB), generated in {time.perf_counter() - t0:.1f} s")

    l2 = 1.0 / args.n if args.l2 is None else args.l2
    t0 = time.perf_counter()
    obj = fastloss.LinearObjective(X, y, "logistic", l2=l2, n_threads=threads)
    coef0 = np.zeros(obj.n_coef)
    obj.loss_gradient(coef0)
    obj.hessp(coef0, coef0)
    print(f"first calls (compile or load from cache): {time.perf_counter() - t0:.2f} s")

    print("\nfit: scipy.optimize.minimize(obj.loss_gradient, x0, jac=True, hessp=obj.hessp, method='trust-ncg')")
    state = {"it": 0, "t0": time.perf_counter()}

    def progress(xk):
        state["it"] += 1
        f, g = obj.loss_gradient(xk)
        print(f"  iter {state['it']:3d}  loss {f:.10f}  |grad| {np.linalg.norm(g):.3e}  "
              f"{time.perf_counter() - state['t0']:6.2f} s", flush=True)

    res = minimize(obj.loss_gradient, coef0, jac=True, hessp=obj.hessp, method="trust-ncg",
                   callback=progress, options={"gtol": 1e-8})
    print(f"  done: {res.message} in {time.perf_counter() - state['t0']:.2f} s, "
          f"{res.nfev} loss_gradient + {res.nhev} hessp calls")

    coef = res.x
    v = np.random.default_rng(1).standard_normal(obj.n_coef)
    nbytes = X.nbytes
    bw = read_bandwidth(X, threads)
    print(f"\nspeed: median of {args.repeat} runs at the solution; GB/s = bytes of X / time; "
          f"read bandwidth measured now: {bw:.1f} GB/s")
    print(f"  {'operation':<40} {'median ms':>9}  {'min-max ms':<17} {'GB/s':>6}  {'of bw':>6}  {'slower':>8}")
    fl_lg = median_time(lambda: obj.loss_gradient(coef), args.repeat)
    fl_hp = median_time(lambda: obj.hessp(coef, v), args.repeat)
    _, hessp = obj.gradient_hessp(coef)
    fl_hc = median_time(lambda: hessp(v), args.repeat)
    rows = [_row("fastloss loss_gradient", fl_lg, nbytes, bw),
            _row("fastloss hessp", fl_hp, nbytes, bw),
            _row("fastloss hessp after gradient_hessp", fl_hc, nbytes, bw)]
    with blas_threads(threads):
        kw = {"l2": l2}
        ref_lg = median_time(lambda: (reference.objective_loss("logistic", X, y, coef, **kw),
                                      reference.objective_gradient("logistic", X, y, coef, **kw)),
                             max(1, args.repeat // 2))
        ref_hp = median_time(lambda: reference.objective_hessp("logistic", X, y, coef, v, **kw),
                             max(1, args.repeat // 2))
        rows += [_row("numpy reference loss + gradient", ref_lg, nbytes, bw, extra=f"{ref_lg[0] / fl_lg[0]:.1f}x"),
                 _row("numpy reference hessp", ref_hp, nbytes, bw, extra=f"{ref_hp[0] / fl_hp[0]:.1f}x")]
        try:
            from sklearn._loss.loss import HalfBinomialLoss
            from sklearn.linear_model._linear_loss import LinearModelLoss
        except ImportError:
            rows.append("  scikit-learn not installed: pip install 'fastloss[demo]' to compare")
        else:
            import sklearn

            lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)
            sk_lg = median_time(lambda: lml.loss_gradient(coef, X, y, None, l2, threads), args.repeat)
            sk_hp_prep = median_time(lambda: lml.gradient_hessian_product(coef, X, y, None, l2, threads), 1)
            _, sk_hessp = lml.gradient_hessian_product(coef, X, y, None, l2, threads)
            sk_hp = median_time(lambda: sk_hessp(v), args.repeat)
            rows += [
                _row(f"scikit-learn {sklearn.__version__} loss_gradient", sk_lg, nbytes, bw,
                     extra=f"{sk_lg[0] / fl_lg[0]:.1f}x"),
                _row("scikit-learn gradient_hessian_product", sk_hp_prep, nbytes, bw),
                _row("scikit-learn hessp (after the above)", sk_hp, nbytes, bw, extra=f"{sk_hp[0] / fl_hc[0]:.1f}x"),
            ]
            sk_coef_diff = np.max(np.abs(lml.gradient(coef, X, y, None, l2, threads) - obj.gradient(coef)))
            rows.append(f"  gradient agreement with scikit-learn at the solution: max |diff| = {sk_coef_diff:.2e}")
            rows += _fit_rows(X, y, l2, threads, args.max_seconds)
    print("\n".join(rows))
    print("\n'slower' = its time / fastloss's time for the same quantity, same data, same threads, this run.")
    print("'fit' rows: one fit from zero until the objective is within 1e-10 (relative) of a certified optimum, at the "
          "first tol\n(1e-4, 1e-6, ...) that gets there, shown in place of min-max.")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"demo": demo}
    try:
        from .profiler import bench
    except ImportError:
        pass
    else:
        commands["bench"] = bench
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: python -m fastloss {" + ",".join(commands) + "} [options]   (each command takes --help)")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
