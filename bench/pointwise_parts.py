"""Where the pointwise API's time goes: checks, fresh outputs and the kernel, against scikit-learn.

For ``get_loss("logistic").loss_gradient`` over ``--n`` scores (default 10,000,000) at 1 and 2
threads, medians of 7::

    python bench/pointwise_parts.py [--n 10000000]

prints the whole call, each part on its own (the compiled label check, the compiled finiteness
check of the scores, allocating and touching two fresh outputs, the kernel with given outputs),
NumPy's ``exp`` over the same array as a yardstick, and ``HalfBinomialLoss.loss_gradient``.
"""

from __future__ import annotations

import argparse

import numpy as np


def _median_ms(f, repeat=7) -> float:
    from fastloss._timing import median_time

    return 1e3 * median_time(f, repeat)[0]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000_000)
    args = p.parse_args(argv)

    import fastloss
    from fastloss._parallel import threads
    from fastloss.kernels import pointwise as PK
    from fastloss.kernels import prepare
    from fastloss.kernels._checks import first_nonfinite_2d, value_counts

    n = args.n
    rng = np.random.default_rng(0)
    z = rng.standard_normal(n)
    y = (rng.random(n) < 0.5).astype(np.float64)
    L = fastloss.get_loss("logistic")
    prepare("logistic")
    loss, grad, empty = np.empty(n), np.empty(n), np.empty(0)
    try:
        from sklearn._loss.loss import HalfBinomialLoss
        sk = HalfBinomialLoss()
    except ImportError:
        sk = None
    print(f"logistic loss_gradient over {n:,} scores, medians of 7, ms")
    print("| threads | whole call | label check | finite check | two fresh outputs | kernel | numpy exp "
          "| scikit-learn |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in (1, 2):
        whole = _median_ms(lambda t=t: L.loss_gradient(y, z, n_threads=t))
        with threads(t):
            labels = _median_ms(lambda: value_counts(y))
            finite = _median_ms(lambda: first_nonfinite_2d(z.reshape(n, 1)))
            kernel = _median_ms(lambda: PK.binary_pointwise(y, z, empty, 0, loss, grad, empty))
        fresh = _median_ms(lambda: (np.empty(n).fill(0.0), np.empty(n).fill(0.0)))
        yardstick = _median_ms(lambda: np.exp(z, out=loss))
        sk_ms = _median_ms(lambda t=t: sk.loss_gradient(y, z, n_threads=t), 5) if sk else float("nan")
        print(f"| {t} | {whole:.1f} | {labels:.1f} | {finite:.1f} | {fresh:.1f} | {kernel:.1f} | {yardstick:.1f} | "
              f"{sk_ms:.1f} ({sk_ms / whole:.2f}x) |")


if __name__ == "__main__":
    main()
