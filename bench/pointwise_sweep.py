"""The multinomial pointwise kernel over a sweep of class counts K, optionally against an older revision.

The same number of scores for every ``K`` (``--scores``, default 10,000,000: ``n = scores // K``
rows), float64, integer labels; per ``K`` and contender, the median of ``--rounds`` (default 7)
interleaved rounds, ms, of

* ``call``: the public ``get_loss("multinomial").loss_gradient``, validation and fresh outputs
  included;
* ``kernel``: the compiled ``kernels.pointwise.multinomial_pointwise`` writing loss and gradient
  into outputs already touched;
* ``sklearn``: scikit-learn's ``HalfMultinomialLoss(n_classes=K).loss_gradient`` with ``n_threads``
  (fresh outputs too), in the same rounds;
* ``rows`` / ``blocks`` (with ``--old``; serial, one thread): the old revision's two chunk functions,
  ``_multinomial_rows`` and ``_multinomial_blocks``, each run over every chunk whatever ``K``
  (before one softmax, the kernel took blocks up to 24 classes and rows beyond).

The last column is the CPU time other processes took during the row, in cores (0.00: a quiet
machine). With ``--old REV`` the package as of git revision ``REV`` (``_revision.import_revision``) runs in
the same process, its call and this checkout's alternating within each round::

    NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD taskset -c 1 python bench/pointwise_sweep.py --old HEAD \\
        --K 3,10,32,100,1000,5000 --threads 1
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _contenders(old):
    """``[(label, fastloss module, its kernels.pointwise module)]``: the old revision first."""
    out = []
    if old:
        from _revision import import_revision

        mod = import_revision(old, "fastloss_old")
        out.append((f"old ({old})", mod, importlib.import_module("fastloss_old.kernels.pointwise")))
    import fastloss
    from fastloss.kernels import pointwise

    out.append(("new", fastloss, pointwise))
    return out


def _busy_seconds():
    """(CPU seconds all processes spent busy, CPU seconds of this process) so far (Linux)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    t = os.times()
    return busy / ticks, t.user + t.system


def _calls(what, contenders, y, raw, n_threads):
    """One timed callable per (column, contender), in the table's column order."""
    empty = np.empty(0)
    loss, grad = np.zeros(raw.shape[0]), np.zeros(raw.shape)
    calls = []
    for w in what:
        for label, mod, pk in contenders:
            if w in ("rows", "blocks") and label == "new" or w == "sklearn" and label != "new":
                continue
            if w == "call":
                L = mod.get_loss("multinomial")
                calls.append(lambda L=L: L.loss_gradient(y, raw, n_threads=n_threads))
            elif w == "sklearn":
                calls.append(_sklearn(y, raw, n_threads))
            elif w == "kernel":
                calls.append(lambda pk=pk: pk.multinomial_pointwise(y, raw, empty, loss, grad, empty))
            else:
                calls.append(_old_path(pk, w, y, raw, loss, grad))
    return calls


def _sklearn(y, raw, n_threads):
    from sklearn._loss.loss import HalfMultinomialLoss

    sk = HalfMultinomialLoss(n_classes=raw.shape[1])
    labels = y.astype(np.float64)
    return lambda: sk.loss_gradient(labels, raw, n_threads=n_threads)


def _old_path(pk, w, y, raw, loss, grad):
    """The old revision's chunk function ``_multinomial_<w>`` over every chunk, serially."""
    from fastloss.kernels._chunks import row_bounds

    fn = getattr(pk, f"_multinomial_{w}", None)
    if fn is None:
        return lambda: None
    bounds = row_bounds(raw.shape[0], 2)
    empty = np.empty(0)
    totals = np.zeros((bounds.size - 1, pk.N_TOTALS))
    return lambda: fn(y, raw, empty, loss, grad, empty, bounds, 0, bounds.size - 1, totals)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", default=None)
    p.add_argument("--scores", type=int, default=10_000_000)
    p.add_argument("--K", default="3,10,32,100,1000,5000")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--what", default="call,kernel")
    args = p.parse_args(argv)
    what = args.what.split(",")

    from fastloss._parallel import threads

    contenders = _contenders(args.old)
    print(f"load average before: {os.getloadavg()}")
    print(f"multinomial loss_gradient over {args.scores:,} float64 scores, {args.threads} thread(s), "
          f"medians of {args.rounds} interleaved rounds, ms")
    names = [w if w == "sklearn" else f"{w}: {label}" for w in what for label, _, _ in contenders
             if (w in ("call", "kernel") or (w == "sklearn") == (label == "new"))]
    print("| K | " + " | ".join(names) + " | other processes' cores |")
    print("|---:|" + "---:|" * (len(names) + 1))
    for K in (int(k) for k in args.K.split(",")):
        n = args.scores // K
        rng = np.random.default_rng(0)
        raw = rng.standard_normal((n, K))
        y = rng.integers(0, K, n)
        calls = _calls(what, contenders, y, raw, args.threads)
        times = [[] for _ in calls]
        busy0, own0 = _busy_seconds()
        wall0 = time.perf_counter()
        with threads(args.threads):
            for f in calls:
                f()  # compile / load, touch
            for _ in range(args.rounds):
                for f, t in zip(calls, times, strict=True):
                    t0 = time.perf_counter()
                    f()
                    t.append(time.perf_counter() - t0)
        busy1, own1 = _busy_seconds()
        foreign = max(0.0, (busy1 - busy0) - (own1 - own0)) / (time.perf_counter() - wall0)
        print(f"| {K} | " + " | ".join(f"{1e3 * np.median(t):.1f}" for t in times) + f" | {foreign:.2f} |",
              flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
