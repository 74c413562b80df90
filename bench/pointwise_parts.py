"""Where the pointwise API's time goes: the kernel, the value checks, fresh outputs, against scikit-learn.

For ``get_loss("logistic").loss_gradient`` over ``--n`` scores (default 10,000,000) and
``get_loss("multinomial").loss_gradient`` over ``--n-multinomial`` rows of ``K = 10`` scores
(default 1,000,000), at 1 and 2 threads, medians of ``--repeat`` (default 7)::

    python bench/pointwise_parts.py [--n 10000000] [--n-multinomial 1000000] [--repeat 7]

Columns, each timed on its own:

* ``whole call``: the public call, validation included, fresh outputs;
* ``kernel``: the compiled kernel with outputs given (already touched): the math, the memory
  traffic and, since the kernel counts invalid values in its own pass, the value checks;
* ``fresh outputs``: the same kernel writing into fresh ``np.empty`` outputs, minus ``kernel``:
  the page faults of the outputs, paid by the threads that first write them;
* ``separate checks``: the value checks as separate passes (labels, scores), which the API runs
  only when ``out=`` is given (before the kernel, so that ``out`` is untouched on error);
* ``scikit-learn``: ``HalfBinomialLoss`` / ``HalfMultinomialLoss``'s ``loss_gradient`` with
  ``n_threads``, and its time over the whole call's.

The script runs against any fastloss on ``PYTHONPATH`` that has the pointwise kernels (an older
checkout too, for before/after tables: columns it lacks print as ``-``). It prints the load
average before and after: the machine should be quiet.
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def _median_ms(f, repeat) -> float:
    from fastloss._timing import median_time

    return 1e3 * median_time(f, repeat)[0]


def _kernels():
    """``(binary, multinomial)`` njit-callable pointwise kernels of the fastloss imported."""
    from fastloss.kernels import pointwise as PK

    multinomial = getattr(PK, "multinomial_pointwise", None)
    if multinomial is None:  # before the multinomial pointwise kernel moved to kernels/pointwise.py
        from fastloss.kernels import multinomial as MK

        multinomial = MK.pointwise
    return PK.binary_pointwise, multinomial


def _separate_checks(name, y, raw):
    """The value checks the API runs as separate passes when ``out=`` is given."""
    from fastloss import _validation as val

    raw = val.check_raw_prediction(raw, name)
    if name == "multinomial":
        val.check_class_labels(y, raw.shape[0], raw.shape[1], as_read=True)
    else:
        val.binary_labels_as_read(y, raw.shape[0], name)


def _row(name, labels, raw, kernel, sk, t, repeat) -> None:
    import fastloss
    from fastloss._parallel import threads

    L = fastloss.get_loss(name)
    loss, grad = np.zeros(raw.shape[0]), np.zeros(raw.shape)
    loss.fill(0.0)  # touched: no page faults in the ``kernel`` column
    grad.fill(0.0)
    whole = _median_ms(lambda: L.loss_gradient(labels, raw, n_threads=t), repeat)
    with threads(t):
        given = _median_ms(lambda: kernel(loss, grad), repeat)
        fresh = _median_ms(lambda: kernel(np.empty(raw.shape[0]), np.empty(raw.shape)), repeat)
        checks = _median_ms(lambda: _separate_checks(name, labels, raw), repeat)
    sk_ms = _median_ms(lambda: sk.loss_gradient(labels, raw, n_threads=t), repeat) if sk else float("nan")
    print(f"| {name} | {t} | {whole:.1f} | {given:.1f} | {fresh - given:.1f} | {checks:.1f} | "
          f"{sk_ms:.1f} ({sk_ms / whole:.2f}x) |", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000_000)
    p.add_argument("--n-multinomial", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)

    import fastloss
    from fastloss.kernels import prepare

    binary_kernel, multinomial_kernel = _kernels()
    prepare("logistic")
    K = 10
    rng = np.random.default_rng(0)
    z = rng.standard_normal(args.n)
    y = (rng.random(args.n) < 0.5).astype(np.float64)
    Z = rng.standard_normal((args.n_multinomial, K))
    classes = rng.integers(0, K, args.n_multinomial).astype(np.float64)
    empty = np.empty(0)
    cases = {
        "logistic": (y, z, lambda lo, gr: binary_kernel(y, z, empty, 0, lo, gr, empty)),
        "multinomial": (classes, Z, lambda lo, gr: multinomial_kernel(classes, Z, empty, lo, gr, empty)),
    }
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss

        sk = {"logistic": HalfBinomialLoss(), "multinomial": HalfMultinomialLoss(n_classes=K)}
    except ImportError:
        sk = {}
    print(f"fastloss {os.path.dirname(fastloss.__file__)}; load average before: {os.getloadavg()}")
    print(f"loss_gradient, logistic over {args.n:,} scores, multinomial over {args.n_multinomial:,} x {K}; "
          f"medians of {args.repeat}, ms")
    print("| loss | threads | whole call | kernel | fresh outputs | separate checks | scikit-learn |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (labels, raw, kernel) in cases.items():
        for t in (1, 2):
            _row(name, labels, raw, kernel, sk.get(name), t, args.repeat)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
