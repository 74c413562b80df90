"""Wide CSR: the kernels in one pass against two (``fastloss.kernels.linear.two_passes``).

    PYTHONPATH=$PWD python bench/csr_wide.py [--n 300000] [--d 100000,600000,1000000] [--nnz 50]
                                             [--classes 1] [--threads 1,2] [--repeat 5]

For each number of columns ``d``, on one matrix (``fastloss.datasets.make_csr_problem``, uniform
columns), times the CSR ``loss_gradient`` and ``hessp`` (logistic, or multinomial with
``--classes K`` above 1; intercept, one direction, the curvature recomputed) as the Python API
runs them (``run_chunks`` over every chunk, fresh partials, combined), once with the kernels'
argument ``two`` false (one pass) and once true (a run of blocks scored, then spread in a
second pass). The two give the same bits (checked here). ``*`` marks the choice ``two_passes`` makes
with ``_config.CSR_TWO_PASS_BYTES``; scikit-learn's ``LinearModelLoss.loss_gradient`` (SciPy's
single-threaded ``X @ w`` and ``X.T @ g``, with ``HalfMultinomialLoss`` for ``K`` classes) is
timed on the same matrix for scale. Medians in ms.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _time_matrix(d: int, args, threads: list[int]) -> None:
    """Print one line per thread count for a matrix of ``d`` columns."""
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    from fastloss._parallel import run_chunks
    from fastloss._timing import median_time, settle
    from fastloss.datasets import make_csr_problem
    from fastloss.kernels import kernel_loss, linear, prepare
    from fastloss.kernels._chunks import bounds_for
    from fastloss.kernels._matrix import CSR

    K = args.classes
    A, y = make_csr_problem(args.n, d, args.nnz)
    X = CSR(A.data, A.indices, A.indptr, d)
    rng = np.random.default_rng(0)
    if K > 1:
        loss = kernel_loss("multinomial", K, None)
        y = rng.integers(0, K, y.size)
        sk = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=K), fit_intercept=True)
    else:
        prepare("logistic")  # every mode's loop
        loss = kernel_loss("logistic", 1, None)
        sk = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    coef = rng.standard_normal(K * (d + 1)) * 0.05
    V = rng.standard_normal((1, K * (d + 1)))
    y_sk = y.astype(np.float64)
    none = np.empty(0)
    pack = linear.score_vectors.of(loss)
    W, shift = pack(X, loss, coef, np.empty((0, coef.size)), True)
    WV, shift_v = pack(X, loss, coef, V, True)  # coef and the direction (curvature not cached)
    kernels = {  # name: (kernel, its arguments, width of a partial, totals, vectors it reads at random)
        "loss_gradient": (linear.loss_gradient_chunks, (X, loss, y, none, W, shift, True, True, none), coef.size, 1,
                          coef.size),
        "hessp": (linear.hessp_chunks, (X, loss, y, none, WV, shift_v, True, none), V.size, 0, coef.size + V.size),
    }  # each kernel's last argument, two, is added per run

    def run(name, wide, t):
        kernel, kernel_args, width, n_totals, _ = kernels[name]
        two = True if wide else None  # the kernels' argument: None compiles and runs one pass only
        return run_chunks(kernel.of(loss), (*kernel_args, two), bounds_for(X, width), n_totals, width, t)

    for t in threads:
        cells = []
        for name, (_, _, width, _, gathered) in kernels.items():
            one, two = run(name, False, t), run(name, True, t)
            assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True)), "one and two passes differ"
            pick = linear.two_passes(X, gathered, width, t, K)
            for wide in (False, True):
                settle()
                med, _, _ = median_time(lambda name=name, wide=wide, t=t: run(name, wide, t), repeat=args.repeat)
                cells.append(f"{med * 1e3:.1f}" + ("*" if wide == pick else " "))
        settle()
        med, _, _ = median_time(lambda t=t: sk.loss_gradient(coef, A, y_sk, None, 1e-4, t), repeat=args.repeat)
        print(f"{d:>9} {t:>7} | {cells[0]:>22} {cells[1]:>9} | {cells[2]:>14} {cells[3]:>9} | "
              f"{med * 1e3:>26.1f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=300_000)
    p.add_argument("--d", default="100000,600000,1000000")
    p.add_argument("--nnz", type=int, default=50)
    p.add_argument("--classes", type=int, default=1, help="K > 1: multinomial with K classes (default: logistic)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()

    threads = [int(t) for t in args.threads.split(",")]
    print(f"{'d':>9} {'threads':>7} | {'loss_gradient: 1 pass':>22} {'2 passes':>9} | "
          f"{'hessp: 1 pass':>14} {'2 passes':>9} | {'scikit-learn loss_gradient':>26}")
    for d in (int(x) for x in args.d.split(",")):
        _time_matrix(d, args, threads)


if __name__ == "__main__":
    main()
